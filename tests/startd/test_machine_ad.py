"""startd.machine_ad: a slot's machine ClassAd, its platform, its lifetime attributes, and
matching it against job ads made by roost's own submit."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import classad
from roost.submit_description import local_platform, parse_submit
from startd.machine_ad import (
    MachineInfo,
    Measurements,
    Platform,
    SlotState,
    local_platform_info,
    platform_of,
    slot_ad,
)
from startd.policy import SLOT_REQUIREMENTS
from startd.resources import Resources
from startd.slots import (
    WITHIN_RESOURCE_LIMITS,
    Amounts,
    Slot,
    SlotTable,
    partitionable_slot,
    static_slots,
)

NOW = 1_700_000_000  # Tuesday 14 November 2023, 22:13:20 UTC
FQDN = "node7.example.org"
GIB_KB = 2**20
ARCH, OPSYS = local_platform()


@pytest.fixture
def utc(monkeypatch):
    """Local time is UTC for ClockMin and ClockDay."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def machine(**changes) -> MachineInfo:
    fields = dict(fqdn=FQDN, address="10.0.0.7:9618", platform=Platform(ARCH, OPSYS, "Debian", 12),
                  total_cpus=8, total_memory_mb=16_000, total_disk_kb=100 * GIB_KB,
                  detected_cpus=16, detected_memory_mb=32_000, file_system_domain="example.org",
                  uid_domain="example.org")
    fields.update(changes)
    return MachineInfo(**fields)


def table(memory_mb=16_000, types=None) -> SlotTable:
    return SlotTable(FQDN, Amounts(8, memory_mb, 100 * GIB_KB), types)


def ad_of(slots: SlotTable, name=f"slot1@{FQDN}", info=None, **state) -> classad.ClassAd:
    return slot_ad(info or machine(), slots.advertise(name), SlotState(**state),
                   Measurements(load_avg=0.25, condor_load_avg=0.125, keyboard_idle=900,
                                console_idle=3600), now=NOW)


def test_contents(utc):
    ad = ad_of(table(), state="Unclaimed", activity="Idle", entered_state=NOW - 60,
               entered_activity=NOW - 30)
    expected = {
        "MyType": "Machine", "TargetType": "Job", "Name": f"slot1@{FQDN}", "Machine": FQDN,
        "SlotID": 1, "SlotTypeID": 1, "SlotType": "Partitionable", "PartitionableSlot": True,
        "Arch": ARCH, "OpSys": OPSYS, "OpSysName": "Debian", "OpSysMajorVer": 12,
        "OpSysAndVer": "Debian12", "Cpus": 8, "Memory": 16_000, "Disk": 100 * GIB_KB,
        "TotalCpus": 8, "TotalMemory": 16_000, "TotalDisk": 100 * GIB_KB, "TotalSlots": 1,
        "TotalSlotCpus": 8, "DetectedCpus": 16, "DetectedMemory": 32_000,
        "LoadAvg": 0.25, "CondorLoadAvg": 0.125, "KeyboardIdle": 900, "ConsoleIdle": 3600,
        "ClockMin": 22 * 60 + 13, "ClockDay": 2, "State": "Unclaimed", "Activity": "Idle",
        "EnteredCurrentState": NOW - 60, "EnteredCurrentActivity": NOW - 30,
        "MyAddress": "10.0.0.7:9618", "StartdIpAddr": "10.0.0.7:9618", "MyCurrentTime": NOW,
        "HasFileTransfer": True, "FileSystemDomain": "example.org",
        "UidDomain": "example.org", "Start": True, "Rank": 0.0, "SlotWeight": 8,
    }
    assert {name: ad.eval(name) for name in expected} == expected
    assert str(ad.lookup("Requirements")) == SLOT_REQUIREMENTS
    assert str(ad.lookup("WithinResourceLimits")) == WITHIN_RESOURCE_LIMITS
    for absent in ("GLIDEIN_ToDie", "GLIDEIN_ToRetire", "TimeToLive", "ClassAdLifetime",
                   "DynamicSlot"):
        assert absent not in ad


@pytest.mark.parametrize("now, minute, day", [
    (NOW, 1333, 2),
    (1_700_352_000, 0, 0),  # Sunday 19 November 2023, midnight
    (1_700_956_799, 1439, 6),  # Saturday 25 November 2023, 23:59:59
])
def test_clock(utc, now, minute, day):
    ad = slot_ad(machine(), table().advertise(f"slot1@{FQDN}"), SlotState(), Measurements(),
                 now=now)
    assert (ad.eval("ClockMin"), ad.eval("ClockDay")) == (minute, day)


def test_dynamic_and_static_slots():
    slots = table()
    dslot = slots.carve(f"slot1@{FQDN}", classad.ClassAd(
        {"RequestCpus": 2, "RequestMemory": 2000, "RequestDisk": 1000}))
    assert isinstance(dslot, Slot)
    ad = ad_of(slots, dslot.name, state="Claimed", activity="Busy")
    assert [ad.eval(n) for n in ("Name", "SlotType", "DynamicSlot", "ParentSlotId", "DSlotId",
                                 "Cpus", "Memory", "TotalCpus", "TotalSlots", "State")] == [
        f"slot1_1@{FQDN}", "Dynamic", True, 1, 1, 2, 2048, 8, 2, "Claimed"]
    assert ad_of(slots).eval("Cpus") == 6

    ad = ad_of(table(types=static_slots(4)), f"slot3@{FQDN}")
    assert [ad.eval(n) for n in ("SlotType", "SlotID", "Cpus", "Memory", "TotalMemory")] == [
        "Static", 3, 2, 4000, 16_000]
    assert str(ad.lookup("Requirements")) == SLOT_REQUIREMENTS
    assert "PartitionableSlot" not in ad and "DynamicSlot" not in ad


def test_policy_and_custom_attributes():
    info = machine(policy={"START": "KeyboardIdle > 15 * 60", "RANK": "TARGET.Owner == \"bo\"",
                           "SUSPEND": "KeyboardIdle < 60", "MaxJobRetirementTime": "600"},
                   custom={"IsGlidein": "true", "GLIDEIN_Site": "\"Campus\"",
                           "HasDocker": "false"}, lifetime=900)
    ad = ad_of(table(), info=info)
    assert str(ad.lookup("Start")) == "KeyboardIdle > 15 * 60"
    assert ad.eval("START") is False  # KeyboardIdle is 900, not more
    assert str(ad.lookup("Rank")) == 'TARGET.Owner == "bo"'
    assert (ad.eval("MaxJobRetirementTime"), ad.eval("IsGlidein"), ad.eval("GLIDEIN_Site"),
            ad.eval("HasDocker"), ad.eval("ClassAdLifetime")) == (600, True, "Campus", False, 900)
    assert ad.eval("Requirements") is False


@pytest.mark.parametrize("changes", [
    {"custom": {"cpus": "64"}}, {"custom": {"Name": "\"other\""}},
    {"policy": {"Requirements": "true"}}, {"policy": {"WithinResourceLimits": "true"}},
    {"custom": {"Broken": "1 +"}}, {"policy": {"START": "(("}},
])
def test_bad_policy_or_custom(changes):
    with pytest.raises(ValueError):
        ad_of(table(), info=machine(**changes))


@pytest.mark.parametrize("to_die, to_retire, attributes", [
    (None, None, {}),
    (NOW + 3600, None, {"GLIDEIN_ToDie": NOW + 3600, "GLIDEIN_ToRetire": NOW + 3600,
                        "TimeToLive": 3600}),
    (NOW + 3600, NOW + 1800, {"GLIDEIN_ToDie": NOW + 3600, "GLIDEIN_ToRetire": NOW + 1800,
                              "TimeToLive": 3600}),
    (NOW - 10, NOW - 100, {"GLIDEIN_ToDie": NOW - 10, "GLIDEIN_ToRetire": NOW - 100,
                           "TimeToLive": 0}),
    (None, NOW + 60, {"GLIDEIN_ToRetire": NOW + 60}),
])
def test_lifetime(to_die, to_retire, attributes):
    ad = ad_of(table(), info=machine(to_die=to_die, to_retire=to_retire))
    names = ("GLIDEIN_ToDie", "GLIDEIN_ToRetire", "TimeToLive")
    assert {name: ad.eval(name) for name in names if name in ad} == attributes


def test_from_resources():
    found = Resources(cpus=4, memory_mb=8000, disk_kb=500, end_time=NOW + 7200,
                      batch_job_id="99", source={}, detected_cpus=32, detected_memory_mb=64_000)
    info = MachineInfo.from_resources(found, fqdn=FQDN, address="a:1",
                                      platform=Platform(ARCH, OPSYS, "LINUX", 0))
    assert (info.total_cpus, info.total_memory_mb, info.total_disk_kb, info.detected_cpus,
            info.detected_memory_mb, info.to_die, info.file_system_domain,
            info.uid_domain) == (4, 8000, 500, 32, 64_000, NOW + 7200, FQDN, FQDN)
    info = MachineInfo.from_resources(found, fqdn=FQDN, address="a:1", to_die=None,
                                      uid_domain="example.org",
                                      platform=Platform(ARCH, OPSYS, "LINUX", 0))
    assert (info.to_die, info.uid_domain, info.file_system_domain) == (None, "example.org", FQDN)


@pytest.mark.parametrize("opsys, description, name, major", [
    ("LINUX", "Debian GNU/Linux 12 (bookworm)", "Debian", 12),
    ("LINUX", "Ubuntu 22.04.3 LTS", "Ubuntu", 22),
    ("LINUX", "AlmaLinux 9.3 (Shamrock Pink Panther)", "AlmaLinux", 9),
    ("LINUX", "Red Hat Enterprise Linux 8.9 (Ootpa)", "RedHat", 8),
    ("LINUX", "Rocky Linux 9.2 (Blue Onyx)", "Rocky", 9),
    ("LINUX", "CentOS Linux 7 (Core)", "CentOS", 7),
    ("LINUX", "Fedora Linux 39 (Workstation Edition)", "Fedora", 39),
    ("LINUX", "openSUSE Leap 15.5", "openSUSE", 15),
    ("LINUX", "Amazon Linux 2023", "AmazonLinux", 2023),
    ("LINUX", "Arch Linux", "LINUX", 0),
    ("MACOSX", "Darwin 23.1.0", "Darwin", 23),
])
def test_platform_of(opsys, description, name, major):
    found = platform_of("X86_64", opsys, description)
    assert found == Platform("X86_64", opsys, name, major)
    assert found.opsys_and_ver == f"{name}{major}"


def test_local_platform_info(tmp_path):
    release = tmp_path / "os-release"
    release.write_text('NAME="Rocky Linux"\nPRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"\n')
    found = local_platform_info(release)
    assert (found.arch, found.opsys) == (ARCH, OPSYS)
    if OPSYS == "LINUX":
        assert found.opsys_and_ver == "Rocky9"
        assert local_platform_info(tmp_path / "missing").opsys_and_ver == "LINUX0"


# -- matching jobs from roost's own submit -------------------------------------------------


def submitted(request_memory: int, requirements: str = "") -> classad.ClassAd:
    text = f"executable = /bin/true\nrequest_memory = {request_memory}\n"
    if requirements:
        text += f"requirements = {requirements}\n"
    plan = parse_submit(text + "queue\n", cwd=Path("/tmp"), owner="alice", now=NOW,
                        arch=ARCH, opsys=OPSYS)
    return plan.job(0)


@pytest.mark.parametrize("slot_memory, job_memory, matches", [
    (16_000, 1024, True),
    (16_000, 16_000, True),
    (16_000, 16_001, False),
    (512, 1024, False),
])
def test_submitted_job_matches_partitionable_slot(slot_memory, job_memory, matches):
    slot = ad_of(table(memory_mb=slot_memory))
    job = submitted(job_memory)
    assert job.symmetric_match(slot) is matches
    assert classad.symmetric_match(slot, job) is matches


def test_submitted_job_and_slots_of_every_kind():
    job = submitted(1024)
    slots = table(types=static_slots(8))  # 2000 MiB each
    assert job.symmetric_match(ad_of(slots, f"slot8@{FQDN}"))
    assert not submitted(2048).symmetric_match(ad_of(slots, f"slot8@{FQDN}"))

    slots = table(types=partitionable_slot())
    dslot = slots.carve(f"slot1@{FQDN}", job)
    assert isinstance(dslot, Slot) and dslot.size.memory_mb == 1024
    assert job.symmetric_match(ad_of(slots, dslot.name))
    assert not submitted(1025).symmetric_match(ad_of(slots, dslot.name))


def test_a_slot_that_will_not_start_matches_nothing():
    slot = ad_of(table(), info=machine(policy={"START": "TARGET.Owner == \"bob\""}))
    assert not submitted(1024).symmetric_match(slot)
    slot = ad_of(table(), info=machine(policy={"START": "TARGET.Owner == \"alice\""}))
    assert submitted(1024).symmetric_match(slot)


def test_a_job_that_wants_a_long_lived_pilot():
    wants_an_hour = "TARGET.TimeToLive =?= undefined || TARGET.TimeToLive > 3600"
    job = submitted(1024, wants_an_hour)
    assert job.symmetric_match(ad_of(table()))
    assert job.symmetric_match(ad_of(table(), info=machine(to_die=NOW + 7200)))
    assert not job.symmetric_match(ad_of(table(), info=machine(to_die=NOW + 600)))


def test_other_platforms_do_not_match():
    other = machine(platform=Platform("ppc64le" if ARCH != "ppc64le" else "X86_64", OPSYS,
                                      "LINUX", 0))
    assert not submitted(1024).symmetric_match(ad_of(table(), info=other))
