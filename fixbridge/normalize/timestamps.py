"""UTC timestamps as FIX UTCTimestamp text, from integer nanoseconds, at a chosen precision.

Upstream times are protobuf Timestamps (seconds + nanos); they are carried as one integer of
nanoseconds so nothing is rounded on the way. Truncation to ms or us happens only here, when a
session asks for less. Never reads the clock: callers pass the instant in.
"""

from __future__ import annotations

import enum
import functools
from datetime import UTC, datetime

_NS_PER_S = 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Precision(enum.StrEnum):
    """Fractional-second digits a session receives in UTCTimestamp fields."""

    SECONDS = "s"
    MILLIS = "ms"
    MICROS = "us"
    NANOS = "ns"

    @property
    def digits(self) -> int:
        return _DIGITS[self]


_DIGITS = {Precision.SECONDS: 0, Precision.MILLIS: 3, Precision.MICROS: 6, Precision.NANOS: 9}


def timestamp_ns(seconds: int, nanos: int) -> int:
    """Combine a protobuf Timestamp's parts into integer nanoseconds since the epoch."""
    return seconds * _NS_PER_S + nanos


def instant_ns(moment: datetime) -> int:
    """An aware datetime (an operator's instant) as integer nanoseconds since the epoch,
    exactly: no float on the way."""
    delta = moment - _EPOCH
    return timestamp_ns(delta.days * 86_400 + delta.seconds, delta.microseconds * 1000)


@functools.lru_cache(maxsize=4096)
def whole_second(seconds: int) -> str:
    """``YYYYMMDD-HH:MM:SS`` of a whole second (events come many to a second: formatted once).
    Public for precompiled encoders (fix/compiled_bodies.py), which add the fraction inline."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y%m%d-%H:%M:%S")


def format_utc_timestamp(ns: int, precision: Precision) -> str:
    """``YYYYMMDD-HH:MM:SS[.f…]`` for ``ns`` nanoseconds since the epoch, truncated, not rounded."""
    seconds, frac = divmod(ns, _NS_PER_S)
    text = whole_second(seconds)
    digits = precision.digits
    if digits == 0:
        return text
    return f"{text}.{frac:09d}"[: len(text) + 1 + digits]


def format_utc_date(ns: int) -> str:
    """``YYYYMMDD`` (UTCDateOnly) of the instant ``ns``."""
    return datetime.fromtimestamp(ns // _NS_PER_S, UTC).strftime("%Y%m%d")


def parse_utc_timestamp(text: str) -> int:
    """Inverse of :func:`format_utc_timestamp`; raises ValueError naming the bad text."""
    head, _, frac = text.partition(".")
    try:
        moment = datetime.strptime(head, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"not a FIX UTCTimestamp: {text!r}") from exc
    if frac and (not frac.isdigit() or len(frac) > 9):
        raise ValueError(f"not a FIX UTCTimestamp: {text!r}")
    whole = (moment - _EPOCH) // _ONE_SECOND
    return whole * _NS_PER_S + int(frac.ljust(9, "0") or 0)


_ONE_SECOND = datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC) - _EPOCH
