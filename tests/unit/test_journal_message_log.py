"""The FIX message log in the journal: rows written with the session writes they go with,
reset epochs, rows kept across resets, passwords masked, schema 7 -> 8."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixbridge.fix import logbook
from fixbridge.fix.codec import FixMessage, FrameParser, encode_fields, frame
from fixbridge.fix.logbook import Logbook
from fixbridge.fix.session import (
    FixSession,
    LogonPolicy,
    Persist,
    SessionIdentity,
)
from fixbridge.journal.message_log import LogEntry
from fixbridge.journal.records import OutboundMessage
from fixbridge.journal.sqlite import SqliteJournal
from tests.unit.fixmsg import BRIDGE, CLIENT, STAMP, T0, client_msg

Row = tuple[str, str, int, int | None, str, int, str, bytes]


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    j = SqliteJournal(tmp_path / "j.db", synchronous="normal")
    yield j
    j.close()


def rows(path: Path) -> list[Row]:
    db = sqlite3.connect(path)
    try:
        found = db.execute(
            "SELECT session_id, direction, epoch, seq, sending_time, logged_at, msg_type, raw"
            " FROM message_log ORDER BY id"
        ).fetchall()
    finally:
        db.close()
    return [(s, d, e, q, t, a, m, bytes(r)) for s, d, e, q, t, a, m, r in found]


def ours(seq: int, msg_type: str, body: bytes) -> bytes:
    """A frame as the bridge sends it: its header, then ``body``."""
    head = encode_fields([(49, BRIDGE), (56, CLIENT), (34, str(seq)), (52, STAMP)])
    return frame(msg_type, head, body)


def test_application_messages_are_logged_in_the_transaction_that_stores_them(
    journal: SqliteJournal,
) -> None:
    journal.load_session("s")
    body = encode_fields([(17, "E1"), (150, "F")])
    wire = ours(1, "8", body)
    entry = logbook.application_entry(
        "s", 0, wire, seq=1, msg_type="8", sending_time=STAMP, now_ns=T0
    )
    journal.record_sent("s", [OutboundMessage(1, "8", STAMP, body)], 2, 0, at_ns=T0, log=[entry])
    assert rows(journal.path) == [("s", "out", 0, 1, STAMP, T0, "8", wire)]
    # The same number again violates the outbound store's key: the whole write fails, and
    # its log rows with it (one transaction).
    again = logbook.application_entry(
        "s", 0, wire, seq=1, msg_type="8", sending_time=STAMP, now_ns=T0 + 1
    )
    with pytest.raises(sqlite3.IntegrityError):
        journal.record_sent(
            "s", [OutboundMessage(1, "8", STAMP, body)], 2, 0, at_ns=T0 + 1, log=[again]
        )
    assert len(rows(journal.path)) == 1


def test_the_async_writes_carry_log_rows_too(journal: SqliteJournal) -> None:
    journal.load_session("s")
    heartbeat = logbook.sent_entry("s", 0, ours(1, "0", b""), T0)
    request = logbook.received_entry("s", 0, client_msg("1", 1, (112, "T1")), T0)
    reply = logbook.sent_entry("s", 0, ours(2, "0", encode_fields([(112, "T1")])), T0 + 1)

    async def writes() -> None:
        await journal.save_sequence_numbers_async("s", 2, 1, at_ns=T0, log=[heartbeat])
        await journal.log_messages_async([request])
        await journal.submit_sent("s", [], 3, 0, at_ns=T0 + 1, log=[reply]).result()

    asyncio.run(writes())
    found = rows(journal.path)
    assert [(r[1], r[3], r[6]) for r in found] == [("out", 1, "0"), ("in", 1, "1"), ("out", 2, "0")]
    assert found[1][4] == STAMP  # the client's SendingTime as it wrote it


def test_a_reset_starts_the_next_epoch_and_the_log_keeps_every_row(
    journal: SqliteJournal,
) -> None:
    journal.load_session("s")
    journal.load_session("other")
    assert journal.load_session("s").reset_epoch == 0
    first = logbook.sent_entry("s", 0, ours(1, "A", b""), T0)
    journal.record_sent("s", [OutboundMessage(1, "8", STAMP, b"17=E1\x01")], 2, 0, at_ns=T0)
    journal.save_sequence_numbers("s", 2, 2, at_ns=T0, log=[first])
    journal.save_sequence_numbers("s", 1, 1, at_ns=T0 + 1, reset=True)
    assert journal.load_session("s").reset_epoch == 1
    assert journal.load_session("other").reset_epoch == 0  # one session's only
    assert list(journal.outbound_range("s", 1, 10)) == []  # the outbound store starts anew
    after = logbook.sent_entry("s", 1, ours(1, "A", b""), T0 + 2)
    journal.save_sequence_numbers("s", 2, 2, at_ns=T0 + 2, reset=False, log=[after])
    journal.save_sequence_numbers("s", 1, 1, at_ns=T0 + 3, reset=True)
    journal.close()
    reopened = SqliteJournal(journal.path)
    assert reopened.load_session("s").reset_epoch == 2
    reopened.close()
    assert [(r[2], r[3]) for r in rows(journal.path)] == [(0, 1), (1, 1)]


def test_passwords_never_reach_the_log(journal: SqliteJournal) -> None:
    journal.load_session("s")
    logon = client_msg(
        "A", 1, (98, "0"), (108, "30"), (553, "ops"), (554, "s3cret"), (925, "n3w-s3cret")
    )
    journal.log_messages([logbook.received_entry("s", 0, logon, T0)])
    ((*_, raw),) = rows(journal.path)
    assert b"s3cret" not in raw
    assert b"\x01554=***\x01" in raw and b"\x01925=***\x01" in raw
    assert b"\x01553=ops\x01" in raw  # the rest of the message is as it came
    assert raw.replace(b"554=***", b"554=s3cret").replace(b"925=***", b"925=n3w-s3cret") == (
        logon.raw
    )


def test_a_password_tag_written_with_leading_zeros_is_masked_too() -> None:
    """The parser reads ``0554=`` as tag 554 (a number), so the session checks it as the
    Password: the log must not keep it in clear."""
    raw = ours(1, "A", b"98=0\x01108=30\x01553=ops\x010554=hunter2\x0100925=n3w\x01")
    (parsed,) = FrameParser().feed(raw)
    assert isinstance(parsed, FixMessage) and parsed.get(554) == "hunter2"
    masked = logbook.mask_secrets(raw)
    assert b"hunter2" not in masked and b"n3w" not in masked
    assert b"\x010554=***\x01" in masked and b"\x0100925=***\x01" in masked


def test_a_value_that_only_looks_like_a_password_tag_is_kept() -> None:
    raw = ours(1, "0", encode_fields([(58, "554=not-a-field")]))
    assert logbook.mask_secrets(raw) == raw


def test_a_logon_that_resets_opens_the_new_epoch_with_its_answer() -> None:
    session = FixSession(
        SessionIdentity(BRIDGE, CLIENT), next_sender_seq=9, next_target_seq=9,
        policy=LogonPolicy(),
    )  # fmt: skip
    book = Logbook("s", 4)
    logon = client_msg("A", 1, (98, "0"), (108, "30"), (141, "Y"), (1137, "9"))
    actions = session.on_message(logon, T0)
    assert any(isinstance(a, Persist) and a.reset for a in actions)
    book.received(logon, T0, actions)
    (entry,) = book.take()
    assert (entry.direction, entry.epoch, entry.seq, entry.msg_type) == ("in", 5, 1, "A")
    assert not book.pending


def test_rows_given_back_go_before_newer_ones() -> None:
    book = Logbook("s", 0)
    older = logbook.received_entry("s", 0, client_msg("0", 1), T0)
    newer = logbook.received_entry("s", 0, client_msg("0", 2), T0 + 1)
    book.add(newer)
    book.give_back([older])
    assert [e.seq for e in book.take()] == [1, 2]


def test_a_schema_7_journal_is_migrated_and_keeps_its_sessions(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    journal = SqliteJournal(path)
    journal.load_session("s")
    journal.record_sent("s", [OutboundMessage(1, "8", STAMP, b"17=E1\x01")], 2, 0, at_ns=T0)
    journal.save_sequence_numbers("s", 2, 5, at_ns=T0)
    journal.close()
    db = sqlite3.connect(path)  # back to what fixbridge wrote with schema version 7
    db.executescript(
        "DROP TABLE message_log;"
        "ALTER TABLE sessions DROP COLUMN reset_epoch;"
        "UPDATE meta SET value='7' WHERE key='schema_version';"
    )
    db.commit()
    db.close()

    migrated = SqliteJournal(path)
    record = migrated.load_session("s")
    assert (record.next_sender_seq, record.next_target_seq, record.reset_epoch) == (2, 5, 0)
    assert [m.seq for m in migrated.outbound_range("s", 1, 1)] == [1]
    migrated.log_messages([logbook.sent_entry("s", 0, ours(2, "0", b""), T0)])
    migrated.save_sequence_numbers("s", 1, 1, at_ns=T0, reset=True)
    assert migrated.load_session("s").reset_epoch == 1
    migrated.close()
    db = sqlite3.connect(path)
    version = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    db.close()
    assert version == ("10",)
    assert [(r[1], r[3], r[6]) for r in rows(path)] == [("out", 2, "0")]


def test_a_row_of_our_frame_reads_its_header_from_the_frame() -> None:
    wire = ours(7, "5", encode_fields([(58, "bye")]))
    entry = logbook.sent_entry("s", 3, wire, T0)
    assert entry == LogEntry("s", "out", 3, 7, STAMP, T0, "5", wire)
