"""``roost classad eval``, checked against what HTCondor's ``classad_eval`` prints."""

import io
import sys
from pathlib import Path

import pytest

from roost import classad_eval, cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def ads(tmp_path):
    """Write ad files and return their paths by name."""
    files = {
        "my": "[ x = 7; z = 10; ]\n",
        "target": "[ x = 8; y = 9; ]\n",
        "old": 'x = 7\nz = 10\nname = "old syntax"\n',
        "bad_old": "x = 7\ny = 1 + * 2\n",
        "bad_new": "[ x = 7;\n  y = 1 + * 2 ]\n",
    }
    paths = {}
    for name, text in files.items():
        path = tmp_path / f"{name}.ad"
        path.write_text(text)
        paths[name] = str(path)
    return paths


def run(capsys, *argv):
    status = classad_eval.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["1"], "[  ]\n1\n"),
        (["1 + 1"], "[  ]\n2\n"),
        (["x = 7", "x"], "[ x = 7 ]\n7\n"),
        (["x = y", "x"], "[ x = y ]\nundefined\n"),
        (["x = y", "y = 7", "x"], "[ x = y; y = 7 ]\n7\n"),
        (["[ x = y; y = 7; ]", "x"], "[ x = y; y = 7 ]\n7\n"),
        (["a = 1; b = 2", "a + b"], "[ a = 1; b = 2 ]\n3\n"),
        (["x = y", "x", "y = 7", "x"], "[ x = y ]\nundefined\n[ x = y; y = 7 ]\n7\n"),
        (["x = 6", "x", "x * 2"], "[ x = 6 ]\n6\n12\n"),
        (["[ a = 1; b = 2 ].b"], "[  ]\n2\n"),
    ],
)
def test_context_and_values(capsys, argv, expected):
    assert run(capsys, *argv) == (0, expected, "")


@pytest.mark.parametrize(
    ("expression", "printed"),
    [
        ('"foo"', '"foo"'),
        ('strcat("a", "b")', '"ab"'),
        ('"say \\"hi\\""', '"say \\"hi\\""'),
        ("true", "true"),
        ("1 < 0", "false"),
        ("undefined", "undefined"),
        ("nosuchattribute", "undefined"),
        ("error", "error"),
        ("1 / 0", "error"),
        ("7 / 2", "3"),
        ("2.5", "2.500000000000000E+00"),
        ('{ 1, "a" }', '{ 1,"a" }'),
        ("relTime(90)", 'relTime("01:30")'),
    ],
)
def test_values_print_in_classad_syntax(capsys, expression, printed):
    assert run(capsys, "-quiet", expression) == (0, f"{printed}\n", "")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-quiet", "x = y", "y = 7", "x"], "7\n"),
        (["x = y", "x", "-quiet", "y = 7", "x"], "[ x = y ]\nundefined\n7\n"),
    ],
)
def test_quiet_silences_the_context_from_where_it_stands(capsys, argv, expected):
    assert run(capsys, *argv) == (0, expected, "")


@pytest.mark.parametrize("option", ["-my", "-my-file", "-file"])
@pytest.mark.parametrize(
    ("expression", "value"), [("x", "7"), ("MY.x", "7"), ("TARGET.x", "undefined")]
)
def test_my_file(capsys, ads, option, expression, value):
    assert run(capsys, "-quiet", option, ads["my"], expression) == (0, f"{value}\n", "")


@pytest.mark.parametrize("option", ["-target", "-target-file"])
@pytest.mark.parametrize(
    ("expression", "value"), [("x", "8"), ("MY.x", "undefined"), ("TARGET.x", "8")]
)
def test_target_file(capsys, ads, option, expression, value):
    assert run(capsys, "-quiet", option, ads["target"], expression) == (0, f"{value}\n", "")


@pytest.mark.parametrize(
    ("expression", "value"),
    [("x", "7"), ("MY.x", "7"), ("TARGET.x", "8"), ("y", "9"), ("z", "10")],
)
def test_unscoped_names_look_in_my_then_target(capsys, ads, expression, value):
    argv = ["-quiet", "-my", ads["my"], "-target", ads["target"], expression]
    assert run(capsys, *argv) == (0, f"{value}\n", "")


def test_my_file_replaces_the_context_and_is_printed(capsys, ads):
    argv = ["a = 1", "a", "-my", ads["my"], "a", "z"]
    expected = "[ a = 1 ]\n1\n[ x = 7; z = 10 ]\nundefined\n10\n"
    assert run(capsys, *argv) == (0, expected, "")


def test_assignments_update_an_ad_read_from_a_file(capsys, ads):
    argv = ["-my", ads["my"], "x = 1", "x + z"]
    assert run(capsys, *argv) == (0, "[ x = 1; z = 10 ]\n11\n", "")


def test_old_syntax_file(capsys, ads):
    assert run(capsys, "-quiet", "-my", ads["old"], "name", "x + z") == (
        0,
        '"old syntax"\n17\n',
        "",
    )


def test_ad_on_stdin(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("Memory = 4096\n"))
    assert run(capsys, "-quiet", "-target", "-", "TARGET.Memory / 1024") == (0, "4\n", "")


def test_dash_dash_ends_the_options(capsys):
    assert run(capsys, "-quiet", "--", "-quiet", "-1") == (0, "undefined\n-1\n", "")


def test_the_readme_example(capsys):
    argv = [
        "-my",
        str(EXAMPLES / "job.ad"),
        "-target",
        str(EXAMPLES / "machine.ad"),
        "MY.Requirements",
        "TARGET.Requirements",
        "RequestMemory <= TARGET.Memory",
    ]
    status, out, err = run(capsys, *argv)
    lines = out.splitlines()
    assert (status, err) == (0, "")
    assert lines[0].startswith('[ MyType = "Job"; ')
    assert lines[1:] == ["true", "true", "true"]


def test_examples_match_each_other():
    import classad

    job = classad.parse_one((EXAMPLES / "job.ad").read_text())
    machine = classad.parse_one((EXAMPLES / "machine.ad").read_text())
    assert job.symmetric_match(machine)
    assert classad.ExprTree("Rank").eval(my=job, target=machine) == 28000


def test_syntax_error_in_an_expression(capsys):
    status, out, err = run(capsys, "1", "1 + * 2")
    assert (status, out) == (1, "[  ]\n1\n")
    assert err.startswith("<argument 2>:1:5: ")
    assert len(err.splitlines()) == 1


def test_syntax_error_in_assignments_is_placed_where_they_fail(capsys):
    status, out, err = run(capsys, "-quiet", "x = 1 + * 2")
    assert (status, out) == (1, "")
    assert err.startswith("<argument 2>:1:9: ")


def test_assignments_that_end_too_early(capsys):
    status, out, err = run(capsys, "-quiet", "x = 1 +")
    assert (status, out) == (1, "")
    assert err.startswith("<argument 2>:1:8: ")
    assert "]" not in err


@pytest.mark.parametrize(("name", "position"), [("bad_old", "2:9"), ("bad_new", "2:11")])
def test_syntax_error_in_a_file(capsys, ads, name, position):
    status, out, err = run(capsys, "-quiet", "-my", ads[name], "x")
    assert (status, out) == (1, "")
    assert err.startswith(f"{ads[name]}:{position}: ")
    assert len(err.splitlines()) == 1


def test_syntax_error_on_stdin(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("[ x = 1 + * 2 ]"))
    status, out, err = run(capsys, "-quiet", "-my", "-", "x")
    assert (status, out) == (1, "")
    assert err.startswith("<stdin>:1:11: ")


def test_unreadable_file_is_one_line_through_the_dispatcher(capsys, tmp_path):
    missing = tmp_path / "missing.ad"
    assert cli.main(["classad", "eval", "-my", str(missing), "x"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"roost: cannot read {missing}: No such file or directory\n"


def test_option_without_its_file_is_a_usage_error(capsys):
    assert cli.main(["classad", "eval", "x", "-target"]) == 2
    assert capsys.readouterr().err == (
        "roost: -target needs a FILE (see 'roost classad eval -help')\n"
    )


def test_nothing_to_evaluate_is_a_usage_error(capsys):
    assert cli.main(["classad", "eval", "-quiet"]) == 2
    assert capsys.readouterr().err == (
        "roost: nothing to evaluate (see 'roost classad eval -help')\n"
    )


@pytest.mark.parametrize("option", ["-h", "-help", "--help"])
def test_help(capsys, option):
    assert run(capsys, "1", option) == (0, classad_eval.HELP + "\n", "")


def test_classad_syntax_error_escaping_a_verb_is_one_line(capsys, monkeypatch, tmp_path):
    module = tmp_path / "roost_test_parse_verb.py"
    module.write_text("import classad\n\n\ndef main(argv):\n    classad.ExprTree(argv[0])\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "roost_test_parse_verb", raising=False)
    monkeypatch.setattr(cli, "VERBS", {"parse": cli.Verb("roost_test_parse_verb:main", "")})
    assert cli.main(["parse", "1 + * 2"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("roost: ")
    assert len(err.splitlines()) == 1
