"""A progress bar for long CLI work on a terminal (``check-journal --full``, later exports).

Drawn on one line of stderr, redrawn at most every ``interval_s``, and only when that stream is
a terminal: in a pipe, a log file or a test's capture it writes nothing, so scripted output
stays clean. It never raises (a closed or broken terminal only stops the drawing) and never
reads the clock itself: the caller may inject one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

WIDTH = 30


class ProgressBar:
    """``update(done)`` as work goes, ``close()`` at the end (clears the line)."""

    def __init__(
        self,
        label: str,
        total: int,
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        interval_s: float = 0.2,
    ) -> None:
        self.label, self.total = label, max(0, total)
        self._stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self._interval_s = interval_s
        self._started = clock()
        self._drawn_at: float | None = None
        try:
            self._on = self._stream.isatty()
        except (AttributeError, ValueError):
            self._on = False

    def line(self, done: int) -> str:
        """The bar's text for ``done`` units of ``total``."""
        share = min(1.0, done / self.total) if self.total else 1.0
        filled = round(share * WIDTH)
        seconds = max(1e-9, self._clock() - self._started)
        return (
            f"{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] {share:4.0%}"
            f" {done:,}/{self.total:,} ({done / seconds:,.0f}/s)"
        )

    def update(self, done: int) -> None:
        if not self._on:
            return
        now = self._clock()
        if self._drawn_at is not None and now - self._drawn_at < self._interval_s:
            return
        self._drawn_at = now
        self._write("\r" + self.line(done))

    def close(self) -> None:
        if self._on and self._drawn_at is not None:
            self._write("\r\x1b[2K")  # the line is cleared: the summary that follows is alone

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            self._on = False
