"""``roost status``: condor_status's layouts on hand-built ads, its options in both
spellings, and the whole command against a real collector on 127.0.0.1."""

import json
import socket
import subprocess
import sys
import textwrap
from concurrent import futures

import grpc
import pytest

import classad
from classad import ClassAd, ExprTree
from matchmaker import status_format as fmt
from matchmaker.collector import AdStore
from matchmaker.collector_service import METHOD_SCOPES, CollectorService, add_to_server
from matchmaker.status_cli import Options, parse_command_line
from roost import cli, security
from roost.client import Collector
from roost.config import load_config
from roost.errors import UsageError

NOW = 1_000_000  # the collector's clock in the end-to-end tests: every LastHeardFrom


def slot(name, state="Unclaimed", activity="Idle", memory=2048, load=0.0, arch="X86_64",
         opsys="LINUX", idle_for=3723, **extra):
    """A slot ad as a startd advertises it, heard from at NOW."""
    machine = name.partition("@")[2]
    return ClassAd({
        "Name": name, "Machine": machine, "MyType": "Machine", "OpSys": opsys, "Arch": arch,
        "State": state, "Activity": activity, "CondorLoadAvg": load, "LoadAvg": load + 0.25,
        "Memory": memory, "Cpus": 1, "Disk": 1_000_000,
        "EnteredCurrentActivity": NOW - idle_for, "EnteredCurrentState": NOW - idle_for,
        "Start": True, "Requirements": ExprTree("START && TARGET.RequestMemory <= Memory"),
        "LastHeardFrom": NOW, **extra,
    })


def pool_slots():
    return [
        slot("slot10@node1.example.org"),
        slot("slot2@node1.example.org", "Claimed", "Busy", 512, 1.05, idle_for=59),
        slot("slot1@node1.example.org", idle_for=86400 * 3 + 5),
        slot("slot1@node2.example.org", "Owner", memory=123456, arch="aarch64"),
    ]


SLOT_TABLE = """\
Name               OpSys      Arch   State     Activity LoadAv Mem     ActvtyTime

slot1@node1.exampl LINUX      X86_64 Unclaimed Idle      0.000   2048  3+00:00:05
slot2@node1.exampl LINUX      X86_64 Claimed   Busy      1.050    512  0+00:00:59
slot10@node1.examp LINUX      X86_64 Unclaimed Idle      0.000   2048  0+01:02:03
slot1@node2.exampl LINUX      aarch6 Owner     Idle      0.000 123456  0+01:02:03
"""

SLOT_TOTALS = """\

               Total Owner Claimed Unclaimed Matched Preempting  Drain Backfill BkIdle

  X86_64/LINUX     3     0       1         2       0          0      0        0      0
 aarch64/LINUX     1     1       0         0       0          0      0        0      0

         Total     4     1       1         2       0          0      0        0      0
"""


# -- layouts on hand-built ads --------------------------------------------------------------


def test_slot_table_and_totals_as_condor_status_prints_them():
    ads = fmt.sort_ads(pool_slots())
    assert fmt.render(ads, fmt.VIEWS["Machine"]) == SLOT_TABLE + SLOT_TOTALS
    assert fmt.render(ads, fmt.VIEWS["Machine"], totals_only=True) == SLOT_TOTALS
    assert fmt.render([], fmt.VIEWS["Machine"]) == ""


def test_sorted_by_machine_then_name_with_numbers_compared_as_numbers():
    names = ["slot1@b", "slot10@a", "slot9@a", "slot1_2@a", "slot1@a", "slot1_10@a"]
    ads = fmt.sort_ads(ClassAd({"Name": n, "Machine": n.partition("@")[2]}) for n in names)
    assert [ad["Name"] for ad in ads] == [
        "slot1@a", "slot1_2@a", "slot1_10@a", "slot9@a", "slot10@a", "slot1@b"]


def test_a_wide_terminal_fits_the_name_column_and_cuts_lines():
    ads = fmt.sort_ads(pool_slots())
    lines = fmt.table(ads, fmt.VIEWS["Machine"], terminal_width=120).splitlines()
    assert lines[0].startswith("Name                     OpSys ")
    assert lines[2].startswith("slot1@node1.example.org  LINUX ")
    narrow = fmt.table(ads, fmt.VIEWS["Machine"], terminal_width=60).splitlines()
    assert {len(line) for line in narrow if line} == {59}
    assert narrow[2] == SLOT_TABLE.splitlines()[2][:59]


def test_missing_values_fill_their_column_and_odd_ads_are_counted_as_malformed():
    ads = [
        ClassAd({"Name": "slot1@x", "OpSys": "LINUX", "Arch": "X86_64", "State": "Weird"}),
        ClassAd({"Name": "slot2@x", "State": "Unclaimed"}),
    ]
    assert fmt.render(ads, fmt.VIEWS["Machine"]) == textwrap.dedent("""\
        Name               OpSys      Arch   State     Activity LoadAv Mem   ActvtyTime

        slot1@x            LINUX      X86_64 Weird     [??????] [????] [??]   [Unknown]
        slot2@x            [????????] [????] Unclaimed [??????] [????] [??]   [Unknown]

                       Total Owner Claimed Unclaimed Matched Preempting  Drain Backfill BkIdle

          X86_64/LINUX     0     0       0         0       0          0      0        0      0

                 Total     0     0       0         0       0          0      0        0      0

                      (Omitted 2 malformed ads in computed attribute totals)

        """)


def test_schedd_and_submitter_tables():
    schedds = [ClassAd({"Name": "schedd@submit-host-1.example.org", "Machine": "submit-host-1",
                        "TotalRunningJobs": 3, "TotalIdleJobs": 40, "TotalHeldJobs": 1})]
    assert fmt.render(schedds, fmt.VIEWS["Scheduler"]) == (
        "Name                             Machine       RunningJobs   IdleJobs   HeldJobs\n"
        "\n"
        "schedd@submit-host-1.example.org submit-host-1           3         40          1\n"
        "\n"
        "                TotalRunningJobs      TotalIdleJobs      TotalHeldJobs\n"
        "\n"
        "              \n"
        "         Total                 3                 40                  1\n")
    submitters = [
        ClassAd({"Name": n, "Machine": "sub", "RunningJobs": r, "IdleJobs": i, "HeldJobs": 0})
        for n, r, i in (("bob@pool", 1, 2), ("alice@pool", 5, 0))
    ]
    assert fmt.render(fmt.sort_ads(submitters), fmt.VIEWS["Submitter"]) == (
        "Name            Machine      RunningJobs   IdleJobs   HeldJobs\n"
        "\n"
        "alice@pool      sub                    5          0          0\n"
        "bob@pool        sub                    1          2          0\n"
        "\n"
        "          RunningJobs   IdleJobs   HeldJobs\n"
        "\n"
        "alice@pool          5          0          0\n"
        "  bob@pool          1          2          0\n"
        "\n"
        "     Total          6          2          0\n")


# -- the command line -----------------------------------------------------------------------


@pytest.mark.parametrize("args, expected", [
    (["-long"], Options(style="long")),
    (["--long"], Options(style="long")),
    (["-l"], Options(style="long")),
    (["-json"], Options(style="json")),
    (["--json"], Options(style="json")),
    (["-af", "Name", "Memory"], Options(style="af", attrs=["Name", "Memory"])),
    (["--af", "Name", "-", "-total"], None),
    (["-autoformat", "Name", "--schedd"],
     Options(style="af", attrs=["Name"], ad_type="Scheduler")),
    (["-constraint", "Memory > 1", "--const", "Cpus > 1"],
     Options(constraints=["Memory > 1", "Cpus > 1"])),
    (["-total"], Options(totals_only=True)),
    (["--total"], Options(totals_only=True)),
    (["-schedd"], Options(ad_type="Scheduler")),
    (["--sc"], Options(ad_type="Scheduler")),
    (["-submitters"], Options(ad_type="Submitter")),
    (["--submitters"], Options(ad_type="Submitter")),
    (["-collector"], Options(ad_type="Collector")),
    (["--collector", "-startd"], Options(ad_type="Machine")),
    (["-pool", "cm:9618"], Options(pool="cm:9618")),
    (["--pool", "cm:9618", "-limit", "5"], Options(pool="cm:9618", limit=5)),
    (["--limit", "0"], Options()),
    (["-help"], Options(help=True)),
    (["--help"], Options(help=True)),
    (["-h"], Options(help=True)),
])
def test_options_in_both_spellings(args, expected):
    if expected is None:
        with pytest.raises(UsageError, match="-total"):
            parse_command_line(args)
    else:
        assert parse_command_line(args) == expected


@pytest.mark.parametrize("args, message", [
    (["-frob"], "unknown option '-frob'"),
    (["-c", "x"], "unknown option '-c'"),
    (["node1"], "unexpected argument 'node1'"),
    (["-af"], "-af needs at least one attribute"),
    (["-af", "-long"], "-af needs at least one attribute"),
    (["-af:h", "Name"], "qualifiers are not supported"),
    (["-constraint"], "-constraint needs a value"),
    (["-limit", "many"], "whole number"),
    (["-long", "-total"], "cannot go with -long"),
])
def test_bad_command_lines(args, message):
    with pytest.raises(UsageError, match=message):
        parse_command_line(args)


def test_help_is_instant_it_imports_neither_grpc_nor_classad():
    script = textwrap.dedent("""
        import contextlib, io, sys
        from roost.cli import main
        with contextlib.redirect_stdout(io.StringIO()) as out:
            assert main(["status", "--help"]) == 0
        assert out.getvalue().startswith("usage: roost status")
        print("\\n".join(sys.modules))
        """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    heavy = {"classad", "grpc", "google.protobuf", "ply", "roost.client"}
    assert heavy.isdisjoint(result.stdout.split())


# -- end to end, against a real collector ---------------------------------------------------


@pytest.fixture
def pool(tmp_path, monkeypatch):
    """A collector on 127.0.0.1 holding a small pool's ads, and a ROOST_HOME whose token
    the command presents; yields the collector's address and its service."""
    key = security.SigningKey.load_or_create(tmp_path / "pool.key")
    service = CollectorService(AdStore(), clock=lambda: float(NOW))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                         interceptors=[security.AuthInterceptor(key, METHOD_SCOPES)])
    add_to_server(service, server)
    address = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
    server.start()
    home = tmp_path / "home"
    monkeypatch.setenv("ROOST_HOME", str(home))
    monkeypatch.delenv("ROOST_CONFIG", raising=False)
    security.write_token(security.local_token_path(home),
                         security.create_token(key, "alice@pool", ["read"], 3600))
    config = load_config(env={"ROOST_HOME": str(home)})

    def advertise(identity, scope, ads, ad_type):
        token = security.create_token(key, identity, [scope], 3600)
        with Collector(address, token, config=config, timeout=5) as collector:
            collector.advertise(ads, ad_type)

    for host in ("node1.example.org", "node2.example.org"):
        mine = [ad for ad in pool_slots() if ad["Machine"] == host]
        advertise(f"startd@{host}", "advertise-startd", mine, "Machine")
    advertise("schedd@submit", "advertise-schedd", [ClassAd({
        "Name": "schedd@submit", "Machine": "submit", "TotalRunningJobs": 1,
        "TotalIdleJobs": 2, "TotalHeldJobs": 0})], "Scheduler")
    yield address, service
    server.stop(None)


def status(capsys, address, *args):
    """``roost status -pool ADDRESS ARGS``: exit status, standard output and error."""
    code = cli.main(["status", "-pool", address, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_status_shows_the_pool(pool, capsys):
    address, _ = pool
    assert status(capsys, address) == (0, SLOT_TABLE + SLOT_TOTALS, "")
    assert status(capsys, address, "-total") == (0, SLOT_TOTALS, "")


def test_autoformat_and_constraint(pool, capsys):
    address, _ = pool
    assert status(capsys, address, "-af", "Name", "Memory") == (0, (
        "slot1@node1.example.org 2048\nslot2@node1.example.org 512\n"
        "slot10@node1.example.org 2048\nslot1@node2.example.org 123456\n"), "")
    assert status(capsys, address, "--constraint", "Memory > 1024", "-const", 'State != "Owner"',
                  "--af", "Name") == (0, "slot1@node1.example.org\nslot10@node1.example.org\n", "")
    assert status(capsys, address, "-constraint", "false") == (0, "", "")
    code, text, _ = status(capsys, address, "-limit", "2", "-af", "Name")
    assert code == 0 and len(text.splitlines()) == 2


def test_only_the_shown_attributes_travel(pool, capsys, monkeypatch):
    address, _ = pool
    asked = []
    query = Collector.query

    def spy(self, *args):
        ads = query(self, *args)
        asked.append((args[2], {name for ad in ads for name in ad}))
        return ads

    monkeypatch.setattr(Collector, "query", spy)
    status(capsys, address, "-af", "Memory / 1024", "Name")
    status(capsys, address)
    status(capsys, address, "-long")
    (af, af_got), (table, table_got), (long, long_got) = asked
    assert af == ["Machine", "Memory", "Name"] and af_got == set(af)
    assert table == fmt.VIEWS["Machine"].attrs() and table_got <= set(table)
    assert long == [] and "Requirements" in long_got


def test_long_and_json_round_trip(pool, capsys):
    address, service = pool
    code, text, _ = status(capsys, address, "-long")
    assert code == 0 and text.endswith("\n\n")
    from_long = list(classad.parse_ads(text))
    stored = {s.name: s.ad for s in service.store.select("Machine")}
    assert [ad["Name"] for ad in from_long] == [
        "slot1@node1.example.org", "slot2@node1.example.org", "slot10@node1.example.org",
        "slot1@node2.example.org"]
    for ad in from_long:
        assert ad == stored[ad["Name"]]
    code, text, _ = status(capsys, address, "-json")
    assert code == 0
    from_json = json.loads(text)
    assert [ad["Name"] for ad in from_json] == [ad["Name"] for ad in from_long]
    assert from_json[0]["Requirements"] == "/Expr(START && TARGET.RequestMemory <= Memory)/"
    assert from_json[0]["LastHeardFrom"] == NOW
    assert classad.parse_json_ads(text) == from_long


def test_schedd_view(pool, capsys):
    address, _ = pool
    assert status(capsys, address, "-schedd") == (0, (
        "Name            Machine      RunningJobs   IdleJobs   HeldJobs\n"
        "\n"
        "schedd@submit   submit                 1          2          0\n"
        "\n"
        "                TotalRunningJobs      TotalIdleJobs      TotalHeldJobs\n"
        "\n"
        "              \n"
        "         Total                 1                  2                  0\n"), "")
    assert status(capsys, address, "-submitters") == (0, "", "")


def test_a_bad_expression_is_one_line_and_never_sent(pool, capsys):
    address, service = pool
    queries = service.store.stats.queries
    assert status(capsys, address, "-constraint", "Memory >") == (
        1, "", "roost: constraint:1:9: unexpected end of input\n")
    assert status(capsys, address, "-af", "Name", "Memory *") == (
        1, "", "roost: af:1:9: unexpected end of input\n")
    assert service.store.stats.queries == queries


def test_an_unreachable_collector_is_one_line(tmp_path, monkeypatch, capsys):
    with socket.socket() as probe:  # a port that was free a moment ago, and is closed
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("ROOST_HOME", str(tmp_path))
    security.write_token(security.local_token_path(tmp_path), "any.token.text")
    assert status(capsys, address) == (
        1, "", f"roost: cannot reach the collector at {address} (is the pool up?)\n")
