"""The Report API paging shared by gap filling and ``fixbridge reconcile``: page tokens
followed to the last page, RESOURCE_EXHAUSTED waited out, and the pacing under the exchange's
12 searches a minute per method (spec §4.9), with an injected clock and no real sleeping."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from fixbridge.proto.polymarket.v1 import report_pb2
from fixbridge.upstream.report import SearchPacer, search_pages


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_pacer_allows_twelve_a_minute_per_method_then_says_how_long_to_wait() -> None:
    clock = Clock()
    pacer = SearchPacer(12, clock)
    for _ in range(12):
        assert pacer.delay("SearchExecutions") == 0
        pacer.sent("SearchExecutions")
        clock.now += 1.0
    # 12 sent at 1000..1011: the 13th fits when the first leaves the 60 s window.
    assert pacer.delay("SearchExecutions") == pytest.approx(1000.0 + 60.0 - clock.now)
    assert pacer.delay("SearchTrades") == 0  # each method has its own limit
    clock.now = 1060.0
    assert pacer.delay("SearchExecutions") == 0


def _page(n: int, last: bool) -> report_pb2.SearchExecutionsResponse:
    return report_pb2.SearchExecutionsResponse(
        next_page_token="" if last else f"t{n + 1}", eof=last
    )


class Pages:
    """A fake search method: ``pages`` responses, the token naming the next one."""

    def __init__(self, pages: int, refuse_first: int = 0) -> None:
        self.pages, self.refuse = pages, refuse_first
        self.tokens: list[str] = []

    async def __call__(self, request: Any, metadata: Any, timeout: float) -> Any:
        if self.refuse:
            self.refuse -= 1
            raise grpc.aio.AioRpcError(
                grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.aio.Metadata(), grpc.aio.Metadata(),
                "rate limit exceeded",
            )
        self.tokens.append(request.page_token)
        n = int(request.page_token[1:]) if request.page_token else 0
        return _page(n, n == self.pages - 1)


def _collect(method: Pages, pacer: SearchPacer | None, clock: Clock) -> int:
    async def go() -> int:
        count = 0
        async for _ in search_pages(
            method, lambda token: report_pb2.SearchExecutionsRequest(page_token=token), None,
            clock.sleep, pacer, "SearchExecutions",
        ):
            count += 1
        return count

    return asyncio.run(go())


def test_thirty_pages_are_paced_to_twelve_a_minute() -> None:
    clock = Clock()
    method = Pages(30)
    assert _collect(method, SearchPacer(12, clock), clock) == 30
    assert method.tokens == [""] + [f"t{n}" for n in range(1, 30)]
    # Searches 13 and 25 each wait for a window of 60 s to pass, nothing else waits.
    assert clock.slept == [60.0, 60.0]


def test_a_refused_search_is_retried_after_the_wait_and_paging_goes_on() -> None:
    clock = Clock()
    method = Pages(2, refuse_first=1)
    assert _collect(method, None, clock) == 2
    assert method.tokens == ["", "t1"]
    assert clock.slept == [6.0]  # RATE_LIMITED_WAIT_S, as before the refactor
