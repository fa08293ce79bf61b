"""What a resend replays: the stored messages, and any recorded one found missing rendered
again from its events, or reported lost.

The outbound store keeps every application message a session was sent, and the journal records
for each stored batch which events produced which numbers (:class:`SentRange`) with a digest of
the messages. A resend reads the store in order. Where numbers of a recorded batch have no
stored message (the file was damaged, or rows were deleted), the batch's events are rendered
again for the session; if that gives as many messages as were sent and the same digest, the
missing ones are replayed from it, byte for byte as first sent. Otherwise those numbers are
:class:`Lost`: left out, so the replay covers them with a gap fill, and the caller logs and
counts them.

Numbers that no recorded batch holds were admin messages (or were stored before batches were
recorded): they are gap-filled as always. Rules: a message is never replayed unless it is
provably the one that was sent (count and digest), and a recorded application message is never
gap-filled without being reported. Pure: the journal is read through :class:`SentStore`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from fixbridge.fix.outbound import Rendered
from fixbridge.journal.records import OutboundMessage
from fixbridge.journal.store import JournalEvent, SentRange, sent_digest


@dataclass(frozen=True, slots=True)
class Lost:
    """Application messages ``first..last`` were sent but are neither stored nor renderable."""

    first: int
    last: int

    @property
    def count(self) -> int:
        return self.last - self.first + 1


class SentStore(Protocol):
    def outbound_range(self, session_id: str, begin: int, end: int) -> Iterator[OutboundMessage]:
        ...

    def sent_ranges(self, session_id: str, begin: int, end: int) -> list[SentRange]: ...

    def read_events(self, after_offset: int, limit: int) -> list[JournalEvent]: ...


Renderer = Callable[[JournalEvent], list[Rendered]]


class ReplaySource:
    """The messages of ``begin..end`` for a replay, in order (rules: module doc). Iterate once;
    afterwards ``recovered`` and ``lost`` say what was filled in."""

    def __init__(
        self, store: SentStore, session_id: str, begin: int, end: int, render: Renderer
    ) -> None:
        self._store = store
        self._session_id = session_id
        self._begin = begin
        self._end = end
        self._render = render
        self._rendered: tuple[SentRange, list[OutboundMessage] | None] | None = None
        self.recovered = 0
        self.lost: list[Lost] = []

    def __iter__(self) -> Iterator[OutboundMessage]:
        expected = self._begin
        for message in self._store.outbound_range(self._session_id, self._begin, self._end):
            if message.seq > expected:
                yield from self._missing(expected, message.seq - 1)
            yield message
            expected = message.seq + 1
        if expected <= self._end:
            yield from self._missing(expected, self._end)

    def _missing(self, low: int, high: int) -> Iterator[OutboundMessage]:
        """Numbers ``low..high`` have no stored message: those of recorded batches, rendered
        again or reported lost."""
        for sent in self._store.sent_ranges(self._session_id, low, high):
            first, last = max(low, sent.first_seq), min(high, sent.last_seq)
            again = self._rerendered(sent)
            if again is None:
                self.lost.append(Lost(first, last))
                continue
            for message in again[first - sent.first_seq : last - sent.first_seq + 1]:
                self.recovered += 1
                yield message

    def _rerendered(self, sent: SentRange) -> list[OutboundMessage] | None:
        """The batch rendered again, if that is provably what was sent (one batch kept: the
        numbers missing from one batch usually come in one run)."""
        if self._rendered is not None and self._rendered[0] == sent:
            return self._rendered[1]
        result = self._render_batch(sent)
        self._rendered = (sent, result)
        return result

    def _render_batch(self, sent: SentRange) -> list[OutboundMessage] | None:
        wanted = sent.last_seq - sent.first_seq + 1
        span = sent.cursor_offset - sent.after_offset
        if span <= 0:
            return None  # not from events (a BusinessMessageReject): nothing to render from
        messages: list[Rendered] = []
        for event in self._store.read_events(sent.after_offset, span):
            if event.offset > sent.cursor_offset:
                break
            try:
                messages += self._render(event)
            except Exception:  # as the delivery did: an event it could not render, it skipped
                continue
        if len(messages) != wanted:
            return None
        if sent_digest((m.msg_type, m.body) for m in messages) != sent.digest:
            return None
        return [
            OutboundMessage(sent.first_seq + i, m.msg_type, sent.sending_time, m.body)
            for i, m in enumerate(messages)
        ]
