"""The functions HTCondor adds to the ClassAd language for its own daemons
(``registerClassadFunctions`` in ``src/condor_utils/compat_classad.cpp``) that are not
string-list functions: job environments and arguments, home directories and user maps.

Environments and argument lists use HTCondor's two syntaxes.  Version 1 environments are
``NAME=value`` entries separated by ``;`` (or by whichever of HTCondor's delimiter
characters starts the string); version 1 arguments are split at white space.  Version 2,
for both, splits at white space with single quotes around text that holds white space or
quotes, a quote doubled inside them (``a 'b c' 'it''s'``).
"""

from __future__ import annotations

import pwd
import re

from ._builtins import function
from ._fn_convert import int32, utf8
from ._values import Error, Undefined

_ARG_SPACE = " \t\n\r"
_V1_SPLIT = re.compile("[ \t\n\r]")
_V1_DELIMITERS = "!#$%&*+,-/:;<>?@^`|~\x1f"
# An entry without "=" that holds "$$" is an unexpanded $$() macro, kept as it is.
_NO_VALUE = object()

# -- version 2 syntax (condor_arglist.cpp) --------------------------------------------------


def split_args(text: str) -> list[str] | None:
    """Version 2 arguments, or None for an unbalanced quote."""
    args = []
    current: list[str] = []
    in_token = False
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "'":
            in_token = True
            i += 1
            while True:
                if i >= n:
                    return None
                if text[i] == "'":
                    if i + 1 < n and text[i + 1] == "'":
                        current.append("'")
                        i += 2
                        continue
                    i += 1
                    break
                current.append(text[i])
                i += 1
        elif c in _ARG_SPACE:
            i += 1
            if in_token:
                args.append("".join(current))
                current = []
                in_token = False
        else:
            in_token = True
            current.append(c)
            i += 1
    if in_token:
        args.append("".join(current))
    return args


def join_args(args: list[str]) -> str:
    """Version 2 text for arguments: white space and quotes go inside single quotes, and
    neighbouring quoted characters share one pair."""
    out: list[str] = []
    for arg in args:
        if out:
            out.append(" ")
        if not arg:
            out.append("''")
        for c in arg:
            if c in _ARG_SPACE or c == "'":
                if out and out[-1] == "'":
                    out.pop()  # continue the quoted section just closed
                else:
                    out.append("'")
                if c == "'":
                    out.append("'")
                out.append(c)
                out.append("'")
            else:
                out.append(c)
    return "".join(out)


def _version(v):
    """The syntax version argument: 1 or 2 (read as a C int), or None if invalid."""
    if v is None:
        return 2
    if type(v) is not int or int32(v) not in (1, 2):
        return None
    return int32(v)


@function("argsToList")
def args_to_list(args, version=None):
    vers = _version(version)
    if vers is None or type(args) is not str:
        return Error
    if vers == 1:
        # Version 1 has no quoting: arguments are what lies between white space.
        return [a for a in _V1_SPLIT.split(args) if a]
    parsed = split_args(args)
    return Error if parsed is None else parsed


@function("listToArgs")
def list_to_args(items, version=None):
    vers = _version(version)
    if vers is None or type(items) is not list:
        return Error
    if any(type(item) is not str for item in items):
        return Error
    if vers == 2:
        return join_args(items)
    # Version 1 cannot write white space inside an argument.
    if any(_V1_SPLIT.search(item) for item in items):
        return Error
    text = ""
    for item in items:
        text = f"{text} {item}" if text else item
    return text


# -- environments (env.cpp) -----------------------------------------------------------------


def _set_entry(env: dict, entry: str) -> bool:
    name, eq, value = entry.partition("=")
    if not eq:
        if "$$" in entry:
            env[entry] = _NO_VALUE
            return True
        return False
    if not name:
        return False
    env[name] = value
    return True


def _merge_v1(env: dict, text: str) -> bool:
    if not text:
        return True
    delimiter = ";"
    if text[0] == delimiter or text[0] in _V1_DELIMITERS:
        delimiter = text[0]  # a leading delimiter character chooses the delimiter
        text = text[1:]
    i = 0
    n = len(text)
    while i < n:
        while i < n and text[i] in _ARG_SPACE:
            i += 1
        start = i
        while i < n and text[i] != "\n" and text[i] != delimiter:
            i += 1
        entry = text[start:i]
        i += 1
        if entry and not _set_entry(env, entry):
            return False
    return True


def _merge_v2(env: dict, text: str) -> bool:
    entries = split_args(text)
    if entries is None:
        return False
    return all(_set_entry(env, entry) for entry in entries)


def _env_text(env: dict) -> str:
    # HTCondor keeps the environment in a std::map: sorted by the names' bytes.
    names = sorted(env, key=utf8)
    return join_args([n if env[n] is _NO_VALUE else f"{n}={env[n]}" for n in names])


def job_arguments(text: str, version: int = 2) -> list[str]:
    """A job's arguments as a list: ``Arguments`` (version 2) or ``Args`` (version 1).
    ValueError for an unbalanced quote."""
    if version == 1:
        return [a for a in _V1_SPLIT.split(text) if a]
    parsed = split_args(text)
    if parsed is None:
        raise ValueError(f"unbalanced single quote in arguments {text!r}")
    return parsed


def job_environment(text: str, version: int = 2) -> dict[str, str]:
    """A job's environment as a mapping: ``Environment`` (version 2) or ``Env`` (version
    1).  ValueError for an entry that is not NAME=VALUE; an unexpanded ``$$()`` entry is
    left out."""
    env: dict = {}
    if not (_merge_v1 if version == 1 else _merge_v2)(env, text):
        raise ValueError(f"not an environment of NAME=VALUE entries: {text!r}")
    return {name: value for name, value in env.items() if value is not _NO_VALUE}


@function("envV1ToV2")
def env_v1_to_v2(env_v1):
    if env_v1 is Undefined:
        return Undefined
    if type(env_v1) is not str:
        return Error
    env: dict = {}
    return _env_text(env) if _merge_v1(env, env_v1) else Error


@function("mergeEnvironment")
def merge_environment(*environments):
    # Later definitions win; Undefined arguments count as empty environments.
    env: dict = {}
    for e in environments:
        if e is Undefined:
            continue
        if type(e) is not str or not _merge_v2(env, e):
            return Error
    return _env_text(env)


# -- users ----------------------------------------------------------------------------------


@function("userHome")
def user_home(user, default=None):
    # HTCondor enables this by default (CLASSAD_ENABLE_USER_HOME) and asks the password
    # database; a non-empty string default stands in for any failure.
    fallback = default if type(default) is str else ""
    if user is Undefined and not fallback:
        return Undefined
    if type(user) is not str:
        return fallback or Error
    try:
        home = pwd.getpwnam(user).pw_dir
    except (KeyError, ValueError, UnicodeError):
        return fallback or Undefined
    return home


@function("userMap")
def user_map(map_name, user, preferred=None, default=None):
    # Roost configures no user map files, and HTCondor without a map named map_name
    # maps nothing: the 4-argument form gives its default, the others Undefined.
    if map_name is Error or user is Error:
        return Error
    return Undefined if default is None else default
