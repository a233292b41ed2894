"""Built-in functions that look at their arguments' expressions, not only their values.

``ifThenElse`` evaluates one branch only; ``eval`` parses a string and evaluates it where
the call stands; ``unparse`` and ``unresolved`` read the expression an attribute
reference leads to; ``evalInEachContext`` and ``countMatches`` evaluate an expression
inside each ad of a list (HTCondor uses them to match a job against a slot's GPUs);
``debug`` logs an evaluation.  They follow ``src/classad/fnCall.cpp`` and
``src/condor_utils/compat_classad.cpp``.

In HTCondor an attribute reference is any ``name``, ``.name`` or ``expr.name``; here
those are ``AttrRef`` and ``Select`` nodes.
"""

from __future__ import annotations

import logging
import re
import time

from . import _ast as ast
from ._builtins import lazy_function
from ._classad import ClassAd
from ._convert import value_to_node
from ._errors import ClassAdSyntaxError
from ._evaluate import compile_node, compile_text, find_attribute, select
from ._exprtree import ExprTree
from ._fn_convert import to_string, utf8
from ._fn_pcre import compile_pcre
from ._refs import references
from ._unparse import format_value, unparse
from ._values import Error, Undefined

log = logging.getLogger("classad")


@lazy_function("ifThenElse", min_args=3, max_args=3)
def if_then_else(st, args):
    c = args[0](st)
    t = type(c)
    if t is bool:
        chosen = c
    elif t is int or t is float:
        chosen = c != 0
    else:
        return Undefined if c is Undefined else Error
    return args[1](st) if chosen else args[2](st)


@lazy_function("eval", min_args=1, max_args=1)
def eval_(st, args):
    text = to_string(args[0](st))
    if type(text) is not str:
        return Error
    try:
        fn = compile_text(text)
    except ClassAdSyntaxError:
        return Error
    return fn(st)


@lazy_function("debug", min_args=1, max_args=1)
def debug(st, args):
    start = time.perf_counter()
    value = args[0](st)
    if log.isEnabledFor(logging.DEBUG):
        shown = repr(value) if type(value) is str else format_value(value)
        elapsed = time.perf_counter() - start
        log.debug("debug(%s) = %s in %.6fs", unparse(args[0].node), shown, elapsed)
    return value


# -- attribute references -------------------------------------------------------------------


def _is_reference(node: ast.Node) -> bool:
    return type(node) is ast.AttrRef or type(node) is ast.Select


def _find(st, start: ClassAd, key: str) -> tuple[ast.Node | None, ClassAd | None]:
    """The tree ``key`` names from ``start`` (a special name's value as a literal tree),
    and the ad where the lookup stopped: None when it found nothing in a match."""
    ad, found = find_attribute(st, start, key)
    if ad is None and found is not None:
        return value_to_node(found), start
    return found, ad


def _deref(st, node: ast.Node) -> ast.Node | None:
    """AttributeReference::Deref: the tree a reference leads to, or None.

    Like HTCondor, it leaves the evaluation in the ad where the lookup stopped, for the
    rest of the expression: after ``evalInEachContext(TARGET.x, L)`` finds ``x`` in the
    target ad, ``L`` (and what follows the call) is looked up there, and after a
    reference that leads nowhere in a match, unscoped names are Undefined."""
    key = node.name.lower()
    if type(node) is ast.Select:
        base = compile_node(node.expr)(st)
        if type(base) is list:
            # A selection over a list leads to the list of the selected values.
            return value_to_node(select(st, base, key))
        if not isinstance(base, ClassAd):
            return None
        found, st.scope = _find(st, base, key)
        return found
    start = st.scope
    if start is None:
        return None
    if node.absolute:
        if st.left is not None:
            st.scope = None
            return None
        while start._parent is not None:
            start = start._parent
    found, where = _find(st, start, key)
    if found is None and not node.absolute:
        # Old ClassAd semantics: a top-level ad's unscoped names fall back to the other ad.
        other = st._alternate(start)
        if other is not None:
            found, where = _find(st, other, key)
    st.scope = where
    return found


@lazy_function("unparse", min_args=1, max_args=1)
def unparse_(st, args):
    node = args[0].node
    if not _is_reference(node):
        return Error
    # HTCondor looks the reference's text up in the current ad only, so scoped and
    # absolute references ("MY.a", ".a") and names of enclosing ads find nothing.
    ad = st.scope
    if type(node) is ast.Select or node.absolute or ad is None:
        return ""
    found = ad._attrs.get(node.name.lower())
    return "" if found is None else unparse(found, indent=0)


@lazy_function("unresolved", min_args=1, max_args=2)
def unresolved(st, args):
    node = args[0].node
    if not _is_reference(node):
        return Error
    expr = _deref(st, node)
    if expr is None:
        return Undefined
    rx = None
    if len(args) == 2:
        pattern = args[1](st)
        if type(pattern) is not str:
            return Error
        rx = compile_pcre(pattern, re.IGNORECASE)
        if rx is None:
            return Error
    names = []
    if st.scope is not None:
        other = st._alternate(st.scope)
        for name in references(st.scope, ExprTree._wrap(expr), external=True, target=other):
            if name[:7].lower() == "target.":
                name = name[7:]
            names.append(name)
    if rx is None:
        return ",".join(names)
    # The pattern must match some non-empty part of a name (PCRE2_NOTEMPTY).
    return any(m.end() > m.start() for name in names for m in rx.finditer(utf8(name)))


# -- evaluating in nested ads ---------------------------------------------------------------


def _in_each_context(st, args):
    """The values of the first argument in each ad of the second, or a value to return
    instead of a list (Undefined, Error)."""
    expr, contexts = args
    fn = expr
    if _is_reference(expr.node):
        # A reference to an attribute of the current ad stands for that attribute's
        # expression; anything else is evaluated as it is, in each ad.
        target = _deref(st, expr.node)
        if target is not None:
            fn = compile_node(target)
    ads = contexts(st)
    if type(ads) is not list:
        return Undefined if ads is Undefined else Error
    results = []
    for ad in ads:
        if isinstance(ad, ClassAd):
            results.append(st.evaluate_in(ad, fn))
        else:
            results.append(Undefined if ad is Undefined else Error)
    return results


@lazy_function("evalInEachContext", min_args=2, max_args=2)
def eval_in_each_context(st, args):
    return _in_each_context(st, args)


@lazy_function("countMatches", min_args=2, max_args=2)
def count_matches(st, args):
    results = _in_each_context(st, args)
    if type(results) is not list:
        # Undefined counts no matches, so that a slot without the list still matches.
        return 0 if results is Undefined else results
    count = 0
    for r in results:
        t = type(r)
        if (t is bool or t is int or t is float) and r:
            count += 1
    return count
