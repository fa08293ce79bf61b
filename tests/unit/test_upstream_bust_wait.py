"""A bust waits for the executions stream: the trades stream holds a response with a BUSTED
trade until the executions journaled reach the point in time the trades stream has reached,
never longer than its bound, and never holds a response without a bust."""

from __future__ import annotations

import asyncio

from fixbridge.proto.polymarket.v1 import dropcopy_pb2, enums_pb2
from fixbridge.upstream.streams import executions_first

S = 1_795_000_000


class Progress:
    def __init__(self) -> None:
        self.anchor: int | None = None
        self.asked = 0

    def resume_anchor_ns(self, stream: str) -> int | None:
        assert stream == "executions"
        self.asked += 1
        return self.anchor


def response(*trades: tuple[int, int]) -> dropcopy_pb2.CreateTradeCaptureReportSubscriptionResponse:
    """Trades as (aggressor transact second, state)."""
    out = dropcopy_pb2.CreateTradeCaptureReportSubscriptionResponse()
    for second, state in trades:
        trade = out.trade_capture_reports.add()
        trade.state = state  # type: ignore[assignment]
        trade.aggressor.transact_time.seconds = second
    return out


CLEARED, BUSTED = enums_pb2.TRADE_STATE_CLEARED, enums_pb2.TRADE_STATE_BUSTED


def test_a_bust_waits_until_the_executions_reach_the_trades_streams_point_in_time() -> None:
    async def main() -> tuple[bool, bool]:
        progress = Progress()
        wait = executions_first(progress, wait_s=30.0)
        await wait(response((S + 5, CLEARED)))  # no bust: no wait, no question
        assert progress.asked == 0
        held = asyncio.ensure_future(wait(response((S + 1, BUSTED))))
        await asyncio.sleep(0.05)
        still_held = not held.done()  # the stream reached S+5; executions are nowhere yet
        progress.anchor = (S + 4) * 1_000_000_000
        await asyncio.sleep(0.05)
        held_at_s4 = not held.done()
        progress.anchor = (S + 5) * 1_000_000_000
        await asyncio.wait_for(held, 1.0)
        return still_held, held_at_s4

    assert asyncio.run(main()) == (True, True)


def test_a_bust_is_never_held_past_the_bound() -> None:
    async def main() -> float:
        wait = executions_first(Progress(), wait_s=0.1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.wait_for(wait(response((S, BUSTED))), 5.0)
        return loop.time() - started

    assert asyncio.run(main()) >= 0.1
