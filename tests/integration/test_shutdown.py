"""SIGTERM and SIGINT: stop accepting, log every session out with a Text, exit 0, quickly.

The real bridge runs as a subprocess with two sessions logged on over real TCP while the
simulator streams; what the clients receive and the journal afterwards are the oracle.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from pathlib import Path

import pytest

from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.simulator.server import SimulatorThread
from tests.integration.bridge_proc import bridge_for
from tests.integration.rawfix import RawClient

pytestmark = pytest.mark.integration

BRIDGE = "FIXBRIDGE"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_logs_every_session_out_and_exits_0(sig: signal.Signals, tmp_path: Path) -> None:
    sessions = [
        {"name": "one", "sender_comp_id": BRIDGE, "target_comp_id": "ONE"},
        {"name": "two", "sender_comp_id": BRIDGE, "target_comp_id": "TWO"},
    ]
    with SimulatorThread(seed=4, rate=300, heartbeat_interval=0.3) as sim:
        bridge = bridge_for(tmp_path, sim.port, sessions)
        with bridge:

            async def scenario() -> tuple[list[str], float, int]:
                clients = [RawClient("ONE", BRIDGE), RawClient("TWO", BRIDGE)]
                for client in clients:
                    await client.connect(bridge.fix_port)
                    client.logon()
                    await client.read_until(lambda box: any(m.msg_type == "8" for m in box))
                started = time.monotonic()
                bridge.signal(sig)
                texts = []
                for client in clients:
                    box = await client.read_until(
                        lambda box: any(m.msg_type == "5" for m in box), timeout=10
                    )
                    texts += [m.get(58) or "" for m in box if m.msg_type == "5"]
                    client.send("5")  # answer the Logout, as an engine does
                    assert await client.closed_by_peer(timeout=10)
                code = await asyncio.to_thread(bridge.wait, 15)
                return texts, time.monotonic() - started, code

            texts, took, code = asyncio.run(scenario())
            with pytest.raises(OSError):  # no longer accepting
                socket.create_connection(("127.0.0.1", bridge.fix_port), timeout=1).close()
    assert code == 0, bridge.tail()
    assert texts == ["fixbridge shutting down", "fixbridge shutting down"]
    assert took < 10, f"shutdown took {took:.1f} s"
    log = (tmp_path / "bridge.log").read_text()
    assert "fixbridge stopped" in log and "Traceback" not in log
    # The journal closed cleanly: it opens again and holds what was streamed.
    journal = SqliteJournal(tmp_path / "journal.db")
    try:
        assert journal.count_events("executions") > 0
    finally:
        journal.close()
