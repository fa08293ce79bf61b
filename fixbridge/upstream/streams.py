"""The four DropCopyAPI streams as data: how to ask for each and how to journal its events.

One row per stream: the RPC, its request type, the response field that holds the events, the
filters it accepts, how one upstream message becomes a journal entry (normalized, or kept
and flagged when it cannot be), and an optional wait before a response is stored (positions
wait for their symbols' scales). The subscriber is the same code for every row.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fixbridge.journal.store import EventLog, KnownOrder, LatestInstrument, NewEvent
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.execution import ExecutionEvent, normalize_execution
from fixbridge.normalize.fills import BustedFill, Fill
from fixbridge.normalize.instrument import (
    InstrumentEvent,
    instrument_scales,
    normalize_instrument,
)
from fixbridge.normalize.position import normalize_position
from fixbridge.normalize.timestamps import timestamp_ns
from fixbridge.normalize.trade import TradeEvent, normalize_trade
from fixbridge.proto.polymarket.v1 import (
    dropcopy_pb2,
    enums_pb2,
    orders_pb2,
    refdata_pb2,
    trading_pb2,
)
from fixbridge.upstream.orders import OrderMemory, link_cl_ord_ids, settle_busts
from fixbridge.upstream.scales import ScaleBook

log = logging.getLogger("fixbridge.upstream")

SCALE_WAIT_S = 30.0

ToJournal = Callable[[Sequence[Any], EventLog, int], list[NewEvent]]


@dataclass(frozen=True, slots=True)
class StreamSpec:
    name: str  # the journal's stream name and the session scope's message kind
    rpc: str  # DropCopyAPIStub method
    request_type: Callable[..., Any]
    events_field: str  # repeated field of the response holding the events
    firm_filter: bool  # whether the request takes `firms`
    # One response's events -> journal entries, in stream order, given the journal's memory
    # and when the response was received.
    to_journal: ToJournal
    before_store: Callable[[Any], Awaitable[None]] | None = None

    def journal_events(
        self, upstream: Sequence[Any], journal: EventLog, received_at_ns: int
    ) -> list[NewEvent]:
        """The journal entries for one response's events, in stream order."""
        return self.to_journal(upstream, journal, received_at_ns)


def fallback_id(raw: bytes, natural: str, *, exact: bool = True) -> str:
    """A flagged event's identity: its natural key when that is unique on its own (``exact``),
    else the natural key plus a digest of its bytes (two different broken versions of one trade
    must not collide, the same one redelivered must); a digest alone when
    upstream sent no key at all."""
    digest = hashlib.sha256(raw).hexdigest()
    if not natural:
        return "sha256:" + digest
    return natural if exact else f"{natural}:sha256:{digest[:32]}"


_Prepared = list[tuple[Any, bytes, Any]]


def _prepare(
    upstream: Sequence[Any],
    convert: Callable[[Any], Any],
    flagged: Callable[[Any, bytes, str], NewEvent],
) -> _Prepared:
    """Each upstream message with its bytes and its normalized event, or its flagged entry."""
    prepared: _Prepared = []
    for message in upstream:
        raw = message.SerializeToString(deterministic=True)
        try:
            prepared.append((message, raw, convert(message)))
        except NormalizationError as exc:
            prepared.append((message, raw, flagged(message, raw, str(exc))))
    return prepared


def _flagged_execution(execution: trading_pb2.Execution, raw: bytes, reason: str) -> NewEvent:
    when = timestamp_ns(execution.transact_time.seconds, execution.transact_time.nanos)
    return NewEvent(fallback_id(raw, execution.id), when, b"", raw, flagged=reason)


def executions_to_events(
    executions: Sequence[trading_pb2.Execution], memory: OrderMemory, received_at_ns: int = 0
) -> list[NewEvent]:
    """Journal entries for one response's executions (flagged where they cannot be
    normalized), with OrigClOrdID linked from each order's previous ClOrdID and each order's
    totals to remember."""
    prepared = _prepare(executions, normalize_execution, _flagged_execution)
    normalized = [item for _, _, item in prepared if isinstance(item, ExecutionEvent)]
    linked = iter(link_cl_ord_ids(normalized, memory))
    events: list[NewEvent] = []
    for _, raw, item in prepared:
        if isinstance(item, NewEvent):
            events.append(item)
            continue
        done = next(linked)
        event = done.event
        events.append(
            NewEvent(
                event.exec_id, event.transact_time_ns, event.to_payload(), raw, order=done.order,
                decoded=event,
            )
        )
    return events


class _NoMemory:
    def latest_orders(self, order_ids: Collection[str]) -> dict[str, KnownOrder]:
        return {}

    def latest_cl_ord_ids(self, order_ids: Collection[str]) -> dict[str, str]:
        return {}

    def order_busts(self, order_ids: Collection[str]) -> dict[str, list[tuple[str, BustedFill]]]:
        return {}

    def order_fills(self, order_ids: Collection[str]) -> dict[str, list[Fill]]:
        return {}

    def journaled_ids(self, stream: str, upstream_ids: Collection[str]) -> set[str]:
        return set()


NO_MEMORY: OrderMemory = _NoMemory()
"""An order memory that knows nothing (an event seen alone, tests)."""


def execution_to_event(execution: trading_pb2.Execution) -> NewEvent:
    """The journal entry for one execution seen alone (no earlier ClOrdID known)."""
    return executions_to_events([execution], NO_MEMORY)[0]


def _flagged_trade(trade: orders_pb2.Trade, raw: bytes, reason: str) -> NewEvent:
    when = trade.aggressor.transact_time
    natural = f"{trade.id}:{trade.state}:unnormalized" if trade.id else ""
    transact = timestamp_ns(when.seconds, when.nanos)
    return NewEvent(fallback_id(raw, natural, exact=False), transact, b"", raw, flagged=reason)


def trades_to_events(
    trades: Sequence[orders_pb2.Trade], memory: OrderMemory, received_at_ns: int
) -> list[NewEvent]:
    """Journal entries for one response's trades (a later state of a trade is a new event);
    a BUSTED one is settled against its orders, received at ``received_at_ns``; one that
    cannot be (it busts more than its order has filled) is kept flagged, under the identity it
    would have had."""
    prepared = _prepare(trades, normalize_trade, _flagged_trade)
    normalized = [item for _, _, item in prepared if isinstance(item, TradeEvent)]
    settled = iter(settle_busts(normalized, memory, received_at_ns))
    events: list[NewEvent] = []
    for _, raw, item in prepared:
        if isinstance(item, NewEvent):
            events.append(item)
            continue
        done = next(settled)
        event = done.event
        if done.error is not None:
            # Readable, but not settled against what the journal knew then: kept flagged under
            # the trade state's own identity, so a redelivery that could be settled later is
            # still a duplicate, never a second record of the same state.
            events.append(NewEvent(
                event.upstream_id, event.transact_time_ns, b"", raw, flagged=done.error))
            continue
        events.append(
            NewEvent(
                event.upstream_id, event.transact_time_ns, event.to_payload(), raw,
                busts=done.busts,
            )
        )
    return events


def trade_to_event(trade: orders_pb2.Trade, received_at_ns: int = 1) -> NewEvent:
    """A trade seen alone, in one state (no order memory)."""
    return trades_to_events([trade], NO_MEMORY, received_at_ns)[0]


class InstrumentMemory(Protocol):
    """What instrument dedup needs from the journal (``SqliteJournal`` is one)."""

    def latest_instruments(self, symbols: Collection[str]) -> Mapping[str, LatestInstrument]: ...


def instruments_to_events(
    instruments: Sequence[refdata_pb2.Instrument],
    memory: InstrumentMemory,
    received_at_ns: int,
    scales: ScaleBook | None = None,
) -> list[NewEvent]:
    """Journal entries for one response's instruments, received at ``received_at_ns``.

    An instrument saying what its symbol's last journaled one says (the snapshot sent on every
    connect) gets that one's identity, so the journal drops it as a duplicate; a change gets a
    new identity. After one that cannot be read (kept flagged), the symbol's state is unknown
    and the next readable one is a change. Scales are learned from every message that has
    usable ones, before anything else is checked, so an instrument refused for another reason
    still teaches them.
    """
    latest = {
        symbol: (known.content, known.upstream_id)
        for symbol, known in memory.latest_instruments(
            {i.symbol for i in instruments if i.symbol}
        ).items()
    }
    events: list[NewEvent] = []
    for index, instrument in enumerate(instruments):
        raw = instrument.SerializeToString(deterministic=True)
        if scales is not None and instrument.symbol:
            with contextlib.suppress(NormalizationError):
                scales.update(instrument.symbol, *instrument_scales(instrument))
        try:
            event = normalize_instrument(instrument, received_at_ns=received_at_ns)
        except NormalizationError as exc:
            if not instrument.symbol:
                events.append(NewEvent(
                    fallback_id(raw, ""), received_at_ns, b"", raw, flagged=str(exc)))
                continue
            # Instruments carry no time, so the same unreadable bytes can come again later as a
            # new state: like a readable one, it is a repeat only of the symbol's latest state.
            # Until a readable one comes, the symbol's state is unknown.
            content = f"unreadable sha256:{hashlib.sha256(raw).hexdigest()}"
            known = latest.get(instrument.symbol)
            if known is not None and known[0] == content:
                flagged_id = known[1]
            else:
                flagged_id = (f"{instrument.symbol}:{instrument.state}:unnormalized:"
                              f"{received_at_ns}:{index}")
                latest[instrument.symbol] = (content, flagged_id)
            events.append(NewEvent(
                flagged_id, received_at_ns, b"", raw, flagged=str(exc),
                instrument=(instrument.symbol, content),
            ))
            continue
        known = latest.get(event.symbol)
        if known is not None and known[0] == event.content:
            upstream_id = known[1]  # nothing changed: the journal drops it
        else:
            upstream_id = _instrument_id(event, received_at_ns, index)
            latest[event.symbol] = (event.content, upstream_id)
        events.append(
            NewEvent(
                upstream_id, event.transact_time_ns, event.to_payload(), raw,
                instrument=(event.symbol, event.content),
            )
        )
    return events


def _instrument_id(event: InstrumentEvent, received_at_ns: int, index: int) -> str:
    """A new state's identity: symbol, state, receipt time and place in its response."""
    return f"{event.symbol}:{event.state}:{received_at_ns}:{index}"


def _one_by_one(convert: Callable[[Any], NewEvent]) -> ToJournal:
    """A stream whose events need no memory and no receipt time."""

    def to_journal(upstream: Sequence[Any], journal: EventLog, received_ns: int) -> list[NewEvent]:
        return [convert(message) for message in upstream]

    return to_journal


class ExecutionsProgress(Protocol):
    def resume_anchor_ns(self, stream: str) -> int | None: ...


EXECUTIONS_WAIT_S = 5.0
_EXECUTIONS_POLL_S = 0.01


def executions_first(
    journal: ExecutionsProgress, wait_s: float = EXECUTIONS_WAIT_S
) -> Callable[[Any], Awaitable[None]]:
    """The trades stream's wait before a response holding a BUSTED trade is journaled: until
    the executions stream is journaled up to the point in time the trades stream has reached
    (its trades' aggressor times so far), at most ``wait_s``. A bust is settled against its
    orders' fills, which the other stream brings; the two streams replay and run
    independently, and a bust settled before the fills that preceded it are journaled would
    report the orders as they were before those fills. Past the bound the bust is settled
    against what is journaled (the executions stream may carry other firms' aggressors, or be
    quiet): never a hang."""
    reached = 0

    async def wait(response: Any) -> None:
        nonlocal reached
        busted = False
        for trade in response.trade_capture_reports:
            when = trade.aggressor.transact_time
            reached = max(reached, timestamp_ns(when.seconds, when.nanos))
            busted = busted or trade.state == enums_pb2.TRADE_STATE_BUSTED
        if not busted:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while (journal.resume_anchor_ns("executions") or 0) < reached:
            if loop.time() >= deadline:
                return
            await asyncio.sleep(_EXECUTIONS_POLL_S)

    return wait


def build_stream_specs(scales: ScaleBook) -> dict[str, StreamSpec]:
    """Every stream's row; instruments feed ``scales``, positions read them."""

    def position_to_event(change: dropcopy_pb2.PositionChange) -> NewEvent:
        raw = change.SerializeToString(deterministic=True)
        position = change.position
        known = scales.get(position.symbol)
        try:
            event = normalize_position(
                change,
                price_scale=known[0] if known else None,
                quantity_scale=known[1] if known else None,
            )
        except NormalizationError as exc:
            update = timestamp_ns(position.update_time.seconds, position.update_time.nanos)
            natural = f"{position.account}:{position.symbol}:{update}" if position.symbol else ""
            return NewEvent(fallback_id(raw, natural), update, b"", raw, flagged=str(exc))
        return NewEvent(event.upstream_id, event.transact_time_ns, event.to_payload(), raw)

    given_up: set[str] = set()

    async def wait_for_scales(
        response: dropcopy_pb2.CreatePositionChangeSubscriptionResponse,
    ) -> None:
        symbols = {
            c.position.symbol for c in response.position_changes
            if c.position.symbol and c.position.symbol not in given_up
        }
        if not await scales.wait_for(symbols, SCALE_WAIT_S):
            missing = sorted(s for s in symbols if scales.get(s) is None)
            # Waited once: later positions of these symbols do not hold the stream up again
            # (they are flagged at once until the instrument stream brings the scales).
            given_up.update(missing)
            log.error(
                "positions for %s arrived with no known scales after %.0f s; kept but flagged",
                ", ".join(missing),
                SCALE_WAIT_S,
            )

    def instruments(
        upstream: Sequence[refdata_pb2.Instrument], journal: EventLog, received_at_ns: int
    ) -> list[NewEvent]:
        return instruments_to_events(upstream, journal, received_at_ns, scales)

    specs = (
        StreamSpec(
            "executions",
            "CreateDropCopySubscription",
            dropcopy_pb2.CreateDropCopySubscriptionRequest,
            "executions",
            True,
            executions_to_events,
        ),
        StreamSpec(
            "trades",
            "CreateTradeCaptureReportSubscription",
            dropcopy_pb2.CreateTradeCaptureReportSubscriptionRequest,
            "trade_capture_reports",
            True,
            trades_to_events,
        ),
        StreamSpec(
            "instruments",
            "CreateInstrumentStateChangeSubscription",
            dropcopy_pb2.CreateInstrumentStateChangeSubscriptionRequest,
            "instruments",
            False,
            instruments,
        ),
        StreamSpec(
            "positions",
            "CreatePositionChangeSubscription",
            dropcopy_pb2.CreatePositionChangeSubscriptionRequest,
            "position_changes",
            True,
            _one_by_one(position_to_event),
            wait_for_scales,
        ),
    )
    return {spec.name: spec for spec in specs}


STREAM_NAMES = ("executions", "trades", "instruments", "positions")
# Streams that need another one to be consumed too.
DEPENDS_ON = {"positions": ("instruments",), "settlements": ("instruments",)}
