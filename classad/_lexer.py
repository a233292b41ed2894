"""The ClassAd lexer (PLY), following HTCondor's lexer.cpp in old-ClassAd mode.

Notable rules: integers are decimal and may not start with 0 unless they are 0 (after a
minus sign HTCondor still reads octal and hex shapes, in base 10: -017 is -17 and -0x1F
is 0); a real needs a digit after its point (``1.`` is an error); ``-`` directly before
``5`` or ``.5`` makes a negative literal unless the previous token ends a value, so
``2*-1`` holds the literal -1 and ``a -1`` is a subtraction; adjacent string literals
join; ``'...'`` quotes an attribute name (and adjacent quoted names join too);
``is``/``isnt`` are ``=?=``/``=!=``; ``..`` is one ``.`` (and ``..5`` the real 0.0, as
strtod reads HTCondor's token).  Digits and spaces are ASCII only, as C's ``isdigit`` and
``isspace`` have them.  Strings use new-syntax escapes unless ``old_strings`` is set,
where a backslash escapes only a double quote (the form old-syntax ads and ``condor_q
-long`` use).
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

_NUMBER = re.compile(
    r"[0-9]+\.[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+|\.[0-9]+(?:[eE][+-]?[0-9]+)?"
    r"|[0-9]+\.?"
)
_HEX = re.compile(r"0[xX][0-9a-fA-F]+")
_DOTTED_NUMBER = re.compile(r"\.\.[0-9]+(?:[eE][+-]?[0-9]+)?")
_SPACE = re.compile(r"[ \t\n\r\f\v]*")
_DIGITS = frozenset("0123456789")
_OCTAL_DIGITS = frozenset("01234567")
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
        r"[0-9]|\.\.?[0-9]"
        return self._number(t, t.lexpos, negative=False)

    def t_DOT(self, t):
        r"\.\.?"
        return t

    def t_MINUS(self, t):
        r"-"
        data = t.lexer.lexdata
        pos = t.lexpos + 1
        # A sign before "5" or ".5" belongs to the number (lexer.cpp tokenizeNumber).
        if self.prev_type not in _VALUE_END and (
            data[pos : pos + 1] in _DIGITS
            or (data[pos : pos + 1] == "." and data[pos + 1 : pos + 2] in _DIGITS)
        ):
            return self._number(t, pos, negative=True)
        return t

    def t_STRING(self, t):
        r'"'
        t.value = self._quoted(t, '"', "string holds a NUL character")
        return t

    def t_QUOTED_IDENT(self, t):
        r"'"
        t.type = "IDENT"
        t.value = self._quoted(t, "'", "attribute name holds a NUL character")
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

    def _quoted(self, t, quote: str, nul_message: str) -> str:
        """A quoted string or name.  In new syntax, quoted texts separated only by space
        join (``"ab" "cd"`` is ``"abcd"``), and escapes are read in the joined text."""
        data = t.lexer.lexdata
        raw, pos = self._scan_quoted(data, t.lexpos, quote)
        if not self.old_strings:
            while True:
                after = _SPACE.match(data, pos).end()
                if after >= len(data) or data[after] != quote:
                    break
                self._lines(data[pos:after], pos)
                more, pos = self._scan_quoted(data, after, quote)
                raw += more
        text = old_escapes(raw) if self.old_strings and quote == '"' else convert_escapes(raw)
        if text is None:
            self.fail(nul_message, t.lexpos)
        t.lexer.lexpos = pos
        return text

    def _scan_quoted(self, data: str, start: int, quote: str) -> tuple[str, int]:
        """The raw text between ``data[start]`` (a quote) and its closing quote, and the
        position after the closing quote.  A backslash always protects the next character
        from ending the string, except in old syntax: there only ``\\"`` is an escape, and
        not when the quote ends the text or its line, so that ``"C:\\dir\\"`` is a string
        ending in a backslash (lexer.cpp ``tokenizeStringOld``)."""
        pos = start + 1
        n = len(data)
        while pos < n:
            c = data[pos]
            if c == quote:
                raw = data[start + 1 : pos]
                self._lines(raw, start + 1)
                return raw, pos + 1
            if c == "\\" and (not self.old_strings or self._old_escape(data, pos)):
                pos += 2
            else:
                pos += 1
        self.fail("unterminated string" if quote == '"' else "unterminated quoted name", start)
        raise AssertionError("unreachable")

    @staticmethod
    def _old_escape(data: str, pos: int) -> bool:
        """Whether the backslash at ``pos`` escapes a quote in an old-syntax string."""
        return pos + 2 < len(data) and data[pos + 1] == '"' and data[pos + 2] != "\n"

    def _number(self, t, pos: int, negative: bool):
        data = t.lexer.lexdata
        if negative and data[pos + 1 : pos + 2] in ("x", "X"):
            # After a minus sign HTCondor still reads a hex number, then converts the text
            # in base 10, which stops at the "x": -0x1F is 0.
            m = _HEX.match(data, pos)
            if m is None:
                self.fail(f"malformed hex number {data[t.lexpos:pos + 2]!r}", t.lexpos)
            t.lexer.lexpos = m.end()
            t.type = "INTEGER"
            t.value = 0
            return t
        if data.startswith("..", pos):
            # HTCondor's token "..5" is a real, and strtod reads no number from it.
            t.lexer.lexpos = _DOTTED_NUMBER.match(data, pos).end()
            t.type = "REAL"
            t.value = 0.0
            return t
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
        if len(text) > 1 and text[0] == "0" and (not negative or not set(text) <= _OCTAL_DIGITS):
            # HTCondor refuses a leading zero, except after a minus sign, where it still
            # reads an octal-looking number (in decimal): -017 is -17, -08 an error.
            self.fail(f"integer with a leading zero {text!r}", pos)
        value = -int(text) if negative else int(text)
        # Out of range is 0, as std::from_chars leaves it.
        t.type = "INTEGER"
        t.value = value if INT64_MIN <= value <= INT64_MAX else 0
        return t
