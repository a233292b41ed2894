"""Turning text into trees and ads: expressions, new-syntax ads, old-syntax ads.

Parsing goes through three layers, cheapest first: a cache of trees by text (nodes are
immutable, so every ad with the same expression shares one tree and one compiled
closure), a fast path that recognises literal values (most attribute values in a job or
machine ad are numbers and plain strings) without the parser, and the PLY parser, one per
thread because PLY keeps its parse state on the parser object.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

from . import _ast as ast
from ._errors import ClassAdSyntaxError
from ._grammar import Grammar
from ._lexer import Lexer
from ._values import Error, Undefined

_local = threading.local()
Literal = ast.Literal

# The cache is bounded: a queue with millions of distinct expressions must not grow it
# without limit.  Clearing it is cheap and rare; hot expressions come straight back.
_CACHE_LIMIT = 100_000
_cache: dict[str, ast.Node] = {}
_old_cache: dict[str, ast.Node] = {}  # the same, for old syntax (other string escapes)

_REAL = re.compile(r"-?(?:[0-9]+\.[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+)\Z")
_WORDS = {"true": True, "false": False, "undefined": Undefined, "error": Error}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
_QUOTED_NAME = re.compile(r"[ \t]*'((?:[^'\\]|\\.)*)'[ \t]*=")


class _Token:
    """A token the parser feeds itself first, to choose the entry point."""

    __slots__ = ("type", "value", "lineno", "lexpos", "column", "lexer")

    def __init__(self, kind: str) -> None:
        self.type = kind
        self.value = None
        self.lineno = 1
        self.lexpos = 0
        self.column = 1
        self.lexer = None


class _Feed:
    """The token source handed to PLY: the entry token, then the lexer's tokens."""

    def __init__(self, lexer: Lexer, grammar: Grammar, first: str) -> None:
        self.lexer = lexer
        self.grammar = grammar
        self.first: _Token | None = _Token(first)

    def token(self):
        if self.first is not None:
            tok, self.first = self.first, None
            return tok
        tok = self.lexer.token()
        if tok is None:
            lx = self.lexer
            # PLY leaves lexpos one past the end once the input is used up.
            end = min(lx.lexer.lexpos, len(lx.lexer.lexdata))
            self.grammar.end_position = (lx.lexer.lineno, lx.column(end))
        return tok


def _tools() -> tuple[Lexer, Grammar]:
    tools = getattr(_local, "tools", None)
    if tools is None:
        tools = _local.tools = (Lexer(), Grammar())
    return tools


def _run(text: str, first: str, old_strings: bool):
    lexer, grammar = _tools()
    lexer.reset(text, old_strings)
    grammar.end_position = (1, 1)
    return grammar.parser.parse(lexer=_Feed(lexer, grammar, first))


def literal_node(text: str) -> ast.Literal | None:
    """A Literal for text (without surrounding space) that is plainly a literal value,
    found without the parser; else None."""
    first = text[:1]
    if first == '"':
        inner = text[1:-1]
        plain = '"' not in inner and "\\" not in inner and "\n" not in inner and "\0" not in inner
        if len(text) > 1 and text[-1] == '"' and plain:
            return ast.Literal(inner, 1, 1)
        return None
    if first.isdigit() or first == "-":
        digits = text[1:] if first == "-" else text
        if digits.isdigit() and digits.isascii():
            if len(digits) < 19 and (digits[0] != "0" or len(digits) == 1):
                return ast.Literal(int(text), 1, 1)
            return None
        if _REAL.match(text):
            return ast.Literal(float(text), 1, 1)
        return None
    word = _WORDS.get(text.lower())
    if word is not None:
        return ast.Literal(word, 1, 1)
    return None


def parse_expression(text: str, old_strings: bool = False) -> ast.Node:
    """One expression's tree (shared, do not modify); raises ClassAdSyntaxError."""
    cache = _old_cache if old_strings else _cache
    node = cache.get(text)
    if node is not None:
        return node
    stripped = text.strip()
    # Literals are cached too: values repeat across the ads of a pool (OpSys, Arch,
    # Owner...), and a hit costs less than reading the literal again.
    node = literal_node(stripped)
    if node is None:
        if not stripped:
            raise ClassAdSyntaxError("empty expression", 1, 1)
        node = _run(text, "START_EXPR", old_strings)
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[text] = node
    return node


def parse_new_ads(text: str) -> list[ast.AdExpr]:
    """Every ``[ ... ]`` ad in a text of new-syntax ads."""
    return _run(text, "START_ADS", False)


_BLANK_LINES = re.compile(r"\n(?:[ \t\r\f\v]*\n)+")
# One line "Name = value", with integer and plain string values told apart by the regular
# expression itself (the commonest values in job and machine ads), anything else in the
# last group.
_ASSIGNMENT = re.compile(
    r"^[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*"
    r'(?:(-?(?:0|[1-9][0-9]{0,17}))[ \t\r]*$|("[^"\\\n\0]*")[ \t\r]*$|(.*)$)',
    re.MULTILINE,
)


def old_ads(text: str) -> list[tuple[dict[str, ast.Node], dict[str, str]]]:
    """Old-syntax ads as (trees by lower-case name, names as written) pairs.

    The fast path reads a whole ad with one regular expression and most values through
    the cache or the literal reader.  An ad it cannot read that way (comments,
    separators, or an error) goes through ``iter_old_ads``, which knows line numbers.
    """
    result = []
    cache = _old_cache
    for block in _BLANK_LINES.split(text):
        pairs = _ASSIGNMENT.findall(block)
        if len(pairs) != block.strip("\n").count("\n") + 1 or "#" in block:
            if not block.strip():
                continue
            return [_dicts(attrs) for _, attrs in iter_old_ads(text)]
        exprs: dict[str, ast.Node] = {}
        names: dict[str, str] = {}
        for name, integer, string, value in pairs:
            # Values repeat across the ads of a queue (owners, commands, sizes): the
            # cache hands back one shared node for each text.
            text_key = integer or string or value.rstrip()
            node = cache.get(text_key)
            if node is None:
                if integer:
                    node = Literal(int(integer), 1, 1)
                elif string:
                    node = Literal(string[1:-1], 1, 1)
                else:
                    node = literal_node(text_key)
                    if node is None:
                        try:
                            node = parse_expression(text_key, old_strings=True)
                        except ClassAdSyntaxError:
                            return [_dicts(attrs) for _, attrs in iter_old_ads(text)]
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                cache[text_key] = node
            key = name.lower()
            exprs[key] = node
            names[key] = name
        if len(exprs) != len(pairs):
            # A name given twice: the last value wins, the first spelling stays.
            exprs, names = _dicts([(p[0], exprs[p[0].lower()]) for p in pairs])
        result.append((exprs, names))
    return result


def _dicts(attrs: list[tuple[str, ast.Node]]) -> tuple[dict[str, ast.Node], dict[str, str]]:
    """Trees and names by lower-case name; a name given twice keeps its first place and
    spelling and takes the last value, as HTCondor's attribute map does."""
    exprs: dict[str, ast.Node] = {}
    names: dict[str, str] = {}
    for name, node in attrs:
        key = name.lower()
        exprs[key] = node
        names.setdefault(key, name)
    return exprs, names


def iter_old_ads(text: str) -> Iterator[tuple[int, list[tuple[str, ast.Node]]]]:
    """Old-syntax ads: ``Name = expr`` lines, ads separated by blank lines.

    Yields (first line number, [(name, tree), ...]) per ad.  Lines starting with ``#``
    are comments; a line of only dashes or ``***`` separates ads too, as HTCondor's
    ``-long`` output may.  An error names the line and the column in the whole text.
    """
    attrs: list[tuple[str, ast.Node]] = []
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or _is_separator(stripped):
            if attrs:
                yield start, attrs
                attrs = []
            continue
        if stripped.startswith("#"):
            continue
        if not attrs:
            start = number
        attrs.append(parse_old_line(line, number))
    if attrs:
        yield start, attrs


def _is_separator(stripped: str) -> bool:
    return set(stripped) <= {"-"} or stripped.startswith("***")


def parse_old_line(line: str, number: int = 1) -> tuple[str, ast.Node]:
    """``Name = expr`` as (name, tree), with errors placed at ``number`` and the column.

    A name that is not an identifier is quoted, ``'odd name' = 1``, as ``print_old``
    (and HTCondor's printer) writes it."""
    indent = len(line) - len(line.lstrip())
    quoted = _QUOTED_NAME.match(line)
    if quoted:
        name = quoted.group(1).replace("\\'", "'")
        eq = quoted.end() - 1
    else:
        eq = line.find("=")
        name = line[:eq].strip()
    if eq < 0:
        raise ClassAdSyntaxError("expected 'Name = expression'", number, indent + 1)
    if not name or (not quoted and not _NAME.match(name)):
        raise ClassAdSyntaxError(f"bad attribute name {name!r}", number, indent + 1)
    rhs = line[eq + 1 :]
    try:
        return name, parse_expression(rhs, old_strings=True)
    except ClassAdSyntaxError as e:
        raise ClassAdSyntaxError(e.message, number, e.column + eq + 1) from None


def looks_new_syntax(text: str) -> bool:
    """Whether a text of ads is new syntax: its first token is ``[``."""
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith("//", i) or c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            return c == "["
    return False
