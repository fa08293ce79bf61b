"""The simulator's ``polymarket.v1.MarketDataSubscriptionAPI``: both market-data streams,
served from the store's market data log.

CreateMarketDataSubscription (server stream): the request's symbols (empty: every instrument)
and options are checked (INVALID_ARGUMENT otherwise, see
:mod:`~fixbridge.simulator.md_subscription`); the stream sends the current update of each
symbol, ends there with ``snapshot_only``, and otherwise sends every later update of its symbols
as it is logged, with a Heartbeat after ``heartbeat_interval`` seconds without a message.

BiDirectionalStreamMarketData: options come from the first request; each subscribe or
unsubscribe is answered by its SubscriptionErrors and one SubscriptionAck, and a subscribe then
sends the current update (statistics and latest settlement included) of each symbol it added;
from then on every later update of an active symbol follows, and Heartbeats when quiet. A
KeepAliveCommand, or a request without a command, changes nothing and is answered by nothing.
With ``snapshot_only`` the stream ends (OK) after answering its first subscribe. A stream that
has had no client-to-server message for ``idle_limit_s`` seconds (counted from its opening) is
ended with UNAVAILABLE, as the exchange's load balancer resets a stream idle for its timeout
(3600 s by default; the market-data page: "send a KeepAliveCommand every 30-60 minutes").
The server stream has no such limit.

Auth (scope read:marketdata, no x-participant-id) is the interceptor's job; the fault plan does
not reach these streams. ``unaggregated`` chooses the book's form; ``slow_consumer_skip_to_head``
is accepted and has no effect (the simulator keeps every update).
This module reads the store; it must never change it or produce market data.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from typing import Any

import grpc

from fixbridge.proto.polymarket.v1 import (
    marketdatasubscription_pb2,
    marketdatasubscription_pb2_grpc,
)
from fixbridge.simulator.md_subscription import (
    Options,
    RequestError,
    SymbolSet,
    options,
    render,
    server_stream_symbols,
)
from fixbridge.simulator.servicer import Pulse
from fixbridge.simulator.store import MarketDataLog

md = marketdatasubscription_pb2

SCAN_LIMIT = 5_000
"""Most log entries one stream looks at before it lets other tasks run."""
DEFAULT_IDLE_LIMIT_S = 3600.0
"""The exchange's load balancer idle timeout (the market-data page: 3600 s by default)."""
IDLE_MESSAGE = "no client-to-server message for {limit:g} s: stream reset as idle"


class _Feed:
    """Where one stream is in the log, and from where each symbol's updates are still news
    (a symbol's snapshot covers the log up to the position it was taken at)."""

    def __init__(self, log: MarketDataLog, start: int) -> None:
        self._log = log
        self._cursor = start
        self._since: dict[str, int] = {}

    def snapshot(self, symbols: Collection[str]) -> list[md.MarketDataUpdate]:
        """The current update of each of ``symbols`` that has one, in their order; later
        updates of them follow from here."""
        latest, head = self._log.snapshot_at()
        for symbol in symbols:
            self._since[symbol] = head
        return [latest[s] for s in symbols if s in latest]

    def take(self, wanted: Callable[[str], bool]) -> tuple[list[md.MarketDataUpdate], bool]:
        """The next logged updates the stream wants, and whether any entry was read."""
        entries = self._log.read(self._cursor, SCAN_LIMIT)
        out: list[md.MarketDataUpdate] = []
        for entry in entries:
            position = self._cursor
            self._cursor += 1
            if wanted(entry.symbol) and position >= self._since.get(entry.symbol, 0):
                out.append(entry)
        return out, bool(entries)


class MarketDataServicer(marketdatasubscription_pb2_grpc.MarketDataSubscriptionAPIServicer):
    def __init__(
        self,
        log: MarketDataLog,
        pulse: Pulse,
        *,
        known_symbols: Collection[str],
        heartbeat_interval: float,
        idle_limit_s: float = DEFAULT_IDLE_LIMIT_S,
    ) -> None:
        if idle_limit_s <= 0:
            raise ValueError(f"idle_limit_s must be > 0, got {idle_limit_s}")
        self._log = log
        self._pulse = pulse
        self._symbols = tuple(known_symbols)
        self._heartbeat = heartbeat_interval
        self._idle = idle_limit_s

    # ---------------------------------------------------------------------------- server stream

    async def CreateMarketDataSubscription(
        self, request: md.CreateMarketDataSubscriptionRequest, context: Any
    ) -> AsyncIterator[md.CreateMarketDataSubscriptionResponse]:
        try:
            symbols = server_stream_symbols(list(request.symbols), self._symbols)
            wanted = options(request.depth, request.unaggregated, request.snapshot_only)
        except RequestError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise  # context.abort raises; this line only satisfies the type checker
        selected = frozenset(symbols)
        feed = _Feed(self._log, len(self._log))
        for update in feed.snapshot(symbols):
            yield md.CreateMarketDataSubscriptionResponse(update=render(update, wanted))
        if wanted.snapshot_only:
            return
        loop = asyncio.get_running_loop()
        sent = loop.time()
        while True:
            woken = self._pulse.wait()
            updates, read = feed.take(selected.__contains__)
            for update in updates:
                yield md.CreateMarketDataSubscriptionResponse(update=render(update, wanted))
                sent = loop.time()
            if read:
                await asyncio.sleep(0)
                continue
            quiet = loop.time() - sent
            if quiet >= self._heartbeat:
                yield md.CreateMarketDataSubscriptionResponse(heartbeat=md.Heartbeat())
                sent = loop.time()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), self._heartbeat - quiet)

    # ---------------------------------------------------------------------------- bidirectional

    async def BiDirectionalStreamMarketData(
        self, request_iterator: AsyncIterator[md.BiDirectionalStreamMarketDataRequest],
        context: Any,
    ) -> AsyncIterator[md.BiDirectionalStreamMarketDataResponse]:
        loop = asyncio.get_running_loop()
        inbox: collections.deque[md.BiDirectionalStreamMarketDataRequest] = collections.deque()
        nudge = asyncio.Event()
        reader = asyncio.create_task(_read(request_iterator, inbox, nudge),
                                     name="market-data-requests")
        heard = sent = loop.time()
        wanted: Options | None = None
        symbols = SymbolSet(self._symbols)
        feed = _Feed(self._log, len(self._log))
        try:
            while True:
                nudge.clear()
                while inbox:
                    request = inbox.popleft()
                    heard = loop.time()
                    if wanted is None:
                        try:
                            wanted = options(request.depth, request.unaggregated,
                                             request.snapshot_only)
                        except RequestError as exc:
                            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
                            raise
                    for response in _answer(request, symbols, feed, wanted):
                        yield response
                        sent = loop.time()
                    if wanted.snapshot_only and request.WhichOneof("command") == "subscribe":
                        return
                woken = self._pulse.wait()
                updates, read = feed.take(symbols.__contains__)
                for update in updates:
                    assert wanted is not None  # symbols are only active after a request
                    yield md.BiDirectionalStreamMarketDataResponse(update=render(update, wanted))
                    sent = loop.time()
                if read:
                    await asyncio.sleep(0)
                    continue
                now = loop.time()
                if now - heard >= self._idle:
                    await context.abort(grpc.StatusCode.UNAVAILABLE,
                                        IDLE_MESSAGE.format(limit=self._idle))
                if now - sent >= self._heartbeat:
                    yield md.BiDirectionalStreamMarketDataResponse(heartbeat=md.Heartbeat())
                    sent = loop.time()
                    continue
                timeout = min(heard + self._idle, sent + self._heartbeat) - now
                await _first(woken, nudge, timeout)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader


def _answer(
    request: md.BiDirectionalStreamMarketDataRequest,
    symbols: SymbolSet,
    feed: _Feed,
    wanted: Options,
) -> Iterator[md.BiDirectionalStreamMarketDataResponse]:
    """The responses to one request: errors and ack, then the added symbols' current state."""
    command = request.WhichOneof("command")
    if command == "subscribe":
        outcome = symbols.subscribe(request.subscribe.symbols)
    elif command == "unsubscribe":
        outcome = symbols.unsubscribe(request.unsubscribe.symbols)
    else:  # keepalive, or no command: nothing changes, nothing is answered
        return
    for error in outcome.errors:
        yield md.BiDirectionalStreamMarketDataResponse(subscription_error=error)
    yield md.BiDirectionalStreamMarketDataResponse(subscription_ack=outcome.ack)
    for update in feed.snapshot(outcome.added):
        yield md.BiDirectionalStreamMarketDataResponse(update=render(update, wanted))


async def _read(
    requests: AsyncIterator[md.BiDirectionalStreamMarketDataRequest],
    inbox: collections.deque[md.BiDirectionalStreamMarketDataRequest],
    nudge: asyncio.Event,
) -> None:
    """Move the client's requests into ``inbox`` as they arrive, nudging the stream each time.
    Ends when the client half-closes (the stream goes on serving) or the call ends."""
    async for request in requests:
        inbox.append(request)
        nudge.set()


async def _first(a: asyncio.Event, b: asyncio.Event, timeout: float) -> None:
    """Wait until either event is set or ``timeout`` seconds passed."""
    waiters = {asyncio.ensure_future(a.wait()), asyncio.ensure_future(b.wait())}
    try:
        await asyncio.wait(waiters, timeout=max(timeout, 0.0),
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
