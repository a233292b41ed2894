"""startd.glidein.status: batch jobs and slot ads joined into what each pilot is."""

from __future__ import annotations

from startd.glidein.slurm import BatchJob
from startd.glidein.status import SlotView, format_rows, join

NOW = 1_000_000


def _slot(job_id: str, state: str = "Unclaimed", to_die: int | None = NOW + 300,
          name: str = "slot1") -> SlotView:
    return SlotView(f"{name}@glidein-{job_id}.node1", job_id, state, to_die)


def test_every_kind_of_pilot():
    jobs = [BatchJob("1", "PENDING", 2, 3600, "Resources"),
            BatchJob("2", "RUNNING", 1, 1000, "None"),
            BatchJob("3", "RUNNING", 1, 900, "None"),
            BatchJob("4", "RUNNING", 1, 800, "None"),
            BatchJob("5", "COMPLETED", 1, None, "None"),
            BatchJob("6", "CANCELLED", 1, None, "None")]
    slots = [_slot("2"), _slot("2", "Claimed", NOW + 200, "slot1_1"),
             _slot("3", to_die=NOW + 100),
             _slot("6"),  # cancelled, but its ads are still in the collector
             _slot("9", "Claimed")]  # a pilot the batch system does not list
    rows = {row.job_id: row for row in join(jobs, slots, NOW)}
    assert {job_id: row.status for job_id, row in rows.items()} == {
        "1": "queued", "2": "busy", "3": "idle", "4": "lost", "5": "ended", "6": "lost",
        "9": "lost"}
    assert (rows["2"].slots, rows["2"].claimed, rows["2"].lifetime_left) == (2, 1, 200)
    assert rows["9"].batch_state == "-" and rows["9"].claimed == 1
    assert rows["5"].lifetime_left is None
    assert list(rows) == ["1", "2", "3", "4", "5", "6", "9"]


def test_a_lifetime_past_is_zero():
    (row,) = join([BatchJob("2", "RUNNING", 1, 10, "None")], [_slot("2", to_die=NOW - 5)],
                  NOW)
    assert row.lifetime_left == 0


def test_the_table_and_its_totals():
    rows = join([BatchJob("1", "PENDING", 2, 3600, "Resources"),
                 BatchJob("2", "RUNNING", 1, 1000, "None")],
                [_slot("2", "Claimed")], NOW)
    assert format_rows(rows).splitlines() == [
        "BATCH_ID  BATCH_STATE  NODES  TIME_LEFT  SLOTS  CLAIMED  LIFE_LEFT  STATUS",
        "1         PENDING      2      1:00:00    0      0        -          queued",
        "2         RUNNING      1      0:16:40    1      1        0:05:00    busy",
        "pilots: 1 queued, 1 busy"]
    assert format_rows([]).splitlines()[-1] == "pilots: none"
