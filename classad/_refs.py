"""What an expression refers to, and partial evaluation (flatten), relative to one ad.

External references are the names an expression needs that the ad does not hold, found
by following the ad's own attributes (``x = y + 1`` makes ``x`` lead to ``y``); scoped
names keep their scope (``TARGET.Memory``), as HTCondor's ``externalRefs`` gives them.
The negotiator's autoclusters are built from these: the job attributes a slot's
Requirements and Rank look at.
"""

from __future__ import annotations

from . import _ast as ast
from ._classad import ClassAd
from ._convert import to_python, value_to_node
from ._evaluate import MAX_ATTRIBUTE_DEPTH, compile_node, run
from ._exprtree import ExprTree
from ._unparse import unparse
from ._values import Undefined

_MISSING = object()


def _tree(expr) -> ast.Node:
    if isinstance(expr, ExprTree):
        return expr._node
    if isinstance(expr, str):
        return ExprTree(expr)._node
    raise TypeError(f"expected an ExprTree or expression text, not {type(expr).__name__}")


def _find(ad: ClassAd, key: str) -> tuple[ClassAd, ast.Node] | None:
    while ad is not None:
        node = ad._attrs.get(key)
        if node is not None:
            return ad, node
        ad = ad._parent
    return None


def references(ad: ClassAd, expr, external: bool, target: ClassAd | None = None) -> list[str]:
    """Names ``expr`` refers to, evaluated in ``ad`` (matched against ``target`` if given,
    so that ``TARGET.x`` leads into the target ad)."""
    left, right = (ad, target) if target is not None else (None, None)
    found: dict[str, str] = {}
    seen: set[tuple[int, str]] = set()

    def visit(node: ast.Node, scope: ClassAd, depth: int) -> None:
        if depth > MAX_ATTRIBUTE_DEPTH:
            return
        t = type(node)
        if t is ast.AttrRef:
            start = scope
            if node.absolute:
                while start._parent is not None:
                    start = start._parent
            follow(node.name, start, node.name, depth)
            return
        if t is ast.Select:
            base = node.expr
            value = run(compile_node(base), scope, left, right)
            if isinstance(value, ClassAd):
                follow(node.name, value, node.name, depth)
            elif value is Undefined and external:
                full = f"{unparse(base)}.{node.name}"
                found.setdefault(full.lower(), full)
            return
        # An ad literal's attributes are looked at in the current ad's scope, as
        # HTCondor does.
        for child in node.children():
            visit(child, scope, depth + 1)

    def follow(name: str, start: ClassAd, shown: str, depth: int) -> None:
        hit = _find(start, name.lower())
        if hit is None:
            if external:
                found.setdefault(shown.lower(), shown)
            return
        owner, node = hit
        if not external:
            found.setdefault(shown.lower(), shown)
        mark = (id(owner), name.lower())
        if mark not in seen:
            seen.add(mark)
            visit(node, owner, depth + 1)

    visit(_tree(expr), ad, 0)
    return sorted(found.values(), key=str.lower)


# -- flatten -------------------------------------------------------------------------------


def flatten(ad: ClassAd, expr):
    value, node = _flatten(_tree(expr), ad, set())
    if value is not _MISSING:
        return to_python(value)
    return ExprTree._wrap(node)


def _flatten(node: ast.Node, scope: ClassAd, active: set) -> tuple[object, ast.Node]:
    """(value, tree): the value if the ad determines it, else _MISSING and a tree with the
    determined parts folded into literals."""
    t = type(node)
    if t is ast.Literal:
        return node.value, node
    if t is ast.AttrRef and not node.absolute:
        hit = _find(scope, node.name.lower())
        if hit is None:
            return _MISSING, node
        owner, target = hit
        mark = (id(owner), node.name.lower())
        if mark in active or type(target) is ast.AdExpr:
            return _MISSING, node
        active.add(mark)
        value, _ = _flatten(target, owner, active)
        active.discard(mark)
        return value, node
    if t is ast.AdExpr:
        return _MISSING, node
    children = node.children()
    if not children:
        return _evaluated(node, scope)
    results = [_flatten(c, scope, active) for c in children]
    if all(v is not _MISSING for v, _ in results):
        return _evaluated(node, scope)
    if t is ast.BinaryOp and node.op in ("&&", "||"):
        simplified = _short_circuit(node.op, results)
        if simplified is not None:
            return simplified
    trees = [value_to_node(v) if v is not _MISSING else n for v, n in results]
    return _MISSING, _rebuild(node, trees)


def _evaluated(node: ast.Node, scope: ClassAd):
    return run(compile_node(node), scope), node


def _short_circuit(op: str, results):
    """HTCondor's simplifications when one side is known: ``false && x`` is false,
    ``true && x`` is x, ``x && true`` is x, and the mirror images for ``||``."""
    absorbing = op == "||"
    identity = not absorbing
    (lv, ln), (rv, rn) = results
    if lv is absorbing:
        return absorbing, ast.Literal(absorbing)
    if lv is identity:
        return rv, rn
    if rv is identity:
        return _MISSING, ln
    return None


def _rebuild(node: ast.Node, trees: list[ast.Node]) -> ast.Node:
    t = type(node)
    if t is ast.BinaryOp:
        return ast.BinaryOp(node.op, trees[0], trees[1])
    if t is ast.UnaryOp:
        return ast.UnaryOp(node.op, trees[0])
    if t is ast.Paren:
        return ast.Paren(trees[0])
    if t is ast.Conditional:
        return ast.Conditional(*trees)
    if t is ast.Call:
        return ast.Call(node.name, tuple(trees))
    if t is ast.ListExpr:
        return ast.ListExpr(tuple(trees))
    if t is ast.Select:
        return ast.Select(trees[0], node.name)
    if t is ast.Subscript:
        return ast.Subscript(trees[0], trees[1])
    raise TypeError(f"cannot rebuild {node!r}")
