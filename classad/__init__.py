"""The ClassAd language: parse, evaluate, match and print ClassAds as HTCondor does.

The API mirrors HTCondor's Python bindings (``classad2``) in snake_case, with the
camelCase names HTCondor users know as aliases::

    >>> import classad
    >>> job = classad.ClassAd(
    ...     '[ RequestMemory = 2048; Requirements = TARGET.Memory >= RequestMemory ]')
    >>> slot = classad.ClassAd('[ Memory = 4096; Requirements = true ]')
    >>> job.symmetric_match(slot)
    True
    >>> classad.ExprTree("1 + 2").eval()
    3

Evaluation never raises for errors of the language: they are ``Value.Error``, and
missing attributes are ``Value.Undefined``.  Syntax errors raise ``ClassAdSyntaxError``
(a ``ValueError``) with ``line`` and ``column``.  This package imports nothing of roost.
"""

from __future__ import annotations

import sys

from . import _functions  # noqa: F401  (fills the registry of built-in functions)
from ._analysis import (
    AttributeTerm,
    AttributeTerms,
    MetaComparison,
    attribute_terms,
    conjuncts,
    meta_comparisons,
)
from ._classad import ClassAd
from ._errors import ClassAdSyntaxError
from ._exprtree import ExprTree
from ._fn_htcondor import job_arguments, job_environment
from ._io import ad_from_pairs, ad_to_pairs, parse_ads, parse_json_ads, parse_one
from ._match import rank, requirements_hold, symmetric_match
from ._unparse import quote_string as quote
from ._values import Value

# Compiled expressions are closures calling closures, one Python frame per tree level
# and a few per attribute reference; HTCondor's own limits (400 nested attribute
# evaluations, trees 1000 deep) need more than Python's default 1000 frames.
if sys.getrecursionlimit() < 10_000:
    sys.setrecursionlimit(10_000)


def unquote(text: str) -> str:
    """The string a quoted ClassAd string literal stands for (``quote``'s inverse)."""
    value = ExprTree(text).eval()
    if not isinstance(value, str):
        raise ClassAdSyntaxError(f"not a string literal: {text}", 1, 1)
    return value


parseAds = parse_ads
parseOne = parse_one
symmetricMatch = symmetric_match

__all__ = [
    "AttributeTerm",
    "AttributeTerms",
    "ClassAd",
    "ClassAdSyntaxError",
    "ExprTree",
    "MetaComparison",
    "Value",
    "ad_from_pairs",
    "attribute_terms",
    "conjuncts",
    "ad_to_pairs",
    "job_arguments",
    "job_environment",
    "meta_comparisons",
    "parse_ads",
    "parse_json_ads",
    "parse_one",
    "parseAds",
    "parseOne",
    "quote",
    "rank",
    "requirements_hold",
    "symmetric_match",
    "symmetricMatch",
    "unquote",
]
