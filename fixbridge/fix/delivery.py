"""The delivery leg of one live session: journal events in, the bytes to write out.

One :class:`Delivery` per logged-on session. :meth:`Delivery.deliver` takes a batch of journal
events (in journal order, from the session's cursor) and the current time, and returns the
frames to write, with what the acceptor counts about them. On the way it renders each event
for the session (scope, profile, precision), sequences every message through the session's
:class:`FixSession` and records them, the next sender sequence number and the new cursor in
the store, in one call.

Rules:
- Stored before written: ``deliver`` returns bytes only after the store has the messages
  they carry, so a crash after the write never loses a message the client saw, and a resend
  can always replay it. If the store fails, the session's sequence number goes back to where
  it was and the error propagates: nothing may be written.
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
from typing import Protocol

from fixbridge.fix.outbound import Rendered
from fixbridge.fix.session import FixSession
from fixbridge.journal.store import JournalEvent, OutboundMessage

log = logging.getLogger("fixbridge.fix")

Renderer = Callable[[JournalEvent], list[Rendered]]


class SentStore(Protocol):
    """What delivery needs from the journal: a durable record of what a session was sent."""

    def record_sent(
        self,
        session_id: str,
        messages: Sequence[OutboundMessage],
        next_sender_seq: int,
        cursor_offset: int,
        *,
        at_ns: int,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Batch:
    """One delivered batch: ``data`` (the frames, joined) may now be written."""

    data: bytes
    cursor: int  # the journal offset delivered up to
    frames: int
    msg_types: collections.Counter[str] = field(default_factory=collections.Counter)
    # Per message, its event's transact and receipt times (for the lag metrics).
    times: list[tuple[int, int]] = field(default_factory=list)
    skipped: int = 0  # events that could not be rendered


class Delivery:
    """The journal -> FIX bytes leg of one live session (rules: module doc)."""

    def __init__(
        self, name: str, session: FixSession, renderer: Renderer, store: SentStore
    ) -> None:
        self.name = name
        self.session = session
        self._render = renderer
        self._store = store

    def deliver(self, events: Sequence[JournalEvent], now_ns: int) -> Batch:
        """Render, sequence and store ``events`` (non-empty, journal order); the frames out."""
        session = self.session
        first_seq = session.next_sender_seq
        stored: list[OutboundMessage] = []
        frames: list[bytes] = []
        times: list[tuple[int, int]] = []
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
            for rendered in messages:
                send, sending_time = session.application_message(
                    rendered.msg_type, rendered.body, now_ns
                )
                stored.append(
                    OutboundMessage(send.seq, rendered.msg_type, sending_time, rendered.body)
                )
                frames.append(send.data)
                times.append((event.transact_time_ns, event.received_at_ns))
        cursor = int(events[-1].offset)
        try:
            self._store.record_sent(
                self.name, stored, session.next_sender_seq, cursor, at_ns=now_ns
            )
        except BaseException:
            session.next_sender_seq = first_seq  # nothing was stored: nothing may be written
            raise
        return Batch(
            data=b"".join(frames),
            cursor=cursor,
            frames=len(frames),
            msg_types=collections.Counter(m.msg_type for m in stored),
            times=times,
            skipped=skipped,
        )
