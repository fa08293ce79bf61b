"""The market-data subscriber's pieces that need no exchange: its authorization metadata (the
access token, never x-participant-id: the market-data page asks for no participant), commands
planned while a stream is down (dropped: the next connect subscribes the plan), settlements
journaled once and a final one only after the positions of its set time, and a refused
request retried slowly rather than stopping the bridge."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, cast

import grpc

from fixbridge.config import UpstreamConfig
from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.journal.store import AppendResult, Journal
from fixbridge.proto.polymarket.v1 import marketdatasubscription_pb2 as md
from fixbridge.upstream.auth import TokenSource
from fixbridge.upstream.md_subscriber import MarketDataSubscriber
from fixbridge.upstream.policy import Action, decide
from fixbridge.upstream.scales import ScaleBook


class _Tokens:
    async def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", "Bearer t"), ("x-participant-id", "firms/F/users/U"))


def subscriber(tokens: Any = None) -> MarketDataSubscriber:
    return MarketDataSubscriber(
        UpstreamConfig(), cast(Journal, object()), ScaleBook(), lambda: None, time.time_ns,
        token_source=cast(TokenSource, tokens),
    )


def test_market_data_sends_the_token_without_a_participant_id() -> None:
    assert asyncio.run(subscriber(_Tokens()).metadata()) == (("authorization", "Bearer t"),)
    assert asyncio.run(subscriber().metadata()) is None


def test_changes_while_no_stream_is_open_are_left_to_the_next_subscribe() -> None:
    planned = subscriber()
    planned.apply(["a", "b"])
    planned.apply(["b", "c"])  # nothing open: no command is queued anywhere
    assert len(planned.streams) == 1 and not planned.streams[0].connected
    assert planned.plan.symbols(0) == ("b", "c")  # what the stream subscribes when it opens


def test_a_settlement_repeated_by_later_updates_is_journaled_once_without_more_writes(
    tmp_path: Path,
) -> None:
    """A settled symbol's later updates (its book, its statistics) all carry the settlement
    again: the first is journaled, the rest are duplicates that cost no journal write."""
    journal = SqliteJournal(tmp_path / "j.db")
    appends: list[str] = []
    original = journal.append_async

    async def counted(stream: str, events: Any, token: bytes, at: int) -> AppendResult:
        appends.append(stream)
        return await original(stream, events, token, at)

    journal.append_async = counted  # type: ignore[method-assign]
    scales = ScaleBook()
    scales.update("S", 1000, 1)
    md_subscriber = MarketDataSubscriber(
        UpstreamConfig(), journal, scales, lambda: None, time.time_ns
    )
    update = md.MarketDataUpdate(symbol="S", stats=md.InstrumentStats(
        settlement_px=1000, settlement_preliminary=False,
        settlement_price_calculation_method="SETTLEMENT_PRICE_CALCULATION_METHOD_EVENT_TIER_1"))
    final = md.MarketDataUpdate()
    final.CopyFrom(update)
    final.stats.settlement_px = 0  # a changed price is a new fact

    async def feed() -> None:
        for each in (update, update, update, final, final):
            await md_subscriber.journal_update(each)

    asyncio.run(feed())
    journal.close()
    assert appends == ["settlements", "settlements"]
    assert (md_subscriber.settlements_stored, md_subscriber.duplicates) == (2, 3)


def test_a_final_resolution_waits_for_the_positions_of_its_set_time(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """Its reports take each account's position at the set time from what was journaled
    before it, so it is journaled only once the positions stream has reached that time (or
    the wait gives up)."""
    monkeypatch.setattr("fixbridge.upstream.md_subscriber.POSITIONS_POLL_S", 0.001)
    journal = SqliteJournal(tmp_path / "j.db")
    asked: list[int] = []

    def reach(at_ns: int) -> bool:
        asked.append(at_ns)
        return len(asked) > 3  # the positions catch up on the fourth look

    scales = ScaleBook()
    scales.update("S", 1000, 1)
    md_subscriber = MarketDataSubscriber(
        UpstreamConfig(), journal, scales, lambda: None, time.time_ns, positions_reach=reach
    )
    stats = md.InstrumentStats(
        settlement_px=1000, settlement_preliminary=True,
        settlement_price_calculation_method="SETTLEMENT_PRICE_CALCULATION_METHOD_EVENT_TIER_1")
    stats.settlement_set_time.FromNanoseconds(1_795_000_000_000_000_000)
    preliminary = md.MarketDataUpdate(symbol="S", stats=stats)
    final = md.MarketDataUpdate()
    final.CopyFrom(preliminary)
    final.stats.settlement_preliminary = False

    asyncio.run(md_subscriber.journal_update(preliminary))
    assert asked == []  # a preliminary price settles nothing: no wait
    asyncio.run(md_subscriber.journal_update(final))
    assert asked == [1_795_000_000_000_000_000] * 4
    assert journal.count_events("settlements") == 2

    monkeypatch.setattr("fixbridge.upstream.md_subscriber.POSITIONS_WAIT_S", 0.01)
    corrected = md.MarketDataUpdate()
    corrected.CopyFrom(final)
    corrected.stats.settlement_set_time.FromNanoseconds(1_795_000_000_000_000_001)
    never = MarketDataSubscriber(  # positions never get there: the wait gives up
        UpstreamConfig(), journal, scales, lambda: None, time.time_ns,
        positions_reach=lambda at_ns: False,
    )
    asyncio.run(never.journal_update(corrected))
    assert journal.count_events("settlements") == 3
    journal.close()


def test_a_request_refused_as_invalid_is_retried_slowly_and_never_stops_the_bridge() -> None:
    """The drop-copy streams stop the bridge on INVALID_ARGUMENT (a configuration error);
    settlement prices are not worth the drop copy: the market-data stream stays down, logged
    CRITICAL, and is tried again after upstream.slow_retry_s."""
    planned = subscriber()
    planned.apply(["a"])
    (stream,) = planned.streams
    decision = decide(
        grpc.StatusCode.INVALID_ARGUMENT, "symbols: bad", sent_token=False, sent_time=False
    )
    assert decision.action is Action.FATAL
    delay = stream._recover(decision, "INVALID_ARGUMENT")
    slow = UpstreamConfig().slow_retry_s
    assert 0.8 * slow <= delay <= 1.2 * slow
