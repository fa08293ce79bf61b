"""Where a session begins from an instant, and an operator's replay, in the journal.

A cursor sits just before the first event *journaled* (in journal order) whose exchange time
(TransactTime) is at or after the instant, so the session receives every such event; events
with an earlier exchange time journaled later still come after the cursor and are received
too, in journal order. No such event: the head (nothing journaled is received again).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.journal.store import NewEvent
from fixbridge.normalize.timestamps import instant_ns

S = 1_000_000_000  # nanoseconds per second


def at(upstream_id: str, transact_time_ns: int) -> NewEvent:
    return NewEvent(upstream_id, transact_time_ns, b"{}", b"raw")


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    j = SqliteJournal(tmp_path / "j.db", synchronous="normal")
    yield j
    j.close()


@pytest.fixture
def journaled(journal: SqliteJournal) -> SqliteJournal:
    """Offsets 1..5 with exchange times 10 s, 20 s, 20 s, 15 s (late), 30 s."""
    events = [at("a", 10 * S), at("b", 20 * S), at("c", 20 * S), at("d", 15 * S), at("e", 30 * S)]
    journal.append("executions", events, b"t", 1)
    return journal


@pytest.mark.parametrize(
    ("instant_ns", "offset"),
    [
        (0, 0),  # before every event: from the first
        (10 * S, 0),  # equal to the first event's time: it is included
        (10 * S + 1, 1),  # just after it: from the next event at or after
        (15 * S, 1),  # "b" (20 s) is journaled before "d" (15 s): from "b", "d" included
        (20 * S, 1),  # two events at exactly that time: from the first of them
        (20 * S + 1, 4),  # only "e" is at or after: after "d"
        (30 * S, 4),
        (30 * S + 1, 5),  # after every event: the head
    ],
)
def test_the_offset_is_just_before_the_first_event_at_or_after_the_instant(
    journaled: SqliteJournal, instant_ns: int, offset: int
) -> None:
    assert journaled.offset_before(instant_ns) == offset


def test_an_empty_journal_starts_at_zero(journal: SqliteJournal) -> None:
    assert journal.offset_before(0) == 0


def test_a_new_session_starts_where_it_is_told_and_keeps_that_start(
    journaled: SqliteJournal,
) -> None:
    assert journaled.find_session("s") is None
    record = journaled.load_session("s", start_offset=journaled.offset_before(20 * S))
    assert (record.cursor_offset, record.origin_offset) == (1, 1)
    assert journaled.find_session("s") == record
    # Known now: a start offset no longer applies.
    assert journaled.load_session("s", start_offset=0).cursor_offset == 1
    assert [e.upstream_id for e in journaled.read_events(1, 10)] == ["b", "c", "d", "e"]


def test_without_a_start_a_new_session_starts_at_the_head(journaled: SqliteJournal) -> None:
    assert journaled.load_session("s").cursor_offset == journaled.head_offset() == 5


def test_a_replay_moves_the_cursor_back_and_the_horizon_on_together(
    journaled: SqliteJournal,
) -> None:
    journaled.load_session("s")  # at the head, 5
    asyncio.run(journaled.replay_from_async("s", 1, 40 * S))
    record = journaled.load_session("s")
    assert (record.cursor_offset, record.possibly_sent_before_ns) == (1, 40 * S)
    # Never forward, and the horizon never back.
    asyncio.run(journaled.replay_from_async("s", 3, 35 * S))
    record = journaled.load_session("s")
    assert (record.cursor_offset, record.possibly_sent_before_ns) == (1, 40 * S)
    assert record.origin_offset == 5  # where the session began is not changed by a replay


@pytest.mark.parametrize(
    ("text", "expected_ns"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T01:00:00.000001+01:00", 1_000),  # an offset is applied; microseconds exact
        ("2026-11-21T09:30:00.123456Z", 1_795_253_400_123_456_000),
    ],
)
def test_an_instant_is_nanoseconds_since_the_epoch_exactly(text: str, expected_ns: int) -> None:
    assert instant_ns(datetime.fromisoformat(text)) == expected_ns
