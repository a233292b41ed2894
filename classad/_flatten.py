"""Partial evaluation (``flatten``): an expression with what one ad determines folded in,
as HTCondor's ``ClassAd::Flatten`` does it.

Each node flattens to a value, or to a tree when the ad does not determine it:

- an attribute reference whose expression flattens to a value becomes the value; any
  other reference (to nothing, to an ad, to a list, to what depends on something else)
  stays as written;
- ``expr.name`` evaluates ``expr``: undefined keeps the reference, an ad is looked into as
  a name is, and anything else is Error;
- list and ad literals stay trees (their elements flattened, for lists), so a call or an
  operator over one is not folded;
- ``c ? a : b`` with ``c`` known is the chosen branch; an unknown function is Error; a call
  with every argument known is folded;
- ``+ * & | ^ && ||`` gather their known operands: ``1 + q + 2`` is ``3 + q``, with the
  value written first (``q * 2`` is ``2 * q``); ``&&``/``||`` with one side known become
  that value when it decides the result, and ``true && q`` is ``q``.

Where HTCondor gives up (a reference cycle), the reference stays as written.
"""

from __future__ import annotations

from . import _ast as ast
from ._builtins import FUNCTIONS
from ._classad import ClassAd
from ._convert import to_python, value_to_node
from ._evaluate import State, compile_node, find_attribute, run, subscript
from ._exprtree import ExprTree
from ._operators import (
    arithmetic,
    bitwise,
    comparison,
    identical,
    not_identical,
    truth,
    unary,
)
from ._values import Error, Undefined

# Operators whose known operands are gathered, and so may come back split in two.
_GATHERED = frozenset({"+", "*", "&", "|", "^", "&&", "||"})


def flatten(ad: ClassAd, expr):
    """``expr`` partially evaluated in ``ad``: a value if the ad determines it, else an
    ``ExprTree``."""
    node = expr._node if isinstance(expr, ExprTree) else ExprTree(expr)._node
    value, tree, _ = _Flattener(ad).flat(node, False)
    return to_python(value) if tree is None else ExprTree._wrap(tree)


def _logical(op: str, a, b):
    """``&&``/``||`` on two values, neither skipped (doLogical)."""
    a, b = truth(a), truth(b)
    if op == "&&":
        if a is False or a is Error:
            return a
        if a is True or type(b) is not bool:
            return b
        return False if b is False else Undefined
    if a is True or a is Error:
        return a
    if a is False or type(b) is not bool:
        return b
    return True if b is True else Undefined


def _operate(op: str, a, b):
    if op in ("+", "-", "*", "/", "%"):
        return arithmetic(op, a, b)
    if op in ("==", "!=", "<", "<=", ">", ">="):
        return comparison(op, a, b)
    if op in ("=?=", "is"):
        return identical(a, b)
    if op in ("=!=", "isnt"):
        return not_identical(a, b)
    if op in ("&&", "||"):
        return _logical(op, a, b)
    if op == "?:":
        return b if a is Undefined else a
    return bitwise(op, a, b)


def _tree(value, tree):
    return value_to_node(value) if tree is None else tree


class _Flattener:
    """One flatten: the ad, and the attributes being followed (a cycle stops there)."""

    def __init__(self, ad: ClassAd) -> None:
        self.ad = ad
        self.scope = ad
        self.active: set[tuple[int, str]] = set()

    def flat(self, node: ast.Node, split: bool):
        """(value, tree, op): ``tree`` None when the value is known; with ``split``, a
        gathering operator may answer (value, tree, op), meaning ``value op tree``."""
        t = type(node)
        if t is ast.Literal:
            return node.value, None, None
        if t is ast.ReltimeLiteral:
            return float(node.value.secs), None, None
        if t is ast.AttrRef:
            return self._reference(node)
        if t is ast.Select:
            return self._select(node)
        if t is ast.BinaryOp:
            if node.op in _GATHERED:
                return self._gathered(node, split)
            return self._binary(node)
        if t is ast.UnaryOp:
            value, tree, _ = self.flat(node.operand, False)
            if tree is None:
                return unary(node.op, value), None, None
            return None, ast.UnaryOp(node.op, tree), None
        if t is ast.Paren:
            value, tree, _ = self.flat(node.expr, False)
            return (value, None, None) if tree is None else (None, ast.Paren(tree), None)
        if t is ast.Conditional:
            return self._conditional(node)
        if t is ast.Subscript:
            return self._binary(node)
        if t is ast.Call:
            return self._call(node)
        if t is ast.ListExpr:
            items = tuple(_tree(*self.flat(i, False)[:2]) for i in node.items)
            return None, ast.ListExpr(items), None
        return None, node, None  # an ad literal stays as it is

    # -- references ----------------------------------------------------------------------

    def _reference(self, node: ast.AttrRef):
        start = self.scope
        if node.absolute:
            while start._parent is not None:
                start = start._parent
        return self._lookup(node, start)

    def _select(self, node: ast.Select):
        base = run(compile_node(node.expr), self.scope)
        if base is Undefined:
            return None, node, None
        if type(base) is ClassAd:
            return self._lookup(node, base)
        if type(base) is list:
            return None, node, None  # a list of what was selected, and lists stay trees
        return Error, None, None

    def _lookup(self, node: ast.Node, start: ClassAd):
        """A reference's value if what it leads to flattens to one; else the reference."""
        key = node.name.lower()
        ad, found = find_attribute(State(start), start, key)
        if found is None:
            return None, node, None
        if ad is None:
            # A special name: an ad stays a reference; CurrentTime is its value.
            return (None, node, None) if isinstance(found, ClassAd) else (found, None, None)
        mark = (id(ad), key)
        if type(found) is ast.AdExpr or mark in self.active:
            return None, node, None
        self.active.add(mark)
        saved, self.scope = self.scope, ad
        try:
            value, tree, _ = self.flat(found, False)
        finally:
            self.scope = saved
            self.active.discard(mark)
        return (value, None, None) if tree is None else (None, node, None)

    # -- operators -----------------------------------------------------------------------

    def _binary(self, node: ast.Node):
        """An operator whose operands are not gathered (comparisons, ``- / %``, shifts,
        ``=?=``, subscripts): folded when both are known."""
        left, right = node.children()
        lv, lt, _ = self.flat(left, False)
        rv, rt, _ = self.flat(right, False)
        if lt is None and rt is None:
            if type(node) is ast.Subscript:
                return subscript(State(self.scope), lv, rv), None, None
            return _operate(node.op, lv, rv), None, None
        lt, rt = _tree(lv, lt), _tree(rv, rt)
        if type(node) is ast.Subscript:
            return None, ast.Subscript(lt, rt), None
        return None, ast.BinaryOp(node.op, lt, rt), None

    def _conditional(self, node: ast.Conditional):
        cv, ct, _ = self.flat(node.cond, False)
        if ct is None and cv is not Undefined:
            chosen = truth(cv)
            if type(chosen) is not bool:
                return Error, None, None
            return self.flat(node.then if chosen else node.otherwise, False)
        then = _tree(*self.flat(node.then, False)[:2])
        otherwise = _tree(*self.flat(node.otherwise, False)[:2])
        return None, ast.Conditional(node.cond if ct is None else ct, then, otherwise), None

    def _call(self, node: ast.Call):
        if node.name.lower() not in FUNCTIONS:
            return Error, None, None
        args = [self.flat(a, False) for a in node.args]
        if all(tree is None for _, tree, _ in args):
            return run(compile_node(node), self.scope), None, None
        return None, ast.Call(node.name, tuple(_tree(v, t) for v, t, _ in args)), None

    def _gathered(self, node: ast.BinaryOp, split: bool):
        """Operation::combine: known operands of a chain of one operator gathered into one
        value, written first."""
        op = node.op
        v1, t1, op1 = self.flat(node.left, True)
        v2, t2, op2 = self.flat(node.right, True)
        new_op, value, tree = self._combine(op, v1, t1, op1, v2, t2, op2)
        if new_op is not None and not split:
            return None, ast.BinaryOp(new_op, value_to_node(value), tree), None
        return value, tree, new_op

    @staticmethod
    def _combine(op, v1, t1, op1, v2, t2, op2):
        """(op or None, value, tree) as Operation::combine has it: with an op, the result
        is ``value op tree``."""
        if op in ("&&", "||") and (t1 is None) != (t2 is None):
            # One side known: doLogical turns a number there into a boolean as it goes.
            if t1 is None and type(truth(v1)) is bool:
                v1 = truth(v1)
            if t2 is None and type(truth(v2)) is bool:
                v2 = truth(v2)
            value = _logical(op, v1 if t1 is None else Undefined, v2 if t2 is None else Undefined)
            if type(value) is bool:
                return None, value, None
            if op == "&&" and t1 is None and v1 is True:
                return None, None, t2
            if op == "&&" and t2 is None and v2 is True:
                return None, None, t1
        if t1 is None and t2 is None:
            return None, _operate(op, v1, v2), None
        if t1 is None and op2 is None:
            return op, v1, t2
        if t2 is None and op1 is None:
            return op, v2, t1
        if op1 is None and op2 is None:
            return None, None, ast.BinaryOp(op, t1, t2)
        if op != op1 and op != op2:
            left = ast.BinaryOp(op1, value_to_node(v1), t1) if op1 else _tree(v1, t1)
            right = ast.BinaryOp(op2, value_to_node(v2), t2) if op2 else _tree(v2, t2)
            return None, None, ast.BinaryOp(op, left, right)
        if op == op1 and op == op2:
            return op, _operate(op, v1, v2), ast.BinaryOp(op, t1, t2)
        if op == op1:
            if t2 is None:
                return op, _operate(op, v1, v2), t1
            return op, v1, ast.BinaryOp(op, t1, t2)
        if t1 is None:
            return op, _operate(op, v1, v2), t2
        return op, v2, ast.BinaryOp(op, t1, t2)
