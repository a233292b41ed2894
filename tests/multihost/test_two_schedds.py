"""Two schedds on two hosts share one pool: alice submits on the central manager, bob on a
submit host of his own, and their jobs share two desktops' four slots about evenly.

The negotiator's accountant keeps a priority per owner (the job's ``Owner``, the user part
of the token that submitted it: ``matchmaker.accountant``), whichever schedd the jobs come
from; two owners with no usage yet have equal priorities, so each gets half the pool, as
``condor_userprio`` would show.  Claims go back to the negotiator every 2 s
(``schedd.claim_worklife``), so the shares are decided again and again rather than by who
claimed first."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from roost import security

from .test_partition import SETTINGS, desktop
from .test_pool import PORT, TIMEOUT, Site, central_manager

pytestmark = pytest.mark.xdist_group("hosts-schedds")

JOBS = 12  # each owner's; four slots
RUN = 1.5  # seconds each job runs
SHARED = {**SETTINGS, "ROOST_SCHEDD_CLAIM_WORKLIFE": "2"}


def token_from(cm: Site, site: Site, identity: str, *scopes: str) -> Path:
    """A token made on the central manager (the only host that can sign) and copied to
    ``site``, as an administrator would hand it over; its path there."""
    made = cm.host.directory / f"{identity}.token"
    cm.roost("token", "create", "--identity", identity,
             *(part for scope in scopes for part in ("--scope", scope)), "--out", str(made))
    there = site.host.directory / made.name
    if there != made:
        shutil.copy(made, there)
    return there


def submit_as(cm: Site, site: Site, user: str, count: int) -> str:
    """Submit ``count`` jobs on ``site`` as ``user`` (an account there, with a token made
    on the central manager: the schedd, as root, moves a job's files with its owner's
    rights); the cluster."""
    site.host.add_user(user)
    token = token_from(cm, site, f"{user}@pool", "read", "submit")
    (site.host.directory / "jobs.sub").write_text(
        f"executable = /bin/sleep\narguments = {RUN}\ninitialdir = /\nqueue {count}\n")
    before = site.env.get("ROOST_SECURITY_TOKEN_FILE")
    site.env["ROOST_SECURITY_TOKEN_FILE"] = str(token)
    try:
        return re.search(r"cluster (\d+)", site.roost("submit", "jobs.sub").stdout).group(1)
    finally:
        if before is None:
            del site.env["ROOST_SECURITY_TOKEN_FILE"]
        else:
            site.env["ROOST_SECURITY_TOKEN_FILE"] = before


def test_two_schedds_on_two_hosts_share_the_pool_fairly(make_network):
    network = make_network(["cm", "sub2", "desk1", "desk2"])
    cm = central_manager(network["cm"], **SHARED)
    # A second submit host: its schedd joins the central manager's collector with a join
    # file (its token, and the pool's public key, with which it checks its users' tokens).
    # Only the central manager holds the private key, so only it makes tokens.
    sub2 = Site(network["sub2"], ROOST_MATCHMAKER_ADDRESS=f"cm:{PORT}",
                ROOST_SCHEDD_ADDRESS="0.0.0.0:0", **SHARED)
    schedd_token = token_from(cm, sub2, "schedd@sub2", "advertise-schedd")
    sub2.env["ROOST_SECURITY_TOKEN_FILE"] = str(token_from(cm, sub2, "root@pool", "read"))
    sub2.roost("schedd", "--token", str(schedd_token))
    schedds = cm.wait_for("two schedds", "status", "-schedd", "-af", "Name", "MyAddress",
                          count=2)
    assert {name for name, _ in schedds} == {"cm", "sub2"}, schedds
    assert any(address.startswith(f"{network['sub2'].address}:") for _, address in schedds)
    # Both owners' jobs wait before the first slot comes: neither starts first.
    alices = submit_as(cm, cm, "alice", JOBS)
    bobs = submit_as(cm, sub2, "bob", JOBS)
    cm.wait_for("two submitters", "status", "-submitters", "-af", "Name", count=2)
    desks = [desktop(cm, network[name]) for name in ("desk1", "desk2")]
    for site, cluster in ((cm, alices), (sub2, bobs)):
        waited = site.roost("wait", "-timeout", str(int(2 * TIMEOUT)), "-quiet", cluster,
                            check=False)
        assert waited.returncode == 0, (waited.stdout + waited.stderr + cm.logs()
                                        + sub2.logs() + desks[0].logs())
    done = {owner: json.loads(site.roost("history", cluster, "-json").stdout)
            for owner, site, cluster in (("alice", cm, alices), ("bob", sub2, bobs))}
    assert {owner: len(ads) for owner, ads in done.items()} == {"alice": JOBS, "bob": JOBS}
    hosts = {ad["LastRemoteHost"].partition("@")[2] for ads in done.values() for ad in ads}
    assert hosts == {"desk1", "desk2"}
    # While both had work waiting, each had about half the slots: of the jobs done by the
    # time half of all were, each owner's are about half.
    ends = sorted((ad["CompletionDate"], owner) for owner, ads in done.items() for ad in ads)
    median = ends[len(ends) // 2 - 1][0]
    early = [owner for when, owner in ends if when <= median]
    alice_share = early.count("alice") / len(early)
    assert 0.3 <= alice_share <= 0.7, ends
    assert not (sub2.home / "keys").exists(), "the submit host never held the pool key"
    forged = sub2.host.directory / "forged.token"
    forged.write_text(security.create_token(security.SigningKey.generate(), "bob@pool",
                                            ["admin"], 600) + "\n")
    sub2.env["ROOST_SECURITY_TOKEN_FILE"] = str(forged)
    refused = sub2.roost("rm", "-all", check=False)
    assert refused.returncode == 1 and "did not accept the token" in refused.stderr
    priorities = cm.roost("userprio").stdout
    assert "alice" in priorities and "bob" in priorities, priorities
