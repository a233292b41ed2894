"""The syntax tree of the ClassAd language.

Nodes are immutable once built and shared freely (the expression cache hands the same tree
to every ad that has the same text).  Equality is structural and ignores positions, so
``parse(unparse(x)) == x`` can be tested directly.  Each node keeps where it started
(``line``, ``column``, both 1-based) for error messages, its ``depth``, and a compiled
closure once one has been made (``fn``), so a tree is compiled once however many ads
hold it.
"""

from __future__ import annotations

from typing import Any


class Node:
    __slots__ = ("line", "column", "fn", "depth")
    _fields: tuple[str, ...] = ()

    def _key(self) -> tuple:
        return (type(self),) + tuple(getattr(self, f) for f in self._fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Node):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        inner = ", ".join(repr(getattr(self, f)) for f in self._fields)
        return f"{type(self).__name__}({inner})"

    def children(self) -> tuple[Node, ...]:
        return ()


def _init(node: Node, line: int, column: int) -> None:
    node.line = line
    node.column = column
    node.fn = None
    # How deep the tree is; the parser refuses trees too deep to evaluate by recursion.
    node.depth = 1 + max((c.depth for c in node.children()), default=0)


class Literal(Node):
    """A constant: bool, int, float, str, Undefined, Error or AbsTime (a RelTime is held by
    a ``ReltimeLiteral``)."""

    __slots__ = ("value",)
    _fields = ("value",)

    def __init__(self, value: Any, line: int = 0, column: int = 0) -> None:
        # Written out rather than through _init: ads hold many literals, made on hot paths.
        self.value = value
        self.line = line
        self.column = column
        self.fn = None
        self.depth = 1

    def _key(self) -> tuple:
        # 1 == 1.0 == True in Python, but they are three different ClassAd literals.
        v = self.value
        if isinstance(v, float) and v != v:
            return (Literal, float, "nan")
        return (Literal, type(v), v)


class ReltimeLiteral(Literal):
    """A relative time as a literal (``relTime("1:30")``, or a relative time a value was
    folded into): it prints as a relative time but evaluates to a real, as HTCondor's
    ReltimeLiteral does.  Its own class keeps it off the evaluator's fast paths for
    literals, which hand ``value`` out as it is."""

    __slots__ = ()


class AttrRef(Node):
    """``name`` (looked up from the current scope) or ``.name`` (from the root ad)."""

    __slots__ = ("name", "absolute")
    _fields = ("name", "absolute")

    def __init__(self, name: str, absolute: bool = False, line: int = 0, column: int = 0):
        self.name = name
        self.absolute = absolute
        _init(self, line, column)

    def _key(self) -> tuple:
        return (AttrRef, self.name.lower(), self.absolute)


class Select(Node):
    """``expr.name``."""

    __slots__ = ("expr", "name")
    _fields = ("expr", "name")

    def __init__(self, expr: Node, name: str, line: int = 0, column: int = 0) -> None:
        self.expr = expr
        self.name = name
        _init(self, line, column)

    def _key(self) -> tuple:
        return (Select, self.expr, self.name.lower())

    def children(self) -> tuple[Node, ...]:
        return (self.expr,)


class Subscript(Node):
    """``expr[index]``."""

    __slots__ = ("expr", "index")
    _fields = ("expr", "index")

    def __init__(self, expr: Node, index: Node, line: int = 0, column: int = 0) -> None:
        self.expr = expr
        self.index = index
        _init(self, line, column)

    def children(self) -> tuple[Node, ...]:
        return (self.expr, self.index)


class UnaryOp(Node):
    """``-x``, ``+x``, ``!x``, ``~x``."""

    __slots__ = ("op", "operand")
    _fields = ("op", "operand")

    def __init__(self, op: str, operand: Node, line: int = 0, column: int = 0) -> None:
        self.op = op
        self.operand = operand
        _init(self, line, column)

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


class BinaryOp(Node):
    """Every two-operand operator, Elvis (``?:``) included; ``is``/``isnt`` are stored as
    ``=?=``/``=!=``."""

    __slots__ = ("op", "left", "right")
    _fields = ("op", "left", "right")

    def __init__(self, op: str, left: Node, right: Node, line: int = 0, column: int = 0):
        self.op = op
        self.left = left
        self.right = right
        _init(self, line, column)

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


class Conditional(Node):
    """``cond ? then : otherwise``."""

    __slots__ = ("cond", "then", "otherwise")
    _fields = ("cond", "then", "otherwise")

    def __init__(self, cond: Node, then: Node, otherwise: Node, line: int = 0, column: int = 0):
        self.cond = cond
        self.then = then
        self.otherwise = otherwise
        _init(self, line, column)

    def children(self) -> tuple[Node, ...]:
        return (self.cond, self.then, self.otherwise)


class Paren(Node):
    """Parentheses, kept so that unparsing gives back what was written."""

    __slots__ = ("expr",)
    _fields = ("expr",)

    def __init__(self, expr: Node, line: int = 0, column: int = 0) -> None:
        self.expr = expr
        _init(self, line, column)

    def children(self) -> tuple[Node, ...]:
        return (self.expr,)


class Call(Node):
    """``name(args...)``; the name keeps the case it was written in."""

    __slots__ = ("name", "args")
    _fields = ("name", "args")

    def __init__(self, name: str, args: tuple[Node, ...], line: int = 0, column: int = 0):
        self.name = name
        self.args = args
        _init(self, line, column)

    def _key(self) -> tuple:
        return (Call, self.name.lower(), self.args)

    def children(self) -> tuple[Node, ...]:
        return self.args


class ListExpr(Node):
    """``{ a, b, ... }``."""

    __slots__ = ("items",)
    _fields = ("items",)

    def __init__(self, items: tuple[Node, ...], line: int = 0, column: int = 0) -> None:
        self.items = items
        _init(self, line, column)

    def children(self) -> tuple[Node, ...]:
        return self.items


class AdExpr(Node):
    """``[ name = expr; ... ]``: a ClassAd literal.

    ``attrs`` maps lower-case names to (name as written, expression); later duplicates
    replace earlier ones, as inserting into a ClassAd does.  ``exprs`` and ``names`` are
    the same split in two, in the form a ClassAd value made from this literal shares.
    """

    __slots__ = ("attrs", "exprs", "names")
    _fields = ("attrs",)

    def __init__(self, attrs: dict[str, tuple[str, Node]], line: int = 0, column: int = 0):
        self.attrs = attrs
        self.exprs = {k: e for k, (_, e) in attrs.items()}
        self.names = {k: n for k, (n, _) in attrs.items()}
        _init(self, line, column)

    def _key(self) -> tuple:
        return (AdExpr, tuple(sorted((k, e) for k, (_, e) in self.attrs.items())))

    def children(self) -> tuple[Node, ...]:
        return tuple(e for _, e in self.attrs.values())


def walk(node: Node):
    """Every node of a tree, parents before children, without recursion."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children()))
