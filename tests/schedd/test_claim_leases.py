"""The schedd's claims and their leases (``schedd.claim_leases``), on a fake clock: each
claim renewed on its own, a silent startd probed rather than renewed, and a claim given
up only once its startd's lease is surely over."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from schedd.claim_leases import (
    ClaimDropped,
    ClaimHeld,
    GiveUp,
    JobAssigned,
    KeepAliveAnswered,
    KeepAliveFailed,
    Leases,
    Probe,
    ProbeAnswered,
    ProbeFailed,
    Reconnect,
    RenewalSent,
    SendKeepAlive,
    StreamAnswered,
    StreamBroke,
    Tick,
    timing,
)

LEASE = 60.0
T = timing(LEASE)


class Clock:
    """The core and a fake clock: ``at(t, event)`` hands the event in at time t."""

    def __init__(self) -> None:
        self.core = Leases()
        self.now = 0.0

    def at(self, now: float, event=None) -> list:
        assert now >= self.now, "time runs forward"
        self.now = now
        out = self.core.handle(event if event is not None else Tick(), now)
        self.core.validate()
        return out

    def run_until(self, end: float, step: float = 0.25, answer=None) -> list:
        """Tick every ``step`` seconds up to ``end``; each instruction is handed to
        ``answer(instruction, now)``, which returns the events to hand back (or None).
        All the instructions, with their times."""
        seen = []
        now = self.now
        while now < end:
            now = min(end, now + step)
            pending = [(now, out) for out in self.at(now)]
            while pending:
                when, instruction = pending.pop(0)
                seen.append((when, instruction))
                for event in (answer(instruction, when) if answer else None) or ():
                    pending += [(when, out) for out in self.at(when, event)]
        return seen


@pytest.fixture
def clock() -> Clock:
    return Clock()


def answered(instruction, now):
    if isinstance(instruction, SendKeepAlive):
        return [KeepAliveAnswered(instruction.claim_id, now)]
    if isinstance(instruction, Probe):
        return [ProbeAnswered(instruction.claim_id)]
    return []


def silent(instruction, now):
    """A startd cut off: every call fails at once."""
    if isinstance(instruction, SendKeepAlive):
        return [KeepAliveFailed(instruction.claim_id, now, "unreachable")]
    if isinstance(instruction, Probe):
        return [ProbeFailed(instruction.claim_id, "unreachable")]
    if isinstance(instruction, Reconnect):
        return [RenewalSent(instruction.claim_id),
                StreamBroke(instruction.claim_id, "unreachable")]
    return []


def of(seen, kind) -> list[float]:
    return [when for when, out in seen if isinstance(out, kind)]


def test_timing_follows_the_lease():
    assert (T.keep_alive, T.deadline, T.probe, T.grace) == (20.0, 30.0, 2.0, 30.0)
    short = timing(6)
    assert (short.keep_alive, short.deadline, short.probe, short.grace) == (2.0, 3.0, 0.6, 3.0)
    with pytest.raises(ValueError):
        timing(0)


def test_a_healthy_claim_is_renewed_every_third_of_its_lease_and_kept(clock):
    clock.at(0, ClaimHeld("A", LEASE, sent=0))
    seen = clock.run_until(600, answer=answered)
    assert of(seen, SendKeepAlive) == [20.0 * n for n in range(1, 31)]
    assert all(isinstance(out, SendKeepAlive) and out.deadline == T.deadline
               for _, out in seen)
    assert "A" in clock.core


def test_an_unanswered_keep_alive_delays_no_other_claim(clock):
    """A's and B's startds never answer (their keep-alives stay in flight for as long as
    the shell's calls take); C's keep-alives still go out on time, and C is kept."""
    for claim_id in "ABC":
        clock.at(0, ClaimHeld(claim_id, LEASE, sent=0))

    def only_c(instruction, now):
        return answered(instruction, now) if instruction.claim_id == "C" else []

    seen = clock.run_until(200, answer=only_c)
    sends = {claim_id: [when for when, out in seen
                        if isinstance(out, SendKeepAlive) and out.claim_id == claim_id]
             for claim_id in "ABC"}
    assert sends["A"] == sends["B"] == [20.0]  # one at a time: it has not ended
    assert sends["C"] == [20.0 * n for n in range(1, 11)]
    assert set(clock.core) == {"A", "B", "C"}  # A and B: their calls may still arrive


def test_a_silent_startd_is_renewed_within_its_lease_then_probed_then_given_up(clock):
    clock.at(0, ClaimHeld("A", LEASE, sent=0))
    clock.at(0, JobAssigned("A", "1.0"))
    assert clock.core.claim_of("1.0") == "A"
    # Every call fails at once.  Renewals go on, every probe interval, while they land
    # within the lease of the last one answered (0 + 60 - 30 = 30 s): a startd that is
    # only slow keeps its claim.  Then only probes, which renew nothing.
    seen = clock.run_until(30 + LEASE + T.grace - 0.25, answer=silent)
    assert of(seen, SendKeepAlive) == [20.0, 22.0, 24.0, 26.0, 28.0, 30.0]
    assert clock.core.adrift("A")
    probes = of(seen, Probe)
    assert probes[0] == 32.0 and not of(seen, Reconnect) and not of(seen, GiveUp)
    assert all(b - a == T.probe for a, b in itertools.pairwise(probes))
    assert "A" in clock.core
    # The keep-alive at 30 s failed at once, so it reached the startd by 30 s if at all.
    [(when, give_up)] = [(w, o) for w, o in clock.run_until(30 + LEASE + T.grace,
                                                             answer=silent)
                         if isinstance(o, GiveUp)]
    assert when == 30 + LEASE + T.grace
    assert (give_up.claim_id, give_up.job_id) == ("A", "1.0")
    assert "a keep-alive failed: unreachable" in give_up.reason
    assert "A" not in clock.core and clock.core.claim_of("1.0") is None


def test_a_keep_alive_that_times_out_counts_until_its_end(clock):
    clock.at(0, ClaimHeld("A", LEASE, sent=0))
    assert clock.run_until(20) == [(20.0, SendKeepAlive("A", T.deadline))]
    # It may have got there as late as it ended, 50 s; past 30 s no renewal goes.
    assert clock.at(50, KeepAliveFailed("A", 20, "deadline exceeded")) == []
    seen = clock.run_until(200, answer=silent)
    assert not of(seen, SendKeepAlive) and of(seen, Probe)[0] == 52.0
    assert of(seen, GiveUp) == [50 + LEASE + T.grace]


def test_a_slow_startd_that_answers_within_the_lease_keeps_its_claim(clock):
    clock.at(0, ClaimHeld("A", LEASE, sent=0))
    clock.run_until(20)
    clock.at(21, KeepAliveFailed("A", 20, "unavailable"))
    assert clock.run_until(23) == [(23.0, SendKeepAlive("A", T.deadline))]
    assert clock.at(40, KeepAliveAnswered("A", 23)) == []  # late, but answered
    assert not clock.core.adrift("A")
    seen = clock.run_until(400, answer=answered)
    assert {type(out) for _, out in seen} == {SendKeepAlive}
    assert "A" in clock.core


def test_a_probe_answered_after_the_lease_makes_one_renewal(clock):
    clock.at(0, ClaimHeld("A", LEASE, sent=0))
    seen = clock.run_until(31, answer=silent)
    assert of(seen, SendKeepAlive)[-1] == 30.0
    [(when, probe)] = clock.run_until(32)
    assert probe == Probe("A", T.deadline)
    assert clock.at(32.5, ProbeAnswered("A")) == [SendKeepAlive("A", T.deadline)]
    assert clock.run_until(60) == []  # nothing more while it is in flight
    assert clock.at(61, KeepAliveAnswered("A", 32.5)) == []
    assert not clock.core.adrift("A")
    seen = clock.run_until(400, answer=answered)
    assert {type(out) for _, out in seen} == {SendKeepAlive}


def test_a_keep_alive_in_flight_holds_the_give_up_until_it_ends(clock):
    clock.at(0, ClaimHeld("A", LEASE, sent=0))
    clock.run_until(20)  # the keep-alive at 20 s is in flight ...
    assert clock.run_until(200) == []  # ... for as long as the call takes
    assert clock.at(200, KeepAliveFailed("A", 20)) == []  # it may have arrived at 200
    seen = clock.run_until(200 + LEASE + T.grace, answer=silent)
    assert not of(seen, SendKeepAlive)  # 200 s is past the lease of the answered one
    assert of(seen, GiveUp) == [200 + LEASE + T.grace]


def test_a_broken_stream_is_reconnected_to_until_the_startd_answers(clock):
    clock.at(0, ClaimHeld("A", LEASE, sent=0))
    clock.at(0, JobAssigned("A", "1.0"))
    clock.at(0, RenewalSent("A"))  # the run's activation
    clock.at(0.1, StreamAnswered("A", 0))
    assert clock.at(5, StreamBroke("A", "connection reset")) == []
    assert clock.core.adrift("A")
    assert clock.at(5) == [Reconnect("A")]  # at once
    clock.at(5, RenewalSent("A"))
    assert clock.at(5.2, StreamBroke("A", "unreachable")) == []
    # Again a probe's interval later, then answered.
    [(when, again)] = clock.run_until(7.5)
    assert again == Reconnect("A") and 7.2 - 1e-9 <= when <= 7.45
    clock.at(7.6, RenewalSent("A"))
    clock.at(7.8, StreamAnswered("A", 7.6))
    assert not clock.core.adrift("A")
    seen = clock.run_until(300, answer=answered)
    assert {type(out) for _, out in seen} == {SendKeepAlive}


def test_a_stream_that_never_answers_counts_a_deadline_after_it_was_sent(clock):
    clock.at(0, ClaimHeld("A", LEASE, sent=0))
    clock.at(0, JobAssigned("A", "1.0"))
    clock.run_until(44, answer=silent)  # keep-alives fail: adrift
    clock.at(44, JobAssigned("A", "1.1"))
    clock.at(44, RenewalSent("A"))  # the next job's activation: its stream hangs
    seen = clock.run_until(200, answer=silent)
    assert of(seen, GiveUp) == [44 + T.deadline + LEASE + T.grace]


def test_a_recovered_claim_whose_startd_is_gone_is_given_up_a_lease_after_recovery(clock):
    clock.at(100, ClaimHeld("R", LEASE))  # from the claims table: nothing confirmed
    clock.at(100, JobAssigned("R", "3.2"))
    clock.at(100, RenewalSent("R"))
    clock.at(101, StreamBroke("R", "unreachable"))
    seen = clock.run_until(300, answer=silent)
    assert not of(seen, Reconnect) and not of(seen, SendKeepAlive)  # only probes
    [(when, give_up)] = [(w, o) for w, o in seen if isinstance(o, GiveUp)]
    assert when == 100 + T.deadline + LEASE + T.grace and give_up.job_id == "3.2"


def test_an_idle_claim_given_up_names_no_job_and_a_dropped_one_is_forgotten(clock):
    clock.at(0, ClaimHeld("A", LEASE, sent=0))
    clock.at(0, ClaimHeld("B", LEASE, sent=0))
    clock.at(0, JobAssigned("A", "1.0"))
    clock.at(1, JobAssigned("A", None))  # its run ended; no next job yet
    clock.at(2, ClaimDropped("B"))
    assert "B" not in clock.core
    assert clock.at(3, KeepAliveAnswered("B", 2)) == []  # a late report: ignored
    gave_up = [out for _, out in clock.run_until(200, answer=silent)
               if isinstance(out, GiveUp)]
    assert [(out.claim_id, out.job_id) for out in gave_up] == [("A", None)]
    assert clock.core.next_due() == math.inf


def test_a_claim_is_held_once():
    core = Leases()
    core.handle(ClaimHeld("A", LEASE, sent=0), 0)
    with pytest.raises(ValueError):
        core.handle(ClaimHeld("A", LEASE, sent=0), 1)
    with pytest.raises(TypeError):
        core.handle("not an event", 1)


@pytest.mark.parametrize("seed", range(40))
def test_no_claim_is_given_up_while_its_startd_may_still_run_the_job(seed):
    """A startd whose calls are answered, lost on the way there or lost on the way back,
    at random, for a while: whenever the core gives the claim up, the startd has not
    heard from it for more than a lease (it has killed the job), and the give-up comes at
    most a lease, a call's deadline and the grace after the last call that got there
    (plus the keep-alive interval, when that call was the last renewal before the cut)."""
    draw = random.Random(seed)
    lease = draw.choice([6.0, 20.0, 60.0])
    times = timing(lease)
    clock = Clock()
    clock.at(0, ClaimHeld("A", lease, sent=0))
    clock.at(0, JobAssigned("A", "1.0"))
    heard = [0.0]  # when the startd heard from the claim (renewals only)
    cut = draw.uniform(0, 5 * lease)  # after this, nothing gets through
    flaky = draw.uniform(0, 0.6)  # the chance a call is lost, before the cut
    pending: list[tuple[float, object]] = []  # (when, event) the shell reports later

    def deliver(instruction, now) -> None:
        sent = now
        delay = draw.uniform(0, times.deadline)
        arrives = sent < cut and draw.random() >= flaky
        back = arrives and sent + delay < cut and draw.random() >= flaky / 2
        renewing = isinstance(instruction, SendKeepAlive | Reconnect)
        if arrives and renewing:
            heard.append(sent + delay * draw.random())
        if isinstance(instruction, SendKeepAlive):
            pending.append((sent + delay, KeepAliveAnswered("A", sent) if back
                            else KeepAliveFailed("A", sent)))
        elif isinstance(instruction, Probe):
            pending.append((sent + delay, ProbeAnswered("A") if back else ProbeFailed("A")))
        elif isinstance(instruction, Reconnect):
            pending.append((sent, RenewalSent("A")))
            pending.append((sent + delay, StreamAnswered("A", sent) if back
                            else StreamBroke("A", "lost")))

    # The run's stream breaks at the cut (it may have broken earlier: it is read again).
    pending.append((cut, StreamBroke("A", "cut")))
    now, given_up = 0.0, None
    while given_up is None:
        assert now < cut + 10 * lease, "never given up"
        now += 0.05
        due = sorted((item for item in pending if item[0] <= now), key=lambda i: i[0])
        for item in due:
            pending.remove(item)
        outs = [out for when, event in due for out in clock.at(max(clock.now, when), event)]
        outs += clock.at(now)
        for out in outs:
            if isinstance(out, GiveUp):
                given_up = now
            else:
                deliver(out, now)
    assert given_up >= max(heard) + lease + times.grace - 0.05
    # At most two leases after the cut: renewals stop a lease after the last one answered.
    assert given_up <= cut + 2 * lease + times.grace + 0.1
