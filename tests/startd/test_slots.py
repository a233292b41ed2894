"""startd.slots: slot type shares, layouts, and carving dynamic slots out of partitionable
ones until they run out, with the table's invariants checked after every step."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

import classad
from classad import ClassAd
from startd.slots import (
    AUTO,
    DEFAULT_MODIFY_REQUEST,
    DYNAMIC,
    PARTITIONABLE,
    STATIC,
    WITHIN_RESOURCE_LIMITS,
    Amounts,
    Refusal,
    Slot,
    SlotLayoutError,
    SlotTable,
    SlotType,
    layout,
    parse_share,
    partitionable_slot,
    quantize_exprs,
    static_slots,
)

H = "host.example"
GIB_KB = 2**20


def job(cpus=1, memory=1000, disk=1000, **more) -> ClassAd:
    ad = ClassAd({"RequestCpus": cpus, "RequestMemory": memory, "RequestDisk": disk})
    for name, value in more.items():
        ad[name] = value
    return ad


def expr_job(**texts: str) -> ClassAd:
    return ClassAd({name: classad.ExprTree(text) for name, text in texts.items()})


@pytest.fixture
def table():
    """A p-slot of 4 CPUs, 4096 MiB and 8 GiB of disk; validated at teardown."""
    made = SlotTable(H, Amounts(4, 4096, 8 * GIB_KB))
    yield made
    made.validate()


def carved(result) -> Slot:
    assert isinstance(result, Slot), result
    return result


# -- shares and layouts --------------------------------------------------------------------

HALF, QUARTER = Fraction(1, 2), Fraction(1, 4)

SHARES = [
    ("auto", {"cpus": AUTO, "memory_mb": AUTO, "disk_kb": AUTO}),
    ("1/4", {"cpus": QUARTER, "memory_mb": QUARTER, "disk_kb": QUARTER}),
    ("25%", {"cpus": QUARTER, "memory_mb": QUARTER, "disk_kb": QUARTER}),
    ("cpus=2, ram=128, disk=1/2", {"cpus": 2, "memory_mb": 128, "disk_kb": HALF}),
    ("cpus=1/2, memory=128, disk=50%", {"cpus": HALF, "memory_mb": 128, "disk_kb": HALF}),
    ("c=1/2, m=50%, disk=1/2", {"cpus": HALF, "memory_mb": HALF, "disk_kb": HALF}),
    ("c=25%, m=64, d=25%", {"cpus": QUARTER, "memory_mb": 64, "disk_kb": QUARTER}),
    ("cpus=1, disk=auto, 50%", {"cpus": 1, "memory_mb": HALF, "disk_kb": AUTO}),
    ("cpus=1, ram=1/2", {"cpus": 1, "memory_mb": HALF, "disk_kb": AUTO}),
    ("Cpus=2, MEMORY=4G, Disk=10G", {"cpus": 2, "memory_mb": 4096, "disk_kb": 10 * GIB_KB}),
    ("mem=512M, disk=2048K", {"cpus": AUTO, "memory_mb": 512, "disk_kb": 2048}),
    ("swap=10%, 50%", {"cpus": HALF, "memory_mb": HALF, "disk_kb": HALF}),
    ("100%", {"cpus": Fraction(1), "memory_mb": Fraction(1), "disk_kb": Fraction(1)}),
]


@pytest.mark.parametrize("text, shares", SHARES, ids=[s[0] for s in SHARES])
def test_parse_share(text, shares):
    assert parse_share(text) == shares


@pytest.mark.parametrize("text", ["", "gpus=1", "cpus=1.5", "cpus=2G", "150%", "0%", "1/0",
                                  "cpus=many", "memory=", "2", "cpus=1,,", "=3"])
def test_bad_shares(text):
    with pytest.raises(SlotLayoutError):
        parse_share(text)


# HTCondor's manual: a machine with 4 cores and 256 MiB; types 1-3 are the same, and 4-6.
MANUAL = Amounts(4, 256, 1000)


@pytest.mark.parametrize("share, size", [
    ("cpus=2, ram=128, disk=1/2", Amounts(2, 128, 500)),
    ("cpus=1/2, memory=128, disk=50%", Amounts(2, 128, 500)),
    ("c=1/2, m=50%, disk=1/2", Amounts(2, 128, 500)),
    ("c=25%, m=64, d=25%", Amounts(1, 64, 250)),
    ("25%", Amounts(1, 64, 250)),
    ("1/4", Amounts(1, 64, 250)),
])
def test_manual_examples(share, size):
    [(type_id, _, amounts)] = layout(MANUAL, [SlotType(share)])
    assert (type_id, amounts) == (1, size)


@pytest.mark.parametrize("total, types, sizes", [
    (Amounts(4, 1000, 100), static_slots(4), [Amounts(1, 250, 25)] * 4),
    (Amounts(5, 1001, 11), static_slots(2), [Amounts(3, 501, 6), Amounts(2, 500, 5)]),
    (Amounts(8, 1000, 100), partitionable_slot(), [Amounts(8, 1000, 100)]),
    (Amounts(4, 1000, 100), [SlotType("memory=10%"), SlotType(count=3)],
     [Amounts(1, 100, 25), Amounts(1, 300, 25), Amounts(1, 300, 25), Amounts(1, 300, 25)]),
    (Amounts(4, 1000, 100), [SlotType("cpus=2, memory=25%"), SlotType(count=2)],
     [Amounts(2, 250, 34), Amounts(1, 375, 33), Amounts(1, 375, 33)]),
    (Amounts(8, 8000, 800), [SlotType("50%", partitionable=True), SlotType("25%", count=2)],
     [Amounts(4, 4000, 400), Amounts(2, 2000, 200), Amounts(2, 2000, 200)]),
    (Amounts(4, 1000, 100), [SlotType(count=0), SlotType()], [Amounts(4, 1000, 100)]),
])
def test_layouts(total, types, sizes):
    assert [size for _, _, size in layout(total, types)] == sizes


@pytest.mark.parametrize("total, types, message", [
    (Amounts(4, 1000, 100), [SlotType("cpus=3"), SlotType("cpus=2")], "more CPUs"),
    (Amounts(4, 1000, 100), [SlotType("memory=600"), SlotType("memory=60%")], "more memory"),
    (Amounts(4, 1000, 100), static_slots(5), "0 CPUs"),
    (Amounts(4, 2, 100), static_slots(4), "0 MiB"),
    (Amounts(4, 1000, 100), [SlotType("10%")], "0 CPUs"),
    (Amounts(4, 1000, 100), [SlotType(count=-1)], "negative"),
])
def test_impossible_layouts(total, types, message):
    with pytest.raises(SlotLayoutError, match=message):
        layout(total, types)


def test_names_and_kinds():
    made = SlotTable(H, Amounts(8, 8000, 8 * GIB_KB),
                     [SlotType("25%", count=2), SlotType("auto", partitionable=True)])
    assert [(s.name, s.slot_id, s.type_id, s.kind) for s in made] == [
        ("slot1@host.example", 1, 1, STATIC), ("slot2@host.example", 2, 1, STATIC),
        ("slot3@host.example", 3, 2, PARTITIONABLE)]
    dslot = carved(made.carve("slot3@host.example", job()))
    assert (dslot.name, dslot.slot_id, dslot.dslot_id, dslot.parent) == (
        "slot3_1@host.example", 3, 1, "slot3@host.example")
    made.validate()


def test_most_jobs_is_one_per_static_slot_and_one_per_cpu_of_a_partitionable_one():
    made = SlotTable(H, Amounts(8, 8000, 8 * GIB_KB),
                     [SlotType("25%", count=2), SlotType("auto", partitionable=True)])
    assert made.most_jobs() == 2 + 4
    carved(made.carve(f"slot3@{H}", job(cpus=3)))  # what is carved is still counted once
    assert made.most_jobs() == 6
    assert SlotTable(H, Amounts(64, 64 * 128, GIB_KB), static_slots(64)).most_jobs() == 64


# -- carving -------------------------------------------------------------------------------


def test_carve_until_exhausted_then_release(table):
    pslot = f"slot1@{H}"
    names = [carved(table.carve(pslot, job(memory=1000))).name for _ in range(4)]
    table.validate()
    assert names == [f"slot1_{m}@{H}" for m in (1, 2, 3, 4)]
    assert table.slot(pslot).left == Amounts(0, 0, 8 * GIB_KB - 4 * 1024)
    refusal = table.carve(pslot, job(memory=1))
    assert isinstance(refusal, Refusal)
    assert refusal.reason == (f"not enough left on {pslot}: Cpus 1 wanted, 0 left; "
                              f"Memory 128 MiB wanted, 0 MiB left")

    after = table.release(f"slot1_2@{H}")
    assert after.left == Amounts(1, 1024, 8 * GIB_KB - 3 * 1024)
    table.validate()
    again = carved(table.carve(pslot, job(memory=1000)))
    assert again.name == f"slot1_5@{H}"  # never slot1_2 again
    assert [s.name for s in table.children(pslot)] == [
        f"slot1_{m}@{H}" for m in (1, 3, 4, 5)]
    for name in list(s.name for s in table.children(pslot)):
        table.release(name)
    assert table.slot(pslot).left == table.slot(pslot).size
    assert carved(table.carve(pslot, job())).name == f"slot1_6@{H}"


@pytest.mark.parametrize("request_ad, size", [
    (job(1, 1000, 1000), Amounts(1, 1024, 1024)),
    (job(1, 1, 1), Amounts(1, 128, 1024)),
    (job(2, 128, 1024), Amounts(2, 128, 1024)),
    (job(1.5, 100.5, 1500), Amounts(2, 128, 2048)),
    # quantize(x, {q}) is q for anything up to q, as in HTCondor.
    (job(0, 0, 0), Amounts(1, 128, 1024)),
    (job(1, -5, -1), Amounts(1, 128, 1024)),
    (expr_job(RequestCpus="2", RequestMemory="RequestCpus * 512",
              RequestDisk="MAX({1024, (TransferInputSizeMB + 1) * 1.25}) * 1024",
              TransferInputSizeMB="0"), Amounts(2, 1024, 1024 * 1024)),
    (expr_job(RequestMemory="TARGET.TotalSlotMemory / 4", RequestDisk="TARGET.Disk / 8"),
     Amounts(1, 1024, 1024 * 1024)),
    (expr_job(RequestMemory="100", RequestDisk="100"), Amounts(1, 128, 1024)),
])
def test_requests_are_evaluated_and_rounded(table, request_ad, size):
    assert carved(table.carve(f"slot1@{H}", request_ad)).size == size


def test_a_rounded_request_that_does_not_fit_falls_back_to_the_request(table):
    carved(table.carve(f"slot1@{H}", job(memory=3072)))
    assert table.slot(f"slot1@{H}").left.memory_mb == 1024
    # 1000 MiB rounds to 1024 MiB, which fits; 1020 would round to 1024 too.
    small = SlotTable(H, Amounts(4, 1000, 8 * GIB_KB))
    assert carved(small.carve(f"slot1@{H}", job(memory=1000, disk=1))).size == Amounts(1, 1000, 1)
    assert small.slot(f"slot1@{H}").left.memory_mb == 0
    small.validate()


@pytest.mark.parametrize("modify_request, size", [
    (DEFAULT_MODIFY_REQUEST, Amounts(1, 128, 1024)),
    (quantize_exprs(cpus=2, memory_mb=1024, disk_kb=4096), Amounts(2, 1024, 4096)),
    ({}, Amounts(1, 100, 10)),
    ({"RequestMemory": "RequestMemory * 2"}, Amounts(1, 200, 10)),
    ({"RequestMemory": "\"not a number\""}, Amounts(1, 100, 10)),
])
def test_configured_rounding(modify_request, size):
    made = SlotTable(H, Amounts(4, 4096, GIB_KB), modify_request=modify_request)
    assert carved(made.carve(f"slot1@{H}", job(1, 100, 10))).size == size


@pytest.mark.parametrize("modify_request", [{"RequestGPUs": "1"}, {"RequestMemory": "1 +"}])
def test_bad_rounding(modify_request):
    with pytest.raises(ValueError):
        SlotTable(H, Amounts(4, 4096, GIB_KB), modify_request=modify_request)


@pytest.mark.parametrize("bad_quantum", [{"cpus": 0}, {"memory_mb": -1}, {"disk_kb": 1.5}])
def test_bad_quanta(bad_quantum):
    with pytest.raises(ValueError):
        quantize_exprs(**bad_quantum)


@pytest.mark.parametrize("request_ad, reason", [
    (job(memory=5000), f"not enough left on slot1@{H}: Memory 5120 MiB wanted, 4096 MiB left"),
    (job(cpus=5, disk=9 * GIB_KB), f"not enough left on slot1@{H}: Cpus 5 wanted, 4 left; "
                                   f"Disk 9437184 KiB wanted, 8388608 KiB left"),
    (expr_job(RequestCpus="1", RequestDisk="1"),
     "the job's RequestMemory is not a number (Value.Undefined)"),
    (expr_job(RequestMemory="1", RequestDisk="\"big\""),
     "the job's RequestDisk is not a number ('big')"),
])
def test_refusals(table, request_ad, reason):
    assert table.carve(f"slot1@{H}", request_ad) == Refusal(reason)
    assert table.slot(f"slot1@{H}").left == table.slot(f"slot1@{H}").size


def test_negative_requests_without_rounding():
    made = SlotTable(H, Amounts(4, 4096, GIB_KB), modify_request={})
    assert made.carve(f"slot1@{H}", job(memory=-5)) == Refusal(
        "the job's RequestMemory is negative (-5)")
    assert carved(made.carve(f"slot1@{H}", job(0, 0, 0))).size == Amounts(1, 0, 0)


def test_missing_request_cpus_is_one(table):
    assert carved(table.carve(f"slot1@{H}", expr_job(RequestMemory="1", RequestDisk="1"))
                  ).size.cpus == 1


def test_carving_from_what_is_not_a_partitionable_slot():
    made = SlotTable(H, Amounts(2, 2000, 2000), static_slots(1))
    assert made.carve(f"slot1@{H}", job()) == Refusal(
        f"slot1@{H} is a static slot, not a partitionable one")
    assert made.carve(f"slot9@{H}", job()) == Refusal(f"there is no slot slot9@{H}")
    with pytest.raises(ValueError):
        made.release(f"slot1@{H}")
    with pytest.raises(KeyError):
        made.release(f"slot1_1@{H}")


def test_a_dynamic_slot_is_not_carved_again(table):
    dslot = carved(table.carve(f"slot1@{H}", job()))
    assert table.carve(dslot.name, job()) == Refusal(
        f"{dslot.name} is a dynamic slot, not a partitionable one")
    table.release(dslot.name)
    with pytest.raises(KeyError):
        table.release(dslot.name)


def test_requests_see_the_machine_ad_given(table):
    machine = ClassAd({"Memory": 4096, "Disk": 8 * GIB_KB, "Cpus": 4, "MemoryPerCpu": 640})
    request = expr_job(RequestCpus="2", RequestMemory="RequestCpus * TARGET.MemoryPerCpu",
                       RequestDisk="1")
    assert carved(table.carve(f"slot1@{H}", request, machine)).size == Amounts(2, 1280, 1024)


# -- what slots advertise ------------------------------------------------------------------


def test_advertise(table):
    pslot = f"slot1@{H}"
    assert table.advertise(pslot) == {
        "Name": pslot, "SlotID": 1, "SlotTypeID": 1, "SlotType": "Partitionable",
        "Cpus": 4, "Memory": 4096, "Disk": 8 * GIB_KB, "TotalSlotCpus": 4,
        "TotalSlotMemory": 4096, "TotalSlotDisk": 8 * GIB_KB, "TotalSlots": 1,
        "PartitionableSlot": True, "NumDynamicSlots": 0}
    dslot = carved(table.carve(pslot, job(2, 1000, 1000)))
    assert table.advertise(dslot.name) == {
        "Name": f"slot1_1@{H}", "SlotID": 1, "SlotTypeID": -1, "SlotType": DYNAMIC,
        "Cpus": 2, "Memory": 1024, "Disk": 1024, "TotalSlotCpus": 2, "TotalSlotMemory": 1024,
        "TotalSlotDisk": 1024, "TotalSlots": 2, "DynamicSlot": True, "ParentSlotId": 1,
        "DSlotId": 1}
    left = table.advertise(pslot)
    assert (left["Cpus"], left["Memory"], left["Disk"]) == (2, 3072, 8 * GIB_KB - 1024)
    assert (left["TotalSlotCpus"], left["TotalSlots"], left["NumDynamicSlots"]) == (4, 2, 1)

    static = SlotTable(H, Amounts(2, 2000, 2000), static_slots(2))
    assert static.advertise(f"slot2@{H}") == {
        "Name": f"slot2@{H}", "SlotID": 2, "SlotTypeID": 1, "SlotType": STATIC, "Cpus": 1,
        "Memory": 1000, "Disk": 1000, "TotalSlotCpus": 1, "TotalSlotMemory": 1000,
        "TotalSlotDisk": 1000, "TotalSlots": 2}


@pytest.mark.parametrize("memory, fits", [(1000, True), (4096, True), (4097, False)])
def test_within_resource_limits(table, memory, fits):
    ad = table.resource_ad(f"slot1@{H}")
    assert str(ad.lookup("WithinResourceLimits")) == WITHIN_RESOURCE_LIMITS
    assert classad.ExprTree("WithinResourceLimits").eval(ad, job(memory=memory)) is fits


def test_within_resource_limits_of_an_exhausted_pslot(table):
    carved(table.carve(f"slot1@{H}", job(cpus=4, memory=1)))
    ad = table.resource_ad(f"slot1@{H}")
    assert classad.ExprTree("WithinResourceLimits").eval(ad, job(cpus=0, memory=1)) is False


def test_random_carving_keeps_the_books(table):
    rng = random.Random(7)
    pslot = f"slot1@{H}"
    seen: set[str] = set()
    for _ in range(300):
        children = table.children(pslot)
        if children and rng.random() < 0.4:
            table.release(rng.choice(children).name)
        else:
            result = table.carve(pslot, job(rng.randint(0, 3), rng.randint(1, 2500),
                                            rng.randint(1, 3 * GIB_KB)))
            if isinstance(result, Slot):
                assert result.name not in seen
                seen.add(result.name)
        table.validate()
