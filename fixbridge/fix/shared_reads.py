"""The journal's events after an offset, read once for all the sessions that ask for them.

Sessions catching up together ask for the same batches: the same offset, the same size. Each
read is a query and an object per event; with ten sessions at the same place in the journal
that was done ten times over for the same rows. :class:`SharedReads` keeps the last answers
and hands them to whoever asks the same question next.

Rules:
- An answer kept is one the journal gave for the same question (events after ``offset``, at
  most ``limit``, with their bodies stored for one rendering). The acceptor reads through a
  connection that sees committed rows only, the journal's events (and the bodies journaled in
  the same transaction) never change once committed, and they become visible in offset order
  (one writer; offsets given in the write transaction), so no event can appear later among
  those an answer spans: a kept answer stays correct, the events that come after that
  offset, in order, perhaps fewer than the journal holds by now. A shorter answer only makes
  a smaller batch; the next read goes on from where it ends.
- An empty answer is never kept: the next event may be journaled at any moment.
- Bounded: the ``capacity`` most recently used answers, nothing else.

Pure apart from the read it is given: no I/O of its own, no clock.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

from fixbridge.journal.store import JournalEvent

CAPACITY = 16  # answers kept (PUMP_BATCH events each in a catch-up)


class EventReader(Protocol):
    """What it needs of the journal."""

    def read_events(
        self, after_offset: int, limit: int, rendering: str = ""
    ) -> list[JournalEvent]: ...


class SharedReads:
    """The last answers of the journal's ``read_events`` (rules: module doc)."""

    def __init__(self, journal: EventReader, capacity: int = CAPACITY) -> None:
        self._journal = journal
        self._capacity = capacity
        self._answers: OrderedDict[tuple[int, int, str], list[JournalEvent]] = OrderedDict()
        self.reads = 0  # questions put to the journal
        self.shared = 0  # questions answered from an earlier read

    def read_events(
        self, after_offset: int, limit: int, rendering: str = ""
    ) -> list[JournalEvent]:
        """The events after ``after_offset``, at most ``limit``, in journal order (with
        ``rendering``, each with its body stored for it, if any). The list may be another
        caller's too: it must not be changed."""
        key = (after_offset, limit, rendering)
        found = self._answers.get(key)
        if found is not None:
            self._answers.move_to_end(key)
            self.shared += 1
            return found
        self.reads += 1
        events = self._journal.read_events(after_offset, limit, rendering)
        if events and self._capacity:
            self._answers[key] = events
            if len(self._answers) > self._capacity:
                self._answers.popitem(last=False)
        return events


__all__ = ["CAPACITY", "EventReader", "SharedReads"]
