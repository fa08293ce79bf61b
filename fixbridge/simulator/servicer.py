"""The four DropCopyAPI server streams, served from the simulator's event logs.

Each stream opens a :class:`~fixbridge.simulator.subscription.Subscription` (bad requests end
with INVALID_ARGUMENT and a message), then reads its log from the start position: it skips
events the subscription does not want, sends the rest in batches of up to ``batch_size`` per
response, and when it reaches the end of the log waits for the producer's next :class:`Pulse`.
Every response carries a resume token covering everything read so far, including skipped
events. A stream that sent nothing for ``heartbeat_interval`` seconds sends a response with a
token and no events. The instrument-state stream first sends the current state of every
(selected) symbol and then only the changes after it: it never replays from a token (spec §4.8).

Faults (:class:`~fixbridge.simulator.faults.FaultPlan`) come in at five points: an open may be
refused before anything else; expired tokens and a ``resume_time`` before the replay window are
refused with their own status codes (FAILED_PRECONDITION, OUT_OF_RANGE); a resumed stream may
start a few events early (overlap); and around every response the stream may be held silent
(stall), dropped (every open stream at once) or, with more of the log unread, aborted with
UNAVAILABLE, each between two complete responses, so the last token a client got still covers
exactly what it was sent; and an event the plan hides (``drop_events``) is skipped as if the
subscription did not want it.
This module reads logs; it must never produce events or change the logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Collection
from typing import Any, TypeVar

import grpc

from fixbridge.proto.polymarket.v1 import dropcopy_pb2, dropcopy_pb2_grpc, refdata_pb2
from fixbridge.simulator.faults import ABORT_MESSAGE, FaultKind, FaultPlan
from fixbridge.simulator.store import EventLog, EventStore
from fixbridge.simulator.streams import E, Stream
from fixbridge.simulator.subscription import (
    BeforeReplayWindow,
    Subscription,
    SubscriptionError,
    TokenExpired,
    open_subscription,
)
from fixbridge.simulator.times import from_timestamp
from fixbridge.simulator.tokens import ResumeToken

R = TypeVar("R")

SCAN_LIMIT = 5_000
"""Most log entries one stream looks at before it lets other tasks run."""

REFUSALS: tuple[tuple[type[SubscriptionError], grpc.StatusCode, FaultKind | None], ...] = (
    (TokenExpired, grpc.StatusCode.FAILED_PRECONDITION, FaultKind.EXPIRED_TOKEN_REFUSED),
    (BeforeReplayWindow, grpc.StatusCode.OUT_OF_RANGE, FaultKind.REPLAY_WINDOW_REFUSED),
    (SubscriptionError, grpc.StatusCode.INVALID_ARGUMENT, None),
)
"""How a refused subscription ends (first matching class wins) and what the plan counts."""


class Pulse:
    """Wakes every stream waiting for new events. Lives in the event loop's thread."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def wait(self) -> asyncio.Event:
        """The event the next :meth:`fire` sets; take it before checking for new events."""
        return self._event

    def fire(self) -> None:
        fired, self._event = self._event, asyncio.Event()
        fired.set()


class DropCopyServicer(dropcopy_pb2_grpc.DropCopyAPIServicer):
    def __init__(
        self,
        store: EventStore,
        pulse: Pulse,
        *,
        instance: str,
        known_symbols: Collection[str],
        known_firms: Collection[str],
        heartbeat_interval: float,
        batch_size: int,
        faults: FaultPlan | None = None,
    ) -> None:
        self._store = store
        self._pulse = pulse
        self._instance = instance
        self._symbols = known_symbols
        self._firms = known_firms
        self._heartbeat = heartbeat_interval
        self._batch = batch_size
        self._faults = faults if faults is not None else FaultPlan()

    async def CreateDropCopySubscription(
        self, request: dropcopy_pb2.CreateDropCopySubscriptionRequest, context: Any
    ) -> AsyncIterator[dropcopy_pb2.CreateDropCopySubscriptionResponse]:
        log = self._store.executions
        call = await self._open(log, request, request.firms, context)
        async for response in self._follow(
            log, call,
            lambda token, events: dropcopy_pb2.CreateDropCopySubscriptionResponse(
                resume_token=token, executions=events),
        ):
            yield response

    async def CreateTradeCaptureReportSubscription(
        self, request: dropcopy_pb2.CreateTradeCaptureReportSubscriptionRequest, context: Any
    ) -> AsyncIterator[dropcopy_pb2.CreateTradeCaptureReportSubscriptionResponse]:
        log = self._store.trades
        call = await self._open(log, request, request.firms, context)
        async for response in self._follow(
            log, call,
            lambda token, events: dropcopy_pb2.CreateTradeCaptureReportSubscriptionResponse(
                resume_token=token, trade_capture_reports=events),
        ):
            yield response

    async def CreatePositionChangeSubscription(
        self, request: dropcopy_pb2.CreatePositionChangeSubscriptionRequest, context: Any
    ) -> AsyncIterator[dropcopy_pb2.CreatePositionChangeSubscriptionResponse]:
        log = self._store.position_changes
        call = await self._open(log, request, request.firms, context)
        async for response in self._follow(
            log, call,
            lambda token, events: dropcopy_pb2.CreatePositionChangeSubscriptionResponse(
                resume_token=token, position_changes=events),
        ):
            yield response

    async def CreateInstrumentStateChangeSubscription(
        self,
        request: dropcopy_pb2.CreateInstrumentStateChangeSubscriptionRequest,
        context: Any,
    ) -> AsyncIterator[dropcopy_pb2.CreateInstrumentStateChangeSubscriptionResponse]:
        """The current state of every (selected) symbol, then the changes from then on.

        Spec §4.8: this stream "sends a current-state snapshot (paged) on every connect and
        does not rely on the old token", so a resume token or resume_time is checked as on any
        stream and then not replayed from: changes made while the client was away are not sent
        again, only the state they left. ``slow_consumer_skip_to_head`` is accepted and has no
        effect: the simulator keeps every event, so a slow reader is never cut off."""
        log = self._store.instruments
        call = await self._open(log, request, (), context)

        def respond(
            token: bytes, events: list[refdata_pb2.Instrument]
        ) -> dropcopy_pb2.CreateInstrumentStateChangeSubscriptionResponse:
            return dropcopy_pb2.CreateInstrumentStateChangeSubscriptionResponse(
                resume_token=token, instruments=events)

        current, head = self._store.instrument_snapshot_at()
        call.subscription = dataclasses.replace(
            call.subscription, start=head, since_ns=None, overlap_end=0
        )
        symbols = call.subscription.symbols
        snapshot = [i for i in current if not symbols or i.symbol in symbols]
        for first in range(0, len(snapshot), self._batch):
            await self._hold(call)
            yield respond(self._token(Stream.INSTRUMENTS, head),
                          snapshot[first:first + self._batch])
        async for response in self._follow(log, call, respond):
            yield response

    async def _open(
        self,
        log: EventLog[Any],
        request: Any,
        firms: Collection[str],
        context: Any,
    ) -> _Call:
        refusal = self._faults.open_refusal()
        if refusal is not None:
            await context.abort(*refusal)
        drop_epoch = self._faults.drop_epoch()
        now_ns = time.time_ns()
        try:
            subscription = open_subscription(
                log.stream,
                instance=self._instance,
                head=len(log),
                resume_token=request.resume_token,
                resume_time_ns=(
                    from_timestamp(request.resume_time) if request.HasField("resume_time")
                    else None
                ),
                symbols=list(request.symbols),
                firms=list(firms),
                known_symbols=self._symbols,
                known_firms=self._firms,
                now_ns=now_ns,
                limits=self._faults.replay_limits(log.stream, now_ns),
            )
        except SubscriptionError as exc:
            code, counted = next((c, k) for cls, c, k in REFUSALS if isinstance(exc, cls))
            if counted is not None:
                self._faults.record(counted)
            await context.abort(code, str(exc))
            raise  # context.abort raises; this line only satisfies the type checker
        if subscription.resumed:
            overlap = self._faults.overlap_for_resume()
            if overlap:
                subscription = await self._rewind(log, subscription, overlap)
        return _Call(context, subscription, drop_epoch)

    async def _rewind(
        self, log: EventLog[Any], subscription: Subscription, events: int
    ) -> Subscription:
        """The overlap fault: start ``events`` selected events before where the subscription
        would (for a resume_time, before the first event at or after it). Counted if it moved."""
        first = subscription.start
        if subscription.since_ns is not None:
            first = len(log)
            position = subscription.start
            while position < first:
                entries = log.read(position, SCAN_LIMIT)
                hit = next((i for i, e in enumerate(entries) if subscription.wants(e)), None)
                if hit is not None:
                    first = position + hit
                    break
                position += len(entries)
                await asyncio.sleep(0)
        start, found = first, 0
        while start > 0 and found < events:
            chunk = log.read(max(0, start - SCAN_LIMIT), min(start, SCAN_LIMIT))
            for entry in reversed(chunk):
                start -= 1
                if subscription.selects(entry):
                    found += 1
                    if found == events:
                        break
        if start == first:
            return subscription
        self._faults.record(FaultKind.OVERLAP_ON_RESUME)
        self._faults.record(FaultKind.OVERLAP_EVENTS, first - start)
        return dataclasses.replace(subscription, start=start, overlap_end=first)

    def _token(self, stream: Stream, position: int) -> bytes:
        return ResumeToken(self._instance, stream, position, time.time_ns()).encode()

    async def _hold(self, call: _Call) -> None:
        """Before anything is sent: end the stream if every stream was dropped since it opened,
        and wait out an all-streams stall."""
        while True:
            drop = self._faults.pending_drop(call.drop_epoch)
            if drop is not None:
                await call.context.abort(*drop)
            remaining, call.stall_epoch = self._faults.pending_stall(call.stall_epoch)
            if remaining <= 0:
                return
            await asyncio.sleep(remaining)

    async def _after_response(self, log: EventLog[Any], cursor: int, call: _Call) -> None:
        """Faults between responses: abort while more is unread, or stall this stream."""
        if self._faults.abort_after_response(pending=cursor < len(log)):
            await call.context.abort(grpc.StatusCode.UNAVAILABLE, ABORT_MESSAGE)
        silence = self._faults.stall_after_response()
        if silence > 0:
            await asyncio.sleep(silence)

    async def _follow(
        self,
        log: EventLog[E],
        call: _Call,
        respond: Callable[[bytes, list[E]], R],
    ) -> AsyncIterator[R]:
        """Replay from the subscription's start, then follow the log live, forever."""
        loop = asyncio.get_running_loop()
        subscription = call.subscription
        cursor = subscription.start
        last_sent = loop.time()
        while True:
            woken = self._pulse.wait()
            entries = log.read(cursor, SCAN_LIMIT)
            if entries:
                batch: list[E] = []
                for entry in entries:
                    cursor += 1
                    if subscription.wants_at(cursor - 1, entry) and not self._faults.hides(
                        log.stream, cursor - 1, entry.event
                    ):
                        batch.append(entry.event)
                        if len(batch) == self._batch:
                            break
                if batch:
                    await self._hold(call)
                    yield respond(self._token(log.stream, cursor), batch)
                    last_sent = loop.time()
                    await self._after_response(log, cursor, call)
                else:
                    await asyncio.sleep(0)
                continue
            quiet = loop.time() - last_sent
            if quiet >= self._heartbeat:
                await self._hold(call)
                yield respond(self._token(log.stream, cursor), [])
                last_sent = loop.time()
                await self._after_response(log, cursor, call)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), self._heartbeat - quiet)


@dataclasses.dataclass(slots=True)
class _Call:
    """One open stream: its gRPC context, what it asked for, and the all-streams faults it has
    seen (so each stall counts once per stream, and a drop hits only streams open before it)."""

    context: Any
    subscription: Subscription
    drop_epoch: int
    stall_epoch: int = 0
