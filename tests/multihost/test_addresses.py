"""What daemons on namespace hosts advertise for what they bind: IPv6 wildcards and
loopback, ``--advertise-address``, and a startd bound to loopback with the collector on
another host, which is reached through the collector's broker (roost.addresses,
roost.broker)."""

from __future__ import annotations

import re

import pytest

from .test_pool import PORT, TIMEOUT, Site, join

pytestmark = pytest.mark.xdist_group("hosts")




def test_ipv6_binds_and_advertises(make_network):
    network = make_network(["cm", "desk1"])
    cm_host, desk_host = network["cm"], network["desk1"]
    cm = Site(cm_host, ROOST_MATCHMAKER_ADDRESS=f"[::]:{PORT}", ROOST_SCHEDD_ADDRESS="[::]:0")
    cm.roost("matchmaker")
    cm.roost("schedd")
    # Loopback, as told; and a wildcard whose collector is on this host: the host's own
    # IPv6 address, the collector's family.
    cm.roost("startd", "--instance", "lo", "--name", "cm-lo", "--collector", f"[::1]:{PORT}",
             "--address", "[::1]:0")
    cm.roost("startd", "--instance", "any", "--name", "cm-any", "--collector",
             f"[::1]:{PORT}", "--address", "[::]:0")
    desk = Site(desk_host)
    join(cm, desk)
    # A desktop told only the collector's IPv6 address binds [::] and advertises its own.
    desk.roost("startd", "--collector", f"[{cm_host.address6}]:{PORT}",
               "--token", "startd.token")
    found = cm.wait_for("slots", "status", "-af", "Name", "MyAddress", count=3)
    addresses = {name: address for name, address in found}
    port = r":\d+"
    assert re.fullmatch(r"\[::1\]" + port, addresses["slot1@cm-lo"]), addresses
    assert re.fullmatch(rf"\[{cm_host.address6}\]" + port, addresses["slot1@cm-any"]), addresses
    assert re.fullmatch(rf"\[{desk_host.address6}\]" + port, addresses["slot1@desk1"]), addresses
    # The schedd claims the desktop's slot over IPv6 and the job runs there.
    (cm_host.directory / "job.sub").write_text(
        "executable = /bin/true\n"
        'requirements = TARGET.Machine == "desk1"\n'
        "initialdir = /\n"  # the submit directory is not on the desktop
        "queue\n")
    cluster = re.search(r"cluster (\d+)", cm.roost("submit", "job.sub").stdout).group(1)
    waited = cm.roost("wait", "-timeout", str(int(TIMEOUT)), "-quiet", cluster, check=False)
    assert waited.returncode == 0, waited.stdout + waited.stderr + cm.logs() + desk.logs()
    assert cm.values("history", cluster, "-af", "LastRemoteHost") == [["slot1_1@desk1"]]


def test_advertise_address_and_a_loopback_bind(make_network):
    network = make_network(["cm", "desk1", "desk2"])
    cm = Site(network["cm"], ROOST_MATCHMAKER_ADDRESS=f"0.0.0.0:{PORT}")
    cm.roost("matchmaker")
    desk1, desk2 = Site(network["desk1"]), Site(network["desk2"])
    for desk in (desk1, desk2):
        join(cm, desk)
    # A startd bound to loopback cannot be dialled from the collector's host: it is
    # reached through the collector's broker instead (roost.broker), and says so.
    started = desk1.roost("startd", "--collector", f"cm:{PORT}", "--token", "startd.token",
                          "--address", "127.0.0.1:0")
    assert "no other host can reach this daemon" not in started.stderr
    desk2.roost("startd", "--collector", f"cm:{PORT}", "--token", "startd.token",
                "--advertise-address", "desk2.example.org")
    found = cm.wait_for("slots", "status", "-af", "Name", "MyAddress", "StartdIpAddr", count=2)
    addresses = {name: (my, own) for name, my, own in found}
    assert addresses["slot1@desk1"][0] == f"broker://cm:{PORT}/desk1", addresses
    assert re.fullmatch(r"127\.0\.0\.1:\d+", addresses["slot1@desk1"][1]), addresses
    assert re.fullmatch(r"desk2\.example\.org:\d+", addresses["slot1@desk2"][0]), addresses
