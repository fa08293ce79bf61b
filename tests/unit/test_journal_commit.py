"""Group commit on a real SQLite file: which jobs share a COMMIT, where that COMMIT runs, and
what a waiter is told when a job or the COMMIT fails.

A second connection reads the file as another process would, so "committed" means visible
outside the writer's own connection, not merely executed.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixbridge.journal.commit import GroupCommit


class TracingConnection(sqlite3.Connection):
    """Records on which thread each COMMIT ran; ``hold_commit`` makes COMMITs wait for it."""

    commit_threads: list[int]
    hold_commit: threading.Event | None
    commit_reached: threading.Event

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT":
            self.commit_threads.append(threading.get_ident())
            self.commit_reached.set()
            if self.hold_commit is not None:
                self.hold_commit.wait(10)
        return super().execute(sql, *args)


def open_writer(path: Path) -> TracingConnection:
    db = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, factory=TracingConnection
    )
    db.commit_threads = []
    db.hold_commit = None
    db.commit_reached = threading.Event()
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    db.execute(
        "CREATE TABLE item (name TEXT PRIMARY KEY, parent INTEGER"
        " REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
    )
    return db


Writer = tuple[Path, TracingConnection, GroupCommit]


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[Writer]:
    """A journal-like file, its traced write connection and the GroupCommit over it."""
    path = tmp_path / "j.db"
    db = open_writer(path)
    commits = GroupCommit(db)
    try:
        yield path, db, commits
    finally:
        commits.close()
        db.close()


def insert(name: str, parent: int | None = None) -> Any:
    def work(db: sqlite3.Connection) -> str:
        db.execute("INSERT INTO item (name, parent) VALUES (?, ?)", (name, parent))
        return name

    return work


def names(path: Path) -> list[str]:
    with sqlite3.connect(path) as reader:
        return [row[0] for row in reader.execute("SELECT name FROM item ORDER BY rowid")]


def test_jobs_handed_in_together_share_one_commit_run_off_the_loop_thread(
    writer: Writer,
) -> None:
    path, db, commits = writer

    async def main() -> list[str]:
        return list(await asyncio.gather(*(commits.run(insert(f"n{i}")) for i in range(50))))

    assert asyncio.run(main()) == [f"n{i}" for i in range(50)]
    assert names(path) == [f"n{i}" for i in range(50)]
    assert (commits.stats.rounds, commits.stats.jobs) == (1, 50)
    assert len(db.commit_threads) == 1
    assert db.commit_threads[0] != threading.get_ident()  # never the event loop's thread


def test_a_waiter_is_answered_only_once_its_job_is_visible_to_other_connections(
    writer: Writer,
) -> None:
    path, _db, commits = writer
    seen: list[list[str]] = []

    async def main() -> None:
        for i in range(5):
            await commits.run(insert(f"n{i}"))
            seen.append(names(path))

    asyncio.run(main())
    assert seen == [[f"n{j}" for j in range(i + 1)] for i in range(5)]


def test_jobs_handed_in_during_a_commit_go_to_the_next_round_in_order(writer: Writer) -> None:
    path, _db, commits = writer

    async def main() -> None:
        first = asyncio.ensure_future(commits.run(insert("a")))
        await asyncio.sleep(0)  # the first round has begun: "a" is in it
        later = [asyncio.ensure_future(commits.run(insert(n))) for n in ("b", "c")]
        await asyncio.gather(first, *later)

    asyncio.run(main())
    assert names(path) == ["a", "b", "c"]
    assert (commits.stats.rounds, commits.stats.last_round_jobs) == (2, 2)


def test_a_failing_job_is_undone_alone_and_its_waiter_gets_the_error(writer: Writer) -> None:
    path, _db, commits = writer

    def half_then_fail(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO item (name) VALUES ('half')")
        db.execute("INSERT INTO item (name) VALUES ('a')")  # a duplicate key: fails

    async def main() -> list[object]:
        return list(await asyncio.gather(
            commits.run(insert("a")), commits.run(half_then_fail), commits.run(insert("b")),
            return_exceptions=True,
        ))  # fmt: skip

    first, failed, last = asyncio.run(main())
    assert (first, last) == ("a", "b")
    assert isinstance(failed, sqlite3.IntegrityError)
    assert names(path) == ["a", "b"]  # nothing of the failed job, not even its first row
    assert commits.stats.rounds == 1


def test_a_failed_commit_fails_every_job_of_the_round_and_the_next_round_starts_clean(
    writer: Writer,
) -> None:
    path, db, commits = writer

    async def main() -> tuple[list[object], str]:
        # A deferred foreign key is checked at COMMIT: the whole round is refused there.
        outcomes = await asyncio.gather(
            commits.run(insert("a")), commits.run(insert("orphan", parent=7)),
            return_exceptions=True,
        )  # fmt: skip
        after = await commits.run(insert("b"))
        return list(outcomes), after

    outcomes, after = asyncio.run(main())
    assert all(isinstance(o, sqlite3.IntegrityError) for o in outcomes), outcomes
    assert after == "b"
    assert names(path) == ["b"]
    assert not db.in_transaction


def test_a_full_disk_fails_every_job_of_the_round_with_its_own_error(writer: Writer) -> None:
    """SQLITE_FULL ends the whole transaction, savepoints and all: the jobs that ran before
    are lost too, so every waiter of the round hears "database or disk is full"."""
    path, db, commits = writer
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    db.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow

    def too_big(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO item (name) VALUES (?)", ("x" * 100_000,))

    async def main() -> tuple[list[object], str]:
        outcomes = await asyncio.gather(
            commits.run(insert("a")), commits.run(too_big), commits.run(insert("b")),
            return_exceptions=True,
        )  # fmt: skip
        db.execute("PRAGMA max_page_count = 1073741823")  # room again
        return list(outcomes), await commits.run(insert("c"))

    outcomes, after = asyncio.run(main())
    assert [str(o) for o in outcomes] == ["database or disk is full"] * 3, outcomes
    assert all(isinstance(o, sqlite3.OperationalError) for o in outcomes)
    assert after == "c"
    assert names(path) == ["c"]


def test_a_job_whose_waiter_was_cancelled_before_its_round_is_not_run(writer: Writer) -> None:
    path, _db, commits = writer

    async def main() -> None:
        cancelled = asyncio.ensure_future(commits.run(insert("never")))
        kept = asyncio.ensure_future(commits.run(insert("kept")))
        await asyncio.sleep(0)  # both handed in; the round is scheduled, not begun
        cancelled.cancel()
        await kept
        with pytest.raises(asyncio.CancelledError):
            await cancelled

    asyncio.run(main())
    assert names(path) == ["kept"]


def test_a_waiter_cancelled_while_its_commit_runs_unwinds_only_once_it_has_committed(
    writer: Writer,
) -> None:
    """A session's pump cancelled on disconnect must not have its write land after it gave
    up (a new connection would read the numbers before it): the cancellation reaches the
    waiter only once the round holding its job has ended."""
    path, db, commits = writer
    db.hold_commit = threading.Event()

    async def main() -> list[str]:
        waiter = asyncio.ensure_future(commits.run(insert("in-flight")))
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, db.commit_reached.wait, 10)
        waiter.cancel()
        await asyncio.sleep(0.05)
        assert not waiter.done()  # the COMMIT is still running: the waiter stays
        assert db.hold_commit is not None
        db.hold_commit.set()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        return names(path)  # what a new connection reads once the waiter is gone

    assert asyncio.run(main()) == ["in-flight"]


def test_a_synchronous_transaction_commits_in_the_callers_thread_or_not_at_all(
    writer: Writer,
) -> None:
    path, db, commits = writer
    assert commits.run_sync(insert("a")) == "a"
    with pytest.raises(sqlite3.IntegrityError):
        commits.run_sync(insert("a"))
    assert names(path) == ["a"]
    assert db.commit_threads == [threading.get_ident()]
    assert not db.in_transaction


def test_a_submitted_job_commits_while_its_caller_works_and_is_awaited_later(
    writer: Writer,
) -> None:
    """The pump's pipeline: a job handed in now, the round begun at the next loop pass and
    its COMMIT running on the committer thread while the caller goes on."""
    path, db, commits = writer
    db.hold_commit = threading.Event()

    async def main() -> None:
        submitted = commits.submit(insert("first"))
        await asyncio.sleep(0)  # the round begins
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, db.commit_reached.wait, 10)
        assert names(path) == []  # committing, not committed: the caller works meanwhile
        assert db.hold_commit is not None
        db.hold_commit.set()
        assert await submitted.result() == "first"

    asyncio.run(main())
    assert names(path) == ["first"]


def test_a_withdrawn_job_is_not_run_before_its_round_and_waited_for_after(
    writer: Writer,
) -> None:
    path, db, commits = writer
    db.hold_commit = threading.Event()

    async def main() -> tuple[bool, bool]:
        committing = commits.submit(insert("committing"))
        await asyncio.sleep(0)  # its round begins; the COMMIT waits for hold_commit
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, db.commit_reached.wait, 10)
        later = commits.submit(insert("later"))  # for the next round, not begun
        assert await later.withdraw() is False
        withdrawing = asyncio.ensure_future(committing.withdraw())
        await asyncio.sleep(0.05)
        assert not withdrawing.done()  # a begun job is waited for, never left in flight
        assert db.hold_commit is not None
        db.hold_commit.set()
        return await withdrawing, (await commits.submit(insert("after")).result()) == "after"

    assert asyncio.run(main()) == (True, True)
    assert names(path) == ["committing", "after"]


def test_one_committer_thread_serves_every_round_in_order(writer: Writer) -> None:
    """Rounds one after the other: each COMMIT on the same thread, never the loop's, and
    each waiter answered with its own job's result once that job is visible."""
    path, db, commits = writer

    async def main() -> list[str]:
        return [await commits.run(insert(f"r{i}")) for i in range(20)]

    assert asyncio.run(main()) == [f"r{i}" for i in range(20)]
    assert names(path) == [f"r{i}" for i in range(20)]
    assert commits.stats.rounds == 20
    assert len(set(db.commit_threads)) == 1
    assert db.commit_threads[0] != threading.get_ident()


def test_a_round_that_finds_the_committer_stopped_is_not_kept(writer: Writer) -> None:
    """Were a round to begin with its committer already stopped, its jobs fail as a closed
    journal's do, nothing of them is kept, the writer's lock is free again, and a later
    write is refused at once instead of waiting for a round that never comes."""
    path, db, commits = writer
    commits._committer.stop()

    async def attempt(name: str) -> BaseException | str:
        try:
            return await asyncio.wait_for(commits.run(insert(name)), 5)
        except sqlite3.ProgrammingError as exc:
            return exc

    async def main() -> list[BaseException | str]:
        return [await attempt("late"), await attempt("later")]

    outcomes = asyncio.run(main())
    assert all(isinstance(o, sqlite3.ProgrammingError) for o in outcomes), outcomes
    assert not db.in_transaction
    assert not commits._lock.locked()
    assert commits.run_sync(insert("sync")) == "sync"
    assert names(path) == ["sync"]


def test_a_committer_that_cannot_be_handed_the_commit_fails_the_round_alone(
    writer: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No thread to run the COMMIT (it could not be started): that round's jobs fail with
    the error, nothing of them is kept, and the next round commits as usual."""
    path, _, commits = writer
    refusals = iter([RuntimeError("can't start new thread")])
    handed = commits._committer.run

    def run(*args: Any) -> None:
        refusal = next(refusals, None)
        if refusal is not None:
            raise refusal
        handed(*args)

    monkeypatch.setattr(commits._committer, "run", run)

    async def main() -> tuple[BaseException | str, str]:
        try:
            first: BaseException | str = await commits.run(insert("lost"))
        except RuntimeError as exc:
            first = exc
        return first, await asyncio.wait_for(commits.run(insert("kept")), 5)

    first, second = asyncio.run(main())
    assert isinstance(first, RuntimeError) and "start" in str(first)
    assert second == "kept"
    assert names(path) == ["kept"]
    assert not commits._lock.locked()


# --- riders: work the committer adds to a round before its COMMIT ------------------------------


class Riders:
    """A GroupCommit's ``before_commit``: hands out ``queued`` riders (each a work function)
    to the next round that asks, and records every outcome it is told, in order, in ``told``
    (also the names of waiters answered, by ``answered``, to see what came first)."""

    def __init__(self) -> None:
        self.queued: list[Any] = []
        self.asked = 0
        self.told: list[tuple[str, BaseException | None]] = []
        self.raise_on_ask: Exception | None = None

    def __call__(self, db: sqlite3.Connection) -> list[Any]:
        self.asked += 1
        if self.raise_on_ask is not None:
            raise self.raise_on_ask
        queued, self.queued = self.queued, []
        return [(work, self._done(name)) for name, work in queued]

    def _done(self, name: str) -> Any:
        def done(outcome: BaseException | None) -> None:
            self.told.append((name, outcome))

        return done

    def answered(self, name: str) -> None:
        self.told.append((f"waiter {name}", None))


@pytest.fixture
def riding(tmp_path: Path) -> Iterator[tuple[Path, TracingConnection, GroupCommit, Riders]]:
    path = tmp_path / "j.db"
    db = open_writer(path)
    riders = Riders()
    commits = GroupCommit(db, riders)
    try:
        yield path, db, commits, riders
    finally:
        commits.close()
        db.close()


Riding = tuple[Path, TracingConnection, GroupCommit, Riders]


def outcome_of(commits: GroupCommit, name: str) -> object:
    """What a waiter of a job inserting ``name`` is told: its result, or its error."""

    async def main() -> object:
        try:
            return await commits.run(insert(name))
        except sqlite3.Error as exc:
            return exc

    return asyncio.run(main())


def test_a_rider_runs_after_the_rounds_jobs_in_their_transaction_and_is_told_first(
    riding: Riding,
) -> None:
    """The rider sees the round's uncommitted rows, commits with them (one COMMIT), and is
    told its outcome before any waiter of the round is answered."""
    path, db, commits, riders = riding
    seen: list[list[str]] = []

    def ride(db: sqlite3.Connection) -> None:
        seen.append([row[0] for row in db.execute("SELECT name FROM item ORDER BY rowid")])
        db.execute("INSERT INTO item (name) VALUES ('rider')")

    async def main() -> None:
        riders.queued.append(("rider", ride))

        async def wait(name: str) -> None:
            await commits.run(insert(name))
            riders.answered(name)

        await asyncio.gather(wait("a"), wait("b"))

    asyncio.run(main())
    assert seen == [["a", "b"]]
    assert names(path) == ["a", "b", "rider"]
    assert len(db.commit_threads) == 1
    assert riders.told == [("rider", None), ("waiter a", None), ("waiter b", None)]


def test_a_failing_rider_is_undone_alone_and_told_its_error(riding: Riding) -> None:
    path, _db, commits, riders = riding

    def duplicate(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO item (name) VALUES ('half')")
        db.execute("INSERT INTO item (name) VALUES ('a')")

    riders.queued += [("bad", duplicate), ("good", insert("good"))]
    assert asyncio.run(commits.run(insert("a"))) == "a"
    assert names(path) == ["a", "good"]
    (bad, bad_error), (good, good_error) = riders.told
    assert (bad, good, good_error) == ("bad", "good", None)
    assert isinstance(bad_error, sqlite3.IntegrityError)


def test_a_failed_commit_fails_its_riders_as_its_jobs_and_keeps_nothing(riding: Riding) -> None:
    path, db, commits, riders = riding
    riders.queued.append(("orphan", insert("orphan", parent=7)))  # refused at COMMIT

    outcome = outcome_of(commits, "a")
    assert isinstance(outcome, sqlite3.IntegrityError)
    [(name, told)] = riders.told
    assert name == "orphan" and told is outcome
    assert names(path) == []
    assert not db.in_transaction


def test_a_rider_that_fills_the_disk_fails_the_whole_round_with_that_error(
    riding: Riding,
) -> None:
    path, db, commits, riders = riding
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    db.execute(f"PRAGMA max_page_count = {pages}")

    def too_big(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO item (name) VALUES (?)", ("x" * 100_000,))

    riders.queued += [("first", insert("first")), ("big", too_big), ("never", insert("n"))]

    outcome = outcome_of(commits, "a")
    assert str(outcome) == "database or disk is full"
    # Every rider is told the failure, the one after it (which never ran) too.
    assert [(n, str(e)) for n, e in riders.told] == [
        ("first", "database or disk is full"), ("big", "database or disk is full"),
        ("never", "database or disk is full"),
    ]  # fmt: skip
    assert names(path) == []
    assert not commits._lock.locked()


def test_a_before_commit_that_raises_leaves_the_round_to_commit_without_riders(
    riding: Riding, caplog: pytest.LogCaptureFixture
) -> None:
    path, _db, commits, riders = riding
    riders.raise_on_ask = ValueError("a bug in the hook")
    assert asyncio.run(commits.run(insert("a"))) == "a"
    assert names(path) == ["a"]
    assert "without them" in caplog.text and "a bug in the hook" in caplog.text


def test_a_rider_whose_done_raises_does_not_stop_the_round_answering(
    riding: Riding, caplog: pytest.LogCaptureFixture
) -> None:
    path, _db, commits, _riders = riding

    def fails_to_hear(outcome: BaseException | None) -> None:
        raise RuntimeError("cannot hear it")

    rounds = iter(range(10))

    def before_commit(db: sqlite3.Connection) -> list[Any]:
        return [(insert(f"rider{next(rounds)}"), fails_to_hear)]

    commits._before_commit = before_commit

    async def main() -> list[str]:
        return [await commits.run(insert("a")), await commits.run(insert("b"))]

    assert asyncio.run(main()) == ["a", "b"]
    assert names(path) == ["a", "rider0", "b", "rider1"]
    assert "cannot hear it" in caplog.text


def test_riders_of_a_round_that_finds_the_committer_stopped_are_told_it_is_closed(
    riding: Riding,
) -> None:
    path, _db, commits, riders = riding
    commits._committer.stop()
    riders.queued.append(("late", insert("late")))

    assert isinstance(outcome_of(commits, "a"), sqlite3.ProgrammingError)
    [(name, told)] = riders.told
    assert name == "late" and isinstance(told, sqlite3.ProgrammingError)
    assert names(path) == []


def test_riders_made_after_the_transaction_ended_fail_the_round_and_nothing_commits(
    riding: Riding,
) -> None:
    """A statement while the riders were made ended the transaction (a full disk, caught by
    the hook as the acceptor catches its reads' errors): nothing may run outside the round,
    so the round fails, its job and its riders with it."""
    path, db, commits, riders = riding
    (pages,) = db.execute("PRAGMA page_count").fetchone()

    def before_commit(db: sqlite3.Connection) -> list[Any]:
        db.execute(f"PRAGMA max_page_count = {pages}")
        with contextlib.suppress(sqlite3.OperationalError):
            db.execute("INSERT INTO item (name) VALUES (?)", ("x" * 100_000,))
        db.execute("PRAGMA max_page_count = 1073741823")
        return [(insert("rider"), riders._done("rider"))]

    commits._before_commit = before_commit

    outcome = outcome_of(commits, "a")
    assert "transaction ended" in str(outcome)
    [(name, told)] = riders.told
    assert name == "rider" and told is outcome
    assert names(path) == []
    assert not db.in_transaction and not commits._lock.locked()
