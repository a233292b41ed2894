"""``roost matchmaker`` as a real process: first start, clients, shutdown under load."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import classad
from roost import security
from roost.client import Collector
from roost.config import load_config
from roost.errors import RoostError

from ..daemons import free_port, wait_gone


@pytest.fixture
def matchmaker(tmp_path):
    env = dict(os.environ, ROOST_HOME=str(tmp_path),
               ROOST_MATCHMAKER_ADDRESS=f"127.0.0.1:{free_port()}")
    started = subprocess.run([sys.executable, "-m", "roost", "matchmaker"], env=env,
                             capture_output=True, text=True, timeout=30)
    assert started.returncode == 0, started.stderr
    pid = int((tmp_path / "run" / "matchmaker.pid").read_text())
    config = load_config(env=env)
    yield config, pid, env
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def test_first_start_makes_key_and_local_token(matchmaker):
    config, pid, _ = matchmaker
    assert (security.key_path(config.home).stat().st_mode & 0o777) == 0o600
    (collector_ad,) = Collector(config=config).query("Collector")
    assert collector_ad["MyAddress"] == config.get("matchmaker", "address")


def test_sigterm_under_load_stops_cleanly(matchmaker):
    config, pid, _ = matchmaker
    key = security.SigningKey.load(security.key_path(config.home))
    startd = Collector(token=security.create_token(key, "startd@n1", ["advertise-startd"], 600),
                       config=config, timeout=5)
    reader = Collector(config=config, timeout=5)
    failures: list[str] = []
    stop = threading.Event()
    stopping = threading.Event()
    calls = [0]

    def load():
        i = 0
        while not stop.is_set():
            try:
                startd.advertise([classad.ClassAd({"Name": f"slot{i % 50}@n1", "Memory": i})])
                reader.query("Machine")
            except RoostError as e:
                # Once stopping, calls the daemon no longer takes are refused (cancelled)
                # or find it gone; nothing may fail before.
                if not stopping.is_set() or not ("cannot reach" in str(e) or "cancel" in str(e)):
                    failures.append(str(e))
                return
            calls[0] += 1
            i += 1

    workers = [threading.Thread(target=load) for _ in range(3)]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 30
    while calls[0] <= 10 and not failures:  # under load: calls answered, and more coming
        assert time.monotonic() < deadline, f"only {calls[0]} calls answered in 30 s"
        time.sleep(0.01)
    stopping.set()
    os.kill(pid, signal.SIGTERM)
    wait_gone(pid)
    stop.set()
    for w in workers:
        w.join(timeout=30)
    assert failures == []
    assert calls[0] > 10
    assert not (config.home / "run" / "matchmaker.pid").exists()
    assert "stopped" in (config.home / "log" / "matchmaker.log").read_text()
