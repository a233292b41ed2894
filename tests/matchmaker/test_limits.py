"""Concurrency limits: parsing, capacities, counting matches in a cycle."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matchmaker.limits import (
    UNLIMITED,
    Limits,
    LimitUse,
    matched_text,
    parse_limits,
    tally,
)


def test_parse_the_manuals_example():
    assert parse_limits("XSW, DATABASE, FILESERVER:3") == (
        LimitUse("xsw"), LimitUse("database"), LimitUse("fileserver", 3.0))


def test_parse_separators_sets_and_fractions():
    assert parse_limits(" large.SwLicense  db:0.5,,x_1\tY ") == (
        LimitUse("large.swlicense"), LimitUse("db", 0.5), LimitUse("x_1"), LimitUse("y"))
    assert parse_limits("") == ()
    assert parse_limits(" , ") == ()


@pytest.mark.parametrize("text", [
    "a.b.c", "1abc", ".a", "a.", "a-b", "a:", "a:x", "a:0", "a:-1", "a:nan", "a:inf",
    "a:1:2", "é", "a.1b",
])
def test_parse_refuses_malformed_items(text):
    with pytest.raises(ValueError, match="concurrency limit") as info:
        parse_limits(f"ok, {text}")
    assert "\n" not in str(info.value)


def test_named_limit():
    limits = Limits({"XSW": 3})
    for _ in range(3):
        assert limits.allows("xsw")
        limits.take("xsw")
    verdict = limits.allows("XSW")
    assert not verdict and verdict.limit == "xsw"
    assert verdict.reason == "concurrency limit xsw reached: 3 of 3 in use, the job needs 1"
    assert limits.in_use("Xsw") == 3


def test_no_limit_and_no_default_is_unlimited():
    # negotiator.rst, CONCURRENCY_LIMIT_DEFAULT: "If not defined, no limits are set".
    limits = Limits({})
    assert limits.capacity("anything") == UNLIMITED
    limits.take("anything:1000000000")
    assert limits.allows("anything:1000000000")


def test_default_applies_to_names_without_their_own_limit():
    # HTCondor's test_concurrency_limits.py: CONCURRENCY_LIMIT_DEFAULT = 2 and
    # "UNDEFINED:2" let one job run at a time.
    limits = Limits({"xsw": 10}, default=2)
    assert limits.allows("UNDEFINED:2")
    limits.take("UNDEFINED:2")
    assert not limits.allows("UNDEFINED:2")
    assert not limits.allows("undefined")
    assert limits.allows("xsw:10")


def test_set_defaults_of_the_manual():
    limits = Limits({}, default=5, set_defaults={"LARGE": 100, "SMALL": 25})
    assert limits.capacity("LARGE.SWLICENSE") == 100
    assert limits.capacity("large.dbsession") == 100
    assert limits.capacity("small.x") == 25
    assert limits.capacity("OTHER.LICENSE") == 5
    assert limits.capacity("large") == 5  # a name without "." is not in a set


def test_named_limit_beats_set_default():
    limits = Limits({"license.west": 45}, default=15, set_defaults={"license": 30})
    assert limits.capacity("license.west") == 45
    assert limits.capacity("license.north") == 30


def test_every_limit_of_a_job_must_fit():
    limits = Limits({"a": 1, "b": 1}, in_use={"B": 1})
    verdict = limits.allows("a, b")
    assert not verdict and verdict.limit == "b"
    assert limits.allows("a")


def test_weights_and_repeated_names_add_up():
    limits = Limits({"db": 4})
    assert limits.allows("db:3")
    assert not limits.allows("db:3, db:2")
    limits.take([LimitUse("db", 3)])
    assert not limits.allows("db:2")
    assert limits.allows("db")


def test_negative_count_refuses():
    limits = Limits({}, in_use={"db": -1})
    verdict = limits.allows("db")
    assert not verdict and "below 0" in verdict.reason


def test_tally_from_running_jobs_skips_malformed_items():
    counts = tally(["xsw, db:2", "XSW", "bad.name.here, db", ""])
    assert counts == {"xsw": 2, "db": 3}
    limits = Limits({"xsw": 2}, in_use=counts)
    assert not limits.allows("xsw")


def test_matched_text_is_lower_cased():
    assert matched_text("XSW, DATABASE, FILESERVER:3") == "xsw, database, fileserver:3"
    assert Limits.matched_text("Db:2") == "db:2"
    assert matched_text([LimitUse("a"), LimitUse("b", 2.5)]) == "a,b:2.5"
    with pytest.raises(ValueError):
        matched_text("a.b.c")


def test_from_config():
    limits = Limits.from_config({
        "XSW_LIMIT": 3, "concurrency_limit_default": "15",
        "CONCURRENCY_LIMIT_DEFAULT_license": 30, "license.west_LIMIT": 45,
        "negotiator_interval": 20, "unset_LIMIT": None})
    assert limits.capacity("xsw") == 3
    assert limits.capacity("license.west") == 45
    assert limits.capacity("license.east") == 30
    assert limits.capacity("other") == 15
    assert limits.capacity("unset") == 15


@pytest.mark.parametrize(("build", "key"), [
    (lambda: Limits({"xsw": -1}), "xsw_LIMIT"),
    (lambda: Limits({"a.b.c": 1}), "a.b.c_LIMIT"),
    (lambda: Limits({"xsw": "lots"}), "xsw_LIMIT"),
    (lambda: Limits({}, default=True), "CONCURRENCY_LIMIT_DEFAULT"),
    (lambda: Limits({}, set_defaults={"a.b": 1}), "CONCURRENCY_LIMIT_DEFAULT_a.b"),
    (lambda: Limits.from_config({"XSW_LIMIT": "x"}), "XSW_LIMIT"),
    (lambda: Limits.from_config({"bad-name_LIMIT": 1}), "bad-name_LIMIT"),
    (lambda: Limits.from_config({"CONCURRENCY_LIMIT_DEFAULT": -2}), "CONCURRENCY_LIMIT_DEFAULT"),
])
def test_bad_config_names_the_key(build, key):
    with pytest.raises(ValueError, match=f"^{key}: ") as info:
        build()
    assert "\n" not in str(info.value)


NAMES = st.sampled_from(["a", "b", "s.x", "s.y", "t.z"])
JOBS = st.lists(st.tuples(NAMES, st.sampled_from([1, 1, 2, 0.5])), min_size=0, max_size=3)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(NAMES, st.sampled_from([0, 1, 2, 5])),
       st.one_of(st.none(), st.sampled_from([0, 1, 3])),
       st.dictionaries(st.sampled_from(["s", "t"]), st.sampled_from([0, 2, 4])),
       st.lists(JOBS, max_size=30))
def test_counts_never_pass_a_limit(config, default, set_defaults, jobs):
    limits = Limits(config, default, set_defaults)
    for job in jobs:
        text = ", ".join(f"{name}:{weight}" for name, weight in job)
        verdict = limits.allows(text)
        if verdict:
            limits.take(text)
        else:
            assert verdict.limit is not None and verdict.reason
    for name in ["a", "b", "s.x", "s.y", "t.z"]:
        assert limits.in_use(name) <= limits.capacity(name)
        if limits.capacity(name) == math.inf:
            assert default is None
