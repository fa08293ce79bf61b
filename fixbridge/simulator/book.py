"""One symbol's central limit order book, and the plan of what an incoming order would do to it.

Resting orders are kept in price-time priority. :meth:`Book.plan` walks the opposite side for an
aggressor and returns what would happen (fills, self-match-prevention cancels, a stop) without
changing anything, so fill-or-kill and minimum-quantity checks can discard a plan whole. The
caller applies an accepted plan. This module never emits messages, draws random numbers or
reads a clock.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from fixbridge.proto.polymarket.v1 import enums_pb2
from fixbridge.simulator.orders import SimOrder

Side = enums_pb2.Side
Smp = enums_pb2.SelfMatchPreventionInstruction


@dataclass(frozen=True, slots=True)
class Fill:
    """The aggressor trades ``qty`` with ``resting`` at the resting order's price."""

    resting: SimOrder
    qty: int


@dataclass(frozen=True, slots=True)
class CancelResting:
    """Self-match prevention removes ``resting`` (same account as the aggressor)."""

    resting: SimOrder


@dataclass(frozen=True, slots=True)
class StopAggressor:
    """Self-match prevention stops the aggressor here; whatever is left of it is removed."""


PlanStep = Fill | CancelResting | StopAggressor


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[PlanStep, ...]

    @property
    def fill_qty(self) -> int:
        return sum(step.qty for step in self.steps if isinstance(step, Fill))

    @property
    def stopped(self) -> bool:
        return any(isinstance(step, StopAggressor) for step in self.steps)


def _priority_key(order: SimOrder) -> tuple[int, int]:
    # Best first: highest bid, lowest ask; then oldest.
    price = -order.price if order.side == Side.SIDE_BUY else order.price
    return (price, order.priority)


def crosses(aggressor_side: Side, limit: int, resting_price: int) -> bool:
    """Whether a limit of ``limit`` on ``aggressor_side`` can trade at ``resting_price``."""
    if aggressor_side == Side.SIDE_BUY:
        return resting_price <= limit
    return resting_price >= limit


class Book:
    def __init__(self) -> None:
        self._sides: dict[Side, list[SimOrder]] = {Side.SIDE_BUY: [], Side.SIDE_SELL: []}

    def add(self, order: SimOrder) -> None:
        bisect.insort(self._sides[order.side], order, key=_priority_key)

    def remove(self, order: SimOrder) -> None:
        self._sides[order.side].remove(order)

    def discard(self, order: SimOrder) -> None:
        """Remove ``order`` if it rests here (an aggressor being processed does not)."""
        resting = self._sides[order.side]
        if order in resting:
            resting.remove(order)

    def orders(self, side: Side) -> list[SimOrder]:
        """Resting orders of one side, best first (a copy)."""
        return list(self._sides[side])

    def all_orders(self) -> list[SimOrder]:
        return self._sides[Side.SIDE_BUY] + self._sides[Side.SIDE_SELL]

    def best(self, side: Side) -> SimOrder | None:
        resting = self._sides[side]
        return resting[0] if resting else None

    def __len__(self) -> int:
        return len(self._sides[Side.SIDE_BUY]) + len(self._sides[Side.SIDE_SELL])

    def plan(self, aggressor: SimOrder, limit: int) -> Plan:
        """What ``aggressor`` (for its leaves) would do against the book at price ``limit``."""
        opposite = Side.SIDE_SELL if aggressor.side == Side.SIDE_BUY else Side.SIDE_BUY
        remaining = aggressor.leaves_qty
        steps: list[PlanStep] = []
        for resting in self._sides[opposite]:
            if remaining == 0 or not crosses(aggressor.side, limit, resting.price):
                break
            if resting.account.name == aggressor.account.name:
                instruction = aggressor.account.smp_instruction
                if instruction == Smp.SELF_MATCH_PREVENTION_INSTRUCTION_REJECT_AGGRESSOR:
                    steps.append(StopAggressor())
                    break
                steps.append(CancelResting(resting))
                if instruction == Smp.SELF_MATCH_PREVENTION_INSTRUCTION_REMOVE_BOTH:
                    steps.append(StopAggressor())
                    break
                continue
            qty = min(remaining, resting.leaves_qty)
            steps.append(Fill(resting, qty))
            remaining -= qty
        return Plan(tuple(steps))
