"""A desktop behind a firewall that drops every inbound connection, on namespace hosts
(tests/hosts.py): its startd finds out by itself that the collector cannot dial it, goes
through the collector's broker (roost.broker), and runs the jobs submitted on the central
manager; a desktop without a firewall beside it stays directly reachable.  Nothing is
configured for either: each gets its token and the one command."""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys

import pytest

from .test_pool import PORT, TIMEOUT, Site, central_manager, join

pytestmark = pytest.mark.xdist_group("hosts-outbound")

IPTABLES_HINT = "the firewall test needs iptables and ip6tables (.ci/run installs them)"


def iptables(name: str) -> str:
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if found is None:
        pytest.fail(f"no {name}: {IPTABLES_HINT}", pytrace=False)
    return found


def drop_inbound(host) -> None:
    """The host's firewall: new TCP connections from outside are dropped (silently, as a
    home router's are); its own loopback and the connections it opened pass."""
    for command in (iptables("iptables"), iptables("ip6tables")):
        for rule in (["-i", "lo", "-j", "ACCEPT"],
                     ["-p", "tcp", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED",
                      "-j", "ACCEPT"],
                     ["-p", "tcp", "-j", "DROP"]):
            host.run([command, "-A", "INPUT", *rule], check=True)


def test_a_desktop_that_drops_inbound_connections_runs_jobs_through_the_broker(make_network):
    network = make_network(["cm", "desk1", "desk2"])
    cm_host, walled, open_host = network["cm"], network["desk1"], network["desk2"]
    drop_inbound(walled)
    cm = central_manager(cm_host)
    # The firewall holds: the central manager cannot connect to the desktop at all.
    probe = cm_host.run([sys.executable, "-c",
                         "import socket; socket.create_connection(('desk1', 22), timeout=2)"])
    assert probe.returncode != 0 and "timed out" in probe.stderr, probe.stderr

    desks = {}
    for host in (walled, open_host):
        desks[host.name] = desk = Site(host)
        join(cm, desk)
        desk.roost("startd", "--collector", f"cm:{PORT}", "--token", "startd.token",
                   "--slots", "2", "--cpus", "2")
    found = cm.wait_for("slots", "status", "-af", "Name", "MyAddress", "StartdIpAddr",
                        count=4)
    addresses = {name: (my, own) for name, my, own in found}
    # Found out, not configured: the walled desktop advertises the broker, and its own
    # address beside it; the open one is dialled directly.
    assert addresses["slot1@desk1"][0] == f"broker://cm:{PORT}/desk1", addresses
    assert re.fullmatch(rf"{re.escape(walled.address)}:\d+", addresses["slot1@desk1"][1])
    assert addresses["slot1@desk2"][0] == addresses["slot1@desk2"][1], addresses
    assert re.fullmatch(rf"{re.escape(open_host.address)}:\d+", addresses["slot1@desk2"][0])
    log = (desks["desk1"].home / "log" / "startd.log").read_text()
    assert "the collector cannot dial" in log and "no answer from" in log, log

    # Jobs submitted on the central manager run on the desktops they ask for.
    effects = "/tmp/roost-effects"  # every host has a /tmp of its own
    (cm_host.directory / "jobs.sub").write_text(
        "executable = /bin/sh\n"
        f"arguments = \"-c 'mkdir -p {effects}; hostname > {effects}/$(Process)'\"\n"
        'requirements = TARGET.Machine == "$(desk)"\n'
        "initialdir = /\n"  # the submit directory is not on the desktops
        "queue desk in (desk1, desk2, desk1, desk2, desk1, desk2, desk1, desk2)\n")
    cluster = re.search(r"cluster (\d+)", cm.roost("submit", "jobs.sub").stdout).group(1)
    waited = cm.roost("wait", "-timeout", str(int(TIMEOUT) * 2), "-quiet", cluster,
                      check=False)
    logs = cm.logs() + desks["desk1"].logs() + desks["desk2"].logs()
    assert waited.returncode == 0, waited.stdout + waited.stderr + logs
    history = cm.values("history", cluster, "-af", "ProcId", "ExitCode", "LastRemoteHost")
    assert len(history) == 8 and {code for _, code, _ in history} == {"0"}, history
    ran = {proc: host.partition("@")[2] for proc, _, host in history}
    assert ran == {str(proc): f"desk{proc % 2 + 1}" for proc in range(8)}, ran
    for proc, desk in ran.items():
        effect = network[desk].path(f"{effects}/{proc}")
        assert effect.read_text() == f"{desk}\n", (proc, desk)
    assert socket.gethostname() not in ran.values()
