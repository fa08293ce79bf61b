"""What to do when an upstream stream fails, decided from the gRPC status alone.

Pure: the subscriber passes in the status code, its details and what the request asked for;
out comes one :class:`Decision`. The rules follow the exchange's guidance (spec §4.8, §4.9):
transient failures back off exponentially; an expired access token is refreshed before the
next attempt; missing scopes and rate or stream limits retry slowly and loudly; a refused resume
token falls back to ``resume_time``; a ``resume_time`` outside the replay window is filled from
the Report API; a request the exchange calls invalid is a configuration error that no retry
can fix. The exchange documents no status for a refused resume token, so every "bad request"
status is read as a token refusal while the request carried a token.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import grpc


class Action(enum.Enum):
    BACKOFF = "backoff"  # reconnect after the exponential backoff delay
    REFRESH_TOKEN = "refresh_token"  # fetch a new access token, then reconnect
    SLOW_RETRY = "slow_retry"  # reconnect after upstream.slow_retry_s, logging loudly
    RESUME_BY_TIME = "resume_by_time"  # token refused: replay by resume_time instead
    FILL_FROM_REPORTS = "fill_from_reports"  # replay window gone: ReportAPI, then resume
    FATAL = "fatal"  # the request itself is wrong: stop with a configuration error


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str  # a fixbridge_upstream_reconnects_total reason label
    advice: str = ""  # what an operator should check, for the log line


# Statuses that mean "this request cannot be served": with a resume token in it, the token.
_REFUSED_REQUEST = frozenset({
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.OUT_OF_RANGE,
})
# With only a resume_time in the request: the time is older than the stream can replay.
_WINDOW_GONE = frozenset({grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.FAILED_PRECONDITION})
_TRANSIENT = {
    grpc.StatusCode.UNAVAILABLE: "unavailable",
    grpc.StatusCode.DEADLINE_EXCEEDED: "deadline_exceeded",
    grpc.StatusCode.ABORTED: "unavailable",
    grpc.StatusCode.CANCELLED: "unavailable",  # not ours (ours ends the task): the server's
}


def decide(
    code: grpc.StatusCode, details: str, *, sent_token: bool, sent_time: bool
) -> Decision:
    """The action for a stream that ended with ``code`` (never OK)."""
    if code in _TRANSIENT:
        return Decision(Action.BACKOFF, _TRANSIENT[code])
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return Decision(
            Action.REFRESH_TOKEN, "unauthenticated",
            "the access token expired or was revoked; a new one is fetched",
        )
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return Decision(
            Action.SLOW_RETRY, "permission_denied",
            "check the client's scopes (read:dropcopy, read:instruments; read:marketdata for"
            " settlement prices) and"
            " upstream.auth.participant_id / upstream.firms (cross-firm requests are refused)",
        )
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return Decision(
            Action.SLOW_RETRY, "resource_exhausted",
            "the exchange's limits: 20 concurrent streams per firm, 100 msg/s ingress; another"
            " process may hold streams for this firm",
        )
    if code in _REFUSED_REQUEST:
        if sent_token:
            return Decision(Action.RESUME_BY_TIME, "resume_token_rejected")
        if sent_time and code in _WINDOW_GONE:
            return Decision(Action.FILL_FROM_REPORTS, "replay_window_gone")
        return Decision(Action.FATAL, "invalid_argument", config_key_for(details))
    return Decision(Action.BACKOFF, "internal")


def config_key_for(details: str) -> str:
    """The configuration key an INVALID_ARGUMENT most likely points at, from its details."""
    text = details.lower()
    for needle, key in (
        ("symbol", "upstream.symbols"),
        ("firm", "upstream.firms"),
        ("resume_time", "upstream.start_from"),
        ("participant", "upstream.auth.participant_id"),
    ):
        if needle in text:
            return key
    return "upstream"
