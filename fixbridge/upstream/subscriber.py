"""Consume one DropCopyAPI stream into the journal, resuming where the journal stopped.

Each response's events and its resume token are journaled in one transaction (events already
journaled are skipped by upstream id), so the stored token never runs ahead of stored data and
a restart resumes exactly after the last durable response. An event that cannot be normalized
is still journaled, flagged with the reason, and counted; the stream goes on. Failures
reconnect with exponential backoff and jitter; the RPC itself has no deadline. The same code
serves every stream: what differs is its row in ``streams.build_stream_specs``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

import grpc

from fixbridge.config import UpstreamConfig
from fixbridge.journal.store import Journal
from fixbridge.proto.polymarket.v1 import dropcopy_pb2_grpc
from fixbridge.upstream.channel import open_channel
from fixbridge.upstream.streams import StreamSpec

log = logging.getLogger("fixbridge.upstream")

HEALTHY_AFTER_S = 30.0


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


class StreamSubscriber:
    def __init__(
        self,
        spec: StreamSpec,
        config: UpstreamConfig,
        journal: Journal,
        on_stored: Callable[[], None],
        clock: Callable[[], int],
    ) -> None:
        self.spec = spec
        self._config = config
        self._journal = journal
        self._on_stored = on_stored
        self._clock = clock
        self._backoff = Backoff(config.reconnect_initial_s, config.reconnect_max_s)
        self.connected = False
        self.events_stored = 0
        self.duplicates = 0
        self.flagged = 0

    def request(self) -> Any:
        request = self.spec.request_type(symbols=list(self._config.symbols))
        if self.spec.firm_filter:
            request.firms.extend(self._config.firms)
        token = self._journal.resume_token(self.spec.name)
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
                log.exception("%s stream failed unexpectedly", self.spec.name)
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                self.connected = False
                await channel.close()
            delay = self._backoff.next_delay()
            log.warning(
                "%s stream lost (%s); reconnecting in %.1f s", self.spec.name, reason, delay
            )
            await asyncio.sleep(delay)

    async def _consume(self, channel: grpc.aio.Channel) -> None:
        stub = dropcopy_pb2_grpc.DropCopyAPIStub(channel)  # type: ignore[no-untyped-call]
        request = self.request()
        mode = (
            "resume_token"
            if request.resume_token
            else ("resume_time" if request.HasField("resume_time") else "live")
        )
        log.info("%s stream connecting to %s (%s)", self.spec.name, self._config.target, mode)
        call = getattr(stub, self.spec.rpc)(request)
        healthy_since: float | None = None
        loop = asyncio.get_running_loop()
        async for response in call:
            if not self.connected:
                self.connected = True
                healthy_since = loop.time()
                log.info("%s stream connected", self.spec.name)
            if self.spec.before_store is not None:
                await self.spec.before_store(response)
            self._store(response)
            if healthy_since is not None and loop.time() - healthy_since >= HEALTHY_AFTER_S:
                self._backoff.reset()
                healthy_since = None

    def _store(self, response: Any) -> None:
        events = self.spec.journal_events(getattr(response, self.spec.events_field), self._journal)
        for event in events:
            if event.flagged is not None:
                self.flagged += 1
                log.error(
                    "%s event %s kept but flagged: %s",
                    self.spec.name,
                    event.upstream_id,
                    event.flagged,
                )
        result = self._journal.append(self.spec.name, events, response.resume_token, self._clock())
        self.events_stored += result.stored
        self.duplicates += result.duplicates
        if result.stored:
            self._on_stored()
