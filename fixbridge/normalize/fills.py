"""An order's fills in money terms: AvgPx(6), GrossTradeAmt(381), and the order after a bust.

AvgPx is the volume-weighted average price of the order's fills (spec §2.2: "VWAP of fills").
The exchange's ``Order.avg_px`` is a scaled integer, i.e. already rounded to the price scale
(36 @ 0.39 and 86 @ 0.37 average 0.37590…, which ``avg_px`` can only give as 0.38). The exact
figure comes from ``Order.price_to_quantity_filled`` (price -> quantity filled at that price,
spec §4.4), so:

* GrossTradeAmt(381) = the filled notional, Σ price x quantity over that map, exact to the
  cent-fraction (spec §2.2 defines it as AvgPx x CumQty, which this is before any rounding).
* AvgPx(6) = filled notional ÷ CumQty, exact when the quotient has at most 15 significant
  digits, else rounded half-even to 15 significant digits (spec §1.5: FIX prices are decimals
  of up to 15 significant digits). This is the only rounding fixbridge does.
* Where the map is empty although the order has fills (an exchange version older than the
  field, changelog v0.0.34), AvgPx is ``Order.avg_px`` and GrossTradeAmt is AvgPx x CumQty.
* A map whose quantities do not add up to ``cum_qty`` is refused, never averaged.

A trade bust (FIX ExecType H) takes one fill back out. What the order looks like afterwards
follows the FIX Order State Change Matrices, section J (execution corrections and
cancellations): CumQty and the filled notional drop by the busted fill and AvgPx is
recomputed over the fills that remain; an order that was Canceled, Expired, Done for day or
Rejected keeps that status with no leaves ("Canceled takes precedence over New"); an order
still working, or Filled, is working again: LeavesQty = OrderQty - CumQty and OrdStatus is
Partially filled, or New when nothing remains filled (a pending status is kept).

The exchange sends no time for a bust and its later order snapshots may or may not already
leave a busted fill out, so the quantities after a bust are counted from facts, never from a
snapshot taken after a bust: the order as of the busted fill (its own snapshot, exact), plus
the fills of the order that came later, minus the busted fills that were taken out after the
busted fill happened. Only the status and OrderQty come from the order's latest snapshot.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Final

from fixbridge.normalize.construct import slot_init
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.fields import scaled_value

AVG_PX_SIGNIFICANT_DIGITS: Final = 15
_AVERAGE: Final = Context(prec=AVG_PX_SIGNIFICANT_DIGITS, rounding=ROUND_HALF_EVEN)
_ZERO: Final = Decimal(0)

# OrdStatus(39) values an order keeps through a bust, with no leaves: it is no longer working.
_DONE_STATUSES: Final = frozenset({"4", "C", "3", "8"})
# Pending statuses take precedence over Partially filled / New (FIX order state precedence).
_PENDING_STATUSES: Final = frozenset({"6", "E", "A"})
_PARTIALLY_FILLED: Final = "1"
_NEW: Final = "0"


def filled_notional(
    filled: Mapping[int, int],
    *,
    cum_qty: int,
    price_scale: int,
    quantity_scale: int,
    field: str = "order.price_to_quantity_filled",
) -> Decimal | None:
    """Σ price x quantity of ``filled`` in dollars, or None when upstream sent no map.

    ``filled`` maps scaled prices to scaled quantities; their quantities must add up to
    ``cum_qty`` (also scaled) and each must be positive.
    """
    if not filled:
        return None
    total = 0
    notional = 0
    for price, qty in sorted(filled.items()):
        if qty <= 0:
            raise NormalizationError(f"{field}[{price}]", "quantity must be positive", qty)
        total += qty
        notional += price * qty
    if total != cum_qty:
        raise NormalizationError(
            field, f"quantities add up to {total}, not order.cum_qty {cum_qty}", total
        )
    return scaled_value(notional, price_scale * quantity_scale, field)


def average_price(notional: Decimal, quantity: Decimal) -> Decimal:
    """``notional / quantity`` to 15 significant digits (exact when it fits); 0 with no fills."""
    if quantity == 0:
        return _ZERO
    return _AVERAGE.divide(notional, quantity)


@slot_init
@dataclass(frozen=True, slots=True)
class OrderTotals:
    """An order's status and quantities as of one of its executions."""

    transact_time_ns: int  # that execution's TransactTime
    ord_status: str  # OrdStatus(39)
    order_qty: Decimal
    cum_qty: Decimal
    leaves_qty: Decimal
    filled_notional: Decimal  # Σ price x quantity of its fills, in dollars; 0 with none


@slot_init
@dataclass(frozen=True, slots=True)
class Fill:
    """One fill of an order, as its ExecutionReport told it."""

    exec_id: str
    quantity: Decimal  # LastQty
    notional: Decimal  # LastPx x LastQty
    transact_time_ns: int


@slot_init
@dataclass(frozen=True, slots=True)
class BustedFill:
    """One fill taken back out by a bust, and when the bust became known."""

    quantity: Decimal
    notional: Decimal  # LastPx x LastQty of the busted fill
    busted_at_ns: int


@dataclass(frozen=True, slots=True)
class OrderAfterBust:
    ord_status: str  # OrdStatus(39)
    cum_qty: Decimal  # CumQty(14)
    leaves_qty: Decimal  # LeavesQty(151)
    avg_px: Decimal  # AvgPx(6), over the fills that remain
    filled_notional: Decimal


def order_after_bust(
    at_fill: OrderTotals,
    latest: OrderTotals | None,
    later_fills: Sequence[Fill],
    busts: Sequence[BustedFill],
) -> OrderAfterBust:
    """The order once every fill in ``busts`` is taken out (FIX matrices, J).

    ``at_fill`` is the order as of the busted fill; ``later_fills`` are its fills after that;
    ``busts`` this bust and the ones after the busted fill; ``latest`` the order's latest
    snapshot, if newer than ``at_fill``, for its status and OrderQty.
    """
    cum_qty = (
        at_fill.cum_qty
        + sum((f.quantity for f in later_fills), _ZERO)
        - sum((b.quantity for b in busts), _ZERO)
    )
    notional = (
        at_fill.filled_notional
        + sum((f.notional for f in later_fills), _ZERO)
        - sum((b.notional for b in busts), _ZERO)
    )
    if cum_qty < 0:
        raise NormalizationError(
            "order.cum_qty", "busted fills exceed the order's filled quantity", at_fill.cum_qty
        )
    if cum_qty == 0:
        notional = _ZERO
    basis = latest if latest is not None else at_fill
    if basis.ord_status in _DONE_STATUSES:
        status, leaves = basis.ord_status, _ZERO
    else:
        leaves = max(basis.order_qty - cum_qty, _ZERO)
        if basis.ord_status in _PENDING_STATUSES:
            status = basis.ord_status
        else:
            status = _PARTIALLY_FILLED if cum_qty > 0 else _NEW
    return OrderAfterBust(status, cum_qty, leaves, average_price(notional, cum_qty), notional)
