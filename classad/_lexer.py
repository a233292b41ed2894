"""The ClassAd lexer (PLY), following HTCondor's lexer.cpp in old-ClassAd mode.

Notable rules: integers are decimal and may not start with 0 unless they are 0; a real
needs a digit after its point (``1.`` is an error); ``-`` directly before a digit makes a
negative literal unless the previous token ends a value, so ``2*-1`` holds the literal -1
and ``a -1`` is a subtraction; adjacent string literals join; ``'...'`` quotes an
attribute name; ``is``/``isnt`` are ``=?=``/``=!=``.  Strings use new-syntax escapes
unless ``old_strings`` is set, where a backslash escapes only a double quote (the form
old-syntax ads and ``condor_q -long`` use).
"""

from __future__ import annotations

import re

import ply.lex

from ._errors import ClassAdSyntaxError
from ._values import INT64_MAX, INT64_MIN

RESERVED = {
    "true": "TRUE",
    "false": "FALSE",
    "undefined": "UNDEFINED",
    "error": "ERROR",
    "is": "META_EQ",
    "isnt": "META_NE",
}

tokens = (
    "INTEGER", "REAL", "STRING", "IDENT", "TRUE", "FALSE", "UNDEFINED", "ERROR",
    "OR", "AND", "BITOR", "BITXOR", "BITAND", "EQ", "NE", "META_EQ", "META_NE",
    "LT", "LE", "GT", "GE", "LSHIFT", "RSHIFT", "URSHIFT", "PLUS", "MINUS", "TIMES",
    "DIVIDE", "MOD", "NOT", "BITNOT", "QUESTION", "COLON", "ELVIS", "DOT", "LBRACKET",
    "RBRACKET", "LPAREN", "RPAREN", "LBRACE", "RBRACE", "COMMA", "SEMI", "ASSIGN",
)

# After one of these a '-' is subtraction, not the sign of a literal.
_VALUE_END = frozenset(
    {"INTEGER", "REAL", "STRING", "IDENT", "TRUE", "FALSE", "UNDEFINED", "ERROR",
     "RPAREN", "RBRACKET", "RBRACE"}
)

_NUMBER = re.compile(r"\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\.\d+(?:[eE][+-]?\d+)?|\d+\.?")
_SPACE = re.compile(r"\s*")
_SIMPLE_ESCAPES = {
    '"': '"', "'": "'", "?": "?", "a": "\a", "b": "\b", "f": "\f",
    "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\",
}
_OCTAL = re.compile(r"[0-3][0-7]{0,2}|[4-7][0-7]?")


def convert_escapes(raw: str) -> str | None:
    """New-syntax escapes (util.cpp convert_escapes); None if the result holds a NUL."""
    if "\\" not in raw:
        return None if "\0" in raw else raw
    out = []
    i = 0
    n = len(raw)
    while i < n:
        c = raw[i]
        if c != "\\" or i + 1 == n:
            out.append(c)  # a trailing lone backslash is kept
            i += 1
            continue
        nxt = raw[i + 1]
        if nxt in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[nxt])
            i += 2
            continue
        m = _OCTAL.match(raw, i + 1)
        if m:
            out.append(chr(int(m.group(), 8)))
            i = m.end()
            continue
        out.append(nxt)
        i += 2
    text = "".join(out)
    return None if "\0" in text else text


def old_escapes(raw: str) -> str | None:
    """Old-syntax strings: only ``\\"`` is an escape."""
    text = raw.replace('\\"', '"')
    return None if "\0" in text else text


class Lexer:
    """A PLY lexer with the state it needs; one per parser, so one per thread."""

    tokens = tokens

    t_ignore = " \t\r\f\v"

    t_OR = r"\|\|"
    t_AND = r"&&"
    t_BITOR = r"\|"
    t_BITXOR = r"\^"
    t_BITAND = r"&"
    t_EQ = r"=="
    t_NE = r"!="
    t_META_EQ = r"=\?="
    t_META_NE = r"=!="
    t_LE = r"<="
    t_GE = r">="
    t_LSHIFT = r"<<"
    t_URSHIFT = r">>>"
    t_RSHIFT = r">>"
    t_LT = r"<"
    t_GT = r">"
    t_PLUS = r"\+"
    t_TIMES = r"\*"
    t_DIVIDE = r"/"
    t_MOD = r"%"
    t_NOT = r"!"
    t_BITNOT = r"~"
    t_COLON = r":"
    t_LBRACKET = r"\["
    t_RBRACKET = r"\]"
    t_LPAREN = r"\("
    t_RPAREN = r"\)"
    t_LBRACE = r"\{"
    t_RBRACE = r"\}"
    t_COMMA = r","
    t_SEMI = r";"
    t_ASSIGN = r"="

    def __init__(self) -> None:
        self.lexer = ply.lex.lex(module=self, optimize=False, debug=False)
        self.old_strings = False
        self.prev_type: str | None = None
        self.line_start = 0

    # -- positions and errors ------------------------------------------------------------

    def reset(self, text: str, old_strings: bool = False) -> None:
        self.old_strings = old_strings
        self.prev_type = None
        self.line_start = 0
        self.lexer.lineno = 1
        self.lexer.input(text)

    def column(self, pos: int) -> int:
        return pos - self.line_start + 1

    def fail(self, message: str, pos: int) -> None:
        raise ClassAdSyntaxError(message, self.lexer.lineno, self.column(pos))

    def token(self):
        tok = self.lexer.token()
        if tok is not None:
            self.prev_type = tok.type
            tok.column = self.column(tok.lexpos)
            tok.text = self.lexer.lexdata[tok.lexpos : self.lexer.lexpos]
        return tok

    # -- rules that need code (PLY tries these first, in this order) ---------------------

    def _lines(self, text: str, start: int) -> None:
        """Count the line breaks in ``text``, which starts at ``start`` in the input."""
        newlines = text.count("\n")
        if newlines:
            self.lexer.lineno += newlines
            self.line_start = start + text.rindex("\n") + 1

    def t_newline(self, t):
        r"\n+"
        self._lines(t.value, t.lexpos)

    def t_comment(self, t):
        r"//[^\n]*|/\*(.|\n)*?\*/"
        self._lines(t.value, t.lexpos)

    def t_unterminated_comment(self, t):
        r"/\*"
        self.fail("unterminated comment", t.lexpos)

    def t_ELVIS(self, t):
        r"\?[ \t\r\n]*:"
        self._lines(t.value, t.lexpos)
        return t

    def t_QUESTION(self, t):
        r"\?"
        return t

    def t_NUMBER(self, t):
        r"\d|\.\d"
        return self._number(t, t.lexpos, negative=False)

    def t_DOT(self, t):
        r"\."
        return t

    def t_MINUS(self, t):
        r"-"
        data = t.lexer.lexdata
        pos = t.lexpos + 1
        if self.prev_type not in _VALUE_END and pos < len(data) and data[pos].isdigit():
            return self._number(t, pos, negative=True)
        return t

    def t_STRING(self, t):
        r'"'
        data = t.lexer.lexdata
        pieces = []
        pos = t.lexpos
        while True:
            raw, pos = self._scan_quoted(data, pos, '"')
            text = old_escapes(raw) if self.old_strings else convert_escapes(raw)
            if text is None:
                self.fail("string holds a NUL character", t.lexpos)
            pieces.append(text)
            if self.old_strings:
                break
            # "ab" "cd" is one string "abcd" in new syntax.
            after = _SPACE.match(data, pos).end()
            if after >= len(data) or data[after] != '"':
                break
            self._lines(data[pos:after], pos)
            pos = after
        t.lexer.lexpos = pos
        t.value = "".join(pieces)
        return t

    def t_QUOTED_IDENT(self, t):
        r"'"
        raw, pos = self._scan_quoted(t.lexer.lexdata, t.lexpos, "'")
        name = convert_escapes(raw)
        if name is None:
            self.fail("attribute name holds a NUL character", t.lexpos)
        t.lexer.lexpos = pos
        t.type = "IDENT"
        t.value = name
        return t

    def t_IDENT(self, t):
        r"[A-Za-z_][A-Za-z0-9_]*"
        kind = RESERVED.get(t.value.lower())
        if kind is not None:
            t.type = kind
            if kind == "TRUE":
                t.value = True
            elif kind == "FALSE":
                t.value = False
            elif kind in ("META_EQ", "META_NE"):
                t.value = t.value.lower()
        return t

    def t_error(self, t):
        self.fail(f"unexpected character {t.value[0]!r}", t.lexpos)

    # -- helpers ---------------------------------------------------------------------------

    def _scan_quoted(self, data: str, start: int, quote: str) -> tuple[str, int]:
        """The raw text between ``data[start]`` (a quote) and its closing quote, and the
        position after the closing quote.  A backslash always protects the next character
        from ending the string (in old syntax only ``\\"`` is then an escape)."""
        pos = start + 1
        n = len(data)
        while pos < n:
            c = data[pos]
            if c == quote:
                raw = data[start + 1 : pos]
                self._lines(raw, start + 1)
                return raw, pos + 1
            if c == "\\" and (not self.old_strings or (pos + 1 < n and data[pos + 1] == '"')):
                pos += 2
            else:
                pos += 1
        self.fail("unterminated string" if quote == '"' else "unterminated quoted name", start)
        raise AssertionError("unreachable")

    def _number(self, t, pos: int, negative: bool):
        data = t.lexer.lexdata
        m = _NUMBER.match(data, pos)
        text = m.group()
        end = m.end()
        if text.endswith("."):
            self.fail(f"malformed real number {data[t.lexpos:end]!r}", t.lexpos)
        t.lexer.lexpos = end
        if "." in text or "e" in text or "E" in text:
            t.type = "REAL"
            value = float(text)
            t.value = -value if negative else value
            return t
        if len(text) > 1 and text[0] == "0":
            self.fail(f"integer with a leading zero {text!r}", pos)
        value = -int(text) if negative else int(text)
        # Out of range is 0, as std::from_chars leaves it.
        t.type = "INTEGER"
        t.value = value if INT64_MIN <= value <= INT64_MAX else 0
        return t
