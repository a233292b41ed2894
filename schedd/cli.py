"""``roost schedd``: the job queue daemon.

It opens (and upgrades) the queue's database, serves the Schedd service, writes the address
it bound under the roost home for the local commands to find, evaluates the jobs' periodic
policy, and keeps its Schedd ad and one Submitter ad per owner in the collector.  It asks
the negotiator for a cycle when jobs become idle, claims the slots the negotiator matches
and runs jobs there (``schedd.claims``), and reconnects to running jobs after a restart.
"""

from __future__ import annotations

import argparse


def main(argv: list[str]) -> int:
    from roost.daemon import add_daemon_arguments

    parser = argparse.ArgumentParser(prog="roost schedd", description="Run the job queue.")
    add_daemon_arguments(parser)
    parser.add_argument("--token", metavar="FILE",
                        help="the schedd's own token (scope advertise-schedd), for a submit "
                             "host that holds no pool key: its users' tokens are checked "
                             "with the pool's public key, keys/pool.pub (default: made "
                             "from the pool key)")
    args = parser.parse_args(argv)
    import os

    if args.token:  # relative to where the command runs, not to / where the daemon goes
        args.token = os.path.abspath(args.token)

    from roost.config import load_config
    from roost.daemon import run_daemon

    return run_daemon("schedd", args, load_config(), lambda daemon: _serve(daemon, args))


def _own_token(daemon, args, machine: str):
    """The schedd's token and the key that checks its callers' tokens.  Given ``--token``,
    it holds no private key and checks tokens with the pool's public key; else it makes
    its own token with the pool key, as the daemons of a personal pool do."""
    from roost import security
    from roost.errors import RoostError

    config = daemon.config
    if args.token:
        key = daemon.public_pool_key(args.token)
        if key is None:
            raise RoostError(f"no pool key in {args.token} or {config.home / 'keys'}: a "
                             "schedd checks its users' tokens with the pool's public key "
                             "(roost token create --out writes it with the token)")
        return security.load_token(args.token), key
    key = daemon.pool_key()
    return security.daemon_token(key, f"schedd@{machine}", ["advertise-schedd"],
                                 config.get("security", "token_lifetime_days") * 86400.0), key


def _follow_revocations(daemon, token: str):
    """The revoked tokens' ids, read from the collector's ad now and every
    ``security.revocation_interval`` seconds (``roost.revocation``)."""
    from roost.client import Collector
    from roost.errors import RoostError
    from roost.revocation import Revoked, published

    config = daemon.config
    revoked = Revoked()

    def read() -> None:
        with Collector(config.get("matchmaker", "address"), token=token, config=config,
                       timeout=5.0) as collector:
            ids = published(collector)
        if revoked.replace(ids):
            daemon.log.info("the collector lists %d revoked token(s)", len(ids))

    try:
        read()
    except RoostError as error:  # the collector may start after the schedd
        daemon.log.warning("cannot read the revoked tokens yet: %s", error)
    daemon.add_timer(config.get("security", "revocation_interval"), read, "revocations")
    return revoked


def _serve(daemon, args) -> None:
    import socket

    from roost import security
    from roost.addresses import advertised_address, local_address, loopback_warning
    from roost.client import Broker, Negotiator, Startd, address_file
    from roost.daemon import MAX_WORKERS, write_address
    from roost.rpc import schedd_pb2_grpc
    from schedd.advertise import ScheddAds
    from schedd.claims import ClaimRunner
    from schedd.database import default_url, open_database
    from schedd.job_queue import JobQueue
    from schedd.job_tokens import JobCredentials
    from schedd.reschedule import Rescheduler
    from schedd.reverse import Rendezvous
    from schedd.service import METHOD_SCOPES, REVERSE_CONNECT, TOKENLESS, ScheddService
    from schedd.transfer import TransferQueue, TransferServer, queue_lookup

    config = daemon.config
    home = config.home
    machine = socket.getfqdn()
    token, key = _own_token(daemon, args, machine)
    url = config.get("schedd", "database_url") or default_url(home)
    engine = open_database(url)
    jobs = JobQueue(engine)
    daemon.on_stop(jobs.close)
    daemon.on_stop(engine.dispose)
    name = config.get("schedd", "name") or machine

    def ask_broker(broker, schedd_address: str, nonce: str) -> None:
        with Broker(broker.collector, token, config=config, timeout=10.0) as client:
            client.connect(broker.broker_id, schedd_address, nonce)

    # Startds reached through the collector's broker dial the schedd (roost.broker).
    reverse = Rendezvous(ask_broker)
    daemon.on_stop(reverse.stop)
    credentials = JobCredentials.open(jobs, home)  # what running jobs submit with
    runner = ClaimRunner(jobs, lambda address: Startd(address, token, config=config,
                                                      rendezvous=reverse),
                         lease=config.get("schedd", "claim_lease"),
                         worklife=config.get("schedd", "claim_worklife"),
                         job_environment=credentials.environment)
    watchers = config.get("schedd", "max_watchers")
    # Each connection to a startd through the broker holds a thread while it is open.
    reverse_streams = config.get("schedd", "max_reverse_connections")
    uploads = config.get("schedd", "max_concurrent_uploads")
    downloads = config.get("schedd", "max_concurrent_downloads")
    queue = TransferQueue(uploads, downloads)
    transfer = TransferServer(queue_lookup(jobs), spool=home / "spool", queue=queue,
                              max_input_mb=config.get("schedd", "max_transfer_input_mb"),
                              max_output_mb=config.get("schedd", "max_transfer_output_mb"))
    jobs.listen(transfer.forget)
    service = ScheddService(jobs, name=name, query_batch=config.get("schedd", "query_batch"),
                            on_match=runner.matched, max_streams=watchers, transfer=transfer,
                            file_system_domain=config.get("schedd", "file_system_domain")
                            or machine)
    service.reverse = reverse
    address = config.get("schedd", "address")
    revoked = _follow_revocations(daemon, token)
    port = daemon.start_server(
        lambda server: schedd_pb2_grpc.add_ScheddServicer_to_server(service, server),
        address,
        interceptors=[security.AuthInterceptor(key, METHOD_SCOPES, exempt=(
            *security.HEALTH_METHODS, REVERSE_CONNECT, *TOKENLESS), revoked=revoked,
            job_key=credentials.key, admit=credentials.admit)],
        # Transfers hold a thread each while they move files or wait for room, and each
        # connection through the broker one while it is open.
        max_workers=(MAX_WORKERS + watchers + reverse_streams + uploads + downloads
                     + queue.max_waiting),
    )
    collector = config.get("matchmaker", "address")
    service.address = advertised_address(address, port, collector=collector,
                                         override=config.get("schedd", "advertise_address"))
    if warning := loopback_warning(address, collector):
        daemon.warn(warning)
    # The local commands dial the schedd on this host: loopback, for a wildcard.
    write_address(address_file(home, "schedd"), local_address(address, port))
    daemon.on_stop(lambda: address_file(home, "schedd").unlink(missing_ok=True))
    daemon.log.info("schedd %s serving on %s, queue %s", name, service.address,
                    engine.url.render_as_string(hide_password=True))
    ads = ScheddAds(jobs, config, token, name=name, machine=machine,
                    address=service.address, log=daemon.log)
    runner.address = reverse.address = credentials.address = service.address
    runner.recover()
    daemon.on_stop(runner.stop)
    ads.update()
    daemon.add_timer(config.get("schedd", "update_interval"), ads.update, "ads")
    daemon.on_stop(ads.invalidate)

    def reschedule() -> None:
        with Negotiator(token=token, config=config, timeout=5.0) as negotiator:
            negotiator.reschedule(name)

    from schedd.dag_queue import DagQueue
    from schedd.dag_scripts import ScriptRunner

    scripts = ScriptRunner(DagQueue(jobs))
    jobs.listen(scripts.changed)
    scripts.recover()  # the scripts a killed schedd left due
    daemon.on_stop(scripts.stop)

    rescheduler = Rescheduler(ads.update, reschedule)
    jobs.listen(rescheduler.changed)
    rescheduler.kick()  # jobs left idle by an earlier run
    daemon.on_stop(rescheduler.stop)
    daemon.add_timer(config.get("schedd", "periodic_interval"), jobs.periodic, "periodic")

