"""The negotiator's gRPC service, and its side of the Negotiate conversation with schedds.

Who may call: Reschedule is a schedd's (``advertise-schedd``); CycleStats, Analyze and
listing user priorities are for anyone with a token; changing a priority, a factor or a
usage needs ``admin``.
"""

from __future__ import annotations

import queue

import grpc

from matchmaker.accountant import Account, Accountant
from matchmaker.negotiation import Match, Request
from matchmaker.negotiator import Negotiator
from roost import security
from roost.messages import ad_message, message_ad
from roost.rpc import negotiator_pb2, negotiator_pb2_grpc, schedd_pb2, schedd_pb2_grpc
from roost.security import current_identity

SERVICE = "roost.rpc.Negotiator"
METHOD_SCOPES = {
    f"/{SERVICE}/Reschedule": "advertise-schedd",
    f"/{SERVICE}/CycleStats": "read",
    f"/{SERVICE}/Analyze": "read",
    f"/{SERVICE}/UserPrio": "read",
}
TALK_TIMEOUT = 30.0  # seconds a schedd has to answer with its requests


class NegotiatorService(negotiator_pb2_grpc.NegotiatorServicer):
    """Thin: the negotiator's state is read and changed through ``negotiator.state``."""

    def __init__(self, negotiator: Negotiator) -> None:
        self.negotiator = negotiator

    def Reschedule(self, request, context):  # noqa: N802 (gRPC's method name)
        self.negotiator.reschedule()
        return negotiator_pb2.RescheduleReply(scheduled=True)

    def CycleStats(self, request, context):  # noqa: N802
        return negotiator_pb2.CycleStatsReply(cycles=[
            negotiator_pb2.CycleStats(started=int(c.started), duration=c.duration,
                                      submitters=c.submitters, slots=c.slots,
                                      matches=c.matches, rejections=c.rejections,
                                      autoclusters=c.autoclusters)
            for c in self.negotiator.state.cycles(max(request.last, 0))])

    def Analyze(self, request, context):  # noqa: N802
        reply = negotiator_pb2.AnalyzeReply()
        for (submitter, ac), record, priority in self.negotiator.state.records(request.owner):
            stats = record.stats
            reply.records.add(
                submitter=submitter, schedd=record.schedd, autocluster_id=ac,
                time=int(record.time), wanted=stats.wanted, considered=stats.considered,
                rejected_by_job=stats.rejected_by_job, rejected_by_slot=stats.rejected_by_slot,
                claimed=stats.claimed, unavailable=stats.unavailable, matched=stats.matched,
                over_share=stats.over_share, reason=stats.reason,
                job_ad=ad_message(record.job_ad), user_priority=priority)
        return reply

    def UserPrio(self, request, context):  # noqa: N802
        action = request.action
        if action == negotiator_pb2.USERPRIO_LIST:
            accounts = self.negotiator.state.accounts()
        else:
            identity = current_identity()
            if not identity.allows("admin"):
                context.abort(grpc.StatusCode.PERMISSION_DENIED,
                              f"identity {identity.name} lacks scope admin to change "
                              "user priorities")
            if not request.name:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no user named")
            change = _CHANGES.get(action)
            if change is None:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              f"unknown user priority action {action}")
            try:
                accounts = self.negotiator.state.change(
                    lambda accountant: change(accountant, request.name, request.value))
            except ValueError as error:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        return negotiator_pb2.UserPrioReply(accounts=[_account(account) for account in accounts])


# What each changing action does to the accountant: (accountant, name, value).
_CHANGES = {
    negotiator_pb2.USERPRIO_SET_FACTOR: Accountant.set_factor,
    negotiator_pb2.USERPRIO_SET_PRIO: Accountant.set_priority,
    negotiator_pb2.USERPRIO_SET_CEILING: Accountant.set_ceiling,
    negotiator_pb2.USERPRIO_SET_FLOOR: Accountant.set_floor,
    negotiator_pb2.USERPRIO_RESET_USAGE: lambda accountant, name, value:
        accountant.reset_usage(name),
    negotiator_pb2.USERPRIO_DELETE: lambda accountant, name, value: accountant.delete(name),
}


def _account(account: Account) -> negotiator_pb2.Account:
    return negotiator_pb2.Account(
        name=account.name, real_priority=account.real_priority, factor=account.factor,
        effective_priority=account.effective_priority,
        resources_in_use=account.resources_in_use, weighted_hours=account.weighted_hours,
        begin_usage=account.begin_usage or 0.0, last_usage=account.last_usage or 0.0,
        floor=account.floor, ceiling=account.ceiling)


class ScheddTalk:
    """One Negotiate conversation with a submitter's schedd: start, read its resource
    requests, send the matches, end."""

    def __init__(self, client, token: str, submitter: str, negotiator_ad) -> None:
        self._client = client  # a roost.client.Schedd: its channel, closed at the end
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        stub = schedd_pb2_grpc.ScheddStub(client.channel)
        self._outbox.put(schedd_pb2.NegotiateMessage(start=schedd_pb2.NegotiateStart(
            submitter=submitter, negotiator_ad=ad_message(negotiator_ad))))
        self._replies = stub.Negotiate(iter(self._outbox.get, None),
                                       metadata=security.call_metadata(token),
                                       timeout=TALK_TIMEOUT * 4)

    def requests(self) -> list[Request]:
        reply = next(self._replies)
        if reply.WhichOneof("body") != "requests":
            return []
        return [Request(r.autocluster_id, r.count, message_ad(r.job_ad))
                for r in reply.requests.requests]

    def send(self, matches: list[Match]) -> None:
        for match in matches:
            self._outbox.put(schedd_pb2.NegotiateMessage(match=schedd_pb2.Match(
                autocluster_id=match.autocluster_id, slot_ad=ad_message(match.slot_ad),
                claim_id=match.claim_id)))

    def close(self) -> None:
        self._outbox.put(schedd_pb2.NegotiateMessage(end=schedd_pb2.NegotiateEnd(
            reason="done")))
        self._outbox.put(None)
        try:
            for _ in self._replies:
                pass
        except grpc.RpcError:
            pass
        finally:
            self._client.close()


def add_to_server(service: NegotiatorService, server: grpc.Server) -> None:
    negotiator_pb2_grpc.add_NegotiatorServicer_to_server(service, server)
