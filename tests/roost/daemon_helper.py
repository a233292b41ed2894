"""A small daemon for test_daemon.py, run as a script through roost's own error boundary.

It serves only the health service, ticks a timer, and leaves files in the roost home: the
port it serves on (``<name>.port``), one line per tick (``<name>.ticks``) and, from its
on_stop callback, ``<name>.stopped``.  ``--fail MESSAGE`` makes its body fail instead;
``--sigterm-at-start`` sends it SIGTERM in the middle of its body.
"""

import argparse
import os
import signal
import sys

from roost import cli
from roost.config import load_config
from roost.daemon import Daemon, add_daemon_arguments, run_daemon
from roost.errors import RoostError


def main(argv):
    parser = argparse.ArgumentParser(prog="daemon_helper")
    add_daemon_arguments(parser)
    parser.add_argument("--fail", metavar="MESSAGE", help="fail to start with MESSAGE")
    parser.add_argument("--sigterm-at-start", action="store_true")
    args = parser.parse_args(argv)
    config = load_config()

    def body(daemon: Daemon) -> None:
        if args.fail:
            raise RoostError(args.fail)
        home = config.home
        port = daemon.start_server(lambda server: None, "127.0.0.1:0")

        def tick() -> None:
            with (home / f"{daemon.name}.ticks").open("a") as ticks:
                ticks.write("tick\n")

        daemon.add_timer(0.05, tick, "tick")
        if args.sigterm_at_start:
            os.kill(os.getpid(), signal.SIGTERM)
        daemon.on_stop((home / f"{daemon.name}.stopped").touch)
        # Written last and renamed into place, so a test that can read it knows the body
        # is done.
        written = home / f"{daemon.name}.port.tmp"
        written.write_text(str(port))
        written.replace(home / f"{daemon.name}.port")

    return run_daemon("helper", args, config, body)


if __name__ == "__main__":
    cli.VERBS["helper"] = cli.Verb("__main__:main", "a daemon for the tests")
    sys.exit(cli.main(["helper", *sys.argv[1:]]))
