"""Live delivery in the append's write round (SQLite): a session caught up to the journal's
head has its batch of the executions just appended stored in the same transaction as those
executions, and its bytes written when that one COMMIT returns; anything that cannot be
rendered from the event alone is left to the pump, which delivers after the commit, in
journal order, under continuous numbers.

What is checked is visible outside the bridge's code: the session's stored cursor and sent
messages (read from the journal file by a connection of the test's own) at the moment the
append returns, the number of write rounds, and what a FIX client reads.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from fixbridge.app import Bridge
from fixbridge.journal import sqlite as journal_sqlite
from fixbridge.journal.commit import GroupCommit
from fixbridge.journal.store import Journal, NewEvent
from fixbridge.simulator.market import MarketModel
from fixbridge.upstream.streams import execution_to_event, instruments_to_events
from tests.integration.inprocess import bridge, port_of
from tests.integration.rawfix import RawClient
from tests.sent_store import stored_seqs

pytestmark = pytest.mark.integration

BRIDGE = "FIXBRIDGE"


def session(**extra: Any) -> dict[str, Any]:
    return {"name": "a", "sender_comp_id": BRIDGE, "target_comp_id": "CLIENT_A", **extra}


def on_file(path: Path) -> tuple[int, list[int]]:
    """The session's stored cursor and stored sequence numbers, as another process sees them."""
    with sqlite3.connect(path) as db:
        (cursor,) = db.execute("SELECT cursor_offset FROM sessions WHERE session_id='a'").fetchone()
        return int(cursor), stored_seqs(db, "a")


async def logged_on(b: Bridge) -> RawClient:
    client = RawClient("CLIENT_A", BRIDGE)
    await client.connect(port_of(b))
    client.logon()
    await client.read_until(lambda box: any(m.msg_type == "A" for m in box))
    await asyncio.sleep(0.2)  # the pump has found nothing to send and waits
    return client


@asynccontextmanager
async def live(tmp_path: Path, **extra: Any) -> AsyncIterator[tuple[Journal, RawClient, Feed]]:
    """A bridge with session "a" (``extra`` its settings), a client logged on and caught up,
    and a feed of events for it."""
    async with bridge(tmp_path, [session(**extra)]) as b:
        assert b.journal is not None
        client = await logged_on(b)
        yield b.journal, client, Feed(b)


async def all_reports(client: RawClient, exec_ids: list[str]) -> None:
    """The client receives an ExecutionReport for each of ``exec_ids``, in that order, under
    the numbers after its Logon's (2, 3, ...), nothing skipped."""
    await client.read_until(lambda box: len(client.of_type("8")) == len(exec_ids))
    reports = client.of_type("8")
    assert [m.get(17) for m in reports] == exec_ids
    assert [int(m.get(34) or 0) for m in reports] == list(range(2, 2 + len(exec_ids)))


class Feed:
    """Simulator output made into journal events as the subscriber makes them (the
    executions with the bodies the acceptor renders at ingest)."""

    def __init__(self, b: Bridge) -> None:
        assert b.acceptor is not None and b.journal is not None
        self.acceptor, self.journal = b.acceptor, b.journal
        self.model = MarketModel(7)
        self.now = time.time_ns()
        self.opening = self.model.step(self.now)  # opens every instrument

    def executions(self, count: int) -> tuple[list[NewEvent], list[str]]:
        events: list[NewEvent] = []
        ids: list[str] = []
        while len(ids) < count:
            self.now += 1_000_000
            for execution in self.model.step(self.now).executions[: count - len(ids)]:
                events.append(execution_to_event(execution))
                ids.append(execution.id)
        return self.acceptor.prerender(events), ids

    def instruments(self) -> list[NewEvent]:
        return instruments_to_events(self.opening.instruments, self.journal, self.now)


def test_a_caught_up_sessions_batch_is_stored_in_the_round_that_journals_its_executions(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.db"

    async def conversation() -> None:
        async with live(tmp_path) as (journal, client, feed):
            sent: list[str] = []
            for size in (1, 3, 40):
                events, ids = feed.executions(size)
                rounds = journal.commit_stats.rounds
                await journal.append_async("executions", events, b"t", feed.now)
                # No await in between: the pump has not run since the append returned.
                assert journal.commit_stats.rounds == rounds + 1  # one COMMIT for both
                cursor, seqs = on_file(path)
                assert cursor == journal.head_offset()
                assert seqs == list(range(2, 2 + len(sent) + size))
                sent += ids
            await all_reports(client, sent)

    asyncio.run(asyncio.wait_for(conversation(), timeout=60))


def test_a_round_with_an_event_that_needs_the_journal_is_left_to_the_pump_in_order(
    tmp_path: Path,
) -> None:
    """Instruments and executions journaled in one round: a SecurityStatus is rendered with
    what the journal remembers, so the whole round goes to the pump, after the COMMIT."""
    path = tmp_path / "journal.db"

    async def conversation() -> None:
        scope = {"message_kinds": ["executions", "instruments"]}
        async with live(tmp_path, scope=scope) as (journal, client, feed):
            before, _ = on_file(path)
            instruments = feed.instruments()
            executions, ids = feed.executions(5)
            rounds = journal.commit_stats.rounds
            await asyncio.gather(
                journal.append_async("instruments", instruments, b"i", feed.now),
                journal.append_async("executions", executions, b"e", feed.now),
            )
            assert journal.commit_stats.rounds == rounds + 1  # both appends in one round
            assert on_file(path) == (before, [])  # nothing stored with them
            total = len(instruments) + len(ids)
            await client.read_until(lambda box: len(box) >= 1 + total, 10)
            application = [m for m in client.inbox if m.msg_type in ("f", "8")]
            assert [m.msg_type for m in application] == ["f"] * len(instruments) + ["8"] * 5
            assert [m.get(17) for m in application[len(instruments):]] == ids
            assert [int(m.get(34) or 0) for m in application] == list(range(2, 2 + total))
            assert on_file(path) == (journal.head_offset(), list(range(2, 2 + total)))

    asyncio.run(asyncio.wait_for(conversation(), timeout=60))


def test_a_session_behind_the_head_gets_its_backlog_with_the_rounds_events(
    tmp_path: Path,
) -> None:
    """A session whose events after its cursor all render from themselves is served in the
    round, its backlog (here journaled by a synchronous append, which no round carries)
    and the round's own events together, in journal order."""
    path = tmp_path / "journal.db"

    async def conversation() -> None:
        async with live(tmp_path) as (journal, client, feed):
            backlog, first = feed.executions(3)
            journal.append("executions", backlog, b"t", feed.now)
            fresh, then = feed.executions(4)
            await journal.append_async("executions", fresh, b"t", feed.now)
            assert on_file(path) == (journal.head_offset(), list(range(2, 9)))
            await all_reports(client, first + then)

    asyncio.run(asyncio.wait_for(conversation(), timeout=60))


def test_a_session_a_round_missed_is_served_by_the_rounds_again_under_a_steady_flow(
    tmp_path: Path,
) -> None:
    """A round finds the session's lock held (as a Heartbeat being stored holds it) and
    leaves its events to the pump. The rounds that follow serve the session again, with
    what it missed: appends in a row, each followed by the wake-up the subscriber gives the
    pumps, are each delivered in their own round (not left to the pump one round behind,
    which would hold the lock through each next append's round while the flow lasts)."""
    path = tmp_path / "journal.db"

    async def conversation() -> None:
        async with bridge(tmp_path, [session()]) as b:
            assert b.journal is not None and b.acceptor is not None
            journal, client, feed = b.journal, await logged_on(b), Feed(b)
            slot = next(iter(b.acceptor._slots.values()))
            assert slot.connection is not None
            lock = slot.connection.lock
            assert lock.try_acquire()  # held elsewhere during the first round
            events, sent = feed.executions(2)
            await journal.append_async("executions", events, b"t", feed.now)
            assert on_file(path)[0] < journal.head_offset()  # missed
            lock.release()
            served = []
            for _ in range(12):
                b._notifier.notify()  # as the subscriber does after each append
                await asyncio.sleep(0)  # the pump wakes
                events, ids = feed.executions(2)
                await journal.append_async("executions", events, b"t", feed.now)
                served.append(on_file(path)[0] == journal.head_offset())
                sent += ids
            assert served[-8:] == [True] * 8, served
            await all_reports(client, sent)

    asyncio.run(asyncio.wait_for(conversation(), timeout=60))


def test_a_batch_that_fails_in_the_round_gives_its_numbers_back_and_the_pump_sends_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch's own statements fail (as an I/O error would, inside the transaction): the
    executions still commit, the batch is undone alone, its numbers are taken back, and the
    pump delivers the same executions under the same numbers, nothing skipped."""
    path = tmp_path / "journal.db"
    real = journal_sqlite._record_sent
    failed: list[int] = []

    def record_sent(*args: Any) -> Callable[[sqlite3.Connection], None]:
        work = real(*args)
        if failed:
            return work

        def broken(db: sqlite3.Connection) -> None:
            failed.append(1)
            db.execute("INSERT INTO sent_ranges (session_id) VALUES ('half')")  # undone too
            raise sqlite3.OperationalError("disk I/O error (injected)")

        return broken

    async def conversation() -> None:
        async with live(tmp_path) as (journal, client, feed):
            monkeypatch.setattr(journal_sqlite, "_record_sent", record_sent)
            events, ids = feed.executions(6)
            result = await journal.append_async("executions", events, b"t", feed.now)
            assert result.stored == 6 and failed == [1]
            assert on_file(path) == (0, [])  # the batch left nothing
            await all_reports(client, ids)
            assert on_file(path) == (journal.head_offset(), list(range(2, 8)))

    asyncio.run(asyncio.wait_for(conversation(), timeout=60))


def test_a_connection_lost_while_its_batch_commits_is_let_go_only_once_that_round_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client goes while the round holding its batch commits: the connection is not let
    go (a new Logon would read the session's numbers and cursor) until that round has ended
    and stored them; then what is on file is the batch's numbers and the cursor past it."""
    path = tmp_path / "journal.db"
    reached, hold = threading.Event(), threading.Event()
    real = GroupCommit._commit

    def held(self: GroupCommit) -> None:
        reached.set()
        hold.wait(10)
        real(self)

    async def conversation() -> None:
        async with bridge(tmp_path, [session()]) as b:
            assert b.journal is not None and b.acceptor is not None
            journal, client, feed = b.journal, await logged_on(b), Feed(b)
            slot = next(iter(b.acceptor._slots.values()))
            conn = slot.connection
            assert conn is not None
            events, _ = feed.executions(3)
            monkeypatch.setattr(GroupCommit, "_commit", held)
            appending = asyncio.ensure_future(
                journal.append_async("executions", events, b"t", feed.now)
            )
            assert await asyncio.to_thread(reached.wait, 10)
            monkeypatch.setattr(GroupCommit, "_commit", real)
            client.abort()
            await asyncio.sleep(0.5)  # the reader has seen the end; cleanup runs
            assert not conn.finished.is_set() and slot.connection is conn
            hold.set()
            await appending
            await asyncio.wait_for(conn.finished.wait(), 5)
            assert slot.connection is None
            assert on_file(path) == (journal.head_offset(), [2, 3, 4])
            # A Logout queued for it meanwhile (an operator's, a reload's) takes no number.
            numbers = conn.session.next_sender_seq
            await b.acceptor._logout(conn, "bye")
            assert conn.session.next_sender_seq == numbers
            assert journal.load_session("a").next_sender_seq == 5

    try:
        asyncio.run(asyncio.wait_for(conversation(), timeout=60))
    finally:
        hold.set()
