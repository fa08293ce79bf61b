"""The delivery leg on its own: journal events in, sequenced and stored frames out.

A real FixSession (logged on by a scripted Logon, injected time), a renderer that turns each
event into the messages its payload names, and a store that records what it is given or fails
on demand, used as the acceptor uses it (each batch's record stored before its bytes are
handed out, the batch abandoned when the store fails). The frames are read back with the
codec's parser, so the checks are about the bytes a client would receive (FIXT.1.1 standard
header: 34 MsgSeqNum, 52 SendingTime).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

from fixbridge.fix.codec import FixMessage, FrameParser, encode_fields
from fixbridge.fix.delivery import Batch, Delivery
from fixbridge.fix.outbound import Rendered
from fixbridge.fix.session import FixSession, SessionIdentity
from fixbridge.journal.records import OutboundMessage
from fixbridge.journal.store import JournalEvent
from tests.unit.fixmsg import BRIDGE, CLIENT, STAMP, T0, logon


class Store:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[OutboundMessage], int, int, int]] = []
        self.fail = False

    def record_sent(
        self,
        session_id: str,
        messages: Sequence[OutboundMessage],
        next_sender_seq: int,
        cursor_offset: int,
        *,
        at_ns: int,
    ) -> None:
        if self.fail:
            raise OSError("disk full")
        self.calls.append((session_id, list(messages), next_sender_seq, cursor_offset, at_ns))


def render(event: JournalEvent) -> list[Rendered]:
    """Each ``;``-separated MsgType in the payload is one message, its body naming the event."""
    if event.payload == b"broken":
        raise ValueError("payload of an unknown version")
    return [
        Rendered(kind, encode_fields([(17, f"{event.upstream_id}-{n}")]))
        for n, kind in enumerate(event.payload.decode().split(";"))
        if kind
    ]


def event(offset: int, payload: str, transact: int = 5, received: int = 7) -> JournalEvent:
    return JournalEvent(offset, "executions", f"E{offset}", received, transact,
                        payload.encode(), None)  # fmt: skip


class Leg:
    """A Delivery used as the acceptor uses it: each batch's record stored before its bytes
    are handed out, the batch abandoned when the store fails."""

    def __init__(self, store: Store, next_sender: int) -> None:
        self.session = FixSession(SessionIdentity(BRIDGE, CLIENT), next_sender, 1)
        self.session.on_message(logon(), T0)  # answered with seq next_sender
        self.delivery = Delivery("bo", self.session, render)
        self.store = store

    def deliver(self, events: Sequence[JournalEvent], now_ns: int) -> Batch:
        batch = self.delivery.deliver(events, now_ns)
        record = batch.record
        try:
            self.store.record_sent(
                record.session_id, record.messages, record.next_sender_seq,
                record.cursor_offset, at_ns=record.at_ns,
            )  # fmt: skip
        except BaseException:
            self.delivery.abandon(batch)
            raise
        return batch


def delivery(store: Store, next_sender: int = 1) -> Leg:
    return Leg(store, next_sender)


def frames(data: bytes) -> list[FixMessage]:
    parsed = FrameParser().feed(data)
    assert all(isinstance(m, FixMessage) for m in parsed)
    return [m for m in parsed if isinstance(m, FixMessage)]


def test_events_become_sequenced_frames_stored_before_they_are_returned() -> None:
    store = Store()
    leg = delivery(store, next_sender=41)  # the Logon reply took 41
    batch = leg.deliver([event(10, "8"), event(11, "AE;8"), event(12, "f")], T0)
    sent = frames(batch.data)
    assert [(m.msg_type, m.get(34), m.get(17)) for m in sent] == [
        ("8", "42", "E10-0"), ("AE", "43", "E11-0"), ("8", "44", "E11-1"), ("f", "45", "E12-0"),
    ]  # fmt: skip
    assert all(m.get(49) == BRIDGE and m.get(56) == CLIENT for m in sent)
    ((name, stored, next_seq, cursor, at),) = store.calls
    assert (name, next_seq, cursor, at) == ("bo", 46, 12, T0)
    # What is stored is what was sent: seq, MsgType, SendingTime and the body, per message.
    assert [(m.seq, m.msg_type) for m in stored] == [(42, "8"), (43, "AE"), (44, "8"), (45, "f")]
    assert {m.sending_time for m in stored} == {m.get(52) for m in sent}
    assert sent[0].get(52).startswith(STAMP)
    assert stored[1].body == encode_fields([(17, "E11-0")])
    assert (batch.cursor, batch.frames, dict(batch.msg_types)) == (12, 4, {"8": 2, "AE": 1, "f": 1})
    assert leg.session.next_sender_seq == 46


def test_each_message_has_its_own_frame_for_the_message_log() -> None:
    leg = delivery(Store(), next_sender=7)  # the Logon reply took 7
    batch = leg.deliver([event(1, "8;AE"), event(2, "f")], T0)
    assert b"".join(batch.wire) == batch.data
    assert [frames(f)[0].get(34) for f in batch.wire] == ["8", "9", "10"]
    assert [(m.seq, m.msg_type) for m in batch.record.messages] == [(8, "8"), (9, "AE"), (10, "f")]


def test_each_message_carries_its_events_times_for_the_lag_metrics() -> None:
    batch = delivery(Store()).deliver([event(1, "8;8", 100, 200), event(2, "f", 300, 400)], T0)
    assert batch.times == [(100, 200), (100, 200), (300, 400)]


def test_events_out_of_scope_still_move_the_cursor() -> None:
    store = Store()
    leg = delivery(store)
    batch = leg.deliver([event(3, ""), event(4, "")], T0)
    assert (batch.data, batch.frames, batch.cursor) == (b"", 0, 4)
    assert store.calls == [("bo", [], 2, 4, T0)]  # the cursor is stored all the same


def test_an_event_that_cannot_be_rendered_is_skipped_and_said(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = Store()
    with caplog.at_level(logging.ERROR, logger="fixbridge.fix"):
        batch = delivery(store).deliver([event(5, "8"), event(6, "broken"), event(7, "8")], T0)
    assert [m.get(17) for m in frames(batch.data)] == ["E5-0", "E7-0"]
    assert (batch.skipped, batch.cursor) == (1, 7)
    assert "journal event 6 (executions E6) cannot be rendered; skipped" in caplog.text


def test_a_store_that_fails_leaves_nothing_to_write_and_the_sequence_where_it_was() -> None:
    store = Store()
    leg = delivery(store)
    store.fail = True
    with pytest.raises(OSError, match="disk full"):
        leg.deliver([event(8, "8;AE")], T0)
    assert leg.session.next_sender_seq == 2
    store.fail = False
    batch = leg.deliver([event(8, "8")], T0)
    assert [m.get(34) for m in frames(batch.data)] == ["2"]  # no number was lost or reused


def test_only_the_latest_batch_can_be_abandoned() -> None:
    leg = delivery(Store())
    first = leg.delivery.deliver([event(9, "8")], T0)
    leg.delivery.deliver([event(10, "8")], T0)
    with pytest.raises(RuntimeError, match="abandoned after the session sent more"):
        leg.delivery.abandon(first)
    assert leg.session.next_sender_seq == 4  # the numbers stay as the session has them
