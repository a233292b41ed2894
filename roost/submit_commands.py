"""Which submit commands roost honours, under which job attribute, and which it refuses.

The attribute names are HTCondor's (condor_submit's), so that a user's policy expressions
and ``roost q -af`` work as they do in HTCondor.  A command not listed anywhere here is,
as in condor_submit, a submit variable: it is there for ``$(name)`` and makes no attribute.
"""

from __future__ import annotations

import signal

# command → attribute, for commands whose value is a string as written.
STRINGS = {
    "executable": "Cmd", "input": "In", "output": "Out", "error": "Err", "log": "UserLog",
    "batch_name": "JobBatchName",
    "transfer_input_files": "TransferInput", "transfer_output_files": "TransferOutput",
    "notify_user": "NotifyUser",
    # roost's extension (condor_submit has no such commands; DAGMan keeps the graph
    # outside the queue): the jobs' parents, and whether they must succeed or only end.
    "parents": "Parents", "parents_satisfied_by": "ParentsSatisfiedBy",
}
# command → attribute, for commands whose value is a ClassAd expression.
EXPRESSIONS = {
    "rank": "Rank", "periodic_hold": "PeriodicHold", "periodic_release": "PeriodicRelease",
    "periodic_remove": "PeriodicRemove", "on_exit_hold": "OnExitHold",
    "leave_in_queue": "LeaveJobInQueue", "job_max_vacate_time": "JobMaxVacateTime",
    "allowed_execute_duration": "AllowedExecuteDuration",
    "allowed_job_duration": "AllowedJobDuration",
}
# command → attribute, for true/false commands.
BOOLEANS = {"stream_output": "StreamOut", "stream_error": "StreamErr"}

NOTIFICATIONS = {"never": 0, "always": 1, "complete": 2, "error": 3}
# roost sends no mail: only condor_submit's default, never, is honoured.
HONOURED_NOTIFICATIONS = frozenset({"never"})

UNIVERSES = {"vanilla": 5, "scheduler": 7, "local": 12}
# Universes HTCondor has and roost's starter does not run: refused at submit, never run
# as vanilla jobs.
REFUSED_UNIVERSES = {"standard", "docker", "container", "grid", "java", "parallel", "vm"}
# Commands that only mean something to a universe or a feature roost does not have.
REFUSED_COMMANDS = (
    "docker_image", "docker_network_type", "docker_pull_policy", "docker_override_entrypoint",
    "container_image", "container_service_names", "container_target_dir",
    "grid_resource", "machine_count", "java_vm_args", "jar_files",
    "vm_type", "vm_memory", "vm_disk", "vm_networking", "vm_vcpus", "vm_checkpoint",
)
# Why, where the universe is not the reason.
REFUSED_WHY: dict[str, str] = {}


def signal_name(text: str) -> str | None:
    """``kill_sig`` as HTCondor writes it: a signal's name (``SIGINT``) from its name,
    with or without ``SIG``, or its number; None for no such signal."""
    text = text.strip()
    try:
        return signal.Signals(int(text)).name if text.isdigit() else signal.Signals[
            text.upper() if text.upper().startswith("SIG") else "SIG" + text.upper()].name
    except (KeyError, ValueError):
        return None
