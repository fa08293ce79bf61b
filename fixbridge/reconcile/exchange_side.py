"""The exchange's side of a reconciliation: one trade date's executions and trades from the
Report API, paged and paced by ``fixbridge/upstream/report.py`` (12 searches a minute per
method, RESOURCE_EXHAUSTED waited out), filtered by the configured symbols and firms as the
streams are, and given the identities the stream conversion gives them.

Executions are searched by ``start/end_transact_trade_date`` (both the date); trades have no
trade-date filter, so they are searched by time over the date's window widened by a day and
kept by their aggressor fill's trade date. This module must never write the journal.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import grpc

from fixbridge.config import UpstreamConfig
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.execution import ExecutionEvent, normalize_execution
from fixbridge.normalize.trade import TradeEvent, normalize_trade
from fixbridge.proto.polymarket.v1 import report_pb2, report_pb2_grpc
from fixbridge.reconcile.compare import Event
from fixbridge.reconcile.journal_side import search_window
from fixbridge.reconcile.records import compared, execution_date, trade_date_of
from fixbridge.upstream.report import (
    PAGE_SIZE,
    SEARCHES,
    SearchPacer,
    search_pages,
    wanted_by_config,
)
from fixbridge.upstream.streams import execution_to_event, trade_to_event

Progress = Callable[[str, int, int], None]  # (method, pages so far, events so far)

_E = TypeVar("_E", ExecutionEvent, TradeEvent)


def _executions_request(date: dt.date) -> Callable[[str], Any]:
    day = {"year": date.year, "month": date.month, "day": date.day}

    def request(page_token: str) -> report_pb2.SearchExecutionsRequest:
        return report_pb2.SearchExecutionsRequest(
            page_size=PAGE_SIZE, page_token=page_token,
            start_transact_trade_date=day, end_transact_trade_date=day,
        )

    return request


def _trades_request(date: dt.date) -> Callable[[str], Any]:
    start, end = search_window(date)

    def request(page_token: str) -> report_pb2.SearchTradesRequest:
        built = report_pb2.SearchTradesRequest(page_size=PAGE_SIZE, page_token=page_token)
        built.start_time.FromNanoseconds(start)
        built.end_time.FromNanoseconds(end)
        return built

    return request


def _execution(message: Any) -> Event:
    key = execution_to_event(message).upstream_id
    return compared("executions", key, _normalized(normalize_execution, message))


def _trade(message: Any) -> Event:
    key = trade_to_event(message).upstream_id
    return compared("trades", key, _normalized(normalize_trade, message))


def _normalized(normalize: Callable[[Any], _E], message: Any) -> _E | None:
    """The exchange's message as the bridge normalizes it; None if it cannot be (it is then
    compared by identity only)."""
    try:
        return normalize(message)
    except NormalizationError:
        return None


async def report_events(
    channel: grpc.aio.Channel,
    metadata: Sequence[tuple[str, str]] | None,
    config: UpstreamConfig,
    date: dt.date,
    *,
    pacer: SearchPacer,
    progress: Progress,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> list[Event]:
    """The exchange's executions and trades of ``date`` the bridge's streams would carry."""
    stub = report_pb2_grpc.ReportAPIStub(channel)  # type: ignore[no-untyped-call]
    wanted_date = date.strftime("%Y%m%d")
    plan = (
        ("executions", _executions_request(date), execution_date, _execution),
        ("trades", _trades_request(date), trade_date_of, _trade),
    )
    events: list[Event] = []
    for stream, request, date_of, convert in plan:
        search = SEARCHES[stream]
        method = getattr(stub, search.rpc)
        pages, first = 0, len(events)
        async for response in search_pages(method, request, metadata, sleep, pacer, search.rpc):
            pages += 1
            for message in getattr(response, search.events_field):
                if date_of(message) != wanted_date or not wanted_by_config(
                    search.symbol_of(message), search.accounts_of(message), config
                ):
                    continue
                events.append(convert(message))
            progress(search.rpc, pages, len(events) - first)
    return events
