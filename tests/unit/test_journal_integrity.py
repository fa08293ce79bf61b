"""A damaged journal is refused and reported; journal files are private; backups are checked.

Damage is made the way a disk or a hand makes it: bytes flipped in a b-tree page of the file,
rows deleted with plain SQL. Modes are read back with ``stat`` under a permissive umask.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixbridge.cli import main
from fixbridge.journal.backup import backup, restore
from fixbridge.journal.integrity import JournalCorrupt, check_journal
from fixbridge.journal.records import OutboundMessage
from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.journal.store import JournalError, NewEvent
from fixbridge.proto.polymarket.v1 import marketdatasubscription_pb2 as md
from fixbridge.upstream.md_subscriber import settlement_event
from tests.sent_store import as_schema_9, drop_stored


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def filled(path: Path, events: int = 3000) -> None:
    """A journal with enough events to span many pages, and one session that was sent some."""
    journal = SqliteJournal(path, synchronous="normal")
    journal.load_session("s")
    batch = [NewEvent(f"E{i}", 1, b"{}" + b"x" * 200, b"raw") for i in range(events)]
    journal.append("executions", batch, b"token", 1)
    sent = [OutboundMessage(seq, "8", "20260105-00:00:00", b"17=%d\x01" % seq) for seq in (1, 2)]
    journal.record_sent("s", sent, 3, 2, at_ns=1, after_offset=0)
    journal.close()


def flip_page(path: Path, page: int) -> None:
    size = sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0]
    with open(path, "r+b") as file:
        file.seek(size * page)
        data = file.read(200)
        file.seek(size * page)
        file.write(bytes(b ^ 0xFF for b in data))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_file_the_journal_creates_is_private(tmp_path: Path) -> None:
    path = tmp_path / "var" / "lib" / "j.db"
    journal = SqliteJournal(path)
    journal.append("executions", [NewEvent("a", 1, b"{}", b"r")], b"t", 1)
    files = [path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", ".lock"))]
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert mode(path.parent) == 0o700 and mode(path.parent.parent) == 0o700
    journal.close()
    out = tmp_path / "backups" / "j-1.db"
    backup(path, out)
    assert (mode(out), mode(out.parent)) == (0o600, 0o700)


def test_a_journal_made_readable_by_an_older_version_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    SqliteJournal(path).close()
    path.chmod(0o644)
    SqliteJournal(path).close()
    assert mode(path) == 0o600


def test_a_damaged_journal_is_refused_at_start_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    filled(path)
    flip_page(path, 20)
    with pytest.raises(JournalCorrupt, match=str(path)):
        SqliteJournal(path, verify=True)
    findings = check_journal(path)
    assert not findings.sound and "malformed" in findings.problems[0]
    with pytest.raises(JournalCorrupt):  # refused again, not "in use": the lock was let go
        SqliteJournal(path, verify=True)


def test_the_bridge_exits_non_zero_on_a_damaged_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "j.db"
    filled(path)
    flip_page(path, 20)
    config = tmp_path / "bridge.toml"
    config.write_text(
        f'[upstream]\ntarget = "127.0.0.1:1"\ntls = false\n\n[journal]\npath = "{path}"\n\n'
        '[fix]\nhost = "127.0.0.1"\nport = 0\n\n[metrics]\nenabled = false\n\n'
        '[[sessions]]\nname = "s"\nsender_comp_id = "B"\ntarget_comp_id = "C"\n'
    )
    assert main(["run", "--config", str(config)]) == 1
    assert f"journal {path} failed SQLite's integrity check" in capsys.readouterr().err


def test_check_journal_reports_messages_missing_from_the_store(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    filled(path)
    with sqlite3.connect(path) as db:
        drop_stored(db, "s", lambda seq: seq == 2)
    findings = check_journal(path)
    assert findings.sound
    assert any("1 sent message(s) missing" in note and "(2)" in note for note in findings.notes)


def test_a_journal_of_schema_9_is_checked_in_its_own_layout(tmp_path: Path) -> None:
    """``check-journal`` of this version may run on a journal no bridge of it opened yet
    (stored messages one row each in ``outbound``): the same findings."""
    path = tmp_path / "j.db"
    filled(path)
    with sqlite3.connect(path) as db:
        as_schema_9(db)
    assert check_journal(path).notes == []
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM outbound WHERE seq=2")
        db.execute("INSERT INTO outbound VALUES ('s', 3, '8', '20260105-00:00:00', x'00')")
    findings = check_journal(path)
    assert any("1 sent message(s) missing" in note and "(2)" in note for note in findings.notes)
    assert any("numbered 3 is stored but the next number to send is 3" in problem
               for problem in findings.problems)  # fmt: skip


def test_the_full_check_reads_every_payload(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    filled(path, events=30)  # payloads that are not an execution's JSON
    findings = check_journal(path, full=True)
    assert findings.checked[-1] == "30 event payload(s) decoded"
    assert findings.problems[0].startswith("30 event payload(s) this version cannot read")


def test_the_full_check_reads_settlements(tmp_path: Path) -> None:
    update = md.MarketDataUpdate(symbol="a", stats=md.InstrumentStats(settlement_px=100))
    event = settlement_event(update, 100, received_at_ns=1)
    assert event is not None
    journal = SqliteJournal(tmp_path / "j.db", synchronous="normal")
    journal.append("settlements", [event], b"", 1)
    journal.close()
    findings = check_journal(tmp_path / "j.db", full=True)
    assert findings.checked[-1] == "1 event payload(s) decoded" and not findings.problems


def test_check_journal_finds_numbers_that_would_be_sent_twice(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    filled(path)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE sessions SET next_sender_seq=2 WHERE session_id='s'")
    findings = check_journal(path)
    assert any("numbered 2 is stored but the next number to send is 2" in p
               for p in findings.problems)  # fmt: skip


def test_backup_runs_beside_a_writing_journal_and_restores(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = SqliteJournal(path, synchronous="normal")
    journal.append("executions", [NewEvent("a", 1, b"{}", b"r")], b"t1", 1)
    out = tmp_path / "b.db"
    summary = backup(path, out)  # the journal is open (and locked) meanwhile
    journal.append("executions", [NewEvent("b", 1, b"{}", b"r")], b"t2", 2)
    assert (summary.events, summary.head_offset) == (1, 1)
    with pytest.raises(JournalError, match="exists already"):
        backup(path, out)
    with pytest.raises(JournalError, match="in use"):
        restore(out, path)
    journal.close()
    moved = restore(out, path)
    assert moved is not None and moved.exists()
    again = SqliteJournal(path, verify=True)
    assert again.upstream_ids("executions") == ["a"] and again.resume_token("executions") == b"t1"
    again.close()
    assert mode(path) == 0o600


def test_a_restored_journal_marks_what_each_session_may_have_had_possresend(
    tmp_path: Path,
) -> None:
    """The lost journal may have sent each session events after the backup's cursor; a
    client resetting its numbers at Logon shows no regression. So the first open after a
    restore marks, for every session, events made before the restore (plus the clock
    margin) PossResend; the mark is consumed, and the backup file itself is untouched."""
    path, out = tmp_path / "j.db", tmp_path / "b.db"
    journal = SqliteJournal(path, synchronous="normal")
    journal.load_session("a")
    journal.load_session("b")
    journal.close()
    backup(path, out)
    restored_at = 1_795_000_000 * 10**9
    restore(out, path, now_ns=restored_at)
    again = SqliteJournal(path)
    marks = {name: again.load_session(name).possibly_sent_before_ns for name in ("a", "b")}
    again.close()
    assert marks == {"a": restored_at + 60 * 10**9, "b": restored_at + 60 * 10**9}
    unmarked = SqliteJournal(out)  # the backup, opened as a journal: no restore happened
    assert unmarked.load_session("a").possibly_sent_before_ns == 0
    unmarked.close()


def test_a_damaged_backup_is_not_restored(tmp_path: Path) -> None:
    path, out = tmp_path / "j.db", tmp_path / "b.db"
    filled(path)
    backup(path, out)
    flip_page(out, 20)
    with pytest.raises(JournalError, match="not a usable journal backup"):
        restore(out, tmp_path / "other.db")
