"""At most one log line per key per interval: what is left out is counted, and said later.

A flood (a port scan, guessed logons, a journal failing for every session) must not become a
flood of log lines. The caller asks :meth:`LogLimiter.admit` before each line it would log
about a key (a source address, an error condition) and logs only when told to, saying how many
lines were left out since the last one; :meth:`LogLimiter.due` names the keys still owed such
a count once their interval has passed, so the last count of a flood is said too. Pure: the
time comes in as integer nanoseconds. It never reads a clock, logs or raises, and it keeps at
most ``max_keys`` keys (the least recently logged go first, their counts with them).

A key whose interval has passed with nothing left out is forgotten: its next line is a
``first`` one again, a new episode (the acceptor logs a traceback with a first line only).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Line:
    """Log this line. ``first``: the key's first line of an episode; ``suppressed``: lines left
    out since the key's last line."""

    first: bool
    suppressed: int


@dataclass(slots=True)
class _Entry:
    last_line_ns: int
    suppressed: int = 0


class LogLimiter(Generic[K]):
    def __init__(self, interval_s: float, *, max_keys: int = 10_000) -> None:
        if interval_s <= 0 or max_keys < 1:
            raise ValueError("interval_s must be positive and max_keys at least 1")
        self.interval_ns = round(interval_s * NS_PER_S)
        self._max_keys = max_keys
        self._entries: OrderedDict[K, _Entry] = OrderedDict()  # least recently logged first

    def __len__(self) -> int:
        return len(self._entries)

    def admit(self, key: K, now_ns: int) -> Line | None:
        """A line about ``key`` would be logged now: the :class:`Line` to log, or None to
        leave it out (it is counted)."""
        entry = self._entries.get(key)
        if entry is not None and now_ns - entry.last_line_ns < self.interval_ns:
            entry.suppressed += 1
            return None
        first = entry is None or entry.suppressed == 0
        suppressed = 0 if entry is None else entry.suppressed
        self._entries.pop(key, None)
        self._entries[key] = _Entry(now_ns)
        self._bound(now_ns)
        return Line(first, suppressed)

    def due(self, now_ns: int) -> list[tuple[K, int]]:
        """Keys whose interval has passed with lines left out, and how many: log one line for
        each now (it counts as the key's line); keys with nothing owed are forgotten."""
        owed: list[tuple[K, int]] = []
        for key, entry in list(self._entries.items()):  # least recently logged first
            if now_ns - entry.last_line_ns < self.interval_ns:
                break
            if entry.suppressed:
                owed.append((key, entry.suppressed))
                del self._entries[key]
                self._entries[key] = _Entry(now_ns)
            else:
                del self._entries[key]
        return owed

    def _bound(self, now_ns: int) -> None:
        entries = self._entries
        while entries:
            key, oldest = next(iter(entries.items()))
            if oldest.suppressed or now_ns - oldest.last_line_ns < self.interval_ns:
                break
            del entries[key]  # its interval has passed with nothing owed
        while len(entries) > self._max_keys:
            entries.popitem(last=False)
