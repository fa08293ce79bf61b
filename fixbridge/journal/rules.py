"""The journal's rules that are not storage: what each backend stores, decided the same way.

How far a response's resume token is known to cover; a time clamped into the int64 every
backend stores; under which symbol and account an event is indexed; what a journaled event
teaches (order totals and fills, busts, an instrument's latest state). ``journal/sqlite.py``
applies them, and so must any other backend: it must never decide these itself. The rules a
backend keeps in its own statements (an empty token never replaces a stored one; an order's
totals never go back to an older execution's, nor its ClOrdID to none; the first of a
repeated fill is kept) are checked on every backend by the contract suite (tests/contract).

Pure: no I/O, no SQL, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence

from fixbridge.journal.store import BustRecord, NewEvent, OrderRecord
from fixbridge.normalize.execution import ExecutionEvent
from fixbridge.normalize.instrument import InstrumentEvent
from fixbridge.normalize.position import PositionEvent
from fixbridge.normalize.settlement import Settlement
from fixbridge.normalize.trade import TradeEvent

INT64_MAX = 2**63 - 1
# Streams whose normalized events are indexed by symbol (and account, for positions).
SYMBOL_INDEXED = ("instruments", "positions", "settlements")


def covered_until(events: Sequence[NewEvent], received_at_ns: int) -> int:
    """How far a response's token is known to cover, in exchange time: the newest normalized
    event's time (capped by receipt), or, for a token-only response (the exchange is caught
    up), the time it was received."""
    times = [
        min(e.transact_time_ns, received_at_ns)
        for e in events
        if e.flagged is None and e.transact_time_ns > 0
    ]
    if times:
        return max(times)
    return 0 if events else received_at_ns


def clamp_int64(value: int) -> int:
    """``value`` within a signed 64-bit integer (SQLite's INTEGER, PostgreSQL's BIGINT): an
    absurd upstream time (after 2262) is kept exactly in the payload and stored clamped here,
    instead of failing the whole response."""
    if -INT64_MAX <= value <= INT64_MAX:
        return value
    return INT64_MAX if value > 0 else -INT64_MAX


def symbol_key(stream: str, payload: bytes, decoded: object | None) -> tuple[str, str] | None:
    """(symbol, account) under which an event of ``stream`` is indexed, or None."""
    if stream == "positions":
        position = decoded if isinstance(decoded, PositionEvent) else None
        position = position or PositionEvent.from_payload(payload)
        return position.symbol, position.account
    if stream == "settlements":
        settlement = decoded if isinstance(decoded, Settlement) else None
        return (settlement or Settlement.from_payload(payload)).symbol, ""
    if stream == "instruments":
        instrument = decoded if isinstance(decoded, InstrumentEvent) else None
        return (instrument or InstrumentEvent.from_payload(payload)).symbol, ""
    return None


def memory_of(stream: str, upstream_id: str, payload: bytes, received_at: int) -> NewEvent:
    """What a journaled event teaches, read back from its payload: the memory fields a new
    event carries when it is appended (a migration rebuilds the memory from these)."""
    if stream == "executions":
        execution = ExecutionEvent.from_payload(payload)
        order = None
        if execution.order_id:
            order = OrderRecord(
                execution.order_id, execution.cl_ord_id, execution.totals(), execution.as_fill()
            )
        return NewEvent(upstream_id, 0, b"", b"", order=order)
    if stream == "trades":
        trade = TradeEvent.from_payload(payload)
        at = trade.busted_at_ns or received_at
        busts = tuple(
            BustRecord(side.exec_id, side.order_id, side.busted_fill(at), side.execution.as_fill())
            for side in trade.sides
            if trade.is_bust
        )
        return NewEvent(upstream_id, 0, b"", b"", busts=busts)
    instrument = InstrumentEvent.from_payload(payload)
    return NewEvent(upstream_id, 0, b"", b"", instrument=(instrument.symbol, instrument.content))
