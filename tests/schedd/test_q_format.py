"""``schedd.q_format``: condor_q's and condor_history's layouts, to the character, on
hand-built cluster summaries and job ads, in UTC at a fixed ``now``."""

import time

import pytest

from classad import ClassAd, ExprTree
from roost.client import ClusterSummary, QueueSummary
from schedd import q_format as q

NOW = 1_700_003_600  # 11/14/23 23:13:20 UTC
T0 = 1_700_000_000  # 11/14 22:13


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def cluster(cluster_id, owner="alice", batch_name="", qdate=T0, total=1, counts=None,
            first=0, last=0, completed=0):
    return ClusterSummary(cluster_id, owner, batch_name, qdate, "/bin/sleep", total,
                          counts or {}, first, last, completed)


def summary(clusters=(), owners=None):
    return QueueSummary(list(clusters), owners or {}, "schedd@submit", "127.0.0.1:9618")


TITLE = "\n\n-- Schedd: schedd@submit : <127.0.0.1:9618> @ 11/14/23 23:13:20\n"


def job(cluster_id, proc, status=1, **attrs):
    return ClassAd({"ClusterId": cluster_id, "ProcId": proc, "Owner": "alice", "QDate": T0,
                    "JobStatus": status, "JobPrio": 0, "Cmd": "/usr/bin/sleep", **attrs})


# -- title and totals ----------------------------------------------------------------------


def test_title_is_condor_qs_after_two_blank_lines():
    assert q.header("schedd@submit", "127.0.0.1:9618", NOW) == TITLE
    assert q.header("s", "<10.0.0.1:9618?...>", NOW).endswith(
        "-- Schedd: s : <10.0.0.1:9618?...> @ 11/14/23 23:13:20\n")


def test_footer_totals_the_query_the_user_and_everyone():
    s = summary([cluster(1, counts={1: 2, 2: 1}), cluster(2, counts={5: 1, 6: 1, 7: 1})],
                owners={"alice": {1: 2, 2: 1, 5: 1, 6: 1, 7: 1}, "bob": {3: 4, 4: 2}})
    assert q.footer(s, "alice") == (
        "\n"
        "Total for query: 6 jobs; 0 completed, 0 removed, 2 idle, 2 running, 1 held, "
        "1 suspended \n"
        "Total for alice: 6 jobs; 0 completed, 0 removed, 2 idle, 2 running, 1 held, "
        "1 suspended \n"
        "Total for all users: 12 jobs; 2 completed, 4 removed, 2 idle, 2 running, 1 held, "
        "1 suspended\n")
    assert q.footer(summary(), None, totals_only=True) == (
        "Total for query: 0 jobs; 0 completed, 0 removed, 0 idle, 0 running, 0 held, "
        "0 suspended \n"
        "Total for all users: 0 jobs; 0 completed, 0 removed, 0 idle, 0 running, 0 held, "
        "0 suspended\n")
    assert "Total for carol: 0 jobs;" in q.footer(s, "carol")


# -- the batch view ------------------------------------------------------------------------


def test_batch_view_rolls_named_batches_and_shows_hold_only_when_held():
    s = summary([
        cluster(7, total=10, counts={1: 8, 2: 2}, first=0, last=9),
        cluster(8, batch_name="sweep", qdate=T0 + 120, total=5, counts={2: 1, 5: 1},
                first=2, last=4, completed=3),
        cluster(9, batch_name="sweep", qdate=T0 + 60, total=5, counts={1: 5}, first=0,
                last=4),
        cluster(11, owner="bob", batch_name="sweep", total=4, counts={1: 1}, first=3, last=3,
                completed=3),
    ], owners={"alice": {1: 13, 2: 3, 5: 1}, "bob": {1: 1}})
    assert q.queue_text(s, q.BATCH, now=NOW, user="alice") == TITLE + (
        "OWNER BATCH_NAME    SUBMITTED   DONE   RUN    IDLE   HOLD  TOTAL JOB_IDS\n"
        "alice ID: 7       11/14 22:13      _      2      8      _     10 7.0-9\n"
        "alice sweep       11/14 22:14      3      1      5      1     10 8.2 ... 9.4\n"
        "bob   sweep       11/14 22:13      3      _      1      _      4 11.3\n"
        "\n"
        "Total for query: 18 jobs; 0 completed, 0 removed, 14 idle, 3 running, 1 held, "
        "0 suspended \n"
        "Total for alice: 17 jobs; 0 completed, 0 removed, 13 idle, 3 running, 1 held, "
        "0 suspended \n"
        "Total for all users: 18 jobs; 0 completed, 0 removed, 14 idle, 3 running, 1 held, "
        "0 suspended\n")
    no_held = summary([cluster(7, owner="bob", counts={1: 1}, total=123456)])
    assert q.batch_table(q.batches(no_held.clusters)) == (
        "OWNER    BATCH_NAME    SUBMITTED   DONE   RUN    IDLE  TOTAL JOB_IDS\n"
        "bob      ID: 7       11/14 22:13      _      _      1 123456 7.0\n")


def test_an_empty_queue_shows_every_heading_at_its_registered_width():
    assert q.queue_text(summary(), q.BATCH, now=NOW) == TITLE + (
        "OWNER BATCH_NAME      SUBMITTED   DONE   RUN    IDLE   HOLD  TOTAL JOB_IDS\n"
        "\n"
        "Total for query: 0 jobs; 0 completed, 0 removed, 0 idle, 0 running, 0 held, "
        "0 suspended \n"
        "Total for all users: 0 jobs; 0 completed, 0 removed, 0 idle, 0 running, 0 held, "
        "0 suspended\n")


@pytest.mark.parametrize("first, last, ids", [
    ((7, 3), (7, 3), "7.3"),
    ((7, 0), (7, 9), "7.0-9"),
    ((3, 0), (5, 4), "3.0 ... 5.4"),
])
def test_job_ids_as_condor_q_writes_them(first, last, ids):
    assert q.Batch("a", "b", 0, 0, 0, 0, 0, 0, first, last).job_ids == ids


def test_a_narrow_terminal_squeezes_owner_and_batch_name_and_cuts_lines():
    s = summary([cluster(12345678, owner="averyveryverylongowner",
                         batch_name="a-rather-long-batch-name-indeed", counts={1: 1},
                         first=0, last=999)])
    piped = q.batch_table(q.batches(s.clusters)).splitlines()
    assert piped[1].startswith("averyveryverylongowner a-rather-long-batch-name-indeed ")
    lines = q.batch_table(q.batches(s.clusters), terminal_width=80).splitlines()
    assert lines == [  # the owner cut to 10, the batch name's column 13 wide, lines to 79
        "OWNER      BATCH_NAME       SUBMITTED   DONE   RUN    IDLE  TOTAL JOB_IDS",
        "averyveryv a-rather-long-batch-name-indeed  11/14 22:13      _      _      1   ",
    ]


# -- the job views -------------------------------------------------------------------------


def queue_jobs():
    return [
        job(7, 1, 5, ImageSize=2500, JobPrio=-3, HoldReason="via roost hold",
            HoldReasonCode=1, HoldReasonSubCode=0, EnteredCurrentStatus=T0 + 1000,
            RemoteWallClockTime=90.0),
        job(7, 0, 2, JobCurrentStartDate=NOW - 600, RemoteWallClockTime=60.0, MemoryUsage=12,
            Arguments="60", RemoteHost="slot1@node1.example.org"),
        job(12, 0, 1, Owner="bob", JobDescription="nightly build"),
    ]


def test_nobatch_view():
    s = summary([cluster(7, counts={1: 1, 2: 1})], owners={"alice": {2: 1, 5: 1}})
    assert q.queue_text(s, q.NOBATCH, queue_jobs(), now=NOW) == TITLE + (
        " ID      OWNER            SUBMITTED     RUN_TIME ST PRI SIZE CMD\n"
        "   7.0   alice          11/14 22:13   0+00:11:00 R  0   12.0 sleep 60\n"
        "   7.1   alice          11/14 22:13   0+00:01:30 H  -3   2.4 sleep\n"
        "  12.0   bob            11/14 22:13   0+00:00:00 I  0        (nightly build)\n"
        "\n"
        "Total for query: 2 jobs; 0 completed, 0 removed, 1 idle, 1 running, 0 held, "
        "0 suspended \n"
        "Total for all users: 2 jobs; 0 completed, 0 removed, 0 idle, 1 running, 1 held, "
        "0 suspended\n")


def test_dag_view_puts_a_dags_nodes_together_under_their_names():
    ads = [job(20, 0, Owner="bob"),
           job(12, 0, 2, DAGManJobId=10, DAGNodeName="B", JobCurrentStartDate=NOW - 60),
           job(11, 0, 4, DAGManJobId=10, DAGNodeName="A"),
           job(9, 0),
           job(13, 0, 8, DAGManJobId=10, DAGNodeName="a_very_long_node_name")]
    text = q.queue_text(summary(), q.DAG, ads, now=NOW)
    assert text.startswith(TITLE + (
        " ID      OWNER/NODENAME   SUBMITTED     RUN_TIME ST PRI SIZE CMD\n"
        "   9.0   alice          11/14 22:13   0+00:00:00 I  0        sleep\n"
        "  11.0    |-A           11/14 22:13   0+00:00:00 C  0        sleep\n"
        "  12.0    |-B           11/14 22:13   0+00:01:00 R  0        sleep\n"
        "  13.0    |-a_very_long_node_name 11/14 22:13   0+00:00:00 W  0        sleep\n"
        "  20.0   bob            11/14 22:13   0+00:00:00 I  0        sleep\n"))
    assert {"DAGManJobId", "DAGNodeName", "Owner"} <= set(q.projection(q.DAG))


def test_hold_view_has_code_and_subcode():
    held = [ad for ad in queue_jobs() if ad["JobStatus"] == 5]
    text = q.queue_text(summary(), q.HOLD, held, now=NOW, user="alice")
    assert text.startswith(TITLE + (
        " ID      OWNER          HELD_SINCE  CODE/SUB HOLD_REASON\n"
        "   7.1   alice          11/14 22:30    1/0   via roost hold\n"
        "\n"
        "Total for query: 0 jobs;"))


def test_run_view_shows_hosts_and_no_totals():
    running = [ad for ad in queue_jobs() if ad["JobStatus"] == 2]
    assert q.queue_text(summary(), q.RUN, running, now=NOW) == TITLE + (
        " ID      OWNER            SUBMITTED     RUN_TIME HOST(S)\n"
        "   7.0   alice          11/14 22:13   0+00:11:00 slot1@node1.example.org\n")


def test_totals_only():
    s = summary([cluster(1, counts={1: 1})], owners={"alice": {1: 1}})
    assert q.queue_text(s, q.NOBATCH, now=NOW, user="alice", totals_only=True) == TITLE + (
        "Total for query: 1 jobs; 0 completed, 0 removed, 1 idle, 0 running, 0 held, "
        "0 suspended \n"
        "Total for alice: 1 jobs; 0 completed, 0 removed, 1 idle, 0 running, 0 held, "
        "0 suspended \n"
        "Total for all users: 1 jobs; 0 completed, 0 removed, 1 idle, 0 running, 0 held, "
        "0 suspended\n")


def test_big_ids_and_long_owners_widen_their_columns():
    ads = [job(123456, 1000, 1, Owner="a-very-long-user-name", MemoryUsage=123456),
           job(7, 0, 1)]
    assert q.job_table(q.sort_jobs(ads), q.NOBATCH, NOW).splitlines() == [
        " ID         OWNER            SUBMITTED     RUN_TIME ST PRI SIZE     CMD",
        "     7.0    alice          11/14 22:13   0+00:00:00 I  0            sleep",
        "123456.1000 a-very-long-user-name 11/14 22:13   0+00:00:00 I  0   123456.0 sleep",
    ]
    # On a terminal wider than 80 the OWNER column fits the longest owner.
    wide = q.job_table(q.sort_jobs(ads), q.NOBATCH, NOW, terminal_width=100).splitlines()
    assert wide[0].startswith(" ID         OWNER                   SUBMITTED")
    assert wide[1].startswith("     7.0    alice                 11/14 22:13")


def test_history_view():
    ads = [job(9, 0, 4, CompletionDate=NOW, RemoteWallClockTime=3725.0, Arguments="1 2"),
           job(8, 0, 3, RemoteUserCpu=5.0)]
    assert q.job_table(ads, q.HISTORY, NOW) == (
        " ID          OWNER            SUBMITTED   RUN_TIME   ST   COMPLETED CMD\n"
        "9.0          alice          11/14 22:13   0+01:02:05 C  11/14 23:13 sleep 1 2\n"
        "8.0          alice          11/14 22:13   0+00:00:05 X              sleep\n")


def test_attempts_print_what_each_attempt_records():
    attempts = ExprTree(
        '{ [ Attempt = 1; Host = "node1"; Start = 1700000000; End = 1700000060; '
        'ExitCode = 1; Failure = "exit"; Reason = "exited with code 1"; CpuSeconds = 59.5; '
        'PeakMemoryMB = 120; WallSeconds = 60.0; Outcome = "requeued" ], '
        '[ Attempt = 2; Host = "node2"; Start = 1700000100; ExitSignal = 9; '
        'Failure = "signal"; Outcome = "held" ] }')
    ads = [job(7, 0, 5, Attempts=attempts), job(7, 1, 1), job(8, 0, 4, Attempts=ExprTree("{}"))]
    assert q.attempts_table(ads) == (
        " ID      ATTEMPT HOST  STARTED     ENDED          WALL_TIME     CPU_TIME MEMORY "
        "EXIT  FAILURE OUTCOME  REASON\n"
        "   7.0         1 node1 11/14 22:13 11/14 22:14   0+00:01:00   0+00:00:59    120 "
        "1     exit    requeued exited with code 1\n"
        "   7.0         2 node2 11/14 22:15                                              "
        "SIG 9 signal  held     \n")


def test_projections_are_what_each_view_reads():
    assert q.projection(q.BATCH) == ()
    assert set(q.projection(q.NOBATCH)) == {
        "Args", "Arguments", "ClusterId", "Cmd", "ImageSize", "JobCurrentStartDate",
        "JobDescription", "JobPrio", "JobStatus", "MemoryUsage", "Owner", "ProcId", "QDate",
        "RemoteWallClockTime"}
    assert {"HoldReason", "HoldReasonCode", "HoldReasonSubCode", "EnteredCurrentStatus"} <= set(
        q.projection(q.HOLD))
    assert "RemoteHost" in q.projection(q.RUN) and "JobPrio" not in q.projection(q.RUN)
    assert "CompletionDate" in q.projection(q.HISTORY)
    assert q.projection(q.ATTEMPTS) == ("ClusterId", "ProcId", "Attempts")
