"""The PostgreSQL journal's database: its connections, its schema, and the fence and seal of
every write transaction (``journal/remote_commit.py``'s ``Database``).

Connections are UTF-8 end to end (a database in another encoding is refused: text would not
read back as it was written, nor sort by the same bytes as in SQLite), keep at least local
durability at COMMIT (``synchronous_commit`` off is raised to on), and bound every wait
(``fixbridge/pg.py``). The schema is created once, under an advisory lock; a journal whose
schema is current is opened without a lock or a DDL statement, so a bridge starting never
holds up the active bridge's writes.

Never logs or returns the DSN or its password; never writes outside a fenced transaction
except the schema.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, LiteralString

import psycopg
import psycopg.errors
from psycopg.types.string import StrDumperUnknown

from fixbridge.journal.store import JournalError
from fixbridge.pg import connect_kwargs, parse_dsn, text_of

log = logging.getLogger("fixbridge.journal")

Connection = psycopg.Connection[Any]
Fence = Callable[[Connection], None]

SCHEMA_VERSION = 2
# Versions the schema script brings up to SCHEMA_VERSION by creating what they lack (every
# statement of it is IF NOT EXISTS): version 2 adds execution_bodies.
_UPGRADABLE = frozenset({1})
TIMEOUT_S = 5.0  # bounds every statement and every wait on the network
SETTLE_WAIT_S = 10.0  # how long a lost COMMIT's server process may take to end
# Creating the schema takes this transaction-scoped advisory lock: two bridges starting at
# once do not race their CREATEs.
_SCHEMA_LOCK = 0x66697862  # "fixb"
_WRITER_LOCK = 0x66697877  # "fixw": the one writer of a journal no lease guards
LOCK_WAIT_S = 5.0
_SEAL = (
    "INSERT INTO journal_rounds (writer, round) VALUES (%s, %s)"
    " ON CONFLICT (writer) DO UPDATE SET round = excluded.round"
)
_COMMITTED_LOCALLY = "already committed locally"


def nul_safe(text: str) -> str:
    """``text`` as a text column holds it (U+0000 as U+FFFD)."""
    return text.replace("\x00", "\ufffd")


class NulSafeText(StrDumperUnknown):
    """Text parameters with U+0000 (which PostgreSQL text cannot hold) as U+FFFD: a value
    from a peer that carries one is stored, and found again, instead of failing its write."""

    def dump(self, obj: str) -> Any:
        return super().dump(nul_safe(obj))


def _no_fence(conn: Connection) -> None:
    """A journal no lease guards (one bridge alone on the database)."""


class JournalDatabase:
    """Connections to the journal's database, for the reader, the committer and one-offs."""

    def __init__(self, dsn: str, schema: LiteralString, *, fence: Fence | None = None) -> None:
        try:
            settings = parse_dsn(dsn)
        except ValueError as exc:
            raise JournalError(str(exc)) from None
        self._dsn = dsn
        self._password = str(settings.get("password") or "")
        host = settings.get("host") or "localhost"
        port = settings.get("port")
        self.where = f"postgresql {settings.get('dbname', '')}@{host}{':' + port if port else ''}"
        self._schema = schema
        self._fence: Fence = fence or _no_fence
        # This process's writer: the seal of its transactions (journal_rounds) is under it.
        self._writer = f"{time.time_ns():x}-{id(self):x}"
        self._started: dict[int, Any] = {}  # write connections' server processes: pid -> start

    def text(self, exc: BaseException) -> str:
        return text_of(exc, self._password)

    def failed(self, exc: psycopg.Error) -> JournalError:
        return JournalError(f"journal {self.where} is not writable: {self.text(exc)}")

    def unreadable(self, exc: psycopg.Error) -> JournalError:
        return JournalError(f"cannot read journal {self.where}: {self.text(exc)}")

    # --- connections ----------------------------------------------------------------------------

    def open(self, *, autocommit: bool, purpose: str, timeout_s: float = TIMEOUT_S) -> Connection:
        """A connection checked to be UTF-8, with local durability at least at COMMIT, whose
        text parameters are NUL-safe (:class:`NulSafeText`)."""
        settings = connect_kwargs(self._dsn, timeout_s, purpose)
        settings["client_encoding"] = "UTF8"
        conn = psycopg.connect(self._dsn, autocommit=True, **settings)
        try:
            row = conn.execute(
                "SELECT current_setting('server_encoding'), current_setting('synchronous_commit')"
            ).fetchone()
            assert row is not None
            if row[0] != "UTF8":
                raise JournalError(
                    f"journal {self.where}: the database's encoding is {row[0]}; fixbridge"
                    " needs UTF8 (CREATE DATABASE ... ENCODING 'UTF8')"
                )
            if row[1] == "off":  # an acknowledged write must survive the server's crash
                conn.execute("SET synchronous_commit = on")
            conn.add_notice_handler(self._notice)
            conn.adapters.register_dumper(str, NulSafeText)
            conn.autocommit = autocommit
        except BaseException:
            conn.close()
            raise
        return conn

    def connect(self) -> Connection:
        conn = self.open(autocommit=False, purpose="fixbridge-journal")
        # Which server process this is, beyond its pid (a pid is reused, and after a failover
        # of the database the same number may be another server's): settle() ends only it.
        row = conn.execute(
            "SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
        ).fetchone()
        conn.commit()
        if row is not None:
            self._started[conn.info.backend_pid] = row[0]
        return conn

    def _notice(self, diagnostic: psycopg.errors.Diagnostic) -> None:
        text = diagnostic.message_primary or ""
        if _COMMITTED_LOCALLY in text:
            # A synchronous replica never confirmed a COMMIT and its wait was cancelled: the
            # write is on the primary only, and a failover of the database could lose it.
            log.error("journal %s: a write %s (the database said: %s)", self.where,
                      "is not confirmed by the synchronous replica", text)  # fmt: skip

    def hold_alone(self) -> Connection:
        """Without a lease, one bridge alone may write the journal (as SQLite's lock file
        keeps it): a session-level advisory lock, held by the connection returned until it
        closes (the server frees it when the process dies). A lock still held after
        ``LOCK_WAIT_S`` (a process just killed is given that long to be noticed) is refused."""
        conn = self.open(autocommit=True, purpose="fixbridge-journal-lock")
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (_WRITER_LOCK,)).fetchone()
            if row is not None and row[0]:
                return conn
            if time.monotonic() > deadline:
                conn.close()
                raise JournalError(
                    f"journal {self.where} is in use by another fixbridge process (without"
                    " [ha], one bridge alone writes it)"
                )
            time.sleep(0.1)

    def create_schema(self) -> None:
        """The tables, once; a journal already at this version is left untouched, one at an
        earlier version gets the tables it lacks."""
        with self.open(autocommit=True, purpose="fixbridge-journal") as conn:
            if self._current(conn):
                return
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                conn.execute(self._schema)
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', %s)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                    " WHERE meta.value = ANY(%s)",  # never down from a later version
                    (str(SCHEMA_VERSION), [str(v) for v in sorted(_UPGRADABLE)]),
                )
                self._current(conn)

    def _current(self, conn: Connection) -> bool:
        """Whether the schema exists at this version (raises at a version the schema script
        cannot bring up to it)."""
        exists = conn.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()
        if exists is None or not exists[0]:
            return False
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            return False
        if int(row[0]) in _UPGRADABLE:
            return False
        if int(row[0]) != SCHEMA_VERSION:
            raise JournalError(
                f"journal {self.where} has schema version {row[0]},"
                f" this fixbridge reads version {SCHEMA_VERSION}"
            )
        return True

    # --- the committer's transactions -------------------------------------------------------

    def begin(self, conn: Connection) -> None:
        """The fence; without one, a statement all the same, so that a connection the server
        ended while it was idle shows before anything of the transaction was sent."""
        if self._fence is _no_fence:
            conn.execute("SELECT 1")
        else:
            self._fence(conn)

    def seal(self, conn: Connection, number: int) -> None:
        conn.execute(_SEAL, (self._writer, number))

    def settle(self, number: int, backend_pid: int) -> bool:
        """Whether our transaction ``number`` committed: its server process is ended first
        (a process still waiting to commit might yet do so), then the seal read."""
        started = self._started.pop(backend_pid, None)
        with self.open(autocommit=True, purpose="fixbridge-journal-settle") as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE pid = %s AND backend_start = %s",
                (backend_pid, started),
            )
            deadline = time.monotonic() + SETTLE_WAIT_S
            while conn.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND backend_start = %s",
                (backend_pid, started),
            ).fetchone():
                if time.monotonic() > deadline:
                    raise JournalError(f"server process {backend_pid} did not end")
                time.sleep(0.05)
            row = conn.execute(
                "SELECT round FROM journal_rounds WHERE writer = %s", (self._writer,)
            ).fetchone()
        return row is not None and int(row[0]) >= number
