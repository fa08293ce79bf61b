"""Consume one DropCopyAPI stream into the journal, resuming where the journal stopped.

Each response's events and its resume token are journaled in one transaction (events already
journaled are skipped by upstream id), so the stored token never runs ahead of stored data and
a restart resumes exactly after the last durable response. An event that cannot be normalized
is still journaled, flagged with the reason, and counted; the stream goes on.

When the stream ends, :mod:`fixbridge.upstream.policy` decides what happens next from the gRPC
status: back off (1 s doubling to 30 s, with jitter, reset after a healthy spell), fetch a new
access token, retry slowly and loudly, replay by ``resume_time`` from the last durable event
minus a margin when the resume token is refused, fill the gap from the Report API when even
that is refused, or stop the bridge with a configuration error. The RPC has no deadline; a
watchdog reopens a stream that delivered nothing, not even a token-only heartbeat, for
``upstream.stall_timeout_s``. It times only the wait for the next response, so a long replay
(which is a steady flow of responses) never trips it. The same code serves every stream: what
differs is its row in ``streams.build_stream_specs``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc

from fixbridge.config import UpstreamConfig
from fixbridge.journal.store import EventLog, NewEvent
from fixbridge.ops.metrics import Metrics
from fixbridge.proto.polymarket.v1 import dropcopy_pb2_grpc
from fixbridge.upstream.auth import AuthError, TokenSource
from fixbridge.upstream.channel import open_channel
from fixbridge.upstream.policy import Action, Decision, decide
from fixbridge.upstream.progress import CatchUp
from fixbridge.upstream.report import fill_from_reports, has_reports
from fixbridge.upstream.streams import StreamSpec

log = logging.getLogger("fixbridge.upstream")

_NS = 1_000_000_000
INBOX_RESPONSES = 256  # received, not yet journaled; a full inbox holds the stream back
COMBINE_RESPONSES = 64  # at most this many responses journaled in one append
FILL_ATTEMPTS = 5
POST_FILL_OVERLAP_S = 5.0
# ReportAPI answers that no retry will change (e.g. a Drop Copy User without read:reports).
_FILL_HOPELESS = frozenset({
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,
})


class UpstreamRequestError(RuntimeError):
    """The exchange refused the request as invalid: retrying cannot help, the configuration
    must change. ``key`` is the configuration key it most likely concerns."""

    def __init__(self, key: str, stream: str, detail: str) -> None:
        super().__init__(f"{key}: the exchange refused the {stream} subscription ({detail})")
        self.key = key


class StallError(Exception):
    """No response, not even a token-only heartbeat, within the stall timeout."""


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


@dataclass(frozen=True, slots=True)
class ResumeFrom:
    """How the next request resumes when the stored token must not be used."""

    time_ns: int | None  # resume_time; None = live (no replay)


class StreamSubscriber:
    def __init__(
        self,
        spec: StreamSpec,
        config: UpstreamConfig,
        journal: EventLog,
        on_stored: Callable[[], None],
        clock: Callable[[], int],
        *,
        token_source: TokenSource | None = None,
        metrics: Metrics | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        on_decoded: Callable[[int, object], None] | None = None,
        prerender: Callable[[Sequence[NewEvent]], list[NewEvent]] | None = None,
    ) -> None:
        """``on_decoded(offset, event)`` is told each newly journaled event that came with
        its normalized form (the renderers' cache), before ``on_stored`` wakes the sessions;
        ``prerender`` gives events about to be journaled the FIX bodies to keep with them
        (fix/prerender.py)."""
        self.spec = spec
        self._on_decoded = on_decoded
        self._prerender = prerender
        self._config = config
        self._journal = journal
        self._on_stored = on_stored
        self._clock = clock
        self._token_source = token_source
        self._metrics = metrics if metrics is not None else Metrics()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._backoff = Backoff(config.reconnect_initial_s, config.reconnect_max_s, self._rng)
        self._override: ResumeFrom | None = None  # until a response brings a new token
        self._last_reason = ""
        self._fill_failures = 0
        self._sent_metadata: tuple[tuple[str, str], ...] | None = None
        self._log_extra = {"stream": spec.name}
        self.connected = False
        self.events_stored = 0
        self.duplicates = 0
        self.flagged = 0
        self.reconnects: Counter[str] = Counter()  # by reason, as in the metric
        # For /status: how the stream last connected, its last response, its newest event.
        self.resume_mode = ""
        self.catch_up = CatchUp(spec.name)
        self.last_response_ns: int | None = None
        self.newest_transact_ns: int | None = None

    # ------------------------------------------------------------------------------- request

    def request(self) -> Any:
        request = self.spec.request_type(symbols=list(self._config.symbols))
        if self.spec.firm_filter:
            request.firms.extend(self._config.firms)
        if self._override is not None:
            if self._override.time_ns is not None:
                request.resume_time.FromNanoseconds(self._override.time_ns)
            return request
        token = self._journal.resume_token(self.spec.name)
        if token:
            request.resume_token = token
        elif isinstance(self._config.start_from, datetime):
            request.resume_time.FromDatetime(self._config.start_from)
        return request

    # ------------------------------------------------------------------------------ the loop

    async def run(self) -> None:
        """Subscribe until cancelled; raises :class:`UpstreamRequestError` when the exchange
        calls the request itself invalid."""
        while True:
            try:
                delay = await self._attempt()
            except UpstreamRequestError:
                raise
            except Exception:  # never let one bad moment end the stream for good
                log.exception("%s subscriber failed unexpectedly; retrying", self.spec.name,
                              extra=self._log_extra)
                delay = self._backoff.next_delay()
            await self._sleep(delay)

    async def _attempt(self) -> float:
        """One connection: open, consume until it ends, act on how it ended; returns the
        delay before the next one. The channel is closed on every way out, cancellation too."""
        channel: grpc.aio.Channel | None = None
        try:
            request = self.request()
            sent_token = bool(request.resume_token)
            sent_time = request.HasField("resume_time")
            channel = open_channel(self._config)
            try:
                await self._consume(channel, request)
                decision, detail = Decision(Action.BACKOFF, "stream_ended"), "ended by the exchange"
            except grpc.aio.AioRpcError as exc:
                detail = f"{exc.code().name}: {exc.details()}"
                decision = decide(
                    exc.code(), exc.details() or "", sent_token=sent_token, sent_time=sent_time
                )
                ours = self._override is not None and self._override.time_ns is not None
                if decision.action is Action.FATAL and sent_time and ours:
                    # The time was ours (a fallback), not the configuration's: the exchange
                    # refuses it as too old, so the report fills what the stream cannot.
                    decision = Decision(Action.FILL_FROM_REPORTS, "replay_window_gone")
            except StallError as exc:
                decision, detail = Decision(Action.BACKOFF, "stall"), str(exc)
                self._metrics.upstream_stalls.labels(self.spec.name).inc()
            except AuthError as exc:  # the token endpoint failed; the token source logged it
                decision, detail = Decision(Action.BACKOFF, "unauthenticated"), f"no token: {exc}"
            except Exception as exc:  # journal or decoding trouble: log it, keep the service up
                log.exception("%s stream failed unexpectedly", self.spec.name,
                              extra=self._log_extra)
                decision, detail = Decision(Action.BACKOFF, "error"), f"{type(exc).__name__}: {exc}"
            finally:
                self._set_connected(False)
            return await self._recover(decision, detail, channel)
        finally:
            if channel is not None:
                await channel.close()

    async def _recover(
        self, decision: Decision, detail: str, channel: grpc.aio.Channel
    ) -> float:
        """Act on ``decision``; returns how long to wait before reconnecting."""
        name = self.spec.name
        repeated, self._last_reason = self._last_reason == decision.reason, decision.reason
        self.reconnects[decision.reason] += 1
        self._metrics.upstream_reconnects.labels(name, decision.reason).inc()
        action = decision.action
        if action is Action.FATAL:
            log.critical(
                "%s stream refused as invalid (%s): check %s; not retrying",
                name, detail, decision.advice, extra=self._log_extra,
            )
            raise UpstreamRequestError(decision.advice, name, detail)
        if action is Action.REFRESH_TOKEN:
            if self._token_source is not None:
                self._token_source.invalidate(self._sent_metadata)
            # A new token deserves an immediate try; a refusal right after one backs off.
            delay = self._backoff.next_delay() if repeated else 0.0
            log.warning(
                "%s stream refused (%s): %s; reconnecting in %.1f s",
                name, detail, decision.advice, delay, extra=self._log_extra,
            )
            return delay
        if action is Action.SLOW_RETRY:
            delay = self._config.slow_retry_s * self._rng.uniform(0.8, 1.2)
            log.error(
                "%s stream refused (%s): %s; retrying in %.0f s",
                name, detail, decision.advice, delay, extra=self._log_extra,
            )
            return delay
        if action is Action.RESUME_BY_TIME:
            self._override = ResumeFrom(self._fallback_time_ns())
            self._metrics.upstream_resume_fallbacks.labels(name, "resume_time").inc()
            log.warning(
                "%s resume token refused (%s); replaying by resume_time from %s (last durable"
                " event minus %.0f s); the overlap is deduplicated",
                name, detail, _iso(self._override.time_ns), self._config.resume_margin_s,
                extra=self._log_extra,
            )
            return 0.0
        if action is Action.FILL_FROM_REPORTS:
            delay = self._backoff.next_delay() if repeated else 0.0
            try:
                await self._fill_gap(detail, channel)
                self._fill_failures = 0
                return delay
            except Exception as exc:  # the exchange, the token endpoint or the journal
                return self._fill_failed(exc)
        delay = self._backoff.next_delay()
        log.warning(
            "%s stream lost (%s); reconnecting in %.1f s", name, detail, delay,
            extra=self._log_extra,
        )
        return delay

    def _fill_failed(self, exc: Exception) -> float:
        """A gap fill that failed: retried with backoff, unless retrying cannot help (no
        read:reports scope, no ReportAPI, a refused request) or it failed FILL_ATTEMPTS times;
        then the gap is reported as unrecoverable and the stream goes live, rather than never
        delivering anything again."""
        name = self.spec.name
        self._fill_failures += 1
        if isinstance(exc, grpc.aio.AioRpcError):
            failure = f"{exc.code().name}: {exc.details()}"
            hopeless = exc.code() in _FILL_HOPELESS
            if exc.code() == grpc.StatusCode.UNAUTHENTICATED and self._token_source is not None:
                self._token_source.invalidate()
        else:
            failure, hopeless = f"{type(exc).__name__}: {exc}", False
        if hopeless or self._fill_failures >= FILL_ATTEMPTS:
            self._fill_failures = 0
            self._go_live_with_gap(f"the ReportAPI gap fill failed ({failure})")
            return 0.0
        delay = self._backoff.next_delay()
        log.error(
            "%s gap fill from the ReportAPI failed (%s); trying again in %.1f s",
            name, failure, delay, extra=self._log_extra,
        )
        return delay

    def _go_live_with_gap(self, why: str) -> None:
        start = self._override.time_ns if self._override is not None else None
        self._override = ResumeFrom(None)
        self._metrics.upstream_resume_fallbacks.labels(self.spec.name, "unrecoverable").inc()
        log.critical(
            "%s: %s; going live: events from %s until now are missing from the journal"
            " (reconcile them from the exchange's reports)",
            self.spec.name, why, _iso(start), extra=self._log_extra,
        )

    def _fallback_time_ns(self) -> int:
        anchor = self._journal.resume_anchor_ns(self.spec.name)
        if anchor is None:
            start = self._config.start_from
            anchor = int(start.timestamp() * _NS) if isinstance(start, datetime) else self._clock()
        back = self._config.resume_margin_s
        if self.spec.name == "trades":
            back += self._config.trades_lookback_s
        return max(0, anchor - int(back * _NS))

    async def _fill_gap(self, detail: str, channel: grpc.aio.Channel) -> None:
        """The replay window is gone: ReportAPI for what it has, then resume by time from the
        end of the filled range. Streams without a report go live, and the gap is reported."""
        name = self.spec.name
        start_ns = (
            self._override.time_ns
            if self._override is not None and self._override.time_ns is not None
            else self._fallback_time_ns()
        )
        end_ns = self._clock()
        if not has_reports(name):
            self._override = ResumeFrom(start_ns)
            self._go_live_with_gap(
                f"cannot be replayed ({detail}) and the exchange has no report for it"
            )
            return
        log.warning(
            "%s replay window gone (%s); filling %s .. %s from the ReportAPI before going live",
            name, detail, _iso(start_ns), _iso(end_ns), extra=self._log_extra,
        )
        metadata = await self._token_source.metadata() if self._token_source else None
        fetched, stored = await fill_from_reports(
            self.spec, channel, metadata, self._config, self._journal,
            start_ns=start_ns, end_ns=end_ns, clock=self._clock,
        )
        self._metrics.upstream_resume_fallbacks.labels(name, "report_api").inc()
        self._metrics.upstream_report_events.labels(name).inc(fetched)
        self._count_stored(stored, fetched - stored)
        # Resume just before the filled range ends: the report and the stream filter on the
        # same exchange time, so a short overlap covers clock skew; a long one could fall out
        # of the replay window again.
        overlap = min(self._config.resume_margin_s, POST_FILL_OVERLAP_S)
        self._override = ResumeFrom(max(0, end_ns - int(overlap * _NS)))

    async def _consume(self, channel: grpc.aio.Channel, request: Any) -> None:
        """Read the stream into a bounded inbox while a second task journals what is in it:
        the responses that arrive during one commit are journaled together by the next. When
        the stream ends, or fails, what was received is journaled before this returns."""
        name = self.spec.name
        stub = dropcopy_pb2_grpc.DropCopyAPIStub(channel)  # type: ignore[no-untyped-call]
        mode = (
            "resume_token"
            if request.resume_token
            else ("resume_time " + _iso(request.resume_time.ToNanoseconds())
                  if request.HasField("resume_time") else "live")
        )
        log.info("%s stream connecting to %s (%s)", name, self._config.target, mode,
                 extra=self._log_extra)
        self.resume_mode = mode
        self.catch_up.connected(self._clock())
        # A stream is authenticated once, when it opens: the token may expire under it.
        metadata = await self._token_source.metadata() if self._token_source else None
        self._sent_metadata = metadata
        call = getattr(stub, self.spec.rpc)(request, metadata=metadata)
        inbox: asyncio.Queue[Any] = asyncio.Queue(INBOX_RESPONSES)
        journaling = asyncio.create_task(self._journal_inbox(inbox), name=f"{name}-journal")
        try:
            try:
                await self._receive(call, inbox, journaling)
            except asyncio.CancelledError:
                raise
            except BaseException:
                # The stream failed: what it delivered is still journaled, but the stream's own
                # error is what the policy must see.
                try:
                    await _finish(inbox, journaling)
                except Exception:
                    log.exception("%s: journaling what the failed stream delivered failed",
                                  name, extra=self._log_extra)
                raise
            await _finish(inbox, journaling)
        finally:
            if not journaling.done():  # cancelled: journaling stops too, and is waited for
                journaling.cancel()
            # Its outcome is taken either way (one that failed as the stream was cancelled,
            # e.g. on a journal that refuses writes, is not news to anyone).
            await asyncio.gather(journaling, return_exceptions=True)

    async def _receive(
        self, call: Any, inbox: asyncio.Queue[Any], journaling: asyncio.Task[None]
    ) -> None:
        name = self.spec.name
        healthy_since: float | None = None
        loop = asyncio.get_running_loop()
        responses = call.__aiter__()
        stall_s = self._config.stall_timeout_s
        while True:
            try:
                response = await next_response(responses, stall_s)
            except StallError:
                call.cancel()
                raise
            if response is END_OF_STREAM:
                return
            self._metrics.upstream_last_response_time.labels(name).set(time.time())
            self.last_response_ns = time.time_ns()
            if not self.connected:
                self._set_connected(True)
                healthy_since = loop.time()
                log.info("%s stream connected", name, extra=self._log_extra)
            await _put(inbox, response, journaling)
            if healthy_since is not None and loop.time() - healthy_since >= (
                self._config.healthy_after_s
            ):
                self._backoff.reset()
                self._last_reason = ""
                healthy_since = None

    async def _journal_inbox(self, inbox: asyncio.Queue[Any]) -> None:
        """Journal the inbox's responses, all those waiting at once, until the end mark."""
        while True:
            batch = [await inbox.get()]
            while len(batch) < COMBINE_RESPONSES and not inbox.empty():
                batch.append(inbox.get_nowait())
            responses = [r for r in batch if r is not _END]
            if responses:
                if self.spec.before_store is not None:
                    for response in responses:
                        await self.spec.before_store(response)
                await self._store(responses)
            if len(responses) < len(batch):
                return

    def _set_connected(self, connected: bool) -> None:
        self.connected = connected
        self._metrics.upstream_connected.labels(self.spec.name).set(1 if connected else 0)

    async def _store(self, responses: list[Any]) -> None:
        """Journal consecutive responses as one: their events in stream order, with the last
        resume token among them (it covers all of them), durable before this returns."""
        name = self.spec.name
        field = self.spec.events_field
        upstream = [event for response in responses for event in getattr(response, field)]
        token = next((r.resume_token for r in reversed(responses) if r.resume_token), b"")
        received_at_ns = self._clock()
        events = self.spec.journal_events(upstream, self._journal, received_at_ns)
        if self._prerender is not None:
            events = self._prerender(events)
        newest = self._note_received(events)
        started = time.perf_counter()
        result = await self._journal.append_async(name, events, token, received_at_ns)
        self._metrics.journal_append_seconds.observe(time.perf_counter() - started)
        if token:
            self._override = None  # the stored token now says where to resume
        if self._on_decoded is not None:
            for event, offset in zip(events, result.offsets, strict=False):
                # An event journaled with its bodies is sent from them, not decoded.
                if offset and event.decoded is not None and not event.bodies:
                    self._on_decoded(offset, event.decoded)
        self._count_stored(result.stored, result.duplicates)
        for line in self.catch_up.response(
            self._clock(), result.stored, result.duplicates, newest or None
        ):
            log.info("%s", line, extra=self._log_extra)

    def _note_received(self, events: list[NewEvent]) -> int:
        """Count what arrived (per append, not per event); returns its newest transact time
        (0 when none)."""
        name = self.spec.name
        if not events:
            return 0
        self._metrics.upstream_events_received.labels(name).inc(len(events))
        newest = max(e.transact_time_ns for e in events)
        if newest > 0:
            self._metrics.upstream_last_transact_time.labels(name).set(newest / _NS)
            self.newest_transact_ns = max(newest, self.newest_transact_ns or 0)
        for event in events:
            if event.flagged is not None:
                self.flagged += 1
                self._metrics.upstream_events_flagged.labels(name).inc()
                log.error(
                    "%s event %s kept but flagged: %s", name, event.upstream_id, event.flagged,
                    extra=self._log_extra,
                )
        return newest

    def _count_stored(self, stored: int, duplicates: int) -> None:
        name = self.spec.name
        self.events_stored += stored
        self.duplicates += duplicates
        self._metrics.journal_events_stored.labels(name).inc(stored)
        self._metrics.upstream_duplicates.labels(name).inc(duplicates)
        if stored:
            self._on_stored()


_END = object()  # the inbox's end mark: nothing more will come on this stream
END_OF_STREAM = object()  # next_response's answer when the exchange ended the stream


async def next_response(responses: AsyncIterator[Any], stall_s: float) -> Any:
    """The stream's next response, or END_OF_STREAM; the stall watchdog raises StallError
    when nothing, not even a heartbeat, came for ``stall_s`` seconds."""
    try:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # races with the response, and the task would never stop.
        async with asyncio.timeout(stall_s):
            return await responses.__anext__()
    except StopAsyncIteration:
        return END_OF_STREAM
    except TimeoutError:
        raise StallError(f"no response for {stall_s:.1f} s (stall watchdog)") from None


async def _put(inbox: asyncio.Queue[Any], item: Any, journaling: asyncio.Task[None]) -> None:
    """Queue ``item``; if the inbox is full, wait for room unless journaling has stopped (its
    error is raised here, so a full inbox can never hang the stream)."""
    if journaling.done():
        journaling.result()
        raise RuntimeError("journaling stopped")
    if not inbox.full():
        inbox.put_nowait(item)
        return
    put = asyncio.ensure_future(inbox.put(item))
    try:
        await asyncio.wait({put, journaling}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not put.done():
            put.cancel()
    if not put.done() or put.cancelled():
        journaling.result()
        raise RuntimeError("journaling stopped")


async def _finish(inbox: asyncio.Queue[Any], journaling: asyncio.Task[None]) -> None:
    """Let journaling take what is in the inbox, then end it; its error is raised here."""
    await _put(inbox, _END, journaling)
    await journaling


def _iso(ns: int | None) -> str:
    if ns is None:
        return "now (live)"
    return datetime.fromtimestamp(ns / _NS, UTC).isoformat(timespec="milliseconds")
