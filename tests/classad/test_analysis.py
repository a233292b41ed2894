"""attribute_terms: the single-attribute conjuncts an index can answer."""

from __future__ import annotations

import pytest

import classad
from classad import AttributeTerm, attribute_terms


@pytest.mark.parametrize(("text", "terms", "complete"), [
    ("ClusterId == 5", [("ClusterId", "==", (5,))], True),
    ("5 == ClusterId", [("ClusterId", "==", (5,))], True),
    ("MY.JobStatus >= 2", [("JobStatus", ">=", (2,))], True),
    ("3 < ProcId", [("ProcId", ">", (3,))], True),
    ('(Owner == "alice") && (JobStatus == 5)',
     [("Owner", "==", ("alice",)), ("JobStatus", "==", (5,))], True),
    ("ClusterId == 1 || ClusterId == 2", [("ClusterId", "==", (1, 2))], True),
    ("ClusterId == 1 || ProcId == 2", [], False),
    ("ClusterId == -1", [("ClusterId", "==", (-1,))], True),
    ('Owner =?= "bob" && Cmd == "x" && RequestCpus > Cpus',
     [("Owner", "=?=", ("bob",)), ("Cmd", "==", ("x",))], False),
    ("TARGET.Cpus == 1", [], False),
    ("ClusterId == undefined", [], False),
    ("true", [], False),
])
def test_terms(text, terms, complete):
    result = attribute_terms(text)
    assert result.terms == [AttributeTerm(*t) for t in terms]
    assert result.complete is complete


@pytest.mark.parametrize("text", [
    "ClusterId == 1 || ClusterId == 2", 'Owner == "a" && ProcId > 3', "ProcId != 4"])
def test_terms_hold_wherever_the_expression_does(text):
    # Whenever the expression is true of an ad, every term is: checked by brute force.
    terms = attribute_terms(text).terms
    for cluster in range(4):
        for proc in range(6):
            for owner in ("a", "A", "b"):
                ad = classad.ClassAd({"ClusterId": cluster, "ProcId": proc, "Owner": owner})
                if classad.ExprTree(text).eval(ad) is True:
                    for term in terms:
                        clause = " || ".join(f"{term.attribute} {term.operator} {_literal(v)}"
                                             for v in term.values)
                        assert classad.ExprTree(clause).eval(ad) is True


def _literal(value) -> str:
    return classad.quote(value) if isinstance(value, str) else repr(value)


def test_meta_comparisons_are_found_anywhere_in_the_tree():
    found = classad.meta_comparisons(
        '(TARGET.Project is "physics") && (x isnt (a =?= b)) || f(c =?= 1) || d == 2')
    assert [(str(c.left), c.operator, str(c.right)) for c in found] == [
        ("TARGET.Project", "=?=", '"physics"'), ("x", "=!=", "(a is b)"),
        ("a", "=?=", "b"), ("c", "=?=", "1")]
    assert str(found[0].expr) == 'TARGET.Project is "physics"'
    assert classad.meta_comparisons("a == b && c != d") == []
