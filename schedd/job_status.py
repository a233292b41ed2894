"""HTCondor's job status and hold reason numbers, which every part of the schedd shares.

The numbers are HTCondor's own (``docs/codes-other-values/job-status-codes.rst`` and
``hold-table.rst``; WAITING, 8, is roost's), so that a constraint such as ``JobStatus == 5`` or
``HoldReasonCode == 3`` means in roost what it means in HTCondor.
"""

from __future__ import annotations

from enum import IntEnum


class JobStatus(IntEnum):
    IDLE = 1
    RUNNING = 2
    REMOVED = 3  # the docs say "Removing"; proc.h names it REMOVED
    COMPLETED = 4
    HELD = 5
    TRANSFERRING_OUTPUT = 6  # unused by roost, kept so the numbers line up
    SUSPENDED = 7
    # roost's own: HTCondor's queue has no such state (DAGMan keeps a node that is not
    # ready outside the queue).  A job whose parents have not all ended as its edges ask
    # waits here; it is no Idle job: not matched, not in autoclusters or idle counts.
    WAITING = 8

    @property
    def letter(self) -> str:
        """condor_q's ST column."""
        return _LETTERS[self]


_LETTERS = {
    JobStatus.IDLE: "I",
    JobStatus.RUNNING: "R",
    JobStatus.REMOVED: "X",
    JobStatus.COMPLETED: "C",
    JobStatus.HELD: "H",
    JobStatus.TRANSFERRING_OUTPUT: ">",
    JobStatus.SUSPENDED: "S",
    JobStatus.WAITING: "W",
}

# Jobs in these states have left the queue for good and belong in the history.
FINISHED = frozenset({JobStatus.REMOVED, JobStatus.COMPLETED})


class HoldCode(IntEnum):
    """``HoldReasonCode`` values roost sets (a subset of HTCondor's hold table)."""

    USER_REQUEST = 1
    JOB_POLICY = 3
    JOB_POLICY_UNDEFINED = 5
    FAILED_TO_CREATE_PROCESS = 6
    TRANSFER_OUTPUT_ERROR = 12
    TRANSFER_INPUT_ERROR = 13
    IWD_ERROR = 14
    SUBMITTED_ON_HOLD = 15
    STARTD_HELD_JOB = 21
    SYSTEM_POLICY = 26
    MAX_TRANSFER_INPUT_SIZE_EXCEEDED = 32
    MAX_TRANSFER_OUTPUT_SIZE_EXCEEDED = 33
    JOB_OUT_OF_RESOURCES = 34
    JOB_DURATION_EXCEEDED = 46
    JOB_EXECUTE_EXCEEDED = 47
