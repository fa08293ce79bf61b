"""Per account and symbol positions that follow the simulated fills and busts.

Units: ``net_position``, ``qty_bought``, ``qty_sold`` in fractional_quantity_scale units of the
symbol; ``cost`` and ``realized`` in price_scale * fractional_quantity_scale units (the same
notional units as fees: divide by both scales for dollars).

Accounting (average cost): ``cost`` is the signed cost basis of the open position (positive
long, negative short, 0 when flat). A fill that grows the position adds ``qty * px`` to it; a
fill that shrinks it releases the proportional part of the basis (rounded half away from zero)
and books the difference to the sale or purchase into ``realized``. A flip is a close followed
by an open. So ``realized - cost == sold notional - bought notional`` always holds exactly.
A busted trade is undone by the opposite movement at the same price, counted by lowering
``qty_bought`` (or ``qty_sold``) rather than raising the other side, so ``net_position ==
bod_position + qty_bought - qty_sold`` holds too (``bod_position`` is 0: the simulator starts flat).

This module must never draw random numbers or read a clock: instants are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

from fixbridge.proto.polymarket.v1 import dropcopy_pb2, enums_pb2, positions_pb2
from fixbridge.simulator.times import to_timestamp

Side = enums_pb2.Side


def _div_round_half_away(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, halves away from zero."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    return sign * ((2 * abs(numerator) + denominator) // (2 * denominator))


@dataclass(slots=True)
class _Ledger:
    net: int = 0
    bought: int = 0
    sold: int = 0
    cost: int = 0
    realized: int = 0
    expired: bool = False

    def move(self, delta: int, px: int) -> None:
        """Change the net position by ``delta`` (positive = buy) at price ``px``."""
        closing = 0
        if self.net and (self.net > 0) != (delta > 0):
            closing = min(abs(delta), abs(self.net))
        if closing:
            held = abs(self.net)
            remaining_cost = _div_round_half_away(self.cost * (held - closing), held)
            released = self.cost - remaining_cost
            direction = 1 if self.net > 0 else -1
            self.realized += direction * closing * px - released
            self.cost = remaining_cost
            self.net -= direction * closing
        opening = abs(delta) - closing
        if opening:
            direction = 1 if delta > 0 else -1
            self.cost += direction * opening * px
            self.net += direction * opening


class PositionBook:
    """Every account's position in every symbol it has traded."""

    def __init__(self) -> None:
        self._ledgers: dict[tuple[str, str], _Ledger] = {}

    def fill(
        self, account: str, symbol: str, side: Side, qty: int, px: int, at_ns: int
    ) -> dropcopy_pb2.PositionChange:
        """Record one fill of ``account`` and return the resulting position change."""
        ledger = self._ledgers.setdefault((account, symbol), _Ledger())
        if side == Side.SIDE_BUY:
            ledger.bought += qty
            ledger.move(qty, px)
        else:
            ledger.sold += qty
            ledger.move(-qty, px)
        return self._change(account, symbol, ledger, at_ns)

    def bust(
        self, account: str, symbol: str, side: Side, qty: int, px: int, at_ns: int
    ) -> dropcopy_pb2.PositionChange:
        """Undo one earlier fill (``side`` is the side of that fill)."""
        ledger = self._ledgers.setdefault((account, symbol), _Ledger())
        if side == Side.SIDE_BUY:
            ledger.bought -= qty
            ledger.move(-qty, px)
        else:
            ledger.sold -= qty
            ledger.move(qty, px)
        return self._change(account, symbol, ledger, at_ns)

    def expire(self, symbol: str, at_ns: int) -> list[dropcopy_pb2.PositionChange]:
        """Mark every position in ``symbol`` expired, in the order the positions were opened."""
        changes: list[dropcopy_pb2.PositionChange] = []
        for (account, sym), ledger in self._ledgers.items():
            if sym == symbol and not ledger.expired:
                ledger.expired = True
                changes.append(self._change(account, sym, ledger, at_ns))
        return changes

    @staticmethod
    def _change(
        account: str, symbol: str, ledger: _Ledger, at_ns: int
    ) -> dropcopy_pb2.PositionChange:
        when = to_timestamp(at_ns)
        return dropcopy_pb2.PositionChange(
            position=positions_pb2.Position(
                account=account,
                symbol=symbol,
                net_position=ledger.net,
                qty_bought=ledger.bought,
                qty_sold=ledger.sold,
                cost=ledger.cost,
                realized=ledger.realized,
                bod_position=0,
                expired=ledger.expired,
                update_time=when,
            ),
            change_time=when,
        )
