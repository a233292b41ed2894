"""Reading ads from text and files, in old, new or JSON syntax, and writing JSON.

``parse_ads`` reads a whole stream and either returns every ad or raises one
``ClassAdSyntaxError`` naming the line and column: a bad file is refused whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO

from . import _ast as ast
from ._classad import ClassAd
from ._errors import ClassAdSyntaxError
from ._parser import looks_new_syntax, old_ads, parse_expression, parse_new_ads
from ._unparse import unparse
from ._values import AbsTime, Error, RelTime, Undefined

_EXPR_START = "\0EXPR("
_EXPR_END = ")EXPR\0"


def _text(source: str | IO) -> str:
    return source if isinstance(source, str) else source.read()


def parse_ads(source: str | IO, parser: str = "auto") -> Iterator[ClassAd]:
    """Every ad in a text or file.  ``parser``: ``auto`` (new syntax if the text starts
    with ``[``, else old), ``new``, ``old`` or ``json``."""
    return iter(_parse_all(_text(source), parser))


def _parse_all(text: str, parser: str) -> list[ClassAd]:
    if parser == "json":
        return parse_json_ads(text)
    if parser == "new" or (parser == "auto" and looks_new_syntax(text)):
        return [ClassAd._from_node(node, None) for node in parse_new_ads(text)]
    if parser in ("old", "auto"):
        return [ClassAd._from_dicts(exprs, names) for exprs, names in old_ads(text)]
    raise ValueError(f"unknown parser {parser!r}: use auto, new, old or json")


def parse_one(source: str | IO, parser: str = "auto") -> ClassAd:
    """The one ad in a text or file (an empty text is an empty ad); more is an error."""
    ads = _parse_all(_text(source), parser)
    if len(ads) > 1:
        raise ClassAdSyntaxError("expected one ClassAd, found several", 1, 1)
    return ads[0] if ads else ClassAd()


def parse_ad_text(text: str) -> ClassAd:
    """``ClassAd(text)``: one ad in new or old syntax."""
    return parse_one(text)


# -- JSON ----------------------------------------------------------------------------------


def _from_json(value) -> ast.Node:
    if value is None:
        return ast.Literal(Undefined)
    if isinstance(value, bool | int | float):
        return ast.Literal(value)
    if isinstance(value, str):
        if value.startswith("/Expr(") and value.endswith(")/"):
            return parse_expression(value[6:-2])
        return ast.Literal(value)
    if isinstance(value, list):
        return ast.ListExpr(tuple(_from_json(v) for v in value))
    if isinstance(value, dict):
        return ast.AdExpr({k.lower(): (k, _from_json(v)) for k, v in value.items()})
    raise ClassAdSyntaxError(f"unexpected JSON value {value!r}")


def parse_json_ads(text: str) -> list[ClassAd]:
    """Ads in HTCondor's JSON form: one object or a list of them; expressions that are not
    literals are strings ``"\\/Expr(...)\\/"``."""
    try:
        data = json.loads(text) if text.strip() else []
    except json.JSONDecodeError as e:
        raise ClassAdSyntaxError(f"bad JSON: {e.msg}", e.lineno, e.colno) from None
    objects = data if isinstance(data, list) else [data]
    ads = []
    for obj in objects:
        if not isinstance(obj, dict):
            raise ClassAdSyntaxError("a JSON ClassAd must be an object")
        ads.append(ClassAd._from_node(_from_json(obj), None))
    return ads


def _to_json(node: ast.Node):
    t = type(node)
    if t is ast.Literal:
        v = node.value
        if v is Undefined:
            return None
        if v is Error or type(v) in (AbsTime, RelTime):
            return _EXPR_START + unparse(node) + _EXPR_END
        if type(v) is float and (v != v or v in (float("inf"), float("-inf"))):
            return _EXPR_START + unparse(node) + _EXPR_END
        return v
    if t is ast.ListExpr:
        return [_to_json(i) for i in node.items]
    if t is ast.AdExpr:
        return {name: _to_json(e) for name, e in node.attrs.values()}
    return _EXPR_START + unparse(node) + _EXPR_END


def ad_to_json(ad: ClassAd) -> str:
    data = {name: _to_json(ad._attrs[key]) for key, name in ad._names.items()}
    text = json.dumps(data, indent=2, ensure_ascii=False)
    return text.replace('"\\u0000EXPR(', '"\\/Expr(').replace(')EXPR\\u0000"', ')\\/"')
