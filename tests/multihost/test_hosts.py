"""The namespace hosts themselves (tests/hosts.py): their own names and files, a bridge
between them, no route out, and nothing left behind however the test run ends."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("hosts")

# A server that listens on argv[1]:argv[2] (port 0: any), prints its port, and answers
# each connection with its host's name until stdin closes.
SERVE = textwrap.dedent("""\
    import socket, sys, threading
    family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
    server = socket.socket(family)
    server.bind((sys.argv[1], int(sys.argv[2])))
    server.listen()
    print(server.getsockname()[1], flush=True)
    def answer():
        while True:
            connection, _ = server.accept()
            connection.sendall(socket.gethostname().encode())
            connection.close()
    threading.Thread(target=answer, daemon=True).start()
    sys.stdin.read()
""")

# Connects to argv[1]:argv[2]; prints the answer, or the errno's name.
DIAL = textwrap.dedent("""\
    import errno, socket, sys
    try:
        with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as s:
            print(s.recv(100).decode())
    except OSError as error:
        print(errno.errorcode.get(error.errno, error))
""")


def serve(host, address, port=0):
    server = host.popen([sys.executable, "-c", SERVE, address, str(port)],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return server, int(server.stdout.readline())


def dial(host, address, port) -> str:
    return host.run([sys.executable, "-c", DIAL, address, str(port)], check=True).stdout.strip()


def test_each_host_has_its_own_name_and_files(make_network, tmp_path):
    (tmp_path / "shared").write_text("the test's own file")
    network = make_network(["cm", "desk1"])
    cm, desk = network["cm"], network["desk1"]
    assert cm.run(["hostname"], check=True).stdout.strip() == "cm"
    assert desk.run(["hostname"], check=True).stdout.strip() == "desk1"
    assert subprocess.run(["hostname"], capture_output=True, text=True).stdout.strip() \
        not in ("cm", "desk1")
    (desk.directory / "mine").write_text("desk1's file")
    assert desk.run(["cat", str(desk.directory / "mine")], check=True).stdout == "desk1's file"
    assert desk.path(desk.directory / "mine").read_text() == "desk1's file"
    # The other host's directory and the test's files are hidden; /tmp is each host's own.
    for seen_by, path in ((cm, desk.directory / "mine"), (desk, cm.directory),
                          (cm, tmp_path / "shared"), (desk, tmp_path / "shared")):
        assert seen_by.run(["test", "-e", str(path)]).returncode == 1, f"{seen_by} sees {path}"
    assert (cm.directory / "..").resolve() == tmp_path / "hosts"
    desk.run(["sh", "-c", "echo private > /tmp/roost-host-test"], check=True)
    assert cm.run(["test", "-e", "/tmp/roost-host-test"]).returncode == 1
    assert not Path("/tmp/roost-host-test").exists()
    # Names resolve from the network's /etc/hosts, without DNS.
    assert cm.run(["getent", "hosts", "desk1"], check=True).stdout.split()[0] == desk.address
    # Accounts too are each host's own.
    cm.add_user("alice")
    assert cm.run(["id", "-un", "alice"], check=True).stdout.strip() == "alice"
    assert desk.run(["id", "alice"]).returncode == 1
    assert subprocess.run(["id", "alice"], capture_output=True).returncode == 1


def test_hosts_reach_each_other_over_the_bridge(make_network):
    network = make_network(["cm", "desk1"])
    cm, desk = network["cm"], network["desk1"]
    server, port = serve(desk, "0.0.0.0")
    server6, port6 = serve(desk, "::")
    local, local_port = serve(desk, "127.0.0.1")
    try:
        assert dial(cm, desk.address, port) == "desk1"
        assert dial(cm, "desk1", port) == "desk1"
        assert dial(cm, desk.address6, port6) == "desk1"
        # Loopback is each host's own.
        assert dial(desk, "127.0.0.1", local_port) == "desk1"
        assert dial(cm, "127.0.0.1", local_port) == "ECONNREFUSED"
    finally:
        for process in (server, server6, local):
            process.stdin.close()
            process.wait(timeout=10)


def test_hosts_have_no_route_out(make_network):
    network = make_network(["cm", "desk1"])
    desk = network["desk1"]
    routes = json.loads(desk.run(["ip", "-j", "route", "show", "table", "all"],
                                 check=True).stdout)
    # Only the bridge's subnets, and the local and link-local routes of its own
    # interfaces; nothing called default, no gateway.
    destinations = {(route.get("type", "unicast"), route["dst"]) for route in routes}
    unicast = {dst for kind, dst in destinations if kind == "unicast"}
    assert unicast == {"10.77.0.0/24", "fd72:6f6f:7374::/64", "fe80::/64"}, destinations
    assert not any("gateway" in route for route in routes)
    # connect() finds no route before it sends anything: documentation addresses
    # (TEST-NET-1, 2001:db8::/32) and the private range beside the bridge's.
    started = time.monotonic()
    for address in ("192.0.2.1", "2001:db8::1", "10.77.1.1"):
        assert dial(desk, address, 9) == errno.errorcode[errno.ENETUNREACH], address
    assert time.monotonic() - started < 10


def test_a_stopped_network_leaves_nothing(make_network):
    network = make_network(["a", "b"])
    sleeper = network["a"].popen(["sleep", "600"])
    network.stop()
    assert sleeper.wait(timeout=10) != 0
    assert not _namespaces(network.prefix)
    network.stop()  # again: nothing to do


def test_a_killed_test_run_leaves_nothing(tmp_path):
    # A test process that dies with SIGKILL: its watchdog cleans up after it.
    tests = Path(__file__).parents[1]
    script = textwrap.dedent(f"""\
        import sys, time
        sys.path.insert(0, {str(tests)!r})
        import hosts
        network = hosts.Network(hosts.Path({str(tmp_path / "hosts")!r}), ["a", "b"]).start()
        sleeper = network["b"].popen(["sleep", "600"])
        print(network.prefix, sleeper.pid, flush=True)
        time.sleep(600)
    """)
    run = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    prefix, sleeper = run.stdout.readline().split()
    assert len(_namespaces(prefix)) == 3
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 20
    while (_namespaces(prefix) or _alive(int(sleeper))) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _namespaces(prefix)
    assert not _alive(int(sleeper))


def _namespaces(prefix: str) -> list[str]:
    try:
        return [name for name in os.listdir("/run/netns") if name.startswith(prefix + "-")]
    except FileNotFoundError:
        return []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False
