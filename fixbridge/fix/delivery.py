"""The delivery leg of one live session: journal events in, the bytes to write out.

One :class:`Delivery` per logged-on session. :meth:`Delivery.deliver` takes a batch of journal
events (in journal order, from the session's cursor) and the current time, and returns the
frames to write, with what the acceptor counts about them. On the way it renders each event
for the session (scope, profile, precision) and sequences every message through the session's
:class:`FixSession`; the batch's :class:`SentRecord` (the messages, the next sender sequence
number and the new cursor) is what the store must hold before the frames are written.

Rules:
- Stored before written: the caller stores ``batch.record`` durably (one transaction) and only
  then writes ``batch.data``, so a crash after the write never loses a message the client saw,
  and a resend can always replay it. If the store fails, the caller hands the batch back with
  :meth:`Delivery.abandon`: the session's sequence number goes back to where it was and nothing
  of the batch may be written.
- An event this version cannot render is skipped (logged, counted in the batch), never stops
  the session: the cursor moves past it as past any other event.
- Synchronous and free of I/O of its own: no sockets, no clock, no event loop. The acceptor
  reads the events, gives the time, writes the bytes and awaits the socket.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fixbridge.fix.outbound import Rendered
from fixbridge.fix.session import FixSession
from fixbridge.journal.records import OutboundMessage
from fixbridge.journal.store import JournalEvent

log = logging.getLogger("fixbridge.fix")

Renderer = Callable[[JournalEvent], list[Rendered]]


@dataclass(frozen=True, slots=True)
class SentRecord:
    """What a session was sent, for the store: its messages, the next sender sequence number
    after them and the journal offset delivered up to (the journal's ``record_sent``)."""

    session_id: str
    messages: list[OutboundMessage]
    next_sender_seq: int
    cursor_offset: int
    at_ns: int


@dataclass(frozen=True, slots=True)
class Batch:
    """One delivered batch: ``data`` (the frames, joined) may be written once ``record`` is
    stored."""

    record: SentRecord
    first_seq: int  # the session's next sender sequence number before the batch
    data: bytes
    cursor: int  # the journal offset delivered up to
    frames: int
    msg_types: collections.Counter[str] = field(default_factory=collections.Counter)
    # Per message, its event's transact time (None when that is not when the exchange made
    # what the message reports: Rendered.exchange_timed) and receipt time, for the lag metrics.
    times: list[tuple[int | None, int]] = field(default_factory=list)
    skipped: int = 0  # events that could not be rendered
    wire: tuple[bytes, ...] = ()  # each message's frame, in the order of record.messages


class Delivery:
    """The journal -> FIX bytes leg of one live session (rules: module doc)."""

    def __init__(self, name: str, session: FixSession, renderer: Renderer) -> None:
        self.name = name
        self.session = session
        self._render = renderer

    def deliver(self, events: Sequence[JournalEvent], now_ns: int) -> Batch:
        """Render and sequence ``events`` (non-empty, journal order): the frames, and what to
        store before writing them."""
        session = self.session
        first_seq = session.next_sender_seq
        rendered: list[Rendered] = []
        # Per message, its event's transact time (None when not exchange-timed) and receipt.
        times: list[tuple[int | None, int]] = []
        skipped = 0
        for event in events:
            try:
                messages = self._render(event)
            except Exception:  # a journaled event this version cannot render: skip, say so
                log.exception(
                    "session %s: journal event %d (%s %s) cannot be rendered; skipped",
                    self.name,
                    event.offset,
                    event.stream,
                    event.upstream_id,
                    extra={"session": self.name},
                )
                skipped += 1
                continue
            for message in messages:
                rendered.append(message)
                times.append(
                    (event.transact_time_ns if message.exchange_timed else None,
                     event.received_at_ns)
                )  # fmt: skip
        frames, sending_time = session.application_messages(
            [(m.msg_type, m.body) for m in rendered], now_ns
        )
        stored = [
            OutboundMessage(seq, m.msg_type, sending_time, m.body)
            for seq, m in enumerate(rendered, first_seq)
        ]
        cursor = int(events[-1].offset)
        return Batch(
            record=SentRecord(self.name, stored, session.next_sender_seq, cursor, now_ns),
            first_seq=first_seq,
            data=b"".join(frames),
            cursor=cursor,
            frames=len(frames),
            msg_types=collections.Counter([m.msg_type for m in rendered]),
            times=times,
            skipped=skipped,
            wire=tuple(frames),
        )

    def abandon(self, batch: Batch) -> None:
        """``batch`` could not be stored: its sequence numbers are taken back, so the next
        batch reuses them (nothing of it may be written). Only for the latest batch, before
        the session sent anything else."""
        if self.session.next_sender_seq != batch.record.next_sender_seq:
            raise RuntimeError(
                f"session {self.name}: batch {batch.first_seq}..{batch.record.next_sender_seq - 1}"
                " abandoned after the session sent more"
            )
        self.session.next_sender_seq = batch.first_seq
