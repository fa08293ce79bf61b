"""For tests: read and damage an SQLite journal's store of sent messages (``sent_batches``),
one message at a time, and turn a journal back into schema 9's layout."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from fixbridge.journal import sent_batches
from fixbridge.journal.rules import INT64_MAX


def stored_seqs(db: sqlite3.Connection, session_id: str) -> list[int]:
    """The numbers the session's store holds, ascending."""
    return [m.seq for m in sent_batches.read(db, session_id, 1, INT64_MAX)]


def drop_stored(db: sqlite3.Connection, session_id: str, dropped: Callable[[int], bool]) -> int:
    """Lose the session's stored messages whose number ``dropped`` picks, as the journal
    loses them: a message read from its message-log frame loses that log row (as retention
    removes it), one kept in its row is cut out of it (the rest of the row stored again);
    how many were lost. Inside the caller's transaction."""
    rows = db.execute(
        "SELECT first_seq, last_seq, first_log_id FROM sent_batches WHERE session_id=?",
        (session_id,),
    ).fetchall()
    lost = 0
    for first, last, first_log_id in rows:
        picked = [seq for seq in range(first, last + 1) if dropped(seq)]
        if not picked:
            continue
        if first_log_id is not None:
            db.executemany(
                "DELETE FROM message_log WHERE id=?",
                [(first_log_id + seq - first,) for seq in picked],
            )
        else:
            kept = [m for m in sent_batches.read(db, session_id, first, last) if not dropped(m.seq)]
            db.execute(
                "DELETE FROM sent_batches WHERE session_id=? AND first_seq=?", (session_id, first)
            )
            sent_batches.store(db, session_id, kept, (), None)
        lost += len(picked)
    return lost


def as_schema_9(db: sqlite3.Connection) -> None:
    """Turn a journal back into what fixbridge wrote with schema version 9: its stored sent
    messages one row each in ``outbound`` (``sent_batches`` did not exist)."""
    sessions = [str(r[0]) for r in db.execute("SELECT DISTINCT session_id FROM sent_batches")]
    stored = [(s, m) for s in sessions for m in sent_batches.read(db, s, 1, INT64_MAX)]
    db.executescript(
        "DROP TABLE sent_batches;"
        "CREATE TABLE outbound (session_id TEXT NOT NULL, seq INTEGER NOT NULL,"
        " msg_type TEXT NOT NULL, sending_time TEXT NOT NULL, body BLOB NOT NULL,"
        " PRIMARY KEY (session_id, seq)) WITHOUT ROWID;"
        "UPDATE meta SET value='9' WHERE key='schema_version';"
    )
    db.executemany(
        "INSERT INTO outbound VALUES (?, ?, ?, ?, ?)",
        [(s, m.seq, m.msg_type, m.sending_time, m.body) for s, m in stored],
    )
    db.commit()
