"""The PostgreSQL journal (fixbridge/journal/postgres.py) where it differs from the embedded
one, on a real server: the lease's fence in every write transaction, connections the server
ends, offsets that stay gap-free and never come back after a prune, and errors that never
quote the password. The shared contract is tests/contract's.

What is checked is read from the database itself (rows, pg_stat_activity), not from the
journal's own account of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import pytest

from fixbridge.ha.lease import Fenced, Granted, ensure_schema, fence_sync, take
from fixbridge.journal.message_log import LogEntry
from fixbridge.journal.postgres import PostgresJournal
from fixbridge.journal.records import OutboundMessage, StoredBody
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
    """The server ends both of the journal's connections while they are idle (a restart, a
    failover of the database, an idle timeout): the next read and the next write find out
    before anything of theirs was sent, and succeed on new connections."""

    async def test() -> None:
        journal = PostgresJournal(postgres_dsn)
        try:
            await journal.append_async("executions", [ev("a")], b"1", 1)
            assert journal.head_offset() == 1
            ended = rows(
                postgres_dsn,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'fixbridge-journal' AND pid <> pg_backend_pid()"
                " AND datname = current_database()",  # the server is the whole run's
            )
            assert len(ended) == 2 and all(r[0] for r in ended)
            assert journal.journaled_ids("executions", ["a", "b"]) == {"a"}
            await journal.append_async("executions", [ev("b")], b"2", 2)
            assert journal.resume_token("executions") == b"2"
            pids = rows(
                postgres_dsn,
                "SELECT count(*) FROM pg_stat_activity WHERE application_name ="
                " 'fixbridge-journal' AND pid <> pg_backend_pid()"
                " AND datname = current_database()",
            )
            assert pids == [(2,)]
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


class CommitCutter:
    """A TCP relay to the server that, once armed, ends the connection carrying the next
    COMMIT: after relaying it (the server commits; its answer is lost), or instead of
    relaying it (nothing commits). New connections pass as usual."""

    def __init__(self, port: int) -> None:
        self._port = port
        self.armed: str | None = None  # "after" or "instead"
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self._port)
        muted = False  # the server's answers no longer reach the client

        async def upstream() -> None:
            nonlocal muted
            while data := await client_r.read(65536):
                if self.armed is not None and b"COMMIT" in data:
                    how, self.armed = self.armed, None
                    muted = True
                    if how == "after":
                        server_w.write(data)
                        await server_w.drain()
                        await asyncio.sleep(0.5)  # the server commits meanwhile
                    client_w.close()
                    server_w.close()
                    return
                server_w.write(data)
                await server_w.drain()

        async def downstream() -> None:
            with contextlib.suppress(ConnectionError):
                while data := await server_r.read(65536):
                    if muted:
                        return
                    client_w.write(data)
                    await client_w.drain()

        for coro in (upstream(), downstream()):
            task = asyncio.create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)


def via(dsn: str, port: int) -> str:
    return psycopg.conninfo.make_conninfo(dsn, host="127.0.0.1", port=str(port))


@pytest.mark.parametrize("how", ["after", "instead"])
def test_a_commit_whose_answer_is_lost_is_settled_by_what_the_database_holds(
    postgres_dsn: str, how: str
) -> None:
    """The connection ends with the COMMIT sent and its answer lost ("after"), or before the
    COMMIT reached the server ("instead"). The journal asks the database: a batch that
    committed is answered as stored (its caller must not number those messages again), one
    that did not fails, and nothing of it is there."""

    async def test() -> None:
        cutter = CommitCutter(int(psycopg.conninfo.conninfo_to_dict(postgres_dsn)["port"]))
        # The relay runs on this loop: what blocks goes to a thread.
        journal = await asyncio.to_thread(PostgresJournal, via(postgres_dsn, await cutter.start()))
        try:
            await asyncio.to_thread(journal.load_session, "s")
            sent = [OutboundMessage(n, "8", "20261206-00:00:00", b"17=%d\x01" % n) for n in (1, 2)]
            cutter.armed = how
            stored = journal.submit_sent("s", sent, 3, 0, at_ns=1, after_offset=0)
            if how == "after":
                await stored.result()
            else:
                with pytest.raises(JournalError, match="not writable"):
                    await stored.result()
            assert cutter.armed is None  # the cut happened
        finally:
            journal.close()
            await cutter.close()
        held = rows(postgres_dsn, "SELECT seq FROM outbound ORDER BY seq")
        numbers = rows(postgres_dsn, "SELECT next_sender_seq FROM sessions")
        if how == "after":
            assert held == [(1,), (2,)] and numbers == [(3,)]
        else:
            assert held == [] and numbers == [(1,)]

    run(test)


def test_a_bridge_starting_never_waits_for_the_active_ones_writes(postgres_dsn: str) -> None:
    """A write of the active bridge holds its tables (here, a transaction that inserted a
    bust and stays open); a second bridge opening the same journal neither takes a lock
    nor runs DDL, so it opens at once instead of queueing behind that write."""
    PostgresJournal(postgres_dsn).close()  # the schema, made once
    with psycopg.connect(postgres_dsn) as writer:
        writer.execute(
            "INSERT INTO order_busts VALUES ('f1', 'o1', '1', '1', 1)"
        )  # open transaction: ROW EXCLUSIVE on order_busts
        started = time.monotonic()
        PostgresJournal(postgres_dsn).close()
        assert time.monotonic() - started < 4  # the lock timeout is 5 s
        writer.rollback()


def test_a_database_not_in_utf8_is_refused_by_name(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute(
            "CREATE DATABASE latin ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'"
            " TEMPLATE template0"
        )
    with pytest.raises(JournalError, match="encoding is LATIN1; fixbridge needs UTF8"):
        PostgresJournal(psycopg.conninfo.make_conninfo(postgres_dsn, dbname="latin"))


def test_a_nul_in_text_from_a_peer_is_stored_not_refused(postgres_dsn: str) -> None:
    """PostgreSQL text cannot hold U+0000; SQLite can. An id or a logged field carrying one
    is stored (U+FFFD in its place) and found again by the same value, and the write around
    it is not lost."""

    async def test() -> None:
        journal = PostgresJournal(postgres_dsn)
        try:
            result = await journal.append_async("executions", [ev("x\x00y")], b"1", 1)
            assert result.stored == 1
            assert journal.journaled_ids("executions", ["x\x00y"]) == {"x\x00y"}
            again = await journal.append_async("executions", [ev("x\x00y")], b"2", 2)
            assert (again.stored, again.duplicates) == (0, 1)  # found as the same event
            journal.load_session("s")
            entry = LogEntry("s", "in", 0, 1, "2026\x00", 1, "A", b"8=FIXT.1.1\x01")
            await journal.save_sequence_numbers_async("s", 1, 2, at_ns=1, log=[entry])
            assert journal.find_session("s") is not None
        finally:
            journal.close()
        assert rows(postgres_dsn, "SELECT sending_time FROM message_log") == [("2026\ufffd",)]

    run(test)


def test_without_a_lease_one_bridge_alone_writes_the_journal(postgres_dsn: str) -> None:
    """As SQLite's lock file does: a second bridge opening a journal no lease guards is
    refused by name; once the first one is gone, it opens."""
    first = PostgresJournal(postgres_dsn)
    try:
        with pytest.raises(JournalError, match="in use by another fixbridge process"):
            PostgresJournal(postgres_dsn)
    finally:
        first.close()
    PostgresJournal(postgres_dsn).close()


def test_a_version_1_journal_gets_the_bodies_table_and_a_later_one_is_refused(
    postgres_dsn: str,
) -> None:
    """Version 2 keeps executions' bodies rendered at ingest (execution_bodies). A journal
    made by the version before is brought up to it when opened, keeping what it holds; one of
    a later version is refused by name, its version left as it is."""

    async def test() -> None:
        journal = PostgresJournal(postgres_dsn)
        await journal.append_async("executions", [ev("a")], b"1", 1)
        journal.close()
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute("DROP TABLE execution_bodies")
            conn.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
        journal = PostgresJournal(postgres_dsn)
        try:
            body = StoredBody("r1", "F", "A", "S", "F", b"37=B\x01")
            new = NewEvent("b", 1, b"{}", b"raw", bodies=(body,))
            await journal.append_async("executions", [new], b"2", 2)
            read = journal.read_events(0, 10, rendering="r1")
            assert [(e.upstream_id, e.body) for e in read] == [("a", None), ("b", body)]
        finally:
            journal.close()
        assert rows(postgres_dsn, "SELECT value FROM meta WHERE key='schema_version'") == [
            ("2",)
        ]
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute("UPDATE meta SET value='3' WHERE key='schema_version'")
        with pytest.raises(JournalError, match="schema version 3"):
            PostgresJournal(postgres_dsn)
        assert rows(postgres_dsn, "SELECT value FROM meta WHERE key='schema_version'") == [
            ("3",)
        ]

    run(test)
