"""Between the evaluator's values and what Python callers hand in and get back."""

from __future__ import annotations

import datetime

from . import _ast as ast
from ._values import AbsTime, Error, RelTime, Undefined, Value, c_time, wrap_int


def to_python(v):
    """An evaluated value as the public API returns it: times become ``datetime`` (absolute)
    and ``float`` seconds (relative), lists are fresh lists.  An absolute time outside the
    years ``datetime`` holds (1 to 9999) stays an ``AbsTime`` (``secs``, ``offset``)."""
    t = type(v)
    if t is bool or t is int or t is str or t is float:
        return v
    if t is list:
        return [to_python(x) for x in v]
    if t is AbsTime:
        try:
            return v.to_datetime()
        except (OverflowError, ValueError):
            return v
    if t is RelTime:
        return float(v.secs)
    return v


def value_to_node(v) -> ast.Node:
    """A tree that evaluates to an evaluated (internal) value: a literal, or a list or ad
    literal for lists and ads."""
    from ._classad import ClassAd

    t = type(v)
    if t is list:
        return ast.ListExpr(tuple(value_to_node(x) for x in v))
    if t is ClassAd:
        return ast.AdExpr({k: (v._names[k], e) for k, e in v._attrs.items()})
    if t is RelTime:
        # Literal::MakeLiteral keeps a relative time in a time_t: whole seconds.
        return ast.ReltimeLiteral(RelTime(float(c_time(v.secs))))
    return ast.Literal(v)


def to_node(value) -> ast.Node:
    """A tree for a Python value given to ``ClassAd[...] =`` or ``ClassAd(dict)``."""
    t = type(value)
    if t is bool or t is str or t is float:
        return ast.Literal(value)
    if t is int:
        return ast.Literal(wrap_int(value))
    # Imported here, past the common cases: both modules import this one.
    from ._classad import ClassAd
    from ._exprtree import ExprTree

    if isinstance(value, ExprTree):
        return value._node
    if isinstance(value, Value):
        return ast.Literal(Undefined if value is Undefined else Error)
    if value is None:
        return ast.Literal(Undefined)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.astimezone()
        offset = int(value.utcoffset().total_seconds())
        return ast.Literal(AbsTime(value.timestamp(), offset))
    if isinstance(value, datetime.timedelta):
        return ast.ReltimeLiteral(RelTime(value.total_seconds()))
    if isinstance(value, ClassAd):
        return ast.AdExpr({k: (value._names[k], e) for k, e in value._attrs.items()})
    if isinstance(value, dict):
        return ast.AdExpr({str(k).lower(): (str(k), to_node(v)) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return ast.ListExpr(tuple(to_node(v) for v in value))
    if isinstance(value, int):
        return ast.Literal(wrap_int(int(value)))
    if isinstance(value, float):
        return ast.Literal(float(value))
    if isinstance(value, str):
        return ast.Literal(str(value))
    raise TypeError(f"cannot store a {t.__name__} in a ClassAd")
