"""Translate an HTCondor submit description file into job ClassAds, as condor_submit does.

Pure: the only I/O is reading the item files and globbing the directories that a
``queue ... from FILE`` or ``queue ... matching`` statement names.  The cluster id is
not known here; a value that used ``$(Cluster)`` becomes an expression on the job's own
``ClusterId`` attribute, which the schedd sets when it assigns the cluster.
"""

from __future__ import annotations

import math
import platform
import re
from dataclasses import dataclass
from pathlib import Path

import classad
from roost.submit_queue import QueueStatement, SubmitError, expand_items, parse_queue

__all__ = ["SubmitError", "SubmitPlan", "complete_job_ad", "default_requirements",
           "local_platform", "looks_like_submit_file", "parse_submit", "split_jobs"]

UNIVERSES = {"standard": 1, "vanilla": 5, "scheduler": 7, "grid": 9, "java": 10,
             "parallel": 11, "local": 12, "vm": 13, "docker": 5, "container": 5}
HOLD_REASON_SUBMITTED_ON_HOLD = 15
DEFAULT_JOB_MAX_RETRIES = 2
_DEFAULT_DISK = "MAX({1024, (TransferInputSizeMB + 1) * 1.25}) * 1024"
# Placeholder for $(Cluster) while a value is a plain string; never valid in user text.
_CLUSTER = "\x00cluster\x00"
# Macros whose value changes from one proc of a queue statement to the next.
_PER_PROC = re.compile(r"\$\((process|procid|step|jobid|node)\b", re.IGNORECASE)
_MACRO = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.]*)(?::([^)]*))?\)")
_ASSIGN = re.compile(r"\s*([+A-Za-z_][A-Za-z0-9_.]*)\s*=\s?(.*)$")
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_QUANTITY = re.compile(r"^\s*([-+]?[0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)B?\s*$", re.IGNORECASE)


@dataclass
class SubmitPlan:
    """One cluster: attributes shared by every proc, and per proc only what differs; or,
    when ``procs`` is empty, ``count`` procs that differ in nothing but their ProcId."""

    cluster_ad: classad.ClassAd
    procs: list[classad.ClassAd]
    count: int = 0

    def __len__(self) -> int:
        return len(self.procs) or self.count

    def job(self, index: int) -> classad.ClassAd:
        """The whole ad of proc ``index``: the cluster's attributes and the proc's own."""
        ad = self.cluster_ad.copy()
        if self.procs:
            ad.update(self.procs[index])
        else:
            ad["ProcId"] = index
        return ad


@dataclass
class _Line:
    number: int
    column: int
    text: str


def looks_like_submit_file(text: str) -> bool:
    """True for a submit description, False for job ClassAds (old or new syntax).

    A submit description has a ``queue`` statement; ClassAd files never do, and
    new-syntax ads start with ``[``.
    """
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            return False
        if re.match(r"queue(\s|$)", stripped, re.IGNORECASE) and not re.match(
                r"queue\s*=", stripped, re.IGNORECASE):
            return True
    return False


def _logical_lines(text: str) -> list[_Line]:
    """Lines with comments dropped and backslash continuations joined."""
    lines: list[_Line] = []
    pending: _Line | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        if pending is None and raw.lstrip().startswith("#"):
            continue
        body = raw.rstrip()
        continued = body.endswith("\\")
        if continued:
            body = body[:-1]
        if pending is None:
            stripped = body.lstrip()
            pending = _Line(number, len(body) - len(stripped) + 1, stripped)
        else:
            pending.text += body
        if _open_queue_list(pending.text):
            # A queue statement's item list runs over lines until its ")".
            pending.text += "\n"
            continue
        if not continued:
            if pending.text.strip():
                lines.append(pending)
            pending = None
    if pending is not None and pending.text.strip():
        lines.append(pending)
    return lines


def _open_queue_list(text: str) -> bool:
    return bool(re.match(r"queue\b", text, re.IGNORECASE)) and text.count("(") > text.count(")")


class _Parser:
    def __init__(self, filename: str, cwd: Path, owner: str, now: int, arch: str,
                 opsys: str) -> None:
        self.filename = filename
        self.cwd = cwd
        self.owner = owner
        self.now = now
        self.macros: dict[str, tuple[str, _Line, int]] = {}
        self.predefined = {"ARCH": arch, "OPSYS": opsys, "SUBMIT_FILE": filename}
        self.arch = arch
        self.opsys = opsys
        self.jobs: list[classad.ClassAd] = []
        self.procs = 0  # ProcIds handed out so far
        self.statements = 0  # queue statements read so far
        self.copies = 0  # procs of the first queue statement made by counting only
        self.custom: dict[str, str] = {}

    def error(self, line: _Line, column: int, message: str) -> SubmitError:
        return SubmitError(f"{self.filename}:{line.number}:{column}: {message}")

    def run(self, text: str) -> SubmitPlan:
        saw_queue = False
        for line in _logical_lines(text):
            if re.match(r"queue(\s|$)", line.text, re.IGNORECASE):
                statement = parse_queue(line.text, self._where(line))
                self._queue(statement, line)
                saw_queue = True
                continue
            match = _ASSIGN.match(line.text)
            if not match:
                raise self.error(line, line.column, f"unknown syntax: {line.text!r}")
            name, value = match.group(1), match.group(2).strip()
            if name.lower().startswith("my."):
                name = "+" + name[3:]
            if name.startswith("+"):
                self.custom[name.lower()] = name[1:]
            value_column = line.column + match.start(2) + (
                len(match.group(2)) - len(match.group(2).lstrip()))
            self.macros[name.lower()] = (value, line, value_column)
        if not saw_queue:
            last = max(len(text.splitlines()), 1)
            raise SubmitError(f"{self.filename}:{last}:1: no queue statement")
        if self.statements == 1 and len(self.jobs) == 1:
            cluster = self.jobs[0].copy()
            del cluster["ProcId"]
            return SubmitPlan(cluster, [], self.procs)
        return split_jobs(self.jobs)

    def _where(self, line: _Line):
        def fail(offset: int, message: str) -> SubmitError:
            return self.error(line, line.column + offset, message)
        return fail

    def _queue(self, statement: QueueStatement, line: _Line) -> None:
        if "executable" not in self.macros:
            raise self.error(line, line.column, "no executable command before queue")
        items = expand_items(statement, self._queue_base(), self._where(line))
        # When no command uses a per-proc macro, the procs of an item differ only in their
        # ProcId: the job is made once (late materialization, as HTCondor's factory does).
        per_proc = any(_PER_PROC.search(value) for value, _, _ in self.macros.values())
        if self.copies:
            self._materialize_copies()
        if statement.count < 1:
            return
        self.statements += 1
        for index, item in enumerate(items):
            values = {"itemindex": str(index), "step": "0", "row": str(index)}
            values.update(item)
            first = self._job(values)
            self.jobs.append(first)
            self.procs += 1
            if not per_proc and len(items) == 1 and self.statements == 1:
                # Possibly the whole submit: kept as one job and a count until run() knows.
                self.copies = statement.count - 1
                self.procs += self.copies
                continue
            for step in range(1, statement.count):
                if per_proc:
                    values["step"] = str(step)
                    job = self._job(values)
                else:
                    job = first.copy()
                    job["ProcId"] = self.procs
                self.jobs.append(job)
                self.procs += 1

    def _materialize_copies(self) -> None:
        """Make the procs that the first queue statement only counted."""
        first = self.jobs[0]
        for proc in range(1, self.copies + 1):
            job = first.copy()
            job["ProcId"] = proc
            self.jobs.append(job)
        self.copies = 0

    def _queue_base(self) -> Path:
        return self.cwd / Path(self.filename).parent if self.filename != "<submit>" else self.cwd

    def expand(self, text: str, values: dict[str, str], depth: int = 0) -> str:
        if depth > 20:
            raise RecursionError(text)

        def one(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            key = name.lower()
            if key in ("cluster", "clusterid"):
                return _CLUSTER
            if key in ("process", "procid"):
                return str(self.procs)
            if key in values:
                return values[key]
            if key in self.macros:
                return self.expand(self.macros[key][0], values, depth + 1)
            upper = name.upper()
            if upper in self.predefined:
                return self.predefined[upper]
            # condor_submit expands an undefined macro to nothing, or to its default.
            return default if default is not None else ""

        # $$(attr) is for the schedd at match time: hide it from this expansion.
        hidden = text.replace("$$(", "\x01")
        return _MACRO.sub(one, hidden).replace("\x01", "$$(")

    def _job(self, values: dict[str, str]) -> classad.ClassAd:
        values = dict(values)
        values["item"] = values.get("item", "")
        ad = classad.ClassAd()
        get = self._getter(values)
        universe_name = (get("universe") or "vanilla").lower()
        if universe_name not in UNIVERSES:
            raise self._macro_error("universe", f"unknown universe {universe_name!r}")
        iwd = Path(get("initialdir") or ".")
        iwd = iwd if iwd.is_absolute() else self.cwd / iwd
        status = 1
        ad["MyType"] = "Job"
        ad["TargetType"] = "Machine"
        ad["ProcId"] = self.procs
        ad["Owner"] = self.owner
        ad["User"] = self.owner
        ad["QDate"] = self.now
        ad["EnteredCurrentStatus"] = self.now
        ad["JobUniverse"] = UNIVERSES[universe_name]
        ad["Iwd"] = str(iwd)
        ad["NumJobStarts"] = 0
        self._string(ad, "Cmd", get("executable") or "")
        for command, attribute in (("input", "In"), ("output", "Out"), ("error", "Err"),
                                   ("log", "UserLog"), ("batch_name", "JobBatchName"),
                                   ("concurrency_limits", "ConcurrencyLimits"),
                                   ("kill_sig", "KillSig"),
                                   ("transfer_input_files", "TransferInput"),
                                   ("when_to_transfer_output", "WhenToTransferOutput")):
            text = get(command)
            if text:
                self._string(ad, attribute, text)
        if get("arguments"):
            self._string(ad, "Arguments", _new_arguments(get("arguments")))
        if get("environment"):
            self._string(ad, "Environment", _new_environment(get("environment")))
        if (get("getenv") or "false").lower() in ("true", "yes"):
            ad["GetEnv"] = True
        group, group_user = get("accounting_group"), get("accounting_group_user")
        if group:
            ad["AcctGroup"] = group
            ad["AcctGroupUser"] = group_user or self.owner
            ad["AccountingGroup"] = f"{group}.{group_user or self.owner}"
        ad["RequestCpus"] = self._number("request_cpus", get, 1, 1)
        ad["RequestMemory"] = self._number("request_memory", get, 128, 1024**2)
        # JOB_DEFAULT_REQUESTDISK; input sizes are unknown here (no stat), so 0 MB.
        disk = self._number("request_disk", get, None, 1024)
        ad["RequestDisk"] = classad.ExprTree(_DEFAULT_DISK) if disk is None else disk
        ad["TransferInputSizeMB"] = 0
        ad["JobPrio"] = self._number("priority", get, 0, 1)
        should_transfer = (get("should_transfer_files") or "").upper()
        if should_transfer:
            if should_transfer not in ("YES", "NO", "IF_NEEDED"):
                raise self._macro_error("should_transfer_files",
                                        f"bad should_transfer_files {should_transfer!r}")
            ad["ShouldTransferFiles"] = should_transfer
        if (get("hold") or "false").lower() in ("true", "yes"):
            status = 5
            ad["HoldReasonCode"] = HOLD_REASON_SUBMITTED_ON_HOLD
            ad["HoldReason"] = "submitted on hold"
        ad["JobStatus"] = status
        self._retries(ad, get)
        for command, attribute in (("rank", "Rank"), ("periodic_hold", "PeriodicHold"),
                                   ("periodic_release", "PeriodicRelease"),
                                   ("periodic_remove", "PeriodicRemove"),
                                   ("on_exit_hold", "OnExitHold"),
                                   ("job_max_vacate_time", "JobMaxVacateTime")):
            if get(command):
                ad[attribute] = self._expression(command, get(command))
        ad["Requirements"] = self._requirements(get, should_transfer)
        for key in self.macros:
            if key.startswith("+"):
                ad[self.custom[key]] = self._expression(key, get(key))
        return ad

    def _getter(self, values: dict[str, str]):
        def get(command: str) -> str | None:
            if command not in self.macros:
                return None
            try:
                return self.expand(self.macros[command][0], values)
            except RecursionError:
                raise self._macro_error(command, "macro expansion does not end") from None
        return get

    def _macro_error(self, command: str, message: str, offset: int = 0) -> SubmitError:
        _, line, column = self.macros[command]
        return self.error(line, column + offset, message)

    def _string(self, ad: classad.ClassAd, attribute: str, text: str) -> None:
        if _CLUSTER not in text:
            ad[attribute] = text
            return
        pieces = []
        for i, piece in enumerate(text.split(_CLUSTER)):
            if i:
                pieces.append("ClusterId")
            if piece:
                pieces.append(classad.quote(piece))
        ad[attribute] = classad.ExprTree(f"strcat({', '.join(pieces)})")

    def _expression(self, command: str, text: str | None) -> classad.ExprTree:
        source = (text or "").replace(_CLUSTER, "ClusterId")
        try:
            return classad.ExprTree(source)
        except classad.ClassAdSyntaxError as error:
            _, line, column = self.macros[command]
            raise self.error(line, column + max(error.column, 1) - 1,
                             f"bad expression for {command}: {error.message}") from None

    def _number(self, command: str, get, default, unit: int):
        text = get(command)
        if text is None:
            return default
        match = _QUANTITY.match(text)
        if not match:
            raise self._macro_error(command, f"bad number for {command}: {text!r}")
        value = float(match.group(1))
        if match.group(2):
            # A suffix gives bytes; the attribute is in the command's default unit.
            value = value * _UNITS[match.group(2).upper()] / unit
        return math.ceil(value)

    def _retries(self, ad: classad.ClassAd, get) -> None:
        """max_retries, success_exit_code and retry_until make OnExitRemove, OR-ed with
        any on_exit_remove; either of the last two alone implies the default retries."""
        clauses = []
        if get("on_exit_remove"):
            clauses.append(f"({self._expression('on_exit_remove', get('on_exit_remove'))})")
        given = [get(name) for name in ("max_retries", "success_exit_code", "retry_until")]
        if any(value is not None for value in given):
            max_retries, code, until = given
            ad["MaxRetries"] = self._integer("max_retries", max_retries,
                                             DEFAULT_JOB_MAX_RETRIES)
            ad["SuccessExitCode"] = self._integer("success_exit_code", code, 0)
            clauses += ["NumJobCompletions > MaxRetries", "ExitCode =?= SuccessExitCode"]
            if until:
                until = until.strip()
                if until.lstrip("-").isdigit():
                    until = f"ExitCode == {until}"
                clauses.append(f"({self._expression('retry_until', until)})")
        ad["OnExitRemove"] = classad.ExprTree(" || ".join(clauses)) if clauses else True

    def _integer(self, command: str, text: str | None, default: int) -> int:
        if text is None:
            return default
        if not text.strip().lstrip("-").isdigit():
            raise self._macro_error(command, f"bad number for {command}: {text!r}")
        return int(text)

    def _requirements(self, get, should_transfer: str) -> classad.ExprTree:
        user = get("requirements") or ""
        if user:
            self._expression("requirements", user)  # a syntax error is reported here
        return classad.ExprTree(default_requirements(user, self.arch, self.opsys,
                                                     should_transfer))


def default_requirements(user: str, arch: str, opsys: str, should_transfer: str = "") -> str:
    """The user's Requirements AND the clauses condor_submit adds for what it omits."""
    clauses = [f"({user})"] if user else []

    def mentions(*names: str) -> bool:
        return any(re.search(rf"\b{name}\b", user, re.IGNORECASE) for name in names)

    for name, clause in (("Arch", f'TARGET.Arch == "{arch}"'),
                         ("OpSys", f'TARGET.OpSys == "{opsys}"'),
                         ("Disk", "TARGET.Disk >= RequestDisk"),
                         ("Memory", "TARGET.Memory >= RequestMemory"),
                         ("Cpus", "TARGET.Cpus >= RequestCpus")):
        if not mentions(name):
            clauses.append(f"({clause})")
    transfer = {"YES": "TARGET.HasFileTransfer",
                "IF_NEEDED": "((TARGET.FileSystemDomain == MY.FileSystemDomain) || "
                             "(TARGET.HasFileTransfer))",
                "NO": "(TARGET.FileSystemDomain == MY.FileSystemDomain)"}
    if should_transfer in transfer and not mentions("HasFileTransfer", "FileSystemDomain"):
        clauses.append(transfer[should_transfer])
    return " && ".join(clauses)


# What a job ad given as is may not bring with it: the queue's identity of a job and the
# record of runs it has not had (an ad copied from `roost q -l` is a fine template).
_NOT_SUBMITTED = ("ClusterId", "ProcId", "GlobalJobId", "LastJobStatus", "NumJobStarts",
                  "NumJobCompletions", "JobRunCount", "JobStartDate", "JobCurrentStartDate",
                  "CompletionDate", "RemoteHost", "LastRemoteHost", "RemoteWallClockTime",
                  "ExitCode", "ExitBySignal", "ExitSignal", "Attempts", "RetryAfter",
                  "NumHolds", "NumHoldsByReason", "RemoveReason", "ReleaseReason",
                  "TotalSubmitProcs")


def complete_job_ad(ad: classad.ClassAd, *, owner: str, now: int, cwd: Path,
                    arch: str = "X86_64", opsys: str = "LINUX") -> classad.ClassAd:
    """A copy of a job ClassAd given as is (``roost submit job.ad``) made into a new job as
    condor_submit makes one: the submitter's identity and the time of submission, the
    requests and the default Requirements clauses it leaves out, and none of the run
    history of the ad it may have been copied from."""
    job = ad.copy()
    for name in _NOT_SUBMITTED:
        job.pop(name, None)
    defaults = {"MyType": "Job", "TargetType": "Machine",
                "JobUniverse": UNIVERSES["vanilla"], "Iwd": str(cwd),
                "RequestCpus": 1, "RequestMemory": 128,
                "RequestDisk": classad.ExprTree(_DEFAULT_DISK), "TransferInputSizeMB": 0,
                "JobPrio": 0, "OnExitRemove": True}
    for name, value in defaults.items():
        if name not in job:
            job[name] = value
    job["Owner"] = job["User"] = owner
    job["QDate"] = job["EnteredCurrentStatus"] = now
    job["NumJobStarts"] = 0
    if job.eval("JobStatus") != 5:  # a job may be submitted on hold, and only so
        job["JobStatus"] = 1
        for name in ("HoldReason", "HoldReasonCode", "HoldReasonSubCode"):
            job.pop(name, None)
    user_text = str(job.lookup("Requirements")) if "Requirements" in job else ""
    should_transfer = job.eval("ShouldTransferFiles")
    should_transfer = should_transfer.upper() if isinstance(should_transfer, str) else ""
    job["Requirements"] = classad.ExprTree(
        default_requirements(user_text, arch, opsys, should_transfer))
    return job


def local_platform() -> tuple[str, str]:
    """This machine's Arch and OpSys as HTCondor spells them ("X86_64", "LINUX")."""
    machine = platform.machine()
    arch = {"x86_64": "X86_64", "amd64": "X86_64", "i686": "INTEL", "arm64": "aarch64"}.get(
        machine.lower(), machine)
    opsys = {"Linux": "LINUX", "Darwin": "MACOSX", "Windows": "WINDOWS"}.get(
        platform.system(), platform.system().upper())
    return arch, opsys


def _new_arguments(text: str) -> str:
    """Old syntax (no leading double quote) is spaces; new syntax is a quoted string."""
    stripped = text.strip()
    if not (stripped.startswith('"') and stripped.endswith('"') and len(stripped) > 1):
        return " ".join(stripped.split())
    return stripped[1:-1].replace('""', '"')


def _new_environment(text: str) -> str:
    """Old syntax separates NAME=VALUE pairs with ';', new syntax is quoted and spaced."""
    stripped = text.strip()
    if stripped.startswith('"') and stripped.endswith('"') and len(stripped) > 1:
        return stripped[1:-1].replace('""', '"')
    return " ".join(pair.strip() for pair in stripped.split(";") if pair.strip())


def split_jobs(jobs: list[classad.ClassAd]) -> SubmitPlan:
    """The attributes every proc shares go to the cluster ad; the rest stay per proc."""
    first = jobs[0]

    shared = {name for name in first if name != "ProcId" and all(
        name in job and str(job.lookup(name)) == str(first.lookup(name)) for job in jobs)}
    cluster = classad.ClassAd()
    for name in sorted(shared):
        cluster[name] = first.lookup(name)
    procs = []
    for job in jobs:
        proc = classad.ClassAd()
        for name in job:
            if name not in shared:
                proc[name] = job.lookup(name)
        procs.append(proc)
    return SubmitPlan(cluster, procs)


def parse_submit(text: str, *, filename: str = "<submit>", cwd: Path, owner: str, now: int,
                 arch: str = "X86_64", opsys: str = "LINUX") -> SubmitPlan:
    """The job ClassAds a submit description makes; raises SubmitError, never partial."""
    return _Parser(filename, cwd, owner, now, arch, opsys).run(text)
