"""``roost q`` and ``roost history``: condor_q's options in both spellings, the constraint
sent to the schedd, and the commands run against a fake schedd."""

import subprocess
import sys
import textwrap

import pytest

from classad import ClassAd, ExprTree
from roost import cli
from roost.ad_format import format_date
from roost.client import ClusterSummary, QueueSummary
from roost.errors import UsageError
from schedd import q_cli
from schedd.q_cli import Options, build_constraint, parse_history, parse_q
from schedd.q_format import header

NOW = 1_700_003_600
T0 = 1_700_000_000
# Dates and times in the local time zone; test_q_format checks them to the character in UTC.
SUBMITTED, HELD, DONE = format_date(T0), format_date(T0 + 60), format_date(NOW)
TITLE = header("schedd@submit", "127.0.0.1:9618", NOW)


# -- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize("args, expected", [
    ([], Options()),
    (["-nobatch"], Options(batch=False)),
    (["--nob"], Options(batch=False)),
    (["-nob", "-batch"], Options()),
    (["-dag"], Options(dag=True)),
    (["-hold"], Options(hold=True)),
    (["--ho"], Options(hold=True)),
    (["-held"], Options(hold=True)),
    (["-r"], Options(run=True)),
    (["--run"], Options(run=True)),
    (["-al"], Options(all_users=True)),
    (["--allusers"], Options(all_users=True)),
    (["-all-users"], Options(all_users=True)),
    (["-tot"], Options(totals_only=True)),
    (["-l"], Options(style="long")),
    (["--long"], Options(style="long")),
    (["-js"], Options(style="json")),
    (["-af", "Owner", "JobStatus", "-nob"],
     Options(style="af", attrs=["Owner", "JobStatus"], batch=False)),
    (["--autoformat", "Owner", "-", "12"], Options(style="af", attrs=["Owner"], jobs=[(12, None)])),
    (["-c", "JobPrio > 0", "--const", "RequestCpus > 1"],
     Options(constraints=["JobPrio > 0", "RequestCpus > 1"])),
    (["-lim", "5"], Options(limit=5)),
    (["--limit", "0"], Options()),
    (["12", "12.3", "alice"], Options(jobs=[(12, None), (12, 3)], owners=["alice"])),
    (["-h"], Options(help=True)),
    (["--help"], Options(help=True)),
])
def test_q_options_in_both_spellings(args, expected):
    assert parse_q(args) == expected


@pytest.mark.parametrize("args, message", [
    (["-frob"], "unknown option '-frob'"),
    (["-no"], "unknown option '-no'"),
    (["-a"], "unknown option '-a'"),
    (["-li", "3"], "unknown option '-li'"),
    (["-constraint"], "-constraint needs a value"),
    (["-limit", "many"], "-limit needs a whole number"),
    (["-limit", "-1"], "-limit needs a number of jobs, not -1"),
    (["-af"], "-af needs at least one attribute"),
    (["-af:h", "Owner"], "qualifiers are not supported"),
    (["-run", "-hold"], "-run and -hold are incompatible"),
    (["-tot", "-json"], "cannot go with -json"),
    ([""], "neither a job id nor a user"),
])
def test_bad_q_command_lines(args, message):
    with pytest.raises(UsageError, match=message):
        parse_q(args)


@pytest.mark.parametrize("args, expected", [
    (["-m", "3"], Options(batch=False, limit=3)),
    (["--match", "3"], Options(batch=False, limit=3)),
    (["-lim", "3"], Options(batch=False, limit=3)),
    (["-att"], Options(batch=False, attempts=True)),
    (["--attempts", "7"], Options(batch=False, attempts=True, jobs=[(7, None)])),
    (["-json", "-c", "ExitCode != 0"], Options(batch=False, style="json",
                                                constraints=["ExitCode != 0"])),
])
def test_history_options(args, expected):
    assert parse_history(args) == expected


@pytest.mark.parametrize("args, message", [
    (["-js"], "unknown option '-js'"),
    (["-nobatch"], "unknown option '-nobatch'"),
    (["-attempts", "-long"], "-attempts cannot go with -long"),
])
def test_bad_history_command_lines(args, message):
    with pytest.raises(UsageError, match=message):
        parse_history(args)


# -- the constraint --------------------------------------------------------------------------


@pytest.mark.parametrize("args, user, constraint", [
    ([], "alice", 'Owner == "alice"'),
    ([], None, ""),
    (["-allusers"], "alice", ""),
    (["12"], "alice", "ClusterId == 12"),
    (["12.3"], "alice", "ClusterId == 12 && ProcId == 3"),
    (["bob", "12", "12.3"], "alice",
     '(Owner == "bob") || (ClusterId == 12) || (ClusterId == 12 && ProcId == 3)'),
    (["-hold"], "alice", '(Owner == "alice") && (JobStatus == 5)'),
    (["-run", "-allusers"], "alice", "JobStatus == 2 || JobStatus == 6 || JobStatus == 7"),
    (["-c", "JobPrio > 0", "bob", "7"], "alice",
     '(JobPrio > 0) && ((Owner == "bob") || (ClusterId == 7))'),
    (["-c", "a", "-c", "b", "-hold", "8"], "alice",
     "(a) && (b) && (JobStatus == 5) && (ClusterId == 8)"),
    (['we"ird'], "alice", 'Owner == "we\\"ird"'),
])
def test_arguments_and_constraints_make_one_constraint(args, user, constraint):
    assert build_constraint(parse_q(args), user) == constraint


# -- the commands against a fake schedd ------------------------------------------------------


def job(cluster_id, proc, status=1, **attrs):
    return ClassAd({"ClusterId": cluster_id, "ProcId": proc, "Owner": "alice", "QDate": T0,
                    "JobStatus": status, "JobPrio": 0, "Cmd": "/bin/sleep", **attrs})


class FakeSchedd:
    """Answers as a schedd would, and remembers what it was asked."""

    user = "alice"

    def __init__(self):
        self.asked = []
        self.jobs = [job(7, 1, 5, HoldReason="via roost hold", HoldReasonCode=1,
                         HoldReasonSubCode=0, EnteredCurrentStatus=T0 + 60),
                     job(7, 0, 2, JobCurrentStartDate=NOW - 61, MemoryUsage=3)]
        self.finished = [
            job(9, 0, 4, CompletionDate=NOW, RemoteWallClockTime=10.0, Attempts=ExprTree(
                '{ [ Attempt = 1; Host = "n1"; ExitCode = 0; Outcome = "completed" ] }')),
            job(8, 0, 3)]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def summarize(self, constraint=""):
        self.asked.append(("summarize", constraint))
        return QueueSummary(
            [ClusterSummary(7, "alice", "", T0, "/bin/sleep", 2, {2: 1, 5: 1}, 0, 1, 0)],
            {"alice": {2: 1, 5: 1}, "bob": {1: 3}}, "schedd@submit", "127.0.0.1:9618")

    def iter_query(self, constraint="", projection=(), limit=0):
        self.asked.append(("query", constraint, list(projection), limit))
        return iter(self.jobs)

    def history(self, constraint="", projection=(), match=0):
        self.asked.append(("history", constraint, list(projection), match))
        return iter(self.finished)


@pytest.fixture
def schedd(monkeypatch):
    fake = FakeSchedd()
    monkeypatch.setattr(q_cli, "connect", lambda: fake)
    monkeypatch.setattr(q_cli, "clock", lambda: NOW)
    return fake


TOTALS = (
    "\n"
    "Total for query: 2 jobs; 0 completed, 0 removed, 0 idle, 1 running, 1 held, "
    "0 suspended \n"
    "Total for alice: 2 jobs; 0 completed, 0 removed, 0 idle, 1 running, 1 held, "
    "0 suspended \n"
    "Total for all users: 5 jobs; 0 completed, 0 removed, 3 idle, 1 running, 1 held, "
    "0 suspended\n")


def run(capsys, *args):
    """``roost ARGS`` through the dispatcher: exit status, standard output and error."""
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_q_shows_your_batches_from_counts_alone(schedd, capsys):
    assert run(capsys, "q") == (0, TITLE + (
        "OWNER BATCH_NAME    SUBMITTED   DONE   RUN    IDLE   HOLD  TOTAL JOB_IDS\n"
        f"alice ID: 7       {SUBMITTED}      _      1      _      1      2 7.0-1\n") + TOTALS,
        "")
    assert schedd.asked == [("summarize", 'Owner == "alice"')]


def test_q_nobatch_asks_for_its_columns_only(schedd, capsys):
    code, out, _ = run(capsys, "q", "--nob", "-lim", "10")
    assert code == 0 and out == TITLE + (
        " ID      OWNER            SUBMITTED     RUN_TIME ST PRI SIZE CMD\n"
        f"   7.0   alice          {SUBMITTED}   0+00:01:01 R  0    3.0 sleep\n"
        f"   7.1   alice          {SUBMITTED}   0+00:00:00 H  0        sleep\n") + TOTALS
    (_, constraint), (_, query_constraint, projection, limit) = schedd.asked
    assert constraint == query_constraint == 'Owner == "alice"' and limit == 10
    assert {"ClusterId", "ProcId", "Owner", "QDate", "JobStatus", "Cmd"} <= set(projection)
    assert "HoldReason" not in projection


def test_q_dag_asks_for_the_nodes_names(schedd, capsys):
    code, out, _ = run(capsys, "q", "-dag")
    assert code == 0 and out.startswith(TITLE + (
        " ID      OWNER/NODENAME   SUBMITTED     RUN_TIME ST PRI SIZE CMD\n"))
    (_, _, projection, _) = schedd.asked[1]
    assert {"DAGManJobId", "DAGNodeName", "Owner"} <= set(projection)


def test_q_hold_and_totals(schedd, capsys):
    code, out, _ = run(capsys, "q", "-hold")
    assert code == 0 and out.startswith(TITLE + (
        " ID      OWNER          HELD_SINCE  CODE/SUB HOLD_REASON\n"))
    assert f"   7.1   alice          {HELD}    1/0   via roost hold\n" in out
    assert schedd.asked[0] == ("summarize", '(Owner == "alice") && (JobStatus == 5)')
    assert run(capsys, "q", "-tot", "-allusers") == (0, TITLE + (
        "Total for query: 2 jobs; 0 completed, 0 removed, 0 idle, 1 running, 1 held, "
        "0 suspended \n"
        "Total for all users: 5 jobs; 0 completed, 0 removed, 3 idle, 1 running, 1 held, "
        "0 suspended\n"), "")


def test_q_autoformat_long_and_json(schedd, capsys):
    # The attributes run up to the next option: a job id after them would be one more.
    assert run(capsys, "q", "7", "-af", "ClusterId", "ProcId", "JobStatus * 10") == (
        0, "7 0 20\n7 1 50\n", "")
    assert schedd.asked[-1] == ("query", "ClusterId == 7", ["ClusterId", "JobStatus", "ProcId"],
                                0)
    code, out, _ = run(capsys, "q", "--long")
    assert code == 0 and out.startswith("ClusterId = 7\n") and "\n\nClusterId = 7\n" in out
    assert schedd.asked[-1] == ("query", 'Owner == "alice"', [], 0)
    code, out, _ = run(capsys, "q", "-json")
    assert code == 0 and out.startswith("[\n{\n") and out.endswith("}\n]\n")


def test_a_bad_expression_is_one_line_and_never_sent(schedd, capsys):
    assert run(capsys, "q", "-constraint", "JobPrio >") == (
        1, "", "roost: constraint:1:10: unexpected end of input\n")
    assert run(capsys, "history", "-af", "Owner", "1 +") == (
        1, "", "roost: af:1:4: unexpected end of input\n")
    assert run(capsys, "q", "-frob") == (
        2, "", "roost: unknown option '-frob' (see 'roost q -help')\n")
    assert schedd.asked == []


def test_history_newest_first_and_attempts(schedd, capsys):
    assert run(capsys, "history", "-m", "2", "alice") == (0, (
        " ID          OWNER            SUBMITTED   RUN_TIME   ST   COMPLETED CMD\n"
        f"9.0          alice          {SUBMITTED}   0+00:00:10 C  {DONE} sleep\n"
        f"8.0          alice          {SUBMITTED}   0+00:00:00 X              sleep\n"), "")
    _, constraint, projection, match = schedd.asked[-1]
    assert constraint == 'Owner == "alice"' and match == 2 and "CompletionDate" in projection
    code, out, _ = run(capsys, "history", "-attempts")
    assert code == 0 and out.splitlines()[1].split() == ["9.0", "1", "n1", "0", "completed"]
    assert schedd.asked[-1] == ("history", "", ["ClusterId", "ProcId", "Attempts"], 0)


def test_help_is_instant_it_imports_neither_grpc_nor_classad():
    script = textwrap.dedent("""
        import contextlib, io, sys
        from roost.cli import main
        with contextlib.redirect_stdout(io.StringIO()) as out:
            assert main(["q", "-help"]) == 0
            assert main(["history", "--help"]) == 0
        assert out.getvalue().startswith("usage: roost q")
        assert "usage: roost history" in out.getvalue()
        print("\\n".join(sys.modules))
        """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    heavy = {"classad", "grpc", "google.protobuf", "ply", "roost.client", "schedd.q_format"}
    assert heavy.isdisjoint(result.stdout.split())
