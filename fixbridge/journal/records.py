"""The record of a sent message, shared by the FIX session and the journal's storage contract.

A leaf: it imports nothing of fixbridge, so the pure session state machine (``fix/session.py``)
can name what it hands the store without importing the journal's implementation. It must
never grow behaviour: it is data, as stored.
"""

from __future__ import annotations

from typing import NamedTuple


class OutboundMessage(NamedTuple):
    """A message a session sent, as kept for resend: its number, MsgType, SendingTime as
    written and its body (everything after SendingTime, without the trailer). A named tuple:
    one is made for every message delivered, and stored as the row it already is."""

    seq: int
    msg_type: str
    sending_time: str
    body: bytes


class StoredBody(NamedTuple):
    """An execution's ExecutionReport body as rendered when it was journaled, for one way of
    rendering it (``rendering``: a key naming the style and the code that rendered it), with
    the fields a session's scope is decided on, so a session can be sent it without decoding
    the event's payload again. A named tuple: read back for every event of a catch-up, where
    a frozen dataclass's construction cost a microsecond each."""

    rendering: str
    firm: str
    account: str
    symbol: str
    exec_type: str
    body: bytes
