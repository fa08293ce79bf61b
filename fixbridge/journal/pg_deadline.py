"""Deadlines on a PostgreSQL connection's calls, kept by cutting the connection.

A blocking libpq call waits as long as the network lets it: the server's own timeouts end
statements, not a COMMIT waiting for a synchronous replica, nor a connection whose peer
stopped answering without closing. A call made under :meth:`Deadlines.bounded` that is still
running at its deadline has its connection's socket shut down from the watch thread, so the
call fails at once (``psycopg.OperationalError``) and the connection is known broken; what
the call was doing is for its caller to settle (``journal/remote_commit.py``).

Never cuts a connection that is not late; never closes the caller's file descriptor (only a
duplicate of it), so the connection's owner still closes it normally.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg

log = logging.getLogger("fixbridge.journal")

WATCH_INTERVAL_S = 0.1


class Deadlines:
    """One watch thread for any number of connections (started at the first bounded call)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._due: dict[int, tuple[float, psycopg.Connection[Any], float]] = {}
        self._keys = itertools.count()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def bounded(
        self, conn: psycopg.Connection[Any], seconds: float
    ) -> Iterator[Callable[[], None]]:
        """Calls on ``conn`` inside the block must end within ``seconds`` of entering it, or
        of the last call of the ``renew`` it yields (a step of a longer piece of work)."""
        key = next(self._keys)

        def renew() -> None:
            with self._lock:
                self._due[key] = (time.monotonic() + seconds, conn, seconds)

        renew()
        self._start()
        try:
            yield renew
        finally:
            with self._lock:
                self._due.pop(key, None)

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._stopping.is_set():
                return
            self._thread = threading.Thread(target=self._watch, name=self._name, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stopping.wait(WATCH_INTERVAL_S):
            now = time.monotonic()
            with self._lock:
                late = [(key, entry) for key, entry in self._due.items() if entry[0] <= now]
                for key, _ in late:
                    del self._due[key]
            for _, (_, conn, seconds) in late:
                log.warning(
                    "a journal database call took longer than %g s: its connection is cut",
                    seconds,
                )
                sever(conn)

    def close(self) -> None:
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=2 * WATCH_INTERVAL_S + 1)


def sever(conn: psycopg.Connection[Any]) -> None:
    """Shut the connection's socket down both ways: its pending and next calls fail."""
    try:
        fd = conn.pgconn.socket
        with socket.socket(fileno=os.dup(fd)) as duplicate:
            duplicate.shutdown(socket.SHUT_RDWR)
    except (OSError, psycopg.Error):
        pass  # already closed: nothing is waiting on it
