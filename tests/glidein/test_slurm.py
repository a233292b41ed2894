"""startd.glidein.slurm: squeue's and sacct's lines read, and the commands' failures as one
line.  The commands themselves are stand-ins on PATH here; tests/glidein/test_glidein_e2e.py
runs the real ones."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from roost.errors import RoostError
from startd.glidein.slurm import BatchJob, Slurm, parse_duration, parse_sacct, parse_squeue


@pytest.mark.parametrize("text, seconds", [
    ("1:59", 119), ("0:05", 5), ("59", 59), ("1:00:00", 3600), ("2-03:04:05", 183845),
    ("UNLIMITED", None), ("INVALID", None), ("NOT_SET", None), ("", None),
])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_squeue_lines():
    text = ("12|RUNNING|2|1:30|None\n13|PENDING|1|2:00:00|Resources\n"
            "14|COMPLETED|1|1:59|None\ngarbage\n")
    assert parse_squeue(text) == [
        BatchJob("12", "RUNNING", 2, 90, "None"), BatchJob("13", "PENDING", 1, 7200, "Resources"),
        BatchJob("14", "COMPLETED", 1, 119, "None")]


def test_sacct_lines_skip_steps():
    text = "20|CANCELLED by 0|1|None\n20.batch|CANCELLED|1|\n21|TIMEOUT|3|None\n"
    assert parse_sacct(text) == [BatchJob("20", "CANCELLED", 1, None, "None"),
                                 BatchJob("21", "TIMEOUT", 3, None, "None")]


def _commands(tmp_path: Path, **scripts: str) -> dict[str, str]:
    """An environment whose PATH has only the given stand-in commands (and /bin)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return {**os.environ, "PATH": f"{bin_dir}:/bin:/usr/bin"}


def test_jobs_from_squeue_and_sacct(tmp_path):
    env = _commands(
        tmp_path,
        squeue='echo "$@" > "$(dirname "$0")/squeue.args"; echo "7|RUNNING|1|0:50|None"',
        sacct='echo "5|COMPLETED|1|None"; echo "7|RUNNING|1|None"')
    assert Slurm(env).jobs() == [BatchJob("5", "COMPLETED", 1, None, "None"),
                                 BatchJob("7", "RUNNING", 1, 50, "None")]
    args = (tmp_path / "bin" / "squeue.args").read_text().split()
    assert "--states=all" in args and "--name=roost-glidein" in args
    assert f"--user={os.getuid()}" in args


def test_without_accounting_squeue_alone_answers(tmp_path):
    env = _commands(tmp_path, squeue='echo "7|PENDING|1|2:00|Priority"',
                    sacct='echo "Slurm accounting storage is disabled" >&2; exit 1')
    assert Slurm(env).jobs() == [BatchJob("7", "PENDING", 1, 120, "Priority")]


def test_submit_reads_the_parsable_job_id(tmp_path):
    env = _commands(tmp_path, sbatch='echo "4242;cluster1"')
    assert Slurm(env).submit(tmp_path / "pilot.sbatch") == "4242"


def test_failures_are_one_line(tmp_path):
    env = _commands(tmp_path, sbatch=("echo 'sbatch: error: Batch job submission failed:' >&2;"
                                      " echo '  Invalid account' >&2; exit 1"),
                    scancel="exit 3", squeue="echo nonsense")
    slurm = Slurm(env)
    with pytest.raises(RoostError) as error:
        slurm.submit(tmp_path / "pilot.sbatch")
    assert str(error.value) == ("sbatch failed: sbatch: error: Batch job submission failed: "
                                "Invalid account")
    with pytest.raises(RoostError, match="^scancel failed: exit status 3$"):
        slurm.cancel(["1"])
    env["PATH"] = str(tmp_path / "nowhere")
    with pytest.raises(RoostError, match="^sbatch not found"):
        Slurm(env).submit(tmp_path / "pilot.sbatch")


def test_a_submit_that_prints_no_id_is_an_error(tmp_path):
    env = _commands(tmp_path, sbatch="echo 'Submitted batch job'")
    with pytest.raises(RoostError, match="expected a job id"):
        Slurm(env).submit(tmp_path / "pilot.sbatch")


def test_cancel_of_nothing_runs_nothing(tmp_path):
    env = _commands(tmp_path, scancel='touch "$(dirname "$0")/ran"')
    Slurm(env).cancel([])
    assert not (tmp_path / "bin" / "ran").exists()
    Slurm(env).cancel(["3", "4"])
    assert (tmp_path / "bin" / "ran").exists()
