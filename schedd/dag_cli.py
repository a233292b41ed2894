"""``roost dag submit|status|rm``: HTCondor DAGMan files run by the schedd itself.

``roost dag submit FILE.dag`` reads the DAG file (``schedd.dag_file``) and each node's
submit description (with the node's VARS as condor_submit's ``-a`` would add them: just
before its queue statement), and queues the whole DAG in one transaction: every node a
cluster whose jobs wait for its parents, every PARENT/CHILD pair an edge.  The schedd
starts nodes as their parents succeed and the throttles allow, runs their PRE and POST
scripts on the submit side as their owner, and retries, aborts and blocks as DAGMan does
(``schedd.dag_node``).  A SUBDAG EXTERNAL is a DAG of its own (its own id and throttles)
whose nodes run between the SUBDAG node's parents and its children.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from roost.errors import RoostError

_QUEUE = re.compile(r"^\s*queue\b", re.IGNORECASE)


def submit_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="roost dag submit",
        description="Queue the nodes of an HTCondor DAGMan input file as one DAG.")
    parser.add_argument("file", help="the DAG input file")
    parser.add_argument("-maxjobs", "--maxjobs", type=int, default=None, metavar="N",
                        help="at most N nodes under way at once (0: no limit)")
    parser.add_argument("-maxidle", "--maxidle", type=int, default=None, metavar="N",
                        help="start no node while N or more of the DAG's jobs are idle")
    parser.add_argument("-json", "--json", action="store_true",
                        help="print the DAG id and the nodes' cluster ids as JSON")
    args = parser.parse_args(argv)
    for name in ("maxjobs", "maxidle"):
        if getattr(args, name) is not None and getattr(args, name) < 0:
            raise RoostError(f"-{name} cannot be negative")

    from roost.client import Schedd
    from schedd.dag_file import DagError, read_dag

    path = Path(args.file).absolute()
    try:
        dag = read_dag(path)
    except DagError as error:
        raise RoostError(str(error)) from None
    with Schedd() as schedd:
        plan = _Plan(owner=schedd.user, now=int(time.time()))
        plan.add_dag(dag, parent=-1, max_jobs=args.maxjobs, max_idle=args.maxidle, before=[])
        dag_ids, clusters = schedd.submit_dag(plan.dags, plan.nodes)
        _record(schedd.config.home, clusters[-1], schedd.user)
    if args.json:
        print(json.dumps({"DAGManJobId": dag_ids[0], "SubDAGs": dag_ids[1:],
                          "Nodes": dict(zip(plan.names, clusters, strict=True))}))
    else:
        print(f"{len(clusters)} node(s) submitted as DAG {dag_ids[0]}.")
    return 0


@dataclass
class _Plan:
    """The DAGs and nodes of one submit, flattened: parents before children."""

    owner: str
    now: int
    dags: list = field(default_factory=list)
    nodes: list = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    # Jobs already read, by (submit file, directory, VARS), of submit files whose jobs
    # cannot differ from node to node (no $(JOB), no $RANDOM_*): a DAG of 100,000 nodes
    # often names a handful of files.
    read: dict = field(default_factory=dict)

    def add_dag(self, dag, *, parent: int, max_jobs: int | None, max_idle: int | None,
                before: list[int], prefix: str = "") -> list[int]:
        """Add ``dag``'s nodes; its first nodes also wait for ``before`` (the SUBDAG
        node's parents).  Returns the indices of its final nodes."""
        import classad

        index = len(self.dags)
        categories = classad.ClassAd({name: limit for name, limit in dag.categories.items()})
        ad = classad.ClassAd({"DAGFile": str(dag.file),
                              "MaxJobs": dag.max_jobs if max_jobs is None else max_jobs,
                              "MaxIdle": dag.max_idle if max_idle is None else max_idle,
                              "Categories": categories})
        self.dags.append((ad, parent))
        at: dict[str, int] = {}
        children = dag.children()
        finals = []
        for name in dag.order():
            node = dag.nodes[name]
            parents = [at[p] for p in sorted(dag.parents.get(name, ()), key=at.get)]
            if not parents:
                parents = list(before)
            if node.subdag is not None:
                ends = self.add_dag(node.subdag, parent=index, max_jobs=None, max_idle=None,
                                    before=parents, prefix=f"{prefix}{name}/")
                parents = parents + ends
            at[name] = len(self.nodes)
            self.nodes.append((index, _node_ad(node), *self._job(node), parents))
            self.names.append(prefix + name)
            if not children[name]:
                finals.append(at[name])
        return finals

    def _job(self, node) -> tuple:
        """(cluster ad, proc ads, count) of a node's job."""
        import classad
        from roost import submit_description as sd

        if node.subdag is not None or ((node.noop or node.done)
                                       and not node.submit_file.exists()):
            ad = sd.complete_job_ad(classad.ClassAd({"Cmd": "/bin/true"}), owner=self.owner,
                                    now=self.now, cwd=node.directory,
                                    arch=sd.local_platform()[0], opsys=sd.local_platform()[1])
            return ad, [], 1
        try:
            text = node.submit_file.read_text(encoding="utf-8")
        except OSError as error:
            raise RoostError(f"{node.where}: node {node.name}: cannot read "
                             f"{node.submit_file}: {error.strerror}") from None
        same = not _PER_NODE.search(text)
        key = (node.submit_file, node.directory, tuple(node.variables))
        if same and key in self.read:
            return self.read[key]
        # $(JOB) is the node's name in its submit description, as DAGMan defines it.
        text = _with_vars(text, [("JOB", node.name), *node.variables])
        arch, opsys = sd.local_platform()
        try:
            plan = sd.parse_submit(text, filename=str(node.submit_file), cwd=node.directory,
                                   owner=self.owner, now=self.now, arch=arch, opsys=opsys,
                                   environ=os.environ)
        except sd.SubmitError as error:
            raise RoostError(f"{node.where}: node {node.name}: {error}") from None
        job = plan.cluster_ad, plan.procs, plan.count
        if same:
            self.read[key] = job
        return job


# What makes one node's job differ from another's of the same submit file and VARS: its
# name (a macro JOB; any word "job" is taken as one, to be safe) and random macros.
_PER_NODE = re.compile(r"job|random", re.IGNORECASE)


def _with_vars(text: str, variables: list[tuple[str, str]]) -> str:
    """The submit description with a node's VARS set just before its first queue
    statement, as condor_submit's -a sets them (so they win over the file's own)."""
    lines = text.splitlines()
    at = next((i for i, line in enumerate(lines) if _QUEUE.match(line)), len(lines))
    added = [f"{name} = {value}" for name, value in variables]
    return "\n".join(lines[:at] + added + lines[at:]) + "\n"


def _node_ad(node):
    import classad
    from schedd.dag_node import Script

    ad = classad.ClassAd({"DAGNodeName": node.name, "Directory": str(node.directory)})
    if node.category:
        ad["Category"] = node.category
    if node.priority:
        ad["Priority"] = node.priority
    if node.retry:
        ad["MaxRetries"] = node.retry
    if node.unless_exit is not None:
        ad["UnlessExit"] = node.unless_exit
    for kind in ("pre", "post"):
        script = getattr(node, kind)
        if script is not None:
            ad[f"{kind.capitalize()}Script"] = Script(
                script.executable, tuple(script.arguments), script.defer_status,
                script.defer_time, script.debug_file, script.debug_type).ad()
    if node.pre_skip is not None:
        ad["PreSkip"] = node.pre_skip
    if node.abort_on is not None:
        ad["AbortValue"] = node.abort_on[0]
        if node.abort_on[1] is not None:
            ad["AbortReturn"] = node.abort_on[1]
    if node.noop or node.subdag is not None:
        ad["Noop"] = True
    if node.done:
        ad["Done"] = True
    return ad


def _record(home: Path, cluster: int, owner: str) -> None:
    from schedd import last_submit

    try:
        last_submit.record(home, cluster, owner)
    except RoostError as error:
        print(f"WARNING: {error}", file=sys.stderr)


# -- status and rm ---------------------------------------------------------------------------


_STATES = ("done", "queued", "pre", "post", "ready", "waiting", "failed", "blocked",
           "removed", "aborted")


def status_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="roost dag status",
        description="Show a DAG: its nodes by state, which failed and why, and what is "
        "blocked behind them.")
    parser.add_argument("dag", type=int, metavar="ID")
    parser.add_argument("-json", "--json", action="store_true",
                        help="the DAG's ad and its nodes' ads as JSON")
    args = parser.parse_args(argv)

    from roost.client import Schedd

    with Schedd() as schedd:
        dag, nodes = schedd.dag_status(args.dag)
    if args.json:
        print(json.dumps({"DAG": _plain(dag), "Nodes": [_plain(ad) for ad in nodes]},
                         indent=1))
        return 0
    print(format_status(dag, nodes), end="")
    return 0


def format_status(dag, nodes) -> str:
    """The text of ``roost dag status``."""
    status = dag.eval("DAGStatus")
    returned = f", return value {dag.eval('ReturnValue')}" if "ReturnValue" in dag else ""
    reason = dag.eval("Reason") if "Reason" in dag else ""
    lines = [f"DAG {dag.eval('DAGManJobId')} ({dag.eval('JobBatchName')}, "
             f"{dag.eval('DAGFile')}): {status}{returned}" + (f": {reason}" if reason else "")]
    counts = {state: 0 for state in _STATES}
    for ad in nodes:
        counts[ad.eval("Phase")] = counts.get(ad.eval("Phase"), 0) + 1
    lines.append("  " + "  ".join(f"{n} {state}" for state, n in counts.items()
                                  if n or state in ("done", "queued", "waiting", "failed")))
    width = max([4, *(len(ad.eval("DAGNodeName")) for ad in nodes)])
    lines.append(f"  {'NODE':<{width}}  {'CLUSTER':>7}  {'STATE':<8}  RETRIES  NOTE")
    for ad in nodes:
        note = ad.eval("Reason") if "Reason" in ad else ""
        if "BlockedBy" in ad and not note:
            note = f"blocked by {ad.eval('BlockedBy')}"
        retries = f"{ad.eval('Retries')}/{ad.eval('MaxRetries')}"
        lines.append(f"  {ad.eval('DAGNodeName'):<{width}}  {ad.eval('ClusterId'):>7}  "
                     f"{ad.eval('Phase'):<8}  {retries:<7}  {note}".rstrip())
    failed = [ad for ad in nodes if ad.eval("Phase") in ("failed", "aborted")]
    for ad in failed:
        behind = _behind(ad.eval("ClusterId"), nodes)
        lines.append(f"failed: {ad.eval('DAGNodeName')} (cluster {ad.eval('ClusterId')}): "
                     f"{ad.eval('Reason') or 'failed'}")
        if behind:
            lines.append(f"  blocked behind it: {', '.join(behind)}")
    return "\n".join(lines) + "\n"


def _behind(cluster: int, nodes) -> list[str]:
    """The blocked nodes that a failed node's failure reached."""
    names = {ad.eval("ClusterId"): ad.eval("DAGNodeName") for ad in nodes}
    blocked_by: dict[str, list[str]] = {}
    for ad in nodes:
        if ad.eval("Phase") == "blocked" and "BlockedBy" in ad:
            for parent in str(ad.eval("BlockedBy")).split(","):
                blocked_by.setdefault(parent, []).append(ad.eval("DAGNodeName"))
    found, frontier = [], [names[cluster]]
    while frontier:
        name = frontier.pop(0)
        for child in blocked_by.get(name, []):
            if child not in found:
                found.append(child)
                frontier.append(child)
    return found


def rm_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="roost dag rm",
        description="Stop a DAG: its nodes' jobs are removed and no node starts again.")
    parser.add_argument("dag", type=int, metavar="ID")
    parser.add_argument("-reason", "--reason", metavar="TEXT", default="via roost dag rm")
    args = parser.parse_args(argv)

    from roost.client import Schedd

    with Schedd() as schedd:
        removed = schedd.remove_dag(args.dag, args.reason)
    print(f"DAG {args.dag} removed: {removed} job(s) removed.")
    return 0


def _plain(ad) -> dict:
    return json.loads(ad.print_json())
