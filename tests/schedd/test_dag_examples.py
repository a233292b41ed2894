"""DAGMan files from the examples of HTCondor's manual (docs/automated-workflows), written
here from its descriptions (tests/schedd/dag_examples): each is read by
``schedd.dag_file`` into the nodes, edges, retries, scripts and throttles the manual says
it describes, and the commands roost does not carry out are refused naming file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schedd.dag_file import UNSUPPORTED, Dag, DagError, read_dag

from . import test_dags

dags = test_dags.dags  # the fixture: a schedd, and roost's CLI talking to it as alice
EXAMPLES = Path(__file__).with_name("dag_examples")

DIAMOND = [("A", "B"), ("A", "C"), ("B", "D"), ("C", "D")]
X = [(p, "D") for p in "ABC"] + [("D", c) for c in "EFG"]


def summary(dag: Dag) -> dict:
    """What a DAG file said, in plain values."""
    nodes = list(dag.nodes.values())
    scripts = {(node.name, kind): getattr(node, kind) for node in nodes
               for kind in ("pre", "post") if getattr(node, kind) is not None}
    return {
        "nodes": [node.name for node in nodes],
        "edges": sorted((parent, child) for child, parents in dag.parents.items()
                        for parent in parents),
        "retries": {node.name: (node.retry, node.unless_exit) for node in nodes if node.retry},
        "scripts": {key: (script.executable, script.arguments)
                    for key, script in scripts.items()},
        "script_options": {key: (script.defer_status, script.defer_time, script.debug_file,
                                 script.debug_type) for key, script in scripts.items()
                           if script.defer_status is not None or script.debug_file},
        # As the node's submit description sees them: a later value of a name wins.
        "vars": {node.name: dict(node.variables) for node in nodes if node.variables},
        "pre_skip": {node.name: node.pre_skip for node in nodes if node.pre_skip is not None},
        "abort": {node.name: node.abort_on for node in nodes if node.abort_on is not None},
        "categories": {node.name: node.category for node in nodes if node.category},
        "maxjobs": dag.categories,
        "priorities": {node.name: node.priority for node in nodes if node.priority},
        "noop": [node.name for node in nodes if node.noop],
        "done": [node.name for node in nodes if node.done],
        "throttles": (dag.max_jobs, dag.max_idle),
        "subdags": {node.name: summary(node.subdag) for node in nodes if node.subdag},
        "submit_files": {node.name: str(node.submit_file.relative_to(EXAMPLES))
                         for node in nodes if node.submit_file is not None},
        "directories": {node.name: str(node.directory.relative_to(EXAMPLES))
                        for node in nodes},
    }


ACCEPTED = {
    "diamond/diamond.dag": {"nodes": ["A", "B", "C", "D"], "edges": DIAMOND,
                            "submit_files": {n: f"diamond/{n}.sub" for n in "ABCD"}},
    "diamond/diamond-by-edge.dag": {"nodes": ["A", "B", "C", "D"], "edges": DIAMOND},
    "diamond/many-to-many.dag": {
        "edges": [("p1", "c1"), ("p1", "c2"), ("p2", "c1"), ("p2", "c2")]},
    "scripts/pre-scripts.dag": {
        "edges": DIAMOND,
        "scripts": {("B", "pre"): ("pre.sh", ["$NODE", ".gz"]),
                    ("C", "pre"): ("pre.sh", ["$NODE", ".gz"])}},
    "scripts/post-script.dag": {
        "scripts": {("A", "post"): ("stage-out", ["job_status", "$RETURN"])}},
    "scripts/defer-debug.dag": {
        "scripts": {("A", "post"): ("post.sh", ["$NODE", "$RETURN"]),
                    ("A", "pre"): ("pre.sh", ["$NODE"])},
        "script_options": {("A", "post"): (4, 300, "", ""),
                           ("A", "pre"): (None, 0, "pre-A.log", "ALL")}},
    "scripts/pre-skip.dag": {
        "scripts": {("A", "pre"): ("check-cache.sh", ["$NODE"]),
                    ("A", "post"): ("post.sh", ["$RETURN"])},
        "pre_skip": {"A": 1}},
    "completion/retry.dag": {"edges": DIAMOND, "retries": {"C": (3, None)}},
    "completion/retry-unless-exit.dag": {"retries": {"A": (1, None), "B": (2, 5)}},
    "completion/abort.dag": {"edges": DIAMOND, "retries": {"C": (3, None)},
                             "abort": {"C": (10, 1), "D": (2, None)}},
    "completion/rescue.dag": {"edges": [("A", "B"), ("B", "C")], "done": ["A", "C"]},
    "vars/state.dag": {"edges": DIAMOND, "vars": {"A": {"state": "Wisconsin"}},
                       "submit_files": {"A": "vars/A.sub", "B": "vars/B.sub",
                                        "C": "vars/B.sub", "D": "vars/B.sub"}},
    "vars/shared.dag": {"vars": {"A": {"filename": "alpha"}, "B": {"filename": "beta"},
                                 "C": {"filename": "charlie"}},
                        "submit_files": {n: "vars/shared.sub" for n in "ABC"}},
    "vars/prepend.dag": {"vars": {"A": {"var1": "A", "var2": "B"}}},
    "vars/twice.dag": {"vars": {"ONLY": {"custom_macro": "bar"}}},
    "vars/quoting.dag": {"vars": {
        "NodeA": {"first": "Alberto Contador", "second": '""Andy Schleck""',
                  "third": "Lance\\ Armstrong", "fourth": "Vincenzo ''The Shark'' Nibali",
                  "misc": "!@#$%^&*()_-=+=[]{}?/"},
        "NodeB": {"second": '\\"Andreas_Kloden\\"'}}},
    "vars/expanded.dag": {"vars": {"A": {"test_case": "A-$(ClusterId)"}}},
    "vars/attributes.dag": {"vars": {"NodeA": {"+name": '"Cole"', "My.surname": '"Greg"'}}},
    "vars/all-nodes.dag": {
        "scripts": {(n, "pre"): ("my_script", ["$JOB"]) for n in "ABC"},
        "vars": {"A": {"name": "A"}, "B": {"name": "nodeB"}, "C": {"name": "C"}},
        "retries": {"A": (10, None), "B": (3, None), "C": (3, None)}},
    "throttles/priority.dag": {"edges": DIAMOND, "retries": {"C": (3, None)},
                               "priorities": {"C": 1}},
    "throttles/priorities.dag": {
        "nodes": ["A", "B"], "priorities": {"A": 25, "B": 100},
        "subdags": {"B": {"nodes": ["lowA", "lowB"], "priorities": {"lowA": 10, "lowB": 50}}}},
    "throttles/category.dag": {"categories": {"big1": "big", "big2": "big", "big3": "big"},
                               "maxjobs": {"big": 2}},
    "throttles/global-category.dag": {
        "nodes": ["A+C", "A+D", "B+X", "B+Y"],
        "categories": {n: "+init" for n in ("A+C", "A+D", "B+X", "B+Y")},
        "maxjobs": {"+init": 2}},
    "throttles/upper.dag": {"categories": {"A+X": "A+catX", "A+Y": "+catY"},
                            "maxjobs": {"+catY": 2, "A+catX": 10}},
    "throttles/config.dag": {"nodes": ["A"], "throttles": (0, 10)},
    "layout/dir.dag": {"submit_files": {"A": "layout/dirA/A.submit"},
                       "directories": {"A": "layout/dirA"}},
    "layout/foo.dag": {"nodes": ["A", "B", "C"], "edges": [("A", "B"), ("A", "C")]},
    "layout/sweep.dag": {"nodes": [f"job{i}" for i in range(4)],
                         "vars": {f"job{i}": {"runnumber": str(i)} for i in range(4)},
                         "submit_files": {f"job{i}": "layout/common.sub" for i in range(4)}},
    "splices/topLevel.dag": {
        "nodes": ["X", "Y", "DIAMOND+A", "DIAMOND+B", "DIAMOND+C", "DIAMOND+D"],
        "edges": sorted([("X", "DIAMOND+A"), ("DIAMOND+D", "Y")]
                        + [(f"DIAMOND+{p}", f"DIAMOND+{c}") for p, c in DIAMOND])},
    "splices/s1.dag": {
        "nodes": ["A", "B"] + [f"X{i}+{n}" for i in (1, 2) for n in "ABCDEFG"],
        "edges": sorted([("A", f"X1+{n}") for n in "ABC"]
                        + [(f"X1+{p}", f"X2+{c}") for p in "EFG" for c in "ABC"]
                        + [(f"X2+{n}", "B") for n in "EFG"]
                        + [(f"X{i}+{p}", f"X{i}+{c}") for i in (1, 2) for p, c in X])},
    "splices/toplevel.dag": {
        "nodes": ["A", "B", "C", "D"] + [f"S2+{n}" for n in "ABCDEFG"]
        + ["S3+A", "S3+B"] + [f"S3+X{i}+{n}" for i in (1, 2) for n in "ABCDEFG"],
        "edges": sorted(DIAMOND + [("D", f"S2+{n}") for n in "ABC"]
                        + [(f"S2+{p}", f"S2+{c}") for p, c in X]
                        + [("S3+A", f"S3+X1+{n}") for n in "ABC"]
                        + [(f"S3+X1+{p}", f"S3+X2+{c}") for p in "EFG" for c in "ABC"]
                        + [(f"S3+X2+{n}", "S3+B") for n in "EFG"]
                        + [(f"S3+X{i}+{p}", f"S3+X{i}+{c}") for i in (1, 2) for p, c in X])},
    "splices/noop.dag": {
        "nodes": ["OnlyPreNode", "OnlyPostNode", "TheSplice+TheNode"],
        "edges": [("OnlyPreNode", "TheSplice+TheNode"), ("TheSplice+TheNode", "OnlyPostNode")],
        "noop": ["OnlyPreNode", "OnlyPostNode"],
        "scripts": {("OnlyPreNode", "pre"): ("prescript.sh", []),
                    ("OnlyPostNode", "post"): ("postscript.sh", [])}},
    "splices/line.dag": {
        "nodes": ["X", "Y", "Z"], "edges": [("X", "Y"), ("Y", "Z")],
        "subdags": {"Y": {"nodes": ["A", "B", "C", "D"], "edges": DIAMOND}}},
}


def _expected(got: dict, expected: dict) -> dict:
    """``got`` cut to the keys ``expected`` names, nested summaries too."""
    cut = {key: got[key] for key in expected}
    if "subdags" in expected:
        cut["subdags"] = {name: _expected(got["subdags"][name], inner)
                          for name, inner in expected["subdags"].items()}
    return cut


@pytest.mark.parametrize(("name", "expected"), ACCEPTED.items(), ids=list(ACCEPTED))
def test_the_manuals_example_reads_as_it_says(name, expected):
    dag = read_dag(EXAMPLES / name)
    got = summary(dag)
    assert _expected(got, expected) == expected
    assert len(dag.order()) == len(dag.nodes)  # no cycle
    # Every node that runs a job has its submit file beside the example.
    assert all(node.submit_file.exists() for node in dag.nodes.values()
               if node.submit_file is not None and not node.noop), got["submit_files"]


def test_every_example_is_queued_by_roost_dag_submit(dags):
    """Their submit files too: each example is queued whole by a schedd."""
    for name in ACCEPTED:
        status, out, err = dags.roost("dag", "submit", "-json", str(EXAMPLES / name))
        assert status == 0, (name, err)
        dag = read_dag(EXAMPLES / name)
        assert set(dag.nodes) <= set(json.loads(out)["Nodes"]), name


REFUSED = [
    ("final.dag", 3, "FINAL"), ("provisioner.dag", 1, "PROVISIONER"),
    ("service.dag", 2, "SERVICE"), ("weak.dag", 3, "WEAK"), ("tolerance.dag", 2, "TOLERANCE"),
    ("dot.dag", 1, "DOT"), ("node-status.dag", 2, "NODE_STATUS_FILE"),
    ("jobstate-log.dag", 2, "JOBSTATE_LOG"), ("save-point.dag", 3, "SAVE_POINT_FILE"),
    ("set-job-attr.dag", 1, "SET_JOB_ATTR"), ("env.dag", 2, "ENV"), ("reject.dag", 2, "REJECT"),
    ("submit-description.dag", 1, "SUBMIT-DESCRIPTION"), ("pins.dag", 2, "PIN_IN"),
]


@pytest.mark.parametrize(("name", "line", "command"), REFUSED, ids=[r[0] for r in REFUSED])
def test_a_command_roost_does_not_carry_out_is_refused_at_its_line(name, line, command):
    path = EXAMPLES / "refused" / name
    with pytest.raises(DagError) as error:
        read_dag(path)
    assert str(error.value) == (
        f"{path}:{line}: {command}: roost does not support {UNSUPPORTED[command]}")


@pytest.mark.parametrize(("name", "line", "message"), [
    ("inline-job.dag", 2, "JOB: roost does not support inline submit descriptions"),
    ("hold-script.dag", 2, "SCRIPT HOLD: roost does not support HOLD scripts"),
])
def test_forms_of_supported_commands_that_roost_does_not_carry_out(name, line, message):
    path = EXAMPLES / "refused" / name
    with pytest.raises(DagError) as error:
        read_dag(path)
    assert str(error.value) == f"{path}:{line}: {message}"
