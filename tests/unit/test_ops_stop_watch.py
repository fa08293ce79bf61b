"""The stop's deadline: a hung stop is reported (threads, pending tasks), then the process ends.

The process is not really ended: the watch is given an exit function that records its code.
Waits below are for events with generous limits, never assertions on how long things took.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fixbridge.cli import STOP_SIGNALS, stop_on_signals
from fixbridge.ops.stop_watch import (
    EXIT_STOP_TIMEOUT,
    StopWatch,
    await_chain,
    pending_tasks_report,
    threads_report,
)

REPO = Path(__file__).resolve().parents[2]


class Exits:
    def __init__(self) -> None:
        self.codes: list[int] = []
        self.called = threading.Event()

    def __call__(self, code: int) -> None:
        self.codes.append(code)
        self.called.set()


def quiet_watch(exits: Exits, *, report_after_s: float, give_up_s: float) -> StopWatch:
    """A watch that ends nothing: its exit is recorded, and faulthandler's timer is off."""
    return StopWatch(
        report_after_s=report_after_s, give_up_s=give_up_s, exit_process=exits, backstop=False
    )


def test_a_watch_needs_its_report_before_it_gives_up() -> None:
    with pytest.raises(ValueError, match="report_after_s <= give_up_s"):
        StopWatch(report_after_s=2.0, give_up_s=1.0)
    with pytest.raises(ValueError):
        StopWatch(report_after_s=0.0, give_up_s=1.0)


def test_a_stuck_loop_thread_is_named_in_the_report_and_the_process_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exits = Exits()
    watch = quiet_watch(exits, report_after_s=0.05, give_up_s=0.1)
    release = threading.Event()

    def closing_the_journal_blocks() -> None:
        release.wait(30)  # stands for a close that never returns

    async def main() -> None:
        watch.install(asyncio.get_running_loop())
        watch.arm()
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
    watch = quiet_watch(exits, report_after_s=0.05, give_up_s=60.0)
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
        watch.install(asyncio.get_running_loop())
        watch.arm()
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


def test_a_stop_that_ends_in_time_leaves_no_trace(caplog: pytest.LogCaptureFixture) -> None:
    exits = Exits()
    watch = quiet_watch(exits, report_after_s=0.05, give_up_s=0.1)

    async def main() -> None:
        watch.install(asyncio.get_running_loop())
        watch.arm()
        watch.arm()  # a second stop signal changes nothing
        watch.disarm()

    caplog.set_level(logging.INFO, logger="fixbridge")
    asyncio.run(main())
    assert not watch.armed
    assert watch.thread is not None
    watch.thread.join(30)  # it ends once disarmed, having reported and ended nothing
    assert not watch.thread.is_alive()
    assert exits.codes == [] and caplog.records == []


def test_an_installed_watch_that_is_never_armed_ends_with_disarm() -> None:
    exits = Exits()
    watch = quiet_watch(exits, report_after_s=0.05, give_up_s=0.1)

    async def main() -> None:
        watch.install(asyncio.get_running_loop())

    asyncio.run(main())
    assert watch.thread is not None and watch.thread.is_alive()  # idle, waiting for a stop
    watch.disarm()
    watch.thread.join(30)
    assert not watch.thread.is_alive() and exits.codes == []
    watch.arm()  # a signal after the end changes nothing
    assert not watch.armed


def test_sigterm_arms_the_watch_stops_the_loop_and_the_old_handlers_come_back() -> None:
    exits = Exits()
    watch = quiet_watch(exits, report_after_s=30.0, give_up_s=60.0)

    async def main() -> None:
        stop = asyncio.Event()
        before = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}  # asyncio.run's SIGINT
        with stop_on_signals(stop, watch):
            assert not watch.armed
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(stop.wait(), 30)
        assert {sig: signal.getsignal(sig) for sig in STOP_SIGNALS} == before

    try:
        asyncio.run(main())
        assert watch.armed
    finally:
        watch.disarm()
    assert exits.codes == []


# A bridge's stop that hangs, in a process of its own: the watch really ends it. With
# ``hold_log_lock`` the stuck thread holds the log handler's lock, so the watch's own report
# blocks, and faulthandler's timer ends the process instead.
HANGING_STOP = """
import asyncio, logging, sys, threading
from fixbridge.ops.stop_watch import StopWatch
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
watch = StopWatch(report_after_s=0.2, give_up_s=0.5)

async def main():
    watch.install(asyncio.get_running_loop())
    watch.arm()
    if sys.argv[1] == "hold_log_lock":
        logging.getLogger().handlers[0].acquire()
    threading.Event().wait(60)  # the stop that never ends, on the loop thread

asyncio.run(main())
"""


@pytest.mark.parametrize("how", ["plain", "hold_log_lock"])
def test_a_hanging_stop_ends_its_process_with_exit_1(how: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", HANGING_STOP, how],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == EXIT_STOP_TIMEOUT, done.stderr
    if how == "plain":
        assert "still stopping" in done.stderr
        assert "the stop did not end within 0 s" in done.stderr  # 0.5 s, rounded
    else:
        assert "still stopping" not in done.stderr  # the log was held: faulthandler spoke
        assert "Timeout" in done.stderr and "stop_watch.py" in done.stderr


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
