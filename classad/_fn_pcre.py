"""PCRE2 patterns for Python's ``re`` syntax, run by the ``regex`` module.

HTCondor compiles regular expressions with PCRE2 in its default byte mode, so patterns
and targets here are UTF-8 bytes, in bytes mode, which has PCRE's ASCII-only
``\\d \\s \\w`` and case folding.  Patterns are translated to ``re``'s syntax and compiled
by ``regex`` in its ``re``-compatible VERSION0: its matcher does not backtrack for ever on
patterns such as ``(a+)+$`` (``re`` takes seconds where PCRE2 gives up at its match
limit), so one Requirements cannot stall a daemon.  Most PCRE syntax means the same to
``re``; ``translate`` rewrites what ``re`` spells differently or lacks:

- ``\\z`` and ``\\Z`` (``re`` has only ``\\Z``, meaning PCRE's ``\\z``), ``\\h \\H \\v \\V
  \\R \\N \\e \\cX \\x{hh} \\Q...\\E``;
- POSIX classes such as ``[[:alpha:]]``, and ``[ & ~ |`` inside classes (literal in PCRE,
  reserved for set operations by ``re``);
- named groups ``(?<name>...)``, ``(?'name'...)`` and references ``\\k<name>``, ``\\g{n}``;
- ``{,m}``, which PCRE2 takes literally and ``re`` as a repeat;
- conditions on a group, ``(?(<name>)...)``, and ``(?P=name)``;
- option settings such as ``(?i)`` in mid-pattern, which ``re`` accepts only at the start:
  they become scoped groups ``(?i:...)`` up to the end of the enclosing group, repeated
  after each ``|``, as PCRE applies them.

PCRE features ``re`` cannot express (``\\G \\K \\p \\X``, recursion, branch reset,
callouts, verbs) make the pattern fail to compile, which the functions report as Error.
"""

from __future__ import annotations

import functools
import re

import regex

from ._fn_convert import utf8

_POSIX_CLASSES = {
    b"alpha": b"a-zA-Z",
    b"digit": b"0-9",
    b"alnum": b"a-zA-Z0-9",
    b"upper": b"A-Z",
    b"lower": b"a-z",
    b"space": b"\\t\\n\\x0b\\f\\r ",
    b"blank": b"\\t ",
    b"punct": b"!-/:-@\\[-`{-~",
    b"xdigit": b"0-9A-Fa-f",
    b"word": b"a-zA-Z0-9_",
    b"cntrl": b"\\x00-\\x1f\\x7f",
    b"graph": b"!-~",
    b"print": b" -~",
    b"ascii": b"\\x00-\\x7f",
}
# The negated POSIX classes a positive class can still hold.
_NEGATED_POSIX = {b"digit": b"\\D", b"space": b"\\S", b"word": b"\\W"}

_HSPACE = b"\\t \\xa0"
_VSPACE = b"\\n\\x0b\\f\\r\\x85"
_ESCAPES_OUTSIDE = {
    b"z": b"\\Z",
    b"Z": b"(?=\\n?\\Z)",
    b"h": b"[" + _HSPACE + b"]",
    b"H": b"[^" + _HSPACE + b"]",
    b"v": b"[" + _VSPACE + b"]",
    b"V": b"[^" + _VSPACE + b"]",
    b"R": b"(?:\\r\\n|[" + _VSPACE + b"])",
    b"N": b"[^\\n]",
    b"e": b"\\x1b",
}
_ESCAPES_INSIDE = {b"h": _HSPACE, b"v": _VSPACE, b"e": b"\\x1b"}
# PCRE2 features the translation cannot express, and escapes PCRE2 itself refuses
# (\u \U \L \l \F: Perl's case escapes and JavaScript's \u, which the regex module
# would otherwise take).
_UNSUPPORTED_ESCAPES = frozenset(b"GKpPXCouULlF")
# Escapes that stand for a set of characters, which cannot end a range.
_CLASS_ESCAPES = frozenset(b"dDwWsShHvV")
_FLAG_LETTERS = frozenset(b"imsx-")
_NAME = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
_REPEAT = re.compile(rb"\{\d+(?:,\d*)?\}")
_K_REFERENCE = re.compile(rb"k(?:<(\w+)>|'(\w+)'|\{(\w+)\})")
_G_REFERENCE = re.compile(rb"g(?:\{(-?\d+|[A-Za-z_]\w*)\}|(-?\d+))")
_OPTION_SETTING = re.compile(rb"\(\?([imsx]*(?:-[imsx]*)?)([:)])")
_CONDITION = re.compile(rb"\(\?\((?:(\d+)|<(\w+)>|'(\w+)'|([A-Za-z_]\w*))\)")


class _Unsupported(Exception):
    """The pattern uses PCRE syntax that ``re`` cannot express."""


def pcre_flags(options: str, upper_case: bool = False) -> int:
    """The ``re`` flags for HTCondor's option letters (others are ignored).

    regexp() and its kin look only at lower-case letters; stringList_regexpMember takes
    either case."""
    if upper_case:
        options = options.lower()
    flags = 0
    if "i" in options:
        flags |= re.IGNORECASE
    if "m" in options:
        flags |= re.MULTILINE
    if "s" in options:
        flags |= re.DOTALL
    if "x" in options:
        flags |= re.VERBOSE
    return flags


@functools.lru_cache(maxsize=512)
def compile_pcre(pattern: str, flags: int) -> regex.Pattern | None:
    """The compiled pattern, or None where PCRE2 (or our translation) refuses it."""
    try:
        source = translate(utf8(pattern), flags)
        return regex.compile(source, flags | regex.VERSION0)
    except (_Unsupported, re.error, regex.error, OverflowError, RecursionError):
        return None


class _Translator:
    def __init__(self, pattern: bytes, verbose: bool) -> None:
        self.p = pattern
        self.i = 0
        self.out = bytearray()
        self.verbose = verbose
        self.groups = 0
        # One entry per open group (and one for the whole pattern): the option scopes
        # opened inside it by a mid-pattern (?flags), to close at its end and reopen
        # after each |.
        self.scopes: list[list[bytes]] = [[]]

    def peek(self, k: int = 0) -> bytes:
        return self.p[self.i + k : self.i + k + 1]

    def run(self) -> bytes:
        p = self.p
        while self.i < len(p):
            c = p[self.i : self.i + 1]
            if c == b"\\":
                self.escape_outside()
            elif c == b"[":
                self.char_class()
            elif c == b"(":
                self.open_group()
            elif c == b")":
                self.close_scopes()
                if len(self.scopes) > 1:
                    self.scopes.pop()
                self.out += c
                self.i += 1
            elif c == b"|":
                scopes = self.scopes[-1]
                self.out += b")" * len(scopes) + b"|" + b"".join(scopes)
                self.i += 1
            elif c == b"{":
                # PCRE2 reads only {n}, {n,} and {n,m} as repeats; re also takes {,m}.
                m = _REPEAT.match(p, self.i)
                self.out += m.group() if m else b"\\{"
                self.i = m.end() if m else self.i + 1
            elif c == b"#" and self.verbose:
                end = p.find(b"\n", self.i)
                end = len(p) if end < 0 else end
                self.out += p[self.i : end]
                self.i = end
            else:
                self.out += c
                self.i += 1
        self.close_scopes()
        return bytes(self.out)

    def close_scopes(self) -> None:
        self.out += b")" * len(self.scopes[-1])

    # -- escapes --

    def quoted(self) -> bytes:
        # \Q...\E: everything up to \E (or the end) is literal.
        end = self.p.find(b"\\E", self.i + 2)
        end = len(self.p) if end < 0 else end
        literal = re.escape(self.p[self.i + 2 : end])
        self.i = end + 2
        return literal

    def hex_brace(self) -> bytes:
        close = self.p.find(b"}", self.i + 3)
        if close < 0:
            raise _Unsupported
        value = int(self.p[self.i + 3 : close] or b"x", 16)
        if value > 0xFF:
            raise _Unsupported  # a code point needs UTF mode, which HTCondor does not set
        self.i = close + 1
        return b"\\x%02x" % value

    def common_escape(self, table: dict[bytes, bytes]) -> bytes | None:
        """The translation of the escape at ``i`` that both contexts share, or None."""
        nxt = self.peek(1)
        if nxt in table:
            self.i += 2
            return table[nxt]
        if nxt == b"x" and self.peek(2) == b"{":
            return self.hex_brace()
        if nxt == b"c" and self.peek(2):
            self.i += 3
            return b"\\x%02x" % (self.p[self.i - 1 : self.i].upper()[0] ^ 0x40)
        if nxt and nxt[0] in _UNSUPPORTED_ESCAPES:
            raise _Unsupported
        return None

    def escape_outside(self) -> None:
        nxt = self.peek(1)
        if nxt == b"Q":
            self.out += self.quoted()
            return
        if nxt == b"E":
            self.i += 2  # a \E with no \Q is ignored
            return
        if nxt in (b"k", b"g"):
            self.back_reference()
            return
        done = self.common_escape(_ESCAPES_OUTSIDE)
        if done is None:
            done = self.p[self.i : self.i + 2]
            self.i += 2
        self.out += done

    def back_reference(self) -> None:
        # \k<name> \k'name' \k{name} and \g{n} \gn \g{-n} \g{name} are back references;
        # \g<...> and \g'...' are subroutine calls, which re lacks.
        rest = self.p[self.i + 1 :]
        m = (_K_REFERENCE if rest[:1] == b"k" else _G_REFERENCE).match(rest)
        if m is None:
            raise _Unsupported
        ref = next(g for g in m.groups() if g is not None)
        self.i += 1 + m.end()
        if ref.lstrip(b"-").isdigit():
            n = int(ref)
            if n < 0:
                n = self.groups + 1 + n  # relative to the groups opened so far
            if n <= 0:
                raise _Unsupported
            self.out += b"(?:\\%d)" % n  # grouped, so digits after it stay literal
        else:
            self.out += b"(?P=" + ref + b")"

    # -- groups --

    def open_group(self) -> None:
        p = self.p
        if self.peek(1) != b"?":
            if self.peek(1) == b"*":
                raise _Unsupported  # verbs such as (*UTF)
            self.groups += 1
            self.enter(b"(")
            self.i += 1
            return
        kind = self.peek(2)
        if kind == b"<" and self.peek(3) not in (b"=", b"!"):
            self.named_group(b">")
        elif kind == b"'":
            self.named_group(b"'")
        elif kind == b"P" and self.peek(3) == b"<":
            self.i += 1
            self.named_group(b">")
        elif kind == b"P" and self.peek(3) == b"=":
            end = p.find(b")", self.i)
            if end < 0:
                raise _Unsupported
            self.out += p[self.i : end + 1]  # a back reference by name, as re spells it
            self.i = end + 1
        elif kind == b"(":
            self.condition()
        elif kind == b"#":
            end = p.find(b")", self.i)
            end = len(p) if end < 0 else end
            self.i = end + 1
        elif kind in (b":", b"=", b"!", b">"):
            self.enter(p[self.i : self.i + 3])
            self.i += 3
        elif kind == b"<":  # a lookbehind, (?<= or (?<!
            self.enter(p[self.i : self.i + 4])
            self.i += 4
        elif kind and (kind[0] in _FLAG_LETTERS):
            self.option_setting()
        else:
            raise _Unsupported  # recursion, branch reset, callouts, other options...

    def condition(self) -> None:
        # (?(1)yes|no) and (?(name)yes|no); PCRE's other conditions (recursion, DEFINE,
        # assertions) have no counterpart in re.
        m = _CONDITION.match(self.p, self.i)
        if m is None:
            raise _Unsupported
        ref = next(g for g in m.groups() if g is not None)
        self.enter(b"(?(" + ref + b")")
        self.i = m.end()

    def enter(self, opening: bytes) -> None:
        self.out += opening
        self.scopes.append([])

    def named_group(self, closing: bytes) -> None:
        m = _NAME.match(self.p, self.i + 3)
        if m is None or self.p[m.end() : m.end() + 1] != closing:
            raise _Unsupported
        self.groups += 1
        self.enter(b"(?P<" + m.group() + b">")
        self.i = m.end() + 1

    def option_setting(self) -> None:
        m = _OPTION_SETTING.match(self.p, self.i)
        if m is None:
            raise _Unsupported
        letters, end = m.group(1), m.group(2)
        self.i = m.end()
        if end == b":":
            self.enter(b"(?" + letters + b":")
            return
        if not letters or letters == b"-":
            return
        if not self.out and b"-" not in letters:
            self.out += b"(?" + letters + b")"  # at the very start: global, as re wants
            return
        scope = b"(?" + letters + b":"
        self.scopes[-1].append(scope)
        self.out += scope

    # -- character classes --

    def char_class(self) -> None:
        p = self.p
        out = bytearray(b"[")
        self.i += 1
        if self.peek() == b"^":
            out += b"^"
            self.i += 1
        if self.peek() == b"]":
            out += b"\\]"  # a ] first is literal
            self.i += 1
        previous = b""
        while True:
            c = self.peek()
            if not c:
                raise _Unsupported  # an unterminated class, which PCRE refuses too
            if c == b"]":
                self.i += 1
                break
            if c == b"[" and self.peek(1) == b":":
                end = p.find(b":]", self.i + 2)
                if end >= 0:
                    out += self.posix_class(p[self.i + 2 : end])
                    self.i = end + 2
                    previous = b""
                    continue
            if c == b"\\":
                shorthand = self.peek(1) and self.peek(1)[0] in _CLASS_ESCAPES
                if shorthand and previous == b"-" and out[-2:-1] not in (b"[", b"^"):
                    raise _Unsupported  # [a-\d]: PCRE2 refuses such a range
                out += self.escape_inside()
                if shorthand and self.peek() == b"-" and self.peek(1) not in (b"]", b""):
                    raise _Unsupported  # [\d-z]: likewise
                previous = b""
                continue
            if c in (b"[", b"&", b"~", b"|") or (c == b"-" and previous == b"-"):
                out += b"\\" + c
            else:
                out += c
            previous = c
            self.i += 1
        out += b"]"
        self.out += out

    def posix_class(self, name: bytes) -> bytes:
        if name.startswith(b"^"):
            negated = _NEGATED_POSIX.get(name[1:])
            if negated is None:
                raise _Unsupported
            return negated
        body = _POSIX_CLASSES.get(name)
        if body is None:
            raise _Unsupported
        return body

    def escape_inside(self) -> bytes:
        nxt = self.peek(1)
        if nxt == b"Q":
            return self.quoted()
        if nxt == b"E":
            self.i += 2
            return b""
        done = self.common_escape(_ESCAPES_INSIDE)
        if done is None:
            done = self.p[self.i : self.i + 2]
            self.i += 2
        return done


def translate(pattern: bytes, flags: int) -> bytes:
    """A PCRE2 pattern (bytes) as a pattern for ``re`` in bytes mode."""
    return _Translator(pattern, bool(flags & re.VERBOSE)).run()
