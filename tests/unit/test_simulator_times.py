"""The exchange's trade date (spec section 1.4: the trade day rolls at 5:00 PM ET, DST-aware).

Every expected date is written by hand from New York's wall clock: EST is UTC-5, EDT is UTC-4;
in 2026 EDT starts on 8 March (02:00 EST -> 03:00 EDT) and ends on 1 November (02:00 EDT ->
01:00 EST).
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

import pytest

from fixbridge.simulator.times import (
    NS_PER_SECOND,
    TimeZoneDataMissing,
    exchange_time_zone,
    from_rfc3339,
    trade_date,
)


def yyyymmdd(utc: str) -> str:
    date = trade_date(from_rfc3339(utc))
    return f"{date.year:04d}{date.month:02d}{date.day:02d}"


@pytest.mark.parametrize(
    ("utc", "new_york", "expected"),
    [
        # Winter (EST, UTC-5): the roll is at 22:00 UTC.
        ("2026-01-15T21:59:59.999999999Z", "16:59:59.999999999 EST", "20260115"),
        ("2026-01-15T22:00:00Z", "17:00:00 EST", "20260116"),
        ("2026-01-15T21:00:00Z", "16:00:00 EST", "20260115"),
        ("2026-01-16T04:59:59Z", "23:59:59 EST", "20260116"),
        ("2026-01-16T05:00:00Z", "00:00:00 EST, 16 Jan", "20260116"),
        # Summer (EDT, UTC-4): the roll is at 21:00 UTC.
        ("2026-07-15T20:59:59Z", "16:59:59 EDT", "20260715"),
        ("2026-07-15T21:00:00Z", "17:00:00 EDT", "20260716"),
        ("2026-07-15T21:30:00Z", "17:30:00 EDT", "20260716"),
        # The day EDT starts, 2026-03-08: 17:00 is already EDT.
        ("2026-03-07T21:59:59Z", "16:59:59 EST, 7 Mar", "20260307"),
        ("2026-03-07T22:00:00Z", "17:00:00 EST, 7 Mar", "20260308"),
        ("2026-03-08T06:59:59Z", "01:59:59 EST", "20260308"),
        ("2026-03-08T07:00:00Z", "03:00:00 EDT", "20260308"),
        ("2026-03-08T20:59:59Z", "16:59:59 EDT", "20260308"),
        ("2026-03-08T21:00:00Z", "17:00:00 EDT", "20260309"),
        # The day EDT ends, 2026-11-01: 01:00-01:59 happens twice; 17:00 is EST.
        ("2026-10-31T20:59:59Z", "16:59:59 EDT, 31 Oct", "20261031"),
        ("2026-10-31T21:00:00Z", "17:00:00 EDT, 31 Oct", "20261101"),
        ("2026-11-01T05:30:00Z", "01:30:00 EDT", "20261101"),
        ("2026-11-01T06:30:00Z", "01:30:00 EST", "20261101"),
        ("2026-11-01T21:00:00Z", "16:00:00 EST", "20261101"),
        ("2026-11-01T21:59:59Z", "16:59:59 EST", "20261101"),
        ("2026-11-01T22:00:00Z", "17:00:00 EST", "20261102"),
        # Month and year ends roll too.
        ("2026-12-31T22:00:00Z", "17:00:00 EST, 31 Dec", "20270101"),
        ("2026-02-28T21:59:59Z", "16:59:59 EST, 28 Feb", "20260228"),
        ("2026-02-28T22:00:00Z", "17:00:00 EST, 28 Feb", "20260301"),
    ],
)
def test_trade_date_rolls_at_five_pm_new_york(utc: str, new_york: str, expected: str) -> None:
    assert yyyymmdd(utc) == expected, new_york


def test_the_tz_database_is_installed_here() -> None:
    zone = exchange_time_zone()
    assert str(zone) == "America/New_York"
    assert datetime(2026, 1, 15, 12, tzinfo=zone).utcoffset() == timedelta(hours=-5)
    assert datetime(2026, 7, 15, 12, tzinfo=zone).utcoffset() == timedelta(hours=-4)


def test_a_machine_without_the_tz_database_gets_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(key: str) -> zoneinfo.ZoneInfo:
        raise zoneinfo.ZoneInfoNotFoundError(f"No time zone found with key {key}")

    monkeypatch.setattr("fixbridge.simulator.times.ZoneInfo", missing)
    exchange_time_zone.cache_clear()
    try:
        with pytest.raises(TimeZoneDataMissing, match="America/New_York not found: install"):
            trade_date(1_790_000_000 * NS_PER_SECOND)
    finally:
        exchange_time_zone.cache_clear()
