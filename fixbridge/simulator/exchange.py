"""The simulated matching engine: it applies order instructions and publishes what happened.

The engine owns the exchange's rules (validation and reject texts, price-time matching,
self-match prevention, fill-or-kill, immediate-or-cancel, minimum quantity, market-to-limit,
stop triggers, good-till-time expiry, done-for-day at the close, instrument expiry, trade
clearing and busts, positions) and turns every change into the messages of the four DropCopy
streams, collected per step in a :class:`StepOutput`.

It decides nothing by chance: which orders arrive and when is the market model's job. The only
randomness it uses is the random.Random it is given, for ids. It never reads a clock (the step's
instant is passed to :meth:`Exchange.begin_step`), sleeps or does I/O.

Execution budget: a step may be given a maximum number of executions. Every instruction knows
what it will publish before it publishes anything, and one that would go over the budget is
refused whole (it publishes nothing and leaves every order, book, trade and position as it
was), so a capped run ends on exactly its cap with every stream still consistent. Parked
stops that a trade reaches but that do not fit stay parked.

Busts (FIX Order State Change Matrices, section J, "Execution corrections and cancellations"):
a busted trade is re-sent as BUSTED, taken back out of both positions, and taken back out of
both orders: each order's CumQty, filled notional, price-to-quantity map and collected
commission drop by the busted fill, so AvgPx is recomputed over the fills that remain. Then,
per order:

* still working (NEW, PARTIALLY_FILLED, REPLACED): its LeavesQty simply grows back
  (``order_qty - cum_qty``); it keeps its place in the book, and a PARTIALLY_FILLED order with
  nothing left filled is NEW again;
* CANCELED or EXPIRED (done-for-day included): it stays so, with no leaves;
* FILLED: it is reinstated, PARTIALLY_FILLED (NEW if nothing is left filled), and goes back on
  its book at the back of its price level if it can rest: time in force DAY, GTC, or GTD whose
  time has not come, and its instrument OPEN or PREOPEN. If it cannot rest (IOC, FOK, a book
  in any other state, a GTD past its time) the exchange expires the reinstated quantity at once
  with an EXPIRED execution.

The bust itself publishes no execution: the orders' next executions carry the reduced CumQty.
Only the EXPIRED executions count against the step's budget; a bust whose expiries do not fit
is refused whole. A reinstated order is not matched again when it goes back on the book (that
would trade the busted trade anew), so a reinstated order may leave its book crossed until an
incoming order or a cancel takes it out.

Timestamps: each event gets its own instant, 1 microsecond after the previous one, or the step's
``now_ns`` if that is later; both sides of a fill, their trade and their position changes share
one instant. So times never decrease along any stream except trades re-sent with a new state,
which keep the time of their aggressor execution.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from fixbridge.proto.polymarket.v1 import (
    dropcopy_pb2,
    enums_pb2,
    marketdatasubscription_pb2,
    orders_pb2,
    refdata_pb2,
    trading_pb2,
)
from fixbridge.simulator.amounts import amount_text
from fixbridge.simulator.book import Book, CancelResting, Fill, Plan, StopAggressor
from fixbridge.simulator.ids import ExchangeIds
from fixbridge.simulator.marketdata import SettlementChange
from fixbridge.simulator.orders import SimOrder, fee_for
from fixbridge.simulator.positions import PositionBook
from fixbridge.simulator.refdata import (
    SYMBOLS,
    SYMBOLS_BY_NAME,
    AccountSpec,
    SymbolSpec,
    instrument_message,
)
from fixbridge.simulator.times import NS_PER_MICROSECOND, to_timestamp, trade_date

ExecType = enums_pb2.ExecutionType
OrderType = enums_pb2.OrderType
OrderState = enums_pb2.OrderState
Reject = enums_pb2.OrdRejectReason
Side = enums_pb2.Side
InstrumentState = enums_pb2.InstrumentState
TimeInForce = enums_pb2.TimeInForce
TradeState = enums_pb2.TradeState
TradeType = enums_pb2.TradeType
CancelReason = enums_pb2.UnsolicitedCxlReason

SMP_TEXT = "Self Match Prevention"
POST_ONLY_TEXT = "Order may participate but not initiate in the market"
NO_LIQUIDITY_TEXT = "No liquidity to derive limit price"
DUPLICATE_CLORD_TEXT = "ClOrdID already in use by an open order"
BUST_TEXT = "Trade busted by exchange operations"
REINSTATED_EXPIRY_TEXT = "Quantity reinstated by a trade bust cannot rest"

_IMMEDIATE = (TimeInForce.TIME_IN_FORCE_IMMEDIATE_OR_CANCEL, TimeInForce.TIME_IN_FORCE_FILL_OR_KILL)

_CLOSED_BOOK_TEXT: dict[InstrumentState, str] = {
    InstrumentState.INSTRUMENT_STATE_CLOSED: "Book is CLOSED",
    InstrumentState.INSTRUMENT_STATE_SUSPENDED: "Book is SUSPENDED",
    InstrumentState.INSTRUMENT_STATE_HALTED: "Book is HALTED",
    InstrumentState.INSTRUMENT_STATE_EXPIRED: "Book is EXPIRED",
    InstrumentState.INSTRUMENT_STATE_TERMINATED: "Book is TERMINATED",
    InstrumentState.INSTRUMENT_STATE_PREOPEN:
        "Order has attributes that cannot be placed in PRE_OPEN",
    InstrumentState.INSTRUMENT_STATE_MATCH_AND_CLOSE_AUCTION:
        "Order has attributes that cannot be placed in MATCH_AND_CLOSE_AUCTION",
}

_FILL_STATES = (OrderState.ORDER_STATE_PARTIALLY_FILLED, OrderState.ORDER_STATE_FILLED)
_RESTING_TIFS = (TimeInForce.TIME_IN_FORCE_DAY, TimeInForce.TIME_IN_FORCE_GOOD_TILL_CANCEL,
                 TimeInForce.TIME_IN_FORCE_GOOD_TILL_TIME)
_RESTING_BOOK_STATES = (InstrumentState.INSTRUMENT_STATE_OPEN,
                        InstrumentState.INSTRUMENT_STATE_PREOPEN)


@dataclass(frozen=True, slots=True)
class InstrumentChange:
    """An instrument state change and the instant it happened. The contract's Instrument has no
    time field (spec section 4.6), so the instant travels beside the message, into the log."""

    time_ns: int
    instrument: refdata_pb2.Instrument


@dataclass(frozen=True, slots=True)
class StepOutput:
    """New events of one step, per stream, in the order they happened. The market model adds
    the step's market data (the engine itself publishes none)."""

    executions: tuple[trading_pb2.Execution, ...]
    trades: tuple[orders_pb2.Trade, ...]
    instrument_changes: tuple[InstrumentChange, ...]
    position_changes: tuple[dropcopy_pb2.PositionChange, ...]
    market_data: tuple[marketdatasubscription_pb2.MarketDataUpdate, ...] = ()
    settlements: tuple[SettlementChange, ...] = ()
    """Settlement prices set in this step; each is also shown by an update in market_data."""

    @property
    def instruments(self) -> tuple[refdata_pb2.Instrument, ...]:
        """The Instrument messages of :attr:`instrument_changes`, as the stream sends them."""
        return tuple(change.instrument for change in self.instrument_changes)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A new order as a participant sends it. ``price`` 0 for market-to-limit and stop orders."""

    spec: SymbolSpec
    account: AccountSpec
    participant: str
    side: Side
    type: OrderType
    time_in_force: TimeInForce
    qty: int
    price: int
    clord_id: str
    stop_price: int = 0
    min_qty: int = 0
    good_till_ns: int = 0
    post_only: bool = False
    manual: bool = False
    trade_type: TradeType = TradeType.TRADE_TYPE_REGULAR


@dataclass(frozen=True, slots=True)
class _BookedTrade:
    """A trade that may still be busted: its message and the two orders that made it."""

    message: orders_pb2.Trade
    aggressor: SimOrder
    passive: SimOrder


@dataclass(slots=True)
class _Outbox:
    executions: list[trading_pb2.Execution] = field(default_factory=list)
    trades: list[orders_pb2.Trade] = field(default_factory=list)
    instrument_changes: list[InstrumentChange] = field(default_factory=list)
    position_changes: list[dropcopy_pb2.PositionChange] = field(default_factory=list)

    def freeze(self) -> StepOutput:
        return StepOutput(
            tuple(self.executions),
            tuple(self.trades),
            tuple(self.instrument_changes),
            tuple(self.position_changes),
        )


def _opposite(side: Side) -> Side:
    return Side.SIDE_SELL if side == Side.SIDE_BUY else Side.SIDE_BUY


def _price_text(value: int, spec: SymbolSpec) -> str:
    return amount_text(value, spec.price_scale)


def _qty_text(value: int, spec: SymbolSpec) -> str:
    return amount_text(value, spec.fractional_qty_scale)


class Exchange:
    """Books, orders, instrument states, trades and positions of the whole simulated exchange."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._ids = ExchangeIds(rng)
        self._clock_ns = 0
        self._priority = 0
        self._books: dict[str, Book] = {s.symbol: Book() for s in SYMBOLS}
        self._parked: dict[str, list[SimOrder]] = {s.symbol: [] for s in SYMBOLS}
        self._open: dict[str, SimOrder] = {}
        self._states: dict[str, InstrumentState] = {
            s.symbol: InstrumentState.INSTRUMENT_STATE_CLOSED for s in SYMBOLS
        }
        self._state_ns: dict[str, int] = {s.symbol: 0 for s in SYMBOLS}
        self._reference: dict[str, int] = {s.symbol: s.reference_price for s in SYMBOLS}
        self._trades: dict[str, _BookedTrade] = {}
        self._positions = PositionBook()
        self._out = _Outbox()
        self._budget: int | None = None
        self.refused = False
        """Whether an instruction of this step was refused because it did not fit the budget."""

    # ----------------------------------------------------------------- step framing and queries

    def begin_step(self, now_ns: int, max_executions: int | None = None) -> None:
        """Start collecting a step's events; time moves to ``now_ns`` unless already past it.
        With ``max_executions``, the step publishes at most that many executions."""
        self._clock_ns = max(self._clock_ns, now_ns)
        self._out = _Outbox()
        self._budget = max_executions
        self.refused = False

    def fits(self, executions: int) -> bool:
        """Whether this step can still publish ``executions`` more executions."""
        if self._budget is None or len(self._out.executions) + executions <= self._budget:
            return True
        self.refused = True
        return False

    def end_step(self) -> StepOutput:
        return self._out.freeze()

    @property
    def now_ns(self) -> int:
        """The instant the next event will get."""
        return self._clock_ns

    def state(self, symbol: str) -> InstrumentState:
        return self._states[symbol]

    def state_since(self, symbol: str) -> int:
        """The instant ``symbol`` entered its current state (0: never changed)."""
        return self._state_ns[symbol]

    def book(self, symbol: str) -> Book:
        """The live book; read it, never change it from outside."""
        return self._books[symbol]

    def open_orders(self) -> list[SimOrder]:
        """Every order that can still trade or be canceled, oldest first."""
        return list(self._open.values())

    def reference_price(self, symbol: str) -> int:
        """Last trade price, or the starting price before the first trade."""
        return self._reference[symbol]

    def band(self, spec: SymbolSpec) -> tuple[int, int]:
        """Lowest and highest price accepted now: the reference price +/- the price band."""
        ref = self._reference[spec.symbol]
        low = max(spec.min_price, ref - spec.price_band)
        return low, min(spec.max_price, ref + spec.price_band)

    def instruments(self) -> list[refdata_pb2.Instrument]:
        """Every symbol's current Instrument, as a state-stream snapshot shows it."""
        return [
            instrument_message(s, self._states[s.symbol], self._state_ns[s.symbol])
            for s in SYMBOLS
        ]

    def _instant(self) -> int:
        now = self._clock_ns
        self._clock_ns += NS_PER_MICROSECOND
        return now

    # ------------------------------------------------------------------------------ new orders

    def submit(self, request: OrderRequest) -> SimOrder | None:
        """Accept or reject a new order, then match, rest, park or expire it.
        None if what it would publish does not fit the step's budget."""
        at = self._instant()
        order = SimOrder(
            id=self._ids.next_id(),
            spec=request.spec,
            account=request.account,
            participant=request.participant,
            side=request.side,
            type=request.type,
            time_in_force=request.time_in_force,
            order_qty=request.qty,
            price=request.price,
            clord_id=request.clord_id,
            create_ns=at,
            stop_price=request.stop_price,
            min_qty=request.min_qty,
            good_till_ns=request.good_till_ns,
            post_only=request.post_only,
            manual=request.manual,
        )
        problem = self._validate(order)
        if problem is not None:
            if not self.fits(1):
                return None
            reason, text = problem
            self._finish(order, OrderState.ORDER_STATE_REJECTED, ExecType.EXECUTION_TYPE_REJECTED,
                         at, text=text, reject_reason=reason)
            return order
        if order.is_stop:
            if not self.fits(1):
                return None
            self._acknowledge(order, at)
            self._parked[order.symbol].append(order)
            return order
        if order.type == OrderType.ORDER_TYPE_MARKET_TO_LIMIT:
            best = self._books[order.symbol].best(_opposite(order.side))
            limit = best.price if best is not None else 0
        else:
            limit = order.price
        plan = self._books[order.symbol].plan(order, limit)
        smp_reject = bool(plan.steps) and isinstance(plan.steps[0], StopAggressor)
        cannot_execute = self._cannot_execute(order, plan)
        if smp_reject:
            cost = 1
        elif cannot_execute:
            cost = 2
        else:
            cost = 1 + _plan_cost(order, plan)
        if not self.fits(cost):
            return None
        if smp_reject:
            self._finish(order, OrderState.ORDER_STATE_REJECTED, ExecType.EXECUTION_TYPE_REJECTED,
                         at, text=SMP_TEXT, reject_reason=Reject.ORD_REJECT_REASON_EXCHANGE_OPTION)
            return order
        self._acknowledge(order, at)
        if cannot_execute:
            self._finish(order, OrderState.ORDER_STATE_EXPIRED, ExecType.EXECUTION_TYPE_EXPIRED,
                         self._instant())
            return order
        self._aggress(order, limit, plan, request.trade_type)
        return order

    def _validate(self, order: SimOrder) -> tuple[Reject, str] | None:
        """The first exchange rule the new order breaks, as (OrdRejectReason, text)."""
        spec = order.spec
        state = self._states[order.symbol]
        if state != InstrumentState.INSTRUMENT_STATE_OPEN:
            return Reject.ORD_REJECT_REASON_EXCHANGE_CLOSED, _CLOSED_BOOK_TEXT[state]
        if order.is_stop and order.time_in_force in _IMMEDIATE:
            tif = TimeInForce.Name(order.time_in_force).removeprefix("TIME_IN_FORCE_")
            return (Reject.ORD_REJECT_REASON_INCORRECT_ORDER_TYPE,
                    f"Stop orders cannot be {tif}")
        if order.order_qty < spec.minimum_trade_qty:
            return (Reject.ORD_REJECT_REASON_INCORRECT_QUANTITY,
                    f"Low order size limit is {_qty_text(spec.minimum_trade_qty, spec)}, "
                    f"given {_qty_text(order.order_qty, spec)}")
        if order.order_qty > spec.max_order_qty:
            return (Reject.ORD_REJECT_REASON_INCORRECT_QUANTITY,
                    f"High order size limit is {_qty_text(spec.max_order_qty, spec)}, "
                    f"given {_qty_text(order.order_qty, spec)}")
        for price in (order.price, order.stop_price):
            if price and price % spec.tick:
                return (Reject.ORD_REJECT_REASON_INVALID_PRICE_INCREMENT,
                        f"Price {_price_text(price, spec)} is not a multiple of the tick size "
                        f"{_price_text(spec.tick, spec)}")
        low, high = self.band(spec)
        if order.price and order.price < low:
            return (Reject.ORD_REJECT_REASON_PRICE_OUT_OF_BOUNDS,
                    f"Low price limit is {_price_text(low, spec)}, "
                    f"given {_price_text(order.price, spec)}")
        if order.price > high:
            return (Reject.ORD_REJECT_REASON_PRICE_OUT_OF_BOUNDS,
                    f"High price limit is {_price_text(high, spec)}, "
                    f"given {_price_text(order.price, spec)}")
        if any(o.clord_id == order.clord_id for o in self._open.values()):
            return Reject.ORD_REJECT_REASON_EXCHANGE_OPTION, DUPLICATE_CLORD_TEXT
        available = order.account.buying_power_usd
        required = self._collateral(order)
        notional_scale = spec.price_scale * spec.fractional_qty_scale
        if required > available * notional_scale:
            return (Reject.ORD_REJECT_REASON_EXCHANGE_OPTION,
                    f"{available} USD available, requested "
                    f"{amount_text(required, notional_scale)}")
        opposite = self._books[order.symbol].best(_opposite(order.side))
        if order.type == OrderType.ORDER_TYPE_MARKET_TO_LIMIT and opposite is None:
            return Reject.ORD_REJECT_REASON_NO_LIQUIDITY, NO_LIQUIDITY_TEXT
        if order.post_only and opposite is not None and self._crosses(order, opposite.price):
            return Reject.ORD_REJECT_REASON_EXCHANGE_OPTION, POST_ONLY_TEXT
        return None

    @staticmethod
    def _collateral(order: SimOrder) -> int:
        """What the order can lose, in notional units (1/(price_scale * fractional_qty_scale)
        dollars): price per contract bought, 1 - price per contract sold. Orders with no price
        yet are valued at the top of the price range."""
        spec = order.spec
        price = order.price or order.stop_price or spec.max_price
        per_contract = price if order.side == Side.SIDE_BUY else spec.price_scale - price
        return per_contract * order.order_qty

    @staticmethod
    def _crosses(order: SimOrder, price: int) -> bool:
        return price <= order.price if order.side == Side.SIDE_BUY else price >= order.price

    @staticmethod
    def _cannot_execute(order: SimOrder, plan: Plan) -> bool:
        """Fill-or-kill that cannot fill whole, or an order whose minimum quantity is not met."""
        if order.time_in_force == TimeInForce.TIME_IN_FORCE_FILL_OR_KILL:
            return plan.stopped or plan.fill_qty < order.leaves_qty
        return order.min_qty > 0 and plan.fill_qty < order.min_qty

    def _aggress(
        self, order: SimOrder, limit: int, plan: Plan, trade_type: TradeType
    ) -> None:
        """Apply an accepted plan, then rest, expire or drop what is left of the aggressor."""
        if order.type in (OrderType.ORDER_TYPE_MARKET_TO_LIMIT, OrderType.ORDER_TYPE_STOP):
            order.price = limit
        link_id = self._ids.next_id() if plan.fill_qty else ""
        traded = False
        for step in plan.steps:
            if isinstance(step, Fill):
                self._trade(order, step.resting, step.qty, trade_type, link_id)
                traded = True
            elif isinstance(step, CancelResting):
                self._finish(step.resting, OrderState.ORDER_STATE_CANCELED,
                             ExecType.EXECUTION_TYPE_CANCELED, self._instant(), text=SMP_TEXT,
                             cancel_reason=CancelReason.UNSOLICITED_CXL_REASON_OTHER)
            else:
                self._finish(order, OrderState.ORDER_STATE_CANCELED,
                             ExecType.EXECUTION_TYPE_CANCELED, self._instant(), text=SMP_TEXT,
                             cancel_reason=CancelReason.UNSOLICITED_CXL_REASON_OTHER)
        if not order.is_terminal:
            if order.time_in_force == TimeInForce.TIME_IN_FORCE_IMMEDIATE_OR_CANCEL:
                self._finish(order, OrderState.ORDER_STATE_EXPIRED,
                             ExecType.EXECUTION_TYPE_EXPIRED, self._instant())
            else:
                self._rest(order)
        if traded:
            self._trigger_stops(order.symbol)

    def _rest(self, order: SimOrder) -> None:
        self._priority += 1
        order.priority = self._priority
        self._books[order.symbol].add(order)

    def _trade(
        self,
        aggressor: SimOrder,
        resting: SimOrder,
        qty: int,
        trade_type: TradeType,
        link_id: str,
    ) -> None:
        at = self._instant()
        px = resting.price
        notional = qty * px
        trade_id = self._ids.next_id()
        taker_fee = fee_for(notional, aggressor.account.taker_bps)
        maker_fee = fee_for(notional, resting.account.maker_bps)
        aggressor.fill(qty, px, taker_fee, trade_id, at)
        resting.fill(qty, px, maker_fee, trade_id, at)
        if resting.is_terminal:
            self._books[resting.symbol].remove(resting)
            del self._open[resting.id]
        if aggressor.is_terminal:
            self._open.pop(aggressor.id, None)
        taker = self._execution(aggressor, _fill_type(aggressor), at, last_shares=qty, last_px=px,
                                trade_id=trade_id, aggressor=True, fee=taker_fee)
        maker = self._execution(resting, _fill_type(resting), at, last_shares=qty, last_px=px,
                                trade_id=trade_id, aggressor=False, fee=maker_fee)
        trade = orders_pb2.Trade(
            id=trade_id,
            aggressor=taker,
            passive=maker,
            trade_type=trade_type,
            state=TradeState.TRADE_STATE_NEW,
            reporting_counterparty=aggressor.side,
            trade_link_id=link_id,
        )
        self._trades[trade_id] = _BookedTrade(trade, aggressor, resting)
        self._out.trades.append(trade)
        for order in (aggressor, resting):
            self._out.position_changes.append(
                self._positions.fill(order.account.name, order.symbol, order.side, qty, px, at)
            )
        self._reference[aggressor.symbol] = px

    def _trigger_stops(self, symbol: str) -> None:
        """Release parked stops the last trade price has reached; their fills may trigger more.
        A triggered STOP trades like market-to-limit, a STOP_LIMIT like a limit order."""
        for _ in range(len(self._parked[symbol]) + 1):
            last = self._reference[symbol]
            due = [o for o in self._parked[symbol] if _stop_reached(o, last)]
            if not due:
                return
            order = due[0]
            if order.type == OrderType.ORDER_TYPE_STOP:
                best = self._books[symbol].best(_opposite(order.side))
                if best is None:
                    if not self.fits(1):
                        return
                    order.triggered = True
                    self._finish(order, OrderState.ORDER_STATE_CANCELED,
                                 ExecType.EXECUTION_TYPE_CANCELED, self._instant(),
                                 text=NO_LIQUIDITY_TEXT,
                                 cancel_reason=CancelReason.UNSOLICITED_CXL_REASON_EXCHANGE_OPTION)
                    continue
                limit = best.price
            else:
                limit = order.price
            plan = self._books[symbol].plan(order, limit)
            if not self.fits(_plan_cost(order, plan)):
                return
            self._parked[symbol].remove(order)
            order.triggered = True
            self._aggress(order, limit, plan, TradeType.TRADE_TYPE_REGULAR)

    # ------------------------------------------------------------------ changes to open orders

    def cancel(self, order: SimOrder, clord_id: str) -> bool:
        """The participant cancels: the cancel request's ClOrdID becomes the order's.
        False if it does not fit the step's budget."""
        if not self.fits(1):
            return False
        order.clord_id = clord_id
        self._finish(order, OrderState.ORDER_STATE_CANCELED, ExecType.EXECUTION_TYPE_CANCELED,
                     self._instant())
        return True

    def cancel_unsolicited(
        self, orders: list[SimOrder], reason: CancelReason, text: str
    ) -> bool:
        """The exchange cancels these orders together; False (and nothing) if they do not fit."""
        if not self.fits(len(orders)):
            return False
        for order in orders:
            self._finish(order, OrderState.ORDER_STATE_CANCELED, ExecType.EXECUTION_TYPE_CANCELED,
                         self._instant(), text=text, cancel_reason=reason)
        return True

    def replace(self, order: SimOrder, qty: int, price: int, clord_id: str) -> bool:
        """Change a resting order's quantity and/or price. A price change or a larger quantity
        loses time priority. The new quantity must exceed what has already filled.
        False if it does not fit the step's budget."""
        if order.is_terminal or (order.is_stop and not order.triggered):
            raise ValueError(f"order {order.id} is not resting in the book")
        if qty <= order.cum_qty:
            raise ValueError(f"order {order.id}: new quantity {qty} <= filled {order.cum_qty}")
        if not self.fits(1):
            return False
        book = self._books[order.symbol]
        loses_priority = price != order.price or qty > order.order_qty
        book.remove(order)
        order.order_qty = qty
        order.price = price
        order.clord_id = clord_id
        order.state = OrderState.ORDER_STATE_REPLACED
        if loses_priority:
            self._priority += 1
            order.priority = self._priority
        book.add(order)
        self._execution(order, ExecType.EXECUTION_TYPE_REPLACE, self._instant())
        return True

    def expire_good_till(self) -> None:
        """Expire every good-till-time order whose time has come (as many as the budget allows;
        the rest expire in a later step)."""
        now = self._clock_ns
        for order in [o for o in self._open.values() if o.good_till_ns and o.good_till_ns <= now]:
            if not self.fits(1):
                return
            self._finish(order, OrderState.ORDER_STATE_EXPIRED, ExecType.EXECUTION_TYPE_EXPIRED,
                         self._instant())

    # ------------------------------------------------------------------------ instrument states

    def set_state(self, symbol: str, state: InstrumentState) -> bool:
        """Publish a state change. CLOSED ends the day of DAY orders (DONE_FOR_DAY); EXPIRED
        expires every open order and marks positions expired. False (and nothing changes) if
        the executions that follows do not fit the step's budget."""
        orders = [o for o in self._open.values() if o.symbol == symbol]
        if state == InstrumentState.INSTRUMENT_STATE_CLOSED:
            orders = [o for o in orders if o.time_in_force == TimeInForce.TIME_IN_FORCE_DAY]
        elif state != InstrumentState.INSTRUMENT_STATE_EXPIRED:
            orders = []
        if not self.fits(len(orders)):
            return False
        at = self._instant()
        self._states[symbol] = state
        self._state_ns[symbol] = at
        self._out.instrument_changes.append(
            InstrumentChange(at, instrument_message(SYMBOLS_BY_NAME[symbol], state, at)))
        if state == InstrumentState.INSTRUMENT_STATE_CLOSED:
            for order in orders:
                self._finish(order, OrderState.ORDER_STATE_EXPIRED,
                             ExecType.EXECUTION_TYPE_DONE_FOR_DAY, self._instant())
        elif state == InstrumentState.INSTRUMENT_STATE_EXPIRED:
            for order in orders:
                self._finish(order, OrderState.ORDER_STATE_EXPIRED,
                             ExecType.EXECUTION_TYPE_EXPIRED, self._instant(),
                             text="Instrument expired")
            self._out.position_changes.extend(self._positions.expire(symbol, self._instant()))
        return True

    # ---------------------------------------------------------------------- trade state changes

    def clear_trade(self, trade_id: str, *, keep: bool) -> None:
        """Re-send the trade as CLEARED; ``keep`` it only if a bust may still follow."""
        booked = self._trades[trade_id] if keep else self._trades.pop(trade_id)
        self._out.trades.append(self._restate(booked.message, TradeState.TRADE_STATE_CLEARED))

    def bust_trade(self, trade_id: str) -> bool:
        """Re-send the trade as BUSTED and take it back out of both positions and both orders
        (module rules). False, and nothing changes, if the EXPIRED executions of reinstated
        quantity that cannot rest do not fit the step's budget."""
        booked = self._trades[trade_id]
        trade = booked.message
        sides = ((booked.aggressor, trade.aggressor), (booked.passive, trade.passive))
        expiring = sum(
            1 for order, _ in sides
            if order.state == OrderState.ORDER_STATE_FILLED and not self._can_rest(order)
        )
        if not self.fits(expiring):
            return False
        del self._trades[trade_id]
        self._out.trades.append(self._restate(trade, TradeState.TRADE_STATE_BUSTED, BUST_TEXT))
        at = self._instant()
        for _, execution in sides:
            self._out.position_changes.append(
                self._positions.bust(execution.order.account, execution.order.symbol,
                                     execution.order.side, execution.last_shares,
                                     execution.last_px, at)
            )
        for order, execution in sides:
            self._take_back(order, execution)
        return True

    def _can_rest(self, order: SimOrder) -> bool:
        """Whether reinstated quantity of ``order`` may go back on its book now."""
        if order.time_in_force not in _RESTING_TIFS:
            return False
        if (order.time_in_force == TimeInForce.TIME_IN_FORCE_GOOD_TILL_TIME
                and order.good_till_ns <= self._clock_ns):
            return False
        return self._states[order.symbol] in _RESTING_BOOK_STATES

    def _take_back(self, order: SimOrder, fill: trading_pb2.Execution) -> None:
        """Apply a busted ``fill`` to its ``order`` (module rules)."""
        was_filled = order.state == OrderState.ORDER_STATE_FILLED
        order.take_back(fill.last_shares, fill.last_px, fill.commission_notional_collected)
        if order.state in (OrderState.ORDER_STATE_CANCELED, OrderState.ORDER_STATE_EXPIRED):
            return
        if order.state == OrderState.ORDER_STATE_PARTIALLY_FILLED or was_filled:
            order.state = (OrderState.ORDER_STATE_PARTIALLY_FILLED if order.cum_qty
                           else OrderState.ORDER_STATE_NEW)
        if not was_filled:
            return
        if self._can_rest(order):
            self._open[order.id] = order
            self._rest(order)
        else:
            order.state = OrderState.ORDER_STATE_EXPIRED
            self._execution(order, ExecType.EXECUTION_TYPE_EXPIRED, self._instant(),
                            text=REINSTATED_EXPIRY_TEXT)

    @staticmethod
    def _restate(
        trade: orders_pb2.Trade, state: TradeState, text: str = ""
    ) -> orders_pb2.Trade:
        again = orders_pb2.Trade()
        again.CopyFrom(trade)
        again.state = state
        again.text = text
        return again

    # ------------------------------------------------------------------------- executions out

    def _acknowledge(self, order: SimOrder, at: int) -> None:
        order.state = OrderState.ORDER_STATE_NEW
        order.insert_ns = at
        self._open[order.id] = order
        self._execution(order, ExecType.EXECUTION_TYPE_NEW, at)

    def _finish(
        self,
        order: SimOrder,
        state: OrderState,
        exec_type: ExecType,
        at: int,
        *,
        text: str = "",
        reject_reason: Reject = Reject.ORD_REJECT_REASON_EXCHANGE_OPTION,
        cancel_reason: CancelReason = CancelReason.UNSOLICITED_CXL_REASON_UNDEFINED,
    ) -> None:
        """Move an order to a terminal state and out of the book, with its last execution."""
        if self._open.pop(order.id, None) is not None:
            parked = self._parked[order.symbol]
            if order in parked:
                parked.remove(order)
            else:
                self._books[order.symbol].discard(order)
        order.state = state
        self._execution(order, exec_type, at, text=text, reject_reason=reject_reason,
                        cancel_reason=cancel_reason)

    def _execution(
        self,
        order: SimOrder,
        exec_type: ExecType,
        at: int,
        *,
        last_shares: int = 0,
        last_px: int = 0,
        trade_id: str = "",
        aggressor: bool = False,
        fee: int = 0,
        text: str = "",
        reject_reason: Reject = Reject.ORD_REJECT_REASON_EXCHANGE_OPTION,
        cancel_reason: CancelReason = CancelReason.UNSOLICITED_CXL_REASON_UNDEFINED,
    ) -> trading_pb2.Execution:
        order.last_transact_ns = at
        execution = trading_pb2.Execution(
            id=self._ids.next_id(),
            order=order.to_message(),
            last_shares=last_shares,
            last_px=last_px,
            type=exec_type,
            text=text,
            order_reject_reason=reject_reason,
            transact_time=to_timestamp(at),
            trade_id=trade_id,
            aggressor=aggressor,
            commission_notional_collected=fee,
            unsolicited_cancel_reason=cancel_reason,
            trace_id=f"{self._rng.getrandbits(128):032x}",
            transact_trade_date=trade_date(at),
        )
        self._out.executions.append(execution)
        return execution


def _plan_cost(order: SimOrder, plan: Plan) -> int:
    """Executions an accepted plan publishes: two per fill, one per self-match cancel, and
    one for an immediate-or-cancel remainder that expires."""
    cost = sum(2 if isinstance(step, Fill) else 1 for step in plan.steps)
    remainder = order.leaves_qty - plan.fill_qty
    if (order.time_in_force == TimeInForce.TIME_IN_FORCE_IMMEDIATE_OR_CANCEL
            and remainder > 0 and not plan.stopped):
        cost += 1
    return cost


def _fill_type(order: SimOrder) -> ExecType:
    if order.state == OrderState.ORDER_STATE_FILLED:
        return ExecType.EXECUTION_TYPE_FILL
    return ExecType.EXECUTION_TYPE_PARTIAL_FILL


def _stop_reached(order: SimOrder, last_price: int) -> bool:
    """A buy stop triggers at or above its stop price, a sell stop at or below."""
    if order.side == Side.SIDE_BUY:
        return last_price >= order.stop_price
    return last_price <= order.stop_price
