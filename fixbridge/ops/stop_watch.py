"""The deadline on a stop: a bridge told to stop that has not ended says what it waits for,
then ends.

A clean stop (SIGTERM) cancels the subscribers, ends the sessions and closes the journal in
well under a second. When the process is still alive ``report_after_s`` later, the watch logs
every thread's stack and every asyncio task still pending with the chain of awaits it is
suspended in, so the operator sees what holds the stop up. When it is still alive
``give_up_s`` after the stop began, the watch logs that it gives up and ends the process with
:data:`EXIT_STOP_TIMEOUT`, without further clean-up. The journal is crash-safe (a COMMIT
happened or it did not), so this is no worse than the SIGKILL a supervisor sends after its own
timeout (deploy/fixbridge.service: TimeoutStopSec=30), and it comes with the reason. Should the
watch itself be held up (a stuck thread holding the log's lock), faulthandler's own timer, run
by the interpreter in C, dumps every stack and exits ``BACKSTOP_MARGIN_S`` later.

:meth:`StopWatch.install` starts the watch's daemon thread before anything can hang (the event
loop may be what is stuck later); :meth:`StopWatch.arm` only sets an event and faulthandler's
timer, so a signal handler may call it. It must never touch the journal or a session, never
end a process before ``give_up_s``, and never hold up an exit that is on its way
(:meth:`StopWatch.disarm` ends the thread and cancels the timer).
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable
from types import FrameType
from typing import Any

log = logging.getLogger("fixbridge")

REPORT_AFTER_S = 10.0
GIVE_UP_S = 25.0  # under the systemd unit's TimeoutStopSec=30, so the reason is ours
EXIT_STOP_TIMEOUT = 1
BACKSTOP_MARGIN_S = 2.0  # faulthandler's timer, should the watch's own exit be held up
MAX_TASKS_REPORTED = 200  # one log record stays readable (the rest are counted)
_MAX_AWAIT_DEPTH = 32  # an await chain deeper than this is cut (a cycle cannot loop forever)


def await_chain(coro: Any) -> list[str]:
    """Where a suspended coroutine waits: ``function (file:line)`` for it and each coroutine
    or generator it awaits, outermost first."""
    chain: list[str] = []
    while coro is not None and len(chain) < _MAX_AWAIT_DEPTH:
        frame: FrameType | None = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            code = frame.f_code
            chain.append(f"{code.co_name} ({code.co_filename}:{frame.f_lineno})")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return chain


def pending_tasks_report(loop: asyncio.AbstractEventLoop) -> str:
    """Every task of ``loop`` not yet done, with its await chain (called on the loop), at most
    :data:`MAX_TASKS_REPORTED` of them and the count of the others."""
    pending = sorted(
        (task for task in asyncio.all_tasks(loop) if not task.done()), key=lambda t: t.get_name()
    )
    lines = [
        f"task {task.get_name()}: " + (" -> ".join(await_chain(task.get_coro())) or "(no frame)")
        for task in pending[:MAX_TASKS_REPORTED]
    ]
    if len(pending) > MAX_TASKS_REPORTED:
        lines.append(f"... and {len(pending) - MAX_TASKS_REPORTED} more")
    return "\n".join(lines) or "no task is pending"


def threads_report() -> str:
    """Every thread's name and stack (safe from any thread)."""
    frames = sys._current_frames()
    parts: list[str] = []
    for thread in threading.enumerate():
        frame = frames.get(thread.ident) if thread.ident is not None else None
        if frame is None:
            continue
        stack = "".join(traceback.format_stack(frame)).rstrip()
        parts.append(f"thread {thread.name} (daemon={thread.daemon}):\n{stack}")
    return "\n".join(parts)


class StopWatch:
    """Installed when the service starts; armed once when a stop begins; reports, then ends
    the process, if the stop hangs."""

    def __init__(
        self,
        *,
        report_after_s: float = REPORT_AFTER_S,
        give_up_s: float = GIVE_UP_S,
        exit_process: Callable[[int], Any] = os._exit,
        backstop: bool = True,
    ) -> None:
        if not 0 < report_after_s <= give_up_s:
            raise ValueError(
                f"need 0 < report_after_s <= give_up_s, got {report_after_s}, {give_up_s}"
            )
        self._report_after_s = report_after_s
        self._give_up_s = give_up_s
        self._exit = exit_process
        self._backstop = backstop
        self._began = threading.Event()
        self._disarmed = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def armed(self) -> bool:
        return self._began.is_set() and not self._disarmed.is_set()

    @property
    def thread(self) -> threading.Thread | None:
        """The watch's thread once installed (ended once disarmed)."""
        return self._thread

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the watch's thread, idle until :meth:`arm` (a second call changes nothing)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._watch, args=(loop,), name="stop-watch", daemon=True
        )
        self._thread.start()

    def arm(self) -> None:
        """The stop begins: the deadline runs from now (a second call changes nothing: the
        first stop is the one). Safe in a signal handler: it takes no lock a stopped thread
        could hold, and starts no thread."""
        if self._began.is_set() or self._disarmed.is_set():
            return
        if self._backstop:
            _start_backstop(self._give_up_s + BACKSTOP_MARGIN_S)
        self._began.set()

    def disarm(self) -> None:
        """The stop ended (or the service is done with the watch): nothing is reported, the
        process is not ended, the thread ends."""
        self._disarmed.set()
        self._began.set()  # wakes an idle thread, which sees it was disarmed
        if self._backstop:
            faulthandler.cancel_dump_traceback_later()

    def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        self._began.wait()
        if self._disarmed.wait(self._report_after_s):
            return
        log.warning(
            "still stopping %.0f s after the stop began; what it waits for follows\n%s",
            self._report_after_s, threads_report(),
        )
        # The tasks are read on the loop: only answered while it still runs (a closed loop
        # has no task left to report).
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._log_tasks, loop)
        if self._disarmed.wait(self._give_up_s - self._report_after_s):
            return
        log.critical(
            "the stop did not end within %.0f s; ending the process without further clean-up"
            " (the journal is crash-safe: the next start resumes from what is committed)",
            self._give_up_s,
        )
        for handler in logging.getLogger().handlers:
            with contextlib.suppress(Exception):  # a closed stderr must not keep us alive
                handler.flush()
        self._exit(EXIT_STOP_TIMEOUT)

    def _log_tasks(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._disarmed.is_set():
            log.warning("asyncio tasks still pending:\n%s", pending_tasks_report(loop))


def _start_backstop(after_s: float) -> None:
    """faulthandler's timer, writing to stderr's file descriptor. Never raises (it runs in a
    signal handler): with no stderr that has a descriptor (an embedding host replaced it),
    there is no backstop, and the watch's own exit remains."""
    for stream in (sys.stderr, sys.__stderr__):
        if stream is None:
            continue
        with contextlib.suppress(Exception):
            faulthandler.dump_traceback_later(after_s, exit=True, file=stream)
            return
