"""The logon throttle with an injected clock, rule by rule of fixbridge/fix/throttle.py's
docstring: back-off growth and bound, lockout at the threshold within the window, expiry,
success clearing, one password check at a time, and memory bounded under a flood of sources.

Expected delays come from the limits given here (initial * 2^(n-1), at most max), not from
the module under test."""

from __future__ import annotations

import pytest

from fixbridge.config import (
    ConfigError,
    LogonThrottleConfig,
    SessionThrottleConfig,
    parse_config,
)
from fixbridge.fix.throttle import (
    Attempt,
    Lockout,
    LogonThrottle,
    Reason,
    Scope,
    Throttled,
    source_key,
)

S = 1_000_000_000
T0 = 1_700_000_000 * S
SOURCE = LogonThrottleConfig()  # 1 s doubling to 30 s; 10 failures in 600 s: 900 s locked
SESSION = SessionThrottleConfig()  # 1 s doubling to 5 s; 50 failures in 600 s: 300 s locked
NO_LOCKOUT = LogonThrottleConfig(lockout_failures=100_000)


def throttle(
    source: LogonThrottleConfig = SOURCE,
    session: LogonThrottleConfig = SESSION,
    max_sources: int = 10_000,
    max_pending_checks: int = 32,
) -> LogonThrottle:
    return LogonThrottle(
        source, session, max_sources=max_sources, max_pending_checks=max_pending_checks
    )


GUESSER = Attempt("203.0.113.7", "backoffice")


def test_the_defaults_are_the_documented_ones() -> None:
    assert (SOURCE.backoff_initial_s, SOURCE.backoff_max_s) == (1.0, 30.0)
    assert (SOURCE.lockout_failures, SOURCE.failure_window_s, SOURCE.lockout_s) == (10, 600, 900)
    assert (SESSION.backoff_initial_s, SESSION.backoff_max_s) == (1.0, 5.0)
    assert (SESSION.lockout_failures, SESSION.failure_window_s, SESSION.lockout_s) == (50, 600, 300)


def test_a_clean_key_is_not_held_back() -> None:
    assert throttle().check(GUESSER, T0) is None


def test_back_off_doubles_from_the_initial_delay_up_to_the_bound() -> None:
    t = throttle(NO_LOCKOUT, LogonThrottleConfig(enabled=False))
    now = T0
    for delay_s in (1, 2, 4, 8, 16, 30, 30, 30):
        assert t.failed(GUESSER, now) == []
        until = now + delay_s * S
        held = Throttled(Reason.BACKOFF, Scope.SOURCE, GUESSER.source, until)
        assert t.check(GUESSER, now) == held
        assert t.check(GUESSER, until - 1) is not None
        assert t.check(GUESSER, until) is None
        now = until


def test_the_session_backs_off_too_and_a_source_is_named_first() -> None:
    t = throttle()
    t.failed(GUESSER, T0)
    held = t.check(GUESSER, T0 + S // 2)
    assert held is not None and (held.scope, held.reason) == (Scope.SOURCE, Reason.BACKOFF)
    other_source = Attempt("198.51.100.1", GUESSER.session)
    held = t.check(other_source, T0 + S // 2)
    assert held == Throttled(Reason.BACKOFF, Scope.SESSION, "backoffice", T0 + S)
    other_session = Attempt(GUESSER.source, "other")
    assert t.check(other_session, T0 + S // 2) is not None  # the source, whatever the session
    assert t.check(Attempt("198.51.100.1", "other"), T0 + S // 2) is None


def fail_as_soon_as_allowed(t: LogonThrottle, attempt: Attempt, now: int, times: int) -> tuple[
    int, list[Lockout]
]:
    """Fail ``times`` times, each as soon as the throttle lets the attempt through."""
    lockouts: list[Lockout] = []
    for _ in range(times):
        held = t.check(attempt, now)
        if held is not None:
            now = held.until_ns
        assert t.check(attempt, now) is None
        lockouts += t.failed(attempt, now)
    return now, lockouts


def test_the_threshold_within_the_window_locks_the_source_out_until_the_lockout_ends() -> None:
    t = throttle()
    now, lockouts = fail_as_soon_as_allowed(t, GUESSER, T0, 9)
    assert lockouts == []  # 1+2+4+8+16+30+30+30 s: the ninth failure is inside 600 s
    assert now - T0 < 600 * S
    now, lockouts = fail_as_soon_as_allowed(t, GUESSER, now, 1)
    assert lockouts == [Lockout(Scope.SOURCE, GUESSER.source, 10, 600.0, 900.0)]
    until = now + 900 * S
    assert t.check(GUESSER, now + 30 * S) == Throttled(
        Reason.LOCKOUT, Scope.SOURCE, GUESSER.source, until
    )
    assert t.locked_out(until - 1) == {Scope.SOURCE: 1, Scope.SESSION: 0}
    assert t.check(GUESSER, until - 1) is not None
    assert t.check(GUESSER, until) is None
    assert t.locked_out(until) == {Scope.SOURCE: 0, Scope.SESSION: 0}
    # The count starts afresh: the next failure backs off by the initial delay only.
    t.failed(GUESSER, until)
    assert t.check(GUESSER, until) == Throttled(
        Reason.BACKOFF, Scope.SOURCE, GUESSER.source, until + S
    )


def test_failures_spread_wider_than_the_window_never_lock_out() -> None:
    t = throttle()
    lockouts = []
    for n in range(30):  # one every 70 s: never 10 within 600 s of the window's first
        lockouts += t.failed(GUESSER, T0 + n * 70 * S)
    assert lockouts == []
    assert t.check(GUESSER, T0 + 29 * 70 * S + 30 * S) is None  # only the bounded back-off


def test_the_session_locks_out_at_its_own_higher_threshold() -> None:
    t = throttle()
    now = T0
    lockouts: list[Lockout] = []
    for n in range(50):  # a guesser spreading over 50 addresses, one failure each
        attempt = Attempt(f"198.51.100.{n}", "backoffice")
        held = t.check(attempt, now)
        if held is not None:
            assert held.scope is Scope.SESSION
            now = held.until_ns
        lockouts += t.failed(attempt, now)
    assert lockouts == [Lockout(Scope.SESSION, "backoffice", 50, 600.0, 300.0)]
    fresh = Attempt("192.0.2.1", "backoffice")  # the real client, from its own address
    assert t.check(fresh, now + S) == Throttled(
        Reason.LOCKOUT, Scope.SESSION, "backoffice", now + 300 * S
    )
    assert t.check(Attempt("192.0.2.1", "other"), now + S) is None
    assert t.locked_out(now) == {Scope.SOURCE: 0, Scope.SESSION: 1}


def test_a_logon_naming_no_session_counts_against_its_source_only() -> None:
    t = throttle()
    stranger = Attempt("203.0.113.9", None)
    _, lockouts = fail_as_soon_as_allowed(t, stranger, T0, 10)
    assert [(lockout.scope, lockout.key) for lockout in lockouts] == [
        (Scope.SOURCE, "203.0.113.9")
    ]
    assert t.tracked() == {Scope.SOURCE: 1, Scope.SESSION: 0}


def test_success_clears_both_keys() -> None:
    t = throttle()
    now, _ = fail_as_soon_as_allowed(t, GUESSER, T0, 5)
    t.succeeded(GUESSER)
    assert t.check(GUESSER, now) is None
    assert t.tracked() == {Scope.SOURCE: 0, Scope.SESSION: 0}
    t.failed(GUESSER, now)  # the count starts over: the initial delay again
    assert t.check(GUESSER, now) == Throttled(Reason.BACKOFF, Scope.SOURCE, GUESSER.source, now + S)


def test_one_password_check_at_a_time_per_key() -> None:
    t = throttle()
    assert t.begin_password_check(GUESSER) is None
    same_source = Attempt(GUESSER.source, "other")
    same_session = Attempt("198.51.100.1", GUESSER.session)
    assert t.begin_password_check(same_source) == Throttled(
        Reason.BUSY, Scope.SOURCE, GUESSER.source, 0
    )
    assert t.begin_password_check(same_session) == Throttled(
        Reason.BUSY, Scope.SESSION, "backoffice", 0
    )
    unrelated = Attempt("198.51.100.1", "other")
    assert t.begin_password_check(unrelated) is None
    t.end_password_check(unrelated)
    t.end_password_check(GUESSER)
    assert t.begin_password_check(same_session) is None


def test_password_checks_queued_in_all_are_capped_whoever_asks() -> None:
    """Rule 4's cap: a flood from many addresses (each with its own keys, none locked out)
    cannot queue more than max_pending_checks connections behind the credential threads."""
    t = throttle(max_pending_checks=3)
    flood = [Attempt(f"198.51.100.{n}", None) for n in range(5)]
    assert [t.begin_password_check(a) for a in flood[:3]] == [None, None, None]
    assert t.pending_checks == 3
    busy = Throttled(Reason.BUSY, Scope.BRIDGE, "all", 0)
    assert t.begin_password_check(flood[3]) == busy
    assert t.begin_password_check(GUESSER) == busy  # a real client waits its turn too
    t.end_password_check(flood[0])
    assert t.begin_password_check(GUESSER) is None
    assert t.pending_checks == 3


def test_a_disabled_scope_never_holds_anything_back() -> None:
    t = throttle(LogonThrottleConfig(enabled=False), LogonThrottleConfig(enabled=False))
    lockouts = [lockout for n in range(100) for lockout in t.failed(GUESSER, T0 + n)]
    assert lockouts == []
    assert t.check(GUESSER, T0 + 100) is None
    assert t.begin_password_check(GUESSER) is None
    assert t.begin_password_check(GUESSER) is None


def test_memory_stays_bounded_under_100000_distinct_sources() -> None:
    cap = 1_000
    t = throttle(max_sources=cap)
    for n in range(100_000):
        source = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        t.failed(Attempt(source, None), T0 + n * 1_000)  # 100,000 in 0.1 s
        assert t.tracked()[Scope.SOURCE] <= cap
    assert t.tracked() == {Scope.SOURCE: cap, Scope.SESSION: 0}
    newest = Attempt("10.1.134.159", None)  # n = 99,999: kept, still in back-off
    assert t.check(newest, T0 + 100_000 * 1_000) is not None
    oldest = Attempt("10.0.0.0", None)  # forgotten first
    assert t.check(oldest, T0 + 100_000 * 1_000) is None


def test_records_that_have_run_out_are_dropped() -> None:
    t = throttle()
    for n in range(1_000):
        t.failed(Attempt(f"10.0.{n >> 8}.{n & 255}", None), T0)
    assert t.tracked()[Scope.SOURCE] == 1_000
    later = T0 + 601 * S  # back-off over, window over: nothing of them matters
    t.failed(Attempt("192.0.2.1", None), later)
    assert t.tracked()[Scope.SOURCE] == 1


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("not-an-address", "not-an-address"),
    ],
)
def test_source_keys(address: str, key: str) -> None:
    assert source_key(address) == key


SESSIONS = [{"name": "a", "sender_comp_id": "FIXBRIDGE", "target_comp_id": "A"}]


def test_a_partial_session_table_keeps_the_session_defaults() -> None:
    config = parse_config({"fix": {"session_throttle": {"lockout_s": 60}}, "sessions": SESSIONS})
    assert config.fix.session_throttle.lockout_failures == 50
    assert config.fix.session_throttle.lockout_s == 60
    assert config.fix.source_throttle == LogonThrottleConfig()


@pytest.mark.parametrize(
    ("fix", "key"),
    [
        ({"source_throttle": {"backoff_initial_s": 10, "backoff_max_s": 5}}, "fix.source_throttle"),
        ({"session_throttle": {"lockout_failures": 0}}, "fix.session_throttle.lockout_failures"),
        ({"credential_check_threads": 0}, "fix.credential_check_threads"),
        ({"throttle_max_sources": 0}, "fix.throttle_max_sources"),
        ({"unauthenticated_log_interval_s": 0}, "fix.unauthenticated_log_interval_s"),
        ({"source_throttle": {"lockout": 5}}, "fix.source_throttle.lockout"),
    ],
)
def test_bad_settings_name_their_key(fix: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_config({"fix": fix, "sessions": SESSIONS})
