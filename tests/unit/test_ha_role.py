"""The active/standby decisions (fixbridge/ha/role.py), as scripted conversations with a clock.

Times are monotonic seconds given to the elector; nothing sleeps. TTL 6 s, renewals every
2 s, a margin of 1 s: an active bridge whose last confirmed renewal was *sent* at t steps down
at t + 5 by its own clock.
"""

from __future__ import annotations

import pytest

from fixbridge.ha.role import BecomeActive, Elector, LeaseTiming, Role, StepDown

TIMING = LeaseTiming(ttl_s=6.0, renew_every_s=2.0, margin_s=1.0)


def active_at(now: float, epoch: int = 1) -> Elector:
    elector = Elector(TIMING, now)
    assert elector.attempt_due(now)
    elector.sent(now)
    assert elector.granted(epoch, now + 0.01) == [BecomeActive(epoch)]
    return elector


def test_timing_that_one_late_renewal_would_lose_is_refused() -> None:
    with pytest.raises(ValueError, match="at least twice renew_every_s"):
        LeaseTiming(ttl_s=4.0, renew_every_s=2.0, margin_s=1.0)
    with pytest.raises(ValueError, match="renew_every_s must be > 0"):
        LeaseTiming(ttl_s=4.0, renew_every_s=0.0, margin_s=1.0)


def test_a_standby_becomes_active_when_granted_and_renews_on_time() -> None:
    elector = active_at(100.0)
    assert elector.role is Role.ACTIVE and elector.epoch == 1
    assert not elector.attempt_due(101.9)
    assert elector.attempt_due(102.0)  # every 2 s from when the last attempt was sent
    elector.sent(102.0)
    assert elector.granted(1, 102.3) == []  # a renewal changes nothing
    assert elector.next_wake() == 104.0


def test_the_lease_is_counted_from_the_send_not_from_the_answer() -> None:
    elector = Elector(TIMING, 100.0)
    elector.sent(100.0)
    elector.granted(1, 103.0)  # a slow answer: the database granted 6 s from some time >= 100
    assert elector.tick(104.99) == []
    assert elector.tick(105.0) == [StepDown("the lease was not renewed in time")]
    assert elector.role is Role.STANDBY
    assert elector.tick(106.0) == []  # said once


def test_an_unreachable_database_steps_the_active_bridge_down_before_the_ttl() -> None:
    elector = active_at(100.0)
    for now in (102.0, 104.0):
        elector.sent(now)
        assert elector.failed(now + 0.5) == []  # attempts fail; the lease still runs
    assert elector.attempt_in_flight is False
    elector.sent(104.9)  # this one never answers at all
    assert elector.tick(104.99) == []
    assert elector.tick(105.0) == [StepDown("the lease was not renewed in time")]


def test_another_holder_steps_an_active_bridge_down_at_once() -> None:
    elector = active_at(100.0)
    elector.sent(102.0)
    assert elector.refused("bridge-b", 102.1) == [StepDown("the lease is held by bridge-b")]
    assert elector.role is Role.STANDBY
    assert elector.attempt_due(104.1) and not elector.attempt_due(104.0)


def test_a_standby_refused_stays_quiet_and_keeps_trying() -> None:
    elector = Elector(TIMING, 0.0)
    elector.sent(0.0)
    assert elector.refused("bridge-a", 0.1) == []
    assert elector.tick(50.0) == []
    assert elector.attempt_due(50.0)


def test_a_lapsed_lease_taken_again_ends_the_old_term_first() -> None:
    elector = active_at(100.0, epoch=3)
    elector.sent(102.0)
    assert elector.granted(4, 102.1) == [
        StepDown("the lease lapsed (epoch 3, now 4)"),
        BecomeActive(4),
    ]
    assert elector.epoch == 4 and elector.role is Role.ACTIVE


def test_releasing_steps_down_and_waits_a_ttl_before_trying_again() -> None:
    elector = active_at(100.0)
    assert elector.released(101.0) == [StepDown("the lease was released")]
    assert not elector.attempt_due(106.9)
    assert elector.attempt_due(107.0)
    standby = Elector(TIMING, 0.0)
    assert standby.released(1.0) == []  # nothing to give up


def test_an_answer_with_no_attempt_in_flight_counts_for_nothing() -> None:
    elector = active_at(100.0)
    elector.released(101.0)
    assert elector.granted(1, 101.1) == []  # the answer to an attempt made before releasing
    assert elector.role is Role.STANDBY


def test_an_answer_that_comes_after_its_lease_may_have_ended_is_no_grant() -> None:
    standby = Elector(TIMING, 100.0)
    standby.sent(100.0)
    assert standby.granted(1, 105.0) == []  # sent + ttl - margin: too late to act on
    assert standby.role is Role.STANDBY and standby.attempt_due(105.0)
    active = active_at(200.0)
    active.sent(202.0)
    assert active.granted(1, 207.5) == [StepDown("the lease's answer came too late")]


def test_a_stopped_keeper_is_no_longer_active() -> None:
    elector = active_at(100.0)
    assert elector.stopped("the lease keeper stopped") == [StepDown("the lease keeper stopped")]
    assert elector.role is Role.STANDBY and elector.steps_down_at is None
    assert elector.stopped("again") == []
