"""``roost startd``: the machine daemon.

It measures what the machine offers (``startd.resources``), splits it into slots, serves
the Startd service for schedds' claims, keeps the slots' ads in the collector, applies the
owner's policy and runs jobs.  Options override the ``[startd]`` configuration.

``--glidein`` is the mode for a startd started inside a batch allocation: it stays in the
foreground (it *is* the batch job), takes its resources and end time from the allocation
(Slurm's variables), uses the glidein policy unless told otherwise, updates its ads every
20 seconds, leaves after ``--idle-timeout`` seconds without a claim or a minute before the
allocation (or ``--lifetime``) ends, and on SIGTERM vacates its jobs, withdraws its ads
and exits 0, so the batch system records a success.
"""

from __future__ import annotations

import argparse

GLIDEIN_UPDATE_INTERVAL = 20  # seconds: a pilot's ads are refreshed more often (DESIGN.md)


def main(argv: list[str]) -> int:
    from roost.daemon import add_daemon_arguments

    parser = argparse.ArgumentParser(prog="roost startd", description="Run the machine daemon.")
    add_daemon_arguments(parser)
    parser.add_argument("--name", help="the host part of the slots' names (startd.name)")
    parser.add_argument("--address", help="the address to bind, HOST:PORT; 0.0.0.0:0 or "
                        "[::]:0 for every interface (startd.address)")
    parser.add_argument("--advertise-address", metavar="HOST[:PORT]",
                        help="the address to advertise, if not the bound one (for a "
                             "wildcard: the interface that routes to the collector; "
                             "startd.advertise_address)")
    parser.add_argument("--outbound-only", action="store_true", default=None,
                        help="accept no inbound connection: reach the pool only through "
                             "connections the startd opens, through the collector's broker "
                             "(default: only if the collector cannot dial the startd; "
                             "startd.outbound_only)")
    parser.add_argument("--policy", choices=("always", "desktop", "glidein"),
                        help="the owner's policy (startd.policy; glidein with --glidein)")
    parser.add_argument("--start", metavar="EXPR", help="a START expression of your own")
    parser.add_argument("--rank", metavar="EXPR",
                        help="the slots' Rank of jobs: a better-ranked job preempts (startd.rank)")
    parser.add_argument("--slots", metavar="N|partitionable",
                        help="N equal static slots, or one partitionable slot (startd.slots)")
    parser.add_argument("--cpus", type=int, help="CPUs to offer (default: detected)")
    parser.add_argument("--memory", type=int, metavar="MIB", help="memory to offer, MiB")
    parser.add_argument("--disk", type=int, metavar="KIB", help="disk to offer, KiB")
    parser.add_argument("--execute-dir", metavar="DIR", help="where job sandboxes are made")
    parser.add_argument("--attribute", action="append", default=[], metavar="NAME=EXPR",
                        help="a slot attribute of your own (repeatable)")
    parser.add_argument("--collector", metavar="HOST:PORT",
                        help="the collector to join (matchmaker.address)")
    parser.add_argument("--token", metavar="FILE",
                        help="the token to advertise with (default: made from the pool key)")
    parser.add_argument("--glidein", action="store_true",
                        help="run inside a batch allocation for its lifetime (see above)")
    parser.add_argument("--lifetime", type=float, metavar="SECONDS",
                        help="leave after this long (default: the allocation's end)")
    parser.add_argument("--idle-timeout", type=float, metavar="SECONDS",
                        help="leave after this long without a claim")
    parser.add_argument("--retire-margin", type=int, metavar="SECONDS",
                        help="with the glidein policy: start no job without a MaxRuntime "
                             "when less than this is left (default 600)")
    args = parser.parse_args(argv)
    if args.glidein:
        args.foreground = True
    if args.retire_margin is not None and args.retire_margin < 0:
        parser.error("--retire-margin must not be negative")
    # Relative to where the command runs, not to / where the daemon goes.
    import os

    for option in ("token", "execute_dir"):
        if getattr(args, option):
            setattr(args, option, os.path.abspath(getattr(args, option)))

    from roost.config import load_config
    from roost.daemon import run_daemon

    return run_daemon("startd", args, load_config(), lambda daemon: _serve(daemon, args))


def _serve(daemon, args) -> None:
    import socket
    import time

    from roost import security
    from roost.addresses import advertised_address, default_bind, local_address, loopback_warning
    from roost.client import Collector, address_file
    from roost.daemon import write_address
    from roost.errors import RoostError
    from roost.match_analysis import owner_warnings
    from roost.rpc import startd_pb2_grpc
    from startd import lifeline
    from startd.advertise import LIFETIME_UPDATES, SlotAds
    from startd.lifetime import Lifetime
    from startd.machine_ad import MachineInfo, local_platform_info
    from startd.policy import policy_by_name
    from startd.resources import detect_resources
    from startd.service import StartdService, interceptor, worker_threads
    from startd.slots import Amounts, SlotLayoutError, SlotTable
    from startd.startd import Startd, measure_host
    from startd.starter import become_subreaper, clean_up_after_a_dead_startd

    config = daemon.config
    home = config.home
    settings = _Settings(config, args)
    settings.execute_dir.mkdir(parents=True, exist_ok=True)
    resources = detect_resources(cpus=settings.cpus, memory_mb=settings.memory,
                                 disk_kb=settings.disk, execute_dir=settings.execute_dir)
    started = time.time()
    lifetime = None
    if args.glidein or args.lifetime is not None or args.idle_timeout is not None:
        lifetime = Lifetime.of(started, lifetime=args.lifetime,
                               allocation_end=resources.end_time,
                               idle_timeout=args.idle_timeout)
    interval = GLIDEIN_UPDATE_INTERVAL if args.glidein else config.get("startd",
                                                                        "update_interval")
    custom = settings.attributes()
    fqdn = socket.getfqdn()
    if resources.batch_job_id is not None:
        custom.setdefault("GLIDEIN_BatchJobId", f'"{resources.batch_job_id}"')
    if args.glidein:
        custom.setdefault("IsGlidein", "true")

    # Orphans of jobs come back to the startd, which kills and reaps them; what a startd
    # killed before us left behind is killed now.
    become_subreaper()
    leftovers = clean_up_after_a_dead_startd(settings.execute_dir)
    if leftovers:
        daemon.log.warning("killed %d process(es) left by jobs of a startd that died",
                           leftovers)
    lifeline.start(settings.execute_dir)  # the pipe stays open until this process ends
    if args.token:
        token = security.load_token(args.token)
        # A startd token advertises only its own host's slots (startd@NAME for
        # slotN@NAME): without a name of its own, the startd takes the token's.
        name = settings.name or _token_host(token) or fqdn
    else:
        name = settings.name or fqdn
        key = daemon.pool_key()
        token = security.daemon_token(key, f"startd@{name}", ["advertise-startd"],
                                      config.get("security", "token_lifetime_days") * 86400.0)
    try:
        table = SlotTable(name, Amounts(resources.cpus, resources.memory_mb,
                                        resources.disk_kb), settings.slot_types())
    except SlotLayoutError as error:
        raise RoostError(f"startd slots: {error}") from None
    service = StartdService(None)
    collector_address = args.collector or config.get("matchmaker", "address")
    # Told no address, the startd binds where its collector's other hosts can reach it.
    address = settings.address or default_bind(collector_address)
    port = daemon.start_server(
        lambda server: startd_pb2_grpc.add_StartdServicer_to_server(service, server), address,
        interceptors=[interceptor(_verifier(daemon, args))],
        max_workers=worker_threads(table.most_jobs()))
    my_address = advertised_address(address, port, collector=collector_address,
                                    override=settings.advertise_address)
    link = _broker_link(daemon, settings, name, token, collector_address,
                        my_address, local_address(address, port))
    if link is None and (warning := loopback_warning(address, collector_address)):
        daemon.warn(warning)
    machine = MachineInfo.from_resources(
        resources, fqdn=fqdn, address=my_address, platform=local_platform_info(),
        custom=custom, lifetime=interval * LIFETIME_UPDATES,
        to_die=lifetime.to_die if lifetime else None,
        broker_address=link.address if link is not None else "",
        file_system_domain=config.get("startd", "file_system_domain") or fqdn)
    policy = policy_by_name(settings.policy, **settings.policy_overrides())
    startd = Startd(machine, table, policy, execute_dir=settings.execute_dir,
                    measure=measure_host(), run_as=settings.run_as,
                    memory_policy=config.get("startd", "memory_policy").lower(), lifetime=lifetime,
                    usage_interval=interval, on_end=lambda verdict: daemon.stop(),
                    schedd_channel=_schedd_channel(config),
                    tls_ca=str(config.get("tls", "ca") or ""))
    service.startd = startd
    # A START that is False without a job (TARGET.Project =?= "physics") keeps the slots in
    # the Owner state for good: say so before anything else, not only in `roost analyze`.
    for warning in owner_warnings([public for public, _private in startd.ads()]):
        daemon.warn(warning)
    where = address_file(home, daemon.name)
    write_address(where, local_address(address, port))
    daemon.on_stop(lambda: where.unlink(missing_ok=True))
    daemon.log.info("startd %s serving on %s: %d CPUs, %d MiB, %d KiB disk (%s), policy %s",
                    name, my_address, resources.cpus, resources.memory_mb, resources.disk_kb,
                    ", ".join(f"{k} from {v}" for k, v in resources.source.items()),
                    policy.name)

    def collector():
        return Collector(args.collector, token=token, config=config, timeout=5.0)

    ads = SlotAds(startd, collector, interval=interval, log=daemon.log)
    ads.start()
    daemon.add_timer(config.get("startd", "poll_interval"), startd.tick, "poll")
    grace = config.get("startd", "shutdown_grace")
    # At shutdown: jobs leave first (their schedds hear of it), then the ads go.
    daemon.on_stop(lambda: startd.shutdown(grace))
    daemon.on_stop(ads.stop)
    daemon.on_stop(startd.close)
    if link is not None:
        daemon.on_stop(link.stop)  # last: the schedds hear of the jobs' end through it


def _broker_link(daemon, settings, name: str, token: str, collector: str, address: str,
                 local: str):
    """The startd's registration with the collector's broker (started, and given a few
    seconds to register), if the collector cannot dial ``address`` or the startd is told
    to go through the broker; None if it is reached directly."""
    from roost.broker import BrokerAddress
    from roost.client import Broker
    from startd.broker import REGISTER_WAIT, BrokerLink, needs_broker

    config = daemon.config

    def broker(timeout: float = 30.0):
        return Broker(collector, token=token, config=config, timeout=timeout)

    def ask(address: str) -> tuple[bool, str]:
        with broker(timeout=10.0) as client:
            return client.dial_back(address)

    brokered, why = needs_broker(ask, address, collector=collector,
                                 forced=settings.outbound_only,
                                 configured=bool(settings.advertise_address.strip()))
    if not brokered:
        daemon.log.info("reached directly at %s: %s", address, why)
        return None
    link = BrokerLink(broker, name, local, address=str(BrokerAddress(collector, name)),
                      config=config, log=daemon.log)
    daemon.log.info("reached through the broker as %s: %s", link.address, why)
    link.start()
    if not link.registered.wait(REGISTER_WAIT):
        daemon.log.warning("not yet registered with the broker at %s", collector)
    return link


def _schedd_channel(config):
    """Channels to schedds for file transfer: TLS when the pool has a CA (tls.ca)."""
    import grpc

    from roost import security

    ca = config.get("tls", "ca")
    if not ca:
        return grpc.insecure_channel
    with open(ca, "rb") as f:
        credentials = security.channel_credentials(f.read())
    return lambda address: grpc.secure_channel(address, credentials)


def _token_host(token: str) -> str:
    """The host part of the identity a token names (unverified: the collector checks it)."""
    from roost import security

    try:
        return security.decode_token(token).host
    except security.AuthError:
        return ""


def _verifier(daemon, args):
    """The pool key that checks the tokens of the startd's callers, or None.

    A startd given a token (a desktop or a batch node that joined with one copied file)
    checks tokens with the pool's public key if its join file carries it or its roost home
    has it (``keys/pool.pub``; it can sign nothing, so any host may have it); without it,
    the claim ids
    authenticate the claims (``startd.service.interceptor``).  It never makes a key of its
    own, which would refuse every schedd.  A startd without a token signs its own with
    the pool key, made if need be, as the daemons of a personal pool do."""
    if args.token:
        key = daemon.public_pool_key(args.token)
        if key is None:
            daemon.log.info("no pool key in %s: claims are authenticated by their claim "
                            "ids, and Drain is refused", daemon.config.home / "keys")
        return key
    return daemon.pool_key()


class _Settings:
    """The startd's settings: the command line over the ``[startd]`` configuration."""

    def __init__(self, config, args) -> None:
        from pathlib import Path

        def pick(option, key):
            return option if option is not None else config.get("startd", key)

        self.config = config
        self.args = args
        self.name = pick(args.name, "name")
        self.address = pick(args.address, "address")
        self.advertise_address = pick(args.advertise_address, "advertise_address")
        self.outbound_only = pick(args.outbound_only, "outbound_only")
        default_policy = "glidein" if args.glidein else config.get("startd", "policy").lower()
        self.policy = args.policy or default_policy
        self.start = pick(args.start, "start")
        self.rank = pick(args.rank, "rank")
        self.slots = pick(args.slots, "slots")
        self.cpus = pick(args.cpus, "cpus") or None
        self.memory = pick(args.memory, "memory") or None
        self.disk = pick(args.disk, "disk") or None
        directory = pick(args.execute_dir, "execute_dir")
        self.execute_dir = Path(directory or config.home / "execute").absolute()
        self.run_as = config.get("startd", "run_as") or None

    def policy_overrides(self) -> dict[str, str | int]:
        from roost.errors import RoostError

        overrides: dict[str, str | int] = {"start": self.start} if self.start else {}
        if self.rank:
            overrides["rank"] = self.rank
        if self.args.retire_margin is not None:
            if self.policy != "glidein":
                raise RoostError("--retire-margin is for the glidein policy, not "
                                 f"{self.policy}")
            overrides["RetireMargin"] = self.args.retire_margin
        return overrides

    def slot_types(self):
        from roost.errors import RoostError
        from startd.slots import partitionable_slot, static_slots

        text = str(self.slots).strip().lower()
        if text == "partitionable":
            return partitionable_slot()
        if text.isdigit() and int(text) > 0:
            return static_slots(int(text))
        raise RoostError(f"startd slots: expected 'partitionable' or a number of slots, "
                         f"not {self.slots!r}")

    def attributes(self) -> dict[str, str]:
        """The custom attributes: configuration, then --attribute, as expression texts."""
        import classad
        from roost.errors import RoostError

        custom: dict[str, str] = {}
        text = self.config.get("startd", "attributes")
        if text.strip():
            try:
                custom.update(classad.ad_to_pairs(classad.parse_one(text, parser="old")))
            except (classad.ClassAdSyntaxError, ValueError) as error:
                raise RoostError(f"startd attributes: {error}") from None
        for given in self.args.attribute:
            name, equals, expression = given.partition("=")
            try:
                if not equals or not name.strip().isidentifier():
                    raise ValueError("expected NAME=EXPR")
                classad.ExprTree(expression)
            except (classad.ClassAdSyntaxError, ValueError) as error:
                raise RoostError(f"--attribute {given}: {error}") from None
            custom[name.strip()] = expression.strip()
        return custom

