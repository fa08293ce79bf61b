"""The SQLite journal's store of sent messages, kept for resend: one row per delivered batch.

A row holds a run of one session's messages: consecutive numbers ``first_seq..last_seq``, one
SendingTime, each message's MsgType and the length of each body. The bodies are in the row,
one after the other, unless the message log holds them already: a delivered batch's log rows,
inserted by the same transaction just before, are its frames, and a frame ends with its body
and the 7-byte CheckSum field. The row then names the log row of its first message
(``first_log_id``, the others follow it) and each body is read back from its frame, so a
delivered message is written once. A row per message, and every body twice, were the largest
part of what a catch-up spent storing what it sent.

Rules:
- Read back byte for byte as given: the log is named only when each message's log row, in
  order, carries its number and ends with exactly its body and a CheckSum field; otherwise the
  bodies go in the row.
- A message whose log row is gone (retention removes the oldest rows) is not returned, like any
  message not stored: a resend gap-fills it or renders it again from its event.
- A session's rows never overlap; numbers in a row are consecutive, its messages stamped at one
  instant. Rows are removed whole, except that forgetting from a number inside a row shortens
  it.

SQLite only, inside the caller's transaction (or on a reader's connection); no I/O of its own.
Never writes or removes a message-log row.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from fixbridge.journal.message_log import LogEntry
from fixbridge.journal.records import OutboundMessage
from fixbridge.journal.rows import outbound_pages
from fixbridge.journal.store import JournalError

SCHEMA = """
CREATE TABLE IF NOT EXISTS sent_batches (
    session_id TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    sending_time TEXT NOT NULL,
    msg_types TEXT NOT NULL,
    body_lengths BLOB NOT NULL,
    first_log_id INTEGER,
    bodies BLOB,
    PRIMARY KEY (session_id, first_seq)
);
"""

TRAILER = 7  # "10=nnn<SOH>": the CheckSum field ending every frame
READ_ROWS = 8  # rows fetched at once by a reader (a delivered batch: up to 500 messages)
MOST_PER_ROW = 500  # messages in one row written by the migration
_COLUMNS = "first_seq, last_seq, sending_time, msg_types, body_lengths, first_log_id, bodies"


class _Row(NamedTuple):
    first_seq: int
    last_seq: int
    sending_time: str
    msg_types: str
    body_lengths: bytes
    first_log_id: int | None
    bodies: bytes | None


def store(
    db: sqlite3.Connection,
    session_id: str,
    messages: Sequence[OutboundMessage],
    log: Sequence[LogEntry],
    last_log_id: int | None,
) -> None:
    """Keep ``messages`` (ascending numbers), in rows of consecutive numbers and one stamp.
    ``log`` is what the same transaction just logged, the last of it under ``last_log_id``:
    where it ends with these messages' frames, the rows name those instead of the bodies.
    A number the session's store holds already is refused (``sqlite3.IntegrityError``)."""
    if not messages:
        return
    _refuse_stored(db, session_id, messages[0].seq, messages[-1].seq)
    first_log_id = _logged_from(messages, log, last_log_id)
    start = 0
    for end in _run_ends(messages):
        run = messages[start:end]
        head = run[0]
        row = (
            session_id, head.seq, run[-1].seq, head.sending_time,
            ",".join([m.msg_type for m in run]),
            struct.pack(f"<{len(run)}I", *[len(m.body) for m in run]),
        )  # fmt: skip
        if first_log_id is None:
            db.execute(
                "INSERT INTO sent_batches (session_id, first_seq, last_seq, sending_time,"
                " msg_types, body_lengths, bodies) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*row, b"".join([m.body for m in run])),
            )
        else:
            db.execute(
                "INSERT INTO sent_batches (session_id, first_seq, last_seq, sending_time,"
                " msg_types, body_lengths, first_log_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*row, first_log_id + start),
            )
        start = end


def _refuse_stored(db: sqlite3.Connection, session_id: str, first: int, last: int) -> None:
    """Raise ``sqlite3.IntegrityError`` when a stored row holds a number in ``first..last``
    (a row's key is its first number only: overlaps are looked for)."""
    found = db.execute(
        "SELECT first_seq, last_seq FROM sent_batches WHERE session_id=? AND first_seq <= ?"
        " ORDER BY first_seq DESC LIMIT 1",
        (session_id, last),
    ).fetchone()
    if found is not None and found[1] >= first:
        raise sqlite3.IntegrityError(
            f"session {session_id}: messages {first}..{last} overlap the stored"
            f" {found[0]}..{found[1]}"
        )


def _logged_from(
    messages: Sequence[OutboundMessage], log: Sequence[LogEntry], last_log_id: int | None
) -> int | None:
    """The log id of the first message's frame, when ``log`` ends with the frames of
    ``messages``, in order (else None)."""
    count = len(messages)
    if last_log_id is None or len(log) < count:
        return None
    for message, entry in zip(messages, log[len(log) - count :], strict=True):
        raw, body = entry.raw, message.body
        if (
            entry.seq != message.seq
            or entry.direction != "out"
            or raw[-TRAILER - len(body) : -TRAILER] != body
            or raw[-TRAILER : -TRAILER + 3] != b"10="
        ):
            return None
    return last_log_id - count + 1


def _run_ends(messages: Sequence[OutboundMessage]) -> Iterator[int]:
    """Where each run of consecutive numbers stamped at one instant ends (exclusive): a
    delivered batch is one run."""
    before = messages[0]
    for i in range(1, len(messages)):
        message = messages[i]
        if message.seq != before.seq + 1 or message.sending_time != before.sending_time:
            yield i
        before = message
    yield len(messages)


def read(
    db: sqlite3.Connection, session_id: str, begin: int, end: int
) -> Iterator[OutboundMessage]:
    """The stored messages numbered ``begin..end``, ascending, fetched a few rows at a time."""
    row = db.execute(
        f"SELECT {_COLUMNS} FROM sent_batches WHERE session_id=? AND first_seq <= ?"
        " ORDER BY first_seq DESC LIMIT 1",
        (session_id, begin),
    ).fetchone()
    if row is not None and row[1] >= begin:
        yield from _messages(db, _Row(*row), begin, end)
    low = begin
    while low < end:
        rows = db.execute(
            f"SELECT {_COLUMNS} FROM sent_batches WHERE session_id=? AND first_seq > ?"
            " AND first_seq <= ? ORDER BY first_seq LIMIT ?",
            (session_id, low, end, READ_ROWS),
        ).fetchall()
        if not rows:
            return
        for found in rows:
            yield from _messages(db, _Row(*found), begin, end)
        low = int(rows[-1][0])


def _messages(
    db: sqlite3.Connection, row: _Row, begin: int, end: int
) -> Iterator[OutboundMessage]:
    """The messages of ``row`` numbered ``begin..end``."""
    first = row.first_seq
    low, high = max(begin, first), min(end, row.last_seq)
    if low > high:
        return
    types, lengths = _shape(row)
    stamp = row.sending_time
    if row.first_log_id is None:
        assert row.bodies is not None
        bodies = bytes(row.bodies)
        at = sum(lengths[: low - first])
        for i in range(low - first, high - first + 1):
            length = lengths[i]
            yield OutboundMessage(first + i, types[i], stamp, bodies[at : at + length])
            at += length
        return
    base = row.first_log_id - first
    # Fetched whole: a statement left open while the caller pauses (a resend awaits the
    # socket between chunks) would hold the connection's read snapshot for its other reads.
    for log_id, raw in db.execute(
        "SELECT id, raw FROM message_log WHERE id BETWEEN ? AND ? ORDER BY id",
        (base + low, base + high),
    ).fetchall():
        i = log_id - row.first_log_id
        frame = bytes(raw)
        yield OutboundMessage(
            first + i, types[i], stamp, frame[len(frame) - TRAILER - lengths[i] : -TRAILER]
        )


def _shape(row: _Row) -> tuple[list[str], tuple[int, ...]]:
    """Each message's MsgType and body length; a row whose lists do not match its numbers
    (damaged, or not written by this module) is refused, naming it."""
    types = row.msg_types.split(",")
    count = row.last_seq - row.first_seq + 1
    if len(types) != count or len(row.body_lengths) != 4 * count:
        raise JournalError(
            f"sent_batches row {row.first_seq}..{row.last_seq} lists {len(types)} MsgType(s)"
            f" and {len(row.body_lengths) // 4} length(s) for {count} message(s)"
        )
    return types, struct.unpack(f"<{count}I", row.body_lengths)


def top_seq(db: sqlite3.Connection, session_id: str) -> int | None:
    """The highest number stored for the session (None when it has none)."""
    found = db.execute(
        "SELECT MAX(last_seq) FROM sent_batches WHERE session_id=?", (session_id,)
    ).fetchone()[0]
    return None if found is None else int(found)


def oldest(db: sqlite3.Connection, session_id: str) -> tuple[int, str] | None:
    """The session's oldest stored row: its first number and its SendingTime."""
    row = db.execute(
        "SELECT first_seq, sending_time FROM sent_batches WHERE session_id=?"
        " ORDER BY first_seq LIMIT 1",
        (session_id,),
    ).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def end_of_row_holding(db: sqlite3.Connection, session_id: str, seq: int) -> int | None:
    """The last number of the row holding ``seq`` after its first, if one does."""
    row = db.execute(
        "SELECT last_seq FROM sent_batches WHERE session_id=? AND first_seq < ? AND last_seq >= ?"
        " ORDER BY first_seq DESC LIMIT 1",
        (session_id, seq, seq),
    ).fetchone()
    return None if row is None else int(row[0])


def remove_before(db: sqlite3.Connection, session_id: str, below: int, sent_before: str) -> int:
    """Remove the session's rows wholly below ``below`` stamped before ``sent_before``; the
    number of messages they held."""
    where = "session_id=? AND last_seq < ? AND sending_time < ?"
    args = (session_id, below, sent_before)
    (count,) = db.execute(
        f"SELECT COALESCE(SUM(last_seq - first_seq + 1), 0) FROM sent_batches WHERE {where}", args
    ).fetchone()
    db.execute(f"DELETE FROM sent_batches WHERE {where}", args)
    return int(count)


def forget(db: sqlite3.Connection, session_id: str) -> None:
    """Remove everything the session's store holds (a sequence reset)."""
    db.execute("DELETE FROM sent_batches WHERE session_id=?", (session_id,))


def forget_from(db: sqlite3.Connection, session_id: str, seq: int) -> None:
    """Remove the session's messages numbered ``seq`` and above; a row holding ``seq`` after
    its first keeps the messages before it."""
    db.execute(
        "DELETE FROM sent_batches WHERE session_id=? AND first_seq >= ?", (session_id, seq)
    )
    found = db.execute(
        f"SELECT {_COLUMNS} FROM sent_batches WHERE session_id=? AND first_seq < ?"
        " AND last_seq >= ?",
        (session_id, seq, seq),
    ).fetchone()
    if found is None:
        return
    row = _Row(*found)
    kept = seq - row.first_seq
    types, lengths = _shape(row)
    bodies = None if row.bodies is None else bytes(row.bodies)[: sum(lengths[:kept])]
    db.execute(
        "UPDATE sent_batches SET last_seq=?, msg_types=?, body_lengths=?, bodies=?"
        " WHERE session_id=? AND first_seq=?",
        (
            seq - 1, ",".join(types[:kept]), struct.pack(f"<{kept}I", *lengths[:kept]),
            bodies, session_id, row.first_seq,
        ),
    )  # fmt: skip


# --- either layout, for tools reading a file as it is ------------------------------------------


def _layout(db: sqlite3.Connection) -> str | None:
    """``sent_batches``, or ``outbound`` for a schema-9 file no bridge of this version has
    opened yet (a row per message), or None when the file has neither."""
    tables = {
        str(row[0])
        for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table'"
            " AND name IN ('sent_batches', 'outbound')"
        )
    }
    return next((name for name in ("sent_batches", "outbound") if name in tables), None)


def stored_messages(
    db: sqlite3.Connection, session_id: str, begin: int, end: int
) -> Iterator[OutboundMessage]:
    """:func:`read` in either layout (``check-journal`` and ``reconcile`` read a file as it
    is, read-only)."""
    layout = _layout(db)
    if layout == "sent_batches":
        yield from read(db, session_id, begin, end)
        return
    if layout is None:
        return
    yield from outbound_pages(
        lambda low: db.execute(
            "SELECT seq, msg_type, sending_time, body FROM outbound"
            " WHERE session_id=? AND seq BETWEEN ? AND ? ORDER BY seq LIMIT ?",
            (session_id, low, end, MOST_PER_ROW),
        ).fetchall(),
        begin,
        end,
    )


def stored_top(db: sqlite3.Connection, session_id: str) -> int | None:
    """:func:`top_seq` in either layout."""
    layout = _layout(db)
    if layout != "outbound":
        return None if layout is None else top_seq(db, session_id)
    found = db.execute(
        "SELECT MAX(seq) FROM outbound WHERE session_id=?", (session_id,)
    ).fetchone()[0]
    return None if found is None else int(found)


def move_from_outbound(db: sqlite3.Connection) -> int:
    """Schema version 10: the per-message ``outbound`` table of earlier versions, when there
    is one, moved into rows of this store (bodies in the rows) and dropped; the number of
    messages moved."""
    if not db.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='outbound'"
    ).fetchone():
        return 0
    moved = 0
    pending: list[OutboundMessage] = []
    session = ""
    rows = db.execute(
        "SELECT session_id, seq, msg_type, sending_time, body FROM outbound"
        " ORDER BY session_id, seq"
    )
    while chunk := rows.fetchmany(1000):
        for session_id, seq, msg_type, sending_time, body in chunk:
            if session_id != session or len(pending) >= MOST_PER_ROW:
                store(db, session, pending, (), None)
                moved += len(pending)
                session, pending = str(session_id), []
            pending.append(OutboundMessage(int(seq), str(msg_type), str(sending_time), bytes(body)))
    store(db, session, pending, (), None)
    moved += len(pending)
    db.execute("DROP TABLE outbound")
    return moved


__all__ = [
    "SCHEMA",
    "end_of_row_holding",
    "forget",
    "forget_from",
    "move_from_outbound",
    "oldest",
    "read",
    "remove_before",
    "store",
    "stored_messages",
    "stored_top",
    "top_seq",
]
