"""Hierarchical group quotas: worked examples (most from HTCondor's manual) and properties."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matchmaker.groups import (
    ROOT,
    Group,
    GroupConfig,
    assign_quotas,
    negotiation_limit,
    negotiation_order,
    submitter_name,
)

# The manual's example tree (cm-configuration.rst, "Accounting Groups with Hierarchical
# Group Quotas").
PHYSICS = "group_physics, group_physics.hep, group_physics.lep, group_chemistry"
PHYSICS_STATIC = {
    "GROUP_NAMES": PHYSICS,
    "GROUP_QUOTA_group_physics": 20,
    "GROUP_QUOTA_group_physics.hep": 15,
    "GROUP_QUOTA_group_physics.lep": 5,
    "GROUP_QUOTA_group_chemistry": 10,
}


def config(**settings_) -> GroupConfig:
    return GroupConfig.from_mapping(settings_)


def allocated(result) -> dict[str, float]:
    return {name: round(a.allocated, 6) for name, a in result.items()}


def quotas(result) -> dict[str, float]:
    return {name: round(a.quota, 6) for name, a in result.items()}


# --- surplus -----------------------------------------------------------------------------

def test_sibling_that_accepts_surplus_takes_the_unused_quota():
    c = config(group_names="a, b", group_quota_a=60, group_quota_b=40,
               group_accept_surplus_b=True)
    result = assign_quotas(c, 100, {"a": 10, "b": 200}, {})
    assert allocated(result) == {ROOT: 0, "a": 10, "b": 90}
    assert result["b"].quota == 40 and result["b"].subtree_allocated == 90


def test_group_that_does_not_accept_surplus_is_held_to_its_quota():
    c = config(group_names="a, b", group_quota_a=60, group_quota_b=40)
    result = assign_quotas(c, 100, {"a": 10, "b": 200, ROOT: 100}, {})
    # The root always accepts surplus: ungrouped jobs get what the groups leave.
    assert allocated(result) == {ROOT: 50, "a": 10, "b": 40}


def test_allocation_never_exceeds_demand():
    c = config(group_names="a, b", group_quota_a=60, group_quota_b=40, group_accept_surplus=True)
    result = assign_quotas(c, 100, {"a": 5, "b": 7}, {})
    assert allocated(result) == {ROOT: 0, "a": 5, "b": 7}


def test_surplus_is_shared_in_proportion_to_quota():
    c = config(group_names="a, b, c", group_quota_a=30, group_quota_b=10, group_quota_c=60,
               group_accept_surplus=True)
    result = assign_quotas(c, 100, {"a": 1000, "b": 1000}, {})
    assert allocated(result) == {ROOT: 0, "a": 75, "b": 25, "c": 0}


def test_a_want_filled_early_leaves_the_rest_to_others():
    c = config(group_names="a, b, c", group_quota_a=30, group_quota_b=10, group_quota_c=60,
               group_accept_surplus=True)
    result = assign_quotas(c, 100, {"a": 1000, "b": 12}, {})
    assert allocated(result) == {ROOT: 0, "a": 88, "b": 12, "c": 0}


def test_groups_without_quota_share_what_quota_holders_leave_equally():
    c = config(group_names="a, z1, z2", group_quota_a=10, group_accept_surplus=True)
    result = assign_quotas(c, 100, {"a": 30, "z1": 1000, "z2": 1000}, {})
    # a takes surplus by its quota first (all 90 would fit its weight, but it wants 20).
    assert allocated(result) == {ROOT: 0, "a": 30, "z1": 35, "z2": 35}


def test_physics_subgroups_share_within_the_physics_cap():
    # The manual: hep and lep accept surplus, physics does not, so "their sum cannot
    # exceed 20, for that is their parent's quota".
    c = config(**PHYSICS_STATIC, **{"GROUP_ACCEPT_SURPLUS_group_physics.hep": True,
                  "GROUP_ACCEPT_SURPLUS_group_physics.lep": True,
                  "NEGOTIATOR_ALLOW_QUOTA_OVERSUBSCRIPTION": False})
    result = assign_quotas(c, 30, {"group_physics.hep": 100}, {})
    assert result["group_physics.hep"].allocated == 20
    assert result["group_physics"].subtree_allocated == 20


def test_physics_accepting_surplus_lifts_the_cap():
    c = config(**PHYSICS_STATIC, **{"GROUP_ACCEPT_SURPLUS_group_physics": True,
                                    "GROUP_ACCEPT_SURPLUS_group_physics.hep": True,
                                    "NEGOTIATOR_ALLOW_QUOTA_OVERSUBSCRIPTION": False})
    result = assign_quotas(c, 30, {"group_physics.hep": 100}, {})
    assert result["group_physics.hep"].allocated == 30


def test_inner_group_uses_its_childrens_unused_quota():
    c = config(group_names="a, a.b", group_quota_a=10, **{
        "group_quota_a.b": 8, "negotiator_allow_quota_oversubscription": "false"})
    result = assign_quotas(c, 100, {"a": 50}, {})
    assert quotas(result) == {ROOT: 90, "a": 2, "a.b": 8}
    assert result["a"].allocated == 10  # its own 2 and a.b's 8, never a's whole subtree more


# --- quotas ------------------------------------------------------------------------------

def test_static_quotas_scaled_down_when_the_pool_shrinks():
    c = config(group_names="group_physics, group_chemistry", group_quota_group_physics=20,
               group_quota_group_chemistry=10, negotiator_allow_quota_oversubscription=False)
    result = assign_quotas(c, 15, {}, {})
    assert quotas(result) == {ROOT: 0, "group_chemistry": 5, "group_physics": 10}


def test_static_quotas_never_scaled_up():
    c = config(group_names="group_physics, group_chemistry", group_quota_group_physics=20,
               group_quota_group_chemistry=10, negotiator_allow_quota_oversubscription=False)
    result = assign_quotas(c, 60, {}, {})
    assert quotas(result) == {ROOT: 30, "group_chemistry": 10, "group_physics": 20}


def test_oversubscription_keeps_configured_quotas_and_is_the_default():
    c = config(group_names="group_physics, group_chemistry", group_quota_group_physics=20,
               group_quota_group_chemistry=10)
    assert c.allow_oversubscription
    result = assign_quotas(c, 15, {"group_physics": 100, "group_chemistry": 100}, {})
    assert quotas(result) == {ROOT: 0, "group_chemistry": 10, "group_physics": 20}
    assert allocated(result)["group_physics"] == 20  # more than the pool: slots run out first


@pytest.mark.parametrize("oversubscribe", [False, True])
def test_dynamic_quotas_of_the_manual(oversubscribe):
    c = config(GROUP_NAMES=PHYSICS, **{
        "GROUP_QUOTA_DYNAMIC_group_chemistry": 0.33334,
        "GROUP_QUOTA_DYNAMIC_group_physics": 0.66667,
        "GROUP_QUOTA_DYNAMIC_group_physics.hep": 0.75,
        "GROUP_QUOTA_DYNAMIC_group_physics.lep": 0.25,
        "NEGOTIATOR_ALLOW_QUOTA_OVERSUBSCRIPTION": oversubscribe})
    result = assign_quotas(c, 30, {}, {})
    assert result["group_physics.hep"].quota == pytest.approx(15, abs=1e-3)
    assert result["group_physics.lep"].quota == pytest.approx(5, abs=1e-3)
    assert result["group_chemistry"].quota == pytest.approx(10, abs=1e-3)
    assert result["group_physics"].subtree_quota == pytest.approx(20, abs=1e-3)
    # Oversubscribed, an inner group's own quota is its whole subtree's (hgq_assign_quotas).
    own = 20 if oversubscribe else 0
    assert result["group_physics"].quota == pytest.approx(own, abs=1e-3)


def test_dynamic_quota_is_a_fraction_of_what_static_siblings_leave():
    # GroupEntry::hgq_assign_quotas: static children first, dynamic ones share the rest.
    c = config(group_names="p, p.s, p.d", group_quota_p=100, **{
        "group_quota_p.s": 40, "group_quota_dynamic_p.d": 0.5})
    result = assign_quotas(c, 1000, {}, {})
    assert result["p.d"].quota == 30
    assert result["p.s"].quota == 40


def test_dynamic_fractions_above_one_are_scaled_down():
    c = config(group_names="a, b", group_quota_dynamic_a=0.8, group_quota_dynamic_b=0.8)
    result = assign_quotas(c, 100, {}, {})
    assert quotas(result) == {ROOT: 0, "a": 50, "b": 50}


def test_group_without_quota_has_zero():
    c = config(group_names="a")
    assert assign_quotas(c, 100, {"a": 5}, {})["a"].allocated == 0
    c = config(group_names="a", group_accept_surplus=True)
    assert assign_quotas(c, 100, {"a": 5}, {})["a"].allocated == 5


def test_static_quota_wins_over_dynamic():
    c = config(group_names="a", group_quota_a=7, group_quota_dynamic_a=0.5)
    assert assign_quotas(c, 100, {}, {})["a"].quota == 7


# --- order and limits --------------------------------------------------------------------

def test_starvation_order():
    c = config(group_names="a, b, c, z", group_quota_a=10, group_quota_b=20, group_quota_c=30)
    usage = {"a": 5, "b": 5, "c": 30, ROOT: 1}
    result = assign_quotas(c, 100, {}, usage)
    assert result["a"].sort_key == 0.5 and result["b"].sort_key == 0.25
    # b (0.25), a (0.5), c (1.0), z without a quota, and <none> last.
    assert negotiation_order(result) == ["b", "a", "c", "z", ROOT]
    assert negotiation_order(result, {"a": 0, "b": 15}) == ["a", "c", "b", "z", ROOT]


def test_order_ties_keep_tree_order():
    c = config(group_names="b, a, a.x", group_quota_a=10, group_quota_b=10,
               **{"group_quota_a.x": 5})
    assert negotiation_order(assign_quotas(c, 100, {}, {})) == ["a", "b", "a.x", ROOT]


def test_negotiation_limit_enforces_hard_cap_of_oversubscribed_tree():
    # Oversubscribed: a's own quota is its whole 10 and a.b keeps 10, so allocations alone
    # would let the subtree hold 20; strict_enforce_quota holds it to a's configured 10.
    c = config(group_names="a, a.b", group_quota_a=10, **{"group_quota_a.b": 10})
    usage = {"a": 4, "a.b": 3}
    result = assign_quotas(c, 100, {"a": 50, "a.b": 50}, usage)
    assert result["a"].allocated == 10 and result["a.b"].allocated == 10
    assert negotiation_limit(c, result, usage, "a.b") == 6  # 3 held + 3 left under a's cap
    assert negotiation_limit(c, result, usage, "a") == 7


def test_negotiation_limit_with_surplus_is_the_allocation():
    c = config(group_names="a, b", group_quota_a=60, group_quota_b=40,
               group_accept_surplus=True)
    usage = {"b": 70}
    result = assign_quotas(c, 100, {"a": 10, "b": 200}, usage)
    assert negotiation_limit(c, result, usage, "b") == 90
    assert negotiation_limit(c, result, usage, ROOT) == 0


# --- names -------------------------------------------------------------------------------

def test_group_of_submitter_names():
    c = config(GROUP_NAMES="group_physics, Group_Physics.HEP")
    assert c.names == (ROOT, "group_physics", "group_physics.hep")
    assert c.group_of("group_physics.hep.higgs@pool") == "group_physics.hep"
    assert c.group_of("GROUP_PHYSICS.HEP.higgs@pool") == "group_physics.hep"
    assert c.group_of("group_physics.lep.dirac@pool") == "group_physics"
    # The part after the last dot is the user, even when it spells a group.
    assert c.group_of("group_physics.hep@pool") == "group_physics"
    assert c.group_of("group_physicsx.hep.y@pool") == ROOT
    assert c.group_of("alice@pool") == ROOT
    assert c.group_of("group_chemistry.curie@pool") == ROOT
    assert c.group_of("group_physics.hep") == "group_physics.hep"  # a group name
    assert c.group_of("group_physics.hep.higgs") == "group_physics.hep"  # AccountingGroup
    assert c.group_of(ROOT) == ROOT


def test_submitter_name():
    assert submitter_name("alice") == "alice"
    assert submitter_name("alice", domain="pool") == "alice@pool"
    assert submitter_name("alice", "group_physics.hep") == "group_physics.hep.alice"
    assert submitter_name("alice", "group_physics.hep", "higgs", "pool") == \
        "group_physics.hep.higgs@pool"
    assert submitter_name("portal", None, "ishmael") == "ishmael"
    with pytest.raises(ValueError, match="accounting_group_user"):
        submitter_name("alice", "g", "bad user")


# --- configuration errors ----------------------------------------------------------------

@pytest.mark.parametrize(("settings_", "key"), [
    ({"group_names": "a", "group_quota_a": -1}, "group_quota_a"),
    ({"group_names": "a", "group_quota_a": "many"}, "group_quota_a"),
    ({"group_names": "a", "group_quota_dynamic_a": 1.5}, "group_quota_dynamic_a"),
    ({"group_names": "a", "group_accept_surplus_a": "maybe"}, "group_accept_surplus_a"),
    ({"group_names": "a", "group_accept_surplus": 3}, "group_accept_surplus"),
    ({"group_names": "a", "group_quota_b": 1}, "group_quota_b"),
    ({"group_names": "a", "GROUP_SORT_EXPR": "1"}, "GROUP_SORT_EXPR"),
    ({"group_names": "a", "group_autoregroup": True}, "group_autoregroup"),
    ({"group_names": "a", "group_quotaa_a": 1}, "group_quotaa_a"),
    ({"group_names": "a.b"}, "group_names"),
    ({"group_names": "a, A"}, "group_names"),
    ({"group_names": "a, <none>"}, "group_names"),
    ({"group_names": "a..b, a"}, "group_names"),
    ({"group_names": 7}, "group_names"),
    ({"negotiator_allow_quota_oversubscription": "sometimes"},
     "negotiator_allow_quota_oversubscription"),
])
def test_bad_settings_name_the_key(settings_, key):
    with pytest.raises(ValueError, match=f"^{key}: ") as info:
        GroupConfig.from_mapping(settings_)
    assert "\n" not in str(info.value)


def test_other_settings_are_left_alone():
    c = GroupConfig.from_mapping({"group_names": ["a"], "negotiator_interval": 20,
                                  "group_prio_factor_a": 2.0, "group_quota_a": None})
    assert c.names == (ROOT, "a")


def test_unknown_groups_in_demand_are_refused():
    with pytest.raises(ValueError, match="'x'"):
        assign_quotas(config(group_names="a"), 10, {"x": 1}, {})
    with pytest.raises(ValueError, match="pool_weight"):
        assign_quotas(config(group_names="a"), -1, {}, {})


def test_direct_construction():
    c = GroupConfig([Group("a", 10, accept_surplus=True), Group("a.b", 0.5, dynamic=True)],
                    allow_oversubscription=False)
    result = assign_quotas(c, 40, {"a.b": 100}, {})
    assert quotas(result) == {ROOT: 30, "a": 5, "a.b": 5}
    assert result["a.b"].allocated == 5  # a.b does not accept surplus (the global default)
    with pytest.raises(ValueError, match="no parent"):
        GroupConfig([Group("x.y", 1)])


# --- properties --------------------------------------------------------------------------

NAMES = ["a", "b", "a.x", "a.y", "b.x", "a.x.p", "c"]


@st.composite
def setups(draw):
    chosen = [name for name in NAMES if draw(st.booleans())]
    present = set()
    groups = []
    for name in chosen:  # NAMES lists parents first
        parent = name.rpartition(".")[0]
        if parent and parent not in present:
            continue
        present.add(name)
        dynamic = draw(st.booleans())
        quota = (draw(st.floats(0, 1)) if dynamic
                 else draw(st.sampled_from([0, 1, 5, 10, 40, 100, 1000])))
        groups.append(Group(name, quota, dynamic, draw(st.sampled_from([None, True, False]))))
    c = GroupConfig(groups, accept_surplus=draw(st.booleans()),
                    allow_oversubscription=draw(st.booleans()))
    amounts = st.sampled_from([0, 0, 1, 3, 10, 50, 200]) | st.floats(0, 500)
    demand = {name: draw(amounts) for name in c.names}
    usage = {name: draw(amounts) for name in c.names}
    pool = draw(st.sampled_from([0, 1, 10, 100]) | st.floats(0, 1000))
    return c, pool, demand, usage


def close_le(a: float, b: float) -> bool:
    return a <= b + 1e-6 * max(1.0, abs(b))


@settings(max_examples=300, deadline=None)
@given(setups())
def test_properties(setup):
    c, pool, demand, usage = setup
    result = assign_quotas(c, pool, demand, usage)
    assert list(result) == list(c.names)
    for name, a in result.items():
        assert a.allocated >= 0 and close_le(a.allocated, demand[name])
        if not c.group(name).accept_surplus and not c.children(name):
            assert close_le(a.allocated, max(a.quota, 0))
    if not c.allow_oversubscription:
        assert close_le(sum(a.allocated for a in result.values()), pool)
        assert math.isclose(sum(a.quota for a in result.values()), pool, rel_tol=1e-9,
                            abs_tol=1e-9) or pool == 0
        for name, a in result.items():
            if not c.group(name).accept_surplus:
                assert close_le(a.subtree_allocated, a.subtree_quota)
    order = negotiation_order(result)
    assert order[-1] == ROOT and sorted(order) == sorted(result)
    for name in c.names:
        limit = negotiation_limit(c, result, usage, name)
        assert limit >= 0 and close_le(limit, max(result[name].allocated, result[name].quota))
        node = name
        while node != ROOT:
            spec = c.group(node)
            if not spec.accept_surplus and spec.quota >= 0 and not spec.dynamic:
                subtree = sum(usage[g] for g in c.names
                              if g == node or g.startswith(node + "."))
                extra = limit - usage[name]
                assert close_le(extra, max(0.0, spec.quota - subtree))
            node = spec.parent


@settings(max_examples=200, deadline=None)
@given(setups())
def test_work_is_conserved_when_everyone_accepts_surplus(setup):
    c, pool, demand, usage = setup
    c = GroupConfig([Group(n, c.group(n).quota, c.group(n).dynamic, True)
                     for n in c.names if n != ROOT], allow_oversubscription=False)
    result = assign_quotas(c, pool, demand, usage)
    total = sum(a.allocated for a in result.values())
    assert math.isclose(total, min(pool, sum(demand.values())), rel_tol=1e-6, abs_tol=1e-6)
