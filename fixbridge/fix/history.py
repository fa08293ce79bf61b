"""The event resend request: a client asks, over FIX, for what its scope held from an ExecID or
a time on, and gets it again under new sequence numbers.

The messages are user-defined, laid out as the prediction venues' drop copies have them
(Kalshi's EventResendRequest/Complete/Reject), declared in fixbridge's dictionaries:

* EventResendRequest (35=U1), client to us: BeginExecID(21001) (inclusive), or
  EventResendStartTime(21005) (UTCTimestamp: from the first event the exchange made at or
  after it), one of the two; EndExecID(21002) (inclusive) optional. Without EndExecID the
  answer reaches what the session has been sent when the request is served.
* EventResendComplete (35=U2): RefSeqNum(45) of the request, ResentEventCount(21003) = the
  application messages sent again, after the last of them.
* EventResendReject (35=U3): RefSeqNum(45), EventResendRejectReason(21004) and Text(58) saying
  why: 1 another request of the session is still being answered, 2 the journal failed,
  3 BeginExecID or the start time is older than what the journal keeps, 4 EndExecID is not
  journaled or comes before BeginExecID, 5 BeginExecID is not journaled (1-4 as Kalshi;
  5 is fixbridge's, for an ExecID it never saw).

Every message sent again carries PossResend(97)=Y (the client may hold it already: it checks
the identifiers), never PossDupFlag (these are new sequence numbers, not a retransmission).
Pure: parsing a request and writing the replies' bodies; the acceptor looks the journal up and
sends.
"""

from __future__ import annotations

from dataclasses import dataclass

from fixbridge.fix.codec import FixMessage, encode_fields
from fixbridge.normalize.timestamps import parse_utc_timestamp

REQUEST, COMPLETE, REJECT = "U1", "U2", "U3"
BEGIN_EXEC_ID, END_EXEC_ID, RESENT_EVENT_COUNT = 21001, 21002, 21003
REJECT_REASON, START_TIME = 21004, 21005
REF_SEQ_NUM, TEXT = 45, 58

BUSY, SERVER_ERROR, TOO_OLD, BAD_END, UNKNOWN_BEGIN = "1", "2", "3", "4", "5"


@dataclass(frozen=True, slots=True)
class EventResendRequest:
    """A checked request: from ``begin_exec_id`` or from ``start_ns`` (one of the two)."""

    ref_seq: int
    begin_exec_id: str | None
    start_ns: int | None
    end_exec_id: str | None
    routing: tuple[tuple[int, str], ...] = ()  # the reply's routing tags, leading its body


def parse_request(msg: FixMessage, seq: int) -> EventResendRequest | str:
    """The request in ``msg``, or why it cannot be served (a BusinessMessageReject's text)."""
    begin, end, start = msg.get(BEGIN_EXEC_ID), msg.get(END_EXEC_ID), msg.get(START_TIME)
    if (begin is None) == (start is None):
        return (
            "EventResendRequest needs exactly one of BeginExecID(21001) and"
            " EventResendStartTime(21005)"
        )
    start_ns = None
    if start is not None:
        try:
            start_ns = parse_utc_timestamp(start)
        except ValueError:
            return f"EventResendStartTime(21005)={start!r} is not a UTCTimestamp"
    return EventResendRequest(seq, begin, start_ns, end)


def complete_body(request: EventResendRequest, count: int) -> bytes:
    return encode_fields(
        [*request.routing, (REF_SEQ_NUM, str(request.ref_seq)), (RESENT_EVENT_COUNT, str(count))]
    )


def reject_body(request: EventResendRequest, reason: str, text: str) -> bytes:
    return encode_fields(
        [
            *request.routing,
            (REF_SEQ_NUM, str(request.ref_seq)),
            (REJECT_REASON, reason),
            (TEXT, text),
        ]
    )
