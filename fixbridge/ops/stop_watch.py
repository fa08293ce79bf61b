"""The deadline on a stop: a bridge told to stop that has not ended says what it waits for,
then ends.

A clean stop (SIGTERM) cancels the subscribers, ends the sessions and closes the journal in
well under a second. When the process is still alive ``report_after_s`` later, the watch logs
every thread's stack and every asyncio task still pending with the chain of awaits it is
suspended in, so the operator sees what holds the stop up. When it is still alive
``give_up_s`` after the stop began, the watch logs that it gives up and ends the process with
:data:`EXIT_STOP_TIMEOUT`, without further clean-up. The journal is crash-safe (a COMMIT
happened or it did not), so this is no worse than the SIGKILL a supervisor sends after its own
timeout (deploy/fixbridge.service: TimeoutStopSec=30), and it comes with the reason.

The watch runs on a daemon thread of its own: the event loop may be what is stuck. It must
never touch the journal or a session, never end a process before ``give_up_s``, and never hold
up an exit that is on its way (the thread is a daemon; :meth:`StopWatch.disarm` ends it).
"""

from __future__ import annotations

import asyncio
import contextlib
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
    """Every task of ``loop`` not yet done, with its await chain (called on the loop)."""
    lines: list[str] = []
    for task in sorted(asyncio.all_tasks(loop), key=lambda t: t.get_name()):
        if task.done():
            continue
        chain = await_chain(task.get_coro())
        lines.append(f"task {task.get_name()}: " + (" -> ".join(chain) or "(no frame)"))
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
    """Armed once when a stop begins; reports, then ends the process, if the stop hangs."""

    def __init__(
        self,
        *,
        report_after_s: float = REPORT_AFTER_S,
        give_up_s: float = GIVE_UP_S,
        exit_process: Callable[[int], Any] = os._exit,
    ) -> None:
        if not 0 < report_after_s <= give_up_s:
            raise ValueError(
                f"need 0 < report_after_s <= give_up_s, got {report_after_s}, {give_up_s}"
            )
        self._report_after_s = report_after_s
        self._give_up_s = give_up_s
        self._exit = exit_process
        self._disarmed = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def armed(self) -> bool:
        return self._thread is not None and not self._disarmed.is_set()

    def arm(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the deadline (a second call changes nothing: the first stop is the one)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._watch, args=(loop,), name="stop-watch", daemon=True
        )
        self._thread.start()

    def disarm(self) -> None:
        """The stop ended: nothing is reported and the process is not ended."""
        self._disarmed.set()

    def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
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
