"""A slot's machine ClassAd, built from plain inputs (no clock, no system calls).

``slot_ad`` puts together what the startd knows about the machine (``MachineInfo``), what
the slot table says about the slot (``SlotTable.advertise``), the slot's state and the
latest measurements, at time ``now``.  The attributes, with HTCondor's names:

- identity: ``MyType = "Machine"``, ``TargetType = "Job"``, ``Name``, ``Machine`` (FQDN),
  ``SlotID``, ``SlotTypeID``, ``SlotType``, ``PartitionableSlot``/``DynamicSlot`` and the
  slot table's other attributes, ``MyAddress`` and ``StartdIpAddr`` (the startd's address;
  for a startd reached through the collector's broker, ``MyAddress`` is its broker address,
  ``roost.broker``, and ``StartdIpAddr`` its own),
  ``MyCurrentTime``, ``ClassAdLifetime`` when given;
- platform: ``Arch`` and ``OpSys`` spelled as ``roost.submit_description.local_platform``
  spells them for jobs, ``OpSysName``, ``OpSysMajorVer`` and ``OpSysAndVer`` (``"Debian12"``,
  HTCondor's distribution names and major version);
- resources: ``Cpus``, ``Memory`` (MiB), ``Disk`` (KiB) of the slot (what is left, on a
  p-slot), ``TotalSlotCpus``/``TotalSlotMemory``/``TotalSlotDisk``, ``TotalCpus``/
  ``TotalMemory``/``TotalDisk`` (the machine), ``TotalSlots``, ``DetectedCpus``/
  ``DetectedMemory`` (the host's hardware), ``SlotWeight = Cpus``;
- load and desktop: ``LoadAvg``, ``CondorLoadAvg``, ``KeyboardIdle``, ``ConsoleIdle``,
  ``ClockMin`` (minutes since local midnight), ``ClockDay`` (0 = Sunday);
- state: ``State``, ``Activity``, ``EnteredCurrentState``, ``EnteredCurrentActivity``;
- file systems: ``HasFileTransfer = true`` (``startd.transfer``), ``FileSystemDomain``,
  ``UidDomain``;
- policy: the policy expressions as given (``START``, ``RANK``, ``SUSPEND``,
  ``MaxJobRetirementTime``...), ``Start = true`` and ``Rank = 0.0`` when not given, and
  ``Requirements = START && WithinResourceLimits`` with HTCondor's ``WithinResourceLimits``
  (``startd.slots.WITHIN_RESOURCE_LIMITS``).  HTCondor's startd publishes this Requirements
  for every kind of slot (``Reqexp.cpp publish_requirements``; static slots check their
  resources too), so roost does the same;
- custom attributes (HTCondor's ``STARTD_ATTRS``) as given, name -> expression text.
  Neither custom attributes nor policy may replace one of the startd's own attributes.

**Lifetime** (glide-ins, or any startd that knows when it will be stopped).  When an end
time is known, the ad carries glideinWMS's attributes and one of roost's:

- ``GLIDEIN_ToDie``: epoch seconds at which the startd will be gone (the batch job's end);
- ``GLIDEIN_ToRetire``: epoch seconds after which it starts no new job (the retire time
  given, else ``GLIDEIN_ToDie``);
- ``TimeToLive``: ``GLIDEIN_ToDie - MyCurrentTime`` in seconds, never negative: what was
  left when the ad was made.  Ads are refreshed every update interval, so a job that needs
  the exact figure at match time can write ``TARGET.GLIDEIN_ToDie - time()``.

A job that must finish before its pilot ends can require
``TARGET.TimeToLive =?= undefined || TARGET.TimeToLive > MaxRuntime``.
"""

from __future__ import annotations

import platform
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from classad import ClassAd, ExprTree
from roost.submit_description import local_platform
from startd.policy import SLOT_REQUIREMENTS
from startd.resources import Resources
from startd.slots import WITHIN_RESOURCE_LIMITS

# HTCondor's distribution names (condor_sysapi/arch.cpp sysapi_find_linux_name), tested in
# order on the lower-cased description.
_DISTRIBUTIONS = (
    (("red", "hat"), "RedHat"), (("fedora",), "Fedora"), (("ubuntu",), "Ubuntu"),
    (("debian",), "Debian"), (("scientific", "cern"), "SLCern"),
    (("scientific", "slf"), "SLFermi"), (("scientific",), "SL"), (("centos",), "CentOS"),
    (("rocky",), "Rocky"), (("almalinux",), "AlmaLinux"), (("amazon linux",), "AmazonLinux"),
    (("opensuse",), "openSUSE"), (("suse",), "SUSE"),
)


@dataclass(frozen=True)
class Platform:
    """How the machine's platform is advertised."""

    arch: str
    opsys: str
    opsys_name: str
    opsys_major_ver: int

    @property
    def opsys_and_ver(self) -> str:
        return f"{self.opsys_name}{self.opsys_major_ver}"


def platform_of(arch: str, opsys: str, description: str) -> Platform:
    """The platform from Arch, OpSys and the system's description (a Linux distribution's
    PRETTY_NAME, "Debian GNU/Linux 12 (bookworm)"; for other systems their name and
    release, "Darwin 23.1.0")."""
    lowered = description.lower()
    if opsys == "LINUX":
        name = next((name for words, name in _DISTRIBUTIONS
                     if all(word in lowered for word in words)), "LINUX")
    else:
        name = description.split()[0] if description.split() else opsys
    major = re.search(r"[0-9]+", description)
    return Platform(arch, opsys, name, int(major.group()) if major else 0)


def local_platform_info(os_release: Path = Path("/etc/os-release")) -> Platform:
    """This machine's platform (reads os-release on Linux)."""
    arch, opsys = local_platform()
    description = f"{platform.system()} {platform.release()}"
    if opsys == "LINUX":
        try:
            text = os_release.read_text()
        except OSError:
            text = ""
        found = re.search(r'^PRETTY_NAME=["\']?(.*?)["\']?\s*$', text, re.MULTILINE)
        description = found.group(1) if found else "Unknown"
    return platform_of(arch, opsys, description)


@dataclass(frozen=True)
class MachineInfo:
    """What the startd advertises the same way for all its slots."""

    fqdn: str
    address: str
    platform: Platform
    total_cpus: int
    total_memory_mb: int
    total_disk_kb: int
    detected_cpus: int
    detected_memory_mb: int
    file_system_domain: str = ""
    uid_domain: str = ""
    policy: Mapping[str, str] = field(default_factory=dict)
    custom: Mapping[str, str] = field(default_factory=dict)
    to_die: int | None = None
    to_retire: int | None = None
    lifetime: int | None = None
    broker_address: str = ""  # where others reach it, when through the broker

    @classmethod
    def from_resources(cls, resources: Resources, *, fqdn: str, address: str,
                       platform: Platform, **rest) -> MachineInfo:
        """The totals, detected values and end time from ``detect_resources``'s answer;
        FileSystemDomain and UidDomain default to the FQDN, as in HTCondor."""
        rest.setdefault("file_system_domain", fqdn)
        rest.setdefault("uid_domain", fqdn)
        rest.setdefault("to_die", resources.end_time)
        return cls(fqdn=fqdn, address=address, platform=platform,
                   total_cpus=resources.cpus, total_memory_mb=resources.memory_mb,
                   total_disk_kb=resources.disk_kb,
                   detected_cpus=resources.detected_cpus or resources.cpus,
                   detected_memory_mb=resources.detected_memory_mb or resources.memory_mb,
                   **rest)


@dataclass(frozen=True)
class Measurements:
    """The machine's latest load and desktop signals."""

    load_avg: float = 0.0
    condor_load_avg: float = 0.0
    keyboard_idle: int = 0
    console_idle: int = 0


@dataclass(frozen=True)
class SlotState:
    """A slot's state and activity, and since when (epoch seconds)."""

    state: str = "Unclaimed"
    activity: str = "Idle"
    entered_state: int = 0
    entered_activity: int = 0


def slot_ad(machine: MachineInfo, slot: Mapping[str, object], state: SlotState,
            measured: Measurements, *, now: int) -> ClassAd:
    """The machine ClassAd of one slot (see the module's docstring)."""
    local = time.localtime(now)
    own: dict[str, object] = {
        "MyType": "Machine",
        "TargetType": "Job",
        **slot,
        "Machine": machine.fqdn,
        "MyAddress": machine.broker_address or machine.address,
        "StartdIpAddr": machine.address,
        "MyCurrentTime": now,
        "Arch": machine.platform.arch,
        "OpSys": machine.platform.opsys,
        "OpSysName": machine.platform.opsys_name,
        "OpSysMajorVer": machine.platform.opsys_major_ver,
        "OpSysAndVer": machine.platform.opsys_and_ver,
        "TotalCpus": machine.total_cpus,
        "TotalMemory": machine.total_memory_mb,
        "TotalDisk": machine.total_disk_kb,
        "DetectedCpus": machine.detected_cpus,
        "DetectedMemory": machine.detected_memory_mb,
        "SlotWeight": ExprTree("Cpus"),
        "LoadAvg": float(measured.load_avg),
        "CondorLoadAvg": float(measured.condor_load_avg),
        "KeyboardIdle": int(measured.keyboard_idle),
        "ConsoleIdle": int(measured.console_idle),
        "ClockMin": local.tm_hour * 60 + local.tm_min,
        "ClockDay": (local.tm_wday + 1) % 7,
        "State": state.state,
        "Activity": state.activity,
        "EnteredCurrentState": state.entered_state,
        "EnteredCurrentActivity": state.entered_activity,
        "HasFileTransfer": True,
        "FileSystemDomain": machine.file_system_domain,
        "UidDomain": machine.uid_domain,
        "WithinResourceLimits": ExprTree(WITHIN_RESOURCE_LIMITS),
        "Requirements": ExprTree(SLOT_REQUIREMENTS),
    }
    if machine.lifetime is not None:
        own["ClassAdLifetime"] = machine.lifetime
    if machine.to_die is not None:
        own["GLIDEIN_ToDie"] = machine.to_die
        own["GLIDEIN_ToRetire"] = (machine.to_die if machine.to_retire is None
                                   else machine.to_retire)
        own["TimeToLive"] = max(0, machine.to_die - now)
    elif machine.to_retire is not None:
        own["GLIDEIN_ToRetire"] = machine.to_retire

    ad = ClassAd(own)
    reserved = {name.lower() for name in own}
    for kind, given in (("custom attribute", machine.custom), ("policy", machine.policy)):
        for name, text in given.items():
            if name.lower() in reserved:
                raise ValueError(f"{kind} {name} would replace the startd's own attribute")
            ad[name] = ExprTree(text)
    for name, default in (("Start", True), ("Rank", 0.0)):
        if name not in ad:
            ad[name] = default
    return ad
