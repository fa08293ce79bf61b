"""The shared journal: PostgreSQL, for two bridges that take turns (active and standby).

The same storage contract as the embedded journal (``journal/store.py``), kept by the same
rules (``journal/rules.py``, ``journal/rows.py``); what differs is where it lives and who may
write. Durability rules: every write is one transaction; events and the resume token that
covers them commit together; a session's outbound messages, its next sender number and its
cursor commit together; the message log's rows commit with the write that carries them.
Every write transaction runs ``fence`` first (``ha/lease.py``: still the lease's holder under
its epoch), so a bridge deposed while it slept can write nothing; writes run whole on the
committer thread (``journal/remote_commit.py``), never on the event loop.

A text value holding U+0000 (PostgreSQL text cannot) is stored, and looked up, with U+FFFD in
its place (``journal/pg_database.py``); the bytes as received stay whole in the ``raw``
columns. Reads run on a connection
of their own from the caller's thread, each bounded by a deadline (``journal/pg_deadline.py``).

Offsets are given by the writer, one past the head kept in ``event_head``, inside the write
transaction: gap-free, never reused after a prune, and visible in the order they were given
(one writer, one transaction at a time), so a reader after offset N never misses one that
commits later. Text columns sort by byte (``COLLATE "C"``): ranges over trade versions and
SendingTime comparisons mean the same as in SQLite.

Never decides what to store, never logs the DSN or its password.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from decimal import Decimal
from typing import Any, LiteralString, TypeVar

import psycopg

from fixbridge.journal.bulk_insert import chunked, values_statement
from fixbridge.journal.commit import RoundStats
from fixbridge.journal.message_log import LogEntry
from fixbridge.journal.pg_database import TIMEOUT_S, Fence, JournalDatabase, nul_safe
from fixbridge.journal.pg_deadline import Deadlines
from fixbridge.journal.records import OutboundMessage
from fixbridge.journal.remote_commit import Connection, RemoteGroupCommit
from fixbridge.journal.retention import Pruned, removable
from fixbridge.journal.rows import (
    MemoryRows,
    journal_events,
    journal_events_with_bodies,
    outbound_pages,
)
from fixbridge.journal.rules import INT64_MAX, clamp_int64, covered_until
from fixbridge.journal.store import (
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
from fixbridge.normalize.fills import BustedFill, Fill, OrderTotals
from fixbridge.normalize.settlement import Settlement

log = logging.getLogger("fixbridge.journal")
T = TypeVar("T")
RESEND_BATCH = 500
# A read, and each step of a write transaction, must end within this (else the connection
# is cut): twice the server's own statement timeout.
CALL_LIMIT_S = 2 * TIMEOUT_S
_EVENT_COLUMNS = (
    'e."offset", e.stream, e.upstream_id, e.received_at, e.transact_time, e.payload, e.flagged'
)
_SCHEMA: LiteralString = """
CREATE TABLE IF NOT EXISTS meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS event_head (
    one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    "offset" BIGINT NOT NULL
);
INSERT INTO event_head (one, "offset") VALUES (TRUE, 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS events (
    "offset" BIGINT PRIMARY KEY,
    stream TEXT COLLATE "C" NOT NULL,
    upstream_id TEXT COLLATE "C" NOT NULL,
    received_at BIGINT NOT NULL,
    transact_time BIGINT NOT NULL,
    payload BYTEA NOT NULL,
    raw BYTEA NOT NULL,
    flagged TEXT,
    UNIQUE (stream, upstream_id)
);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT COLLATE "C" PRIMARY KEY,
    cl_ord_id TEXT NOT NULL,
    transact_time BIGINT NOT NULL,
    ord_status TEXT NOT NULL,
    order_qty TEXT NOT NULL,
    cum_qty TEXT NOT NULL,
    leaves_qty TEXT NOT NULL,
    filled_notional TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS order_busts (
    fill_exec_id TEXT COLLATE "C" PRIMARY KEY,
    order_id TEXT COLLATE "C" NOT NULL,
    quantity TEXT NOT NULL,
    notional TEXT NOT NULL,
    busted_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS order_busts_by_order ON order_busts (order_id, busted_at);
CREATE TABLE IF NOT EXISTS order_fills (
    exec_id TEXT COLLATE "C" PRIMARY KEY,
    order_id TEXT COLLATE "C" NOT NULL,
    quantity TEXT NOT NULL,
    notional TEXT NOT NULL,
    transact_time BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS order_fills_by_order ON order_fills (order_id, transact_time);
CREATE TABLE IF NOT EXISTS instrument_latest (
    symbol TEXT COLLATE "C" PRIMARY KEY,
    content TEXT NOT NULL,
    upstream_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS symbol_events (
    symbol TEXT COLLATE "C" NOT NULL,
    stream TEXT COLLATE "C" NOT NULL,
    account TEXT COLLATE "C" NOT NULL,
    "offset" BIGINT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (symbol, stream, account, "offset")
);
CREATE INDEX IF NOT EXISTS symbol_events_by_offset ON symbol_events ("offset");
CREATE TABLE IF NOT EXISTS execution_bodies (
    "offset" BIGINT NOT NULL,
    rendering TEXT COLLATE "C" NOT NULL,
    firm TEXT NOT NULL,
    account TEXT NOT NULL,
    symbol TEXT NOT NULL,
    exec_type TEXT NOT NULL,
    body BYTEA NOT NULL,
    PRIMARY KEY ("offset", rendering)
);
CREATE TABLE IF NOT EXISTS stream_state (
    stream TEXT COLLATE "C" PRIMARY KEY,
    resume_token BYTEA NOT NULL,
    updated_at BIGINT NOT NULL,
    covered_until BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT COLLATE "C" PRIMARY KEY,
    next_sender_seq BIGINT NOT NULL,
    next_target_seq BIGINT NOT NULL,
    cursor_offset BIGINT NOT NULL,
    updated_at BIGINT NOT NULL DEFAULT 0,
    origin_offset BIGINT NOT NULL DEFAULT 0,
    resent_before BIGINT NOT NULL DEFAULT 0,
    reset_epoch BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS outbound (
    session_id TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    msg_type TEXT NOT NULL,
    sending_time TEXT COLLATE "C" NOT NULL,
    body BYTEA NOT NULL,
    PRIMARY KEY (session_id, seq)
);
CREATE TABLE IF NOT EXISTS sent_ranges (
    session_id TEXT COLLATE "C" NOT NULL,
    first_seq BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    after_offset BIGINT NOT NULL,
    cursor_offset BIGINT NOT NULL,
    sending_time TEXT COLLATE "C" NOT NULL,
    digest BYTEA NOT NULL,
    PRIMARY KEY (session_id, first_seq)
);
CREATE TABLE IF NOT EXISTS message_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id TEXT COLLATE "C" NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    epoch BIGINT NOT NULL,
    seq BIGINT,
    sending_time TEXT NOT NULL,
    logged_at BIGINT NOT NULL,
    msg_type TEXT NOT NULL,
    raw BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS journal_rounds (
    writer TEXT COLLATE "C" PRIMARY KEY,
    round BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS message_log_by_time ON message_log (logged_at);
CREATE INDEX IF NOT EXISTS message_log_by_session ON message_log (session_id, logged_at);
"""


class PostgresJournal(JournalWrites[Connection]):
    """The journal in a PostgreSQL database (rules: module doc).

    Reads run on a connection of their own from the caller's thread; a short-lived
    connection serves the scans that run on worker threads (:meth:`offset_before`); writes
    go through :class:`RemoteGroupCommit`. The ``*_async`` writes are the event loop's; the
    synchronous ones are for start-up, tools and tests, and block until committed.
    """

    _commits: RemoteGroupCommit

    def __init__(
        self, dsn: str, *, fence: Fence | None = None, read_limit_s: float = CALL_LIMIT_S
    ) -> None:
        """Open the journal in the database ``dsn`` names, creating its tables the first time;
        ``fence`` runs first in every write transaction (``ha/lease.py``); a read still
        unanswered after ``read_limit_s`` has its connection cut (and is tried once more)."""
        self._read_limit_s = read_limit_s
        self._db = JournalDatabase(dsn, _SCHEMA, fence=fence)
        self._dsn = dsn
        self.where = self._db.where
        self._read: Connection | None = None
        self._read_deadlines = Deadlines("journal-read-deadline")
        self._commits = RemoteGroupCommit(self._db, step_s=CALL_LIMIT_S)
        self._jobs = _JOBS
        self._lock: Connection | None = None
        try:
            self._db.create_schema()
            if fence is None:
                self._lock = self._db.hold_alone()
        except JournalError:
            self.close()
            raise
        except psycopg.Error as exc:
            self.close()
            raise JournalError(f"cannot open journal {self.where}: {self._db.text(exc)}") from None

    @property
    def commit_stats(self) -> RoundStats:
        return self._commits.stats

    # --- reading ------------------------------------------------------------------------------

    def _rows(self, sql: LiteralString, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Run a read; one on a connection found lost (the server restarted, or ended it) is
        tried once more, on a new one."""
        try:
            return self._read_once(sql, params)
        except psycopg.Error as exc:
            if self._read is None or not self._read.broken:
                raise self._db.unreadable(exc) from None
        try:
            return self._read_once(sql, params)
        except psycopg.Error as exc:
            raise self._db.unreadable(exc) from None

    def _read_once(self, sql: LiteralString, params: Sequence[object]) -> list[tuple[Any, ...]]:
        conn = self._read
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                conn.close()
            # On the caller's thread (the event loop): no longer than the read itself may take
            # (libpq waits at least 2 s for each host it tries).
            conn = self._read = self._db.open(
                autocommit=True, purpose="fixbridge-journal", timeout_s=self._read_limit_s
            )
        with self._read_deadlines.bounded(conn, self._read_limit_s):
            return conn.execute(sql, params).fetchall()

    def _one(self, sql: LiteralString, params: Sequence[object] = ()) -> tuple[Any, ...] | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    # --- upstream events ---------------------------------------------------------------------

    def resume_token(self, stream: str) -> bytes | None:
        row = self._one("SELECT resume_token FROM stream_state WHERE stream=%s", (stream,))
        return None if row is None else bytes(row[0])

    def resume_anchor_ns(self, stream: str) -> int | None:
        # The newest normalized event, its exchange time capped by its receipt, or how far
        # the stored token is known to cover, if that is later (journal/store.py).
        row = self._one(
            "SELECT LEAST(transact_time, received_at) FROM events WHERE stream=%s"
            ' AND flagged IS NULL AND transact_time > 0 ORDER BY "offset" DESC LIMIT 1',
            (stream,),
        )
        newest = None if row is None else int(row[0])
        state = self._one("SELECT covered_until FROM stream_state WHERE stream=%s", (stream,))
        covered = None if state is None or not state[0] else int(state[0])
        candidates = [t for t in (newest, covered) if t is not None]
        return max(candidates) if candidates else None

    def latest_orders(self, order_ids: Collection[str]) -> dict[str, KnownOrder]:
        rows = self._rows(
            "SELECT order_id, cl_ord_id, transact_time, ord_status, order_qty, cum_qty,"
            " leaves_qty, filled_notional FROM orders WHERE order_id = ANY(%s)",
            (list(order_ids),),
        )
        found: dict[str, KnownOrder] = {}
        for order_id, cl_ord_id, at, status, qty, cum, leaves, notional in rows:
            totals = OrderTotals(
                int(at), str(status), Decimal(qty), Decimal(cum), Decimal(leaves),
                Decimal(notional),
            )  # fmt: skip
            found[str(order_id)] = KnownOrder(str(cl_ord_id), totals)
        return found

    def latest_cl_ord_ids(self, order_ids: Collection[str]) -> dict[str, str]:
        rows = self._rows(
            "SELECT order_id, cl_ord_id FROM orders WHERE order_id = ANY(%s) AND cl_ord_id <> ''",
            (list(order_ids),),
        )
        return {str(order_id): str(cl_ord_id) for order_id, cl_ord_id in rows}

    def order_busts(self, order_ids: Collection[str]) -> dict[str, list[tuple[str, BustedFill]]]:
        found: dict[str, list[tuple[str, BustedFill]]] = {}
        for order_id, fill_exec_id, quantity, notional, busted_at in self._rows(
            "SELECT order_id, fill_exec_id, quantity, notional, busted_at FROM order_busts"
            " WHERE order_id = ANY(%s) ORDER BY busted_at, fill_exec_id",
            (list(order_ids),),
        ):
            bust = BustedFill(Decimal(quantity), Decimal(notional), int(busted_at))
            found.setdefault(str(order_id), []).append((str(fill_exec_id), bust))
        return found

    def order_fills(self, order_ids: Collection[str]) -> dict[str, list[Fill]]:
        found: dict[str, list[Fill]] = {}
        for order_id, exec_id, quantity, notional, at in self._rows(
            "SELECT order_id, exec_id, quantity, notional, transact_time FROM order_fills"
            " WHERE order_id = ANY(%s) ORDER BY transact_time, exec_id",
            (list(order_ids),),
        ):
            fill = Fill(str(exec_id), Decimal(quantity), Decimal(notional), int(at))
            found.setdefault(str(order_id), []).append(fill)
        return found

    def latest_instruments(self, symbols: Collection[str]) -> dict[str, LatestInstrument]:
        return {
            str(symbol): LatestInstrument(str(content), str(upstream_id))
            for symbol, content, upstream_id in self._rows(
                "SELECT symbol, content, upstream_id FROM instrument_latest"
                " WHERE symbol = ANY(%s)",
                (list(symbols),),
            )
        }

    def trade_reported_before(self, trade_id: str, from_offset: int, before_offset: int) -> bool:
        # Versions are "<trade id>:<STATE>": a range over the (stream, upstream_id) index.
        row = self._one(
            "SELECT 1 FROM events WHERE stream='trades' AND upstream_id >= %s"
            ' AND upstream_id < %s AND "offset" > %s AND "offset" < %s AND flagged IS NULL'
            " LIMIT 1",
            (f"{trade_id}:", f"{trade_id};", from_offset, before_offset),
        )
        return row is not None

    def latest_by_account(
        self, stream: str, symbol: str, before_offset: int, until_ns: int | None = None
    ) -> list[JournalEvent]:
        until = INT64_MAX if until_ns is None else clamp_int64(until_ns)
        return journal_events(
            self._rows(
                f"SELECT {_EVENT_COLUMNS} FROM events e JOIN"
                ' (SELECT account, MAX("offset") AS last FROM symbol_events'
                '  WHERE symbol=%s AND stream=%s AND "offset" < %s AND at <= %s'
                "  GROUP BY account) l"
                ' ON e."offset" = l.last ORDER BY l.account',
                (symbol, stream, before_offset, until),
            )
        )

    def read_symbol_events(self, after_offset: int, limit: int) -> list[JournalEvent]:
        return journal_events(
            self._rows(
                f"SELECT {_EVENT_COLUMNS} FROM symbol_events x"
                ' JOIN events e ON e."offset" = x."offset" WHERE x."offset" > %s'
                ' ORDER BY x."offset" LIMIT %s',
                (after_offset, limit),
            )
        )

    def latest_of_symbol(
        self, stream: str, symbol: str, before_offset: int, count: int
    ) -> list[JournalEvent]:
        return journal_events(
            self._rows(
                f"SELECT {_EVENT_COLUMNS} FROM symbol_events x"
                ' JOIN events e ON e."offset" = x."offset"'
                ' WHERE x.symbol=%s AND x.stream=%s AND x."offset" < %s'
                ' ORDER BY x."offset" DESC LIMIT %s',
                (symbol, stream, before_offset, count),
            )
        )

    def offset_of(self, stream: str, upstream_id: str) -> int | None:
        row = self._one(
            'SELECT "offset" FROM events WHERE stream=%s AND upstream_id=%s',
            (stream, upstream_id),
        )
        return None if row is None else int(row[0])

    def oldest_transact_time(self) -> int | None:
        row = self._one('SELECT transact_time FROM events ORDER BY "offset" LIMIT 1')
        return None if row is None else int(row[0])

    def journaled_ids(self, stream: str, upstream_ids: Collection[str]) -> set[str]:
        found = {
            str(upstream_id)
            for (upstream_id,) in self._rows(
                "SELECT upstream_id FROM events WHERE stream=%s AND upstream_id = ANY(%s)",
                (stream, list(upstream_ids)),
            )
        }
        return {i for i in upstream_ids if nul_safe(i) in found}  # the ids as asked

    def head_offset(self) -> int:
        row = self._one('SELECT "offset" FROM event_head')
        return 0 if row is None else int(row[0])

    def read_events(
        self, after_offset: int, limit: int, rendering: str = ""
    ) -> list[JournalEvent]:
        if rendering:
            return journal_events_with_bodies(
                self._rows(
                    f"SELECT {_EVENT_COLUMNS}, b.firm, b.account, b.symbol, b.exec_type,"
                    " b.body FROM events e LEFT JOIN execution_bodies b"
                    ' ON b."offset" = e."offset" AND b.rendering = %s'
                    ' WHERE e."offset" > %s ORDER BY e."offset" LIMIT %s',
                    (rendering, after_offset, limit),
                ),
                rendering,
            )
        return journal_events(
            self._rows(
                'SELECT "offset", stream, upstream_id, received_at, transact_time, payload,'
                ' flagged FROM events WHERE "offset" > %s ORDER BY "offset" LIMIT %s',
                (after_offset, limit),
            )
        )

    def count_events(self, stream: str) -> int:
        row = self._one("SELECT COUNT(*) FROM events WHERE stream=%s", (stream,))
        return 0 if row is None else int(row[0])

    def upstream_ids(self, stream: str) -> list[str]:
        """Every upstream id of a stream in journal order (for audits and tests)."""
        return [
            str(r[0])
            for r in self._rows(
                'SELECT upstream_id FROM events WHERE stream=%s ORDER BY "offset"', (stream,)
            )
        ]

    def offset_before(self, at_ns: int) -> int:
        """The offset just before the first journaled event whose exchange time is at or after
        ``at_ns``, or the head: a scan, on a short-lived connection of its own (callers on the
        event loop run it in a thread)."""
        return self._scan_before("transact_time", at_ns)

    def offset_received_before(self, at_ns: int) -> int:
        """As :meth:`offset_before`, by the time each event was received (retention)."""
        return self._scan_before("received_at", at_ns)

    def _scan_before(self, column: LiteralString, at_ns: int) -> int:
        sql: LiteralString = (
            f'SELECT (SELECT "offset" FROM events WHERE {column} >= %s ORDER BY "offset"'
            ' LIMIT 1), (SELECT "offset" FROM event_head)'
        )
        try:
            with self._db.open(
                autocommit=True, purpose="fixbridge-journal", timeout_s=TIMEOUT_S * 6
            ) as conn:
                row = conn.execute(sql, (clamp_int64(at_ns),)).fetchone()
        except psycopg.Error as exc:
            raise self._db.unreadable(exc) from None
        assert row is not None
        first, head = row
        return int(head or 0) if first is None else int(first) - 1

    # --- FIX sessions ------------------------------------------------------------------------

    def find_session(self, session_id: str) -> SessionRecord | None:
        row = self._one(
            "SELECT next_sender_seq, next_target_seq, cursor_offset, updated_at, origin_offset,"
            " resent_before, reset_epoch FROM sessions WHERE session_id=%s",
            (session_id,),
        )
        if row is None:
            return None
        return SessionRecord(
            int(row[0]), int(row[1]), int(row[2]), int(row[3]), origin_offset=int(row[4]),
            possibly_sent_before_ns=int(row[5]), reset_epoch=int(row[6]),
        )  # fmt: skip

    def load_session(self, session_id: str, *, start_offset: int | None = None) -> SessionRecord:
        record = self.find_session(session_id)
        if record is not None:
            return record

        def work(conn: Connection) -> None:
            # A new session starts at the head (or at ``start_offset``); should the other
            # bridge have made it meanwhile, its record stands.
            conn.execute(
                "INSERT INTO sessions (session_id, next_sender_seq, next_target_seq,"
                " cursor_offset, origin_offset)"
                ' SELECT %s, 1, 1, s.start, s.start FROM (SELECT COALESCE(%s, "offset")'
                " AS start FROM event_head) s ON CONFLICT (session_id) DO NOTHING",
                (session_id, start_offset),
            )

        self._write_sync(work)
        found = self.find_session(session_id)
        assert found is not None
        return found

    def cursors(self, session_ids: Collection[str] | None = None) -> dict[str, int]:
        if session_ids is None:
            rows = self._rows("SELECT session_id, cursor_offset FROM sessions")
        else:
            rows = self._rows(
                "SELECT session_id, cursor_offset FROM sessions WHERE session_id = ANY(%s)",
                (list(session_ids),),
            )
        return {str(r[0]): int(r[1]) for r in rows}

    def deliver_in_rounds(self, delivery: RoundDelivery | None) -> bool:
        """Not here: a round's statements run on the committer thread, where no session may
        render (its numbers and lock are the event loop's). Sessions deliver after the
        append has committed."""
        return False

    def outbound_range(self, session_id: str, begin: int, end: int) -> Iterator[OutboundMessage]:
        return outbound_pages(
            lambda low: self._rows(
                "SELECT seq, msg_type, sending_time, body FROM outbound"
                " WHERE session_id=%s AND seq BETWEEN %s AND %s ORDER BY seq LIMIT %s",
                (session_id, low, end, RESEND_BATCH),
            ),
            begin,
            end,
        )

    def sent_ranges(self, session_id: str, begin: int, end: int) -> list[SentRange]:
        # Ranges never overlap: the one starting before ``begin`` (if it reaches it), then
        # those starting inside.
        rows = self._rows(
            "(SELECT first_seq, last_seq, after_offset, cursor_offset, sending_time, digest"
            " FROM sent_ranges WHERE session_id=%s AND first_seq < %s"
            " ORDER BY first_seq DESC LIMIT 1)"
            " UNION ALL (SELECT first_seq, last_seq, after_offset, cursor_offset,"
            " sending_time, digest FROM sent_ranges WHERE session_id=%s"
            " AND first_seq BETWEEN %s AND %s ORDER BY first_seq)",
            (session_id, begin, session_id, begin, end),
        )
        return [
            SentRange(int(f), int(la), int(a), int(c), str(t), bytes(d))
            for f, la, a, c, t, d in sorted(rows, key=lambda r: int(r[0]))
            if int(la) >= begin
        ]

    # --- retention ----------------------------------------------------------------------------

    # --- operations --------------------------------------------------------------------------

    def check_writable(self, at_ns: int) -> None:
        """A real, small write transaction (fenced, as every write), for readiness."""
        self._write_sync(_mark_writable(at_ns))

    async def check_writable_async(self, at_ns: int) -> None:
        await self._commits.run(_mark_writable(at_ns))

    def size_bytes(self) -> int:
        """The database's size on the server's disks."""
        row = self._one("SELECT pg_database_size(current_database())")
        return 0 if row is None else int(row[0])

    def disk_space(self) -> tuple[int, int] | None:
        """Unknown: the server's disks are not this machine's (its own monitoring tells)."""
        return None

    def close(self) -> None:
        self._commits.close()
        if self._read is not None:
            self._read.close()
            self._read = None
        self._read_deadlines.close()
        if self._lock is not None:
            self._lock.close()  # the advisory lock goes with its session
            self._lock = None

    def _write_sync(self, work: Callable[[Connection], T]) -> T:
        return self._commits.run_sync(work)


# --- the writes, as work for RemoteGroupCommit -----------------------------------------------


def _statement(sql: LiteralString, params: Sequence[object]) -> Callable[[Connection], None]:
    def work(conn: Connection) -> None:
        conn.execute(sql, params)

    return work


def _append(
    stream: str, events: Sequence[NewEvent], resume_token: bytes, received_at_ns: int
) -> Callable[[Connection], AppendResult]:
    """Store new events (duplicates by upstream id are skipped; of a repeated id, the first)
    and the token that covers them. The new events take the offsets after the head, in order,
    and the head moves past them, in the same transaction."""

    def work(conn: Connection) -> AppendResult:
        head_row = conn.execute('SELECT "offset" FROM event_head FOR UPDATE').fetchone()
        assert head_row is not None  # made with the schema
        head = int(head_row[0])
        offsets: list[int] = []
        if events:
            # Ids as stored (a NUL is kept as U+FFFD): a repeated one is found as such.
            seen = {
                str(upstream_id)
                for (upstream_id,) in conn.execute(
                    "SELECT upstream_id FROM events WHERE stream=%s AND upstream_id = ANY(%s)",
                    (stream, [event.upstream_id for event in events]),
                )
            }
            rows: list[tuple[object, ...]] = []
            memory = MemoryRows()
            for event in events:
                stored_as = nul_safe(event.upstream_id)
                if stored_as in seen:
                    offsets.append(0)
                    continue
                seen.add(stored_as)
                head += 1
                offsets.append(head)
                rows.append((
                    head, stream, event.upstream_id, received_at_ns,
                    clamp_int64(event.transact_time_ns), event.payload, event.raw,
                    event.flagged,
                ))  # fmt: skip
                memory.add(event)
                memory.index_symbol(stream, event, head)
                memory.keep_bodies(event, head)
            if rows:
                _insert(
                    conn,
                    'INSERT INTO events ("offset", stream, upstream_id, received_at,'
                    " transact_time, payload, raw, flagged)",
                    rows,
                )
                conn.execute('UPDATE event_head SET "offset"=%s', (head,))
                _write_memory(conn, memory)
        if resume_token:  # an empty token never replaces a stored one
            conn.execute(
                "INSERT INTO stream_state (stream, resume_token, updated_at, covered_until)"
                " VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (stream) DO UPDATE SET resume_token=excluded.resume_token,"
                " updated_at=excluded.updated_at,"
                " covered_until=GREATEST(stream_state.covered_until, excluded.covered_until)",
                (stream, resume_token, received_at_ns, covered_until(events, received_at_ns)),
            )
        stored = sum(1 for offset in offsets if offset)
        return AppendResult(stored, len(events) - stored, head, tuple(offsets))

    return work


# Each memory table's insert: the statement up to VALUES, what follows the rows, and how
# many leading columns are its key (what a conflict is on).
_UPSERT_ORDER: tuple[LiteralString, LiteralString, int] = (
    "INSERT INTO orders (order_id, cl_ord_id, transact_time, ord_status, order_qty,"
    " cum_qty, leaves_qty, filled_notional)",
    " ON CONFLICT (order_id) DO UPDATE SET"
    " cl_ord_id=CASE WHEN excluded.cl_ord_id = '' THEN orders.cl_ord_id"
    " ELSE excluded.cl_ord_id END,"
    " transact_time=excluded.transact_time, ord_status=excluded.ord_status,"
    " order_qty=excluded.order_qty, cum_qty=excluded.cum_qty,"
    " leaves_qty=excluded.leaves_qty, filled_notional=excluded.filled_notional"
    " WHERE excluded.transact_time >= orders.transact_time",
    1,
)
_MEMORY_STATEMENTS: tuple[tuple[LiteralString, LiteralString, int], ...] = (
    _UPSERT_ORDER,
    (
        "INSERT INTO order_fills (exec_id, order_id, quantity, notional, transact_time)",
        " ON CONFLICT DO NOTHING",
        1,
    ),
    (
        "INSERT INTO order_busts (fill_exec_id, order_id, quantity, notional, busted_at)",
        " ON CONFLICT DO NOTHING",
        1,
    ),
    (
        "INSERT INTO instrument_latest (symbol, content, upstream_id)",
        " ON CONFLICT (symbol) DO UPDATE SET content=excluded.content,"
        " upstream_id=excluded.upstream_id",
        1,
    ),
    (
        'INSERT INTO symbol_events (symbol, stream, account, "offset", at)',
        " ON CONFLICT DO NOTHING",
        4,
    ),
    (
        'INSERT INTO execution_bodies ("offset", rendering, firm, account, symbol, exec_type,'
        " body)",
        " ON CONFLICT DO NOTHING",
        2,
    ),
)


def _write_memory(conn: Connection, memory: MemoryRows) -> None:
    """New events' memory, one insert per table, rows in event order, as if each row were
    its own statement: a later row of the same order sees the earlier one
    (:func:`_insert_in_runs`)."""
    tables = (
        memory.orders, memory.fills, memory.busts, memory.instruments, memory.symbols,
        memory.bodies,
    )  # fmt: skip
    for (head, tail, key_width), rows in zip(_MEMORY_STATEMENTS, tables, strict=True):
        _insert_in_runs(conn, head, tail, key_width, rows)


def _insert_in_runs(
    conn: Connection,
    head: LiteralString,
    tail: LiteralString,
    key_width: int,
    rows: Sequence[Sequence[object]],
) -> None:
    """``rows`` in order through an INSERT with a conflict clause, as many-row statements
    none of which holds one key twice (the key: the first ``key_width`` columns, as the
    database compares them). PostgreSQL runs a statement's rows as one command, where an
    upsert may not touch one row twice; cut where a key comes again, the statements one
    after the other give what one statement per row gives."""
    run: list[Sequence[object]] = []
    keys: set[tuple[object, ...]] = set()
    for row in rows:
        key = tuple(nul_safe(v) if isinstance(v, str) else v for v in row[:key_width])
        if key in keys:
            _insert(conn, head, run, tail)
            run, keys = [], set()
        run.append(row)
        keys.add(key)
    _insert(conn, head, run, tail)


# The protocol's limit on one statement's parameters.
_MAX_PARAMETERS = 65535


def _insert(
    conn: Connection,
    head: LiteralString,
    rows: Sequence[Sequence[object]],
    tail: LiteralString = "",
) -> None:
    """``{head} VALUES ...{tail}`` of ``rows`` in order, as statements of many rows each
    (journal/bulk_insert.py): one exchange with the server per chunk, each whole, never
    psycopg's pipelined executemany: a writer frozen between two statements leaves its
    transaction idle, where the fence's idle timeout ends it, instead of in the middle of a
    pipeline, where the server waits for the rest with no timeout at all, holding the lease
    row against any takeover. Only for rows of which no two can conflict with each other:
    a statement's rows are one command to PostgreSQL (:func:`_insert_in_runs` cuts them)."""
    if not rows:
        return
    width = len(rows[0])
    for chunk in chunked(rows, _MAX_PARAMETERS // width):
        statement = values_statement(head, width, len(chunk), tail, "%s")
        conn.execute(statement, [v for row in chunk for v in row])


def _insert_log(conn: Connection, entries: Sequence[LogEntry]) -> None:
    if not entries:
        return
    _insert(
        conn,
        "INSERT INTO message_log (session_id, direction, epoch, seq, sending_time,"
        " logged_at, msg_type, raw)",
        [
            (e.session_id, e.direction, e.epoch, e.seq, e.sending_time, e.logged_at_ns,
             e.msg_type, e.raw)
            for e in entries
        ],
    )  # fmt: skip


def _save_sequence_numbers(
    session_id: str,
    next_sender_seq: int,
    next_target_seq: int,
    at_ns: int,
    reset: bool,
    log: Sequence[LogEntry],
) -> Callable[[Connection], None]:
    def work(conn: Connection) -> None:
        if reset:
            conn.execute("DELETE FROM outbound WHERE session_id=%s", (session_id,))
            conn.execute("DELETE FROM sent_ranges WHERE session_id=%s", (session_id,))
            conn.execute(
                "UPDATE sessions SET reset_epoch=reset_epoch + 1 WHERE session_id=%s",
                (session_id,),
            )
        conn.execute(
            "UPDATE sessions SET next_sender_seq=%s, next_target_seq=%s, updated_at=%s"
            " WHERE session_id=%s",
            (next_sender_seq, next_target_seq, at_ns, session_id),
        )
        _insert_log(conn, log)

    return work


def _record_sent(
    session_id: str,
    messages: Sequence[OutboundMessage],
    next_sender_seq: int,
    cursor_offset: int | None,
    at_ns: int,
    after_offset: int | None,
    log: Sequence[LogEntry],
) -> Callable[[Connection], None]:
    """Store sequenced messages and move the cursor, together (``SessionStore.submit_sent``);
    the session's row is locked first, so the cursor check and the move are one step."""
    moves = cursor_offset is not None and cursor_offset != after_offset

    def work(conn: Connection) -> None:
        stored = conn.execute(
            "SELECT cursor_offset FROM sessions WHERE session_id=%s FOR UPDATE", (session_id,)
        ).fetchone()
        if moves and stored is not None and after_offset not in (None, int(stored[0])):
            raise CursorMoved(
                f"session {session_id}: the stored cursor is {stored[0]}, not the"
                f" {after_offset} this batch was rendered from"
            )
        _insert(
            conn,
            "INSERT INTO outbound (session_id, seq, msg_type, sending_time, body)",
            [(session_id, m.seq, m.msg_type, m.sending_time, m.body) for m in messages],
        )
        if after_offset is not None and messages:
            conn.execute(
                "INSERT INTO sent_ranges (session_id, first_seq, last_seq, after_offset,"
                " cursor_offset, sending_time, digest) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    session_id, messages[0].seq, messages[-1].seq, after_offset,
                    after_offset if cursor_offset is None else cursor_offset,
                    messages[0].sending_time,
                    sent_digest((m.msg_type, m.body) for m in messages),
                ),
            )  # fmt: skip
        if moves:
            conn.execute(
                "UPDATE sessions SET next_sender_seq=%s, cursor_offset=%s, updated_at=%s"
                " WHERE session_id=%s",
                (next_sender_seq, cursor_offset, at_ns, session_id),
            )
        else:  # the cursor is not this write's: whatever moved it last keeps it
            conn.execute(
                "UPDATE sessions SET next_sender_seq=%s, updated_at=%s WHERE session_id=%s",
                (next_sender_seq, at_ns, session_id),
            )
        _insert_log(conn, log)

    return work


def _rewind(
    session_id: str, next_sender_seq: int, cursor_offset: int, forget_from: int, at_ns: int
) -> Callable[[Connection], None]:
    def work(conn: Connection) -> None:
        conn.execute(
            "DELETE FROM outbound WHERE session_id=%s AND seq >= %s", (session_id, forget_from)
        )
        conn.execute(
            "DELETE FROM sent_ranges WHERE session_id=%s AND last_seq >= %s",
            (session_id, forget_from),
        )
        conn.execute(
            "UPDATE sessions SET next_sender_seq=%s, cursor_offset=%s, updated_at=%s"
            " WHERE session_id=%s",
            (next_sender_seq, cursor_offset, at_ns, session_id),
        )

    return work


def _mark_writable(at_ns: int) -> Callable[[Connection], None]:
    return _statement(
        "INSERT INTO meta (key, value) VALUES ('writable_at', %s)"
        " ON CONFLICT (key) DO UPDATE SET value=excluded.value",
        (str(at_ns),),
    )


def _prune_events(
    after_offset: int,
    up_to_offset: int,
    received_before_ns: int,
    limit: int,
    streams: Collection[str],
    settled: dict[str, bool],
) -> Callable[[Connection], Pruned]:
    """Retention's removal, by the rules the embedded journal keeps (``journal/retention.py``):
    never the newest indexed event of its symbol, stream and account, nor the newest version
    of a trade, nor a position in a symbol whose final resolution was not journaled before
    the cut-off."""

    def work(conn: Connection) -> Pruned:
        rows = conn.execute(
            'SELECT "offset", stream, upstream_id FROM events WHERE "offset" > %s'
            ' AND "offset" <= %s AND received_at < %s AND stream = ANY(%s)'
            ' ORDER BY "offset" LIMIT %s',
            (after_offset, up_to_offset, received_before_ns, list(streams), limit),
        ).fetchall()
        if not rows:
            return Pruned(0, None)
        first, last = int(rows[0][0]), int(rows[-1][0])
        newest = [
            int(r[0])
            for r in conn.execute(
                'SELECT x."offset" FROM symbol_events x WHERE x."offset" BETWEEN %s AND %s'
                " AND NOT EXISTS (SELECT 1 FROM symbol_events y WHERE y.symbol = x.symbol"
                ' AND y.stream = x.stream AND y.account = x.account AND y."offset" > x."offset")',
                (first, last),
            )
        ]
        positions = [
            (int(offset), str(symbol))
            for offset, symbol in conn.execute(
                'SELECT "offset", symbol FROM symbol_events WHERE "offset" BETWEEN %s AND %s'
                " AND stream = 'positions'",
                (first, last),
            ).fetchall()
        ]
        doomed = removable(
            [(int(o), str(st), str(u)) for o, st, u in rows], newest, positions, settled,
            lambda symbol: _settled_before(conn, symbol, received_before_ns),
            lambda upstream_id, offset: _later_version(conn, upstream_id, offset),
        )  # fmt: skip
        conn.execute('DELETE FROM symbol_events WHERE "offset" = ANY(%s)', (doomed,))
        conn.execute('DELETE FROM execution_bodies WHERE "offset" = ANY(%s)', (doomed,))
        conn.execute('DELETE FROM events WHERE "offset" = ANY(%s)', (doomed,))
        return Pruned(len(doomed), last if len(rows) == limit else None)

    return work


def _later_version(conn: Connection, upstream_id: str, offset: int) -> bool:
    trade_id = upstream_id.partition(":")[0]
    row = conn.execute(
        "SELECT 1 FROM events WHERE stream='trades' AND upstream_id >= %s AND upstream_id < %s"
        ' AND "offset" > %s LIMIT 1',
        (f"{trade_id}:", f"{trade_id};", offset),
    ).fetchone()
    return row is not None


def _settled_before(conn: Connection, symbol: str, received_before_ns: int) -> bool:
    for (payload,) in conn.execute(
        'SELECT e.payload FROM symbol_events x JOIN events e ON e."offset" = x."offset"'
        " WHERE x.symbol = %s AND x.stream = 'settlements' AND e.received_at < %s"
        " AND e.flagged IS NULL",
        (symbol, received_before_ns),
    ):
        settlement = Settlement.from_payload(bytes(payload))
        if settlement.resolution and not settlement.preliminary:
            return True
    return False


def _prune_sent(session_id: str, sent_before: str, limit: int) -> Callable[[Connection], Pruned]:
    def work(conn: Connection) -> Pruned:
        oldest = conn.execute(
            "SELECT seq, sending_time FROM outbound WHERE session_id=%s ORDER BY seq LIMIT 1",
            (session_id,),
        ).fetchone()
        if oldest is None or str(oldest[1]) >= sent_before:
            return Pruned(0, None)
        below = int(oldest[0]) + limit
        straddling = conn.execute(
            "SELECT last_seq FROM sent_ranges WHERE session_id=%s AND first_seq < %s"
            " AND last_seq >= %s",
            (session_id, below, below),
        ).fetchone()
        if straddling is not None:
            below = int(straddling[0]) + 1  # the batch goes whole
        removed = conn.execute(
            "DELETE FROM outbound WHERE session_id=%s AND seq < %s AND sending_time < %s",
            (session_id, below, sent_before),
        ).rowcount
        conn.execute(
            "DELETE FROM sent_ranges WHERE session_id=%s AND last_seq < %s"
            " AND sending_time < %s",
            (session_id, below, sent_before),
        )
        return Pruned(removed, below)

    return work


def _mark_possibly_sent(session_id: str, before_ns: int) -> Callable[[Connection], None]:
    """Events before exchange time ``before_ns`` may have been sent already (only forward)."""
    return _statement(
        "UPDATE sessions SET resent_before=GREATEST(resent_before, %s) WHERE session_id=%s",
        (before_ns, session_id),
    )


def _replay_from(
    session_id: str, cursor_offset: int, possibly_sent_before_ns: int
) -> Callable[[Connection], None]:
    return _statement(
        "UPDATE sessions SET cursor_offset=LEAST(cursor_offset, %s),"
        " resent_before=GREATEST(resent_before, %s) WHERE session_id=%s",
        (cursor_offset, possibly_sent_before_ns, session_id),
    )


def _log_messages(entries: Sequence[LogEntry]) -> Callable[[Connection], None]:
    def work(conn: Connection) -> None:
        _insert_log(conn, entries)

    return work


def _prune_log(logged_before_ns: int, limit: int) -> Callable[[Connection], Pruned]:
    """Remove up to ``limit`` of the oldest message-log rows logged before the cut-off."""

    def work(conn: Connection) -> Pruned:
        removed = conn.execute(
            "DELETE FROM message_log WHERE id IN (SELECT id FROM message_log"
            " WHERE logged_at < %s ORDER BY logged_at LIMIT %s)",
            (logged_before_ns, limit),
        ).rowcount
        return Pruned(removed, 0 if removed == limit else None)

    return work


class _PostgresJobs:
    """PostgreSQL's write jobs (``journal/writes.py``)."""

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


_JOBS = _PostgresJobs()
