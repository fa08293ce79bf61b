"""The standby bridge, as a client and an operator see it (real PostgreSQL, real TCP).

It refuses every Logon by closing the connection without a message: a FIX engine counts a
Logout's MsgSeqNum as received whatever it is (QuickFIX C++'s nextLogout adds one to the
number it expects), so a Logout from the standby could make the client skip a message the
serving bridge sent it. It writes nothing (a session it has never seen is not created), its
admin port refuses operator actions, a configuration reload starts no upstream stream,
/readyz says standby, and the metrics say which bridge of the pair serves under which epoch.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import psycopg
import pytest

from fixbridge.simulator.server import SimulatorThread
from tests.integration.rawfix import RawClient
from tests.integration.scrape import http_get, scrape, value
from tests.integration.test_failover import BRIDGE, pair, the_active

pytestmark = pytest.mark.integration


def admin_post(port: int, token: str, path: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method="POST", data=b"",
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_standby_refuses_logons_writes_nothing_and_says_what_it_is(
    tmp_path: Path, postgres_dsn: str
) -> None:
    token = "standby-admin-token-0123456789"
    (tmp_path / "admin.token").write_text(token)
    (tmp_path / "admin.token").chmod(0o600)
    with SimulatorThread(seed=5, rate=20, heartbeat_interval=0.5) as sim:
        bridges = pair(
            tmp_path, sim.port, postgres_dsn, admin_token=tmp_path / "admin.token",
            b_only=[{"name": "new", "sender_comp_id": BRIDGE, "target_comp_id": "NEW"}],
        )  # fmt: skip
        try:
            bridges[0].start()
            assert the_active(bridges) is bridges[0]
            bridges[1].start()
            active, standby = bridges
            assert active.metrics_port is not None and standby.metrics_port is not None
            status, text = http_get(standby.metrics_port, "/readyz")
            assert status == 503 and "standby" in text, text
            pair_name = str(psycopg.conninfo.conninfo_to_dict(postgres_dsn)["dbname"])
            assert value(scrape(standby.metrics_port), "fixbridge_ha_active", pair=pair_name) == 0
            served = scrape(active.metrics_port)
            assert value(served, "fixbridge_ha_active", pair=pair_name) == 1
            assert value(served, "fixbridge_ha_epoch", pair=pair_name) == 1

            async def logons() -> tuple[bool, list[str], str | None]:
                refused = RawClient("BO", BRIDGE)
                await refused.connect(standby.fix_port)
                refused.logon()
                closed = await refused.closed_by_peer(10)
                stranger = RawClient("NEW", BRIDGE)  # a session no bridge has stored yet
                await stranger.connect(standby.fix_port)
                stranger.logon()
                assert await stranger.closed_by_peer(10)
                client = RawClient("BO", BRIDGE)
                await client.connect(active.fix_port)
                client.logon()
                await client.read_until(lambda inbox: any(m.msg_type == "A" for m in inbox))
                (logon,) = client.of_type("A")
                client.close()
                return closed, [m.msg_type or "" for m in refused.inbox], logon.get(34)

            closed, said, logon_seq = asyncio.run(logons())
            assert closed and said == []  # not a single message, so no number taken
            assert logon_seq == "1"
            with psycopg.connect(postgres_dsn) as conn:
                names = conn.execute("SELECT session_id FROM sessions ORDER BY 1").fetchall()
            assert names == [("bo",)]  # the standby's config has "new": it created nothing

            assert standby.admin_port is not None
            code, body = admin_post(standby.admin_port, token, "/sessions/bo/reset")
            assert code == 503 and "standby" in body, body
            assert admin_post(standby.admin_port, token, "/sessions/bo/pause")[0] == 503

            standby.signal(signal.SIGHUP)  # a reload on both hosts of a pair is routine
            time.sleep(2.0)
            log = standby.tail(400)
            assert "configuration reloaded" in log and "stream connecting" not in log, log
            seen = scrape(standby.metrics_port)
            assert value(seen, "fixbridge_upstream_connected", stream="executions") == 0
            # the two Logons, refused as the standby (the log line is rate-limited per address)
            assert value(seen, "fixbridge_unauthenticated_connections_total",
                         cause="standby") == 2  # fmt: skip
        finally:
            codes = [bridge.stop() for bridge in bridges if bridge.running]
    assert codes == [0, 0], "\n".join(b.tail() for b in bridges)
    assert "Traceback" not in bridges[1].tail(400), bridges[1].tail(400)
