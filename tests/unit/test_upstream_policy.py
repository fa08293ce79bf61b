"""The reconnect policy: one decision per gRPC status, as the exchange's guidance asks."""

from __future__ import annotations

import grpc
import pytest

from fixbridge.ops.metrics import RECONNECT_REASONS
from fixbridge.upstream.policy import Action, config_key_for, decide

S = grpc.StatusCode


@pytest.mark.parametrize(
    ("code", "action", "reason"),
    [
        (S.UNAVAILABLE, Action.BACKOFF, "unavailable"),
        (S.DEADLINE_EXCEEDED, Action.BACKOFF, "deadline_exceeded"),
        (S.ABORTED, Action.BACKOFF, "unavailable"),
        (S.CANCELLED, Action.BACKOFF, "unavailable"),
        (S.INTERNAL, Action.BACKOFF, "internal"),
        (S.UNKNOWN, Action.BACKOFF, "internal"),
        (S.DATA_LOSS, Action.BACKOFF, "internal"),
        (S.UNIMPLEMENTED, Action.BACKOFF, "internal"),
        (S.UNAUTHENTICATED, Action.REFRESH_TOKEN, "unauthenticated"),
        (S.PERMISSION_DENIED, Action.SLOW_RETRY, "permission_denied"),
        (S.RESOURCE_EXHAUSTED, Action.SLOW_RETRY, "resource_exhausted"),
    ],
)
def test_status_decides_alone(code: grpc.StatusCode, action: Action, reason: str) -> None:
    for sent_token, sent_time in ((False, False), (True, False), (False, True)):
        decision = decide(code, "x", sent_token=sent_token, sent_time=sent_time)
        assert (decision.action, decision.reason) == (action, reason)
        assert decision.reason in RECONNECT_REASONS


@pytest.mark.parametrize(
    "code", [S.INVALID_ARGUMENT, S.FAILED_PRECONDITION, S.NOT_FOUND, S.OUT_OF_RANGE]
)
def test_any_bad_request_status_with_a_token_means_the_token_was_refused(
    code: grpc.StatusCode,
) -> None:
    decision = decide(code, "resume_token expired", sent_token=True, sent_time=False)
    assert decision.action is Action.RESUME_BY_TIME
    assert decision.reason == "resume_token_rejected"


@pytest.mark.parametrize("code", [S.OUT_OF_RANGE, S.FAILED_PRECONDITION])
def test_resume_time_outside_the_window_goes_to_the_report_api(code: grpc.StatusCode) -> None:
    decision = decide(code, "before the replay window", sent_token=False, sent_time=True)
    assert (decision.action, decision.reason) == (Action.FILL_FROM_REPORTS, "replay_window_gone")


def test_invalid_argument_without_token_is_fatal_and_names_the_key() -> None:
    decision = decide(S.INVALID_ARGUMENT, "unknown symbols: X", sent_token=False, sent_time=True)
    assert (decision.action, decision.reason) == (Action.FATAL, "invalid_argument")
    assert decision.advice == "upstream.symbols"
    live = decide(S.INVALID_ARGUMENT, "unknown firms: Q", sent_token=False, sent_time=False)
    assert (live.action, live.advice) == (Action.FATAL, "upstream.firms")


@pytest.mark.parametrize(
    ("details", "key"),
    [
        ("unknown symbols: abc", "upstream.symbols"),
        ("unknown firms: Q (this simulator has A, B)", "upstream.firms"),
        ("resume_time is in the future", "upstream.start_from"),
        ("bad x-participant-id", "upstream.auth.participant_id"),
        ("something else", "upstream"),
    ],
)
def test_config_key_for(details: str, key: str) -> None:
    assert config_key_for(details) == key
