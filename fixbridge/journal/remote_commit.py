"""Group commit for a journal across the network: each round's whole transaction, statements
and COMMIT, runs on the committer thread, so the event loop never waits for the database.

The rules of ``journal/commit.py`` hold unchanged (answered only once committed, one failing
job undoes only itself, rounds in order, the cancellation rules), and these are added:
- Every transaction, a round's or a synchronous writer's, runs the database's ``begin``
  first (the fence): when it raises, nothing of the transaction is kept and every job of it
  fails with that error. A connection found dead at ``begin`` (the server or a firewall
  ended it while idle) is replaced once and ``begin`` run again: nothing had been sent.
- Every step (``begin``, each job, COMMIT) must end within ``step_s``, or the connection is
  cut (``journal/pg_deadline.py``): no round waits for ever on a silent network or a
  synchronous replica that never answers.
- Each transaction is sealed with its number last (``seal``). A COMMIT whose answer was lost
  (the connection broke) may have committed: ``settle`` says whether it did, once the server
  has surely finished with it, and a round that did is answered as committed. If it cannot
  be known, every job fails as in doubt.
- A connection that broke is dropped and the next transaction opens a new one.

Never runs a statement on the event loop thread; never retries a job (its caller decides).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

import psycopg

from fixbridge.journal.commit import RoundQueue, _fail, _Job
from fixbridge.journal.pg_deadline import Deadlines
from fixbridge.journal.store import JournalError

log = logging.getLogger("fixbridge.journal")

T = TypeVar("T")
Connection = psycopg.Connection[Any]
Work = Callable[[Connection], T]


class JournalClosed(JournalError):
    """A write handed to a journal already closed."""


class Database(Protocol):
    """What the committer needs of the journal's database."""

    def connect(self) -> Connection:
        """A new write connection (not autocommit)."""
        ...

    def begin(self, conn: Connection) -> None:
        """First in every transaction: the fence."""
        ...

    def seal(self, conn: Connection, number: int) -> None:
        """Last in every transaction: record that transaction ``number`` committed."""
        ...

    def settle(self, number: int, backend_pid: int) -> bool:
        """After a COMMIT whose answer was lost: whether transaction ``number`` committed,
        once the server process ``backend_pid`` that ran it has surely ended. Raises when
        that cannot be known."""
        ...

    def failed(self, exc: psycopg.Error) -> Exception:
        """A database error as the journal's callers understand it."""
        ...


class RemoteGroupCommit(RoundQueue[Connection]):
    """The write side of a PostgreSQL journal: one connection, one committer thread."""

    def __init__(self, database: Database, *, step_s: float) -> None:
        super().__init__()
        self._db = database
        self._step_s = step_s
        self._deadlines = Deadlines("journal-commit-deadline")
        self._numbers = itertools.count(1)
        self._conn: Connection | None = None
        self._lock = threading.Lock()  # held for a whole transaction
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="journal-commit")

    def _closed_error(self) -> Exception:
        return JournalClosed("the journal is closed")

    def _start_round(self, loop: asyncio.AbstractEventLoop) -> None:
        jobs = self._take_round()
        if not jobs:
            self._next_round(loop)
            return
        for job in jobs:
            job.begun = True
        try:
            running = loop.run_in_executor(self._executor, self._round, jobs)
        except RuntimeError as exc:  # the committer was shut down: the journal is closed
            for job in jobs:
                _fail(job.future, JournalClosed(str(exc)))
            self._next_round(loop)
            return
        running.add_done_callback(lambda done: self._finish_round(loop, jobs, done))

    def _round(self, jobs: list[_Job[Any]]) -> list[tuple[Any, BaseException | None]]:
        """On the committer thread: the round's transaction, each job in a savepoint."""
        with self._transaction() as (conn, step):
            outcomes: list[tuple[Any, BaseException | None]] = []
            for job in jobs:
                step()
                conn.execute("SAVEPOINT job")
                try:
                    result = job.work(conn)
                except Exception as exc:
                    if conn.broken:
                        raise  # the connection is gone, and the transaction with it
                    conn.execute("ROLLBACK TO SAVEPOINT job")
                    conn.execute("RELEASE SAVEPOINT job")
                    outcomes.append((None, exc))
                else:
                    conn.execute("RELEASE SAVEPOINT job")
                    outcomes.append((result, None))
            return outcomes

    def _finish_round(
        self,
        loop: asyncio.AbstractEventLoop,
        jobs: list[_Job[Any]],
        running: asyncio.Future[list[tuple[Any, BaseException | None]]],
    ) -> None:
        failure: BaseException | None = (
            JournalClosed("the round did not run (committer stopped)")
            if running.cancelled()
            else running.exception()
        )
        self._counted(len(jobs))
        if failure is not None:
            for job in jobs:
                _fail(job.future, self._told(failure))
        else:
            for job, (result, error) in zip(jobs, running.result(), strict=True):
                if error is not None:
                    _fail(job.future, self._told(error))
                elif not job.future.done():
                    job.future.set_result(result)
        self._next_round(loop)

    def _told(self, error: BaseException) -> BaseException:
        """A database error as the caller understands it; any other error as it is."""
        if isinstance(error, psycopg.Error):
            told = self._db.failed(error)
            told.__cause__ = error
            return told
        return error

    # --- transactions -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[tuple[Connection, Callable[[], None]]]:
        """One transaction, fenced first and sealed last: all of it commits, or none of it
        (rules: module doc). Yields the connection and the call that starts a new step."""
        with self._lock:
            conn = self._begun()
            number = next(self._numbers)
            with self._deadlines.bounded(conn, self._step_s) as step:
                try:
                    yield conn, step
                    step()
                    self._db.seal(conn, number)
                except BaseException:
                    self._end(conn)
                    raise
                pid = conn.info.backend_pid
                try:
                    step()
                    conn.commit()
                except psycopg.OperationalError as exc:
                    self._end(conn)
                    if not conn.broken:
                        raise
                    self._settle(number, pid, exc)
                except BaseException:
                    self._end(conn)
                    raise

    def _begun(self) -> Connection:
        """A connection with ``begin`` done; one found dead is replaced, once."""
        conn = self._connection()
        try:
            with self._deadlines.bounded(conn, self._step_s):
                self._db.begin(conn)
            return conn
        except BaseException as exc:
            self._end(conn)  # a refused fence leaves no transaction open
            if not (isinstance(exc, psycopg.OperationalError) and conn.broken):
                raise
        conn = self._connection()
        try:
            with self._deadlines.bounded(conn, self._step_s):
                self._db.begin(conn)
        except BaseException:
            self._end(conn)
            raise
        return conn

    def _settle(self, number: int, pid: int, lost: psycopg.OperationalError) -> None:
        """The answer to transaction ``number``'s COMMIT was lost: return if it committed,
        raise if it did not or cannot be known."""
        try:
            committed = self._db.settle(number, pid)
        except Exception as exc:
            why = self._db.failed(exc) if isinstance(exc, psycopg.Error) else exc
            raise JournalError(
                "the journal's connection was lost at COMMIT and whether it committed cannot"
                f" be known ({self._db.failed(lost)}; {why})"
            ) from lost
        if not committed:
            raise lost
        log.warning("the journal's connection was lost at COMMIT; the write had committed")

    def _connection(self) -> Connection:
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                conn.close()
            conn = self._conn = self._db.connect()
        return conn

    def _end(self, conn: Connection) -> None:
        """Roll back what a failed transaction left; a broken connection is dropped."""
        if conn.broken or conn.closed:
            conn.close()
            self._conn = None
            return
        try:
            conn.rollback()
        except psycopg.Error:
            conn.close()
            self._conn = None

    # --- synchronous writers ------------------------------------------------------------------

    def run_sync(self, work: Work[T]) -> T:
        """One transaction of the caller's own (start-up, tools, tests), serialized with the
        rounds; blocks until committed."""
        if self._closed:
            raise JournalClosed("the journal is closed")
        try:
            with self._transaction() as (conn, _):
                return work(conn)
        except psycopg.Error as exc:
            raise self._told(exc) from exc

    def close(self) -> None:
        """Wait for the round in flight, fail the jobs not yet begun, close the connection."""
        self._fail_pending()
        self._executor.shutdown(wait=True)
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        self._deadlines.close()
