"""The simulated exchange's market data and settlement prices, without gRPC.

Expected values come from the exchange's market-data streaming page (the seed document
003_6157fb6ab5205f94): settlement_px 1000 with price_scale 1000 "equals $1.00 (YES won,
Buffalo won the game)" with text "Buffalo Bills win", settlement_px 0 when NO won ("Kansas City
Chiefs win"), method SETTLEMENT_PRICE_CALCULATION_METHOD_EVENT_TIER_1 for resolutions and any
other method a daily mark, settlement_preliminary true "may still change", false "final", and
settlement fields "Only populated when instrument state is CLOSED, TERMINATED, or EXPIRED". The
daily-mark tiers follow the exchange's published descriptions of EVENT_TIER_2..4.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import pytest

from fixbridge.proto.polymarket.v1 import (
    dropcopy_pb2,
    enums_pb2,
    orders_pb2,
    positions_pb2,
    trading_pb2,
)
from fixbridge.proto.polymarket.v1 import marketdatasubscription_pb2 as md
from fixbridge.simulator.market import MarketModel, StepOutput
from fixbridge.simulator.marketdata import EMPTY_BOOK, MarketData, RawBook, SettlementOrder
from fixbridge.simulator.refdata import EXPIRING_SYMBOL, SYMBOLS_BY_NAME
from fixbridge.simulator.settlement import (
    Call,
    Settlement,
    daily_mark,
    resolution,
    resolution_calls,
)
from fixbridge.simulator.times import from_timestamp, to_timestamp

E = enums_pb2
TIER_1 = "SETTLEMENT_PRICE_CALCULATION_METHOD_EVENT_TIER_1"
TIER_2 = "SETTLEMENT_PRICE_CALCULATION_METHOD_EVENT_TIER_2"
TIER_3 = "SETTLEMENT_PRICE_CALCULATION_METHOD_EVENT_TIER_3"
TIER_4 = "SETTLEMENT_PRICE_CALCULATION_METHOD_EVENT_TIER_4"
BUF = SYMBOLS_BY_NAME["nfl-kc-buf-2026-11-22-buf"]  # price_scale 1000, like the page's example
SETTLED = {E.INSTRUMENT_STATE_CLOSED, E.INSTRUMENT_STATE_EXPIRED, E.INSTRUMENT_STATE_TERMINATED}
START_NS = 1_795_000_000_000_000_000
STEP_NS = 20_000_000


# ---------------------------------------------------------------------------- settlement rules


def test_a_yes_resolution_is_one_dollar_preliminary_then_final() -> None:
    assert resolution_calls(BUF, yes_wins=True, first_call_wrong=False) == (
        Call(1000, True, TIER_1, "Buffalo Bills win"),
        Call(1000, False, TIER_1, "Buffalo Bills win"),
    )


def test_a_no_resolution_is_zero_with_the_other_outcomes_text() -> None:
    assert resolution_calls(BUF, yes_wins=False, first_call_wrong=False) == (
        Call(0, True, TIER_1, "Kansas City Chiefs win"),
        Call(0, False, TIER_1, "Kansas City Chiefs win"),
    )


def test_a_wrong_first_call_is_changed_before_the_final_one() -> None:
    assert resolution_calls(BUF, yes_wins=False, first_call_wrong=True) == (
        Call(1000, True, TIER_1, "Buffalo Bills win"),
        Call(0, True, TIER_1, "Kansas City Chiefs win"),
        Call(0, False, TIER_1, "Kansas City Chiefs win"),
    )


LAL = SYMBOLS_BY_NAME["nba-lal-bos-2026-11-21-lal"]  # price_scale 100


@pytest.mark.parametrize(("last_px", "calls"), [
    # Clear favourites win: NO at $0.41, YES at $0.70.
    (41, [(0, True, "Boston Celtics win"), (0, False, "Boston Celtics win")]),
    (70, [(100, True, "Los Angeles Lakers win"), (100, False, "Los Angeles Lakers win")]),
    # Within $0.05 of $0.50: the favourite is called first, then the call is changed.
    (53, [(100, True, "Los Angeles Lakers win"), (0, True, "Boston Celtics win"),
          (0, False, "Boston Celtics win")]),
    (45, [(0, True, "Boston Celtics win"), (100, True, "Los Angeles Lakers win"),
          (100, False, "Los Angeles Lakers win")]),
])
def test_the_last_trade_price_decides_the_outcome_and_a_changed_call(
    last_px: int, calls: list[tuple[int, bool, str]]
) -> None:
    assert [(c.px, c.preliminary, c.text) for c in resolution(LAL, last_px)] == calls
    assert {c.method for c in resolution(LAL, last_px)} == {TIER_1}


def test_a_resolution_at_price_scale_100_settles_at_100() -> None:
    final = resolution_calls(LAL, yes_wins=True, first_call_wrong=False)[-1]
    assert (final.px, final.text) == (100, "Los Angeles Lakers win")


def test_daily_marks_last_trade_else_current_price_else_zero() -> None:
    previous = Settlement(480, False, TIER_2, "Daily mark: latest trade of the trading day", 1)
    assert (daily_mark(505, previous).px, daily_mark(505, previous).method) == (505, TIER_2)
    assert (daily_mark(None, previous).px, daily_mark(None, previous).method) == (480, TIER_3)
    assert (daily_mark(None, None).px, daily_mark(None, None).method) == (0, TIER_4)
    assert not any(daily_mark(px, s).preliminary for px, s in [(505, None), (None, previous)])


# --------------------------------------------------------------------- statistics from events

SYM = "nba-lal-bos-2026-11-21-lal"


def trade(px: int, qty: int, at_ns: int) -> orders_pb2.Trade:
    taker = trading_pb2.Execution(
        last_px=px, last_shares=qty, transact_time=to_timestamp(at_ns),
        order=trading_pb2.Order(symbol=SYM))
    return orders_pb2.Trade(aggressor=taker, state=E.TRADE_STATE_NEW)


def position(account: str, net: int, at_ns: int, expired: bool = False
             ) -> dropcopy_pb2.PositionChange:
    return dropcopy_pb2.PositionChange(
        position=positions_pb2.Position(account=account, symbol=SYM, net_position=net,
                                        expired=expired),
        change_time=to_timestamp(at_ns))


def publish(market: MarketData, *, changes: Sequence[tuple[int, E.InstrumentState]] = (),
            trades: Sequence[orders_pb2.Trade] = (),
            positions: Sequence[dropcopy_pb2.PositionChange] = (),
            settlements: Sequence[SettlementOrder] = (),
            book: RawBook = EMPTY_BOOK, at: int = 100) -> list[md.MarketDataUpdate]:
    published = market.publish(
        instrument_changes=[(t, SYM, state) for t, state in changes], trades=trades,
        position_changes=positions, settlements=settlements, books={SYM: book}, time_ns=at)
    return list(published.updates)


def stats_of(update: md.MarketDataUpdate) -> dict[str, object]:
    return {f.name: v for f, v in update.stats.ListFields()}


def test_a_session_collects_open_high_low_volume_and_open_interest() -> None:
    market = MarketData([SYM])
    (opened,) = publish(market, changes=[(1, E.INSTRUMENT_STATE_OPEN)])
    assert opened.state == E.INSTRUMENT_STATE_OPEN
    assert stats_of(opened) == {"shares_traded": 0, "notional_traded": 0, "open_interest": 0}
    (traded,) = publish(
        market,
        trades=[trade(41, 10, 10), trade(44, 5, 20), trade(39, 2, 30)],
        positions=[position("a", 10, 10), position("b", -10, 10), position("a", 12, 30),
                   position("c", 3, 30)],
        book=RawBook(bids=((38, 4),), offers=((45, 1), (45, 2))), at=40)
    assert stats_of(traded) == {
        "open_px": 41, "low_px": 39, "high_px": 44, "last_trade_px": 39, "last_trade_qty": 2,
        "shares_traded": 17, "notional_traded": 41 * 10 + 44 * 5 + 39 * 2,
        "open_interest": 15,
    }
    assert [(e.px, e.qty) for e in traded.offers] == [(45, 1), (45, 2)]
    assert from_timestamp(traded.transact_time) == 40
    assert traded.book_hidden is False


def test_nothing_new_publishes_nothing() -> None:
    market = MarketData([SYM])
    publish(market, changes=[(1, E.INSTRUMENT_STATE_OPEN)])
    assert publish(market, at=200) == []


def test_a_close_sets_close_px_and_a_daily_mark_shown_while_closed_only() -> None:
    market = MarketData([SYM])
    publish(market, changes=[(1, E.INSTRUMENT_STATE_OPEN)], trades=[trade(41, 10, 5)])
    mark_at = 50
    updates = publish(market, changes=[(mark_at, E.INSTRUMENT_STATE_CLOSED)],
                      settlements=[SettlementOrder(SYM, mark_at)], at=60)
    closed = updates[-1]
    assert closed.state == E.INSTRUMENT_STATE_CLOSED
    stats = closed.stats
    assert (stats.close_px, stats.settlement_px, stats.settlement_preliminary) == (41, 41, False)
    assert stats.settlement_price_calculation_method == TIER_2
    assert from_timestamp(stats.settlement_set_time) == mark_at
    # The next session: PREOPEN clears the session's figures and hides the settlement.
    (reopened,) = publish(market, changes=[(70, E.INSTRUMENT_STATE_PREOPEN)], at=80)
    assert not reopened.stats.HasField("settlement_px")
    assert not reopened.stats.HasField("close_px") and not reopened.stats.HasField("open_px")
    assert reopened.stats.last_trade_px == 41
    # A day with no trade keeps the settlement price (tier 3).
    publish(market, changes=[(90, E.INSTRUMENT_STATE_OPEN)])
    (quiet_close,) = publish(market, changes=[(95, E.INSTRUMENT_STATE_CLOSED)],
                             settlements=[SettlementOrder(SYM, 95)], at=99)
    assert (quiet_close.stats.settlement_px,
            quiet_close.stats.settlement_price_calculation_method) == (41, TIER_3)


def test_a_preliminary_and_a_final_price_in_one_step_are_both_published() -> None:
    market = MarketData([SYM])
    publish(market, changes=[(1, E.INSTRUMENT_STATE_OPEN)])
    updates = publish(
        market,
        changes=[(10, E.INSTRUMENT_STATE_CLOSED), (20, E.INSTRUMENT_STATE_EXPIRED)],
        positions=[position("a", 5, 20, expired=True)],
        settlements=[SettlementOrder(SYM, 10, Call(100, True, TIER_1, "Los Angeles Lakers win")),
                     SettlementOrder(SYM, 20, Call(100, False, TIER_1, "Los Angeles Lakers win"))],
        at=30)
    shown = [(u.state, u.stats.settlement_px, u.stats.settlement_preliminary,
              from_timestamp(u.transact_time)) for u in updates]
    assert shown == [(E.INSTRUMENT_STATE_CLOSED, 100, True, 10),
                     (E.INSTRUMENT_STATE_EXPIRED, 100, False, 20)]
    assert updates[-1].stats.open_interest == 0
    assert market.settlement(SYM) == Settlement(100, False, TIER_1, "Los Angeles Lakers win", 20)


# --------------------------------------------------------------------------- the market model


@cache
def run(seed: int, steps: int = 1_000) -> tuple[StepOutput, ...]:
    model = MarketModel(seed)
    return tuple(model.step(START_NS + i * STEP_NS) for i in range(steps))


def serialized(outputs: tuple[StepOutput, ...]) -> list[bytes]:
    return [u.SerializeToString(deterministic=True) for out in outputs for u in out.market_data]


def test_the_same_seed_gives_byte_identical_market_data_and_settlements() -> None:
    again = MarketModel(9)
    second = tuple(again.step(START_NS + i * STEP_NS) for i in range(1_000))
    assert serialized(run(9)) == serialized(second)
    assert [out.settlements for out in run(9)] == [out.settlements for out in second]


def test_the_expiring_contract_settles_preliminary_then_final_at_0_or_100() -> None:
    texts = {100: "Los Angeles Lakers win", 0: "Boston Celtics win"}  # price_scale 100
    for seed in (2, 9):
        calls = [c.settlement for out in run(seed) for c in out.settlements
                 if c.symbol == EXPIRING_SYMBOL and c.settlement.method == TIER_1]
        assert [c.preliminary for c in calls][-1] is False and all(
            c.preliminary for c in calls[:-1]), seed
        assert len(calls) in (2, 3), seed
        assert all(texts[c.px] == c.text for c in calls), seed
        assert calls[-2].px == calls[-1].px, "the last preliminary price is the final one"
        times = [c.set_time_ns for c in calls]
        assert times == sorted(times) and len(set(times)) == len(times)


def test_a_wrong_preliminary_call_happens_and_is_changed() -> None:
    # Seed 9 is one whose market was close at the end: the first call is changed.
    calls = [c.settlement for out in run(9) for c in out.settlements
             if c.symbol == EXPIRING_SYMBOL and c.settlement.method == TIER_1]
    assert [(c.px, c.preliminary) for c in calls] in (
        [(100, True), (0, True), (0, False)], [(0, True), (100, True), (100, False)])


@pytest.mark.parametrize("seed", [2, 9])
def test_updates_show_a_settlement_only_in_settled_states(seed: int) -> None:
    updates = [u for out in run(seed) for u in out.market_data]
    with_price = [u for u in updates if u.stats.HasField("settlement_px")]
    assert with_price, seed
    assert all(u.state in SETTLED for u in with_price)
    expiring = [u for u in updates if u.symbol == EXPIRING_SYMBOL]
    final = next(u for u in expiring if u.state == E.INSTRUMENT_STATE_EXPIRED)
    assert final.stats.settlement_preliminary is False
    assert final.stats.settlement_price_calculation_method == TIER_1
    assert all(not u.stats.HasField("settlement_px") for u in updates
               if u.state not in SETTLED)


def test_session_closes_publish_daily_marks_that_are_not_resolutions() -> None:
    marks = [c for seed in (0, 2, 9) for out in run(seed) for c in out.settlements
             if c.settlement.method != TIER_1]
    assert marks
    assert {c.settlement.method for c in marks} <= {TIER_2, TIER_3, TIER_4}
    assert all(not c.settlement.preliminary for c in marks)


def test_every_symbol_has_an_update_from_the_opening_step() -> None:
    opening = run(2)[0].market_data
    assert sorted(u.symbol for u in opening) == sorted(SYMBOLS_BY_NAME)
    assert {u.state for u in opening} == {E.INSTRUMENT_STATE_OPEN}
