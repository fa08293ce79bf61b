"""Resume tokens and subscription rules of the simulator, without a server (spec section 4.8)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixbridge.simulator.streams import Entry, Stream
from fixbridge.simulator.subscription import SubscriptionError, open_subscription
from fixbridge.simulator.tokens import ResumeToken, TokenError, decode_token

INSTANCE = "0123456789abcdef"


@given(st.sampled_from(list(Stream)), st.integers(0, 10**12))
def test_tokens_round_trip(stream: Stream, position: int) -> None:
    token = ResumeToken(INSTANCE, stream, position)
    assert decode_token(token.encode()) == token


def test_a_token_reads_as_text() -> None:
    assert ResumeToken(INSTANCE, Stream.EXECUTIONS, 1200).encode() == (
        b"fbsim1:0123456789abcdef:executions:1200"
    )


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"", "not a simulator token"),
        (b"\xff\xfe", "not ASCII"),
        (b"fbsim2:x:executions:1", "not a simulator token"),
        (b"fbsim1:x:orders:1", "unknown stream 'orders'"),
        (b"fbsim1:x:executions:-1", "not a non-negative integer"),
        (b"fbsim1:x:executions:1:2", "not a simulator token"),
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
    }
    return open_subscription(Stream.EXECUTIONS, **{**defaults, **request})


def test_no_token_and_no_time_starts_at_the_head() -> None:
    assert subscribe().start == 50


def test_a_token_starts_right_after_what_it_covered() -> None:
    token = ResumeToken(INSTANCE, Stream.EXECUTIONS, 20).encode()
    subscription = subscribe(resume_token=token)
    assert (subscription.start, subscription.since_ns) == (20, None)


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
