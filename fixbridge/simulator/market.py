"""The seeded market model: simulated participants and operators driving the simulated exchange.

:class:`MarketModel` decides, one step at a time, what happens next (new passive orders,
aggressive orders that trade, stops, cancels, replaces, rejected orders, exchange-initiated
cancels, halts, suspensions, session closes, one contract expiring, trades clearing and the odd
bust) and lets :class:`~fixbridge.simulator.exchange.Exchange` apply it. Each :meth:`step`
returns the new events of the four DropCopy streams and the market data they make
(:mod:`~fixbridge.simulator.marketdata`).

Settlement prices (:mod:`~fixbridge.simulator.settlement`): a session close ends with the day's
mark, set when the instrument enters CLOSED. When the expiring contract's event is over, its
last trade price decides the outcome and whether the first preliminary call is changed; the
preliminary price comes with CLOSED, a changed one (if any) the step after, the final one with
EXPIRED. Settlement draws no random number and takes no instant from the engine, so the
DropCopy events of a seed do not depend on it.

Determinism: all chance comes from one ``random.Random(seed)``; the current time is an argument.
The same seed and the same sequence of ``now_ns`` (and ``max_executions``) values give
byte-identical events. This module must never read a clock, sleep, do I/O or use another source
of randomness.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fixbridge.proto.polymarket.v1 import enums_pb2, refdata_pb2
from fixbridge.simulator.book import crosses
from fixbridge.simulator.exchange import Exchange, OrderRequest, StepOutput
from fixbridge.simulator.marketdata import MarketData, RawBook, SettlementOrder
from fixbridge.simulator.orders import SimOrder
from fixbridge.simulator.refdata import (
    ACCOUNTS,
    EXPIRING_SYMBOL,
    FIRMS,
    SYMBOLS,
    SYMBOLS_BY_NAME,
    AccountSpec,
    FirmSpec,
    SymbolSpec,
)
from fixbridge.simulator.settlement import Call, resolution
from fixbridge.simulator.times import NS_PER_SECOND

__all__ = ["MarketModel", "StepOutput"]

Side = enums_pb2.Side
OrderType = enums_pb2.OrderType
TimeInForce = enums_pb2.TimeInForce
InstrumentState = enums_pb2.InstrumentState
TradeType = enums_pb2.TradeType
CancelReason = enums_pb2.UnsolicitedCxlReason

_OPEN = InstrumentState.INSTRUMENT_STATE_OPEN
_FINAL_STATES = (InstrumentState.INSTRUMENT_STATE_EXPIRED,
                 InstrumentState.INSTRUMENT_STATE_TERMINATED)
_TIF = TimeInForce
_RESTING_TIFS = (_TIF.TIME_IN_FORCE_DAY, _TIF.TIME_IN_FORCE_GOOD_TILL_CANCEL,
                 _TIF.TIME_IN_FORCE_GOOD_TILL_TIME)
_RESTING_TIF_WEIGHTS = (40, 35, 25)
_TRADE_TYPES = (TradeType.TRADE_TYPE_REGULAR, TradeType.TRADE_TYPE_BLOCK,
                TradeType.TRADE_TYPE_CROSS, TradeType.TRADE_TYPE_REQUEST_FOR_QUOTE)
_TRADE_TYPE_WEIGHTS = (88, 4, 4, 4)

INSTRUMENT_EVENT_ONE_IN = 80
"""On average one halt, suspension or session close every this many steps."""
BUST_PERCENT = 2
"""Share of trades that are busted some steps after they cleared."""

_UNSOLICITED_TEXT: dict[CancelReason, str] = {
    CancelReason.UNSOLICITED_CXL_REASON_CONNECTION_LOSS: "Cancel on disconnect",
    CancelReason.UNSOLICITED_CXL_REASON_LOGOUT: "Cancel on logout",
    CancelReason.UNSOLICITED_CXL_REASON_EXCHANGE_OPTION: "Canceled by exchange operations",
    CancelReason.UNSOLICITED_CXL_REASON_OTHER: "Canceled by risk: position limit reached",
}


@dataclass(frozen=True, slots=True)
class _Transition:
    """A scheduled instrument change: a new ``state`` (None: none), and with it a settlement
    price: ``call``, or the day's mark if ``mark``."""

    step: int
    symbol: str
    state: InstrumentState | None
    call: Call | None = None
    mark: bool = False


def _opposite(side: Side) -> Side:
    return Side.SIDE_SELL if side == Side.SIDE_BUY else Side.SIDE_BUY


class MarketModel:
    """Seeded, pure generator of exchange activity. Call :meth:`step` with the current time."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._exchange = Exchange(self._rng)
        self._step_no = 0
        self._transitions: list[_Transition] = []
        self._clearing: list[tuple[int, str, bool]] = []
        self._busts: list[tuple[int, str]] = []
        self._expiry_step = self._rng.randint(400, 900)
        self._market = MarketData(s.symbol for s in SYMBOLS)
        self._settling: list[SettlementOrder] = []

    # ------------------------------------------------------------------------ reference data

    @property
    def symbols(self) -> tuple[SymbolSpec, ...]:
        return SYMBOLS

    @property
    def firms(self) -> tuple[FirmSpec, ...]:
        return FIRMS

    @property
    def accounts(self) -> tuple[AccountSpec, ...]:
        return ACCOUNTS

    def instruments(self) -> list[refdata_pb2.Instrument]:
        """Current Instrument of every symbol (CLOSED before the first step opens the market)."""
        return self._exchange.instruments()

    # ---------------------------------------------------------------------------------- step

    def step(self, now_ns: int, max_executions: int | None = None) -> StepOutput:
        """Advance one tick at ``now_ns`` and return the events it produced.

        The first step opens every instrument and nothing else. Each later step expires
        good-till-time orders that are due, applies scheduled instrument and trade state
        changes, maybe starts a halt, suspension or session close, and runs one piece of order
        flow (which may produce many executions).

        ``max_executions`` caps what this step publishes: whatever would go over is put off to a
        later step (time-driven changes) or replaced by a one-execution order (order flow), so a
        caller can stop at an exact number of executions with every stream consistent.
        """
        self._step_no += 1
        exchange = self._exchange
        exchange.begin_step(now_ns, max_executions)
        self._settling = []
        if self._step_no == 1:
            for spec in SYMBOLS:
                exchange.set_state(spec.symbol, _OPEN)
            return self._with_market_data(exchange.end_step())
        exchange.expire_good_till()
        self._run_transitions()
        self._progress_trades()
        self._maybe_instrument_event()
        self._order_flow()
        if exchange.refused:
            self._one_execution()
        output = exchange.end_step()
        for trade in output.trades:
            if trade.state == enums_pb2.TRADE_STATE_NEW:
                bust = self._rng.randrange(100) < BUST_PERCENT
                self._clearing.append((self._step_no + self._rng.randint(2, 20), trade.id, bust))
        return self._with_market_data(output)

    def _with_market_data(self, output: StepOutput) -> StepOutput:
        """``output`` with the market data its events and the books as they now stand make."""
        exchange = self._exchange
        books = {spec.symbol: self._raw_book(spec.symbol) for spec in SYMBOLS}
        published = self._market.publish(
            instrument_changes=[(c.time_ns, c.instrument.symbol, c.instrument.state)
                                for c in output.instrument_changes],
            trades=output.trades,
            position_changes=output.position_changes,
            settlements=self._settling,
            books=books,
            time_ns=exchange.now_ns,
        )
        return dataclasses.replace(output, market_data=published.updates,
                                   settlements=published.settlements)

    def _raw_book(self, symbol: str) -> RawBook:
        book = self._exchange.book(symbol)
        bids, offers = (tuple((o.price, o.leaves_qty) for o in book.orders(side))
                        for side in (Side.SIDE_BUY, Side.SIDE_SELL))
        return RawBook(bids, offers)

    # ------------------------------------------------------------------- instrument lifecycle

    def _busy(self, symbol: str) -> bool:
        return any(t.symbol == symbol for t in self._transitions)

    def _schedule(self, symbol: str, *changes: tuple[int, InstrumentState]) -> None:
        for delay, state in changes:
            self._transitions.append(_Transition(self._step_no + delay, symbol, state))

    def _schedule_resolution(self, symbol: str) -> None:
        """The event is over: close, settle preliminarily (twice if the first call is changed),
        expire with the final settlement, terminate."""
        spec = SYMBOLS_BY_NAME[symbol]
        *preliminary, final = resolution(spec, self._exchange.reference_price(symbol))
        states = InstrumentState
        now = self._step_no
        transitions = [_Transition(now, symbol, states.INSTRUMENT_STATE_CLOSED, preliminary[0])]
        transitions.extend(_Transition(now + 1, symbol, None, call) for call in preliminary[1:])
        transitions.append(_Transition(now + 3, symbol, states.INSTRUMENT_STATE_EXPIRED, final))
        transitions.append(_Transition(now + 10, symbol, states.INSTRUMENT_STATE_TERMINATED))
        self._transitions.extend(transitions)

    def _run_transitions(self) -> None:
        if self._step_no == self._expiry_step:
            if self._busy(EXPIRING_SYMBOL):
                self._expiry_step += 5
            else:
                self._schedule_resolution(EXPIRING_SYMBOL)
        waiting: list[_Transition] = []
        for transition in self._transitions:
            due = transition.step <= self._step_no
            held_back = any(w.symbol == transition.symbol for w in waiting)
            if not due or held_back or not self._apply(transition):
                waiting.append(transition)
        self._transitions = waiting

    def _apply(self, transition: _Transition) -> bool:
        """Carry out a due transition; False (and nothing) if its executions do not fit."""
        exchange = self._exchange
        symbol = transition.symbol
        if transition.state is None:
            at = exchange.now_ns
        elif exchange.set_state(symbol, transition.state):
            at = exchange.state_since(symbol)
        else:
            return False
        if transition.call is not None or transition.mark:
            self._settling.append(SettlementOrder(symbol, at, transition.call))
        return True

    def _maybe_instrument_event(self) -> None:
        if self._rng.randrange(INSTRUMENT_EVENT_ONE_IN):
            return
        candidates = [
            s.symbol for s in SYMBOLS
            if self._exchange.state(s.symbol) == _OPEN and not self._busy(s.symbol)
        ]
        if not candidates:
            return
        symbol = self._rng.choice(candidates)
        kind = self._rng.choices(("halt", "close", "suspend"), (45, 35, 20))[0]
        states = InstrumentState
        if kind == "halt":
            self._schedule(symbol, (0, states.INSTRUMENT_STATE_HALTED),
                           (self._rng.randint(4, 20), _OPEN))
        elif kind == "suspend":
            self._schedule(symbol, (0, states.INSTRUMENT_STATE_SUSPENDED),
                           (self._rng.randint(10, 30), _OPEN))
        else:
            reopen = self._rng.randint(6, 15)
            self._schedule(symbol, (0, states.INSTRUMENT_STATE_MATCH_AND_CLOSE_AUCTION))
            self._transitions.append(_Transition(self._step_no + 2, symbol,
                                                 states.INSTRUMENT_STATE_CLOSED, mark=True))
            self._schedule(symbol, (reopen, states.INSTRUMENT_STATE_PREOPEN),
                           (reopen + 3, _OPEN))
        self._run_transitions()

    def _progress_trades(self) -> None:
        now = self._step_no
        due = [c for c in self._clearing if c[0] <= now]
        self._clearing = [c for c in self._clearing if c[0] > now]
        for _, trade_id, bust in due:
            self._exchange.clear_trade(trade_id, keep=bust)
            if bust:
                self._busts.append((now + self._rng.randint(3, 30), trade_id))
        busts = [b for b in self._busts if b[0] <= now]
        self._busts = [b for b in self._busts if b[0] > now]
        for due_step, trade_id in busts:
            if not self._exchange.bust_trade(trade_id):
                self._busts.append((due_step, trade_id))  # over the budget: a later step

    # ------------------------------------------------------------------------------ order flow

    def _order_flow(self) -> None:
        exchange = self._exchange
        open_specs = [s for s in SYMBOLS if exchange.state(s.symbol) == _OPEN]
        if not open_specs:
            self._rng.choice((self._reject, self._cancel))(SYMBOLS)
            return
        depth = sum(len(exchange.book(s.symbol)) for s in open_specs) // len(open_specs)
        actions: tuple[tuple[Callable[[Sequence[SymbolSpec]], object], int], ...] = (
            (self._post, 30 + (25 if depth < 6 else 0)),
            (self._take, 26 if depth >= 2 else 6),
            (self._cancel, 8 + (25 if depth > 16 else 0)),
            (self._replace, 7),
            (self._unsolicited_cancel, 2),
            (self._reject, 5),
            (self._stop, 5),
        )
        action = self._rng.choices([a for a, _ in actions], [w for _, w in actions])[0]
        action(open_specs)

    # Helpers that draw the details of an order.

    def _who(self, account: AccountSpec | None = None) -> tuple[AccountSpec, str]:
        account = account or self._rng.choice(ACCOUNTS)
        return account, account.participant(self._rng.choice(account.users))

    def _clord_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _side(self) -> Side:
        return self._rng.choice((Side.SIDE_BUY, Side.SIDE_SELL))

    def _qty(self, spec: SymbolSpec) -> int:
        contracts = self._rng.randint(1, self._rng.choice((10, 50, 250, 1000)))
        qty = contracts * spec.fractional_qty_scale
        if spec.fractional_qty_scale > 1 and self._rng.randrange(10) < 3:
            qty = self._rng.randint(1, qty)
        return min(qty, spec.max_order_qty)

    def _resting_tif(self) -> TimeInForce:
        return self._rng.choices(_RESTING_TIFS, _RESTING_TIF_WEIGHTS)[0]

    def _good_till(self, tif: TimeInForce) -> int:
        if tif != _TIF.TIME_IN_FORCE_GOOD_TILL_TIME:
            return 0
        return self._exchange.now_ns + self._rng.randint(5, 180) * NS_PER_SECOND

    def _band(self, spec: SymbolSpec) -> tuple[int, int]:
        """The accepted price band, on the tick grid."""
        low, high = self._exchange.band(spec)
        return -(-low // spec.tick) * spec.tick, high // spec.tick * spec.tick

    def _passive_price(self, spec: SymbolSpec, side: Side) -> int | None:
        """A price near the reference that rests without trading, or None if there is none."""
        low, high = self._band(spec)
        offset = self._rng.randint(1, 6) * spec.tick
        ref = self._exchange.reference_price(spec.symbol)
        price = ref - offset if side == Side.SIDE_BUY else ref + offset
        best = self._exchange.book(spec.symbol).best(_opposite(side))
        if best is not None:
            if side == Side.SIDE_BUY:
                price = min(price, best.price - spec.tick)
            else:
                price = max(price, best.price + spec.tick)
        price = min(max(price, low), high)
        if best is not None and crosses(side, price, best.price):
            return None
        return price

    def _request(
        self,
        spec: SymbolSpec,
        side: Side,
        order_type: OrderType,
        tif: TimeInForce,
        qty: int,
        price: int,
        *,
        account: AccountSpec | None = None,
        stop_price: int = 0,
        min_qty: int = 0,
        post_only: bool = False,
        trade_type: TradeType = TradeType.TRADE_TYPE_REGULAR,
    ) -> OrderRequest:
        who, participant = self._who(account)
        return OrderRequest(
            spec=spec, account=who, participant=participant, side=side, type=order_type,
            time_in_force=tif, qty=qty, price=price, clord_id=self._clord_id(),
            stop_price=stop_price, min_qty=min_qty, good_till_ns=self._good_till(tif),
            post_only=post_only, manual=self._rng.randrange(20) == 0, trade_type=trade_type,
        )

    # The actions.

    def _post(self, specs: Sequence[SymbolSpec]) -> bool:
        """A passive limit order; now and then a post-only one that would trade (rejected).
        False if no price on either side rests without trading."""
        spec = self._rng.choice(specs)
        side = self._side()
        price = self._passive_price(spec, side)
        if price is None:
            side = _opposite(side)
            price = self._passive_price(spec, side)
            if price is None:
                return False
        post_only = self._rng.randrange(100) < 15
        best = self._exchange.book(spec.symbol).best(_opposite(side))
        if post_only and best is not None and self._rng.randrange(100) < 20:
            price = best.price
        request = self._request(spec, side, OrderType.ORDER_TYPE_LIMIT, self._resting_tif(),
                                self._qty(spec), price, post_only=post_only)
        return self._exchange.submit(request) is not None

    def _take(self, specs: Sequence[SymbolSpec]) -> None:
        """An order that trades against the book: limit, IOC (some with a minimum quantity),
        FOK or market-to-limit, sized below, around or beyond the liquidity it can reach."""
        exchange = self._exchange
        candidates = [
            (spec, side) for spec in specs for side in (Side.SIDE_BUY, Side.SIDE_SELL)
            if exchange.book(spec.symbol).best(_opposite(side)) is not None
        ]
        if not candidates:
            spec = self._rng.choice(specs)
            exchange.submit(self._request(spec, self._side(), OrderType.ORDER_TYPE_MARKET_TO_LIMIT,
                                          _TIF.TIME_IN_FORCE_DAY, self._qty(spec), 0))
            return
        spec, side = self._rng.choice(candidates)
        resting = exchange.book(spec.symbol).orders(_opposite(side))
        low, high = self._band(spec)
        through = self._rng.randint(0, 2) * spec.tick
        best = resting[0].price
        limit = min(best + through, high) if side == Side.SIDE_BUY else max(best - through, low)
        reachable = sum(o.leaves_qty for o in resting if crosses(side, limit, o.price))
        size = self._rng.randrange(10)
        if size < 4:
            qty = self._rng.randint(1, max(1, resting[0].leaves_qty))
        elif size < 8:
            qty = self._rng.randint(1, max(1, reachable))
        else:
            qty = reachable + self._rng.randint(1, max(1, reachable // 2))
        qty = min(qty, spec.max_order_qty)
        variant = self._rng.choices(("limit", "ioc", "fok", "mtl"), (35, 25, 15, 25))[0]
        order_type = OrderType.ORDER_TYPE_LIMIT
        min_qty = 0
        if variant == "limit":
            tif = self._resting_tif()
        elif variant == "ioc":
            tif = _TIF.TIME_IN_FORCE_IMMEDIATE_OR_CANCEL
            if self._rng.randrange(100) < 35:
                min_qty = self._rng.randint(1, qty)
        elif variant == "fok":
            tif = _TIF.TIME_IN_FORCE_FILL_OR_KILL
        else:
            order_type = OrderType.ORDER_TYPE_MARKET_TO_LIMIT
            limit = 0
            tif = self._rng.choice((*_RESTING_TIFS, _TIF.TIME_IN_FORCE_IMMEDIATE_OR_CANCEL))
        trade_type = self._rng.choices(_TRADE_TYPES, _TRADE_TYPE_WEIGHTS)[0]
        exchange.submit(self._request(spec, side, order_type, tif, qty, limit,
                                      min_qty=min_qty, trade_type=trade_type))

    def _stop(self, specs: Sequence[SymbolSpec]) -> None:
        """A stop or stop-limit order a few ticks away from the last trade price."""
        spec = self._rng.choice(specs)
        side = self._side()
        low, high = self._band(spec)
        last = self._exchange.reference_price(spec.symbol)
        away = self._rng.randint(1, 4) * spec.tick
        stop = last + away if side == Side.SIDE_BUY else last - away
        stop = min(max(stop, spec.min_price + spec.tick), spec.max_price - spec.tick)
        if self._rng.randrange(2):
            order_type, price = OrderType.ORDER_TYPE_STOP, 0
        else:
            order_type = OrderType.ORDER_TYPE_STOP_LIMIT
            slack = self._rng.randint(0, 3) * spec.tick
            price = min(max(stop + slack if side == Side.SIDE_BUY else stop - slack, low), high)
        self._exchange.submit(self._request(spec, side, order_type, self._resting_tif(),
                                            self._qty(spec), price, stop_price=stop))

    def _one_execution(self) -> None:
        """Stand-in when the chosen flow did not fit the budget: a passive order (one NEW) or,
        if no book takes one, a rejected one (one REJECTED)."""
        open_specs = [s for s in SYMBOLS if self._exchange.state(s.symbol) == _OPEN]
        if open_specs and self._post(open_specs):
            return
        request = self._oversized(SYMBOLS)
        if request is not None:
            self._exchange.submit(request)

    def _cancel(self, specs: Sequence[SymbolSpec]) -> None:
        """The participant cancels one of its open orders."""
        orders = self._exchange.open_orders()
        if orders:
            self._exchange.cancel(self._rng.choice(orders), self._clord_id())

    def _replace(self, specs: Sequence[SymbolSpec]) -> None:
        """The participant changes the quantity and/or price of a resting order."""
        open_symbols = {s.symbol for s in specs}
        orders = [
            o for o in self._exchange.open_orders()
            if o.symbol in open_symbols and (not o.is_stop or o.triggered)
        ]
        if not orders:
            self._post(specs)
            return
        order = self._rng.choice(orders)
        spec = order.spec
        leaves = self._rng.randint(1, max(2, 2 * order.leaves_qty))
        qty = min(order.cum_qty + leaves, spec.max_order_qty)
        price = order.price
        if self._rng.randrange(2):
            price = self._passive_price(spec, order.side) or order.price
        if qty == order.order_qty and price == order.price:
            qty = qty - 1 if qty - 1 > order.cum_qty else qty + 1
        if qty > spec.max_order_qty or qty <= order.cum_qty:
            return
        self._exchange.replace(order, qty, price, self._clord_id())

    def _unsolicited_cancel(self, specs: Sequence[SymbolSpec]) -> None:
        """The exchange cancels: a DAY order's session dropped (every DAY order of that user
        goes), or operations or risk pulled one order."""
        orders = self._exchange.open_orders()
        if not orders:
            return
        order = self._rng.choice(orders)
        if order.time_in_force == _TIF.TIME_IN_FORCE_DAY and self._rng.randrange(2):
            reason = self._rng.choice((CancelReason.UNSOLICITED_CXL_REASON_CONNECTION_LOSS,
                                       CancelReason.UNSOLICITED_CXL_REASON_LOGOUT))
            victims = [o for o in orders if o.participant == order.participant
                       and o.time_in_force == _TIF.TIME_IN_FORCE_DAY]
        else:
            reason = self._rng.choice((CancelReason.UNSOLICITED_CXL_REASON_EXCHANGE_OPTION,
                                       CancelReason.UNSOLICITED_CXL_REASON_OTHER))
            victims = [order]
        self._exchange.cancel_unsolicited(victims, reason, _UNSOLICITED_TEXT[reason])

    def _reject(self, specs: Sequence[SymbolSpec]) -> None:
        """A new order that breaks one of the exchange's rules (the exchange rejects it)."""
        kinds: dict[str, Callable[[Sequence[SymbolSpec]], OrderRequest | None]] = {
            "band": self._outside_band,
            "size": self._oversized,
            "tick": self._off_tick,
            "buying_power": self._unaffordable,
            "closed": self._closed_book,
            "duplicate": self._duplicate_clord_id,
            "stop_ioc": self._immediate_stop,
        }
        kind = self._rng.choices(list(kinds), (3, 2, 2, 2, 2, 1, 1))[0]
        request = kinds[kind](specs) or self._oversized(specs)
        if request is not None:
            self._exchange.submit(request)

    def _limit(self, spec: SymbolSpec, side: Side, qty: int, price: int,
               account: AccountSpec | None = None) -> OrderRequest:
        return self._request(spec, side, OrderType.ORDER_TYPE_LIMIT, self._resting_tif(), qty,
                             price, account=account)

    def _outside_band(self, specs: Sequence[SymbolSpec]) -> OrderRequest | None:
        spec = self._rng.choice(specs)
        low, high = self._band(spec)
        if low - spec.tick >= spec.min_price:
            return self._limit(spec, Side.SIDE_BUY, self._qty(spec), low - spec.tick)
        if high + spec.tick <= spec.max_price:
            return self._limit(spec, Side.SIDE_SELL, self._qty(spec), high + spec.tick)
        return None

    def _oversized(self, specs: Sequence[SymbolSpec]) -> OrderRequest | None:
        spec = self._rng.choice(specs)
        side = self._side()
        price = self._exchange.reference_price(spec.symbol)
        if self._rng.randrange(4) == 0:
            return self._limit(spec, side, 0, price)
        extra = self._rng.randint(1, max(1, spec.max_order_qty // 10))
        return self._limit(spec, side, spec.max_order_qty + extra, price)

    def _off_tick(self, specs: Sequence[SymbolSpec]) -> OrderRequest | None:
        coarse = [s for s in specs if s.tick > 1]
        if not coarse:
            return None
        spec = self._rng.choice(coarse)
        side = self._side()
        price = self._passive_price(spec, side)
        if price is None:
            return None
        return self._limit(spec, side, self._qty(spec), price + self._rng.randint(1, spec.tick - 1))

    def _unaffordable(self, specs: Sequence[SymbolSpec]) -> OrderRequest | None:
        account = min(ACCOUNTS, key=lambda a: a.buying_power_usd)
        spec = self._rng.choice(specs)
        side = self._side()
        price = self._passive_price(spec, side)
        if price is None:
            return None
        per_contract = price if side == Side.SIDE_BUY else spec.price_scale - price
        budget = account.buying_power_usd * spec.price_scale * spec.fractional_qty_scale
        qty = budget // per_contract + self._rng.randint(1, 50 * spec.fractional_qty_scale)
        return self._limit(spec, side, qty, price, account)

    def _closed_book(self, specs: Sequence[SymbolSpec]) -> OrderRequest | None:
        closed = [s for s in SYMBOLS if self._exchange.state(s.symbol) != _OPEN]
        paused = [s for s in closed if self._exchange.state(s.symbol) not in _FINAL_STATES]
        if paused and self._rng.randrange(5):
            closed = paused
        if not closed:
            return None
        spec = self._rng.choice(closed)
        price = self._exchange.reference_price(spec.symbol)
        tif = self._rng.choice((_TIF.TIME_IN_FORCE_DAY, _TIF.TIME_IN_FORCE_IMMEDIATE_OR_CANCEL))
        return self._request(spec, self._side(), OrderType.ORDER_TYPE_LIMIT, tif,
                             self._qty(spec), price)

    def _duplicate_clord_id(self, specs: Sequence[SymbolSpec]) -> OrderRequest | None:
        orders = [o for o in self._exchange.open_orders() if o.spec in specs]
        if not orders:
            return None
        taken: SimOrder = self._rng.choice(orders)
        price = self._passive_price(taken.spec, taken.side)
        if price is None:
            return None
        return OrderRequest(
            spec=taken.spec, account=taken.account, participant=taken.participant,
            side=taken.side, type=OrderType.ORDER_TYPE_LIMIT,
            time_in_force=_TIF.TIME_IN_FORCE_GOOD_TILL_CANCEL, qty=self._qty(taken.spec),
            price=price, clord_id=taken.clord_id,
        )

    def _immediate_stop(self, specs: Sequence[SymbolSpec]) -> OrderRequest | None:
        spec = self._rng.choice(specs)
        side = self._side()
        last = self._exchange.reference_price(spec.symbol)
        stop = last + spec.tick if side == Side.SIDE_BUY else last - spec.tick
        tif = self._rng.choice((_TIF.TIME_IN_FORCE_IMMEDIATE_OR_CANCEL,
                                _TIF.TIME_IN_FORCE_FILL_OR_KILL))
        return self._request(spec, side, OrderType.ORDER_TYPE_STOP, tif, self._qty(spec), 0,
                             stop_price=stop)
