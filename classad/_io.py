"""Reading ads from text and files, in old, new or JSON syntax, and writing JSON.

``parse_ads`` reads a whole stream and either returns every ad or raises one
``ClassAdSyntaxError`` naming the line and column: a bad file is refused whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import IO

from . import _ast as ast
from ._classad import ClassAd
from ._errors import ClassAdSyntaxError
from ._parser import _cache as _expression_cache
from ._parser import looks_new_syntax, old_ads, parse_expression, parse_new_ads
from ._unparse import unparse
from ._values import INT64_MAX, INT64_MIN, AbsTime, Error, RelTime, Undefined

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


# A JSON string written "\/Expr(...)\/" holds an expression, and one written "/Expr(...)/"
# is a plain string: only the text tells them apart, and json.loads reads both alike.  The
# reader marks the first kind with a NUL, which no ClassAd string may hold, before parsing.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_EXPR_MARK = "\0Expr("


def _mark_expression(m: re.Match) -> str:
    token = m.group()
    if token.startswith('"\\/Expr(') and token.endswith(')\\/"'):
        return '"\\u0000' + token[3:]
    return token


def _json_int(text: str) -> int:
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else 0  # as from_chars leaves it


def _json_constant(name: str):
    raise ClassAdSyntaxError(f"bad JSON: {name} is not a ClassAd value")


def _json_object(pairs: list[tuple[str, object]]) -> ast.AdExpr:
    attrs: dict[str, tuple[str, ast.Node]] = {}
    for name, value in pairs:
        if not name:
            raise ClassAdSyntaxError("bad JSON: an attribute name cannot be empty")
        first = attrs.get(name.lower())
        attrs[name.lower()] = (first[0] if first else name, _from_json(value))
    return ast.AdExpr(attrs)


def _from_json(value) -> ast.Node:
    if isinstance(value, ast.Node):
        return value
    if value is None:
        return ast.Literal(Undefined)
    if isinstance(value, bool | int | float):
        return ast.Literal(value)
    if isinstance(value, str):
        if value.startswith(_EXPR_MARK):
            return parse_expression(value[6:-2])
        if "\0" in value:
            raise ClassAdSyntaxError("bad JSON: a string holds a NUL character")
        return ast.Literal(value)
    if isinstance(value, list):
        return ast.ListExpr(tuple(_from_json(v) for v in value))
    raise ClassAdSyntaxError(f"unexpected JSON value {value!r}")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_json_object, parse_int=_json_int, parse_constant=_json_constant
)
_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def parse_json_ads(text: str) -> list[ClassAd]:
    """Ads in HTCondor's JSON form: objects one after another, or a list of them;
    expressions that are not literals are strings ``"\\/Expr(...)\\/"``."""
    marked = _JSON_STRING.sub(_mark_expression, text)
    values = []
    pos = _JSON_SPACE.match(marked).end()
    try:
        while pos < len(marked):
            value, pos = _DECODER.raw_decode(marked, pos)
            values.extend(value if isinstance(value, list) else [value])
            pos = _JSON_SPACE.match(marked, pos).end()
    except json.JSONDecodeError as e:
        raise ClassAdSyntaxError(f"bad JSON: {e.msg}", e.lineno, e.colno) from None
    ads = []
    for value in values:
        if type(value) is not ast.AdExpr:
            raise ClassAdSyntaxError("a JSON ClassAd must be an object")
        ads.append(ClassAd._from_node(value, None))
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
    if t is ast.ReltimeLiteral:
        return float(node.value.secs)  # HTCondor writes the real it evaluates to
    if t is ast.ListExpr:
        return [_to_json(i) for i in node.items]
    if t is ast.AdExpr:
        return {name: _to_json(e) for name, e in node.attrs.values()}
    return _EXPR_START + unparse(node) + _EXPR_END


def ad_to_json(ad: ClassAd) -> str:
    data = {name: _to_json(ad._attrs[key]) for key, name in ad._names.items()}
    text = json.dumps(data, indent=2, ensure_ascii=False)
    return text.replace('"\\u0000EXPR(', '"\\/Expr(').replace(')EXPR\\u0000"', ')\\/"')


# -- the wire ------------------------------------------------------------------------------


def ad_to_pairs(ad: ClassAd) -> list[tuple[str, str]]:
    """An ad as (name, expression text) pairs: how ads travel between roost's daemons, as
    HTCondor sends them in their long form.  The text is new syntax, whose strings can
    hold any character (an old-syntax string cannot end in a backslash)."""
    return [(name, unparse(ad._attrs[key])) for key, name in ad._names.items()]


def ad_from_pairs(pairs) -> ClassAd:
    """An ad from (name, expression text) pairs; a bad expression raises
    ClassAdSyntaxError naming the attribute.  Repeated texts share one parsed tree."""
    exprs: dict[str, ast.Node] = {}
    names: dict[str, str] = {}
    cache = _expression_cache
    for name, text in pairs:
        node = cache.get(text)
        if node is None:
            try:
                node = parse_expression(text)
            except ClassAdSyntaxError as e:
                raise ClassAdSyntaxError(f"{name}: {e.message}", e.line, e.column) from None
        key = name.lower()
        if key not in names:
            if not name:
                raise ClassAdSyntaxError("an attribute name cannot be empty")
            names[key] = name
        exprs[key] = node
    return ClassAd._from_dicts(exprs, names)
