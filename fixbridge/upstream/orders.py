"""What fixbridge remembers of each order, and what it fills in from that memory.

Two things a gRPC Execution or Trade does not carry, and FIX needs:

* OrigClOrdID(41) on cancels and replaces. A client cancel or replace gives an order a new
  ClOrdID; FIX reports the previous one. The Execution only has the order's current
  ``clord_id``, so fixbridge remembers each order's ClOrdID as of its latest journaled
  execution and, for each response, links its executions in stream order.
* The order's state after a trade bust. A BUSTED Trade carries each side's fill as it was when
  it happened; the order may have traded since. fixbridge remembers each order's totals as of
  its latest journaled execution, its fills, and the busts already taken out of it, and
  :func:`~fixbridge.normalize.trade.settle_bust` works out the rest.

The memory is the journal's (``orders``, ``order_fills``, ``order_busts``), written in the
same transaction
as the event that teaches it, only for events that are new, and never moved back by an older
execution found late. Events already journaled (a replay's overlap) neither link nor teach.
Pure: the journal lookups are passed in through :class:`OrderMemory`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from fixbridge.journal.store import BustRecord, KnownOrder, OrderRecord
from fixbridge.normalize.construct import slot_init
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.execution import ExecutionEvent
from fixbridge.normalize.fills import BustedFill, Fill
from fixbridge.normalize.trade import TradeEvent, settle_bust


class OrderMemory(Protocol):
    """What linking and bust settlement need from the journal (``SqliteJournal`` is one)."""

    def latest_orders(self, order_ids: Collection[str]) -> Mapping[str, KnownOrder]: ...

    def latest_cl_ord_ids(self, order_ids: Collection[str]) -> Mapping[str, str]: ...

    def order_busts(
        self, order_ids: Collection[str]
    ) -> Mapping[str, Sequence[tuple[str, BustedFill]]]: ...

    def order_fills(self, order_ids: Collection[str]) -> Mapping[str, Sequence[Fill]]: ...

    def journaled_ids(self, stream: str, upstream_ids: Collection[str]) -> set[str]: ...


@slot_init
@dataclasses.dataclass(frozen=True, slots=True)
class Linked:
    event: ExecutionEvent  # with orig_cl_ord_id set when the ClOrdID changed
    order: OrderRecord | None  # what to remember of the order, if the event is new


def link_cl_ord_ids(events: Sequence[ExecutionEvent], memory: OrderMemory) -> list[Linked]:
    """``events`` (one response, stream order) with OrigClOrdID filled from each order's
    previous ClOrdID: the journal's for the first execution of an order in the response, the
    previous execution's within it. Executions already journaled (a replay's overlap) are
    duplicates the journal will drop: they neither link nor move an order's memory."""
    known = dict(memory.latest_cl_ord_ids({e.order_id for e in events if e.order_id}))
    seen = memory.journaled_ids("executions", [e.exec_id for e in events])
    linked: list[Linked] = []
    for event in events:
        if not event.order_id or event.exec_id in seen:
            linked.append(Linked(event, None))
            continue
        if event.cl_ord_id:
            previous = known.get(event.order_id)
            known[event.order_id] = event.cl_ord_id
            if previous and previous != event.cl_ord_id:
                event = event.with_orig_cl_ord_id(previous)
        record = OrderRecord(event.order_id, event.cl_ord_id, event.totals(), event.as_fill())
        linked.append(Linked(event, record))
    return linked


@dataclasses.dataclass(frozen=True, slots=True)
class Settled:
    event: TradeEvent  # a BUSTED trade with its bust time and orders after the bust
    busts: tuple[BustRecord, ...]  # what to remember, if the event is new
    error: str | None = None  # why the bust cannot be settled (the event is then flagged)


def settle_busts(
    events: Sequence[TradeEvent], memory: OrderMemory, received_at_ns: int
) -> list[Settled]:
    """Each BUSTED trade of one response (stream order) settled against its orders: the
    journal's latest totals and earlier busts, and the busts earlier in the same response.
    Other versions, and busts already journaled, pass through unchanged."""
    busts = [e for e in events if e.is_bust]
    if not busts:
        return [Settled(e, ()) for e in events]
    order_ids = {side.order_id for e in busts for side in e.sides}
    latest = {order_id: known.totals for order_id, known in memory.latest_orders(order_ids).items()}
    fills: dict[str, list[Fill]] = {
        order_id: list(found) for order_id, found in memory.order_fills(order_ids).items()
    }
    earlier: dict[str, list[tuple[str, BustedFill]]] = {
        order_id: list(found) for order_id, found in memory.order_busts(order_ids).items()
    }
    seen = memory.journaled_ids("trades", [e.upstream_id for e in busts])
    out: list[Settled] = []
    for event in events:
        if not event.is_bust or event.upstream_id in seen:
            out.append(Settled(event, ()))
            continue
        try:
            settled = settle_bust(
                event,
                busted_at_ns=received_at_ns,
                latest=latest,
                fills=fills,
                earlier_busts=earlier,
            )
        except NormalizationError as exc:
            out.append(Settled(event, (), str(exc)))
            continue
        records = tuple(
            BustRecord(
                side.exec_id, side.order_id, side.busted_fill(received_at_ns),
                side.execution.as_fill(),
            )
            for side in settled.sides
        )  # fmt: skip
        for record in records:
            earlier.setdefault(record.order_id, []).append((record.fill_exec_id, record.fill))
            known = fills.setdefault(record.order_id, [])
            if record.filled is not None and all(
                f.exec_id != record.filled.exec_id for f in known
            ):
                known.append(record.filled)
        out.append(Settled(settled, records))
    return out
