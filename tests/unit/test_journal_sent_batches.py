"""The SQLite journal's sent-message store (journal/sent_batches.py): what goes in comes back
byte for byte, whether a batch's bodies are read from its message-log frames or kept in its
row, through rewinds, retention and the move from the per-message table of schema 9.

Frames are built here by hand (FIX 5.0 SP2 / FIXT.1.1 layout: 8, 9, 35, header, body, then
10 = sum of the bytes before it mod 256, three digits), not by the bridge's encoder."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from fixbridge.journal import sent_batches
from fixbridge.journal.message_log import LogEntry
from fixbridge.journal.records import OutboundMessage
from fixbridge.journal.sqlite import SqliteJournal
from tests.sent_store import as_schema_9

STAMP = "20261206-19:30:00.000000000"
LATER = "20261206-19:30:01.000000000"


def wire(seq: int, stamp: str, body: bytes, msg_type: str = "8") -> bytes:
    rest = b"35=%s\x0149=FB\x0156=BO\x0134=%d\x0152=%s\x01%s" % (
        msg_type.encode(), seq, stamp.encode(), body
    )
    head = b"8=FIXT.1.1\x019=%d\x01" % len(rest)
    return head + rest + b"10=%03d\x01" % (sum(head + rest) % 256)


def body(seq: int) -> bytes:
    # Bodies of different lengths, one with non-ASCII bytes and one empty.
    return b"" if seq % 5 == 0 else b"17=E%d\x0158=%s\x01" % (seq, "é".encode() * (seq % 7))


def batch(first: int, count: int, stamp: str = STAMP) -> list[OutboundMessage]:
    return [OutboundMessage(s, "8", stamp, body(s)) for s in range(first, first + count)]


def logged(messages: list[OutboundMessage], session: str = "s") -> list[LogEntry]:
    return [
        LogEntry(session, "out", 0, m.seq, m.sending_time, 1, m.msg_type,
                 wire(m.seq, m.sending_time, m.body, m.msg_type))
        for m in messages
    ]  # fmt: skip


def admin(seq: int) -> LogEntry:
    return LogEntry("s", "out", 0, seq, STAMP, 1, "0", wire(seq, STAMP, b"", "0"))


@pytest.fixture
def journal(tmp_path: Path) -> SqliteJournal:
    j = SqliteJournal(tmp_path / "j.db", synchronous="normal")
    j.load_session("s")
    return j


def rows(journal: SqliteJournal) -> list[tuple[int, int, bool, bool]]:
    """(first_seq, last_seq, names the log, holds bodies) of each stored row."""
    with sqlite3.connect(journal.path) as db:
        return [
            (int(a), int(b), c is not None, d is not None)
            for a, b, c, d in db.execute(
                "SELECT first_seq, last_seq, first_log_id, bodies FROM sent_batches"
                " ORDER BY first_seq"
            )
        ]


def test_a_delivered_batch_is_one_row_whose_bodies_are_read_from_its_logged_frames(
    journal: SqliteJournal,
) -> None:
    sent = batch(1, 40)
    journal.record_sent("s", sent, 41, None, at_ns=1, log=[admin(7), *logged(sent)])
    assert rows(journal) == [(1, 40, True, False)]
    assert list(journal.outbound_range("s", 1, 40)) == sent
    assert list(journal.outbound_range("s", 13, 17)) == sent[12:17]
    assert list(journal.outbound_range("s", 40, 99)) == sent[39:]
    journal.close()


def test_a_batch_whose_log_rows_are_not_its_frames_keeps_its_bodies(
    journal: SqliteJournal,
) -> None:
    sent = batch(1, 6)
    masked = logged(sent)
    masked[3] = masked[3]._replace(raw=masked[3].raw.replace(b"17=E4", b"17=**"))
    renumbered = [e._replace(seq=e.seq + 100) for e in logged(batch(7, 3))]
    received = [e._replace(direction="in") for e in logged(batch(14, 2))]
    no_trailer = [e._replace(raw=e.raw[:-7] + b"58=abc\x01") for e in logged(batch(16, 2))]
    journal.record_sent("s", sent, 7, None, at_ns=1, log=masked)
    journal.record_sent("s", batch(7, 3), 10, None, at_ns=1, log=renumbered)
    journal.record_sent("s", batch(10, 2), 12, None, at_ns=1, log=logged(batch(10, 1)))
    journal.record_sent("s", batch(12, 2), 14, None, at_ns=1)
    journal.record_sent("s", batch(14, 2), 16, None, at_ns=1, log=received)
    journal.record_sent("s", batch(16, 2), 18, None, at_ns=1, log=no_trailer)
    assert [r[2:] for r in rows(journal)] == [(False, True)] * 6
    assert list(journal.outbound_range("s", 1, 17)) == batch(1, 17)
    assert list(journal.outbound_range("s", 3, 5)) == batch(3, 3)
    journal.close()


def test_messages_of_several_stamps_or_with_gaps_are_stored_in_runs(
    journal: SqliteJournal,
) -> None:
    sent = [*batch(1, 3), *batch(4, 2, LATER), *batch(8, 2, LATER)]
    journal.record_sent("s", sent, 10, None, at_ns=1, log=logged(sent))
    assert rows(journal) == [(1, 3, True, False), (4, 5, True, False), (8, 9, True, False)]
    assert list(journal.outbound_range("s", 1, 9)) == sent
    assert list(journal.outbound_range("s", 5, 8)) == [sent[4], sent[5]]
    journal.close()


def test_a_pruned_log_row_leaves_a_hole_and_the_rest_reads_back(journal: SqliteJournal) -> None:
    sent = batch(1, 10)
    journal.record_sent("s", sent, 11, None, at_ns=1, log=logged(sent))
    with sqlite3.connect(journal.path) as db:
        db.execute("DELETE FROM message_log WHERE seq IN (4, 5)")
    assert [m.seq for m in journal.outbound_range("s", 1, 10)] == [1, 2, 3, 6, 7, 8, 9, 10]
    assert [m.body for m in journal.outbound_range("s", 6, 6)] == [body(6)]
    journal.close()


@pytest.mark.parametrize("with_log", [True, False])
def test_a_rewind_into_a_row_keeps_the_messages_before_it(
    journal: SqliteJournal, with_log: bool
) -> None:
    first, second = batch(1, 8), batch(9, 4)
    for sent in (first, second):
        journal.record_sent("s", sent, sent[-1].seq + 1, None, at_ns=1,
                            log=logged(sent) if with_log else ())  # fmt: skip
    asyncio.run(journal.rewind_session_async("s", 6, 0, forget_from=6, at_ns=2))
    assert rows(journal) == [(1, 5, with_log, not with_log)]
    assert list(journal.outbound_range("s", 1, 20)) == first[:5]
    journal.record_sent("s", batch(6, 2), 8, None, at_ns=3)  # the numbers are free again
    assert list(journal.outbound_range("s", 1, 20)) == [*first[:5], *batch(6, 2)]
    journal.close()


def test_retention_removes_whole_rows_and_counts_their_messages(journal: SqliteJournal) -> None:
    old, new = batch(1, 30), batch(31, 5, LATER)
    journal.record_sent("s", old, 31, None, at_ns=1, log=logged(old))
    journal.record_sent("s", new, 36, None, at_ns=1, log=logged(new))
    # A limit of 10 falls inside the first row: the row goes whole; the later one stays.
    pruned = asyncio.run(journal.prune_sent_async("s", LATER, 10))
    assert pruned.removed == 30
    assert [m.seq for m in journal.outbound_range("s", 1, 99)] == list(range(31, 36))
    assert asyncio.run(journal.prune_sent_async("s", LATER, 10)).removed == 0
    journal.close()


def test_a_sequence_reset_empties_the_store_and_keeps_the_log(journal: SqliteJournal) -> None:
    sent = batch(1, 4)
    journal.record_sent("s", sent, 5, None, at_ns=1, log=logged(sent))
    journal.save_sequence_numbers("s", 1, 1, at_ns=2, reset=True)
    assert list(journal.outbound_range("s", 1, 99)) == []
    with sqlite3.connect(journal.path) as db:
        assert db.execute("SELECT COUNT(*) FROM message_log").fetchone() == (4,)
    journal.close()


def test_a_schema_9_journal_has_its_stored_messages_moved(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    stored = [*batch(1, 3), *batch(4, 2, LATER), OutboundMessage(9, "j", LATER, b"45=3\x01")]
    journal = SqliteJournal(path)
    for session in ("s", "t"):
        journal.load_session(session)
        journal.record_sent(session, stored, 10, None, at_ns=1, log=logged(stored, session))
    journal.close()
    with sqlite3.connect(path) as db:
        as_schema_9(db)
        assert db.execute("SELECT COUNT(*) FROM outbound").fetchone() == (12,)

    journal = SqliteJournal(path)
    for session in ("s", "t"):
        assert list(journal.outbound_range(session, 1, 9)) == stored
    assert rows(journal) == [(1, 3, False, True), (1, 3, False, True), (4, 5, False, True),
                             (4, 5, False, True), (9, 9, False, True), (9, 9, False, True)]
    journal.close()
    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        version = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    assert "outbound" not in tables and version == ("10",)


def test_a_number_already_stored_is_refused_inside_a_row_too(journal: SqliteJournal) -> None:
    sent = batch(1, 10)
    journal.record_sent("s", sent, 11, None, at_ns=1, log=logged(sent))
    for first, count in ((5, 3), (10, 2), (1, 1), (0, 2)):
        with pytest.raises(sqlite3.IntegrityError):
            journal.record_sent("s", batch(first, count), 20, None, at_ns=1)
    journal.record_sent("s", batch(11, 2), 13, None, at_ns=1)
    assert list(journal.outbound_range("s", 1, 99)) == batch(1, 12)
    journal.close()


def test_many_rows_are_read_in_pages_in_order(journal: SqliteJournal) -> None:
    # One row per message (stamps alternate, and a gap), more rows than a page reads at once.
    singles = [OutboundMessage(s, "8", (STAMP, LATER)[s % 2], body(s))
               for s in (*range(1, 40), *range(45, 80))]  # fmt: skip
    journal.record_sent("s", singles, 80, None, at_ns=1)
    assert len(rows(journal)) == len(singles)
    assert list(journal.outbound_range("s", 1, 79)) == singles
    assert list(journal.outbound_range("s", 20, 60)) == [m for m in singles if 20 <= m.seq <= 60]
    journal.close()


def test_a_resend_paused_between_messages_leaves_the_other_reads_current(
    journal: SqliteJournal,
) -> None:
    sent = batch(1, 50)
    journal.record_sent("s", sent, 51, None, at_ns=1, log=logged(sent))
    replay = journal.outbound_range("s", 1, 50)
    assert next(replay) == sent[0]  # the resend waits for the socket here
    journal.save_sequence_numbers("s", 77, 5, at_ns=2)
    assert journal.load_session("s").next_sender_seq == 77
    assert list(replay) == sent[1:]
    journal.close()


def test_the_move_from_schema_9_cuts_long_runs_into_rows_of_at_most_500(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    stored = batch(1, 1200)
    journal = SqliteJournal(path)
    journal.load_session("s")
    journal.record_sent("s", stored, 1201, None, at_ns=1)
    journal.close()
    with sqlite3.connect(path) as db:
        as_schema_9(db)
        # Tools read such a file as it is, before a bridge moves it.
        assert list(sent_batches.stored_messages(db, "s", 1, 1200)) == stored
        assert list(sent_batches.stored_messages(db, "s", 499, 502)) == stored[498:502]
        assert sent_batches.stored_top(db, "s") == 1200
    journal = SqliteJournal(path)
    assert [r[:2] for r in rows(journal)] == [(1, 500), (501, 1000), (1001, 1200)]
    with sqlite3.connect(path) as db:
        assert list(sent_batches.stored_messages(db, "s", 1, 1200)) == stored
        assert sent_batches.stored_top(db, "s") == 1200
    assert list(journal.outbound_range("s", 1, 1200)) == stored
    assert list(journal.outbound_range("s", 499, 502)) == stored[498:502]
    journal.close()
