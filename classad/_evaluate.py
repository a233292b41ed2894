"""Compiling syntax trees into Python closures, and the scoping rules they run under.

A tree is compiled once (the closure is kept on the node, and nodes are shared through
the expression cache), into closures ``f(state) -> value`` that call their children's
closures directly: no tree walk, no dispatch on node types at evaluation time.

Scoping follows HTCondor's old-ClassAd semantics (``ClassAd::LookupInScope`` and
``AttributeReference::FindExpr``):

- an unscoped name is looked up in the current ad, then its enclosing ads; the special
  names ``self``/``my``, ``parent``, ``toplevel``/``root`` and ``CurrentTime`` are
  resolved in the ad where the lookup starts when it has no attribute of that name;
- in a match, the two ads sit under a context where ``target``/``other`` name the other
  ad, ``my``/``ad`` the ad itself and ``left``/``right`` the two ads, inside a match ad
  that is the root of the evaluation (``match_ad``), and an unscoped name still undefined
  in a top-level ad is looked up in the other ad (MY, then TARGET);
- an attribute whose evaluation needs itself is UNDEFINED (HTCondor 25), and attribute
  nesting deeper than 400 is ERROR.
"""

from __future__ import annotations

import threading
import time

from . import _ast as ast
from ._builtins import FUNCTIONS
from ._classad import ClassAd
from ._operators import (
    arithmetic,
    bitwise,
    comparison,
    fold,
    identical,
    not_identical,
    truth,
    unary,
)
from ._values import INT64_MAX, INT64_MIN, Error, Undefined, wrap_int

MAX_ATTRIBUTE_DEPTH = 400
_SPECIAL = frozenset({"toplevel", "root", "self", "parent", "my", "currenttime"})
_MISSING = object()


class State:
    """Where an evaluation stands: the current ad, the two ads of a match, how deep in
    attribute references it is, and (in careful mode) which attributes are being
    evaluated.

    Evaluation first runs without tracking attributes, since cycles are rare and the
    bookkeeping costs as much as the rest of a Requirements; a cycle (or legitimately
    deep nesting) then reaches the depth cap and raises ``_Retry``, and the entry point
    evaluates again in careful mode, where a cycle is UNDEFINED and depth past the cap
    ERROR.  Evaluation has no side effects, so running it twice is safe.
    """

    __slots__ = ("scope", "left", "right", "depth", "active", "fallback")

    def __init__(self, scope: ClassAd | None = None, left=None, right=None, careful=False):
        self.scope = scope
        self.left = left
        self.right = right
        self.depth = 0
        self.active: set[tuple[int, str]] | None = set() if careful else None
        # (ad, other): an ad besides the two matched ones whose unscoped names fall back
        # to ``other``, as evaluate_in gives a nested ad.
        self.fallback: tuple[ClassAd, ClassAd] | None = None

    def evaluate_in(self, ad: ClassAd, arg):
        """Evaluate a compiled argument with ``ad`` (a nested ad) as its scope.

        As HTCondor's evalInEachContext does: the match stays around it, and a nested ad
        inside one of the matched ads takes that ad's fallback to the other one, so a
        GPU's ``Capability >= MinCap`` finds the job's ``MinCap``."""
        inner = State(ad, self.left, self.right, careful=self.active is not None)
        inner.depth = self.depth
        if self.left is not None:
            top = ad
            while top._parent is not None and top is not self.left and top is not self.right:
                top = top._parent
            if top is self.left:
                inner.fallback = (ad, self.right)
            elif top is self.right:
                inner.fallback = (ad, self.left)
        return arg(inner)

    def _alternate(self, ad):
        """Where an unscoped name missing from ``ad``'s scopes is looked up next."""
        if self.left is None or ad is None:
            return None
        if ad is self.left:
            return self.right
        if ad is self.right:
            return self.left
        if self.fallback is not None and ad is self.fallback[0]:
            return self.fallback[1]
        return None


# -- attribute lookup ---------------------------------------------------------------------


class _Retry(BaseException):
    """Raised at the depth cap in fast mode; a BaseException so that no function's own
    error handling can swallow it."""


def eval_attribute(st: State, ad: ClassAd, key: str, node: ast.Node):
    """Evaluate an attribute's tree with ``ad`` as the scope, guarding cycles and depth."""
    if type(node) is ast.Literal:
        return node.value
    fn = node.fn or compile_node(node)
    depth = st.depth
    if st.active is not None:
        return _eval_careful(st, ad, key, fn)
    if depth >= MAX_ATTRIBUTE_DEPTH:
        raise _Retry
    st.depth = depth + 1
    saved = st.scope
    st.scope = ad
    v = fn(st)
    st.scope = saved
    st.depth = depth
    return v


def _eval_careful(st: State, ad: ClassAd, key: str, fn):
    mark = (id(ad), key)
    active = st.active
    if mark in active:
        return Undefined
    if st.depth >= MAX_ATTRIBUTE_DEPTH:
        return Error
    active.add(mark)
    st.depth += 1
    saved = st.scope
    st.scope = ad
    try:
        return fn(st)
    finally:
        st.scope = saved
        st.depth -= 1
        active.discard(mark)


def run(fn, scope: ClassAd | None = None, left=None, right=None):
    """Call ``fn(state)`` in a fresh state, again in careful mode if it has to be."""
    try:
        try:
            return fn(State(scope, left, right))
        except _Retry:
            return fn(State(scope, left, right, careful=True))
    except RecursionError:
        # Nesting deeper than Python's stack: HTCondor gives ERROR past its own limits.
        return Error


def find_attribute(st: State, start: ClassAd, key: str):
    """Where a name leads from ``start`` outwards (HTCondor's ``LookupInScope``):

    - ``(ad, tree)``: an attribute, and the ad holding it;
    - ``(None, value)``: a special name or a name of the match context, and its value;
    - ``(last, None)``: nowhere; ``last`` is the outermost ad walked.

    In a match, HTCondor puts each of the two ads under a context ad in place of its own
    parent, and the context ads inside the match ad, so the walk from either of them goes
    on through its context ad and then the match ad (see ``match_ad``)."""
    ad = start
    left = st.left
    while True:
        node = ad._attrs.get(key)
        if node is not None:
            return ad, node
        if ad is start and key in _SPECIAL:
            value = _special(st, ad, key)
            return (None, value) if value is not _MISSING else (ad, None)
        if left is not None:
            if ad is left or ad is st.right:
                value = _match_context(st, ad, key)
                if value is not _MISSING:
                    return None, value
                ad = match_ad()
                continue
            if ad is _MATCH_AD and (key == "left" or key == "right"):
                return None, left if key == "left" else st.right
        parent = ad._parent
        if parent is None:
            return ad, None
        ad = parent


def _lookup(st: State, start: ClassAd, key: str):
    """A name's value looked up from ``start`` outwards, or _MISSING."""
    ad, found = find_attribute(st, start, key)
    if found is None:
        return _MISSING
    if ad is None:
        return found
    return eval_attribute(st, ad, key, found)


_MATCH_AD: ClassAd | None = None
_MATCH_AD_LOCK = threading.Lock()


def match_ad() -> ClassAd:
    """The ad HTCondor's MatchClassAd puts around the two ads of a match, as its
    matchClassad.cpp writes it, less ``LEFT`` and ``RIGHT``: those are the two ads, which
    the lookup (``find_attribute``) supplies.  It is the root of every evaluation in a
    match: ``toplevel`` there is this ad.  Made once, on first use (the parser needs this
    module), and the same ad for every thread, since lookups know it by identity."""
    global _MATCH_AD
    if _MATCH_AD is None:
        with _MATCH_AD_LOCK:
            if _MATCH_AD is None:
                _MATCH_AD = ClassAd(
                    "[ symmetricMatch = RIGHT.requirements && LEFT.requirements;"
                    " leftMatchesRight = RIGHT.requirements;"
                    " rightMatchesLeft = LEFT.requirements;"
                    " leftRankValue = LEFT.rank; rightRankValue = RIGHT.rank;"
                    " lCtx = [ other = .RIGHT; target = .RIGHT; my = .LEFT; ad = .LEFT ];"
                    " rCtx = [ other = .LEFT; target = .LEFT; my = .RIGHT; ad = .RIGHT ] ]"
                )
    return _MATCH_AD


def _context_ad(st: State, ad: ClassAd) -> ClassAd:
    """The context ad one of the two matched ads has for its parent (``lCtx``/``rCtx``)."""
    key = "lctx" if ad is st.left else "rctx"
    m = match_ad()
    return eval_attribute(st, m, key, m._attrs[key])


def _root(st: State, ad: ClassAd) -> ClassAd:
    while ad._parent is not None:
        ad = ad._parent
    if st.left is not None and (ad is st.left or ad is st.right):
        return match_ad()
    return ad


def _special(st: State, ad: ClassAd, key: str):
    if key == "self" or key == "my":
        return ad
    if key == "parent":
        if st.left is not None and (ad is st.left or ad is st.right):
            return _context_ad(st, ad)
        return ad._parent if ad._parent is not None else _MISSING
    if key == "currenttime":
        return int(time.time())
    return _root(st, ad)


def _match_context(st: State, ad: ClassAd, key: str):
    """A name missing from one of the two matched ads, in its context ad; _MISSING if it
    has none (the walk goes on in the match ad)."""
    if key == "target" or key == "other":
        return st.right if ad is st.left else st.left
    if key == "ad":
        return ad
    return _MISSING


def resolve(st: State, key: str):
    """An unscoped name: MY's scopes, then (in a match, from a top-level ad) TARGET's."""
    cur = st.scope
    if cur is None:
        return Undefined
    v = _lookup(st, cur, key)
    if v is _MISSING:
        alt = st._alternate(cur)
        if alt is not None:
            v = _lookup(st, alt, key)
        if v is _MISSING:
            return Undefined
    return v


def _absolute(st: State, key: str):
    """``.name``: looked up in the root ad alone (in a match, the match ad), where the special
    names mean the root itself."""
    ad = st.scope
    if ad is None:
        return Undefined
    v = _lookup(st, _root(st, ad), key)
    return Undefined if v is _MISSING else v


def select(st: State, base, key: str):
    """``base.name`` on a value: an ad's attribute, mapped over a list."""
    if type(base) is ClassAd:
        v = _lookup(st, base, key)
        return Undefined if v is _MISSING else v
    if type(base) is list:
        return [select(st, item, key) for item in base]
    if base is Undefined:
        return Undefined
    return Error


def subscript(st: State, base, index):
    if base is Error or index is Error:
        return Error
    if base is Undefined or index is Undefined:
        return Undefined
    if type(base) is list:
        if type(index) is int:
            # HTCondor reads the index into a C int: only its low 32 bits count.
            index = ((index + 0x80000000) & 0xFFFFFFFF) - 0x80000000
            if 0 <= index < len(base):
                return base[index]
        return Error
    if type(base) is ClassAd and type(index) is str:
        # The ad's own attributes only (ClassAd::Lookup): no enclosing ads, no special
        # names, no match context; and an ad found there comes back as HTCondor's copy of
        # it, cut off from the ads around it.
        key = index.lower()
        node = base._attrs.get(key)
        if node is None:
            return Undefined
        v = eval_attribute(st, base, key, node)
        return v._detached() if type(v) is ClassAd else v
    return Error


# -- the compiler --------------------------------------------------------------------------


def compile_node(node: ast.Node):
    """The closure for a tree, made once and kept on the node."""
    fn = node.fn
    if fn is None:
        fn = _COMPILERS[type(node)](node)
        node.fn = fn
    return fn


def compile_text(text: str):
    """The closure for an expression's text (raises ClassAdSyntaxError)."""
    from ._parser import parse_expression

    return compile_node(parse_expression(text))


def _literal(node: ast.Literal):
    value = node.value
    return lambda st: value


def _reltime_literal(node: ast.ReltimeLiteral):
    secs = float(node.value.secs)
    return lambda st: secs


def _attr_ref(node: ast.AttrRef):
    key = node.name.lower()
    if node.absolute:
        return lambda st: _absolute(st, key)
    Literal = ast.Literal  # closure cells are cheaper to reach than module globals

    def ref(st):
        ad = st.scope
        if ad is not None:
            found = ad._attrs.get(key)
            if found is not None:
                if type(found) is Literal:
                    return found.value
                return eval_attribute(st, ad, key, found)
        return resolve(st, key)

    return ref


def _select(node: ast.Select):
    key = node.name.lower()
    base = node.expr
    base_fn = compile_node(base)
    Literal = ast.Literal

    def generic(st):
        return select(st, base_fn(st), key)

    if type(base) is not ast.AttrRef or base.absolute:
        return generic
    scope_name = base.name.lower()
    if scope_name == "target":

        def target_select(st):
            left = st.left
            if left is not None:
                cur = st.scope
                if cur is left:
                    other = st.right
                elif cur is st.right:
                    other = left
                else:
                    return generic(st)
                if "target" not in cur._attrs:
                    found = other._attrs.get(key)
                    if found is not None:
                        if type(found) is Literal:
                            return found.value
                        return eval_attribute(st, other, key, found)
            return generic(st)

        return target_select
    if scope_name == "my":

        def my_select(st):
            cur = st.scope
            if cur is not None and "my" not in cur._attrs:
                found = cur._attrs.get(key)
                if found is not None:
                    if type(found) is Literal:
                        return found.value
                    return eval_attribute(st, cur, key, found)
            return generic(st)

        return my_select
    return generic


def _subscript(node: ast.Subscript):
    base = compile_node(node.expr)
    index = compile_node(node.index)
    return lambda st: subscript(st, base(st), index(st))


def _unary(node: ast.UnaryOp):
    operand = compile_node(node.operand)
    op = node.op
    if op == "!":

        def logical_not(st):
            v = operand(st)
            return (not v) if type(v) is bool else unary("!", v)

        return logical_not
    return lambda st: unary(op, operand(st))


def _paren(node: ast.Paren):
    return compile_node(node.expr)


def _conditional(node: ast.Conditional):
    cond = compile_node(node.cond)
    then = compile_node(node.then)
    otherwise = compile_node(node.otherwise)

    def conditional(st):
        c = truth(cond(st))
        if c is True:
            return then(st)
        if c is False:
            return otherwise(st)
        return c

    return conditional


def _operands(node: ast.Node, op: str) -> list[ast.Node]:
    """The operands of a chain ``a && b && c`` (parentheses looked through), left first.

    A chain evaluates left to right exactly as the nested binary operators would, so one
    closure can run it instead of one closure per operator."""
    found: list[ast.Node] = []
    _gather(node, op, found)
    return found


def _gather(node: ast.Node, op: str, found: list[ast.Node]) -> None:
    while type(node) is ast.Paren:
        node = node.expr
    if type(node) is ast.BinaryOp and node.op == op:
        _gather(node.left, op, found)
        _gather(node.right, op, found)
    else:
        found.append(node)


def _logical(fns, absorbing: bool):
    """``&&`` (``absorbing`` False) or ``||`` (True) over a chain of operands.

    The absorbing value and Error end the chain; Undefined so far stays Undefined unless
    the absorbing value or Error comes (``U && F`` is F, ``U || T`` is T)."""
    identity = not absorbing

    def logical(st):
        acc = identity
        for f in fns:
            v = f(st)
            if type(v) is not bool:
                v = truth(v)
            if v is absorbing or v is Error:
                return v
            if acc is identity:
                acc = v
        return acc

    return logical


def _elvis(left, right):
    def elvis(st):
        a = left(st)
        return right(st) if a is Undefined else a

    return elvis


def _int_fast(op: str, left, right):
    """``+ - *`` with a fast path for two integers."""
    if op == "+":

        def add(st):
            a = left(st)
            b = right(st)
            if type(a) is int and type(b) is int:
                r = a + b
                return r if INT64_MIN <= r <= INT64_MAX else wrap_int(r)
            return arithmetic("+", a, b)

        return add
    if op == "-":

        def sub(st):
            a = left(st)
            b = right(st)
            if type(a) is int and type(b) is int:
                r = a - b
                return r if INT64_MIN <= r <= INT64_MAX else wrap_int(r)
            return arithmetic("-", a, b)

        return sub

    def generic(st):
        return arithmetic(op, left(st), right(st))

    return generic


def _compare_fast(op: str, left, right):
    """Comparisons, with a fast path for two numbers of one type.

    The commonest operators in Requirements are written out one by one: going through
    ``operator.ge`` would cost about as much again as the comparison itself."""
    if op == "==":

        def eq(st):
            a = left(st)
            b = right(st)
            t = type(a)
            if t is type(b) and (t is int or t is float):
                return a == b
            return comparison("==", a, b)

        return eq
    if op == ">=":

        def ge(st):
            a = left(st)
            b = right(st)
            t = type(a)
            if t is type(b) and (t is int or t is float):
                return a >= b
            return comparison(">=", a, b)

        return ge
    if op == "<=":

        def le(st):
            a = left(st)
            b = right(st)
            t = type(a)
            if t is type(b) and (t is int or t is float):
                return a <= b
            return comparison("<=", a, b)

        return le

    def compare(st):
        return comparison(op, left(st), right(st))

    return compare


def _string_equality(op: str, left, constant: str):
    """``x == "LINUX"``, the commonest comparison in Requirements, with the constant's
    case folded once."""
    folded = fold(constant)
    equal = op == "=="

    def string_equality(st):
        a = left(st)
        if type(a) is str:
            return (fold(a) == folded) is equal
        return comparison(op, a, constant)

    return string_equality


def _binary(node: ast.BinaryOp):
    op = node.op
    if op in ("==", "!=") and type(node.right) is ast.Literal and type(node.right.value) is str:
        return _string_equality(op, compile_node(node.left), node.right.value)
    if op == "&&" or op == "||":
        # The chain's operands only: compiling each link too would cost n^2 for n links.
        return _logical([compile_node(n) for n in _operands(node, op)], op == "||")
    left = compile_node(node.left)
    right = compile_node(node.right)
    if op == "?:":
        return _elvis(left, right)
    if op == "=?=":
        return lambda st: identical(left(st), right(st))
    if op == "=!=":
        return lambda st: not_identical(left(st), right(st))
    if op in ("==", "!=", "<", "<=", ">", ">="):
        return _compare_fast(op, left, right)
    if op in ("+", "-", "*", "/", "%"):
        return _int_fast(op, left, right)
    return lambda st: bitwise(op, left(st), right(st))


class Arg:
    """A compiled argument of a lazy function: call it to evaluate; ``node`` is its tree."""

    __slots__ = ("fn", "node")

    def __init__(self, node: ast.Node) -> None:
        self.node = node
        self.fn = compile_node(node)

    def __call__(self, st: State):
        return self.fn(st)


def _error(st):
    return Error


def _call(node: ast.Call):
    entry = FUNCTIONS.get(node.name.lower())
    n = len(node.args)
    if entry is None:
        return _error
    fn, lazy, low, high = entry
    if n < low or (high is not None and n > high):
        return _error
    if lazy:
        args = tuple(Arg(a) for a in node.args)
        return lambda st: fn(st, args)
    fns = [compile_node(a) for a in node.args]
    if n == 0:
        return lambda st: fn()
    if n == 1:
        (a0,) = fns
        return lambda st: fn(a0(st))
    if n == 2:
        a0, a1 = fns
        return lambda st: fn(a0(st), a1(st))
    return lambda st: fn(*[f(st) for f in fns])


def _list(node: ast.ListExpr):
    if all(type(item) is ast.Literal for item in node.items):
        constant = [item.value for item in node.items]
        return lambda st: constant
    fns = [compile_node(item) for item in node.items]
    return lambda st: [f(st) for f in fns]


def _ad(node: ast.AdExpr):
    return lambda st: ClassAd._from_node(node, st.scope)


_COMPILERS = {
    ast.Literal: _literal,
    ast.ReltimeLiteral: _reltime_literal,
    ast.AttrRef: _attr_ref,
    ast.Select: _select,
    ast.Subscript: _subscript,
    ast.UnaryOp: _unary,
    ast.BinaryOp: _binary,
    ast.Conditional: _conditional,
    ast.Paren: _paren,
    ast.Call: _call,
    ast.ListExpr: _list,
    ast.AdExpr: _ad,
}


def evaluate(node: ast.Node, scope: ClassAd | None = None, target: ClassAd | None = None):
    """A tree's value (internal form) in ``scope``, matched against ``target`` if given."""
    fn = node.fn or compile_node(node)
    if target is not None and scope is not None and target is not scope:
        return run(fn, scope, scope, target)
    # An ad against itself is no match (HTCondor's EvaluateLooseExpr): TARGET is undefined.
    return run(fn, scope)


def evaluate_attribute(ad: ClassAd, name: str, target: ClassAd | None = None):
    """An attribute of ``ad`` by name (internal form), against ``target`` if given.

    In a match the name is ``ad``'s own, as HTCondor's ``LEFT.requirements`` is: an ad
    without Requirements does not borrow the other ad's."""
    key = name.lower()
    if target is None:
        return run(lambda st: resolve(st, key), ad)
    return run(lambda st: select(st, ad, key), ad, ad, target)
