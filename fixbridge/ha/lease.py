"""The active bridge's lease in PostgreSQL, its fence, and the task that keeps it.

One row per lease (``fixbridge_lease``): who holds it, its fencing epoch, and when it expires,
by the database's clock (the two bridges' clocks never meet). Taking or renewing is one
statement: it succeeds for the holder while its lease runs, and for anyone once it has expired
or was released; the epoch goes up each time the lease changes hands, or lapses and is taken
again. :func:`fence` is what every write transaction of the active bridge runs first: it finds
the lease still ours under our epoch and unexpired, and holds a share lock on the row until
the transaction ends, so a takeover waits for that transaction and no write of a deposed
bridge can commit after it. :class:`LeaseKeeper` is the asyncio edge of ``ha/role.py``.

Rules:
- Every statement has a deadline (the connection's ``statement_timeout``, TCP keepalives and
  ``tcp_user_timeout``, and a wait of at most ``renew_every_s`` per attempt): an unreachable
  database makes attempts fail, never hang. An attempt past its wait is abandoned, not
  awaited (its cancellation may hang on the same dead network), and the role's clock runs on
  while an attempt is in flight, so an active bridge steps down on time whatever the network.
- A failed attempt drops the connection; the next attempt opens a new one.
- The DSN is never logged (it may hold a password); the holder name is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg

from fixbridge.ha.role import Action, BecomeActive, Elector, LeaseTiming, Role

log = logging.getLogger("fixbridge.ha")

T = TypeVar("T")
LEASE = "active"
CLOSE_TIMEOUT_S = 5.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS fixbridge_lease (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
)
"""
# Ours while it runs (a renewal, same epoch); anyone's once expired (a new epoch).
_TAKE = """
INSERT INTO fixbridge_lease AS l (name, holder, epoch, expires_at)
VALUES (%(name)s, %(holder)s, 1, clock_timestamp() + %(ttl)s * interval '1 second')
ON CONFLICT (name) DO UPDATE SET
    epoch = CASE WHEN l.holder = excluded.holder AND l.expires_at > clock_timestamp()
                 THEN l.epoch ELSE l.epoch + 1 END,
    holder = excluded.holder,
    expires_at = excluded.expires_at
WHERE (l.holder = excluded.holder AND l.expires_at > clock_timestamp())
   OR l.expires_at <= clock_timestamp()
RETURNING epoch
"""
_HOLDER = "SELECT holder FROM fixbridge_lease WHERE name = %(name)s"
_RELEASE = """
UPDATE fixbridge_lease SET expires_at = clock_timestamp()
WHERE name = %(name)s AND holder = %(holder)s AND epoch = %(epoch)s
"""
_FENCE = """
SELECT 1 FROM fixbridge_lease
WHERE name = %(name)s AND holder = %(holder)s AND epoch = %(epoch)s
  AND expires_at > clock_timestamp()
FOR SHARE
"""


class Fenced(Exception):
    """A write of a bridge that no longer holds the lease under its epoch: nothing of the
    transaction may commit."""


@dataclass(frozen=True, slots=True)
class Granted:
    epoch: int


@dataclass(frozen=True, slots=True)
class HeldBy:
    holder: str


async def ensure_schema(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.execute(SCHEMA)


async def take(
    conn: psycopg.AsyncConnection[Any], holder: str, ttl_s: float, name: str = LEASE
) -> Granted | HeldBy:
    """Take or renew the lease for ``ttl_s`` (autocommit connection: one statement)."""
    params = {"name": name, "holder": holder, "ttl": ttl_s}
    row = await (await conn.execute(_TAKE, params)).fetchone()
    if row is not None:
        return Granted(int(row[0]))
    held = await (await conn.execute(_HOLDER, params)).fetchone()
    return HeldBy(str(held[0]) if held is not None else "nobody")


async def release(
    conn: psycopg.AsyncConnection[Any], holder: str, epoch: int, name: str = LEASE
) -> bool:
    """End our lease now (a clean stop: the standby need not wait for it to expire)."""
    cursor = await conn.execute(_RELEASE, {"name": name, "holder": holder, "epoch": epoch})
    return cursor.rowcount == 1


async def fence(
    conn: psycopg.AsyncConnection[Any], holder: str, epoch: int, name: str = LEASE
) -> None:
    """Inside a write transaction, first: raise :class:`Fenced` unless the lease is still
    ours under ``epoch`` and unexpired; hold it (share lock) until the transaction ends."""
    row = await (
        await conn.execute(_FENCE, {"name": name, "holder": holder, "epoch": epoch})
    ).fetchone()
    if row is None:
        raise Fenced(f"{holder} no longer holds the lease under epoch {epoch}")


def connection_options(statement_timeout_s: float) -> dict[str, Any]:
    """libpq settings that bound every wait on the lease's connection."""
    timeout_ms = max(1, round(statement_timeout_s * 1000))
    return {
        "connect_timeout": max(1, round(statement_timeout_s)),
        "options": f"-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms}",
        "keepalives": 1,
        "keepalives_idle": 1,
        "keepalives_interval": 1,
        "keepalives_count": 2,
        "tcp_user_timeout": timeout_ms,
        "application_name": "fixbridge-lease",
    }


class LeaseKeeper:
    """Takes and renews the lease for ``holder``, telling ``on_change`` of each change of
    role (rules: module doc and ``ha/role.py``). ``run`` until cancelled; ``release`` on a
    clean stop."""

    def __init__(
        self,
        dsn: str,
        holder: str,
        timing: LeaseTiming,
        on_change: Callable[[Action], None],
        *,
        name: str = LEASE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._dsn = dsn
        self.holder = holder
        self.name = name
        self.timing = timing
        self._on_change = on_change
        self._clock = clock
        self.elector = Elector(timing, clock())
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._stray: set[asyncio.Future[Any]] = set()  # abandoned attempts, cancelling
        self.attempts_failed = 0

    @property
    def active(self) -> bool:
        return self.elector.role is Role.ACTIVE

    async def run(self) -> None:
        try:
            while True:
                now = self._clock()
                self._act(self.elector.tick(now))
                if self.elector.attempt_due(now):
                    await self._attempt(now)
                else:
                    await asyncio.sleep(max(0.0, self.elector.next_wake() - self._clock()))
        finally:
            await self._drop()

    async def release(self) -> None:
        """Give the lease up now if we hold it (best effort: it expires by itself anyway)."""
        epoch = self.elector.epoch
        if not self.active or epoch is None:
            return
        self._act(self.elector.released(self._clock()))

        async def give_up() -> bool:
            return await release(await self._connection(), self.holder, epoch, self.name)

        outcome = await self._bounded(give_up(), self._clock() + self.timing.renew_every_s)
        if not isinstance(outcome, bool):
            log.warning("lease: could not release it (%s); it expires by itself", outcome)
        await self._drop()

    async def _attempt(self, now: float) -> None:
        """One attempt to take or renew, waited for at most ``renew_every_s``. While it is
        in flight the role's clock still runs: an active keeper steps down on time even if
        the attempt hangs (a database that drops every packet)."""
        self.elector.sent(now)

        async def attempt() -> Granted | HeldBy:
            return await take(await self._connection(), self.holder, self.timing.ttl_s, self.name)

        outcome = await self._bounded(attempt(), now + self.timing.renew_every_s)
        if isinstance(outcome, Granted):
            self._act(self.elector.granted(outcome.epoch, self._clock()))
        elif isinstance(outcome, HeldBy):
            self._act(self.elector.refused(outcome.holder, self._clock()))
        else:
            self.attempts_failed += 1
            log.warning("lease: attempt failed (%s)", outcome)
            await self._drop()
            self._act(self.elector.failed(self._clock()))

    async def _bounded(self, work: Coroutine[Any, Any, T], deadline: float) -> T | str:
        """``work``'s result, or why there is none (its error, or no answer by ``deadline``).
        Past the deadline it is abandoned, not waited for: its cancellation (psycopg cancels
        the query over a new connection, which may hang too) goes on in the background."""
        task = asyncio.ensure_future(work)
        while not task.done():
            limit = deadline
            steps_down_at = self.elector.steps_down_at
            if steps_down_at is not None:
                limit = min(limit, steps_down_at)
            await asyncio.wait({task}, timeout=max(0.0, limit - self._clock()))
            now = self._clock()
            self._act(self.elector.tick(now))
            if not task.done() and now >= deadline:
                self._abandon(task)
                return "no answer in time"
        error = task.exception()
        if error is None:
            return task.result()
        if isinstance(error, (OSError, psycopg.Error)):
            return _what(error)
        raise error

    def _abandon(self, task: asyncio.Future[Any]) -> None:
        task.cancel()
        conn, self._conn = self._conn, None
        self._stray.add(task)

        def closed(done: asyncio.Future[Any]) -> None:
            self._stray.discard(done)
            if not done.cancelled():
                done.exception()  # retrieved: an abandoned attempt's error is not news
            if conn is not None:
                closing = asyncio.get_running_loop().create_task(_close_quietly(conn))
                self._stray.add(closing)  # held until done: a task nobody holds may vanish
                closing.add_done_callback(self._stray.discard)

        task.add_done_callback(closed)

    def _act(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, BecomeActive):
                log.warning("lease: %s is active (epoch %d)", self.holder, action.epoch)
            else:
                log.warning("lease: %s steps down: %s", self.holder, action.reason)
            self._on_change(action)

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self._dsn, autocommit=True, **connection_options(self.timing.renew_every_s)
            )
            await ensure_schema(self._conn)
        return self._conn

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await _close_quietly(conn)


async def _close_quietly(conn: psycopg.AsyncConnection[Any]) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await conn.close()


def _what(exc: BaseException) -> str:
    """An error in a line, without the DSN (psycopg's connection errors can quote it)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
