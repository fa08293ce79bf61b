"""How far behind a stream is while it catches up, and the few log lines that say so.

A stream that reconnects with a resume token (or fills a gap from ReportAPI) first replays
what it missed: thousands of events, minutes or hours old. Operators need to see that it is
moving and when it is done, not a line per response. :class:`CatchUp` is told about each
stored response and answers with the lines to log: a progress line at most every
``interval_s`` while catching up (events, rate, duplicates, how far behind), one "caught up"
line with the totals, and afterwards duplicates collapsed into one line per interval.

Caught up means: a response whose newest event is at most ``caught_up_lag_s`` old, or a
response with no events (the exchange's heartbeat: nothing is waiting). Pure: the caller
passes the time in and logs what comes out; nothing here reads a clock or logs.
"""

from __future__ import annotations

from dataclasses import dataclass

NS_PER_S = 1_000_000_000
PROGRESS_INTERVAL_S = 5.0
CAUGHT_UP_LAG_S = 5.0


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass(slots=True)
class CatchUp:
    """One stream's catch-up, from its (re)connection until it is live."""

    stream: str
    interval_s: float = PROGRESS_INTERVAL_S
    caught_up_lag_s: float = CAUGHT_UP_LAG_S
    catching_up: bool = False
    started_ns: int = 0
    stored: int = 0  # since the catch-up began
    duplicates: int = 0
    newest_ns: int = 0  # newest transact time seen (0: none yet)
    _last_line_ns: int = 0
    _stored_at_last_line: int = 0
    _duplicates_unsaid: int = 0  # live duplicates not yet logged

    def connected(self, now_ns: int) -> None:
        """A new connection: it replays first, so it is catching up until it shows otherwise."""
        self.catching_up = True
        self.started_ns = self._last_line_ns = now_ns
        self.stored = self.duplicates = self._stored_at_last_line = 0

    def lag_s(self, now_ns: int) -> float | None:
        """How far behind the newest event seen is (None before any event)."""
        return max(0, now_ns - self.newest_ns) / NS_PER_S if self.newest_ns else None

    def response(
        self, now_ns: int, stored: int, duplicates: int, newest_ns: int | None
    ) -> list[str]:
        """One journaled response (``newest_ns``: its newest event's transact time, None when
        it carried no events); returns the lines to log, usually none."""
        if newest_ns is not None and newest_ns > self.newest_ns:
            self.newest_ns = newest_ns
        if not self.catching_up:
            return self._live(now_ns, duplicates)
        self.stored += stored
        self.duplicates += duplicates
        lag = self.lag_s(now_ns)
        if newest_ns is None or (lag is not None and lag <= self.caught_up_lag_s):
            return [self._caught_up(now_ns)]
        if (now_ns - self._last_line_ns) / NS_PER_S < self.interval_s:
            return []
        return [self._progress(now_ns)]

    def _progress(self, now_ns: int) -> str:
        seconds = max(1e-9, (now_ns - self._last_line_ns) / NS_PER_S)
        rate = (self.stored - self._stored_at_last_line) / seconds
        self._last_line_ns, self._stored_at_last_line = now_ns, self.stored
        lag = self.lag_s(now_ns)
        behind = f"; newest event {_ago(lag)} behind" if lag is not None else ""
        return (
            f"{self.stream}: catching up: {self.stored:,} events stored ({rate:,.0f}/s),"
            f" {self.duplicates:,} duplicates skipped{behind}"
        )

    def _caught_up(self, now_ns: int) -> str:
        self.catching_up = False
        self._last_line_ns = now_ns
        seconds = max(1e-9, (now_ns - self.started_ns) / NS_PER_S)
        lag = self.lag_s(now_ns)
        behind = f"; newest event {_ago(lag)} old" if lag is not None else ""
        return (
            f"{self.stream}: caught up: {self.stored:,} events stored in {seconds:.1f} s"
            f" ({self.stored / seconds:,.0f}/s), {self.duplicates:,} duplicates skipped{behind}"
        )

    def _live(self, now_ns: int, duplicates: int) -> list[str]:
        """Live: duplicates (a redelivery) are said at most once per interval, with a count."""
        self._duplicates_unsaid += duplicates
        if not self._duplicates_unsaid:
            return []
        if (now_ns - self._last_line_ns) / NS_PER_S < self.interval_s:
            return []
        count, self._duplicates_unsaid = self._duplicates_unsaid, 0
        self._last_line_ns = now_ns
        return [
            f"{self.stream}: {count:,} duplicates skipped (already journaled: replay overlap"
            " or redelivery)"
        ]
