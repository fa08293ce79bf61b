"""The log rate limiter with an injected clock: one line per key per interval, the lines left
out counted and said on the next line (or by ``due`` once the interval has passed), memory
bounded."""

from __future__ import annotations

import pytest

from fixbridge.ops.log_limit import Line, LogLimiter

S = 1_000_000_000
T0 = 1_700_000_000 * S


def test_one_line_per_key_per_interval_and_the_next_says_how_many_were_left_out() -> None:
    limiter: LogLimiter[str] = LogLimiter(60)
    assert limiter.admit("203.0.113.7", T0) == Line(first=True, suppressed=0)
    left_out = [limiter.admit("203.0.113.7", T0 + n * S) for n in range(1, 60)]
    assert left_out == [None] * 59
    assert limiter.admit("203.0.113.7", T0 + 60 * S) == Line(first=False, suppressed=59)
    assert limiter.admit("203.0.113.7", T0 + 61 * S) is None


def test_keys_are_limited_separately() -> None:
    limiter: LogLimiter[str] = LogLimiter(60)
    assert limiter.admit("a", T0) == Line(True, 0)
    assert limiter.admit("b", T0) == Line(True, 0)
    assert limiter.admit("a", T0 + S) is None
    assert limiter.admit("c", T0 + S) == Line(True, 0)


def test_due_says_the_count_a_flood_left_behind() -> None:
    limiter: LogLimiter[tuple[str, str]] = LogLimiter(60)
    key = ("OperationalError", "database or disk is full")
    limiter.admit(key, T0)
    for n in range(1, 11):
        assert limiter.admit(key, T0 + n * S) is None
    assert limiter.due(T0 + 59 * S) == []  # the interval has not passed
    assert limiter.due(T0 + 60 * S) == [(key, 10)]
    assert limiter.due(T0 + 61 * S) == []  # said once
    # That report was the key's line: the next within the interval is left out again.
    assert limiter.admit(key, T0 + 90 * S) is None
    assert limiter.due(T0 + 120 * S) == [(key, 1)]


def test_a_key_quiet_for_an_interval_starts_a_new_episode() -> None:
    limiter: LogLimiter[str] = LogLimiter(60)
    limiter.admit("a", T0)
    assert limiter.due(T0 + 60 * S) == []  # nothing owed: forgotten
    assert len(limiter) == 0
    assert limiter.admit("a", T0 + 61 * S) == Line(first=True, suppressed=0)
    limiter.admit("a", T0 + 62 * S)
    # Left out lines are owed: not a new episode, the count comes with the next line.
    assert limiter.admit("a", T0 + 200 * S) == Line(first=False, suppressed=1)


def test_memory_stays_bounded_under_a_flood_of_keys() -> None:
    limiter: LogLimiter[int] = LogLimiter(60, max_keys=1_000)
    for n in range(100_000):
        assert limiter.admit(n, T0 + n) == Line(True, 0)
        assert len(limiter) <= 1_000
    assert limiter.admit(99_999, T0 + 100_000) is None  # the newest are remembered
    assert limiter.admit(0, T0 + 100_000) == Line(True, 0)  # the oldest forgotten first


def test_keys_whose_interval_passed_with_nothing_owed_are_dropped_as_others_come() -> None:
    limiter: LogLimiter[int] = LogLimiter(1)
    for n in range(500):
        limiter.admit(n, T0)
    limiter.admit(-1, T0 + 2 * S)
    assert len(limiter) == 1


@pytest.mark.parametrize(("interval_s", "max_keys"), [(0, 10), (-1, 10), (60, 0)])
def test_unusable_limits_are_refused(interval_s: float, max_keys: int) -> None:
    with pytest.raises(ValueError, match="interval_s must be positive"):
        LogLimiter(interval_s, max_keys=max_keys)
