"""The storage contract between the bridge and its journal, kept small on purpose.

Two halves: :class:`EventLog`, upstream events appended with the resume token that covers
them (one atomic step, so a crash can never store a token without its events), and
:class:`SessionStore`, per-session FIX state (sequence numbers, the session's cursor into the
events, the outbound messages kept for resend, and the message log, written with the state it
goes with). :class:`Journal` is both, with what retention and operations ask of the whole.
The subscribers see only the event log, the acceptor both halves, the service the whole;
SQLite is one implementation and a shared database can be another. Ranges are read in bounded
batches, never loaded whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from fixbridge.journal.commit import Submitted
from fixbridge.journal.message_log import LogEntry
from fixbridge.journal.records import OutboundMessage, StoredBody
from fixbridge.journal.retention import Forgetful
from fixbridge.normalize.construct import slot_init
from fixbridge.normalize.fills import BustedFill, Fill, OrderTotals


@slot_init
@dataclass(frozen=True, slots=True)
class KnownOrder:
    """What the journal remembers of an order: its latest ClOrdID and latest totals."""

    cl_ord_id: str  # "" when no execution of it carried one
    totals: OrderTotals


@slot_init
@dataclass(frozen=True, slots=True)
class OrderRecord:
    """An execution's order, to remember (``cl_ord_id`` "" keeps the ClOrdID already known),
    and the fill the execution is, if it is one."""

    order_id: str
    cl_ord_id: str
    totals: OrderTotals
    fill: Fill | None = None


@dataclass(frozen=True, slots=True)
class BustRecord:
    """A fill taken out of its order by a bust, to remember for later busts of the order.

    ``filled`` is that fill as it happened (from the busted trade): remembered among the
    order's fills too, since the trade stream may bring the bust before the execution stream
    brings the fill, and a later bust of an earlier fill must count it."""

    fill_exec_id: str
    order_id: str
    fill: BustedFill
    filled: Fill | None = None


@slot_init
@dataclass(frozen=True, slots=True)
class NewEvent:
    """An upstream event ready to journal; ``upstream_id`` is its dedup identity.

    The memory fields are recorded in the same transaction as the event, and only if the event
    is new: an execution's ``order`` (and only if not older than what the order has, so a
    duplicate or a late-found older execution never rewinds it), a bust's ``busts``, an
    instrument's ``instrument`` = (symbol, content) as the symbol's latest.
    """

    upstream_id: str
    transact_time_ns: int
    payload: bytes
    raw: bytes
    flagged: str | None = None  # why the event could not be normalized, if it could not
    order: OrderRecord | None = None
    busts: tuple[BustRecord, ...] = ()
    instrument: tuple[str, str] | None = None
    # The normalized event ``payload`` encodes, where the caller has it: what decoding the
    # payload would give, handed to the renderers so a live event is not decoded again.
    decoded: object | None = None
    # Its FIX bodies rendered now, one per way of rendering it in use, kept with it
    # (fix/prerender.py); a session whose way is among them is sent one as it is.
    bodies: tuple[StoredBody, ...] = ()

    def with_bodies(self, bodies: tuple[StoredBody, ...]) -> NewEvent:
        """This event with ``bodies``: ``dataclasses.replace`` without its per-call look at
        the fields (ingestion does this for every execution). Every field is passed on:
        tests/unit/test_fix_prerender.py holds it equal to ``replace``."""
        return NewEvent(
            self.upstream_id,
            self.transact_time_ns,
            self.payload,
            self.raw,
            self.flagged,
            self.order,
            self.busts,
            self.instrument,
            self.decoded,
            bodies,
        )


@dataclass(frozen=True, slots=True)
class LatestInstrument:
    content: str  # InstrumentEvent.content of the symbol's last journaled state
    upstream_id: str


class JournalEvent(NamedTuple):
    """One journaled event as read back. A named tuple: a catch-up reads one for every
    message it delivers, and a frozen dataclass's construction cost half a microsecond."""

    offset: int
    stream: str
    upstream_id: str
    received_at_ns: int
    transact_time_ns: int
    payload: bytes
    flagged: str | None
    # The body rendered when it was journaled for the way of rendering it was read for
    # (``read_events(..., rendering=...)``), if one was.
    body: StoredBody | None = None


@dataclass(frozen=True, slots=True)
class AppendResult:
    stored: int
    duplicates: int
    head_offset: int
    offsets: tuple[int, ...] = ()  # each event's journal offset, in order; 0 = a duplicate


# Once our sequence numbers went backwards (or the journal was restored from a backup), events
# the exchange made before the moment it was found, and this long after (for the difference
# between its clock and ours), go out with PossResend(97)=Y.
POSSIBLY_SENT_MARGIN_NS = 60 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class SessionRecord:
    next_sender_seq: int
    next_target_seq: int
    cursor_offset: int
    updated_at_ns: int  # when the numbers were last written (0 = never)
    origin_offset: int = 0  # where the session began when first configured (the journal head,
    # or just before its start_from instant): it is sent what is journaled after it
    # Events with an exchange time before this may have been sent to the session already, under
    # sequence numbers the journal lost (restored from a backup): they go out with PossResend.
    possibly_sent_before_ns: int = 0
    # How many sequence resets the session has had: the message log's epoch for its messages.
    reset_epoch: int = 0


@dataclass(frozen=True, slots=True)
class SentRange:
    """Where a stored batch came from: a session's numbers ``first_seq..last_seq`` were the
    rendering, for that session, of the events after ``after_offset`` up to ``cursor_offset``
    (an empty range for a message no event produced), all stamped ``sending_time``;
    ``digest`` is :func:`sent_digest` of them, so a re-rendering can be proved identical."""

    first_seq: int
    last_seq: int
    after_offset: int
    cursor_offset: int
    sending_time: str
    digest: bytes


def sent_digest(messages: Iterable[tuple[str, bytes]]) -> bytes:
    """A digest of (MsgType, body) pairs in order, each length-prefixed (no two different
    sequences of messages share a digest by concatenation)."""
    digest = hashlib.sha256()
    for msg_type, body in messages:
        kind = msg_type.encode()
        digest.update(len(kind).to_bytes(2, "big") + kind + len(body).to_bytes(4, "big"))
        digest.update(body)
    return digest.digest()


class JournalError(RuntimeError):
    """The journal cannot be opened or written (locked by another process, disk, schema)."""


class CursorMoved(Exception):
    """A batch was not stored: the session's stored cursor is no longer the ``after_offset``
    the batch was rendered from (an operator's replay moved it meanwhile). Nothing of the
    batch is kept; its sender reads the session again and renders from the stored cursor."""


@dataclass(frozen=True, slots=True)
class SentInRound:
    """A session's batch of events appended in the same write round, to store in that round
    (what ``SessionStore.submit_sent`` stores, with ``after_offset`` the cursor it was rendered
    from), and ``done``, told the outcome once the round has ended: None when it committed,
    else what failed it (nothing of it is kept then; :class:`CursorMoved` as for
    ``submit_sent``)."""

    session_id: str
    messages: Sequence[OutboundMessage]
    next_sender_seq: int
    cursor_offset: int
    at_ns: int
    after_offset: int
    log: Sequence[LogEntry]
    done: Callable[[BaseException | None], None]


# Within a write round: the events after ``after_offset`` (at most ``limit``), with their
# bodies stored for ``rendering``, including those appended in this round and not yet
# committed. ``read_events``' arguments and answer.
RoundRead = Callable[[int, int, str], list[JournalEvent]]
# Given a read inside a round that appended events: the batches to store in that round.
# Called on the event loop, inside the round; an error of its own is caught and logged (the
# round goes on without batches), so it must tell (``done``) any batch it made before raising.
RoundDelivery = Callable[[RoundRead], list[SentInRound]]


class EventLog(Protocol):
    """The upstream events: appended with the resume token that covers them, read after an
    offset, and what they teach (orders, fills, busts, instruments, positions and settlements
    by symbol). Writes are coroutines that return once durable: they are committed off the
    loop, together with the other writes of the moment (group commit)."""

    async def append_async(
        self, stream: str, events: Sequence[NewEvent], resume_token: bytes, received_at_ns: int
    ) -> AppendResult:
        """Store new events (duplicates by upstream id are skipped) and the token, atomically."""
        ...

    def resume_token(self, stream: str) -> bytes | None: ...

    def resume_anchor_ns(self, stream: str) -> int | None:
        """Where a replay by time must start to miss nothing after what is durable: the later
        of the stream's newest normalized event (exchange time, capped by receipt) and how far
        its stored token is known to cover (a token-only response means caught up at receipt);
        None when the stream has neither."""
        ...

    def latest_orders(self, order_ids: Collection[str]) -> dict[str, KnownOrder]:
        """Each known order's ClOrdID and totals as of its latest journaled execution."""
        ...

    def latest_cl_ord_ids(self, order_ids: Collection[str]) -> dict[str, str]:
        """Each known order's ClOrdID as of its latest journaled execution, for the orders
        that had one (what linking needs of :meth:`latest_orders`, without the totals)."""
        ...

    def order_busts(self, order_ids: Collection[str]) -> dict[str, list[tuple[str, BustedFill]]]:
        """Each order's journaled busts: (busted fill's ExecID, the fill), oldest first."""
        ...

    def order_fills(self, order_ids: Collection[str]) -> dict[str, list[Fill]]:
        """Each order's journaled fills, in time order."""
        ...

    def latest_instruments(self, symbols: Collection[str]) -> dict[str, LatestInstrument]:
        """Each symbol's last journaled instrument state."""
        ...

    def trade_reported_before(self, trade_id: str, from_offset: int, before_offset: int) -> bool:
        """Whether a normalized version of trade ``trade_id`` was journaled after
        ``from_offset`` and before ``before_offset``."""
        ...

    def latest_by_account(
        self, stream: str, symbol: str, before_offset: int, until_ns: int | None = None
    ) -> list[JournalEvent]:
        """The last normalized event of ``stream`` (positions) before ``before_offset`` for
        each account in ``symbol``, by account; with ``until_ns``, the last whose time is
        not after it."""
        ...

    def read_symbol_events(self, after_offset: int, limit: int) -> list[JournalEvent]:
        """The normalized instrument, position and settlement events after ``after_offset``,
        in journal order, at most ``limit``."""
        ...

    def latest_of_symbol(
        self, stream: str, symbol: str, before_offset: int, count: int
    ) -> list[JournalEvent]:
        """The last ``count`` normalized events of ``stream`` (settlements, instruments) for
        ``symbol`` before ``before_offset``, newest first."""
        ...

    def offset_of(self, stream: str, upstream_id: str) -> int | None:
        """The journal offset of the event ``upstream_id`` of ``stream``, if journaled."""
        ...

    def oldest_transact_time(self) -> int | None:
        """The exchange time of the first event the journal holds, if any."""
        ...

    def journaled_ids(self, stream: str, upstream_ids: Collection[str]) -> set[str]:
        """Which of ``upstream_ids`` the stream has journaled already."""
        ...

    def head_offset(self) -> int: ...

    def read_events(
        self, after_offset: int, limit: int, rendering: str = ""
    ) -> list[JournalEvent]:
        """The events after ``after_offset``, at most ``limit``, in journal order; with
        ``rendering``, each with its body stored for that way of rendering, if any."""
        ...

    def count_events(self, stream: str) -> int: ...

    def offset_before(self, at_ns: int) -> int:
        """The offset just before the first event journaled with an exchange time at or after
        ``at_ns`` (the head when there is none). May scan: safe to run on another thread,
        and callers on the event loop must."""
        ...


class SessionStore(Protocol):
    """Each FIX session's state: its numbers and cursor into the events, the outbound messages
    kept for resend (read in bounded ranges), the batch records that let a lost one be
    rendered again, and the message log rows written with the state they go with."""

    def find_session(self, session_id: str) -> SessionRecord | None:
        """The session's stored state; None for a session never seen."""
        ...

    def load_session(self, session_id: str, *, start_offset: int | None = None) -> SessionRecord:
        """The session's stored state; a session never seen is created, its cursor (and
        origin) at ``start_offset``, or at the head when that is None."""
        ...

    async def save_sequence_numbers_async(
        self,
        session_id: str,
        next_sender_seq: int,
        next_target_seq: int,
        *,
        at_ns: int,
        reset: bool = False,
        log: Sequence[LogEntry] = (),
    ) -> None:
        """Persist the numbers and log ``log`` (message log), atomically; ``reset`` also drops
        the session's outbound messages and starts its next reset epoch."""
        ...

    def submit_sent(
        self,
        session_id: str,
        messages: Sequence[OutboundMessage],
        next_sender_seq: int,
        cursor_offset: int | None,
        *,
        at_ns: int,
        after_offset: int | None = None,
        log: Sequence[LogEntry] = (),
    ) -> Submitted[None]:
        """Store sequenced application messages and advance the cursor, atomically: handed
        in now, committed with the next round, its outcome awaited with ``result()`` (a
        caller may render its next batch meanwhile). With ``after_offset`` (the cursor
        before), also record where the messages came from (:class:`SentRange`), so a lost
        one can be rendered again, and, when the write moves the cursor, store nothing
        unless the stored cursor is still ``after_offset`` (raises :class:`CursorMoved`);
        that check chains such writes: one handed in after another stores nothing unless the
        other did. A write that does not move the cursor (``cursor_offset`` None or equal to
        ``after_offset``: messages no event produced, messages sent again) leaves the stored
        cursor as it is. ``log`` goes into the message log in the same transaction."""
        ...

    def deliver_in_rounds(self, delivery: RoundDelivery | None) -> bool:
        """Have ``delivery`` asked, in every write round that appended events, for sessions'
        batches of those events, stored in that round: a batch commits with its events or not
        at all (the events may commit without it), and its bytes may be written once
        ``done`` is told None. None stops it. False when this journal cannot (its
        statements run off the event loop): sessions then deliver after the append has
        committed, as without it."""
        ...

    async def log_messages_async(self, entries: Sequence[LogEntry]) -> None:
        """Add ``entries`` to the message log (for messages no other write carries)."""
        ...

    async def rewind_session_async(
        self,
        session_id: str,
        next_sender_seq: int,
        cursor_offset: int,
        *,
        forget_from: int,
        at_ns: int,
    ) -> None:
        """Forget the messages sent from ``forget_from`` on (a client that logged out without
        taking them), continue numbering at ``next_sender_seq`` and move the cursor back to
        ``cursor_offset``, atomically."""
        ...

    async def mark_possibly_sent_async(self, session_id: str, before_ns: int) -> None:
        """Events with an exchange time before ``before_ns`` may have reached the session
        already, under numbers this journal no longer holds (it never moves back)."""
        ...

    async def replay_from_async(
        self, session_id: str, cursor_offset: int, possibly_sent_before_ns: int
    ) -> None:
        """Move the cursor back to ``cursor_offset`` (never forward) and the PossResend horizon
        (:meth:`mark_possibly_sent_async`) up to ``possibly_sent_before_ns``, atomically: what
        was delivered from there goes out again, as new messages marked PossResend."""
        ...

    def outbound_range(self, session_id: str, begin: int, end: int) -> Iterator[OutboundMessage]:
        """Stored messages with ``begin <= seq <= end`` in order, fetched in bounded batches."""
        ...

    def sent_ranges(self, session_id: str, begin: int, end: int) -> list[SentRange]:
        """The recorded batches holding any number of ``begin..end``, in sequence order."""
        ...


class Journal(EventLog, SessionStore, Forgetful, Protocol):
    """The whole journal as the service holds it: both halves, what retention removes through
    (``journal/retention.py``, which keeps the rules of what may go), and what operations ask
    of it (a real write for readiness, its size and the disk it can still grow into)."""

    async def check_writable_async(self, at_ns: int) -> None:
        """A real, small write transaction, committed off the loop; raises JournalError
        saying why the journal cannot be written."""
        ...

    def size_bytes(self) -> int:
        """The journal's files as on disk now."""
        ...

    def disk_space(self) -> tuple[int, int] | None:
        """Bytes free and in all on the file system that holds the journal; None when that
        is not this machine's to see (a database server's disks)."""
        ...

    def close(self) -> None: ...
