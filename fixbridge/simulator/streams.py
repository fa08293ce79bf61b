"""The four DropCopy streams: their names, and what the server filters and replays by.

For every event this module works out once, when it is logged, what a subscription or a report
search selects it by: its time (for ``resume_time``), its symbol, the firms and the accounts it
belongs to. They are worked out from the event as the exchange produced it, so an event the fault
plan corrupts afterwards (e.g. an execution without its order) still reaches the subscribers
and searches it belongs to. The time of an event is ``Execution.transact_time``, the aggressor
execution's ``transact_time`` for a trade (in every state it is re-sent in),
``PositionChange.change_time``, and for an instrument the instant of the state change, which the
exchange hands over beside the message: the contract's Instrument has no time field, and no
entry is ever worked out from its ``metadata``. Pure functions only: this module must never
touch the network or a clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Generic, TypeVar

from google.protobuf.message import Message

from fixbridge.proto.polymarket.v1 import dropcopy_pb2, orders_pb2, refdata_pb2, trading_pb2
from fixbridge.simulator.refdata import firm_of
from fixbridge.simulator.times import from_timestamp

E = TypeVar("E", bound=Message)


class Stream(enum.StrEnum):
    EXECUTIONS = "executions"
    TRADES = "trades"
    INSTRUMENTS = "instruments"
    POSITIONS = "positions"


@dataclass(frozen=True, slots=True)
class Entry(Generic[E]):
    """One logged event with what subscriptions select it by."""

    time_ns: int
    symbol: str
    firms: tuple[str, ...]
    event: E
    accounts: tuple[str, ...] = ()
    """Full account names (``firms/<firm>/accounts/<account>``), for report searches."""


def execution_entry(execution: trading_pb2.Execution) -> Entry[trading_pb2.Execution]:
    order = execution.order
    return Entry(from_timestamp(execution.transact_time), order.symbol,
                 (firm_of(order.account),), execution, (order.account,))


def trade_entry(trade: orders_pb2.Trade) -> Entry[orders_pb2.Trade]:
    taker, maker = trade.aggressor.order, trade.passive.order
    firms = tuple(dict.fromkeys((firm_of(taker.account), firm_of(maker.account))))
    accounts = tuple(dict.fromkeys((taker.account, maker.account)))
    return Entry(from_timestamp(trade.aggressor.transact_time), taker.symbol, firms, trade,
                 accounts)


def instrument_entry(
    instrument: refdata_pb2.Instrument, time_ns: int
) -> Entry[refdata_pb2.Instrument]:
    """An instrument state change that happened at ``time_ns``."""
    return Entry(time_ns, instrument.symbol, (), instrument)


def position_entry(
    change: dropcopy_pb2.PositionChange,
) -> Entry[dropcopy_pb2.PositionChange]:
    position = change.position
    return Entry(from_timestamp(change.change_time), position.symbol,
                 (firm_of(position.account),), change, (position.account,))
