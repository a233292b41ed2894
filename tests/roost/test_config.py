"""Configuration: where the file is found, environment overrides, one-line errors, and
``roost config show``."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from roost import config_cli
from roost.config import SCHEMA, ConfigError, Key, describe, load_config, search_path


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A working directory and a home directory of the test's own, and no ROOST_ variables,
    so no configuration of the machine running the tests takes part."""
    for name in list(os.environ):
        if name.startswith("ROOST_"):
            monkeypatch.delenv(name)
    home = tmp_path / "user"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return home


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def error_of(**kwargs) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(**kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_no_file_gives_the_defaults_of_a_personal_pool(isolated):
    config = load_config(env={})
    assert config.file is None
    assert config.home == isolated / ".roost"
    assert config.get("matchmaker", "address") == "127.0.0.1:9618"
    assert config.get("matchmaker", "ad_lifetime") == 900
    assert config.get("tls", "cert") == ""
    assert {config.source(*name) for name in SCHEMA} == {"default"}
    assert config.section("log") == {"level": "INFO", "max_bytes": 10485760, "backups": 5}


def test_unknown_key_or_section_in_the_api_is_a_key_error():
    config = load_config(env={})
    with pytest.raises(KeyError):
        config.get("matchmaker", "nope")
    with pytest.raises(KeyError):
        config.source("nope", "address")
    with pytest.raises(KeyError):
        config.section("nope")


def test_search_order(tmp_path, isolated):
    user = write(isolated / ".config" / "roost" / "roost.toml", "[startd]\nupdate_interval = 3\n")
    assert load_config(env={}).file == user
    local = write(Path("roost.toml"), "[startd]\nupdate_interval = 2\n")
    assert load_config(env={}).file == local
    named = write(tmp_path / "named.toml", "[startd]\nupdate_interval = 1\n")
    config = load_config(env={"ROOST_CONFIG": str(named)})
    assert config.file == named
    assert config.get("startd", "update_interval") == 1
    assert config.source("startd", "update_interval") == str(named)
    # An explicit path beats them all.
    assert load_config(str(user), env={"ROOST_CONFIG": str(named)}).file == user
    assert search_path() == [local, user, Path("/etc/roost/roost.toml")]


def test_a_missing_file_named_on_purpose_is_an_error(tmp_path):
    missing = tmp_path / "missing.toml"
    assert error_of(env={"ROOST_CONFIG": str(missing)}) == (
        f"ROOST_CONFIG names {missing}, which is not a file"
    )
    assert error_of(path=str(missing), env={}) == (
        f"{missing}: cannot read: No such file or directory"
    )


def test_the_environment_overrides_the_file():
    write(Path("roost.toml"), '[matchmaker]\nad_lifetime = 60\naddress = "0.0.0.0:9618"\n')
    config = load_config(env={"ROOST_MATCHMAKER_AD_LIFETIME": "30"})
    assert config.get("matchmaker", "ad_lifetime") == 30
    assert config.source("matchmaker", "ad_lifetime") == "env ROOST_MATCHMAKER_AD_LIFETIME"
    assert config.get("matchmaker", "address") == "0.0.0.0:9618"
    assert config.source("matchmaker", "address") == "roost.toml"


def test_a_bad_value_names_the_key_and_where_it_came_from():
    write(Path("roost.toml"), '[matchmaker]\nad_lifetime = "ten"\n')
    assert error_of(env={}) == (
        'roost.toml: matchmaker.ad_lifetime: expected an integer, got "ten"'
    )
    Path("roost.toml").unlink()
    assert error_of(env={"ROOST_MATCHMAKER_AD_LIFETIME": "ten"}) == (
        'ROOST_MATCHMAKER_AD_LIFETIME: expected an integer, got "ten"'
    )


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("matchmaker", "ad_lifetime", "true", "expected an integer, got true"),
        ("matchmaker", "ad_lifetime", "1.5", "expected an integer, got 1.5"),
        ("matchmaker", "negotiator_interval", "0", "expected an integer >= 1, got 0"),
        ("matchmaker", "address", "9618", "expected a string, got 9618"),
        ("matchmaker", "address", "[1]", "expected a string, got an array"),
        ("log", "level", '"LOUD"', 'expected one of DEBUG, INFO, WARNING, ERROR, got "LOUD"'),
    ],
)
def test_values_of_the_wrong_type_are_refused(section, key, value, message):
    write(Path("roost.toml"), f"[{section}]\n{key} = {value}\n")
    assert error_of(env={}) == f"roost.toml: {section}.{key}: {message}"


def test_the_log_level_is_read_without_regard_to_case():
    assert load_config(env={"ROOST_LOG_LEVEL": "debug"}).get("log", "level") == "DEBUG"


def test_bool_and_float_keys(monkeypatch):
    monkeypatch.setitem(SCHEMA, ("test", "flag"), Key(bool, False, "a flag"))
    monkeypatch.setitem(SCHEMA, ("test", "ratio"), Key(float, 0.5, "a ratio"))
    for text, value in [("true", True), ("YES", True), ("1", True), ("no", False), ("0", False)]:
        assert load_config(env={"ROOST_TEST_FLAG": text}).get("test", "flag") is value
    assert error_of(env={"ROOST_TEST_FLAG": "maybe"}) == (
        'ROOST_TEST_FLAG: expected true or false, got "maybe"'
    )
    assert load_config(env={"ROOST_TEST_RATIO": "0.25"}).get("test", "ratio") == 0.25
    assert error_of(env={"ROOST_TEST_RATIO": "inf"}) == (
        "ROOST_TEST_RATIO: expected a number, got inf"
    )
    write(Path("roost.toml"), "[test]\nratio = 2\nflag = true\n")
    config = load_config(env={})
    assert config.get("test", "ratio") == 2.0
    assert isinstance(config.get("test", "ratio"), float)
    assert config.get("test", "flag") is True
    write(Path("roost.toml"), "[test]\nflag = 1\n")
    assert error_of(env={}) == "roost.toml: test.flag: expected true or false, got 1"


def test_unknown_keys_are_named_in_one_line():
    write(
        Path("roost.toml"),
        """\
        address = "x"
        [matchmaker]
        ad_lifetme = 5
        [frobnicator]
        speed = 1
        """,
    )
    assert error_of(env={}) == (
        "roost.toml: unknown keys address (keys belong in a [section]), "
        "matchmaker.ad_lifetme (did you mean matchmaker.ad_lifetime?), frobnicator.speed"
    )


def test_a_file_that_is_not_toml_is_one_line():
    write(Path("roost.toml"), "[matchmaker\n")
    assert error_of(env={}).startswith("roost.toml: not valid TOML: ")


def test_tls_needs_all_three_files_or_none(tmp_path):
    write(Path("roost.toml"), '[tls]\ncert = "server.pem"\n')
    assert error_of(env={"ROOST_TLS_CA": "ca.pem"}) == (
        "TLS needs tls.cert, tls.key and tls.ca together: tls.cert (from roost.toml), "
        "tls.ca (from env ROOST_TLS_CA) set, tls.key not"
    )
    write(tmp_path / "etc" / "roost.toml", '[tls]\ncert = "server.pem"\nkey = "/keys/server.key"\n')
    config = load_config(str(tmp_path / "etc" / "roost.toml"), env={"ROOST_TLS_CA": "ca.pem"})
    # Relative paths: from the file's directory, or from the working directory for a variable.
    assert config.get("tls", "cert") == str(tmp_path / "etc" / "server.pem")
    assert config.get("tls", "key") == "/keys/server.key"
    assert config.get("tls", "ca") == str(tmp_path / "cwd" / "ca.pem")


def test_the_home(tmp_path, isolated):
    write(Path("roost.toml"), '[pool]\nhome = "pool"\n')
    assert load_config(env={}).home == tmp_path / "cwd" / "pool"
    assert load_config(env={"ROOST_POOL_HOME": "~/other"}).home == isolated / "other"
    assert load_config(env={"ROOST_HOME": str(tmp_path / "h")}).home == tmp_path / "h"
    # As in roost.home: an empty ROOST_HOME is no ROOST_HOME.
    assert load_config(env={"ROOST_HOME": ""}).home == tmp_path / "cwd" / "pool"


def test_every_default_reads_back_from_a_file():
    sections: dict[str, list[str]] = {}
    for (section, key), spec in SCHEMA.items():
        sections.setdefault(section, []).append(f"{key} = {describe(spec.default)}")
    text = "".join(f"[{name}]\n" + "\n".join(lines) + "\n" for name, lines in sections.items())
    write(Path("roost.toml"), text)
    config = load_config(env={})
    assert {name: config.get(*name) for name in SCHEMA} == {
        name: spec.default for name, spec in SCHEMA.items()
    }
    assert {config.source(*name) for name in SCHEMA} == {"roost.toml"}


def test_config_show_prints_every_value_and_its_source(monkeypatch, capsys, isolated):
    write(Path("roost.toml"), "[matchmaker]\nad_lifetime = 60\n")
    monkeypatch.setenv("ROOST_LOG_LEVEL", "debug")
    assert config_cli.main(["show"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["# file: roost.toml", f"# home: {isolated / '.roost'}"]
    assert len(lines) == 2 + len(SCHEMA)
    assert 'matchmaker.address = "127.0.0.1:9618"   (default)' in lines
    assert "matchmaker.ad_lifetime = 60   (roost.toml)" in lines
    assert 'log.level = "DEBUG"   (env ROOST_LOG_LEVEL)' in lines


def test_config_show_json(monkeypatch, capsys):
    monkeypatch.setenv("ROOST_STARTD_UPDATE_INTERVAL", "5")
    assert config_cli.main(["show", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["file"] is None
    assert document["values"]["startd"]["update_interval"] == {
        "value": 5,
        "source": "env ROOST_STARTD_UPDATE_INTERVAL",
        "env": "ROOST_STARTD_UPDATE_INTERVAL",
        "help": SCHEMA["startd", "update_interval"].help,
    }
    assert document["values"]["tls"]["ca"]["value"] == ""


def test_config_show_through_roost_reports_a_bad_file_in_one_line():
    write(Path("roost.toml"), "[log]\nbackups = -1\n")
    result = subprocess.run(
        [sys.executable, "-m", "roost", "config", "show"], capture_output=True, text=True
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "roost: roost.toml: log.backups: expected an integer >= 0, got -1\n"


def test_config_show_help_imports_nothing_heavy():
    script = textwrap.dedent(
        """
        import contextlib, io, sys
        from roost.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                main(["config", "show", "--help"])
            except SystemExit as exit:
                assert exit.code == 0, exit.code
        print("\\n".join(sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    modules = set(result.stdout.split())
    assert "roost.config_cli" in modules
    heavy = ("grpc", "google.protobuf", "classad", "sqlalchemy", "psutil", "matchmaker")
    assert sorted(m for m in modules if m.split(".")[0] in heavy or m in heavy) == []
