"""A throwaway PostgreSQL server for the tests.

``PostgresServer`` makes a cluster in a temporary directory with ``initdb``, starts it
with ``pg_ctl`` on a free port of 127.0.0.1 (and a Unix socket in that directory), and
makes a database ``roost``.  ``stop()`` (or leaving the ``with`` block) stops it and
removes the directory.  Run as root, the server runs as the ``postgres`` user, since
``initdb`` refuses root.

So that no server outlives the test run even when it is killed, ``start()`` also starts
a small watchdog process (this file, run with ``--watchdog``) that waits for the test
process to go away and then stops the server and removes its directory.

Only the standard library is imported at the top: the watchdog runs this file as a
script, and ``find_bindir`` must work without psycopg.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INSTALL_HINT = "install them with: apt-get install postgresql"
SERVER_USER = "postgres"
DATABASE = "roost"
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def find_bindir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres: from PATH first, then the
    newest /usr/lib/postgresql/*/bin (Debian keeps them off PATH); None when absent."""
    initdb = shutil.which("initdb")
    candidates = [Path(initdb).parent] if initdb else []
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    versions.sort(key=lambda p: [int(n) for n in re.findall(r"\d+", p)], reverse=True)
    candidates += [Path(p) for p in versions]
    for directory in candidates:
        if all(os.access(directory / b, os.X_OK) for b in ("initdb", "pg_ctl", "postgres")):
            return directory
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_user() -> pwd.struct_passwd | None:
    """The account to run initdb and pg_ctl as: ``postgres`` when we are root (made with
    useradd if missing), else None (the current user)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", SERVER_USER], check=True, capture_output=True)
        return pwd.getpwnam(SERVER_USER)


def _run_as(user: pwd.struct_passwd | None, args, **kwargs) -> subprocess.CompletedProcess:
    if user is not None:
        kwargs.update(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C", LANG="C")
    return subprocess.run([str(a) for a in args], env=env, **kwargs)


def _temp_base() -> str | None:
    """Where to make the cluster's directory: the usual temp dir, unless the socket path
    would be too long or (as root) the postgres user could not reach it."""
    base = tempfile.gettempdir()
    if len(base) > 60:
        return "/tmp"
    if os.geteuid() == 0:
        path = Path(base)
        for part in (path, *path.parents):
            if not os.stat(part).st_mode & 0o001:
                return "/tmp"
    return None


def _shutdown(pg_ctl: str, datadir: str, tmpdir: str, uid: int | None) -> None:
    """Stop the server in datadir if it runs, then remove tmpdir.  Safe to repeat."""
    user = pwd.getpwuid(uid) if uid is not None else None
    if os.path.exists(os.path.join(datadir, "postmaster.pid")):
        _run_as(
            user, [pg_ctl, "stop", "-D", datadir, "-m", "fast", "-w", "-t", "30"],
            cwd=tmpdir, capture_output=True,
        )  # fmt: skip
        if os.path.exists(os.path.join(datadir, "postmaster.pid")):
            _run_as(user, [pg_ctl, "kill", "KILL", _postmaster_pid(datadir)], capture_output=True)
    shutil.rmtree(tmpdir, ignore_errors=True)


def _postmaster_pid(datadir: str) -> str:
    try:
        return Path(datadir, "postmaster.pid").read_text().split("\n", 1)[0].strip()
    except OSError:
        return "0"


def _watchdog(pg_ctl: str, datadir: str, tmpdir: str, uid: str) -> None:
    """Block until stdin closes (the test process ended, however it ended), then shut the
    server down.  Ignores Ctrl-C so that it outlives the test process it guards."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.stdin.buffer.read()
    _shutdown(pg_ctl, datadir, tmpdir, int(uid) if uid != "-" else None)


class PostgresServer:
    """A throwaway PostgreSQL server on 127.0.0.1; see the module's docstring.

    ``url`` is the SQLAlchemy URL of the database ``roost``; ``new_database(name)`` makes
    another empty database and returns its URL."""

    def __init__(self, bindir: str | Path | None = None, port: int | None = None):
        self.bindir = Path(bindir) if bindir is not None else find_bindir()
        self.host = "127.0.0.1"
        self.port = port
        self._fixed_port = port is not None
        self.tmpdir: Path | None = None
        self._user: pwd.struct_passwd | None = None
        self._watchdog: subprocess.Popen | None = None

    # -- life cycle ---------------------------------------------------------------

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def datadir(self) -> Path:
        assert self.tmpdir is not None, "server not started"
        return self.tmpdir / "data"

    @property
    def logfile(self) -> Path:
        assert self.tmpdir is not None, "server not started"
        return self.tmpdir / "server.log"

    def start(self) -> PostgresServer:
        """initdb, start the server (waiting until it accepts connections), make the
        database ``roost``.  RuntimeError, with the end of the server log, on failure."""
        if self.tmpdir is not None:
            raise RuntimeError("PostgresServer already started")
        if self.bindir is None or not (self.bindir / "initdb").exists():
            where = self.bindir or "PATH or /usr/lib/postgresql/*/bin"
            raise RuntimeError(f"PostgreSQL server binaries not found in {where}; {INSTALL_HINT}")
        self._user = _server_user()
        self.tmpdir = Path(tempfile.mkdtemp(prefix="roost-pg-", dir=_temp_base()))
        atexit.register(self.stop)
        try:
            if self._user is not None:
                os.chown(self.tmpdir, self._user.pw_uid, self._user.pw_gid)
            self._pg(
                "initdb", "-D", self.datadir, "-U", "postgres", "--auth=trust",
                "--encoding=UTF8", "--locale=C", "--no-instructions", "--no-sync",
            )  # fmt: skip
            self._start_watchdog()
            for attempt in range(3):
                if not self._fixed_port:
                    self.port = _free_port()
                try:
                    self._pg_ctl_start()
                    break
                except RuntimeError:
                    # Another process may have taken the port between our probe and the
                    # server's bind; try another one.
                    if self._fixed_port or attempt == 2 or "could not bind" not in self._log():
                        raise
            self._create_database(DATABASE)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory.  Safe to repeat."""
        if self.tmpdir is None:
            return
        tmpdir, self.tmpdir = self.tmpdir, None
        datadir = tmpdir / "data"
        _shutdown(str(self.bindir / "pg_ctl"), str(datadir), str(tmpdir), self._uid())
        if self._watchdog is not None:
            with contextlib.suppress(OSError):
                self._watchdog.stdin.close()
            try:
                self._watchdog.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._watchdog.kill()
            self._watchdog = None
        atexit.unregister(self.stop)

    # -- databases ----------------------------------------------------------------

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the database ``roost``."""
        return self.url_for(DATABASE)

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{database}"

    def new_database(self, name: str) -> str:
        """Make an empty database ``name`` (lower-case letters, digits, _) and return its
        SQLAlchemy URL."""
        self._create_database(name)
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name``, closing any connections still open to it."""
        from psycopg import sql

        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    # -- helpers ------------------------------------------------------------------

    def _uid(self) -> int | None:
        return self._user.pw_uid if self._user is not None else None

    def _pg(self, program: str, *args) -> None:
        result = _run_as(
            self._user, [self.bindir / program, *args], cwd=self.tmpdir,
            capture_output=True, text=True, start_new_session=True,
        )  # fmt: skip
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            raise RuntimeError(f"PostgreSQL {program} failed: {_tail(output)}")

    def _pg_ctl_start(self) -> None:
        options = f"-p {self.port} -k {self.tmpdir} -c listen_addresses={self.host} -c fsync=on"
        try:
            self._pg(
                "pg_ctl", "start", "-D", self.datadir, "-l", self.logfile, "-w", "-t", "30",
                "-o", options,
            )  # fmt: skip
        except RuntimeError:
            log = self._log()
            raise RuntimeError(
                f"PostgreSQL server did not start on {self.host}:{self.port}: {_tail(log)}"
            ) from None

    def _log(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    def _start_watchdog(self) -> None:
        uid = self._uid()
        self._watchdog = subprocess.Popen(
            [
                sys.executable, __file__, "--watchdog", str(self.bindir / "pg_ctl"),
                str(self.datadir), str(self.tmpdir), "-" if uid is None else str(uid),
            ],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip

    def _admin(self):
        import psycopg

        deadline = time.monotonic() + 10
        while True:
            try:
                return psycopg.connect(
                    host=self.host, port=self.port, user="postgres", dbname="postgres",
                    autocommit=True, connect_timeout=5,
                )  # fmt: skip
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _create_database(self, name: str) -> None:
        from psycopg import sql

        if not _NAME.fullmatch(name):
            raise ValueError(f"bad database name {name!r}: use a-z, 0-9 and _ (at most 63)")
        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _tail(text: str, lines: int = 8) -> str:
    """The last lines of text on one line, for an error message."""
    kept = [line.strip() for line in text.strip().splitlines()[-lines:] if line.strip()]
    return " | ".join(kept) or "(no output)"


if __name__ == "__main__" and sys.argv[1:2] == ["--watchdog"]:
    _watchdog(*sys.argv[2:6])
