"""Writing trees and values back as text: canonical new syntax, old syntax, and the text
``string()`` gives.

New syntax is HTCondor's canonical form (``a + b``, ``f(x,y)``, ``{ 1,2 }``,
``[ a = 1; b = 2 ]``, reals as ``%1.15E``); parentheses the tree holds are printed, and
any a hand-built tree needs are added.  A real that ``%1.15E`` would not give back
exactly is printed with one more digit, so that parsing the text gives the same tree.
"""

from __future__ import annotations

import math
import re

from . import _ast as ast
from ._lexer import RESERVED
from ._timeparse import format_abstime, format_reltime
from ._values import AbsTime, Error, RelTime, Undefined

_CONTROL_ESCAPES = {
    "\n": "\\n", "\t": "\\t", "\r": "\\r", "\a": "\\a", "\b": "\\b", "\f": "\\f",
    "\v": "\\v",
}

# Binding strength of each operator, as the grammar has it (higher binds tighter).
_LEVEL = {
    "||": 1, "&&": 2, "|": 3, "^": 4, "&": 5,
    "==": 6, "!=": 6, "=?=": 6, "=!=": 6,
    "<": 7, "<=": 7, ">": 7, ">=": 7, "<<": 8, ">>": 8, ">>>": 8,
    "+": 9, "-": 9, "*": 10, "/": 10, "%": 10,
}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_QUOTED_WORDS = frozenset(RESERVED) | {"parent"}
# HTCondor's new-syntax printer spells the meta-comparisons as words, its old-syntax
# printer as operators.
_NEW_SPELLING = {"=?=": "is", "=!=": "isnt"}
_NUMBER_START = frozenset("0123456789.")
_UNARY_LEVEL = 11
_POSTFIX_LEVEL = 12


def _escaped(s: str, quote: str) -> str:
    """``s`` between ``quote``s: the quote and backslash escaped, control characters and
    DEL written as escapes (octal when they have no letter), the rest as it is."""
    if s.isprintable() and quote not in s and "\\" not in s:
        return quote + s + quote
    out = []
    for c in s:
        if c == quote or c == "\\":
            out.append("\\" + c)
        elif c < " " or c == "\x7f":
            out.append(_CONTROL_ESCAPES.get(c) or f"\\{ord(c):03o}")
        else:
            out.append(c)
    return quote + "".join(out) + quote


def quote_string(s: str) -> str:
    return _escaped(s, '"')


def quote_name(name: str, old: bool = False) -> str:
    """A name as HTCondor writes it: quoted when it is not an identifier, or is a reserved
    word or ``parent`` (which its printer quotes too); old syntax escapes only the quote."""
    if _IDENTIFIER.match(name) and name.lower() not in _QUOTED_WORDS:
        return name
    if old:
        return "'" + name.replace("'", "\\'") + "'"
    return _escaped(name, "'")


def format_real(x: float, exact: bool = True) -> str:
    """A real as HTCondor writes it (``%1.15E``); ``exact``: with one more digit when that
    would not read back as the same real, as roost's printer (not ``string()``) does."""
    if x == 0.0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    if x != x:
        return 'real("NaN")'
    if math.isinf(x):
        return 'real("INF")' if x > 0 else 'real("-INF")'
    text = f"{x:1.15E}"
    return text if not exact or float(text) == x else f"{x:1.16E}"


def format_old_real(x: float) -> str:
    if x != x or math.isinf(x):
        return format_real(x)
    text = f"{x:.16G}"
    if float(text) != x:
        text = f"{x:.17G}"
    if all(c.isdigit() or c == "-" for c in text):
        text += ".0"
    return text


def format_literal(v, old: bool = False) -> str:
    t = type(v)
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v)
    if t is float:
        return format_old_real(v) if old else format_real(v)
    if t is str:
        return '"' + v.replace('"', '\\"') + '"' if old else quote_string(v)
    if v is Undefined:
        return "undefined"
    if v is Error:
        return "error"
    if t is AbsTime:
        # Four digits of year, so that the text reads back as the same time.
        return f'absTime("{format_abstime(v, pad_year=True)}")'
    if t is RelTime:
        return f'relTime("{format_reltime(v.secs)}")'
    raise TypeError(f"not a ClassAd literal: {v!r}")


def format_value(v) -> str:
    """A value as text: what ``string()`` gives for a value that is not a string."""
    from ._classad import ClassAd

    t = type(v)
    if t is list:
        return "{ " + ",".join(format_value(x) for x in v) + " }"
    if t is ClassAd:
        return unparse_ad(v)
    if t is AbsTime:
        return format_abstime(v)
    if t is RelTime:
        return format_reltime(v.secs, fraction=False)
    if t is float:
        return format_real(v, exact=False)
    return format_literal(v)


def unparse_ad(ad) -> str:
    """A ClassAd value in new syntax."""
    parts = [f"{quote_name(name)} = {unparse(ad._attrs[key])}" for key, name in ad._names.items()]
    return "[ " + "; ".join(parts) + " ]"


def _level(node: ast.Node) -> int:
    t = type(node)
    if t is ast.BinaryOp:
        return _POSTFIX_LEVEL if node.op == "?:" else _LEVEL[node.op]
    if t is ast.Conditional:
        return 0
    if t is ast.UnaryOp:
        return _UNARY_LEVEL
    return _POSTFIX_LEVEL + 1


def _wrapped(node: ast.Node, level: int, old: bool, indent: int | None) -> str:
    text = unparse(node, old, indent)
    return f"({text})" if _level(node) < level else text


def unparse(node: ast.Node, old: bool = False, indent: int | None = None) -> str:
    """A tree as text: new syntax, or old syntax (``old``: strings and reals as
    ``condor_q -long`` writes them).  With ``indent``, lists and ads are laid out over
    lines as HTCondor's pretty printer does (what the ``unparse()`` function gives):
    each element on a line of its own, three (lists) or four (ads) places further in."""
    t = type(node)
    if t is ast.Literal or t is ast.ReltimeLiteral:
        return format_literal(node.value, old)
    if t is ast.AttrRef:
        return ("." if node.absolute else "") + quote_name(node.name, old)
    if t is ast.BinaryOp:
        op = node.op
        if op == "?:":
            left = _wrapped(node.left, _POSTFIX_LEVEL, old, indent)
            return f"{left} ?: {_wrapped(node.right, _POSTFIX_LEVEL, old, indent)}"
        level = _LEVEL[op]
        left = _wrapped(node.left, level, old, indent)
        if not old:
            op = _NEW_SPELLING.get(op, op)
        return f"{left} {op} {_wrapped(node.right, level + 1, old, indent)}"
    if t is ast.Paren:
        return f"({unparse(node.expr, old, indent)})"
    if t is ast.Call:
        return node.name + "(" + ",".join(unparse(a, old, indent) for a in node.args) + ")"
    if t is ast.Select:
        base = _wrapped(node.expr, _POSTFIX_LEVEL, old, indent)
        # "1.a" would read as the malformed real "1.": an integer takes a space first.
        if type(node.expr) is ast.Literal and type(node.expr.value) is int:
            base += " "
        return f"{base}.{quote_name(node.name, old)}"
    if t is ast.Subscript:
        base = _wrapped(node.expr, _POSTFIX_LEVEL, old, indent)
        return f"{base}[{unparse(node.index, old, indent)}]"
    if t is ast.UnaryOp:
        # HTCondor writes a space before a unary operator: "a * -b" is "a *  -b".  A minus
        # before a digit would read back as the sign of a number: "- 1 .a" is not "-1 .a".
        operand = _wrapped(node.operand, _UNARY_LEVEL, old, indent)
        gap = " " if node.op == "-" and operand[:1] in _NUMBER_START else ""
        return " " + node.op + gap + operand
    if t is ast.Conditional:
        cond = _wrapped(node.cond, 1, old, indent)
        then = unparse(node.then, old, indent)
        return f"{cond} ? {then} : {unparse(node.otherwise, old, indent)}"
    if t is ast.ListExpr:
        if indent is None:
            return "{ " + ",".join(unparse(i, old) for i in node.items) + " }"
        inner = indent + 3
        items = ",".join(f"\n{' ' * (inner + 3)}{unparse(i, old, inner + 3)}" for i in node.items)
        return f"\n{' ' * inner}{{{items}\n{' ' * inner}}}"
    if t is ast.AdExpr:
        if indent is None:
            parts = [f"{quote_name(n)} = {unparse(e, old)}" for n, e in node.attrs.values()]
            return "[ " + "; ".join(parts) + " ]"
        inner = indent + 4
        pad = " " * (inner + 4)
        attrs = "; ".join(
            f"\n{pad}{quote_name(n)} = {unparse(e, old, inner + 4)}" for n, e in node.attrs.values()
        )
        return f"\n{' ' * inner}[{attrs}\n{' ' * inner}]"
    raise TypeError(f"not a ClassAd tree: {node!r}")
