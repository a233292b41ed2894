"""The ``roost`` dispatcher: verbs, help, version, lazy imports and the error boundary."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import roost
from roost import cli

# Modules that `roost --help` and `roost VERB --help` must not import.
HEAVY_MODULES = (
    "classad",
    "ply",
    "grpc",
    "google.protobuf",
    "sqlalchemy",
    "psutil",
    "matchmaker",
    "schedd",
    "startd",
)

VERB_MODULE = """
from roost.errors import RoostError


def echo(argv):
    print(" ".join(argv))
    return 7


def fail(argv):
    raise RoostError("the ad has no Requirements")


def crash(argv):
    raise RuntimeError("boom")


def interrupt(argv):
    raise KeyboardInterrupt
"""


@pytest.fixture
def test_verbs(tmp_path, monkeypatch):
    """Replace the verb table with verbs from a module written for the test."""
    (tmp_path / "roost_test_verbs.py").write_text(textwrap.dedent(VERB_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "roost_test_verbs", raising=False)
    verbs = {
        "echo": cli.Verb("roost_test_verbs:echo", "print the arguments"),
        "job fail": cli.Verb("roost_test_verbs:fail", "fail as expected"),
        "job crash": cli.Verb("roost_test_verbs:crash", "fail unexpectedly"),
        "interrupt": cli.Verb("roost_test_verbs:interrupt", "be interrupted"),
    }
    monkeypatch.setattr(cli, "VERBS", verbs)
    monkeypatch.setenv("ROOST_HOME", str(tmp_path / "home"))


def modules_imported_by(*args: str) -> set[str]:
    """The modules a fresh interpreter has imported after running `roost ARGS`."""
    script = textwrap.dedent(
        """
        import contextlib, io, sys
        from roost.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            status = main(sys.argv[1:])
        assert status == 0, status
        print("\\n".join(sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


def heavy(modules: set[str]) -> list[str]:
    return sorted(
        name
        for name in modules
        if any(name == prefix or name.startswith(prefix + ".") for prefix in HEAVY_MODULES)
    )


def test_help_lists_the_verbs(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: roost")
    assert "classad eval" in out
    assert cli.main(["-h"]) == 0
    assert capsys.readouterr().out == out


def test_version(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"roost {roost.__version__}\n"


def test_no_arguments_prints_usage_and_exits_2(capsys):
    assert cli.main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"{cli.USAGE}\n"


def test_unknown_verb_is_one_line_and_exits_2(capsys):
    assert cli.main(["frobnicate", "--now"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "roost: unknown verb 'frobnicate' (see 'roost --help')\n"


def test_unknown_option_exits_2(capsys):
    assert cli.main(["--frobnicate"]) == 2
    assert capsys.readouterr().err == "roost: unknown option '--frobnicate' (see 'roost --help')\n"


def test_group_without_its_sub_verb_names_the_choices(capsys):
    assert cli.main(["classad"]) == 2
    assert capsys.readouterr().err == "roost: 'roost classad' needs one of: eval\n"


def test_unknown_sub_verb_names_the_choices(capsys):
    assert cli.main(["classad", "frob", "1"]) == 2
    assert (
        capsys.readouterr().err == "roost: unknown verb 'roost classad frob' (choose from: eval)\n"
    )


def test_verb_gets_the_arguments_after_it_and_its_status_is_returned(test_verbs, capsys):
    assert cli.main(["echo", "a", "--b"]) == 7
    assert capsys.readouterr().out == "a --b\n"


def test_expected_error_is_one_line_and_exits_1(test_verbs, capsys):
    assert cli.main(["job", "fail"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "roost: the ad has no Requirements\n"


def test_keyboard_interrupt_exits_130(test_verbs, capsys):
    assert cli.main(["interrupt"]) == 130
    assert capsys.readouterr().err == "roost: interrupted\n"


def test_unexpected_error_exits_3_with_the_traceback_in_the_log(test_verbs, tmp_path, capsys):
    assert cli.main(["job", "crash", "--flag"]) == 3
    log = tmp_path / "home" / "log" / "cli.log"
    err = capsys.readouterr().err
    assert err == f"roost: unexpected error (RuntimeError: boom); traceback in {log}\n"
    text = log.read_text()
    assert "roost job crash --flag\n" in text
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: boom" in text


def test_unexpected_error_goes_to_stderr_when_the_log_cannot_be_written(
    test_verbs, tmp_path, monkeypatch, capsys
):
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    monkeypatch.setenv("ROOST_HOME", str(not_a_directory))
    assert cli.main(["job", "crash"]) == 3
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "RuntimeError: boom" in err
    assert err.splitlines()[-1].startswith("roost: unexpected error; could not write the log ")


def test_help_imports_nothing_heavy():
    modules = modules_imported_by("--help")
    assert heavy(modules) == []
    assert "roost.classad_eval" not in modules


def test_verb_help_imports_only_its_own_module():
    modules = modules_imported_by("classad", "eval", "--help")
    assert "roost.classad_eval" in modules
    assert heavy(modules) == []


def test_console_script_and_python_m_run_the_dispatcher():
    script = Path(sys.executable).with_name("roost")
    for command in ([str(script)], [sys.executable, "-m", "roost"]):
        result = subprocess.run(
            [*command, "--version"], capture_output=True, text=True, check=False
        )
        assert (result.returncode, result.stdout) == (0, f"roost {roost.__version__}\n")
        result = subprocess.run([*command, "frob"], capture_output=True, text=True, check=False)
        assert (result.returncode, result.stderr) == (
            2,
            "roost: unknown verb 'frob' (see 'roost --help')\n",
        )


def test_a_reader_that_goes_away_is_not_an_error(tmp_path):
    script = (
        "import sys\n"
        "from roost import cli\n"
        "def flood(argv):\n"
        "    for i in range(200_000):\n"
        "        print('line', i)\n"
        "    return 0\n"
        "cli.VERBS['flood'] = cli.Verb('__main__:flood', 'much output')\n"
        "sys.exit(cli.main(['flood']))\n"
    )
    (tmp_path / "flood.py").write_text(script)
    done = subprocess.run(
        f"{sys.executable} {tmp_path / 'flood.py'} | head -n 1; exit ${{PIPESTATUS[0]}}",
        shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=60,
        env={**os.environ, "ROOST_HOME": str(tmp_path)},
    )
    assert done.stdout == "line 0\n"
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
