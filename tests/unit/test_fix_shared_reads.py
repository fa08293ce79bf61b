"""fix/shared_reads.py with a fake journal whose events are a list that grows."""

from __future__ import annotations

import pytest

from fixbridge.fix.shared_reads import SharedReads
from fixbridge.journal.store import JournalEvent


class FakeJournal:
    def __init__(self, count: int) -> None:
        self.events: list[JournalEvent] = []
        self.questions: list[tuple[int, int, str]] = []
        self.append(count)

    def append(self, count: int) -> None:
        start = len(self.events)
        self.events += [
            JournalEvent(n, "executions", f"x{n}", n, n, b"{}", None)
            for n in range(start + 1, start + count + 1)
        ]

    def read_events(
        self, after_offset: int, limit: int, rendering: str = ""
    ) -> list[JournalEvent]:
        self.questions.append((after_offset, limit, rendering))
        return [e for e in self.events if e.offset > after_offset][:limit]


def test_sessions_asking_the_same_batch_share_one_read() -> None:
    journal = FakeJournal(25)
    reads = SharedReads(journal)
    answers = [reads.read_events(0, 10) for _ in range(10)]
    assert journal.questions == [(0, 10, "")]
    assert all(a == journal.events[:10] for a in answers)
    assert (reads.reads, reads.shared) == (1, 9)
    assert reads.read_events(0, 5) == journal.events[:5]  # another size: another question
    assert journal.questions == [(0, 10, ""), (0, 5, "")]
    reads.read_events(0, 10, "r1")  # another rendering's bodies: another question
    assert journal.questions == [(0, 10, ""), (0, 5, ""), (0, 10, "r1")]


def test_an_empty_answer_is_never_kept() -> None:
    journal = FakeJournal(3)
    reads = SharedReads(journal)
    assert reads.read_events(3, 10) == []
    journal.append(2)
    assert [e.offset for e in reads.read_events(3, 10)] == [4, 5]


def test_a_kept_short_answer_is_a_prefix_and_the_next_read_goes_on_from_its_end() -> None:
    journal = FakeJournal(3)
    reads = SharedReads(journal)
    first = reads.read_events(0, 10)
    journal.append(4)
    again = reads.read_events(0, 10)  # kept: the three there were, still in order
    assert [e.offset for e in again] == [1, 2, 3]
    assert [e.offset for e in reads.read_events(again[-1].offset, 10)] == [4, 5, 6, 7]
    assert first is again


def test_only_the_most_recently_used_answers_are_kept() -> None:
    journal = FakeJournal(10)
    reads = SharedReads(journal, capacity=2)
    for after in (0, 1, 0, 2):  # (1, 5) is the least recently used when (2, 5) comes
        reads.read_events(after, 5)
    reads.read_events(0, 5)
    reads.read_events(1, 5)
    assert journal.questions == [(0, 5, ""), (1, 5, ""), (2, 5, ""), (1, 5, "")]


def test_a_failed_read_is_not_kept() -> None:
    journal = FakeJournal(5)
    reads = SharedReads(journal)

    def failing(after_offset: int, limit: int, rendering: str = "") -> list[JournalEvent]:
        raise OSError("disk I/O error")

    real = journal.read_events
    journal.read_events = failing  # type: ignore[method-assign]
    with pytest.raises(OSError, match="disk"):
        reads.read_events(0, 5)
    journal.read_events = real  # type: ignore[method-assign]
    assert len(reads.read_events(0, 5)) == 5
