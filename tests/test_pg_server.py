"""The throwaway PostgreSQL server the job-queue tests run on (tests/pg_server.py and the
postgres_server / postgres_url fixtures in tests/conftest.py)."""

import contextlib
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sqlalchemy as sa


def _refused(host, port, family=socket.AF_INET):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        try:
            s.connect((host, port))
        except ConnectionRefusedError:
            return True
        return False


def _wait_until(condition, timeout=15):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_round_trip_through_sqlalchemy(postgres_url):
    assert postgres_url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE jobs (id integer PRIMARY KEY, owner text)"))
            conn.execute(
                sa.text("INSERT INTO jobs VALUES (:id, :owner)"),
                [{"id": 1, "owner": "alice"}, {"id": 2, "owner": "bob"}],
            )
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, owner FROM jobs ORDER BY id")).all()
            assert [tuple(r) for r in rows] == [(1, "alice"), (2, "bob")]
            assert conn.execute(sa.text("SHOW server_encoding")).scalar() == "UTF8"
            assert conn.execute(sa.text("SHOW fsync")).scalar() == "on"
    finally:
        engine.dispose()


def test_each_database_is_fresh_and_independent(postgres_server, postgres_url):
    other_url = postgres_server.new_database("independence_check")
    assert other_url != postgres_url != postgres_server.url
    first, other = sa.create_engine(postgres_url), sa.create_engine(other_url)
    try:
        with first.begin() as conn:
            conn.execute(sa.text("CREATE TABLE only_here (x integer)"))
            conn.execute(sa.text("INSERT INTO only_here VALUES (1)"))
        assert sa.inspect(first).get_table_names() == ["only_here"]
        assert sa.inspect(other).get_table_names() == []
    finally:
        first.dispose()
        other.dispose()
        postgres_server.drop_database("independence_check")


def test_the_session_database_is_roost(postgres_server):
    assert postgres_server.url.endswith(f":{postgres_server.port}/roost")
    engine = sa.create_engine(postgres_server.url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_database()")).scalar() == "roost"
    finally:
        engine.dispose()


def test_listens_on_127_0_0_1_only(postgres_server):
    port = postgres_server.port
    engine = sa.create_engine(postgres_server.url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SHOW listen_addresses")).scalar() == "127.0.0.1"
            assert conn.execute(sa.text("SELECT host(inet_server_addr())")).scalar() == (
                "127.0.0.1"
            )
    finally:
        engine.dispose()
    assert not _refused("127.0.0.1", port)
    # 127.0.0.2 is loopback too on Linux; a server bound to 127.0.0.1 alone refuses it.
    assert _refused("127.0.0.2", port)
    if socket.has_ipv6:
        # OSError: no IPv6 loopback on this machine, so nothing listens there either.
        with contextlib.suppress(OSError):
            assert _refused("::1", port, socket.AF_INET6)
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)}
    except socket.gaierror:
        addresses = set()
    for address in addresses - {"127.0.0.1"}:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        # OSError: unreachable (e.g. a link-local address without a scope).
        with contextlib.suppress(OSError):
            assert _refused(address, port, family), address


def test_stop_leaves_nothing_behind(postgres_server):
    with type(postgres_server)() as server:
        tmpdir, port = server.tmpdir, server.port
        assert (tmpdir / "data" / "postmaster.pid").exists()
        engine = sa.create_engine(server.url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
        engine.dispose()
    assert not tmpdir.exists()
    assert _refused("127.0.0.1", port)
    server.stop()  # a second stop does nothing


def test_server_is_stopped_even_when_the_test_process_is_killed(tmp_path):
    """The watchdog stops the server and removes its directory when the process that
    started it dies without cleaning up (here by SIGKILL)."""
    script = textwrap.dedent(
        f"""\
        import importlib.util, os, signal, sys
        spec = importlib.util.spec_from_file_location(
            "pg_server", {str(Path(__file__).with_name("pg_server.py"))!r})
        pg_server = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(pg_server)
        server = pg_server.PostgresServer().start()
        print(server.tmpdir, server.port, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == -9, result.stderr
    tmpdir, port = result.stdout.split()
    assert _wait_until(lambda: not Path(tmpdir).exists()), f"{tmpdir} left behind"
    assert _refused("127.0.0.1", int(port))


def test_a_server_that_cannot_start_says_why(postgres_server):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = type(postgres_server)(port=taken.getsockname()[1])
        with pytest.raises(RuntimeError, match="did not start.*could not bind") as failure:
            server.start()
    assert "\n" not in str(failure.value)
    assert server.tmpdir is None


def test_missing_binaries_say_how_to_install_them(postgres_server, tmp_path):
    server = type(postgres_server)(bindir=tmp_path)
    with pytest.raises(RuntimeError, match="apt-get install postgresql"):
        server.start()
