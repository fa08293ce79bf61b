"""Integer-nanosecond instants as the protobuf types the exchange contract uses, and the
exchange's trade date.

The trade date rolls at 5:00 PM America/New_York (spec section 1.4, "Trade-day roll"), on
New York's wall clock, so at 22:00 UTC in winter (EST, UTC-5) and 21:00 UTC in summer (EDT,
UTC-4): an instant at or after 17:00:00 New York time belongs to the next calendar day's trade
date. The time zone rules come from the IANA tz database through ``zoneinfo``; Debian and the
python:3.11-slim image install it (package ``tzdata``), and a machine without it gets an error
that says so instead of a wrong date.

Pure conversions only: the instant is always passed in. This module must never read a clock.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from google.protobuf import timestamp_pb2

from fixbridge.proto.polymarket.v1 import types_pb2

NS_PER_SECOND = 1_000_000_000
NS_PER_MICROSECOND = 1_000

EXCHANGE_TIME_ZONE = "America/New_York"
TRADE_DAY_ROLL_HOUR = 17
"""The trade date rolls at 17:00 on the exchange's wall clock (5:00 PM ET, DST-aware)."""


class TimeZoneDataMissing(RuntimeError):
    """The IANA tz database is not installed, so the exchange's wall clock is unknown."""


@functools.cache
def exchange_time_zone() -> ZoneInfo:
    """America/New_York; raises TimeZoneDataMissing if this machine has no tz database."""
    try:
        return ZoneInfo(EXCHANGE_TIME_ZONE)
    except ZoneInfoNotFoundError as exc:
        raise TimeZoneDataMissing(
            f"time zone {EXCHANGE_TIME_ZONE} not found: install the IANA tz database "
            "(Debian package tzdata, or the tzdata Python package)"
        ) from exc


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
    """The trade date an instant belongs to: New York's calendar date, or the next one from
    17:00:00 New York time on (e.g. 2026-03-08 16:59:59 EDT -> 2026-03-08, 17:00:00 EDT ->
    2026-03-09)."""
    local = datetime.fromtimestamp(ns // NS_PER_SECOND, exchange_time_zone())
    day = local.date()
    if local.hour >= TRADE_DAY_ROLL_HOUR:
        day += timedelta(days=1)
    return types_pb2.Date(year=day.year, month=day.month, day=day.day)
