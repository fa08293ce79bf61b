"""The rows an SQL journal writes and reads, shaped the same way by every backend.

A new event's memory (its order's totals and fill, the fills a bust takes out, an
instrument's latest state, its place in the symbol index, its bodies rendered at ingest)
gathered per table in event order,
ready for one statement per table; event rows read back as :class:`JournalEvent`; and a
per-message table of sent messages read back page by page as :class:`OutboundMessage`. The
decisions come from ``journal/rules.py``; the statements are each backend's own.

Pure: no I/O, no SQL, no clock (a page is read by the function the backend hands in).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from fixbridge.journal.records import OutboundMessage, StoredBody
from fixbridge.journal.rules import SYMBOL_INDEXED, clamp_int64, symbol_key
from fixbridge.journal.store import JournalEvent, NewEvent
from fixbridge.normalize.errors import NormalizationError

Row = tuple[object, ...]


class MemoryRows:
    """New events' memory, per table, in event order: ``orders`` (order_id, cl_ord_id,
    transact_time, ord_status, order_qty, cum_qty, leaves_qty, filled_notional), ``fills``
    (exec_id, order_id, quantity, notional, transact_time), ``busts`` (fill_exec_id,
    order_id, quantity, notional, busted_at), ``instruments`` (symbol, content, upstream_id),
    ``symbols`` (symbol, stream, account, offset, at), ``bodies`` (offset, rendering, firm,
    account, symbol, exec_type, body). Quantities are exact decimal text.

    Each table is written only by its own statement, and no statement reads another table, so
    writing table by table leaves every table as writing event by event would: within a table
    the rows keep their order (an order's later totals win, the first of a repeated fill is
    kept)."""

    __slots__ = ("bodies", "busts", "fills", "instruments", "orders", "symbols")

    def __init__(self) -> None:
        self.orders: list[Row] = []
        self.fills: list[Row] = []
        self.busts: list[Row] = []
        self.instruments: list[Row] = []
        self.symbols: list[Row] = []
        self.bodies: list[Row] = []

    def add(self, event: NewEvent) -> None:
        """A new event's memory: its order and fill, its busts (and the fills they take out),
        its instrument state."""
        record = event.order
        if record is not None:
            totals = record.totals
            self.orders.append((
                record.order_id, record.cl_ord_id, clamp_int64(totals.transact_time_ns),
                totals.ord_status, str(totals.order_qty), str(totals.cum_qty),
                str(totals.leaves_qty), str(totals.filled_notional),
            ))  # fmt: skip
            fill = record.fill
            if fill is not None:
                self.fills.append((
                    fill.exec_id, record.order_id, str(fill.quantity), str(fill.notional),
                    clamp_int64(fill.transact_time_ns),
                ))  # fmt: skip
        for bust in event.busts:
            if bust.filled is not None:
                self.fills.append((
                    bust.filled.exec_id, bust.order_id, str(bust.filled.quantity),
                    str(bust.filled.notional), clamp_int64(bust.filled.transact_time_ns),
                ))  # fmt: skip
        for bust in event.busts:
            self.busts.append((
                bust.fill_exec_id, bust.order_id, str(bust.fill.quantity),
                str(bust.fill.notional), clamp_int64(bust.fill.busted_at_ns),
            ))  # fmt: skip
        if event.instrument is not None:
            symbol, content = event.instrument
            self.instruments.append((symbol, content, event.upstream_id))

    def index_symbol(self, stream: str, event: NewEvent, offset: int) -> None:
        """Index a new normalized event by symbol (and account), if its stream is indexed."""
        if event.flagged is not None or stream not in SYMBOL_INDEXED:
            return
        try:
            key = symbol_key(stream, event.payload, event.decoded)
        except NormalizationError:
            return  # a payload nothing can read renders nothing: there is nothing to find
        if key is not None:
            self.symbols.append(
                (key[0], stream, key[1], offset, clamp_int64(event.transact_time_ns))
            )


    def keep_bodies(self, event: NewEvent, offset: int) -> None:
        """A new event's bodies rendered at ingest, kept under its offset."""
        for b in event.bodies:
            self.bodies.append(
                (offset, b.rendering, b.firm, b.account, b.symbol, b.exec_type, b.body)
            )


def journal_events(rows: Iterable[Any]) -> list[JournalEvent]:
    """Rows of (offset, stream, upstream_id, received_at, transact_time, payload, flagged)."""
    return [
        JournalEvent(int(o), str(s), str(u), int(r), int(t), bytes(p), f)
        for o, s, u, r, t, p, f in rows
    ]


def journal_events_with_bodies(rows: Iterable[Any], rendering: str) -> list[JournalEvent]:
    """Rows of :func:`journal_events`' columns followed by a stored body's (firm, account,
    symbol, exec_type, body), all NULL where the event has none for ``rendering``."""
    return [
        JournalEvent(
            int(o),
            str(s),
            str(u),
            int(r),
            int(t),
            bytes(p),
            f,
            None
            if body is None
            else StoredBody(rendering, firm, account, symbol, exec_type, bytes(body)),
        )
        for o, s, u, r, t, p, f, firm, account, symbol, exec_type, body in rows
    ]


def outbound_pages(
    page: Callable[[int], Sequence[Sequence[Any]]], begin: int, end: int
) -> Iterator[OutboundMessage]:
    """The stored messages numbered ``begin``..``end`` of a table with one row per message,
    in order: ``page(low)`` returns the next rows (seq, msg_type, sending_time, body) from
    number ``low`` up to ``end``, in number order, a bounded page of them."""
    low = begin
    while low <= end:
        rows = page(low)
        if not rows:
            return
        for seq, msg_type, sending_time, body in rows:
            yield OutboundMessage(int(seq), str(msg_type), str(sending_time), bytes(body))
        low = int(rows[-1][0]) + 1
