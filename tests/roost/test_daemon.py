"""The daemon runtime: servers with health, timers, shutdown, pid files, daemon mode and
logs.  Servers listen on 127.0.0.1:0 only."""

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import psutil
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from roost import logs
from roost.config import load_config
from roost.daemon import Daemon, claim_pid_file, create_server, release_pid_file
from roost.errors import RoostError

HELPER = Path(__file__).with_name("daemon_helper.py")
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@pytest.fixture
def home(tmp_path, monkeypatch):
    """The roost home, with the working and home directories the test's own so that no
    configuration file of the machine takes part."""
    for name in list(os.environ):
        if name.startswith("ROOST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROOST_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def root_logger():
    """The root logger and the handlers it had; put back as it was after the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root, handlers
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def health(port: int, credentials: grpc.ChannelCredentials | None = None) -> int:
    target = f"127.0.0.1:{port}"
    if credentials is None:
        channel = grpc.insecure_channel(target)
    else:
        channel = grpc.secure_channel(target, credentials)
    with channel:
        request = health_pb2.HealthCheckRequest(service="")
        return health_pb2_grpc.HealthStub(channel).Check(request, timeout=5).status


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return result


def running(daemon: Daemon) -> threading.Thread:
    """``daemon.run()`` on a thread of its own; the thread keeps the return value."""
    thread = threading.Thread(target=lambda: setattr(thread, "status", daemon.run()))
    thread.start()
    return thread


def test_create_server_binds_a_free_port_and_refuses_a_taken_one():
    server, port = create_server("127.0.0.1:0")
    try:
        assert port > 0
        server.start()
        # Health says NOT_SERVING until a Daemon has started the server.
        assert health(port) == NOT_SERVING
        with pytest.raises(RoostError, match=rf"^cannot listen on 127\.0\.0\.1:{port}: "):
            create_server(f"127.0.0.1:{port}")
    finally:
        server.stop(None)


def test_health_is_serving_then_not_serving_during_shutdown(home):
    calls = []

    class Counting(grpc.ServerInterceptor):
        def intercept_service(self, continuation, details):
            calls.append(details.method)
            return continuation(details)

    daemon = Daemon("matchmaker", load_config())
    port = daemon.start_server(lambda server: None, "127.0.0.1:0", interceptors=[Counting()])
    thread = running(daemon)
    assert health(port) == SERVING
    assert calls == ["/grpc.health.v1.Health/Check"]
    # on_stop callbacks run while the server still answers, after health has turned.
    during = []
    daemon.on_stop(lambda: during.append(health(port)))
    daemon.stop(grace=1)
    thread.join(10)
    assert (thread.is_alive(), thread.status, during) == (False, 0, [NOT_SERVING])
    with pytest.raises(grpc.RpcError) as caught:
        health(port)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_timers_run_every_interval_survive_errors_and_stop(home, caplog):
    daemon = Daemon("startd", load_config(), instance="2")
    assert daemon.name == "startd-2"
    ticks = []

    def tick():
        ticks.append(time.monotonic())
        if len(ticks) == 2:
            raise ValueError("second tick fails")

    started = time.monotonic()
    daemon.add_timer(0.03, tick, "tick")
    late = []
    daemon.add_timer(60, lambda: late.append(1), "hourly")
    thread = running(daemon)
    wait_for(lambda: len(ticks) >= 4)
    daemon.stop(grace=1)
    thread.join(10)
    count = len(ticks)
    time.sleep(0.1)
    assert len(ticks) == count  # stopped
    assert ticks[0] - started >= 0.03  # the first run comes after one interval
    assert late == []
    assert "timer tick failed" in caplog.text
    assert "ValueError: second tick fails" in caplog.text


def test_tls_from_the_configuration(home, tmp_path, monkeypatch):
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=roost test", "-addext",
         "subjectAltName=IP:127.0.0.1", "-keyout", "key.pem", "-out", "cert.pem"],
        check=True, capture_output=True, cwd=tmp_path,
    )
    # Self-signed: the certificate is its own CA.
    monkeypatch.setenv("ROOST_TLS_CERT", "cert.pem")
    monkeypatch.setenv("ROOST_TLS_KEY", "key.pem")
    monkeypatch.setenv("ROOST_TLS_CA", "cert.pem")
    daemon = Daemon("matchmaker", load_config())
    port = daemon.start_server(lambda server: None, "127.0.0.1:0")
    try:
        ca = (tmp_path / "cert.pem").read_bytes()
        assert health(port, grpc.ssl_channel_credentials(root_certificates=ca)) == SERVING
        with pytest.raises(grpc.RpcError):
            health(port)  # a plain-text client gets nowhere
    finally:
        daemon.stop(grace=0)
        daemon.run()


def test_a_missing_tls_file_is_one_line(home, monkeypatch):
    for key in ("CERT", "KEY", "CA"):
        monkeypatch.setenv(f"ROOST_TLS_{key}", f"/nonexistent/{key.lower()}.pem")
    daemon = Daemon("matchmaker", load_config())
    with pytest.raises(RoostError, match="^cannot read tls.key /nonexistent/key.pem: No such"):
        daemon.start_server(lambda server: None, "127.0.0.1:0")


def test_pid_files(tmp_path):
    path = tmp_path / "run" / "schedd.pid"
    claim_pid_file(path, "schedd")
    assert path.read_text() == f"{os.getpid()}\n"
    assert list(path.parent.iterdir()) == [path]
    release_pid_file(path)
    assert not path.exists()

    # A live process of ours that started before the file was written: refused.
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as other:
        try:
            path.write_text(f"{other.pid}\n")
            with pytest.raises(RoostError) as caught:
                claim_pid_file(path, "schedd")
            assert str(caught.value) == f"schedd is already running (pid {other.pid}; {path})"
            release_pid_file(path)  # not ours to remove
            assert path.read_text() == f"{other.pid}\n"
        finally:
            other.kill()

    # The same process, but the file is older than it: its pid was reused, so stale.
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as other:
        try:
            path.write_text(f"{other.pid}\n")
            os.utime(path, (time.time() - 3600,) * 2)
            claim_pid_file(path, "schedd")
            assert path.read_text() == f"{os.getpid()}\n"
        finally:
            other.kill()

    # A process that is gone, or no pid at all: stale.
    for text in (f"{other.pid}\n", "garbage"):
        path.write_text(text)
        claim_pid_file(path, "schedd")
        assert path.read_text() == f"{os.getpid()}\n"
    release_pid_file(path)


def start_helper(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(HELPER), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=home.parent,
    )


def port_of(home: Path, name: str = "helper") -> int:
    path = home / f"{name}.port"
    wait_for(path.is_file)
    return int(path.read_text())


def test_sigterm_stops_a_foreground_daemon_cleanly(home):
    daemon = start_helper(home, "--foreground")
    try:
        port = port_of(home)
        pid_file = home / "run" / "helper.pid"
        assert pid_file.read_text() == f"{daemon.pid}\n"
        assert health(port) == SERVING
        wait_for(lambda: (home / "helper.ticks").is_file())

        # A second start finds the live pid file and is refused in one line.
        second = subprocess.run(
            [sys.executable, str(HELPER), "--foreground"], capture_output=True, text=True,
            cwd=home.parent,
        )
        assert (second.returncode, second.stderr) == (
            1, f"roost: helper is already running (pid {daemon.pid}; {pid_file})\n"
        )
        assert pid_file.read_text() == f"{daemon.pid}\n"

        daemon.send_signal(signal.SIGTERM)
        _, stderr = daemon.communicate(timeout=10)
    finally:
        daemon.kill()
    assert daemon.returncode == 0
    assert not pid_file.exists()
    assert (home / "helper.stopped").exists()
    # In the foreground the log goes to stderr as well as to the file.
    assert "helper INFO roost.helper: serving on 127.0.0.1:" in stderr
    log = (home / "log" / "helper.log").read_text()
    assert f"serving on 127.0.0.1:{port}" in log
    assert "SIGTERM received; stopping" in log
    assert log.rstrip().endswith("helper INFO roost.helper: stopped")


def test_a_sigterm_while_the_daemon_starts_stops_it_cleanly(home):
    # A glide-in's batch system may signal it at any time, even before it has started.
    daemon = start_helper(home, "--foreground", "--sigterm-at-start")
    try:
        daemon.communicate(timeout=10)
    finally:
        daemon.kill()
    assert daemon.returncode == 0
    assert (home / "helper.stopped").exists()
    assert "SIGTERM received; stopping" in (home / "log" / "helper.log").read_text()


def test_daemon_mode_returns_once_the_daemon_is_up(home):
    starter = start_helper(home, "--instance", "2")
    stdout, stderr = starter.communicate(timeout=10)
    assert (starter.returncode, stderr) == (0, "")
    pid = int((home / "run" / "helper-2.pid").read_text())
    log = home / "log" / "helper-2.log"
    assert stdout == f"helper-2 started (pid {pid}); log: {log}\n"
    daemon = psutil.Process(pid)
    try:
        assert daemon.is_running() and daemon.ppid() != starter.pid
        assert daemon.cwd() == "/"
        assert os.getsid(pid) != os.getsid(0)  # a session of its own
        # The port file is written before the daemon reports it is up.
        assert health(int((home / "helper-2.port").read_text())) == SERVING
        daemon.send_signal(signal.SIGTERM)
        wait_for(lambda: not (home / "run" / "helper-2.pid").exists())
        wait_for(lambda: not daemon.is_running() or daemon.status() == psutil.STATUS_ZOMBIE)
    finally:
        if daemon.is_running():
            daemon.kill()
    assert (home / "helper-2.stopped").exists()
    assert "stopped" in log.read_text()


def test_daemon_mode_reports_a_failure_to_start_in_one_line(home):
    starter = start_helper(home, "--fail", "the database is locked")
    stdout, stderr = starter.communicate(timeout=10)
    assert (starter.returncode, stdout) == (1, "")
    assert stderr == "roost: helper did not start: the database is locked\n"
    assert not (home / "run" / "helper.pid").exists()
    assert "cannot start: the database is locked" in (home / "log" / "helper.log").read_text()


def test_logs_are_written_rotated_and_set_up_once(home, root_logger, monkeypatch):
    root, before = root_logger
    monkeypatch.setenv("ROOST_LOG_MAX_BYTES", "400")
    monkeypatch.setenv("ROOST_LOG_BACKUPS", "2")
    monkeypatch.setenv("ROOST_LOG_LEVEL", "warning")
    config = load_config()
    logs.setup_logging("negotiator", config, foreground=True)
    log = logs.setup_logging("negotiator", config, foreground=False)
    assert log.name == "roost.negotiator"
    # The second call replaced the first one's handlers (file and stderr) with its own.
    added = [handler for handler in root.handlers if handler not in before]
    assert [type(handler).__name__ for handler in added] == ["RotatingFileHandler"]
    assert root.level == logging.WARNING

    logging.getLogger("roost.test").info("not at this level")
    for number in range(40):
        logging.getLogger("roost.test").warning("line %d", number)
    directory = home / "log"
    assert sorted(p.name for p in directory.iterdir()) == [
        "negotiator.log", "negotiator.log.1", "negotiator.log.2"
    ]
    last = (directory / "negotiator.log").read_text().splitlines()[-1]
    assert last.endswith(" negotiator WARNING roost.test: line 39")
    assert all(os.path.getsize(p) <= 400 for p in directory.iterdir())
    text = "".join(p.read_text() for p in directory.iterdir())
    assert "not at this level" not in text


def test_importing_the_runtime_imports_no_grpc():
    # A daemon verb's --help imports roost.daemon for add_daemon_arguments.
    script = "import sys, roost.daemon; print(sorted(m for m in sys.modules if 'grpc' in m))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout == "[]\n"
