"""The exchange's trade date of an instant: TradeDate(75) and ClearingBusinessDate(715).

Spec §1.4: "Trade-day roll: 5:00 PM ET, which is also the daily reporting cut-off". So an
instant belongs to the New York calendar date it falls on before 17:00 New York time, and to
the next calendar date from 17:00 on. New York time follows daylight saving time (EST, UTC-5
in winter; EDT, UTC-4 in summer), so the roll is 22:00 UTC in winter and 21:00 UTC in summer;
the time zone database decides which, never a fixed offset. Every day rolls, weekends too:
the exchange publishes no business-day calendar.

Pure: the instant is passed in; this module never reads a clock.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Final
from zoneinfo import ZoneInfo

from fixbridge.normalize.errors import NormalizationError

EXCHANGE_TIME_ZONE: Final = ZoneInfo("America/New_York")
ROLL_TIME: Final = dt.time(17, 0)
_NS_PER_S: Final = 1_000_000_000


def trade_date(ns: int) -> str:
    """``YYYYMMDD``: the exchange trade date of ``ns`` nanoseconds since the epoch (UTC).

    Raises ValueError for an instant whose trade date has no four-digit year (the evening of
    9999-12-31 in New York rolls into year 10000).
    """
    try:
        local = dt.datetime.fromtimestamp(ns // _NS_PER_S, EXCHANGE_TIME_ZONE)
        day = local.date()
        if local.time() >= ROLL_TIME:
            day += dt.timedelta(days=1)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"no trade date for {ns} ns: {exc}") from None
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


_NS_PER_HOUR: Final = 3600 * _NS_PER_S


@functools.lru_cache(maxsize=256)
def _hour_trade_date(hour: int) -> str | None:
    """The trade date shared by every instant of UTC hour ``hour`` (hours since the epoch),
    or None when its first and last second differ (or either has none). The trade date never
    goes back as time goes on (the roll at 17:00 is hours away from any clock change), so
    equal ends mean the whole hour has that date."""
    try:
        first = trade_date(hour * _NS_PER_HOUR)
        last = trade_date((hour + 1) * _NS_PER_HOUR - _NS_PER_S)
    except ValueError:
        return None
    return first if first == last else None


def checked_trade_date(ns: int, field: str) -> str:
    """:func:`trade_date`, or NormalizationError naming the upstream ``field`` it came from.
    An instant whose whole UTC hour shares one trade date (almost all) is answered from a small
    cache of hours: executions come in time order, many per hour."""
    same = _hour_trade_date(ns // _NS_PER_HOUR)
    if same is not None:
        return same
    try:
        return trade_date(ns)
    except ValueError:
        raise NormalizationError(field, "has no trade date before year 10000", ns) from None
