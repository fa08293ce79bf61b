"""Active/standby on a real PostgreSQL server: two bridges, one QuickFIX back office that knows
both addresses (SocketConnectHost/SocketConnectHost1), the feed running throughout.

The failover test SIGKILLs whichever bridge is active three times, at moments the test does
not choose, and starts it again each time (it comes back as the standby). The client must end
with every simulator execution exactly once (further copies only with PossDupFlag=Y), its
sequence numbers continuous (no number taken twice, none too low), nothing rejected by
either side, and receiving again within 5 s of each kill (issue: failover).

The fencing test freezes the active bridge with SIGSTOP past its lease; the standby takes
over; on SIGCONT the old one finds the lease gone, writes nothing (the database says so),
and stops with the stepped-down exit status.
"""

from __future__ import annotations

import asyncio
import random
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest

from fixbridge.cli import STEPPED_DOWN_EXIT
from fixbridge.simulator.server import SimulatorThread
from tests.integration.bridge_proc import BridgeProcess, write_config
from tests.integration.qfharness import QuickFixClient, free_tcp_port
from tests.integration.scrape import http_get, scrape, value
from tests.integration.test_crash_recovery import check_delivery
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration

BRIDGE = "FIXBRIDGE"
# Fast enough for a test (a takeover at most ~2.4 s after the active's last renewal), slow
# enough for two cores busy with a simulator, two bridges, PostgreSQL and a FIX engine.
HA = {"lease_ttl_s": 2.0, "renew_every_s": 0.4, "margin_s": 0.4}
TAKEOVER_LIMIT_S = 5.0


def pair(
    tmp: Path,
    upstream_port: int,
    dsn: str,
    *,
    admin_token: Path | None = None,
    b_only: Sequence[dict[str, object]] = (),
) -> list[BridgeProcess]:
    """Two bridges with the same sessions and journal, each on its own ports (and admin
    port, given a token file); ``b_only``: sessions only bridge b has (a config drift)."""
    bridges = []
    for name in ("a", "b"):
        fix_port, metrics_port, admin_port = free_tcp_port(), free_tcp_port(), free_tcp_port()
        admin = None
        if admin_token is not None:
            admin = {"enabled": True, "host": "127.0.0.1", "port": admin_port,
                     "token_file": str(admin_token)}  # fmt: skip
        config = write_config(
            tmp / f"bridge-{name}.toml",
            upstream_port=upstream_port,
            fix_port=fix_port,
            journal=tmp / "unused.db",
            sessions=[
                {"name": "bo", "sender_comp_id": BRIDGE, "target_comp_id": "BO"},
                *(b_only if name == "b" else []),
            ],
            metrics_port=metrics_port,
            admin=admin,
            journal_settings={"backend": "postgresql", "dsn": dsn},
            ha={"enabled": True, "name": f"bridge-{name}", **HA},
        )
        bridge = BridgeProcess(config, tmp / f"bridge-{name}.log", fix_port, metrics_port)
        bridge.admin_port = admin_port if admin is not None else None
        bridges.append(bridge)
    return bridges


def is_active(bridge: BridgeProcess) -> bool:
    assert bridge.metrics_port is not None
    try:
        return value(scrape(bridge.metrics_port), "fixbridge_ha_active") == 1
    except OSError:
        return False


def the_active(bridges: list[BridgeProcess], timeout: float = 30) -> BridgeProcess:
    """The one bridge that serves (its /readyz says ready), once there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = []
        for bridge in bridges:
            assert bridge.metrics_port is not None
            try:
                status, _ = http_get(bridge.metrics_port, "/readyz")
            except OSError:
                continue
            if status == 200:
                ready.append(bridge)
        assert len(ready) <= 1, "two bridges ready at once"
        if ready:
            return ready[0]
        time.sleep(0.05)
    raise AssertionError("no bridge became active:\n" + "\n".join(b.tail() for b in bridges))


def first_app_after(client: QuickFixClient, moment: float, timeout: float) -> float:
    """When the client first received an application message on a Logon made after
    ``moment`` (what was still buffered from before does not count)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logged_on = None
        for record in client.events():
            at = float(record["ts"])
            if record.get("event") == "logon" and at > moment and logged_on is None:
                logged_on = at
            elif record.get("event") == "app_in" and logged_on is not None:
                return at
        time.sleep(0.05)
    raise AssertionError(f"the client received nothing within {timeout} s:\n{client.diagnostics()}")


def check_numbers(client: QuickFixClient) -> None:
    """Every message the client took has a number of its own, in order; QuickFIX never met a
    number below the one it expected, and never had to reject anything (a gap is closed by
    QuickFIX's ResendRequest, and ``check_delivery`` shows nothing went missing)."""
    taken = [
        m.seq_num
        for m in client.messages("app_in", "admin_in")
        if not m.poss_dup and m.msg_type not in ("4",)  # a gap fill is numbered in place
    ]
    assert all(n is not None for n in taken)
    assert len(taken) == len(set(taken)), "the client took two messages under one number"
    assert taken == sorted(n for n in taken if n is not None), "numbers went backwards"
    low = [t for t in client.session_events() if "too low" in t.lower()]
    assert not low, low[:3]
    assert client.rejects_sent() == [] and client.rejects_received() == []
    assert client.unvalidated_app_messages() == []


def test_three_kills_of_the_active_lose_nothing_repeat_nothing_and_take_over_in_5_s(
    tmp_path: Path, spec_dir: str, postgres_dsn: str
) -> None:
    rng = random.Random(14)
    rate, total = 400, 12_000  # about 30 s of feed
    with SimulatorThread(seed=31, rate=rate, max_executions=total, heartbeat_interval=0.5) as sim:
        bridges = pair(tmp_path, sim.port, postgres_dsn)
        client = QuickFixClient(
            port=bridges[0].fix_port,
            backup_port=bridges[1].fix_port,
            sender="BO",
            target=BRIDGE,
            workdir=tmp_path / "qf",
            spec_dir=spec_dir,
        )
        takeovers: list[float] = []
        try:
            for bridge in bridges:
                bridge.start()
            client.start()
            client.wait_for_app(50, timeout=60)
            for _ in range(3):
                time.sleep(rng.uniform(1.5, 4.0))
                active = the_active(bridges)
                killed_at = time.time()
                active.kill()
                takeovers.append(first_app_after(client, killed_at, 30) - killed_at)
                active.start()  # back as the standby
            sim.wait_for_executions(total, timeout=180)
            expected = [e.id for e in sim.executions()]
            client.wait_for_app(len(expected), timeout=180, unique_tag=17)
            time.sleep(1.0)
        finally:
            client.stop()
            codes = [bridge.stop() for bridge in bridges]
    assert codes == [0, 0], "\n".join(b.tail() for b in bridges)
    check_delivery("bo", client.app_messages(), expected)
    check_numbers(client)
    assert max(takeovers) < TAKEOVER_LIMIT_S, f"takeovers took {takeovers} s"
    print(f"takeovers (s): {[round(t, 2) for t in takeovers]}")


class FreezableLink:
    """``tests/tcp_proxy.py``'s relay on a thread of its own, for a test that is not async."""

    def __init__(self, port: int) -> None:
        self._proxy = TcpProxy("127.0.0.1", port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> int:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._proxy.start(), self._loop).result(10)
        return self._proxy.port

    def freeze(self) -> None:
        self._loop.call_soon_threadsafe(self._proxy.freeze)

    def thaw(self) -> None:
        self._loop.call_soon_threadsafe(self._proxy.thaw)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._proxy.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def test_a_client_cut_off_from_the_active_tries_the_standby_and_misses_nothing(
    tmp_path: Path, spec_dir: str, postgres_dsn: str
) -> None:
    """No bridge fails: the link between the client and the active bridge goes silent for a
    while (messages in flight are lost on the way), the client gives up on it and tries the
    other address, the standby, which refuses it without a message, then comes back to the
    active one. Nothing may be missing: a standby's Logout would have made QuickFIX count its
    number as received and skip the first message it had not got."""
    rate, total = 300, 6_000
    with SimulatorThread(seed=33, rate=rate, max_executions=total, heartbeat_interval=0.5) as sim:
        bridges = pair(tmp_path, sim.port, postgres_dsn)
        link = FreezableLink(bridges[0].fix_port)
        client = QuickFixClient(
            port=link.start(), backup_port=bridges[1].fix_port, sender="BO", target=BRIDGE,
            workdir=tmp_path / "qf", spec_dir=spec_dir, heartbeat=2,
        )  # fmt: skip
        try:
            bridges[0].start()
            assert the_active(bridges) is bridges[0]
            bridges[1].start()
            client.start()
            client.wait_for_app(200, timeout=60)
            link.freeze()
            time.sleep(8.0)  # past the client's heartbeat timeout: it tries the standby
            link.thaw()
            sim.wait_for_executions(total, timeout=120)
            expected = [e.id for e in sim.executions()]
            client.wait_for_app(len(expected), timeout=120, unique_tag=17)
            time.sleep(1.0)
            assert bridges[1].metrics_port is not None
            refused = value(scrape(bridges[1].metrics_port),
                            "fixbridge_unauthenticated_connections_total", cause="standby")
        finally:
            client.stop()
            link.close()
            codes = [bridge.stop() for bridge in bridges]
    assert codes == [0, 0], "\n".join(b.tail() for b in bridges)
    assert refused >= 1, "the client never tried the standby"
    check_delivery("bo", client.app_messages(), expected)
    check_numbers(client)


def rows(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(sql).fetchall()  # type: ignore[arg-type]


def test_an_active_frozen_past_its_lease_writes_nothing_when_it_wakes_and_steps_down(
    tmp_path: Path, spec_dir: str, postgres_dsn: str
) -> None:
    with SimulatorThread(seed=32, rate=300, heartbeat_interval=0.5) as sim:
        bridges = pair(tmp_path, sim.port, postgres_dsn)
        # A frozen bridge keeps its sockets open: the client finds it gone by its heartbeats.
        client = QuickFixClient(
            port=bridges[0].fix_port, backup_port=bridges[1].fix_port, sender="BO",
            target=BRIDGE, workdir=tmp_path / "qf", spec_dir=spec_dir, heartbeat=2,
        )  # fmt: skip
        try:
            bridges[0].start()
            assert the_active(bridges) is bridges[0]
            bridges[1].start()
            client.start()
            client.wait_for_app(50, timeout=60)
            bridges[0].signal(signal.SIGSTOP)
            frozen_at = time.time()
            assert the_active(bridges, timeout=30) is bridges[1]
            first_app_after(client, frozen_at, 30)
            epoch = rows(postgres_dsn, "SELECT epoch FROM fixbridge_lease")[0][0]
            bridges[1].signal(signal.SIGSTOP)  # nothing moves the journal but the old one
            try:
                journal_before = rows(postgres_dsn, SNAPSHOT)
                bridges[0].signal(signal.SIGCONT)
                code = bridges[0].wait(30)
                journal_after = rows(postgres_dsn, SNAPSHOT)
            finally:
                bridges[1].signal(signal.SIGCONT)
            client.wait_for_app(len(client.app_messages()) + 50, timeout=60)
        finally:
            client.stop()
            for bridge in bridges:
                if bridge.running:
                    bridge.stop()
    log = bridges[0].tail(400)
    assert code == STEPPED_DOWN_EXIT, log
    assert "stepped down" in log, log
    assert journal_after == journal_before, "the deposed bridge wrote to the journal"
    assert epoch == 2 and journal_before[0][0] > 0
    check_numbers(client)


# Everything a bridge writes, summed up: any write of the deposed one would change it.
SNAPSHOT = (
    'SELECT (SELECT "offset" FROM event_head), (SELECT count(*) FROM events),'
    " (SELECT string_agg(stream || ':' || encode(resume_token, 'hex'), ',' ORDER BY stream)"
    "  FROM stream_state),"
    " (SELECT string_agg(session_id || ':' || next_sender_seq || ':' || next_target_seq"
    "  || ':' || cursor_offset || ':' || updated_at, ',') FROM sessions),"
    " (SELECT count(*) FROM outbound), (SELECT count(*) FROM message_log),"
    " (SELECT value FROM meta WHERE key = 'writable_at'),"
    # every committed write transaction leaves its seal here, under its writer
    " (SELECT string_agg(writer || ':' || round, ',' ORDER BY writer) FROM journal_rounds)"
)
