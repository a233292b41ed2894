"""File transfer across namespace hosts (tests/hosts.py): a central manager whose schedd
holds the submit directory, and desktops that cannot see it.  Jobs get their input files
and directories on the desktop they run on and their output, remapped, and their stdout
and stderr come back; a job whose output is missing is held naming it; and a desktop's
startd killed with SIGKILL in the middle of a transfer leaves nothing partial where the
user looks, and the job runs again."""

from __future__ import annotations

import os
import re
import signal
import sys
import time

import pytest

from .test_pool import PORT, TIMEOUT, Site, central_manager, join

pytestmark = pytest.mark.xdist_group("hosts-transfer")

BIG = 200 * 1024 * 1024  # bytes: a file whose transfer takes long enough to be caught in it
PART = ".roost-part-"  # in the names of files still being received


def desktop(cm: Site, host) -> Site:
    desk = Site(host)
    join(cm, desk)
    desk.roost("startd", "--collector", f"cm:{PORT}", "--token", "startd.token")
    return desk


def pool(make_network, desktops=("desk1", "desk2"), **cm_settings):
    network = make_network(["cm", *desktops])
    cm = central_manager_with(network["cm"], **cm_settings)
    desks = {name: desktop(cm, network[name]) for name in desktops}
    cm.wait_for("slots", "status", "-af", "Name", count=len(desktops))
    return network, cm, desks


def central_manager_with(host, **settings) -> Site:
    if not settings:
        return central_manager(host)
    cm = Site(host, ROOST_MATCHMAKER_ADDRESS=f"0.0.0.0:{PORT}",
              ROOST_SCHEDD_ADDRESS="0.0.0.0:0", **settings)
    cm.roost("matchmaker")
    cm.roost("schedd")
    return cm


def submit(cm: Site, work, text: str) -> str:
    (work / "job.sub").write_text(text)
    submitted = cm.host.run([sys.executable, "-m", "roost", "submit", "job.sub"],
                            cwd=work, env=cm.env, timeout=60)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    return re.search(r"cluster (\d+)", submitted.stdout).group(1)


def wait(cm: Site, cluster: str, *desks: Site) -> None:
    waited = cm.roost("wait", "-timeout", str(int(TIMEOUT)), "-quiet", cluster, check=False)
    assert waited.returncode == 0, (waited.stdout + waited.stderr + cm.logs()
                                    + "".join(d.logs() for d in desks))


def test_jobs_on_two_desktops_get_their_files_and_send_back_their_output(make_network):
    network, cm, desks = pool(make_network)
    work = network["cm"].directory / "work"  # only the central manager has it
    (work / "data" / "deeper").mkdir(parents=True)
    (work / "a.txt").write_text("alpha\n")
    (work / "data" / "b.txt").write_text("beta\n")
    (work / "data" / "deeper" / "c.txt").write_text("gamma\n")
    (work / "in.txt").write_text("from stdin\n")
    (work / "run.sh").write_text(f"""#!/bin/sh
if [ -e {work}/a.txt ]; then echo "the submit directory is visible here" >&2; exit 9; fi
[ "$PWD" = "$_CONDOR_SCRATCH_DIR" ] || exit 8
hostname > where.txt
cat a.txt data/b.txt data/deeper/c.txt > result.txt
read line; echo "$(hostname) read: $line"
echo "complaint from $(hostname)" >&2
""")
    os.chmod(work / "run.sh", 0o755)
    cluster = submit(cm, work, """executable = run.sh
input = in.txt
output = out/$(Process).txt
error = err/$(Process).txt
transfer_input_files = a.txt, data
transfer_output_files = where.txt, result.txt
transfer_output_remaps = "where.txt = where/$(Process).txt; result.txt = results/"
requirements = regexp("^$(host)", Machine)
queue 2 host in (desk1, desk2)
""")
    wait(cm, cluster, *desks.values())
    rows = cm.values("history", cluster, "-af", "ProcId", "ExitCode", "LastRemoteHost",
                     "CumulativeTransferTime")
    assert sorted(int(r[0]) for r in rows) == [0, 1, 2, 3]
    assert {r[1] for r in rows} == {"0"}, cm.logs()
    assert all(float(r[3]) > 0 for r in rows)
    hosts = {int(r[0]): r[2].split("@")[1] for r in rows}
    assert sorted(set(hosts.values())) == ["desk1", "desk2"]  # both desktops ran jobs
    for proc, host in hosts.items():
        assert (work / "where" / f"{proc}.txt").read_text() == f"{host}\n"
        assert (work / "out" / f"{proc}.txt").read_text() == f"{host} read: from stdin\n"
        assert (work / "err" / f"{proc}.txt").read_text() == f"complaint from {host}\n"
    # result.txt went into results/ under its own name (each job wrote the same).
    assert (work / "results" / "result.txt").read_text() == "alpha\nbeta\ngamma\n"
    assert not [p for p in work.rglob("*") if PART in p.name]
    for name, desk in desks.items():  # the desktops kept nothing of the jobs
        assert not list(desk.host.path(desk.home / "execute").glob("dir_*")), name


def test_a_job_whose_output_is_missing_is_held_naming_the_file(make_network):
    network, cm, desks = pool(make_network, desktops=("desk1",))
    work = network["cm"].directory / "work"
    work.mkdir()
    cluster = submit(cm, work, "executable = /bin/sh\narguments = \"-c 'echo x > made.txt'\"\n"
                               "transfer_output_files = made.txt, forgotten.txt\nqueue\n")
    deadline = time.monotonic() + TIMEOUT
    while not (held := cm.values("q", cluster, "-af", "JobStatus", "HoldReasonCode")) or \
            held[0][0] != "5":
        assert time.monotonic() < deadline, f"{held}\n{cm.logs()}{desks['desk1'].logs()}"
        time.sleep(0.2)
    assert held[0][1] == "12"
    reason = cm.roost("q", cluster, "-af", "HoldReason").stdout.strip()
    assert "forgotten.txt" in reason and "desk1" in reason
    assert not (work / "made.txt").exists()  # nothing of a failed output lands
    assert not [p for p in work.rglob("*") if PART in p.name]


def _kill_when(desk: Site, seen) -> None:
    """SIGKILL ``desk``'s startd once ``seen()`` (a transfer under way) is true."""
    deadline = time.monotonic() + TIMEOUT
    while not seen():
        assert time.monotonic() < deadline, f"no transfer seen\n{desk.logs()}"
        time.sleep(0.01)
    pid = int(desk.host.path(desk.home / "run" / "startd.pid").read_text())
    os.kill(pid, signal.SIGKILL)


def test_sigkill_of_a_startd_while_output_comes_back_leaves_nothing_and_runs_it_again(
        make_network):
    network, cm, desks = pool(make_network, desktops=("desk1",), ROOST_SCHEDD_CLAIM_LEASE="6")
    desk = desks["desk1"]
    work = network["cm"].directory / "work"
    work.mkdir()
    cluster = submit(cm, work, "executable = /bin/sh\n"
                               f"arguments = \"-c 'head -c {BIG} /dev/zero > big.out; "
                               "echo $_CONDOR_SCRATCH_DIR > sandbox.txt'\"\n"
                               "transfer_output_files = sandbox.txt, big.out\nqueue\n")

    def receiving() -> bool:
        return any(PART in p.name for p in work.iterdir())

    _kill_when(desk, receiving)
    # The stream broke: what was being received is gone, and nothing else landed.
    deadline = time.monotonic() + TIMEOUT
    while sorted(os.listdir(work)) != ["job.sub"]:
        assert time.monotonic() < deadline, f"{os.listdir(work)}\n{cm.logs()}"
        time.sleep(0.05)
    # The desktop's startd comes back; after the claim's lease the job is Idle again
    # and runs once more.
    desk.roost("startd", "--collector", f"cm:{PORT}", "--token", "startd.token")
    wait(cm, cluster, desk)
    [[starts, exit_code]] = cm.values("history", cluster, "-af", "NumJobStarts", "ExitCode")
    assert (int(starts), exit_code) == (2, "0")
    assert (work / "big.out").stat().st_size == BIG
    assert sorted(os.listdir(work)) == ["big.out", "job.sub", "sandbox.txt"]


def test_sigkill_of_a_startd_while_input_goes_out_runs_the_job_again(make_network):
    network, cm, desks = pool(make_network, desktops=("desk1",), ROOST_SCHEDD_CLAIM_LEASE="6")
    desk = desks["desk1"]
    work = network["cm"].directory / "work"
    work.mkdir()
    with open(work / "big.in", "wb") as big:
        big.truncate(BIG)
    cluster = submit(cm, work, "executable = /bin/sh\n"
                               "arguments = \"-c 'wc -c < big.in > size.txt'\"\n"
                               "transfer_input_files = big.in\n"
                               "transfer_output_files = size.txt\nqueue\n")
    execute = desk.host.path(desk.home / "execute")

    def fetching() -> bool:
        return execute.is_dir() and any(PART in p.name for p in execute.glob("dir_*/*"))

    _kill_when(desk, fetching)
    desk.roost("startd", "--collector", f"cm:{PORT}", "--token", "startd.token")
    wait(cm, cluster, desk)
    [[starts, exit_code]] = cm.values("history", cluster, "-af", "NumJobStarts", "ExitCode")
    assert (int(starts), exit_code) == (2, "0")
    assert (work / "size.txt").read_text().strip() == str(BIG)
    assert sorted(os.listdir(work)) == ["big.in", "job.sub", "size.txt"]
    # The killed startd's sandbox, with its partial input, went when the startd restarted.
    assert not [p for p in execute.glob("dir_*/*") if PART in p.name]
