"""The market-data subscriber's pieces that need no exchange: its authorization metadata (the
access token, never x-participant-id: the market-data page asks for no participant), and
commands planned while a stream is down (dropped: the next connect subscribes the plan)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

from fixbridge.config import UpstreamConfig
from fixbridge.journal.store import Journal
from fixbridge.upstream.auth import TokenSource
from fixbridge.upstream.md_subscriber import MarketDataSubscriber
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
