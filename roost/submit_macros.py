"""The macro functions of a submit description: ``$INT()``, ``$REAL()``, ``$STRING()``,
``$EVAL()``, ``$CHOICE()``, ``$RANDOM_CHOICE()``, ``$RANDOM_INTEGER()``, ``$SUBSTR()``,
``$ENV()``, ``$DIRNAME()``, ``$BASENAME()`` and ``$F[fpdnxbquwa]()``, as condor_submit
expands them.

They are expanded after the plain ``$(name)`` macros of the same value, so that their
arguments may use those; an argument that names a macro stands for its value (``$INT(n)``,
``$Fn(item)``).  Like condor_submit, a function's arguments end at the first ``)``: an
expression with a ``)`` in it goes to ``$EVAL`` through a macro that holds it.

Pure but for the random functions: ``lookup(name)`` gives a macro's expanded value (None
when undefined), ``environ`` the submitter's environment (``$ENV``), ``cwd`` the directory
``$Ff`` makes paths absolute against, ``rng`` what ``$RANDOM_*`` draw from (a new value
at each expansion, as condor_submit draws one per job).  A function that cannot be
expanded raises ``MacroError`` with the offset of the ``$`` in the text.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Callable, Mapping

import classad

_FUNCTION = re.compile(r"\$(INT|REAL|STRING|EVAL|CHOICE|RANDOM_CHOICE|RANDOM_INTEGER|SUBSTR|"
                       r"ENV|DIRNAME|BASENAME|F[a-z]*)\(([^)]*)\)", re.IGNORECASE)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*$")
_F_OPTIONS = frozenset("fpdnxbquwa")
_SEPARATORS = re.compile(r"[/\\]")
_RANDOM = random.Random()

Lookup = Callable[[str], "str | None"]


class MacroError(ValueError):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


def uses_functions(text: str) -> bool:
    return bool(_FUNCTION.search(text))


def expand_functions(text: str, lookup: Lookup, environ: Mapping[str, str], cwd: str,
                     rng: random.Random = _RANDOM) -> str:
    def one(match: re.Match[str]) -> str:
        name, argument = match.group(1).upper(), match.group(2)
        try:
            if name in ("DIRNAME", "BASENAME"):
                return _file_parts("p" if name == "DIRNAME" else "nx",
                                   _value(argument, lookup), cwd)
            if name.startswith("F"):
                return _file_parts(match.group(1)[1:].lower(), _value(argument, lookup), cwd)
            if name == "ENV":
                variable, colon, default = argument.strip().partition(":")
                return environ.get(variable, default if colon else "UNDEFINED")
            if name.startswith("RANDOM_"):
                return _RANDOM_FUNCTIONS[name](argument, lookup, rng)
            return _FUNCTIONS[name](argument, lookup)
        except MacroError as error:
            raise MacroError(match.start(), error.message) from None

    return _FUNCTION.sub(one, text)


def _value(argument: str, lookup: Lookup) -> str:
    """A macro's value where the argument names one, else the argument itself."""
    argument = argument.strip()
    if _NAME.match(argument):
        value = lookup(argument)
        if value is not None:
            return value
    return argument


def _evaluate(text: str):
    try:
        return classad.ExprTree(text).eval()
    except classad.ClassAdSyntaxError:
        return classad.Value.Error


def _number(argument: str, lookup: Lookup, kind: str):
    expression, _, form = argument.partition(",")
    value = _evaluate(_value(expression, lookup))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MacroError(0, f"${kind}(): {expression.strip()!r} is not a number")
    return value, form.strip()


def _int(argument: str, lookup: Lookup) -> str:
    value, form = _number(argument, lookup, "INT")
    return _format(form or "%d", int(value))


def _real(argument: str, lookup: Lookup) -> str:
    value, form = _number(argument, lookup, "REAL")
    return _format(form or "%.16G", float(value))


def _format(form: str, value) -> str:
    try:
        return form % value
    except (TypeError, ValueError):
        raise MacroError(0, f"bad format {form!r}") from None


def _string(argument: str, lookup: Lookup) -> str:
    expression, _, form = argument.partition(",")
    value = _evaluate(_value(expression, lookup))
    if not isinstance(value, str):
        raise MacroError(0, f"$STRING(): {expression.strip()!r} is not a string")
    return _format(form or "%s", value)


def _eval(argument: str, lookup: Lookup) -> str:
    # condor_submit looks the argument up only when it is a macro's name as it stands
    # (``$EVAL( x )`` evaluates the attribute reference x, which is undefined).
    value = lookup(argument) if _NAME.match(argument) else None
    try:
        value = classad.ExprTree(argument if value is None else value).eval()
    except classad.ClassAdSyntaxError:
        return ""  # as condor_submit, which also cuts the argument at its first ")"
    if isinstance(value, str):
        return value
    return str(classad.ClassAd({"v": value}).lookup("v"))


def _choice(argument: str, lookup: Lookup) -> str:
    index_text, _, rest = argument.partition(",")
    index = _evaluate(_value(index_text, lookup))
    choices = [c.strip() for c in rest.split(",")]
    if len(choices) == 1:
        choices = [c.strip() for c in _value(choices[0], lookup).split(",")]
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(choices):
        raise MacroError(0, f"$CHOICE(): index {index_text.strip()!r} is not one of the "
                            f"{len(choices)} choices")
    return choices[index]


def _random_choice(argument: str, _lookup: Lookup, rng: random.Random) -> str:
    return rng.choice([choice.strip() for choice in argument.split(",")])


def _random_integer(argument: str, lookup: Lookup, rng: random.Random) -> str:
    parts = [_evaluate(_value(part, lookup)) for part in argument.split(",")]
    if len(parts) not in (2, 3) or any(isinstance(p, bool) or not isinstance(p, int)
                                       for p in parts):
        raise MacroError(0, "$RANDOM_INTEGER() takes integers: a minimum, a maximum and "
                            "optionally a step")
    low, high, step = parts[0], parts[1], parts[2] if len(parts) == 3 else 1
    if high < low or step < 1:
        raise MacroError(0, f"$RANDOM_INTEGER({argument.strip()}): no integer in that range")
    return str(low + step * rng.randint(0, (high - low) // step))


def _substr(argument: str, lookup: Lookup) -> str:
    parts = [p.strip() for p in argument.split(",")]
    if len(parts) not in (2, 3):
        raise MacroError(0, "$SUBSTR() takes a macro, a start and a length")
    text = _value(parts[0], lookup)
    numbers = [_evaluate(p) for p in parts[1:]]
    if any(isinstance(n, bool) or not isinstance(n, int) for n in numbers):
        raise MacroError(0, "$SUBSTR(): start and length must be integers")
    start = numbers[0] if numbers[0] >= 0 else max(len(text) + numbers[0], 0)
    return text[start:start + numbers[1]] if len(numbers) == 2 else text[start:]


def _file_parts(options: str, path: str, cwd: str) -> str:
    """``$F``, as condor_submit reads its options: f makes the path absolute; u and w turn
    its separators into slashes or backslashes (the last of them wins) before it is taken
    apart at its slashes; the result is the span from the first to the last part asked
    for, of p the directory (with its slash), d as many of its last components as there
    are d's (slashes and backslashes both part them), n the name without its extension
    and x the extension (with its dot); none of them, the whole path.  b drops the
    directory's trailing separator, or the extension's dot when x is alone; q quotes the
    result, in single quotes with a."""
    unknown = set(options) - _F_OPTIONS
    if unknown:
        raise MacroError(0, f"$F(): unsupported option {''.join(sorted(unknown))!r}")
    if "f" in options:
        path = os.path.normpath(os.path.join(cwd, path)) + ("/" if path.endswith("/") else "")
    conversions = [option for option in options if option in "uw"]
    if conversions:
        path = path.replace("\\", "/") if conversions[-1] == "u" else path.replace("/", "\\")
    name_start = path.rfind("/") + 1
    dot = path.rfind(".", name_start)
    extension_start = dot if dot > name_start else len(path)
    levels = options.count("d")
    spans = []
    # A path with no directory gives p and d nothing to start the span with; d beats p.
    if "p" in options and name_start and not levels:
        spans.append((0, name_start))
    if levels and name_start:
        start = _last_directories(path[:name_start], levels)
        if start < name_start:
            spans.append((start, name_start))
    if "n" in options:
        spans.append((name_start, extension_start))
    if "x" in options:
        spans.append((extension_start, len(path)))
    if spans:
        out = path[min(s for s, _ in spans):max(e for _, e in spans)]
    else:
        out = "" if set(options) & set("pdnx") else path
    if "b" in options and spans and "n" not in options:
        if "x" not in options and out[-1:] in ("/", "\\"):
            out = out[:-1]
        elif "x" in options and len(spans) == 1:
            out = out[1:]
    if "q" in options:
        quote = "'" if "a" in options else '"'
        out = quote + out + quote
    return out


def _last_directories(directory: str, levels: int) -> int:
    """Where the last ``levels`` components of a directory (with its trailing separator)
    begin; its end when it has fewer (condor_submit reads past its string then).
    The root of an absolute path counts as a component: ``$Fddd(/x/y/z)`` is ``/x/y/``."""
    stem = directory[:-1]
    starts = [0] + [match.end() for match in _SEPARATORS.finditer(stem)]
    return starts[-levels] if directory and levels <= len(starts) else len(directory)


_FUNCTIONS = {"INT": _int, "REAL": _real, "STRING": _string, "EVAL": _eval,
              "CHOICE": _choice, "SUBSTR": _substr}
_RANDOM_FUNCTIONS = {"RANDOM_CHOICE": _random_choice, "RANDOM_INTEGER": _random_integer}
