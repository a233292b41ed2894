"""Built-in string functions: concatenation, slicing, comparison, splitting, versions,
HTCondor's "string lists" (items in one string) and regular expressions.

They follow HTCondor's C++ (``src/classad/fnCall.cpp`` and
``src/condor_utils/compat_classad.cpp``), where strings are bytes: sizes and offsets count
UTF-8 bytes, only ASCII letters have case, and patterns are PCRE2 without UTF mode, so
``.`` matches one byte.  Regular expressions run on Python's ``re`` over those bytes;
``_fn_pcre`` translates the PCRE syntax ``re`` spells differently.
"""

from __future__ import annotations

import re

import regex

from ._builtins import function
from ._fn_convert import (
    ascii_lower,
    ascii_upper,
    c_strcasecmp,
    c_strcmp,
    int32,
    int64_from_double,
    strtod,
    text,
    to_string,
    utf8,
)
from ._fn_pcre import compile_pcre, pcre_flags
from ._values import Error, Undefined

_C_SPACE = " \t\n\v\f\r"

# -- concatenation --------------------------------------------------------------------------


def _concat(args, is_join: bool):
    """strcat and join share HTCondor's loop: each argument becomes a string; for join the
    first is the separator, Undefined arguments are skipped, and the separator goes only
    after some text (``join(",", "", "a")`` is "a")."""
    parts: list[str] = []
    has_text = False
    separator = ""
    saw_undefined = False
    saw_defined = False
    for i, v in enumerate(args):
        s = to_string(v)
        if s is Undefined:
            saw_undefined = True
            if is_join:
                continue
            saw_defined = False
            break
        if s is Error:
            return Error
        if is_join:
            if i == 0:
                separator = s
                continue
            if has_text:
                parts.append(separator)
        saw_defined = True
        has_text = has_text or s != ""
        parts.append(s)
    if saw_undefined and not saw_defined:
        return Undefined
    return "".join(parts)


@function("strcat")
def strcat(*args):
    return _concat(args, is_join=False)


@function("join")
def join(*args):
    # join(list) and join(sep, list) join the list's items.
    if 1 <= len(args) <= 2 and type(args[-1]) is list:
        args = (args[0] if len(args) == 2 else "", *args[-1])
    return _concat(args, is_join=True)


# -- slicing, comparing, case ---------------------------------------------------------------


@function("substr")
def substr(s, offset, length=None):
    if s is Undefined or offset is Undefined or length is Undefined:
        return Undefined
    if type(s) is not str or type(offset) is not int:
        return Error
    if length is not None and type(length) is not int:
        return Error
    # Perl-like, on bytes, with both numbers read as C ints.
    data = s if s.isascii() else utf8(s)
    size = len(data)
    start = int32(offset)
    count = int32(length) if length is not None else 0
    if start < 0:
        start = max(size + start, 0)
    elif start >= size:
        start = size
    if count <= 0:
        count = max(size - start + count, 0)
    elif count > size - start:
        count = size - start
    if length is not None and int32(length) == 0:
        count = 0  # an explicit length of 0 is empty, not "to the end"
    piece = data[start : start + count]
    return piece if type(piece) is str else text(piece)


def _compare_strings(a, b, compare):
    if a is Undefined or b is Undefined:
        return Undefined
    a = to_string(a)
    b = to_string(b)
    if type(a) is not str or type(b) is not str:
        return Error
    return compare(a, b)


@function("strcmp")
def strcmp(a, b):
    return _compare_strings(a, b, c_strcmp)


@function("stricmp")
def stricmp(a, b):
    return _compare_strings(a, b, c_strcasecmp)


def _change_case(v, change):
    s = to_string(v)
    return change(s) if type(s) is str else s


@function("toUpper")
def to_upper(v):
    return _change_case(v, ascii_upper)


@function("toLower")
def to_lower(v):
    return _change_case(v, ascii_lower)


# -- splitting ------------------------------------------------------------------------------


def _split_items(data, separators, space):
    # HTCondor's splitArb: empty items are dropped, except that a separator repeated
    # right after itself (not white space) makes one: "a,,b" has three items.
    items = []
    last = 0
    previous = None
    for i, c in enumerate(data):
        if c not in separators:
            continue
        if i > last:
            items.append(data[last:i])
        elif previous is not None and c == previous:
            items.append(data[:0])
        if c not in space:
            previous = c
        last = i + 1
    if len(data) > last:
        items.append(data[last:])
    return items


@function("split")
def split(s, separators=", \t"):
    if type(s) is not str or type(separators) is not str:
        return Error
    if s.isascii() and separators.isascii():
        return _split_items(s, separators, _C_SPACE)
    pieces = _split_items(utf8(s), utf8(separators), _C_SPACE.encode())
    return [text(p) for p in pieces]


def _split_at(s, missing_user: bool):
    if type(s) is not str:
        return Error
    before, at, after = s.partition("@")
    if at:
        return [before, after]
    return [s, ""] if missing_user else ["", s]


@function("splitUserName")
def split_user_name(name):
    return _split_at(name, missing_user=True)


@function("splitSlotName")
def split_slot_name(name):
    return _split_at(name, missing_user=False)


# -- versions -------------------------------------------------------------------------------


def _digit(c: int) -> bool:
    return 48 <= c <= 57


def _schar(c: int) -> int:
    return c - 256 if c >= 128 else c


def natural_cmp(left: bytes, right: bytes) -> int:
    """HTCondor's natural_cmp (strverscmp-like), including the raw character differences
    it returns: ``versioncmp("abc", "ab")`` is 99."""
    a = left + b"\0"
    b = right + b"\0"
    i = 0
    while a[i] and a[i] == b[i]:
        i += 1
    if a[i] == b[i]:
        return 0
    mismatch = _schar(a[i]) - _schar(b[i])
    begin = i
    while begin > 0 and _digit(a[begin - 1]):
        begin -= 1
    if begin == i and (not _digit(a[i]) or not _digit(b[i])):
        return mismatch
    zeros_a = begin
    while a[zeros_a] == 48:
        zeros_a += 1
    zeros_b = begin
    while b[zeros_b] == 48:
        zeros_b += 1
    # A final zero is a digit, not a leading zero.
    if zeros_a > begin and not _digit(a[zeros_a]):
        zeros_a -= 1
    if zeros_b > begin and not _digit(b[zeros_b]):
        zeros_b -= 1
    if zeros_a != zeros_b:
        return zeros_b - zeros_a  # fewer leading zeros sorts first
    if zeros_a > begin:
        return mismatch
    end_a = zeros_a
    while _digit(a[end_a]):
        end_a += 1
    end_b = zeros_b
    while _digit(b[end_b]):
        end_b += 1
    if end_a != end_b:
        return end_a - end_b  # the longer number is larger
    return mismatch


def _version_compare(left, right):
    if left is Undefined or right is Undefined:
        return Undefined
    left = to_string(left)
    right = to_string(right)
    if type(left) is not str or type(right) is not str:
        return Error
    return natural_cmp(utf8(left), utf8(right))


def _version_test(test):
    def version_test(left, right):
        r = _version_compare(left, right)
        return test(r) if type(r) is int else r

    return version_test


function("versioncmp")(_version_compare)
function("versionLT")(_version_test(lambda r: r < 0))
function("versionLE")(_version_test(lambda r: r <= 0))
function("versionGT")(_version_test(lambda r: r > 0))
function("versionGE")(_version_test(lambda r: r >= 0))
function("versionEQ")(_version_test(lambda r: r == 0))


@function("version_in_range")
def version_in_range(version, low, high):
    if low is Undefined or high is Undefined:
        return Undefined
    version, low, high = to_string(version), to_string(low), to_string(high)
    if type(version) is not str or type(low) is not str or type(high) is not str:
        return Error
    v = utf8(version)
    return natural_cmp(utf8(low), v) <= 0 and natural_cmp(v, utf8(high)) <= 0


# -- string lists ---------------------------------------------------------------------------


def _scan_tokens(data, delimiters, space):
    # HTCondor's StringTokenIterator: items between delimiters, white space trimmed from
    # both ends, empty items dropped.
    tokens = []
    n = len(data)
    i = 0
    while True:
        while i < n and (data[i] in delimiters or data[i] in space):
            i += 1
        start = end = i
        while i < n and data[i] not in delimiters:
            if data[i] not in space:
                end = i
            i += 1
        if i <= start:
            return tokens
        tokens.append(data[start : end + 1])


def string_list(s: str, delimiters: str) -> list[str]:
    """The items of an HTCondor string list: split at any of ``delimiters``, trimmed of
    white space, empty items dropped."""
    if s.isascii() and delimiters.isascii():
        return _scan_tokens(s, delimiters, _C_SPACE)
    return [text(t) for t in _scan_tokens(utf8(s), utf8(delimiters), _C_SPACE.encode())]


@function("stringListSize")
def string_list_size(items, delimiters=", "):
    if type(items) is not str or type(delimiters) is not str:
        return Error
    return len(string_list(items, delimiters))


_HEX = "0123456789abcdefABCDEF."
_SIGN = re.compile(r"[ \t\n\v\f\r]*[+-]?")
_FLT_MAX = 3.4028234663852886e38
_FLT_MIN = 1.1754943508222875e-38


def _scan_double(token: str) -> float | None:
    """``sscanf(token, "%lf")``: as strtod, except that a started "0x" or "infinity" that
    does not finish is no number at all."""
    rest = token[_SIGN.match(token).end() :]
    head = rest[:8].lower()
    if head.startswith("0x") and (len(rest) < 3 or rest[2] not in _HEX):
        return None
    if head.startswith("infi") and head != "infinity":
        return None
    return strtod(token)


def _numbers(items, delimiters):
    """The numbers in a string list and whether any is not written as an integer, or
    Error."""
    if type(items) is not str or type(delimiters) is not str:
        return Error
    numbers = []
    is_real = False
    for token in string_list(items, delimiters):
        x = _scan_double(token)
        if x is None:
            return Error
        is_real = is_real or any(c not in "+-0123456789" for c in token)
        numbers.append(x)
    return numbers, is_real


def _summary(total: float, is_real: bool):
    return total if is_real else int64_from_double(total)


def _total(numbers: list[float]) -> float:
    # Added one by one in doubles, as HTCondor does (no compensated summation).
    total = 0.0
    for x in numbers:
        total += x
    return total


@function("stringListSum")
def string_list_sum(items, delimiters=", "):
    r = _numbers(items, delimiters)
    if r is Error:
        return r
    numbers, is_real = r
    return _summary(_total(numbers), is_real) if numbers else 0.0


@function("stringListAvg")
def string_list_avg(items, delimiters=", "):
    r = _numbers(items, delimiters)
    if r is Error:
        return r
    numbers, is_real = r
    return _summary(_total(numbers) / len(numbers), is_real) if numbers else 0.0


def _bound(items, delimiters, better, start: float):
    r = _numbers(items, delimiters)
    if r is Error:
        return r
    numbers, is_real = r
    if not numbers:
        return Undefined
    bound = start
    for x in numbers:
        if better(x, bound):
            bound = x
    return _summary(bound, is_real)


# HTCondor starts min at FLT_MAX and max at FLT_MIN (the smallest positive float), so the
# max of negative numbers is FLT_MIN, which is 0 as an integer.
@function("stringListMin")
def string_list_min(items, delimiters=", "):
    return _bound(items, delimiters, lambda x, bound: x < bound, _FLT_MAX)


@function("stringListMax")
def string_list_max(items, delimiters=", "):
    return _bound(items, delimiters, lambda x, bound: x > bound, _FLT_MIN)


def _string_list_test(item, items, delimiters, subset: bool, fold: bool):
    if (item is not Undefined and type(item) is not str) or (
        items is not Undefined and type(items) is not str
    ):
        return Error
    if delimiters is not None and delimiters is not Undefined and type(delimiters) is not str:
        return Error
    if item is Undefined and items is Undefined:
        return Undefined
    # Otherwise an Undefined string is an empty list, and an Undefined delimiter set is
    # the default one.
    item = "" if item is Undefined else item
    items = "" if items is Undefined else items
    if delimiters is None or delimiters is Undefined:
        delimiters = ", \t\r\n"
    key = ascii_lower if fold else str
    listed = {key(t) for t in string_list(items, delimiters)}
    if not subset:
        return key(item) in listed
    if item == "":
        return True
    wanted = string_list(item, delimiters)
    return bool(wanted) and all(key(t) in listed for t in wanted)


@function("stringListMember")
def string_list_member(item, items, delimiters=None):
    return _string_list_test(item, items, delimiters, subset=False, fold=False)


@function("stringListIMember")
def string_list_imember(item, items, delimiters=None):
    return _string_list_test(item, items, delimiters, subset=False, fold=True)


@function("stringListSubsetMatch")
def string_list_subset_match(items, superset, delimiters=None):
    return _string_list_test(items, superset, delimiters, subset=True, fold=False)


@function("stringListISubsetMatch")
def string_list_isubset_match(items, superset, delimiters=None):
    return _string_list_test(items, superset, delimiters, subset=True, fold=True)


def _intersect_items(s: str, delimiters: str) -> list[str]:
    # Unlike the other string-list functions, this one splits without trimming.
    ascii_only = s.isascii() and delimiters.isascii()
    data = s if ascii_only else utf8(s)
    marks = delimiters if ascii_only else utf8(delimiters)
    items = []
    start = 0
    for i, c in enumerate(data):
        if c in marks:
            if i > start:
                items.append(data[start:i])
            start = i + 1
    if start < len(data):
        items.append(data[start:])
    return items if ascii_only else [text(t) for t in items]


@function("stringListsIntersect")
def string_lists_intersect(a, b, delimiters=None):
    given = delimiters is not None
    if a is Error or b is Error or (given and delimiters is Error):
        return Error
    if a is Undefined or b is Undefined or (given and delimiters is Undefined):
        return Undefined
    if (given and type(delimiters) is not str) or type(a) is not str or type(b) is not str:
        return Error
    delimiters = delimiters or " ,"
    present = set(_intersect_items(b, delimiters))
    return any(t in present for t in _intersect_items(a, delimiters))


# -- regular expressions --------------------------------------------------------------------


def _check_regex_args(values, options):
    """HTCondor's argument rules: any Error gives Error, then any Undefined gives
    Undefined, then options must be a string.  None if the arguments may be used."""
    every = (*values, options) if options is not None else values
    if any(v is Error for v in every):
        return Error
    if any(v is Undefined for v in every):
        return Undefined
    if options is not None and type(options) is not str:
        return Error
    return None


@function("regexp")
def regexp(pattern, target, options=None):
    bad = _check_regex_args((pattern, target), options)
    if bad is not None:
        return bad
    if type(pattern) is not str or type(target) is not str:
        return Error
    rx = compile_pcre(pattern, pcre_flags(options or ""))
    if rx is None:
        return Error
    return rx.search(utf8(target)) is not None


@function("regexpMember")
def regexp_member(pattern, targets, options=None):
    bad = _check_regex_args((pattern, targets), options)
    if bad is not None:
        return bad
    if type(pattern) is not str or type(targets) is not list:
        return Error
    # A pattern that does not compile matches nothing here (HTCondor drops the error).
    rx = compile_pcre(pattern, pcre_flags(options or ""))
    undefined_seen = False
    for t in targets:
        if type(t) is not str:
            if t is not Undefined:
                return Error
            undefined_seen = True
        elif rx is not None and rx.search(utf8(t)) is not None:
            return True
    return Undefined if undefined_seen else False


def _highest_group(m: regex.Match) -> int:
    """What pcre2_match returns: one more than the highest group that took part."""
    for g in range(m.re.groups, 0, -1):
        if m.start(g) != -1:
            return g + 1
    return 1


def _expand(replacement: bytes, m: regex.Match) -> bytes | None:
    # Only \0 to \9 are special; any other backslash is kept as it is.
    groups = _highest_group(m)
    out = bytearray()
    i = 0
    n = len(replacement)
    while i < n:
        c = replacement[i]
        if c == 0x5C and i + 1 < n and _digit(replacement[i + 1]):
            g = replacement[i + 1] - 48
            if g >= groups:
                return None
            out += m.group(g) or b""
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)


def _nonempty_match_at(rx: regex.Pattern, data: bytes, pos: int) -> regex.Match | None:
    """A match starting at ``pos`` that is not empty (PCRE2_ANCHORED with
    PCRE2_NOTEMPTY_ATSTART).  After an empty match, finditer looks for a non-empty one at
    the same place before moving on, which is exactly that search."""
    found = rx.finditer(data, pos)
    m = next(found, None)
    if m is None or m.start() != pos:
        return None
    if m.end() > pos:
        return m
    m = next(found, None)
    return m if m is not None and m.start() == pos else None


def substitute(rx: regex.Pattern, data: bytes, replacement: bytes, whole: bool, every: bool):
    """HTCondor's regexp_helper loop for regexps/replace/replaceall, or None for Error.

    Without ``whole`` the result is only the replacement text; after an empty match the
    next match must be non-empty and start where it ended, else one byte is copied; and a
    last empty match at the end of the target leaves the loop past the end, which
    HTCondor reports as an error."""
    out = bytearray()
    pos = 0
    after_empty = False
    while True:
        if after_empty:
            m = _nonempty_match_at(rx, data, pos)
            if m is None:
                if pos >= len(data):
                    return None
                out.append(data[pos])
                pos += 1
                after_empty = False
                continue
        else:
            m = rx.search(data, pos)
            if m is None:
                break
        if whole:
            out += data[pos : m.start()]
        expanded = _expand(replacement, m)
        if expanded is None:
            return None
        out += expanded
        pos = m.end()
        if m.start() == m.end():
            after_empty = True
        if not every:
            break
    if whole:
        out += data[pos:]
    return bytes(out)


def _substitute_function(extra_options: str):
    def substitute_function(pattern, target, replacement, options=None):
        bad = _check_regex_args((pattern, target, replacement), options)
        if bad is not None:
            return bad
        options = (options or "") + extra_options
        if type(pattern) is not str or type(target) is not str or type(replacement) is not str:
            return Error
        rx = compile_pcre(pattern, pcre_flags(options))
        if rx is None:
            return Error
        out = substitute(rx, utf8(target), utf8(replacement), "f" in options, "g" in options)
        return Error if out is None else text(out)

    return substitute_function


function("regexps")(_substitute_function(""))
function("replace")(_substitute_function("f"))
function("replaceall")(_substitute_function("fg"))


@function("stringList_regexpMember")
def string_list_regexp_member(pattern, items, delimiters=", ", options=""):
    if type(pattern) is not str or type(items) is not str:
        return Error
    if type(delimiters) is not str or type(options) is not str:
        return Error
    rx = compile_pcre(pattern, pcre_flags(options, upper_case=True))
    if rx is None:
        return Error
    tokens = string_list(items, delimiters)
    if not tokens:
        return Undefined
    return any(rx.search(utf8(t)) is not None for t in tokens)
