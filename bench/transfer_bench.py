"""File transfer benchmark: roost's file transfer between two hosts that share no file
system, beside the same bytes through a plain TCP socket between the same two hosts.

The hosts are made of Linux namespaces (tests/hosts.py): ``cm``, a central manager whose
matchmaker and schedd bind wildcards and where the files are submitted, and ``desk1``, a
desktop whose startd joins it with a copied token, of another FileSystemDomain (its own
host name), so that jobs get their files by transfer.  Every roost command runs on a
host, as a user there would run it.

- **Throughput**: one job takes one file of 1 GiB in, renames it (``/bin/mv``) and sends it
  back as its output; another does the same with a directory of 10,000 files of 10 KiB.
  Seconds are the startd's, from the job's ``Attempts`` record: ``TransferInputSeconds``
  (cm -> desk1: the schedd reads and sends, the startd writes the sandbox) and
  ``TransferOutputSeconds`` (desk1 -> cm: the schedd writes the submit directory and
  fsyncs each file and directory before it acknowledges the output).  Reference, in the
  same run: the same bytes through one TCP connection between the same hosts, ``cat FILE``
  or ``tar c DIR`` piped into a socket sender (this file, ``--send``) on one host and a
  receiver (this file, ``--receive``) on the other writing the file, or piping into
  ``tar x``; on the central manager, the reference syncs what it wrote too (an fsync of
  the file; ``sync -f`` of the file system after ``tar x``: one sync where the schedd
  makes one per file).  The reference's seconds run from the receiver's accept to the end
  of its writing.  MB/s (10^6 bytes) of each and the ratio roost/reference; the source
  files are in the page cache for both.
- **Jobs per second**: N jobs (default 200), each ``/bin/cp`` of one small input file to
  one small output file (a ``/bin/true`` that touches its two files), transferred in and
  out; reference, in the same run: the same N jobs with ``should_transfer_files = NO`` and
  the desktop's FileSystemDomain, their files already on the desktop in their
  ``initialdir`` (as a shared file system would have them).  Wall clock from ``roost
  submit`` to ``roost wait`` returning, on the same pool; jobs per second of each and the
  ratio.

    python bench/transfer_bench.py [--big-mib 1024] [--files 10000] [--file-kib 10]
        [--jobs 200]

Run as root (namespace hosts need it); needs ip, nsenter, unshare, mount and tar.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.hosts import Network, missing  # noqa: E402

PORT = 9618  # the matchmaker's, on the central manager (each host has its own ports)
DATA_PORT = 9700  # the reference's receiver, on whichever host receives
TIMEOUT = 1800.0  # seconds any one step may take
PIECE = 1 << 20  # bytes per read and write of the reference


class Site:
    """One host's roost: its roost home, its environment, the roost command there."""

    def __init__(self, host, **settings: str) -> None:
        self.host = host
        self.home = host.directory / "roost-home"
        self.home.mkdir()
        self.env = {**os.environ, "ROOST_HOME": str(self.home), "ROOST_LOG_LEVEL": "WARNING",
                    "ROOST_STARTD_RUN_AS": "root",  # as root: jobs run as root, not the owner
                    **settings}

    def roost(self, *args: str, cwd: Path | None = None) -> str:
        done = self.host.run([sys.executable, "-m", "roost", *args], cwd=cwd, env=self.env,
                             timeout=TIMEOUT)
        if done.returncode != 0:
            raise SystemExit(f"{self.host.name}: roost {' '.join(args)} failed: "
                             f"{done.stdout}{done.stderr}")
        return done.stdout

    def values(self, *args: str) -> list[list[str]]:
        """The distinct lines of an ``-af`` listing, split."""
        return sorted({tuple(line.split()) for line in self.roost(*args).splitlines()})


def central_manager(host) -> Site:
    cm = Site(host, ROOST_MATCHMAKER_ADDRESS=f"0.0.0.0:{PORT}",
              ROOST_SCHEDD_ADDRESS="0.0.0.0:0")
    cm.roost("matchmaker")
    cm.roost("schedd")
    return cm


def desktop(cm: Site, host) -> Site:
    """A desktop's startd, joined as tests/multihost/test_pool.py's ``join`` does: a startd
    token for its name and the pool key copied from the central manager."""
    desk = Site(host)
    token = cm.host.directory / f"{host.name}.token"
    cm.roost("token", "create", "--identity", f"startd@{host.name}", "--scope",
             "advertise-startd", "--out", str(token))
    shutil.copy(token, host.directory / "startd.token")
    keys = desk.home / "keys"
    keys.mkdir(mode=0o700)
    shutil.copy(cm.home / "keys" / "pool.key", keys / "pool.key")
    os.chmod(keys / "pool.key", 0o600)
    desk.roost("startd", "--collector", f"cm:{PORT}", "--token", str(host.directory /
                                                                       "startd.token"))
    deadline = time.monotonic() + 120
    while not cm.roost("status", "-af", "Name").split():
        if time.monotonic() > deadline:
            raise SystemExit("the desktop's slots did not reach the collector")
        time.sleep(0.2)
    return desk


def run_jobs(cm: Site, work: Path, description: str) -> tuple[float, list[dict]]:
    """Submit ``description`` from ``work`` on the central manager and wait for its jobs:
    (wall seconds from the submit to the end of the wait, the jobs' history ads)."""
    (work / "job.sub").write_text(description)
    began = time.perf_counter()
    out = cm.roost("submit", "job.sub", cwd=work)
    cluster = re.search(r"cluster (\d+)", out).group(1)
    cm.roost("wait", "-timeout", str(int(TIMEOUT)), "-quiet", cluster)
    seconds = time.perf_counter() - began
    ads = json.loads(cm.roost("history", cluster, "-json"))
    failed = [ad for ad in ads if ad.get("ExitCode") != 0]
    if failed:
        raise SystemExit(f"{len(failed)} jobs of cluster {cluster} failed: {failed[0]}")
    return seconds, ads


def transfer_seconds(ad: dict) -> tuple[float, float]:
    """(input, output) transfer seconds of a job's one run, from its Attempts record."""
    [attempt] = ad["Attempts"]
    return attempt["TransferInputSeconds"], attempt["TransferOutputSeconds"]


# -- the reference: one TCP connection ---------------------------------------------------------


def send(address: str) -> None:
    """Stdin to ``address`` (HOST:PORT) over one TCP connection."""
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port))) as connection:
        source = sys.stdin.buffer.raw
        while data := source.read(PIECE):
            connection.sendall(data)


def receive(port: int, target: str, sync: bool) -> None:
    """One connection's bytes on ``port`` into the file ``target`` ("-": stdout), synced if
    ``sync``.  Says "ready" on stderr once listening, then the time of the accept."""
    with socket.create_server(("", port), family=socket.AF_INET6, dualstack_ipv6=True) as s:
        print("ready", file=sys.stderr, flush=True)
        connection, _ = s.accept()
    print(time.time(), file=sys.stderr, flush=True)
    descriptor = 1 if target == "-" else os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                                                 0o644)
    buffer = bytearray(PIECE)
    with connection:
        while count := connection.recv_into(buffer):
            view = memoryview(buffer)[:count]
            while view:
                view = view[os.write(descriptor, view):]
    if sync and target != "-":
        os.fsync(descriptor)
    if target != "-":
        os.close(descriptor)


def through_socket(sender, receiver, source: Path, target: Path, *, tree: bool,
                   sync: bool) -> float:
    """Seconds to move ``source`` (a file, or with ``tree`` a directory, by tar) from host
    ``sender`` to ``target`` on host ``receiver``: from the accept to the end of writing."""
    me = [sys.executable, str(Path(__file__).resolve())]
    if tree:
        target.mkdir(parents=True)
        receiving = ["sh", "-c", f'"$@" --receive {DATA_PORT} - | tar x -C {target}'
                     + (f" && sync -f {target}" if sync else ""), "sh", *me]
        sending = ["sh", "-c", f'tar c -C {source.parent} {source.name} | "$@" --send '
                   f"{receiver.name}:{DATA_PORT}", "sh", *me]
    else:
        receiving = [*me, "--receive", str(DATA_PORT), str(target), *(["--sync"] * sync)]
        sending = ["sh", "-c", f'cat {source} | "$@" --send {receiver.name}:{DATA_PORT}',
                   "sh", *me]
    listening = receiver.popen(receiving, stderr=subprocess.PIPE, text=True)
    try:
        if listening.stderr.readline().strip() != "ready":
            raise SystemExit(f"the receiver on {receiver.name} did not start: "
                             f"{listening.stderr.read()}")
        sender.run(sending, timeout=TIMEOUT, check=True)
        listening.wait(timeout=TIMEOUT)
        ended = time.time()
        accepted = float(listening.stderr.readline())
    finally:
        if listening.poll() is None:
            listening.kill()
            listening.wait()
    if listening.returncode != 0:
        raise SystemExit(f"the receiver on {receiver.name} failed: {listening.stderr.read()}")
    return ended - accepted


# -- the measurements --------------------------------------------------------------------------


def make_tree(directory: Path, count: int, size: int) -> None:
    """``count`` files of ``size`` random bytes, 0.txt, 1.txt, ..., in a new ``directory``."""
    directory.mkdir(parents=True)
    for n in range(count):
        (directory / f"{n}.txt").write_bytes(os.urandom(size))


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


def throughput(cm: Site, desk: Site, work: Path, name: str, *, tree: bool) -> dict:
    """The transfer of ``work/name`` to the desktop and back, by roost and by socket."""
    description = ("executable = /bin/mv\n"
                   f"arguments = {name} {name}.back\n"
                   "transfer_executable = false\n"
                   "should_transfer_files = YES\n"
                   f"transfer_input_files = {name}\n"
                   f"transfer_output_files = {name}.back\n"
                   "queue\n")
    _, [ad] = run_jobs(cm, work, description)
    roost_in, roost_out = transfer_seconds(ad)
    back = work / f"{name}.back"
    if tree:
        count = sum(1 for _ in back.iterdir())
        if count != sum(1 for _ in (work / name).iterdir()):
            raise SystemExit(f"{count} files came back")
    elif back.stat().st_size != (work / name).stat().st_size:
        raise SystemExit(f"{back} came back with {back.stat().st_size} bytes")
    remove(back)
    landing = desk.host.directory / "landing"  # the desktop's copy, sent back from there
    socket_in = through_socket(cm.host, desk.host, work / name, landing, tree=tree, sync=False)
    returned = work / "returned"
    socket_out = through_socket(desk.host, cm.host, landing / name if tree else landing,
                                returned, tree=tree, sync=True)
    remove(landing)
    remove(returned)
    return {"in": (roost_in, socket_in), "out": (roost_out, socket_out)}


def jobs_per_second(cm: Site, desk: Site, work: Path, count: int, size: int) -> dict:
    """N cp jobs, with their files transferred and with them on the desktop already."""
    make_tree(work / "in", count, size)
    transferred, ads = run_jobs(cm, work, "executable = /bin/cp\n"
                                          "arguments = $(Process).txt out.txt\n"  # flattened
                                          "transfer_executable = false\n"
                                          "should_transfer_files = YES\n"
                                          "transfer_input_files = in/$(Process).txt\n"
                                          "transfer_output_files = out.txt\n"
                                          'transfer_output_remaps = "out.txt = '
                                          'out/$(Process).txt"\n'
                                          f"queue {count}\n")
    if len(list((work / "out").iterdir())) != count:
        raise SystemExit("not every job's output came back")
    moved = [transfer_seconds(ad) for ad in ads]
    local = desk.host.directory / "local"  # on the desktop only
    make_tree(local / "in", count, size)
    (local / "out").mkdir()
    # Jobs of the desktop's FileSystemDomain, as if the central manager shared its file
    # system: should_transfer_files = NO matches slots of the job's domain only.  The submit
    # command on the central manager does not see the desktop's directory: the jobs'
    # initialdir is only a name for it, which is where they run.
    [[domain]] = cm.values("status", "-af", "FileSystemDomain")
    untransferred, _ = run_jobs(cm, work, "executable = /bin/cp\n"
                                          "arguments = in/$(Process).txt out/$(Process).txt\n"
                                          "should_transfer_files = NO\n"
                                          f'+FileSystemDomain = "{domain}"\n'
                                          f"initialdir = {local}\n"
                                          f"queue {count}\n")
    if len(list((local / "out").iterdir())) != count:
        raise SystemExit("not every job without transfer wrote its output")
    return {"transfer": count / transferred, "none": count / untransferred,
            "in": sum(m[0] for m in moved) / count, "out": sum(m[1] for m in moved) / count}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-mib", type=int, default=1024,
                        help="the one large file, MiB (default 1024)")
    parser.add_argument("--files", type=int, default=10000,
                        help="the many small files (default 10000)")
    parser.add_argument("--file-kib", type=int, default=10,
                        help="the size of each small file, KiB (default 10)")
    parser.add_argument("--jobs", type=int, default=200,
                        help="jobs for the jobs-per-second figure (default 200)")
    options = parser.parse_args(argv)
    reason = missing()
    if reason:
        print(f"transfer_bench: cannot make namespace hosts: {reason}", file=sys.stderr)
        return 1
    # SIGTERM as Ctrl-C: the hosts come down on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    base = Path(tempfile.mkdtemp(prefix="roost-bench-transfer-"))
    network = Network(base, ["cm", "desk1"])
    try:
        network.start()
        cm = central_manager(network["cm"])
        desk = desktop(cm, network["desk1"])
        work = cm.host.directory / "work"  # the submit directory, on the central manager
        work.mkdir()
        big = work / "big.bin"
        with open(big, "wb") as out:
            for _ in range(options.big_mib):
                out.write(os.urandom(1 << 20))
        large = throughput(cm, desk, work, big.name, tree=False)
        big.unlink()
        make_tree(work / "small", options.files, options.file_kib * 1024)
        many = throughput(cm, desk, work, "small", tree=True)
        shutil.rmtree(work / "small")
        rates = jobs_per_second(cm, desk, work, options.jobs, options.file_kib * 1024)
    finally:
        network.stop()
        shutil.rmtree(base, ignore_errors=True)

    print("(a) throughput between cm and desk1 (no shared file system), MB/s of 10^6 bytes; "
          "seconds: roost's from the job's Attempts, the socket's from accept to written")
    for label, size, figures in (
            (f"1 file of {options.big_mib} MiB", options.big_mib << 20, large),
            (f"{options.files} files of {options.file_kib} KiB",
             options.files * options.file_kib << 10, many)):
        for way, arrow in (("in", "cm -> desk1 (input)"), ("out", "desk1 -> cm (output)")):
            roost, plain = figures[way]
            print(f"{f'  {label}, {arrow}':<50}  roost {size / roost / 1e6:7.1f} MB/s "
                  f"({roost:6.2f} s)  socket {size / plain / 1e6:7.1f} MB/s "
                  f"({plain:6.2f} s)  roost/socket {plain / roost:5.2f}")
    print(f"(b) jobs per second, {options.jobs} cp jobs of one {options.file_kib} KiB input "
          "file and one output file, wall clock from roost submit to roost wait returning")
    print(f"  with transfer      {rates['transfer']:7.1f} jobs/s  (transfer per job, mean: "
          f"in {rates['in'] * 1000:.0f} ms, out {rates['out'] * 1000:.0f} ms)")
    print(f"  without transfer   {rates['none']:7.1f} jobs/s  (should_transfer_files = NO, "
          "the files on the desktop)")
    print(f"  with/without       {rates['transfer'] / rates['none']:7.2f}")
    return 0


if __name__ == "__main__" and sys.argv[1:2] == ["--send"]:
    send(sys.argv[2])
elif __name__ == "__main__" and sys.argv[1:2] == ["--receive"]:
    receive(int(sys.argv[2]), sys.argv[3], sys.argv[4:5] == ["--sync"])
elif __name__ == "__main__":
    sys.exit(main())
