"""The lexer and grammar: built in memory, conflict-free, one parser per thread, and
errors that say where."""

import os
import threading
from pathlib import Path

import ply.yacc
import pytest

import classad
from classad import ClassAdSyntaxError, ExprTree
from classad import _ast as ast
from classad._grammar import Grammar


class RecordingLog:
    def __init__(self):
        self.warnings = []

    def warning(self, msg, *args):
        self.warnings.append(msg % args)

    error = warning

    def info(self, msg, *args):
        pass

    debug = info


def test_grammar_has_no_conflicts():
    log = RecordingLog()
    ply.yacc.yacc(module=Grammar.__new__(Grammar), write_tables=False, debug=False, errorlog=log)
    conflicts = [w for w in log.warnings if "conflict" in w]
    assert conflicts == []
    assert not [w for w in log.warnings if "unused" in w.lower() or "never" in w.lower()]


def test_no_tables_are_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Grammar()
    package = os.path.dirname(classad.__file__)
    for where in (package, str(tmp_path)):
        assert not {"parsetab.py", "parser.out", "lextab.py"} & set(os.listdir(where))


def test_the_committed_tables_are_the_grammars(tmp_path):
    """classad/_parsetab.py is what scripts/gen_parsetab.py makes of the grammar now: a
    parser takes its tables from it rather than building them at each start."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gen_parsetab", Path(classad.__file__).parent.parent / "scripts" / "gen_parsetab.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    made = generator.generate(tmp_path)
    committed = Path(classad.__file__).parent / "_parsetab.py"
    assert made.read_text() == committed.read_text(), (
        "the grammar changed: run scripts/gen_parsetab.py")


def test_each_thread_parses_with_its_own_parser():
    texts = [f"a{i} + {i} * (b - {i})" for i in range(200)]
    results: dict[int, list] = {}

    def work(n):
        results[n] = [str(ExprTree(t + f" + {n}")) for t in texts]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n in range(4):
        assert results[n] == [f"{t.replace('(b', '(b')} + {n}" for t in texts]


@pytest.mark.parametrize(
    "text, line, column",
    [
        ("1 +", 1, 4),
        ("1 + * 2", 1, 5),
        ("a &&\n  (b ||", 2, 8),
        ('"abc', 1, 1),
        ("/* open", 1, 1),
        ("1.", 1, 1),
        ("x + 08", 1, 5),
        ("[ a = 1 b = 2 ]", 1, 9),
        ("{ 1, 2, }", 1, 9),
        ("f(1,)", 1, 5),
        ("a $ b", 1, 3),
    ],
)
def test_syntax_errors_name_line_and_column(text, line, column):
    with pytest.raises(ClassAdSyntaxError) as info:
        ExprTree(text)
    assert (info.value.line, info.value.column) == (line, column)
    assert str(info.value).startswith(f"{line}:{column}: ")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "text, tree",
    [
        ("a ?: b + 1", ast.BinaryOp("+", ast.BinaryOp("?:", ast.AttrRef("a"), ast.AttrRef("b")),
                                    ast.Literal(1))),
        ("2*-1", ast.BinaryOp("*", ast.Literal(2), ast.Literal(-1))),
        ("a -1", ast.BinaryOp("-", ast.AttrRef("a"), ast.Literal(1))),
        ("- 5", ast.Literal(-5)),
        ("-x.y", ast.UnaryOp("-", ast.Select(ast.AttrRef("x"), "y"))),
        ("1 < 2 < 3", ast.BinaryOp("<", ast.BinaryOp("<", ast.Literal(1), ast.Literal(2)),
                                   ast.Literal(3))),
        ("a || b && c", ast.BinaryOp("||", ast.AttrRef("a"),
                                     ast.BinaryOp("&&", ast.AttrRef("b"), ast.AttrRef("c")))),
        ("c ? 1 : d ? 2 : 3", ast.Conditional(ast.AttrRef("c"), ast.Literal(1),
                                             ast.Conditional(ast.AttrRef("d"), ast.Literal(2),
                                                             ast.Literal(3)))),
        (".x", ast.AttrRef("x", absolute=True)),
        ("'odd name'", ast.AttrRef("odd name")),
        ('"ab" "cd"', ast.Literal("abcd")),
        ("x is undefined",
         ast.BinaryOp("=?=", ast.AttrRef("x"), ast.Literal(classad.Value.Undefined))),
        ("f(1; 2)", ast.Call("f", (ast.Literal(1), ast.Literal(2)))),
        ("9223372036854775808", ast.Literal(0)),
        ("-9223372036854775808", ast.Literal(-(2**63))),
    ],
)
def test_trees(text, tree):
    assert ExprTree(text)._node == tree


def test_names_and_functions_are_case_insensitive_in_trees():
    assert ExprTree("MEMORY + Foo(x)") == ExprTree("memory + foo(X)")
    assert ExprTree("1") != ExprTree("1.0") != ExprTree("true")


def test_new_syntax_escapes_and_old_syntax_strings():
    assert ExprTree(r'"a\tb\"c\101\\"').eval() == 'a\tb"cA\\'
    ad = classad.parse_one('A = "a\\tb\\"c"\n')
    assert ad["A"] == 'a\\tb"c'


def test_time_literals_are_folded_and_bad_ones_refused():
    assert type(ExprTree('absTime("2020-01-01T00:00:00Z")')._node) is ast.Literal
    assert ExprTree('relTime("1d2h")').eval() == 93600.0
    with pytest.raises(ClassAdSyntaxError):
        ExprTree('absTime("junk")')


def test_pathological_nesting_is_a_clean_error():
    with pytest.raises(ClassAdSyntaxError, match="nested"):
        ExprTree("(" * 10_000 + "1" + ")" * 10_000)
    with pytest.raises(ClassAdSyntaxError, match="nested"):
        ExprTree("!" * 10_000 + "x")
    assert ExprTree("(" * 300 + "1" + ")" * 300).eval() == 1
