"""``fixbridge reconcile`` end to end, as a subprocess: a real gRPC simulator (with auth and its
ReportAPI), a real bridge process, and a real QuickFIX back office on the session. Expected
values come from the simulator (its event logs, the drop fault's record) and from what the
test itself removed from the journal, never from the reconciliation code."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from fixbridge.simulator.faults import FaultKind, FaultPlan
from fixbridge.simulator.server import SimulatorThread
from fixbridge.simulator.streams import Stream
from tests.auth_keys import rsa_key, write_private_key
from tests.integration.bridge_proc import REPO, BridgeProcess, bridge_for
from tests.integration.qfharness import QuickFixClient

pytestmark = pytest.mark.integration

CLIENT, BRIDGE = "BACKOFFICE", "FIXBRIDGE"
AUDIENCE = "https://api.simulator.test"
CLIENT_ID = "reconcile-test-client"
PARTICIPANT = "firms/SIM-ALPHA/users/ops"
SESSION = {
    "name": "backoffice", "sender_comp_id": BRIDGE, "target_comp_id": CLIENT,
    "scope": {"message_kinds": ["executions", "trades"]},
}
TOTAL = 300


def _auth(sim: SimulatorThread, tmp: Path) -> dict[str, object]:
    assert sim.token_url is not None
    return {
        "client_id": CLIENT_ID, "token_url": sim.token_url, "audience": AUDIENCE,
        "private_key_file": write_private_key(tmp / "upstream.pem", rsa_key()),
        "participant_id": PARTICIPANT,
    }


def _simulator(faults: FaultPlan | None = None) -> SimulatorThread:
    from fixbridge.simulator.auth import ClientRegistration, SimulatorAuth

    auth = SimulatorAuth(
        {CLIENT_ID: ClientRegistration(
            rsa_key().public_key(),
            frozenset({"read:dropcopy", "read:instruments", "read:reports"}), PARTICIPANT)},
        audience=AUDIENCE, token_lifetime_s=60.0,
    )
    return SimulatorThread(
        seed=23, rate=0, max_executions=TOTAL, heartbeat_interval=0.3, auth=auth,
        faults=faults, report_requests_per_minute=12,
    )


def _trade_date(execution: Any) -> str:
    d = execution.transact_trade_date
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def _journaled(path: Path, stream: str) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT COUNT(*) FROM events WHERE stream=?", (stream,))
                   .fetchone()[0])


def _caught_up(path: Path, executions: int, trades: int) -> bool:
    if _journaled(path, "executions") < executions or _journaled(path, "trades") < trades:
        return False
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        head = db.execute("SELECT MAX(offset) FROM events").fetchone()[0]
        row = db.execute("SELECT cursor_offset FROM sessions WHERE session_id=?",
                         (SESSION["name"],)).fetchone()
    return row is not None and int(row[0]) >= int(head)


def _run_until_delivered(
    sim: SimulatorThread, bridge: BridgeProcess, tmp: Path, spec_dir: str, dropped: int
) -> None:
    """The bridge journals every execution and trade the streams send (``dropped`` fewer
    executions) and the back office is sent all of it."""
    client = QuickFixClient(port=bridge.fix_port, sender=CLIENT, target=BRIDGE,
                            workdir=tmp / "qf", spec_dir=spec_dir)
    with client:
        client.wait_for_logon(timeout=20)
        sim.wait_for_executions(TOTAL, timeout=60)
        journal = tmp / "journal.db"
        deadline = time.monotonic() + 60
        while not _caught_up(journal, TOTAL - dropped, len(sim.trades())):
            assert time.monotonic() < deadline, bridge.tail(40)
            time.sleep(0.3)


def _reconcile(config: Path, date: str) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        [sys.executable, "-m", "fixbridge", "reconcile", "--config", str(config),
         "--date", date, "--format", "json"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    report = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, report, done.stderr


def _missing(report: dict[str, Any], stream: str) -> set[str]:
    return {e["id"] for e in report["events"] if e["kind"] == "missing" and e["stream"] == stream}


def test_a_clean_run_agrees_and_deleted_executions_are_named_missing(
    tmp_path: Path, spec_dir: str
) -> None:
    with _simulator() as sim:
        bridge = bridge_for(tmp_path, sim.port, [SESSION], _auth(sim, tmp_path))
        with bridge:
            _run_until_delivered(sim, bridge, tmp_path, spec_dir, dropped=0)
            dates = sorted({_trade_date(e) for e in sim.executions()})
            # Beside the running bridge: the journal is only read.
            clean = [_reconcile(bridge.config, d) for d in dates]
            assert bridge.stop() == 0, bridge.tail()
        executions = sim.executions()
        # The test removes three executions of the first date from the journal file.
        gone = [e.id for e in executions if _trade_date(e) == dates[0]][5:30:10]
        with sqlite3.connect(tmp_path / "journal.db") as db:
            db.executemany("DELETE FROM events WHERE stream='executions' AND upstream_id=?",
                           [(i,) for i in gone])
        code, after, stderr = _reconcile(bridge.config, dates[0])

    for (rc, report, err), date in zip(clean, dates, strict=True):
        assert rc == 0, f"{date}: {report}\n{err}"
        assert report["agree"] is True and report["events"] == []
        assert [s["agree"] for s in report["sessions"]] == [True]
        assert "SearchExecutions" in err  # progress on stderr
    in_first = [e for e in executions if _trade_date(e) == dates[0]]
    assert clean[0][1]["exchange_events"] >= len(in_first)
    assert code == 1, stderr
    assert len(gone) == 3
    assert _missing(after, "executions") == set(gone)
    assert [e for e in after["events"] if e["kind"] != "missing" or e["stream"] != "executions"
            ] == []
    # The session was sent those three: now sent but not in the journal.
    assert after["sessions"][0]["unexpected"] == sorted(f"8:{i}" for i in gone)
    assert after["sessions"][0]["not_sent"] == []


def test_events_the_drop_fault_kept_off_the_stream_are_named_missing(
    tmp_path: Path, spec_dir: str
) -> None:
    plan = FaultPlan(seed=5)
    plan.drop_events(4, probability=0.05, streams=[Stream.EXECUTIONS])
    with _simulator(plan) as sim:
        bridge = bridge_for(tmp_path, sim.port, [SESSION], _auth(sim, tmp_path))
        with bridge:
            sim.wait_for_executions(TOTAL, timeout=60)
            deadline = time.monotonic() + 30
            while plan.count(FaultKind.DROP_EVENTS) < 4:  # decided as the stream reads
                assert time.monotonic() < deadline, "the drop fault never fired 4 times"
                time.sleep(0.2)
            _run_until_delivered(sim, bridge, tmp_path, spec_dir, dropped=4)
            assert bridge.stop() == 0, bridge.tail()
        dropped = plan.dropped_events(Stream.EXECUTIONS)
        dates = sorted({_trade_date(e) for e in sim.executions()})
        results = {d: _reconcile(bridge.config, d) for d in dates}

    assert len(dropped) == 4
    found: set[str] = set()
    for date, (code, report, stderr) in results.items():
        expected = {e.id for e in dropped if _trade_date(e) == date}
        assert code == (1 if expected else 0), f"{date}: {stderr}"
        assert _missing(report, "executions") == expected
        assert [e for e in report["events"] if e["kind"] != "missing"] == []
        assert [s["agree"] for s in report["sessions"]] == [True]
        found |= expected
    assert found == {e.id for e in dropped}
