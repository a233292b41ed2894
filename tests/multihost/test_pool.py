"""A pool across namespace hosts (tests/hosts.py), each daemon a separate process on its
own host: a central manager whose matchmaker and schedd bind wildcards, desktops whose
startds join it with a copied token, and jobs submitted on the central manager that run on
a desktop.  Every command runs on a host, as a user there would run it: the test process
itself is on none of them, and reaches none of their addresses."""

from __future__ import annotations

import os
import re
import shutil
import sys
import time

import pytest

pytestmark = pytest.mark.xdist_group("hosts")

TIMEOUT = 30.0
PORT = 9618  # each host has its own ports: the collector's well-known one is free


class Site:
    """One host's roost: its roost home and environment, and the roost command there."""

    def __init__(self, host, **settings: str) -> None:
        self.host = host
        # Not "roost": python -m roost, run there, would import it as the package.
        self.home = host.directory / "roost-home"
        self.home.mkdir()
        self.env = {**os.environ, "ROOST_HOME": str(self.home),
                    "ROOST_MATCHMAKER_NEGOTIATOR_INTERVAL": "2",
                    "ROOST_STARTD_POLL_INTERVAL": "1",
                    "ROOST_STARTD_UPDATE_INTERVAL": "5",
                    "ROOST_SCHEDD_UPDATE_INTERVAL": "5",
                    # As root the startd runs jobs as root rather than as their owner.
                    **({"ROOST_STARTD_RUN_AS": "root"} if os.geteuid() == 0 else {}),
                    **settings}

    def roost(self, *args: str, check: bool = True):
        done = self.host.run([sys.executable, "-m", "roost", *args], env=self.env,
                             timeout=60)
        if check:
            assert done.returncode == 0, f"{self.host.name}: roost {' '.join(args)}:\n" \
                                         f"{done.stdout}{done.stderr}\n{self.logs()}"
        return done

    def values(self, *args: str) -> list[list[str]]:
        """The lines of an ``-af`` listing, split."""
        return [line.split() for line in self.roost(*args).stdout.splitlines()]

    def wait_for(self, what: str, *args: str, count: int = 1) -> list[list[str]]:
        """The ``-af`` listing ``args`` once it has ``count`` lines (its ads arrived)."""
        deadline = time.monotonic() + TIMEOUT
        while len(found := self.values(*args)) < count:
            assert time.monotonic() < deadline, f"no {what} within {TIMEOUT:.0f} s: " \
                                                f"{found}\n{self.logs()}"
            time.sleep(0.2)
        return found

    def logs(self) -> str:
        found = []
        for log in sorted((self.home / "log").glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()
            found.append(f"--- {self.host.name} {log.name}\n" + "\n".join(lines[-15:]))
        return "\n".join(found)


def central_manager(host, **settings: str) -> Site:
    """A central manager's matchmaker and schedd, bound to every interface, as one
    roost.toml there would have it: ``matchmaker.address = "0.0.0.0:9618"``.
    ``settings``: more of its environment (ROOST_* keys)."""
    cm = Site(host, ROOST_MATCHMAKER_ADDRESS=f"0.0.0.0:{PORT}",
              ROOST_SCHEDD_ADDRESS="0.0.0.0:0", **settings)
    cm.roost("matchmaker")
    cm.roost("schedd")
    return cm


def join(cm: Site, desk: Site) -> None:
    """What a desktop gets copied from the central manager: one file, a startd token for
    its name.  Not the pool key: the schedds' claims are authenticated by their claim
    ids, which the startd made and the negotiator handed to the schedd."""
    name = desk.host.name
    cm.roost("token", "create", "--identity", f"startd@{name}", "--scope", "advertise-startd",
             "--out", str(cm.host.directory / f"{name}.token"))
    shutil.copy(cm.host.directory / f"{name}.token", desk.host.directory / "startd.token")


def test_a_job_submitted_on_the_central_manager_runs_on_a_desktop(make_network):
    network = make_network(["cm", "desk1"])
    cm_host, desk_host = network["cm"], network["desk1"]
    cm = central_manager(cm_host)
    # The daemons bound to 0.0.0.0 advertise the central manager's bridge address.
    [[collector]] = cm.wait_for("collector ad", "status", "-collector", "-af", "MyAddress")
    assert collector == f"{cm_host.address}:{PORT}"
    [[schedd]] = cm.wait_for("schedd ad", "status", "-schedd", "-af", "MyAddress")
    assert re.fullmatch(rf"{re.escape(cm_host.address)}:\d+", schedd), schedd

    desk = Site(desk_host)
    join(cm, desk)
    # The one command on the desktop: no address, no configuration.
    desk.roost("startd", "--collector", f"cm:{PORT}", "--token", "startd.token")
    [[name, address, my_address]] = cm.wait_for(
        "slot", "status", "-af", "Name", "StartdIpAddr", "MyAddress")
    assert name == "slot1@desk1"
    assert re.fullmatch(rf"{re.escape(desk_host.address)}:\d+", address), address
    assert my_address == address

    effect = desk_host.directory / "ran"  # a directory that only the desktop has
    (cm_host.directory / "job.sub").write_text(
        "executable = /bin/sh\n"
        f"arguments = \"-c 'hostname > {effect}'\"\n"
        "initialdir = /\n"  # the submit directory is not on the desktop
        "queue\n")
    submitted = cm.roost("submit", "job.sub").stdout
    cluster = re.search(r"cluster (\d+)", submitted).group(1)
    waited = cm.roost("wait", "-timeout", str(int(TIMEOUT)), "-quiet", cluster, check=False)
    assert waited.returncode == 0, waited.stdout + waited.stderr + cm.logs() + desk.logs()
    [[exit_code, remote_host]] = cm.values("history", cluster, "-af", "ExitCode",
                                           "LastRemoteHost")
    assert (exit_code, remote_host) == ("0", "slot1_1@desk1")
    assert desk_host.path(effect).read_text() == "desk1\n"
    assert not (desk.home / "keys" / "pool.key").exists()
    assert cm_host.run(["test", "-e", str(effect)]).returncode == 1
