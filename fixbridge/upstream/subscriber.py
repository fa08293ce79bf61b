"""Consume CreateDropCopySubscription into the journal, resuming where the journal stopped.

Each response's events and its resume token are journaled in one transaction (events already
journaled are skipped by upstream id), so the stored token never runs ahead of stored data and
a restart resumes exactly after the last durable response. An execution that cannot be
normalized is still journaled, flagged with the reason, and counted; the stream goes on.
Failures reconnect with exponential backoff and jitter; the RPC itself has no deadline.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Callable
from datetime import datetime

import grpc

from fixbridge.config import UpstreamConfig
from fixbridge.journal.store import Journal, NewEvent
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.execution import normalize_execution
from fixbridge.normalize.timestamps import timestamp_ns
from fixbridge.proto.polymarket.v1 import dropcopy_pb2, dropcopy_pb2_grpc, trading_pb2
from fixbridge.upstream.channel import open_channel

log = logging.getLogger("fixbridge.upstream")

STREAM = "executions"
HEALTHY_AFTER_S = 30.0


def execution_to_event(execution: trading_pb2.Execution) -> NewEvent:
    """The journal entry for one upstream execution (flagged if it cannot be normalized)."""
    raw = execution.SerializeToString(deterministic=True)
    transact = timestamp_ns(execution.transact_time.seconds, execution.transact_time.nanos)
    try:
        event = normalize_execution(execution)
    except NormalizationError as exc:
        upstream_id = execution.id or "sha256:" + hashlib.sha256(raw).hexdigest()
        return NewEvent(upstream_id, transact, b"", raw, flagged=str(exc))
    return NewEvent(event.exec_id, event.transact_time_ns, event.to_payload(), raw)


class Backoff:
    """1 s doubling to a cap, with jitter; reset once a stream has been healthy a while."""

    def __init__(self, initial_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self._initial = initial_s
        self._max = max_s
        self._next = initial_s
        self._rng = rng or random.Random()

    def reset(self) -> None:
        self._next = self._initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self._max)
        return delay * self._rng.uniform(0.5, 1.0)


class ExecutionSubscriber:
    def __init__(
        self,
        config: UpstreamConfig,
        journal: Journal,
        on_stored: Callable[[], None],
        clock: Callable[[], int],
    ) -> None:
        self._config = config
        self._journal = journal
        self._on_stored = on_stored
        self._clock = clock
        self._backoff = Backoff(config.reconnect_initial_s, config.reconnect_max_s)
        self.connected = False
        self.events_stored = 0
        self.duplicates = 0
        self.flagged = 0

    def request(self) -> dropcopy_pb2.CreateDropCopySubscriptionRequest:
        request = dropcopy_pb2.CreateDropCopySubscriptionRequest(
            symbols=list(self._config.symbols), firms=list(self._config.firms)
        )
        token = self._journal.resume_token(STREAM)
        if token:
            request.resume_token = token
        elif isinstance(self._config.start_from, datetime):
            request.resume_time.FromDatetime(self._config.start_from)
        return request

    async def run(self) -> None:
        """Subscribe until cancelled."""
        while True:
            channel = open_channel(self._config)
            try:
                await self._consume(channel)
                reason = "stream ended by the exchange"
            except grpc.aio.AioRpcError as exc:
                reason = f"{exc.code().name}: {exc.details()}"
            except Exception as exc:  # journal or decoding trouble: log it, keep the service up
                log.exception("%s stream failed unexpectedly", STREAM)
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                self.connected = False
                await channel.close()
            delay = self._backoff.next_delay()
            log.warning("%s stream lost (%s); reconnecting in %.1f s", STREAM, reason, delay)
            await asyncio.sleep(delay)

    async def _consume(self, channel: grpc.aio.Channel) -> None:
        stub = dropcopy_pb2_grpc.DropCopyAPIStub(channel)  # type: ignore[no-untyped-call]
        request = self.request()
        mode = (
            "resume_token"
            if request.resume_token
            else ("resume_time" if request.HasField("resume_time") else "live")
        )
        log.info("%s stream connecting to %s (%s)", STREAM, self._config.target, mode)
        call = stub.CreateDropCopySubscription(request)
        healthy_since: float | None = None
        loop = asyncio.get_running_loop()
        async for response in call:
            if not self.connected:
                self.connected = True
                healthy_since = loop.time()
                log.info("%s stream connected", STREAM)
            self._store(response)
            if healthy_since is not None and loop.time() - healthy_since >= HEALTHY_AFTER_S:
                self._backoff.reset()
                healthy_since = None

    def _store(self, response: dropcopy_pb2.CreateDropCopySubscriptionResponse) -> None:
        events = [execution_to_event(e) for e in response.executions]
        for event in events:
            if event.flagged is not None:
                self.flagged += 1
                log.error("execution %s kept but flagged: %s", event.upstream_id, event.flagged)
        result = self._journal.append(STREAM, events, response.resume_token, self._clock())
        self.events_stored += result.stored
        self.duplicates += result.duplicates
        if result.stored:
            self._on_stored()
