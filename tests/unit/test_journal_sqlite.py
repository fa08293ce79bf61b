"""What only the SQLite journal has: its lock file, its migrations, its disk, its message log
rows. Everything the storage contract promises is in tests/contract, run on every backend."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fixbridge.journal import sqlite as sqlite_module
from fixbridge.journal.message_log import LogEntry
from fixbridge.journal.records import OutboundMessage
from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.journal.store import CursorMoved, JournalError, JournalEvent, NewEvent, SentInRound


def ev(upstream_id: str) -> NewEvent:
    return NewEvent(upstream_id, 1, b"{}", b"raw")


@pytest.fixture
def journal(tmp_path: Path) -> SqliteJournal:
    j = SqliteJournal(tmp_path / "j.db", synchronous="normal")
    yield j
    j.close()


def test_second_writer_is_refused(tmp_path: Path) -> None:
    first = SqliteJournal(tmp_path / "j.db")
    with pytest.raises(JournalError, match="in use by another fixbridge process"):
        SqliteJournal(tmp_path / "j.db")
    first.close()


def test_version_1_journal_is_migrated_and_keeps_its_sessions(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('schema_version', '1');"
        "CREATE TABLE sessions (session_id TEXT PRIMARY KEY, next_sender_seq INTEGER NOT NULL,"
        " next_target_seq INTEGER NOT NULL, cursor_offset INTEGER NOT NULL);"
        "INSERT INTO sessions VALUES ('s', 41, 7, 3);"
    )
    db.commit()
    db.close()
    journal = SqliteJournal(path)
    record = journal.load_session("s")
    assert (record.next_sender_seq, record.next_target_seq, record.updated_at_ns) == (41, 7, 0)
    journal.save_sequence_numbers("s", 42, 7, at_ns=99)
    assert journal.load_session("s").updated_at_ns == 99
    assert journal.load_session("s").possibly_sent_before_ns == 0
    journal.close()


def test_disk_space_is_that_of_the_file_system_holding_the_journal(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.db")
    free, total = journal.disk_space()
    usage = shutil.disk_usage(tmp_path)  # the standard library's own reading
    journal.close()
    assert total == usage.total
    assert 0 < free <= total and abs(free - usage.free) < 256 * 2**20  # others write meanwhile


def test_a_batch_refused_for_a_moved_cursor_logs_none_of_its_messages(
    journal: SqliteJournal,
) -> None:
    """The contract suite (tests/contract) checks what the store keeps; the message log's
    rows, which only SQLite's own tools read, go or stay with the write they ride on."""
    journal.append("executions", [ev("a"), ev("b"), ev("c")], b"t", 1)
    journal.load_session("s")  # a new session starts at the head: 3
    asyncio.run(journal.replay_from_async("s", 1, 5))  # an operator's replay: back to 1
    journal.append("executions", [ev("d")], b"t", 2)  # offset 4, for the batch 3 -> 4
    sent = [OutboundMessage(2, "8", "20261206-00:00:00", b"17=x\x01")]
    row = LogEntry("s", "out", 0, 2, "20261206-00:00:00", 1, "8", b"8=FIXT.1.1\x01")
    with pytest.raises(CursorMoved, match="stored cursor is 1, not the 3"):
        journal.record_sent("s", sent, 3, 4, at_ns=1, after_offset=3, log=[row])
    record = journal.load_session("s")
    assert (record.cursor_offset, record.next_sender_seq) == (1, 1)
    assert list(journal.outbound_range("s", 1, 10)) == []
    with sqlite3.connect(journal.path) as db:
        assert db.execute("SELECT COUNT(*) FROM message_log").fetchone() == (0,)
    # From the stored cursor, the same batch is kept.
    journal.record_sent("s", sent, 3, 4, at_ns=1, after_offset=1, log=[row])
    assert journal.load_session("s").cursor_offset == 4




def test_a_round_asks_for_riding_batches_only_when_an_append_of_its_own_stored_events(
    journal: SqliteJournal,
) -> None:
    """deliver_in_rounds: asked inside a round that stored events, with a read that sees
    them before the COMMIT; not asked for a round whose append stored only duplicates,
    nor for a round of session writes, nor for the round after one whose append was lost."""
    asked: list[list[str]] = []

    def delivery(read: Callable[[int, int, str], list[JournalEvent]]) -> list[SentInRound]:
        asked.append([event.upstream_id for event in read(0, 10, "")])
        return []

    assert journal.deliver_in_rounds(delivery) is True
    real = sqlite_module._append

    def lost_append(*args: Any) -> Callable[[sqlite3.Connection], Any]:
        work = real(*args)

        def then_the_disk_fails(db: sqlite3.Connection) -> Any:
            work(db)  # its events stored, then:
            db.execute("ROLLBACK")  # the whole transaction ends, as an I/O error ends it
            raise sqlite3.OperationalError("disk I/O error (injected)")

        return then_the_disk_fails

    async def main() -> None:
        await journal.append_async("executions", [ev("e1"), ev("e2")], b"t", 1)
        await journal.append_async("executions", [ev("e1")], b"t", 2)  # a duplicate only
        await journal.save_sequence_numbers_async("s", 2, 2, at_ns=3)
        journal._jobs = type("Jobs", (), {"append": staticmethod(lost_append)})()  # type: ignore[assignment]
        with pytest.raises(sqlite3.OperationalError):
            await journal.append_async("executions", [ev("e3")], b"t", 4)
        journal._jobs = sqlite_module._JOBS
        await journal.save_sequence_numbers_async("s", 3, 3, at_ns=5)
        await journal.append_async("executions", [ev("e4")], b"t", 6)

    asyncio.run(main())
    assert asked == [["e1", "e2"], ["e1", "e2", "e4"]]
    assert journal.deliver_in_rounds(None) is True
