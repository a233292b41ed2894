"""The pilot scripts (startd.glidein.pilot): what users type, parsed; the scripts for Slurm
and PBS, read as a shell reads them (bash -n) and for what each directive says."""

from __future__ import annotations

import dataclasses
import os
import shlex
import stat
import subprocess
from pathlib import Path

import pytest

from startd.glidein.pilot import (
    PILOT_JOB_NAME,
    PilotSpec,
    check_collector,
    format_walltime,
    parse_memory,
    parse_walltime,
    pbs_script,
    retire_margin,
    slurm_script,
    validate,
)

HOME = Path("/shared/roost home")
PYTHON = "/opt/roost/.venv/bin/python"
# What roost glidein submit gives a Slurm pilot to carry (startd.glidein.credentials).
CARRIED = {"token": "eyJ0.eyJz.c2ln", "tag": "ab12",
           "public_key": "-----BEGIN PUBLIC KEY-----\nMCowBQ\n-----END PUBLIC KEY-----\n"}


@pytest.mark.parametrize("text, seconds", [
    ("00:02:00", 120), ("1:00:00", 3600), ("30", 1800), ("05:30", 330),
    ("2-00", 2 * 86400), ("1-12:30", 86400 + 12 * 3600 + 1800), ("1-00:00:01", 86401),
    ("48:00:00", 48 * 3600),
])
def test_walltimes_in_slurm_and_pbs_spellings(text, seconds):
    assert parse_walltime(text) == seconds


@pytest.mark.parametrize("text, message", [
    ("", "expected HH:MM:SS"), ("1h", "expected HH:MM:SS"), ("00:61:00", "up to 59"),
    ("1-24:00", "count to 23"), ("00:00:00", "must be more than 0"), ("1:2:3:4", "expected"),
])
def test_bad_walltimes_are_one_line_errors(text, message):
    with pytest.raises(ValueError, match=message) as error:
        parse_walltime(text)
    assert "\n" not in str(error.value) and repr(text) in str(error.value)


def test_walltimes_are_written_as_hours_minutes_seconds():
    assert format_walltime(120) == "00:02:00"
    assert format_walltime(2 * 86400 + 61) == "48:01:01"


@pytest.mark.parametrize("text, mib", [("4096", 4096), ("4G", 4096), ("512M", 512),
                                       ("2048K", 2), ("1T", 1024**2), ("8GB", 8192)])
def test_memory_as_sbatch_writes_it(text, mib):
    assert parse_memory(text) == mib


@pytest.mark.parametrize("text", ["", "lots", "4X", "0", "512K"])
def test_bad_memory_is_refused(text):
    with pytest.raises(ValueError, match="memory"):
        parse_memory(text)


def test_collector_addresses():
    assert check_collector("cm.example.org:9618") == "cm.example.org:9618"
    assert check_collector("[::1]:9618") == "[::1]:9618"
    for bad in ("cm.example.org", "cm:0", "cm:70000", "a b:1"):
        with pytest.raises(ValueError, match="expected HOST:PORT"):
            check_collector(bad)


def test_short_pilots_retire_a_tenth_of_their_walltime_before_the_end():
    assert retire_margin(120) == 12
    assert retire_margin(6000) == 600
    assert retire_margin(86400) == 600


@pytest.mark.parametrize("spec, message", [
    (PilotSpec("cm:9618", 30), "at least 60 s"),
    (PilotSpec("cm", 600), "expected HOST:PORT"),
    (PilotSpec("cm:9618", 600, nodes=0), "nodes must be at least 1"),
    (PilotSpec("cm:9618", 600, cpus_per_node=0), "cpus per node"),
    (PilotSpec("cm:9618", 600, idle_timeout=0), "idle timeout"),
    (PilotSpec("cm:9618", 600, nodes=2, token_file="/t"), "one-node pilot"),
    (PilotSpec("cm:9618", 600, partition="a b"), "partition"),
])
def test_specs_no_batch_system_should_get(spec, message):
    with pytest.raises(ValueError, match=message):
        validate(spec)
    with pytest.raises(ValueError, match=message):
        slurm_script(spec, home=HOME, python=PYTHON)


def _bash_reads(script: str, tmp_path: Path) -> None:
    path = tmp_path / "pilot.sh"
    path.write_text(script)
    checked = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def _directives(script: str, prefix: str) -> list[str]:
    return [line[len(prefix):].strip() for line in script.splitlines()
            if line.startswith(prefix)]


def test_slurm_script_asks_for_what_the_spec_says(tmp_path):
    spec = PilotSpec("cm.example.org:9618", 7200, nodes=3, cpus_per_node=8, memory_mib=16384,
                     partition="short", account="proj1", idle_timeout=120,
                     extra=("--qos=high", "--exclusive"), **CARRIED)
    script = slurm_script(spec, home=HOME, python=PYTHON)
    _bash_reads(script, tmp_path)
    assert _directives(script, "#SBATCH") == [
        f"--job-name={PILOT_JOB_NAME}", "--nodes=3", "--ntasks-per-node=1", "--time=02:00:00",
        "--output=/tmp/roost-glidein-%j.out", "--chdir=/tmp", "--cpus-per-task=8",
        "--mem=16384M", "--partition=short", "--account=proj1", "--qos=high", "--exclusive"]
    # Nothing of the pool's roost home: each node has its own.
    assert str(HOME) not in script and "pool.key" not in script
    assert script.count(CARRIED["token"]) == 1
    launch = script[script.index("srun "):]
    assert "--whole --ntasks-per-node=1" in launch
    assert ("-m roost startd --glidein --collector cm.example.org:9618 --idle-timeout 120 "
            "--retire-margin 600 --attribute IS_GLIDEIN=true") in launch
    assert '--name "glidein-ab12-$SLURM_JOB_ID.$SLURMD_NODENAME"' in launch
    assert '--token "$home/startd.token"' in launch
    # The end of the allocation, for Slurm releases that do not say it.
    assert "SLURM_TIME_FORMAT=%s squeue" in script and "+ 7200 ))" in script


def test_each_node_keeps_the_pilots_token_in_its_own_home_and_out_of_the_environment(
        tmp_path):
    """Run the command srun runs on each node, with a stand-in for the startd that shows
    what it was given."""
    spec = PilotSpec("cm:9618", 600, nodes=2, **CARRIED)
    script = slurm_script(spec, home=HOME, python=PYTHON)
    node = shlex.split(script[script.index("/bin/sh -c "):].split("\\\n")[0])[2]
    shows = tmp_path / "startd"
    copy = tmp_path / "seen"
    shows.write_text('#!/bin/sh\nenv | grep -c ROOST_PILOT; echo "$@"; echo "$ROOST_HOME"\n'
                     f'cp -a "$ROOST_HOME" {copy}; exit 3\n')
    shows.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "TMPDIR": str(tmp_path), "SLURM_JOB_ID": "7",
           "SLURM_NODEID": "1", "SLURMD_NODENAME": "node2",
           "ROOST_PILOT_TOKEN": CARRIED["token"], "ROOST_PILOT_PUBLIC_KEY": CARRIED["public_key"]}
    done = subprocess.run(["/bin/sh", "-c", node, str(shows), "--glidein"], env=env,
                          capture_output=True, text=True)
    # The startd's exit is the node's; its home, made afresh, is gone after it.
    assert done.returncode == 3 and done.stdout.splitlines()[0] == "0", done.stdout + done.stderr
    home = Path(done.stdout.splitlines()[2])
    assert home.parent == tmp_path and home.name.startswith("roost-glidein-7.1.")
    assert not home.exists()
    assert f"--token {home}/startd.token --name glidein-ab12-7.node2" in done.stdout
    assert (copy / "startd.token").read_text() == CARRIED["token"] + "\n"
    assert stat.S_IMODE((copy / "startd.token").stat().st_mode) == 0o600
    assert stat.S_IMODE(copy.stat().st_mode) == 0o700
    assert (copy / "keys" / "pool.pub").read_text() == CARRIED["public_key"]


def test_a_pbs_pilot_cannot_carry_a_token():
    with pytest.raises(ValueError, match="PBS pilot cannot carry a token"):
        pbs_script(PilotSpec("cm:9618", 600, **CARRIED), home=HOME, python=PYTHON)


def test_a_given_token_names_the_startd(tmp_path):
    script = slurm_script(PilotSpec("cm:9618", 600, token_file="/home/a/pilot.token"),
                          home=HOME, python=PYTHON)
    _bash_reads(script, tmp_path)
    assert "--token /home/a/pilot.token" in script
    assert "--name" not in script
    assert "pool.key" not in script  # the token is all a node needs


def test_pbs_script_is_the_same_pilot(tmp_path):
    spec = PilotSpec("cm.example.org:9618", 5400, nodes=2, cpus_per_node=4, memory_mib=1000,
                     partition="batch", account="proj1", idle_timeout=60,
                     extra=("-W group_list=hpc",))
    script = pbs_script(spec, home=HOME, python=PYTHON)
    _bash_reads(script, tmp_path)
    assert _directives(script, "#PBS") == [
        f"-N {PILOT_JOB_NAME}", "-l nodes=2:ppn=4", "-l walltime=01:30:00",
        "-o /tmp/roost-glidein.out", "-j oe", "-l mem=2000mb",
        "-q batch", "-A proj1", "-W group_list=hpc"]
    launch = script[script.index("pbsdsh "):]
    slurm = slurm_script(dataclasses.replace(spec, **CARRIED), home=HOME, python=PYTHON)
    common = ("-m roost startd --glidein --collector cm.example.org:9618 --idle-timeout 60 "
              "--retire-margin 540 --attribute IS_GLIDEIN=true")
    assert common in launch and common in slurm
    # PBS tells the processes nothing: resources, end and batch id come as options.
    assert "--cpus 4 --memory 1000" in launch
    assert '--lifetime "$(( end - $(date +%s) ))"' in launch
    assert "GLIDEIN_BatchJobId" in launch


def test_a_slurm_pilot_needs_a_token():
    with pytest.raises(ValueError, match="a Slurm pilot needs a token"):
        slurm_script(PilotSpec("cm:9618", 600), home=HOME, python=PYTHON)


def test_the_pbs_script_stops_on_a_node_without_the_pool_key(tmp_path):
    """Run the PBS script's preamble on a 'node' whose roost home has no key: one line
    and exit status 1, before any pbsdsh."""
    home = tmp_path / "home"
    script = pbs_script(PilotSpec("127.0.0.1:9618", 600), home=home, python=PYTHON)
    preamble = script[:script.index("# PBS does not tell")] + "echo reached\n"
    done = subprocess.run(["bash", "-c", preamble], capture_output=True, text=True)
    assert done.returncode == 1 and "reached" not in done.stdout
    assert done.stderr.strip() == (f"{PILOT_JOB_NAME}: cannot read the pool key "
                                   f"{home}/keys/pool.key: the nodes must see the roost home "
                                   "of the pool")
    (home / "keys").mkdir(parents=True)
    (home / "keys" / "pool.key").write_text("k")
    done = subprocess.run(["bash", "-c", preamble], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "reached\n"


def test_the_key_the_script_checks_is_the_pool_key(tmp_path):
    from roost import security
    from startd.glidein.pilot import KEY_FILE

    assert tmp_path / KEY_FILE == security.key_path(tmp_path)
