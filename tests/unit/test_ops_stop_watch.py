"""The stop's deadline: a hung stop is reported (threads, pending tasks), then the process ends.

The process is not really ended: the watch is given an exit function that records its code.
Waits below are for events with generous limits, never assertions on how long things took.
"""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from fixbridge.ops.stop_watch import (
    EXIT_STOP_TIMEOUT,
    StopWatch,
    await_chain,
    pending_tasks_report,
    threads_report,
)


class Exits:
    def __init__(self) -> None:
        self.codes: list[int] = []
        self.called = threading.Event()

    def __call__(self, code: int) -> None:
        self.codes.append(code)
        self.called.set()


def test_a_watch_needs_its_report_before_it_gives_up() -> None:
    with pytest.raises(ValueError, match="report_after_s <= give_up_s"):
        StopWatch(report_after_s=2.0, give_up_s=1.0)
    with pytest.raises(ValueError):
        StopWatch(report_after_s=0.0, give_up_s=1.0)


def test_a_stuck_loop_thread_is_named_in_the_report_and_the_process_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exits = Exits()
    watch = StopWatch(report_after_s=0.05, give_up_s=0.1, exit_process=exits)
    release = threading.Event()

    def closing_the_journal_blocks() -> None:
        release.wait(30)  # stands for a close that never returns

    async def main() -> None:
        watch.arm(asyncio.get_running_loop())
        closing_the_journal_blocks()  # blocks the loop thread itself

    caplog.set_level(logging.INFO, logger="fixbridge")
    runner = threading.Thread(target=asyncio.run, args=(main(),))
    runner.start()
    try:
        assert exits.called.wait(30)
    finally:
        release.set()
        runner.join(30)
    assert exits.codes == [EXIT_STOP_TIMEOUT]
    report = next(r for r in caplog.records if r.levelno == logging.WARNING).getMessage()
    assert "still stopping" in report
    assert "closing_the_journal_blocks" in report
    critical = [r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(critical) == 1 and "did not end within" in critical[0]


def test_pending_tasks_are_reported_with_where_they_wait(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exits = Exits()
    watch = StopWatch(report_after_s=0.05, give_up_s=60.0, exit_process=exits)
    reported = threading.Event()

    class Signal(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "tasks still pending" in record.getMessage():
                reported.set()

    async def waiting_for_the_exchange(never: asyncio.Future[None]) -> None:
        await never

    async def main() -> None:
        never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(waiting_for_the_exchange(never), name="executions")
        watch.arm(asyncio.get_running_loop())
        while not reported.is_set():
            await asyncio.sleep(0.01)
        watch.disarm()
        task.cancel()

    handler = Signal()
    logging.getLogger("fixbridge").addHandler(handler)
    caplog.set_level(logging.INFO, logger="fixbridge")
    try:
        asyncio.run(asyncio.wait_for(main(), 30))
    finally:
        logging.getLogger("fixbridge").removeHandler(handler)
    tasks = next(r for r in caplog.records if "tasks still pending" in r.getMessage())
    assert "task executions: waiting_for_the_exchange" in tasks.getMessage()
    assert exits.codes == []  # disarmed before giving up


def test_a_stop_that_ends_in_time_leaves_no_trace(caplog: pytest.LogCaptureFixture) -> None:
    exits = Exits()
    watch = StopWatch(report_after_s=0.05, give_up_s=0.1, exit_process=exits)

    async def main() -> None:
        watch.arm(asyncio.get_running_loop())
        watch.arm(asyncio.get_running_loop())  # a second stop signal changes nothing
        watch.disarm()

    caplog.set_level(logging.INFO, logger="fixbridge")
    asyncio.run(main())
    assert not watch.armed
    # The disarmed thread has ended; give it the time it would have taken to give up.
    assert not exits.called.wait(0.3)
    assert exits.codes == [] and caplog.records == []


def test_await_chain_follows_nested_coroutines() -> None:
    async def inner(f: asyncio.Future[None]) -> None:
        await f

    async def outer(f: asyncio.Future[None]) -> None:
        await inner(f)

    async def main() -> list[str]:
        f: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(outer(f))
        await asyncio.sleep(0)
        chain = await_chain(task.get_coro())
        report = pending_tasks_report(asyncio.get_running_loop())
        f.set_result(None)
        await task
        assert "outer" in report and "inner" in report
        return chain

    chain = asyncio.run(main())
    assert [entry.split(" ")[0] for entry in chain] == ["outer", "inner"]


def test_threads_report_names_this_thread() -> None:
    assert f"thread {threading.current_thread().name}" in threads_report()
    assert "test_threads_report_names_this_thread" in threads_report()
