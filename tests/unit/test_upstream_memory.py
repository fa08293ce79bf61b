"""What ingestion learns from the journal's memory: instrument changes against the symbol's last
journaled state, busts settled against their orders, and each session's trade history.

Real SqliteJournal, real normalizers; the expected values are worked out by hand from the
rules in specs/mapping.md (SecurityStatus, ExecutionReport trade cancel, TradeCaptureReport).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from fixbridge.config import ScopeConfig, SessionConfig
from fixbridge.fix.codec import split_fields
from fixbridge.fix.outbound import SessionTradeHistory, render
from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.normalize.fills import BustedFill, Fill
from fixbridge.normalize.instrument import InstrumentEvent
from fixbridge.proto.polymarket.v1 import enums_pb2 as pb
from fixbridge.proto.polymarket.v1 import orders_pb2, refdata_pb2
from fixbridge.upstream.orders import KnownOrder
from fixbridge.upstream.scales import ScaleBook
from fixbridge.upstream.streams import (
    executions_to_events,
    instruments_to_events,
    trades_to_events,
)
from tests.unit.test_normalize_execution import make_execution, make_order
from tests.unit.test_normalize_trade import AGGRESSOR_EXEC_ID, TRADE_ID, make_trade

T0 = 1_795_254_420_000_000_000  # 2026-11-21T09:47:00Z


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    opened = SqliteJournal(tmp_path / "journal.db")
    yield opened
    opened.close()


def instrument(state: int, **overrides: object) -> refdata_pb2.Instrument:
    values: dict[str, object] = {
        "symbol": "nfl-kc-buf", "state": state, "price_scale": 1000, "fractional_qty_scale": 100,
    }  # fmt: skip
    values.update(overrides)
    return refdata_pb2.Instrument(**values)  # type: ignore[arg-type]


def store_instruments(
    journal: SqliteJournal, batch: list[refdata_pb2.Instrument], at: int, scales: ScaleBook
) -> tuple[int, int]:
    events = instruments_to_events(batch, journal, at, scales)
    result = journal.append("instruments", events, b"tok", at)
    return result.stored, result.duplicates


def busted_trade_of_a_buy_of_20() -> orders_pb2.Trade:
    """The spec's trade (3.12 @ 0.97), BUSTED, its aggressor a buy of 20.00 still working."""
    trade = make_trade(state=pb.TRADE_STATE_BUSTED)
    trade.aggressor.order.order_qty = 2000
    trade.aggressor.order.leaves_qty = 1688
    trade.aggressor.order.state = pb.ORDER_STATE_PARTIALLY_FILLED
    return trade


def trade_cancel(journal: SqliteJournal, fill_exec_id: str) -> dict[int, str]:
    """The trade-cancel ExecutionReport of the latest journaled event, for one busted fill."""
    session = SessionConfig(name="s", sender_comp_id="A", target_comp_id="B",
                            scope=ScopeConfig(message_kinds=("executions",)))  # fmt: skip
    reports = [dict(split_fields(m.body)) for m in render(journal.read_events(0, 10)[-1], session)]
    return next(report for report in reports if report[19] == fill_exec_id)


def bust_one_then_the_other(
    journal: SqliteJournal, first: orders_pb2.Trade, then: orders_pb2.Trade
) -> dict[int, str]:
    """Journal two BUSTED trades a second apart; ``then``'s trade cancel for the aggressor."""
    journal.append("trades", trades_to_events([first], journal, T0), b"t1", T0)
    events = trades_to_events([then], journal, T0 + 10**9)
    assert [e.flagged for e in events] == [None]
    journal.append("trades", events, b"t2", T0 + 10**9)
    return trade_cancel(journal, AGGRESSOR_EXEC_ID)

# --- instruments: a change is what differs from the symbol's last journaled state ------------


def test_the_connect_snapshot_repeating_the_current_state_is_a_duplicate(
    journal: SqliteJournal,
) -> None:
    scales = ScaleBook()
    assert store_instruments(journal, [instrument(pb.INSTRUMENT_STATE_OPEN)], T0, scales) == (1, 0)
    # A reconnect: the stream sends its snapshot again, received later.
    snapshot = [instrument(pb.INSTRUMENT_STATE_OPEN)]
    assert store_instruments(journal, snapshot, T0 + 60 * 10**9, scales) == (0, 1)
    # OPEN -> HALTED -> OPEN: three changes, the second OPEN is not the first one again.
    batch = [instrument(pb.INSTRUMENT_STATE_HALTED), instrument(pb.INSTRUMENT_STATE_OPEN)]
    assert store_instruments(journal, batch, T0 + 120 * 10**9, scales) == (2, 0)
    states = [
        InstrumentEvent.from_payload(e.payload).state for e in journal.read_events(0, 10)
    ]
    assert states == ["OPEN", "HALTED", "OPEN"]
    times = [e.transact_time_ns for e in journal.read_events(0, 10)]
    assert times == [T0, T0 + 120 * 10**9, T0 + 120 * 10**9]  # the receipt times


def test_the_latest_state_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    first = SqliteJournal(path)
    store_instruments(first, [instrument(pb.INSTRUMENT_STATE_OPEN)], T0, ScaleBook())
    first.close()
    again = SqliteJournal(path)
    try:
        snapshot = [instrument(pb.INSTRUMENT_STATE_OPEN)]
        assert store_instruments(again, snapshot, T0 + 10**9, ScaleBook()) == (0, 1)
    finally:
        again.close()


def test_scales_are_learned_before_anything_is_refused(journal: SqliteJournal) -> None:
    scales = ScaleBook()
    unknown_state = instrument(42, symbol="new-symbol", price_scale=100, fractional_qty_scale=0)
    stored, _ = store_instruments(journal, [unknown_state], T0, scales)
    assert stored == 1  # journaled, flagged
    assert journal.read_events(0, 1)[0].flagged is not None
    assert scales.get("new-symbol") == (100, 1)


# --- busts: settled against the order's latest execution ------------------------------------


def test_a_bust_is_settled_against_the_orders_later_fill(journal: SqliteJournal) -> None:
    # The aggressor's order (buy 20.00) was filled 3.12 by the trade below, then 16.88 more at
    # 0.99 in a later execution; the trade is then busted.
    trade = busted_trade_of_a_buy_of_20()
    later = make_execution(
        make_order(id="1HQ4A5T0EDM07", clord_id="1182560826", order_qty=2000, cum_qty=2000,
                   leaves_qty=0, avg_px=99, price=99, state=pb.ORDER_STATE_FILLED,
                   price_scale=100, fractional_quantity_scale=100,
                   price_to_quantity_filled={97: 312, 99: 1688}),
        id="LATER-FILL", type=pb.EXECUTION_TYPE_FILL, last_shares=1688, last_px=99,
        trade_id="T2", transact_time={"seconds": 1_715_972_900},
    )  # fmt: skip
    journal.append("executions", executions_to_events([later], journal), b"e", T0)
    bust_at = T0 + 5 * 10**9
    events = trades_to_events([trade], journal, bust_at)
    journal.append("trades", events, b"t", bust_at)
    session = SessionConfig(name="s", sender_comp_id="A", target_comp_id="B",
                            scope=ScopeConfig(message_kinds=("executions",)))  # fmt: skip
    (stored,) = journal.read_events(1, 10)
    busts = [dict(split_fields(m.body)) for m in render(stored, session)]
    buy = next(b for b in busts if b[19] == AGGRESSOR_EXEC_ID)
    # After the bust: 16.88 filled at 0.99, 3.12 working again, TransactTime = the bust's.
    assert (buy[39], buy[14], buy[151], buy[6]) == ("1", "16.88", "3.12", "0.99")
    assert buy[60] == "20261121-09:47:05.000000000"
    # The bust is remembered for the next bust of the same order.
    remembered = journal.order_busts(["1HQ4A5T0EDM07"])["1HQ4A5T0EDM07"]
    assert [(fill_exec_id, str(b.quantity)) for fill_exec_id, b in remembered] == [
        (AGGRESSOR_EXEC_ID, "3.12")
    ]


def test_a_redelivered_bust_is_not_settled_twice(journal: SqliteJournal) -> None:
    trade = make_trade(state=pb.TRADE_STATE_BUSTED)
    journal.append("trades", trades_to_events([trade], journal, T0), b"t", T0)
    again = trades_to_events([trade], journal, T0 + 10**9)
    assert journal.append("trades", again, b"t2", T0 + 10**9).duplicates == 1
    remembered = journal.order_busts(["1HQ4A5T0EDM07"])["1HQ4A5T0EDM07"]
    assert len(remembered) == 1


# --- trade history: what a session was sent before -------------------------------------------


def test_a_session_configured_after_a_trades_first_state_gets_a_new(
    journal: SqliteJournal,
) -> None:
    journal.append("trades", trades_to_events([make_trade()], journal, T0), b"t1", T0)
    early = journal.load_session("early")  # configured after NEW: it never got it
    cleared = make_trade(state=pb.TRADE_STATE_CLEARED)
    journal.append("trades", trades_to_events([cleared], journal, T0 + 1), b"t2", T0 + 1)
    late = journal.load_session("late")
    assert (early.origin_offset, late.origin_offset) == (1, 2)
    new_event, cleared_event = journal.read_events(0, 10)
    scope = ScopeConfig(message_kinds=("trades",))
    for name, origin, expected in (("early", 1, ("0", "0")), ("zero", 0, ("2", "0"))):
        config = SessionConfig(name=name, sender_comp_id="A", target_comp_id="B", scope=scope)
        history = SessionTradeHistory(journal, origin)
        (report,) = render(cleared_event, config, history)
        values = dict(split_fields(report.body))
        assert (values[1003], values[487], values[856]) == (TRADE_ID, *expected), name
    assert journal.trade_reported_before(TRADE_ID, 0, new_event.offset) is False
    assert journal.trade_reported_before(TRADE_ID, 0, cleared_event.offset) is True


def test_an_execution_after_the_bust_that_arrives_first_is_not_busted_twice(
    journal: SqliteJournal,
) -> None:
    # The passive sell of 10.00 had 5.00 filled (3.12 of it the trade below) when the trade was
    # busted; the exchange took the 3.12 out (1.88 left) and the order then filled 1.00 more at
    # 0.98: its snapshot says 2.88. That execution reaches the bridge before the BUSTED trade
    # does (the two streams are not ordered with each other).
    after_bust = make_execution(
        make_order(id="1HQ4A5T0EDM08", clord_id="mm-77", side=pb.SIDE_SELL, order_qty=1000,
                   cum_qty=288, leaves_qty=712, avg_px=98, price=97,
                   state=pb.ORDER_STATE_PARTIALLY_FILLED, price_scale=100,
                   fractional_quantity_scale=100, price_to_quantity_filled={97: 188, 98: 100}),
        id="AFTER-BUST", type=pb.EXECUTION_TYPE_PARTIAL_FILL, last_shares=100, last_px=98,
        trade_id="T9", transact_time={"seconds": 1_715_972_900},
    )  # fmt: skip
    journal.append("executions", executions_to_events([after_bust], journal), b"e", T0)
    trade = make_trade(state=pb.TRADE_STATE_BUSTED)
    events = trades_to_events([trade], journal, T0 + 10**9)
    assert events[0].flagged is None
    journal.append("trades", events, b"t", T0 + 10**9)
    sell = trade_cancel(journal, "1HPT7DPFMC5M6")
    # 5.00 at the busted fill + 1.00 since - 3.12 busted = 2.88, as the exchange says; the
    # notional 4.85 + 0.98 - 3.0264 = 2.8036, so AvgPx 2.8036 / 2.88.
    assert (sell[39], sell[14], sell[151]) == ("1", "2.88", "7.12")
    assert sell[6] == "0.973472222222222"


def test_after_an_unreadable_state_the_next_readable_one_is_a_change(
    journal: SqliteJournal,
) -> None:
    scales = ScaleBook()
    batch = [
        instrument(pb.INSTRUMENT_STATE_OPEN),
        instrument(42),  # a state the bridge cannot read: kept flagged
        instrument(pb.INSTRUMENT_STATE_OPEN),  # may well be a change back: sent again
    ]
    assert store_instruments(journal, batch, T0, scales) == (3, 0)
    flagged = [e.flagged is not None for e in journal.read_events(0, 10)]
    assert flagged == [False, True, False]


def test_the_same_unreadable_state_again_later_is_journaled_again(
    journal: SqliteJournal,
) -> None:
    """Instruments carry no time: identical bytes months apart are two states, not one."""
    scales = ScaleBook()
    unreadable = instrument(42)
    batch = [unreadable, instrument(pb.INSTRUMENT_STATE_OPEN), unreadable]
    assert store_instruments(journal, batch, T0, scales) == (3, 0)
    # A reconnect's snapshot repeating the latest (unreadable) state is still a duplicate.
    assert store_instruments(journal, [unreadable], T0 + 10**9, scales) == (0, 1)
    flagged = [e.flagged is not None for e in journal.read_events(0, 10)]
    assert flagged == [True, False, True]


def test_a_bust_that_reaches_the_bridge_before_the_fills_it_follows_still_settles(
    journal: SqliteJournal,
) -> None:
    # The buy of 20.00 filled 3.12 @ 0.97 (the first trade), then 1.00 @ 0.98 (a second
    # trade). Both trades are busted. The trade stream runs ahead of the execution stream: the
    # second bust, then the first, arrive before either fill's execution. Taking both fills out
    # leaves nothing filled (FIX order state matrices, J): 39=0, 14=0, 151=20, AvgPx 0.
    first = busted_trade_of_a_buy_of_20()
    second = make_trade(id="TRADE-2", state=pb.TRADE_STATE_BUSTED)
    for side, exec_id in ((second.aggressor, "AGG-2"), (second.passive, "PAS-2")):
        side.id, side.trade_id = exec_id, "TRADE-2"
        side.last_shares, side.last_px = 100, 98
        side.transact_time.seconds += 60
    aggressor = second.aggressor.order
    aggressor.order_qty, aggressor.cum_qty, aggressor.leaves_qty = 2000, 412, 1588
    aggressor.state = pb.ORDER_STATE_PARTIALLY_FILLED
    aggressor.price_to_quantity_filled.update({97: 312, 98: 100})
    passive = second.passive.order
    passive.cum_qty, passive.leaves_qty = 600, 400
    passive.price_to_quantity_filled.update({97: 500, 98: 100})
    buy = bust_one_then_the_other(journal, second, first)
    assert (buy[39], buy[14], buy[151], buy[6]) == ("0", "0", "20", "0")


def test_a_bust_learned_late_of_an_earlier_fill_is_not_taken_out_twice(
    journal: SqliteJournal,
) -> None:
    # The buy of 20.00 filled 1.00 @ 0.98 (an earlier trade), which the exchange busted before
    # the order filled 3.12 @ 0.97 (the trade below): that fill's snapshot says 3.12 filled,
    # the bust already left out. The bridge learns of the first bust only after that fill (a
    # replay), then the second trade is busted too: nothing is left filled (39=0, 14=0), not
    # less than nothing.
    earlier = make_trade(id="TRADE-0", state=pb.TRADE_STATE_BUSTED)
    for side, exec_id in ((earlier.aggressor, "AGG-0"), (earlier.passive, "PAS-0")):
        side.id, side.trade_id = exec_id, "TRADE-0"
        side.last_shares, side.last_px = 100, 98
        side.transact_time.seconds -= 60
    earlier.aggressor.order.order_qty = 2000
    earlier.aggressor.order.cum_qty, earlier.aggressor.order.leaves_qty = 100, 1900
    earlier.aggressor.order.state = pb.ORDER_STATE_PARTIALLY_FILLED
    earlier.aggressor.order.price_to_quantity_filled.clear()
    earlier.aggressor.order.price_to_quantity_filled.update({98: 100})
    earlier.passive.order.id = "OTHER-SELL"
    earlier.passive.order.cum_qty, earlier.passive.order.leaves_qty = 100, 900
    earlier.passive.order.price_to_quantity_filled.clear()
    earlier.passive.order.price_to_quantity_filled.update({98: 100})
    later = busted_trade_of_a_buy_of_20()
    buy = bust_one_then_the_other(journal, earlier, later)
    assert (buy[39], buy[14], buy[151], buy[6]) == ("0", "0", "20", "0")


class _Remembers:
    """An order memory holding one earlier bust of the aggressor's later fill, until forgotten."""

    def __init__(self, later_bust: BustedFill) -> None:
        self.busts = {"1HQ4A5T0EDM07": [("LATER-FILL", later_bust)]}

    def latest_orders(self, order_ids: Collection[str]) -> dict[str, KnownOrder]:
        return {}

    def latest_cl_ord_ids(self, order_ids: Collection[str]) -> dict[str, str]:
        return {}

    def order_busts(self, order_ids: Collection[str]) -> dict[str, list[tuple[str, BustedFill]]]:
        return self.busts

    def order_fills(self, order_ids: Collection[str]) -> dict[str, list[Fill]]:
        later = T0 - 10**9  # after the busted fill (2024), before the bust
        return {"1HQ4A5T0EDM07": [Fill("LATER-FILL", Decimal("16.88"), Decimal("16.7112"), later)]}

    def journaled_ids(self, stream: str, upstream_ids: Collection[str]) -> set[str]:
        return set()


def test_a_bust_that_cannot_be_settled_is_flagged_under_its_own_identity(
    journal: SqliteJournal,
) -> None:
    # The buy filled 3.12 (this trade), then 16.88 (LATER-FILL). The memory says LATER-FILL was
    # busted for 20.00, more than it filled: taking that and this 3.12 out leaves less than
    # nothing, so the bust is refused and kept flagged. Redelivered once the memory no longer
    # says so, the same trade state is a duplicate, not a second record of it.
    trade = busted_trade_of_a_buy_of_20()
    memory = _Remembers(BustedFill(Decimal(20), Decimal("19.80"), T0))
    (refused,) = trades_to_events([trade], memory, T0 + 10**9)
    assert refused.flagged is not None and "exceed" in refused.flagged
    assert refused.upstream_id == f"{TRADE_ID}:BUSTED"  # what a settled one is journaled as
    assert journal.append("trades", [refused], b"t1", T0 + 10**9).stored == 1
    memory.busts = {}
    (settled,) = trades_to_events([trade], memory, T0 + 2 * 10**9)
    assert settled.flagged is None and settled.upstream_id == refused.upstream_id
    assert journal.append("trades", [settled], b"t2", T0 + 2 * 10**9).duplicates == 1
