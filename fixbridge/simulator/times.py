"""Integer-nanosecond instants as the protobuf types the exchange contract uses.

Pure conversions only: the instant is always passed in. This module must never read a clock.
"""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import timestamp_pb2

from fixbridge.proto.polymarket.v1 import types_pb2

NS_PER_SECOND = 1_000_000_000
NS_PER_MICROSECOND = 1_000

TRADE_DATE_ROLL_HOUR_UTC = 21
"""The trade date rolls at 21:00 UTC (5 pm in New York during summer time); no DST here."""


def to_timestamp(ns: int) -> timestamp_pb2.Timestamp:
    seconds, nanos = divmod(ns, NS_PER_SECOND)
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


def from_timestamp(ts: timestamp_pb2.Timestamp) -> int:
    return ts.seconds * NS_PER_SECOND + ts.nanos


def to_rfc3339(ns: int) -> str:
    """``2026-11-21T09:47:00.123456789Z``, the protobuf JSON form of a Timestamp."""
    text: str = to_timestamp(ns).ToJsonString()
    return text


def from_rfc3339(text: str) -> int:
    """Inverse of :func:`to_rfc3339`; raises ValueError on text that is not RFC 3339."""
    ts = timestamp_pb2.Timestamp()
    ts.FromJsonString(text)
    return from_timestamp(ts)


def trade_date(ns: int) -> types_pb2.Date:
    """The trade date an instant belongs to: instants after the daily roll count for tomorrow."""
    shifted = ns // NS_PER_SECOND + (24 - TRADE_DATE_ROLL_HOUR_UTC) * 3600
    day = datetime.fromtimestamp(shifted, UTC)
    return types_pb2.Date(year=day.year, month=day.month, day=day.day)
