"""startd.resources on fake /proc, cgroup and /dev trees: the order of precedence of
explicit values, Slurm, cgroups, affinity and the host; disk; idle times."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from startd import resources
from startd.resources import (
    AFFINITY,
    CGROUP,
    EXECUTE_DIR,
    EXPLICIT,
    HOST,
    SLURM,
    Host,
    IdleTimes,
    cgroup_limits,
    detect_resources,
    idle_times,
    slurm_allocation,
)

GIB = 2**30
HOST_64 = Host(cpus=64, memory_mb=262_144, affinity_cpus=64)
V1_UNLIMITED = "9223372036854771712"


def make_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def v2(path: str = "/job", **files: str) -> dict[str, str]:
    """A cgroup v2 process in ``path`` with the given files (relative to the cgroup root)."""
    return {"proc/self/cgroup": f"0::{path}\n", **{f"cg/{k}": v for k, v in files.items()}}


def v1(path: str, **files: str) -> dict[str, str]:
    """A cgroup v1 process in ``path`` of the cpu,cpuacct and memory hierarchies."""
    proc = (f"12:pids:{path}\n4:cpu,cpuacct:{path}\n9:memory:{path}\n1:name=systemd:{path}\n")
    return {"proc/self/cgroup": proc, **{f"cg/{k}": v for k, v in files.items()}}


SLURM_ENV = {"SLURM_JOB_ID": "4242", "SLURM_CPUS_ON_NODE": "8", "SLURM_MEM_PER_NODE": "16000"}

# (id, explicit arguments, environment, files, host, cpus, cpus source, memory, memory source)
PRECEDENCE = [
    ("host only", {}, {}, {}, Host(64, 262_144, None), 64, HOST, 262_144, HOST),
    ("affinity of all CPUs is the host", {}, {}, {}, HOST_64, 64, HOST, 262_144, HOST),
    ("affinity", {}, {}, {}, Host(64, 262_144, 16), 16, AFFINITY, 262_144, HOST),
    ("cgroup v2 beats affinity", {}, {},
     v2(**{"job/cpu.max": "400000 100000", "job/memory.max": str(8 * GIB)}),
     Host(64, 262_144, 16), 4, CGROUP, 8192, CGROUP),
    ("cgroup v2 tie with affinity", {}, {}, v2(**{"job/cpu.max": "1600000 100000"}),
     Host(64, 262_144, 16), 16, CGROUP, 262_144, HOST),
    ("affinity smaller than the cgroup quota", {}, {}, v2(**{"job/cpu.max": "3200000 100000"}),
     Host(64, 262_144, 16), 16, AFFINITY, 262_144, HOST),
    ("cgroup v2 max is no limit", {}, {},
     v2(**{"job/cpu.max": "max 100000", "job/memory.max": "max"}),
     Host(64, 262_144, 16), 16, AFFINITY, 262_144, HOST),
    ("cgroup v2 quota rounds up", {}, {}, v2(**{"job/cpu.max": "150000 100000"}),
     HOST_64, 2, CGROUP, 262_144, HOST),
    ("cgroup v2 limit on an ancestor", {}, {},
     v2("/slurm/job_7/step_0", **{"slurm/job_7/memory.max": str(4 * GIB),
                                  "slurm/job_7/step_0/memory.max": "max",
                                  "slurm/job_7/cpu.max": "800000 100000",
                                  "slurm/job_7/step_0/cpu.max": "1200000 100000"}),
     HOST_64, 8, CGROUP, 4096, CGROUP),
    ("cgroup v2 path not mounted: the root's files", {}, {},
     v2("/docker/abc", **{"cpu.max": "200000 100000", "memory.max": str(GIB)}),
     HOST_64, 2, CGROUP, 1024, CGROUP),
    ("cgroup memory above the host's is the host's", {}, {},
     v2(**{"job/memory.max": str(1024 * GIB)}), HOST_64, 64, HOST, 262_144, HOST),
    ("cgroup v1", {}, {},
     v1("/slurm/uid_1/job_5", **{
         "cpu,cpuacct/slurm/uid_1/job_5/cpu.cfs_quota_us": "200000",
         "cpu,cpuacct/slurm/uid_1/job_5/cpu.cfs_period_us": "100000",
         "memory/slurm/uid_1/job_5/memory.limit_in_bytes": str(2 * GIB)}),
     HOST_64, 2, CGROUP, 2048, CGROUP),
    ("cgroup v1 unlimited", {}, {},
     v1("/user", **{
         "cpu,cpuacct/user/cpu.cfs_quota_us": "-1",
         "cpu,cpuacct/user/cpu.cfs_period_us": "100000",
         "memory/user/memory.limit_in_bytes": V1_UNLIMITED}),
     Host(64, 262_144, 32), 32, AFFINITY, 262_144, HOST),
    ("Slurm beats cgroup and affinity", {}, SLURM_ENV,
     v2(**{"job/cpu.max": "400000 100000", "job/memory.max": str(8 * GIB)}),
     Host(64, 262_144, 4), 8, SLURM, 16_000, SLURM),
    ("Slurm memory per CPU", {}, {"SLURM_JOB_ID": "1", "SLURM_CPUS_ON_NODE": "4",
                                  "SLURM_MEM_PER_CPU": "2000"},
     {}, HOST_64, 4, SLURM, 8000, SLURM),
    ("Slurm memory per CPU times the CPUs found", {},
     {"SLURM_JOB_ID": "1", "SLURM_MEM_PER_CPU": "1000"}, {}, Host(64, 262_144, 6),
     6, AFFINITY, 6000, SLURM),
    ("Slurm memory per node beats per CPU", {},
     {**SLURM_ENV, "SLURM_MEM_PER_CPU": "1"}, {}, HOST_64, 8, SLURM, 16_000, SLURM),
    ("Slurm memory with a unit", {}, {"SLURM_JOB_ID": "1", "SLURM_MEM_PER_NODE": "16G"}, {},
     HOST_64, 64, HOST, 16_384, SLURM),
    ("Slurm values that do not parse are ignored", {},
     {"SLURM_JOB_ID": "1", "SLURM_CPUS_ON_NODE": "many", "SLURM_MEM_PER_NODE": "-5"},
     {}, Host(64, 262_144, 16), 16, AFFINITY, 262_144, HOST),
    ("Slurm variables outside a Slurm job are ignored", {},
     {"SLURM_CPUS_ON_NODE": "8", "SLURM_MEM_PER_NODE": "16000"}, {}, HOST_64,
     64, HOST, 262_144, HOST),
    ("explicit beats Slurm", {"cpus": 3, "memory_mb": 1000}, SLURM_ENV,
     v2(**{"job/cpu.max": "200000 100000"}), HOST_64, 3, EXPLICIT, 1000, EXPLICIT),
    ("explicit memory, Slurm CPUs", {"memory_mb": 500}, SLURM_ENV, {}, HOST_64,
     8, SLURM, 500, EXPLICIT),
    ("explicit CPUs, Slurm memory per CPU of the allocation", {"cpus": 2},
     {"SLURM_JOB_ID": "1", "SLURM_CPUS_ON_NODE": "4", "SLURM_MEM_PER_CPU": "100"}, {},
     HOST_64, 2, EXPLICIT, 400, SLURM),
]


@pytest.mark.parametrize(
    "explicit, environ, files, host, cpus, cpus_source, memory, memory_source",
    [case[1:] for case in PRECEDENCE], ids=[case[0] for case in PRECEDENCE])
def test_precedence(tmp_path, explicit, environ, files, host, cpus, cpus_source, memory,
                    memory_source):
    make_tree(tmp_path, files)
    found = detect_resources(**explicit, disk_kb=1, execute_dir=tmp_path, environ=environ,
                             cgroup_root=tmp_path / "cg", proc_root=tmp_path / "proc",
                             host=host)
    assert (found.cpus, found.source["cpus"]) == (cpus, cpus_source)
    assert (found.memory_mb, found.source["memory_mb"]) == (memory, memory_source)
    assert (found.detected_cpus, found.detected_memory_mb) == (host.cpus, host.memory_mb)


def test_no_proc_file_means_no_cgroup_limits(tmp_path):
    assert cgroup_limits(tmp_path / "cg", tmp_path / "proc") == (None, None)


def test_hybrid_cgroups_fall_back_to_v1_for_what_v2_does_not_limit(tmp_path):
    make_tree(tmp_path, {
        "proc/self/cgroup": "0::/user\n4:cpu,cpuacct:/user\n9:memory:/user\n",
        "cg/unified/user/cgroup.procs": "",
        "cg/cpu/user/cpu.cfs_quota_us": "300000",
        "cg/cpu/user/cpu.cfs_period_us": "100000",
        "cg/memory/user/memory.limit_in_bytes": str(3 * GIB),
    })
    # The v1 hierarchy is mounted as "cpu" only (no "cpu,cpuacct" directory).
    assert cgroup_limits(tmp_path / "cg", tmp_path / "proc") == (3, 3072)


def test_slurm_allocation_and_end_time(tmp_path):
    environ = {**SLURM_ENV, "SLURM_JOB_END_TIME": "1700003600"}
    assert slurm_allocation(environ).end_time == 1_700_003_600
    found = detect_resources(disk_kb=1, execute_dir=tmp_path, environ=environ,
                             proc_root=tmp_path, host=HOST_64)
    assert (found.end_time, found.source["end_time"]) == (1_700_003_600, SLURM)
    assert found.batch_job_id == "4242"
    found = detect_resources(disk_kb=1, end_time=1_700_000_100, execute_dir=tmp_path,
                             environ=environ, proc_root=tmp_path, host=HOST_64)
    assert (found.end_time, found.source["end_time"]) == (1_700_000_100, EXPLICIT)


def test_no_batch_job_no_end_time(tmp_path):
    found = detect_resources(disk_kb=1, execute_dir=tmp_path, environ={}, proc_root=tmp_path,
                             host=HOST_64)
    assert found.end_time is None and found.batch_job_id is None
    assert "end_time" not in found.source


@pytest.mark.parametrize("free, reserved, explicit, disk, source", [
    (5000, 0, None, 5000, EXECUTE_DIR),
    (5000, 1000, None, 4000, EXECUTE_DIR),
    (5000, 9000, None, 0, EXECUTE_DIR),
    (5000, 1000, 123, 123, EXPLICIT),
])
def test_disk(tmp_path, monkeypatch, free, reserved, explicit, disk, source):
    seen = []
    monkeypatch.setattr(resources, "disk_free_kb", lambda d: seen.append(d) or free)
    found = detect_resources(disk_kb=explicit, reserved_disk_kb=reserved, execute_dir=tmp_path,
                             environ={}, proc_root=tmp_path, host=HOST_64)
    assert (found.disk_kb, found.source["disk_kb"]) == (disk, source)
    assert seen == ([] if explicit is not None else [tmp_path])


def test_disk_free_of_a_real_directory(tmp_path):
    import shutil
    free = shutil.disk_usage(tmp_path).free // 1024
    assert abs(resources.disk_free_kb(tmp_path) - free) < 100_000


@pytest.mark.parametrize("arguments", [{"cpus": 0}, {"memory_mb": 0}, {"disk_kb": -1},
                                       {"reserved_disk_kb": -1}, {"cpus": 1.5}])
def test_bad_explicit_values(tmp_path, arguments):
    with pytest.raises(ValueError):
        detect_resources(**arguments, execute_dir=tmp_path, environ={}, proc_root=tmp_path,
                         host=HOST_64)


def test_real_machine(tmp_path):
    found = detect_resources(execute_dir=tmp_path)
    assert found.cpus >= 1 and found.memory_mb >= 1 and found.disk_kb >= 0
    assert found.cpus <= found.detected_cpus and found.memory_mb <= found.detected_memory_mb
    assert isinstance(resources.load_avg(), float)


# -- idle times ----------------------------------------------------------------------------

NOW = 1_700_000_000
BOOT = NOW - 100_000


def fake_dev(root: Path, atimes: dict[str, float], mtime: float = NOW - 50_000) -> Path:
    for name, atime in atimes.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        os.utime(path, (atime, mtime))
    (root / "input" / "by-id").mkdir(parents=True, exist_ok=True)
    return root


OLD = NOW - 5000
QUIET = {"console": OLD, "tty": OLD, "tty1": OLD, "tty2": OLD, "ttyS0": OLD,
         "ptmx": OLD, "pts/0": OLD, "pts/1": OLD, "input/event0": OLD, "input/mice": OLD}

# (id, changes to QUIET, keyboard idle, console idle)
IDLE = [
    ("all quiet", {}, 5000, 5000),
    ("typing in a terminal window", {"pts/1": NOW - 30}, 30, 5000),
    ("typing on a virtual console", {"tty2": NOW - 7}, 7, 7),
    ("moving the mouse", {"input/mice": NOW - 3}, 3, 3),
    ("a key press seen by evdev", {"input/event0": NOW - 12}, 12, 12),
    ("the system console", {"console": NOW - 40}, 40, 40),
    ("a serial line", {"ttyS0": NOW - 60}, 60, 5000),
    ("an access time in the future counts as now", {"pts/0": NOW + 100}, 0, 5000),
    ("an access time of 0 does not count", {"pts/0": 0}, 5000, 5000),
]


@pytest.mark.parametrize("changes, keyboard, console", [c[1:] for c in IDLE],
                         ids=[c[0] for c in IDLE])
def test_idle_times(tmp_path, changes, keyboard, console):
    dev = fake_dev(tmp_path / "dev", {**QUIET, **changes})
    assert idle_times(NOW, dev_root=dev, boot_time=BOOT) == IdleTimes(keyboard, console)


def test_output_to_a_terminal_is_not_activity(tmp_path):
    # A program writing to a terminal changes its modification time, not its access time.
    dev = fake_dev(tmp_path / "dev", QUIET, mtime=NOW - 1)
    assert idle_times(NOW, dev_root=dev, boot_time=BOOT) == IdleTimes(5000, 5000)


def test_no_devices_means_idle_since_boot(tmp_path):
    (tmp_path / "dev").mkdir()
    assert idle_times(NOW, dev_root=tmp_path / "dev", boot_time=BOOT) == (100_000, 100_000)
    assert idle_times(NOW, dev_root=tmp_path / "missing", boot_time=BOOT) == (100_000, 100_000)


def test_terminals_without_a_console(tmp_path):
    dev = fake_dev(tmp_path / "dev", {"pts/0": NOW - 20})
    assert idle_times(NOW, dev_root=dev, boot_time=BOOT) == IdleTimes(20, 100_000)


def test_a_console_without_terminals(tmp_path):
    dev = fake_dev(tmp_path / "dev", {"input/event3": NOW - 9})
    assert idle_times(NOW, dev_root=dev, boot_time=BOOT) == IdleTimes(9, 9)


def test_devices_of_dev_nulls_major_do_not_count(tmp_path):
    # /dev/zero shares /dev/null's major number (memory devices); its times mean nothing.
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "null").symlink_to("/dev/null")
    (dev / "console").symlink_to("/dev/zero")
    assert idle_times(NOW, dev_root=dev, boot_time=BOOT) == (100_000, 100_000)


def test_idle_since_the_real_boot(tmp_path):
    import time

    import psutil
    now = time.time()
    keyboard, console = idle_times(now, dev_root=tmp_path)
    assert keyboard == console == int(now - psutil.boot_time())


def test_real_devices():
    import time
    keyboard, console = idle_times(time.time())
    assert 0 <= keyboard <= console
