"""Accounting groups with hierarchical quotas, computed as HTCondor's negotiator computes them.

A pure core: no I/O, no clock. The negotiator hands in the group configuration, the pool's
size in slot weight, each group's demand and usage, and gets back each group's quota and
allocation for the cycle, the order to negotiate in, and the limit to negotiate up to.

Sources: reference §3.5 (``htcondor-semantics.md``); HTCondor's manual,
``admin-manual/cm-configuration`` "Accounting Groups with Hierarchical Group Quotas" and
``admin-manual/configuration/negotiator`` (``GROUP_*``); where the two are vague the code
decides, ``src/condor_negotiator.V6/GroupEntry.cpp`` at 7491a145f6 (``hgq_construct_tree``,
``hgq_assign_quotas``, ``hgq_fairshare``, ``hgq_allocate_surplus``, ``strict_enforce_quota``,
``GetAssignedGroup``).

Decisions:

- Names are dotted paths, compared without regard to case; roost keeps them lower-cased.
  The root is ``"<none>"``: its quota is the whole pool (minus what its children take), it
  always accepts surplus, and ungrouped jobs negotiate in it.
- A group with neither ``GROUP_QUOTA_<g>`` nor ``GROUP_QUOTA_DYNAMIC_<g>`` has a quota of 0
  (the code; the manual says such a group is ignored). A group with both uses the static one
  (negotiator.rst). A dotted name whose parent is not configured, a duplicate, or a key for
  a group not in ``GROUP_NAMES`` is a ValueError (HTCondor logs and ignores them).
- Quotas (``hgq_assign_quotas``): static children share ``min(sum of their quotas, parent's
  subtree quota)`` in proportion to their quotas, so they are scaled down, never up; with
  ``NEGOTIATOR_ALLOW_QUOTA_OVERSUBSCRIPTION`` they keep their configured quotas and an
  inner group's own quota is its whole subtree quota. Dynamic children share what the
  static ones left, by their fractions (scaled down when the fractions sum above 1): the
  manual says "a fraction of the parent's quota", which is the same thing when a group has
  no static children. A group's own quota is what its children did not take.
- ⚠ ``NEGOTIATOR_ALLOW_QUOTA_OVERSUBSCRIPTION`` defaults to **True**, as in HTCondor
  (``param_info.in``; negotiator.rst says so too; the hard-coded ``false`` in
  ``GroupEntry.cpp`` is overridden by the param table). The cm-configuration prose, and
  reference §3.5, read as if scaling were the default.
- Allocation (``hgq_fairshare``): each group first gets ``min(demand, quota)``; unused quota
  is surplus, passed up the tree. At each inner group, the surplus of its subtree is shared
  among the group itself and those children that accept surplus and still want more: all of
  it if it covers every want, otherwise in proportion to their subtree quotas, and what is
  left to children with a zero quota equally. A child that does not accept surplus gets none
  from above, so its subtree's allocations stay within its subtree quota: a hard cap (with
  oversubscription they can pass it, and the negotiation limit below holds the cap). Surplus
  left at the root is unused. Demand and usage are a group's own (its submitters' weighted
  running plus idle jobs, ``NEGOTIATOR_USE_WEIGHTED_DEMAND``; the accountant's
  ``WeightedResourcesUsed`` of the group), not its subtree's; a name in them that is not a
  configured group is a ValueError (map submitters with ``group_of`` first).
- The negotiation limit (``strict_enforce_quota``, ``NEGOTIATOR_STRICT_ENFORCE_QUOTA`` on by
  default): a group negotiates up to ``max(allocated, quota)`` of usage, less whatever would
  take a group on its path that does not accept surplus over that group's quota (its
  configured quota if static, as the code does, else its subtree quota) counting the usage
  of the whole subtree.
- Order: starvation order, the default ``GROUP_SORT_EXPR``: ``usage / quota`` ascending, a
  group with no quota after every group with one (3.3e38), ``"<none>"`` last (3.4e38, and
  last even when a tiny quota makes a group's key larger). Ties keep the breadth-first
  order of the tree.
- Submitter names: ``AccountingGroup`` is ``<group>.<user>`` (``user`` is
  ``accounting_group_user``, else the owner); the submitter name adds ``@<domain>``
  (``SubmitHash::SetAccountingGroup``, ``schedd.cpp``). Back again, the group is everything
  before the last ``.`` of the part before the last ``@``, walked down the tree as far as it
  names configured groups (so the longest configured prefix, by whole components); no ``.``
  means ``"<none>"``. A configured group name maps to itself; a name without ``@`` that is
  not a group is read as an ``AccountingGroup`` value (HTCondor sends it to ``"<none>"``).

Left out: ``GROUP_SORT_EXPR`` (only its default), ``GROUP_AUTOREGROUP[_<g>]``, the
integral-slot remainder recovery (``hgq_recover_remainders``, which HTCondor also skips with
slot weights), ``GROUP_QUOTA_ROUND_ROBIN_RATE`` and ``GROUP_QUOTA_MAX_ALLOCATION_ROUNDS``
(for a second round the negotiator may call :func:`assign_quotas` again, with the demand of
each group that matched less than its allocation lowered to its usage, as HTCondor does),
``NEGOTIATOR_STRICT_ENFORCE_QUOTA = false``, ``GROUP_PRIO_FACTOR_<g>`` (the accountant's),
and the schedd's mapping of users to groups (``AssignAccountingGroup``). Setting
``GROUP_SORT_EXPR``, ``GROUP_AUTOREGROUP[_<g>]``, ``GROUP_QUOTA_ROUND_ROBIN_RATE`` or
``GROUP_QUOTA_MAX_ALLOCATION_ROUNDS`` is a ValueError, so that a pool does not silently run
another policy than the one it asked for.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

ROOT = "<none>"

# The default GROUP_SORT_EXPR's keys for a group without quota and for the root.
_NO_QUOTA_KEY = 3.3e38
_ROOT_KEY = 3.4e38

# Separators of a config list (HTCondor's StringTokenIterator).
_LIST_SEPARATORS = re.compile(r"[,\s]+")
_BAD_COMPONENT = re.compile(r"[\s@]")

# Group settings left out on purpose (see the module docstring).
_UNSUPPORTED = ("group_sort_expr", "group_autoregroup", "group_quota_round_robin_rate",
                "group_quota_max_allocation_rounds")
_OVERSUBSCRIPTION_KEY = "negotiator_allow_quota_oversubscription"


@dataclass(frozen=True, slots=True)
class Group:
    """One configured group: its quota is in slot weight, or a fraction when ``dynamic``."""

    name: str
    quota: float = 0.0
    dynamic: bool = False
    accept_surplus: bool | None = None  # None: GROUP_ACCEPT_SURPLUS

    @property
    def parent(self) -> str:
        head, dot, _ = self.name.rpartition(".")
        return head if dot else ROOT


@dataclass(frozen=True, slots=True)
class Allocation:
    """A group's share of one cycle.

    ``quota`` is the group's own (its children's are apart), ``subtree_quota`` the quota of
    it and its subtree together; ``allocated`` is what its own submitters may hold this cycle
    (quota plus surplus, never more than ``demand``); ``sort_key`` its starvation-order key.
    """

    group: str
    quota: float
    subtree_quota: float
    demand: float
    usage: float
    allocated: float
    subtree_allocated: float
    sort_key: float


class GroupConfig:
    """The group tree: ``GROUP_NAMES``, quotas, accept-surplus flags, oversubscription."""

    __slots__ = ("_groups", "_children", "accept_surplus", "allow_oversubscription")

    def __init__(self, groups: Iterable[Group] = (), *, accept_surplus: bool = False,
                 allow_oversubscription: bool = True) -> None:
        self.accept_surplus = accept_surplus
        self.allow_oversubscription = allow_oversubscription
        resolved: dict[str, Group] = {}
        for group in groups:
            name = _check_name(group.name)
            if name in resolved:
                raise ValueError(f"group {group.name!r} is configured twice")
            if not math.isfinite(group.quota) or group.quota < 0:
                raise ValueError(f"group {name!r}: quota {group.quota!r} is not a number >= 0")
            if group.dynamic and group.quota > 1:
                raise ValueError(f"group {name!r}: dynamic quota {group.quota!r} is above 1")
            flag = accept_surplus if group.accept_surplus is None else group.accept_surplus
            resolved[name] = replace(group, name=name, accept_surplus=flag)
        # Parents before children, siblings by name: HTCondor sorts GROUP_NAMES.
        self._groups: dict[str, Group] = {}
        self._children: dict[str, list[str]] = {ROOT: []}
        for name in sorted(resolved):
            group = resolved[name]
            if group.parent not in self._children:
                raise ValueError(f"group {name!r} has no parent group {group.parent!r}")
            self._groups[name] = group
            self._children[group.parent].append(name)
            self._children[name] = []

    @classmethod
    def from_mapping(cls, settings: Mapping[str, object]) -> GroupConfig:
        """Read the negotiator's settings: ``group_names``, ``group_quota_<g>``,
        ``group_quota_dynamic_<g>``, ``group_accept_surplus[_<g>]`` and
        ``negotiator_allow_quota_oversubscription``, without regard to case. Keys that are
        not about groups are left to the rest of the negotiator."""
        lowered: dict[str, tuple[str, object]] = {}
        for key, value in settings.items():
            if value is not None:
                lowered[key.lower()] = (key, value)
        names: list[str] = []
        if "group_names" in lowered:
            key, value = lowered.pop("group_names")
            names = _name_list(key, value)
        known = {name.lower() for name in names}
        if len(known) != len(names):
            raise ValueError("group_names: a group is named twice")
        static: dict[str, float] = {}
        dynamic: dict[str, float] = {}
        surplus: dict[str, bool] = {}
        default_surplus = False
        oversubscription = True
        for low, (key, value) in lowered.items():
            if low == "group_accept_surplus":
                default_surplus = _boolean(key, value)
            elif low == _OVERSUBSCRIPTION_KEY:
                oversubscription = _boolean(key, value)
            elif low.startswith("group_accept_surplus_") and low[21:] in known:
                surplus[low[21:]] = _boolean(key, value)
            elif low.startswith("group_quota_dynamic_") and low[20:] in known:
                if low[12:] in known:
                    raise ValueError(f"{key}: names both group {low[12:]!r} and {low[20:]!r}")
                dynamic[low[20:]] = setting_number(key, value, high=1.0)
            elif low.startswith("group_quota_") and low[12:] in known:
                static[low[12:]] = setting_number(key, value)
            elif low.startswith(_UNSUPPORTED):
                raise ValueError(f"{key}: not supported by roost's negotiator")
            elif low.startswith(("group_quota_", "group_accept_surplus_")):
                raise ValueError(f"{key}: no such group in group_names")
            elif low.startswith("group_") and not low.startswith("group_prio_factor_"):
                raise ValueError(f"{key}: unknown group setting")
        groups = []
        for name in names:
            low = name.lower()
            if low in static:
                group = Group(low, static[low])
            else:
                group = Group(low, dynamic.get(low, 0.0), dynamic=True)
            groups.append(replace(group, accept_surplus=surplus.get(low)))
        try:
            return cls(groups, accept_surplus=default_surplus,
                       allow_oversubscription=oversubscription)
        except ValueError as error:
            raise ValueError(f"group_names: {error}") from None

    @property
    def names(self) -> tuple[str, ...]:
        """Every group, the root first, parents before children (breadth first)."""
        order = [ROOT]
        for name in order:
            order.extend(self._children[name])
        return tuple(order)

    def group(self, name: str) -> Group:
        """A configured group's settings (the root's are the pool and accept surplus)."""
        low = name.lower()
        if low == ROOT:
            return Group(ROOT, dynamic=True, quota=1.0, accept_surplus=True)
        try:
            return self._groups[low]
        except KeyError:
            raise ValueError(f"no group {name!r} is configured") from None

    def children(self, name: str) -> tuple[str, ...]:
        return tuple(self._children[self._known(name)])

    def group_of(self, name: str) -> str:
        """The group a submitter name (``group.sub.user@domain``), an ``AccountingGroup``
        value (``group.sub.user``) or a group name negotiates in; ``"<none>"`` if none."""
        low = name.lower()
        if low == ROOT or low in self._groups:
            return low
        user_part = low.rpartition("@")[0] if "@" in low else low
        path, dot, _ = user_part.rpartition(".")
        if not dot:
            return ROOT
        group = ROOT
        for component in path.split("."):
            candidate = component if group == ROOT else f"{group}.{component}"
            if candidate not in self._groups:
                break
            group = candidate
        return group

    def _known(self, name: str) -> str:
        low = name.lower()
        if low != ROOT and low not in self._groups:
            raise ValueError(f"no group {name!r} is configured")
        return low


def submitter_name(owner: str, accounting_group: str | None = None,
                   accounting_group_user: str | None = None, domain: str | None = None) -> str:
    """The ``AccountingGroup`` a job gets from ``accounting_group`` and
    ``accounting_group_user`` (HTCondor's ``AcctGroup``/``AcctGroupUser``), with
    ``@domain`` when a domain is given: the name the job's submitter negotiates under."""
    user = accounting_group_user or owner
    for label, value in (("accounting_group", accounting_group or "-"),
                         ("accounting_group_user", user)):
        if not value or any(ch.isspace() for ch in value):
            raise ValueError(f"{label}: {value!r} is not a valid submitter name")
    name = f"{accounting_group}.{user}" if accounting_group else user
    return f"{name}@{domain}" if domain else name


# --- quotas and allocations --------------------------------------------------------------

@dataclass(slots=True)
class _Node:
    """A group's working values during one computation (HTCondor's GroupEntry)."""

    name: str
    static: bool
    config_quota: float
    accept_surplus: bool
    children: list[_Node]
    quota: float = 0.0
    subtree_quota: float = 0.0
    requested: float = 0.0          # own demand not yet allocated
    subtree_requested: float = 0.0  # ... plus what accepting children still want
    allocated: float = 0.0


def assign_quotas(config: GroupConfig, pool_weight: float, demand: Mapping[str, float],
                  usage: Mapping[str, float]) -> dict[str, Allocation]:
    """Each group's quota and allocation for a cycle, keyed by group (breadth first).

    ``pool_weight`` is the pool's size in slot weight; ``demand`` and ``usage`` are each
    group's own (its submitters'), keyed by group name; a group left out has none.
    """
    if not math.isfinite(pool_weight) or pool_weight < 0:
        raise ValueError(f"pool_weight {pool_weight!r} is not a number >= 0")
    pool_weight = float(pool_weight)
    wants = _per_group(config, demand, "demand")
    used = _per_group(config, usage, "usage")
    nodes: dict[str, _Node] = {}
    for name in config.names:
        spec = config.group(name)
        node = _Node(name, static=not spec.dynamic, config_quota=spec.quota,
                     accept_surplus=bool(spec.accept_surplus), children=[],
                     requested=wants.get(name, 0.0))
        nodes[name] = node
        if name != ROOT:
            nodes[spec.parent].children.append(node)
    root = nodes[ROOT]
    _assign(root, pool_weight, config.allow_oversubscription, is_root=True)
    _fairshare(root)
    result: dict[str, Allocation] = {}
    subtree_allocated: dict[str, float] = {}
    _subtree_sums(root, subtree_allocated)
    for name, node in nodes.items():
        result[name] = Allocation(
            group=name, quota=node.quota, subtree_quota=node.subtree_quota,
            demand=wants.get(name, 0.0), usage=used.get(name, 0.0), allocated=node.allocated,
            subtree_allocated=subtree_allocated[name],
            sort_key=_sort_key(name, node.quota, used.get(name, 0.0)))
    return result


def negotiation_order(allocations: Mapping[str, Allocation],
                      usage: Mapping[str, float] | None = None) -> list[str]:
    """Groups in starvation order: smallest ``usage / quota`` first, ``"<none>"`` last.

    With ``usage`` (keyed by group) the keys are computed from it, as they are between
    rounds of a cycle; otherwise each allocation's ``sort_key`` is used. Every group is
    listed: the negotiator skips those with nothing allocated, as HTCondor does.
    """
    if usage is None:
        keys = {name: a.sort_key for name, a in allocations.items()}
    else:
        low = {name.lower(): value for name, value in usage.items()}
        keys = {name: _sort_key(name, a.quota, low.get(name, 0.0))
                for name, a in allocations.items()}
    return sorted(allocations, key=lambda name: (name == ROOT, keys[name]))


def negotiation_limit(config: GroupConfig, allocations: Mapping[str, Allocation],
                      usage: Mapping[str, float], group: str) -> float:
    """The usage (slot weight) ``group``'s submitters may reach in this negotiation.

    ``max(allocated, quota)``, cut so that no group from ``group`` up to the root that does
    not accept surplus goes over its quota (the configured one if static), counting its
    subtree's current ``usage`` (HTCondor's ``strict_enforce_quota``).
    """
    name = config._known(group)
    used = _per_group(config, usage, "usage")
    subtree_usage: dict[str, float] = {}
    for member in reversed(config.names):
        subtree_usage[member] = used.get(member, 0.0) + sum(
            subtree_usage[child] for child in config.children(member))
    own = used.get(name, 0.0)
    extra = max(allocations[name].allocated, allocations[name].quota) - own
    node = name
    while node != ROOT:
        spec = config.group(node)
        if not spec.accept_surplus:
            cap = spec.quota if not spec.dynamic else allocations[node].subtree_quota
            extra = min(extra, max(0.0, cap - subtree_usage[node]))
        node = spec.parent
    return own + extra


def _assign(node: _Node, quota: float, oversubscribe: bool, *, is_root: bool = False) -> None:
    # hgq_assign_quotas: a subtree that receives nothing keeps quotas of zero.
    if quota <= 0:
        return
    node.subtree_quota = quota
    static_sum = sum(c.config_quota for c in node.children if c.static)
    dynamic_sum = sum(c.config_quota for c in node.children if not c.static)
    static_share = static_sum if oversubscribe else min(static_sum, quota)
    dynamic_share = max(0.0, quota - static_share)
    static_norm = static_sum if static_sum > 0 else 1.0
    dynamic_norm = max(dynamic_sum, 1.0)
    children_quota = 0.0
    for child in node.children:
        if child.static:
            share = child.config_quota * (static_share / static_norm)
        else:
            share = child.config_quota * (dynamic_share / dynamic_norm)
        share = max(share, 0.0)
        _assign(child, share, oversubscribe)
        children_quota += share
    # The root's own quota is always what its children left: its quota is not configured.
    own = quota if oversubscribe and not is_root else quota - children_quota
    node.quota = max(own, 0.0)


def _fairshare(node: _Node) -> float:
    # hgq_fairshare: quota first, then the subtree's surplus; returns the surplus left over.
    node.allocated = min(node.requested, node.quota)
    node.requested -= node.allocated
    node.subtree_requested = node.requested
    surplus = node.quota - node.allocated
    for child in node.children:
        surplus += _fairshare(child)
        if child.accept_surplus:
            node.subtree_requested += child.subtree_requested
    if not node.children:
        return surplus
    return _allocate_surplus(node, surplus)


def _allocate_surplus(node: _Node, surplus: float) -> float:
    # hgq_allocate_surplus: the group shares with its accepting children on equal footing.
    if surplus <= 0:
        return 0.0
    if node.subtree_requested <= 0:
        return surplus
    wants = [c.subtree_requested if c.accept_surplus and c.subtree_requested > 0 else 0.0
             for c in node.children]
    wants.append(max(node.requested, 0.0))
    weights = [c.subtree_quota for c in node.children] + [node.quota]
    requested = node.subtree_requested
    given = [0.0] * len(wants)
    if surplus >= requested:
        given = list(wants)
        surplus -= requested
        requested = 0.0
    else:
        for by_quota in (True, False):
            surplus, requested = _share_loop(by_quota, weights, wants, given, surplus, requested)
    for child, amount in zip(node.children, given, strict=False):
        if amount > 0:
            _allocate_surplus(child, amount)
    node.allocated += given[-1]
    node.requested -= given[-1]
    node.subtree_requested = requested
    return surplus


def _share_loop(by_quota: bool, weights: list[float], wants: list[float], given: list[float],
                surplus: float, requested: float) -> tuple[float, float]:
    # hgq_allocate_surplus_loop: each pass either spends all the surplus or fills at least
    # one want, so it ends within len(wants) + 1 passes.
    while surplus > 0:
        total = sum((weights[j] if by_quota else 1.0) for j, w in enumerate(wants) if w > 0)
        if total <= 0:
            break
        all_within = True
        spent = 0.0
        for j, want in enumerate(wants):
            if want <= 0:
                continue
            share = surplus * ((weights[j] if by_quota else 1.0) / total)
            if share > want:
                share = want
                all_within = False
            given[j] += share
            wants[j] -= share
            spent += share
        surplus -= spent
        requested -= spent
        if all_within or surplus < 0:
            surplus = 0.0
    return surplus, requested


def _subtree_sums(node: _Node, out: dict[str, float]) -> float:
    total = node.allocated + sum(_subtree_sums(child, out) for child in node.children)
    out[node.name] = total
    return total


def _sort_key(name: str, quota: float, usage: float) -> float:
    if name == ROOT:
        return _ROOT_KEY
    return usage / quota if quota > 0 else _NO_QUOTA_KEY


def _per_group(config: GroupConfig, values: Mapping[str, float], what: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, value in values.items():
        group = config._known(name)
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{what} of group {name!r}: {value!r} is not a number >= 0")
        out[group] = out.get(group, 0.0) + float(value)
    return out


# --- parsing settings --------------------------------------------------------------------

def _check_name(name: str) -> str:
    low = name.lower()
    if low == ROOT:
        raise ValueError(f"group name {name!r} is reserved for the root group")
    if any(not part or _BAD_COMPONENT.search(part) for part in low.split(".")):
        raise ValueError(f"group name {name!r} is not a dotted name")
    return low


def _name_list(key: str, value: object) -> list[str]:
    if isinstance(value, str):
        return [name for name in _LIST_SEPARATORS.split(value) if name]
    if isinstance(value, Iterable) and all(isinstance(v, str) for v in value):
        return [name.strip() for name in value if name.strip()]
    raise ValueError(f"{key}: expected a list of group names, not {value!r}")


def setting_number(key: str, value: object, *, high: float = math.inf,
                   infinite: bool = False) -> float:
    """The number a negotiator setting ``key`` gives (0 to ``high``; infinity only when
    ``infinite``); a one-line ValueError naming the setting otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{key}: expected a number, not {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{key}: expected a number, not {value!r}") from None
    if math.isnan(number) or number < 0 or number > high or (
            math.isinf(number) and not infinite):
        bound = "between 0 and 1" if high == 1.0 else ">= 0"
        raise ValueError(f"{key}: {value!r} is not a number {bound}")
    return number


def _boolean(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "false", "no",
                                                             "0"):
        return value.strip().lower() in ("true", "yes", "1")
    raise ValueError(f"{key}: expected true or false, not {value!r}")
