"""For tests: read and damage an SQLite journal's store of sent messages (``sent_batches``),
one message at a time, as a lost page or a hand edit would."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from fixbridge.journal import sent_batches
from fixbridge.journal.rules import INT64_MAX


def stored_seqs(db: sqlite3.Connection, session_id: str) -> list[int]:
    """The numbers the session's store holds, ascending."""
    return [m.seq for m in sent_batches.read(db, session_id, 1, INT64_MAX)]


def drop_stored(db: sqlite3.Connection, session_id: str, dropped: Callable[[int], bool]) -> int:
    """Remove the session's stored messages whose number ``dropped`` picks (the others are
    stored again, bodies in their rows); how many were removed. Inside the caller's
    transaction."""
    messages = list(sent_batches.read(db, session_id, 1, INT64_MAX))
    kept = [m for m in messages if not dropped(m.seq)]
    sent_batches.forget(db, session_id)
    sent_batches.store(db, session_id, kept, (), None)
    return len(messages) - len(kept)


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
