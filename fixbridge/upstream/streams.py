"""The four DropCopyAPI streams as data: how to ask for each and how to journal its events.

One row per stream: the RPC, its request type, the response field that holds the events, the
filters it accepts, how one upstream message becomes a journal entry (normalized, or kept
and flagged when it cannot be), and an optional wait before a response is stored (positions
wait for their symbols' scales). The subscriber is the same code for every row.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from fixbridge.journal.store import Journal, NewEvent
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.execution import ExecutionEvent, normalize_execution
from fixbridge.normalize.instrument import normalize_instrument
from fixbridge.normalize.position import normalize_position
from fixbridge.normalize.timestamps import timestamp_ns
from fixbridge.normalize.trade import normalize_trade
from fixbridge.proto.polymarket.v1 import dropcopy_pb2, orders_pb2, refdata_pb2, trading_pb2
from fixbridge.upstream.orders import OrderMemory, link_cl_ord_ids
from fixbridge.upstream.scales import ScaleBook

log = logging.getLogger("fixbridge.upstream")

SCALE_WAIT_S = 30.0


@dataclass(frozen=True, slots=True)
class StreamSpec:
    name: str  # the journal's stream name and the session scope's message kind
    rpc: str  # DropCopyAPIStub method
    request_type: Callable[..., Any]
    events_field: str  # repeated field of the response holding the events
    firm_filter: bool  # whether the request takes `firms`
    to_journal: Callable[[Any], NewEvent]
    before_store: Callable[[Any], Awaitable[None]] | None = None
    # For streams whose events depend on earlier ones (executions: OrigClOrdID), the whole
    # response at once, with the journal's memory of each order.
    to_journal_batch: Callable[[Sequence[Any], OrderMemory], list[NewEvent]] | None = None

    def journal_events(self, upstream: Sequence[Any], journal: Journal) -> list[NewEvent]:
        """The journal entries for one response's events, in stream order."""
        if self.to_journal_batch is not None:
            return self.to_journal_batch(upstream, journal)
        return [self.to_journal(event) for event in upstream]


def _fallback_id(raw: bytes, natural: str, *, exact: bool = True) -> str:
    """A flagged event's identity: its natural key when that is unique on its own (``exact``),
    else the natural key plus a digest of its bytes (two different broken versions of one trade
    or instrument must not collide, the same one redelivered must); a digest alone when
    upstream sent no key at all."""
    digest = hashlib.sha256(raw).hexdigest()
    if not natural:
        return "sha256:" + digest
    return natural if exact else f"{natural}:sha256:{digest[:32]}"


def executions_to_events(
    executions: Sequence[trading_pb2.Execution], memory: OrderMemory
) -> list[NewEvent]:
    """Journal entries for one response's executions (flagged where they cannot be
    normalized), with OrigClOrdID linked from each order's previous ClOrdID."""
    prepared: list[tuple[bytes, ExecutionEvent | NewEvent]] = []
    for execution in executions:
        raw = execution.SerializeToString(deterministic=True)
        try:
            prepared.append((raw, normalize_execution(execution)))
        except NormalizationError as exc:
            when = timestamp_ns(execution.transact_time.seconds, execution.transact_time.nanos)
            flagged = NewEvent(_fallback_id(raw, execution.id), when, b"", raw, flagged=str(exc))
            prepared.append((raw, flagged))
    normalized = [item for _, item in prepared if isinstance(item, ExecutionEvent)]
    linked = iter(link_cl_ord_ids(normalized, memory))
    events: list[NewEvent] = []
    for raw, item in prepared:
        if isinstance(item, NewEvent):
            events.append(item)
            continue
        done = next(linked)
        event = done.event
        events.append(
            NewEvent(
                event.exec_id, event.transact_time_ns, event.to_payload(), raw, order_link=done.link
            )
        )
    return events


def execution_to_event(execution: trading_pb2.Execution) -> NewEvent:
    """The journal entry for one execution seen alone (no earlier ClOrdID known)."""
    return executions_to_events([execution], NO_MEMORY)[0]


class _NoMemory:
    def latest_cl_ord_ids(self, order_ids: Collection[str]) -> dict[str, str]:
        return {}

    def journaled_ids(self, stream: str, upstream_ids: Collection[str]) -> set[str]:
        return set()


NO_MEMORY: OrderMemory = _NoMemory()
"""An order memory that knows nothing (an execution seen alone, tests)."""


def trade_to_event(trade: orders_pb2.Trade) -> NewEvent:
    """A trade in one state (a later state of the same trade is a new event)."""
    raw = trade.SerializeToString(deterministic=True)
    try:
        event = normalize_trade(trade)
    except NormalizationError as exc:
        when = trade.aggressor.transact_time
        natural = f"{trade.id}:{trade.state}:unnormalized" if trade.id else ""
        transact = timestamp_ns(when.seconds, when.nanos)
        flagged_id = _fallback_id(raw, natural, exact=False)
        return NewEvent(flagged_id, transact, b"", raw, flagged=str(exc))
    return NewEvent(event.upstream_id, event.transact_time_ns, event.to_payload(), raw)


def build_stream_specs(scales: ScaleBook) -> dict[str, StreamSpec]:
    """Every stream's row; instruments feed ``scales``, positions read them."""

    def instrument_to_event(instrument: refdata_pb2.Instrument) -> NewEvent:
        raw = instrument.SerializeToString(deterministic=True)
        try:
            event = normalize_instrument(instrument)
        except NormalizationError as exc:
            natural = (
                f"{instrument.symbol}:{instrument.state}:unnormalized" if instrument.symbol else ""
            )
            return NewEvent(_fallback_id(raw, natural, exact=False), 0, b"", raw, flagged=str(exc))
        scales.update(event.symbol, event.price_scale, event.quantity_scale)
        return NewEvent(event.upstream_id, event.transact_time_ns, event.to_payload(), raw)

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
            return NewEvent(_fallback_id(raw, natural), update, b"", raw, flagged=str(exc))
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

    specs = (
        StreamSpec(
            "executions",
            "CreateDropCopySubscription",
            dropcopy_pb2.CreateDropCopySubscriptionRequest,
            "executions",
            True,
            execution_to_event,
            to_journal_batch=executions_to_events,
        ),
        StreamSpec(
            "trades",
            "CreateTradeCaptureReportSubscription",
            dropcopy_pb2.CreateTradeCaptureReportSubscriptionRequest,
            "trade_capture_reports",
            True,
            trade_to_event,
        ),
        StreamSpec(
            "instruments",
            "CreateInstrumentStateChangeSubscription",
            dropcopy_pb2.CreateInstrumentStateChangeSubscriptionRequest,
            "instruments",
            False,
            instrument_to_event,
        ),
        StreamSpec(
            "positions",
            "CreatePositionChangeSubscription",
            dropcopy_pb2.CreatePositionChangeSubscriptionRequest,
            "position_changes",
            True,
            position_to_event,
            wait_for_scales,
        ),
    )
    return {spec.name: spec for spec in specs}


STREAM_NAMES = ("executions", "trades", "instruments", "positions")
# Streams that need another one to be consumed too.
DEPENDS_ON = {"positions": ("instruments",)}
