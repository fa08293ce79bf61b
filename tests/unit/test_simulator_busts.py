"""Busts applied to the orders (FIX Order State Change Matrices, section J: execution
corrections and cancellations), on the simulated exchange without the market model.

Symbol nba-lal-bos-2026-11-21-lal: price scale 100 (42 = $0.42), quantity scale 1, tick 1,
reference 0.41, so prices 0.21 .. 0.61 are accepted. Notional and commission are in units of
1/(100 * 1) dollars. Takers pay 200 bps; alpha-mm and bravo-mm get a 25 bps maker rebate, every
other account pays no maker fee. Every expected value below is worked out by hand.
"""

from __future__ import annotations

import random

from fixbridge.proto.polymarket.v1 import enums_pb2, trading_pb2
from fixbridge.simulator.exchange import (
    BUST_TEXT,
    REINSTATED_EXPIRY_TEXT,
    Exchange,
    OrderRequest,
    StepOutput,
)
from fixbridge.simulator.orders import SimOrder
from fixbridge.simulator.refdata import ACCOUNTS, SYMBOLS_BY_NAME

E = enums_pb2
LAL = SYMBOLS_BY_NAME["nba-lal-bos-2026-11-21-lal"]
NOW = 1_795_000_000_000_000_000
SECOND = 1_000_000_000
BUY, SELL = E.SIDE_BUY, E.SIDE_SELL
DAY, GTC = E.TIME_IN_FORCE_DAY, E.TIME_IN_FORCE_GOOD_TILL_CANCEL
GTD = E.TIME_IN_FORCE_GOOD_TILL_TIME
IOC, FOK = E.TIME_IN_FORCE_IMMEDIATE_OR_CANCEL, E.TIME_IN_FORCE_FILL_OR_KILL


class Venue:
    """One exchange with LAL open; collects every step's output."""

    def __init__(self) -> None:
        self.exchange = Exchange(random.Random(5))
        self.now = NOW
        self.outputs: list[StepOutput] = []
        self.exchange.begin_step(self.now)
        self.exchange.set_state(LAL.symbol, E.INSTRUMENT_STATE_OPEN)
        self._clord = 0

    def next_step(self, budget: int | None = None, *, seconds: int = 1) -> None:
        self.outputs.append(self.exchange.end_step())
        self.now += seconds * SECOND
        self.exchange.begin_step(self.now, budget)

    def last(self) -> StepOutput:
        """What the current step published so far (ends it and starts the next)."""
        self.next_step()
        return self.outputs[-1]

    def order(self, short_name: str, side: E.Side, qty: int, price: int,
              tif: E.TimeInForce = DAY, good_till_ns: int = 0) -> SimOrder:
        account = next(a for a in ACCOUNTS if a.short_name == short_name)
        self._clord += 1
        order = self.exchange.submit(OrderRequest(
            spec=LAL, account=account, participant=account.participant(account.users[0]),
            side=side, type=E.ORDER_TYPE_LIMIT, time_in_force=tif, qty=qty, price=price,
            clord_id=f"c-{self._clord}", good_till_ns=good_till_ns,
        ))
        assert order is not None and order.state != E.ORDER_STATE_REJECTED
        return order


def executions_of(output: StepOutput, order: SimOrder) -> list[trading_pb2.Execution]:
    return [e for e in output.executions if e.order.id == order.id]


def test_a_filled_buy_with_its_first_fill_busted_rests_again_with_the_second() -> None:
    venue = Venue()
    buy = venue.order("alpha-mm", BUY, 20, 40)
    first_seller = venue.order("bravo-hedge", SELL, 10, 40, IOC)
    first_trade = buy.last_trade_id
    venue.exchange.replace(buy, 20, 42, "c-buy-2")
    venue.order("charlie-arb", SELL, 10, 42, IOC)
    assert buy.state == E.ORDER_STATE_FILLED and buy.filled_at == {40: 10, 42: 10}
    # Maker rebates: 10 x 0.40 = $4.00 and 10 x 0.42 = $4.20, 25 bps each is $0.01 (1 unit).
    assert buy.fees == -2
    queued = venue.order("charlie-fund", BUY, 5, 42)
    venue.next_step()

    assert venue.exchange.bust_trade(first_trade)
    out = venue.last()
    # The buy: cum 10 at 0.42 is left; AvgPx 0.42; 10 leaves; partially filled; on the book
    # again behind the bid that was already at 0.42.
    assert (buy.cum_qty, buy.filled_at, buy.avg_px, buy.leaves_qty) == (10, {42: 10}, 42, 10)
    assert buy.state == E.ORDER_STATE_PARTIALLY_FILLED
    assert buy.fees == -1
    assert venue.exchange.book(LAL.symbol).orders(BUY) == [queued, buy]
    assert buy in venue.exchange.open_orders()
    # The bust publishes no execution for it; the IOC seller cannot rest, so its reinstated 10
    # expire at once: cum 0, no fill left, its 200 bps ($0.08) taken back.
    assert executions_of(out, buy) == []
    [expired] = executions_of(out, first_seller)
    assert expired.type == E.EXECUTION_TYPE_EXPIRED and expired.text == REINSTATED_EXPIRY_TEXT
    assert (expired.order.state, expired.order.cum_qty, expired.order.leaves_qty) == (
        E.ORDER_STATE_EXPIRED, 0, 0)
    assert dict(expired.order.price_to_quantity_filled) == {}
    assert expired.order.avg_px == 0 and expired.order.commission_notional_total_collected == 0
    [busted] = out.trades
    assert (busted.id, busted.state, busted.text) == (first_trade, E.TRADE_STATE_BUSTED,
                                                      BUST_TEXT)
    assert len(out.position_changes) == 2

    # Its next execution carries the reduced CumQty: a sell of 7 at 0.42 fills the earlier bid
    # (5) first, then 2 of the buy: cum 12, leaves 8, AvgPx (420 + 84) / 12 = 0.42.
    venue.order("bravo-hedge", SELL, 7, 42, IOC)
    [fill] = executions_of(venue.last(), buy)
    assert fill.type == E.EXECUTION_TYPE_PARTIAL_FILL and fill.last_shares == 2
    order = fill.order
    assert (order.cum_qty, order.leaves_qty, order.avg_px) == (12, 8, 42)
    assert dict(order.price_to_quantity_filled) == {42: 12}
    assert order.state == E.ORDER_STATE_PARTIALLY_FILLED


def test_a_working_order_gets_its_leaves_back_and_keeps_its_place() -> None:
    venue = Venue()
    first = venue.order("alpha-prop", BUY, 20, 40, GTC)
    second = venue.order("charlie-fund", BUY, 20, 40, GTC)
    venue.order("bravo-hedge", SELL, 5, 40, FOK)
    trade_id = first.last_trade_id
    assert (first.cum_qty, first.leaves_qty, first.state) == (5, 15, E.ORDER_STATE_PARTIALLY_FILLED)
    venue.next_step()
    assert venue.exchange.bust_trade(trade_id)
    out = venue.last()
    # Nothing left filled: NEW again, all 20 leaves, still first in the queue at 0.40.
    assert (first.cum_qty, first.leaves_qty, first.avg_px, first.filled_at) == (0, 20, 0, {})
    assert first.state == E.ORDER_STATE_NEW
    assert venue.exchange.book(LAL.symbol).orders(BUY) == [first, second]
    # Only the FOK seller's reinstated 5 expire.
    assert [e.type for e in out.executions] == [E.EXECUTION_TYPE_EXPIRED]


def test_a_canceled_or_done_for_day_order_stays_done_with_no_leaves() -> None:
    venue = Venue()
    canceled = venue.order("alpha-prop", BUY, 20, 40, GTC)
    day = venue.order("charlie-fund", SELL, 30, 45, DAY)
    venue.order("bravo-hedge", SELL, 5, 40, IOC)
    canceled_trade = canceled.last_trade_id
    venue.order("bravo-mm", BUY, 10, 45, IOC)
    day_trade = day.last_trade_id
    venue.exchange.cancel(canceled, "c-cancel")
    venue.exchange.set_state(LAL.symbol, E.INSTRUMENT_STATE_CLOSED)
    assert day.state == E.ORDER_STATE_EXPIRED  # done for day
    venue.exchange.set_state(LAL.symbol, E.INSTRUMENT_STATE_OPEN)
    venue.next_step()
    assert venue.exchange.bust_trade(canceled_trade)
    assert venue.exchange.bust_trade(day_trade)
    out = venue.last()
    assert (canceled.state, canceled.cum_qty, canceled.leaves_qty) == (E.ORDER_STATE_CANCELED, 0, 0)
    assert (day.state, day.cum_qty, day.leaves_qty) == (E.ORDER_STATE_EXPIRED, 0, 0)
    assert venue.exchange.book(LAL.symbol).orders(BUY) == []
    assert venue.exchange.book(LAL.symbol).orders(SELL) == []
    # Both aggressors were IOC and filled: their reinstated quantity expires; nothing else.
    assert [(e.type, e.order.side, e.order.cum_qty) for e in out.executions] == [
        (E.EXECUTION_TYPE_EXPIRED, SELL, 0), (E.EXECUTION_TYPE_EXPIRED, BUY, 0)]


def test_a_filled_order_rests_only_where_it_could_rest() -> None:
    venue = Venue()
    gtd_soon = venue.order("alpha-prop", BUY, 10, 40, GTD, good_till_ns=NOW + 5 * SECOND)
    first_seller = venue.order("bravo-hedge", SELL, 10, 40, IOC)
    gtd_trade = gtd_soon.last_trade_id
    gtd_later = venue.order("alpha-prop", BUY, 10, 39, GTD, good_till_ns=NOW + 60 * SECOND)
    second_seller = venue.order("bravo-hedge", SELL, 10, 39, IOC)
    later_trade = gtd_later.last_trade_id
    day = venue.order("charlie-fund", BUY, 10, 38, DAY)
    venue.order("bravo-hedge", SELL, 10, 38, IOC)
    day_trade = day.last_trade_id
    assert {gtd_soon.state, gtd_later.state, day.state} == {E.ORDER_STATE_FILLED}
    venue.next_step(seconds=10)  # past the first GTD's time, before the second's
    venue.exchange.set_state(LAL.symbol, E.INSTRUMENT_STATE_PREOPEN)
    assert venue.exchange.bust_trade(gtd_trade)
    assert venue.exchange.bust_trade(later_trade)
    out = venue.last()
    # PREOPEN books take orders back; a GTD past its time does not rest.
    assert gtd_later.state == E.ORDER_STATE_NEW and gtd_later.leaves_qty == 10
    assert gtd_soon.state == E.ORDER_STATE_EXPIRED and gtd_soon.leaves_qty == 0
    assert venue.exchange.book(LAL.symbol).orders(BUY) == [gtd_later]
    # Expired at once: the first IOC seller and the first GTD (first bust), the second IOC
    # seller (second bust), each in the order the bust met it (aggressor side first).
    assert [(e.order.id, e.type) for e in out.executions] == [
        (first_seller.id, E.EXECUTION_TYPE_EXPIRED),
        (gtd_soon.id, E.EXECUTION_TYPE_EXPIRED),
        (second_seller.id, E.EXECUTION_TYPE_EXPIRED),
    ]
    # A HALTED book does not take a reinstated DAY order back.
    venue.exchange.set_state(LAL.symbol, E.INSTRUMENT_STATE_HALTED)
    assert venue.exchange.bust_trade(day_trade)
    assert day.state == E.ORDER_STATE_EXPIRED and day.cum_qty == 0
    assert [e.type for e in executions_of(venue.last(), day)] == [E.EXECUTION_TYPE_EXPIRED]


def test_a_bust_whose_expiries_do_not_fit_the_budget_is_refused_whole() -> None:
    venue = Venue()
    resting = venue.order("alpha-prop", BUY, 10, 40, GTC)
    seller = venue.order("bravo-hedge", SELL, 10, 40, IOC)
    trade_id = seller.last_trade_id
    venue.next_step(budget=0)
    assert not venue.exchange.bust_trade(trade_id)
    assert venue.exchange.refused
    out = venue.last()
    assert (out.executions, out.trades, out.position_changes) == ((), (), ())
    assert (resting.state, resting.cum_qty, seller.state, seller.cum_qty) == (
        E.ORDER_STATE_FILLED, 10, E.ORDER_STATE_FILLED, 10)
    venue.next_step(budget=1)
    assert venue.exchange.bust_trade(trade_id)
    out = venue.last()
    # The IOC seller expires (1 execution); the GTC buyer rests again with all 10 leaves.
    assert [e.order.id for e in out.executions] == [seller.id]
    assert (resting.state, resting.leaves_qty) == (E.ORDER_STATE_NEW, 10)
    assert [t.state for t in out.trades] == [E.TRADE_STATE_BUSTED]


def test_both_sides_filled_and_restable_both_go_back_on_the_book() -> None:
    venue = Venue()
    bid = venue.order("alpha-prop", BUY, 10, 40, GTC)
    ask = venue.order("charlie-fund", SELL, 10, 40, DAY)
    trade_id = ask.last_trade_id
    venue.next_step()
    assert venue.exchange.bust_trade(trade_id)
    out = venue.last()
    assert out.executions == ()
    assert (bid.state, bid.leaves_qty, ask.state, ask.leaves_qty) == (
        E.ORDER_STATE_NEW, 10, E.ORDER_STATE_NEW, 10)
    book = venue.exchange.book(LAL.symbol)
    assert (book.orders(BUY), book.orders(SELL)) == ([bid], [ask])
