"""Reading DAGMan input files (``schedd.dag_file``): the commands of HTCondor's manual, its
examples, and errors that name ``file:line``."""

from __future__ import annotations

from pathlib import Path

import pytest

from schedd.dag_file import DagError, read_dag


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def refused(tmp_path: Path, text: str, name: str = "x.dag") -> str:
    with pytest.raises(DagError) as error:
        read_dag(write(tmp_path, name, text))
    return str(error.value)


# -- the manual's examples ---------------------------------------------------------------


DIAMOND = """\
# File name: diamond.dag

JOB  A  A.condor
JOB  B  B.condor
JOB  C  C.condor
JOB  D  D.condor
PARENT A CHILD B C
PARENT B C CHILD D
"""


def test_the_diamond(tmp_path):
    dag = read_dag(write(tmp_path, "diamond.dag", DIAMOND))
    assert list(dag.nodes) == ["A", "B", "C", "D"]
    assert dag.parents == {"B": {"A"}, "C": {"A"}, "D": {"B", "C"}}
    assert dag.order() == ["A", "B", "C", "D"]
    assert dag.nodes["A"].submit_file == tmp_path / "A.condor"
    assert dag.nodes["D"].where == f"{tmp_path / 'diamond.dag'}:6"
    assert dag.children()["A"] == {"B", "C"}


def test_scripts_retry_and_abort_as_the_manual_writes_them(tmp_path):
    dag = read_dag(write(tmp_path, "diamond.dag", DIAMOND + """\
SCRIPT PRE  A  pre.csh $JOB .gz
SCRIPT POST A  post.csh $JOB $RETURN
SCRIPT DEFER 4 300 POST B post_b.sh
SCRIPT DEBUG b.debug STDERR PRE B pre_b.sh
PRE_SKIP A 1
RETRY C 3 UNLESS-EXIT 2
RETRY D 1
ABORT-DAG-ON C 10 RETURN 1
ABORT-DAG-ON D 3
"""))
    a, b, c, d = (dag.nodes[name] for name in "ABCD")
    assert (a.pre.executable, a.pre.arguments) == ("pre.csh", ["$JOB", ".gz"])
    assert (a.post.executable, a.post.arguments) == ("post.csh", ["$JOB", "$RETURN"])
    assert (b.post.defer_status, b.post.defer_time) == (4, 300)
    assert (b.pre.debug_file, b.pre.debug_type) == ("b.debug", "STDERR")
    assert a.pre_skip == 1
    assert (c.retry, c.unless_exit, d.retry, d.unless_exit) == (3, 2, 1, None)
    assert (c.abort_on, d.abort_on) == ((10, 1), (3, None))


def test_vars_with_quotes_escapes_and_the_node_name(tmp_path):
    dag = read_dag(write(tmp_path, "v.dag", """\
JOB A A.sub
JOB B B.sub
VARS A state="Wisconsin" county="Dane"
VARS A  note="say \\"hi\\"" back="a\\\\b"
VARS ALL_NODES out="$(JOB).out"
VARS B PREPEND x="1"
"""))
    assert dag.nodes["A"].variables == [
        ("state", "Wisconsin"), ("county", "Dane"), ("note", 'say "hi"'), ("back", "a\\b"),
        ("out", "A.out")]
    assert dag.nodes["B"].variables == [("out", "B.out"), ("x", "1")]


def test_categories_maxjobs_priority_and_config(tmp_path):
    write(tmp_path, "dagman.config", "# throttles\nDAGMAN_MAX_JOBS_SUBMITTED = 10\n"
          "DAGMAN_MAX_JOBS_IDLE = 4\n")
    dag = read_dag(write(tmp_path, "c.dag", DIAMOND + """\
CATEGORY B big
CATEGORY C big
MAXJOBS big 1
PRIORITY D 100
CONFIG dagman.config
"""))
    assert (dag.nodes["B"].category, dag.nodes["C"].category, dag.nodes["A"].category) == (
        "big", "big", "")
    assert dag.categories == {"big": 1}
    assert dag.nodes["D"].priority == 100
    assert (dag.max_jobs, dag.max_idle) == (10, 4)


def test_job_options_dir_noop_done(tmp_path):
    dag = read_dag(write(tmp_path, "o.dag", """\
JOB A A.sub DIR work
JOB B B.sub NOOP
JOB C /abs/C.sub DONE
"""))
    a, b, c = (dag.nodes[name] for name in "ABC")
    assert (a.directory, a.submit_file) == (tmp_path / "work", tmp_path / "work" / "A.sub")
    assert (b.noop, b.done, c.done, c.submit_file) == (True, False, True, Path("/abs/C.sub"))


def test_a_splice_is_its_nodes_named_after_it_joined_at_its_ends(tmp_path):
    # The manual's splice example: a diamond spliced twice between A and B.
    write(tmp_path, "X.dag", DIAMOND + "CATEGORY A local\nCATEGORY B +shared\n")
    write(tmp_path, "sub/X.dag", DIAMOND)
    dag = read_dag(write(tmp_path, "toplevel.dag", """\
JOB A A.condor
SPLICE S1 X.dag
SPLICE S2 X.dag DIR sub
JOB B B.condor
PARENT A CHILD S1 S2
PARENT S1 S2 CHILD B
"""))
    assert set(dag.nodes) == {"A", "B"} | {f"S{i}+{n}" for i in (1, 2) for n in "ABCD"}
    assert dag.parents["S1+A"] == {"A"} and dag.parents["S2+A"] == {"A"}
    assert dag.parents["B"] == {"S1+D", "S2+D"}
    assert dag.parents["S1+D"] == {"S1+B", "S1+C"}
    assert dag.nodes["S1+A"].category == "S1+local"
    assert dag.nodes["S1+B"].category == "+shared"
    assert dag.nodes["S2+A"].submit_file == tmp_path / "sub" / "A.condor"
    order = dag.order()
    assert order.index("A") < order.index("S1+A") < order.index("S1+D") < order.index("B")


def test_a_subdag_is_a_node_holding_its_own_dag(tmp_path):
    write(tmp_path, "inner.dag", "JOB X x.sub\nJOB Y y.sub\nPARENT X CHILD Y\n")
    dag = read_dag(write(tmp_path, "outer.dag", """\
JOB A A.sub
SUBDAG EXTERNAL B inner.dag
JOB C C.sub
PARENT A CHILD B
PARENT B CHILD C
SCRIPT POST B check.sh
"""))
    inner = dag.nodes["B"].subdag
    assert dag.nodes["B"].submit_file is None and inner.parents == {"Y": {"X"}}
    assert dag.nodes["B"].post.executable == "check.sh"
    assert dag.order() == ["A", "B", "C"]


def test_include_and_comments(tmp_path):
    write(tmp_path, "more.dag", "JOB B B.sub\n")
    dag = read_dag(write(tmp_path, "i.dag", """\
# a comment
JOB A A.sub
INCLUDE more.dag
   # indented comment
PARENT A CHILD B
"""))
    assert dag.parents == {"B": {"A"}}
    assert dag.nodes["B"].where == f"{tmp_path / 'more.dag'}:1"


def test_keywords_are_case_insensitive(tmp_path):
    dag = read_dag(write(tmp_path, "k.dag", "job A a.sub\njob B b.sub\nparent A child B\n"
                         "retry B 2\n"))
    assert dag.parents == {"B": {"A"}} and dag.nodes["B"].retry == 2


# -- errors name file:line ---------------------------------------------------------------


def test_unknown_and_unsupported_commands_are_refused_by_line(tmp_path):
    where = tmp_path / "x.dag"
    assert refused(tmp_path, "JOB A a.sub\nFROB A\n") == f"{where}:2: unknown command 'FROB'"
    assert refused(tmp_path, "JOB A a.sub\nFINAL F f.sub\n") == (
        f"{where}:2: FINAL: roost does not support FINAL nodes")
    assert refused(tmp_path, "SET_JOB_ATTR Project = 1\n").startswith(
        f"{where}:1: SET_JOB_ATTR: roost does not support attributes of the DAGMan job")
    assert refused(tmp_path, "JOB A {\n") == (
        f"{where}:1: JOB: roost does not support inline submit descriptions")
    assert refused(tmp_path, "JOB A a.sub\nSCRIPT HOLD A h.sh\n") == (
        f"{where}:2: SCRIPT HOLD: roost does not support HOLD scripts")


@pytest.mark.parametrize(("text", "message"), [
    ("JOB A a.sub\nJOB A b.sub\n", "2: node 'A' is defined twice"),
    ("JOB A a.sub\nPARENT A CHILD B\n", "2: unknown node 'B'"),
    ("JOB A a.sub\nPARENT A\n", "2: PARENT needs CHILD"),
    ("JOB A a.sub\nPARENT A CHILD A\n", "2: cycle: node 'A' is its own parent"),
    ("JOB A a.sub\nRETRY A many\n", "2: RETRY's count must be an integer, not 'many'"),
    ("JOB A a.sub\nRETRY A 2 UNLESS 3\n", "2: RETRY needs a node and a count"),
    ("JOB A a.sub\nPRE_SKIP A 0\n", "2: PRE_SKIP's exit code cannot be 0"),
    ("JOB A a.sub\nVARS A x=unquoted\n", "2: VARS: expected name=\"value\""),
    ("JOB A a.sub\nVARS A Queue_size=\"2\"\n", "2: VARS: a macro's name cannot begin with queue"),
    ("JOB A a.sub\nDONE\n", "2: DONE needs a node"),
    ("JOB A a.sub\nDONE B\n", "2: unknown node 'B'"),
    ("JOB A a.sub\nABORT-DAG-ON A 1 RETURN 300\n", "2: RETURN's value must be between"),
    ("JOB A a.sub\nMAXJOBS big 0\n", "2: MAXJOBS's count must be at least 1"),
    ("JOB A a.sub\nSCRIPT PRE B x.sh\n", "2: unknown node 'B'"),
    ("JOB A a.sub DIR\n", "1: DIR needs a directory"),
    ("JOB A a.sub LATER\n", "1: unexpected 'LATER'"),
    ("JOB ALL_NODES a.sub\n", "1: 'ALL_NODES' cannot name a node"),
    ("JOB A\n", "1: JOB needs a node name and a submit file"),
    ("SUBDAG A a.dag\n", "1: SUBDAG needs EXTERNAL"),
    ("CONFIG missing.config\n", "1: cannot read"),
    ("INCLUDE missing.dag\n", "1: cannot read"),
])
def test_errors_name_the_line(tmp_path, text, message):
    line, _, words = message.partition(": ")
    assert refused(tmp_path, text).startswith(f"{tmp_path / 'x.dag'}:{line}: {words}")


def test_a_cycle_names_an_edge_on_it(tmp_path):
    message = refused(tmp_path, "JOB A a\nJOB B b\nJOB C c\nPARENT A CHILD B\n"
                      "PARENT B CHILD C\nPARENT C CHILD A\n")
    assert message.startswith(f"{tmp_path / 'x.dag'}:")
    assert "cycle: " in message and all(name in message for name in "ABC")


def test_errors_inside_included_and_config_files_name_those_files(tmp_path):
    write(tmp_path, "bad.config", "DAGMAN_MAX_JOBS_SUBMITTED = 2\nDAGMAN_USE_STRICT = 1\n")
    assert refused(tmp_path, "JOB A a\nCONFIG bad.config\n").startswith(
        f"{tmp_path / 'bad.config'}:2: DAGMAN_USE_STRICT: roost's DAGs take only")
    write(tmp_path, "inc.dag", "JOB B b\nBOGUS\n")
    assert refused(tmp_path, "JOB A a\nINCLUDE inc.dag\n") == (
        f"{tmp_path / 'inc.dag'}:2: unknown command 'BOGUS'")
    write(tmp_path, "self.dag", "INCLUDE self.dag\n")
    assert "within itself" in refused(tmp_path, "INCLUDE self.dag\n")
    write(tmp_path, "spliced.dag", "JOB A a\nRETRY A x\n")
    assert refused(tmp_path, "SPLICE S spliced.dag\n") == (
        f"{tmp_path / 'spliced.dag'}:2: RETRY's count must be an integer, not 'x'")


def test_a_splice_is_not_a_node_for_node_commands(tmp_path):
    write(tmp_path, "s.dag", "JOB A a\n")
    assert refused(tmp_path, "SPLICE S s.dag\nRETRY S 2\n").endswith(
        "x.dag:2: 'S' is a splice, not a node")
