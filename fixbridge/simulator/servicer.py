"""The four DropCopyAPI server streams, served from the simulator's event logs.

Each stream opens a :class:`~fixbridge.simulator.subscription.Subscription` (bad requests end
with INVALID_ARGUMENT and a message), then reads its log from the start position: it skips
events the subscription does not want, sends the rest in batches of up to ``batch_size`` per
response, and when it reaches the end of the log waits for the producer's next :class:`Pulse`.
Every response carries a resume token covering everything read so far, including skipped
events. A stream that sent nothing for ``heartbeat_interval`` seconds sends a response with a
token and no events. The instrument-state stream first sends the current state of every
(selected) symbol. This module reads logs; it must never produce events or change the logs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Collection
from typing import Any, TypeVar

import grpc

from fixbridge.proto.polymarket.v1 import dropcopy_pb2, dropcopy_pb2_grpc, refdata_pb2
from fixbridge.simulator.store import EventLog, EventStore
from fixbridge.simulator.streams import E, Stream
from fixbridge.simulator.subscription import Subscription, SubscriptionError, open_subscription
from fixbridge.simulator.times import from_timestamp
from fixbridge.simulator.tokens import ResumeToken

R = TypeVar("R")

SCAN_LIMIT = 5_000
"""Most log entries one stream looks at before it lets other tasks run."""


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
    ) -> None:
        self._store = store
        self._pulse = pulse
        self._instance = instance
        self._symbols = known_symbols
        self._firms = known_firms
        self._heartbeat = heartbeat_interval
        self._batch = batch_size

    async def CreateDropCopySubscription(
        self, request: dropcopy_pb2.CreateDropCopySubscriptionRequest, context: Any
    ) -> AsyncIterator[dropcopy_pb2.CreateDropCopySubscriptionResponse]:
        log = self._store.executions
        subscription = await self._open(log, request, request.firms, context)
        async for response in self._follow(
            log, subscription,
            lambda token, events: dropcopy_pb2.CreateDropCopySubscriptionResponse(
                resume_token=token, executions=events),
        ):
            yield response

    async def CreateTradeCaptureReportSubscription(
        self, request: dropcopy_pb2.CreateTradeCaptureReportSubscriptionRequest, context: Any
    ) -> AsyncIterator[dropcopy_pb2.CreateTradeCaptureReportSubscriptionResponse]:
        log = self._store.trades
        subscription = await self._open(log, request, request.firms, context)
        async for response in self._follow(
            log, subscription,
            lambda token, events: dropcopy_pb2.CreateTradeCaptureReportSubscriptionResponse(
                resume_token=token, trade_capture_reports=events),
        ):
            yield response

    async def CreatePositionChangeSubscription(
        self, request: dropcopy_pb2.CreatePositionChangeSubscriptionRequest, context: Any
    ) -> AsyncIterator[dropcopy_pb2.CreatePositionChangeSubscriptionResponse]:
        log = self._store.position_changes
        subscription = await self._open(log, request, request.firms, context)
        async for response in self._follow(
            log, subscription,
            lambda token, events: dropcopy_pb2.CreatePositionChangeSubscriptionResponse(
                resume_token=token, position_changes=events),
        ):
            yield response

    async def CreateInstrumentStateChangeSubscription(
        self,
        request: dropcopy_pb2.CreateInstrumentStateChangeSubscriptionRequest,
        context: Any,
    ) -> AsyncIterator[dropcopy_pb2.CreateInstrumentStateChangeSubscriptionResponse]:
        """``slow_consumer_skip_to_head`` is accepted and has no effect: the simulator keeps
        every event, so a slow reader is never cut off and never needs to skip."""
        log = self._store.instruments
        subscription = await self._open(log, request, (), context)

        def respond(
            token: bytes, events: list[refdata_pb2.Instrument]
        ) -> dropcopy_pb2.CreateInstrumentStateChangeSubscriptionResponse:
            return dropcopy_pb2.CreateInstrumentStateChangeSubscriptionResponse(
                resume_token=token, instruments=events)

        snapshot = [
            i for i in self._store.instrument_snapshot()
            if not subscription.symbols or i.symbol in subscription.symbols
        ]
        token = self._token(Stream.INSTRUMENTS, subscription.start)
        for first in range(0, len(snapshot), self._batch):
            yield respond(token, snapshot[first:first + self._batch])
        async for response in self._follow(log, subscription, respond):
            yield response

    async def _open(
        self,
        log: EventLog[Any],
        request: Any,
        firms: Collection[str],
        context: Any,
    ) -> Subscription:
        try:
            return open_subscription(
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
            )
        except SubscriptionError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise  # context.abort raises; this line only satisfies the type checker

    def _token(self, stream: Stream, position: int) -> bytes:
        return ResumeToken(self._instance, stream, position).encode()

    async def _follow(
        self,
        log: EventLog[E],
        subscription: Subscription,
        respond: Callable[[bytes, list[E]], R],
    ) -> AsyncIterator[R]:
        """Replay from the subscription's start, then follow the log live, forever."""
        loop = asyncio.get_running_loop()
        cursor = subscription.start
        last_sent = loop.time()
        while True:
            woken = self._pulse.wait()
            entries = log.read(cursor, SCAN_LIMIT)
            if entries:
                batch: list[E] = []
                for entry in entries:
                    cursor += 1
                    if subscription.wants(entry):
                        batch.append(entry.event)
                        if len(batch) == self._batch:
                            break
                if batch:
                    yield respond(self._token(log.stream, cursor), batch)
                    last_sent = loop.time()
                else:
                    await asyncio.sleep(0)
                continue
            quiet = loop.time() - last_sent
            if quiet >= self._heartbeat:
                yield respond(self._token(log.stream, cursor), [])
                last_sent = loop.time()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), self._heartbeat - quiet)
