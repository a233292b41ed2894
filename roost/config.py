"""Configuration: one TOML file, a section per daemon, every key overridable from the
environment.

The file is the first of ``$ROOST_CONFIG``, ``./roost.toml``, ``~/.config/roost/roost.toml``
and ``/etc/roost/roost.toml`` that exists; with none, the defaults make a personal pool on
localhost.  ``ROOST_<SECTION>_<KEY>`` (``ROOST_MATCHMAKER_AD_LIFETIME``) overrides the file.

Every key is declared in ``SCHEMA`` with its type, default and a line of help: a key the
schema does not know is an error, as is a value of the wrong type, and either is reported in
one line that names the key and where the value came from.  Path-valued keys are made
absolute when loaded (relative to the file's directory, or to the working directory for an
environment variable), so a daemon that has left its working directory still finds them.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roost.errors import RoostError


class ConfigError(RoostError):
    """A configuration file or variable that cannot be used."""


@dataclass(frozen=True)
class Key:
    """One configuration key: its type, default and help."""

    kind: type  # str, int, float or bool
    default: Any
    help: str
    path: bool = False  # a str naming a file or directory, made absolute when loaded
    choices: tuple[str, ...] = ()  # the allowed values of a str, compared without case
    minimum: int | None = None  # the least allowed value of an int


SCHEMA: dict[tuple[str, str], Key] = {
    ("pool", "home"): Key(
        str, "", "the roost home for databases, logs, keys and sandboxes ($ROOST_HOME "
        "wins; empty: ~/.roost)", path=True),
    ("matchmaker", "address"): Key(
        str, "127.0.0.1:9618", "the collector's address: daemons bind it, clients call it"),
    ("matchmaker", "advertise_address"): Key(
        str, "", "the address the collector advertises, HOST or HOST:PORT (empty: the bound "
        "one; for a wildcard, this host's first address that is not loopback)"),
    ("matchmaker", "ad_lifetime"): Key(
        int, 900, "seconds an ad lives without an update, unless it sets ClassAdLifetime",
        minimum=1),
    ("matchmaker", "housekeeping_interval"): Key(
        int, 60, "seconds between sweeps for expired ads", minimum=1),
    ("matchmaker", "max_ad_bytes"): Key(
        int, 1048576, "the largest ad the collector accepts, in bytes", minimum=1),
    ("matchmaker", "query_batch"): Key(
        int, 500, "ads per message in a query's reply stream", minimum=1),
    ("matchmaker", "negotiator_interval"): Key(
        int, 20, "seconds between negotiation cycles", minimum=1),
    ("matchmaker", "broker_streams"): Key(
        int, 1000, "startds that cannot be dialled the collector's broker serves at once; "
        "each holds a thread", minimum=1),
    ("matchmaker", "concurrency_limits"): Key(
        str, "", "concurrency limits the negotiator enforces: 'xsw = 3, database = 2' "
        "(HTCondor's <NAME>_LIMIT); jobs name them in ConcurrencyLimits"),
    ("matchmaker", "concurrency_limit_default"): Key(
        int, -1, "the limit of names concurrency_limits does not list (-1: unlimited; "
        "HTCondor's CONCURRENCY_LIMIT_DEFAULT)", minimum=-1),
    ("matchmaker", "group_names"): Key(
        str, "", "accounting groups, dotted for subgroups: 'group_a, group_a.hep, group_b' "
        "(HTCondor's GROUP_NAMES; jobs join one with accounting_group)"),
    ("matchmaker", "group_quotas"): Key(
        str, "", "the groups' quotas: 'group_a = 10, group_b = 40%' (cores, or a share of "
        "the parent group's quota)"),
    ("matchmaker", "group_accept_surplus"): Key(
        bool, False, "whether groups may use the quota other groups leave unused"),
    ("matchmaker", "preemption_requirements"): Key(
        str, "False", "when a submitter with a better priority may preempt a running job "
        "(HTCondor's PREEMPTION_REQUIREMENTS; MY is the slot, TARGET the job)"),
    ("matchmaker", "preemption_rank"): Key(
        str, "", "which running job to preempt first (HTCondor's PREEMPTION_RANK; empty: "
        "HTCondor's default, the owner with the worst priority first)"),
    ("matchmaker", "consider_preemption"): Key(
        bool, True, "whether the negotiator preempts running jobs at all, by the slots' "
        "Rank or by priority (HTCondor's NEGOTIATOR_CONSIDER_PREEMPTION)"),
    ("schedd", "address"): Key(
        str, "127.0.0.1:0", "the address the schedd binds (port 0: any; 0.0.0.0 or [::]: "
        "every interface)"),
    ("schedd", "advertise_address"): Key(
        str, "", "the address the schedd advertises, HOST or HOST:PORT (empty: the bound one; "
        "for a wildcard, the address of the interface that routes to the collector)"),
    ("schedd", "database_url"): Key(
        str, "", "SQLAlchemy URL of the job queue (empty: SQLite under the roost home)"),
    ("schedd", "name"): Key(str, "", "the schedd's name in the pool (empty: the host's name)"),
    ("schedd", "periodic_interval"): Key(
        int, 60, "seconds between evaluations of the jobs' periodic policy "
        "(PERIODIC_EXPR_INTERVAL)", minimum=1),
    ("schedd", "update_interval"): Key(
        int, 60, "seconds between the schedd's Schedd and Submitter ad updates", minimum=1),
    ("schedd", "claim_lease"): Key(
        int, 60, "seconds a claimed slot keeps its job without word from the schedd, and "
        "the schedd waits for a silent startd before it requeues the job", minimum=5),
    ("schedd", "claim_worklife"): Key(
        int, 1200, "seconds a claim takes new jobs before it is given back to the "
        "negotiator (HTCondor's CLAIM_WORKLIFE; -1: for ever)", minimum=-1),
    ("schedd", "max_watchers"): Key(
        int, 1000, "job event streams (roost wait) the schedd serves at once; each holds "
        "a sleeping thread", minimum=1),
    ("schedd", "max_reverse_connections"): Key(
        int, 1000, "connections to startds reached through the collector's broker the "
        "schedd carries at once (one per claim on such a startd); each holds a thread",
        minimum=1),
    ("schedd", "query_batch"): Key(
        int, 500, "job ads per message in a query's reply stream", minimum=1),
    ("schedd", "file_system_domain"): Key(
        str, "", "the submit host's FileSystemDomain, put into jobs' ads (HTCondor's "
        "FILESYSTEM_DOMAIN; empty: the host's name): a slot of another domain transfers "
        "an IF_NEEDED job's files"),
    ("schedd", "max_concurrent_uploads"): Key(
        int, 100, "jobs' inputs sent at once (HTCondor's MAX_CONCURRENT_UPLOADS)", minimum=1),
    ("schedd", "max_concurrent_downloads"): Key(
        int, 100, "jobs' outputs received at once (HTCondor's MAX_CONCURRENT_DOWNLOADS)",
        minimum=1),
    ("schedd", "max_transfer_input_mb"): Key(
        int, -1, "the largest input a job may transfer, in MB, unless it sets "
        "max_transfer_input_mb (HTCondor's MAX_TRANSFER_INPUT_MB; -1: no limit)", minimum=-1),
    ("schedd", "max_transfer_output_mb"): Key(
        int, -1, "the largest output a job may transfer, in MB, unless it sets "
        "max_transfer_output_mb (HTCondor's MAX_TRANSFER_OUTPUT_MB; -1: no limit)",
        minimum=-1),
    ("startd", "address"): Key(
        str, "", "the address the startd binds (port 0: any; 0.0.0.0 or [::]: every "
        "interface; empty: 127.0.0.1:0 for a collector on loopback, else 0.0.0.0:0)"),
    ("startd", "advertise_address"): Key(
        str, "", "the address the startd advertises, HOST or HOST:PORT (empty: the bound one; "
        "for a wildcard, the address of the interface that routes to the collector)"),
    ("startd", "outbound_only"): Key(
        bool, False, "reach the pool only through connections the startd opens, through "
        "the collector's broker (default: only if the collector cannot dial the startd)"),
    ("startd", "update_interval"): Key(
        int, 60, "seconds between the startd's ad updates", minimum=1),
    ("startd", "file_system_domain"): Key(
        str, "", "the slots' FileSystemDomain (HTCondor's FILESYSTEM_DOMAIN; empty: the "
        "host's name): jobs of another domain get their files by transfer"),
    ("startd", "name"): Key(
        str, "", "the host part of the startd's slot names, slot1@NAME (empty: the host's "
        "name); several startds on one host need different names"),
    ("startd", "policy"): Key(
        str, "ALWAYS", "the machine owner's policy: always (run whenever free), desktop "
        "(only while the keyboard is idle) or glidein", choices=("ALWAYS", "DESKTOP", "GLIDEIN")),
    ("startd", "start"): Key(
        str, "", "a START expression replacing the policy's (empty: the policy's)"),
    ("startd", "rank"): Key(
        str, "", "the slots' Rank of jobs (HTCondor's RANK; empty: the policy's, 0): a job "
        "ranked above the running one preempts it"),
    ("startd", "slots"): Key(
        str, "partitionable", "how the machine is split: partitionable (one slot, carved per "
        "job) or a number of equal static slots"),
    ("startd", "cpus"): Key(int, 0, "CPUs to offer (0: detect)", minimum=0),
    ("startd", "memory"): Key(int, 0, "memory to offer in MiB (0: detect)", minimum=0),
    ("startd", "disk"): Key(int, 0, "disk to offer in KiB (0: the execute directory's free "
                            "space)", minimum=0),
    ("startd", "execute_dir"): Key(
        str, "", "where jobs' sandboxes are made (empty: execute/ under the roost home)",
        path=True),
    ("startd", "attributes"): Key(
        str, "", "the administrator's own slot attributes, as ClassAd text: "
        "'HasDocker = false\nSite = \"campus\"' (HTCondor's STARTD_ATTRS)"),
    ("startd", "run_as"): Key(
        str, "", "as root, run every job as this account rather than as its Owner"),
    ("startd", "memory_policy"): Key(
        str, "HARD", "a job over its RequestMemory is stopped (hard), stopped only when the "
        "machine runs short (soft), or never (none)", choices=("HARD", "SOFT", "NONE")),
    ("startd", "poll_interval"): Key(
        int, 5, "seconds between evaluations of the owner's policy and the leases", minimum=1),
    ("startd", "shutdown_grace"): Key(
        int, 20, "seconds jobs get to leave after SIGTERM before they are killed", minimum=0),
    ("security", "token_file"): Key(
        str, "", "the token this user's commands and daemons present (empty: the local "
        "user's token under the roost home)", path=True),
    ("security", "token_lifetime_days"): Key(
        int, 365, "days a newly issued token is valid", minimum=1),
    ("security", "revocation_interval"): Key(
        int, 30, "seconds between a schedd's readings of the collector's revoked tokens",
        minimum=1),
    ("tls", "cert"): Key(
        str, "", "PEM certificate the daemons present (empty: no TLS)", path=True),
    ("tls", "key"): Key(str, "", "PEM private key of tls.cert", path=True),
    ("tls", "ca"): Key(str, "", "PEM CA certificate clients verify the daemons with", path=True),
    ("log", "level"): Key(
        str, "INFO", "the least severe level written to daemon logs",
        choices=("DEBUG", "INFO", "WARNING", "ERROR")),
    ("log", "max_bytes"): Key(
        int, 10485760, "size at which a daemon log is rotated (0: never)", minimum=0),
    ("log", "backups"): Key(int, 5, "rotated daemon logs kept", minimum=0),
}

_TLS_KEYS = ("cert", "key", "ca")


def search_path() -> list[Path]:
    """The files ``load_config`` looks for, in order, when ``$ROOST_CONFIG`` is unset."""
    return [
        Path("roost.toml"),
        Path.home() / ".config" / "roost" / "roost.toml",
        Path("/etc/roost/roost.toml"),
    ]


def env_name(section: str, key: str) -> str:
    """The environment variable that overrides ``section.key``."""
    return f"ROOST_{section}_{key}".upper()


class Config:
    """The effective configuration: every key of ``SCHEMA`` with its value and source."""

    def __init__(
        self,
        values: dict[tuple[str, str], Any],
        sources: dict[tuple[str, str], str],
        file: Path | None,
        home: Path,
    ) -> None:
        self._values = values
        self._sources = sources
        self.file = file
        self.home = home

    def get(self, section: str, key: str) -> Any:
        """The value of ``section.key``; KeyError if the schema has no such key."""
        try:
            return self._values[section, key]
        except KeyError:
            raise KeyError(f"no configuration key {section}.{key}") from None

    def source(self, section: str, key: str) -> str:
        """Where the value came from: ``"default"``, the file's path, or ``"env ROOST_X_Y"``."""
        self.get(section, key)  # the KeyError for a key the schema lacks
        return self._sources[section, key]

    def section(self, name: str) -> dict[str, Any]:
        """The keys of section ``name`` and their values."""
        values = {key: value for (section, key), value in self._values.items() if section == name}
        if not values:
            raise KeyError(f"no configuration section {name}")
        return values


def load_config(path: str | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read the configuration from ``path`` (default: the first file of ``search_path``),
    with overrides from ``env`` (default: ``os.environ``).  Raises ConfigError."""
    env = os.environ if env is None else env
    file = Path(path).expanduser() if path is not None else _find_file(env)
    values = {name: key.default for name, key in SCHEMA.items()}
    sources = dict.fromkeys(SCHEMA, "default")
    if file is not None:
        for name, value in _read_file(file).items():
            values[name] = _check(name, value, where=f"{file}: {name[0]}.{name[1]}",
                                  base=file.parent)
            sources[name] = str(file)
    for name in SCHEMA:
        variable = env_name(*name)
        if variable in env:
            values[name] = _check(name, _from_env(name, env[variable]), where=variable,
                                  base=Path.cwd())
            sources[name] = f"env {variable}"
    _check_tls(values, sources)
    if env.get("ROOST_HOME"):
        home = Path(env["ROOST_HOME"]).expanduser().absolute()
    elif values["pool", "home"]:
        home = Path(values["pool", "home"])
    else:
        home = Path.home() / ".roost"
    return Config(values, sources, file, home)


def describe(value: Any) -> str:
    """``value`` as TOML writes it (strings quoted), for messages and ``config show``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # A JSON string is also a TOML basic string.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"


def _find_file(env: Mapping[str, str]) -> Path | None:
    if env.get("ROOST_CONFIG"):
        # Named on purpose, so its absence is a mistake rather than a reason to look on.
        named = Path(env["ROOST_CONFIG"]).expanduser()
        if not named.is_file():
            raise ConfigError(f"ROOST_CONFIG names {named}, which is not a file")
        return named
    return next((candidate for candidate in search_path() if candidate.is_file()), None)


def _read_file(file: Path) -> dict[tuple[str, str], Any]:
    """The keys set in ``file``; ConfigError if it cannot be read or sets unknown keys."""
    try:
        with file.open("rb") as stream:
            document = tomllib.load(stream)
    except OSError as error:
        raise ConfigError(f"{file}: cannot read: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{file}: not valid TOML: {error}") from None
    found: dict[tuple[str, str], Any] = {}
    unknown: list[str] = []
    for section, table in document.items():
        if not isinstance(table, dict):
            unknown.append(f"{section} (keys belong in a [section])")
            continue
        for key, value in table.items():
            if (section, key) in SCHEMA:
                found[section, key] = value
            else:
                unknown.append(_unknown(section, key))
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise ConfigError(f"{file}: unknown key{plural} {', '.join(unknown)}")
    return found


def _unknown(section: str, key: str) -> str:
    known = [f"{s}.{k}" for s, k in SCHEMA]
    close = difflib.get_close_matches(f"{section}.{key}", known, n=1)
    return f"{section}.{key}" + (f" (did you mean {close[0]}?)" if close else "")


_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


def _from_env(name: tuple[str, str], text: str) -> Any:
    """The value of an environment variable as the key's type, or ``text`` itself when it
    does not parse (so that ``_check`` reports it as the string it is)."""
    kind = SCHEMA[name].kind
    try:
        if kind is bool:
            lowered = text.strip().lower()
            if lowered in _TRUE + _FALSE:
                return lowered in _TRUE
        elif kind is int:
            return int(text)
        elif kind is float:
            return float(text)
    except ValueError:
        pass
    return text


def _check(name: tuple[str, str], value: Any, *, where: str, base: Path) -> Any:
    """``value`` if it suits key ``name`` (ints widened to floats, choices upper-cased,
    paths made absolute against ``base``); ConfigError naming ``where`` if not."""
    key = SCHEMA[name]
    if key.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    # bool is a subclass of int, but `ad_lifetime = true` is still a mistake.
    if type(value) is not key.kind or (key.kind is float and not math.isfinite(value)):
        expected = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
        raise ConfigError(f"{where}: expected {expected[key.kind]}, got {describe(value)}")
    if key.choices:
        if value.upper() not in key.choices:
            choices = ", ".join(key.choices)
            raise ConfigError(f"{where}: expected one of {choices}, got {describe(value)}")
        value = value.upper()
    if key.minimum is not None and value < key.minimum:
        raise ConfigError(
            f"{where}: expected an integer >= {key.minimum}, got {describe(value)}"
        )
    if key.path and value:
        value = str((base / Path(value).expanduser()).absolute())
    return value


def _check_tls(values: dict[tuple[str, str], Any], sources: dict[tuple[str, str], str]) -> None:
    given = [key for key in _TLS_KEYS if values["tls", key]]
    if given and len(given) < len(_TLS_KEYS):
        missing = [f"tls.{key}" for key in _TLS_KEYS if key not in given]
        named = ", ".join(f"tls.{key} (from {sources['tls', key]})" for key in given)
        raise ConfigError(
            f"TLS needs tls.cert, tls.key and tls.ca together: {named} set, "
            f"{' and '.join(missing)} not"
        )
