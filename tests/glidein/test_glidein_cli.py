"""``roost glidein submit|status|cancel`` through the roost command, without a cluster:
scripts written and printed, and the one-line errors.  Submitting for real is in
tests/glidein/test_glidein_e2e.py."""

from __future__ import annotations

import os
import socket
import stat

import pytest

from roost.cli import main


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("ROOST_HOME", str(home))
    monkeypatch.setenv("ROOST_MATCHMAKER_ADDRESS", "cm.example.org:9618")
    return home


def test_dry_run_prints_the_script_it_keeps(home, capsys):
    assert main(["glidein", "submit", "--slurm", "-N", "2", "--time", "00:30:00",
                 "--cpus-per-node", "4", "--mem", "8G", "--idle-timeout", "60", "--dry-run",
                 "--extra", "--qos=debug", "--exclusive"]) == 0
    out, err = capsys.readouterr()
    (kept,) = (home / "glidein").glob("roost-glidein-*.sbatch")
    assert kept.read_text() == out
    assert err.strip() == f"# written to {kept}"
    # Its owner's alone (a real one carries a token); a dry run's carries none.
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o700
    assert "export ROOST_PILOT_TOKEN=TOKEN-MINTED-AT-SUBMIT\n" in out
    for directive in ("--nodes=2", "--time=00:30:00", "--cpus-per-task=4", "--mem=8192M",
                      "--qos=debug", "--exclusive"):
        assert f"#SBATCH {directive}\n" in out
    assert "--collector cm.example.org:9618 --idle-timeout 60" in out


def test_a_pilot_of_a_matchmaker_on_every_interface_dials_this_hosts_name(
        home, capsys, monkeypatch):
    """The central manager's roost.toml binds the matchmaker to 0.0.0.0, which on a node
    would be the node itself."""
    monkeypatch.setenv("ROOST_MATCHMAKER_ADDRESS", "0.0.0.0:9618")
    assert main(["glidein", "submit", "--slurm", "--dry-run"]) == 0
    assert f"--collector {socket.getfqdn()}:9618 " in capsys.readouterr().out


def test_pbs_script_with_dry_run(home, capsys):
    assert main(["glidein", "submit", "--pbs", "--time", "2:00:00", "--partition", "batch",
                 "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "#PBS -l walltime=02:00:00\n" in out and "#PBS -q batch\n" in out
    assert list((home / "glidein").glob("roost-glidein-*.pbs"))


@pytest.mark.parametrize("argv, message", [
    (["--pbs"], "--pbs writes a script only: add --dry-run"),
    (["--slurm", "--time", "2h", "--dry-run"], "--time: walltime '2h': expected HH:MM:SS"),
    (["--slurm", "--mem", "lots", "--dry-run"], "--mem: memory 'lots': expected MiB"),
    (["--slurm", "--collector", "cm", "--dry-run"], "--collector: collector 'cm': expected"),
    (["--slurm", "-N", "0", "--dry-run"], "-N must be at least 1, not 0"),
    (["--slurm", "--time", "00:00:30", "--dry-run"], "a pilot needs at least 60 s"),
    (["--slurm", "--pbs", "--dry-run"], "not allowed with argument"),
    (["--dry-run"], "one of the arguments --slurm --pbs is required"),
])
def test_bad_submissions_are_one_line(home, capsys, argv, message):
    assert main(["glidein", "submit", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("roost: ") and message in err


def test_a_token_that_is_not_there(home, capsys):
    assert main(["glidein", "submit", "--slurm", "--token", "/nonexistent/token",
                 "--dry-run"]) == 1
    assert capsys.readouterr().err == "roost: --token /nonexistent/token: no such file\n"


def test_submit_needs_the_pool_key(home, capsys, tmp_path, monkeypatch):
    # A stand-in sbatch that must not be reached: the key is checked first.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text("#!/bin/sh\necho 1\n")
    (bin_dir / "sbatch").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    assert main(["glidein", "submit", "--slurm"]) == 1
    err = capsys.readouterr().err
    assert err == (f"roost: no pool key at {home}/keys/pool.key: pilots get their tokens "
                   "from the central manager; start the pool first ('roost pool up "
                   "--startds 0')\n")


def test_cancel_refuses_what_is_no_job_id(home, capsys):
    assert main(["glidein", "cancel", "12;rm"]) == 2
    assert "JOBID '12;rm': expected a Slurm job id" in capsys.readouterr().err


def test_help_of_each_verb(home, capsys):
    for verb in ("submit", "status", "cancel"):
        assert main(["glidein", verb, "--help"]) == 0
        assert f"usage: roost glidein {verb}" in capsys.readouterr().out
