"""The active bridge's lease (fixbridge/ha/lease.py) on a real PostgreSQL server.

Checked against the database itself, not against our reading of it: who holds the row and
under which epoch, whether a deposed holder's write commits, whether a takeover waits on the
row lock (pg_stat_activity says so), and what two keepers do when one of them dies or loses
the network (a TCP relay that drops everything without closing).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import pytest

from fixbridge.ha.lease import (
    Fenced,
    Granted,
    HeldBy,
    LeaseKeeper,
    ensure_schema,
    fence,
    release,
    take,
)
from fixbridge.ha.role import Action, BecomeActive, LeaseTiming, StepDown
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration

Conn = psycopg.AsyncConnection[Any]


def run(test: Callable[[], Awaitable[None]], timeout: float = 60) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout))


async def connect(dsn: str, *, autocommit: bool = True) -> Conn:
    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=autocommit)
    await ensure_schema(conn)
    if not autocommit:
        await conn.commit()  # so that each transaction() below is a transaction of its own
    return conn


async def until(condition: Callable[[], Awaitable[bool]], what: str, limit: float = 30) -> None:
    """Poll ``condition`` until it holds (a wait, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not {what} after {limit:g} s")
        await asyncio.sleep(0.02)


async def expired(conn: Conn) -> bool:
    row = await (
        await conn.execute("SELECT expires_at <= clock_timestamp() FROM fixbridge_lease")
    ).fetchone()
    return bool(row and row[0])


async def create_table(conn: Conn) -> None:
    await conn.execute("CREATE TABLE IF NOT EXISTS writes (who TEXT NOT NULL)")


async def writes(conn: Conn) -> list[str]:
    rows = await (await conn.execute("SELECT who FROM writes ORDER BY who")).fetchall()
    return [str(r[0]) for r in rows]


def test_one_of_two_holds_the_lease_and_a_renewal_keeps_its_epoch(postgres_dsn: str) -> None:
    async def test() -> None:
        a, b = await connect(postgres_dsn), await connect(postgres_dsn)
        assert await take(a, "bridge-a", 30) == Granted(1)
        assert await take(b, "bridge-b", 30) == HeldBy("bridge-a")
        assert await take(a, "bridge-a", 30) == Granted(1)
        row = await (await a.execute("SELECT holder, epoch FROM fixbridge_lease")).fetchone()
        assert row == ("bridge-a", 1)
        await a.close()
        await b.close()

    run(test)


def test_an_expired_lease_goes_over_under_a_new_epoch_and_fences_the_old_holder(
    postgres_dsn: str,
) -> None:
    async def test() -> None:
        a, b = await connect(postgres_dsn), await connect(postgres_dsn)
        await create_table(a)
        assert await take(a, "bridge-a", 0.3) == Granted(1)
        await until(lambda: expired(b), "expired")
        assert await take(b, "bridge-b", 30) == Granted(2)
        assert await take(a, "bridge-a", 30) == HeldBy("bridge-b")  # no renewal after expiry
        # bridge-a, deposed, tries to write under its old epoch: nothing commits.
        writer = await connect(postgres_dsn, autocommit=False)
        with pytest.raises(Fenced, match="bridge-a no longer holds the lease under epoch 1"):
            async with writer.transaction():
                await writer.execute("INSERT INTO writes VALUES ('bridge-a')")
                await fence(writer, "bridge-a", 1, hold_s=5)
        async with writer.transaction():  # the holder's write under its epoch commits
            await fence(writer, "bridge-b", 2, hold_s=5)
            await writer.execute("INSERT INTO writes VALUES ('bridge-b')")
        assert await writes(b) == ["bridge-b"]
        for conn in (a, b, writer):
            await conn.close()

    run(test)


def test_a_takeover_waits_for_the_holders_write_in_flight(postgres_dsn: str) -> None:
    """bridge-a's transaction passed its fence while the lease ran; the lease then expires in
    the database. bridge-b's takeover waits on the row lock until that transaction ends, so
    the new term begins after the old one's last write, never before it."""

    async def test() -> None:
        a, b, watcher = [await connect(postgres_dsn) for _ in range(3)]
        await create_table(a)
        writer = await connect(postgres_dsn, autocommit=False)
        assert await take(a, "bridge-a", 0.5) == Granted(1)
        async with writer.transaction():
            await fence(writer, "bridge-a", 1, hold_s=5)
            await writer.execute("INSERT INTO writes VALUES ('bridge-a')")
            await until(lambda: expired(watcher), "expired")
            b_pid = b.info.backend_pid
            takeover = asyncio.create_task(take(b, "bridge-b", 30))

            async def b_waits_on_the_lock() -> bool:
                row = await (
                    await watcher.execute(
                        "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (b_pid,)
                    )
                ).fetchone()
                return row is not None and row[0] == "Lock"

            await until(b_waits_on_the_lock, "waiting on the lease row")
            assert not takeover.done()
            await writer.execute("SELECT 1")  # still inside its limits: not idle for long
        assert await takeover == Granted(2)
        assert await writes(watcher) == ["bridge-a"]  # committed, before the new term
        for conn in (a, b, watcher, writer):
            await conn.close()

    run(test)


def test_a_released_lease_is_taken_at_once(postgres_dsn: str) -> None:
    async def test() -> None:
        a, b = await connect(postgres_dsn), await connect(postgres_dsn)
        assert await take(a, "bridge-a", 30) == Granted(1)
        assert not await release(a, "bridge-a", 7)  # not our epoch: nothing released
        assert await take(b, "bridge-b", 30) == HeldBy("bridge-a")
        assert await release(a, "bridge-a", 1)
        assert await take(b, "bridge-b", 30) == Granted(2)
        await a.close()
        await b.close()

    run(test)


def test_the_fence_refuses_an_expired_lease_nobody_has_taken_yet(postgres_dsn: str) -> None:
    async def test() -> None:
        a = await connect(postgres_dsn)
        writer = await connect(postgres_dsn, autocommit=False)
        assert await take(a, "bridge-a", 0.3) == Granted(1)
        await until(lambda: expired(a), "expired")
        with pytest.raises(Fenced):
            async with writer.transaction():
                await fence(writer, "bridge-a", 1, hold_s=5)
        assert await take(a, "bridge-a", 30) == Granted(2)  # lapsed and taken again
        with pytest.raises(Fenced):  # the live lease's old epoch is fenced all the same
            async with writer.transaction():
                await fence(writer, "bridge-a", 1, hold_s=5)
        await a.close()
        await writer.close()

    run(test)


def test_a_renewal_is_not_held_up_by_a_fenced_write_in_flight(postgres_dsn: str) -> None:
    async def test() -> None:
        a = await connect(postgres_dsn)
        writer = await connect(postgres_dsn, autocommit=False)
        assert await take(a, "bridge-a", 30) == Granted(1)
        async with writer.transaction():
            await fence(writer, "bridge-a", 1, hold_s=30)
            # KEY SHARE (the writer) and NO KEY UPDATE (the renewal) do not conflict: were
            # they to, this would wait for the writer, which waits for it: a deadlock.
            assert await asyncio.wait_for(take(a, "bridge-a", 30), 20) == Granted(1)
        await a.close()
        await writer.close()

    run(test)


def test_a_writer_frozen_mid_transaction_holds_a_takeover_up_only_for_its_hold(
    postgres_dsn: str,
) -> None:
    async def test() -> None:
        a, b = await connect(postgres_dsn), await connect(postgres_dsn)
        await create_table(a)
        writer = await connect(postgres_dsn, autocommit=False)
        assert await take(a, "bridge-a", 0.5) == Granted(1)
        await fence(writer, "bridge-a", 1, hold_s=1)  # opens the transaction
        await writer.execute("INSERT INTO writes VALUES ('bridge-a')")
        # ... and the writer freezes: idle in transaction, holding its KEY SHARE lock.
        await until(lambda: expired(b), "expired")
        assert await take(b, "bridge-b", 30) == Granted(2)  # once the server ended it
        with pytest.raises(psycopg.Error):
            await writer.commit()
        assert await writes(b) == []
        for conn in (a, b, writer):
            await conn.close()

    run(test)


# Generous for a loaded 2-core machine: a renewal has a second; a keeper steps down 5 s after
# its last confirmed renewal was sent; the other takes over 6 s after it.
TIMING = LeaseTiming(ttl_s=6.0, renew_every_s=1.0, margin_s=1.0)


class Recorder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.actions: list[Action] = []

    def __call__(self, action: Action) -> None:
        self.actions.append(action)


def test_when_the_active_keeper_dies_the_other_takes_over(postgres_dsn: str) -> None:
    async def test() -> None:
        seen = {name: Recorder(name) for name in ("bridge-a", "bridge-b")}
        keepers = {
            name: LeaseKeeper(postgres_dsn, name, TIMING, seen[name]) for name in seen
        }
        tasks = {name: asyncio.create_task(k.run()) for name, k in keepers.items()}

        async def one_active() -> bool:
            return sum(k.active for k in keepers.values()) == 1

        await until(one_active, "one keeper active")
        first = next(name for name, k in keepers.items() if k.active)
        other = next(name for name in keepers if name != first)
        for _ in range(3):  # a while of renewals: the roles do not move
            await asyncio.sleep(TIMING.renew_every_s)
            assert keepers[first].active and not keepers[other].active
        killed_at = time.monotonic()
        tasks[first].cancel()  # dies: no release, the lease must expire
        await asyncio.gather(tasks[first], return_exceptions=True)

        async def other_active() -> bool:
            return keepers[other].active

        await until(other_active, "taken over")
        took = time.monotonic() - killed_at
        assert took < 15, f"takeover after {took:.1f} s"
        assert seen[other].actions == [BecomeActive(2)]
        assert seen[first].actions == [BecomeActive(1), StepDown("the lease keeper stopped")]
        tasks[other].cancel()
        await asyncio.gather(tasks[other], return_exceptions=True)

    run(test)


def test_an_active_keeper_cut_off_from_the_database_steps_down_before_the_other_takes_over(
    postgres: Any, postgres_dsn: str
) -> None:
    async def test() -> None:
        proxy = TcpProxy("127.0.0.1", postgres.port)
        await proxy.start()
        cut_dsn = postgres_dsn.replace(f"port={postgres.port}", f"port={proxy.port}")
        events: list[tuple[str, Action, float]] = []

        def recorder(name: str) -> Callable[[Action], None]:
            return lambda action: events.append((name, action, time.monotonic()))

        a = LeaseKeeper(cut_dsn, "bridge-a", TIMING, recorder("bridge-a"))
        a_task = asyncio.create_task(a.run())

        async def a_active() -> bool:
            return a.active

        await until(a_active, "bridge-a active")
        b = LeaseKeeper(postgres_dsn, "bridge-b", TIMING, recorder("bridge-b"))
        b_task = asyncio.create_task(b.run())
        await asyncio.sleep(TIMING.renew_every_s * 3)
        assert a.active and not b.active
        proxy.freeze()  # bridge-a's packets to the database vanish

        async def b_active() -> bool:
            return b.active

        await until(b_active, "bridge-b active")
        names = [(name, type(action).__name__) for name, action, _ in events]
        assert names == [
            ("bridge-a", "BecomeActive"),
            ("bridge-a", "StepDown"),
            ("bridge-b", "BecomeActive"),
        ]
        step_down_at, b_active_at = events[1][2], events[2][2]
        assert step_down_at <= b_active_at  # never two active at once
        assert isinstance(events[1][1], StepDown)
        assert events[1][1].reason == "the lease was not renewed in time"
        assert a.attempts_failed >= 1
        for task in (a_task, b_task):
            task.cancel()
        await asyncio.gather(a_task, b_task, return_exceptions=True)
        await proxy.close()

    run(test)


def test_a_bridge_restarted_under_its_name_is_a_new_holder(postgres_dsn: str) -> None:
    """The process it replaced may be frozen, not dead: under the same name it would renew
    the old epoch and pass the fence. Each keeper is a holder of its own."""

    async def test() -> None:
        first = LeaseKeeper(postgres_dsn, "bridge-a", TIMING, Recorder("first"))
        first_task = asyncio.create_task(first.run())

        async def first_active() -> bool:
            return first.active

        await until(first_active, "first active")
        old_holder = first.holder
        first_task.cancel()  # gone without a release
        await asyncio.gather(first_task, return_exceptions=True)
        again = LeaseKeeper(postgres_dsn, "bridge-a", TIMING, Recorder("again"))
        again_task = asyncio.create_task(again.run())

        async def again_active() -> bool:
            return again.active

        await until(again_active, "restarted active")
        assert again.holder != old_holder and again.holder.startswith("bridge-a/")
        assert again.epoch == 2
        writer = await connect(postgres_dsn, autocommit=False)
        with pytest.raises(Fenced):
            async with writer.transaction():
                await fence(writer, old_holder, 1, hold_s=5)
        again_task.cancel()
        await asyncio.gather(again_task, return_exceptions=True)
        await writer.close()

    run(test)


def test_a_failing_reaction_neither_stops_the_keeper_nor_loses_the_lease(
    postgres_dsn: str,
) -> None:
    async def test() -> None:
        calls: list[Action] = []

        def broken(action: Action) -> None:
            calls.append(action)
            raise RuntimeError("the service could not react")

        keeper = LeaseKeeper(postgres_dsn, "bridge-a", TIMING, broken)
        task = asyncio.create_task(keeper.run())

        async def active() -> bool:
            return keeper.active

        await until(active, "active")
        await asyncio.sleep(TIMING.renew_every_s * 3)  # renewals go on
        assert keeper.active and keeper.epoch == 1 and not task.done()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert calls == [BecomeActive(1), StepDown("the lease keeper stopped")]
        assert not keeper.active

    run(test)
