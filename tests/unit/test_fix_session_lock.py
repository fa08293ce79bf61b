"""The session lock: first come, first served, a non-waiting acquire that never jumps the
queue, and no cancellation that leaves it held by no one (fix/session_lock.py's rules)."""

from __future__ import annotations

import asyncio

import pytest

from fixbridge.fix.session_lock import SessionLock


def test_waiters_take_the_lock_in_the_order_they_asked() -> None:
    async def main() -> list[int]:
        lock, order = SessionLock(), []
        await lock.acquire()

        async def take(n: int) -> None:
            async with lock:
                order.append(n)
                await asyncio.sleep(0)

        tasks = [asyncio.create_task(take(n)) for n in range(5)]
        await asyncio.sleep(0)  # all five are waiting
        lock.release()
        await asyncio.gather(*tasks)
        assert not lock.locked()
        return order

    assert asyncio.run(main()) == [0, 1, 2, 3, 4]


def test_try_acquire_takes_a_free_lock_and_never_one_someone_waits_for() -> None:
    async def main() -> None:
        lock = SessionLock()
        assert lock.try_acquire() and lock.locked()
        assert not lock.try_acquire()  # held
        waiter = asyncio.create_task(lock.acquire())
        await asyncio.sleep(0)
        lock.release()  # handed to the waiter at once, before it even runs
        assert lock.locked() and not lock.try_acquire()
        await waiter
        lock.release()
        assert not lock.locked() and lock.try_acquire()

    asyncio.run(main())


def test_a_waiter_cancelled_before_its_turn_leaves_the_queue() -> None:
    async def main() -> None:
        lock = SessionLock()
        await lock.acquire()
        gone = asyncio.create_task(lock.acquire())
        stays = asyncio.create_task(lock.acquire())
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.gather(gone, return_exceptions=True)
        lock.release()
        await stays  # the lock went past the cancelled one
        assert lock.locked()
        lock.release()
        assert not lock.locked() and not lock._waiters

    asyncio.run(main())


def test_a_waiter_cancelled_after_the_lock_was_handed_to_it_passes_it_on() -> None:
    async def main() -> None:
        lock = SessionLock()
        await lock.acquire()
        first = asyncio.create_task(lock.acquire())
        second = asyncio.create_task(lock.acquire())
        await asyncio.sleep(0)
        lock.release()  # handed to ``first`` ...
        first.cancel()  # ... which is cancelled before it runs
        await asyncio.gather(first, return_exceptions=True)
        assert first.cancelled()
        await asyncio.wait_for(second, 1)  # it passed the lock on
        lock.release()
        assert not lock.locked()

    asyncio.run(main())


def test_releasing_a_lock_not_held_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not held"):
        SessionLock().release()
