"""A session's catch-up through the pipelined pump: the next batch renders while the one
before commits, and every batch is written only after its own COMMIT, in order.

A failure in the middle of the pipeline must leave the client with a prefix of the backlog
under continuous numbers and nothing of the batches after the failed one: their writes are
withdrawn (or fail on the stored-cursor check) and their numbers are taken back, so the
Logout that follows and the next Logon's messages continue the sequence with no gap and no
number used twice.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from fixbridge.fix.acceptor import PUMP_BATCH, STORAGE_LOGOUT_TEXT
from fixbridge.journal import sqlite as journal_sqlite
from tests.integration.inprocess import ExecutionFeed, bridge, port_of
from tests.integration.rawfix import RawClient
from tests.sent_store import stored_seqs

pytestmark = pytest.mark.integration

BRIDGE = "FIXBRIDGE"
BACKLOG = 6 * PUMP_BATCH + 123  # more batches than one pipeline pass, and a short last one


def session() -> dict[str, Any]:
    return {"name": "a", "sender_comp_id": BRIDGE, "target_comp_id": "CLIENT_A"}


def stored_numbers(path: Path) -> list[int]:
    with sqlite3.connect(path) as db:
        return stored_seqs(db, "a")


def test_a_backlog_of_many_batches_arrives_whole_in_order_under_continuous_numbers(
    tmp_path: Path,
) -> None:
    async def conversation() -> None:
        async with bridge(tmp_path, [session()]) as b:
            ids = ExecutionFeed(b).append(BACKLOG)
            client = RawClient("CLIENT_A", BRIDGE)
            await client.connect(port_of(b))
            client.logon()
            await client.read_until(lambda box: len(client.of_type("8")) == BACKLOG, 30)
            reports = client.of_type("8")
            assert [m.get(17) for m in reports] == ids
            assert [int(m.get(34) or 0) for m in reports] == list(range(2, BACKLOG + 2))
            assert stored_numbers(tmp_path / "journal.db") == list(range(2, BACKLOG + 2))
            assert b.journal is not None
            assert b.journal.load_session("a").cursor_offset == b.journal.head_offset()
            client.send("5")
            await client.closed_by_peer()

    asyncio.run(asyncio.wait_for(conversation(), timeout=60))


def failing_on(call: int, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ``call``-th batch write of the journal fails inside its transaction (as an I/O
    error would); the numbers of the calls made are returned as they happen."""
    made: list[int] = []
    real = journal_sqlite._record_sent

    def record_sent(*args: Any) -> Callable[[sqlite3.Connection], None]:
        work = real(*args)
        made.append(len(made) + 1)
        if len(made) != call:
            return work

        def broken(db: sqlite3.Connection) -> None:
            raise sqlite3.OperationalError("disk I/O error (injected)")

        return broken

    monkeypatch.setattr(journal_sqlite._SqliteJobs, "record_sent", staticmethod(record_sent))
    return made


def numbers(messages: Sequence[Any]) -> list[int]:
    return [int(m.get(34) or 0) for m in messages]


def test_a_write_failing_mid_pipeline_loses_no_number_and_sends_nothing_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def conversation() -> None:
        async with bridge(tmp_path, [session()]) as b:
            ids = ExecutionFeed(b).append(BACKLOG)
            made = failing_on(3, monkeypatch)
            client = RawClient("CLIENT_A", BRIDGE)
            await client.connect(port_of(b))
            client.logon()
            assert await client.closed_by_peer(timeout=20)
            reports = client.of_type("8")
            # Two batches written, then the Logout: nothing of the third batch or after it.
            assert [m.get(17) for m in reports] == ids[: 2 * PUMP_BATCH]
            logout = client.of_type("5")
            assert [m.get(58) for m in logout] == [STORAGE_LOGOUT_TEXT]
            assert numbers(client.inbox) == list(range(1, 2 * PUMP_BATCH + 3))
            assert len(made) >= 3  # the failing write was the third handed in
            assert stored_numbers(tmp_path / "journal.db") == list(range(2, 2 * PUMP_BATCH + 2))

            # The next Logon continues both sequences and delivers the rest, once.
            again = RawClient("CLIENT_A", BRIDGE)
            again.seq = client.seq
            await again.connect(port_of(b))
            again.logon()
            rest = BACKLOG - 2 * PUMP_BATCH
            await again.read_until(lambda box: len(again.of_type("8")) == rest, 30)
            assert [m.get(17) for m in again.of_type("8")] == ids[2 * PUMP_BATCH :]
            first = 2 * PUMP_BATCH + 3  # after the Logout
            assert numbers(again.inbox) == list(range(first, first + rest + 1))
            again.send("5")
            await again.closed_by_peer()

    asyncio.run(asyncio.wait_for(conversation(), timeout=60))


def test_a_read_failing_while_a_batch_commits_keeps_that_batch_and_its_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first batch's COMMIT succeeds while the read of the next one fails: that batch is
    stored, so it is written and its numbers stay taken; the Logout that follows takes the
    next number, and the next Logon delivers the rest under the numbers after it."""

    async def conversation() -> None:
        async with bridge(tmp_path, [session()]) as b:
            assert b.journal is not None
            ids = ExecutionFeed(b).append(2 * PUMP_BATCH + 10)
            real, reads = b.journal.read_events, [0]

            def read_events(after: int, limit: int, rendering: str = "") -> Any:
                reads[0] += 1
                if reads[0] == 2:  # the pipeline's read of the second batch
                    raise sqlite3.OperationalError("disk I/O error (injected read)")
                return real(after, limit, rendering)

            monkeypatch.setattr(b.journal, "read_events", read_events)
            client = RawClient("CLIENT_A", BRIDGE)
            await client.connect(port_of(b))
            client.logon()
            assert await client.closed_by_peer(timeout=20)
            monkeypatch.setattr(b.journal, "read_events", real)
            assert [m.get(17) for m in client.of_type("8")] == ids[:PUMP_BATCH]
            assert [m.get(58) for m in client.of_type("5")] == [STORAGE_LOGOUT_TEXT]
            assert numbers(client.inbox) == list(range(1, PUMP_BATCH + 3))
            assert stored_numbers(tmp_path / "journal.db") == list(range(2, PUMP_BATCH + 2))

            again = RawClient("CLIENT_A", BRIDGE)
            again.seq = client.seq
            await again.connect(port_of(b))
            again.logon()
            rest = len(ids) - PUMP_BATCH
            await again.read_until(lambda box: len(again.of_type("8")) == rest, 30)
            assert [m.get(17) for m in again.of_type("8")] == ids[PUMP_BATCH:]
            first = PUMP_BATCH + 3  # after the Logout
            assert numbers(again.inbox) == list(range(first, first + rest + 1))
            again.send("5")
            await again.closed_by_peer()

    asyncio.run(asyncio.wait_for(conversation(), timeout=60))
