"""End to end with real parts: simulator (gRPC) -> fixbridge (subprocess) -> QuickFIX client.

The QuickFIX initiator validates every message against its stock FIXT 1.1 / FIX 5.0 SP2
dictionaries; any message it rejects shows up as a 35=3 it sends back.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fixbridge.simulator.server import SimulatorThread
from tests.integration.bridge_proc import BridgeProcess, bridge_for
from tests.integration.oracle import (
    expected_execution_report,
    expected_position_report,
    expected_security_status,
    expected_trade_capture,
    mismatches,
    previous_cl_ord_ids,
)
from tests.integration.qfharness import FixMessage, QuickFixClient

pytestmark = pytest.mark.integration

CLIENT, BRIDGE = "BACKOFFICE", "FIXBRIDGE"


def _session(name: str = "backoffice", **scope: object) -> dict[str, object]:
    session: dict[str, object] = {"name": name, "sender_comp_id": BRIDGE, "target_comp_id": CLIENT}
    if scope:
        session["scope"] = scope
    return session


def _client(tmp: Path, bridge: BridgeProcess, spec_dir: str) -> QuickFixClient:
    """The back office: a QuickFIX initiator for the test session, store kept in ``tmp``."""
    return QuickFixClient(
        port=bridge.fix_port, sender=CLIENT, target=BRIDGE, workdir=tmp / "qf", spec_dir=spec_dir
    )


def _journal_ids(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT upstream_id FROM events WHERE stream='executions' ORDER BY offset"
        ).fetchall()
    return [r[0] for r in rows]


def test_quickfix_receives_every_execution_exactly_once_with_exact_values(
    tmp_path: Path, spec_dir: str
) -> None:
    total = 2500
    with SimulatorThread(seed=11, rate=1500, max_executions=total, heartbeat_interval=0.5) as sim:
        bridge = bridge_for(tmp_path, sim.port, [_session()])
        with bridge:
            client = _client(tmp_path, bridge, spec_dir)
            # Log on mid-stream: what was journaled while logged out arrives first, in order.
            sim.wait_for_executions(total // 2, timeout=60)
            with client:
                client.wait_for_logon(timeout=20)
                sim.wait_for_executions(total, timeout=60)
                client.wait_for_app(total, timeout=90)
                time.sleep(1.0)  # anything extra (a duplicate) would arrive now
                received = client.app_messages()
                rejects = client.rejects_sent()
                unvalidated = client.unvalidated_app_messages()
            assert bridge.stop() == 0, bridge.tail()
        executions = sim.executions()

    assert rejects == [], f"QuickFIX rejected messages: {rejects[:3]}"
    assert unvalidated == [], "messages escaped body validation (ApplVerID other than 9)"
    assert len(executions) == total
    by_id = Counter(m.get(17) for m in received)
    assert [i for i, n in by_id.items() if n > 1] == []
    assert len(received) == total
    assert {m.get(35) for m in received} == {"8"}
    received_by_id = {m.get(17): m for m in received}
    previous = previous_cl_ord_ids(executions)
    assert any(previous.values()), "the run had no cancel or replace: OrigClOrdID untested"
    problems = []
    for execution in executions:
        message = received_by_id.get(execution.id)
        if message is None:
            problems.append(f"{execution.id}: never received")
            continue
        expected = expected_execution_report(execution, previous[execution.id])
        for problem in mismatches(expected, message.fields):
            problems.append(f"{execution.id}: {problem}")
    assert problems == [], "\n".join(problems[:20])
    # The journal order is the exchange's order, and each session gets it in that order.
    assert [m.get(17) for m in received] == [e.id for e in executions]


def test_sigkill_and_restart_lose_and_duplicate_nothing(tmp_path: Path, spec_dir: str) -> None:
    total = 6000
    rng = random.Random(5)
    with SimulatorThread(seed=3, rate=1500, max_executions=total, heartbeat_interval=0.5) as sim:
        bridge = bridge_for(tmp_path, sim.port, [_session()])
        client = _client(tmp_path, bridge, spec_dir)
        try:
            bridge.start()
            client.start()
            for _ in range(3):
                time.sleep(rng.uniform(0.4, 1.5))
                bridge.kill()
                bridge.start()
            sim.wait_for_executions(total, timeout=90)
            client.wait_for_app(total, timeout=120, unique_tag=17)
            time.sleep(1.0)
            received = client.app_messages()
            rejects = client.rejects_sent()
        finally:
            client.stop()
            code = bridge.stop()
        executions = sim.executions()
    assert code == 0, bridge.tail()

    expected_ids = [e.id for e in executions]
    journal_ids = _journal_ids(tmp_path / "journal.db")
    assert len(journal_ids) == len(set(journal_ids)), "an execution was journaled twice"
    assert journal_ids == expected_ids, "the journal lost or reordered executions"

    assert rejects == [], f"QuickFIX rejected messages: {rejects[:3]}"
    first_copies = [m.get(17) for m in received if not m.poss_dup]
    assert len(first_copies) == len(set(first_copies)), "a fill was sent twice without PossDupFlag"
    assert set(m.get(17) for m in received) == set(expected_ids)


def test_quickfix_that_lost_messages_gets_them_again_with_possdup(
    tmp_path: Path, spec_dir: str
) -> None:
    """A back office restores an old message store: it asks for a resend and gets it all."""
    total = 600
    with SimulatorThread(seed=4, rate=0, max_executions=total, heartbeat_interval=0.5) as sim:
        bridge = bridge_for(tmp_path, sim.port, [_session()])
        with bridge:
            client = _client(tmp_path, bridge, spec_dir)
            client.start()
            client.wait_for_app(total, timeout=60)
            client.stop()
            sender_next, _ = client.stored_seq_nums() or (0, 0)
            # Its store now says it has seen nothing from us since our Logon.
            client.seqnums_path.write_text(f"{sender_next:010d} : {2:010d}")
            client.start()
            client.wait_for_app(2 * total, timeout=60)
            time.sleep(0.5)
            rejects, received = client.rejects_sent(), client.app_messages(current_run=True)
            client.stop()
            assert bridge.stop() == 0, bridge.tail()
        ids = [e.id for e in sim.executions()]
    assert rejects == []
    assert [m.get(17) for m in received] == ids
    assert all(m.poss_dup and m.get(122) for m in received)
    resent = [r for r in client.messages("admin_out", msg_type="2")]
    assert len(resent) == 1 and resent[0].get(7) == "2"


def test_quickfix_receives_all_four_message_kinds_without_rejects(
    tmp_path: Path, spec_dir: str
) -> None:
    total = 1500
    kinds = ["executions", "trades", "instruments", "positions"]
    with SimulatorThread(seed=8, rate=0, max_executions=total, heartbeat_interval=0.5) as sim:
        bridge = bridge_for(tmp_path, sim.port, [_session(message_kinds=kinds)])
        with bridge:
            sim.wait_for_executions(total, timeout=60)
            positions = sim.position_changes()
            trade_log, instrument_log = sim.trades(), sim.instruments()
            executions = sim.executions()
            trades = {(t.id, t.state) for t in trade_log}
            busts = sum(1 for _, state in trades if state == 3)  # TRADE_STATE_BUSTED
            states = {(i.symbol, i.state, i.metadata["update_time"]) for i in sim.instruments()}
            client = _client(tmp_path, bridge, spec_dir)
            with client:
                expected = total + 2 * busts + len(trades) + len(positions) + len(states)
                client.wait_for_app(expected, timeout=90)
                time.sleep(1.0)
                received = client.app_messages()
                rejects = client.rejects_sent()
            assert bridge.stop() == 0, bridge.tail()
    assert rejects == [], f"QuickFIX rejected: {rejects[:3]}"
    assert busts > 0, "the scenario must contain busted trades"
    by_type = Counter(m.msg_type for m in received)
    assert by_type == {
        "8": total + 2 * busts,
        "AE": len(trades),
        "f": len(states),
        "AP": len(positions),
    }
    cancels = [m for m in received if m.msg_type == "8" and m.get(150) == "H"]
    assert len(cancels) == 2 * busts and all(m.get(19) for m in cancels)
    fills = {m.get(17) for m in received if m.get(150) == "F"}
    assert {m.get(19) for m in cancels} <= fills  # each cancel points at a fill we sent
    report_ids = [m.get(721) for m in received if m.msg_type == "AP"]
    assert len(set(report_ids)) == len(positions)
    assert {m.get(55) for m in received if m.msg_type == "f"} == {s for s, _, _ in states}
    problems = _compare_every_kind(received, executions, trade_log, instrument_log, positions)
    assert problems == [], "\n".join(problems[:20])


def _compare_every_kind(
    received: list[FixMessage],
    executions: list[Any],
    trades: list[Any],
    instruments: list[Any],
    positions: list[Any],
) -> list[str]:
    """Each received message against the gRPC message it came from, field by field."""
    problems: list[str] = []
    reports = {m.get(17): m for m in received if m.msg_type == "8" and m.get(150) != "H"}
    previous = previous_cl_ord_ids(executions)
    for e in executions:
        expected = expected_execution_report(e, previous[e.id])
        problems += [f"ER {e.id}: {p}" for p in mismatches(expected, reports[e.id].fields)]
    captures = {m.get(571): m for m in received if m.msg_type == "AE"}
    for t in {(t.id, t.state): t for t in trades}.values():
        fields, sides = expected_trade_capture(t)
        message = captures[str(fields[571])]
        problems += [f"AE {fields[571]}: {p}" for p in mismatches(fields, message.fields)]
        got_sides = [dict(entry) for entry in message.group(552, 54, SIDE_TAGS)]
        for want, got in zip(sides, got_sides, strict=True):
            problems += [f"AE {fields[571]} side: {p}" for p in mismatches(dict(want), got)]
    statuses = {(m.get(55), m.get(58), m.get(60)): m for m in received if m.msg_type == "f"}
    for i in instruments:
        want = expected_security_status(i)
        message = statuses[(i.symbol, str(want[58]), str(want[60]))]
        problems += [f"f {i.symbol}: {p}" for p in mismatches(want, message.fields)]
    scales = {i.symbol: (i.price_scale, i.fractional_qty_scale or 1) for i in instruments}
    by_report_id = {m.get(721): m for m in received if m.msg_type == "AP"}
    for change in positions:
        fields, quantities, amounts = expected_position_report(
            change, *scales[change.position.symbol]
        )
        message = by_report_id[str(fields[721])]
        problems += [f"AP {fields[721]}: {p}" for p in mismatches(fields, message.fields)]
        got_qty = {d[703]: (Decimal(d[704]), Decimal(d[705]))
                   for d in map(dict, message.group(702, 703, (704, 705)))}  # fmt: skip
        got_amt = {
            d[707]: Decimal(d[708]) for d in map(dict, message.group(753, 707, (708, 2096, 1055)))
        }
        for pos_type, want_qty in quantities.items():
            if got_qty.get(pos_type) != want_qty:
                problems.append(
                    f"AP {fields[721]} {pos_type}: {got_qty.get(pos_type)} != {want_qty}"
                )
        for amt_type, want_amt in amounts.items():
            if got_amt.get(amt_type) != want_amt:
                problems.append(
                    f"AP {fields[721]} {amt_type}: {got_amt.get(amt_type)} != {want_amt}"
                )
    return problems


SIDE_TAGS = (1427, 453, 448, 447, 452, 1, 12, 13, 58, 1057, 37, 11)
