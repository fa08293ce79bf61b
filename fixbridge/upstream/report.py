"""Filling a gap the stream can no longer replay, from the exchange's ReportAPI.

When even ``resume_time`` is refused (the replay window is gone), the executions and trades
between the last durable event and now are still in the Report API (spec §5: executions for
7 days, trades for good). They are fetched page by page, oldest first, and journaled through
the same conversion and deduplication as stream events (with no resume token, so the stored
token never moves), before the stream reopens from the end of the filled range. The Report
API takes at most one symbol per request and no firm filter, so one time-ordered search over
all symbols is filtered here by the configured symbols and firms. Instruments and positions
have no report: a gap there is logged and counted as unrecoverable by the caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc

from fixbridge.config import UpstreamConfig
from fixbridge.journal.store import Journal
from fixbridge.proto.polymarket.v1 import report_pb2, report_pb2_grpc
from fixbridge.upstream.streams import StreamSpec

log = logging.getLogger("fixbridge.upstream")

PAGE_SIZE = 1000
RATE_LIMITED_WAIT_S = 6.0  # the Report API allows 12 searches a minute per method
RATE_LIMITED_TRIES = 10
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


def _wanted(symbol: str, accounts: tuple[str, ...], config: UpstreamConfig) -> bool:
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
    journal: Journal,
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
    page_token = ""
    while True:
        # One pass over all symbols, oldest first, filtered here: if the bridge stops midway,
        # what is journaled is a prefix in time, so the next resume anchor misses nothing.
        request = search.request_type(page_size=PAGE_SIZE, page_token=page_token)
        request.start_time.FromNanoseconds(start_ns)
        request.end_time.FromNanoseconds(end_ns)
        response = await _search(method, request, metadata, sleep)
        events = [
            e for e in getattr(response, search.events_field)
            if _wanted(search.symbol_of(e), search.accounts_of(e), config)
        ]
        fetched += len(events)
        if events:
            now = clock()
            result = await journal.append_async(
                spec.name, spec.journal_events(events, journal, now), b"", now
            )
            stored += result.stored
        page_token = response.next_page_token
        if response.eof or not page_token:
            break
    log.info(
        "%s gap filled from ReportAPI.%s: %d event(s) between %s and %s, %d new",
        spec.name, search.rpc, fetched, _iso(start_ns), _iso(end_ns), stored,
        extra={"stream": spec.name},
    )
    return fetched, stored


async def _search(
    method: Any,
    request: Any,
    metadata: Sequence[tuple[str, str]] | None,
    sleep: Callable[[float], Awaitable[None]],
) -> Any:
    for attempt in range(1, RATE_LIMITED_TRIES + 1):
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

