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
Every problem raises SubscriptionError with a message for the client. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from fixbridge.simulator.streams import Entry, Stream
from fixbridge.simulator.tokens import TokenError, decode_token


class SubscriptionError(ValueError):
    """A request the simulator answers with INVALID_ARGUMENT; the message names the problem."""


@dataclass(frozen=True, slots=True)
class Subscription:
    stream: Stream
    start: int
    """Log position the stream reads from first."""
    since_ns: int | None
    """Only events at or after this time (resume_time), or None for no time filter."""
    symbols: frozenset[str]
    firms: frozenset[str]

    def wants(self, entry: Entry[Any]) -> bool:
        if self.since_ns is not None and entry.time_ns < self.since_ns:
            return False
        if self.symbols and entry.symbol not in self.symbols:
            return False
        return not self.firms or not entry.firms or any(f in self.firms for f in entry.firms)


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
) -> Subscription:
    """Check a request against this server (``instance``, whose ``stream`` log has ``head``
    events now) and say where it starts and what it selects."""
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
    start, since = head, None
    if resume_token:
        start = _token_position(resume_token, stream, instance, head)
    elif resume_time_ns is not None:
        start, since = 0, resume_time_ns
    return Subscription(stream, start, since, frozenset(symbols), frozenset(wanted_firms))


def _token_position(raw: bytes, stream: Stream, instance: str, head: int) -> int:
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
    return token.position
