"""The embedded journal: one SQLite database in WAL mode.

Durability rules: every write is one explicit transaction; events and the resume token that
covers them commit together; a session's outbound messages, its next sender sequence number
and its cursor commit together, before any of those bytes are written to a socket. An
exclusive lock file stops a second bridge from writing the same journal. This module never
decides what to store: callers do; it only makes each decision atomic and durable.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Literal

from fixbridge.fix.session import StoredMessage
from fixbridge.journal.store import (
    AppendResult,
    JournalError,
    JournalEvent,
    NewEvent,
    OutboundMessage,
    SessionRecord,
)

SCHEMA_VERSION = 3
RESEND_BATCH = 500
_SQL_VARIABLES = 500  # well under SQLite's bound on ? placeholders per statement

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    offset INTEGER PRIMARY KEY AUTOINCREMENT,
    stream TEXT NOT NULL,
    upstream_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    transact_time INTEGER NOT NULL,
    payload BLOB NOT NULL,
    raw BLOB NOT NULL,
    flagged TEXT,
    UNIQUE (stream, upstream_id)
);
CREATE TABLE IF NOT EXISTS order_links (
    order_id TEXT PRIMARY KEY,
    cl_ord_id TEXT NOT NULL,
    transact_time INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stream_state (
    stream TEXT PRIMARY KEY,
    resume_token BLOB NOT NULL,
    updated_at INTEGER NOT NULL,
    covered_until INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    next_sender_seq INTEGER NOT NULL,
    next_target_seq INTEGER NOT NULL,
    cursor_offset INTEGER NOT NULL,
    updated_at INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS outbound (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    msg_type TEXT NOT NULL,
    sending_time TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;
"""

Synchronous = Literal["full", "normal"]


class SqliteJournal:
    """Single-writer journal. Use from one thread (the bridge's event loop)."""

    def __init__(self, path: Path, *, synchronous: Synchronous = "full") -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = LockFile(path.with_name(path.name + ".lock"))
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            self._db.executescript(_SCHEMA)
            self._check_schema()
        except sqlite3.Error as exc:
            self._lock_file.close()
            raise JournalError(f"cannot open journal {path}: {exc}") from exc

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One explicit write transaction: all of it commits, or none of it."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error:
            # A failed COMMIT (disk full, I/O error) leaves the transaction open: end it, so
            # the next write starts clean instead of failing on BEGIN.
            if self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            raise

    def _check_schema(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            return
        version = int(row[0])
        if version == 1:
            # Version 2 records when a session's numbers were last written (schedules).
            with self._transaction() as db:
                db.execute("ALTER TABLE sessions ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0")
                db.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
            version = 2
        if version == 2:
            # Version 3 remembers each order's latest ClOrdID (OrigClOrdID on cancel/replace);
            # rebuilt from the executions already journaled.
            with self._transaction() as db:
                self._rebuild_order_links(db)
                # ... and how far each stream's stored token is known to cover (fallbacks).
                columns = {row[1] for row in db.execute("PRAGMA table_info(stream_state)")}
                if "covered_until" not in columns:
                    db.execute(
                        "ALTER TABLE stream_state"
                        " ADD COLUMN covered_until INTEGER NOT NULL DEFAULT 0"
                    )
                db.execute("UPDATE meta SET value='3' WHERE key='schema_version'")
            version = 3
        if version != SCHEMA_VERSION:
            raise JournalError(
                f"journal {self.path} has schema version {row[0]},"
                f" this fixbridge reads version {SCHEMA_VERSION}"
            )

    @staticmethod
    def _rebuild_order_links(db: sqlite3.Connection) -> None:
        rows = db.execute(
            "SELECT payload, transact_time FROM events"
            " WHERE stream='executions' AND flagged IS NULL ORDER BY offset"
        )
        latest: dict[str, tuple[str, int]] = {}
        for payload, transact_time in rows:
            try:
                document = json.loads(bytes(payload))
            except ValueError:
                continue
            order_id, cl_ord_id = document.get("order_id"), document.get("cl_ord_id")
            if not (isinstance(order_id, str) and isinstance(cl_ord_id, str)):
                continue
            if order_id and cl_ord_id and transact_time >= latest.get(order_id, ("", 0))[1]:
                latest[order_id] = (cl_ord_id, int(transact_time))
        db.executemany(
            "INSERT OR REPLACE INTO order_links (order_id, cl_ord_id, transact_time)"
            " VALUES (?, ?, ?)",
            [(order_id, cl, t) for order_id, (cl, t) in latest.items()],
        )

    # --- upstream events ---------------------------------------------------------------------

    def append(
        self, stream: str, events: Sequence[NewEvent], resume_token: bytes, received_at_ns: int
    ) -> AppendResult:
        stored = 0
        covered = _covered_until(events, received_at_ns)
        with self._transaction() as db:
            for event in events:
                cur = db.execute(
                    "INSERT OR IGNORE INTO events"
                    " (stream, upstream_id, received_at, transact_time, payload, raw, flagged)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        stream,
                        event.upstream_id,
                        received_at_ns,
                        _sql_integer(event.transact_time_ns),
                        event.payload,
                        event.raw,
                        event.flagged,
                    ),
                )
                stored += cur.rowcount
                if cur.rowcount and event.order_link is not None:
                    db.execute(
                        "INSERT INTO order_links (order_id, cl_ord_id, transact_time)"
                        " VALUES (?, ?, ?) ON CONFLICT (order_id) DO UPDATE SET"
                        " cl_ord_id=excluded.cl_ord_id, transact_time=excluded.transact_time"
                        " WHERE excluded.transact_time >= order_links.transact_time",
                        (*event.order_link, _sql_integer(event.transact_time_ns)),
                    )
            if resume_token:  # an empty token never replaces a stored one
                db.execute(
                    "INSERT INTO stream_state (stream, resume_token, updated_at, covered_until)"
                    " VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (stream) DO UPDATE SET resume_token=excluded.resume_token,"
                    " updated_at=excluded.updated_at,"
                    " covered_until=MAX(covered_until, excluded.covered_until)",
                    (stream, resume_token, received_at_ns, covered),
                )
        return AppendResult(stored, len(events) - stored, self.head_offset())

    def resume_token(self, stream: str) -> bytes | None:
        row = self._db.execute(
            "SELECT resume_token FROM stream_state WHERE stream=?", (stream,)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def resume_anchor_ns(self, stream: str) -> int | None:
        # The newest normalized event, its exchange time capped by when we received it (a bogus
        # future time must not move the anchor past data we do not have) ...
        row = self._db.execute(
            "SELECT MIN(transact_time, received_at) FROM events WHERE stream=?"
            " AND flagged IS NULL AND transact_time > 0 ORDER BY offset DESC LIMIT 1",
            (stream,),
        ).fetchone()
        newest = None if row is None else int(row[0])
        # ... or how far the stored token is known to cover, if that is later.
        state = self._db.execute(
            "SELECT covered_until FROM stream_state WHERE stream=?", (stream,)
        ).fetchone()
        covered = None if state is None or not state[0] else int(state[0])
        candidates = [t for t in (newest, covered) if t is not None]
        return max(candidates) if candidates else None

    def latest_cl_ord_ids(self, order_ids: Collection[str]) -> dict[str, str]:
        wanted = list(order_ids)
        found: dict[str, str] = {}
        for first in range(0, len(wanted), _SQL_VARIABLES):
            chunk = wanted[first : first + _SQL_VARIABLES]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT order_id, cl_ord_id FROM order_links WHERE order_id IN ({marks})", chunk
            )
            found.update((str(order_id), str(cl_ord_id)) for order_id, cl_ord_id in rows)
        return found

    def journaled_ids(self, stream: str, upstream_ids: Collection[str]) -> set[str]:
        wanted = list(upstream_ids)
        found: set[str] = set()
        for first in range(0, len(wanted), _SQL_VARIABLES):
            chunk = wanted[first : first + _SQL_VARIABLES]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT upstream_id FROM events WHERE stream=? AND upstream_id IN ({marks})",
                [stream, *chunk],
            )
            found.update(str(upstream_id) for (upstream_id,) in rows)
        return found

    def head_offset(self) -> int:
        row = self._db.execute("SELECT MAX(offset) FROM events").fetchone()
        return int(row[0] or 0)

    def read_events(self, after_offset: int, limit: int) -> list[JournalEvent]:
        rows = self._db.execute(
            "SELECT offset, stream, upstream_id, received_at, transact_time, payload, flagged"
            " FROM events WHERE offset > ? ORDER BY offset LIMIT ?",
            (after_offset, limit),
        ).fetchall()
        return [
            JournalEvent(int(o), str(s), str(u), int(r), int(t), bytes(p), f)
            for o, s, u, r, t, p, f in rows
        ]

    def count_events(self, stream: str) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM events WHERE stream=?", (stream,)).fetchone()
        return int(row[0])

    def upstream_ids(self, stream: str) -> list[str]:
        """Every upstream id of a stream in journal order (for audits and tests)."""
        rows = self._db.execute(
            "SELECT upstream_id FROM events WHERE stream=? ORDER BY offset", (stream,)
        ).fetchall()
        return [str(r[0]) for r in rows]

    # --- FIX sessions ------------------------------------------------------------------------

    def load_session(self, session_id: str) -> SessionRecord:
        row = self._db.execute(
            "SELECT next_sender_seq, next_target_seq, cursor_offset, updated_at FROM sessions"
            " WHERE session_id=?",
            (session_id,),
        ).fetchone()
        if row is None:
            # A new session starts at the journal head: it receives what arrives from now on
            # and everything that arrives while it is logged out.
            record = SessionRecord(1, 1, self.head_offset(), 0)
            self._db.execute(
                "INSERT INTO sessions (session_id, next_sender_seq, next_target_seq, cursor_offset)"
                " VALUES (?, ?, ?, ?)",
                (session_id, 1, 1, record.cursor_offset),
            )
            return record
        return SessionRecord(int(row[0]), int(row[1]), int(row[2]), int(row[3]))

    def save_sequence_numbers(
        self,
        session_id: str,
        next_sender_seq: int,
        next_target_seq: int,
        *,
        at_ns: int,
        reset: bool = False,
    ) -> None:
        with self._transaction() as db:
            if reset:
                db.execute("DELETE FROM outbound WHERE session_id=?", (session_id,))
            db.execute(
                "UPDATE sessions SET next_sender_seq=?, next_target_seq=?, updated_at=?"
                " WHERE session_id=?",
                (next_sender_seq, next_target_seq, at_ns, session_id),
            )

    def record_sent(
        self,
        session_id: str,
        messages: Sequence[OutboundMessage],
        next_sender_seq: int,
        cursor_offset: int,
        *,
        at_ns: int,
    ) -> None:
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO outbound (session_id, seq, msg_type, sending_time, body)"
                " VALUES (?, ?, ?, ?, ?)",
                [(session_id, m.seq, m.msg_type, m.sending_time, m.body) for m in messages],
            )
            db.execute(
                "UPDATE sessions SET next_sender_seq=?, cursor_offset=?, updated_at=?"
                " WHERE session_id=?",
                (next_sender_seq, cursor_offset, at_ns, session_id),
            )

    def outbound_range(self, session_id: str, begin: int, end: int) -> Iterator[StoredMessage]:
        low = begin
        while low <= end:
            rows = self._db.execute(
                "SELECT seq, msg_type, sending_time, body FROM outbound"
                " WHERE session_id=? AND seq BETWEEN ? AND ? ORDER BY seq LIMIT ?",
                (session_id, low, end, RESEND_BATCH),
            ).fetchall()
            if not rows:
                return
            for seq, msg_type, sending_time, body in rows:
                yield StoredMessage(int(seq), str(msg_type), str(sending_time), bytes(body))
            low = int(rows[-1][0]) + 1

    # --- operations --------------------------------------------------------------------------

    def check_writable(self, at_ns: int) -> None:
        """A real, small write transaction (one meta row), for readiness: a read-only or full
        disk, a lost file or a lock held elsewhere shows up here before the next event does.
        Raises JournalError saying why."""
        try:
            with self._transaction() as db:
                db.execute(
                    "INSERT INTO meta (key, value) VALUES ('writable_at', ?)"
                    " ON CONFLICT (key) DO UPDATE SET value=excluded.value",
                    (str(at_ns),),
                )
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self.path} is not writable: {exc}") from exc

    def size_bytes(self) -> int:
        """The database file plus its write-ahead log, as on disk now."""
        total = 0
        for path in (self.path, self.path.with_name(self.path.name + "-wal")):
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    def close(self) -> None:
        self._db.close()
        self._lock_file.close()


_INT64_MAX = 2**63 - 1


def _sql_integer(value: int) -> int:
    """``value`` within SQLite's INTEGER range: an absurd upstream time (after 2262) is kept
    exactly in the payload and stored clamped here, instead of failing the whole response."""
    return max(-_INT64_MAX, min(value, _INT64_MAX))


def _covered_until(events: Sequence[NewEvent], received_at_ns: int) -> int:
    """How far a response's token is known to cover, in exchange time: the newest normalized
    event's time (capped by receipt), or, for a token-only response (the exchange is caught
    up), the time it was received."""
    times = [
        min(e.transact_time_ns, received_at_ns)
        for e in events
        if e.flagged is None and e.transact_time_ns > 0
    ]
    if times:
        return max(times)
    return 0 if events else received_at_ns


def _acquire_lock(path: Path) -> LockFile:
    lock = LockFile(path.with_name(path.name + ".lock"))
    return lock


class LockFile:
    """An exclusive advisory lock held for the journal's lifetime (released on crash too)."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(self._fd)
            raise JournalError(
                f"journal {path.with_suffix('')} is in use by another fixbridge process"
            ) from exc

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
