"""The collector's ad store, driven with plain calls and a fake clock."""

import pytest

import classad
from classad import ClassAd, ExprTree
from matchmaker.collector import MACHINE, SCHEDULER, AdError, AdStore


def slot(name: str, **attrs) -> tuple[ClassAd, list]:
    ad = ClassAd({"Name": name, "OpSys": "LINUX", "Memory": 1024, **attrs})
    return ad, classad.ad_to_pairs(ad)


def test_update_replaces_and_stamps():
    store = AdStore()
    store.update(MACHINE, *slot("slot1@a"), now=100, identity="startd@a")
    stored = store.update(MACHINE, *slot("SLOT1@A", Memory=2048), now=160, identity="startd@a")
    assert len(store) == 1
    assert stored.ad.eval("Memory") == 2048
    assert stored.ad.eval("LastHeardFrom") == 160
    assert stored.ad.eval("UpdatesTotal") == 2
    assert stored.ad.eval("AuthenticatedIdentity") == "startd@a"
    assert stored.ad.eval("MyType") == "Machine"
    wire = dict(stored.wire)
    assert wire["LastHeardFrom"] == "160" and wire["Memory"] == "2048"
    assert classad.ad_from_pairs(stored.wire) == stored.ad


def test_ads_of_different_types_with_one_name_are_apart():
    store = AdStore()
    store.update(MACHINE, *slot("x@a"), now=0)
    store.update(SCHEDULER, *slot("x@a"), now=0)
    assert store.counts() == {"Machine": 1, "Scheduler": 1}


def test_expire_by_lifetime():
    store = AdStore(default_lifetime=900)
    store.update(MACHINE, *slot("slot1@a"), now=0)
    store.update(MACHINE, *slot("slot2@a", ClassAdLifetime=60), now=0)
    assert [s.name for s in store.expire(now=61)] == ["slot2@a"]
    assert store.expire(now=900) == []
    assert [s.name for s in store.expire(now=901)] == ["slot1@a"]
    assert store.stats.expired == 2


@pytest.mark.parametrize(
    "attrs", [{"Name": 3}, {"Memory": 1}, {"Name": "x", "ClassAdLifetime": -1}]
)
def test_bad_ads_are_refused(attrs):
    ad = ClassAd(attrs)
    with pytest.raises(AdError):
        AdStore().update(MACHINE, ad, classad.ad_to_pairs(ad), now=0)


def test_select_by_constraint_against_each_ad_alone():
    store = AdStore()
    for i in range(10):
        store.update(MACHINE, *slot(f"slot{i}@a", Memory=i * 100), now=0)
    big = [s.name for s in store.select(MACHINE, ExprTree("Memory >= 500"))]
    assert big == [f"slot{i}@a" for i in range(5, 10)]
    assert len(list(store.select(MACHINE, ExprTree("TARGET.Memory > 0")))) == 0
    assert len(list(store.select("machine", None, limit=3))) == 3
    assert len(list(store.select("Any"))) == 10
    assert list(store.select(SCHEDULER)) == []


def test_invalidate_by_name_constraint_and_permission():
    store = AdStore()
    for host in "ab":
        for i in range(3):
            store.update(MACHINE, *slot(f"slot{i}@{host}"), now=0)
    assert store.invalidate(MACHINE, names=["slot0@a", "nope"]) == 1
    only_b = lambda s: s.name.endswith("@b")  # noqa: E731
    assert store.invalidate(MACHINE, constraint=ExprTree("true"), allowed=only_b) == 3
    assert sorted(s.name for s in store.select(MACHINE)) == ["slot1@a", "slot2@a"]
