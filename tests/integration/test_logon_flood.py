"""A flood of wrong-password Logons over real TCP while a real QuickFIX client is logged on to
another session: the client's heartbeats keep their time, the flooding address is locked out
after the configured number of failures and from then on refused without a password check,
and the log says so in a few lines rather than one per attempt.

The in-process bridge runs on this thread's event loop; the flood runs on a loop of its own in
another thread, so its clients' work does not count against the bridge's timing.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from pathlib import Path

import pytest

from fixbridge.fix import acceptor as acceptor_module
from fixbridge.fix.acceptor import TICK_S
from fixbridge.fix.credentials import hash_password, verify_password
from tests.integration.inprocess import bridge, port_of
from tests.integration.qfharness import QuickFixClient
from tests.integration.rawfix import RawClient

pytestmark = pytest.mark.integration

BRIDGE, LIVE, TARGET = "FIXBRIDGE", "LIVE", "TARGET"
ATTEMPTS, AT_ONCE = 200, 20
PAUSE_S = 0.3  # each connection's pause before its next attempt
HEARTBEAT_S = 1
LOCKOUT_AFTER = 10  # [fix.source_throttle] lockout_failures below
LOCKOUT_S = 60
QUICK_BACKOFF = {"backoff_initial_s": 0.02, "backoff_max_s": 0.1}
CREDENTIALS_REFUSED = "invalid Username(553) or Password(554)"


async def guess(port: int, n: int, password: str) -> list[str | None]:
    """One Logon for TARGET; the Text of each message the bridge answered with."""
    client = RawClient(TARGET, BRIDGE)
    await client.connect(port)
    client.logon((553, "ops"), (554, password), reset=True)
    assert await client.closed_by_peer(timeout=10), f"attempt {n} was never closed"
    return [m.get(58) for m in client.inbox]


async def flood(port: int) -> list[list[str | None]]:
    """ATTEMPTS wrong-password Logons, AT_ONCE connections at a time, spread over ~3 s."""
    answers: list[list[str | None]] = []

    async def worker(first: int) -> None:
        await asyncio.sleep(first * PAUSE_S / AT_ONCE)  # staggered: a steady stream
        for n in range(first, ATTEMPTS, AT_ONCE):
            answers.append(await guess(port, n, f"guess-{n}"))
            await asyncio.sleep(PAUSE_S)

    await asyncio.gather(*(worker(w) for w in range(AT_ONCE)))
    return answers


def test_a_logon_flood_locks_its_source_out_without_delaying_a_live_session(
    tmp_path: Path,
    spec_dir: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    target_hash = hash_password("s3cret")
    checks: list[str] = []
    counting = threading.Lock()

    def counted(password: str, encoded: str) -> bool:
        with counting:
            checks.append(password)
        return verify_password(password, encoded)

    monkeypatch.setattr(acceptor_module, "verify_password", counted)
    caplog.set_level(logging.WARNING, logger="fixbridge.fix")
    sessions = [
        {"name": "live", "sender_comp_id": BRIDGE, "target_comp_id": LIVE},
        {"name": "target", "sender_comp_id": BRIDGE, "target_comp_id": TARGET,
         "username": "ops", "password_hash": target_hash},
    ]  # fmt: skip
    source = {
        **QUICK_BACKOFF,
        "lockout_failures": LOCKOUT_AFTER,
        "failure_window_s": 60,
        "lockout_s": LOCKOUT_S,
    }

    async def scenario() -> None:
        async with bridge(
            tmp_path, sessions, source_throttle=source, session_throttle=QUICK_BACKOFF
        ) as b:
            port = port_of(b)
            client = QuickFixClient(
                port=port, sender=LIVE, target=BRIDGE, workdir=tmp_path / "qf",
                spec_dir=spec_dir, heartbeat=HEARTBEAT_S,
            )  # fmt: skip
            client.start()
            try:
                await asyncio.to_thread(client.wait_for_logon, 20)
                await asyncio.sleep(1.5)  # a heartbeat or two before the flood
                started = time.time()
                answers = await asyncio.to_thread(asyncio.run, flood(port))
                ended = time.time()
                assert ended - started < 10
                await asyncio.sleep(1.5)
                # Locked out: even the right password is refused unread.
                right = await asyncio.to_thread(asyncio.run, guess(port, ATTEMPTS, "s3cret"))
            finally:
                await asyncio.to_thread(client.stop)
            records = client.events()
            metrics = b.metrics.registry

        heartbeats = [
            r["ts"] for r in records
            if r.get("event") == "admin_in" and r.get("msg_type") == "0"
            and started - 1.5 <= r["ts"] <= ended + 1.5
        ]  # fmt: skip
        assert len(heartbeats) >= 3, client.diagnostics()
        gaps = [later - earlier for earlier, later in itertools.pairwise(heartbeats)]
        # The bridge sends a heartbeat at its first tick (every TICK_S) once HeartBtInt has
        # passed since its last message: never later than that by more than 100 ms.
        assert max(gaps) <= HEARTBEAT_S + TICK_S + 0.1, gaps

        assert len(checks) == LOCKOUT_AFTER  # scrypt ran for those only
        assert right == []
        logouts = [a for a in answers if a]
        assert all(a == [CREDENTIALS_REFUSED] for a in logouts), logouts
        assert 1 <= len(logouts) <= LOCKOUT_AFTER
        assert len(answers) == ATTEMPTS

        def sample(name: str, **labels: str) -> float:
            value = metrics.get_sample_value(name, labels)
            return 0.0 if value is None else value

        assert sample("fixbridge_logon_lockouts_total", scope="source") == 1
        assert sample("fixbridge_logon_lockouts_total", scope="session") == 0
        throttled = {
            (reason, scope): sample("fixbridge_logon_throttled_total", reason=reason, scope=scope)
            for reason in ("backoff", "lockout", "busy")
            for scope in ("source", "session")
        }
        # Every attempt not checked was refused unread (the right password's one included).
        assert sum(throttled.values()) == ATTEMPTS + 1 - LOCKOUT_AFTER
        assert throttled["lockout", "source"] >= 1 and throttled["backoff", "source"] >= 1
        assert sample("fixbridge_unauthenticated_connections_total", cause="throttled") == sum(
            throttled.values()
        )
        assert sample("fixbridge_logon_locked_out", scope="source") == 1

    asyncio.run(asyncio.wait_for(scenario(), timeout=60))

    flood_lines = [
        r.getMessage() for r in caplog.records
        if r.name == "fixbridge.fix" and r.levelno >= logging.WARNING
    ]  # fmt: skip
    lockouts = [line for line in flood_lines if line.startswith("logon lockout")]
    assert lockouts == [
        f"logon lockout: source 127.0.0.1 refused for {LOCKOUT_S} s after {LOCKOUT_AFTER}"
        " failed logons within 60 s"
    ]
    assert len(flood_lines) <= 3, flood_lines  # the first refusal, the lockout
