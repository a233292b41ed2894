"""Thousands of generated expressions, evaluated by roost and by HTCondor's library alike.

A seeded random grammar (and a hypothesis strategy over the same pieces) writes
expressions from literals of every type, references into a machine ad (MY) and a job ad
(TARGET), every operator, and calls of common built-ins.  Each expression must:

- print and read back to the same tree, and evaluate without raising (roost alone);
- evaluate to the same type and value in roost and in classad2, matched and in the machine
  ad alone;
- be accepted by both parsers or by neither, as must slightly mutated copies of it.

Deterministic: the seeds are fixed, and hypothesis runs derandomized.
"""

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import load, oracle_accepts, oracle_shape, roost_accepts, roost_shape

import classad
from classad import ClassAdSyntaxError, ExprTree

MY = """[
    Name = "slot1@node.example.org"; Arch = "X86_64"; OpSys = "LINUX"; Cpus = 4;
    Memory = 8192; Disk = 1000000; Mips = 2500; LoadAvg = 0.25; HasDocker = true;
    Busy = false; Nothing = undefined; Broken = error; Neg = -7; Big = 9223372036854775807;
    Tiny = -0.0; Ratio = 2.5; List = { 1, 2.5, "three", undefined, { 4 } };
    Nested = [ a = 1; b = Cpus + 1; c = "x" ]; Empty = {}; Str = "ABC"; Lower = "abc";
    ZeroInt = 0; When = absTime("2024-05-06T07:08:09Z"); Long = relTime("1:02:03");
    Start = TARGET.RequestCpus <= Cpus && TARGET.RequestMemory <= Memory;
    Derived = Cpus * 2 + Mips; Chain1 = Chain2 + 1; Chain2 = Derived - 1;
    Cyc1 = Cyc2; Cyc2 = Cyc1 ]"""
TARGET = """[
    RequestCpus = 2; RequestMemory = 2048; RequestDisk = 500000; Owner = "alice";
    JobPrio = 10; Ratio = 0.5; Cpus = 1; Only = "target-only"; Flag = false;
    Nums = { 3, 1, 2 }; Req = MY.Cpus >= RequestCpus; Back = Cpus + TARGET.Cpus;
    Nothing = 5 ]"""

NAMES = [
    "Cpus", "Memory", "Disk", "Mips", "LoadAvg", "Arch", "OpSys", "Name", "HasDocker", "Busy",
    "Nothing", "Broken", "Neg", "Big", "Tiny", "Ratio", "List", "Nested", "Start", "Derived",
    "Chain1", "Cyc1", "When", "Long", "Empty", "Str", "Lower", "ZeroInt", "RequestCpus",
    "RequestMemory", "Owner", "JobPrio", "Only", "Flag", "Nums", "Req", "Back", "Missing",
]
SCALAR_NAMES = [n for n in NAMES if n not in ("List", "Nested", "Empty", "Nums")]
REFERENCES = [
    "Nested.a", "Nested.b", "Nested.zz", "List[0]", "List[2]", "List[9]", "Nums[1]", ".Cpus",
    ".Missing", "TARGET.Nums[0]", 'Nested["c"]', "toplevel.Cpus", "parent.Cpus", "self.Cpus",
]
SCALARS = [
    "0", "1", "3", "-7", "2", "9223372036854775807", "-9223372036854775807 - 1", "2.5",
    "-0.0", "0.0", "1e300", "0.1", "true", "false", "undefined", "error", '"a"', '"ABC"',
    '"abc"', '""', '"x y"', 'relTime("1:00")', 'absTime("2020-01-01T00:00:00Z")',
    'real("INF")', 'real("NaN")',
]
LITERALS = SCALARS + ["{}", "{1, 2}", '{ "a", true }', "[a = 1]", "[a = 1; b = a + 1]"]
BINARY = [
    "+", "-", "*", "/", "%", "<", "<=", ">", ">=", "==", "!=", "=?=", "=!=", "is", "isnt",
    "&&", "||", "&", "|", "^", "<<", ">>", ">>>",
]
UNARY = ["-", "+", "!", "~"]
SCOPES = ["MY.", "TARGET.", "my.", "target.", "other."]
# Built-ins and their argument counts.  Lists are shown as written by HTCondor and as
# evaluated by roost (known difference "eager-lists"), so the string functions are given
# scalars; the time functions small numbers and times.
ANY_ARGS = {
    "isUndefined": 1, "isError": 1, "isInteger": 1, "isReal": 1, "isString": 1,
    "isBoolean": 1, "isList": 1, "isClassAd": 1, "size": 1, "int": 1, "real": 1, "bool": 1,
    "floor": 1, "ceiling": 1, "round": 1, "member": 2, "identicalMember": 2, "ifThenElse": 3,
    "min": 1, "max": 1, "sum": 1, "avg": 1, "pow": 2, "quantize": 2, "anyCompare": 3,
    "allCompare": 3,
}
SCALAR_ARGS = {
    "strcat": 2, "toUpper": 1, "toLower": 1, "string": 1, "join": 2, "split": 1,
    "substr": 2, "strcmp": 2, "stricmp": 2, "regexp": 2, "regexps": 3, "stringListMember": 2,
    "stringListSize": 1, "stringListIMember": 2, "versioncmp": 2, "splitUserName": 1,
}
TIME_ARGS = {"interval": 1, "formatTime": 2, "absTime": 1, "relTime": 1}
SMALL = [
    "0", "1", "60", "3600", "86400", "1700000000", "-5", "2.5", '"%Y-%m-%d"', '"%H:%M"',
    "When", "Long", "Cpus", "undefined", "error", '"x"', 'relTime("1:00")',
]


def scalar(r: random.Random, depth: int) -> str:
    k = r.random()
    if depth <= 0 or k < 0.4:
        return r.choice(SCALARS) if r.random() < 0.5 else r.choice(SCALAR_NAMES)
    if k < 0.8:
        return f"{scalar(r, depth - 1)} {r.choice(BINARY)} {scalar(r, depth - 1)}"
    if k < 0.9:
        return f"({scalar(r, depth - 1)})"
    return f"{r.choice(UNARY)}{scalar(r, depth - 1)}"


def call(r: random.Random, depth: int) -> str:
    kind = r.random()
    if kind < 0.6:
        name, n = r.choice(list(ANY_ARGS.items()))
        args = [expression(r, depth - 1) for _ in range(n)]
    elif kind < 0.9:
        name, n = r.choice(list(SCALAR_ARGS.items()))
        args = [scalar(r, depth - 1) for _ in range(n)]
    else:
        name, n = r.choice(list(TIME_ARGS.items()))
        args = [r.choice(SMALL) for _ in range(n)]
    return f"{name}({', '.join(args)})"


def expression(r: random.Random, depth: int) -> str:
    """Text of a random expression; not always one the parser takes (``a ?: -b`` is not,
    as in HTCondor), which the tests check too."""
    k = r.random()
    if depth <= 0 or k < 0.25:
        c = r.random()
        if c < 0.4:
            return r.choice(LITERALS)
        if c < 0.7:
            return r.choice(NAMES)
        if c < 0.85:
            return r.choice(SCOPES) + r.choice(NAMES)
        return r.choice(REFERENCES)
    sub = depth - 1
    if k < 0.58:
        return f"{expression(r, sub)} {r.choice(BINARY)} {expression(r, sub)}"
    if k < 0.66:
        return f"{r.choice(UNARY)}{expression(r, sub)}"
    if k < 0.72:
        return f"{expression(r, sub)} ? {expression(r, sub)} : {expression(r, sub)}"
    if k < 0.76:
        return f"{expression(r, sub)} ?: {expression(r, sub)}"
    if k < 0.84:
        return f"({expression(r, sub)})"
    if k < 0.88:
        return "{" + ", ".join(expression(r, sub) for _ in range(r.randint(0, 3))) + "}"
    if k < 0.90:
        return f"[a = {expression(r, sub)}; b = a]"
    if k < 0.92:
        return f"({expression(r, sub)})[{expression(r, sub)}]"
    return call(r, depth)


def generated(seed: int, n: int) -> list[str]:
    r = random.Random(seed)
    return [expression(r, r.randint(1, 4)) for _ in range(n)]


EXPRESSIONS = generated(20260522, 3000)
# What a hand slip does to text: a character dropped, doubled, swapped or inserted.
NOISE = "()[]{}.,;:?!=<>&|^~+-*/%\"' \n0123456789aeTx_"


def mutated(seed: int, texts: list[str]) -> list[str]:
    r = random.Random(seed)
    out = []
    for text in texts:
        for _ in range(2):
            t = text
            for _ in range(r.randint(1, 3)):
                at = r.randrange(len(t) + 1)
                how = r.random()
                if how < 0.3 and t:
                    t = t[: min(at, len(t) - 1)] + t[min(at, len(t) - 1) + 1 :]
                elif how < 0.5 and t:
                    at = min(at, len(t) - 1)
                    t = t[:at] + t[at] + t[at:]
                elif how < 0.7 and len(t) > 1:
                    at = min(at, len(t) - 2)
                    t = t[:at] + t[at + 1] + t[at] + t[at + 2 :]
                else:
                    t = t[:at] + r.choice(NOISE) + t[at:]
            out.append(t)
    return out


def accepted(texts):
    return [t for t in texts if roost_accepts(t)]


def reads_back(tree: ExprTree) -> bool:
    """Printing reads back to the same tree; or, for a real too large to hold (printed
    ``real("INF")`` as HTCondor prints it, which reads back as a call), to a tree that
    prints the same."""
    again = ExprTree(str(tree))
    return again == tree or str(again) == str(tree)


def test_generated_expressions_round_trip_and_evaluate():
    """Every accepted expression prints and reads back to its tree, and evaluates in a
    match, in one ad and in none without raising."""
    my, target = classad.ClassAd(MY), classad.ClassAd(TARGET)
    texts = accepted(EXPRESSIONS)
    assert len(texts) > 0.95 * len(EXPRESSIONS)
    for text in texts:
        tree = ExprTree(text)
        assert reads_back(tree), text
        tree.eval(my, target)
        tree.eval(my)
        tree.eval()


@pytest.mark.parametrize("matched", [True, False], ids=["match", "one-ad"])
def test_generated_expressions_match_htcondor(matched):
    load()
    target = TARGET if matched else None
    bad = []
    for text in accepted(EXPRESSIONS):
        if (mine := roost_shape(text, MY, target)) != (theirs := oracle_shape(text, MY, target)):
            bad.append((text, mine, theirs))
    assert bad == []


def test_generated_text_is_accepted_alike_htcondor():
    load()
    texts = EXPRESSIONS[:1500] + mutated(7, EXPRESSIONS[:1500])
    assert [t for t in texts if roost_accepts(t) != oracle_accepts(t)] == []


def test_mutated_text_is_a_syntax_error_or_an_expression():
    for text in mutated(11, EXPRESSIONS):
        try:
            tree = ExprTree(text)
        except ClassAdSyntaxError:
            continue
        assert reads_back(tree), text


# -- hypothesis: the same pieces, shrunk to a small failing case if one fails ---------------

leaves = st.one_of(
    st.sampled_from(LITERALS),
    st.sampled_from(NAMES),
    st.builds(lambda s, n: s + n, st.sampled_from(SCOPES), st.sampled_from(NAMES)),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(lambda n: f"({n})"),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: f"({x!r})"),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=8).map(
        lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    ),
)
expressions = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(lambda a, op, b: f"({a} {op} {b})", inner, st.sampled_from(BINARY), inner),
        st.builds(lambda op, a: f"{op}({a})", st.sampled_from(UNARY), inner),
        st.builds(lambda c, a, b: f"({c} ? {a} : {b})", inner, inner, inner),
        st.builds(lambda a, b: f"(({a}) ?: ({b}))", inner, inner),
        st.lists(inner, max_size=3).map(lambda xs: "{" + ", ".join(xs) + "}"),
        st.builds(lambda a, b: f"({a})[{b}]", inner, inner),
        st.builds(lambda f, a: f"{f}({a})", st.sampled_from(["isUndefined", "size", "int",
                                                             "real", "floor", "bool"]), inner),
    ),
    max_leaves=12,
)


@settings(max_examples=400, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(expressions)
def test_hypothesis_expressions_match_htcondor(text):
    load()
    assert reads_back(ExprTree(text))
    assert roost_shape(text, MY, TARGET) == oracle_shape(text, MY, TARGET)
