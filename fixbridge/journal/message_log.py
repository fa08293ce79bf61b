"""The FIX message log: what every session sent and received, kept for audit.

One row per message, in either direction, application or admin: its session, direction,
MsgSeqNum, the session's reset epoch (how many sequence resets it had gone through), its
SendingTime as written, our clock when it was logged, MsgType and its bytes. Rows are built
from FIX frames, passwords masked, by ``fix/logbook.py``; here they are kept: the table, and
the insert the journal's own write jobs run (``journal/sqlite.py``) in the transaction of the
write they ride on. ``fixbridge log`` reads them (``fixbridge/msglog.py``).

Knows nothing of FIX: it stores a row's bytes as given. Never deletes or rewrites a row (a
sequence reset leaves the log alone; retention is not this module's job), and does no I/O of
its own beyond the statements it is handed a connection for.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Literal, NamedTuple

from fixbridge.journal.bulk_insert import insert_rows

Direction = Literal["in", "out"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS message_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    epoch INTEGER NOT NULL,
    seq INTEGER,
    sending_time TEXT NOT NULL,
    logged_at INTEGER NOT NULL,
    msg_type TEXT NOT NULL,
    raw BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS message_log_by_time ON message_log (logged_at);
CREATE INDEX IF NOT EXISTS message_log_by_session ON message_log (session_id, logged_at);
"""


class LogEntry(NamedTuple):
    """One message as the log keeps it (``raw`` already masked): a named tuple whose fields
    are the table's columns after ``id``, in order, so it is inserted as the row it is (one
    is made for every message sent and received)."""

    session_id: str
    direction: Direction
    epoch: int
    seq: int | None  # MsgSeqNum(34); None when the message had none that is a number
    sending_time: str  # SendingTime(52) as written ("" when absent)
    logged_at_ns: int  # our clock
    msg_type: str
    raw: bytes


def insert(db: sqlite3.Connection, entries: Sequence[LogEntry]) -> int | None:
    """Add ``entries`` to the log, in order, inside the caller's transaction; the id of the
    last one (their ids are consecutive: one writer, ids only ever grow), None for none."""
    if not entries:
        return None
    return insert_rows(
        db,
        "INSERT INTO message_log (session_id, direction, epoch, seq, sending_time, logged_at,"
        " msg_type, raw)",
        entries,
    )
