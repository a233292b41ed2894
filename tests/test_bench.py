"""Every benchmark in bench/ runs to its end, at its smallest size: a smoke run that keeps a
benchmark from rotting as the code under it changes, not a timing (a figure at this size
means nothing, so only that each figure is printed is checked)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .slurm_cluster import INSTALL_HINT, missing_programs

BENCH = Path(__file__).resolve().parent.parent / "bench"

# bench file -> (its smallest-size arguments, the start of each line of figures it prints)
SMOKE = {
    "classad_bench.py": (["--scale", "0.01", "--repeat", "1"],
                         ["(a) parse", "(b) evaluate", "(c) symmetric match"]),
    "collector_bench.py": (["--seconds", "0.5", "--ads", "100"],
                           ["  raw gRPC", "  updates through", "  roost status",
                            "  collector RSS"]),
    "schedd_bench.py": (["--jobs", "50", "--cluster", "20", "--singles", "5"],
                        [f"[{db}] ({part})" for db in ("sqlite", "postgresql")
                         for part in "abcd"]),
    "startd_bench.py": (["--jobs", "5", "--rounds", "1"],
                        ["raw spawn", "starter", "startd ", "startd gRPC RunJobs",
                         "gRPC floor", "ratio"]),
    "pool_bench.py": (["--jobs", "5", "--latency", "1", "--negotiator-scale", "0.01"],
                      ["raw spawn", "pool throughput", "latency", "negotiator scale"]),
    "dag_bench.py": (["--width", "3", "--blocks", "2", "--chain", "5", "--fan-releases", "2",
                      "--chain-releases", "4", "--pool-chain", "3"],
                     ["DAG:", "(d) chain"] + [
                         f"[{db}] {figure}" for db in ("sqlite", "postgresql")
                         for figure in ("(a) roost dag submit", "(a) in-process", "(b) SQL rows",
                                        "(b) the same 2 blocks", "(c) release latency")] + [
                         "  fan-out", "  fan-in", "  chain", "  Parents, 1 job", "  Parents, 3",
                         "  reference"]),
    "glidein_bench.py": (["--jobs", "2", "--samples", "1", "--idle-timeout", "2"],
                         ["first job via a pilot", "  pilot start-up", "  reference:",
                          "  2 pilots", "  2 sbatch jobs", "  pilots / sbatch"]),
    "token_bench.py": (["--tokens", "60", "--repeat", "1"],
                       ["(a) sign", "(b) verify", "(c) per call", "  Ed25519 with the public key",
                        "  Ed25519, 50 tokens seen before"]),
    "transfer_bench.py": (["--big-mib", "4", "--files", "20", "--jobs", "5"],
                          ["(a) throughput", "  1 file of 4 MiB, cm -> desk1",
                           "  1 file of 4 MiB, desk1 -> cm", "  20 files of 10 KiB, cm -> desk1",
                           "  20 files of 10 KiB, desk1 -> cm", "(b) jobs per second",
                           "  with transfer", "  without transfer", "  with/without"]),
}
NEEDS_SLURM = {"glidein_bench.py"}
NEEDS_HOSTS = {"transfer_bench.py"}


def test_every_benchmark_has_a_smoke_run():
    assert sorted(path.name for path in BENCH.glob("*.py")) == sorted(SMOKE)


def _param(name: str):
    marks = ()
    if name in NEEDS_SLURM:  # as the glide-in tests: .ci/run installs Slurm where it can,
        # and one Slurm cluster runs at a time (their xdist group)
        marks = (pytest.mark.xdist_group("slurm"),
                 pytest.mark.skipif(bool(missing_programs()),
                                    reason=f"Slurm is not installed ({INSTALL_HINT})"))
    if name in NEEDS_HOSTS:  # as the multihost tests: namespace hosts, in their group (not
        # skipped: where hosts cannot be made, as for those tests, the run fails and says why)
        marks = (pytest.mark.xdist_group("hosts-transfer"),)
    return pytest.param(name, marks=marks, id=name.removesuffix(".py"))


@pytest.mark.parametrize("name", [_param(name) for name in sorted(SMOKE)])
def test_a_benchmark_runs_to_its_end_at_its_smallest_size(name, tmp_path):
    arguments, figures = SMOKE[name]
    # Cycles every 2 s: a job that just misses one waits seconds, not the default 20.  The
    # benchmarks make (and remove) their own directories in the usual temporary one: under
    # tmp_path, Slurm's step sockets would have paths longer than a socket's name may be.
    env = {**os.environ, "ROOST_MATCHMAKER_NEGOTIATOR_INTERVAL": "2"}
    done = subprocess.run([sys.executable, str(BENCH / name), *arguments], env=env,
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    missing = [start for start in figures if not any(line.startswith(start) for line in lines)]
    assert not missing, done.stdout
