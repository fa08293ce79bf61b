"""Group commit: the journal's writes from every stream and every session made durable by one
COMMIT per round, and that COMMIT (the fsync) run off the event loop thread.

Writers on the event loop hand in jobs (a function of the write connection). A round opens
``BEGIN IMMEDIATE`` on the loop thread and runs every job waiting at that moment, each inside
its own SAVEPOINT; then the COMMIT runs on the committer thread while the loop goes on. Jobs
handed in meanwhile wait for the next round, which starts as soon as this one has committed:
under load rounds grow by themselves, idle a round is one job and no wait is added.

Rules:
- A job's waiter is answered only after the COMMIT that holds its job returned: durable before
  acknowledged, durable before written (invariants 1 and 3 of docs/architecture.md). If the
  COMMIT fails, the round is rolled back and every job in it fails with that error.
- One job failing undoes that job only (its savepoint); the others of the round commit. When
  SQLite itself rolls the whole transaction back on a job's error (a full disk, an I/O error),
  every job of the round fails with that error.
- Rounds are ordered: a job handed in later never commits before one handed in earlier.
- A job's statements run on the loop thread; only the COMMIT leaves it, so no statement waits
  for the interpreter lock held by another thread, and the loop never waits for an fsync.
- A job whose waiter was cancelled before its round began is not run. A waiter cancelled once
  its round has begun waits for that round's outcome before the cancellation reaches it: when
  it unwinds, its job is either committed or not going to be, never still in flight (a caller
  that gives up, e.g. a session's pump on disconnect, must not see its write land later).
- Synchronous writers (start-up, tools, tests) use :meth:`GroupCommit.run_sync`: one
  transaction of their own, serialized with the rounds by the same lock.
- Riders (:data:`BeforeCommit`): after a round's jobs, and before its COMMIT, the committer
  may ask for more work of the same transaction (a session's batch of the events just
  appended). Each rider runs in its own savepoint as a job does, and is told its outcome once
  the round has ended (committed, failed or refused), before the round's waiters are answered;
  a rider is never run outside a round nor told twice: a round whose transaction ended while
  its riders were made (an I/O error in a read) fails as a whole, every job and rider with
  it.
- The committer is one thread of its own (:class:`CommitterThread`), handed each COMMIT
  through a C queue and answering through ``call_soon_threadsafe``: a round trip costs about
  a third less CPU than ``run_in_executor``'s (its futures and Python-level locks), and every
  round pays one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
C = TypeVar("C")  # a backend's write connection
Work = Callable[[sqlite3.Connection], T]

log = logging.getLogger("fixbridge.journal")

# Work of the round's transaction that no waiter handed in, and what to tell its outcome to
# (None once committed; else what failed it), called on the loop when the round has ended.
Rider = tuple[Callable[[sqlite3.Connection], object], Callable[[BaseException | None], None]]
# Asked after a round's jobs, before its COMMIT: the riders of that round (possibly none).
BeforeCommit = Callable[[sqlite3.Connection], Sequence[Rider]]

MAX_ROUND_JOBS = 2000  # bounds one transaction's size (and the time the loop spends in it)
_BUSY_RETRY_S = 0.0005  # a synchronous writer holds the journal: try the round again soon


@dataclass(slots=True)
class _Job(Generic[T]):
    work: Callable[[Any], T]  # a function of the backend's write connection
    future: asyncio.Future[T]
    begun: bool = False  # its round has begun: its statements ran or are about to
    # What its waiter awaits (the result, shielded); cancelled at once by a cancelled waiter.
    waiter: asyncio.Future[T] | None = None

    @property
    def abandoned(self) -> bool:
        """Its waiter was cancelled before its round began: it is not to be run."""
        return not self.begun and self.waiter is not None and self.waiter.cancelled()


class Submitted(Generic[T]):
    """A job handed in: await :meth:`result`, or :meth:`withdraw` it."""

    def __init__(self, job: _Job[T]) -> None:
        self._job = job

    async def result(self) -> T:
        """The job's result once its round has committed (rules: module doc, cancellation)."""
        job = self._job
        assert job.waiter is not None
        try:
            return await job.waiter
        except asyncio.CancelledError:
            if not job.begun:
                raise
            # In a round already: its outcome first, then the cancellation.
            with contextlib.suppress(Exception):
                await asyncio.shield(job.future)
            raise

    async def withdraw(self) -> bool:
        """Give the job up: not run if its round has not begun, else its round's outcome
        waited for (a cancellation of this wait leaves the job as it is: call again). True
        when it committed all the same."""
        job = self._job
        waiter = job.waiter
        assert waiter is not None
        if not job.begun:
            waiter.cancel()
            return False
        try:
            await asyncio.shield(job.future)
        except asyncio.CancelledError:
            raise
        except Exception:
            return False
        finally:
            if waiter.done() and not waiter.cancelled():
                waiter.exception()  # its outcome is known here: asyncio need not report it
        return True


@dataclass(slots=True)
class RoundStats:
    """Counted by the committer; read by the metrics."""

    rounds: int = 0
    jobs: int = 0
    last_round_jobs: int = 0


class RoundQueue(Generic[C]):
    """The jobs the event loop hands in, gathered into rounds: what every committer shares
    (rules: module doc). A committer says how a round runs (``_start_round``) and which error
    a closed journal raises (``_closed_error``)."""

    def __init__(self) -> None:
        self._pending: list[_Job[Any]] = []
        self._round_scheduled = False
        self._closed = False
        self.stats = RoundStats()

    def _closed_error(self) -> Exception:
        raise NotImplementedError

    def _start_round(self, loop: asyncio.AbstractEventLoop) -> None:
        raise NotImplementedError

    async def run(self, work: Callable[[C], T]) -> T:
        """Run ``work`` in the next round; its result once that round has committed."""
        return await self.submit(work).result()

    def submit(self, work: Callable[[C], T]) -> Submitted[T]:
        """Hand in ``work`` for the next round now, to be awaited later (a caller that has
        more to do while the round commits). Called from a coroutine on the loop."""
        if self._closed:
            raise self._closed_error()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        job = _Job(work, future)
        job.waiter = asyncio.shield(future)
        self._pending.append(job)
        if not self._round_scheduled:
            self._round_scheduled = True
            # call_soon: the callbacks already ready in this loop pass join the round.
            loop.call_soon(self._start_round, loop)
        return Submitted(job)

    def _take_round(self) -> list[_Job[Any]]:
        """The next round's jobs, in order (those abandoned before it began left out)."""
        jobs = [job for job in self._pending[:MAX_ROUND_JOBS] if not job.abandoned]
        del self._pending[:MAX_ROUND_JOBS]
        return jobs

    def _next_round(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._pending:
            loop.call_soon(self._start_round, loop)
        else:
            self._round_scheduled = False

    def _counted(self, jobs: int) -> None:
        stats = self.stats
        stats.rounds += 1
        stats.jobs += jobs
        stats.last_round_jobs = jobs

    def _fail_pending(self) -> None:
        """Closing: the jobs not yet begun fail."""
        self._closed = True
        pending, self._pending = self._pending, []
        for job in pending:
            _fail(job.future, self._closed_error())


Answer = Callable[[BaseException | None], None]


class CommitterStopped(RuntimeError):
    """The committer thread was stopped: nothing more is run on it."""


class CommitterThread:
    """A thread that runs each function handed to it, in order, and gives its outcome (None,
    or what it raised) to a callback on the event loop it came from. Started by the first
    function handed in (a journal only read, or written synchronously, has none).

    Used from the event loop's thread only (``run`` and ``stop`` take no lock). A daemon
    thread: a process that exits without :meth:`stop` may cut a COMMIT short, which SQLite
    then never counts as committed, and whose waiters were never answered (as a SIGKILL)."""

    def __init__(self, name: str) -> None:
        self._inbox: queue.SimpleQueue[
            tuple[asyncio.AbstractEventLoop, Callable[[], None], Answer] | None
        ] = queue.SimpleQueue()
        self._stopped = False
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)

    def run(
        self, loop: asyncio.AbstractEventLoop, work: Callable[[], None], answer: Answer
    ) -> None:
        """Run ``work`` on the thread, then ``answer(outcome)`` on ``loop``. Refused
        (:class:`CommitterStopped`) once stopped, as an executor refuses after shutdown."""
        if self._stopped:
            raise CommitterStopped("the committer thread is stopped")
        if not self._thread.is_alive():
            self._thread.start()
        self._inbox.put((loop, work, answer))

    def stop(self) -> None:
        """Let the work handed in finish, then end the thread."""
        if not self._stopped:
            self._stopped = True
            if self._thread.is_alive():
                self._inbox.put(None)
                self._thread.join()

    def _serve(self) -> None:
        while True:
            item = self._inbox.get()
            if item is None:
                return
            loop, work, answer = item
            outcome: BaseException | None = None
            try:
                work()
            except BaseException as exc:  # handed to the waiting round, as an executor does
                outcome = exc
            with contextlib.suppress(RuntimeError):  # the loop is closed: no one is waiting
                loop.call_soon_threadsafe(answer, outcome)


class GroupCommit(RoundQueue[sqlite3.Connection]):
    """The write side of one SQLite connection (rules: module doc)."""

    def __init__(self, db: sqlite3.Connection, before_commit: BeforeCommit | None = None) -> None:
        super().__init__()
        self._db = db
        self._before_commit = before_commit
        # The riders of the round under way, each with the error of its own work (None: none).
        self._riding: list[tuple[Callable[[BaseException | None], None], Exception | None]] = []
        self.rounds_begun = 0  # which round is under way (its BEGIN counted)
        self._lock = threading.Lock()  # held from BEGIN until the transaction has ended
        self._committer = CommitterThread("journal-commit")

    def _closed_error(self) -> Exception:
        return sqlite3.ProgrammingError("the journal is closed")

    def _start_round(self, loop: asyncio.AbstractEventLoop) -> None:
        jobs = self._take_round()
        if not jobs:
            self._next_round(loop)
            return
        if not self._lock.acquire(blocking=False):
            self._pending[:0] = jobs
            loop.call_later(_BUSY_RETRY_S, self._start_round, loop)
            return
        for job in jobs:
            job.begun = True
        try:
            outcomes = self._run_jobs(jobs)
        except BaseException as exc:  # the round cannot go on: none of it is kept
            self._rollback()
            self._lock.release()
            self._end_ride(exc)
            for job in jobs:
                _fail(job.future, exc)
            self._next_round(loop)
            if not isinstance(exc, Exception):
                raise
            return
        try:
            self._committer.run(
                loop, self._commit, lambda failure: self._finish_round(loop, outcomes, failure)
            )
        except BaseException as exc:  # no COMMIT will run: none of the round is kept
            self._rollback()
            self._lock.release()
            if isinstance(exc, CommitterStopped):  # closed: so is every later write
                self._end_ride(self._closed_error())
                for job in jobs:
                    _fail(job.future, self._closed_error())
                self._fail_pending()
                self._round_scheduled = False
                return
            self._end_ride(exc)
            for job in jobs:  # e.g. no thread could be started: the next round tries again
                _fail(job.future, exc)
            self._next_round(loop)
            if not isinstance(exc, Exception):
                raise

    def _run_jobs(self, jobs: list[_Job[Any]]) -> list[tuple[_Job[Any], Any, BaseException | None]]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        self.rounds_begun += 1
        outcomes: list[tuple[_Job[Any], Any, BaseException | None]] = []
        for job in jobs:
            result, error = self._run_one(db, job.work)
            outcomes.append((job, result, error))
        if self._before_commit is not None:
            self._ride(db, self._before_commit)
        return outcomes

    @staticmethod
    def _run_one(db: sqlite3.Connection, work: Work[T]) -> tuple[T | None, Exception | None]:
        """``work`` in a savepoint of its own: its result, or the error that undid it alone."""
        db.execute("SAVEPOINT job")
        try:
            result = work(db)
        except Exception as exc:
            if not db.in_transaction:
                # SQLite ended the whole transaction itself (disk full, I/O error): every
                # job of the round is lost, and fails with this job's error.
                raise
            db.execute("ROLLBACK TO job")
            db.execute("RELEASE job")
            return None, exc
        db.execute("RELEASE job")
        return result, None

    def _ride(self, db: sqlite3.Connection, before_commit: BeforeCommit) -> None:
        """The riders of this round, each run in a savepoint of its own. Every rider is
        registered before any runs, so a failure that ends the round is told to each."""
        try:
            riders = list(before_commit(db))
        except Exception:
            if not db.in_transaction:  # its statements ended the transaction: the round is lost
                raise
            log.exception("a write round's riders could not be made; it commits without them")
            return
        self._riding = [(done, None) for _, done in riders]
        if not db.in_transaction:  # a statement while they were made ended it (an I/O error)
            raise sqlite3.OperationalError(
                "the write transaction ended while the round's riders were made"
            )
        for index, (work, done) in enumerate(riders):
            self._riding[index] = (done, self._run_one(db, work)[1])

    def _end_ride(self, failure: BaseException | None) -> None:
        """The round has ended: each rider told its outcome (the round's failure, else its own
        error, else None), once."""
        riding, self._riding = self._riding, []
        for done, error in riding:
            try:
                done(failure if failure is not None else error)
            except Exception:
                log.exception("a rider of a write round failed on being told its outcome")

    def _commit(self) -> None:
        """On the committer thread: COMMIT (the fsync), or roll the round back."""
        try:
            self._db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        finally:
            self._lock.release()

    def _finish_round(
        self,
        loop: asyncio.AbstractEventLoop,
        outcomes: list[tuple[_Job[Any], Any, BaseException | None]],
        failure: BaseException | None,
    ) -> None:
        self._counted(len(outcomes))
        self._end_ride(failure)
        for job, result, error in outcomes:
            if failure is not None:
                _fail(job.future, failure)
            elif error is not None:
                _fail(job.future, error)
            elif not job.future.done():
                job.future.set_result(result)
        self._next_round(loop)

    def _rollback(self) -> None:
        """End a transaction left open by a failed statement or COMMIT (disk full, I/O error),
        so the next round starts clean instead of failing on BEGIN."""
        with contextlib.suppress(sqlite3.Error):  # a closed connection has nothing to end
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")

    # --- synchronous writers ------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One explicit write transaction of the caller's own: all of it commits, or none."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                self._rollback()
                raise
            try:
                db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def run_sync(self, work: Work[T]) -> T:
        with self.transaction() as db:
            return work(db)

    def close(self) -> None:
        """Wait for a COMMIT in flight, then stop the committer thread. Jobs not yet begun
        fail; the connection is the caller's to close."""
        self._closed = True
        with self._lock:
            self._fail_pending()
        self._committer.stop()


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
