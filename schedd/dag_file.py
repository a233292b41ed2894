"""HTCondor DAGMan input files, read into a ``Dag``: nodes, edges, scripts, retries,
throttles.  Pure but for reading the files it names (splices, sub-DAGs, CONFIG, INCLUDE).

What is read (``docs/automated-workflows`` of HTCondor's manual): ``JOB name file [DIR d]
[NOOP] [DONE]``, ``DONE name`` (as a rescue DAG writes it), ``PARENT ... CHILD ...``,
``SCRIPT [DEFER status time] [DEBUG file type] PRE|POST name exe args...``, ``PRE_SKIP``,
``RETRY name N [UNLESS-EXIT v]``, ``VARS name [PREPEND|APPEND] k="v"...``, ``ABORT-DAG-ON
name v [RETURN r]``, ``CATEGORY``, ``MAXJOBS``,
``PRIORITY``, ``CONFIG`` (``DAGMAN_MAX_JOBS_SUBMITTED`` and ``DAGMAN_MAX_JOBS_IDLE``),
``INCLUDE``, ``SPLICE name file [DIR d]`` and ``SUBDAG EXTERNAL name
file [DIR d] [NOOP] [DONE]``; a node name may be ``ALL_NODES`` where DAGMan allows it.
Every error names ``file:line``.  A command DAGMan has and roost does not is refused,
saying so; a word that is no command at all is refused as unknown: nothing is skipped.

A splice's nodes are named ``splice+node``, as DAGMan names them; an edge to a splice
goes to its initial nodes, one from it leaves from its final nodes.  Categories named in
a splice are its own (``splice+cat``) unless their name begins with ``+``: those are
global, one category of that name across the whole DAG.  A MAXJOBS at a higher level wins
over one in a splice, wherever in the file it is.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass, field
from pathlib import Path

ALL_NODES = "ALL_NODES"
# Commands of DAGMan that roost does not carry out, refused with this word of why.
UNSUPPORTED = {
    "FINAL": "FINAL nodes", "PROVISIONER": "provisioner nodes", "SERVICE": "service nodes",
    "WEAK": "weak dependencies (a child needs its parents' success)",
    "TOLERANCE": "failure tolerances (a node fails when one of its jobs does)",
    "DOT": "DOT files", "NODE_STATUS_FILE": "node status files (see roost dag status)",
    "JOBSTATE_LOG": "job state logs", "REJECT": "REJECT", "ENV": "ENV",
    "CONNECT": "splice pin connections", "PIN_IN": "splice pins", "PIN_OUT": "splice pins",
    "SAVE_POINT_FILE": "save point files (a rescue is roost retry)",
    "SUBMIT-DESCRIPTION": "inline submit descriptions",
    "SET_JOB_ATTR": "attributes of the DAGMan job (a DAG runs in the schedd, as no job)",
}
CONFIG_KNOWN = {"DAGMAN_MAX_JOBS_SUBMITTED": "max_jobs", "DAGMAN_MAX_JOBS_IDLE": "max_idle"}
# A VARS pair: a macro, or (``+name``, ``My.name``) a job attribute, and its quoted value.
_VAR = re.compile(r'\s*(\+?[A-Za-z_][A-Za-z0-9_.]*)\s*=\s*"((?:[^"\\]|\\.)*)"')


class DagError(ValueError):
    """A DAG file that cannot be run: ``file:line: message``."""


@dataclass
class Script:
    executable: str
    arguments: list[str]
    defer_status: int | None = None
    defer_time: int = 0
    debug_file: str = ""
    debug_type: str = ""


@dataclass
class Node:
    name: str
    submit_file: Path | None  # None for a sub-DAG node
    directory: Path  # where the job is submitted and its scripts run
    where: str  # file:line of its JOB line
    noop: bool = False
    done: bool = False
    variables: list[tuple[str, str]] = field(default_factory=list)
    retry: int = 0
    unless_exit: int | None = None
    pre: Script | None = None
    post: Script | None = None
    pre_skip: int | None = None
    abort_on: tuple[int, int | None] | None = None  # (node value, DAG return value)
    category: str = ""
    priority: int = 0
    subdag: Dag | None = None  # SUBDAG EXTERNAL


@dataclass
class Dag:
    file: Path
    nodes: dict[str, Node] = field(default_factory=dict)  # in the order they were read
    parents: dict[str, set[str]] = field(default_factory=dict)  # node -> its parents
    categories: dict[str, int] = field(default_factory=dict)  # category -> MAXJOBS
    max_jobs: int = 0  # 0: no limit
    max_idle: int = 0
    edge_where: dict[tuple[str, str], str] = field(default_factory=dict)  # file:line

    def order(self) -> list[str]:
        """The nodes, parents before children (in the order read where the edges leave a
        choice); a cycle is a DagError naming the line of an edge on it."""
        index = {name: i for i, name in enumerate(self.nodes)}
        children = self.children()
        waiting = {name: len(self.parents.get(name, ())) for name in self.nodes}
        ready = [index[name] for name, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        names = list(self.nodes)
        placed: list[str] = []
        while ready:
            name = names[heapq.heappop(ready)]
            placed.append(name)
            for child in children[name]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    heapq.heappush(ready, index[child])
        if len(placed) < len(names):
            raise DagError(self._cycle({name for name, count in waiting.items() if count}))
        return placed

    def _cycle(self, left: set[str]) -> str:
        """Words for a cycle among the nodes ``left`` (each has a parent among them)."""
        name = min(left, key=list(self.nodes).index)
        path: list[str] = []
        seen: dict[str, int] = {}
        while name not in seen:
            seen[name] = len(path)
            path.append(name)
            name = min((p for p in self.parents[name] if p in left),
                       key=list(self.nodes).index)
        loop = path[seen[name]:] + [name]  # each the child of the next
        where = self.edge_where.get((loop[1], loop[0]), str(self.file))
        return f"{where}: cycle: {' -> '.join(reversed(loop))}"

    def children(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {name: set() for name in self.nodes}
        for child, parents in self.parents.items():
            for parent in parents:
                found[parent].add(child)
        return found


def read_dag(path: Path, *, directory: Path | None = None, _depth: int = 0) -> Dag:
    """Read the DAG file at ``path``; relative paths in it are relative to ``directory``
    (the DAG's own directory unless a DIR says otherwise)."""
    if _depth > 20:
        raise DagError(f"{path}: splices or sub-DAGs nested more than 20 deep")
    reader = _Reader(path, directory or path.parent, _depth)
    reader.read_file(path)
    reader.finish()
    return reader.dag


class _Reader:
    def __init__(self, path: Path, directory: Path, depth: int) -> None:
        self.dag = Dag(file=path)
        self.directory = directory
        self.depth = depth
        self.splices: dict[str, Dag] = {}
        self.where = ""
        self.includes: list[Path] = []
        self.own_limits: set[str] = set()  # categories this file's MAXJOBS set

    def fail(self, message: str) -> DagError:
        return DagError(f"{self.where}: {message}")

    def read_file(self, path: Path) -> None:
        try:
            text = path.read_text()
        except OSError as error:
            where = self.where or str(path)
            raise DagError(f"{where}: cannot read {path}: {error.strerror}") from None
        for number, line in enumerate(text.splitlines(), start=1):
            self.where = f"{path}:{number}"
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            # Words are split at white space, as DAGMan splits them (VARS reads its
            # quoted values from the line itself).
            self.command(stripped.split(), stripped)

    def command(self, words: list[str], line: str) -> None:
        keyword = words[0].upper()
        handler = _COMMANDS.get(keyword)
        if handler is not None:
            handler(self, words[1:], line)
        elif keyword in UNSUPPORTED:
            raise self.fail(f"{keyword}: roost does not support {UNSUPPORTED[keyword]}")
        else:
            raise self.fail(f"unknown command {words[0]!r}")

    # -- nodes -----------------------------------------------------------------------------

    def _new_node(self, name: str) -> None:
        if name.upper() in (ALL_NODES, "PARENT", "CHILD") or "+" in name:
            raise self.fail(f"{name!r} cannot name a node")
        if name in self.dag.nodes or name in self.splices:
            raise self.fail(f"node {name!r} is defined twice")

    def _options(self, rest: list[str], allowed: tuple[str, ...]) -> dict[str, object]:
        found: dict[str, object] = {}
        index = 0
        while index < len(rest):
            word = rest[index].upper()
            if word not in allowed:
                raise self.fail(f"unexpected {rest[index]!r}")
            if word == "DIR":
                if index + 1 >= len(rest):
                    raise self.fail("DIR needs a directory")
                found["DIR"] = rest[index + 1]
                index += 2
            else:
                found[word] = True
                index += 1
        return found

    def job(self, args: list[str], _line: str) -> None:
        if len(args) < 2:
            raise self.fail("JOB needs a node name and a submit file")
        if args[1] == "{":
            raise self.fail("JOB: roost does not support inline submit descriptions")
        name = args[0]
        self._new_node(name)
        options = self._options(args[2:], ("DIR", "NOOP", "DONE"))
        directory = self._dir(options)
        self.dag.nodes[name] = Node(name, _under(directory, args[1]), directory, self.where,
                                    noop=bool(options.get("NOOP")),
                                    done=bool(options.get("DONE")))

    def _dir(self, options: dict[str, object]) -> Path:
        return _under(self.directory, str(options["DIR"])) if "DIR" in options \
            else self.directory

    def subdag(self, args: list[str], _line: str) -> None:
        if not args or args[0].upper() != "EXTERNAL":
            raise self.fail("SUBDAG needs EXTERNAL (SUBDAG EXTERNAL name file.dag)")
        if len(args) < 3:
            raise self.fail("SUBDAG EXTERNAL needs a node name and a DAG file")
        name = args[1]
        self._new_node(name)
        options = self._options(args[3:], ("DIR", "NOOP", "DONE"))
        directory = self._dir(options)
        where = self.where
        inner = read_dag(_under(directory, args[2]), directory=directory,
                         _depth=self.depth + 1)
        self.where = where
        self.dag.nodes[name] = Node(name, None, directory, where, noop=bool(options.get("NOOP")),
                                    done=bool(options.get("DONE")), subdag=inner)

    def splice(self, args: list[str], _line: str) -> None:
        if len(args) < 2:
            raise self.fail("SPLICE needs a name and a DAG file")
        name = args[0]
        self._new_node(name)
        options = self._options(args[2:], ("DIR",))
        directory = self._dir(options)
        where = self.where
        inner = read_dag(_under(directory, args[1]), directory=directory,
                         _depth=self.depth + 1)
        self.where = where
        self.splices[name] = inner
        for node_name, node in inner.nodes.items():
            node.name = f"{name}+{node_name}"
            node.category = _scoped(name, node.category)
            self.dag.nodes[node.name] = node
        for child, parents in inner.parents.items():
            self.dag.parents[f"{name}+{child}"] = {f"{name}+{p}" for p in parents}
        for (parent, child), at in inner.edge_where.items():
            self.dag.edge_where[(f"{name}+{parent}", f"{name}+{child}")] = at
        for category, limit in inner.categories.items():
            key = _scoped(name, category)
            if key not in self.own_limits:
                self.dag.categories[key] = limit

    def _targets(self, name: str, role: str) -> list[str]:
        """The nodes a name stands for in PARENT/CHILD: itself, or a splice's initial
        (as a child) or final (as a parent) nodes."""
        if name in self.splices:
            inner = self.splices[name]
            if role == "child":
                ends = [n for n in inner.nodes if not inner.parents.get(n)]
            else:
                children = inner.children()
                ends = [n for n in inner.nodes if not children[n]]
            return [f"{name}+{n}" for n in ends]
        if name not in self.dag.nodes:
            raise self.fail(f"unknown node {name!r}")
        return [name]

    def parent(self, args: list[str], _line: str) -> None:
        upper = [word.upper() for word in args]
        if "CHILD" not in upper:
            raise self.fail("PARENT needs CHILD")
        at = upper.index("CHILD")
        parents, children = args[:at], args[at + 1:]
        if not parents or not children:
            raise self.fail("PARENT ... CHILD ... needs nodes on both sides")
        for child_name in children:
            for child in self._targets(child_name, "child"):
                for parent_name in parents:
                    for parent in self._targets(parent_name, "parent"):
                        if parent == child:
                            raise self.fail(f"cycle: node {child!r} is its own parent")
                        self.dag.parents.setdefault(child, set()).add(parent)
                        self.dag.edge_where.setdefault((parent, child), self.where)

    def _nodes(self, name: str) -> list[Node]:
        """The nodes a command names: one, or ALL_NODES of this file."""
        if name.upper() == ALL_NODES:
            return [node for node in self.dag.nodes.values() if "+" not in node.name]
        if name in self.splices:
            raise self.fail(f"{name!r} is a splice, not a node")
        if name not in self.dag.nodes:
            raise self.fail(f"unknown node {name!r}")
        return [self.dag.nodes[name]]

    def _int(self, text: str, what: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise self.fail(f"{what} must be an integer, not {text!r}") from None

    def script(self, args: list[str], _line: str) -> None:
        defer_status, defer_time, debug_file, debug_type = None, 0, "", ""
        if args and args[0].upper() == "DEFER":
            if len(args) < 3:
                raise self.fail("SCRIPT DEFER needs a status and a time")
            defer_status = self._int(args[1], "DEFER's status")
            defer_time = self._int(args[2], "DEFER's time")
            args = args[3:]
        if args and args[0].upper() == "DEBUG":
            if len(args) < 3 or args[2].upper() not in ("STDOUT", "STDERR", "ALL"):
                raise self.fail("SCRIPT DEBUG needs a file and STDOUT, STDERR or ALL")
            debug_file, debug_type = args[1], args[2].upper()
            args = args[3:]
        if len(args) < 3:
            raise self.fail("SCRIPT needs PRE or POST, a node and an executable")
        kind = args[0].upper()
        if kind == "HOLD":
            raise self.fail("SCRIPT HOLD: roost does not support HOLD scripts")
        if kind not in ("PRE", "POST"):
            raise self.fail(f"SCRIPT: {args[0]!r} is not PRE or POST")
        script = Script(args[2], args[3:], defer_status, defer_time, debug_file, debug_type)
        for node in self._nodes(args[1]):
            if node.subdag is not None and kind == "PRE":
                raise self.fail(f"SCRIPT PRE on sub-DAG node {node.name!r}: roost runs a "
                                "sub-DAG's nodes in the queue from the start and cannot "
                                "run a script before them")
            setattr(node, kind.lower(), script)

    def done(self, args: list[str], _line: str) -> None:
        if len(args) != 1:
            raise self.fail("DONE needs a node")
        for node in self._nodes(args[0]):
            node.done = True

    def pre_skip(self, args: list[str], _line: str) -> None:
        if len(args) != 2:
            raise self.fail("PRE_SKIP needs a node and an exit code")
        code = self._int(args[1], "PRE_SKIP's exit code")
        if code == 0:
            raise self.fail("PRE_SKIP's exit code cannot be 0")
        for node in self._nodes(args[0]):
            node.pre_skip = code

    def retry(self, args: list[str], _line: str) -> None:
        if len(args) not in (2, 4) or (len(args) == 4 and args[2].upper() != "UNLESS-EXIT"):
            raise self.fail("RETRY needs a node and a count, then perhaps UNLESS-EXIT value")
        count = self._int(args[1], "RETRY's count")
        if count < 0:
            raise self.fail("RETRY's count cannot be negative")
        unless = self._int(args[3], "UNLESS-EXIT's value") if len(args) == 4 else None
        for node in self._nodes(args[0]):
            if node.subdag is not None:
                raise self.fail(f"RETRY of sub-DAG node {node.name!r}: roost retries a "
                                "sub-DAG with roost retry of the DAG")
            node.retry, node.unless_exit = count, unless

    def vars(self, args: list[str], line: str) -> None:
        if not args:
            raise self.fail("VARS needs a node and name=\"value\" pairs")
        # Split the raw line: the values' quotes and escapes are VARS' own.
        rest = line.split(None, 2)[2] if len(line.split(None, 2)) > 2 else ""
        head = rest.split(None, 1)
        if head and head[0].upper() in ("PREPEND", "APPEND"):
            rest = head[1] if len(head) > 1 else ""
        pairs: list[tuple[str, str]] = []
        position = 0
        while position < len(rest):
            if rest[position:].strip() == "":
                break
            match = _VAR.match(rest, position)
            if match is None:
                raise self.fail(f"VARS: expected name=\"value\" at {rest[position:].strip()!r}")
            if match.group(1).lower().startswith("queue"):
                raise self.fail(f"VARS: a macro's name cannot begin with queue: "
                                f"{match.group(1)!r}")
            value = re.sub(r"\\(.)", r"\1", match.group(2))
            pairs.append((match.group(1), value))
            position = match.end()
        if not pairs:
            raise self.fail("VARS needs name=\"value\" pairs")
        for node in self._nodes(args[0]):
            node.variables += [(name, value.replace("$(JOB)", node.name))
                               for name, value in pairs]

    def abort_dag_on(self, args: list[str], _line: str) -> None:
        if len(args) not in (2, 4) or (len(args) == 4 and args[2].upper() != "RETURN"):
            raise self.fail("ABORT-DAG-ON needs a node and a value, then perhaps RETURN r")
        value = self._int(args[1], "ABORT-DAG-ON's value")
        returned = self._int(args[3], "RETURN's value") if len(args) == 4 else None
        if returned is not None and not 0 <= returned <= 255:
            raise self.fail("RETURN's value must be between 0 and 255")
        for node in self._nodes(args[0]):
            node.abort_on = (value, returned)

    def category(self, args: list[str], _line: str) -> None:
        if len(args) != 2:
            raise self.fail("CATEGORY needs a node and a category")
        for node in self._nodes(args[0]):
            node.category = args[1]

    def maxjobs(self, args: list[str], _line: str) -> None:
        if len(args) != 2:
            raise self.fail("MAXJOBS needs a category and a count")
        count = self._int(args[1], "MAXJOBS's count")
        if count < 1:
            raise self.fail("MAXJOBS's count must be at least 1")
        self.dag.categories[args[0]] = count
        self.own_limits.add(args[0])

    def priority(self, args: list[str], _line: str) -> None:
        if len(args) != 2:
            raise self.fail("PRIORITY needs a node and a value")
        value = self._int(args[1], "PRIORITY's value")
        for node in self._nodes(args[0]):
            node.priority = value

    def config(self, args: list[str], _line: str) -> None:
        if len(args) != 1:
            raise self.fail("CONFIG needs one file")
        path = _under(self.directory, args[0])
        where = self.where
        try:
            lines = path.read_text().splitlines()
        except OSError as error:
            raise self.fail(f"cannot read {path}: {error.strerror}") from None
        for number, text in enumerate(lines, start=1):
            self.where = f"{path}:{number}"
            text = text.strip()
            if not text or text.startswith("#"):
                continue
            name, equals, value = text.partition("=")
            name = name.strip().upper()
            if not equals:
                raise self.fail(f"expected NAME = value, not {text!r}")
            if name not in CONFIG_KNOWN:
                raise self.fail(f"{name}: roost's DAGs take only "
                                f"{' and '.join(sorted(CONFIG_KNOWN))} from a CONFIG file")
            count = self._int(value.strip(), name)
            if count < 0:
                raise self.fail(f"{name} cannot be negative")
            setattr(self.dag, CONFIG_KNOWN[name], count)
        self.where = where

    def include(self, args: list[str], _line: str) -> None:
        if len(args) != 1:
            raise self.fail("INCLUDE needs one file")
        path = _under(self.directory, args[0])
        if path in self.includes:
            raise self.fail(f"INCLUDE of {path} within itself")
        where = self.where
        self.includes.append(path)
        self.read_file(path)
        self.includes.pop()
        self.where = where

    def finish(self) -> None:
        self.dag.order()  # raises on a cycle


_COMMANDS = {
    "JOB": _Reader.job, "PARENT": _Reader.parent, "SCRIPT": _Reader.script,
    "DONE": _Reader.done, "PRE_SKIP": _Reader.pre_skip, "RETRY": _Reader.retry,
    "VARS": _Reader.vars, "ABORT-DAG-ON": _Reader.abort_dag_on, "CATEGORY": _Reader.category,
    "MAXJOBS": _Reader.maxjobs, "PRIORITY": _Reader.priority, "CONFIG": _Reader.config,
    "SPLICE": _Reader.splice, "SUBDAG": _Reader.subdag,
    "INCLUDE": _Reader.include,
}


def _scoped(splice: str, category: str) -> str:
    """A category of a splice, as the DAG that splices it names it: global ones (``+``)
    as they are, the splice's own under its name."""
    return category if not category or category.startswith("+") else f"{splice}+{category}"


def _under(directory: Path, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else directory / path
