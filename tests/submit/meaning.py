"""What a job ad means to roost's daemons, in one plain form that two translators of the
same submit file can be compared by: a dict of *facets*.

- ``argv`` and ``env``: the argument and environment vectors, from the new syntax
  (``Arguments``, ``Environment``) or the old (``Args``, ``Env``), as the starter reads
  them (``classad.job_arguments``/``job_environment``).
- Paths (``Cmd``, ``In``, ``Out``, ``Err``, ``UserLog``) resolved against ``Iwd``.
- File lists (``TransferInput``, ``TransferOutput``) as lists, remaps as a dict.
- Policy expressions (``OnExitRemove``, ``OnExitHold``, ``Periodic*``) and request
  expressions as their values in each scenario of ``SCENARIOS``: the job's ad with the
  scenario's attributes laid over it, evaluated by roost's evaluator.
- ``Requirements`` as the names of the machines in ``MACHINES`` that it matches.
- Any other attribute as its value; an absent one as the daemons' default (``DEFAULTS``).
"""

from __future__ import annotations

import os

import classad

# The daemons' reading of an attribute the ad does not have.
DEFAULTS = {
    "In": "/dev/null", "Out": "/dev/null", "Err": "/dev/null", "UserLog": None,
    "OnExitRemove": True, "OnExitHold": False, "PeriodicHold": False,
    "PeriodicRelease": False, "PeriodicRemove": False,
    "JobPrio": 0, "JobStatus": 1, "JobUniverse": 5, "RequestGPUs": 0,
    "KillSig": "SIGTERM", "JobMaxVacateTime": None, "LeaveJobInQueue": False,
    "StreamOut": False, "StreamErr": False, "NotifyUser": None, "JobNotification": 0,
    "AllowedExecuteDuration": None, "AllowedJobDuration": None,
    "ShouldTransferFiles": "IF_NEEDED", "WhenToTransferOutput": "ON_EXIT",
    "ConcurrencyLimits": None, "AcctGroup": None, "AcctGroupUser": None,
    "AccountingGroup": None, "JobBatchName": None, "HoldReasonCode": None,
    "JobMaxRetries": None, "NumJobStarts": 0, "Rank": 0.0,
}
PATHS = ("Cmd", "In", "Out", "Err", "UserLog")
POLICIES = ("OnExitRemove", "OnExitHold", "PeriodicHold", "PeriodicRelease",
            "PeriodicRemove", "RequestCpus", "RequestGPUs", "RequestMemory", "RequestDisk",
            "Rank")

# Moments in a job's life, laid over its ad: ends of runs, and a run in progress.
SCENARIOS = {
    "exit-0": {"ExitCode": 0, "ExitBySignal": False, "NumJobCompletions": 1,
               "NumJobStarts": 1, "JobStatus": 2},
    "exit-1": {"ExitCode": 1, "ExitBySignal": False, "NumJobCompletions": 1,
               "NumJobStarts": 1, "JobStatus": 2},
    "exit-2-thrice": {"ExitCode": 2, "ExitBySignal": False, "NumJobCompletions": 3,
                      "NumJobStarts": 3, "JobStatus": 2},
    "exit-3-five": {"ExitCode": 3, "ExitBySignal": False, "NumJobCompletions": 5,
                    "NumJobStarts": 5, "JobStatus": 2},
    "signal-9": {"ExitBySignal": True, "ExitSignal": 9, "NumJobCompletions": 1,
                 "NumJobStarts": 1, "JobStatus": 2},
    "running-big": {"JobStatus": 2, "NumJobStarts": 1, "MemoryUsage": 4000,
                    "RemoteWallClockTime": 7200},
    "held-twice": {"JobStatus": 5, "NumJobStarts": 2, "HoldReasonCode": 3,
                   "MemoryUsage": 100},
}

_VERSION = "$CondorVersion: 23.10.29 2025-09-01 BuildID: 0 $"
MACHINES = {
    "big": {"Arch": "X86_64", "OpSys": "LINUX", "Cpus": 16, "Memory": 65536,
            "Disk": 10**9, "GPUs": 4, "HasFileTransfer": True, "FileSystemDomain": "pool",
            "CondorVersion": _VERSION},
    "small": {"Arch": "X86_64", "OpSys": "LINUX", "Cpus": 1, "Memory": 1024,
              "Disk": 10**7, "GPUs": 0, "HasFileTransfer": True, "FileSystemDomain": "pool",
              "CondorVersion": _VERSION},
    "arm": {"Arch": "aarch64", "OpSys": "LINUX", "Cpus": 16, "Memory": 65536,
            "Disk": 10**9, "GPUs": 0, "HasFileTransfer": True, "FileSystemDomain": "pool",
            "CondorVersion": _VERSION},
    "no-transfer": {"Arch": "X86_64", "OpSys": "LINUX", "Cpus": 16, "Memory": 65536,
                    "Disk": 10**9, "GPUs": 0, "HasFileTransfer": False,
                    "FileSystemDomain": "elsewhere"},
}


def facets(ad: classad.ClassAd, attributes: tuple[str, ...] = ()) -> dict[str, object]:
    """The facets of one job ad; ``attributes`` names further ones (a case's ``+attr``)."""
    out: dict[str, object] = {}
    iwd = ad.eval("Iwd")
    out["Iwd"] = iwd
    for name in PATHS:
        value = _value(ad, name)
        out[name] = (os.path.normpath(os.path.join(iwd, value))
                     if isinstance(value, str) and value else value)
    if "Arguments" in ad:
        out["argv"] = classad.job_arguments(ad.eval("Arguments"))
    else:
        out["argv"] = classad.job_arguments(ad.eval("Args") if "Args" in ad else "", 1)
    if "Environment" in ad:
        out["env"] = classad.job_environment(ad.eval("Environment"))
    else:
        out["env"] = classad.job_environment(ad.eval("Env") if "Env" in ad else "", 1)
    for name in ("TransferInput", "TransferOutput"):
        value = _value(ad, name)
        out[name] = [f.strip() for f in value.split(",") if f.strip()] if value else []
    remaps = _value(ad, "TransferOutputRemaps") or ""
    out["TransferOutputRemaps"] = dict(
        pair.split("=", 1) for pair in remaps.split(";") if "=" in pair)
    for name in POLICIES:
        out[name] = {scenario: _value(_over(ad, laid), name)
                     for scenario, laid in SCENARIOS.items()}
    out["Requirements"] = sorted(
        name for name, machine in MACHINES.items() if ad.matches(classad.ClassAd(machine)))
    for name in (*DEFAULTS, *attributes):
        if name not in out:
            out[name] = _value(ad, name)
    return out


def _value(ad: classad.ClassAd, name: str):
    if name not in ad:
        return DEFAULTS.get(name)
    value = ad.eval(name)
    if isinstance(value, str) and name in ("ShouldTransferFiles", "WhenToTransferOutput"):
        return value.upper()
    return _plain(value)


def _plain(value):
    """Undefined and Error as names, so that the two sides' facets compare with ``==``."""
    if value is classad.Value.Undefined:
        return "<undefined>"
    if value is classad.Value.Error:
        return "<error>"
    return value


def _over(ad: classad.ClassAd, laid: dict) -> classad.ClassAd:
    job = ad.copy()
    job.update(laid)
    return job
