"""The simulator's ``polymarket.v1.ReportAPI``: paged searches over its executions and trades.

A bridge uses the ReportAPI to fill what a DropCopy stream missed (spec section 5), so the
searches read the very logs the streams serve, corrupted events included, and ignore the
streams' replay window: the simulator keeps its whole history.

Rules (the exchange documents the filters, not these details; they are the simulator's choices):
* time range: ``start_time`` inclusive, ``end_time`` exclusive, on ``Execution.transact_time``;
  for a trade, its aggressor execution's ``transact_time`` (as the trade-capture stream);
* trade dates: ``start_transact_trade_date`` and ``end_transact_trade_date`` both inclusive;
* ``symbol``, ``accounts`` (full names, any of them; a trade matches on either side) and the
  id filters select exactly; an empty field or list does not filter;
* results come in log order (for executions that is transact_time order), oldest first unless
  ``newest_first`` (executions only: SearchTradesRequest has no such field);
* SearchTrades returns every state record of the trade log: a trade that went NEW and then
  CLEARED is returned twice, once per state, as the trade-capture stream sent it;
* ``page_size`` 0 means 100, more than 1000 means 1000, negative is INVALID_ARGUMENT;
* a search is a snapshot of the log as it was at its first page: later pages never include
  events produced after it. ``next_page_token`` is opaque and empty on the last page, where
  ``eof`` is true. A token only fits the same search (same filters) on the same simulator
  instance; anything else is INVALID_ARGUMENT;
* an optional rate limit (requests per minute per method, default off; the exchange allows 12)
  answers RESOURCE_EXHAUSTED.

This module reads the logs; it must never change them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from fixbridge.proto.polymarket.v1 import (
    orders_pb2,
    report_pb2,
    report_pb2_grpc,
    trading_pb2,
    types_pb2,
)
from fixbridge.simulator.store import EventLog, EventStore
from fixbridge.simulator.streams import E, Entry
from fixbridge.simulator.times import from_timestamp

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
PAGE_TOKEN_FORMAT = "fbrep1"
RATE_WINDOW_S = 60.0
_CHUNK = 2_000

Q = TypeVar("Q", bound=Message)


class ReportError(ValueError):
    """A search the simulator answers with INVALID_ARGUMENT; the message names the problem."""


# --------------------------------------------------------------------------------- page tokens


@dataclass(frozen=True, slots=True)
class PageToken:
    """Where the next page of one search starts. Clients must treat it as opaque."""

    instance: str
    method: str
    query: str
    """Digest of the search's filters, so a token cannot continue a different search."""
    head: int
    """Log length at the first page: the search's snapshot."""
    position: int
    """Oldest first: the next position to look at; newest first: one past it."""

    def encode(self) -> str:
        text = f"{PAGE_TOKEN_FORMAT}:{self.instance}:{self.method}:{self.query}:{self.head}:" \
               f"{self.position}"
        return base64.urlsafe_b64encode(text.encode("ascii")).decode("ascii").rstrip("=")


def decode_page_token(raw: str) -> PageToken:
    """Parse a page token; raises ReportError if it is not one."""
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ReportError("page_token is not a page token of this simulator") from None
    parts = text.split(":")
    if len(parts) != 6 or parts[0] != PAGE_TOKEN_FORMAT or not all(
        p.isdigit() for p in parts[4:]
    ):
        raise ReportError("page_token is not a page token of this simulator")
    return PageToken(parts[1], parts[2], parts[3], int(parts[4]), int(parts[5]))


def query_digest(request: Message) -> str:
    """A digest of everything in a search request but its paging fields."""
    query = type(request)()
    query.CopyFrom(request)
    query.ClearField("page_token")
    query.ClearField("page_size")
    return hashlib.sha256(query.SerializeToString(deterministic=True)).hexdigest()[:16]


def page_size(requested: int) -> int:
    if requested < 0:
        raise ReportError(f"page_size must be >= 0, got {requested}")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


# ------------------------------------------------------------------------------------- filters

Filter = Callable[[Entry[Any]], bool]


def _time_filters(request: Any) -> list[Filter]:
    """``start_time`` inclusive, ``end_time`` exclusive, on the entry's time."""
    filters: list[Filter] = []
    start = from_timestamp(request.start_time) if request.HasField("start_time") else None
    end = from_timestamp(request.end_time) if request.HasField("end_time") else None
    if start is not None and end is not None and start > end:
        raise ReportError("start_time is after end_time")
    if start is not None:
        filters.append(lambda e: e.time_ns >= start)
    if end is not None:
        filters.append(lambda e: e.time_ns < end)
    if request.symbol:
        filters.append(lambda e: e.symbol == request.symbol)
    if request.accounts:
        accounts = frozenset(request.accounts)
        filters.append(lambda e: any(a in accounts for a in e.accounts))
    return filters


def _date_key(date: types_pb2.Date) -> tuple[int, int, int]:
    return date.year, date.month, date.day


def _order_field_is(field: str, wanted: str) -> Filter:
    return lambda entry: bool(getattr(entry.event.order, field) == wanted)


def execution_filter(request: report_pb2.SearchExecutionsRequest) -> Filter:
    """Whether an execution entry matches every filter the request sets."""
    filters = _time_filters(request)
    order_fields = (
        ("order_id", "id"),
        ("clord_id", "clord_id"),
        ("client_account_id", "client_account_id"),
        ("client_participant_id", "client_participant_id"),
        ("parent_order_id", "parent_order_id"),
    )
    for field, order_field in order_fields:
        wanted = getattr(request, field)
        if wanted:
            filters.append(_order_field_is(order_field, wanted))
    if request.types:
        types = frozenset(request.types)
        filters.append(lambda e: e.event.type in types)
    if request.exec_ids:
        ids = frozenset(request.exec_ids)
        filters.append(lambda e: e.event.id in ids)
    if request.HasField("start_transact_trade_date"):
        first = _date_key(request.start_transact_trade_date)
        filters.append(lambda e: _date_key(e.event.transact_trade_date) >= first)
    if request.HasField("end_transact_trade_date"):
        last = _date_key(request.end_transact_trade_date)
        filters.append(lambda e: _date_key(e.event.transact_trade_date) <= last)
    return lambda entry: all(f(entry) for f in filters)


def trade_filter(request: report_pb2.SearchTradesRequest) -> Filter:
    """Whether a trade entry matches every filter the request sets."""
    filters = _time_filters(request)

    def sides(entry: Entry[Any]) -> tuple[trading_pb2.Execution, trading_pb2.Execution]:
        trade: orders_pb2.Trade = entry.event
        return trade.aggressor, trade.passive

    if request.order_id:
        filters.append(lambda e: any(x.order.id == request.order_id for x in sides(e)))
    if request.exec_id:
        filters.append(lambda e: any(x.id == request.exec_id for x in sides(e)))
    if request.trade_id:
        filters.append(lambda e: e.event.id == request.trade_id)
    if request.states:
        states = frozenset(request.states)
        filters.append(lambda e: e.event.state in states)
    if request.trade_link_id:
        filters.append(lambda e: e.event.trade_link_id == request.trade_link_id)
    return lambda entry: all(f(entry) for f in filters)


# -------------------------------------------------------------------------------------- paging


def _walk(log: EventLog[E], start: int, head: int, newest_first: bool
          ) -> Iterator[tuple[int, Entry[E]]]:
    """(position, entry) from ``start`` towards the end of the snapshot (or towards 0)."""
    if newest_first:
        position = min(start, head)
        while position > 0:
            first = max(0, position - _CHUNK)
            chunk = log.read(first, position - first)
            for offset in range(len(chunk) - 1, -1, -1):
                yield first + offset, chunk[offset]
            position = first
        return
    position = start
    while position < head:
        chunk = log.read(position, min(_CHUNK, head - position))
        if not chunk:
            return
        for offset, entry in enumerate(chunk):
            yield position + offset, entry
        position += len(chunk)


def search_page(
    log: EventLog[E],
    wanted: Filter,
    *,
    start: int,
    head: int,
    newest_first: bool,
    size: int,
) -> tuple[list[E], int | None]:
    """Up to ``size`` matching events from ``start``, and where the next page starts (None:
    no further match in the snapshot, so this is the last page)."""
    found: list[E] = []
    for position, entry in _walk(log, start, head, newest_first):
        if wanted(entry):
            if len(found) == size:
                return found, position + 1 if newest_first else position
            found.append(entry.event)
    return found, None


# ---------------------------------------------------------------------------------- rate limit


class RateLimiter:
    """At most N requests per method in any 60 s; None = unlimited. Thread-safe."""

    def __init__(self, per_minute: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._recent: dict[str, deque[float]] = {}
        self.set_limit(per_minute)

    def set_limit(self, per_minute: int | None) -> None:
        if per_minute is not None and per_minute < 1:
            raise ValueError(f"per_minute must be >= 1, got {per_minute}")
        with self._lock:
            self._limit = per_minute
            self._recent.clear()

    @property
    def limit(self) -> int | None:
        with self._lock:
            return self._limit

    def allow(self, method: str) -> bool:
        """Whether one more request of ``method`` fits now (it is counted if it does)."""
        now = self._clock()
        with self._lock:
            if self._limit is None:
                return True
            recent = self._recent.setdefault(method, deque())
            while recent and recent[0] <= now - RATE_WINDOW_S:
                recent.popleft()
            if len(recent) >= self._limit:
                return False
            recent.append(now)
            return True


# ------------------------------------------------------------------------------------ servicer


class ReportServicer(report_pb2_grpc.ReportAPIServicer):
    def __init__(self, store: EventStore, *, instance: str,
                 requests_per_minute: int | None = None) -> None:
        self._store = store
        self._instance = instance
        self.rate_limit = RateLimiter(requests_per_minute)
        """``set_limit(n)`` changes it at run time (None switches it off)."""

    async def SearchExecutions(
        self, request: report_pb2.SearchExecutionsRequest, context: Any
    ) -> report_pb2.SearchExecutionsResponse:
        events, token = await self._search(
            "SearchExecutions", self._store.executions, request, execution_filter,
            request.newest_first, context,
        )
        return report_pb2.SearchExecutionsResponse(
            executions=events, next_page_token=token, eof=not token)

    async def SearchTrades(
        self, request: report_pb2.SearchTradesRequest, context: Any
    ) -> report_pb2.SearchTradesResponse:
        events, token = await self._search(
            "SearchTrades", self._store.trades, request, trade_filter, False, context,
        )
        return report_pb2.SearchTradesResponse(trades=events, next_page_token=token, eof=not token)

    async def _search(
        self,
        method: str,
        log: EventLog[E],
        request: Q,
        make_filter: Callable[[Q], Filter],
        newest_first: bool,
        context: Any,
    ) -> tuple[list[E], str]:
        if not self.rate_limit.allow(method):
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"rate limit exceeded: {method} allows {self.rate_limit.limit} requests per "
                "minute",
            )
        try:
            return await asyncio.to_thread(
                self._page, method, log, request, make_filter, newest_first)
        except ReportError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise  # context.abort raises; this line only satisfies the type checker

    def _page(
        self,
        method: str,
        log: EventLog[E],
        request: Q,
        make_filter: Callable[[Q], Filter],
        newest_first: bool,
    ) -> tuple[list[E], str]:
        size = page_size(getattr(request, "page_size"))  # noqa: B009 - any search request
        wanted = make_filter(request)
        query = query_digest(request)
        raw = getattr(request, "page_token")  # noqa: B009
        if raw:
            token = decode_page_token(raw)
            if token.instance != self._instance:
                raise ReportError(
                    "page_token was issued by another simulator instance; search again")
            if token.method != method or token.query != query:
                raise ReportError(
                    "page_token belongs to a different search: keep every filter as on the "
                    "first page")
            if token.head > len(log) or token.position > token.head:
                raise ReportError("page_token points past the end of the log")
            head, start = token.head, token.position
        else:
            head = len(log)
            start = head if newest_first else 0
        events, following = search_page(
            log, wanted, start=start, head=head, newest_first=newest_first, size=size)
        if following is None:
            return events, ""
        return events, PageToken(self._instance, method, query, head, following).encode()
