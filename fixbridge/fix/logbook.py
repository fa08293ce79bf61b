"""A live connection's message log rows on their way to the journal.

The acceptor hands every frame it reads or writes for a bound session to the connection's
:class:`Logbook`; the rows ride on the next journal write the session makes anyway (the
Persist of the numbers that every message in sequence causes, the store of a delivered
batch), so logging costs no COMMIT of its own on the way of a message. Which row goes with
which write is the acceptor's to decide (docs/architecture.md, "Message log"); this module
builds the rows from the frames (``journal/message_log.py`` only keeps them), knows the
session's reset epoch, and holds what is not written yet.

Must never let a password into a row: Password(554) and NewPassword(925) are masked in the
bytes before a row exists. Pure: no I/O, no clock (times are passed in), no journal.
"""

from __future__ import annotations

from collections.abc import Sequence

from fixbridge.fix.codec import SOH, FixMessage, first_value
from fixbridge.fix.session import Action, Persist, Send
from fixbridge.journal.message_log import LogEntry

MASK = b"***"
SECRET_TAGS = (554, 925)  # Password, NewPassword
# "554=" or "925=" somewhere: only then is a frame split (``in`` is several times faster than
# one regular expression holding both, and the delivery leg logs every frame it sends).
_SECRET_MARKS = tuple(b"%d=" % tag for tag in SECRET_TAGS)


def mask_secrets(raw: bytes) -> bytes:
    """``raw`` with the values of Password(554) and NewPassword(925) replaced by ``***``
    (BodyLength and CheckSum are left as they were: they describe the original). A tag is
    recognised by its number, as the parser reads it (``0554=`` is Password too)."""
    for mark in _SECRET_MARKS:
        if mark in raw:
            break
    else:  # the common case
        return raw
    parts = raw.split(SOH)
    for i, part in enumerate(parts):
        tag, sep, _ = part.partition(b"=")
        if i and sep and tag.isdigit() and int(tag) in SECRET_TAGS:  # never BeginString
            parts[i] = tag + b"=" + MASK
    return SOH.join(parts)


def _seq(text: str | None) -> int | None:
    if text is None or not text.isdigit() or len(text) > 18:
        return None
    return int(text)


def received_entry(session_id: str, epoch: int, message: FixMessage, now_ns: int) -> LogEntry:
    """The row of a message a client sent us."""
    return LogEntry(
        session_id,
        "in",
        epoch,
        _seq(message.get(34)),
        message.get(52) or "",
        now_ns,
        message.msg_type,
        mask_secrets(message.raw),
    )


def sent_entry(session_id: str, epoch: int, frame: bytes, now_ns: int) -> LogEntry:
    """The row of a frame we send (an admin message or a replayed one): its header fields are
    read from the frame itself, without parsing its body."""
    return LogEntry(
        session_id,
        "out",
        epoch,
        _seq(first_value(frame, 34)),
        first_value(frame, 52) or "",
        now_ns,
        first_value(frame, 35) or "",
        mask_secrets(frame),
    )


# The messages the bridge renders from journal events. No definition of theirs, in the stock
# FIX 5.0 SP2 dictionary or in any profile's shipped one, holds Password(554) or
# NewPassword(925) (tests/unit/test_fix_logbook.py reads the dictionaries), and a rendered
# frame holds our header and its definition's fields only (no value can hold SOH): such a
# frame has no password to mask, and the delivery leg logs every one it sends, so it is not
# scanned for one. Any other type is.
RENDERED_MSG_TYPES = frozenset({"8", "AE", "f", "AP", "W", "UMS"})


def application_entry(
    session_id: str,
    epoch: int,
    frame: bytes,
    *,
    seq: int,
    msg_type: str,
    sending_time: str,
    now_ns: int,
) -> LogEntry:
    """The row of an application message we send, whose header fields the caller has (the
    delivery's hot path: the frame is not parsed again)."""
    masked = frame if msg_type in RENDERED_MSG_TYPES else mask_secrets(frame)
    return LogEntry(session_id, "out", epoch, seq, sending_time, now_ns, msg_type, masked)



def resets(actions: Sequence[Action]) -> bool:
    """Whether carrying out ``actions`` restarts both sequences (a new reset epoch)."""
    return any(isinstance(a, Persist) and a.reset for a in actions)


class Logbook:
    """One connection's rows not yet handed to a journal write, and its session's epoch."""

    def __init__(self, session_id: str, epoch: int) -> None:
        self.session_id = session_id
        self.epoch = epoch
        self._pending: list[LogEntry] = []

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def reset(self) -> None:
        """Both sequences restart: what follows belongs to the next epoch."""
        self.epoch += 1

    def received(self, message: FixMessage, now_ns: int, actions: Sequence[Action]) -> None:
        """A client's message, to log with the session's answer ``actions``. A message whose
        answer restarts the sequences (a Logon with ResetSeqNumFlag) opens the new epoch: it
        is the new epoch's number 1."""
        epoch = self.epoch + 1 if resets(actions) else self.epoch
        self._pending.append(received_entry(self.session_id, epoch, message, now_ns))

    def sent(self, frame: bytes, now_ns: int) -> LogEntry:
        """The row of a frame we send (not kept: the caller writes it with what it goes with)."""
        return sent_entry(self.session_id, self.epoch, frame, now_ns)

    def add(self, entry: LogEntry) -> None:
        self._pending.append(entry)

    def ahead(self, actions: Sequence[Action], now_ns: int) -> list[tuple[Send, LogEntry]]:
        """The Sends that follow a Persist in ``actions`` (up to the next Persist), with their
        rows: they are logged in that Persist's write, before their bytes are written. A Send
        kept for resend (``stored``) is logged with its own store instead."""
        found: list[tuple[Send, LogEntry]] = []
        for action in actions:
            if isinstance(action, Persist):
                break
            if isinstance(action, Send) and action.stored is None:
                found.append((action, self.sent(action.data, now_ns)))
        return found

    def take(self) -> list[LogEntry]:
        """The rows waiting, handed to a journal write (give them back if it fails)."""
        taken, self._pending = self._pending, []
        return taken

    def give_back(self, entries: Sequence[LogEntry]) -> None:
        """Rows of a write that failed or was cancelled: they go with the next one."""
        self._pending[:0] = entries
