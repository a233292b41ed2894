"""Translate an HTCondor submit description file into job ClassAds, as condor_submit does.

Pure: the only I/O is reading the item files and globbing the directories that a
``queue ... from FILE`` or ``queue ... matching`` statement names.  The cluster id is
not known here; a value that used ``$(Cluster)`` becomes an expression on the job's own
``ClusterId`` attribute, which the schedd sets when it assigns the cluster.
"""

from __future__ import annotations

import fnmatch
import math
import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import classad
from classad._fn_htcondor import join_args
from roost import submit_commands as commands
from roost.submit_macros import MacroError, expand_functions, uses_functions
from roost.submit_queue import QueueStatement, SubmitError, expand_items, parse_queue

__all__ = ["SubmitError", "SubmitPlan", "complete_job_ad", "default_requirements",
           "local_platform", "looks_like_submit_file", "parse_submit", "split_jobs"]

HOLD_REASON_SUBMITTED_ON_HOLD = 15
DEFAULT_JOB_MAX_RETRIES = 2
_DEFAULT_DISK = "MAX({1024, (TransferInputSizeMB + 1) * 1.25}) * 1024"
# Placeholder for $(Cluster) while a value is a plain string; never valid in user text.
_CLUSTER = "\x00cluster\x00"
# Macros whose value changes from one proc of a queue statement to the next (a macro
# function may take Process as an argument: counted as one).
_PER_PROC = re.compile(r"\$\((process|procid|step|jobid|node)\b|\$[A-Za-z_]+\(",
                       re.IGNORECASE)
_MACRO = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.]*)(?::([^)]*))?\)")
_ASSIGN = re.compile(r"\s*([+A-Za-z_][A-Za-z0-9_.]*)\s*=\s?(.*)$")
# The counters condor_submit starts a job with: a policy such as periodic_remove =
# RemoteWallClockTime > 3600 must be false before the first run, not undefined.
_COUNTERS = {"NumJobStarts": 0, "NumJobCompletions": 0, "NumRestarts": 0,
             "NumSystemHolds": 0, "RemoteWallClockTime": 0.0, "RemoteUserCpu": 0.0,
             "RemoteSysCpu": 0.0, "CumulativeSlotTime": 0, "CommittedTime": 0,
             "TotalSuspensions": 0, "ExitBySignal": False}
_TRUE = frozenset({"true", "yes", "t", "y", "1"})
_FALSE = frozenset({"false", "no", "f", "n", "0"})
_PROC_NAMES = frozenset({"cluster", "clusterid", "process", "procid"})
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
                 opsys: str, environ: Mapping[str, str]) -> None:
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
        self.environ = environ
        self.last_queue: _Line | None = None

    def error(self, line: _Line, column: int, message: str) -> SubmitError:
        return SubmitError(f"{self.filename}:{line.number}:{column}: {message}")

    def run(self, text: str) -> SubmitPlan:
        saw_queue = False
        for line in _logical_lines(text):
            if re.match(r"queue(\s|$)", line.text, re.IGNORECASE):
                statement = parse_queue(line.text, self._where(line))
                self._queue(statement, line)
                saw_queue = True
                self.last_queue = line
                continue
            match = _ASSIGN.match(line.text)
            if not match:
                raise self.error(line, line.column, f"unknown syntax: {line.text!r}")
            name, value = match.group(1), match.group(2).strip()
            if name.lower() in commands.REFUSED_COMMANDS:
                why = commands.REFUSED_WHY.get(name.lower())
                raise self.error(line, line.column, f"{name} is not supported by roost"
                                 + (f": {why}" if why else ""))
            value_column = line.column + match.start(2) + (
                len(match.group(2)) - len(match.group(2).lstrip()))
            if name.lower() == "universe" and value.lower() in commands.REFUSED_UNIVERSES:
                raise self.error(line, value_column,
                                 f"universe {value.lower()} is not supported by roost")
            if name.lower().startswith("my."):
                name = "+" + name[3:]
            if name.startswith("+"):
                self.custom[name.lower()] = name[1:]
            self.macros[name.lower()] = (value, line, value_column)
        if not saw_queue:
            last = max(len(text.splitlines()), 1)
            raise SubmitError(f"{self.filename}:{last}:1: no queue statement")
        if not self.jobs:
            # As condor_submit: a queue statement whose items are none queues no job.
            raise self.error(self.last_queue, self.last_queue.column,
                             "the queue statements found no items: no job submitted")
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
        expanded = _MACRO.sub(one, hidden)
        if uses_functions(expanded):
            def lookup(name: str) -> str | None:
                found = _MACRO.fullmatch(f"$({name})")
                value = one(found) if found else ""
                known = name.lower() in values or name.lower() in self.macros or \
                    name.upper() in self.predefined or name.lower() in _PROC_NAMES
                return value if known else None
            expanded = expand_functions(expanded, lookup, self.environ, str(self.cwd))
        return expanded.replace("\x01", "$$(")

    def _job(self, values: dict[str, str]) -> classad.ClassAd:
        values = dict(values)
        values["item"] = values.get("item", "")
        ad = classad.ClassAd()
        get = self._getter(values)
        universe_name = (get("universe") or "vanilla").lower()
        if universe_name in commands.REFUSED_UNIVERSES:
            raise self._macro_error("universe",
                                    f"universe {universe_name} is not supported by roost")
        if universe_name not in commands.UNIVERSES:
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
        ad["JobUniverse"] = commands.UNIVERSES[universe_name]
        ad["Iwd"] = str(iwd)
        for name, value in _COUNTERS.items():
            ad[name] = value
        # condor_submit: the executable is relative to the submit directory, not to Iwd.
        self._string(ad, "Cmd", str(self.cwd / get("executable")) if get("executable") else "")
        for command, attribute in commands.STRINGS.items():
            text = get(command)
            if text and command != "executable":
                self._string(ad, attribute, text)
        if get("concurrency_limits"):
            self._string(ad, "ConcurrencyLimits", re.sub(r"\s*,\s*", ",",
                                                          get("concurrency_limits")))
        if get("arguments") or get("args"):
            self._string(ad, "Arguments", self._arguments(get))
        environment = self._environment(get)
        if environment:
            self._string(ad, "Environment", join_args(
                [f"{name}={environment[name]}" for name in sorted(environment)]))
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
        gpus = self._number("request_gpus", get, None, 1)
        if gpus is not None:
            ad["RequestGPUs"] = gpus
        ad["TransferInputSizeMB"] = 0
        ad["JobPrio"] = self._number("priority", get, 0, 1)
        should_transfer = self._file_transfer(ad, get)
        if self._boolean("hold", get):
            status = 5
            ad["HoldReasonCode"] = HOLD_REASON_SUBMITTED_ON_HOLD
            ad["HoldReason"] = "submitted on hold at user's request"
        ad["JobStatus"] = status
        self._retries(ad, get)
        for command, attribute in commands.EXPRESSIONS.items():
            if get(command):
                ad[attribute] = self._expression(command, get(command))
        for (command, attribute), stream in zip(commands.BOOLEANS.items(), ("Out", "Err"),
                                                strict=True):
            if get(command) is not None:
                # As condor_submit: no stream where there is no file to stream to.
                ad[attribute] = self._boolean(command, get) and stream in ad
        self._notification(ad, get)
        if get("kill_sig"):
            name = commands.signal_name(get("kill_sig"))
            if name is None:
                raise self._macro_error("kill_sig", f"no such signal: {get('kill_sig')!r}")
            ad["KillSig"] = name
        ad["Requirements"] = self._requirements(get, should_transfer, gpus is not None)
        for key in self.macros:
            if key.startswith("+"):
                ad[self.custom[key]] = self._expression(key, get(key))
        return ad

    def _file_transfer(self, ad: classad.ClassAd, get) -> str:
        """The file-transfer attributes, as condor_submit writes them: should_transfer_files
        (IF_NEEDED unless given; YES for ON_EXIT_OR_EVICT), when_to_transfer_output
        (ON_EXIT unless given; none when nothing moves), the file lists, remaps and
        limits.  Returns ShouldTransferFiles."""
        should = (get("should_transfer_files") or "").upper()
        when = (get("when_to_transfer_output") or "").upper()
        if should and should not in ("YES", "NO", "IF_NEEDED"):
            raise self._macro_error("should_transfer_files",
                                    f"bad should_transfer_files {should!r}")
        if when and when not in ("ON_EXIT", "ON_EXIT_OR_EVICT", "ON_SUCCESS"):
            raise self._macro_error("when_to_transfer_output", f"bad when_to_transfer_output "
                                    f"{when!r}: ON_EXIT, ON_EXIT_OR_EVICT or ON_SUCCESS")
        if not should:
            should = "YES" if when == "ON_EXIT_OR_EVICT" else "IF_NEEDED"
        if should == "IF_NEEDED" and when == "ON_EXIT_OR_EVICT":
            raise self._macro_error("when_to_transfer_output", "when_to_transfer_output = "
                                    "ON_EXIT_OR_EVICT needs should_transfer_files = YES, "
                                    "not IF_NEEDED")
        if should == "NO":
            for command in ("transfer_input_files", "transfer_output_files",
                            "when_to_transfer_output", "transfer_output_remaps"):
                if get(command):
                    raise self._macro_error(command, f"{command} needs should_transfer_files "
                                                     "YES or IF_NEEDED, not NO")
            if get("transfer_executable") is not None and self._boolean(
                    "transfer_executable", get):
                raise self._macro_error("transfer_executable", "transfer_executable = true "
                                        "needs should_transfer_files YES or IF_NEEDED, not NO")
        ad["ShouldTransferFiles"] = should
        if should != "NO":
            ad["WhenToTransferOutput"] = when or "ON_EXIT"
        remaps = get("transfer_output_remaps")
        if remaps is not None:
            text = remaps.strip()
            if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
                raise self._macro_error("transfer_output_remaps", "transfer_output_remaps "
                                        f"must be a quoted string, not: {text}")
            self._string(ad, "TransferOutputRemaps", text[1:-1])
        for command, attribute in (("transfer_executable", "TransferExecutable"),
                                   ("preserve_relative_paths", "PreserveRelativePaths"),
                                   ("transfer_input", "TransferIn"),
                                   ("transfer_output", "TransferOut"),
                                   ("transfer_error", "TransferErr")):
            if get(command) is None:
                continue
            value = self._boolean(command, get)
            # As condor_submit: the streams' switches are written only when off.
            if not value or attribute not in ("TransferIn", "TransferOut", "TransferErr"):
                ad[attribute] = value
        for command, attribute in (("max_transfer_input_mb", "MaxTransferInputMB"),
                                   ("max_transfer_output_mb", "MaxTransferOutputMB")):
            if get(command) is not None:
                ad[attribute] = self._number(command, get, None, 1)
        return should

    def _getter(self, values: dict[str, str]):
        def get(command: str) -> str | None:
            if command not in self.macros:
                return None
            try:
                return self.expand(self.macros[command][0], values)
            except RecursionError:
                raise self._macro_error(command, "macro expansion does not end") from None
            except MacroError as error:
                raise self._macro_error(command, error.message) from None
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
        source = (text or "").strip()
        if _CLUSTER in source and re.fullmatch(r'"[^"\\]*"', source):
            # "$(Cluster).x": a string with the cluster in it, made when the schedd sets it.
            pieces = [classad.quote(p) for p in source[1:-1].split(_CLUSTER)]
            source = f"strcat({', ClusterId, '.join(pieces)})"
        source = source.replace(_CLUSTER, "ClusterId")
        try:
            return classad.ExprTree(source)
        except classad.ClassAdSyntaxError as error:
            _, line, column = self.macros[command]
            raise self.error(line, column + max(error.column, 1) - 1,
                             f"bad expression for {command}: {error.message}") from None

    def _boolean(self, command: str, get) -> bool:
        text = (get(command) or "false").strip().lower()
        if text not in _TRUE | _FALSE:
            raise self._macro_error(command, f"{command} needs true or false, not {text!r}")
        return text in _TRUE

    def _number(self, command: str, get, default, unit: int):
        """A request: a number (with a unit suffix, for memory and disk) or, as
        condor_submit takes it, a ClassAd expression the negotiator evaluates."""
        text = get(command)
        if text is None:
            return default
        match = _QUANTITY.match(text)
        if not match:
            return self._expression(command, text)
        value = float(match.group(1))
        if match.group(2):
            # A suffix gives bytes; the attribute is in the command's default unit.
            value = value * _UNITS[match.group(2).upper()] / unit
        return math.ceil(value)

    def _arguments(self, get) -> str:
        """``arguments`` (or ``args``) as version 2 text: the new syntax is double-quoted,
        the old is split on white space."""
        text = (get("arguments") if get("arguments") is not None else get("args")).strip()
        command = "arguments" if get("arguments") is not None else "args"
        if text.startswith('"') and text.endswith('"') and len(text) > 1:
            inner = text[1:-1].replace('""', '"')
            try:
                classad.job_arguments(inner)
            except ValueError as error:
                raise self._macro_error(command, str(error)) from None
            return inner
        # condor_submit's old syntax: \" is a double quote, a bare one is an error.
        quote = re.search(r'(?<!\\)"', text)
        if quote:
            raise self._macro_error(command, "old-syntax arguments may not hold an unescaped "
                                    'double quote (write \\" or use the new syntax)')
        return join_args(classad.job_arguments(text.replace('\\"', '"'), version=1))

    def _environment(self, get) -> dict[str, str]:
        """What ``getenv`` copies from the submitter's environment, overlaid with
        ``environment`` (or ``env``): old syntax ``A=1;B=2``, new syntax double-quoted."""
        copied: dict[str, str] = {}
        wanted = (get("getenv") or "false").strip()
        if wanted.lower() in _TRUE:
            copied = dict(self.environ)
        elif wanted.lower() not in _FALSE:
            patterns = [p for p in re.split(r"[\s,]+", wanted) if p]
            copied = {name: value for name, value in self.environ.items()
                      if any(fnmatch.fnmatchcase(name.upper(), p.upper()) for p in patterns)}
        command = "environment" if get("environment") is not None else "env"
        text = (get(command) or "").strip()
        if not text:
            return copied
        try:
            if text.startswith('"') and text.endswith('"') and len(text) > 1:
                given = classad.job_environment(text[1:-1].replace('""', '"'))
            else:
                given = classad.job_environment(text, version=1)
        except ValueError as error:
            raise self._macro_error(command, str(error)) from None
        return {**copied, **given}

    def _notification(self, ad: classad.ClassAd, get) -> None:
        text = get("notification")
        if text is None:
            return
        if text.strip().lower() not in commands.NOTIFICATIONS:
            raise self._macro_error("notification", f"bad notification {text!r}: one of "
                                    f"{', '.join(commands.NOTIFICATIONS)}")
        if text.strip().lower() not in commands.HONOURED_NOTIFICATIONS:
            raise self._macro_error("notification", f"notification = {text.strip()} is not "
                                    "supported by roost: it sends no mail (only never)")
        ad["JobNotification"] = commands.NOTIFICATIONS[text.strip().lower()]

    def _retries(self, ad: classad.ClassAd, get) -> None:
        """max_retries, success_exit_code and retry_until make OnExitRemove as
        condor_submit does, OR-ed with any on_exit_remove; either of the last two alone
        implies the default retries."""
        clauses = []
        given = [get(name) for name in ("max_retries", "success_exit_code", "retry_until")]
        if any(value is not None for value in given):
            max_retries, code, until = given
            ad["JobMaxRetries"] = self._integer("max_retries", max_retries,
                                                DEFAULT_JOB_MAX_RETRIES)
            clauses.append("NumJobCompletions > JobMaxRetries")
            if code is None:
                clauses.append("ExitCode is 0")
            else:
                ad["JobSuccessExitCode"] = self._integer("success_exit_code", code, 0)
                clauses.append("ExitCode is JobSuccessExitCode")
            if until:
                until = until.strip()
                if until.lstrip("-").isdigit():
                    until = f"ExitCode is {until}"
                clauses.append(f"({self._expression('retry_until', until)})")
        if get("on_exit_remove"):
            clauses.append(f"({self._expression('on_exit_remove', get('on_exit_remove'))})")
        ad["OnExitRemove"] = classad.ExprTree(" || ".join(clauses)) if clauses else True

    def _integer(self, command: str, text: str | None, default: int) -> int:
        if text is None:
            return default
        if not text.strip().lstrip("-").isdigit():
            raise self._macro_error(command, f"bad number for {command}: {text!r}")
        return int(text)

    def _requirements(self, get, should_transfer: str, gpus: bool) -> classad.ExprTree:
        user = get("requirements") or ""
        if user:
            self._expression("requirements", user)  # a syntax error is reported here
        return classad.ExprTree(default_requirements(user, self.arch, self.opsys,
                                                     should_transfer, gpus))


def default_requirements(user: str, arch: str, opsys: str, should_transfer: str = "",
                         gpus: bool = False) -> str:
    """The user's Requirements AND the clauses condor_submit adds for what it omits."""
    clauses = [f"({user})"] if user else []

    def mentions(*names: str) -> bool:
        return any(re.search(rf"\b{name}\b", user, re.IGNORECASE) for name in names)

    for name, clause in (("Arch", f'TARGET.Arch == "{arch}"'),
                         ("OpSys", f'TARGET.OpSys == "{opsys}"'),
                         ("Disk", "TARGET.Disk >= RequestDisk"),
                         ("Memory", "TARGET.Memory >= RequestMemory"),
                         ("Cpus", "TARGET.Cpus >= RequestCpus"),
                         ("GPUs", "TARGET.GPUs >= RequestGPUs")):
        if not mentions(name) and (name != "GPUs" or gpus):
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
                "JobUniverse": commands.UNIVERSES["vanilla"], "Iwd": str(cwd),
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
                 arch: str = "X86_64", opsys: str = "LINUX",
                 environ: Mapping[str, str] | None = None) -> SubmitPlan:
    """The job ClassAds a submit description makes; raises SubmitError, never partial.
    ``environ`` is the submitter's environment, what ``getenv`` and ``$ENV()`` read."""
    return _Parser(filename, cwd, owner, now, arch, opsys, environ or {}).run(text)
