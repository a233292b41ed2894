"""The ad a pilot would advertise, before it exists: what the factory matches jobs against.

``pilot_ad(spec, now)`` is the machine ad of one node of a pilot submitted with ``spec``
that starts at ``now``, made by the startd's own code so that it cannot drift from what a
real pilot advertises: the node's resources in one partitionable slot
(``startd.slots.SlotTable``, the startd's default layout), the machine ad
(``startd.machine_ad.slot_ad``), the glide-in lifetime (``startd.lifetime.Lifetime``: the
allocation's end less the startd's margin, advertised as ``GLIDEIN_ToDie``,
``GLIDEIN_ToRetire`` and ``TimeToLive``) and the glidein policy's START and Requirements
(``startd.policy.glidein``, installed as the slot core installs it, with the pilot's
``RetireMargin``: ``startd.glidein.pilot.retire_margin``).  The slot is Unclaimed
and Idle, as a pilot's slot is once it has started, and carries what ``roost startd
--glidein`` adds to its slots (``IsGlidein``) and what the pilot adds (glideinWMS's
``IS_GLIDEIN``).

**Assumptions** where a real startd measures what the spec leaves unset (``NodeGuess``):

- *CPUs*: without ``cpus_per_node``, Slurm allocates one task with one CPU per node, and
  the pilot's startd offers ``SLURM_CPUS_ON_NODE``: 1.
- *Memory*: without ``memory_mib``, Slurm gives the partition's default (``DefMemPerNode``
  or ``DefMemPerCPU``, site settings the factory cannot see) and the startd offers what the
  allocation or its cgroup allows.  The template assumes 1024 MiB per CPU, a common
  default and deliberately modest: a job that needs more is reported as one no pilot can
  serve, rather than provisioned for in pilots that would then refuse it.  Give
  ``--mem`` for the truth.
- *Disk*: the startd offers the free space of its execute directory; the template assumes
  10 GiB.
- *Platform*: ``Arch``, ``OpSys`` and the distribution are this host's (batch nodes of one
  cluster are usually alike, and a single-node cluster is this host).
- *Names*: ``Machine``, ``FileSystemDomain`` and ``UidDomain`` are a placeholder
  (``pilot``), since the node is not known before the pilot runs: a job that requires a
  particular host or file system domain is not provisioned for.
- ``GLIDEIN_BatchJobId`` is unknown before submission and left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from classad import ClassAd
from startd.glidein.pilot import PilotSpec, retire_margin
from startd.lifetime import Lifetime
from startd.machine_ad import (
    MachineInfo,
    Measurements,
    Platform,
    SlotState,
    local_platform_info,
    slot_ad,
)
from startd.policy import policy_by_name
from startd.slots import Amounts, SlotTable, partitionable_slot

# The slot attributes ``roost startd --glidein`` (and the pilot) add to every slot.
GLIDEIN_ATTRIBUTES = {"IsGlidein": "true", "IS_GLIDEIN": "true"}
TEMPLATE_HOST = "pilot"  # the host part of the template's slot name


@dataclass(frozen=True)
class NodeGuess:
    """What the template assumes for what the spec leaves to the batch system (see the
    module's docstring)."""

    cpus: int = 1
    memory_mib_per_cpu: int = 1024
    disk_kib: int = 10 * 1024 * 1024


def node_amounts(spec: PilotSpec, guess: NodeGuess = NodeGuess()) -> Amounts:
    """What one node of the pilot offers: the spec's requests, else the guesses."""
    cpus = spec.cpus_per_node or guess.cpus
    memory = spec.memory_mib or guess.memory_mib_per_cpu * cpus
    return Amounts(cpus, memory, guess.disk_kib)


def pilot_ad(spec: PilotSpec, now: float, *, platform: Platform | None = None,
             guess: NodeGuess = NodeGuess()) -> ClassAd:
    """The machine ad one node of a pilot started at ``now`` would advertise (see the
    module's docstring); ``platform`` defaults to this host's."""
    if spec.walltime <= 0:
        raise ValueError(f"a pilot's walltime must be positive, not {spec.walltime}")
    now = int(now)
    amounts = node_amounts(spec, guess)
    lifetime = Lifetime.of(now, lifetime=spec.walltime, idle_timeout=spec.idle_timeout)
    machine = MachineInfo(
        fqdn=TEMPLATE_HOST, address="", platform=platform or local_platform_info(),
        total_cpus=amounts.cpus, total_memory_mb=amounts.memory_mb,
        total_disk_kb=amounts.disk_kb, detected_cpus=amounts.cpus,
        detected_memory_mb=amounts.memory_mb, file_system_domain=TEMPLATE_HOST,
        uid_domain=TEMPLATE_HOST, custom=GLIDEIN_ATTRIBUTES, to_die=lifetime.to_die)
    table = SlotTable(TEMPLATE_HOST, amounts, partitionable_slot())
    (pslot,) = table
    ad = slot_ad(machine, table.advertise(pslot.name),
                 SlotState("Unclaimed", "Idle", now, now), Measurements(), now=now)
    policy_by_name("glidein", RetireMargin=retire_margin(spec.walltime)).install(ad)
    # The policy installs TimeToLive as an expression of CurrentTime; the running startd
    # advertises the figure it measured, and so does the template, which stays the same
    # whenever it is evaluated.
    ad["TimeToLive"] = max(0, machine.to_die - now)
    return ad
