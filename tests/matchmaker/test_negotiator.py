"""matchmaker.negotiator: the shell's cycle over a collector store, with a fake schedd."""

from __future__ import annotations

import threading
import time

from classad import ClassAd, ExprTree
from matchmaker.accountant import Accountant
from matchmaker.accountant_store import AccountantStore
from matchmaker.collector import AdStore
from matchmaker.negotiation import Request
from matchmaker.negotiator import Negotiator
from matchmaker.negotiator_service import NegotiatorService
from roost import security
from roost.rpc import negotiator_pb2


class Talk:
    """A schedd's side of the Negotiate conversation: one autocluster of idle jobs."""

    def __init__(self, job: ClassAd, count: int) -> None:
        self.job, self.count = job, count
        self.sent: list = []

    def requests(self):
        return [Request(1, self.count, self.job)]

    def send(self, matches):
        self.sent.extend(matches)

    def close(self):
        pass


def machine(name: str) -> ClassAd:
    ad = ClassAd({"Name": name, "Cpus": 1, "Memory": 1024, "Disk": 10**6,
                  "State": "Unclaimed", "MyAddress": "127.0.0.1:1"})
    ad["Requirements"] = ExprTree("TARGET.RequestCpus <= MY.Cpus")
    return ad


def advertise(store: AdStore, ad_type: str, ad: ClassAd, private: ClassAd | None = None):
    store.update(ad_type, ad, [], 0.0, private=private)


def test_a_new_slot_wakes_the_negotiator_only_while_jobs_wait():
    store = AdStore()
    job = ClassAd({"Owner": "alice", "RequestCpus": 1, "RequestMemory": 1, "RequestDisk": 1})
    job["Requirements"] = ExprTree("true")
    talk = Talk(job, 2)
    advertise(store, "Submitter", ClassAd({"Name": "alice@submit", "Owner": "alice",
                                           "IdleJobs": 2}))
    negotiator = Negotiator(store, threading.Lock(), Accountant(now=0.0),
                            talk=lambda ad, n: talk, clock=lambda: 0.0)
    negotiator.slot_appeared()
    assert not negotiator._wake.is_set()  # nothing waits yet
    assert negotiator.cycle().rejections == 1  # no slot at all: the jobs wait
    negotiator.slot_appeared()
    assert negotiator._wake.is_set()
    negotiator._wake.clear()
    for name in ("slot1@a", "slot2@a"):
        advertise(store, "Machine", machine(name), ClassAd({"Name": name, "ClaimId": name}))
    assert negotiator.cycle().matches == 2 and len(talk.sent) == 2
    negotiator.slot_appeared()
    assert not negotiator._wake.is_set()  # every job was matched


class Aborted(Exception):
    pass


class Context:
    """What a servicer is handed by gRPC, as far as UserPrio uses it."""

    def abort(self, code, details):
        raise Aborted(code, details)


SUBMITTERS, SETTERS, SETS = 100, 3, 100


def test_setfactor_and_analyze_during_cycles_see_one_consistent_state(tmp_path):
    # Many submitters, each holding a busy slot and wanting another: every cycle ages,
    # reads and saves every account and rewrites every record, while other threads set
    # the factors of new users and read the records, as `roost userprio -setfactor` and
    # `roost analyze` do.
    store = AdStore()
    for i in range(SUBMITTERS):
        owner = f"u{i}"
        advertise(store, "Submitter", ClassAd({"Name": f"{owner}@submit", "Owner": owner,
                                               "IdleJobs": 1}))
        slot = machine(f"slot{i}@a")
        slot.update({"State": "Claimed", "Activity": "Busy", "RemoteOwner": owner})
        advertise(store, "Machine", slot, ClassAd({"ClaimId": f"claim{i}"}))
    job = ClassAd({"RequestCpus": 1, "RequestMemory": 1, "RequestDisk": 1})
    job["Requirements"] = ExprTree("true")
    saved = AccountantStore(f"sqlite:///{tmp_path / 'accountant.db'}")
    negotiator = Negotiator(store, threading.Lock(), Accountant(now=time.time()),
                            talk=lambda ad, n: Talk(job, 1), save=saved.save)
    service = NegotiatorService(negotiator)
    admin = security.Identity("admin@pool", frozenset({"admin"}), time.time() + 600, "t")
    errors: list[BaseException] = []
    setting = threading.Event()
    cycles = []

    def cycle():
        try:
            while setting.is_set() or len(cycles) < 5:
                cycles.append(negotiator.cycle())
        except BaseException as error:
            errors.append(error)

    def set_factors(thread: int):
        try:
            with security.acting_as(admin):
                for i in range(SETS):
                    name, factor = f"new{thread}-{i}", float(2 + i)
                    reply = service.UserPrio(negotiator_pb2.UserPrioRequest(
                        action=negotiator_pb2.USERPRIO_SET_FACTOR, name=name, value=factor),
                        Context())
                    assert {a.name: a.factor for a in reply.accounts}[name] == factor
        except BaseException as error:
            errors.append(error)

    def analyze():
        try:
            while setting.is_set():
                for record in service.Analyze(negotiator_pb2.AnalyzeRequest(),
                                              Context()).records:
                    assert record.unavailable == {"Claimed": SUBMITTERS}
        except BaseException as error:
            errors.append(error)

    setting.set()
    threads = [threading.Thread(target=cycle), threading.Thread(target=analyze)]
    setters = [threading.Thread(target=set_factors, args=(t,)) for t in range(SETTERS)]
    for thread in threads + setters:
        thread.start()
    for thread in setters:
        thread.join(120)
    setting.clear()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert len(cycles) >= 5 and all(stats.submitters == SUBMITTERS for stats in cycles)
    wanted = {f"new{t}-{i}": float(2 + i) for t in range(SETTERS) for i in range(SETS)}
    factors = {account.name: account.factor for account in negotiator.state.accounts()}
    assert {name: factors.get(name) for name in wanted} == wanted
    on_disk = {account.name: account.factor for account in saved.load(time.time()).accounts()}
    assert {name: on_disk.get(name) for name in wanted} == wanted
    saved.close()
