"""Filling a gap the stream can no longer replay, from the exchange's ReportAPI.

When even ``resume_time`` is refused (the replay window is gone), the executions and trades
between the last durable event and now are still in the Report API (spec §5: executions for
7 days, trades for good). They are fetched page by page, oldest first, and journaled through
the same conversion and deduplication as stream events (with no resume token, so the stored
token never moves), before the stream reopens from the end of the filled range. The Report
API takes at most one symbol per request and no firm filter, so one time-ordered search over
all symbols is filtered here by the configured symbols and firms. Instruments and positions
have no report: a gap there is logged and counted as unrecoverable by the caller.

The paging (:func:`search_pages`) is shared with ``fixbridge reconcile``: it follows page
tokens to the last page, waits and retries a search refused with RESOURCE_EXHAUSTED, and with a
:class:`SearchPacer` keeps under the exchange's 12 searches a minute per method (spec §4.9)
before it is refused at all. It must never page past ``eof`` or retry any other error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc

from fixbridge.config import UpstreamConfig
from fixbridge.journal.store import EventLog
from fixbridge.proto.polymarket.v1 import report_pb2, report_pb2_grpc
from fixbridge.upstream.streams import StreamSpec

log = logging.getLogger("fixbridge.upstream")

PAGE_SIZE = 1000
RATE_LIMITED_WAIT_S = 6.0  # the Report API allows 12 searches a minute per method
RATE_LIMITED_TRIES = 10
SEARCHES_PER_MINUTE = 12  # spec §4.9: SearchOrders, SearchExecutions, SearchTrades, each
RATE_WINDOW_S = 60.0
_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class ReportSearch:
    rpc: str  # ReportAPIStub method
    request_type: Callable[..., Any]
    events_field: str
    symbol_of: Callable[[Any], str]  # for the symbol filter
    accounts_of: Callable[[Any], tuple[str, ...]]  # for the firm filter


SEARCHES: dict[str, ReportSearch] = {
    "executions": ReportSearch(
        "SearchExecutions",
        report_pb2.SearchExecutionsRequest,
        "executions",
        lambda execution: execution.order.symbol,
        lambda execution: (execution.order.account,),
    ),
    "trades": ReportSearch(
        "SearchTrades",
        report_pb2.SearchTradesRequest,
        "trades",
        lambda trade: trade.aggressor.order.symbol or trade.passive.order.symbol,
        lambda trade: (trade.aggressor.order.account, trade.passive.order.account),
    ),
}


def has_reports(stream: str) -> bool:
    return stream in SEARCHES


def wanted_by_config(symbol: str, accounts: tuple[str, ...], config: UpstreamConfig) -> bool:
    """What the stream with the configured filters would have delivered. An event naming no
    symbol or no account (malformed) is kept: the stream would not have hidden it either."""
    if config.symbols and symbol and symbol not in config.symbols:
        return False
    named = [a for a in accounts if a.startswith("firms/")]
    if not config.firms or not named:
        return True
    wanted = {f.removeprefix("firms/") for f in config.firms}
    return any(a.split("/")[1] in wanted for a in named)


async def fill_from_reports(
    spec: StreamSpec,
    channel: grpc.aio.Channel,
    metadata: Sequence[tuple[str, str]] | None,
    config: UpstreamConfig,
    journal: EventLog,
    *,
    start_ns: int,
    end_ns: int,
    clock: Callable[[], int],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> tuple[int, int]:
    """Journal every ``spec.name`` event with transact time in [start_ns, end_ns) from the
    Report API; returns (events fetched, events newly stored)."""
    search = SEARCHES[spec.name]
    stub = report_pb2_grpc.ReportAPIStub(channel)  # type: ignore[no-untyped-call]
    method = getattr(stub, search.rpc)
    fetched = stored = 0

    def request(page_token: str) -> Any:
        # One pass over all symbols, oldest first, filtered here: if the bridge stops midway,
        # what is journaled is a prefix in time, so the next resume anchor misses nothing.
        built = search.request_type(page_size=PAGE_SIZE, page_token=page_token)
        built.start_time.FromNanoseconds(start_ns)
        built.end_time.FromNanoseconds(end_ns)
        return built

    async for response in search_pages(method, request, metadata, sleep):
        events = [
            e for e in getattr(response, search.events_field)
            if wanted_by_config(search.symbol_of(e), search.accounts_of(e), config)
        ]
        fetched += len(events)
        if events:
            now = clock()
            result = await journal.append_async(
                spec.name, spec.journal_events(events, journal, now), b"", now
            )
            stored += result.stored
    log.info(
        "%s gap filled from ReportAPI.%s: %d event(s) between %s and %s, %d new",
        spec.name, search.rpc, fetched, _iso(start_ns), _iso(end_ns), stored,
        extra={"stream": spec.name},
    )
    return fetched, stored


class SearchPacer:
    """At most ``per_minute`` searches of one method in any ``RATE_WINDOW_S`` seconds, by an
    injected monotonic clock: :meth:`delay` says how long to wait before the next one, and
    :meth:`sent` counts one. Holds no lock: one pacer serves one task."""

    def __init__(
        self, per_minute: int = SEARCHES_PER_MINUTE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if per_minute < 1:
            raise ValueError(f"per_minute must be >= 1, got {per_minute}")
        self._limit = per_minute
        self._clock = clock
        self._recent: dict[str, deque[float]] = {}

    def delay(self, method: str) -> float:
        """Seconds to wait before the next ``method`` search fits the limit (0: now)."""
        now = self._clock()
        recent = self._recent.setdefault(method, deque())
        while recent and recent[0] <= now - RATE_WINDOW_S:
            recent.popleft()
        if len(recent) < self._limit:
            return 0.0
        return recent[0] + RATE_WINDOW_S - now

    def sent(self, method: str) -> None:
        """Count a ``method`` search made now."""
        self._recent.setdefault(method, deque()).append(self._clock())


async def search_pages(
    method: Any,
    request_for: Callable[[str], Any],
    metadata: Sequence[tuple[str, str]] | None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    pacer: SearchPacer | None = None,
    method_name: str = "",
) -> AsyncIterator[Any]:
    """Every response page of one search, first to last: ``request_for(page_token)`` builds
    each request (the same filters on every page). With a ``pacer``, each search waits its
    turn under ``method_name``'s limit first."""
    page_token = ""
    while True:
        if pacer is not None:
            wait = pacer.delay(method_name)
            if wait > 0:
                await sleep(wait)
        response = await _search(method, request_for(page_token), metadata, sleep, pacer,
                                 method_name)
        yield response
        page_token = response.next_page_token
        if response.eof or not page_token:
            return


async def _search(
    method: Any,
    request: Any,
    metadata: Sequence[tuple[str, str]] | None,
    sleep: Callable[[float], Awaitable[None]],
    pacer: SearchPacer | None = None,
    method_name: str = "",
) -> Any:
    for attempt in range(1, RATE_LIMITED_TRIES + 1):
        if pacer is not None:
            pacer.sent(method_name)
        try:
            return await method(request, metadata=metadata, timeout=60)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or attempt == RATE_LIMITED_TRIES:
                raise
            log.warning(
                "ReportAPI rate limit (%s); retrying in %.0f s", exc.details(), RATE_LIMITED_WAIT_S
            )
            await sleep(RATE_LIMITED_WAIT_S)
    raise AssertionError("unreachable")  # the loop returns or raises


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns // _NS, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

