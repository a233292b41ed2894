"""``roost glidein factory``: its options, and one cycle of its shell with a fake Slurm."""

from __future__ import annotations

import pytest

from roost import revocation, security
from roost.cli import main as roost_main
from roost.config import load_config
from roost.errors import RoostError
from startd.glidein.factory import Factory, FactoryConfig
from startd.glidein.factory_cli import _Shell
from startd.glidein.pilot import PilotSpec
from startd.glidein.slurm import BatchJob

from .test_factory import jobs


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("ROOST_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def keyed(home):
    """A central manager's home: the pool key, which mints each pilot's token."""
    security.SigningKey.load_or_create(security.key_path(home))
    return home


@pytest.mark.parametrize(("argv", "status", "message"), [
    (["--max-pilots", "1", "--min-pilots", "2"], 2, "min_pilots (2) is more than max_pilots"),
    (["--max-pilots", "1", "--time", "00:00:30"], 2, "a pilot needs at least 60 s"),
    (["--max-pilots", "1", "--time", "soon"], 2, "--time: walltime 'soon'"),
    (["--max-pilots", "1", "--constraint", "Owner =="], 2,
     "constraint 'Owner ==': 1:9: unexpected end of input"),
    (["--max-pilots", "1", "--interval", "0"], 2, "--interval must be more than 0"),
    (["--max-pilots", "1"], 1, "no pool key at"),
    ([], 2, "the following arguments are required: --max-pilots"),
])
def test_bad_options_are_one_line(home, capsys, argv, status, message):
    assert roost_main(["glidein", "factory", "--slurm", *argv]) == status
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


class FakeSlurm:
    def __init__(self, refuse: str = "") -> None:
        self.refuse = refuse
        self.listed: list[BatchJob] = []
        self.scripts: list[str] = []
        self.cancelled: list[str] = []

    def submit(self, script) -> str:
        if self.refuse:
            raise RoostError(self.refuse)
        self.scripts.append(script.read_text())
        job_id = str(len(self.scripts))
        self.listed.append(BatchJob(job_id, "PENDING", 1, None, "Priority"))
        return job_id

    def jobs(self) -> list[BatchJob]:
        return list(self.listed)

    def cancel(self, job_ids) -> None:
        self.cancelled.extend(job_ids)
        self.listed = [job for job in self.listed if job.job_id not in job_ids]


def shell(home, slurm, idle: list, max_pilots: int = 2) -> _Shell:
    spec = PilotSpec("127.0.0.1:9618", walltime=3600, cpus_per_node=4, idle_timeout=60)
    factory = Factory(FactoryConfig(max_pilots=max_pilots))
    shell = _Shell(load_config(), spec, home, slurm, factory)
    shell._idle_jobs = lambda: list(idle)
    shell._glidein_slots = list
    return shell


def test_a_cycle_submits_pilot_scripts_and_logs_each_decision(keyed, capsys):
    home = keyed
    slurm = FakeSlurm()
    idle = jobs(8)
    cycle = shell(home, slurm, idle)
    cycle.cycle(1_800_000_000)
    out = capsys.readouterr().out.splitlines()
    assert len(slurm.scripts) == 2
    assert "--cpus-per-task=4" in slurm.scripts[0] and "roost-glidein" in slurm.scripts[0]
    scripts = {path.name for path in (home / "glidein").glob("*.sbatch")}
    assert len(scripts) == 2
    # Each pilot carries a token of its own, recorded with its job id.
    tokens = [line.split() for line in (home / "glidein" / "pilots").read_text().splitlines()]
    assert [job_id for job_id, _, _ in tokens] == ["1", "2"]
    assert all("export ROOST_PILOT_TOKEN=" in script for script in slurm.scripts)
    assert slurm.scripts[0].split("ROOST_PILOT_TOKEN=")[1].split()[0] != \
        slurm.scripts[1].split("ROOST_PILOT_TOKEN=")[1].split()[0]
    assert [line.split(" ", 2)[2] for line in out[:2]] == [
        "demand: 8 idle job(s), 8 a pilot can run, 0 fit on free glide-in slots, "
        "2 node(s) needed, 0 coming; 0 pilot(s) live",
        "submit 2 pilot(s)"]
    assert {line.split(" ", 2)[2] for line in out[2:]} == {
        f"submitted pilot {n} ({name})" for n, name in zip(
            "12", sorted(scripts, key=lambda name: (len(name), name)), strict=True)}
    # Demand unchanged: nothing to say.  Demand gone: the queued pilots are cancelled.
    cycle.cycle(1_800_000_030)
    cycle.cycle(1_800_000_030)
    assert [line.split(" ", 2)[2] for line in capsys.readouterr().out.splitlines()] == [
        "demand: 8 idle job(s), 8 a pilot can run, 0 fit on free glide-in slots, "
        "2 node(s) needed, 2 coming; 2 pilot(s) live"]
    idle.clear()
    cycle.cycle(1_800_000_060)
    assert sorted(slurm.cancelled) == ["1", "2"]
    # A cancelled pilot's token is refused from now on.
    assert set(revocation.read_list(revocation.revocation_path(home))) == {
        token_id for _, token_id, _ in tokens}


def test_a_refused_submission_is_logged_and_backs_off(keyed, capsys):
    slurm = FakeSlurm(refuse="sbatch failed: invalid partition specified")
    cycle = shell(keyed, slurm, jobs(8))
    cycle.cycle(1_800_000_000)
    out = capsys.readouterr().out
    assert "submitting a pilot failed: sbatch failed: invalid partition specified" in out
    assert out.count("submitting a pilot failed") == 1  # the rest of the burst waits
    assert cycle.factory.strikes == 1
    cycle.cycle(1_800_000_010)
    assert "backing off after 1 strike(s): no new pilot before 1800000060" in (
        capsys.readouterr().out)
