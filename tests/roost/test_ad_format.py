"""``roost.ad_format``: values as text, HTCondor's times and dates, print-mask tables and
the whole-ad forms (-af, -long, -json) that ``roost status``, ``q`` and ``history`` share."""

import json
import time

import classad
from classad import ClassAd, ExprTree
from roost import ad_format as fmt


def test_format_time_divides_as_c_does():
    assert fmt.format_time(0) == "  0+00:00:00"
    assert fmt.format_time(86400 * 12 + 3600 * 5 + 61) == " 12+05:01:01"
    assert fmt.format_time(-61) == "  0+00:-1:-1"


def test_format_date_is_local_month_day_hour_minute(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert fmt.format_date(0) == " 1/1  00:00"
        assert fmt.format_date(1_700_000_000) == "11/14 22:13"
    finally:
        monkeypatch.undo()
        time.tzset()
    assert fmt.format_date(-1) == "    ???    "


def test_natural_key_compares_digit_runs_as_numbers():
    names = ["slot10", "slot2", "slot1_10", "slot1_2", "a"]
    assert sorted(names, key=fmt.natural_key) == ["a", "slot1_2", "slot1_10", "slot2", "slot10"]


def test_table_lines_lay_columns_out_as_print_masks_do():
    columns = [
        fmt.Column("ID", 4, lambda row: row[0]),
        fmt.Column("/X", 2, lambda row: row[1], left=True, prefix=False),
        fmt.Column("NAME", 6, lambda row: row[2], left=True, grow=False, missing="??"),
        fmt.Column("CUT", 3, lambda row: row[3], truncate=True),
        fmt.Column("LAST", 0, lambda row: row[4], missing=""),
    ]
    rows = [("1", "a", "bob", "12345", "free text"), ("12345", "b", "a-long-name", None, None),
            ("7", "c", None, "1", "x")]
    assert fmt.table_lines(rows, columns) == [
        "ID   /X NAME   CUT LAST",
        "    1a  bob    123 free text",
        "12345b  a-long-name [?] ",
        "    7c  ??       1 x",
    ]
    assert fmt.fit_to_terminal(["abcdef", ""], 4) == ["abc", ""]
    assert fmt.fit_to_terminal(["abcdef"], 0) == ["abcdef"]


def test_references_are_the_ads_own_attributes():
    exprs = [ExprTree("Memory / 1024"), ExprTree("TARGET.Cpus + Disk"), ExprTree("1")]
    assert fmt.references(exprs) == {"Memory", "Disk"}


def test_autoformat_prints_values_as_percent_v_does():
    ad = ClassAd({"Name": "slot1@x", "Memory": 2048, "Load": 0.5, "Up": True,
                  "Disks": ExprTree('{ 1, "a" }'), "Twice": ExprTree("Memory * 2")})
    exprs = [ExprTree(t) for t in ("Name", "Memory", "Load", "Up", "Disks", "Twice",
                                   "Missing", "Memory / 1024.0", 'Name == "x" ? 1 : error')]
    assert fmt.autoformat([ad], exprs) == (
        'slot1@x 2048 0.5 true { 1,"a" } 4096 undefined 2.0 error\n')


def test_long_form_sorts_attributes_and_ends_each_ad_with_a_blank_line():
    ads = [ClassAd({"b": 1, "Name": "x", "a": ExprTree("b + 1")}), ClassAd({"Name": "y"})]
    assert fmt.long_form(ads) == 'a = b + 1\nb = 1\nName = "x"\n\nName = "y"\n\n'


def test_json_form_writes_htcondor_json():
    ad = ClassAd({"Name": "slot1@x", "Memory": 2048, "Requirements": ExprTree("Memory > 10"),
                  "Gone": classad.Value.Undefined, "Bad": classad.Value.Error,
                  "List": ExprTree('{ 1, 2.5, "s" }'), "Refs": ExprTree("{ Memory, 1 }"),
                  "Nested": ExprTree("[ x = 1; y = { 2 } ]"), "Path": "a/b\\c"})
    text = fmt.json_form([ad, ClassAd({"Name": "slot2@x"})])
    assert text.startswith("[\n{\n  ") and "\n}\n,\n{\n" in text and text.endswith("}\n]\n")
    assert '"Requirements": "\\/Expr(Memory > 10)\\/"' in text
    assert '"Bad": "\\/Expr(error)\\/"' in text
    first, second = json.loads(text)
    assert list(first) == sorted(first, key=str.lower)
    assert first["Gone"] is None
    assert first["List"] == [1, 2.5, "s"]
    assert first["Refs"] == "/Expr({ Memory,1 })/"
    assert first["Nested"] == {"x": 1, "y": [2]}
    assert first["Path"] == "a/b\\c"
    assert second == {"Name": "slot2@x"}
    back = classad.parse_json_ads(text)
    assert back[0].lookup("Requirements") == ad.lookup("Requirements")
    assert fmt.json_form([]) == ""
