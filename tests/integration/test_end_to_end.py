"""End to end with real parts: simulator (gRPC) -> fixbridge (subprocess) -> QuickFIX client.

The QuickFIX initiator validates every message against its stock FIXT 1.1 / FIX 5.0 SP2
dictionaries; any message it rejects shows up as a 35=3 it sends back.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fixbridge.simulator.server import SimulatorThread
from tests.integration.bridge_proc import BridgeProcess, bridge_for
from tests.integration.oracle import (
    bust_problems,
    expected_execution_report,
    expected_parties,
    expected_position_report,
    expected_security_status,
    expected_trade_capture,
    mismatches,
    new_york_trade_date,
    previous_cl_ord_ids,
)
from tests.integration.qfharness import FixMessage, QuickFixClient, quickfix_spec_dir
from tests.sent_store import drop_stored

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


def _journal_ids(path: Path, after: int = 0) -> list[str]:
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT upstream_id FROM events WHERE stream='executions' AND offset > ?"
            " ORDER BY offset",
            (after,),
        ).fetchall()
    return [r[0] for r in rows]


def _session_cursor(path: Path, session_id: str) -> int:
    """The journal offset a journal file records the session as delivered up to."""
    with sqlite3.connect(path) as db:
        (cursor,) = db.execute(
            "SELECT cursor_offset FROM sessions WHERE session_id=?", (session_id,)
        ).fetchone()
    return int(cursor)


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
        parties = [(d[448], d[452]) for d in map(dict, message.group(453, 448, (447, 452)))]
        if parties != expected_parties(execution.order):
            problems.append(f"{execution.id}: parties {parties}")
    assert problems == [], "\n".join(problems[:20])
    # The journal order is the exchange's order, and each session gets it in that order.
    assert [m.get(17) for m in received] == [e.id for e in executions]
    # Every execution was journaled with its body for the session (fix/prerender.py), so what
    # was checked above against the exchange's values is what ingestion rendered.
    with contextlib.closing(sqlite3.connect(tmp_path / "journal.db")) as db:
        (bodies,) = db.execute("SELECT COUNT(*) FROM execution_bodies").fetchone()
    assert bodies == total


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


def test_a_resend_renders_again_what_the_outbound_store_lost(
    tmp_path: Path, spec_dir: str
) -> None:
    """Stored messages deleted from the journal (damage, or a careless hand) are still resent:
    rendered again from their events, checked by the client by ExecID; none is gap-filled."""
    total = 300
    with SimulatorThread(seed=5, rate=0, max_executions=total, heartbeat_interval=0.5) as sim:
        bridge = bridge_for(tmp_path, sim.port, [_session()])
        with bridge:
            client = _client(tmp_path, bridge, spec_dir)
            client.start()
            client.wait_for_app(total, timeout=60)
            client.stop()
            first = {m.seq_num: m for m in client.app_messages()}
            assert bridge.stop() == 0, bridge.tail()
            with sqlite3.connect(tmp_path / "journal.db") as db:  # every 7th, and a run of 20
                deleted = drop_stored(
                    db, "backoffice", lambda seq: seq % 7 == 0 or 100 <= seq <= 119
                )
            assert deleted > 50
            bridge.start()
            sender_next, _ = client.stored_seq_nums() or (0, 0)
            client.seqnums_path.write_text(f"{sender_next:010d} : {2:010d}")
            client.start()
            client.wait_for_app(2 * total, timeout=60)
            time.sleep(0.5)
            rejects, received = client.rejects_sent(), client.app_messages(current_run=True)
            client.stop()
            assert bridge.stop() == 0, bridge.tail()
            log = bridge.tail(400)
        ids = [e.id for e in sim.executions()]
    assert rejects == []
    assert [m.get(17) for m in received] == ids
    assert all(m.poss_dup for m in received)
    # Each resent message is the one first sent under its number, field for field, with the
    # first SendingTime as its OrigSendingTime (FIXT.1.1: a resend carries OrigSendingTime).
    header = {9, 10, 34, 43, 52, 97, 122}
    for m in received:
        original = first[m.seq_num]
        assert m.get(122) == original.get(52)
        assert [p for p in m.pairs if p[0] not in header] == [
            p for p in original.pairs if p[0] not in header
        ]
    assert f"{deleted} resent message(s) were missing" in log


def test_a_journal_restored_from_an_online_backup_serves_everything_after_it(
    tmp_path: Path, spec_dir: str
) -> None:
    """`fixbridge backup` while the bridge runs; later the journal is lost and the backup
    restored. The back office, which had more than the backup holds, logs on: our numbers are
    behind its own, so it logs out saying so ("MsgSeqNum too low"), our numbers move past
    what it has, and on its next Logon it gets again, under numbers it has never seen, every
    execution the backup had not recorded as sent to it: those the backup holds beyond the
    session's cursor, then those journaled after the backup (the exchange's streams replay
    from the backup's resume tokens). It may have had each of them already, so each is
    marked PossResend(97)=Y. No reject, nothing missing, none twice."""
    total = 600
    with SimulatorThread(seed=6, rate=150, max_executions=total, heartbeat_interval=0.5) as sim:
        bridge = bridge_for(tmp_path, sim.port, [_session()])
        journal, saved = tmp_path / "journal.db", tmp_path / "backups" / "journal-1.db"
        with bridge:
            client = _client(tmp_path, bridge, spec_dir)
            client.start()
            client.wait_for_app(150, timeout=60)
            made = subprocess.run(
                [sys.executable, "-m", "fixbridge", "backup", "--journal", str(journal),
                 "--out", str(saved)],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            assert made.returncode == 0, made.stderr
            in_backup = set(_journal_ids(saved))
            unsent = _journal_ids(saved, after=_session_cursor(saved, "backoffice"))
            client.wait_for_app(total, timeout=60)
            client.stop()
            assert bridge.stop() == 0, bridge.tail()
            before_restore = len(client.app_messages())
            restored = subprocess.run(
                [sys.executable, "-m", "fixbridge", "restore", "--journal", str(journal),
                 str(saved)],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            assert restored.returncode == 0, restored.stderr
            bridge.start()
            client.start()
            ids = [e.id for e in sim.executions()]
            after_backup = [i for i in ids if i not in in_backup]
            client.wait_for_app(before_restore + len(unsent + after_backup), timeout=60)
            time.sleep(0.5)
            rejects, again = client.rejects_sent(), client.app_messages(current_run=True)
            client.stop()
            assert bridge.stop() == 0, bridge.tail()
            log = bridge.tail(400)
    assert len(ids) == total and 0 < len(in_backup) < total
    assert rejects == []
    assert [m.get(17) for m in again] == unsent + after_backup  # each once, in order
    assert {m.get(97) for m in again} == {"Y"}  # all made before the restore was found
    assert "sequence numbers went backwards" in log
    assert (saved.stat().st_mode & 0o777) == 0o600


def _shipped_dictionaries(tmp: Path, profile: str) -> Path:
    """The profile's dictionaries as ``fixbridge dictionary`` writes them, under the names the
    QuickFIX client loads (FIXT11.xml, FIX50SP2.xml)."""
    folder = tmp / f"dictionaries-{profile}"
    result = subprocess.run(
        [sys.executable, "-m", "fixbridge", "dictionary", "--profile", profile,
         "--out", str(folder)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (folder / "FIXT11-fixbridge.xml").rename(folder / "FIXT11.xml")
    (folder / "FIX50SP2-fixbridge.xml").rename(folder / "FIX50SP2.xml")
    return folder


def _receive_everything(
    client: QuickFixClient, others: int, final: dict[str, dict[int, Any]]
) -> list[FixMessage]:
    """Every event of the other three kinds; of instrument states, what the stream delivered
    (spec §4.8: a snapshot on connect, then changes), which must end at each symbol's current
    state."""
    deadline = time.monotonic() + 90
    while True:
        received = client.app_messages()
        last = {m.get(55): m for m in received if m.msg_type == "f"}
        caught_up = all(s in last and not mismatches(f, last[s].fields) for s, f in final.items())
        if caught_up and sum(m.msg_type != "f" for m in received) >= others:
            break
        assert time.monotonic() < deadline, (
            f"{client.sender}: {len(received)} received; rejected: {client.rejects_sent()[:3]}"
        )
        time.sleep(0.2)
    time.sleep(1.0)
    return client.app_messages()


# Per fix_profile, the fields its stock dictionary generation does not define (mapping.md,
# "What each fix_profile changes"): no message of that type may carry them.
LEFT_OUT = {"fix50sp2": {"8": {828, 829, 855}, "f": {75}, "AP": {60, 2096}}}


@pytest.mark.parametrize(
    ("profile", "stock_version"),
    [("exchange", "1.16.0"), ("fix50sp2", "1.15.1"), ("latest", "1.16.0")],
)
def test_quickfix_receives_all_four_message_kinds_without_rejects(
    profile: str, stock_version: str, tmp_path: Path
) -> None:
    """Two back offices on sessions of one profile, QuickFIX with validation on: one loads the
    stock dictionaries of the profile's FIX generation, the other fixbridge's own for it."""
    total = 1500
    kinds = ["executions", "trades", "instruments", "positions"]
    dictionaries = {
        "STOCK_BO": quickfix_spec_dir(stock_version),
        "SHIPPED_BO": _shipped_dictionaries(tmp_path, profile),
    }
    started_ns = time.time_ns()
    with SimulatorThread(seed=8, rate=0, max_executions=total, heartbeat_interval=0.5) as sim:
        sessions: list[dict[str, object]] = [
            {"name": name.lower(), "sender_comp_id": BRIDGE, "target_comp_id": name,
             "fix_profile": profile, "scope": {"message_kinds": kinds}}
            for name in dictionaries
        ]  # fmt: skip
        bridge = bridge_for(tmp_path, sim.port, sessions)
        with bridge:
            sim.wait_for_executions(total, timeout=60)
            positions = sim.position_changes()
            trade_log, instrument_log = sim.trades(), sim.instruments()
            executions = sim.executions()
            trades = {(t.id, t.state) for t in trade_log}
            busts = sum(1 for _, state in trades if state == 3)  # TRADE_STATE_BUSTED
            others = total + 2 * busts + len(trades) + len(positions)
            final = {i.symbol: expected_security_status(i, profile) for i in instrument_log}
            clients = [
                QuickFixClient(port=bridge.fix_port, sender=name, target=BRIDGE,
                               workdir=tmp_path / name, spec_dir=spec)
                for name, spec in dictionaries.items()
            ]  # fmt: skip
            for client in clients:
                client.start()
            try:
                runs = [
                    (c.sender, _receive_everything(c, others, final), c.rejects_sent())
                    for c in clients
                ]
            finally:
                for client in clients:
                    client.stop()
            assert bridge.stop() == 0, bridge.tail()
    ended_ns = time.time_ns()
    assert busts > 0, "the scenario must contain busted trades"
    for name, received, rejects in runs:
        assert rejects == [], f"{name} ({profile}): QuickFIX rejected: {rejects[:3]}"
        by_type = Counter(m.msg_type for m in received)
        assert {kind: n for kind, n in by_type.items() if kind != "f"} == {
            "8": total + 2 * busts,
            "AE": len(trades),
            "AP": len(positions),
        }
        assert by_type["f"] >= len({i.symbol for i in instrument_log})
        cancels = [m for m in received if m.msg_type == "8" and m.get(150) == "H"]
        assert len(cancels) == 2 * busts and all(m.get(19) for m in cancels)
        fills = {m.get(17) for m in received if m.get(150) == "F"}
        assert {m.get(19) for m in cancels} <= fills  # each cancel points at a fill we sent
        report_ids = [m.get(721) for m in received if m.msg_type == "AP"]
        assert len(set(report_ids)) == len(positions)
        problems = _compare_every_kind(
            received, executions, trade_log, instrument_log, positions, profile
        )
        problems += bust_problems(received, {e.id: e for e in executions})
        problems += _instrument_times(received, started_ns, ended_ns, profile)
        left_out = LEFT_OUT.get(profile, {})
        problems += [
            f"{m.msg_type} {m.get(17) or m.get(721) or m.get(55)}: carries {tag}"
            for m in received for tag in left_out.get(m.msg_type, ()) if m.get(tag) is not None
        ]  # fmt: skip
        assert problems == [], f"{name} ({profile}):\n" + "\n".join(problems[:20])


def _instrument_times(
    received: list[FixMessage], start_ns: int, end_ns: int, profile: str = "exchange"
) -> list[str]:
    """A SecurityStatus's time is when the bridge received the change (the exchange sends
    none), so it lies within the run; TradeDate is that time's trade date (fix50sp2: none)."""
    problems = []
    low = format_utc(start_ns)
    high = format_utc(end_ns)
    for m in received:
        if m.msg_type != "f":
            continue
        transact = m.get(60)
        if not low <= transact <= high:
            problems.append(f"f {m.get(55)}: TransactTime {transact} outside {low}..{high}")
        seconds = int(datetime.strptime(transact[:17], "%Y%m%d-%H:%M:%S")
                      .replace(tzinfo=UTC).timestamp())  # fmt: skip
        if profile != "fix50sp2" and m.get(75) != new_york_trade_date(seconds):
            problems.append(f"f {m.get(55)}: TradeDate {m.get(75)} for {transact}")
    return problems


def format_utc(ns: int) -> str:
    moment = datetime.fromtimestamp(ns // 1_000_000_000, UTC)
    return moment.strftime("%Y%m%d-%H:%M:%S") + f".{ns % 1_000_000_000:09d}"


def _compare_every_kind(
    received: list[FixMessage],
    executions: list[Any],
    trades: list[Any],
    instruments: list[Any],
    positions: list[Any],
    profile: str = "exchange",
) -> list[str]:
    """Each received message against the gRPC message it came from, field by field."""
    problems: list[str] = []
    reports = {m.get(17): m for m in received if m.msg_type == "8" and m.get(150) != "H"}
    previous = previous_cl_ord_ids(executions)
    for e in executions:
        expected = expected_execution_report(e, previous[e.id], profile)
        problems += [f"ER {e.id}: {p}" for p in mismatches(expected, reports[e.id].fields)]
    captures = {m.get(571): m for m in received if m.msg_type == "AE"}
    reported: set[str] = set()
    for t in {(t.id, t.state): t for t in trades}.values():
        fields, sides = expected_trade_capture(t, first_report=t.id not in reported,
                                               profile=profile)  # fmt: skip
        reported.add(t.id)
        message = captures[str(fields[571])]
        problems += [f"AE {fields[571]}: {p}" for p in mismatches(fields, message.fields)]
        got_sides = [dict(entry) for entry in message.group(552, 54, SIDE_TAGS)]
        for want, got in zip(sides, got_sides, strict=True):
            problems += [f"AE {fields[571]} side: {p}" for p in mismatches(dict(want), got)]
    # Each symbol's SecurityStatus messages are states it went through, in order (those before
    # the bridge connected are summed up by the snapshot: spec §4.8), ending at its last one.
    want_states: dict[str, list[dict[int, Any]]] = {}
    for i in instruments:
        want_states.setdefault(i.symbol, []).append(expected_security_status(i, profile))
    got_states: dict[str, list[FixMessage]] = {}
    for m in received:
        if m.msg_type == "f":
            got_states.setdefault(m.get(55), []).append(m)
    assert got_states.keys() == want_states.keys()
    for symbol, wants in want_states.items():
        remaining = iter(wants)
        for got in got_states[symbol]:
            if not any(not mismatches(want, got.fields) for want in remaining):
                problems.append(f"f {symbol}: {got.fields} is not a later state of the symbol")
                break
        problems += [f"f {symbol} last: {p}"
                     for p in mismatches(wants[-1], got_states[symbol][-1].fields)]
    scales = {i.symbol: (i.price_scale, i.fractional_qty_scale or 1) for i in instruments}
    by_report_id = {m.get(721): m for m in received if m.msg_type == "AP"}
    for change in positions:
        fields, quantities, amounts = expected_position_report(
            change, *scales[change.position.symbol], profile=profile
        )
        message = by_report_id[str(fields[721])]
        problems += [f"AP {fields[721]}: {p}" for p in mismatches(fields, message.fields)]
        got_qty = {d[703]: (Decimal(d[704]), Decimal(d[705]))
                   for d in map(dict, message.group(702, 703, (704, 705)))}  # fmt: skip
        got_amt = {
            d[707]: Decimal(d[708]) for d in map(dict, message.group(753, 707, (708, 2096, 1055)))
        }
        if got_qty != quantities:
            problems.append(f"AP {fields[721]} quantities: {got_qty} != {quantities}")
        if got_amt != amounts:
            problems.append(f"AP {fields[721]} amounts: {got_amt} != {amounts}")
    return problems


SIDE_TAGS = (1427, 453, 448, 447, 452, 1, 12, 13, 58, 1057, 37, 11)


def _identities(executions: list[Any]) -> dict[str, set[str]]:
    """Per firm, every value that identifies it or its orders: the firm, its accounts and users
    (full names and the exchange's short ids), its orders' ids and ClOrdIDs, its fills' ids."""
    out: dict[str, set[str]] = {}
    for e in executions:
        o = e.order
        firm = o.account.split("/")[1]
        names = {o.account, o.participant, o.account.rsplit("/", 1)[-1],
                 o.participant.rsplit("/", 1)[-1], firm, f"firms/{firm}", o.id, o.clord_id, e.id}
        out.setdefault(firm, set()).update(name for name in names if name)
    return out


def test_a_firm_session_receives_no_identity_of_another_firm(tmp_path: Path, spec_dir: str) -> None:
    """Two firms' sessions and an all-firms one, every message kind, real QuickFIX clients: a
    firm's session gets its own sides of trades between firms, and nothing of the other's."""
    total = 1200
    kinds = ["executions", "trades", "instruments", "positions"]
    sessions = [
        {"name": name, "sender_comp_id": BRIDGE, "target_comp_id": client,
         "scope": {"message_kinds": kinds, **({"firms": [firm]} if firm else {})}}
        for name, client, firm in (("alpha", "ALPHA_BO", "SIM-ALPHA"),
                                   ("bravo", "BRAVO_BO", "SIM-BRAVO"), ("all", "ALL_BO", ""))
    ]  # fmt: skip
    received: dict[str, list[FixMessage]] = {}
    with SimulatorThread(seed=8, rate=0, max_executions=total, heartbeat_interval=0.5) as sim:
        bridge = bridge_for(tmp_path, sim.port, sessions)
        with bridge:
            sim.wait_for_executions(total, timeout=60)
            executions = sim.executions()
            clients = {
                s["name"]: QuickFixClient(port=bridge.fix_port, sender=str(s["target_comp_id"]),
                                          target=BRIDGE, workdir=tmp_path / f"qf-{s['name']}",
                                          spec_dir=spec_dir)
                for s in sessions
            }  # fmt: skip
            for client in clients.values():
                client.start()
            try:
                for client in clients.values():
                    client.wait_for_logon(timeout=20)
                clients["all"].wait_for_app(total, timeout=90)
                time.sleep(2.0)
                for name, client in clients.items():
                    assert client.rejects_sent() == [], name
                    received[name] = client.app_messages()
            finally:
                for client in clients.values():
                    client.stop()
            assert bridge.stop() == 0, bridge.tail()
    identities = _identities(executions)
    cross_firm_reports = 0
    pairs = (("alpha", "SIM-ALPHA", "SIM-BRAVO"), ("bravo", "SIM-BRAVO", "SIM-ALPHA"))
    for name, firm, other in pairs:
        seen = {value for m in received[name] for _, value in m.pairs}
        seen |= {value.rsplit("/", 1)[-1] for value in seen}
        leaked = identities[other] & seen
        assert not leaked, f"{name} received {other}'s {sorted(leaked)[:5]}"
        assert identities[firm] & seen, f"{name} received nothing of its own"
        kinds_seen = {m.msg_type for m in received[name]}
        assert {"8", "AE", "AP", "f"} <= kinds_seen, (name, kinds_seen)
        for m in received[name]:
            if m.msg_type == "AE":
                sides = m.group(552, 54, SIDE_TAGS)
                hidden = [entry for entry in sides if len(entry) == 1]
                cross_firm_reports += bool(hidden)
    assert cross_firm_reports > 0, "no trade between firms: the scenario proves nothing"
    everything = {value for m in received["all"] for _, value in m.pairs}
    assert identities["SIM-ALPHA"] & everything and identities["SIM-BRAVO"] & everything


@pytest.mark.parametrize("profile", ["exchange", "fix50sp2"])
def test_a_back_office_that_lost_its_day_asks_by_exec_id_and_gets_exactly_the_rest(
    tmp_path: Path, profile: str
) -> None:
    """After an outage the back office's books end at some ExecID; it logs on (QuickFIX,
    validating against the profile's shipped dictionaries, both generations) and sends
    EventResendRequest (35=U1) with BeginExecID(21001) = that ExecID. It receives exactly the
    executions from it on, in the exchange's order, each PossResend(97)=Y and not PossDup,
    then EventResendComplete (35=U2) naming its request and the count; nothing is rejected."""
    total, kept = 300, 180
    with SimulatorThread(seed=8, rate=0, max_executions=total, heartbeat_interval=0.5) as sim:
        session = {**_session(), "fix_profile": profile}
        bridge = bridge_for(tmp_path, sim.port, [session])
        dictionaries = _shipped_dictionaries(tmp_path, profile)
        with bridge:
            client = _client(tmp_path, bridge, str(dictionaries))
            client.start()
            client.wait_for_app(total, timeout=60)
            client.stop()
            ids = [e.id for e in sim.executions()]
            client.send_on_logon = f"35=U1|21001={ids[kept]}"
            client.start()
            client.wait_for_app(total + (total - kept) + 1, timeout=60)
            time.sleep(0.5)
            rejects, again = client.rejects_sent(), client.app_messages(current_run=True)
            (request,) = client.messages("app_out", msg_type="U1")
            client.stop()
            assert bridge.stop() == 0, bridge.tail()
    assert len(ids) == total and rejects == []
    *reports, done = again
    assert [m.get(17) for m in reports] == ids[kept:]
    assert all(m.msg_type == "8" and m.get(97) == "Y" and not m.poss_dup for m in reports)
    assert (done.msg_type, done.get(45), done.get(21003)) == (
        "U2", str(request.seq_num), str(total - kept)
    )  # fmt: skip
