"""``roost userprio``: the users' priorities, as ``condor_userprio`` shows and sets them.

With no option it lists the users with jobs or usage: their effective priority (lower is
better: shares of the pool are inversely proportional to it), priority factor, resources in
use and accumulated usage in weighted (core) hours.  ``-setfactor``, ``-setprio``,
``-setceil``, ``-setfloor``, ``-resetusage`` and ``-delete`` change one user (they need an
admin token).
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="roost userprio", description=__doc__.splitlines()[0])
    parser.add_argument("-all", action="store_true",
                        help="also the real priority, floor, ceiling and usage dates")
    changes = parser.add_mutually_exclusive_group()
    changes.add_argument("-setfactor", nargs=2, metavar=("USER", "FACTOR"))
    changes.add_argument("-setprio", nargs=2, metavar=("USER", "PRIORITY"))
    changes.add_argument("-setceil", nargs=2, metavar=("USER", "CORES"))
    changes.add_argument("-setfloor", nargs=2, metavar=("USER", "CORES"))
    changes.add_argument("-resetusage", metavar="USER")
    changes.add_argument("-delete", metavar="USER")
    args = parser.parse_args(argv)

    from roost.client import Negotiator
    from roost.errors import RoostError
    from roost.rpc import negotiator_pb2 as pb

    action, name, value = pb.USERPRIO_LIST, "", 0.0
    for option, code in (("setfactor", pb.USERPRIO_SET_FACTOR),
                         ("setprio", pb.USERPRIO_SET_PRIO),
                         ("setceil", pb.USERPRIO_SET_CEILING),
                         ("setfloor", pb.USERPRIO_SET_FLOOR)):
        given = getattr(args, option)
        if given:
            try:
                action, name, value = code, given[0], float(given[1])
            except ValueError:
                raise RoostError(f"-{option}: {given[1]!r} is not a number") from None
    if args.resetusage:
        action, name = pb.USERPRIO_RESET_USAGE, args.resetusage
    if args.delete:
        action, name = pb.USERPRIO_DELETE, args.delete
    with Negotiator() as negotiator:
        accounts = negotiator.user_priorities(action, name, value)
    _print(accounts, args.all, sys.stdout)
    return 0


def _print(accounts, everything: bool, out) -> None:
    print(f"Last Priority Update: {time.strftime('%m/%d %H:%M')}", file=out)
    header = f"{'User Name':<28} {'Effective':>12} {'Priority':>10} {'Res':>6} {'Usage':>12}"
    second = f"{'':<28} {'Priority':>12} {'Factor':>10} {'In Use':>6} {'(wghted-hrs)':>12}"
    if everything:
        header += f" {'Real':>9} {'Floor':>6} {'Ceiling':>7}"
        second += f" {'Priority':>9} {'':>6} {'':>7}"
    print(header, file=out)
    print(second, file=out)
    print("-" * len(header), file=out)
    for account in accounts:
        line = (f"{account.name:<28} {account.effective_priority:>12.2f} "
                f"{account.factor:>10.2f} {account.resources_in_use:>6g} "
                f"{account.weighted_hours:>12.2f}")
        if everything:
            line += (f" {account.real_priority:>9.2f} {account.floor:>6g} "
                     f"{account.ceiling:>7g}")
        print(line, file=out)
    print("-" * len(header), file=out)
    print(f"Number of users: {len(accounts)}", file=out)
