"""Collector benchmark: a separate collector process under the load of a 10,000-slot pool.

It starts ``roost matchmaker --foreground`` (a temporary ROOST_HOME, a free port on
127.0.0.1) and measures, against targets:

  updates/s   10,000 slot ads (about 40 attributes, as a startd sends them) advertised
              continuously from 2 client processes through client-streaming Advertise,
              for ``--seconds``                                       target >= 5,000/s
  status      what ``roost status`` does for all 10,000 slots: query with its projection,
              sort, lay out (best and median of 5)                     target < 0.5 s
  constrained the same with a constraint that about a tenth of the slots meet (no target)
  whole ads   a query of all 10,000 ads with every attribute, as ``-long`` asks (no target)
  RSS         the collector's resident memory at the end (/proc/PID/status) target < 500 MB

As the reference measured in the same run, a trivial echo server (in a process of its own,
no authentication, no parsing) takes 64-byte messages from 2 client processes through the
same kind of stream: the ratio updates/s : raw messages/s says how much of gRPC's own rate
on this machine the collector keeps.  Clients send pre-serialized messages in both runs, so
the figures are the servers'.  ``--check`` exits 1 if a target is missed.

    python bench/collector_bench.py [--seconds 20] [--ads 10000] [--check]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent import futures
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import classad  # noqa: E402
from matchmaker.status_cli import Options, run  # noqa: E402
from roost import security  # noqa: E402
from roost.client import Collector  # noqa: E402
from roost.config import load_config  # noqa: E402
from roost.errors import RoostError  # noqa: E402
from roost.rpc import classad_pb2, collector_pb2  # noqa: E402

TARGET_UPDATES = 5_000  # per second
TARGET_QUERY = 0.5  # seconds
TARGET_RSS_MB = 500

CLIENTS = 2
SLOTS_PER_HOST = 16
ADVERTISE = "/roost.rpc.Collector/Advertise"
ECHO = "/bench.Echo/Count"
CONSTRAINT = 'State == "Unclaimed" && Memory >= 16384'  # about a tenth of the slots


# -- the pool's ads ------------------------------------------------------------------------


def slot_ad(rnd: random.Random, i: int, now: int, sequence: int) -> classad.ClassAd:
    """Slot ``i`` as a startd advertises it: the attributes of HTCondor's machine ad."""
    host = f"node{i // SLOTS_PER_HOST:04d}.cluster.example.org"
    total_memory = rnd.choice([65536, 131072, 262144])
    memory = rnd.choice([2048, 4096, 8192, 16384])
    claimed = rnd.random() < 0.6
    load = round(rnd.uniform(0.9, 1.1), 3) if claimed else round(rnd.uniform(0, 0.05), 3)
    ad = classad.ClassAd({
        "MyType": "Machine", "Name": f"slot{i % SLOTS_PER_HOST + 1}@{host}", "Machine": host,
        "SlotID": i % SLOTS_PER_HOST + 1, "SlotType": "Static",
        "MyAddress": f"<10.1.{i // 4096}.{i // SLOTS_PER_HOST % 256}:9618?sock=startd>",
        "Arch": "X86_64", "OpSys": "LINUX", "OpSysAndVer": "AlmaLinux9",
        "Cpus": 1, "Memory": memory, "Disk": rnd.randint(10_000_000, 90_000_000),
        "TotalCpus": SLOTS_PER_HOST, "TotalMemory": total_memory, "TotalDisk": 1_500_000_000,
        "TotalSlots": SLOTS_PER_HOST, "DetectedCpus": SLOTS_PER_HOST,
        "DetectedMemory": total_memory, "SlotWeight": classad.ExprTree("Cpus"),
        "LoadAvg": load + 0.01, "CondorLoadAvg": load,
        "KeyboardIdle": rnd.randint(0, 100_000), "ClockMin": now // 60 % 1440, "Mips": 28000,
        "State": "Claimed" if claimed else "Unclaimed", "Activity": "Busy" if claimed else "Idle",
        "EnteredCurrentState": now - rnd.randint(0, 86400),
        "EnteredCurrentActivity": now - rnd.randint(0, 86400),
        "Start": classad.ExprTree("KeyboardIdle > 15 * 60 || State != \"Owner\""),
        "Requirements": classad.ExprTree("START && (WithinResourceLimits =!= false)"),
        "WithinResourceLimits": classad.ExprTree(
            "(MY.Cpus >= TARGET.RequestCpus) && (MY.Memory >= TARGET.RequestMemory)"),
        "Rank": 0.0, "MaxJobRetirementTime": 0, "MachineMaxVacateTime": 600, "Draining": False,
        "FileSystemDomain": "cluster.example.org",
        "CondorVersion": "$CondorVersion: 24.0.1 2024-10-31 $",
        "UpdateSequenceNumber": sequence,
    })
    if claimed:
        ad["RemoteUser"] = f"user{rnd.randint(1, 40)}@example.org"
        ad["JobId"] = f"{rnd.randint(1000, 9999)}.{rnd.randint(0, 99)}"
    return ad


def advertise_payloads(ads: list[classad.ClassAd]) -> list[bytes]:
    """The ads as serialized AdvertiseRequests: the clients send bytes and do no work."""
    return [
        collector_pb2.AdvertiseRequest(ad_type="Machine", ad=classad_pb2.ClassAd(attrs=[
            classad_pb2.Attribute(name=n, expr=t) for n, t in classad.ad_to_pairs(ad)
        ])).SerializeToString()
        for ad in ads
    ]


# -- stream clients (each in a process of its own) -----------------------------------------


def stream_client(address: str, method: str, metadata: tuple, rounds: list[list[bytes]],
                  seconds: float, start, results) -> None:
    """Send ``rounds`` (a stream each, in turn) until ``seconds`` have passed; report how
    many messages the server took and how long that took."""
    with grpc.insecure_channel(address) as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        send = channel.stream_unary(method)  # bytes in, bytes out: no client-side encoding
        start.wait()
        began = time.monotonic()
        deadline, taken, turn = began + seconds, 0, 0
        while time.monotonic() < deadline:
            reply = send(iter(rounds[turn % len(rounds)]), metadata=metadata, timeout=300)
            taken += (collector_pb2.AdvertiseReply.FromString(reply).accepted
                      if method == ADVERTISE else int(reply))
            turn += 1
        results.put((taken, time.monotonic() - began))


def stream_rate(address: str, method: str, metadata: tuple,
                per_client: list[list[list[bytes]]], seconds: float) -> float:
    """Messages per second that client processes, one per element of ``per_client`` and
    each sending its own rounds, get through to the server together."""
    spawn = multiprocessing.get_context("spawn")  # gRPC does not survive a fork
    start, results = spawn.Barrier(len(per_client) + 1), spawn.Queue()
    clients = [spawn.Process(target=stream_client, daemon=True,
                             args=(address, method, metadata, rounds, seconds, start, results))
               for rounds in per_client]
    for client in clients:
        client.start()
    start.wait(timeout=120)
    reports = [results.get(timeout=seconds + 300) for _ in clients]
    for client in clients:
        client.join()
    return sum(taken for taken, _ in reports) / max(elapsed for _, elapsed in reports)


# -- the reference: gRPC's own client-streaming rate ---------------------------------------


def echo_server(ports) -> None:
    """A server that counts the messages of each stream: gRPC and nothing else."""
    def count(requests, context):
        return str(sum(1 for _ in requests)).encode()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    handler = grpc.stream_unary_rpc_method_handler(count)  # raw bytes both ways
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("bench.Echo", {"Count": handler}),))
    ports.put(server.add_insecure_port("127.0.0.1:0"))
    server.start()
    server.wait_for_termination()


def raw_stream_rate(seconds: float, per_stream: int) -> float:
    spawn = multiprocessing.get_context("spawn")
    ports = spawn.Queue()
    server = spawn.Process(target=echo_server, args=(ports,), daemon=True)
    server.start()
    try:
        address = f"127.0.0.1:{ports.get(timeout=60)}"
        return stream_rate(address, ECHO, (), [[[b"x" * 64] * per_stream]] * CLIENTS, seconds)
    finally:
        server.terminate()
        server.join()


# -- the collector -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def collector_process(home: Path):
    """``roost matchmaker --foreground`` on a free port of 127.0.0.1, until the block ends;
    yields its address and process."""
    address = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "ROOST_HOME": str(home), "ROOST_MATCHMAKER_ADDRESS": address}
    env.pop("ROOST_CONFIG", None)
    output = (home / "matchmaker.out").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "roost", "matchmaker", "--foreground"],
                               env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(address, process, home)
        yield address, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        output.close()


def wait_until_serving(address: str, process: subprocess.Popen, home: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            log = (home / "matchmaker.out").read_text(errors="replace")[-2000:]
            sys.exit(f"the collector exited with status {process.returncode}:\n{log}")
        try:
            with Collector(address, timeout=2) as collector:
                collector.query("Collector", limit=1)
            return
        except RoostError:
            if time.monotonic() > deadline:
                sys.exit(f"the collector at {address} did not answer within 60 s")
            time.sleep(0.2)


def fill(address: str, metadata: tuple, per_client: list[list[list[bytes]]]) -> None:
    """Store every ad once, so that the timed updates replace ads, as a running pool's do."""
    with grpc.insecure_channel(address) as channel:
        send = channel.stream_unary(ADVERTISE)
        for rounds in per_client:
            send(iter(rounds[0]), metadata=metadata, timeout=300)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def timings(fn: Callable[[], object], repeat: int = 5) -> tuple[float, float]:
    """Best and median wall time of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times), statistics.median(times)


# -- the run -------------------------------------------------------------------------------


def report(what: str, figure: str, target: str = "", ok: bool | None = None,
           note: str = "") -> None:
    verdict = "" if ok is None else "ok" if ok else "MISSED"
    target = f"target {target}" if target.startswith(("<", ">")) else target
    print(f"  {what:44} {figure:>20}   {target:18} {verdict:6} {note}".rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="how long each stream phase runs (default 20)")
    parser.add_argument("--ads", type=int, default=10_000, help="slot ads (default 10000)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)

    now = int(time.time())
    rnd = random.Random(7)
    ads = [slot_ad(rnd, i, now, 1) for i in range(args.ads)]
    # Two versions of every ad (other loads, idle times, sequence numbers), sent in turn,
    # so that each update changes values as a startd's does.
    changed = [slot_ad(random.Random(i), i, now + 60, 2) for i in range(args.ads)]
    halves = [slice(k, None, CLIENTS) for k in range(CLIENTS)]
    attrs = sum(len(ad) for ad in ads) / len(ads)
    rounds = [advertise_payloads(version) for version in (ads, changed)]
    per_client = [[payloads[part] for payloads in rounds] for part in halves]
    # What is left is bytes; the queries below are timed in a process that, like a fresh
    # `roost status`, makes its garbage collector walk no other objects.
    del ads, changed
    gc.collect()
    gc.freeze()

    raw = raw_stream_rate(args.seconds, len(per_client[0][0]))

    with tempfile.TemporaryDirectory(prefix="roost-bench-") as tmp:
        home = Path(tmp)
        # The pool's key, made here so that the updates can carry a token it signed (admin:
        # one token for every host's slots); the matchmaker makes the local user's token,
        # which the queries below present as `roost status` does.
        key = security.SigningKey.load_or_create(security.key_path(home))
        os.environ["ROOST_HOME"] = str(home)
        os.environ.pop("ROOST_CONFIG", None)
        startd = security.call_metadata(
            security.create_token(key, "startd-bench@pool", ["admin"], 3600))
        with collector_process(home) as (address, process):
            fill(address, startd, per_client)
            updates = stream_rate(address, ADVERTISE, startd, per_client, args.seconds)
            status = timings(lambda: run(Options(pool=address)))
            constrained = timings(lambda: run(Options(pool=address, constraints=[CONSTRAINT])))
            with Collector(address, config=load_config()) as collector:
                whole = timings(lambda: collector.query("Machine"))
                matching = len(collector.query("Machine", CONSTRAINT, ["Name"]))
                held = len(collector.query("Machine", projection=["Name"]))
            memory = rss_mb(process.pid)

    checks = [updates >= TARGET_UPDATES, status[0] < TARGET_QUERY, memory < TARGET_RSS_MB]
    print(f"collector benchmark: {args.ads:,} slot ads of {attrs:.0f} attributes ({held:,} "
          f"held), {CLIENTS} client processes, {args.seconds:g} s per stream phase, "
          f"{os.cpu_count()} CPUs")
    report("raw gRPC client-streaming, 64-byte messages", f"{raw:,.0f} msgs/s", "reference")
    report("updates through Advertise streams", f"{updates:,.0f} updates/s",
           f">= {TARGET_UPDATES:,}", checks[0], f"{updates / raw:.3f} of raw")
    report("roost status of all slots, best / median", f"{status[0]:.3f} / {status[1]:.3f} s",
           f"< {TARGET_QUERY} s", checks[1])
    report(f"constrained query ({matching:,} slots)",
           f"{constrained[0]:.3f} / {constrained[1]:.3f} s")
    report("whole-ad query of all slots (-long's)", f"{whole[0]:.3f} / {whole[1]:.3f} s")
    report("collector RSS at the end", f"{memory:,.0f} MB", f"< {TARGET_RSS_MB} MB", checks[2])
    return 1 if args.check and not all(checks) else 0


if __name__ == "__main__":
    sys.exit(main())
