"""Journal the exchange's settlement prices from the bidirectional market-data stream.

The wanted symbols (:mod:`~fixbridge.upstream.md_interest`, re-read from the journal by
:class:`JournalInterest`) are spread over streams by :mod:`~fixbridge.upstream.md_shards`; each
stream is one :class:`MarketDataStream`. A change of the wanted set becomes subscribe and
unsubscribe commands on the open streams (and a new stream when all are full): a change never
reconnects a stream.

Each stream sends, on its own schedule, a KeepAliveCommand after ``keepalive_interval_s``
without any other command: the exchange's load balancer resets a stream that has had no
client-to-server message for its idle timeout (one hour), and the market-data page asks for a
KeepAlive every 30-60 minutes. When a stream ends it is reopened with the drop-copy streams'
policy (:func:`fixbridge.upstream.policy.decide`, the same backoff, token refresh and slow
retries), and a watchdog reopens one that delivered nothing, not even a Heartbeat, for
``market_data.stall_timeout_s``. A reopened stream subscribes its symbols again, and the
exchange answers a subscribe with each symbol's current update, settlement included, so a
settlement published while the stream was down is received then.

Every update that carries a settlement price is journaled on stream ``settlements`` under
the settlement's identity (symbol, set time, preliminary flag), so the same fact received
again (a resubscribe, a second stream) is a duplicate and is journaled exactly once. A final
resolution first waits (bounded) until the positions stream is journaled up to its set time,
so the reports it triggers see every position held then. Updates without a settlement price
are not journaled. An update whose symbol's price scale is unknown waits for
the scales (bounded), as positions do; one that still cannot be read is journaled flagged.
Market data is authenticated with the read:marketdata scope and no x-participant-id.

This module never journals a book and never reconnects a stream to apply a change.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection, Iterable
from typing import Any, Final

import grpc

from fixbridge.config import SessionConfig, UpstreamConfig
from fixbridge.journal.store import EventLog, NewEvent
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.settlement import Settlement, settlement_of
from fixbridge.ops.metrics import SUBSCRIPTION_ERROR_CODES, Metrics
from fixbridge.proto.polymarket.v1 import marketdatasubscription_pb2 as md
from fixbridge.proto.polymarket.v1 import marketdatasubscription_pb2_grpc
from fixbridge.upstream.auth import AuthError, TokenSource
from fixbridge.upstream.channel import open_channel
from fixbridge.upstream.md_interest import STREAMS_READ, Interest
from fixbridge.upstream.md_shards import ShardChange, ShardPlan
from fixbridge.upstream.policy import Action, Decision, decide
from fixbridge.upstream.scales import ScaleBook
from fixbridge.upstream.streams import SCALE_WAIT_S, fallback_id
from fixbridge.upstream.subscriber import (
    END_OF_STREAM,
    Backoff,
    StallError,
    UpstreamRequestError,
    next_response,
)

log = logging.getLogger("fixbridge.upstream")

STREAM: Final = "settlements"  # the journal's stream name and the metrics' stream label
DEPTH: Final = 1  # the book is not used: the smallest one the exchange serves
READ_BATCH: Final = 1000  # journal events read at a time for the interest
POSITIONS_WAIT_S: Final = 30.0  # longest wait for positions before a final settlement
POSITIONS_POLL_S: Final = 0.2
_NO_PARTICIPANT = "x-participant-id"


# ----------------------------------------------------------------------------- pure pieces


def carries_settlement(update: md.MarketDataUpdate) -> bool:
    return update.HasField("stats") and update.stats.HasField("settlement_px")


def settlement_event(
    update: md.MarketDataUpdate, price_scale: int | None, received_at_ns: int
) -> NewEvent | None:
    """The journal entry for ``update``'s settlement (None when it carries none): normalized,
    or flagged with the reason when it cannot be read (no scale known, no symbol, ...)."""
    if not carries_settlement(update):
        return None
    raw = update.SerializeToString(deterministic=True)
    try:
        if price_scale is None:
            raise NormalizationError(
                "price_scale", "not known for this symbol (no instrument listed it)",
                update.symbol)
        settlement = settlement_of(update, price_scale)
    except NormalizationError as exc:
        natural = f"{update.symbol}|settlement|unnormalized" if update.symbol else ""
        return NewEvent(
            fallback_id(raw, natural, exact=False), received_at_ns, b"", raw, flagged=str(exc)
        )
    assert settlement is not None  # carries_settlement said so
    return NewEvent(
        settlement.upstream_id,
        settlement.set_time_ns if settlement.set_time_ns is not None else received_at_ns,
        settlement.to_payload(),
        raw,
        decoded=settlement,
    )


def _error_code(code: str) -> str:
    return code if code in SUBSCRIPTION_ERROR_CODES else "other"


def subscribe_request(symbols: Iterable[str]) -> md.BiDirectionalStreamMarketDataRequest:
    return md.BiDirectionalStreamMarketDataRequest(
        subscribe=md.SubscribeCommand(symbols=list(symbols)), depth=DEPTH
    )


def unsubscribe_request(symbols: Iterable[str]) -> md.BiDirectionalStreamMarketDataRequest:
    return md.BiDirectionalStreamMarketDataRequest(
        unsubscribe=md.UnsubscribeCommand(symbols=list(symbols))
    )


KEEPALIVE: Final = md.BiDirectionalStreamMarketDataRequest(keepalive=md.KeepAliveCommand())


# ------------------------------------------------------------------------------ one stream


class MarketDataStream:
    """One bidirectional stream carrying the symbols its shard of the plan holds."""

    def __init__(self, index: int, owner: MarketDataSubscriber) -> None:
        self.index = index
        self._owner = owner
        config = owner.config
        self._backoff = Backoff(config.reconnect_initial_s, config.reconnect_max_s, owner.rng)
        self._outbox: asyncio.Queue[md.BiDirectionalStreamMarketDataRequest] | None = None
        self._sent_metadata: tuple[tuple[str, str], ...] | None = None
        self._last_reason = ""
        self._log_extra = {"stream": f"{STREAM}[{index}]"}
        self.connected = False
        self.connects = 0  # calls opened
        self.active: frozenset[str] = frozenset()  # as the exchange's last ack says
        self.acks = 0  # SubscriptionAcks received, over every call
        self.reconnects: Counter[str] = Counter()

    def send(self, change: ShardChange) -> None:
        """Queue ``change``'s commands on the open call; with none open, nothing: the next
        call subscribes the shard's symbols as they are then."""
        if self._outbox is None:
            return
        if change.unsubscribe:
            self._outbox.put_nowait(unsubscribe_request(change.unsubscribe))
        if change.subscribe:
            self._outbox.put_nowait(subscribe_request(change.subscribe))

    async def run(self) -> None:
        while True:
            try:
                delay = await self._attempt()
            except UpstreamRequestError:
                raise
            except Exception:  # never let one bad moment end the stream for good
                log.exception("market-data stream %d failed unexpectedly; retrying", self.index,
                              extra=self._log_extra)
                delay = self._backoff.next_delay()
            await self._owner.sleep(delay)

    async def _attempt(self) -> float:
        owner = self._owner
        channel = open_channel(owner.config)
        opened = asyncio.get_running_loop().time()
        try:
            try:
                await self._consume(channel)
                decision, detail = Decision(Action.BACKOFF, "stream_ended"), "ended by the exchange"
            except grpc.aio.AioRpcError as exc:
                detail = f"{exc.code().name}: {exc.details()}"
                decision = decide(exc.code(), exc.details() or "", sent_token=False,
                                  sent_time=False)
            except StallError as exc:
                decision, detail = Decision(Action.BACKOFF, "stall"), str(exc)
                owner.metrics.upstream_stalls.labels(STREAM).inc()
            except AuthError as exc:
                decision, detail = Decision(Action.BACKOFF, "unauthenticated"), f"no token: {exc}"
            except Exception as exc:  # journal trouble: log it, keep the service up
                log.exception("market-data stream %d failed unexpectedly", self.index,
                              extra=self._log_extra)
                decision, detail = Decision(Action.BACKOFF, "error"), f"{type(exc).__name__}: {exc}"
            finally:
                self._outbox = None
                self._set_connected(False)
        finally:
            await channel.close()
        if asyncio.get_running_loop().time() - opened >= owner.config.healthy_after_s:
            self._backoff.reset()
            self._last_reason = ""
        return self._recover(decision, detail)

    def _recover(self, decision: Decision, detail: str) -> float:
        owner = self._owner
        repeated, self._last_reason = self._last_reason == decision.reason, decision.reason
        self.reconnects[decision.reason] += 1
        owner.metrics.upstream_reconnects.labels(STREAM, decision.reason).inc()
        if decision.action is Action.FATAL:
            # Settlement prices are not worth the drop copy: the bridge keeps serving, the
            # stream stays down (its alert fires) and is tried again slowly.
            delay = owner.config.slow_retry_s * owner.rng.uniform(0.8, 1.2)
            log.critical("market-data stream %d refused as invalid (%s): check %s; the drop"
                         " copy goes on, retrying in %.0f s", self.index, detail,
                         decision.advice or "the request", delay, extra=self._log_extra)
            return delay
        if decision.action is Action.REFRESH_TOKEN:
            if owner.token_source is not None:
                owner.token_source.invalidate(self._sent_metadata)
            delay = self._backoff.next_delay() if repeated else 0.0
        elif decision.action is Action.SLOW_RETRY:
            delay = owner.config.slow_retry_s * owner.rng.uniform(0.8, 1.2)
        else:  # BACKOFF; no resume token or time is ever sent, so nothing else applies
            delay = self._backoff.next_delay()
        loud = logging.ERROR if decision.action is Action.SLOW_RETRY else logging.WARNING
        advice = f": {decision.advice}" if decision.advice else ""
        log.log(loud, "market-data stream %d lost (%s)%s; reconnecting in %.1f s", self.index,
                detail, advice, delay, extra=self._log_extra)
        return delay

    async def _consume(self, channel: grpc.aio.Channel) -> None:
        owner = self._owner
        stub: Any = marketdatasubscription_pb2_grpc.MarketDataSubscriptionAPIStub(channel)  # type: ignore[no-untyped-call]
        metadata = await owner.metadata()
        self._sent_metadata = metadata
        # No await between reading the shard's symbols and opening the outbox: a change
        # planned from here on is queued as a command, one planned before is in `first`.
        symbols = owner.plan.symbols(self.index)
        first = subscribe_request(symbols) if symbols else md.BiDirectionalStreamMarketDataRequest(
            depth=DEPTH)
        outbox: asyncio.Queue[md.BiDirectionalStreamMarketDataRequest] = asyncio.Queue()
        self._outbox = outbox
        self.connects += 1
        log.info("market-data stream %d connecting to %s (%d symbols)", self.index,
                 owner.config.target, len(symbols), extra=self._log_extra)
        call = stub.BiDirectionalStreamMarketData(
            self._requests(first, outbox), metadata=metadata
        )
        try:
            await self._receive(call)
        finally:
            call.cancel()

    async def _requests(
        self,
        first: md.BiDirectionalStreamMarketDataRequest,
        outbox: asyncio.Queue[md.BiDirectionalStreamMarketDataRequest],
    ) -> AsyncIterator[md.BiDirectionalStreamMarketDataRequest]:
        """The client side of the call: the first request, then each queued command, and a
        KeepAlive whenever ``keepalive_interval_s`` passed without one."""
        yield first
        interval = self._owner.market_data.keepalive_interval_s
        while True:
            try:
                async with asyncio.timeout(interval):
                    request = await outbox.get()
            except TimeoutError:
                request = KEEPALIVE
                self._owner.metrics.market_data_keepalives.inc()
            yield request

    async def _receive(self, call: Any) -> None:
        owner = self._owner
        stall_s = owner.market_data.stall_timeout_s
        responses = call.__aiter__()
        while True:
            response = await next_response(responses, stall_s)
            if response is END_OF_STREAM:
                return
            owner.metrics.upstream_last_response_time.labels(STREAM).set(time.time())
            owner.last_response_ns = time.time_ns()
            if not self.connected:
                self._set_connected(True)
                log.info("market-data stream %d connected", self.index, extra=self._log_extra)
            kind = response.WhichOneof("event")
            if kind == "update":
                await owner.journal_update(response.update)
            elif kind == "subscription_ack":
                self.active = frozenset(response.subscription_ack.active_symbols)
                self.acks += 1
                owner.refresh_gauges()
            elif kind == "subscription_error":
                error = response.subscription_error
                owner.metrics.market_data_subscription_errors.labels(
                    _error_code(error.error_code)).inc()
                log.warning(
                    "market-data stream %d: %s for %d symbol(s) (%s): %s", self.index,
                    error.error_code, len(error.symbols), ", ".join(list(error.symbols)[:5]),
                    error.message, extra=self._log_extra,
                )

    def _set_connected(self, connected: bool) -> None:
        self.connected = connected
        if not connected:
            self.active = frozenset()
        self._owner.refresh_gauges()


# --------------------------------------------------------------------------- the subscriber


class MarketDataSubscriber:
    """The plan and its streams; :meth:`apply` the wanted symbols, :meth:`run` the streams."""

    def __init__(
        self,
        config: UpstreamConfig,
        journal: EventLog,
        scales: ScaleBook,
        on_stored: Callable[[], None],
        clock: Callable[[], int],
        *,
        token_source: TokenSource | None = None,
        metrics: Metrics | None = None,
        on_decoded: Callable[[int, object], None] | None = None,
        rng: random.Random | None = None,
        positions_reach: Callable[[int], bool] | None = None,
    ) -> None:
        self.config = config
        # Whether the journaled positions cover the exchange's time given (None: positions
        # are not followed, nothing to wait for).
        self._positions_reach = positions_reach
        self.market_data = config.market_data
        self.plan = ShardPlan(config.market_data.max_symbols_per_stream)
        self.streams: list[MarketDataStream] = []
        self.token_source = token_source
        self.metrics = metrics if metrics is not None else Metrics()
        self.rng = rng or random.Random()
        self.sleep = asyncio.sleep
        self._journal = journal
        self._scales = scales
        self._on_stored = on_stored
        self._on_decoded = on_decoded
        self._clock = clock
        self._given_up: set[str] = set()  # symbols whose scales were waited for once in vain
        self._journaled: dict[str, str] = {}  # symbol -> the last settlement id journaled
        self._tasks: list[asyncio.Task[None]] = []
        self._failed: asyncio.Future[None] | None = None
        self.last_response_ns: int | None = None  # any stream's last response, for /status
        self.newest_set_ns: int | None = None  # the newest settlement time journaled
        self.settlements_stored = 0
        self.duplicates = 0
        self.flagged = 0

    # ---- the wanted set

    def apply(self, wanted: Collection[str]) -> list[ShardChange]:
        """Make the streams carry ``wanted``: commands on open streams, new streams only when
        every open one is full. Returns the changes made."""
        changes = self.plan.update(wanted)
        for change in changes:
            if change.opened:
                self._open(change.shard)
            else:
                self.streams[change.shard].send(change)
        self.metrics.market_data_symbols_wanted.set(len(self.plan.assigned))
        self.refresh_gauges()
        if changes:
            log.info("market data: %d symbol(s) on %d stream(s)", len(self.plan.assigned),
                     self.plan.shard_count, extra={"stream": STREAM})
        return changes

    def _open(self, index: int) -> None:
        stream = MarketDataStream(index, self)
        self.streams.append(stream)
        if self._failed is not None:  # running: start it now; otherwise run() starts it
            self._start(stream)

    def _start(self, stream: MarketDataStream) -> None:
        task = asyncio.create_task(stream.run(), name=f"{STREAM}-{stream.index}")
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if self._failed is None or self._failed.done() or task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self._failed.set_exception(error)

    async def run(self) -> None:
        """Run every stream until cancelled. A stream the exchange refuses, even as invalid,
        is retried (slowly): settlement prices never stop the drop copy."""
        self._failed = asyncio.get_running_loop().create_future()
        for stream in self.streams:
            self._start(stream)
        try:
            await self._failed
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._failed = None
            self._tasks.clear()

    # ---- what the streams share

    async def metadata(self) -> tuple[tuple[str, str], ...] | None:
        """The stream's authorization: the access token, without x-participant-id."""
        if self.token_source is None:
            return None
        pairs = await self.token_source.metadata()
        return tuple((k, v) for k, v in pairs if k != _NO_PARTICIPANT)

    @property
    def connected(self) -> bool:
        """Every stream is open (none needed counts as open)."""
        return all(s.connected for s in self.streams)

    @property
    def reconnects(self) -> int:
        return sum(sum(s.reconnects.values()) for s in self.streams)

    def refresh_gauges(self) -> None:
        open_streams = sum(1 for s in self.streams if s.connected)
        self.metrics.market_data_streams_open.set(open_streams)
        self.metrics.market_data_symbols_subscribed.set(sum(len(s.active) for s in self.streams))
        # 1 while every stream is open (also when no symbol is wanted and none is needed):
        # the "stream down" alert must not fire for a subscriber with nothing to do.
        every = open_streams == len(self.streams)
        self.metrics.upstream_connected.labels(STREAM).set(1 if every else 0)

    async def journal_update(self, update: md.MarketDataUpdate) -> None:
        """Journal the settlement ``update`` carries, if any (module rules)."""
        if not carries_settlement(update):
            return
        symbol = update.symbol
        waits = bool(symbol) and self._scales.get(symbol) is None and symbol not in self._given_up
        if waits and not await self._scales.wait_for([symbol], SCALE_WAIT_S):
            self._given_up.add(symbol)
            log.error("a settlement for %s arrived with no known price scale after %.0f s;"
                      " kept but flagged", symbol, SCALE_WAIT_S, extra={"stream": STREAM})
        known = self._scales.get(symbol) if symbol else None
        received_at_ns = self._clock()
        event = settlement_event(update, known[0] if known else None, received_at_ns)
        assert event is not None
        self.metrics.upstream_events_received.labels(STREAM).inc()
        if self._journaled.get(symbol) == event.upstream_id:
            # Every later update of a settled symbol (its book, its statistics) repeats the
            # settlement: known to be journaled, it costs no journal round.
            self.duplicates += 1
            self.metrics.upstream_duplicates.labels(STREAM).inc()
            return
        if event.flagged is not None:
            self.flagged += 1
            self.metrics.upstream_events_flagged.labels(STREAM).inc()
            log.error("settlement %s kept but flagged: %s", event.upstream_id, event.flagged,
                      extra={"stream": STREAM})
        decoded = event.decoded
        if isinstance(decoded, Settlement) and decoded.resolution and not decoded.preliminary:
            await self._positions_caught_up(decoded.symbol, event.transact_time_ns)
        started = time.perf_counter()
        result = await self._journal.append_async(STREAM, [event], b"", received_at_ns)
        self._journaled[symbol] = event.upstream_id
        self.metrics.journal_append_seconds.observe(time.perf_counter() - started)
        self.settlements_stored += result.stored
        self.duplicates += result.duplicates
        self.metrics.journal_events_stored.labels(STREAM).inc(result.stored)
        self.metrics.upstream_duplicates.labels(STREAM).inc(result.duplicates)
        if result.stored:
            self.newest_set_ns = max(self.newest_set_ns or 0, event.transact_time_ns)
            if self._on_decoded is not None and event.decoded is not None and result.offsets:
                self._on_decoded(result.offsets[0], event.decoded)
            log.info("settlement journaled: %s", event.upstream_id, extra={"stream": STREAM})
            self._on_stored()


    async def _positions_caught_up(self, symbol: str, set_time_ns: int) -> None:
        """Wait (at most ``POSITIONS_WAIT_S``) until the positions stream has been journaled up
        to the final price's set time: a MarketSettlementReport takes each account's position
        at that time from what was journaled before the settlement."""
        reach = self._positions_reach
        if reach is None or reach(set_time_ns):
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + POSITIONS_WAIT_S
        while not reach(set_time_ns):
            if loop.time() >= deadline:
                log.warning(
                    "final settlement of %s journaled before the positions stream reached its"
                    " set time (waited %.0f s): a later position change is not in its reports",
                    symbol, POSITIONS_WAIT_S, extra={"stream": STREAM})
                return
            await asyncio.sleep(POSITIONS_POLL_S)


# ------------------------------------------------------------------------------- interest


class JournalInterest:
    """Follows the journal (instruments listed, positions held, final resolutions) and keeps
    the subscriber's symbols equal to what the sessions want; wakes on new journal events and
    every ``interest_poll_s`` seconds."""

    def __init__(
        self,
        journal: EventLog,
        subscriber: MarketDataSubscriber,
        sessions: Callable[[], Iterable[SessionConfig]],
        woken: Callable[[], asyncio.Event],
    ) -> None:
        self._journal = journal
        self._subscriber = subscriber
        self._sessions = sessions
        self._woken = woken
        self.interest = Interest()
        self._after = 0

    async def catch_up(self) -> None:
        """Read what the journal added since the last call (a batch at a time, letting other
        tasks run between batches), then apply the wanted symbols."""
        while True:
            events = self._journal.read_symbol_events(self._after, READ_BATCH)
            for event in events:
                self._after = event.offset
                if event.flagged is None and event.stream in STREAMS_READ:
                    self.interest.observe(event.stream, event.payload)
            if len(events) < READ_BATCH:
                break
            await asyncio.sleep(0)
        config = self._subscriber.config
        self._subscriber.apply(self.interest.wanted(self._sessions(), config.symbols))

    async def run(self) -> None:
        poll = self._subscriber.market_data.interest_poll_s
        while True:
            woken = self._woken()
            await self.catch_up()
            try:
                async with asyncio.timeout(poll):
                    await woken.wait()
            except TimeoutError:
                pass
