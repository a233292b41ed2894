"""``roost matchmaker``: the collector daemon (the negotiator joins it in a later issue).

At start it makes the pool's signing key if there is none and the local user's token, so
that a personal pool needs no set-up; it then serves the collector, drops ads whose
lifetime has passed, and keeps its own Collector ad current.
"""

from __future__ import annotations

import argparse
import socket


def main(argv: list[str]) -> int:
    from roost.daemon import add_daemon_arguments

    parser = argparse.ArgumentParser(
        prog="roost matchmaker",
        description="Run the pool's collector (and, later, its negotiator).",
    )
    add_daemon_arguments(parser)
    args = parser.parse_args(argv)

    from roost.config import load_config
    from roost.daemon import run_daemon

    config = load_config()
    return run_daemon("matchmaker", args, config, _serve)


def _serve(daemon) -> None:
    from matchmaker.collector import AdStore
    from matchmaker.collector_service import METHOD_SCOPES, CollectorService, add_to_server
    from roost import security

    config = daemon.config
    key = daemon.pool_key()
    service = CollectorService(
        AdStore(default_lifetime=config.get("matchmaker", "ad_lifetime")),
        max_ad_bytes=config.get("matchmaker", "max_ad_bytes"),
        query_batch=config.get("matchmaker", "query_batch"),
    )
    address = config.get("matchmaker", "address")
    port = daemon.start_server(
        lambda server: add_to_server(service, server),
        address,
        interceptors=[security.AuthInterceptor(key, METHOD_SCOPES)],
    )
    host = address.rpartition(":")[0] or "127.0.0.1"
    bound = f"{host}:{port}"
    machine = socket.getfqdn()
    name = f"collector@{machine}"
    daemon.log.info("collector serving on %s", bound)
    service.advertise_self(name, machine, bound)
    daemon.add_timer(config.get("matchmaker", "housekeeping_interval"), service.housekeep,
                     "housekeeping")
    daemon.add_timer(60.0, lambda: service.advertise_self(name, machine, bound), "collector-ad")
