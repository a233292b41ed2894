"""Text of any kind, and valid but pathological expressions, never break the ClassAd parser
or evaluator: the only exception is ``ClassAdSyntaxError``, nesting past what the parser
takes is one, and evaluation always gives a value (no RecursionError, no crash)."""

import contextlib
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import classad
from classad import ClassAd, ClassAdSyntaxError, ExprTree, Value

MY = ClassAd('[ a = 1; b = "x"; l = { 1, 2 }; n = [ c = a ]; d = a / 0; e = e ]')
TARGET = ClassAd("[ a = 2; t = true ]")


def survives(text: str) -> None:
    """Each way in takes ``text`` or refuses it with a ClassAdSyntaxError, and whatever is
    taken evaluates and prints."""
    try:
        tree = ExprTree(text)
    except ClassAdSyntaxError:
        pass
    else:
        tree.eval(MY, TARGET)
        tree.eval(MY)
        tree.eval()
        str(tree)
    for parser in ("auto", "new", "old", "json"):
        try:
            ads = list(classad.parse_ads(text, parser=parser))
        except ClassAdSyntaxError:
            continue
        for ad in ads:
            for name in ad:
                ad.eval(name)
            ad.print_old()
            ad.print_json()
    with contextlib.suppress(ClassAdSyntaxError):
        ClassAd(text)


# Pieces of ClassAd text, so that random text gets past the lexer often enough to reach
# the parser and the evaluator.
PIECES = [
    "(", ")", "[", "]", "{", "}", ".", "..", ",", ";", "=", "==", "=?=", "=!=", "!=", "<", "<=",
    ">>>", "<<", "?", "?:", ":", "!", "~", "-", "+", "*", "/", "%", "&&", "||", "&", "|", "^",
    " ", "\n", "\t", "//", "/*", "*/", '"', "'", "\\", "\\0", "\\n", "0", "1", "017", "0x1F",
    "1.", ".5", "1e5", "1e999", "9223372036854775808", "-", "a", "b", "n", "l", "c", "MY",
    "TARGET", "parent", "toplevel", "self", "true", "undefined", "error", "is", "isnt",
    "strcat", "size", "ifThenElse", "eval", "absTime", "relTime", '"2020-01-01"', '"1:00"',
    "é", "\x00", "\x7f", "\u2028", "#", "---", "Name = ", "/Expr(", ")/", "null",
]


def soup(r: random.Random) -> str:
    return "".join(r.choice(PIECES) for _ in range(r.randint(1, 40)))


def test_random_piece_soup():
    r = random.Random(4711)
    for _ in range(3000):
        survives(soup(r))


def test_random_byte_soup():
    r = random.Random(815)
    for _ in range(2000):
        data = bytes(r.randrange(256) for _ in range(r.randint(0, 60)))
        survives(data.decode("latin-1"))
        survives(data.decode("utf-8", errors="replace"))


@settings(max_examples=500, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_any_text(text):
    survives(text)


@settings(max_examples=300, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_any_arrangement_of_pieces(text):
    survives(text)


DEEP = {
    "parentheses": "(" * 10_000 + "1" + ")" * 10_000,
    "lists": "{" * 10_000 + "}" * 10_000,
    "ads": "[a = " * 10_000 + "1" + "]" * 10_000,
    "unary minus": "-" * 10_000 + "a",
    "unary not": "!" * 10_000 + "a",
    "unary minus and space": "- " * 10_000 + "1",
    "sum chain": "+".join(["1"] * 20_000),
    "and chain": " && ".join(["true"] * 20_000),
    "subscripts": "l" + "[0]" * 10_000,
    "selections": "n" + ".c" * 10_000,
    "conditionals": "a ? " * 5_000 + "1" + " : 2" * 5_000,
    "elvis": " ?: ".join(["a"] * 10_000),
    "calls": "size(" * 10_000 + ")" * 10_000,
}


@pytest.mark.parametrize("text", DEEP.values(), ids=DEEP.keys())
def test_deep_nesting_is_a_syntax_error_or_a_value(text):
    try:
        tree = ExprTree(text)
    except ClassAdSyntaxError as e:
        assert "nested" in str(e)
        return
    assert tree.eval(MY) == 1  # only "- - ... 1" folds to a literal this shallow


NEAR_THE_LIMIT = {
    "parentheses": ("(" * 990 + "1" + ")" * 990, 1),
    "sum chain": ("+".join(["1"] * 990), 990),
    "and chain": (" && ".join(["true"] * 990), True),
    "lists": ("size(" + "{" * 990 + "}" * 990 + ")", 1),
    "ads": ("[a = " * 490 + "7" + "]" * 490 + ".a" * 490, 7),
    "minus": ("-(" * 490 + "a" + ")" * 490, 1),
    "not": ("!(" * 490 + "t" + ")" * 490, True),
    "conditionals": ("t ? " * 490 + "1" + " : 2" * 490, 1),
}


@pytest.mark.parametrize(("text", "want"), NEAR_THE_LIMIT.values(), ids=NEAR_THE_LIMIT.keys())
def test_deep_but_valid_expressions_evaluate(text, want):
    tree = ExprTree(text)
    assert tree.eval(MY, TARGET) == want
    assert ExprTree(str(tree)) == tree


PATHOLOGICAL = [
    ("1e308 * 1e308", Value.Error),
    ("-1e308 * 1e308", float("-inf")),
    ("9223372036854775807 * 9223372036854775807", 1),
    ("(-9223372036854775807 - 1) / -1", 9223372036854775807),
    ("-(-9223372036854775807 - 1)", -9223372036854775808),
    ("~(-9223372036854775807 - 1) + 1", -9223372036854775808),
    ("1 << 9223372036854775807", -9223372036854775808),
    ("{1, 2, 3}[9223372036854775807]", Value.Error),
    ("e", Value.Undefined),
    ("d", Value.Error),
    ("[x = x].x", Value.Undefined),
    ('size("' + "x" * 100_000 + '")', 100_000),
    ("size({" + ",".join(["1"] * 20_000) + "})", 20_000),
    ('absTime("0000-01-01T00:00:00Z") + relTime(1e30)', None),
    ("relTime(1e300) * 1e300", None),
    ("relTime(3600) / 0", float("inf")),
    ('real("NaN") == real("NaN")', False),
]


@pytest.mark.parametrize(("text", "want"), PATHOLOGICAL)
def test_pathological_values(text, want):
    """Overflow, wrap-around, cycles, huge strings and lists, times beyond any calendar:
    a value every time, and printable."""
    tree = ExprTree(text)
    got = tree.eval(MY)
    if want is not None:
        assert got == want or (got is want)
    str(tree.simplify(MY))
