"""The standby bridge, as a client and an operator see it (real PostgreSQL, real TCP).

It answers a Logon with a Logout whose Text says it is the standby, under the session's next
number; it notes that number first, so the active bridge's Logon reply comes after it (a FIX
engine counts a Logout's number as received, QuickFIX included). /readyz says standby, and
the metrics say which bridge serves under which epoch.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest

from fixbridge.simulator.server import SimulatorThread
from tests.integration.rawfix import RawClient
from tests.integration.scrape import http_get, scrape, value
from tests.integration.test_failover import BRIDGE, pair, the_active

pytestmark = pytest.mark.integration


def test_the_standby_refuses_logons_by_name_and_the_active_numbers_on_past_it(
    tmp_path: Path, postgres_dsn: str
) -> None:
    with SimulatorThread(seed=5, rate=20, heartbeat_interval=0.5) as sim:
        bridges = pair(tmp_path, sim.port, postgres_dsn)
        try:
            bridges[0].start()
            assert the_active(bridges) is bridges[0]
            bridges[1].start()
            active, standby = bridges
            assert active.metrics_port is not None and standby.metrics_port is not None
            status, text = http_get(standby.metrics_port, "/readyz")
            assert status == 503 and "standby" in text, text
            assert value(scrape(standby.metrics_port), "fixbridge_ha_active") == 0
            served = scrape(active.metrics_port)
            assert value(served, "fixbridge_ha_active") == 1
            assert value(served, "fixbridge_ha_epoch") == 1

            async def talk() -> tuple[str | None, str | None, str | None]:
                refused = RawClient("BO", BRIDGE)
                await refused.connect(standby.fix_port)
                refused.logon()
                assert await refused.closed_by_peer(10)
                (logout,) = refused.of_type("5")
                client = RawClient("BO", BRIDGE)
                client.seq = 3  # our Logon 1 and the Logout 2 we would have answered with
                await client.connect(active.fix_port)
                client.logon()
                await client.read_until(lambda inbox: any(m.msg_type == "A" for m in inbox))
                (logon,) = client.of_type("A")
                client.close()
                return logout.get(34), logout.get(58), logon.get(34)

            logout_seq, text, logon_seq = asyncio.run(talk())
            assert text is not None and text.startswith("fixbridge standby")
            assert logout_seq == "1" and logon_seq == "2"
            with psycopg.connect(postgres_dsn) as conn:
                noted = conn.execute("SELECT session_id, epoch, seq FROM standby_logouts")
                assert noted.fetchall() == [("bo", 0, 1)]
        finally:
            codes = [bridge.stop() for bridge in bridges if bridge.running]
    assert codes == [0, 0], "\n".join(b.tail() for b in bridges)
