"""Submit description → job ClassAds, through parse_submit only."""

from __future__ import annotations

from pathlib import Path

import pytest

import classad
from roost.submit_description import (
    SubmitError,
    complete_job_ad,
    looks_like_submit_file,
    parse_submit,
)

CWD = Path("/home/alice/run")


def plan(text: str, cwd: Path = CWD, **kwargs):
    return parse_submit(text, cwd=cwd, owner="alice", now=1700000000, **kwargs)


def jobs(text: str, cwd: Path = CWD) -> list[classad.ClassAd]:
    """Full per-proc ads: the cluster ad updated with each proc's own attributes."""
    result = plan(text, cwd)
    return [result.job(index) for index in range(len(result))]


def one(text: str) -> classad.ClassAd:
    (ad,) = jobs(text + "\nqueue\n")
    return ad


def test_defaults():
    ad = one("executable = /bin/true")
    expected = {"Cmd": "/bin/true", "Owner": "alice", "User": "alice", "QDate": 1700000000,
                "EnteredCurrentStatus": 1700000000, "JobStatus": 1, "Iwd": str(CWD),
                "RequestCpus": 1, "RequestMemory": 128, "JobPrio": 0, "NumJobStarts": 0,
                "OnExitRemove": True, "MyType": "Job", "TargetType": "Machine",
                "JobUniverse": 5, "ProcId": 0}
    assert {name: ad.eval(name) for name in expected} == expected
    assert ad.eval("RequestDisk") == 1024 * 1024


@pytest.mark.parametrize(("command", "attribute", "expected"), [
    ("arguments = a  b c", "Arguments", "a b c"),
    ('arguments = "a \'b c\' d"', "Arguments", "a 'b c' d"),
    ("environment = A=1;B=2", "Environment", "A=1 B=2"),
    ('environment = "A=1 B=2"', "Environment", "A=1 B=2"),
    ("input = in.txt", "In", "in.txt"),
    ("output = out.txt", "Out", "out.txt"),
    ("error = err.txt", "Err", "err.txt"),
    ("log = job.log", "UserLog", "job.log"),
    ("initialdir = sub", "Iwd", str(CWD / "sub")),
    ("initialdir = /abs", "Iwd", "/abs"),
    ("universe = scheduler", "JobUniverse", 7),
    ("universe = local", "JobUniverse", 12),
    ("priority = -3", "JobPrio", -3),
    ("concurrency_limits = db:2", "ConcurrencyLimits", "db:2"),
    ("accounting_group = physics", "AccountingGroup", "physics.alice"),
    ("should_transfer_files = yes", "ShouldTransferFiles", "YES"),
    ("transfer_input_files = a, b", "TransferInput", "a, b"),
    ("kill_sig = SIGUSR1", "KillSig", "SIGUSR1"),
    ("job_max_vacate_time = 2 * 60", "JobMaxVacateTime", 120),
])
def test_commands(command, attribute, expected):
    assert one(f"executable = x\n{command}").eval(attribute) == expected


@pytest.mark.parametrize(("command", "attribute", "expected"), [
    ("request_memory = 2048", "RequestMemory", 2048),
    ("request_memory = 2G", "RequestMemory", 2048),
    ("request_memory = 1.5 GB", "RequestMemory", 1536),
    ("request_memory = 512K", "RequestMemory", 1),
    ("request_disk = 1M", "RequestDisk", 1024),
    ("request_disk = 100", "RequestDisk", 100),
    ("request_disk = 1T", "RequestDisk", 1024**3),
    ("request_cpus = 4", "RequestCpus", 4),
])
def test_units(command, attribute, expected):
    assert one(f"executable = x\n{command}").eval(attribute) == expected


@pytest.mark.parametrize(("lines", "expected"), [
    ("name = world\narguments = hello $(name)", "hello world"),
    ("arguments = $(missing)x", "x"),
    ("arguments = $(missing:dflt)", "dflt"),
    ("arguments = $(ARCH) $(OPSYS)", "X86_64 LINUX"),
    ("arguments = $(Process) $(ProcId)", "0 0"),
    ("arguments = $$(Memory)", "$$(Memory)"),
    ("a = $(b)\nb = late\narguments = $(a)", "late"),
])
def test_macros(lines, expected):
    assert one(f"executable = x\n{lines}").eval("Arguments") == expected


def test_cluster_becomes_expression_on_cluster_id():
    result = plan("executable = x\noutput = out.$(Cluster).$(Process)\nqueue 2")
    ad = result.cluster_ad.copy()
    ad["ClusterId"] = 42
    for proc in result.procs:
        ad["ProcId"] = proc.eval("ProcId")
        ad["Out"] = proc.lookup("Out")
        assert ad.eval("Out") == f"out.42.{proc.eval('ProcId')}"


def _values(text: str, *names: str, cwd: Path = CWD) -> list[tuple]:
    body = "executable = x\narguments = " + " ".join(f"$({n})" for n in names) + "\n"
    return [(ad.eval("ProcId"), ad.eval("Arguments")) for ad in jobs(body + text, cwd)]


@pytest.mark.parametrize(("queue", "expected"), [
    ("queue", [(0, "0 0")]),
    ("queue 3", [(0, "0 0"), (1, "0 1"), (2, "0 2")]),
    ("queue 3 in (A, B)", [(0, "0 0 A"), (1, "0 1 A"), (2, "0 2 A"),
                           (3, "1 0 B"), (4, "1 1 B"), (5, "1 2 B")]),
    ("queue Item in (\n  A\n  B\n)", [(0, "0 0 A"), (1, "1 0 B")]),
    # ItemIndex is the item's place in the whole list, before the slice.
    ("queue in [1:] (a b c)", [(0, "1 0 b"), (1, "2 0 c")]),
    ("queue from (\n x\n y\n)", [(0, "0 0 x"), (1, "1 0 y")]),
])
def test_queue_forms(queue, expected):
    assert _values(queue, "ItemIndex", "Step", "Item") == expected


def test_queue_from_vars_and_file(tmp_path: Path):
    (tmp_path / "items.txt").write_text("a 1\nb 2, three\n")
    body = "queue 1 name, n from items.txt"
    assert _values(body, "name", "n", cwd=tmp_path) == [(0, "a 1"), (1, "b 2, three")]


def test_queue_matching(tmp_path: Path):
    for name in ("b.dat", "a.dat", "c.txt"):
        (tmp_path / name).write_text("")
    (tmp_path / "d.dat").mkdir()
    assert _values("queue f matching files *.dat", "f", cwd=tmp_path) == [
        (0, "a.dat"), (1, "b.dat")]
    assert _values("queue matching dirs *.dat", "Item", cwd=tmp_path) == [(0, "d.dat/")]


def test_several_queue_statements_number_procs_continuously():
    result = jobs("executable = x\narguments = one\nqueue 2\narguments = two\nqueue")
    assert [(ad.eval("ProcId"), ad.eval("Arguments")) for ad in result] == [
        (0, "one"), (1, "one"), (2, "two")]


def test_identical_procs_are_one_ad_and_a_count():
    result = plan("executable = x\narguments = a b\nqueue 1000000")
    assert (result.procs, result.count) == ([], 1_000_000)
    assert result.cluster_ad.eval("Arguments") == "a b"
    assert "ProcId" not in result.cluster_ad
    # A per-proc macro, or a second queue statement, makes the procs one by one.
    assert len(plan("executable = x\narguments = $(Process)\nqueue 3").procs) == 3
    result = plan("executable = x\nqueue 2\narguments = b\nqueue 1")
    assert [proc.eval("ProcId") for proc in result.procs] == [0, 1, 2]


def test_cluster_ad_holds_shared_and_procs_only_differences():
    result = plan("executable = x\narguments = $(Item)\nqueue in (a, b)")
    assert result.cluster_ad.eval("Cmd") == str(CWD / "x")
    assert "Arguments" not in result.cluster_ad
    assert [sorted(proc) for proc in result.procs] == [["Arguments", "ProcId"]] * 2


MACHINE = {"Arch": "X86_64", "OpSys": "LINUX", "Disk": 10**6, "Memory": 4096, "Cpus": 4,
           "HasFileTransfer": True, "FileSystemDomain": "other"}


@pytest.mark.parametrize(("lines", "change", "matches"), [
    ("", {}, True),
    ("", {"Arch": "ARM"}, False),
    ("", {"OpSys": "WINDOWS"}, False),
    ("request_memory = 8G", {}, False),
    ("request_cpus = 8", {}, False),
    ("request_disk = 2G", {}, False),
    ("requirements = TARGET.Memory > 5000", {}, False),
    ("requirements = TARGET.Cpus == 4", {}, True),
    ("should_transfer_files = YES", {}, True),
    ("should_transfer_files = YES", {"HasFileTransfer": False}, False),
    ("should_transfer_files = NO", {}, False),
    ("should_transfer_files = IF_NEEDED", {"HasFileTransfer": False}, False),
    ("should_transfer_files = IF_NEEDED", {"FileSystemDomain": "here"}, True),
    ("requirements = TARGET.Arch == \"ARM\"", {"Arch": "ARM"}, True),
    ("requirements = TARGET.Memory >= 1\nrequest_memory = 8G", {}, True),
])
def test_requirements_augmentation(lines, change, matches):
    job = one(f"executable = x\nrequest_disk = 100\n{lines}")
    job["FileSystemDomain"] = "here"
    machine = classad.ClassAd()
    machine["Requirements"] = True
    for name, value in {**MACHINE, **change}.items():
        machine[name] = value
    assert machine.matches(job) is matches


def test_hold():
    ad = one("executable = x\nhold = true")
    assert (ad.eval("JobStatus"), ad.eval("HoldReasonCode")) == (5, 15)


@pytest.mark.parametrize(("completions", "exit_code", "removed"), [
    (1, 0, True), (1, 3, False), (1, 7, True), (3, 3, True),
])
def test_retries(completions, exit_code, removed):
    ad = one("executable = x\nmax_retries = 2\nretry_until = 7")
    assert ad.eval("JobMaxRetries") == 2
    ad["NumJobCompletions"] = completions
    ad["ExitCode"] = exit_code
    assert ad.eval("OnExitRemove") is removed


def test_on_exit_remove_is_ored_with_retries():
    ad = one("executable = x\non_exit_remove = ExitCode == 9\nsuccess_exit_code = 1")
    assert ad.eval("JobMaxRetries") == 2
    ad["NumJobCompletions"] = 1
    removed = []
    for code in (9, 1, 0):
        ad["ExitCode"] = code
        removed.append(ad.eval("OnExitRemove"))
    assert removed == [True, True, False]


def test_policy_and_custom_attributes():
    ad = one("executable = x\nperiodic_hold = NumJobStarts > 3\n+Project = \"roost\"\n"
             "MY.Weight = 2 * 3\nrank = TARGET.Memory")
    assert str(ad.lookup("PeriodicHold")) == "NumJobStarts > 3"
    assert (ad.eval("Project"), ad.eval("Weight")) == ("roost", 6)
    assert str(ad.lookup("Rank")) == "TARGET.Memory"


@pytest.mark.parametrize(("text", "message"), [
    ("executable = x\nthis is wrong\nqueue", "f.sub:2:1: unknown syntax"),
    ("executable = x\nrequirements = Memory >\nqueue", "f.sub:2:24: bad expression"),
    ("executable = x\n  +A = (1\nqueue", "f.sub:2:10: bad expression"),
    ("executable = x\nrequest_memory = 2 +\nqueue", "f.sub:2:21: bad expression"),
    ("arguments = x\nqueue", "f.sub:2:1: no executable"),
    ("executable = x\nqueue 2 in [x] (a)", "f.sub:2:12: bad slice"),
    ("executable = x\nqueue from missing.txt", "f.sub:2:12: cannot read"),
    ("executable = x\nuniverse = moon\nqueue", "f.sub:2:12: unknown universe"),
    ("executable = x\n", "f.sub:1:1: no queue statement"),
    ("executable = x\na = $(a)\narguments = $(a)\nqueue", "f.sub:3:13: macro expansion"),
    ("executable = x\nmax_retries = many\nqueue", "f.sub:2:15: bad number"),
    # HTCondor's translator ends the process on these; condor_submit refuses the file.
    ("executable = x\narguments = $INT(nope)\nqueue", "f.sub:2:13: $INT(): 'nope'"),
    ("executable = x\narguments = $CHOICE(5, a, b)\nqueue", "f.sub:2:13: $CHOICE(): index"),
    ("executable = x\nkill_sig = SIGNOPE\nqueue", "f.sub:2:12: no such signal"),
    ("executable = x\nnotification = sometimes\nqueue", "f.sub:2:16: bad notification"),
    ("executable = x\nshould_transfer_files = NO\ntransfer_input_files = a\nqueue",
     "f.sub:3:24: transfer_input_files needs should_transfer_files"),
    ("executable = x\n  docker_image = alpine\nqueue", "f.sub:2:3: docker_image is not supported"),
    ("executable = x\nuniverse = vm\nqueue", "f.sub:2:12: universe vm is not supported"),
    ("executable = x\nqueue f matching *.nomatch", "f.sub:2:1: the queue statements found no"),
])
def test_errors(text, message):
    with pytest.raises(SubmitError) as error:
        plan(text, filename="f.sub")
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_getenv_copies_the_submitters_environment_under_the_files_own():
    environ = {"HOME": "/home/alice", "LANG": "C", "ROOST_X": "1"}
    ad = plan("executable = x\ngetenv = true\nenvironment = \"LANG=en X='a b'\"\nqueue",
              environ=environ).job(0)
    assert classad.job_environment(ad.eval("Environment")) == {
        "HOME": "/home/alice", "LANG": "en", "ROOST_X": "1", "X": "a b"}
    ad = plan("executable = x\ngetenv = home, ROOST_*\nqueue", environ=environ).job(0)
    assert classad.job_environment(ad.eval("Environment")) == {
        "HOME": "/home/alice", "ROOST_X": "1"}


def test_unknown_commands_are_submit_variables():
    ad = one("executable = x\nmy_setting = 42\narguments = --n $(my_setting)")
    assert ad.eval("Arguments") == "--n 42" and "my_setting" not in ad


@pytest.mark.parametrize(("text", "expected"), [
    ("executable = x\nqueue 3\n", True),
    ("# comment\nexecutable = x\nQueue\n", True),
    ("MyType = \"Job\"\nCmd = \"x\"\n", False),
    ("[ Cmd = \"x\"; queue = 1 ]", False),
    ("Cmd = \"x\"\nqueue = 1\n", False),
])
def test_looks_like_submit_file(text, expected):
    assert looks_like_submit_file(text) is expected


def test_a_job_ad_given_as_is_becomes_a_new_job():
    template = classad.parse_one(
        'Cmd = "/bin/x"\nClusterId = 9\nProcId = 4\nOwner = "mallory"\nQDate = 5\n'
        'JobStatus = 4\nExitCode = 1\nNumJobStarts = 3\nGlobalJobId = "a#9.4#5"\n'
        'Requirements = TARGET.Memory > 10\nRequestCpus = 2\n')
    job = complete_job_ad(template, owner="alice", now=1700000000, cwd=CWD)
    assert {name: job.eval(name) for name in ("Owner", "User", "QDate", "JobStatus",
                                                "NumJobStarts", "RequestCpus", "Iwd")} == {
        "Owner": "alice", "User": "alice", "QDate": 1700000000, "JobStatus": 1,
        "NumJobStarts": 0, "RequestCpus": 2, "Iwd": str(CWD)}
    for name in ("ClusterId", "ProcId", "ExitCode", "GlobalJobId"):
        assert name not in job
    requirements = str(job.lookup("Requirements"))
    assert requirements.startswith("(TARGET.Memory > 10) && ")
    assert "TARGET.Memory >= RequestMemory" not in requirements  # the user's own clause
    assert 'TARGET.OpSys == "LINUX"' in requirements
    held = complete_job_ad(classad.ClassAd({"Cmd": "/bin/x", "JobStatus": 5, "HoldReason": "wait",
                                            "HoldReasonCode": 15}), owner="a", now=1, cwd=CWD)
    assert (held.eval("JobStatus"), held.eval("HoldReason")) == (5, "wait")


def test_random_integer_draws_in_range_and_step_for_each_job():
    ads = jobs("executable = x\narguments = $RANDOM_INTEGER(0, 8, 2) $RANDOM_INTEGER(3,5)\n"
               "queue 200\n")
    draws = [tuple(int(v) for v in ad.eval("Arguments").split()) for ad in ads]
    assert {even for even, _ in draws} == {0, 2, 4, 6, 8}  # every value, none other
    assert {small for _, small in draws} == {3, 4, 5}


def test_random_choice_draws_one_of_its_arguments_for_each_job():
    ads = jobs("executable = x\narguments = $RANDOM_CHOICE(red, green,blue)\nqueue 100\n")
    assert {ad.eval("Arguments") for ad in ads} == {"red", "green", "blue"}


@pytest.mark.parametrize(("call", "message"), [
    ("$RANDOM_INTEGER(5, 1)", "no integer in that range"),
    ("$RANDOM_INTEGER(1, 5, 0)", "no integer in that range"),
    ("$RANDOM_INTEGER(a, 5)", "takes integers"),
    ("$RANDOM_INTEGER(1)", "takes integers"),
])
def test_random_integer_refuses_what_it_cannot_draw(call, message):
    with pytest.raises(SubmitError, match=rf"^f\.sub:2:13: .*{message}"):
        parse_submit(f"executable = x\narguments = {call}\nqueue\n", filename="f.sub",
                     cwd=CWD, owner="alice", now=0)


def test_unclosed_macro_is_literal_text():
    assert one("executable = x\narguments = a$(b $(c").eval("Arguments") == "a$(b $(c"


def test_parents_is_roosts_extension():
    # Not condor_submit's: a roost job's parents in the queue (schedd.dependencies).
    result = plan("executable = /bin/true\nparents = 12, 13.4\n"
                  "parents_satisfied_by = finished\nqueue 2\n")
    assert result.cluster_ad.eval("Parents") == "12, 13.4"
    assert result.cluster_ad.eval("ParentsSatisfiedBy") == "finished"
    assert [result.job(i).eval("Parents") for i in range(2)] == ["12, 13.4"] * 2
    assert not any("Parents" in proc for proc in result.procs)
