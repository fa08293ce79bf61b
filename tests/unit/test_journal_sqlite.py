"""The SQLite journal: atomic events + token, dedup, session state, batched outbound reads."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import pytest

from fixbridge.journal.message_log import LogEntry
from fixbridge.journal.records import OutboundMessage
from fixbridge.journal.sqlite import RESEND_BATCH, SqliteJournal
from fixbridge.journal.store import CursorMoved, JournalError, NewEvent


def ev(upstream_id: str) -> NewEvent:
    return NewEvent(upstream_id, 1, b"{}", b"raw")


@pytest.fixture
def journal(tmp_path: Path) -> SqliteJournal:
    j = SqliteJournal(tmp_path / "j.db", synchronous="normal")
    yield j
    j.close()


def test_append_dedups_by_upstream_id_and_stores_token(journal: SqliteJournal) -> None:
    first = journal.append("executions", [ev("a"), ev("b")], b"t1", 10)
    again = journal.append("executions", [ev("b"), ev("c")], b"t2", 11)
    assert (first.stored, first.duplicates) == (2, 0)
    assert (again.stored, again.duplicates) == (1, 1)
    assert journal.upstream_ids("executions") == ["a", "b", "c"]
    assert journal.resume_token("executions") == b"t2"


def test_same_id_in_another_stream_is_not_a_duplicate(journal: SqliteJournal) -> None:
    journal.append("executions", [ev("x")], b"t", 1)
    assert journal.append("trades", [ev("x")], b"t", 1).stored == 1


def test_token_only_response_advances_token(journal: SqliteJournal) -> None:
    journal.append("executions", [], b"heartbeat-token", 1)
    assert journal.resume_token("executions") == b"heartbeat-token"
    journal.append("executions", [], b"", 2)
    assert journal.resume_token("executions") == b"heartbeat-token"


def test_failed_append_stores_neither_events_nor_token(journal: SqliteJournal) -> None:
    journal.append("executions", [ev("a")], b"t1", 1)
    broken = NewEvent("b", 1, object(), b"raw")  # type: ignore[arg-type]
    with pytest.raises(sqlite3.Error):
        journal.append("executions", [ev("c"), broken], b"t2", 2)
    assert journal.upstream_ids("executions") == ["a"]
    assert journal.resume_token("executions") == b"t1"


def test_sessions_start_at_the_head_and_keep_their_numbers(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    j = SqliteJournal(path)
    j.append("executions", [ev("a")], b"t", 1)
    record = j.load_session("s1")
    assert (record.next_sender_seq, record.next_target_seq, record.cursor_offset) == (1, 1, 1)
    j.record_sent("s1", [OutboundMessage(1, "8", "20260101-00:00:00", b"17=a\x01")], 2, 1, at_ns=1)
    j.save_sequence_numbers("s1", 3, 5, at_ns=1)
    j.close()
    reopened = SqliteJournal(path)
    assert reopened.load_session("s1").next_sender_seq == 3
    assert reopened.load_session("s1").next_target_seq == 5
    reopened.close()


def test_outbound_range_streams_in_batches(journal: SqliteJournal) -> None:
    journal.load_session("s")
    total = RESEND_BATCH * 2 + 7
    msgs = [OutboundMessage(i, "8", "t", b"x") for i in range(1, total + 1) if i % 10]
    journal.record_sent("s", msgs, total + 1, 0, at_ns=1)
    got = [m.seq for m in journal.outbound_range("s", 5, total - 3)]
    assert got == [m.seq for m in msgs if 5 <= m.seq <= total - 3]


def test_reset_drops_outbound_messages(journal: SqliteJournal) -> None:
    journal.load_session("s")
    journal.record_sent("s", [OutboundMessage(1, "8", "t", b"x")], 2, 0, at_ns=1)
    journal.save_sequence_numbers("s", 1, 1, reset=True, at_ns=1)
    assert list(journal.outbound_range("s", 1, 10)) == []


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


def test_the_possibly_sent_time_only_moves_forward_and_survives_a_restart(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.db")
    journal.load_session("s")
    journal.load_session("other")
    asyncio.run(journal.mark_possibly_sent_async("s", 5_000))
    asyncio.run(journal.mark_possibly_sent_async("s", 4_000))  # an earlier time moves nothing
    journal.save_sequence_numbers("s", 9, 3, at_ns=1)
    journal.save_sequence_numbers("s", 1, 1, at_ns=2, reset=True)  # nor does a reset
    assert journal.load_session("s").possibly_sent_before_ns == 5_000
    journal.close()
    reopened = SqliteJournal(tmp_path / "j.db")
    assert reopened.load_session("s").possibly_sent_before_ns == 5_000
    assert reopened.load_session("other").possibly_sent_before_ns == 0  # one session's only
    reopened.close()


# --- where a replay by time must start (resume token refused) -------------------------------


def timed(upstream_id: str, transact_ns: int, flagged: str | None = None) -> NewEvent:
    return NewEvent(upstream_id, transact_ns, b"{}", b"raw-" + upstream_id.encode(), flagged)


def test_anchor_is_the_newest_event_or_what_the_token_covers(journal: SqliteJournal) -> None:
    assert journal.resume_anchor_ns("executions") is None
    journal.append("executions", [timed("a", 100), timed("b", 300), timed("c", 200)], b"t1", 1000)
    # The newest by journal order, not the largest time: c came last.
    assert journal.resume_anchor_ns("executions") == 300  # covered by t1: max event time
    journal.append("executions", [], b"heartbeat", 5000)  # caught up when received
    assert journal.resume_anchor_ns("executions") == 5000


def test_anchor_ignores_flagged_events_and_future_times(journal: SqliteJournal) -> None:
    far_future = 4 * 10**18
    journal.append("executions", [timed("a", 100)], b"", 1000)  # a fill: no token
    journal.append("executions", [timed("bad", far_future, "side: unknown")], b"", 1100)
    assert journal.resume_anchor_ns("executions") == 100
    journal.append("executions", [timed("odd", far_future)], b"", 1200)
    assert journal.resume_anchor_ns("executions") == 1200  # capped by when it was received


def test_time_beyond_sqlite_integers_is_stored_clamped_not_refused(journal: SqliteJournal) -> None:
    huge = 10**10 * 10**9 + 5  # year 2286: more nanoseconds than an int64 holds
    result = journal.append("executions", [timed("late", huge)], b"t", 1)
    assert result.stored == 1
    assert journal.read_events(0, 1)[0].transact_time_ns == 2**63 - 1


def test_disk_space_is_that_of_the_file_system_holding_the_journal(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.db")
    free, total = journal.disk_space()
    usage = shutil.disk_usage(tmp_path)  # the standard library's own reading
    journal.close()
    assert total == usage.total
    assert 0 < free <= total and abs(free - usage.free) < 256 * 2**20  # others write meanwhile


def test_a_batch_from_a_cursor_no_longer_stored_keeps_nothing(journal: SqliteJournal) -> None:
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


def test_a_write_that_does_not_move_the_cursor_leaves_the_stored_one_alone(
    journal: SqliteJournal,
) -> None:
    """An answer no event produced (cursor None) or a message stored where the session
    stands (cursor equal to after_offset) must not put back a cursor that an operator's
    replay moved meanwhile, nor be refused for it."""
    journal.append("executions", [ev("a"), ev("b"), ev("c")], b"t", 1)
    journal.load_session("s")  # at the head: 3
    asyncio.run(journal.replay_from_async("s", 1, 5))
    answer = [OutboundMessage(1, "U3", "20261206-00:00:00", b"58=x\x01")]
    journal.record_sent("s", answer, 2, None, at_ns=1)
    reject = [OutboundMessage(2, "j", "20261206-00:00:00", b"45=1\x01")]
    journal.record_sent("s", reject, 3, 3, at_ns=1, after_offset=3)  # as it stood before
    record = journal.load_session("s")
    assert (record.cursor_offset, record.next_sender_seq) == (1, 3)
    assert [m.seq for m in journal.outbound_range("s", 1, 10)] == [1, 2]
