"""The embedded journal: one SQLite database in WAL mode.

Durability rules: every write is one explicit transaction; events and the resume token that
covers them commit together; a session's outbound messages, its next sender sequence number
and its cursor commit together, before any of those bytes are written to a socket; the FIX
message log's rows commit with the session write that carries them (``journal/message_log.py``).
An exclusive lock file stops a second bridge from writing the same journal. This module never
decides what to store: callers do; it only makes each decision atomic and durable.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Literal, TypeVar

from fixbridge.journal import message_log, sent_batches
from fixbridge.journal.bulk_insert import insert_rows
from fixbridge.journal.commit import GroupCommit, Rider, RoundStats
from fixbridge.journal.integrity import JournalCorrupt, structural_problems
from fixbridge.journal.message_log import LogEntry
from fixbridge.journal.private import (
    FILE_MODE,
    create_private_file,
    database_files,
    private_directory,
    tighten,
)
from fixbridge.journal.records import OutboundMessage
from fixbridge.journal.retention import Pruned, removable
from fixbridge.journal.rows import MemoryRows, journal_events, journal_events_with_bodies
from fixbridge.journal.rules import (
    INT64_MAX,
    SYMBOL_INDEXED,
    clamp_int64,
    covered_until,
    memory_of,
    symbol_key,
)
from fixbridge.journal.store import (
    POSSIBLY_SENT_MARGIN_NS,
    AppendResult,
    CursorMoved,
    JournalError,
    JournalEvent,
    KnownOrder,
    LatestInstrument,
    NewEvent,
    RoundDelivery,
    SentRange,
    SessionRecord,
    sent_digest,
)
from fixbridge.journal.writes import JournalWrites
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.fills import BustedFill, Fill, OrderTotals
from fixbridge.normalize.settlement import Settlement

log = logging.getLogger("fixbridge.journal")
SCHEMA_VERSION = 10
# Streams whose events are indexed by symbol (and account): what a settlement marks.
_SQL_VARIABLES = 500
# An event's columns, in JournalEvent's order, from the events table aliased ``e``.
_EVENT_COLUMNS = (
    "e.offset, e.stream, e.upstream_id, e.received_at, e.transact_time, e.payload, e.flagged"
)  # well under SQLite's bound on ? placeholders per statement

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
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY,
    cl_ord_id TEXT NOT NULL,
    transact_time INTEGER NOT NULL,
    ord_status TEXT NOT NULL,
    order_qty TEXT NOT NULL,
    cum_qty TEXT NOT NULL,
    leaves_qty TEXT NOT NULL,
    filled_notional TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS order_busts (
    fill_exec_id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    quantity TEXT NOT NULL,
    notional TEXT NOT NULL,
    busted_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS order_busts_by_order ON order_busts (order_id, busted_at);
CREATE TABLE IF NOT EXISTS order_fills (
    exec_id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    quantity TEXT NOT NULL,
    notional TEXT NOT NULL,
    transact_time INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS order_fills_by_order ON order_fills (order_id, transact_time);
CREATE TABLE IF NOT EXISTS instrument_latest (
    symbol TEXT PRIMARY KEY,
    content TEXT NOT NULL,
    upstream_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS symbol_events (
    symbol TEXT NOT NULL,
    stream TEXT NOT NULL,
    account TEXT NOT NULL,
    offset INTEGER NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (symbol, stream, account, offset)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS symbol_events_by_offset ON symbol_events (offset);
CREATE TABLE IF NOT EXISTS execution_bodies (
    offset INTEGER NOT NULL,
    rendering TEXT NOT NULL,
    firm TEXT NOT NULL,
    account TEXT NOT NULL,
    symbol TEXT NOT NULL,
    exec_type TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (offset, rendering)
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
    updated_at INTEGER NOT NULL DEFAULT 0,
    origin_offset INTEGER NOT NULL DEFAULT 0,
    resent_before INTEGER NOT NULL DEFAULT 0,
    reset_epoch INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sent_ranges (
    session_id TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    after_offset INTEGER NOT NULL,
    cursor_offset INTEGER NOT NULL,
    sending_time TEXT NOT NULL,
    digest BLOB NOT NULL,
    PRIMARY KEY (session_id, first_seq)
) WITHOUT ROWID;
"""

Synchronous = Literal["full", "normal"]


class SqliteJournal(JournalWrites[sqlite3.Connection]):
    """Single-writer journal, used from the bridge's event loop.

    Two connections: reads on one, writes on the other through :class:`GroupCommit`, whose
    COMMIT runs off the loop; :meth:`offset_before`, a scan, opens a short-lived third of its
    own so that it can run on a worker thread. The ``*_async`` writes are the event loop's;
    the synchronous ones are for start-up, tools and tests, and block until committed.
    """

    _commits: GroupCommit

    def __init__(
        self, path: Path, *, synchronous: Synchronous = "full", verify: bool = False
    ) -> None:
        """Open (or create) the journal at ``path``. With ``verify``, SQLite's quick integrity
        check runs first and a damaged file is refused (:class:`JournalCorrupt`)."""
        self.path = path
        private_directory(path.parent)
        self._lock_file = LockFile(path.with_name(path.name + ".lock"))
        try:
            if not create_private_file(path):
                for existing in database_files(path):
                    tighten(existing)
            self._wdb = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            if verify:
                problems = structural_problems(self._wdb, full=False)
                if problems:
                    raise JournalCorrupt(
                        f"journal {path} failed SQLite's integrity check: {'; '.join(problems)}"
                        " (restore it from a backup; `fixbridge check-journal` shows more)"
                    )
            self._wdb.execute("PRAGMA journal_mode=WAL")
            self._wdb.execute(f"PRAGMA synchronous={synchronous.upper()}")
            self._commits = GroupCommit(self._wdb, self._riders)
            self._round_delivery: RoundDelivery | None = None
            self._ride_round = 0  # the last round (GroupCommit.rounds_begun) an append stored in
            self._jobs = _JOBS
            self._wdb.executescript(_SCHEMA + message_log.SCHEMA + sent_batches.SCHEMA)
            self._check_schema()
            self._after_restore()
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA query_only=ON")  # every write goes through the committer
        except JournalError:
            self._lock_file.close()
            raise
        except sqlite3.Error as exc:
            self._lock_file.close()
            raise JournalError(f"cannot open journal {path}: {exc}") from exc

    @property
    def commit_stats(self) -> RoundStats:
        return self._commits.stats

    def _transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One explicit write transaction: all of it commits, or none of it."""
        return self._commits.transaction()

    def _check_schema(self) -> None:
        row = self._wdb.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self._wdb.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            return
        version = int(row[0])
        if version == 1:
            # Version 2 records when a session's numbers were last written (schedules).
            with self._transaction() as db:
                _add_column(db, "sessions", "updated_at")
                db.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
            version = 2
        if version == 2:
            # Version 3: how far each stream's stored token is known to cover (fallbacks).
            with self._transaction() as db:
                _add_column(db, "stream_state", "covered_until")
                db.execute("UPDATE meta SET value='3' WHERE key='schema_version'")
            version = 3
        if version == 3:
            # Version 4 remembers each order's totals (not only its ClOrdID) and fills, the
            # busts taken out of orders, each symbol's latest instrument state, and where each
            # session began; all rebuilt from the events already journaled.
            with self._transaction() as db:
                db.execute("DROP TABLE IF EXISTS order_links")
                _add_column(db, "sessions", "origin_offset")
                _rebuild_memory(db)
                db.execute("UPDATE meta SET value='4' WHERE key='schema_version'")
            version = 4
        if version == 4:
            # Version 5 records where each stored batch came from (sent_ranges, made by the
            # schema script): batches stored before have no record and cannot be re-rendered.
            with self._transaction() as db:
                db.execute("UPDATE meta SET value='5' WHERE key='schema_version'")
            version = 5
        if version == 5:
            # Version 6 indexes positions, settlements and instrument states by symbol (and
            # account), so a settlement finds the positions it marks (symbol_events, made by
            # the schema script); rebuilt from the events already journaled.
            with self._transaction() as db:
                _rebuild_symbol_index(db)
                db.execute("UPDATE meta SET value='6' WHERE key='schema_version'")
            version = 6
        if version == 6:
            # Version 7 remembers, per session, before which exchange time an event may have
            # been sent already under numbers this journal lost (PossResend).
            with self._transaction() as db:
                _add_column(db, "sessions", "resent_before")
                db.execute("UPDATE meta SET value='7' WHERE key='schema_version'")
            version = 7
        if version == 7:
            # Version 8 keeps the FIX message log (message_log, made by the schema script) and
            # counts each session's sequence resets (the epoch its logged messages belong to).
            with self._transaction() as db:
                _add_column(db, "sessions", "reset_epoch")
                db.execute("UPDATE meta SET value='8' WHERE key='schema_version'")
            version = 8
        if version == 8:
            # Version 9 keeps executions' bodies rendered at ingest (execution_bodies, made by
            # the schema script); events journaled before have none and are rendered as sent.
            with self._transaction() as db:
                db.execute("UPDATE meta SET value='9' WHERE key='schema_version'")
            version = 9
        if version == 9:
            # Version 10 keeps sent messages one row per batch (sent_batches, made by the
            # schema script), a delivered batch's bodies read from its message-log rows; the
            # per-message outbound table's messages move into it, bodies in the rows.
            with self._transaction() as db:
                moved = sent_batches.move_from_outbound(db)
                db.execute("UPDATE meta SET value='10' WHERE key='schema_version'")
            if moved:
                log.info("journal %s: %d stored sent message(s) moved to sent_batches",
                         self.path, moved)  # fmt: skip
            version = 10
        if version != SCHEMA_VERSION:
            raise JournalError(
                f"journal {self.path} has schema version {row[0]},"
                f" this fixbridge reads version {SCHEMA_VERSION}"
            )

    def _after_restore(self) -> None:
        """A journal put back from a backup (``fixbridge restore`` marks it): the lost journal
        may have sent each session events after the backup's cursor, under numbers this one
        does not hold, and a client that resets its numbers at Logon shows no sign of it. So
        events the exchange made before the restore go out with PossResend(97)=Y, to every
        session; the mark is then consumed."""
        row = self._wdb.execute("SELECT value FROM meta WHERE key='restored_at'").fetchone()
        if row is None:
            return
        before = int(row[0]) + POSSIBLY_SENT_MARGIN_NS

        def work(db: sqlite3.Connection) -> None:
            db.execute("UPDATE sessions SET resent_before = MAX(resent_before, ?)", (before,))
            db.execute("DELETE FROM meta WHERE key='restored_at'")

        self._commits.run_sync(work)
        log.warning(
            "journal %s was restored from a backup: events the exchange made before then go"
            " out with PossResend(97)=Y to every session",
            self.path,
        )

    # --- upstream events ---------------------------------------------------------------------

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

    def latest_orders(self, order_ids: Collection[str]) -> dict[str, KnownOrder]:
        found: dict[str, KnownOrder] = {}
        for chunk, marks in _chunks(order_ids):
            rows = self._db.execute(
                "SELECT order_id, cl_ord_id, transact_time, ord_status, order_qty, cum_qty,"
                f" leaves_qty, filled_notional FROM orders WHERE order_id IN ({marks})",
                chunk,
            )
            for order_id, cl_ord_id, at, status, qty, cum, leaves, notional in rows:
                totals = OrderTotals(
                    int(at), str(status), Decimal(qty), Decimal(cum), Decimal(leaves),
                    Decimal(notional),
                )
                found[str(order_id)] = KnownOrder(str(cl_ord_id), totals)
        return found

    def latest_cl_ord_ids(self, order_ids: Collection[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk, marks in _chunks(order_ids):
            found.update(
                self._db.execute(
                    f"SELECT order_id, cl_ord_id FROM orders WHERE order_id IN ({marks})"
                    " AND cl_ord_id != ''",
                    chunk,
                )
            )
        return found

    def order_busts(self, order_ids: Collection[str]) -> dict[str, list[tuple[str, BustedFill]]]:
        found: dict[str, list[tuple[str, BustedFill]]] = {}
        for chunk, marks in _chunks(order_ids):
            rows = self._db.execute(
                "SELECT order_id, fill_exec_id, quantity, notional, busted_at FROM order_busts"
                f" WHERE order_id IN ({marks}) ORDER BY busted_at",
                chunk,
            )
            for order_id, fill_exec_id, quantity, notional, busted_at in rows:
                bust = BustedFill(Decimal(quantity), Decimal(notional), int(busted_at))
                found.setdefault(str(order_id), []).append((str(fill_exec_id), bust))
        return found

    def order_fills(self, order_ids: Collection[str]) -> dict[str, list[Fill]]:
        found: dict[str, list[Fill]] = {}
        for chunk, marks in _chunks(order_ids):
            rows = self._db.execute(
                "SELECT order_id, exec_id, quantity, notional, transact_time FROM order_fills"
                f" WHERE order_id IN ({marks}) ORDER BY transact_time",
                chunk,
            )
            for order_id, exec_id, quantity, notional, at in rows:
                fill = Fill(str(exec_id), Decimal(quantity), Decimal(notional), int(at))
                found.setdefault(str(order_id), []).append(fill)
        return found

    def latest_instruments(self, symbols: Collection[str]) -> dict[str, LatestInstrument]:
        found: dict[str, LatestInstrument] = {}
        for chunk, marks in _chunks(symbols):
            rows = self._db.execute(
                "SELECT symbol, content, upstream_id FROM instrument_latest"
                f" WHERE symbol IN ({marks})",
                chunk,
            )
            found.update(
                (str(symbol), LatestInstrument(str(content), str(upstream_id)))
                for symbol, content, upstream_id in rows
            )
        return found

    def trade_reported_before(self, trade_id: str, from_offset: int, before_offset: int) -> bool:
        # Versions are "<trade id>:<STATE>": a range over the (stream, upstream_id) index.
        # Flagged versions ("...:unnormalized...") were never sent and do not count.
        row = self._db.execute(
            "SELECT 1 FROM events WHERE stream='trades' AND upstream_id >= ? AND upstream_id < ?"
            " AND offset > ? AND offset < ? AND flagged IS NULL LIMIT 1",
            (f"{trade_id}:", f"{trade_id};", from_offset, before_offset),
        ).fetchone()
        return row is not None

    def latest_by_account(
        self, stream: str, symbol: str, before_offset: int, until_ns: int | None = None
    ) -> list[JournalEvent]:
        """The last event of ``stream`` before ``before_offset`` for each account in
        ``symbol`` (positions: each account's position then), by account; with ``until_ns``,
        the last whose time is not after it."""
        until = INT64_MAX if until_ns is None else clamp_int64(until_ns)
        rows = self._db.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events e JOIN"
            " (SELECT account, MAX(offset) AS last FROM symbol_events"
            "  WHERE symbol=? AND stream=? AND offset < ? AND at <= ?"
            "  GROUP BY account) l"
            " ON e.offset = l.last ORDER BY l.account",
            (symbol, stream, before_offset, until),
        ).fetchall()
        return journal_events(rows)

    def read_symbol_events(self, after_offset: int, limit: int) -> list[JournalEvent]:
        """The normalized instrument, position and settlement events after ``after_offset``,
        in journal order (what the symbol index holds), at most ``limit``."""
        return self._indexed("x.offset > ? ORDER BY x.offset LIMIT ?", (after_offset, limit))

    def latest_of_symbol(
        self, stream: str, symbol: str, before_offset: int, count: int
    ) -> list[JournalEvent]:
        """The last ``count`` events of ``stream`` for ``symbol`` before ``before_offset``,
        newest first."""
        return self._indexed(
            "x.symbol=? AND x.stream=? AND x.offset < ? ORDER BY x.offset DESC LIMIT ?",
            (symbol, stream, before_offset, count),
        )

    def _indexed(self, where: str, parameters: tuple[object, ...]) -> list[JournalEvent]:
        """The events of the symbol index (``x``) that ``where`` selects, in its order."""
        rows = self._db.execute(
            f"SELECT {_EVENT_COLUMNS} FROM symbol_events x"
            f" JOIN events e ON e.offset = x.offset WHERE {where}",
            parameters,
        ).fetchall()
        return journal_events(rows)

    def offset_of(self, stream: str, upstream_id: str) -> int | None:
        row = self._db.execute(
            "SELECT offset FROM events WHERE stream=? AND upstream_id=?", (stream, upstream_id)
        ).fetchone()
        return None if row is None else int(row[0])

    def oldest_transact_time(self) -> int | None:
        """The exchange time of the oldest event the journal holds (in journal order)."""
        row = self._db.execute(
            "SELECT transact_time FROM events ORDER BY offset LIMIT 1"
        ).fetchone()
        return None if row is None else int(row[0])

    def journaled_ids(self, stream: str, upstream_ids: Collection[str]) -> set[str]:
        found: set[str] = set()
        for chunk, marks in _chunks(upstream_ids):
            rows = self._db.execute(
                f"SELECT upstream_id FROM events WHERE stream=? AND upstream_id IN ({marks})",
                [stream, *chunk],
            )
            found.update(str(upstream_id) for (upstream_id,) in rows)
        return found

    def head_offset(self) -> int:
        row = self._db.execute("SELECT MAX(offset) FROM events").fetchone()
        return int(row[0] or 0)

    def read_events(
        self, after_offset: int, limit: int, rendering: str = ""
    ) -> list[JournalEvent]:
        return _read_events(self._db, after_offset, limit, rendering)

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

    def find_session(self, session_id: str) -> SessionRecord | None:
        """The session's stored state; None for a session this journal has never seen."""
        row = self._db.execute(
            "SELECT next_sender_seq, next_target_seq, cursor_offset, updated_at, origin_offset,"
            " resent_before, reset_epoch FROM sessions WHERE session_id=?",
            (session_id,),
        ).fetchone()
        if row is None:
            return None
        return SessionRecord(
            int(row[0]),
            int(row[1]),
            int(row[2]),
            int(row[3]),
            origin_offset=int(row[4]),
            possibly_sent_before_ns=int(row[5]),
            reset_epoch=int(row[6]),
        )

    def load_session(self, session_id: str, *, start_offset: int | None = None) -> SessionRecord:
        record = self.find_session(session_id)
        if record is not None:
            return record
        # A new session starts at the journal head (or at ``start_offset``, from
        # :meth:`offset_before`): it receives what arrives from then on and everything that
        # arrives while it is logged out.
        start = self.head_offset() if start_offset is None else start_offset
        self._commits.run_sync(
            lambda db: db.execute(
                "INSERT INTO sessions"
                " (session_id, next_sender_seq, next_target_seq, cursor_offset, origin_offset)"
                " VALUES (?, ?, ?, ?, ?)",
                (session_id, 1, 1, start, start),
            )
        )
        return SessionRecord(1, 1, start, 0, origin_offset=start)

    def offset_before(self, at_ns: int) -> int:
        """The offset just before the first journaled event whose exchange time is at or after
        ``at_ns``, or the head when there is none: a cursor there receives every such event in
        journal order. A scan in journal order (unindexed: about 0.1 s over a million events
        cached, more from disk), on a connection of its own, so that it can run on any thread
        (callers on the event loop run it in one)."""
        return self._scan_before("transact_time", at_ns)

    def _scan_before(self, column: Literal["transact_time", "received_at"], at_ns: int) -> int:
        """The offset before the first event (in journal order) whose ``column`` is at or
        after ``at_ns``, or the head; on a short-lived connection of its own."""
        try:
            db = sqlite3.connect(self.path, isolation_level=None)
            try:
                db.execute("PRAGMA query_only=ON")
                first, head = db.execute(
                    f"SELECT (SELECT offset FROM events WHERE {column} >= ?"
                    " ORDER BY offset LIMIT 1), (SELECT MAX(offset) FROM events)",
                    (clamp_int64(at_ns),),
                ).fetchone()
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read journal {self.path}: {exc}") from exc
        return int(head or 0) if first is None else int(first) - 1

    def cursors(self, session_ids: Collection[str] | None = None) -> dict[str, int]:
        if session_ids is None:
            rows = self._db.execute("SELECT session_id, cursor_offset FROM sessions")
            return {str(r[0]): int(r[1]) for r in rows}
        found: dict[str, int] = {}
        for chunk, marks in _chunks(session_ids):
            rows = self._db.execute(
                f"SELECT session_id, cursor_offset FROM sessions WHERE session_id IN ({marks})",
                list(chunk),
            )
            found.update((str(r[0]), int(r[1])) for r in rows)
        return found

    def offset_received_before(self, at_ns: int) -> int:
        """The offset of the last event before the first one received at or after ``at_ns``
        (the head when there is none): a scan in journal order on a connection of its own,
        for a thread (callers on the event loop run it in one)."""
        return self._scan_before("received_at", at_ns)

    # --- batches that ride with an append (the live path) -------------------------------------

    def deliver_in_rounds(self, delivery: RoundDelivery | None) -> bool:
        self._round_delivery = delivery
        return True

    async def append_async(
        self, stream: str, events: Sequence[NewEvent], resume_token: bytes, received_at_ns: int
    ) -> AppendResult:
        """Every backend's append; a round that stores events asks for the sessions' batches
        that ride with it (:meth:`deliver_in_rounds`)."""
        work = self._jobs.append(stream, events, resume_token, received_at_ns)

        def appending(db: sqlite3.Connection) -> AppendResult:
            result = work(db)
            if result.stored:
                self._ride_round = self._commits.rounds_begun
            return result

        return await self._commits.run(appending)

    def _riders(self, db: sqlite3.Connection) -> list[Rider]:
        """GroupCommit's question before a COMMIT: the sessions' batches of the events this
        round appended, each stored by a ``record_sent`` rider of this round."""
        delivery = self._round_delivery
        if self._ride_round != self._commits.rounds_begun or delivery is None:
            return []

        def read(after_offset: int, limit: int, rendering: str) -> list[JournalEvent]:
            return _read_events(db, after_offset, limit, rendering)

        return [
            (
                _record_sent(
                    batch.session_id, batch.messages, batch.next_sender_seq,
                    batch.cursor_offset, batch.at_ns, batch.after_offset, batch.log,
                ),
                batch.done,
            )
            for batch in delivery(read)
        ]  # fmt: skip

    def outbound_range(self, session_id: str, begin: int, end: int) -> Iterator[OutboundMessage]:
        return sent_batches.read(self._db, session_id, begin, end)

    def sent_ranges(self, session_id: str, begin: int, end: int) -> list[SentRange]:
        # Ranges never overlap: the one starting before ``begin`` (if it reaches it), then
        # those starting inside, each found through the primary key.
        columns = "first_seq, last_seq, after_offset, cursor_offset, sending_time, digest"
        before = self._db.execute(
            f"SELECT {columns} FROM sent_ranges WHERE session_id=? AND first_seq < ?"
            " ORDER BY first_seq DESC LIMIT 1",
            (session_id, begin),
        ).fetchall()
        inside = self._db.execute(
            f"SELECT {columns} FROM sent_ranges WHERE session_id=? AND first_seq BETWEEN ? AND ?"
            " ORDER BY first_seq",
            (session_id, begin, end),
        ).fetchall()
        return [
            SentRange(int(f), int(la), int(a), int(c), str(t), bytes(d))
            for f, la, a, c, t, d in [*before, *inside]
            if int(la) >= begin
        ]

    # --- operations --------------------------------------------------------------------------

    def check_writable(self, at_ns: int) -> None:
        """A real, small write transaction (one meta row), for readiness: a read-only or full
        disk, a lost file or a lock held elsewhere shows up here before the next event does.
        Raises JournalError saying why."""
        try:
            self._commits.run_sync(_mark_writable(at_ns))
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self.path} is not writable: {exc}") from exc

    async def check_writable_async(self, at_ns: int) -> None:
        """:meth:`check_writable`, committed off the event loop."""
        try:
            await self._commits.run(_mark_writable(at_ns))
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self.path} is not writable: {exc}") from exc

    def size_bytes(self) -> int:
        """The database file plus its write-ahead log, as on disk now."""
        total = 0
        for path in database_files(self.path)[:2]:
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    def disk_space(self) -> tuple[int, int]:
        """Bytes free (to this process's user) and in all, on the file system that holds the
        journal: what it can still grow into."""
        found = os.statvfs(self.path.parent)
        return found.f_bavail * found.f_frsize, found.f_blocks * found.f_frsize

    def close(self) -> None:
        self._commits.close()
        self._db.close()
        self._wdb.close()
        self._lock_file.close()


# --- the writes, as work for GroupCommit ------------------------------------------------------


_INSERT_EVENT = (
    "INSERT OR IGNORE INTO events"
    " (stream, upstream_id, received_at, transact_time, payload, raw, flagged)"
)


def _read_events(
    db: sqlite3.Connection, after_offset: int, limit: int, rendering: str
) -> list[JournalEvent]:
    """``read_events`` on ``db``: the read connection, or the writer's inside a round."""
    if rendering:
        return journal_events_with_bodies(
            db.execute(
                f"SELECT {_EVENT_COLUMNS}, b.firm, b.account, b.symbol, b.exec_type, b.body"
                " FROM events e LEFT JOIN execution_bodies b"
                " ON b.offset = e.offset AND b.rendering = ?"
                " WHERE e.offset > ? ORDER BY e.offset LIMIT ?",
                (rendering, after_offset, limit),
            ).fetchall(),
            rendering,
        )
    rows = db.execute(
        "SELECT offset, stream, upstream_id, received_at, transact_time, payload, flagged"
        " FROM events WHERE offset > ? ORDER BY offset LIMIT ?",
        (after_offset, limit),
    ).fetchall()
    return journal_events(rows)


def _append(
    stream: str, events: Sequence[NewEvent], resume_token: bytes, received_at_ns: int
) -> Callable[[sqlite3.Connection], AppendResult]:
    """Store new events (duplicates by upstream id are skipped) and the token that covers them.

    One insert for all the events (journal/bulk_insert.py, in order); which of them were new is
    read back by offset: every row this job inserts has an offset above the head it found (the
    writer holds the database), and a repeated id is the first occurrence's (INSERT OR IGNORE
    keeps the first). Their memory is then written per table, in event order, as one
    statement per table (:class:`MemoryRows`)."""

    def work(db: sqlite3.Connection) -> AppendResult:
        head_row = db.execute("SELECT MAX(offset) FROM events").fetchone()
        head = head_before = int(head_row[0] or 0)
        offsets: list[int] = []
        stored = 0
        if events:
            insert_rows(
                db,
                _INSERT_EVENT,
                [
                    (
                        stream,
                        event.upstream_id,
                        received_at_ns,
                        clamp_int64(event.transact_time_ns),
                        event.payload,
                        event.raw,
                        event.flagged,
                    )
                    for event in events
                ],
            )
            new = dict(
                db.execute(
                    "SELECT upstream_id, offset FROM events WHERE offset > ?", (head_before,)
                ).fetchall()
            )
            memory = MemoryRows()
            for event in events:
                offset = new.pop(event.upstream_id, 0)  # the first occurrence is the new one
                offsets.append(offset)
                if offset:
                    stored += 1
                    head = max(head, offset)
                    memory.add(event)
                    memory.index_symbol(stream, event, offset)
                    memory.keep_bodies(event, offset)
            _write_memory(db, memory)
        if resume_token:  # an empty token never replaces a stored one
            db.execute(
                "INSERT INTO stream_state (stream, resume_token, updated_at, covered_until)"
                " VALUES (?, ?, ?, ?)"
                " ON CONFLICT (stream) DO UPDATE SET resume_token=excluded.resume_token,"
                " updated_at=excluded.updated_at,"
                " covered_until=MAX(covered_until, excluded.covered_until)",
                (stream, resume_token, received_at_ns, covered_until(events, received_at_ns)),
            )
        return AppendResult(stored, len(events) - stored, head, tuple(offsets))

    return work


def _save_sequence_numbers(
    session_id: str,
    next_sender_seq: int,
    next_target_seq: int,
    at_ns: int,
    reset: bool,
    log: Sequence[LogEntry],
) -> Callable[[sqlite3.Connection], None]:
    """Persist the numbers and log ``log``; ``reset`` also drops the session's outbound
    messages and starts its next reset epoch (the message log keeps every row)."""

    def work(db: sqlite3.Connection) -> None:
        if reset:
            sent_batches.forget(db, session_id)
            db.execute("DELETE FROM sent_ranges WHERE session_id=?", (session_id,))
            db.execute(
                "UPDATE sessions SET reset_epoch=reset_epoch + 1 WHERE session_id=?",
                (session_id,),
            )
        db.execute(
            "UPDATE sessions SET next_sender_seq=?, next_target_seq=?, updated_at=?"
            " WHERE session_id=?",
            (next_sender_seq, next_target_seq, at_ns, session_id),
        )
        message_log.insert(db, log)

    return work


def _log_messages(entries: Sequence[LogEntry]) -> Callable[[sqlite3.Connection], None]:
    """Log messages no other write of the moment carries."""

    def work(db: sqlite3.Connection) -> None:
        message_log.insert(db, entries)

    return work


def _record_sent(
    session_id: str,
    messages: Sequence[OutboundMessage],
    next_sender_seq: int,
    cursor_offset: int | None,
    at_ns: int,
    after_offset: int | None,
    log: Sequence[LogEntry],
) -> Callable[[sqlite3.Connection], None]:
    """Store sequenced application messages and advance the cursor, together; with
    ``after_offset``, also where the messages came from (one sent_ranges row); and log
    ``log`` (those messages as sent, and whatever else the session had to log) with them."""

    moves = cursor_offset is not None and cursor_offset != after_offset

    def work(db: sqlite3.Connection) -> None:
        if after_offset is not None and moves:
            stored = db.execute(
                "SELECT cursor_offset FROM sessions WHERE session_id=?", (session_id,)
            ).fetchone()
            if stored is not None and stored[0] != after_offset:
                raise CursorMoved(
                    f"session {session_id}: the stored cursor is {stored[0]}, not the"
                    f" {after_offset} this batch was rendered from"
                )
        # The log first: the stored batch reads its bodies from the frames it logs.
        sent_batches.store(db, session_id, messages, log, message_log.insert(db, log))
        if after_offset is not None and messages:
            db.execute(
                "INSERT INTO sent_ranges (session_id, first_seq, last_seq, after_offset,"
                " cursor_offset, sending_time, digest) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    messages[0].seq,
                    messages[-1].seq,
                    after_offset,
                    after_offset if cursor_offset is None else cursor_offset,
                    messages[0].sending_time,
                    sent_digest((m.msg_type, m.body) for m in messages),
                ),
            )
        if moves:
            db.execute(
                "UPDATE sessions SET next_sender_seq=?, cursor_offset=?, updated_at=?"
                " WHERE session_id=?",
                (next_sender_seq, cursor_offset, at_ns, session_id),
            )
        else:  # the cursor is not this write's: whatever moved it last keeps it
            db.execute(
                "UPDATE sessions SET next_sender_seq=?, updated_at=? WHERE session_id=?",
                (next_sender_seq, at_ns, session_id),
            )

    return work


def _rewind(
    session_id: str, next_sender_seq: int, cursor_offset: int, forget_from: int, at_ns: int
) -> Callable[[sqlite3.Connection], None]:
    """Forget what was sent from ``forget_from`` on, set the next number and move the cursor
    back, together. Below the next number, what is forgotten is a hole: a resend gap-fills it,
    since the client holds other messages under those numbers that no longer exist here."""

    def work(db: sqlite3.Connection) -> None:
        sent_batches.forget_from(db, session_id, forget_from)
        db.execute(
            "DELETE FROM sent_ranges WHERE session_id=? AND last_seq >= ?",
            (session_id, forget_from),
        )
        db.execute(
            "UPDATE sessions SET next_sender_seq=?, cursor_offset=?, updated_at=?"
            " WHERE session_id=?",
            (next_sender_seq, cursor_offset, at_ns, session_id),
        )

    return work


def _add_column(db: sqlite3.Connection, table: str, column: str) -> None:
    """A migration's new ``INTEGER NOT NULL DEFAULT 0`` column, unless the table has it
    already (the schema script of a newer version may have made it)."""
    if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")


def _prune_events(
    after_offset: int,
    up_to_offset: int,
    received_before_ns: int,
    limit: int,
    streams: Collection[str],
    settled: dict[str, bool],
) -> Callable[[sqlite3.Connection], Pruned]:
    """Remove, of the next ``limit`` events of ``streams`` after ``after_offset`` (up to
    ``up_to_offset``) received before ``received_before_ns``, those retention lets go
    (journal/retention.py): never the newest indexed event of its symbol, stream and
    account, nor the newest version of a trade, nor a position in a symbol whose final
    resolution was not journaled before the cut-off. ``settled`` remembers that last fact
    per symbol across the jobs of one pass."""

    def work(db: sqlite3.Connection) -> Pruned:
        marks = ", ".join("?" for _ in streams)
        rows = db.execute(
            "SELECT offset, stream, upstream_id FROM events WHERE offset > ? AND offset <= ?"
            f" AND received_at < ? AND stream IN ({marks}) ORDER BY offset LIMIT ?",
            (after_offset, up_to_offset, received_before_ns, *streams, limit),
        ).fetchall()
        if not rows:
            return Pruned(0, None)
        first, last = int(rows[0][0]), int(rows[-1][0])
        newest = [
            int(r[0])
            for r in db.execute(
                "SELECT x.offset FROM symbol_events x WHERE x.offset BETWEEN ? AND ?"
                " AND NOT EXISTS (SELECT 1 FROM symbol_events y WHERE y.symbol = x.symbol"
                " AND y.stream = x.stream AND y.account = x.account AND y.offset > x.offset)",
                (first, last),
            )
        ]
        positions = [
            (int(offset), str(symbol))
            for offset, symbol in db.execute(
                "SELECT offset, symbol FROM symbol_events WHERE offset BETWEEN ? AND ?"
                " AND stream = 'positions'",
                (first, last),
            ).fetchall()
        ]
        doomed = [
            (offset,)
            for offset in removable(
                [(int(o), str(st), str(u)) for o, st, u in rows], newest, positions, settled,
                lambda symbol: _settled_before(db, symbol, received_before_ns),
                lambda upstream_id, offset: _later_version(db, upstream_id, offset),
            )
        ]  # fmt: skip
        db.executemany("DELETE FROM symbol_events WHERE offset = ?", doomed)
        db.executemany("DELETE FROM execution_bodies WHERE offset = ?", doomed)
        db.executemany("DELETE FROM events WHERE offset = ?", doomed)
        return Pruned(len(doomed), last if len(rows) == limit else None)

    return work


def _later_version(db: sqlite3.Connection, upstream_id: str, offset: int) -> bool:
    """Whether the trade ``upstream_id`` ("<trade id>:<STATE>") has a version journaled
    after ``offset`` (trade_reported_before reads the versions so)."""
    trade_id = upstream_id.partition(":")[0]
    row = db.execute(
        "SELECT 1 FROM events WHERE stream='trades' AND upstream_id >= ? AND upstream_id < ?"
        " AND offset > ? LIMIT 1",
        (f"{trade_id}:", f"{trade_id};", offset),
    ).fetchone()
    return row is not None


def _settled_before(db: sqlite3.Connection, symbol: str, received_before_ns: int) -> bool:
    """Whether a final resolution of ``symbol`` was journaled before ``received_before_ns``:
    only then are its earlier positions no longer needed to pay or correct it."""
    for (payload,) in db.execute(
        "SELECT e.payload FROM symbol_events x JOIN events e ON e.offset = x.offset"
        " WHERE x.symbol = ? AND x.stream = 'settlements' AND e.received_at < ?"
        " AND e.flagged IS NULL",
        (symbol, received_before_ns),
    ):
        settlement = Settlement.from_payload(bytes(payload))
        if settlement.resolution and not settlement.preliminary:
            return True
    return False


def _prune_log(logged_before_ns: int, limit: int) -> Callable[[sqlite3.Connection], Pruned]:
    """Remove up to ``limit`` of the oldest message-log rows logged before the cut-off."""

    def work(db: sqlite3.Connection) -> Pruned:
        removed = db.execute(
            "DELETE FROM message_log WHERE id IN (SELECT id FROM message_log"
            " WHERE logged_at < ? ORDER BY logged_at LIMIT ?)",
            (logged_before_ns, limit),
        ).rowcount
        return Pruned(removed, 0 if removed == limit else None)

    return work


def _prune_sent(
    session_id: str, sent_before: str, limit: int
) -> Callable[[sqlite3.Connection], Pruned]:
    """Remove about ``limit`` of the session's oldest sent messages stamped before
    ``sent_before``, whole batches only, and the records of the batches removed."""

    def work(db: sqlite3.Connection) -> Pruned:
        # Within a session, numbers and stamps grow together (a reset empties the store):
        # the oldest stored message says whether anything is due.
        oldest = sent_batches.oldest(db, session_id)
        if oldest is None or oldest[1] >= sent_before:
            return Pruned(0, None)
        below = oldest[0] + limit
        while True:  # a batch goes whole, and so does each row of its messages
            straddling = db.execute(
                "SELECT last_seq FROM sent_ranges WHERE session_id=? AND first_seq < ?"
                " AND last_seq >= ?",
                (session_id, below, below),
            ).fetchone()
            if straddling is not None:
                below = int(straddling[0]) + 1
            stored = sent_batches.end_of_row_holding(db, session_id, below)
            if stored is None:
                break
            below = stored + 1
        removed = sent_batches.remove_before(db, session_id, below, sent_before)
        db.execute(
            "DELETE FROM sent_ranges WHERE session_id=? AND last_seq < ? AND sending_time < ?",
            (session_id, below, sent_before),
        )
        return Pruned(removed, below)

    return work


def _mark_possibly_sent(session_id: str, before_ns: int) -> Callable[[sqlite3.Connection], None]:
    """Events before exchange time ``before_ns`` may have been sent to the session already;
    the time only moves forward."""

    def work(db: sqlite3.Connection) -> None:
        db.execute(
            "UPDATE sessions SET resent_before=MAX(resent_before, ?) WHERE session_id=?",
            (before_ns, session_id),
        )

    return work


def _replay_from(
    session_id: str, cursor_offset: int, possibly_sent_before_ns: int
) -> Callable[[sqlite3.Connection], None]:
    def work(db: sqlite3.Connection) -> None:
        db.execute(
            "UPDATE sessions SET cursor_offset=MIN(cursor_offset, ?),"
            " resent_before=MAX(resent_before, ?) WHERE session_id=?",
            (cursor_offset, possibly_sent_before_ns, session_id),
        )

    return work


def _mark_writable(at_ns: int) -> Callable[[sqlite3.Connection], None]:
    def work(db: sqlite3.Connection) -> None:
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('writable_at', ?)"
            " ON CONFLICT (key) DO UPDATE SET value=excluded.value",
            (str(at_ns),),
        )

    return work


class _SqliteJobs:
    """SQLite's write jobs (``journal/writes.py``)."""

    append = staticmethod(_append)
    save_sequence_numbers = staticmethod(_save_sequence_numbers)
    record_sent = staticmethod(_record_sent)
    rewind = staticmethod(_rewind)
    mark_possibly_sent = staticmethod(_mark_possibly_sent)
    replay_from = staticmethod(_replay_from)
    log_messages = staticmethod(_log_messages)
    prune_events = staticmethod(_prune_events)
    prune_log = staticmethod(_prune_log)
    prune_sent = staticmethod(_prune_sent)


_JOBS = _SqliteJobs()

_K = TypeVar("_K")


def _chunks(keys: Iterable[_K]) -> Iterator[tuple[list[_K], str]]:
    """``keys`` in slices small enough for one statement, each with its ``?`` marks."""
    wanted = list(keys)
    for first in range(0, len(wanted), _SQL_VARIABLES):
        chunk = wanted[first : first + _SQL_VARIABLES]
        yield chunk, ",".join("?" * len(chunk))


# Each memory table's insert: the statement up to VALUES, and what follows the rows.
_UPSERT_ORDER = (
    "INSERT INTO orders (order_id, cl_ord_id, transact_time, ord_status, order_qty,"
    " cum_qty, leaves_qty, filled_notional)",
    " ON CONFLICT (order_id) DO UPDATE SET"
    " cl_ord_id=CASE WHEN excluded.cl_ord_id = '' THEN orders.cl_ord_id"
    " ELSE excluded.cl_ord_id END,"
    " transact_time=excluded.transact_time, ord_status=excluded.ord_status,"
    " order_qty=excluded.order_qty, cum_qty=excluded.cum_qty,"
    " leaves_qty=excluded.leaves_qty, filled_notional=excluded.filled_notional"
    " WHERE excluded.transact_time >= orders.transact_time",
)
_INSERT_FILL = (
    "INSERT OR IGNORE INTO order_fills (exec_id, order_id, quantity, notional, transact_time)",
    "",
)
_INSERT_BUST = (
    "INSERT OR IGNORE INTO order_busts (fill_exec_id, order_id, quantity, notional, busted_at)",
    "",
)
_UPSERT_INSTRUMENT = (
    "INSERT INTO instrument_latest (symbol, content, upstream_id)",
    " ON CONFLICT (symbol) DO UPDATE SET content=excluded.content,"
    " upstream_id=excluded.upstream_id",
)
_INSERT_SYMBOL_EVENT = (
    "INSERT OR IGNORE INTO symbol_events (symbol, stream, account, offset, at)",
    "",
)
_INSERT_BODY = (
    "INSERT OR IGNORE INTO execution_bodies"
    " (offset, rendering, firm, account, symbol, exec_type, body)",
    "",
)


def _write_memory(db: sqlite3.Connection, memory: MemoryRows) -> None:
    """New events' memory, one insert per table (rules: :class:`MemoryRows`), its rows in
    event order (journal/bulk_insert.py)."""
    for (head, tail), rows in (
        (_UPSERT_ORDER, memory.orders),
        (_INSERT_FILL, memory.fills),
        (_INSERT_BUST, memory.busts),
        (_UPSERT_INSTRUMENT, memory.instruments),
        (_INSERT_SYMBOL_EVENT, memory.symbols),
        (_INSERT_BODY, memory.bodies),
    ):
        insert_rows(db, head, rows, tail=tail)


def _remember(db: sqlite3.Connection, event: NewEvent) -> None:
    """Record a new event's memory (orders, busts, instruments) in its transaction."""
    memory = MemoryRows()
    memory.add(event)
    _write_memory(db, memory)


def _rebuild_symbol_index(db: sqlite3.Connection) -> None:
    """The symbol index, from the events already journaled (migration)."""
    marks = ", ".join("?" for _ in SYMBOL_INDEXED)
    rows = db.execute(
        "SELECT offset, stream, payload, transact_time FROM events"
        f" WHERE flagged IS NULL AND stream IN ({marks}) ORDER BY offset",
        SYMBOL_INDEXED,
    ).fetchall()
    for offset, stream, payload, at in rows:
        try:
            key = symbol_key(str(stream), bytes(payload), None)
        except NormalizationError:
            continue  # a payload this version cannot read: it renders nothing either
        if key is not None:
            db.execute(
                "INSERT OR IGNORE INTO symbol_events (symbol, stream, account, offset, at)"
                " VALUES (?, ?, ?, ?, ?)",
                (key[0], str(stream), key[1], int(offset), int(at)),
            )


def _rebuild_memory(db: sqlite3.Connection) -> None:
    """Orders, busts and latest instruments, from the events already journaled (migration)."""
    rows = db.execute(
        "SELECT stream, upstream_id, received_at, payload FROM events"
        " WHERE flagged IS NULL AND stream IN ('executions', 'trades', 'instruments')"
        " ORDER BY offset"
    )
    for stream, upstream_id, received_at, payload in rows:
        try:
            event = memory_of(str(stream), str(upstream_id), bytes(payload), int(received_at))
        except NormalizationError:
            continue  # a payload this version cannot read: nothing to remember from it
        _remember(db, event)


class LockFile:
    """An exclusive advisory lock held for the journal's lifetime (released on crash too)."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        os.fchmod(self._fd, FILE_MODE)
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
