"""Retention in a running bridge: the background task removes what every session has been
sent once it is older than ``retain_days``, and nothing a session still waits for."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from fixbridge.journal import retention
from fixbridge.journal.retention import DAY_NS
from tests.integration.inprocess import ExecutionFeed, bridge, port_of
from tests.integration.rawfix import RawClient

pytestmark = pytest.mark.integration

BRIDGE = "FIXBRIDGE"


def test_the_bridge_removes_old_events_once_the_session_has_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "FIRST_RUN_DELAY_S", 0.1)
    monkeypatch.setattr(retention, "INTERVAL_S", 0.1)

    async def conversation() -> None:
        session = {"name": "a", "sender_comp_id": BRIDGE, "target_comp_id": "CLIENT_A"}
        async with bridge(tmp_path, [session], ops=True, retain_days=3) as b:
            assert b.journal is not None
            ids = ExecutionFeed(b, start_ns=time.time_ns() - 10 * DAY_NS).append(5)
            await asyncio.sleep(0.5)  # retention runs meanwhile: the session has none of them,
            # and the stream's resume point is ten days old
            assert len(b.journal.read_events(0, 100)) == 5
            client = RawClient("CLIENT_A", BRIDGE)
            await client.connect(port_of(b))
            client.logon()
            await client.read_until(lambda box: len(client.of_type("8")) == 5)
            assert [m.get(17) for m in client.of_type("8")] == ids
            # The stream is live (a token-only heartbeat now): it replays nothing that old.
            b.journal.append("executions", [], b"heartbeat", time.time_ns())
            removed = b.metrics.registry
            while removed.get_sample_value(
                "fixbridge_journal_retention_removed_total", {"what": "events"}
            ) != 4:
                await asyncio.sleep(0.05)
            (newest,) = b.journal.read_events(0, 100)  # the head stays
            assert newest.upstream_id == ids[-1]
            client.close()

    asyncio.run(asyncio.wait_for(conversation(), timeout=30))
