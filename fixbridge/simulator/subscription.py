"""What one subscription asked for: where in the log it starts and which events it wants.

Start rules (spec section 4.8):
* ``resume_token``: from the token's position on, i.e. every event strictly after the last one
  the token covered, then live;
* ``resume_time``: every event of the log whose time is at or after it, then live;
* neither: live only, from the end of the log at the moment the stream opens;
* both: an error.
Filters: ``symbols`` empty means all; ``firms`` empty means every firm of the simulator, and a
firm may be given as ``SIM-ALPHA`` or ``firms/SIM-ALPHA``. Naming a symbol or firm the simulator
does not have is an error, so a typo in a bridge's configuration shows up instead of silence.

Expiry and the replay window (the exchange documents neither; these are the simulator's
choices, see :class:`ReplayLimits`): a token issued longer than the TTL ago, or before the
expiry cutoff, raises :class:`TokenExpired` (FAILED_PRECONDITION: the request is well formed
but the history it points into is no longer served, so the client must start a fresh
subscription and fill the gap from the ReportAPI); a ``resume_time`` before the replay window
raises :class:`BeforeReplayWindow` (OUT_OF_RANGE: asking again with a later time works). A
malformed token, or one from another simulator instance or stream, stays INVALID_ARGUMENT.
Every problem raises a SubscriptionError with a message for the client. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from fixbridge.simulator.streams import Entry, Stream
from fixbridge.simulator.times import NS_PER_SECOND, to_rfc3339
from fixbridge.simulator.tokens import LEGACY_TOKEN_FORMAT, TokenError, decode_token


class SubscriptionError(ValueError):
    """A request the simulator answers with INVALID_ARGUMENT; the message names the problem."""


class TokenExpired(SubscriptionError):
    """The resume token is valid but too old (FAILED_PRECONDITION, ``resume_token expired``)."""


class BeforeReplayWindow(SubscriptionError):
    """The resume_time is earlier than the stream still replays (OUT_OF_RANGE)."""


@dataclass(frozen=True, slots=True)
class ReplayLimits:
    """How far back a stream may be resumed at this moment; every field None = no limit."""

    token_ttl_ns: int | None = None
    """Tokens issued longer ago than this are expired."""
    token_cutoff_ns: int | None = None
    """Tokens issued before this instant are expired (the expire-resume-tokens fault)."""
    earliest_ns: int | None = None
    """The oldest ``resume_time`` the stream replays from (now minus the replay window)."""


NO_LIMITS = ReplayLimits()


@dataclass(frozen=True, slots=True)
class Subscription:
    stream: Stream
    start: int
    """Log position the stream reads from first."""
    since_ns: int | None
    """Only events at or after this time (resume_time), or None for no time filter."""
    symbols: frozenset[str]
    firms: frozenset[str]
    overlap_end: int = 0
    """Positions below this are a deliberate overlap (the overlap fault): they are sent if the
    symbols and firms match, whatever their time."""
    from_token: bool = False
    """Whether ``start`` came from a resume token."""

    def wants(self, entry: Entry[Any]) -> bool:
        if self.since_ns is not None and entry.time_ns < self.since_ns:
            return False
        return self.selects(entry)

    def selects(self, entry: Entry[Any]) -> bool:
        """Whether the symbol and firm filters select ``entry`` (time aside)."""
        if self.symbols and entry.symbol not in self.symbols:
            return False
        return not self.firms or not entry.firms or any(f in self.firms for f in entry.firms)

    def wants_at(self, position: int, entry: Entry[Any]) -> bool:
        """:meth:`wants` for the entry at log ``position``, counting the overlap in."""
        return self.selects(entry) if position < self.overlap_end else self.wants(entry)

    @property
    def resumed(self) -> bool:
        """Whether the client asked to resume (token or time) rather than to go live."""
        return self.since_ns is not None or self.from_token


def open_subscription(
    stream: Stream,
    *,
    instance: str,
    head: int,
    resume_token: bytes,
    resume_time_ns: int | None,
    symbols: Sequence[str],
    firms: Sequence[str],
    known_symbols: Collection[str],
    known_firms: Collection[str],
    now_ns: int = 0,
    limits: ReplayLimits = NO_LIMITS,
) -> Subscription:
    """Check a request against this server (``instance``, whose ``stream`` log has ``head``
    events at ``now_ns``) and say where it starts and what it selects."""
    if resume_token and resume_time_ns is not None:
        raise SubscriptionError("resume_token and resume_time are mutually exclusive; send one")
    unknown = [s for s in symbols if s not in known_symbols]
    if unknown:
        raise SubscriptionError(f"unknown symbols: {', '.join(unknown)}")
    wanted_firms = [f.removeprefix("firms/") for f in firms]
    unknown = [f for f in wanted_firms if f not in known_firms]
    if unknown:
        raise SubscriptionError(
            f"unknown firms: {', '.join(unknown)} (this simulator has {', '.join(known_firms)})"
        )
    start, since, from_token = head, None, False
    if resume_token:
        start, from_token = _token_position(resume_token, stream, instance, head, now_ns,
                                            limits), True
    elif resume_time_ns is not None:
        if limits.earliest_ns is not None and resume_time_ns < limits.earliest_ns:
            raise BeforeReplayWindow(
                f"resume_time {to_rfc3339(resume_time_ns)} is before the replay window "
                f"(earliest {to_rfc3339(limits.earliest_ns)})"
            )
        start, since = 0, resume_time_ns
    return Subscription(stream, start, since, frozenset(symbols), frozenset(wanted_firms),
                        from_token=from_token)


def _token_position(
    raw: bytes, stream: Stream, instance: str, head: int, now_ns: int, limits: ReplayLimits
) -> int:
    try:
        token = decode_token(raw)
    except TokenError as exc:
        raise SubscriptionError(str(exc)) from None
    if token.instance != instance:
        raise SubscriptionError(
            f"resume_token was issued by another simulator instance ({token.instance}; this one "
            f"is {instance}); its history is gone, start a fresh subscription"
        )
    if token.stream != stream:
        raise SubscriptionError(
            f"resume_token belongs to the {token.stream} stream, not the {stream} stream"
        )
    if token.position > head:
        raise SubscriptionError(
            f"resume_token position {token.position} is past the end of the {stream} stream "
            f"({head} events)"
        )
    _check_expiry(token.issued_ns, now_ns, limits)
    return token.position


_FRESH_START = "; start a fresh subscription and fill the gap from the ReportAPI"


def _check_expiry(issued_ns: int | None, now_ns: int, limits: ReplayLimits) -> None:
    if limits.token_ttl_ns is None and limits.token_cutoff_ns is None:
        return
    if issued_ns is None:
        raise TokenExpired(
            f"resume_token expired: a {LEGACY_TOKEN_FORMAT} token carries no issue time"
            f"{_FRESH_START}"
        )
    if limits.token_cutoff_ns is not None and issued_ns < limits.token_cutoff_ns:
        raise TokenExpired(
            f"resume_token expired: issued {to_rfc3339(issued_ns)}, before the expiry cutoff "
            f"{to_rfc3339(limits.token_cutoff_ns)}{_FRESH_START}"
        )
    if limits.token_ttl_ns is not None and now_ns - issued_ns > limits.token_ttl_ns:
        raise TokenExpired(
            f"resume_token expired: issued {to_rfc3339(issued_ns)}, older than "
            f"resume_token_ttl_s={limits.token_ttl_ns / NS_PER_SECOND:g}{_FRESH_START}"
        )
