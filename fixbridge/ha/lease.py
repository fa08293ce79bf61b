"""The active bridge's lease in PostgreSQL, its fence, and the task that keeps it.

One row per lease (``fixbridge_lease``): who holds it, its fencing epoch, and when it expires,
by the database's clock, read once per statement (the two bridges' clocks never meet). The
holder renews it while it runs; anyone takes it once it has expired or was released, under
the next epoch. :func:`fence` is what every write transaction of the active bridge runs
first: it finds the lease still ours under our epoch and unexpired and holds a KEY SHARE lock
on the row until the transaction ends. A renewal (an UPDATE of no key column) passes that
lock, so a busy writer never starves the renewals; a takeover locks the row FOR UPDATE first,
so it waits for every fenced write in flight and the new term begins after the old one's last
write. :class:`LeaseKeeper` is the asyncio edge of ``ha/role.py``.

Rules:
- Every statement has a deadline (the connection's ``statement_timeout``, TCP keepalives and
  user timeouts on both sides, and a wait of at most ``renew_every_s`` per attempt): an
  unreachable database makes attempts fail, never hang. An attempt past its wait is
  abandoned, not awaited (its cancellation may hang on the same dead network), and the role's
  clock runs on while an attempt is in flight, so an active bridge steps down on time
  whatever the network.
- A fenced transaction may spend at most ``hold_s`` in one statement or idle between two:
  past that the server ends it, so a writer frozen or cut off mid-transaction holds a
  takeover up for no longer than that.
- A standby's poll locks nothing unless the lease has expired.
- A failed attempt drops the connection; the next attempt opens a new one.
- The DSN is never logged (it may hold a password; error texts have it masked); the holder
  name is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg

from fixbridge.ha.role import Action, BecomeActive, Elector, LeaseTiming, Role
from fixbridge.journal.store import JournalError
from fixbridge.pg import connect_kwargs, parse_dsn, text_of

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
_NOW = "(SELECT clock_timestamp() AS now) AS t"  # the database's time, read once
# A renewal: ours and still running. An UPDATE of no key column takes only a NO KEY UPDATE
# row lock, which the fenced writers' KEY SHARE locks do not hold up.
_RENEW = f"""
UPDATE fixbridge_lease AS l SET expires_at = t.now + %(ttl)s * interval '1 second'
FROM {_NOW}
WHERE l.name = %(name)s AND l.holder = %(holder)s AND l.expires_at > t.now
RETURNING l.epoch
"""
_CREATE = """
INSERT INTO fixbridge_lease (name, holder, epoch, expires_at)
VALUES (%(name)s, %(holder)s, 1, clock_timestamp() + %(ttl)s * interval '1 second')
ON CONFLICT (name) DO NOTHING
RETURNING epoch
"""
_PEEK = f"""
SELECT l.holder, l.expires_at <= t.now FROM fixbridge_lease AS l, {_NOW}
WHERE l.name = %(name)s
"""
# A takeover locks the row FOR UPDATE first: that waits for every fenced write in flight
# (KEY SHARE) to end, so the new term begins after the old one's last write.
_LOCK = f"""
SELECT l.holder, l.expires_at <= t.now FROM fixbridge_lease AS l, {_NOW}
WHERE l.name = %(name)s
FOR UPDATE OF l
"""
_TAKE_OVER = f"""
UPDATE fixbridge_lease AS l
SET holder = %(holder)s, epoch = l.epoch + 1, expires_at = t.now + %(ttl)s * interval '1 second'
FROM {_NOW}
WHERE l.name = %(name)s
RETURNING l.epoch
"""
_RELEASE = """
UPDATE fixbridge_lease SET expires_at = clock_timestamp()
WHERE name = %(name)s AND holder = %(holder)s AND epoch = %(epoch)s
"""
_FENCE_LIMITS = (
    "SELECT set_config('idle_in_transaction_session_timeout', %(ms)s, true),"
    " set_config('statement_timeout', %(ms)s, true)"
)
_FENCE = f"""
SELECT 1 FROM fixbridge_lease AS l, {_NOW}
WHERE l.name = %(name)s AND l.holder = %(holder)s AND l.epoch = %(epoch)s
  AND l.expires_at > t.now
FOR KEY SHARE OF l
"""


class Fenced(JournalError):
    """A write of a bridge that no longer holds the lease under its epoch: nothing of the
    transaction may commit."""


@dataclass(frozen=True, slots=True)
class Granted:
    epoch: int


@dataclass(frozen=True, slots=True)
class HeldBy:
    holder: str


async def ensure_schema(conn: psycopg.AsyncConnection[Any]) -> None:
    """The lease table, made once: a role that may not create tables works with one made."""
    row = await (await conn.execute("SELECT to_regclass('fixbridge_lease') IS NOT NULL")).fetchone()
    if row is None or not row[0]:
        await conn.execute(SCHEMA)


async def take(
    conn: psycopg.AsyncConnection[Any], holder: str, ttl_s: float, name: str = LEASE
) -> Granted | HeldBy:
    """Take or renew the lease for ``ttl_s`` (an autocommit connection): renewed while it is
    ours and running (same epoch); created at epoch 1; taken over, under the next epoch, once
    it has expired, after every fenced write of the old term has ended."""
    params = {"name": name, "holder": holder, "ttl": ttl_s}
    row = await (await conn.execute(_RENEW, params)).fetchone()
    if row is not None:
        return Granted(int(row[0]))
    row = await (await conn.execute(_CREATE, params)).fetchone()
    if row is not None:
        return Granted(int(row[0]))
    peek = await (await conn.execute(_PEEK, params)).fetchone()
    if peek is None or not peek[1]:  # running (a standby's poll locks nothing)
        return HeldBy(str(peek[0]) if peek is not None else "nobody")
    async with conn.transaction():
        locked = await (await conn.execute(_LOCK, params)).fetchone()
        if locked is None or not locked[1]:  # renewed or taken while we waited
            return HeldBy(str(locked[0]) if locked is not None else "nobody")
        row = await (await conn.execute(_TAKE_OVER, params)).fetchone()
        assert row is not None  # the row is locked by us
        return Granted(int(row[0]))


async def release(
    conn: psycopg.AsyncConnection[Any], holder: str, epoch: int, name: str = LEASE
) -> bool:
    """End our lease now (a clean stop: the standby need not wait for it to expire)."""
    cursor = await conn.execute(_RELEASE, {"name": name, "holder": holder, "epoch": epoch})
    return cursor.rowcount == 1


async def fence(
    conn: psycopg.AsyncConnection[Any],
    holder: str,
    epoch: int,
    *,
    hold_s: float,
    name: str = LEASE,
) -> None:
    """Inside a write transaction, first: raise :class:`Fenced` unless the lease is still
    ours under ``epoch`` and unexpired, and hold it (a KEY SHARE lock: renewals pass, a
    takeover waits) until the transaction ends. The transaction may then spend at most
    ``hold_s`` in any one statement or idle between two (a frozen or cut-off writer would
    otherwise hold every takeover up): past that the server ends the session, and nothing of
    the transaction commits."""
    ms = str(max(1, round(hold_s * 1000)))
    await conn.execute(_FENCE_LIMITS, {"ms": ms})
    row = await (
        await conn.execute(_FENCE, {"name": name, "holder": holder, "epoch": epoch})
    ).fetchone()
    if row is None:
        raise Fenced(f"{holder} no longer holds the lease under epoch {epoch}")


def fence_sync(
    conn: psycopg.Connection[Any],
    holder: str,
    epoch: int,
    *,
    hold_s: float,
    name: str = LEASE,
) -> None:
    """:func:`fence` on a blocking connection (the journal's committer thread)."""
    ms = str(max(1, round(hold_s * 1000)))
    conn.execute(_FENCE_LIMITS, {"ms": ms})
    row = conn.execute(_FENCE, {"name": name, "holder": holder, "epoch": epoch}).fetchone()
    if row is None:
        raise Fenced(f"{holder} no longer holds the lease under epoch {epoch}")


class JournalFence:
    """The fence of every journal write transaction of a bridge whose lease ``keeper``
    keeps: a standby (no epoch) writes nothing, an active one only under its epoch."""

    def __init__(self, keeper: LeaseKeeper, *, hold_s: float) -> None:
        self._keeper = keeper
        self._hold_s = hold_s

    def __call__(self, conn: psycopg.Connection[Any]) -> None:
        epoch = self._keeper.epoch
        if epoch is None:
            raise Fenced(f"{self._keeper.holder} is not active: the journal is not its to write")
        fence_sync(conn, self._keeper.holder, epoch, hold_s=self._hold_s, name=self._keeper.name)


class LeaseKeeper:
    """Takes and renews the lease for this bridge, telling ``on_change`` of each change of role
    (rules: module doc and ``ha/role.py``). ``run`` until cancelled; ``release`` after that, on
    a clean stop. The holder is the bridge's name and a token of this keeper's own, so a
    bridge restarted under the same name is a new holder (a new epoch): the frozen process it
    replaced can never pass the fence as the same holder."""

    def __init__(
        self,
        dsn: str,
        bridge: str,
        timing: LeaseTiming,
        on_change: Callable[[Action], None],
        *,
        name: str = LEASE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._password = str(parse_dsn(dsn).get("password") or "")
        self._dsn = dsn
        self.holder = f"{bridge}/{secrets.token_hex(6)}"
        self.name = name
        self.timing = timing
        self._on_change = on_change
        self._clock = clock
        self.elector = Elector(timing, clock())
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._opening: asyncio.Future[psycopg.AsyncConnection[Any]] | None = None
        self._stray: set[asyncio.Future[Any]] = set()  # abandoned attempts, cancelling
        self.attempts_failed = 0

    @property
    def active(self) -> bool:
        """Active, and the lease surely still ours by our clock (a keeper whose loop was held
        up, e.g. a process frozen and woken, is not active past that moment)."""
        until = self.elector.steps_down_at
        return self.elector.role is Role.ACTIVE and until is not None and self._clock() < until

    @property
    def epoch(self) -> int | None:
        return self.elector.epoch if self.active else None

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
            self._act(self.elector.stopped("the lease keeper stopped"))
            self._stop_opening()
            await self._drop()

    async def release(self) -> None:
        """Give the lease up now, once :meth:`run` has ended (a clean stop: the standby need
        not wait for it to expire). Best effort: it expires by itself anyway."""
        epoch = self.elector.epoch
        self._act(self.elector.released(self._clock()))
        if epoch is None:
            return

        async def give_up() -> bool:
            return await release(await self._connection(), self.holder, epoch, self.name)

        outcome = await self._bounded(give_up(), self._clock() + self.timing.renew_every_s)
        if not isinstance(outcome, bool):
            log.warning("lease: could not release it (%s); it expires by itself", outcome)
        self._stop_opening()
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
        the query over a new connection, which may hang too) goes on in the background. If
        the caller is cancelled, so is the work."""
        task = asyncio.ensure_future(work)
        try:
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
        except asyncio.CancelledError:
            self._abandon(task)
            raise
        error = task.exception()
        if error is None:
            return task.result()
        if isinstance(error, (OSError, psycopg.Error)):
            return self._what(error)
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
            try:
                self._on_change(action)
            except Exception:  # the service's reaction failed: the lease goes on regardless
                log.exception("lease: reacting to %s failed", action)

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        """The connection, or the one being opened. Opening may outlast an attempt (libpq
        tries a DSN's hosts in turn, each with its connect timeout): an abandoned attempt
        leaves it going, and the next attempt waits on the same one, so a dead first host
        never keeps the next ones from being reached."""
        if self._conn is not None and not self._conn.closed:
            return self._conn
        if self._opening is None:
            self._opening = asyncio.ensure_future(self._open())
        opening = self._opening
        try:
            conn = await asyncio.shield(opening)
        except asyncio.CancelledError:
            raise
        except BaseException:
            if self._opening is opening:
                self._opening = None
            raise
        if self._opening is opening:
            self._opening = None
            self._conn = conn
        return conn

    async def _open(self) -> psycopg.AsyncConnection[Any]:
        # Each host may take its connect timeout; the whole open is bounded by the TCP and
        # statement settings (fixbridge/pg.py), not by one attempt's wait.
        settings = connect_kwargs(self._dsn, self.timing.renew_every_s, "fixbridge-lease")
        conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True, **settings)
        try:
            await ensure_schema(conn)
        except BaseException:
            await _close_quietly(conn)
            raise
        return conn

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await _close_quietly(conn)

    def _stop_opening(self) -> None:
        """The keeper is done: a connection still being opened is not wanted any more."""
        opening, self._opening = self._opening, None
        if opening is not None:
            opening.cancel()
            opening.add_done_callback(_closed_if_opened)

    def _what(self, exc: BaseException) -> str:
        return text_of(exc, self._password)


def _closed_if_opened(opening: asyncio.Future[psycopg.AsyncConnection[Any]]) -> None:
    """A connection that opened after all once nobody wanted it is closed (in the background)."""
    if opening.cancelled() or opening.exception() is not None:
        return
    closing = asyncio.ensure_future(_close_quietly(opening.result()))
    _CLOSING.add(closing)
    closing.add_done_callback(_CLOSING.discard)


_CLOSING: set[asyncio.Future[None]] = set()  # held until done: a task nobody holds may vanish


async def _close_quietly(conn: psycopg.AsyncConnection[Any]) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await conn.close()
