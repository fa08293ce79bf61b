"""What one event gives the comparison and each session scope, on simulator-made events, and
the trade-date window (spec §1.4: the trade day rolls at 5:00 PM New York time)."""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from fixbridge.config import ScopeConfig
from fixbridge.normalize.execution import normalize_execution
from fixbridge.normalize.trade import normalize_trade
from fixbridge.proto.polymarket.v1 import enums_pb2
from fixbridge.reconcile.journal_side import trade_date_window
from fixbridge.reconcile.records import compared, execution_date, session_messages
from fixbridge.simulator.market import MarketModel

START_NS = 1_795_000_000_000_000_000
_UTC = dt.UTC


@cache
def sample() -> tuple[list[Any], list[Any]]:
    model = MarketModel(7)
    executions: list[Any] = []
    trades: list[Any] = []
    for step in range(300):
        produced = model.step(START_NS + step * 20_000_000)
        executions += produced.executions
        trades += produced.trades
    return executions, trades


def _ns(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=_UTC).timestamp()) * 10**9


def test_a_winter_trade_date_runs_from_22_00_utc_the_day_before() -> None:
    assert trade_date_window(dt.date(2026, 12, 7)) == (
        _ns("2026-12-06T22:00:00"), _ns("2026-12-07T22:00:00"))


def test_a_summer_trade_date_runs_from_21_00_utc_the_day_before() -> None:
    assert trade_date_window(dt.date(2026, 7, 1)) == (
        _ns("2026-06-30T21:00:00"), _ns("2026-07-01T21:00:00"))


def test_an_execution_is_dated_by_the_exchange_transact_trade_date() -> None:
    execution = sample()[0][0]
    d = execution.transact_trade_date
    assert execution_date(execution) == f"{d.year:04d}{d.month:02d}{d.day:02d}"
    execution.ClearField("transact_trade_date")  # sample() is cached: restore below
    try:
        # START_NS is 2026-11-18T11:06:40Z: 06:06 in New York, before the 17:00 roll.
        assert execution_date(execution) == "20261118"
    finally:
        execution.transact_trade_date.CopyFrom(d)


def test_an_execution_goes_to_a_session_whose_scope_admits_it() -> None:
    execution = sample()[0][0]
    event = normalize_execution(execution)
    assert session_messages(ScopeConfig(), event) == [f"8:{execution.id}"]
    assert session_messages(ScopeConfig(symbols=("no-such-symbol",)), event) == []
    assert session_messages(ScopeConfig(message_kinds=("trades",)), event) == []
    fields = compared("executions", execution.id, event).fields
    assert fields is not None and fields["order_id"] == execution.order.id


def test_a_trade_gives_a_capture_report_and_a_bust_its_cancel_reports() -> None:
    trades = sample()[1]
    trade = next(t for t in trades if t.state != enums_pb2.TRADE_STATE_BUSTED)
    event = normalize_trade(trade)
    both = ScopeConfig(message_kinds=("executions", "trades"))
    state = enums_pb2.TradeState.Name(trade.state).removeprefix("TRADE_STATE_")
    assert session_messages(both, event) == [f"AE:{trade.id}-{state}"]
    assert session_messages(ScopeConfig(), event) == []  # executions only: no report
    bust = type(trade)()
    bust.CopyFrom(trade)
    bust.state = enums_pb2.TRADE_STATE_BUSTED
    # specs/mapping.md: a trade-cancel ExecutionReport's ExecID is the fill's ExecID + "-BUST".
    expected = [f"AE:{bust.id}-BUSTED", f"8:{bust.aggressor.id}-BUST", f"8:{bust.passive.id}-BUST"]
    assert session_messages(both, normalize_trade(bust)) == expected
    assert session_messages(ScopeConfig(), normalize_trade(bust)) == expected[1:]
