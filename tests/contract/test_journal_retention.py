"""Journal retention ([journal] retain_days): what goes once it is older than the cut-off and
every configured session has been sent it, and what is never removed. Run on every journal
backend (``backends.BACKENDS``): the rules are ``journal/retention.py``'s, the statements
each backend's own."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from fixbridge.config import ConfigError, parse_config
from fixbridge.fix.recovery import ReplaySource
from fixbridge.journal.message_log import LogEntry
from fixbridge.journal.postgres import PostgresJournal
from fixbridge.journal.records import OutboundMessage, StoredBody
from fixbridge.journal.retention import (
    DAY_NS,
    PRUNED_STREAMS,
    RetentionRun,
    run_retention,
    sent_before_text,
)
from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.journal.store import NewEvent
from fixbridge.normalize.position import PositionEvent
from fixbridge.normalize.settlement import Settlement
from tests.contract.backends import open_journal
from tests.unit.test_journal_symbol_index import position, settlement

NOW = 1_796_000_000 * 1_000_000_000  # 2026-11-29T...Z
OLD = NOW - 10 * DAY_NS  # well before a 3-day cut-off
RECENT = NOW - DAY_NS


AnyJournal = SqliteJournal | PostgresJournal


@pytest.fixture
def journal(spec: str) -> Iterator[AnyJournal]:
    j = open_journal(spec)
    assert isinstance(j, SqliteJournal | PostgresJournal)
    yield j
    j.close()


def executions(journal: AnyJournal, prefix: str, count: int, received_ns: int) -> list[int]:
    events = [NewEvent(f"{prefix}{i}", received_ns, b"{}", b"raw" * 100) for i in range(count)]
    return list(journal.append("executions", events, b"", received_ns).offsets)


def indexed(
    journal: AnyJournal, stream: str, event: PositionEvent | Settlement, received_ns: int
) -> int:
    new = NewEvent(event.upstream_id, received_ns, event.to_payload(), b"raw", decoded=event)
    (offset,) = journal.append(stream, [new], b"", received_ns).offsets
    return offset


def sessions_at(journal: AnyJournal, **cursors: int) -> None:
    for name, cursor in cursors.items():
        journal.load_session(name)
        journal.record_sent(name, [], 1, cursor, at_ns=NOW)


REACH = {stream: 60 * 10**9 for stream in PRUNED_STREAMS}  # the resume margin


def retain_run(journal: AnyJournal, sessions: list[str], days: int = 3) -> RetentionRun:
    return asyncio.run(run_retention(journal, sessions, journal.head_offset(), NOW, days, REACH))


def retain(journal: AnyJournal, sessions: list[str], days: int = 3) -> tuple[int, int]:
    run = retain_run(journal, sessions, days)
    return run.events, run.messages


def recent(journal: AnyJournal, stream: str) -> None:
    """A recent event on ``stream``: its resume point is now, so it replays nothing old."""
    journal.append(stream, [NewEvent(f"{stream}-now", RECENT, b"{}", b"raw")], b"t", RECENT)


def offsets(journal: AnyJournal) -> list[int]:
    return [e.offset for e in journal.read_events(0, 10_000)]


def test_old_events_every_session_has_passed_go_and_the_rest_stay(journal: AnyJournal) -> None:
    executions(journal, "old", 1200, OLD)  # more than one job's worth
    young = executions(journal, "young", 5, RECENT)
    sessions_at(journal, a=young[-1], b=young[2])
    assert retain(journal, ["a", "b"]) == (1200, 0)
    assert offsets(journal) == young
    assert journal.journaled_ids("executions", ["old0", "young0"]) == {"young0"}


def stored_bodies(spec: str) -> list[int]:
    """The offsets of the bodies the journal ``spec`` holds, read past its interface."""
    kind, _, where = spec.partition(":")
    query = 'SELECT "offset" FROM execution_bodies ORDER BY "offset"'
    if kind == "sqlite":
        with contextlib.closing(sqlite3.connect(where)) as db:
            return [int(r[0]) for r in db.execute(query)]
    with psycopg.connect(where) as conn:
        return [int(r[0]) for r in conn.execute(query)]


def test_an_events_stored_bodies_go_with_it(journal: AnyJournal, spec: str) -> None:
    def with_body(prefix: str, count: int, received_ns: int) -> list[int]:
        body = StoredBody("r1", "F", "A", "S", "F", b"37=1\x01")
        events = [
            NewEvent(f"{prefix}{i}", received_ns, b"{}", b"raw", bodies=(body,))
            for i in range(count)
        ]
        return list(journal.append("executions", events, b"", received_ns).offsets)

    with_body("old", 5, OLD)
    young = with_body("young", 3, RECENT)
    sessions_at(journal, a=young[-1])
    assert retain(journal, ["a"]) == (5, 0)
    assert offsets(journal) == young
    assert stored_bodies(spec) == young


def test_a_session_behind_keeps_what_it_has_not_been_sent(journal: AnyJournal) -> None:
    old = executions(journal, "old", 10, OLD)
    executions(journal, "young", 2, RECENT)
    sessions_at(journal, fast=old[-1] + 2, slow=old[3])
    assert retain(journal, ["fast", "slow"]) == (4, 0)
    assert offsets(journal)[:6] == old[4:]  # the slow session's backlog, however old


def test_a_session_no_longer_configured_holds_nothing_back(journal: AnyJournal) -> None:
    old = executions(journal, "old", 10, OLD)
    executions(journal, "young", 1, RECENT)
    sessions_at(journal, kept=old[-1], removed=old[0])
    assert retain(journal, ["kept"]) == (10, 0)


def test_the_newest_event_stays_even_when_old(journal: AnyJournal) -> None:
    old = executions(journal, "old", 5, OLD)
    journal.append("executions", [], b"heartbeat", RECENT)  # live, with nothing new
    sessions_at(journal, a=old[-1])
    assert retain(journal, ["a"]) == (4, 0)
    assert offsets(journal) == [old[-1]] and journal.head_offset() == old[-1]


def test_positions_go_only_in_settled_symbols_and_each_accounts_last_stays(
    journal: AnyJournal,
) -> None:
    """A final resolution (and a correction of it) pays each account's position as of its set
    time: a symbol's positions stay until its final was journaled before the cut-off; then
    only each account's last one stays. Settlement prices always stay."""
    a1 = indexed(journal, "positions", position("A", "S", "5", 1), OLD)
    a2 = indexed(journal, "positions", position("A", "S", "7", 2), OLD)
    b1 = indexed(journal, "positions", position("B", "S", "1", 3), OLD)
    u1 = indexed(journal, "positions", position("A", "U", "2", 4), OLD)  # U never resolved
    u2 = indexed(journal, "positions", position("A", "U", "3", 5), OLD)
    final = indexed(journal, "settlements", settlement("S", "1", False, 6), OLD)
    last = executions(journal, "x", 2, OLD)
    recent(journal, "positions")
    recent(journal, "executions")
    sessions_at(journal, a=journal.head_offset())
    assert retain(journal, ["a"]) == (3, 0)  # a1 and the two old executions
    held = offsets(journal)
    assert a1 not in held and last[0] not in held and last[1] not in held
    assert {a2, b1, u1, u2, final} <= set(held)
    assert {e.offset for e in journal.latest_by_account("positions", "S", final)} == {a2, b1}


def test_a_trades_newest_version_stays_so_a_later_one_is_still_an_amendment(
    journal: AnyJournal,
) -> None:
    def trade(upstream_id: str) -> int:
        (offset,) = journal.append(
            "trades", [NewEvent(upstream_id, OLD, b"{}", b"raw")], b"", OLD
        ).offsets
        return offset

    new, cleared, other = trade("T1:NEW"), trade("T1:CLEARED"), trade("T2:NEW")
    recent(journal, "trades")
    sessions_at(journal, a=journal.head_offset())
    assert retain(journal, ["a"]) == (1, 0)
    held = offsets(journal)
    assert new not in held and {cleared, other} <= set(held)
    assert journal.trade_reported_before("T1", 0, journal.head_offset() + 1)


def test_a_stream_the_exchange_may_still_replay_keeps_its_events(
    journal: AnyJournal,
) -> None:
    """Executions last journaled ten days ago: a refused resume token would replay from
    there, and an event removed meanwhile would be journaled and sent again."""
    executions(journal, "old", 5, OLD)
    recent(journal, "positions")
    sessions_at(journal, a=journal.head_offset())
    run = retain_run(journal, ["a"])
    assert (run.events, "executions" in run.streams_held) == (0, True)
    executions(journal, "young", 1, RECENT)  # the stream is live again
    assert retain(journal, ["a"]) == (5, 0)


def test_a_session_no_longer_configured_is_named_when_it_is_left_behind(
    journal: AnyJournal,
) -> None:
    old = executions(journal, "old", 10, OLD)
    executions(journal, "young", 1, RECENT)
    sessions_at(journal, kept=old[-1], removed=old[2])
    run = retain_run(journal, ["kept"])
    assert (run.events, run.left_behind) == (10, ("removed",))


def test_message_log_rows_older_than_the_cut_off_go(journal: AnyJournal) -> None:
    def entry(at: int) -> LogEntry:
        return LogEntry("a", "out", 0, 1, "20261101-00:00:00", at, "0", b"8=FIXT.1.1\x01")

    journal.log_messages([entry(OLD), entry(OLD + 1), entry(RECENT)])
    executions(journal, "young", 1, RECENT)
    run = retain_run(journal, [])
    assert run.log_rows == 2


def stored_batch(journal: AnyJournal, session: str, first: int, count: int, stamp: str) -> None:
    """``count`` messages from ``first`` on, stored as one delivered batch stamped ``stamp``."""
    messages = [
        OutboundMessage(first + i, "8", stamp, b"17=%d\x01" % (first + i)) for i in range(count)
    ]
    cursor = journal.load_session(session).cursor_offset
    journal.record_sent(session, messages, first + count, cursor, at_ns=NOW, after_offset=cursor)


def test_old_sent_messages_go_in_whole_batches_and_a_resend_gap_fills_them_silently(
    journal: AnyJournal,
) -> None:
    executions(journal, "e", 1, RECENT)
    journal.load_session("a")
    stored_batch(journal, "a", 1, 1500, "20261101-10:00:00.000")  # before the cut-off
    stored_batch(journal, "a", 1501, 1000, "20261101-10:00:01.000")
    stored_batch(journal, "a", 2501, 3, "20261128-10:00:00.000")  # within 3 days of NOW
    assert retain(journal, ["a"]) == (0, 2500)
    assert [m.seq for m in journal.outbound_range("a", 1, 3000)] == [2501, 2502, 2503]
    assert [(r.first_seq, r.last_seq) for r in journal.sent_ranges("a", 1, 3000)] == [(2501, 2503)]
    source = ReplaySource(journal, "a", 1, 2503, lambda e: [])
    assert [m.seq for m in source] == [2501, 2502, 2503]
    assert source.lost == []  # beyond retention is not a loss: no CRITICAL, no alert


def test_the_cut_off_as_sending_time_keeps_the_second_it_falls_in() -> None:
    """SendingTime is YYYYMMDD-HH:MM:SS[.sss...] (FIX UTCTimestamp): compared as text with
    the cut-off's whole second, a stamp in that second or after sorts after it, at any
    precision; one before it sorts before."""
    cut = 1_795_000_000 * 1_000_000_000 + 700_000_000  # 2026-11-18T11:06:40.7Z
    text = sent_before_text(cut)
    assert text == "20261118-11:06:40"
    kept = ["20261118-11:06:40", "20261118-11:06:40.5", "20261118-11:06:40.000000001"]
    gone = ["20261118-11:06:39", "20261118-11:06:39.999999999", "20261117-23:59:59.999"]
    assert all(stamp >= text for stamp in kept) and all(stamp < text for stamp in gone)


def test_the_journal_file_stops_growing_once_retention_runs(tmp_path: Path) -> None:
    """Ten days of 3,000 executions a day with 3 days retained: the journal holds four days
    (today and three whole days before) from the fourth day on, and once the pages freed by
    the first removals are reused, the file does not grow any more."""
    journal = SqliteJournal(tmp_path / "j.db", synchronous="normal")
    journal.load_session("a")
    sizes, held = [], []
    for day in range(10):
        received = NOW - (10 - day) * DAY_NS
        batch = executions(journal, f"d{day}-", 3000, received)
        journal.record_sent("a", [], 1, batch[-1], at_ns=NOW)
        asyncio.run(run_retention(journal, ["a"], journal.head_offset(), received, 3, REACH))
        sizes.append(journal.size_bytes())
        held.append(len(journal.read_events(0, 100_000)))
    journal.close()
    assert held == [3000, 6000, 9000, 12000, 12000, 12000, 12000, 12000, 12000, 12000]
    assert sizes[9] <= sizes[6] * 1.02, sizes

def test_retain_days_must_outlast_what_the_exchange_may_replay() -> None:
    base = {"sessions": [{"name": "a", "sender_comp_id": "B", "target_comp_id": "C"}]}
    with pytest.raises(ConfigError, match=r"retain_days = 2 keeps less than .* replay"):
        parse_config({**base, "journal": {"retain_days": 2}})
    assert parse_config({**base, "journal": {"retain_days": 3}}).journal.retain_days == 3
    shorter = {"upstream": {"trades_lookback_s": 3600}, "journal": {"retain_days": 2}}
    assert parse_config({**base, **shorter}).journal.retain_days == 2
