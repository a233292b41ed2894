"""startd.starter with real subprocesses: exits, signals, files, arguments, environment,
sandboxes, start failures, killing whole process families, usage, memory limits, users."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

import classad
from startd import starter
from startd.starter import (
    ExitWaiter,
    JobResult,
    start_job,
)

ROOT = os.geteuid() == 0
ME = pwd.getpwuid(os.geteuid()).pw_name
PYTHON = sys.executable


@pytest.fixture(autouse=True, scope="module")
def subreaper():
    """As the startd does: orphans of jobs come back to this process, which reaps them."""
    starter.become_subreaper()
    yield
    starter.stop_being_subreaper()


@pytest.fixture
def execute_dir():
    """An EXECUTE directory every user can traverse (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="roost-execute-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def jobs(execute_dir):
    """Start jobs in ``execute_dir``; everything started is cleaned up afterwards."""
    started = []

    def start(cmd, arguments=None, *, slot_ad=None, run_as=None, environment=None,
              **attributes):
        ad = classad.ClassAd()
        ad["Cmd"] = cmd
        ad["Owner"] = ME
        if arguments is not None:
            ad["Arguments"] = arguments
        for name, value in attributes.items():
            ad[name] = value
        job = start_job(ad, execute_dir=execute_dir, slot_name="slot1_1@test",
                        slot_ad=slot_ad, run_as=run_as, environment=environment)
        started.append(job)
        return job

    yield start
    for job in started:
        job.cleanup()


def shell(jobs, script: str, **attributes):
    return jobs("/bin/sh", "-c " + quote(script), **attributes)


def quote(text: str) -> str:
    """One argument in HTCondor's new syntax."""
    return "'" + text.replace("'", "''") + "'"


def finish(job, timeout: float = 10.0) -> JobResult:
    result = job.wait(timeout)
    assert result is not None, "the job did not end"
    return result


def wait_for(predicate, timeout: float = 5.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out")


# -- syntax ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("", []),
    ("  a  b\tc ", ["a", "b", "c"]),
    ("'one two' three", ["one two", "three"]),
    ("'it''s' x''y", ["it's", "xy"]),
    ("a '' b", ["a", "", "b"]),
    ("pre'mid dle'post", ["premid dlepost"]),
    ('"double" quotes', ['"double"', "quotes"]),
])  # fmt: skip
def test_arguments_follow_htcondors_new_syntax(text, expected):
    assert classad.job_arguments(text) == expected
    assert classad.job_arguments(" a  'b' ", version=1) == ["a", "'b'"]


def test_environment_syntaxes():
    assert classad.job_environment("A=1 B='x y' C= D='it''s'") == {
        "A": "1", "B": "x y", "C": "", "D": "it's"}
    assert classad.job_environment("A=1;B=x y;", version=1) == {"A": "1", "B": "x y"}
    assert classad.job_environment("|A=1|B=2;3", version=1) == {"A": "1", "B": "2;3"}
    with pytest.raises(ValueError):
        classad.job_environment("NOEQUALS")
    with pytest.raises(ValueError):
        classad.job_arguments("'open")


# -- exits ----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [0, 3])
def test_exit_codes(jobs, code):
    result = finish(shell(jobs, f"exit {code}"))
    assert (result.exit_code, result.exit_signal, result.failure) == (code, None, "none")
    assert result.hold_code is None


@pytest.mark.parametrize("signum", [signal.SIGSEGV, signal.SIGKILL])
def test_a_job_killed_by_its_own_signal(jobs, signum):
    result = finish(shell(jobs, f"kill -{signum.name.removeprefix('SIG')} $$"))
    assert result.exit_code is None
    assert result.exit_signal == signum
    assert result.exit_by_signal and result.failure == "signal"
    assert signum.name in result.reason


def test_standard_files_arguments_and_iwd(jobs, tmp_path):
    (tmp_path / "input.txt").write_text("from stdin\n")
    script = tmp_path / "show"
    script.write_text(textwrap.dedent("""\
        #!/bin/sh
        cat
        for argument in "$@"; do echo "[$argument]"; done
        pwd
        echo to-stderr >&2
        """))
    script.chmod(0o755)
    job = jobs("show", "'one two' '' 'it''s' plain", Iwd=str(tmp_path), In="input.txt",
               Out="out.txt", Err="err.txt")
    assert finish(job).exit_code == 0
    assert (tmp_path / "out.txt").read_text().splitlines() == [
        "from stdin", "[one two]", "[]", "[it's]", "[plain]", str(tmp_path)]
    assert (tmp_path / "err.txt").read_text() == "to-stderr\n"


def test_out_and_err_may_be_one_file(jobs, tmp_path):
    job = shell(jobs, "echo one; echo two >&2; echo three", Iwd=str(tmp_path),
                Out="both", Err="both")
    finish(job)
    assert (tmp_path / "both").read_text() == "one\ntwo\nthree\n"


def test_out_and_err_are_written_in_place_while_the_job_runs(jobs, tmp_path):
    """What stream_output and stream_error ask for: the job's output reaches its files as
    it writes it, not when it ends."""
    job = shell(jobs, "echo early; echo early-err >&2; "
                      "while [ ! -e go ]; do sleep 0.01; done; echo late",
                Iwd=str(tmp_path), Out="o", Err="e", StreamOut=True, StreamErr=True)
    wait_for(lambda: (tmp_path / "o").read_text() == "early\n"
             and (tmp_path / "e").read_text() == "early-err\n")
    assert job.poll() is None  # still running, its output already there
    (tmp_path / "go").touch()
    assert finish(job).exit_code == 0
    assert (tmp_path / "o").read_text() == "early\nlate\n"


def test_the_jobs_environment(jobs):
    slot = classad.ClassAd()
    slot["Name"] = "slot1_1@test"
    slot["Cpus"] = 3
    job = jobs("/usr/bin/env", Environment="FOO='a b' EMPTY= OMP_NUM_THREADS=7",
               Out="env.txt", slot_ad=slot, RequestCpus=1)
    finish(job)
    environment = dict(line.split("=", 1) for line in
                       (job.sandbox / "env.txt").read_text().splitlines())
    sandbox = str(job.sandbox)
    assert environment["FOO"] == "a b" and environment["EMPTY"] == ""
    assert environment["OMP_NUM_THREADS"] == "7"  # the job's own value wins
    assert environment["MKL_NUM_THREADS"] == environment["GOMAXPROCS"] == "3"  # slot Cpus
    assert environment["_CONDOR_SCRATCH_DIR"] == sandbox
    assert environment["_CONDOR_JOB_IWD"] == sandbox
    assert environment["_CONDOR_SLOT"] == "slot1_1"
    assert environment["BATCH_SYSTEM"] == "HTCondor"
    assert environment["TMPDIR"] == sandbox
    assert environment["ROOST_JOB_ID"] == job.marker
    assert "PATH" not in environment  # as HTCondor: only what the job asks for
    job_ad = classad.parse_one(Path(environment["_CONDOR_JOB_AD"]).read_text())
    assert job_ad["Cmd"] == "/usr/bin/env"
    machine_ad = classad.parse_one(Path(environment["_CONDOR_MACHINE_AD"]).read_text())
    assert machine_ad["Cpus"] == 3


def test_what_the_schedd_grants_is_in_the_environment_not_the_job_ad(jobs):
    job = jobs("/usr/bin/env", Environment="ROOST_JOB_TOKEN=forged KEEP=1", Out="env.txt",
               environment={"ROOST_JOB_TOKEN": "secret", "ROOST_SCHEDD_ADDRESS": "h:9"})
    finish(job)
    environment = dict(line.split("=", 1) for line in
                       (job.sandbox / "env.txt").read_text().splitlines())
    assert environment["ROOST_JOB_TOKEN"] == "secret"  # the schedd's, not the job's own
    assert environment["ROOST_SCHEDD_ADDRESS"] == "h:9" and environment["KEEP"] == "1"
    assert "secret" not in Path(environment["_CONDOR_JOB_AD"]).read_text()


def test_the_sandbox_is_private_and_cleanup_removes_it(jobs, execute_dir):
    job = shell(jobs, "echo data > file; mkdir -p d/e; chmod 0 d")
    finish(job)
    assert job.sandbox.parent == execute_dir and job.sandbox.name.startswith("dir_")
    assert stat.S_IMODE(job.sandbox.stat().st_mode) == 0o700
    assert (job.sandbox / "file").read_text() == "data\n"
    job.cleanup()
    assert not job.sandbox.exists()
    assert list(execute_dir.iterdir()) == []


# -- start failures ---------------------------------------------------------------------------


def test_a_missing_executable_is_a_start_failure(jobs, tmp_path):
    job = jobs(str(tmp_path / "no-such-program"))
    result = job.poll()
    assert result is not None and job.wait(0) == result
    assert result.failure == "start-failed" and result.hold_code == 6
    assert result.exit_code is None and "No such file" in result.reason
    assert job.fileno() == -1


def test_a_file_that_is_not_executable_is_a_start_failure(jobs, tmp_path):
    (tmp_path / "data").write_text("not a program")
    result = jobs(str(tmp_path / "data")).poll()
    assert result.failure == "start-failed" and result.hold_code == 6
    assert "Permission denied" in result.reason


def test_other_start_failures(jobs, tmp_path):
    missing_iwd = jobs("/bin/true", Iwd=str(tmp_path / "gone")).poll()
    assert missing_iwd.failure == "start-failed" and missing_iwd.hold_code == 14
    missing_input = jobs("/bin/cat", In=str(tmp_path / "gone")).poll()
    assert missing_input.failure == "start-failed" and "standard input" in missing_input.reason
    unbalanced = jobs("/bin/echo", "'open").poll()
    assert unbalanced.failure == "start-failed" and "quote" in unbalanced.reason


# -- process families -------------------------------------------------------------------------

# Children, a grandchild, and an escapee that leaves the session and process group
# (setsid), ignores SIGTERM and double-forks so that its parent is gone.
FAMILY_SCRIPT = f"""\
#!/bin/sh
echo $$ >> pids
sleep 300 & echo $! >> pids
sh -c 'sleep 300 & echo $! >> pids; wait' & echo $! >> pids
{PYTHON} -c '
import os, signal, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        with open("pids", "a") as pids:
            pids.write(f"{{os.getpid()}}\\n")
        time.sleep(300)
    os._exit(0)
os.wait()
'
wait
"""


def start_family(jobs, tmp_path):
    script = tmp_path / "family"
    script.write_text(FAMILY_SCRIPT)
    script.chmod(0o755)
    job = jobs(str(script), Iwd=str(tmp_path))
    pids_file = tmp_path / "pids"
    pids = wait_for(lambda: pids_file.exists() and len(
        lines := pids_file.read_text().split()) == 5 and [int(pid) for pid in lines])
    escapee = psutil.Process(pids[-1])
    assert escapee.ppid() != pids[0] and os.getsid(escapee.pid) != job.pid
    return job, pids


def test_vacate_terms_then_kills_the_whole_family(jobs, tmp_path):
    job, pids = start_family(jobs, tmp_path)
    job.vacate(0.3)
    assert job.poll() is None or job.result.failure == "killed"
    result = finish(job)
    assert result.failure == "killed" and result.exit_signal == signal.SIGTERM
    # Nothing is left, not even a zombie: this process adopted the orphans and reaped them.
    assert [pid for pid in pids if psutil.pid_exists(pid)] == []


def _dead(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_kill_stops_everything_at_once(jobs, tmp_path):
    job, pids = start_family(jobs, tmp_path)
    job.kill()
    # No soft kill first: every process is dead (gone, or a zombie not yet reaped) as soon
    # as the kernel has delivered the SIGKILLs.
    assert wait_for(lambda: all(_dead(pid) for pid in pids[1:]), timeout=2)
    result = finish(job, timeout=1)
    assert result.failure == "killed" and result.exit_signal == signal.SIGKILL
    assert not psutil.pid_exists(pids[0])


def test_suspend_stops_the_whole_family_and_resume_continues_it(jobs, tmp_path):
    job, pids = start_family(jobs, tmp_path)

    def states() -> set[str]:
        return {psutil.Process(pid).status() for pid in pids if psutil.pid_exists(pid)}

    job.suspend()  # signals are delivered asynchronously: wait a moment for them
    assert wait_for(lambda: states() == {psutil.STATUS_STOPPED})
    job.resume()
    assert wait_for(lambda: psutil.STATUS_STOPPED not in states())
    job.kill()
    assert finish(job, timeout=1).failure == "killed"


def test_what_a_job_leaves_behind_is_killed_when_it_exits(jobs, tmp_path):
    job = shell(jobs, "setsid sleep 300 & echo $! > pid; exit 0", Iwd=str(tmp_path))
    result = finish(job)
    assert (result.failure, result.exit_code) == ("none", 0)
    left = int((tmp_path / "pid").read_text())
    assert not psutil.pid_exists(left)


# -- usage ------------------------------------------------------------------------------------


def test_cpu_time_of_the_tree(jobs):
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    job = shell(jobs, f"{PYTHON} -c {quote_sh(burn)}; exit 0")
    result = finish(job)
    assert result.usage.cpu_seconds > 0.2
    assert result.usage.wall_seconds >= result.usage.cpu_seconds * 0.9


def quote_sh(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def test_peak_memory_of_the_tree_is_sampled(jobs):
    hold = "import time\nb = b'x' * (100 << 20)\ntime.sleep(1.5)"
    job = shell(jobs, f"{PYTHON} -c {quote_sh(hold)} & {PYTHON} -c {quote_sh(hold)} & wait")
    # Two processes of 100 MB each: only their sum reaches 150 MB.
    wait_for(lambda: job.usage().rss_kb >= 150 * 1024, timeout=5, interval=0.05)
    result = finish(job)
    assert result.failure == "none"
    assert result.usage.peak_rss_kb >= 150 * 1024
    assert result.usage.peak_memory_mb >= 150


def test_a_job_over_its_memory_is_stopped(jobs):
    hold = "import time\nb = b'x' * (200 << 20)\ntime.sleep(10)"
    job = jobs(PYTHON, "-c " + quote(hold), RequestMemory=64)
    assert job.check_memory(policy="none") is False
    assert wait_for(lambda: job.check_memory(), timeout=5, interval=0.05)
    result = finish(job, timeout=2)
    assert result.failure == "memory" and result.hold_code == 34
    assert result.exit_signal == signal.SIGKILL
    assert "memory limit of 64 megabytes" in result.reason
    assert result.usage.peak_rss_kb >= 64 * 1024


def test_a_job_under_its_memory_runs_on(jobs):
    job = shell(jobs, "sleep 0.2", RequestMemory=64)
    assert job.check_memory() is False
    assert job.check_memory(64, "hard", factor=2.0) is False
    assert finish(job).failure == "none"


# -- waiting for many -------------------------------------------------------------------------


def test_one_waiter_follows_many_jobs(jobs):
    waiter = ExitWaiter(tick=0.5)
    try:
        started = {shell(jobs, f"sleep 0.{n}; exit {n}"): n for n in range(1, 6)}
        failed = jobs("/no/such/program")
        for job in [*started, failed]:
            waiter.add(job)
        ended = {}
        deadline = time.monotonic() + 10
        while len(ended) < 6 and time.monotonic() < deadline:
            ended.update(waiter.wait(5))
        assert ended[failed].failure == "start-failed"
        assert {ended[job].exit_code for job in started} == set(started.values())
        assert len(waiter) == 0
        # wake() from another thread ends a wait early.
        threading.Timer(0.1, waiter.wake).start()
        began = time.monotonic()
        assert waiter.wait(5) == []
        assert time.monotonic() - began < 2
    finally:
        waiter.close()


def test_a_job_added_from_another_thread_wakes_the_waiter(jobs):
    waiter = ExitWaiter(tick=5)
    try:
        job = shell(jobs, "exit 4")
        threading.Timer(0.1, waiter.add, [job]).start()
        began = time.monotonic()
        ended = []
        while not ended and time.monotonic() - began < 5:
            ended = waiter.wait(5)
        assert [(j, r.exit_code) for j, r in ended] == [(job, 4)]
        assert time.monotonic() - began < 2
    finally:
        waiter.close()


def test_no_descriptors_are_left_open(jobs):
    def descriptors():
        return len(os.listdir("/proc/self/fd"))

    waiter = ExitWaiter()
    try:
        finish(shell(jobs, "exit 0"))  # the first job opens what stays open (libc, ...)
        before = descriptors()
        for _ in range(20):
            job = shell(jobs, "exit 0", Out="out")
            waiter.add(job)
            assert waiter.wait(5)
            job.cleanup()
        assert descriptors() == before
    finally:
        waiter.close()


def test_the_waiter_sends_sigkill_after_a_vacates_grace(jobs):
    waiter = ExitWaiter(tick=0.5)
    try:
        job = shell(jobs, "trap '' TERM; sleep 30 & while :; do sleep 0.05; done")
        time.sleep(0.1)
        waiter.add(job)
        job.vacate(0.2)
        began = time.monotonic()
        ended = waiter.wait(5)
        assert [job for job, _ in ended] == [job]
        assert ended[0][1].exit_signal == signal.SIGKILL and ended[0][1].failure == "killed"
        assert time.monotonic() - began < 2
    finally:
        waiter.close()


# -- users ------------------------------------------------------------------------------------


@pytest.fixture
def other_user():
    """A throwaway account (useradd), or nobody when accounts cannot be made."""
    if not ROOT:
        pytest.skip("running jobs as another user needs root")
    name = f"roost{secrets.token_hex(3)}"
    made = shutil.which("useradd") and subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", name],
        capture_output=True).returncode == 0
    yield pwd.getpwnam(name if made else "nobody")
    if made:
        subprocess.run(["userdel", name], capture_output=True)


@pytest.fixture(params=["thread", "fork"])
def switch(request, monkeypatch):
    """Both ways of becoming the user: a thread that changes its own ids (the fast path),
    and setfsuid for the files with Popen switching user in a fork (the fallback)."""
    if request.param == "fork":
        monkeypatch.setattr(starter, "_SYSCALLS", {})
    return request.param


def test_a_job_runs_as_its_owner(jobs, other_user, switch):
    job = shell(jobs, "id -u > uid; id -g > gid; grep Cap[EP] /proc/self/status > caps",
                Owner=other_user.pw_name)
    assert finish(job).exit_code == 0
    assert int((job.sandbox / "uid").read_text()) == other_user.pw_uid
    assert int((job.sandbox / "gid").read_text()) == other_user.pw_gid
    assert job.sandbox.stat().st_uid == other_user.pw_uid
    assert (job.sandbox / ".job.ad").stat().st_uid == other_user.pw_uid
    assert job.user == other_user.pw_name
    assert {line.split()[1] for line in (job.sandbox / "caps").read_text().splitlines()} == {
        "0000000000000000"}  # no capability left
    assert os.geteuid() == 0 and os.getegid() == 0  # the startd itself is still root


def test_run_as_overrides_the_owner(jobs, other_user):
    job = shell(jobs, "id -u > uid", run_as=other_user.pw_name)
    finish(job)
    assert int((job.sandbox / "uid").read_text()) == other_user.pw_uid


def test_the_owners_files_are_opened_with_the_owners_rights(jobs, other_user, tmp_path,
                                                             switch):
    private = tmp_path / "root-only"
    private.mkdir(mode=0o700)
    job = jobs("/bin/true", Owner=other_user.pw_name, Out=str(private / "stolen"))
    result = job.poll()
    assert result.failure == "start-failed" and "Permission denied" in result.reason
    assert not (private / "stolen").exists()


def test_an_owner_unknown_here_is_refused(jobs):
    if not ROOT:
        pytest.skip("only a root startd switches users")
    result = jobs("/bin/true", Owner="no-such-user-here").poll()
    assert result.failure == "start-failed" and "does not exist" in result.reason


def test_what_a_dead_startd_left_behind_is_cleaned_up(execute_dir):
    gone = subprocess.Popen(["true"])
    gone.wait()  # a startd pid that no longer runs
    orphan = subprocess.Popen(["sleep", "60"], env={
        **os.environ, starter.FAMILY_VARIABLE: f"{gone.pid}.1.abc"})
    mine = subprocess.Popen(["sleep", "60"], env={
        **os.environ, starter.FAMILY_VARIABLE: f"{os.getppid()}.1.abc"})
    (execute_dir / f"dir_{gone.pid}_1").mkdir()
    (execute_dir / f"dir_{os.getppid()}_1").mkdir()
    try:
        assert starter.clean_up_after_a_dead_startd(execute_dir) >= 1
        assert orphan.wait(5) == -signal.SIGKILL
        assert mine.poll() is None  # a live startd's job is not touched
        assert sorted(p.name for p in execute_dir.iterdir()) == [f"dir_{os.getppid()}_1"]
    finally:
        mine.kill()
        mine.wait()
