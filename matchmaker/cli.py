"""``roost matchmaker``: the collector and the negotiator, in one daemon.

At start it makes the pool's signing key if there is none and the local user's token, so
that a personal pool needs no set-up; it then serves the collector, drops ads whose
lifetime has passed, and keeps its own Collector ad current.  The negotiator runs its
cycles over the collector's ads every ``matchmaker.negotiator_interval`` seconds and at
once when a schedd asks (Reschedule); user priorities are kept in
``<home>/matchmaker/accountant.db`` across restarts.
"""

from __future__ import annotations

import argparse
import socket


def main(argv: list[str]) -> int:
    from roost.daemon import add_daemon_arguments

    parser = argparse.ArgumentParser(
        prog="roost matchmaker",
        description="Run the pool's collector and negotiator.",
    )
    add_daemon_arguments(parser)
    args = parser.parse_args(argv)

    from roost.config import load_config
    from roost.daemon import run_daemon

    config = load_config()
    return run_daemon("matchmaker", args, config, _serve)


def _serve(daemon) -> None:
    from matchmaker import negotiator_service as negotiator_service_module
    from matchmaker.broker import METHOD_SCOPES as BROKER_SCOPES
    from matchmaker.broker import BrokerService
    from matchmaker.collector import AdStore
    from matchmaker.collector_service import METHOD_SCOPES, CollectorService, add_to_server
    from roost import security
    from roost.addresses import advertised_address
    from roost.daemon import MAX_WORKERS
    from roost.revocation import FileWatch, Revoked, revocation_path
    from roost.rpc import collector_pb2_grpc

    config = daemon.config
    key = daemon.pool_key()
    revoked = Revoked()
    service = CollectorService(
        AdStore(default_lifetime=config.get("matchmaker", "ad_lifetime")),
        max_ad_bytes=config.get("matchmaker", "max_ad_bytes"),
        query_batch=config.get("matchmaker", "query_batch"),
        revoked=revoked,
    )
    machine = socket.getfqdn()
    name = f"collector@{machine}"
    bound = ""  # the address it advertises, once it serves
    negotiator, negotiator_service = _negotiator(daemon, key, service, machine)
    address = config.get("matchmaker", "address")
    # Each startd registered with the broker holds a thread of the server for good.
    broker = BrokerService(max_streams=config.get("matchmaker", "broker_streams"))

    def register(server) -> None:
        add_to_server(service, server)
        negotiator_service_module.add_to_server(negotiator_service, server)
        collector_pb2_grpc.add_BrokerServicer_to_server(broker, server)

    # roost token revoke writes the list beside the pool key; a change is refused at once
    # and published in the collector's ad for the schedds.
    revocations = FileWatch(revocation_path(config.home), revoked,
                            on_change=lambda: service.advertise_self(name, machine, bound))
    port = daemon.start_server(
        register, address,
        interceptors=[security.AuthInterceptor(
            key, {**METHOD_SCOPES, **negotiator_service_module.METHOD_SCOPES,
                  **BROKER_SCOPES}, revoked=revocations)],
        max_workers=MAX_WORKERS + broker.max_streams,
    )
    # The collector is its own collector: bound to a wildcard, it advertises an address
    # of this host's that other hosts can dial.
    bound = advertised_address(address, port, collector=address,
                               override=config.get("matchmaker", "advertise_address"))
    daemon.log.info("collector serving on %s", bound)
    service.advertise_self(name, machine, bound)
    daemon.add_timer(1.0, revocations.check, "revocations")
    daemon.add_timer(config.get("matchmaker", "housekeeping_interval"), service.housekeep,
                     "housekeeping")
    daemon.add_timer(60.0, lambda: service.advertise_self(name, machine, bound), "collector-ad")
    service.on_new_slot = negotiator.slot_appeared
    negotiator.start()
    daemon.on_stop(negotiator.stop)


def _negotiator(daemon, key, collector, machine: str):
    """The negotiator over the collector's store, with its accountant and service."""
    import time

    from matchmaker.accountant_store import AccountantStore, default_url
    from matchmaker.negotiator import Negotiator
    from matchmaker.negotiator_service import NegotiatorService, ScheddTalk
    from roost import security
    from roost.client import Schedd

    config = daemon.config
    token = security.daemon_token(key, f"negotiator@{machine}", ["negotiate"],
                                  config.get("security", "token_lifetime_days") * 86400.0)
    accounts = AccountantStore(default_url(config.home))
    daemon.on_stop(accounts.close)
    accountant = accounts.load(time.time())

    def talk(submitter_ad, negotiator_ad):
        client = Schedd(submitter_ad.eval("ScheddIpAddr"), token, config=config)
        return ScheddTalk(client, token, submitter_ad.eval("Name"), negotiator_ad)

    default = config.get("matchmaker", "concurrency_limit_default")
    negotiator = Negotiator(collector.store, collector.lock, accountant,
                            name=f"negotiator@{machine}", talk=talk, save=accounts.save,
                            interval=config.get("matchmaker", "negotiator_interval"),
                            limits=_limits(config.get("matchmaker", "concurrency_limits")),
                            limit_default=None if default < 0 else float(default),
                            groups=_groups(config), policy=_policy(config))
    return negotiator, NegotiatorService(negotiator)


def _policy(config):
    """The pool-wide preemption policy, with HTCondor's negotiator ranks."""
    from classad import ClassAdSyntaxError, ExprTree
    from matchmaker.negotiation import Policy
    from roost.errors import RoostError

    texts = {name: text for name in ("preemption_requirements", "preemption_rank")
             if (text := config.get("matchmaker", name).strip())}
    for name, text in texts.items():
        try:
            ExprTree(text)
        except ClassAdSyntaxError as error:
            raise RoostError(f"matchmaker.{name}: {error}") from None
    return Policy(consider_preemption=config.get("matchmaker", "consider_preemption"),
                  **texts)


def _limits(text: str) -> dict[str, float]:
    """``matchmaker.concurrency_limits``: ``"xsw = 3, database = 2"`` (HTCondor's
    ``XSW_LIMIT = 3``...)."""
    from roost.errors import RoostError

    limits: dict[str, float] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, equals, value = item.partition("=")
        try:
            if not equals or not name.strip():
                raise ValueError
            limits[name.strip()] = float(value)
        except ValueError:
            raise RoostError(f"matchmaker.concurrency_limits: {item.strip()!r} is not "
                             "NAME = NUMBER") from None
    return limits


def _groups(config):
    """The accounting groups (``matchmaker.group_names``, ``group_quotas`` as
    ``"group_a = 10, group_b = 40%"``: a number of cores, or a share of the parent's quota,
    and ``group_accept_surplus``), or None when none are configured."""
    from matchmaker.groups import GroupConfig
    from roost.errors import RoostError

    names = config.get("matchmaker", "group_names")
    if not names.strip():
        return None
    settings: dict[str, object] = {
        "group_names": names,
        "group_accept_surplus": config.get("matchmaker", "group_accept_surplus")}
    for item in config.get("matchmaker", "group_quotas").split(","):
        if not item.strip():
            continue
        name, equals, value = item.partition("=")
        value = value.strip()
        try:
            if not equals:
                raise ValueError
            if value.endswith("%"):
                settings[f"group_quota_dynamic_{name.strip()}"] = float(value[:-1]) / 100
            else:
                settings[f"group_quota_{name.strip()}"] = float(value)
        except ValueError:
            raise RoostError(f"matchmaker.group_quotas: {item.strip()!r} is not GROUP = "
                             "NUMBER or GROUP = PERCENT%") from None
    try:
        return GroupConfig.from_mapping(settings)
    except ValueError as error:
        raise RoostError(f"matchmaker groups: {error}") from None
