"""Reading and writing ads: both syntaxes, streams, JSON, and the ClassAd mapping."""

import datetime

import pytest

import classad
from classad import ClassAd, ClassAdSyntaxError, ExprTree, Value

OLD = """\
# a job
ClusterId = 12
Owner = "alice"
Requirements = TARGET.Memory >= RequestMemory
RequestMemory = 2048

ClusterId = 13
Owner = "bob"
"""


def test_old_syntax_stream():
    ads = list(classad.parse_ads(OLD))
    assert [ad["ClusterId"] for ad in ads] == [12, 13]
    assert ads[0]["owner"] == "alice"
    assert isinstance(ads[0]["Requirements"], ExprTree)
    assert list(ads[0]) == ["ClusterId", "Owner", "Requirements", "RequestMemory"]


def test_new_syntax_stream_with_comments():
    text = "// first\n[ a = 1; b = { 1, [ c = \"x\" ] } ]\n/* second */ [ ; a = 2 ;; ]"
    ads = list(classad.parse_ads(text))
    assert [ad["a"] for ad in ads] == [1, 2]
    assert ads[0].eval("b")[1].eval("c") == "x"


def test_bad_old_file_is_refused_whole_with_its_position():
    text = "A = 1\nB = 2\n\nC = 3 +\nD = 4\n"
    with pytest.raises(ClassAdSyntaxError) as info:
        list(classad.parse_ads(text))
    assert (info.value.line, info.value.column) == (4, 8)
    with pytest.raises(ClassAdSyntaxError) as info:
        list(classad.parse_ads("A = 1\nthis is not an assignment\n"))
    assert info.value.line == 2


def test_parse_one_and_constructor():
    assert classad.parse_one("[ a = 1 ]") == ClassAd({"a": 1})
    assert ClassAd("a = 1\nb = a + 1").eval("b") == 2
    with pytest.raises(ClassAdSyntaxError):
        classad.parse_one("[ a = 1 ] [ b = 2 ]")
    assert len(classad.parse_one("")) == 0


def test_mapping_behaviour():
    ad = ClassAd()
    ad["Memory"] = 2048
    ad["Name"] = "slot1@host"
    ad["Req"] = ExprTree("MEMORY > 1024")
    ad["Times"] = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    ad["Missing"] = Value.Undefined
    ad["L"] = [1, "a", {"x": 2}]
    assert "memory" in ad and "MEMORY" in ad
    assert ad.eval("req") is True
    assert ad.eval("Times") == datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    assert ad["missing"] is Value.Undefined
    assert ad.eval("L")[2].eval("x") == 2
    ad["memory"] = 10
    assert list(ad)[0] == "Memory"  # the name as first written, as HTCondor keeps it
    assert ad.eval("req") is False
    del ad["REQ"]
    assert "Req" not in ad
    with pytest.raises(KeyError):
        ad["nope"]
    assert ad.eval("nope") is Value.Undefined


def test_nested_ad_values_copy_on_write():
    outer = ClassAd("[ inner = [ x = 1 ] ]")
    first = outer.eval("inner")
    first["x"] = 2
    assert outer.eval("inner")["x"] == 1


def test_print_old_and_new_round_trip():
    ad = ClassAd('[ a = 1; b = "q\\"uote"; c = a + 2.5; d = { 1, "x" }; e = [ f = 1 ] ]')
    assert classad.parse_one(ad.print_old()) == ad
    assert ClassAd(repr(ad)) == ad
    assert ClassAd(str(ad)) == ad
    assert repr(ClassAd()) == "[  ]"


def test_json_round_trip():
    ad = ClassAd('[ a = 1; b = "s"; c = a + 1; d = undefined; e = { 1, 2.5 }; f = [ g = true ];'
                 ' t = absTime("2020-01-01T00:00:00Z") ]')
    text = ad.print_json()
    assert '"c": "\\/Expr(a + 1)\\/"' in text
    assert '"d": null' in text
    (back,) = classad.parse_json_ads(text)
    assert back.eval("c") == 2
    assert back.eval("t") == ad.eval("t")
    assert [list(x) for x in classad.parse_ads(text, parser="json")] == [list(ad)]


def test_camel_case_aliases():
    job = ClassAd("[ Requirements = TARGET.x == 1 ]")
    slot = ClassAd("[ x = 1; Requirements = true ]")
    assert job.symmetricMatch(slot) is True
    assert classad.parseOne("a = 1").printOld() == "a = 1\n"
    assert job.externalRefs(job.lookup("Requirements")) == ["TARGET.x"]
    assert list(classad.parseAds("a = 1\n\na = 2"))[1]["a"] == 2


def test_simplify_keeps_classad_types():
    assert str(ExprTree("relTime(90) + relTime(0)").simplify()) == 'relTime("01:30")'
    # A relTime("...") literal evaluates to a real, as HTCondor's does, and real + relative
    # time is an error there.
    assert str(ExprTree('relTime("1:30") + relTime(0)').simplify()) == "error"
    assert str(ExprTree("{ 1, 1 + 1 }").simplify()) == "{ 1,2 }"


def test_print_old_writes_a_shared_expression_once_for_all_the_copies():
    base = classad.parse_one('[a = 1 + x; b = "s"; c = {1, [d = 2]}]', "new")
    copies = [base.copy() for _ in range(3)]
    copies[1]["b"] = "other"
    copies[2]["e"] = classad.ExprTree("a * 2")
    lines: dict = {}
    assert [ad.print_old(lines) for ad in copies] == [ad.print_old() for ad in copies]
    # One line for each expression: the shared three, and the two that differ.
    assert len(lines) == 5
