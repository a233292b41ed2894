"""The macro functions of a submit description: ``$INT()``, ``$REAL()``, ``$EVAL()``,
``$CHOICE()``, ``$SUBSTR()``, ``$ENV()`` and ``$F[pdnxfq]()``, as condor_submit expands them.

They are expanded after the plain ``$(name)`` macros of the same value, so that their
arguments may use those; an argument that names a macro stands for its value (``$INT(n)``,
``$Fn(item)``).  Like condor_submit, a function's arguments end at the first ``)``.

Pure: ``lookup(name)`` gives a macro's expanded value (None when undefined), ``environ``
the submitter's environment (``$ENV``), ``cwd`` the directory ``$Ff`` makes paths absolute
against.  A function that cannot be expanded raises ``MacroError`` with the offset of the
``$`` in the text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping

import classad

_FUNCTION = re.compile(r"\$(INT|REAL|EVAL|CHOICE|SUBSTR|ENV|F[a-z]*)\(([^)]*)\)",
                       re.IGNORECASE)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*$")
_F_OPTIONS = frozenset("pdnxfq")

Lookup = Callable[[str], "str | None"]


class MacroError(ValueError):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


def uses_functions(text: str) -> bool:
    return bool(_FUNCTION.search(text))


def expand_functions(text: str, lookup: Lookup, environ: Mapping[str, str], cwd: str) -> str:
    def one(match: re.Match[str]) -> str:
        name, argument = match.group(1).upper(), match.group(2)
        try:
            if name.startswith("F"):
                return _file_parts(match.group(1)[1:].lower(), _value(argument, lookup), cwd)
            if name == "ENV":
                return environ.get(argument.strip(), "UNDEFINED")
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


def _eval(argument: str, lookup: Lookup) -> str:
    try:
        value = classad.ExprTree(argument).eval()
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
    """``$F``: p the directory (with its slash), d as many of its last components as there
    are d's, n the name without its extension, x the extension (with its dot), f the whole
    path made absolute, q the result in double quotes; with none of pdnxf, the path."""
    unknown = set(options) - _F_OPTIONS
    if unknown:
        raise MacroError(0, f"$F(): unsupported option {''.join(sorted(unknown))!r}")
    if "f" in options:
        path = os.path.normpath(os.path.join(cwd, path)) + ("/" if path.endswith("/") else "")
    head, _, name = path.rpartition("/")
    directory = head + "/" if head or path.startswith("/") else ""
    stem, dot, extension = name.rpartition(".")
    if not stem:  # no dot, or only a leading one
        stem, extension, dot = name, "", ""
    levels = options.count("d")
    if not set(options) & set("pdnxf"):
        out = path
    elif "p" in options or "f" in options:
        out = directory
    else:
        components = [c for c in head.split("/") if c]
        out = "".join(c + "/" for c in components[-levels:]) if levels else ""
    if "n" in options or "f" in options:
        out += stem
    if "x" in options or "f" in options:
        out += dot + extension
    return f'"{out}"' if "q" in options else out


_FUNCTIONS = {"INT": _int, "REAL": _real, "EVAL": _eval, "CHOICE": _choice,
              "SUBSTR": _substr}
