"""The journal side of a reconciliation on a real SQLite journal: the date's events, and what
a session's store still vouches for after a sequence reset removed its stored messages."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import zoneinfo
from pathlib import Path

import pytest

from fixbridge.config import load_config
from fixbridge.fix import logbook
from fixbridge.fix.codec import encode_fields, frame
from fixbridge.journal.records import OutboundMessage
from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.normalize.execution import execution_report_body, normalize_execution
from fixbridge.reconcile.command import run
from fixbridge.reconcile.compare import Event, Expected, compare_session
from fixbridge.reconcile.journal_side import (
    Journaled,
    SentStore,
    journal_events,
    open_read_only,
    sent_to_session,
)
from fixbridge.reconcile.records import compared
from fixbridge.simulator.market import MarketModel
from fixbridge.upstream.streams import execution_to_event
from tests.sent_store import as_schema_9

START_NS = 1_795_000_000_000_000_000  # 2026-11-18T11:06:40Z: trade date 2026-11-18
DATE = dt.date(2026, 11, 18)


def _journal(path: Path) -> tuple[list[str], int]:
    """A journal with one session and some simulator executions, all sent to it."""
    model = MarketModel(7)
    executions = []
    step = 0
    while len(executions) < 20:
        executions += model.step(START_NS + step * 20_000_000).executions
        step += 1
    journal = SqliteJournal(path)
    try:
        journal.load_session("s")  # the session exists before the events
        result = journal.append("executions", [execution_to_event(e) for e in executions],
                                b"token", START_NS)
        bodies = [encode_fields(execution_report_body(normalize_execution(e)))
                  for e in executions]
        sent = [OutboundMessage(n + 1, "8", "20261118-11:06:40", body)
                for n, body in enumerate(bodies)]
        journal.record_sent("s", sent, len(sent) + 1, result.head_offset, at_ns=START_NS,
                            after_offset=0)
    finally:
        journal.close()
    return [e.id for e in executions], result.head_offset


def _read(path: Path) -> tuple[list[Journaled], SentStore]:
    """The date's events and what session "s" was sent, read as reconcile reads them."""
    db = open_read_only(path)
    try:
        return list(journal_events(db, DATE)), sent_to_session(db, "s", DATE)
    finally:
        db.close()


def test_the_dates_events_and_what_the_session_was_sent_are_read(tmp_path: Path) -> None:
    ids, head = _journal(tmp_path / "j.db")
    db = open_read_only(tmp_path / "j.db")
    try:
        events = list(journal_events(db, DATE))
        store = sent_to_session(db, "s", DATE)
        assert list(journal_events(db, DATE + dt.timedelta(days=1))) == []
        assert sent_to_session(db, "s", DATE + dt.timedelta(days=1)).messages == frozenset()
        assert not sent_to_session(db, "other", DATE).known
    finally:
        db.close()
    assert [e.key for e in events] == ids
    assert all(e.decoded is not None for e in events)
    assert store.known and store.messages == {f"8:{i}" for i in ids}
    assert (store.window.origin, store.window.covered_from, store.window.cursor) == (0, 0, head)
    expected = [Expected(f"8:{e.key}", e.offset) for e in events]
    assert compare_session("s", expected, store.messages, store.window).agrees


def test_after_a_sequence_reset_the_store_covers_nothing_and_says_so(tmp_path: Path) -> None:
    ids, head = _journal(tmp_path / "j.db")
    journal = SqliteJournal(tmp_path / "j.db")
    try:
        journal.save_sequence_numbers("s", 1, 1, at_ns=START_NS, reset=True)
    finally:
        journal.close()
    events, store = _read(tmp_path / "j.db")
    assert store.messages == frozenset()
    assert store.window.covered_from == head
    diff = compare_session("s", [Expected(f"8:{e.key}", e.offset) for e in events],
                           store.messages, store.window)
    assert diff.agrees  # nothing provably unsent ...
    assert diff.unchecked == len(ids)  # ... and every message of the date unchecked


def test_the_message_log_vouches_for_what_a_reset_removed_from_the_store(
    tmp_path: Path,
) -> None:
    """The message log keeps every epoch: with it recording since before the date began
    (a Logon logged the evening before), the reports logged as sent are checked even after
    a sequence reset emptied the resend store, from the session's origin on."""
    ids, head = _journal(tmp_path / "j.db")
    # Trade date 2026-11-18 begins at 17:00 New York time the day before (spec: the roll).
    new_york = zoneinfo.ZoneInfo("America/New_York")
    date_start = int(dt.datetime(2026, 11, 17, 17, tzinfo=new_york).timestamp()) * 10**9
    journal = SqliteJournal(tmp_path / "j.db")
    try:
        stored = list(journal.outbound_range("s", 1, len(ids)))
        head_fields = encode_fields([(49, "FB"), (56, "BO"), (52, "20261118-11:06:40")])
        journal.log_messages(
            [logbook.sent_entry("s", 0, frame("A", head_fields + b"34=1\x01", b"98=0\x01"),
                              date_start - 10**9)]
            + [logbook.sent_entry("s", 0, frame("8", head_fields, m.body), START_NS)
               for m in stored[:-1]]  # the last one was never logged: it shows as not sent
        )  # fmt: skip
        journal.save_sequence_numbers("s", 1, 1, at_ns=START_NS, reset=True)
    finally:
        journal.close()
    events, store = _read(tmp_path / "j.db")
    assert store.messages == {f"8:{i}" for i in ids[:-1]}
    assert (store.window.origin, store.window.covered_from, store.window.cursor) == (0, 0, head)
    diff = compare_session("s", [Expected(f"8:{e.key}", e.offset) for e in events],
                           store.messages, store.window)  # fmt: skip
    assert (diff.agrees, diff.unchecked) == (False, 0)
    assert list(diff.not_sent) == [f"8:{ids[-1]}"]


def test_the_command_prints_a_table_or_json_and_exits_1_on_a_difference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids, _ = _journal(tmp_path / "j.db")
    config_file = tmp_path / "fixbridge.toml"
    config_file.write_text(
        f'[journal]\npath = "{tmp_path / "j.db"}"\n'
        '[[sessions]]\nname = "s"\nsender_comp_id = "FB"\ntarget_comp_id = "BO"\n'
    )
    config = load_config(config_file)
    db = open_read_only(tmp_path / "j.db")
    try:
        ours = [compared(e.stream, e.key, e.decoded) for e in journal_events(db, DATE)]
    finally:
        db.close()
    # The exchange as the journal has it, less the first execution, plus one more.
    theirs = [*ours[1:], Event("executions", "NOT-JOURNALED", None)]

    async def fetch(*_: object) -> list[Event]:
        return theirs

    assert run(config, tmp_path / "j.db", DATE, "table", fetch) == 1
    table = capsys.readouterr().out
    assert "  missing    executions  NOT-JOURNALED\n" in table
    assert f"  extra      executions  {ids[0]}\n" in table
    assert "session s: agrees" in table and "DIFFERENCES FOUND" in table
    assert run(config, tmp_path / "j.db", DATE, "json", fetch) == 1
    report = json.loads(capsys.readouterr().out)
    assert sorted((e["kind"], e["id"]) for e in report["events"]) == [
        ("extra", ids[0]), ("missing", "NOT-JOURNALED")]
    assert report["sessions"][0]["agree"] is True

    async def same(*_: object) -> list[Event]:
        return ours

    assert run(config, tmp_path / "j.db", DATE, "json", same) == 0
    assert json.loads(capsys.readouterr().out)["agree"] is True


def test_a_journal_no_bridge_of_this_version_has_opened_yet_is_read_too(tmp_path: Path) -> None:
    """Schema 9 kept sent messages one row each in ``outbound``; reconcile reads such a file
    as it is (read-only: it is moved to sent_batches only when a bridge opens it)."""
    ids, _ = _journal(tmp_path / "j.db")
    with sqlite3.connect(tmp_path / "j.db") as db:
        as_schema_9(db)
        assert db.execute("SELECT COUNT(*) FROM outbound").fetchone() == (len(ids),)
    _, store = _read(tmp_path / "j.db")
    assert store.messages == {f"8:{i}" for i in ids}
