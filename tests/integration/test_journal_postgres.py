"""The PostgreSQL journal (fixbridge/journal/postgres.py) where it differs from the embedded
one, on a real server: the lease's fence in every write transaction, connections the server
ends, offsets that stay gap-free and never come back after a prune, and errors that never
quote the password. The shared contract is tests/contract's.

What is checked is read from the database itself (rows, pg_stat_activity), not from the
journal's own account of it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import pytest

from fixbridge.ha.lease import Fenced, Granted, ensure_schema, fence_sync, take
from fixbridge.journal.postgres import PostgresJournal
from fixbridge.journal.records import OutboundMessage
from fixbridge.journal.store import JournalError, NewEvent

pytestmark = pytest.mark.integration


def ev(upstream_id: str) -> NewEvent:
    return NewEvent(upstream_id, 1, b"{}", b"raw")


def run(test: Callable[[], Awaitable[None]], timeout: float = 60) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout))


def rows(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(sql).fetchall()  # type: ignore[arg-type]


async def lease_for(dsn: str, holder: str, ttl_s: float) -> int:
    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    try:
        await ensure_schema(conn)
        granted = await take(conn, holder, ttl_s)
    finally:
        await conn.close()
    assert isinstance(granted, Granted), granted
    return granted.epoch


async def expire_and_take_over(dsn: str, holder: str) -> int:
    deadline = time.monotonic() + 30
    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    try:
        while True:
            granted = await take(conn, holder, 30)
            if isinstance(granted, Granted):
                return granted.epoch
            assert time.monotonic() < deadline, "the lease never expired"
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


def test_a_deposed_writer_stores_nothing_and_says_why(postgres_dsn: str) -> None:
    """bridge-a writes under its epoch; its lease expires and bridge-b takes it over. Every
    write bridge-a then tries fails with Fenced, and the database holds none of it."""

    async def test() -> None:
        epoch = await lease_for(postgres_dsn, "bridge-a", 0.5)
        journal = PostgresJournal(
            postgres_dsn, fence=lambda conn: fence_sync(conn, "bridge-a", epoch, hold_s=5)
        )
        try:
            await journal.append_async("executions", [ev("x1")], b"t1", 1)
            journal.load_session("s")
            assert await expire_and_take_over(postgres_dsn, "bridge-b") == epoch + 1
            with pytest.raises(Fenced, match="bridge-a no longer holds the lease"):
                await journal.append_async("executions", [ev("x2")], b"t2", 2)
            sent = [OutboundMessage(1, "8", "20261206-00:00:00", b"17=1\x01")]
            with pytest.raises(Fenced):
                await journal.submit_sent("s", sent, 2, 1, at_ns=3, after_offset=0).result()
            with pytest.raises(Fenced):
                await journal.check_writable_async(4)
            with pytest.raises(Fenced):
                journal.load_session("t")
        finally:
            journal.close()
        assert rows(postgres_dsn, "SELECT upstream_id FROM events") == [("x1",)]
        assert rows(postgres_dsn, "SELECT resume_token FROM stream_state") == [(b"t1",)]
        assert rows(postgres_dsn, "SELECT session_id, next_sender_seq FROM sessions") == [
            ("s", 1)
        ]
        assert rows(postgres_dsn, "SELECT count(*) FROM outbound") == [(0,)]

    run(test)


def test_a_round_of_jobs_fails_whole_when_the_fence_refuses_it(postgres_dsn: str) -> None:
    """Jobs handed in together share one transaction and its fence: refused, none commits."""

    async def test() -> None:
        allowed = True

        def gate(conn: psycopg.Connection[Any]) -> None:
            if not allowed:
                raise Fenced("not active")

        journal = PostgresJournal(postgres_dsn, fence=gate)
        try:
            await journal.append_async("executions", [ev("a")], b"1", 1)
            allowed = False
            outcomes = await asyncio.gather(
                journal.append_async("executions", [ev("b")], b"2", 2),
                journal.append_async("trades", [ev("c")], b"3", 3),
                return_exceptions=True,
            )
            assert all(isinstance(o, Fenced) for o in outcomes), outcomes
            allowed = True
            result = await journal.append_async("executions", [ev("d")], b"4", 4)
            assert result.offsets == (2,)  # nothing of the refused round took an offset
        finally:
            journal.close()
        assert rows(postgres_dsn, 'SELECT "offset", upstream_id FROM events ORDER BY 1') == [
            (1, "a"), (2, "d"),
        ]  # fmt: skip

    run(test)


def test_connections_the_server_ends_are_opened_again(postgres_dsn: str) -> None:
    """The server ends both of the journal's connections (a restart, a failover of the
    database, an operator): the next read succeeds on a new connection; the write that meets
    the dead one fails with a JournalError and the one after it commits."""

    async def test() -> None:
        journal = PostgresJournal(postgres_dsn)
        try:
            await journal.append_async("executions", [ev("a")], b"1", 1)
            assert journal.head_offset() == 1
            ended = rows(
                postgres_dsn,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'fixbridge-journal' AND pid <> pg_backend_pid()",
            )
            assert len(ended) == 2 and all(r[0] for r in ended)
            assert journal.journaled_ids("executions", ["a", "b"]) == {"a"}
            with pytest.raises(JournalError, match="is not writable"):
                await journal.append_async("executions", [ev("b")], b"2", 2)
            await journal.append_async("executions", [ev("b")], b"2", 2)
            assert journal.resume_token("executions") == b"2"
        finally:
            journal.close()

    run(test)


def test_offsets_are_never_given_twice_even_once_the_newest_events_are_pruned(
    postgres_dsn: str,
) -> None:
    async def test() -> None:
        journal = PostgresJournal(postgres_dsn)
        try:
            await journal.append_async("executions", [ev("a"), ev("b")], b"1", 1)
            await journal.prune_events_async(0, 2, 10**18, 100, ["executions"], {})
            assert rows(postgres_dsn, "SELECT count(*) FROM events") == [(0,)]
            result = await journal.append_async("executions", [ev("c")], b"2", 2)
            assert result.offsets == (3,) and journal.head_offset() == 3
        finally:
            journal.close()

    run(test)


def test_errors_name_the_database_and_never_quote_the_password(postgres_dsn: str) -> None:
    settings = psycopg.conninfo.conninfo_to_dict(postgres_dsn)
    wrong = psycopg.conninfo.make_conninfo(
        postgres_dsn, dbname="no_such_database", password="Pa55-never-shown"
    )
    with pytest.raises(JournalError) as caught:
        PostgresJournal(wrong)
    text = str(caught.value)
    assert "no_such_database" in text and "Pa55-never-shown" not in text
    assert str(settings.get("host", "")) in text
