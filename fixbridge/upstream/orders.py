"""OrigClOrdID(41) for cancels and replaces, which upstream executions do not carry.

A client cancel or replace gives an order a new ClOrdID; FIX reports the previous one in
OrigClOrdID. The gRPC Execution only has the order's current ``clord_id``, so fixbridge
remembers each order's ClOrdID as of its latest journaled execution (the journal's
``order_links``, written in the same transaction as the event, and only for events that are
new, and never moved back by an older execution) and, for each response, links its executions in
stream order. Pure: the journal lookups are passed in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from fixbridge.normalize.execution import ExecutionEvent


class OrderMemory(Protocol):
    """What linking needs from the journal (``SqliteJournal`` is one)."""

    def latest_cl_ord_ids(self, order_ids: Collection[str]) -> Mapping[str, str]: ...

    def journaled_ids(self, stream: str, upstream_ids: Collection[str]) -> set[str]: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Linked:
    event: ExecutionEvent  # with orig_cl_ord_id set when the ClOrdID changed
    link: tuple[str, str] | None  # (order_id, cl_ord_id) to remember, if both are known


def link_cl_ord_ids(events: Sequence[ExecutionEvent], memory: OrderMemory) -> list[Linked]:
    """``events`` (one response, stream order) with OrigClOrdID filled from each order's
    previous ClOrdID: the journal's for the first execution of an order in the response, the
    previous execution's within it. Executions already journaled (a replay's overlap) are
    duplicates the journal will drop: they neither link nor move an order's memory."""
    known = dict(
        memory.latest_cl_ord_ids({e.order_id for e in events if e.order_id and e.cl_ord_id})
    )
    seen = memory.journaled_ids("executions", [e.exec_id for e in events])
    linked: list[Linked] = []
    for event in events:
        if not (event.order_id and event.cl_ord_id) or event.exec_id in seen:
            linked.append(Linked(event, None))
            continue
        previous = known.get(event.order_id)
        known[event.order_id] = event.cl_ord_id
        if previous and previous != event.cl_ord_id:
            event = dataclasses.replace(event, orig_cl_ord_id=previous)
        linked.append(Linked(event, (event.order_id, event.cl_ord_id)))
    return linked
