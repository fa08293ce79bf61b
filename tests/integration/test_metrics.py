"""The bridge's /metrics, /healthz and /readyz, scraped over HTTP while real parts run.

simulator (gRPC) -> fixbridge (subprocess) -> QuickFIX or a scripted raw client: what the
client saw is the oracle for what the bridge counted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fixbridge.app import Bridge
from fixbridge.config import parse_config
from fixbridge.fix.credentials import hash_password
from fixbridge.simulator.market import MarketModel
from fixbridge.simulator.server import SimulatorThread
from fixbridge.upstream.progress import CAUGHT_UP_LAG_S
from fixbridge.upstream.streams import execution_to_event
from tests.integration.bridge_proc import BridgeProcess, bridge_for
from tests.integration.qfharness import QuickFixClient, free_tcp_port
from tests.integration.rawfix import RawClient
from tests.integration.scrape import Samples, http_get, scrape, value

pytestmark = pytest.mark.integration
SLOW = "fixbridge_session_slow_consumer_disconnects_total"

CLIENT, BRIDGE = "BACKOFFICE", "FIXBRIDGE"


def eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll ``check`` until it holds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not reached in {timeout} s"
        time.sleep(0.1)


def scrape_until(port: int, condition: Callable[[Samples], bool]) -> Samples:
    """The first scrape for which ``condition`` holds (gauges settle a moment after events)."""
    found: list[Samples] = []

    def check() -> bool:
        samples = scrape(port)
        found[:] = [samples]
        return condition(samples)

    eventually(check)
    return found[0]


def session(name: str, client: str) -> dict[str, object]:
    return {"name": name, "sender_comp_id": BRIDGE, "target_comp_id": client}


def test_metrics_follow_a_quickfix_session_and_readiness_follows_upstream(
    tmp_path: Path, spec_dir: str
) -> None:
    total = 600
    port = free_tcp_port()
    bo = {"session": "bo"}
    sim = SimulatorThread(seed=21, rate=0, max_executions=total, heartbeat_interval=0.5).start()
    try:
        bridge = bridge_for(tmp_path, sim.port, [session("bo", CLIENT)], metrics_port=port)
        with bridge:
            assert http_get(port, "/healthz") == (200, "ok\n")
            eventually(lambda: http_get(port, "/readyz") == (200, "ready\n"))
            sim.wait_for_executions(total, timeout=30)
            # Logged out: the backlog is still refreshed, and grows.
            before = scrape_until(
                port, lambda m: value(m, "fixbridge_session_backlog_events", **bo) == total
            )
            client = QuickFixClient(
                port=bridge.fix_port,
                sender=CLIENT,
                target=BRIDGE,
                workdir=tmp_path / "qf",
                spec_dir=spec_dir,
            )
            with client:
                client.wait_for_logon(timeout=20)
                client.wait_for_app(total, timeout=60)
                received = [m for m in client.app_messages() if m.msg_type == "8"]
                during = scrape_until(
                    port,
                    lambda m: (
                        value(m, "fixbridge_session_backlog_events", **bo) == 0
                        and value(m, "fixbridge_session_messages_sent_total", msg_type="8", **bo)
                        == len(received)
                    ),
                )

                def seq_nums_agree() -> bool:
                    stored = client.stored_seq_nums()  # (its next sender, its next target)
                    m = scrape(port)
                    ours = (
                        value(m, "fixbridge_session_next_target_seq_num", **bo),
                        value(m, "fixbridge_session_next_sender_seq_num", **bo),
                    )
                    return stored is not None and ours == stored

                eventually(seq_nums_agree)
                # The exchange drops every stream: each reconnects, and says why.
                ex = {"stream": "executions"}
                sim.faults.drop_streams_now()
                dropped = scrape_until(
                    port,
                    lambda m: value(
                        m, "fixbridge_upstream_reconnects_total", reason="unavailable", **ex
                    ) >= 1 and value(m, "fixbridge_upstream_connected", **ex) == 1,
                )
            after = scrape_until(port, lambda m: value(m, "fixbridge_session_up", **bo) == 0)

            sim.stop()
            eventually(lambda: http_get(port, "/readyz")[0] == 503)
            assert http_get(port, "/readyz") == (
                503,
                "not ready: upstream executions stream is not connected\n",
            )
            assert http_get(port, "/healthz") == (200, "ok\n")
            assert bridge.stop() == 0, bridge.tail()
    finally:
        sim.stop()

    assert value(before, "fixbridge_session_up", **bo) == 0
    assert value(before, "fixbridge_session_in_schedule", **bo) == 1
    assert value(before, "fixbridge_journal_head_offset") == total

    assert len(received) == total
    assert value(during, "fixbridge_session_up", **bo) == 1
    assert value(during, "fixbridge_session_logons_total", result="accepted", **bo) >= 1
    assert value(during, "fixbridge_session_logons_total", result="refused", **bo) == 0
    assert value(during, "fixbridge_session_messages_sent_total", msg_type="A", **bo) >= 1
    assert value(during, "fixbridge_session_messages_received_total", msg_type="A", **bo) >= 1
    for lag in ("exchange", "receipt"):
        name = f"fixbridge_lag_{lag}_to_fix_write_seconds"
        assert value(during, f"{name}_count", **bo) == len(received)
        assert value(during, f"{name}_bucket", le="+Inf", **bo) == len(received)
        assert value(during, f"{name}_sum", **bo) > 0
    assert value(during, "fixbridge_journal_head_offset") == total
    assert value(during, "fixbridge_journal_size_bytes") > 0
    assert value(during, "fixbridge_session_messages_resent_total", **bo) == 0
    assert value(during, "fixbridge_session_rejects_sent_total", kind="session", **bo) == 0

    assert value(after, "fixbridge_session_messages_received_total", msg_type="5", **bo) == 1

    # Upstream and journal, as the bridge ingested the simulator's executions.
    ex = {"stream": "executions"}
    assert value(during, "fixbridge_upstream_connected", **ex) == 1
    assert value(during, "fixbridge_upstream_reconnects_total", reason="unavailable", **ex) == 0
    assert value(during, "fixbridge_upstream_events_received_total", **ex) == total
    assert value(during, "fixbridge_journal_events_stored_total", **ex) == total
    assert value(during, "fixbridge_upstream_duplicates_total", **ex) == 0
    assert value(during, "fixbridge_upstream_events_flagged_total", **ex) == 0
    assert value(during, "fixbridge_journal_append_seconds_count") >= 1
    newest = max(e.transact_time.seconds for e in sim.executions())
    assert abs(value(during, "fixbridge_upstream_last_transact_time_seconds", **ex) - newest) < 1
    assert abs(value(during, "fixbridge_upstream_last_response_time_seconds", **ex)
               - time.time()) < 120
    assert value(dropped, "fixbridge_upstream_reconnects_total", reason="unavailable", **ex) >= 1
    assert value(dropped, "fixbridge_upstream_events_received_total", **ex) == total
    assert value(dropped, "fixbridge_journal_events_stored_total", **ex) == total


def test_a_resend_request_is_counted_and_resends_are_not_lag(tmp_path: Path) -> None:
    total = 50
    metrics_port = free_tcp_port()
    with SimulatorThread(seed=22, rate=0, max_executions=total, heartbeat_interval=0.5) as sim:
        bridge = bridge_for(tmp_path, sim.port, [session("raw", "RAW")], metrics_port=metrics_port)
        with bridge:
            sim.wait_for_executions(total, timeout=30)
            asyncio.run(asyncio.wait_for(_resend_conversation(bridge, total), timeout=30))
            m = scrape(metrics_port)
            assert bridge.stop() == 0, bridge.tail()

    raw = {"session": "raw"}
    assert value(m, "fixbridge_session_resend_requests_total", **raw) == 1
    assert value(m, "fixbridge_session_messages_received_total", msg_type="2", **raw) == 1
    assert value(m, "fixbridge_session_messages_resent_total", **raw) == total
    assert value(m, "fixbridge_session_gap_fills_total", **raw) == 1  # seq 1 was the Logon
    assert value(m, "fixbridge_session_messages_sent_total", msg_type="8", **raw) == 2 * total
    assert value(m, "fixbridge_session_messages_sent_total", msg_type="4", **raw) == 1
    assert value(m, "fixbridge_lag_exchange_to_fix_write_seconds_count", **raw) == total
    assert value(m, "fixbridge_lag_receipt_to_fix_write_seconds_count", **raw) == total
    # An unknown CompID pair; an invalid MsgType (label "other", session Reject); an order
    # (BusinessMessageReject).
    assert value(m, "fixbridge_session_logons_total", session="unknown", result="refused") == 1
    assert value(m, "fixbridge_session_messages_received_total", msg_type="other", **raw) == 1
    assert value(m, "fixbridge_session_messages_received_total", msg_type="D", **raw) == 1
    assert value(m, "fixbridge_session_rejects_sent_total", kind="session", **raw) == 1
    assert value(m, "fixbridge_session_rejects_sent_total", kind="business", **raw) == 1
    assert value(m, "fixbridge_session_messages_sent_total", msg_type="j", **raw) == 1


async def _resend_conversation(bridge: BridgeProcess, total: int) -> None:
    client = RawClient("RAW", BRIDGE)
    await client.connect(bridge.fix_port)
    client.logon()
    await client.read_until(lambda box: len([m for m in box if m.msg_type == "8"]) == total)
    client.inbox.clear()
    client.send("2", (7, "1"), (16, "0"))
    last = str(total + 1)
    await client.read_until(lambda box: any(m.get(34) == last for m in box))
    client.send("ZZ")  # not a FIX MsgType: label "other", answered with a session Reject
    client.send("D", (11, "x"))  # an order on a drop copy: BusinessMessageReject
    await client.read_until(lambda box: any(m.msg_type == "j" for m in box))
    client.close()
    # Last: its failure holds this address back for a moment (fix.source_throttle).
    stranger = RawClient("NOBODY", BRIDGE)
    await stranger.connect(bridge.fix_port)
    stranger.logon()
    assert await stranger.closed_by_peer(timeout=5)


def test_bridge_ops_port_and_readiness_in_process(tmp_path: Path) -> None:
    """Port 0 is exposed; readiness needs the executions stream only when a session wants
    executions; metrics.enabled = false serves nothing."""

    def config(name: str, kinds: list[str], **metrics: object) -> Any:
        return parse_config(
            {
                "upstream": {"target": f"127.0.0.1:{free_tcp_port()}"},
                "journal": {"path": str(tmp_path / f"{name}.db"), "synchronous": "normal"},
                "fix": {"host": "127.0.0.1", "port": 0},
                "metrics": {"host": "127.0.0.1", "port": 0, **metrics},
                "sessions": [{**session(name, name.upper()), "scope": {"message_kinds": kinds}}],
            }
        )

    async def probe(bridge: Bridge) -> tuple[int, str]:
        await bridge.start()
        try:
            assert bridge.metrics_port is not None and bridge.metrics_port > 0
            answer = await asyncio.to_thread(http_get, bridge.metrics_port, "/readyz")
        finally:
            await bridge.stop()
        assert bridge.metrics_port is None
        return answer

    async def main() -> None:
        status, text = await probe(Bridge(config("fills", ["executions"])))
        assert (status, text) == (503, "not ready: upstream executions stream is not connected\n")
        assert await probe(Bridge(config("trades", ["trades"]))) == (200, "ready\n")
        disabled = Bridge(config("off", ["executions"], enabled=False))
        await disabled.start()
        try:
            assert disabled.metrics_port is None and disabled.ops_server is None
        finally:
            await disabled.stop()

    asyncio.run(asyncio.wait_for(main(), timeout=30))


def test_disconnect_causes_and_refused_logons_are_counted_in_process(tmp_path: Path) -> None:
    """A silent client (heartbeat timeout), one that stops reading (slow consumer) and a
    wrong password, read back from the bridge's registry."""
    secured = {**session("pw", "PW"), "username": "ops", "password_hash": hash_password("s3cret")}
    config = parse_config(
        {
            "upstream": {"target": f"127.0.0.1:{free_tcp_port()}"},
            "journal": {"path": str(tmp_path / "j.db"), "synchronous": "normal"},
            "fix": {"host": "127.0.0.1", "port": 0, "write_timeout_s": 1.0},
            "metrics": {"enabled": False},
            "sessions": [session("silent", "SILENT"), session("stuck", "STUCK"), secured],
        }
    )

    async def main() -> None:
        bridge = Bridge(config)
        await bridge.start()
        assert bridge.acceptor is not None and bridge.journal is not None
        port = bridge.acceptor.port

        def sample(name: str, **labels: str) -> float:
            return bridge.metrics.registry.get_sample_value(name, labels) or 0.0

        try:
            silent, stuck, wrong = RawClient("SILENT", BRIDGE), RawClient("STUCK", BRIDGE), None
            await silent.connect(port)
            silent.logon(hb=1)
            await stuck.connect(port)
            stuck.logon()
            await stuck.read_until(lambda box: bool(box))  # then never reads again
            assert sample("fixbridge_session_up", session="stuck") == 1
            model, now, count = MarketModel(5), time.time_ns(), 0
            while count < 20_000:  # megabytes: far more than the socket buffers hold
                now += 1_000_000
                events = [execution_to_event(e) for e in model.step(now).executions]
                bridge.journal.append("executions", events, b"t", now)
                count += len(events)
            bridge.acceptor.refresh_gauges(bridge.journal.head_offset())
            wrong = RawClient("PW", BRIDGE)
            await wrong.connect(port)
            wrong.logon((553, "ops"), (554, "wrong"))
            assert await wrong.closed_by_peer()
            assert await silent.closed_by_peer(timeout=5)  # TestRequest at 1.2 s, gone at 2.2 s
            # Not read from until the bridge has given up on it: reading would unstick it.
            await _until(lambda: sample(SLOW, session="stuck") > 0, "stuck was never dropped")
            assert await stuck.closed_by_peer(timeout=10)
            await asyncio.sleep(0.1)
            assert sample("fixbridge_session_heartbeat_timeouts_total", session="silent") == 1
            assert sample(SLOW, session="stuck") == 1
            assert sample("fixbridge_session_heartbeat_timeouts_total", session="stuck") == 0
            assert sample("fixbridge_session_up", session="silent") == 0
            assert sample("fixbridge_session_up", session="stuck") == 0
            assert sample("fixbridge_session_backlog_events", session="stuck") > 0
            logons = "fixbridge_session_logons_total"
            assert sample(logons, session="pw", result="refused") == 1
            assert sample(logons, session="pw", result="accepted") == 0
            assert sample(logons, session="silent", result="accepted") == 1
            sent = "fixbridge_session_messages_sent_total"
            assert sample(sent, session="silent", msg_type="1") == 1  # the TestRequest
        finally:
            await bridge.stop()

    asyncio.run(asyncio.wait_for(main(), timeout=120))


async def _until(done: Callable[[], bool], what: str, timeout: float = 40.0) -> None:
    """Wait for ``done()``, however loaded the machine (a slow consumer is found once the
    socket buffers are full, which takes longer when rendering shares the CPU)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not done():
        assert loop.time() < deadline, what
        await asyncio.sleep(0.1)


def test_a_replay_says_catching_up_then_caught_up_once_with_its_totals(tmp_path: Path) -> None:
    """A bridge started from an instant in the past replays what the exchange holds: /readyz
    answers "catching_up" with how far behind, the log has one "caught up" line with the total
    (every execution the simulator made, none twice), then /readyz and /status say ready."""
    total = 20_000
    port = free_tcp_port()
    sim = SimulatorThread(seed=29, rate=0, max_executions=total, heartbeat_interval=0.5).start()
    try:
        sim.wait_for_executions(total, timeout=60)
        time.sleep(CAUGHT_UP_LAG_S + 1)  # every execution is older than "caught up" allows
        bridge = bridge_for(
            tmp_path, sim.port, [session("bo", CLIENT)], metrics_port=port,
            upstream={"start_from": "2000-01-01T00:00:00Z"},
        )  # fmt: skip
        with bridge:
            answers: list[tuple[int, str]] = []

            def ready() -> bool:
                answers.append(http_get(port, "/readyz"))
                return answers[-1] == (200, "ready\n")

            eventually(ready, timeout=60)
            log = bridge.log.read_text()
            status = http_get(port, "/status")
    finally:
        sim.stop()
    catching = [text for code, text in answers if code == 503 and "catching_up" in text]
    assert catching, answers[:5]
    assert catching[0].startswith("not ready: catching_up: executions (")
    caught_up = [line for line in log.splitlines() if "executions: caught up:" in line]
    assert len(caught_up) == 1, caught_up
    assert f"caught up: {total:,} events stored in " in caught_up[0]
    assert status[0] == 200 and '"catching_up": false' in status[1]
