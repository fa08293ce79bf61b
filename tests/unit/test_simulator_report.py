"""The simulator's ReportAPI without a server: filters, paging, page tokens and the rate limit,
over events of the real (seeded, pure) market model."""

from __future__ import annotations

from functools import cache

import pytest

from fixbridge.proto.polymarket.v1 import enums_pb2, report_pb2, types_pb2
from fixbridge.simulator.market import MarketModel
from fixbridge.simulator.report import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    PageToken,
    RateLimiter,
    ReportError,
    decode_page_token,
    execution_filter,
    page_size,
    query_digest,
    search_page,
    trade_filter,
)
from fixbridge.simulator.store import EventStore
from fixbridge.simulator.times import from_timestamp, to_timestamp

START_NS = 1_795_000_000_000_000_000


@cache
def store() -> EventStore:
    """About 600 steps of seed 7, 20 ms apart."""
    events = EventStore()
    model = MarketModel(7)
    for step in range(600):
        events.append(model.step(START_NS + step * 20_000_000))
    return events


def everything(log_events: list[object], size: int = 37, newest_first: bool = False,
               request: report_pb2.SearchExecutionsRequest | None = None) -> list[object]:
    """Page through the execution log with ``size``-event pages and concatenate."""
    log = store().executions
    wanted = execution_filter(request or report_pb2.SearchExecutionsRequest())
    head = len(log)
    start: int | None = head if newest_first else 0
    pages: list[object] = []
    while start is not None:
        page, start = search_page(log, wanted, start=start, head=head,
                                  newest_first=newest_first, size=size)
        assert len(page) <= size
        pages += page
    return pages


def test_pages_cover_the_log_exactly_once_in_both_orders() -> None:
    log = store().executions.events()
    assert everything(log) == log
    assert everything(log, newest_first=True) == log[::-1]


def test_the_last_page_is_known_as_last_even_when_it_is_full() -> None:
    log = store().executions
    exact = len(log)
    page, following = search_page(log, lambda e: True, start=0, head=exact,
                                  newest_first=False, size=exact)
    assert len(page) == exact and following is None


def test_a_search_is_a_snapshot_of_the_log_at_its_first_page() -> None:
    log = store().executions
    page, following = search_page(log, lambda e: True, start=0, head=10,
                                  newest_first=False, size=10)
    assert len(page) == 10 and following is None


def test_time_range_is_start_inclusive_end_exclusive() -> None:
    log = store().executions.events()
    start, end = log[100].transact_time, log[300].transact_time
    request = report_pb2.SearchExecutionsRequest(start_time=start, end_time=end)
    expected = [e for e in log if from_timestamp(start) <= from_timestamp(e.transact_time)
                < from_timestamp(end)]
    # Both sides of a fill share one instant, so the range starts at the first with that time.
    assert from_timestamp(expected[0].transact_time) == from_timestamp(start)
    assert log[300] not in expected and log[299] in expected
    assert everything(log, request=request) == expected


@pytest.mark.parametrize(
    "field",
    ["symbol", "accounts", "order_id", "clord_id", "types", "exec_ids", "trade_date"],
)
def test_each_execution_filter_selects_exactly(field: str) -> None:
    log = store().executions.events()
    probe = log[len(log) // 2]
    order = probe.order
    requests = {
        "symbol": report_pb2.SearchExecutionsRequest(symbol=order.symbol),
        "accounts": report_pb2.SearchExecutionsRequest(accounts=[order.account]),
        "order_id": report_pb2.SearchExecutionsRequest(order_id=order.id),
        "clord_id": report_pb2.SearchExecutionsRequest(clord_id=order.clord_id),
        "types": report_pb2.SearchExecutionsRequest(
            types=[enums_pb2.EXECUTION_TYPE_FILL, enums_pb2.EXECUTION_TYPE_CANCELED]),
        "exec_ids": report_pb2.SearchExecutionsRequest(exec_ids=[probe.id, log[0].id]),
        "trade_date": report_pb2.SearchExecutionsRequest(
            start_transact_trade_date=probe.transact_trade_date,
            end_transact_trade_date=probe.transact_trade_date),
    }
    rules = {
        "symbol": lambda e: e.order.symbol == order.symbol,
        "accounts": lambda e: e.order.account == order.account,
        "order_id": lambda e: e.order.id == order.id,
        "clord_id": lambda e: e.order.clord_id == order.clord_id,
        "types": lambda e: e.type in (enums_pb2.EXECUTION_TYPE_FILL,
                                      enums_pb2.EXECUTION_TYPE_CANCELED),
        "exec_ids": lambda e: e.id in (probe.id, log[0].id),
        "trade_date": lambda e: e.transact_trade_date == probe.transact_trade_date,
    }
    expected = [e for e in log if rules[field](e)]
    assert expected and (field == "trade_date" or len(expected) < len(log))
    assert everything(log, request=requests[field]) == expected


def test_trade_dates_outside_the_range_select_nothing() -> None:
    request = report_pb2.SearchExecutionsRequest(
        start_transact_trade_date=types_pb2.Date(year=2030, month=1, day=1))
    assert everything([], request=request) == []


def test_trade_filters_match_either_side_and_every_state_record() -> None:
    trades = store().trades.events()
    probe = next(t for t in trades if t.state == enums_pb2.TRADE_STATE_CLEARED)
    log = store().trades

    def search(request: report_pb2.SearchTradesRequest) -> list[object]:
        page, following = search_page(log, trade_filter(request), start=0, head=len(log),
                                      newest_first=False, size=MAX_PAGE_SIZE)
        assert following is None
        return page

    by_id = search(report_pb2.SearchTradesRequest(trade_id=probe.id))
    assert [t.state for t in by_id][:2] == [enums_pb2.TRADE_STATE_NEW,
                                            enums_pb2.TRADE_STATE_CLEARED]
    assert search(report_pb2.SearchTradesRequest(exec_id=probe.passive.id)) == by_id
    passive_account = probe.passive.order.account
    assert all(passive_account in (t.aggressor.order.account, t.passive.order.account)
               for t in search(report_pb2.SearchTradesRequest(accounts=[passive_account])))
    cleared = search(report_pb2.SearchTradesRequest(states=[enums_pb2.TRADE_STATE_CLEARED]))
    assert cleared == [t for t in trades if t.state == enums_pb2.TRADE_STATE_CLEARED]
    since = to_timestamp(from_timestamp(probe.aggressor.transact_time))
    later = search(report_pb2.SearchTradesRequest(start_time=since))
    assert all(from_timestamp(t.aggressor.transact_time) >= from_timestamp(since) for t in later)


def test_a_reversed_time_range_is_refused() -> None:
    request = report_pb2.SearchExecutionsRequest(start_time=to_timestamp(2),
                                                 end_time=to_timestamp(1))
    with pytest.raises(ReportError, match="start_time is after end_time"):
        execution_filter(request)


def test_page_size_defaults_and_caps() -> None:
    assert page_size(0) == DEFAULT_PAGE_SIZE == 100
    assert page_size(5000) == MAX_PAGE_SIZE == 1000
    assert page_size(7) == 7
    with pytest.raises(ReportError, match="page_size must be >= 0"):
        page_size(-1)


def test_page_tokens_round_trip_and_refuse_garbage() -> None:
    token = PageToken("0123456789abcdef", "SearchTrades", "00ff", 500, 120)
    assert decode_page_token(token.encode()) == token
    assert "SearchTrades" not in token.encode(), "opaque to clients"
    for garbage in ("", "!!!", "Zm9vOmJhcg", token.encode()[:12]):
        with pytest.raises(ReportError, match="not a page token"):
            decode_page_token(garbage)


def test_the_query_digest_ignores_paging_but_not_filters() -> None:
    base = report_pb2.SearchExecutionsRequest(symbol="X", newest_first=True)
    paged = report_pb2.SearchExecutionsRequest(symbol="X", newest_first=True, page_size=5,
                                               page_token="abc")
    assert query_digest(base) == query_digest(paged)
    assert query_digest(base) != query_digest(report_pb2.SearchExecutionsRequest(symbol="X"))


def test_the_rate_limit_is_per_method_over_a_sliding_minute() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert [limiter.allow("SearchTrades") for _ in range(3)] == [True, True, False]
    assert limiter.allow("SearchExecutions")
    now[0] = 59.9
    assert not limiter.allow("SearchTrades")
    now[0] = 60.0
    assert limiter.allow("SearchTrades")
    limiter.set_limit(None)
    assert all(limiter.allow("SearchTrades") for _ in range(100))
