"""One order's exchange-side state, its arithmetic, and its snapshot as an ``Order`` message.

Units: prices in 1/price_scale dollars, quantities in 1/fractional_quantity_scale contracts,
notional and fees in 1/(price_scale * fractional_quantity_scale) dollars. All integers.

Fills and busts: a fill adds to ``cum_qty``, ``notional`` (sum of qty * px), ``filled_at`` (px ->
qty, which is ``Order.price_to_quantity_filled``) and ``fees`` (which is
``commission_notional_total_collected``); a bust takes exactly that fill back out of all four
(:meth:`SimOrder.take_back`), so ``avg_px`` is recomputed over the fills that remain and
``leaves_qty`` (``order_qty - cum_qty`` while the order is not terminal) grows back. What state
the order is in after a bust is the exchange's decision (see ``exchange.py``), not this module's.

Rounding rules (the only places the simulator rounds):
* ``avg_px`` is the volume-weighted average fill price, rounded to the nearest integer of
  price_scale units, halves rounded up: ``(2 * notional + cum_qty) // (2 * cum_qty)``.
* A fee (positive basis points) is rounded up to the next notional unit; a rebate (negative
  basis points) is rounded toward zero, so the exchange never pays out a fraction it did not earn.

This module must never draw random numbers or read a clock: callers pass ids and instants in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fixbridge.proto.polymarket.v1 import enums_pb2, trading_pb2
from fixbridge.simulator.refdata import AccountSpec, SymbolSpec
from fixbridge.simulator.times import to_timestamp

OrderType = enums_pb2.OrderType
TimeInForce = enums_pb2.TimeInForce
OrderState = enums_pb2.OrderState
Side = enums_pb2.Side

TERMINAL_STATES: frozenset[OrderState] = frozenset(
    {
        OrderState.ORDER_STATE_FILLED,
        OrderState.ORDER_STATE_CANCELED,
        OrderState.ORDER_STATE_REJECTED,
        OrderState.ORDER_STATE_EXPIRED,
    }
)
"""States in which an order has no leaves and gets no further executions, except that a bust
reinstates a FILLED order (see ``exchange.py``). Done-for-day orders end in EXPIRED: the
contract's OrderState has no done-for-day value."""

BASIS_POINTS = 10_000


def vwap_half_up(notional: int, qty: int) -> int:
    """Average price of ``qty`` filled for ``notional``, halves rounded up; 0 if nothing filled."""
    if qty <= 0:
        return 0
    return (2 * notional + qty) // (2 * qty)


def fee_for(notional: int, bps: int) -> int:
    """Fee on ``notional`` at ``bps`` basis points; negative for a rebate (see module rules)."""
    if bps >= 0:
        return -((-notional * bps) // BASIS_POINTS)
    return -((notional * -bps) // BASIS_POINTS)


@dataclass(slots=True, eq=False)
class SimOrder:
    """Mutable state of one order. ``price`` 0 means no limit yet (market-to-limit before its
    first fill); ``stop_price`` 0 means not a stop order; ``good_till_ns`` 0 means no expiry.
    Two SimOrders are equal only if they are the same object."""

    id: str
    spec: SymbolSpec
    account: AccountSpec
    participant: str
    side: Side
    type: OrderType
    time_in_force: TimeInForce
    order_qty: int
    price: int
    clord_id: str
    create_ns: int
    stop_price: int = 0
    min_qty: int = 0
    good_till_ns: int = 0
    post_only: bool = False
    manual: bool = False
    priority: int = 0
    insert_ns: int = 0
    state: OrderState = OrderState.ORDER_STATE_PENDING_NEW
    cum_qty: int = 0
    notional: int = 0
    fees: int = 0
    last_trade_id: str = ""
    last_transact_ns: int = 0
    triggered: bool = False
    filled_at: dict[int, int] = field(default_factory=dict)

    @property
    def symbol(self) -> str:
        return self.spec.symbol

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def leaves_qty(self) -> int:
        return 0 if self.is_terminal else self.order_qty - self.cum_qty

    @property
    def avg_px(self) -> int:
        return vwap_half_up(self.notional, self.cum_qty)

    @property
    def is_stop(self) -> bool:
        return self.type in (OrderType.ORDER_TYPE_STOP, OrderType.ORDER_TYPE_STOP_LIMIT)

    def fill(self, qty: int, px: int, fee: int, trade_id: str, at_ns: int) -> None:
        """Apply one fill; the state becomes PARTIALLY_FILLED or FILLED."""
        if qty <= 0 or qty > self.leaves_qty:
            raise ValueError(f"order {self.id}: cannot fill {qty} with {self.leaves_qty} leaves")
        self.cum_qty += qty
        self.notional += qty * px
        self.fees += fee
        self.filled_at[px] = self.filled_at.get(px, 0) + qty
        self.last_trade_id = trade_id
        self.last_transact_ns = at_ns
        self.state = (
            OrderState.ORDER_STATE_FILLED
            if self.cum_qty == self.order_qty
            else OrderState.ORDER_STATE_PARTIALLY_FILLED
        )

    def take_back(self, qty: int, px: int, fee: int) -> None:
        """Undo one earlier fill of ``qty`` at ``px`` that was charged ``fee`` (a bust). The
        state is left alone: the exchange decides it."""
        if qty <= 0 or self.filled_at.get(px, 0) < qty:
            raise ValueError(
                f"order {self.id}: no fill of {qty} at {px} to take back "
                f"(filled at that price: {self.filled_at.get(px, 0)})"
            )
        self.cum_qty -= qty
        self.notional -= qty * px
        self.fees -= fee
        remaining = self.filled_at[px] - qty
        if remaining:
            self.filled_at[px] = remaining
        else:
            del self.filled_at[px]

    def to_message(self) -> trading_pb2.Order:
        """The ``Order`` as of now, as it travels inside an Execution."""
        account = self.account
        order = trading_pb2.Order(
            id=self.id,
            type=self.type,
            side=self.side,
            order_qty=self.order_qty,
            symbol=self.symbol,
            clord_id=self.clord_id,
            time_in_force=self.time_in_force,
            account=account.name,
            cum_qty=self.cum_qty,
            avg_px=self.avg_px,
            leaves_qty=self.leaves_qty,
            state=self.state,
            participant=self.participant,
            price=self.price,
            stop_price=self.stop_price,
            min_qty=self.min_qty,
            create_time=to_timestamp(self.create_ns),
            submitting_participant=self.participant,
            commissions_basis_points=str(account.taker_bps),
            maker_commissions_basis_points=str(account.maker_bps),
            participate_dont_initiate=self.post_only,
            last_trade_id=self.last_trade_id,
            price_to_quantity_filled=self.filled_at,
            commission_notional_total_collected=self.fees,
            self_match_prevention_instruction=account.smp_instruction,
            order_capacity=account.capacity,
            price_scale=self.spec.price_scale,
            fractional_quantity_scale=self.spec.fractional_qty_scale,
            manual_order_indicator=(
                enums_pb2.MANUAL_ORDER_INDICATOR_MANUAL
                if self.manual
                else enums_pb2.MANUAL_ORDER_INDICATOR_AUTOMATED
            ),
        )
        if self.insert_ns:
            order.insert_time.CopyFrom(to_timestamp(self.insert_ns))
        if self.good_till_ns:
            order.good_till_time.CopyFrom(to_timestamp(self.good_till_ns))
        if self.last_transact_ns:
            order.last_transact_time.CopyFrom(to_timestamp(self.last_transact_ns))
        return order
