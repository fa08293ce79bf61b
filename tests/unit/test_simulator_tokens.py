"""Resume tokens and subscription rules of the simulator, without a server (spec section 4.8)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixbridge.simulator.streams import Entry, Stream
from fixbridge.simulator.subscription import (
    BeforeReplayWindow,
    ReplayLimits,
    SubscriptionError,
    TokenExpired,
    open_subscription,
)
from fixbridge.simulator.times import NS_PER_SECOND, from_rfc3339
from fixbridge.simulator.tokens import ResumeToken, TokenError, decode_token

INSTANCE = "0123456789abcdef"
NOW = from_rfc3339("2026-11-21T12:00:00Z")
ISSUED = NOW - 30 * NS_PER_SECOND


@given(
    st.sampled_from(list(Stream)),
    st.integers(0, 10**12),
    st.one_of(st.none(), st.integers(0, 2**63)),
)
def test_tokens_round_trip(stream: Stream, position: int, issued_ns: int | None) -> None:
    token = ResumeToken(INSTANCE, stream, position, issued_ns)
    assert decode_token(token.encode()) == token


def test_a_token_reads_as_text() -> None:
    assert ResumeToken(INSTANCE, Stream.EXECUTIONS, 1200, 1763718420123456789).encode() == (
        b"fbsim2:0123456789abcdef:executions:1200:1763718420123456789"
    )


def test_a_version_1_token_is_still_read_and_has_no_issue_time() -> None:
    token = decode_token(b"fbsim1:0123456789abcdef:executions:1200")
    assert token == ResumeToken(INSTANCE, Stream.EXECUTIONS, 1200, None)
    assert token.encode() == b"fbsim1:0123456789abcdef:executions:1200"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"", "not a simulator token"),
        (b"\xff\xfe", "not ASCII"),
        (b"fbsim3:x:executions:1:2", "not a simulator token"),
        (b"fbsim2:x:executions:1", "not a simulator token"),
        (b"fbsim1:x:orders:1", "unknown stream 'orders'"),
        (b"fbsim2:x:orders:1:2", "unknown stream 'orders'"),
        (b"fbsim1:x:executions:-1", "not a non-negative integer"),
        (b"fbsim2:x:executions:1:-5", "issue time '-5' is not a non-negative integer"),
        (b"fbsim1:x:executions:1:2", "not a simulator token"),
        (b"fbsim2:x:executions:1:2:3", "not a simulator token"),
    ],
)
def test_malformed_tokens_are_named(raw: bytes, problem: str) -> None:
    with pytest.raises(TokenError, match=problem):
        decode_token(raw)


def subscribe(**request: Any) -> Any:
    defaults: dict[str, Any] = {
        "instance": INSTANCE,
        "head": 50,
        "resume_token": b"",
        "resume_time_ns": None,
        "symbols": [],
        "firms": [],
        "known_symbols": ["s1", "s2"],
        "known_firms": ["F1", "F2"],
        "now_ns": NOW,
    }
    return open_subscription(Stream.EXECUTIONS, **{**defaults, **request})


def test_no_token_and_no_time_starts_at_the_head() -> None:
    assert subscribe().start == 50


def test_a_token_starts_right_after_what_it_covered() -> None:
    token = ResumeToken(INSTANCE, Stream.EXECUTIONS, 20, ISSUED).encode()
    subscription = subscribe(resume_token=token)
    assert (subscription.start, subscription.since_ns) == (20, None)
    assert subscription.resumed and not subscribe().resumed


def test_a_time_replays_the_whole_log_from_that_time() -> None:
    subscription = subscribe(resume_time_ns=123)
    assert (subscription.start, subscription.since_ns) == (0, 123)


@pytest.mark.parametrize(
    ("request_fields", "problem"),
    [
        (
            {
                "resume_token": ResumeToken(INSTANCE, Stream.EXECUTIONS, 1).encode(),
                "resume_time_ns": 5,
            },
            "mutually exclusive",
        ),
        (
            {"resume_token": ResumeToken("ffffffffffffffff", Stream.EXECUTIONS, 1).encode()},
            "another simulator instance",
        ),
        (
            {"resume_token": ResumeToken(INSTANCE, Stream.POSITIONS, 1).encode()},
            "belongs to the positions stream",
        ),
        ({"resume_token": ResumeToken(INSTANCE, Stream.EXECUTIONS, 51).encode()}, "past the end"),
        ({"resume_token": b"nonsense"}, "not a simulator token"),
        ({"symbols": ["s1", "s9"]}, "unknown symbols: s9"),
        ({"firms": ["F1", "firms/F7"]}, "unknown firms: F7"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(
    request_fields: dict[str, Any], problem: str
) -> None:
    with pytest.raises(SubscriptionError, match=problem):
        subscribe(**request_fields)


# ------------------------------------------------------------- expiry and the replay window


def token(issued_ns: int | None = ISSUED, instance: str = INSTANCE) -> bytes:
    return ResumeToken(instance, Stream.EXECUTIONS, 20, issued_ns).encode()


def test_a_token_younger_than_the_ttl_and_after_the_cutoff_is_accepted() -> None:
    limits = ReplayLimits(token_ttl_ns=31 * NS_PER_SECOND, token_cutoff_ns=ISSUED)
    assert subscribe(resume_token=token(), limits=limits).start == 20


@pytest.mark.parametrize(
    ("limits", "issued_ns", "problem"),
    [
        (
            ReplayLimits(token_ttl_ns=29 * NS_PER_SECOND),
            ISSUED,
            "resume_token expired: issued 2026-11-21T11:59:30Z, older than "
            "resume_token_ttl_s=29; start a fresh subscription",
        ),
        (
            ReplayLimits(token_cutoff_ns=ISSUED + 1),
            ISSUED,
            "resume_token expired: issued 2026-11-21T11:59:30Z, before the expiry cutoff "
            "2026-11-21T11:59:30.000000001Z",
        ),
        (
            ReplayLimits(token_ttl_ns=10**18),
            None,
            "resume_token expired: a fbsim1 token carries no issue time",
        ),
    ],
)
def test_an_expired_token_is_refused_as_expired(
    limits: ReplayLimits, issued_ns: int | None, problem: str
) -> None:
    with pytest.raises(TokenExpired) as refused:
        subscribe(resume_token=token(issued_ns), limits=limits)
    assert str(refused.value).startswith(problem)


def test_a_version_1_token_works_while_nothing_expires() -> None:
    assert subscribe(resume_token=token(None)).start == 20


def test_a_token_of_another_instance_is_a_bad_request_not_an_expired_one() -> None:
    limits = ReplayLimits(token_cutoff_ns=NOW)
    with pytest.raises(SubscriptionError, match="another simulator instance") as refused:
        subscribe(resume_token=token(instance="ffffffffffffffff"), limits=limits)
    assert not isinstance(refused.value, TokenExpired)


def test_a_resume_time_before_the_replay_window_is_out_of_range() -> None:
    earliest = NOW - 60 * NS_PER_SECOND
    limits = ReplayLimits(earliest_ns=earliest)
    assert subscribe(resume_time_ns=earliest, limits=limits).since_ns == earliest
    with pytest.raises(BeforeReplayWindow) as refused:
        subscribe(resume_time_ns=earliest - 1, limits=limits)
    assert str(refused.value) == (
        "resume_time 2026-11-21T11:58:59.999999999Z is before the replay window "
        "(earliest 2026-11-21T11:59:00Z)"
    )


def test_the_replay_window_does_not_limit_tokens() -> None:
    limits = ReplayLimits(earliest_ns=NOW)
    assert subscribe(resume_token=token(), limits=limits).start == 20


def entry(time_ns: int = 10, symbol: str = "s1", firms: tuple[str, ...] = ("F1",)) -> Entry[Any]:
    return Entry(time_ns, symbol, firms, object())


def test_filters_select_by_time_symbol_and_firm() -> None:
    everything = subscribe()
    assert everything.wants(entry()) and everything.wants(entry(firms=()))
    assert not subscribe(resume_time_ns=11).wants(entry(time_ns=10))
    assert subscribe(resume_time_ns=10).wants(entry(time_ns=10))
    assert not subscribe(symbols=["s2"]).wants(entry(symbol="s1"))
    assert subscribe(firms=["firms/F2"]).wants(entry(firms=("F1", "F2")))
    assert not subscribe(firms=["F2"]).wants(entry(firms=("F1",)))
    assert subscribe(firms=["F2"]).wants(entry(firms=())), "instruments belong to no firm"


def test_the_overlap_ignores_the_time_filter_but_not_symbols_or_firms() -> None:
    subscription = dataclasses.replace(
        subscribe(resume_time_ns=11, symbols=["s1"]), start=3, overlap_end=5
    )
    assert subscription.wants_at(4, entry(time_ns=10))
    assert not subscription.wants_at(4, entry(time_ns=10, symbol="s2"))
    assert not subscription.wants_at(5, entry(time_ns=10))
    assert subscription.wants_at(5, entry(time_ns=11))
