"""The exchange's trade date: the day rolls at 17:00 New York time (spec §1.4), DST-aware.

Expected dates are worked out by hand from the US daylight-saving rules (EST = UTC-5, EDT =
UTC-4; in 2026 summer time starts on 8 March at 02:00 EST and ends on 1 November at 02:00
EDT): the instants are written in UTC, the dates are what a New York clock says, plus one day
from 17:00 on. The same rule must come out of every message kind that carries the date.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.execution import execution_report_body, normalize_execution
from fixbridge.normalize.instrument import normalize_instrument, security_status_body
from fixbridge.normalize.position import normalize_position, position_report_body
from fixbridge.normalize.trade import normalize_trade, trade_capture_report_body
from fixbridge.normalize.tradedate import checked_trade_date, trade_date
from tests.unit.test_normalize_execution import make_execution
from tests.unit.test_normalize_instrument import make_instrument
from tests.unit.test_normalize_position import make_change
from tests.unit.test_normalize_trade import make_trade


def ns(*utc: int) -> int:
    return int(datetime(*utc, tzinfo=UTC).timestamp()) * 1_000_000_000  # type: ignore[misc]


CASES = [
    # winter (EST): the roll is 22:00 UTC
    ("winter, 16:59:59 EST", ns(2026, 1, 15, 21, 59, 59), "20260115"),
    ("winter, 17:00:00 EST", ns(2026, 1, 15, 22, 0, 0), "20260116"),
    ("winter, 23:59 EST", ns(2026, 1, 16, 4, 59, 0), "20260116"),
    ("winter, 00:30 EST next day", ns(2026, 1, 16, 5, 30, 0), "20260116"),
    # summer (EDT): the roll is 21:00 UTC
    ("summer, 16:59:59 EDT", ns(2026, 7, 15, 20, 59, 59), "20260715"),
    ("summer, 17:00:00 EDT", ns(2026, 7, 15, 21, 0, 0), "20260716"),
    # the day before summer time starts: still EST, 21:30 UTC is 16:30
    ("7 Mar 2026, 16:30 EST", ns(2026, 3, 7, 21, 30, 0), "20260307"),
    # 8 March 2026, summer time from 02:00: 17:00 EDT is 21:00 UTC
    ("8 Mar 2026, 16:59:59 EDT", ns(2026, 3, 8, 20, 59, 59), "20260308"),
    ("8 Mar 2026, 17:00:00 EDT", ns(2026, 3, 8, 21, 0, 0), "20260309"),
    # 31 October 2026, still EDT: 21:00 UTC is 17:00
    ("31 Oct 2026, 17:00 EDT", ns(2026, 10, 31, 21, 0, 0), "20261101"),
    # 1 November 2026, winter time from 02:00: 17:00 EST is 22:00 UTC
    ("1 Nov 2026, 16:59:59 EST", ns(2026, 11, 1, 21, 59, 59), "20261101"),
    ("1 Nov 2026, 17:00:00 EST", ns(2026, 11, 1, 22, 0, 0), "20261102"),
    # a weekend rolls like any other day (the exchange publishes no business-day calendar)
    ("Saturday 17:00 EST", ns(2026, 1, 17, 22, 0, 0), "20260118"),
]
IDS = [name for name, _, _ in CASES]


@pytest.mark.parametrize(("name", "at", "expected"), CASES, ids=IDS)
def test_trade_date(name: str, at: int, expected: str) -> None:
    assert trade_date(at) == expected
    assert trade_date(at + 999_999_999) == expected  # within the same second


def _stamp(at: int) -> dict[str, int]:
    return {"seconds": at // 1_000_000_000, "nanos": at % 1_000_000_000}


@pytest.mark.parametrize(("name", "at", "expected"), CASES, ids=IDS)
def test_every_message_kind_carries_the_same_trade_date(name: str, at: int, expected: str) -> None:
    execution = make_execution(transact_time=_stamp(at))
    assert dict(execution_report_body(normalize_execution(execution)))[75] == expected

    trade = make_trade()
    for fill in (trade.aggressor, trade.passive):
        fill.ClearField("transact_trade_date")
        fill.transact_time.CopyFrom(type(fill.transact_time)(**_stamp(at)))
    assert dict(trade_capture_report_body(normalize_trade(trade)))[75] == expected

    state = normalize_instrument(make_instrument(), received_at_ns=at)
    assert dict(security_status_body(state))[75] == expected

    change = make_change(update_time=_stamp(at))
    position = normalize_position(change, price_scale=1000, quantity_scale=100)
    assert dict(position_report_body(position))[715] == expected


def test_the_exchanges_own_trade_date_wins_on_an_execution_report() -> None:
    at = ns(2026, 1, 15, 22, 0, 0)  # after the roll: the rule would say 20260116
    execution = make_execution(
        transact_time=_stamp(at), transact_trade_date={"year": 2026, "month": 1, "day": 15}
    )
    assert dict(execution_report_body(normalize_execution(execution)))[75] == "20260115"


def test_no_trade_date_after_year_9999_is_an_error_naming_the_field() -> None:
    last_evening = ns(9999, 12, 31, 23, 0, 0)  # 18:00 EST: the trade date would be 10000-01-01
    with pytest.raises(ValueError):
        trade_date(last_evening)
    with pytest.raises(NormalizationError) as caught:
        checked_trade_date(last_evening, "transact_time")
    assert caught.value.field == "transact_time"
    with pytest.raises(NormalizationError) as caught:
        normalize_execution(make_execution(transact_time=_stamp(last_evening)))
    assert caught.value.field == "transact_time"
