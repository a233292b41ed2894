"""Matchmaking on two ads: Requirements both ways, and Rank, as the negotiator uses them.

A Requirements value counts as satisfied when it is ``true`` or a non-zero number (a
relative time counts as its seconds, as HTCondor's match does); any other value
(undefined, error, a string...) is no match.  A Rank that is not a number counts as 0.0.
"""

from __future__ import annotations

from ._classad import ClassAd
from ._evaluate import evaluate_attribute
from ._values import RelTime


def _satisfied(v) -> bool:
    t = type(v)
    if t is bool:
        return v
    if t is RelTime:
        return v.secs != 0
    return (t is int or t is float) and v != 0


def requirements_hold(my: ClassAd, target: ClassAd) -> bool:
    """Whether ``my``'s Requirements holds with ``target`` as TARGET."""
    return _satisfied(evaluate_attribute(my, "requirements", target))


def symmetric_match(a: ClassAd, b: ClassAd) -> bool:
    """Whether each ad's Requirements holds against the other."""
    return requirements_hold(a, b) and requirements_hold(b, a)


def rank(my: ClassAd, target: ClassAd, name: str = "Rank") -> float:
    """``my``'s rank of ``target``: the attribute as a real, 0.0 unless it is a number."""
    v = evaluate_attribute(my, name, target)
    t = type(v)
    if t is int or t is float or t is bool:
        return float(v)
    if t is RelTime:
        return float(v.secs)
    return 0.0
