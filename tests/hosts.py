"""Hosts made of Linux namespaces, for tests of a pool that spans machines.

``Network(base, ["cm", "desk1"])`` makes, as root, one host per name:

- its own network namespace, with its own loopback and one interface, ``eth0``, a veth
  whose other end is a port of a bridge living in a namespace of its own; the host's
  addresses (``10.77.0.N/24`` and ``fd72:6f6f:7374::N/64``, N = 1, 2, ... in the order of
  the names) are set inside the namespace, and there is no other route: nothing a test
  sends can leave the machine, and a connect() to any other address fails at once with
  ENETUNREACH;
- its own hostname (a UTS namespace) and its own view of the file system (a mount
  namespace): its directory ``base/NAME`` is where it is outside, while ``/tmp`` and
  ``base`` itself (so every other host's directory, and whatever else the test keeps
  there) are hidden under empty tmpfs mounts (the checkout and its Python are put back
  where they lie under ``/tmp``); ``/etc/hosts`` names every host of the
  network and ``/etc/resolv.conf`` is empty, so names resolve without DNS.

Each host's namespaces are held by a small process (this file, run with ``--hold``) that
sleeps until the test ends.  ``Host.run``/``Host.popen`` run a command inside with
``nsenter --net=/run/netns/NS --target HOLDER --mount --uts`` (``ip netns exec`` would
remount /sys); ``Host.path`` reads and writes files as the host sees them.

``stop()`` (or leaving the ``with`` block) stops every process of every host (SIGTERM,
then SIGKILL) and deletes the namespaces, which takes the veths and the bridge with them.
So that nothing outlives a test run that is killed, ``start()`` first starts a watchdog
(this file, run with ``--watchdog``) that waits for the test process to go away and then
kills what is left in the namespaces and deletes them; ``atexit`` does the same.
Namespace names carry the pytest-xdist worker, the process id and a counter, so several
workers make networks at once.

Only the standard library is imported, so the helpers run as scripts.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent  # the code every host runs
SUBNET = "10.77.0"  # .N/24: host N's IPv4 address
SUBNET6 = "fd72:6f6f:7374::"  # N/64: host N's IPv6 address (unique local)
INSTALL_HINT = "the host tests need root and the ip, nsenter, unshare and mount commands"
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL for the hosts' processes
_sequence = itertools.count()


def missing() -> str | None:
    """Why namespace hosts cannot be made here, or None if they can."""
    if os.geteuid() != 0:
        return f"not root; {INSTALL_HINT}"
    import shutil

    absent = [name for name in ("ip", "nsenter", "unshare", "mount")
              if shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
              is None]
    return f"missing {', '.join(absent)}; {INSTALL_HINT}" if absent else None


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


class Host:
    """One host of a ``Network``; see the module's docstring."""

    def __init__(self, network: Network, name: str, number: int) -> None:
        self.network = network
        self.name = name
        self.number = number
        self.address = f"{SUBNET}.{number}"
        self.address6 = f"{SUBNET6}{number}"
        self.netns = f"{network.prefix}-{name}"
        self.directory = network.base / name  # the host's own files, at the same path inside
        self.holder: subprocess.Popen | None = None

    def __repr__(self) -> str:
        return f"Host({self.name!r}, {self.address})"

    def command(self, argv: Sequence[str], cwd: str | Path | None = None) -> list[str]:
        """``argv`` as a command line that runs it on this host, in ``cwd`` (default: the
        host's directory)."""
        assert self.holder is not None, "network not started"
        return ["nsenter", f"--net=/run/netns/{self.netns}", f"--target={self.holder.pid}",
                "--mount", "--uts", f"--wd={cwd or self.directory}", "--", *map(str, argv)]

    def run(self, argv: Sequence[str], *, cwd: str | Path | None = None,
            env: dict[str, str] | None = None, timeout: float = 60,
            check: bool = False, input: str | None = None) -> subprocess.CompletedProcess:
        """Run ``argv`` on this host and wait; its output as text.  ``check``: raise
        AssertionError with the output if it fails."""
        done = subprocess.run(self.command(argv, cwd), env=env, capture_output=True,
                              text=True, timeout=timeout, input=input,
                              stdin=None if input is not None else subprocess.DEVNULL)
        if check and done.returncode != 0:
            raise AssertionError(f"{self.name}: {' '.join(map(str, argv))} exited "
                                 f"{done.returncode}:\n{done.stdout}{done.stderr}")
        return done

    def popen(self, argv: Sequence[str], *, cwd: str | Path | None = None,
              **kwargs) -> subprocess.Popen:
        """Start ``argv`` on this host; ``kwargs`` go to Popen."""
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.Popen(self.command(argv, cwd), **kwargs)

    def path(self, path: str | Path) -> Path:
        """``path`` as this host sees it, for the test to read or write (through the
        holder's root, which is in the host's mount namespace)."""
        assert self.holder is not None, "network not started"
        return Path(f"/proc/{self.holder.pid}/root") / Path(path).relative_to("/")

    def add_user(self, name: str) -> None:
        """An account ``name`` (and its group) on this host alone: each host has its own
        /etc/passwd and /etc/group, copies of the machine's made when it starts."""
        passwd, group = self.path("/etc/passwd"), self.path("/etc/group")
        taken = {int(line.split(":")[2]) for path in (passwd, group)
                 for line in path.read_text().splitlines() if line.count(":") >= 2}
        uid = max(number for number in taken if number < 65534) + 1
        with passwd.open("a") as users:
            users.write(f"{name}:x:{uid}:{uid}::/nonexistent:/usr/sbin/nologin\n")
        with group.open("a") as groups:
            groups.write(f"{name}:x:{uid}:\n")

    def pids(self) -> list[int]:
        """The processes in this host's network namespace."""
        return _pids_in(self.netns)

    def cut_off(self) -> None:
        """A partition: the host's port of the bridge goes down, so nothing passes between
        it and the other hosts either way (its own processes and loopback go on; its
        eth0 loses its carrier, and keeps its addresses)."""
        _ip("-n", self.network.bridge_netns, "link", "set", f"port{self.number}", "down")

    def heal(self) -> None:
        """The partition heals: the host's port of the bridge comes back up."""
        _ip("-n", self.network.bridge_netns, "link", "set", f"port{self.number}", "up")


class Network:
    """Hosts on one bridge; see the module's docstring."""

    def __init__(self, base: Path, names: Sequence[str], hide: Sequence[Path] = ()) -> None:
        """Hosts ``names`` with their directories under ``base``; ``hide``: more
        directories no host sees (the test's own temporary directory)."""
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"host names must be given and distinct: {names}")
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.prefix = f"roost-{worker}-{os.getpid()}-{next(_sequence)}"
        self.base = Path(base).absolute()
        self.hosts = {name: Host(self, name, number) for number, name in
                      enumerate(names, start=1)}
        self.hide = [Path(path).absolute() for path in hide]
        self.bridge_netns = f"{self.prefix}-bridge"
        self._watchdog: subprocess.Popen | None = None
        self._started = False

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    def __enter__(self) -> Network:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def namespaces(self) -> list[str]:
        return [host.netns for host in self.hosts.values()] + [self.bridge_netns]

    def start(self) -> Network:
        """Make the bridge and the hosts; RuntimeError if the machine cannot."""
        if self._started:
            raise RuntimeError("network already started")
        reason = missing()
        if reason:
            raise RuntimeError(reason)
        self._started = True
        atexit.register(self.stop)
        try:
            self._start_watchdog()
            self._make_bridge()
            for host in self.hosts.values():
                self._make_host(host)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every process of every host, delete the namespaces.  Safe to repeat."""
        if not self._started:
            return
        self._started = False
        _terminate(self.namespaces(), STOP_GRACE)
        for host in self.hosts.values():
            if host.holder is not None:
                host.holder.wait()  # killed with the rest; reaped here
                host.holder = None
        _delete(self.namespaces())
        if self._watchdog is not None:
            with contextlib.suppress(OSError):
                self._watchdog.stdin.close()
            try:
                self._watchdog.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._watchdog.kill()
            self._watchdog = None
        atexit.unregister(self.stop)

    # -- set-up --------------------------------------------------------------------------

    def _start_watchdog(self) -> None:
        self._watchdog = subprocess.Popen(
            [sys.executable, __file__, "--watchdog", *self.namespaces()],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)

    def _make_bridge(self) -> None:
        bridge = self.bridge_netns
        _ip("netns", "add", bridge)
        _ip("-n", bridge, "link", "set", "lo", "up")
        _ip("-n", bridge, "link", "add", "br0", "type", "bridge")
        _ip("-n", bridge, "link", "set", "br0", "up")

    def _make_host(self, host: Host) -> None:
        bridge, port = self.bridge_netns, f"port{host.number}"
        _ip("netns", "add", host.netns)
        # Made in the bridge's namespace with its peer in the host's: the machine's own
        # namespace never holds either end.
        _ip("-n", bridge, "link", "add", port, "type", "veth", "peer", "name", "eth0",
            "netns", host.netns)
        _ip("-n", bridge, "link", "set", port, "master", "br0", "up")
        _ip("-n", host.netns, "link", "set", "lo", "up")
        _ip("-n", host.netns, "address", "add", f"{host.address}/24", "dev", "eth0")
        # nodad: usable at once, rather than after duplicate address detection.
        _ip("-n", host.netns, "address", "add", f"{host.address6}/64", "dev", "eth0", "nodad")
        _ip("-n", host.netns, "link", "set", "eth0", "up")
        host.directory.mkdir(parents=True, exist_ok=True)
        etc = self.base / f".{host.name}.etc"  # hidden from every host with the base
        etc.mkdir(exist_ok=True)
        (etc / "hosts").write_text(self._etc_hosts())
        (etc / "resolv.conf").write_text("")
        for accounts in ("passwd", "group"):  # the host's own, for Host.add_user
            shutil.copyfile(f"/etc/{accounts}", etc / accounts)
        # Outer directories first: what is inside them is hidden with them.
        hidden = sorted({str(path) for path in (*self.hide, self.base, Path("/tmp"))},
                        key=lambda path: len(Path(path).parts))
        # Each host has a /tmp of its own; the code and its Python, wherever a checkout
        # lives (a CI clone may be under /tmp), are put back as the host's own directory is.
        kept = [str(path) for path in (CHECKOUT, Path(sys.prefix).resolve())
                if path.is_relative_to("/tmp")] + [str(host.directory)]
        host.holder = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{host.netns}", "--", "unshare", "--mount",
             "--uts", "--propagation", "private", "--", sys.executable, __file__, "--hold",
             host.name, str(etc), os.pathsep.join(kept), *hidden],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready = host.holder.stdout.readline()
        if ready.strip() != "ready":
            host.holder.stdin.close()
            raise RuntimeError(f"host {host.name} did not start: {ready}"
                               f"{host.holder.stderr.read()}")

    def _etc_hosts(self) -> str:
        lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost"]
        lines += [f"{host.address} {host.name}" for host in self.hosts.values()]
        return "\n".join(lines) + "\n"


# -- clean-up: plain functions, for the watchdog too ----------------------------------------


def _pids_in(netns: str) -> list[int]:
    """The processes whose network namespace is /run/netns/``netns``."""
    try:
        target = os.stat(f"/run/netns/{netns}")
    except OSError:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):  # gone meanwhile
            mine = os.stat(f"/proc/{entry}/ns/net")
            if (mine.st_dev, mine.st_ino) == (target.st_dev, target.st_ino) \
                    and not _zombie(entry):
                found.append(int(entry))
    return found


def _zombie(pid: str) -> bool:
    """Whether ``pid`` has exited and waits for its parent to reap it (signals do nothing
    to it, and it holds nothing)."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rpartition(")")[2].split()[0] == "Z"


def _terminate(namespaces: Sequence[str], grace: float) -> None:
    """SIGTERM every process in ``namespaces``, SIGKILL what is left after ``grace``
    seconds (and what appears meanwhile, such as a job's children), until none is left."""
    _signal_all(namespaces, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(_pids_in(netns) for netns in namespaces) and time.monotonic() < deadline:
        time.sleep(0.1)
    for _ in range(100):
        if not _signal_all(namespaces, signal.SIGKILL):
            return
        time.sleep(0.05)


def _signal_all(namespaces: Sequence[str], signum: int) -> int:
    sent = 0
    for netns in namespaces:
        for pid in _pids_in(netns):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
                sent += 1
    return sent


def _delete(namespaces: Sequence[str]) -> None:
    for netns in namespaces:
        if os.path.exists(f"/run/netns/{netns}"):
            subprocess.run(["ip", "netns", "delete", netns], capture_output=True, timeout=30)


# -- the helper processes --------------------------------------------------------------------


def _hold(name: str, etc: str, keep: str, *hidden: str) -> None:
    """In the host's fresh mount and UTS namespaces: name the host, hide ``hidden`` under
    empty tmpfs mounts, put the directories of ``keep`` (os.pathsep between them: the
    host's own directory, and the code where it was hidden) back, give it ``etc``'s hosts,
    resolv.conf, passwd and group; say "ready" and sleep until stdin closes."""
    import socket

    def mount(*args: str) -> None:
        subprocess.run(["mount", *args], check=True, capture_output=True)

    socket.sethostname(name)
    directories = keep.split(os.pathsep)
    # Opened before they are hidden, so that they can be mounted back from the descriptors.
    files = [f"{etc}/{name}" for name in ("hosts", "resolv.conf", "passwd", "group")]
    kept = {path: os.open(path, os.O_RDONLY) for path in (*directories, *files)}
    for path in hidden:
        if os.path.isdir(path):  # else already under an earlier one
            mount("-t", "tmpfs", "-o", "mode=1777", "tmpfs", path)
    for directory in directories:
        os.makedirs(directory, exist_ok=True)
    for source, target in (*((directory, directory) for directory in directories),
                           *((file, f"/etc/{Path(file).name}") for file in files)):
        # --no-canonicalize: the descriptor itself, not the path it had (now hidden).
        mount("--no-canonicalize", "--bind", f"/proc/{os.getpid()}/fd/{kept[source]}", target)
    for fd in kept.values():
        os.close(fd)
    print("ready", flush=True)
    sys.stdin.read()


def _watchdog(*namespaces: str) -> None:
    """Block until stdin closes (the test process ended, however it ended), then kill
    what is left in ``namespaces`` and delete them.  Ignores Ctrl-C and SIGTERM so that it
    outlives the test process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.stdin.buffer.read()
    _terminate(namespaces, 2.0)
    _delete(namespaces)


if __name__ == "__main__" and sys.argv[1:2] == ["--hold"]:
    _hold(*sys.argv[2:])
elif __name__ == "__main__" and sys.argv[1:2] == ["--watchdog"]:
    _watchdog(*sys.argv[2:])
