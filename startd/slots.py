"""Slot layouts and partitioning, pure: what each slot of the machine holds.

**Layouts.** A machine is split by slot types, as HTCondor's ``SLOT_TYPE_<N>``,
``NUM_SLOTS_TYPE_<N>`` and ``SLOT_TYPE_<N>_PARTITIONABLE`` split it: each ``SlotType`` has
a share of the machine and a count.  A share is ``auto`` (the default), a blanket fraction
(``1/4``, ``25%``), or a comma-separated list ``cpus=2, memory=25%, disk=auto`` in which a
bare fraction is the default for the resources the list does not name.  Resource names are
told apart by their first letter, as in HTCondor (``c``: cpus; ``m``/``r``: memory, ram;
``d``: disk; ``s``/``v``: swap, accepted and ignored).  An absolute amount of memory is MiB
and of disk KiB, either optionally with a unit (``4G``).  Fractions are rounded down; the
slots that say ``auto`` for a resource share what the others leave evenly, the first ones
taking one unit more when it does not divide.  A layout that gives more than there is, or
a slot no CPU or memory, is a ``SlotLayoutError``.  ``static_slots(n)`` (the machine split
evenly, HTCondor's ``NUM_SLOTS``) and ``partitionable_slot()`` (one p-slot holding
everything, HTCondor's default since 23.0) are the common layouts.

**Names.** Static and partitionable slots are ``slot<N>@<host>``, N counting from 1 in the
order of the types; dynamic slots are ``slot<N>_<M>@<host>``, M counting up from 1 for each
partitionable slot and never reused while the table lives (HTCondor's ``DSlotId``).

**Partitioning.** ``SlotTable.carve(pslot, job)`` makes a dynamic slot for a claim.  The
job's requests are evaluated in the job ad (MY = job, TARGET = the slot), so they may be
expressions, and first rounded by HTCondor's ``MODIFY_REQUEST_EXPR_REQUEST*`` expressions
(default ``quantize(RequestCpus, {1})``, ``quantize(RequestMemory, {128})``,
``quantize(RequestDisk, {1024})``).  As in HTCondor (``MUST_MODIFY_REQUEST_EXPRS = False``)
a rounded request that no longer fits falls back to the request as the job made it.  A
missing or non-numeric RequestCpus counts as 1; a missing RequestMemory or RequestDisk
refuses the claim, as HTCondor does.  Real values are rounded up.  The carve is refused
(``Refusal`` with a reason) when what is left on the p-slot is not enough, with the same
test as the p-slot's ``WithinResourceLimits``.  ``release`` gives a dynamic slot's
resources back to its p-slot.

**What slots advertise** (``SlotTable.advertise``), with HTCondor's attribute names:
``Name``, ``SlotID`` (a dynamic slot has its parent's), ``SlotTypeID`` (negative for a
dynamic slot, as HTCondor does), ``SlotType`` (``"Static"``, ``"Partitionable"``,
``"Dynamic"``), ``PartitionableSlot``/``DynamicSlot`` (``true`` on those kinds only),
``Cpus``/``Memory``/``Disk`` (on a p-slot what is *left*), ``TotalSlotCpus``/
``TotalSlotMemory``/``TotalSlotDisk`` (the slot's whole share), ``TotalSlots`` (all slots
of the table, dynamic ones included), ``NumDynamicSlots`` on p-slots, and
``ParentSlotId``/``DSlotId`` on dynamic slots (HTCondor has no ``ParentSlotName``; the
parent's name is ``slot<ParentSlotId>@<host>``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from classad import ClassAd, ExprTree, Value

STATIC = "Static"
PARTITIONABLE = "Partitionable"
DYNAMIC = "Dynamic"

REQUEST_CPUS = "RequestCpus"
REQUEST_MEMORY = "RequestMemory"
REQUEST_DISK = "RequestDisk"

# HTCondor's generated WithinResourceLimits, without the _condor_Request* variants
# (STARTD_JOB_HAS_REQUEST_ATTRS = False, the default) and without custom resources.
WITHIN_RESOURCE_LIMITS = (
    "MY.Cpus > 0 && TARGET.RequestCpus <= MY.Cpus && "
    "MY.Memory > 0 && TARGET.RequestMemory <= MY.Memory && "
    "MY.Disk > 0 && TARGET.RequestDisk <= MY.Disk"
)


def quantize_exprs(cpus: int = 1, memory_mb: int = 128, disk_kb: int = 1024) -> dict[str, str]:
    """``MODIFY_REQUEST_EXPR_*`` rounding each request up to a multiple of a quantum."""
    for name, quantum in (("cpus", cpus), ("memory_mb", memory_mb), ("disk_kb", disk_kb)):
        if not isinstance(quantum, int) or quantum < 1:
            raise ValueError(f"the {name} quantum must be a positive integer, not {quantum!r}")
    return {REQUEST_CPUS: f"quantize(RequestCpus, {{{cpus}}})",
            REQUEST_MEMORY: f"quantize(RequestMemory, {{{memory_mb}}})",
            REQUEST_DISK: f"quantize(RequestDisk, {{{disk_kb}}})"}


DEFAULT_MODIFY_REQUEST = quantize_exprs()


class SlotLayoutError(ValueError):
    """A slot type that does not parse, or a layout the machine cannot hold."""


@dataclass(frozen=True)
class Amounts:
    """An amount of each resource: CPUs, memory in MiB, disk in KiB."""

    cpus: int
    memory_mb: int
    disk_kb: int

    def __add__(self, other: Amounts) -> Amounts:
        return Amounts(self.cpus + other.cpus, self.memory_mb + other.memory_mb,
                       self.disk_kb + other.disk_kb)

    def __sub__(self, other: Amounts) -> Amounts:
        return Amounts(self.cpus - other.cpus, self.memory_mb - other.memory_mb,
                       self.disk_kb - other.disk_kb)


ZERO = Amounts(0, 0, 0)


@dataclass(frozen=True)
class SlotType:
    """``count`` slots with ``share`` of the machine each (``SLOT_TYPE_<N>``)."""

    share: str = "auto"
    count: int = 1
    partitionable: bool = False


def static_slots(count: int) -> list[SlotType]:
    """The machine split evenly into ``count`` static slots."""
    return [SlotType("auto", count)]


def partitionable_slot() -> list[SlotType]:
    """One partitionable slot holding the whole machine."""
    return [SlotType("100%", 1, partitionable=True)]


# -- slot type shares ----------------------------------------------------------------------

_RESOURCES = ("cpus", "memory_mb", "disk_kb")
_BY_LETTER = {"c": "cpus", "m": "memory_mb", "r": "memory_mb", "d": "disk_kb",
              "s": None, "v": None}
_AMOUNT = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)B?$", re.IGNORECASE)
_POWER = {"K": 1, "M": 2, "G": 3, "T": 4}
AUTO = "auto"

Share = Fraction | int | str  # a fraction of the total, an absolute amount, or AUTO


def parse_share(text: str) -> dict[str, Share]:
    """The share of each resource a slot type's text gives (see the module's docstring)."""
    named: dict[str, Share] = {}
    blanket: Share = AUTO
    items = [item.strip() for item in text.split(",")]
    if not any(items):
        raise SlotLayoutError(f"empty slot type {text!r}")
    for item in items:
        if not item:
            raise SlotLayoutError(f"empty item in slot type {text!r}")
        name, equals, value = item.partition("=")
        if not equals:
            blanket = _fraction_or_auto(item.strip(), text)
            continue
        name = name.strip()
        if not name or name[0].lower() not in _BY_LETTER:
            raise SlotLayoutError(f"unknown resource {name!r} in slot type {text!r}")
        resource = _BY_LETTER[name[0].lower()]
        if resource is not None:
            named[resource] = _value(resource, value.strip(), text)
    return {resource: named.get(resource, blanket) for resource in _RESOURCES}


def _fraction_or_auto(value: str, text: str) -> Fraction | str:
    if value.lower() == AUTO:
        return AUTO
    try:
        if value.endswith("%"):
            fraction = Fraction(value[:-1].strip()) / 100
        elif "/" in value:
            numerator, denominator = value.split("/", 1)
            fraction = Fraction(int(numerator), int(denominator))
        else:
            raise ValueError(value)
    except (ValueError, ZeroDivisionError):
        raise SlotLayoutError(f"bad share {value!r} in slot type {text!r}") from None
    if not 0 < fraction <= 1:
        raise SlotLayoutError(f"share {value!r} in slot type {text!r} is not in (0, 100%]")
    return fraction


def _value(resource: str, value: str, text: str) -> Share:
    if value.lower() == AUTO or value.endswith("%") or "/" in value:
        return _fraction_or_auto(value, text)
    match = _AMOUNT.match(value)
    if not match:
        raise SlotLayoutError(f"bad amount {value!r} in slot type {text!r}")
    number, unit = float(match.group(1)), match.group(2).upper()
    if resource == "cpus":
        if unit or not number.is_integer():
            raise SlotLayoutError(f"CPUs are a whole number, not {value!r} in {text!r}")
        return int(number)
    # Memory is counted in MiB (2**20 bytes, power 2), disk in KiB (power 1).
    power = {"memory_mb": 2, "disk_kb": 1}[resource]
    scale = 1024 ** (_POWER[unit] - power) if unit else 1
    return int(number * scale)


def layout(total: Amounts, slot_types: Sequence[SlotType]) -> list[tuple[int, SlotType, Amounts]]:
    """Each static or partitionable slot's (type number, type, size), in slot order."""
    slots: list[tuple[int, SlotType, dict[str, Share]]] = []
    for number, slot_type in enumerate(slot_types, start=1):
        if slot_type.count < 0:
            raise SlotLayoutError(f"slot type {number} has a negative count")
        shares = parse_share(slot_type.share)
        slots += [(number, slot_type, shares)] * slot_type.count
    sizes: list[dict[str, int]] = [{} for _ in slots]
    for resource in _RESOURCES:
        whole = getattr(total, resource)
        automatic = []
        for index, (_, _, shares) in enumerate(slots):
            share = shares[resource]
            if share == AUTO:
                automatic.append(index)
            elif isinstance(share, Fraction):
                sizes[index][resource] = math.floor(whole * share)
            else:
                sizes[index][resource] = share
        left = whole - sum(size.get(resource, 0) for size in sizes)
        if left < 0:
            raise SlotLayoutError(f"the slot types give out more {_LABEL[resource]} than the "
                                  f"machine has ({whole})")
        if automatic:
            each, extra = divmod(left, len(automatic))
            for rank, index in enumerate(automatic):
                sizes[index][resource] = each + (1 if rank < extra else 0)
    result = []
    for slot_id, ((number, slot_type, _), size) in enumerate(zip(slots, sizes, strict=True), 1):
        amounts = Amounts(**size)
        if amounts.cpus < 1 or amounts.memory_mb < 1:
            raise SlotLayoutError(f"slot {slot_id} (type {number}) would get {amounts.cpus} "
                                  f"CPUs and {amounts.memory_mb} MiB of memory")
        result.append((number, slot_type, amounts))
    return result


_LABEL = {"cpus": "CPUs", "memory_mb": "memory (MiB)", "disk_kb": "disk (KiB)"}


# -- the slot table ------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One slot.  ``size`` is its whole share; ``left`` is what a p-slot has not given to
    dynamic slots (for other kinds it is ``size``)."""

    name: str
    slot_id: int
    type_id: int
    kind: str
    size: Amounts
    left: Amounts
    parent: str | None = None
    dslot_id: int | None = None


@dataclass(frozen=True)
class Refusal:
    """Why a partitionable slot cannot make a dynamic slot for a job."""

    reason: str


class SlotTable:
    """The slots of one machine: static and partitionable from a layout, dynamic ones
    carved from the partitionable ones per claim.  Changed only by ``carve`` and
    ``release``; ``validate`` checks that nothing is lost or given twice.

    ``modify_request`` maps request attributes to HTCondor's ``MODIFY_REQUEST_EXPR_*``
    expressions (``quantize_exprs`` makes the usual ones); a request it does not name is
    taken as the job makes it."""

    def __init__(self, host: str, total: Amounts, slot_types: Sequence[SlotType] | None = None,
                 *, modify_request: Mapping[str, str] = DEFAULT_MODIFY_REQUEST) -> None:
        self.host = host
        self.total = total
        self._slots: dict[str, Slot] = {}
        self._children: dict[str, list[str]] = {}
        self._next_dslot: dict[str, int] = {}
        self._modify: list[tuple[str, ExprTree]] = []
        known = {REQUEST_CPUS.lower(), REQUEST_MEMORY.lower(), REQUEST_DISK.lower()}
        for name, text in modify_request.items():
            if name.lower() not in known:
                raise ValueError(f"no request attribute {name!r} to modify")
            self._modify.append((name, ExprTree(text)))
        types = partitionable_slot() if slot_types is None else slot_types
        for slot_id, (type_id, slot_type, size) in enumerate(layout(total, types), start=1):
            kind = PARTITIONABLE if slot_type.partitionable else STATIC
            name = f"slot{slot_id}@{host}"
            self._slots[name] = Slot(name, slot_id, type_id, kind, size, size)
            if kind == PARTITIONABLE:
                self._children[name] = []
                self._next_dslot[name] = 1

    # -- reading ---------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Slot]:
        return iter(list(self._slots.values()))

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, name: object) -> bool:
        return name in self._slots

    def slot(self, name: str) -> Slot:
        return self._slots[name]

    def most_jobs(self) -> int:
        """How many jobs the machine can run at once: one per static slot, one per CPU of a
        partitionable slot (a dynamic slot takes at least one CPU)."""
        return sum(slot.size.cpus if slot.kind == PARTITIONABLE else 1
                   for slot in self._slots.values() if slot.kind != DYNAMIC)

    def children(self, pslot_name: str) -> list[Slot]:
        """The dynamic slots carved from a partitionable slot, oldest first."""
        return [self._slots[name] for name in self._children[pslot_name]]

    def advertise(self, name: str) -> dict[str, object]:
        """The slot attributes of the slot's machine ad (see the module's docstring)."""
        slot = self._slots[name]
        attributes: dict[str, object] = {
            "Name": slot.name,
            "SlotID": slot.slot_id,
            "SlotTypeID": -slot.type_id if slot.kind == DYNAMIC else slot.type_id,
            "SlotType": slot.kind,
            "Cpus": slot.left.cpus,
            "Memory": slot.left.memory_mb,
            "Disk": slot.left.disk_kb,
            "TotalSlotCpus": slot.size.cpus,
            "TotalSlotMemory": slot.size.memory_mb,
            "TotalSlotDisk": slot.size.disk_kb,
            "TotalSlots": len(self._slots),
        }
        if slot.kind == PARTITIONABLE:
            attributes["PartitionableSlot"] = True
            attributes["NumDynamicSlots"] = len(self._children[name])
        elif slot.kind == DYNAMIC:
            attributes["DynamicSlot"] = True
            attributes["ParentSlotId"] = slot.slot_id
            attributes["DSlotId"] = slot.dslot_id
        return attributes

    def resource_ad(self, name: str) -> ClassAd:
        """The slot's attributes and WithinResourceLimits as an ad (the TARGET job requests
        are evaluated against when no full machine ad is given)."""
        ad = ClassAd(self.advertise(name))
        ad["WithinResourceLimits"] = ExprTree(WITHIN_RESOURCE_LIMITS)
        return ad

    # -- changing --------------------------------------------------------------------------

    def carve(self, pslot_name: str, job: ClassAd,
              machine_ad: ClassAd | None = None) -> Slot | Refusal:
        """A new dynamic slot sized for ``job`` out of ``pslot_name``, or why not.

        ``machine_ad``, the p-slot's full ad, is the TARGET of the job's request
        expressions; without it, the p-slot's ``resource_ad``."""
        pslot = self._slots.get(pslot_name)
        if pslot is None:
            return Refusal(f"there is no slot {pslot_name}")
        if pslot.kind != PARTITIONABLE:
            return Refusal(f"{pslot_name} is a {pslot.kind.lower()} slot, not a partitionable "
                           f"one")
        target = machine_ad if machine_ad is not None else self.resource_ad(pslot_name)
        modified = job.copy()
        for name, tree in self._modify:
            value = tree.eval(my=job, target=target)
            if _is_number(value):
                modified[name] = math.ceil(value)
        wanted = _requests(modified, target)
        if not (isinstance(wanted, Amounts) and _fits(wanted, pslot.left)):
            unmodified = _requests(job, target)
            if isinstance(unmodified, Amounts) and _fits(unmodified, pslot.left):
                wanted = unmodified
        if isinstance(wanted, Refusal):
            return wanted
        if not _fits(wanted, pslot.left):
            return Refusal(_shortfall(pslot, wanted))

        dslot_id = self._next_dslot[pslot_name]
        self._next_dslot[pslot_name] = dslot_id + 1
        name = f"slot{pslot.slot_id}_{dslot_id}@{self.host}"
        dslot = Slot(name, pslot.slot_id, pslot.type_id, DYNAMIC, wanted, wanted,
                     parent=pslot_name, dslot_id=dslot_id)
        self._slots[name] = dslot
        self._slots[pslot_name] = replace(pslot, left=pslot.left - wanted)
        self._children[pslot_name].append(name)
        return dslot

    def release(self, name: str) -> Slot:
        """Delete a dynamic slot and give its resources back to its p-slot; the p-slot as it
        is now.  KeyError for an unknown slot, ValueError for one that is not dynamic."""
        dslot = self._slots[name]
        if dslot.kind != DYNAMIC or dslot.parent is None:
            raise ValueError(f"{name} is a {dslot.kind.lower()} slot; only dynamic slots are "
                             f"released")
        del self._slots[name]
        self._children[dslot.parent].remove(name)
        pslot = self._slots[dslot.parent]
        pslot = self._slots[dslot.parent] = replace(pslot, left=pslot.left + dslot.size)
        return pslot

    def validate(self) -> None:
        """Assert the invariants: every p-slot's children and what it has left add up to its
        size, nothing is negative, and the static and partitionable slots fit the machine."""
        given = ZERO
        for slot in self._slots.values():
            assert min(slot.left.cpus, slot.left.memory_mb, slot.left.disk_kb) >= 0, slot
            if slot.kind == DYNAMIC:
                assert slot.parent in self._children, slot
                assert slot.name in self._children[slot.parent], slot
                assert slot.left == slot.size, slot
                continue
            given = given + slot.size
            if slot.kind == STATIC:
                assert slot.left == slot.size, slot
            else:
                children = self.children(slot.name)
                used = sum((child.size for child in children), ZERO)
                assert slot.left + used == slot.size, (slot, children)
                assert all(child.dslot_id < self._next_dslot[slot.name] for child in children)
        assert given.cpus <= self.total.cpus, given
        assert given.memory_mb <= self.total.memory_mb, given
        assert given.disk_kb <= self.total.disk_kb, given


def _is_number(value) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _requests(job: ClassAd, target: ClassAd) -> Amounts | Refusal:
    """The job's requests evaluated with the slot as TARGET, as whole numbers."""
    values = {}
    for attribute, default in ((REQUEST_CPUS, 1), (REQUEST_MEMORY, None), (REQUEST_DISK, None)):
        value = (job.lookup(attribute).eval(my=job, target=target) if attribute in job
                 else Value.Undefined)
        if not _is_number(value):
            if default is None:
                return Refusal(f"the job's {attribute} is not a number ({value!r})")
            value = default
        if value < 0:
            return Refusal(f"the job's {attribute} is negative ({value})")
        values[attribute] = math.ceil(value)
    return Amounts(max(1, values[REQUEST_CPUS]), values[REQUEST_MEMORY], values[REQUEST_DISK])


def _fits(wanted: Amounts, left: Amounts) -> bool:
    """The p-slot's WithinResourceLimits on whole numbers."""
    return (left.cpus > 0 and wanted.cpus <= left.cpus
            and left.memory_mb > 0 and wanted.memory_mb <= left.memory_mb
            and left.disk_kb > 0 and wanted.disk_kb <= left.disk_kb)


def _shortfall(pslot: Slot, wanted: Amounts) -> str:
    short = [f"{label} {want}{unit} wanted, {have}{unit} left"
             for label, unit, want, have in (
                 ("Cpus", "", wanted.cpus, pslot.left.cpus),
                 ("Memory", " MiB", wanted.memory_mb, pslot.left.memory_mb),
                 ("Disk", " KiB", wanted.disk_kb, pslot.left.disk_kb))
             if want > have or have <= 0]
    return f"not enough left on {pslot.name}: " + "; ".join(short)
