"""The FIX message log: what every session sent and received, kept for audit.

One row per message, in either direction, application or admin: its session, direction,
MsgSeqNum, the session's reset epoch (how many sequence resets it had gone through), its
SendingTime as written, our clock when it was logged, MsgType and its bytes. Rows are built
here and inserted by the journal's own write jobs (``journal/sqlite.py``), in the transaction
of the write they ride on; ``fixbridge log`` reads them (``fixbridge/msglog.py``).

Must never store a password in clear: Password(554) and NewPassword(925) are masked in the
bytes before a row exists. Never deletes or rewrites a row (a sequence reset leaves the log
alone; retention is not this module's job), and does no I/O of its own beyond the statements
it is handed a connection for.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from fixbridge.fix.codec import SOH, FixMessage, first_value

Direction = Literal["in", "out"]
MASK = b"***"
SECRET_TAGS = (554, 925)  # Password, NewPassword
_MAY_HOLD_SECRET = re.compile(b"|".join(b"%d=" % tag for tag in SECRET_TAGS))

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


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One message as the log keeps it (``raw`` already masked)."""

    session_id: str
    direction: Direction
    epoch: int
    seq: int | None  # MsgSeqNum(34); None when the message had none that is a number
    sending_time: str  # SendingTime(52) as written ("" when absent)
    logged_at_ns: int  # our clock
    msg_type: str
    raw: bytes


def mask_secrets(raw: bytes) -> bytes:
    """``raw`` with the values of Password(554) and NewPassword(925) replaced by ``***``
    (BodyLength and CheckSum are left as they were: they describe the original). A tag is
    recognised by its number, as the parser reads it (``0554=`` is Password too)."""
    if _MAY_HOLD_SECRET.search(raw) is None:  # one scan, the common case
        return raw
    parts = raw.split(SOH)
    for i, part in enumerate(parts):
        tag, sep, _ = part.partition(b"=")
        if i and sep and tag.isdigit() and int(tag) in SECRET_TAGS:  # never BeginString
            parts[i] = tag + b"=" + MASK
    return SOH.join(parts)


def _seq(text: str | None) -> int | None:
    if text is None or not text.isdigit() or len(text) > 18:
        return None
    return int(text)


def received(session_id: str, epoch: int, message: FixMessage, now_ns: int) -> LogEntry:
    """The row of a message a client sent us."""
    return LogEntry(
        session_id,
        "in",
        epoch,
        _seq(message.get(34)),
        message.get(52) or "",
        now_ns,
        message.msg_type,
        mask_secrets(message.raw),
    )


def sent(session_id: str, epoch: int, frame: bytes, now_ns: int) -> LogEntry:
    """The row of a frame we send (an admin message or a replayed one): its header fields are
    read from the frame itself, without parsing its body."""
    return LogEntry(
        session_id,
        "out",
        epoch,
        _seq(first_value(frame, 34)),
        first_value(frame, 52) or "",
        now_ns,
        first_value(frame, 35) or "",
        mask_secrets(frame),
    )


def insert(db: sqlite3.Connection, entries: Sequence[LogEntry]) -> None:
    """Add ``entries`` to the log, in order, inside the caller's transaction."""
    if not entries:
        return
    db.executemany(
        "INSERT INTO message_log (session_id, direction, epoch, seq, sending_time, logged_at,"
        " msg_type, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                e.session_id,
                e.direction,
                e.epoch,
                e.seq,
                e.sending_time,
                e.logged_at_ns,
                e.msg_type,
                e.raw,
            )
            for e in entries
        ],
    )


def application(
    session_id: str,
    epoch: int,
    frame: bytes,
    *,
    seq: int,
    msg_type: str,
    sending_time: str,
    now_ns: int,
) -> LogEntry:
    """The row of an application message we send, whose header fields the caller has (the
    delivery's hot path: the frame is not parsed again)."""
    masked = mask_secrets(frame)
    return LogEntry(session_id, "out", epoch, seq, sending_time, now_ns, msg_type, masked)
