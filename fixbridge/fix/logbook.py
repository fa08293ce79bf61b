"""A live connection's message log rows on their way to the journal.

The acceptor hands every frame it reads or writes for a bound session to the connection's
:class:`Logbook`; the rows ride on the next journal write the session makes anyway (the
Persist of the numbers that every message in sequence causes, the store of a delivered
batch), so logging costs no COMMIT of its own on the way of a message. Which row goes with
which write is the acceptor's to decide (docs/architecture.md, "Message log"); this module
only builds the rows, knows the session's reset epoch, and holds what is not written yet.

Pure: no I/O, no clock (times are passed in), no journal.
"""

from __future__ import annotations

from collections.abc import Sequence

from fixbridge.fix.codec import FixMessage
from fixbridge.fix.session import Action, Persist, Send
from fixbridge.journal import message_log
from fixbridge.journal.message_log import LogEntry


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
        self._pending.append(message_log.received(self.session_id, epoch, message, now_ns))

    def sent(self, frame: bytes, now_ns: int) -> LogEntry:
        """The row of a frame we send (not kept: the caller writes it with what it goes with)."""
        return message_log.sent(self.session_id, self.epoch, frame, now_ns)

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
