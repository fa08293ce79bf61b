"""A client whose TCP connection drops mid-stream is logged on again and receiving within 1 s,
and every execution reaches it exactly once across the two connections.

The client is a scripted initiator over real TCP against the in-process bridge while
executions keep arriving in the journal. It drops its connection at once (as a crashed
process would), connects again, and logs on with NextExpectedMsgSeqNum(789) = one past the
last MsgSeqNum it received, so the bridge replays what was lost in flight.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from fixbridge.fix.codec import FixMessage
from tests.integration.inprocess import ExecutionFeed, bridge, port_of
from tests.integration.rawfix import RawClient

pytestmark = pytest.mark.integration

BRIDGE, CLIENT = "FIXBRIDGE", "BACKOFFICE"
RELOGON_LIMIT_S = 1.0
BATCHES, BATCH, EVERY_S = 200, 20, 0.01  # 4,000 executions over about 2 s


def _executions(inbox: list[FixMessage]) -> list[FixMessage]:
    return [m for m in inbox if m.msg_type == "8"]


def test_dropped_connection_is_logged_on_again_and_receiving_within_a_second(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journaled: list[str] = []

    async def feed(source: ExecutionFeed) -> None:
        for _ in range(BATCHES):
            journaled.extend(source.append(BATCH))
            await asyncio.sleep(EVERY_S)

    async def conversation() -> float:
        session = {"name": "a", "sender_comp_id": BRIDGE, "target_comp_id": CLIENT}
        async with bridge(tmp_path, [session]) as b:
            feeding = asyncio.create_task(feed(ExecutionFeed(b)))
            first = RawClient(CLIENT, BRIDGE)
            await first.connect(port_of(b))
            first.logon()
            await first.read_until(lambda box: len(_executions(box)) >= 500, timeout=10)
            assert not feeding.done(), "the stream must still be flowing at the drop"
            first.abort()
            dropped = time.monotonic()
            last_seen = max(int(m.get(34) or 0) for m in first.inbox)

            second = RawClient(CLIENT, BRIDGE)
            second.seq = 2  # the client sent only its Logon on the first connection
            await second.connect(port_of(b))
            second.logon((789, str(last_seen + 1)))
            await second.read_until(
                lambda box: any(m.msg_type == "A" for m in box) and bool(_executions(box))
            )
            relogon_s = time.monotonic() - dropped

            await feeding
            await second.read_until(
                lambda box: len(_executions(first.inbox)) + len(_executions(box))
                >= len(journaled),
                timeout=20,
            )
            await asyncio.sleep(0.3)  # anything extra would arrive now
            first_part, second_part = _executions(first.inbox), _executions(second.inbox)
            received = [m.get(17) for m in first_part + second_part]
            assert received == journaled  # every execution once, in journal order
            numbers = [m.get(34) for m in first_part + second_part]
            assert len(numbers) == len(set(numbers))  # no MsgSeqNum delivered twice
            replayed = [m for m in second_part if m.get(43) == "Y"]
            assert all(int(m.get(34) or 0) > last_seen for m in replayed)
            second.close()
            return relogon_s, len(replayed)

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        relogon_s, replayed = asyncio.run(asyncio.wait_for(conversation(), timeout=60))
    print(f"re-logon after a dropped connection: {relogon_s * 1000:.0f} ms, {replayed} replayed")
    assert relogon_s < RELOGON_LIMIT_S
    writes_into_dead_socket = [r for r in caplog.records if "socket.send()" in r.getMessage()]
    assert writes_into_dead_socket == []
