"""The record of a sent message, shared by the FIX session and the journal's storage contract.

A leaf: it imports nothing of fixbridge, so the pure session state machine (``fix/session.py``)
can name what it hands the store without importing the journal's implementation. It must
never grow behaviour: it is data, as stored.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message a session sent, as kept for resend: its number, MsgType, SendingTime as
    written and its body (everything after SendingTime, without the trailer)."""

    seq: int
    msg_type: str
    sending_time: str
    body: bytes
