"""Comparing roost's ClassAd language with HTCondor's own library (``classad2``).

Both sides are reduced to one plain form, a *shape*, so that a comparison says which
type and which value differ: ``("int", 3)``, ``("real", "-0.0")``, ``("bool", True)``,
``("str", "a")``, ``("undefined",)``, ``("error",)``, ``("abstime", secs)``,
``("reltime", secs)``, ``("list", (shape, ...))``, ``("ad", ((name, expr), ...))``, and
``("raises",)`` when classad2 raises instead of giving a value.

What is fair to compare, and how:

- roost is read through its internal evaluator, which keeps relative times apart from
  reals; classad2 returns both as ``float``, so a float from it is asked ``isReal(...)``.
- classad2 returns lists lazily, elements unevaluated; element ``i`` of the value of
  ``e`` is read as the value of ``(e)[i]`` in the same scope, recursively.
- An ad value is compared by its attribute names and expressions; classad2's
  expressions are printed by classad2 and read back by roost, so the comparison is of
  trees and does not depend on either side's layout.
- Reals compare by ``repr``: NaN equals NaN and -0.0 differs from 0.0.

Parsing: ``classad2.ExprTree(text)`` and ``classad2.ClassAd(text)`` read their text by
wrapping it in an ad and ignore what follows the first ad, so ``ExprTree("1; b = 2")``
is ``1``.  The strict parse oracle here is ``classad2.parseAds`` (new syntax) on the text
wrapped twice over (see ``oracle_accepts``).

Import htcondor2 before classad2: it switches on HTCondor's daemon semantics (the
MY-then-TARGET lookup) and its extra functions.  ``load()`` does, or skips the test.
"""

from __future__ import annotations

import classad
from classad import _evaluate
from classad._classad import ClassAd
from classad._values import AbsTime, Error, RelTime, Undefined

ORACLE_KEY = "ZzOracle"


def load():
    """The classad2 module, HTCondor's bindings set up as its daemons have them."""
    import pytest

    pytest.importorskip("htcondor2")
    import classad2

    return classad2


# -- roost ---------------------------------------------------------------------------------

_roost_ads: dict[str, ClassAd] = {}


def roost_ad(text: str | None) -> ClassAd | None:
    if text is None:
        return None
    ad = _roost_ads.get(text)
    if ad is None:
        ad = _roost_ads[text] = classad.ClassAd(text)
    return ad


def roost_shape_of(v):
    """The shape of one of roost's internal values."""
    t = type(v)
    if t is bool:
        return ("bool", v)
    if t is int:
        return ("int", v)
    if t is float:
        return ("real", repr(v))
    if t is str:
        return ("str", v)
    if v is Undefined:
        return ("undefined",)
    if v is Error:
        return ("error",)
    if t is AbsTime:
        return ("abstime", repr(float(v.secs)))
    if t is RelTime:
        return ("reltime", repr(float(v.secs)))
    if t is list:
        return ("list", tuple(roost_shape_of(x) for x in v))
    if t is ClassAd:
        return ("ad", tuple(sorted(
            (k, _printed(str(classad.ExprTree._wrap(node)))) for k, node in v._attrs.items()
        )))
    raise TypeError(f"roost gave a value of no ClassAd type: {v!r}")


def roost_shape(text: str, my: str | None = None, target: str | None = None):
    """The shape of ``text`` evaluated by roost with ``my`` and ``target`` (ad texts)."""
    node = classad.ExprTree(text)._node
    return roost_shape_of(_evaluate.evaluate(node, roost_ad(my), roost_ad(target)))


# -- classad2 ------------------------------------------------------------------------------

_oracle_ads: dict[str, object] = {}


def oracle_ad(text: str | None):
    if text is None:
        return None
    ad = _oracle_ads.get(text)
    if ad is None:
        ad = _oracle_ads[text] = load().ClassAd(text)
    return ad


def oracle_shape(text: str, my: str | None = None, target: str | None = None):
    """The shape of ``text`` evaluated by classad2 with ``my`` and ``target``."""
    return _oracle_shape(load(), text, oracle_ad(my), oracle_ad(target))


def _oracle_eval(c2, text: str, my, target):
    # The bindings put the text in an ad; a line break ends any // comment before the ad does.
    return c2.ExprTree(text + "\n").eval(my, target)


def _oracle_shape(c2, text: str, my, target):
    try:
        v = _oracle_eval(c2, text, my, target)
    except (c2.ClassAdException, ValueError):
        # ValueError: an absolute time Python's datetime cannot hold.
        return ("raises",)
    t = type(v)
    if t is bool:
        return ("bool", v)
    if t is int:
        return ("int", v)
    if t is float:
        if _oracle_eval(c2, f"isReal(({text}\n))", my, target) is True:
            return ("real", repr(v))
        return ("reltime", repr(v))
    if t is str:
        return ("str", v)
    if v is c2.Value.Undefined:
        return ("undefined",)
    if v is c2.Value.Error:
        return ("error",)
    if t is list:
        return ("list", tuple(
            _oracle_shape(c2, f"({text}\n)[{i}]", my, target) for i in range(len(v))
        ))
    if isinstance(v, c2.ClassAd):
        return ("ad", tuple(sorted((k.lower(), _reprinted(v.lookup(k))) for k in v)))
    if hasattr(v, "timestamp"):
        return ("abstime", repr(float(v.timestamp())))
    raise TypeError(f"classad2 gave a value of no ClassAd type: {v!r}")


def _printed(text: str) -> str:
    # roost prints "1 .a", which reads back, where classad2 prints "1.a", which does not.
    return text.replace(" .", ".")


def _reprinted(expr) -> str:
    """classad2's printed expression, read and printed by roost; as classad2 printed it
    if roost cannot read it (classad2 prints some trees so that they do not read back)."""
    try:
        return _printed(str(classad.ExprTree(str(expr))))
    except classad.ClassAdSyntaxError:
        return str(expr)


def oracle_accepts(text: str) -> bool:
    """Whether HTCondor's parser reads ``text`` as one whole expression.

    classad2 ignores text after the first ad, so ``text`` is read inside a list and inside
    parentheses, each in an ad of one attribute: text that closes one early (``1 ]``,
    ``1 }``, ``0;``) breaks the other, or leaves more than one element or attribute."""
    c2 = load()
    for shell, elements in (("{{ {}\n }}", 1), ("( {}\n )", None)):
        try:
            ads = list(c2.parseAds(f"[{ORACLE_KEY} = {shell.format(text)}]", c2.ParserType.New))
        except Exception:  # ClassAdException, or a plain error for some malformed streams
            return False
        if len(ads) != 1 or [k.lower() for k in ads[0]] != [ORACLE_KEY.lower()]:
            return False
        if elements is not None:
            value = ads[0].eval(ORACLE_KEY)
            if not isinstance(value, list) or len(value) != elements:
                return False
    return True


def roost_accepts(text: str) -> bool:
    try:
        classad.ExprTree(text)
    except classad.ClassAdSyntaxError:
        return False
    return True
