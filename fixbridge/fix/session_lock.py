"""A FIX session's lock: held from taking sequence numbers to queuing their bytes, so that
nothing else of the session's goes out in between and wire order is sequence order.

An asyncio lock that can also be taken without awaiting (:meth:`SessionLock.try_acquire`):
a group-commit round delivers a live session's batch from a plain callback, where nothing can
be awaited, and holds the lock until that round has ended.

Rules:
- First come, first served: :meth:`release` hands the lock to the longest waiter at once, so
  a caller of :meth:`try_acquire` never takes it ahead of a coroutine already waiting.
- A waiter cancelled after the lock was handed to it passes it on; one cancelled before
  leaves the queue. Either way the lock is never left held by no one.
- Used from the event loop's thread only; never blocks a thread.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from types import TracebackType


class SessionLock:
    """An asyncio lock with a non-waiting acquire (rules: module doc)."""

    __slots__ = ("_held", "_waiters")

    def __init__(self) -> None:
        self._held = False
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def locked(self) -> bool:
        return self._held

    def try_acquire(self) -> bool:
        """Take the lock if it is free now; never waits. While it is free no one is waiting
        for it (a release hands it straight to the next waiter)."""
        if self._held:
            return False
        self._held = True
        return True

    async def acquire(self) -> None:
        if not self._held:
            self._held = True
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed to us as we were cancelled: pass it on
            else:  # a release meanwhile may have dropped it already
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        if not self._held:
            raise RuntimeError("release of a session lock that is not held")
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the lock passes to it, held throughout
                return
        self._held = False

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
