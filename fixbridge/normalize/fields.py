"""Reading upstream fields: strings, scaled integers and timestamps, checked one by one.

Every normalizer reads the exchange's protobuf fields through these helpers, so each kind of
bad value is refused the same way, with a :class:`NormalizationError` naming the field path:
a string that would break FIX framing (it contains SOH), a scale that is not a positive
integer, a division or product with no exact decimal result, a time FIX cannot carry.

Arithmetic runs under :data:`EXACT`, a decimal context that traps Inexact: a value that has no
exact decimal form is an error here, never a silently rounded price. The one place fixbridge
rounds on purpose (an average price, see :mod:`fixbridge.normalize.fills`) leaves this context
explicitly.

Pure: no I/O, no clock. Must never return a float or guess a missing value.
"""

from __future__ import annotations

from decimal import Decimal, DecimalException
from typing import Final, Protocol

from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.scale import EXACT as EXACT  # the exact context, for the normalizers
from fixbridge.normalize.scale import ScaleError, scaled
from fixbridge.normalize.timestamps import timestamp_ns

# Protobuf Timestamp's valid range is 0001-01-01..9999-12-31; FIX needs a 4-digit year and the
# exchange has no business before the epoch, so 1970-01-01T00:00:00Z (exclusive) .. 9999 it is.
MAX_TIMESTAMP_SECONDS: Final = 253_402_300_799
NS_PER_S: Final = 1_000_000_000

_SOH: Final = "\x01"


def text(value: str, field: str) -> str:
    """An upstream string as is, unless it would break FIX framing."""
    if _SOH in value:
        raise NormalizationError(field, "contains the FIX field separator SOH", value)
    return value


def required_text(value: str, field: str) -> str:
    """A non-empty upstream string."""
    if not value:
        raise NormalizationError(field, "missing")
    return text(value, field)


def optional_text(value: str, field: str) -> str | None:
    """An upstream string, or None when it is empty."""
    return text(value, field) or None


def scaled_value(value: int, scale: int, field: str) -> Decimal:
    """``value / scale`` exactly (under :data:`EXACT`), or NormalizationError naming ``field``."""
    try:
        return scaled(value, scale, what=field)
    except ScaleError as exc:
        raise NormalizationError(field, str(exc), scale) from None
    except DecimalException:
        raise NormalizationError(field, f"no exact decimal for {value} / {scale}", value) from None


def product(left: Decimal, right: Decimal, field: str) -> Decimal:
    """``left * right`` exactly (under :data:`EXACT`), or NormalizationError naming ``field``."""
    try:
        return left * right
    except DecimalException:
        raise NormalizationError(field, f"no exact decimal for {left} * {right}", left) from None


def positive_scale(value: int, field: str) -> int:
    """A price scale: a positive integer (a divisor such as 100 or 1000, spec §0)."""
    if value <= 0:
        raise NormalizationError(field, "must be a positive integer", value)
    return value


def quantity_scale(value: int, field: str) -> int:
    """A fractional quantity scale: 0 (absent) means 1 (spec §4.4), negative is an error."""
    if value < 0:
        raise NormalizationError(field, "must not be negative", value)
    return value or 1


class Timestamp(Protocol):
    """What is read from a google.protobuf.Timestamp."""

    @property
    def seconds(self) -> int: ...

    @property
    def nanos(self) -> int: ...


def timestamp(stamp: Timestamp, field: str) -> int:
    """Integer nanoseconds of a protobuf Timestamp inside the range FIX can carry."""
    if not 0 <= stamp.nanos < NS_PER_S:
        raise NormalizationError(f"{field}.nanos", "must be in 0..999999999", stamp.nanos)
    if not 0 <= stamp.seconds <= MAX_TIMESTAMP_SECONDS:
        raise NormalizationError(f"{field}.seconds", "outside 1970..9999", stamp.seconds)
    ns = timestamp_ns(stamp.seconds, stamp.nanos)
    if ns == 0:
        raise NormalizationError(field, "missing (epoch zero)")
    return ns


def instant(ns: int, field: str) -> int:
    """An instant given in nanoseconds (e.g. when a response was received), range-checked."""
    if not 0 < ns <= MAX_TIMESTAMP_SECONDS * NS_PER_S + NS_PER_S - 1:
        raise NormalizationError(field, "outside 1970..9999", ns)
    return ns
