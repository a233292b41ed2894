"""What an expression says about single attributes, for callers that keep some attributes
in an index (the schedd's queue columns) and want to narrow a search before evaluating.

``attribute_terms`` reads the top-level ``&&`` chain of an expression and returns the
conjuncts of the form ``Attr OP literal`` (or ``literal OP Attr``, or an ``||`` of
``Attr == literal`` on one attribute).  Every ad for which the expression is true satisfies
every returned term, so a caller may filter by the terms first and must then still evaluate
the expression, unless ``complete`` says that the terms are the whole expression.

``meta_comparisons`` finds the ``=?=``/``=!=`` comparisons anywhere in an expression, for
``roost analyze`` and the startd, which point out a START that compares a job attribute
with ``=?=`` and so is False, not UNDEFINED, where there is no job.
"""

from __future__ import annotations

from typing import NamedTuple

from . import _ast as ast
from ._exprtree import ExprTree
from ._values import AbsTime, Error, RelTime, Undefined

_FLIPPED = {"==": "==", "!=": "!=", "=?=": "=?=", "=!=": "=!=", "<": ">", "<=": ">=",
            ">": "<", ">=": "<="}


class AttributeTerm(NamedTuple):
    attribute: str  # as written, without a MY. prefix
    operator: str  # ==, !=, <, <=, >, >=, =?= or =!=; "==" with several values is "any of"
    values: tuple  # plain bool, int, float or str literals


class MetaComparison(NamedTuple):
    expr: ExprTree  # the whole comparison
    operator: str  # "=?=" or "=!=" (``is`` and ``isnt`` are spelled so too)
    left: ExprTree
    right: ExprTree


class AttributeTerms(NamedTuple):
    terms: list[AttributeTerm]
    complete: bool  # the expression is exactly the AND of the terms


def attribute_terms(expr: ExprTree | str) -> AttributeTerms:
    node = (expr if isinstance(expr, ExprTree) else ExprTree(expr))._node
    terms: list[AttributeTerm] = []
    complete = True
    for conjunct in _conjuncts(node):
        term = _term(conjunct)
        if term is None:
            complete = False
        else:
            terms.append(term)
    return AttributeTerms(terms, complete)


def conjuncts(expr: ExprTree | str) -> list[ExprTree]:
    """The expression's top-level ``&&`` chain, one tree per clause (the expression itself
    when it is no ``&&``): what ``roost analyze`` tests clause by clause."""
    node = (expr if isinstance(expr, ExprTree) else ExprTree(expr))._node
    return [ExprTree._wrap(conjunct) for conjunct in _conjuncts(node)]


def meta_comparisons(expr: ExprTree | str) -> list[MetaComparison]:
    """Every ``=?=`` and ``=!=`` comparison in the expression, outermost first."""
    found: list[MetaComparison] = []
    todo = [(expr if isinstance(expr, ExprTree) else ExprTree(expr))._node]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.BinaryOp) and node.op in ("=?=", "=!="):
            found.append(MetaComparison(ExprTree._wrap(node), node.op,
                                        ExprTree._wrap(node.left), ExprTree._wrap(node.right)))
        todo.extend(reversed(node.children()))
    return found


def _unwrap(node: ast.Node) -> ast.Node:
    while isinstance(node, ast.Paren):
        node = node.expr
    return node


def _conjuncts(node: ast.Node) -> list[ast.Node]:
    node = _unwrap(node)
    if isinstance(node, ast.BinaryOp) and node.op == "&&":
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _disjuncts(node: ast.Node) -> list[ast.Node]:
    node = _unwrap(node)
    if isinstance(node, ast.BinaryOp) and node.op == "||":
        return _disjuncts(node.left) + _disjuncts(node.right)
    return [node]


def _attribute(node: ast.Node) -> str | None:
    node = _unwrap(node)
    if isinstance(node, ast.AttrRef) and not node.absolute:
        return node.name
    if (isinstance(node, ast.Select) and isinstance(node.expr, ast.AttrRef)
            and node.expr.name.lower() == "my" and not node.expr.absolute):
        return node.name
    return None


def _literal(node: ast.Node):
    node = _unwrap(node)
    if type(node) is not ast.Literal:
        return None
    value = node.value
    if value is Undefined or value is Error or isinstance(value, AbsTime | RelTime):
        return None
    return (value,)


def _comparison(node: ast.Node) -> AttributeTerm | None:
    node = _unwrap(node)
    if not isinstance(node, ast.BinaryOp) or node.op not in _FLIPPED:
        return None
    name, value, op = _attribute(node.left), _literal(node.right), node.op
    if name is None or value is None:
        name, value, op = _attribute(node.right), _literal(node.left), _FLIPPED[node.op]
    if name is None or value is None:
        return None
    return AttributeTerm(name, op, value)


def _term(node: ast.Node) -> AttributeTerm | None:
    alternatives = [_comparison(d) for d in _disjuncts(node)]
    if len(alternatives) == 1:
        return alternatives[0]
    if any(a is None or a.operator != "==" for a in alternatives):
        return None
    names = {a.attribute.lower() for a in alternatives}
    if len(names) != 1:
        return None
    return AttributeTerm(alternatives[0].attribute, "==",
                         tuple(v for a in alternatives for v in a.values))
