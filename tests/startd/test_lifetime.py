"""startd.lifetime: when a glide-in leaves."""

from __future__ import annotations

import pytest

from startd.lifetime import Lifetime, Verdict

T0 = 1_800_000_000


def test_lifetime_or_the_allocations_end_whichever_is_first():
    assert Lifetime.of(T0, lifetime=3600).end == T0 + 3600
    assert Lifetime.of(T0, allocation_end=T0 + 600).end == T0 + 600
    assert Lifetime.of(T0, lifetime=3600, allocation_end=T0 + 600).end == T0 + 600
    assert Lifetime.of(T0, lifetime=60, allocation_end=T0 + 600).end == T0 + 60
    assert Lifetime.of(T0).end is None and Lifetime.of(T0).to_die is None


def test_it_leaves_a_margin_before_the_end():
    life = Lifetime.of(T0, lifetime=3600, margin=60)
    assert life.to_die == T0 + 3540
    assert life.verdict(T0 + 3539, claimed=True, last_claim_end=None) is Verdict.RUN
    assert life.verdict(T0 + 3540, claimed=True, last_claim_end=None) is Verdict.END
    # A lifetime shorter than the margin ends at once rather than before it began.
    assert Lifetime.of(T0, lifetime=10, margin=60).to_die == T0


def test_idle_timeout_counts_from_the_start_and_from_the_last_claim():
    life = Lifetime.of(T0, idle_timeout=30)
    assert life.verdict(T0 + 29, claimed=False, last_claim_end=None) is Verdict.RUN
    assert life.verdict(T0 + 30, claimed=False, last_claim_end=None) is Verdict.IDLE_TIMEOUT
    assert life.verdict(T0 + 300, claimed=True, last_claim_end=None) is Verdict.RUN
    assert life.verdict(T0 + 300, claimed=False, last_claim_end=T0 + 280) is Verdict.RUN
    assert life.verdict(T0 + 310, claimed=False,
                        last_claim_end=T0 + 280) is Verdict.IDLE_TIMEOUT


def test_no_limits_run_forever():
    assert Lifetime.of(T0).verdict(T0 + 10**9, claimed=False,
                                   last_claim_end=None) is Verdict.RUN


@pytest.mark.parametrize("changes", [{"lifetime": -1}, {"idle_timeout": -5}, {"margin": -1}])
def test_negative_values_are_refused(changes):
    with pytest.raises(ValueError):
        Lifetime.of(T0, **changes)
