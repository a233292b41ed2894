"""What an execute host can do with everything its startd holds (its token, the pool's
public key), on namespace hosts that share no file system: it can make no token the
central manager's collector or schedd accepts, and a job it runs cannot read its token."""

from __future__ import annotations

import base64
import json
import re
import sys

import pytest

from roost import security

from .test_pool import PORT, TIMEOUT, Site, central_manager, join

pytestmark = pytest.mark.xdist_group("hosts-trust")

FORGE = """
from roost import security
print(security.create_token(security.SigningKey.generate(), "admin@pool", ["admin"], 600))
"""


def altered(token: str, **claims) -> str:
    """``token`` with its claims changed and its signature kept."""
    header, payload, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    decoded.update(claims)
    text = base64.urlsafe_b64encode(json.dumps(decoded).encode()).rstrip(b"=").decode()
    return f"{header}.{text}.{signature}"


def refusal(desk: Site, token_file, *args: str) -> str:
    """What the pool answers ``roost ARGS`` run on the desktop with ``token_file``."""
    desk.env["ROOST_SECURITY_TOKEN_FILE"] = str(token_file)
    done = desk.roost(*args, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    return done.stderr


def test_an_execute_host_can_make_no_token_the_pool_accepts(make_network):
    network = make_network(["cm", "desk1"])
    cm = central_manager(network["cm"])
    [[schedd]] = cm.wait_for("schedd ad", "status", "-schedd", "-af", "MyAddress")
    desk = Site(network["desk1"], ROOST_MATCHMAKER_ADDRESS=f"cm:{PORT}",
                ROOST_SCHEDD_ADDRESS=schedd)
    join(cm, desk)  # its token, and the pool's public key after it
    desk.roost("startd", "--collector", f"cm:{PORT}", "--token", "startd.token")
    cm.wait_for("slot", "status", "-af", "Name")
    # It cannot sign: the public key makes no token.
    made = desk.roost("token", "create", "--identity", "admin@pool", "--scope", "admin",
                      check=False)
    assert made.returncode == 1 and "no signing key at" in made.stderr, made.stderr
    # A token of a key of its own, one of its startd's altered to say more, and its
    # startd's own as it is: the collector and the schedd refuse each.
    directory = desk.host.directory
    forged = directory / "forged.token"
    forged.write_text(desk.host.run([sys.executable, "-c", FORGE], env=desk.env).stdout)
    startd_token = security.load_token(directory / "startd.token")
    raised = directory / "raised.token"
    raised.write_text(altered(startd_token, scope="admin", sub="admin@pool") + "\n")
    for token_file in (forged, raised):
        for args in (("status", "-schedd"), ("q", "-allusers"), ("rm", "-all")):
            said = refusal(desk, token_file, *args)
            assert "did not accept the token: token signature does not match" in said, said
    # Its startd's own token, as it is, holds no more than advertise-startd.
    said = refusal(desk, directory / "startd.token", "rm", "-all")
    assert "permission denied" in said and "lacks scope" in said, said


def test_a_job_cannot_read_its_startds_token(make_network):
    network = make_network(["cm", "desk1"])
    cm = central_manager(network["cm"])
    # Jobs run as their owners here (not as root, as the other multi-host tests have it).
    desk = Site(network["desk1"], ROOST_STARTD_RUN_AS="")
    join(cm, desk)
    desk.roost("startd", "--collector", f"cm:{PORT}", "--token", "startd.token")
    cm.wait_for("slot", "status", "-af", "Name")
    for host in (network["cm"], network["desk1"]):
        host.add_user("alice")
    token = cm.host.directory / "alice.token"
    cm.roost("token", "create", "--identity", "alice@pool", "--scope", "submit", "--out",
             str(token))
    startd_token = desk.host.directory / "startd.token"
    signature = security.load_token(startd_token).rpartition(".")[2]
    # 5: the file is not where the job looks; 3: it could read it; 4: its environment
    # holds the token.
    (cm.host.directory / "job.sub").write_text(
        "executable = /bin/sh\n"
        f"arguments = \"-c 'test -e {startd_token} || exit 5; "
        f"cat {startd_token} >/dev/null 2>&1 && exit 3; "
        f"env | grep -q -e {signature} && exit 4; exit 0'\"\n"
        "initialdir = /\n"
        "queue\n")
    cm.env["ROOST_SECURITY_TOKEN_FILE"] = str(token)
    cluster = re.search(r"cluster (\d+)", cm.roost("submit", "job.sub").stdout).group(1)
    waited = cm.roost("wait", "-timeout", str(int(TIMEOUT)), "-quiet", cluster, check=False)
    assert waited.returncode == 0, waited.stdout + waited.stderr + cm.logs() + desk.logs()
    assert cm.values("history", cluster, "-af", "Owner", "ExitCode") == [["alice", "0"]]
