"""Resends over an outbound store with holes: what is rendered again, what is reported lost.

A real SQLite journal holds the events and the stored batches (as the acceptor stores them:
messages, next number, cursor, and the offset the batch started after); rows are then deleted
from the outbound table by hand, as damage would. The renderer turns each event into the
messages its payload names, so what a batch "was" is known to the test independently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from fixbridge.fix.codec import FixMessage, FrameParser, encode_fields
from fixbridge.fix.outbound import Rendered
from fixbridge.fix.recovery import Lost, ReplaySource
from fixbridge.fix.session import FixSession, SessionIdentity
from fixbridge.journal.records import OutboundMessage
from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.journal.store import JournalEvent, NewEvent
from tests.sent_store import drop_stored
from tests.unit.fixmsg import BRIDGE, CLIENT, T0, logon

STAMP = "20231114-22:00:00.000000000"  # the first sending: before T0, when replays are taken


def render(event: JournalEvent) -> list[Rendered]:
    """Each ``;``-separated MsgType in the payload is one message, its body naming the event."""
    return [
        Rendered(kind, encode_fields([(17, f"{event.upstream_id}-{n}")]))
        for n, kind in enumerate(event.payload.decode().split(";"))
        if kind
    ]


@pytest.fixture
def journal(tmp_path: Path) -> SqliteJournal:
    j = SqliteJournal(tmp_path / "j.db", synchronous="normal")
    yield j
    j.close()


def deliver(journal: SqliteJournal, payloads: Sequence[str], first_seq: int) -> int:
    """Journal events with these payloads and store them as one delivered batch; returns the
    next sequence number."""
    before = journal.load_session("s").cursor_offset
    events = [NewEvent(f"E{before + i + 1}", 1, p.encode(), b"") for i, p in enumerate(payloads)]
    head = journal.append("executions", events, b"t", 1).head_offset
    seq = first_seq
    messages = []
    for event in journal.read_events(before, len(payloads)):
        for rendered in render(event):
            messages.append(OutboundMessage(seq, rendered.msg_type, STAMP, rendered.body))
            seq += 1
    journal.record_sent("s", messages, seq, head, at_ns=1, after_offset=before)
    return seq


def delete(journal: SqliteJournal, *seqs: int) -> None:
    journal._commits.run_sync(lambda db: drop_stored(db, "s", lambda seq: seq in seqs))


def replay(journal: SqliteJournal, begin: int, end: int, renderer=render) -> ReplaySource:  # type: ignore[no-untyped-def]
    return ReplaySource(journal, "s", begin, end, renderer)


def test_a_message_missing_from_a_batch_is_rendered_again_as_it_was_sent(
    journal: SqliteJournal,
) -> None:
    journal.load_session("s")
    after = deliver(journal, ["8", "8;AE", "8"], first_seq=2)  # 2..5; 1 was the Logon
    original = list(journal.outbound_range("s", 2, after - 1))
    delete(journal, 3)
    source = replay(journal, 1, after - 1)
    assert list(source) == original
    assert (source.recovered, source.lost) == (1, [])


def test_a_batch_missing_whole_is_rendered_again(journal: SqliteJournal) -> None:
    journal.load_session("s")
    middle = deliver(journal, ["8", "8"], first_seq=2)  # 2..3
    end = deliver(journal, ["8;8", "AE"], first_seq=middle)  # 4..6
    deliver(journal, ["8"], first_seq=end)  # 7
    original = list(journal.outbound_range("s", 1, 7))
    delete(journal, 4, 5, 6)
    source = replay(journal, 3, 7)
    assert list(source) == original[1:]
    assert source.recovered == 3


def test_numbers_no_batch_recorded_stay_gaps_for_the_replay_to_fill(
    journal: SqliteJournal,
) -> None:
    journal.load_session("s")
    nxt = deliver(journal, ["8"], first_seq=2)  # 2; 3 and 4 are heartbeats (never stored)
    deliver(journal, ["8"], first_seq=nxt + 2)  # 5
    source = replay(journal, 1, 5)
    assert [m.seq for m in source] == [2, 5]
    assert (source.recovered, source.lost) == (0, [])


def test_a_batch_that_renders_differently_now_is_lost_not_replayed(
    journal: SqliteJournal,
) -> None:
    """The session's settings changed since (another profile, another precision): what would
    be rendered now is not what was sent, so it is not passed off as the original."""
    journal.load_session("s")
    deliver(journal, ["8", "8"], first_seq=2)  # 2..3
    delete(journal, 3)

    def changed(event: JournalEvent) -> list[Rendered]:
        return [Rendered(r.msg_type, r.body + b"58=now\x01") for r in render(event)]

    source = replay(journal, 2, 3, changed)
    assert [m.seq for m in source] == [2]
    assert source.lost == [Lost(3, 3)]


def test_a_message_no_event_produced_is_lost_when_missing(journal: SqliteJournal) -> None:
    """A BusinessMessageReject is stored with an empty event range: nothing to render from."""
    record = journal.load_session("s")
    reject = OutboundMessage(2, "j", STAMP, encode_fields([(45, "1"), (380, "3")]))
    cursor = record.cursor_offset
    journal.record_sent("s", [reject], 3, cursor, at_ns=1, after_offset=cursor)
    delete(journal, 2)
    source = replay(journal, 1, 2)
    assert list(source) == []
    assert source.lost == [Lost(2, 2)]


def test_a_reset_forgets_the_batches_with_the_messages(journal: SqliteJournal) -> None:
    journal.load_session("s")
    deliver(journal, ["8", "8"], first_seq=2)
    journal.save_sequence_numbers("s", 1, 1, at_ns=2, reset=True)
    assert journal.sent_ranges("s", 1, 10) == []


def test_the_session_replays_a_rendered_again_message_with_its_first_sending_time(
    journal: SqliteJournal,
) -> None:
    """FIXT.1.1 resend: PossDupFlag(43)=Y and OrigSendingTime(122) = the first SendingTime."""
    journal.load_session("s")
    after = deliver(journal, ["8", "AE"], first_seq=2)  # 2..3
    delete(journal, 2, 3)
    session = FixSession(SessionIdentity(BRIDGE, CLIENT), after, 1)
    session.on_message(logon(), T0)
    frames = session.replay(2, 3, replay(journal, 2, 3)).take(10, T0)
    messages = [m for m in FrameParser().feed(b"".join(frames)) if isinstance(m, FixMessage)]
    assert [(m.msg_type, m.get(34), m.get(43), m.get(122), m.get(17)) for m in messages] == [
        ("8", "2", "Y", STAMP, "E1-0"),
        ("AE", "3", "Y", STAMP, "E2-0"),
    ]
    # FIX test case 2f: a client rejects OrigSendingTime later than SendingTime.
    assert all(m.get(122) <= m.get(52) for m in messages)


def test_stored_messages_pass_through_untouched(journal: SqliteJournal) -> None:
    journal.load_session("s")
    after = deliver(journal, ["8;8;8"], first_seq=2)
    stored = list(journal.outbound_range("s", 2, after - 1))
    assert all(isinstance(m, OutboundMessage) for m in stored)
    assert list(replay(journal, 2, after - 1)) == stored


def test_a_rewind_forgets_from_the_refused_message_and_leaves_a_hole_not_a_replay(
    journal: SqliteJournal,
) -> None:
    """A client logged out saying "expecting 31 but received 11": it holds other messages
    under 11..30 (our journal lost them) and took none of ours from 11 on. None of ours from
    11 may ever be replayed under those numbers; they are a hole, and numbering goes on at 31."""
    after_ten = deliver(journal, ["8"] * 10, first_seq=1)
    assert after_ten == 11
    cursor_at_logon = journal.load_session("s").cursor_offset
    deliver(journal, ["8"] * 30, first_seq=11)
    asyncio.run(journal.rewind_session_async("s", 31, cursor_at_logon, forget_from=11, at_ns=2))
    state = journal.load_session("s")
    assert (state.next_sender_seq, state.cursor_offset) == (31, cursor_at_logon)
    source = replay(journal, 1, 30)
    assert [m.seq for m in source] == list(range(1, 11))  # 11..30: gap-filled by the replay
    assert source.lost == []  # no batch claims them any more: nothing to render again
