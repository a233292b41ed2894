"""The runtime every daemon shares: a gRPC server with the health service, periodic timers,
an orderly shutdown, pid files and daemon mode.

A daemon verb parses its arguments with ``add_daemon_arguments`` and hands a body to
``run_daemon``; the body registers servicers (``Daemon.start_server``), timers
(``Daemon.add_timer``) and shutdown work (``Daemon.on_stop``).  On SIGTERM, SIGINT or
``Daemon.stop()`` the daemon reports NOT_SERVING on its health service, stops its timers,
runs the on_stop callbacks (the server still answers, so they may call out: invalidate
ads), stops the server with a grace period for calls in flight and removes its pid file.

Importing this module does not import grpc, so a daemon verb's ``--help`` stays instant;
the server is made in the daemon's own process, after ``daemonize`` has forked, since a
running gRPC core does not survive a fork.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roost.config import Config
from roost.errors import RoostError
from roost.logs import log_path, setup_logging

if TYPE_CHECKING:
    import argparse

    import grpc
    from grpc_health.v1.health import HealthServicer

DEFAULT_GRACE = 5.0  # seconds that calls in flight get to finish at shutdown
MAX_WORKERS = 16  # threads serving calls
MAX_MESSAGE_BYTES = 8 * 1024 * 1024


def create_server(
    address: str,
    *,
    interceptors: Sequence[Any] = (),
    tls: tuple[bytes, bytes, bytes] | None = None,
    max_workers: int = MAX_WORKERS,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
) -> tuple[grpc.Server, int]:
    """A gRPC server bound to ``address`` (port 0: a free one), not yet started, with the
    health service added; and the port it is bound to.

    ``tls`` is ``(key_pem, cert_pem, ca_pem)``.  The server asks no certificate of its
    clients (they authenticate with tokens), so ``ca_pem`` is not used here: it is what the
    clients verify this server with.  Health reports NOT_SERVING until a ``Daemon`` starts
    the server.
    """
    server, port, _ = _new_server(address, interceptors, tls, max_workers, max_message_bytes)
    return server, port


def _new_server(
    address: str,
    interceptors: Sequence[Any],
    tls: tuple[bytes, bytes, bytes] | None,
    max_workers: int,
    max_message_bytes: int,
) -> tuple[grpc.Server, int, HealthServicer]:
    from concurrent import futures

    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
        interceptors=list(interceptors),
        options=[
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
            # gRPC sets SO_REUSEPORT by default, which would let a second daemon share a
            # port that is taken instead of failing to start.
            ("grpc.so_reuseport", 0),
        ],
    )
    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    try:
        if tls is None:
            port = server.add_insecure_port(address)
        else:
            key, cert, _ca = tls
            port = server.add_secure_port(address, grpc.ssl_server_credentials([(key, cert)]))
    except RuntimeError:  # how gRPC reports an address it cannot bind
        port = 0
    if not port:
        server.stop(None)
        raise RoostError(f"cannot listen on {address}: the address is taken or not this host's")
    return server, port, health_servicer


def daemon_name(name: str, instance: str | None) -> str:
    """The name of a daemon's pid and log files: ``name``, or ``name-instance``."""
    return name if instance is None else f"{name}-{instance}"


def pid_path(name: str, config: Config) -> Path:
    """The pid file of daemon ``name``: ``<home>/run/<name>.pid``."""
    return config.home / "run" / f"{name}.pid"


class Daemon:
    """One daemon process: its servers, timers and shutdown."""

    def __init__(self, name: str, config: Config, *, instance: str | None = None) -> None:
        self.name = daemon_name(name, instance)
        self.config = config
        self.pid_file = pid_path(self.name, config)
        self.log = logging.getLogger(f"roost.{self.name}")
        self._servers: list[tuple[grpc.Server, HealthServicer]] = []
        self._timers: list[threading.Thread] = []
        self._stop_callbacks: list[Callable[[], None]] = []
        self._timers_stopping = threading.Event()
        self._grace = DEFAULT_GRACE
        # run() waits on this pipe: stop() writes a 0 to it, and the signal module writes
        # the number of each signal that arrives (set_wakeup_fd), neither of which takes a
        # lock that the interrupted main thread might hold.  It lives as long as the
        # process, so a late stop() never writes to a closed (or reused) descriptor.
        self._wakeup_read, self._wakeup_write = os.pipe()
        os.set_blocking(self._wakeup_write, False)
        self._restore_signals: Callable[[], None] | None = None
        self.warnings: list[str] = []  # what the command that starts it prints too

    def warn(self, message: str) -> None:
        """Log a warning that whoever starts the daemon should see at once: a daemon
        started in the background has the command that started it print it too (in the
        foreground the log goes to stderr already)."""
        self.log.warning("%s", message)
        self.warnings.append(" ".join(message.split()))

    def start_server(
        self,
        register: Callable[[grpc.Server], None],
        address: str,
        interceptors: Sequence[Any] = (),
        max_workers: int = MAX_WORKERS,
    ) -> int:
        """Serve on ``address`` (with TLS if ``[tls]`` is configured): ``register(server)``
        adds the servicers, then the server starts and health turns SERVING.  Returns the
        port.  ``max_workers`` threads at most serve calls; they are made only as calls
        need them."""
        from grpc_health.v1 import health_pb2

        server, port, health = _new_server(
            address, interceptors, _tls_from(self.config), max_workers, MAX_MESSAGE_BYTES
        )
        try:
            register(server)
            server.start()
        except BaseException:
            server.stop(None)
            raise
        health.set("", health_pb2.HealthCheckResponse.SERVING)
        self._servers.append((server, health))
        self.log.info("serving on %s:%d", address.rpartition(":")[0], port)
        return port

    def pool_key(self):
        """The pool's signing key (made on the first start of any daemon), after making
        sure the local user has a token, so that a personal pool needs no set-up."""
        from roost import security

        home = self.config.home
        key = security.SigningKey.load_or_create(security.key_path(home))
        lifetime = self.config.get("security", "token_lifetime_days") * 86400.0
        security.ensure_local_token(home, key, lifetime)
        return key

    def public_pool_key(self, join_file: Path):
        """The key that checks callers' tokens on a host that joined the pool with a token
        of its own (and so holds no private key): the one its join file ``join_file``
        carries (``roost token create --out``), else ``keys/pool.pub`` in the roost home,
        else the public half of a private key there (a shared file system); None if
        there is none of them."""
        from roost import security

        _, carried = security.load_join_file(join_file)
        if carried is not None:
            return carried
        path = security.key_path(self.config.home)
        public = security.public_key_path_of(path)
        if public.exists():
            return security.VerifyKey.load(public)
        if path.exists():
            return security.SigningKey.load(path).public
        return None

    def add_timer(self, interval: float, fn: Callable[[], None], name: str) -> None:
        """Call ``fn()`` on a thread of its own, ``interval`` seconds after the timer is
        added and then after each call returns, until shutdown.  An exception is logged
        and the timer goes on."""
        # A daemon thread, so that a call that never returns cannot keep the process alive.
        thread = threading.Thread(
            target=self._repeat, args=(interval, fn, name), name=f"{self.name}:{name}",
            daemon=True,
        )
        self._timers.append(thread)
        thread.start()

    def _repeat(self, interval: float, fn: Callable[[], None], name: str) -> None:
        while not self._timers_stopping.wait(interval):
            try:
                fn()
            except Exception:
                self.log.exception("timer %s failed", name)

    def on_stop(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` at shutdown, after the timers stop and before the server does."""
        self._stop_callbacks.append(fn)

    def stop(self, grace: float = DEFAULT_GRACE) -> None:
        """Make ``run()`` shut down, giving calls in flight ``grace`` seconds; from any
        thread, without waiting."""
        self._grace = grace
        with contextlib.suppress(BlockingIOError):  # a full pipe already says "stop"
            os.write(self._wakeup_write, b"\0")

    def run(self, *, ready: Callable[[], None] | None = None) -> int:
        """Block until SIGTERM, SIGINT or ``stop()``, then shut down; return 0.  Once per
        daemon.

        ``ready()`` is called once the signal handlers are in place, so a signal sent by
        whoever it tells is never missed.  Signals are handled only when ``run()`` is called
        in the main thread, as Python allows nothing else.
        """
        restore = self.handle_signals()
        # The handlers stay until shutdown is over, so that a second SIGTERM does not cut
        # it short; SIGKILL is for that.
        try:
            if ready is not None:
                ready()
            received = os.read(self._wakeup_read, 1)[0]
            while received != 0 and received not in _SIGNALS:
                # Another signal that has a Python handler: not ours to act on.
                received = os.read(self._wakeup_read, 1)[0]
            if received:
                self.log.info("%s received; stopping", signal.Signals(received).name)
            self._shutdown()
        finally:
            restore()
        return 0

    def handle_signals(self) -> Callable[[], None]:
        """Route SIGTERM and SIGINT to the wakeup pipe (once); return what puts things
        back.  ``run_daemon`` calls it before the daemon starts its servers, so that a
        signal that comes while it starts is not the default death: ``run()`` reads it and
        shuts down."""
        if self._restore_signals is None:
            self._restore_signals = self._route_signals()
        return self._restore_signals

    def _route_signals(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous_fd = signal.set_wakeup_fd(self._wakeup_write)
        # The handler itself does nothing: arriving writes the signal to the pipe.
        previous = {signum: signal.signal(signum, _ignore) for signum in _SIGNALS}

        def restore() -> None:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            signal.set_wakeup_fd(previous_fd)

        return restore

    def _shutdown(self) -> None:
        for _, health in self._servers:
            health.enter_graceful_shutdown()  # every service NOT_SERVING, for good
        self._timers_stopping.set()
        deadline = time.monotonic() + self._grace
        for thread in self._timers:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                self.log.warning("timer %s still running at shutdown", thread.name)
        for fn in self._stop_callbacks:
            try:
                fn()
            except Exception:
                self.log.exception("shutdown step %s failed", getattr(fn, "__name__", fn))
        stopped = [server.stop(self._grace) for server, _ in self._servers]
        for event in stopped:
            event.wait()
        release_pid_file(self.pid_file)
        self.log.info("stopped")


# The signals that stop a daemon.
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _ignore(signum: int, frame: object) -> None:
    """A handler that keeps a signal from killing the process; the wakeup pipe reports it."""


def _tls_from(config: Config) -> tuple[bytes, bytes, bytes] | None:
    """``(key, cert, ca)`` PEMs from ``[tls]``, or None if TLS is off."""
    if not config.get("tls", "cert"):
        return None  # load_config has made sure the three come together
    pems = []
    for key in ("key", "cert", "ca"):
        path = config.get("tls", key)
        try:
            pems.append(Path(path).read_bytes())
        except OSError as error:
            raise RoostError(f"cannot read tls.{key} {path}: {error.strerror}") from None
    key_pem, cert_pem, ca_pem = pems
    return key_pem, cert_pem, ca_pem


# Pid files.


def claim_pid_file(path: Path, name: str) -> None:
    """Write this process's pid to ``path``; RoostError if the file names a live process
    of this user's that started before the file was written.  Other files are stale and
    replaced."""
    # The file appears by a link from a complete one, so no reader sees it half written
    # and, of two daemons starting at once, one wins.
    written = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        written.write_text(f"{os.getpid()}\n")
        try:
            for _ in range(2):
                try:
                    os.link(written, path)
                    return
                except FileExistsError:
                    owner = running_pid(path)
                    if owner is not None:
                        raise RoostError(
                            f"{name} is already running (pid {owner}; {path})"
                        ) from None
                    path.unlink(missing_ok=True)
            raise RoostError(f"{name} cannot claim {path}: another process keeps writing it")
        finally:
            written.unlink()
    except OSError as error:
        raise RoostError(f"cannot write the pid file {path}: {error.strerror}") from None


def release_pid_file(path: Path) -> None:
    """Remove ``path`` if it names this process."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        if int(path.read_text().split()[0]) == os.getpid():
            path.unlink()


def running_pid(path: Path) -> int | None:
    """The pid in ``path`` if it is a live process of this user's that could have written
    the file; None if the file is stale (or gone)."""
    import psutil

    try:
        written = path.stat().st_mtime
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if pid == os.getpid():
        return None
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE or process.uids().real != os.getuid():
            return None
        started = process.create_time()
    except psutil.Error:
        return None
    # A process that started after the file was written has a reused pid.  create_time()
    # counts from a boot time known to the second, hence the slack.
    return pid if started <= written + 1.0 else None


# Daemon mode.


class Startup:
    """The daemon's end of the pipe that the command which started it waits on."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def ready(self, warnings: Sequence[str] = ()) -> None:
        """Started: the pid, and the warnings (one line each) the starter prints."""
        self._send("\n".join([f"ok {os.getpid()}", *warnings]))

    def failed(self, message: str) -> None:
        self._send(f"error {message}")

    def _send(self, text: str) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):  # the starter is gone: nobody left to tell
            os.write(self._fd, text.encode())
        os.close(self._fd)
        self._fd = None


def daemonize(name: str, config: Config) -> Startup | None:
    """Detach into the background: double fork, new session, standard streams on
    /dev/null, working directory /.

    In the daemon, returns the ``Startup`` to report through.  In the calling process,
    waits for that report: prints where the daemon runs and returns None once it is
    ready, or raises RoostError with the reason it failed.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child:
        os.close(write_end)
        os.waitpid(child, 0)
        with os.fdopen(read_end, "rb") as pipe:
            status, _, detail = pipe.read().decode(errors="replace").partition(" ")
        if status == "ok":
            pid, *warnings = detail.split("\n")
            print(f"{name} started (pid {pid}); log: {log_path(name, config)}")
            for warning in warnings:
                print(f"WARNING: {warning}", file=sys.stderr)
            return None
        if status == "error":
            raise RoostError(f"{name} did not start: {detail}")
        raise RoostError(
            f"{name} did not start: it exited before it was ready; see {log_path(name, config)}"
        )
    os.close(read_end)
    # A new session has no controlling terminal, so the terminal's hangup and Ctrl-C no
    # longer reach the daemon; the second fork leaves it no session leader, so opening a
    # terminal can never make one its controlling terminal again.
    os.setsid()
    if os.fork():
        os._exit(0)
    os.chdir("/")  # so the daemon holds no directory (or file system) busy
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    return Startup(write_end)


def write_address(path: Path, address: str) -> None:
    """Write the address a daemon bound where local commands look for it; written whole
    and then renamed, so a reader never sees half an address."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(address + "\n", encoding="utf-8")
    partial.replace(path)


def add_daemon_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options every daemon verb takes: ``--foreground`` and ``--instance``."""
    parser.add_argument(
        "--foreground",
        action="store_true",
        help="stay attached to the terminal and log to stderr as well as to the log file "
        "(default: run in the background)",
    )
    parser.add_argument(
        "--instance",
        metavar="NAME",
        help="run as one of several daemons of this kind on the host, with its own pid "
        "and log files (DAEMON-NAME)",
    )


def run_daemon(
    name: str, args: argparse.Namespace, config: Config, body: Callable[[Daemon], None]
) -> int:
    """Run daemon ``name`` as ``args`` (from ``add_daemon_arguments``) ask: in the
    background unless ``--foreground``; with its log and pid file; ``body(daemon)`` adds its
    servers, timers and shutdown steps; then serve until stopped.  Returns the exit status.
    """
    full_name = daemon_name(name, args.instance)
    startup = None
    if not args.foreground:
        startup = daemonize(full_name, config)
        if startup is None:
            return 0
    daemon = Daemon(name, config, instance=args.instance)
    try:
        # Before the log: a daemon that is already running owns the log file too.
        claim_pid_file(daemon.pid_file, daemon.name)
    except RoostError as error:
        if startup is not None:
            startup.failed(str(error))
        raise
    daemon.handle_signals()
    try:
        setup_logging(daemon.name, config, args.foreground)
        body(daemon)
    except BaseException as error:
        if isinstance(error, RoostError):
            daemon.log.error("cannot start: %s", error)
            message = str(error)
        else:
            daemon.log.exception("cannot start")
            log = log_path(daemon.name, config)
            message = f"unexpected error ({type(error).__name__}: {error}); see {log}"
        # Undo what the body began (servers, timers) and release the pid file.
        daemon.stop(grace=0)
        daemon.run()
        if startup is not None:
            startup.failed(message)
        raise
    return daemon.run(
        ready=(lambda: startup.ready(daemon.warnings)) if startup is not None else None
    )
