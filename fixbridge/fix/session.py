"""The FIXT.1.1 acceptor session as a pure state machine: messages and time in, actions out.

Rules this module keeps:
- It never touches a socket, a database, a clock or a timer. The caller passes each parsed
  frame and the current time (integer nanoseconds) in, and carries out the returned actions in
  order: persist the sequence numbers (``Persist``), write bytes (``Send``, storing them for
  resend first when it carries a ``stored`` message), serve a resend from the outbound store
  (``Resend``), start delivering application messages (``LoggedOn``), close (``Disconnect``).
- Sequence numbers live here. Every message we send takes ``next_sender_seq``; the caller must
  persist the new numbers before the bytes reach the socket, so a crash can never reuse one.
- We are a read-only drop copy: a client's application message changes nothing and is answered
  with BusinessMessageReject (380=3), which is kept for resend like any application message.
  A reply to a routed message carries its routing tags reversed (115/116/144 <-> 128/129/145).
- Administrative messages are answered per FIXT.1.1: TestRequest -> Heartbeat with the same
  TestReqID, ResendRequest -> replay with PossDupFlag=Y / GapFill, SequenceReset (both modes),
  Logout -> Logout then close, Logon with ResetSeqNumFlag(141)=Y -> both sequences restart.
- Every message in sequence is checked before it is acted on (``fix/inbound.py`` for its
  structure, here for CompIDs, SendingTime and PossDup); a problem gets a Reject naming the
  SessionRejectReason and RefTagID, and a Logout where FIXT.1.1 asks for one.
  specs/session-rules.md lists every rule and where fixbridge's answer differs from QuickFIX's.

States: AWAITING_LOGON -> ACTIVE -> LOGOUT_SENT -> CLOSED. The first frame must be a Logon for
this session's CompID pair (admission has already matched it); anything else closes.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from fixbridge.fix.codec import BEGIN_STRING, FixMessage, encode_fields, frame
from fixbridge.fix.credentials import same_text, verify_password
from fixbridge.fix.fixt import (
    COMPID_PROBLEM,
    INCORRECT_DATA_FORMAT,
    INVALID_MSGTYPE,
    REJECT_TEXT,
    REQUIRED_TAG_MISSING,
    ROUTING_REVERSED,
    SENDING_TIME_ACCURACY,
    VALUE_INCORRECT,
)
from fixbridge.fix.history import REQUEST as EVENT_RESEND_REQUEST
from fixbridge.fix.history import EventResendRequest, parse_request
from fixbridge.fix.inbound import Problem, admin_field_problem, structure_problem
from fixbridge.fix.msgtypes import APPLICATION_MSG_TYPES
from fixbridge.journal.records import OutboundMessage
from fixbridge.normalize.timestamps import Precision, format_utc_timestamp, parse_utc_timestamp

# Standard header and admin tags used here.
BEGIN_SEQ_NO, END_SEQ_NO, MSG_SEQ_NUM, NEW_SEQ_NO = 7, 16, 34, 36
POSS_DUP_FLAG, REF_SEQ_NUM, SENDER_COMP_ID, SENDING_TIME, TARGET_COMP_ID = 43, 45, 49, 52, 56
TEXT, ENCRYPT_METHOD, HEART_BT_INT, TEST_REQ_ID = 58, 98, 108, 112
ORIG_SENDING_TIME, GAP_FILL_FLAG, RESET_SEQ_NUM_FLAG = 122, 123, 141
REF_TAG_ID, REF_MSG_TYPE, SESSION_REJECT_REASON, BUSINESS_REJECT_REASON = 371, 372, 373, 380
NEXT_EXPECTED_MSG_SEQ_NUM, DEFAULT_APPL_VER_ID = 789, 1137
USERNAME, PASSWORD = 553, 554
BEGIN_STRING_TAG = 8

FIX50SP2 = "9"
MIN_HEARTBEAT_S, MAX_HEARTBEAT_S = 1, 3600
MAX_CLOCK_SKEW_NS = 120 * 1_000_000_000
LOGOUT_REPLY_WAIT_S = 2  # a Logout we send because of an error waits this long for the reply
MAX_QUEUED = 10_000
MAX_QUEUED_BYTES = 8 * 1024 * 1024
MAX_SEQ_NUM = 10**18 - 1  # fits SQLite's 64-bit integers with room to spare
_DIGITS = frozenset("0123456789")

_TOO_LOW = re.compile(r"MsgSeqNum too low, expecting (\d{1,18}) but received (\d{1,18})")

BUSINESS_REJECT_TEXT = "read-only drop copy session: application messages are not accepted"
INCORRECT_BEGIN_STRING = "Incorrect BeginString"


def parse_seq_num(text: str | None) -> int | None:
    """A sequence-number-like field (1-18 ASCII digits), or None if it is not one."""
    if text is None or not 0 < len(text) <= 18 or not set(text) <= _DIGITS:
        return None
    return int(text)


# BusinessRejectReason(380): Unsupported Message Type.
BUSINESS_REJECT_UNSUPPORTED = "3"
BUSINESS_REJECT_OTHER = "0"


class State(enum.Enum):
    AWAITING_LOGON = "awaiting_logon"
    ACTIVE = "active"
    LOGOUT_SENT = "logout_sent"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class SessionIdentity:
    """Who we are and who the client is, as they appear in the header."""

    sender_comp_id: str  # ours (the client's TargetCompID)
    target_comp_id: str  # theirs (the client's SenderCompID)


@dataclass(frozen=True, slots=True)
class LogonPolicy:
    """What a Logon must carry beyond the CompIDs: optional Username(553)/Password(554).

    ``password_ok`` is the result of checking the Logon at hand's Password against
    ``password_hash``, done by the caller (scrypt takes tens of milliseconds: the acceptor runs
    it off the event loop) and given with that one Logon; None means check it here."""

    username: str | None = None
    password_hash: str | None = None  # scrypt$..., see fixbridge.fix.credentials
    password_ok: bool | None = None


# --- actions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Write these bytes; ``seq`` was taken from the sender sequence. With ``stored``, keep
    that message in the outbound store (for resend) before the bytes are written."""

    data: bytes
    seq: int
    msg_type: str
    stored: OutboundMessage | None = None


@dataclass(frozen=True, slots=True)
class Persist:
    """Store the sequence numbers durably before any later ``Send`` is written."""

    next_sender_seq: int
    next_target_seq: int
    reset: bool = False  # True when both sequences restart: the outbound store starts anew


@dataclass(frozen=True, slots=True)
class Resend:
    """Replay our messages ``begin..end`` (inclusive) from the outbound store."""

    begin: int
    end: int


@dataclass(frozen=True, slots=True)
class LoggedOn:
    heartbeat_s: int
    reset: bool


@dataclass(frozen=True, slots=True)
class Disconnect:
    reason: str


@dataclass(frozen=True, slots=True)
class Note:
    """Something worth one log line (a reject sent, a gap detected, ...)."""

    text: str


@dataclass(frozen=True, slots=True)
class Regression:
    """The client has messages numbered up to ``expected - 1`` from us, but we numbered ours
    from below that: our numbers went backwards (a journal restored from a backup, or damaged).
    Our next number was ``had``; it is now ``expected``, so no number the client holds is sent
    again. With ``rejected_from``, the client logged out on that message of ours and took none
    after it: what we sent from ``rejected_from`` on is forgotten and delivered again, under
    numbers from ``expected`` (``had`` may be beyond ``expected`` by those). Say so loudly."""

    expected: int
    had: int
    evidence: str
    rejected_from: int | None = None


@dataclass(frozen=True, slots=True)
class SequenceDoubt:
    """The client asked for numbers we never sent (a ResendRequest from beyond our next
    number). Either our numbers went backwards or the client is wrong, and the request does
    not say how far the client got, so nothing moves: the session is ended and the client's
    next Logon (its NextExpectedMsgSeqNum(789), or its "MsgSeqNum too low" Logout) tells us
    where to continue. Say so loudly."""

    next_sender_seq: int
    evidence: str


Action = (
    Send | Persist | Resend | LoggedOn | Disconnect | Note | Regression | SequenceDoubt
    | EventResendRequest
)


@dataclass(slots=True)
class _Timers:
    last_sent_ns: int = 0
    last_received_ns: int = 0
    test_request_sent_ns: int | None = None
    logout_deadline_ns: int | None = None
    test_request_counter: int = 0


@dataclass(slots=True)
class FixSession:
    """One client session. Create it with the persisted sequence numbers, then feed it.

    ``window_end_ns`` is the end of the schedule window the connection belongs to (None: no
    end): at that instant the session logs out, and when the connection has ended the numbers
    restart at 1 for the next window (``connection_ended``).
    """

    identity: SessionIdentity
    next_sender_seq: int = 1
    next_target_seq: int = 1
    precision: Precision = Precision.NANOS
    state: State = State.AWAITING_LOGON
    heartbeat_s: int = 30
    policy: LogonPolicy = field(default_factory=LogonPolicy)
    window_end_ns: int | None = None
    _timers: _Timers = field(default_factory=_Timers)
    _header: bytes = b""
    _queue: dict[int, tuple[FixMessage, int] | None] = field(default_factory=dict)
    _awaiting_resend: bool = False
    _logon_sent_seq: int | None = None  # our Logon's number on this connection
    _queued_bytes: int = 0
    _resending: list[tuple[int, int]] = field(default_factory=list)
    _epoch: int = 0  # bumped when both sequences restart: replays of the old numbers stop
    _window_over: bool = False
    _last_stamp: tuple[int, Precision | None, str] = (-1, None, "")  # now_ns, precision, text

    def __post_init__(self) -> None:
        self._header = encode_fields(
            [
                (SENDER_COMP_ID, self.identity.sender_comp_id),
                (TARGET_COMP_ID, self.identity.target_comp_id),
            ]
        )

    @property
    def last_sent_ns(self) -> int:
        """When we last wrote a message on this connection (0: not yet)."""
        return self._timers.last_sent_ns

    @property
    def last_received_ns(self) -> int:
        """When the client's last message arrived (0: not yet)."""
        return self._timers.last_received_ns

    # --- building messages -----------------------------------------------------------------

    def timestamp(self, now_ns: int) -> str:
        # A batch of messages is built at one instant: format it once, not once per message.
        last = self._last_stamp
        if last[0] == now_ns and last[1] == self.precision:
            return last[2]
        stamp = format_utc_timestamp(now_ns, self.precision)
        self._last_stamp = (now_ns, self.precision, stamp)
        return stamp

    def _build(
        self,
        msg_type: str,
        body: bytes,
        now_ns: int,
        *,
        seq: int | None = None,
        extra_header: Iterable[tuple[int, str]] = (),
        store: bool = False,
    ) -> Send:
        if seq is None:
            seq = self.next_sender_seq
            self.next_sender_seq += 1
        stamp = self.timestamp(now_ns)
        if extra_header:
            header = self._header + encode_fields(
                [(MSG_SEQ_NUM, str(seq)), *extra_header, (SENDING_TIME, stamp)]
            )
        else:  # the common case, an application message: the same bytes, built directly
            header = b"%s34=%d\x0152=%s\x01" % (self._header, seq, stamp.encode("ascii"))
        self._timers.last_sent_ns = now_ns
        stored = OutboundMessage(seq, msg_type, stamp, body) if store else None
        return Send(frame(msg_type, header, body), seq, msg_type, stored)

    def _admin(self, msg_type: str, fields: Iterable[tuple[int, str]], now_ns: int) -> list[Action]:
        send = self._build(msg_type, encode_fields(fields), now_ns)
        return [self._persist(), send]

    def _persist(self, *, reset: bool = False) -> Persist:
        return Persist(self.next_sender_seq, self.next_target_seq, reset)

    def application_message(self, msg_type: str, body: bytes, now_ns: int) -> tuple[Send, str]:
        """Sequence an application message; returns it with its SendingTime for the store."""
        if self.state is not State.ACTIVE:
            raise RuntimeError("application messages are sent only on an active session")
        send = self._build(msg_type, body, now_ns)
        return send, self._last_stamp[2]

    def application_messages(
        self, messages: Sequence[tuple[str, bytes]], now_ns: int
    ) -> tuple[list[bytes], str]:
        """Sequence a batch of application messages (MsgType, body) built at one instant:
        their frames, numbered from ``next_sender_seq`` on, and their SendingTime for the
        store. The same bytes as :meth:`application_message` once per message."""
        if messages and self.state is not State.ACTIVE:
            raise RuntimeError("application messages are sent only on an active session")
        stamp = self.timestamp(now_ns)
        prefix, sending_time = self._header, stamp.encode("ascii")
        seq = self.next_sender_seq
        frames = []
        for msg_type, body in messages:
            header = b"%s34=%d\x0152=%s\x01" % (prefix, seq, sending_time)
            frames.append(frame(msg_type, header, body))
            seq += 1
        self.next_sender_seq = seq
        if frames:
            self._timers.last_sent_ns = now_ns
        return frames, stamp

    def replay(self, begin: int, end: int, stored: Iterable[OutboundMessage]) -> Replay:
        """The frames answering a ResendRequest for ``begin..end``, drawn in chunks.

        ``stored`` yields the store's messages in that range in ascending order (a lazy,
        batched reader: it is consumed once, front to back): our application messages and the
        BusinessMessageRejects we sent. Every sequence number in the range without a stored
        message (other admin messages, or messages trimmed by a reset) is covered by a
        SequenceReset-GapFill; consecutive ones share one gap fill. Replayed messages carry
        PossDupFlag=Y and OrigSendingTime.
        """
        return Replay(self, begin, end, iter(stored))

    def _gap_fill(self, seq: int, new_seq: int, now_ns: int) -> bytes:
        stamp = self.timestamp(now_ns)
        extra = [(POSS_DUP_FLAG, "Y"), (ORIG_SENDING_TIME, stamp)]
        body = encode_fields([(GAP_FILL_FLAG, "Y"), (NEW_SEQ_NO, str(new_seq))])
        return self._build("4", body, now_ns, seq=seq, extra_header=extra).data

    # --- receiving -------------------------------------------------------------------------

    def on_message(self, msg: FixMessage, now_ns: int) -> list[Action]:
        """One parsed frame from the client."""
        self._timers.last_received_ns = now_ns
        self._timers.test_request_sent_ns = None
        if self.state is State.CLOSED:
            return []
        if self.state is State.AWAITING_LOGON:
            return self._first_message(msg, now_ns)
        if msg.get(BEGIN_STRING_TAG) != BEGIN_STRING:
            return self._wrong_begin_string(msg, now_ns)
        seq = parse_seq_num(msg.get(MSG_SEQ_NUM))
        if seq is None:
            return self._logout_and_close("MsgSeqNum(34) missing or not a number", now_ns)
        msg_type = msg.msg_type
        if msg_type == "5":
            # A Logout is answered whatever its number: the session ends either way.
            return self._on_logout(msg, seq, now_ns)
        if msg_type == "A":
            return self._on_logon_in_session(msg, seq, now_ns)
        if msg_type == "4" and msg.get(GAP_FILL_FLAG) != "Y":
            # Reset mode ignores MsgSeqNum; what it skips over is dropped from the queue.
            return self._on_sequence_reset(msg, seq, now_ns) + self._drain_queue(now_ns)
        if seq < self.next_target_seq:
            return self._too_low(msg, seq, now_ns)
        if seq > self.next_target_seq:
            return self._too_high(msg, seq, now_ns)
        return self._in_sequence(msg, seq, now_ns, now_ns) + self._drain_queue(now_ns)

    def _first_message(self, msg: FixMessage, now_ns: int) -> list[Action]:
        begin = msg.get(BEGIN_STRING_TAG)
        if begin != BEGIN_STRING:  # not our protocol: nothing we could send would be understood
            return [Disconnect(f"BeginString must be {BEGIN_STRING}, got {begin!r}")]
        if msg.msg_type != "A":
            return [Disconnect(f"first message must be Logon, got MsgType {msg.msg_type!r}")]
        seq = parse_seq_num(msg.get(MSG_SEQ_NUM))
        if seq is None:
            return self._logout_and_close("MsgSeqNum(34) missing or not a number", now_ns)
        return self._on_logon(msg, seq, now_ns)

    def _wrong_begin_string(self, msg: FixMessage, now_ns: int) -> list[Action]:
        """FIXT.1.1: a Logout naming the problem, then wait for the client's Logout (whatever
        its BeginString) or LOGOUT_REPLY_WAIT_S, then disconnect."""
        if self.state is State.LOGOUT_SENT:
            if msg.msg_type == "5":
                self.state = State.CLOSED
                return [Disconnect("logout confirmed by client")]
            return []
        note = Note(f"BeginString {msg.get(BEGIN_STRING_TAG)!r} received; logging out")
        return [note, *self.logout(INCORRECT_BEGIN_STRING, now_ns, LOGOUT_REPLY_WAIT_S)]

    def _too_low(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
        """A number already used. A duplicate (PossDupFlag=Y) is checked and ignored; a
        ResendRequest is served all the same (a client repeating one it already sent must not
        lose the session for it); anything else ends the session."""
        if msg.get(POSS_DUP_FLAG) == "Y":
            return self._check(msg, seq, now_ns, now_ns) or []
        if msg.msg_type == "2":
            problem = self._check(msg, seq, now_ns, now_ns)
            if problem is not None:
                return problem
            return self._on_resend_request(msg, seq, now_ns)
        text = f"MsgSeqNum too low, expecting {self.next_target_seq} but received {seq}"
        return self._logout_and_close(text, now_ns)

    def _too_high(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
        """A gap from the client: ask for it once, keep the message until the gap is filled."""
        actions: list[Action] = []
        if msg.msg_type == "2":
            # Serve the client's request now; its own gap must not delay our replay.
            actions += self._check(msg, seq, now_ns, now_ns) or self._on_resend_request(
                msg, seq, now_ns
            )
            self._queue[seq] = None
            if self.state is not State.ACTIVE:
                return actions
        elif seq not in self._queue:
            self._queue[seq] = (msg, now_ns)
            self._queued_bytes += len(msg.raw)
        if len(self._queue) > MAX_QUEUED or self._queued_bytes > MAX_QUEUED_BYTES:
            return self._logout_and_close(
                f"more than {MAX_QUEUED} messages or {MAX_QUEUED_BYTES} bytes queued"
                " while waiting for a resend",
                now_ns,
            )
        if not self._awaiting_resend:
            self._awaiting_resend = True
            actions.append(Note(f"inbound gap: expected {self.next_target_seq}, received {seq}"))
            fields = [(BEGIN_SEQ_NO, str(self.next_target_seq)), (END_SEQ_NO, "0")]
            actions += self._admin("2", fields, now_ns)
        return actions

    def _drain_queue(self, now_ns: int) -> list[Action]:
        """Process queued messages that the sequence has caught up with, in order."""
        actions: list[Action] = []
        while self._queue and self.state is State.ACTIVE:
            seq = self.next_target_seq
            if seq not in self._queue:
                break
            queued = self._queue.pop(seq)
            if queued is None:
                self.next_target_seq = seq + 1
                actions.append(self._persist())
            else:
                msg, arrived_ns = queued
                self._queued_bytes -= len(msg.raw)
                actions += self._in_sequence(msg, seq, now_ns, arrived_ns)
        for stale in [s for s in self._queue if s < self.next_target_seq]:
            entry = self._queue.pop(stale)  # covered by a gap fill or a reset
            if entry is not None:
                self._queued_bytes -= len(entry[0].raw)
        if not self._queue:
            self._awaiting_resend = False
        return actions

    def _in_sequence(self, msg: FixMessage, seq: int, now_ns: int, arrived_ns: int) -> list[Action]:
        """A message whose MsgSeqNum is the one expected: check it, then act on it.

        ``arrived_ns`` is when it reached us (earlier than now for a message that waited in
        the queue): SendingTime accuracy is judged against that, not against now.
        """
        self.next_target_seq = seq + 1
        problem = self._check(msg, seq, now_ns, arrived_ns)
        if problem is not None:
            return problem
        msg_type = msg.msg_type
        handler = _HANDLERS.get(msg_type)
        if handler is not None:
            return handler(self, msg, seq, now_ns)
        if msg_type in APPLICATION_MSG_TYPES:
            return self._business_reject(msg, seq, now_ns)
        return self._session_reject(
            msg, seq, Problem(INVALID_MSGTYPE, 35, f"unknown MsgType {msg_type!r}"), now_ns
        )

    def _check(
        self, msg: FixMessage, seq: int, now_ns: int, arrived_ns: int
    ) -> list[Action] | None:
        """The Reject (and Logout) a message calls for before it may be acted on, or None."""
        problem = structure_problem(msg)
        if problem is not None:
            return self._session_reject(msg, seq, problem, now_ns)
        header = self._header_problem(msg, seq, now_ns, arrived_ns)
        if header is not None:
            return header
        problem = admin_field_problem(msg)
        if problem is not None:
            return self._session_reject(msg, seq, problem, now_ns)
        return None

    def _header_problem(
        self, msg: FixMessage, seq: int, now_ns: int, arrived_ns: int
    ) -> list[Action] | None:
        """CompIDs, SendingTime and OrigSendingTime as FIXT.1.1 requires, or the Reject/Logout
        they call for. The structure check has made sure 49, 56 and 52 are there."""
        ident = self.identity
        for tag, want in (
            (SENDER_COMP_ID, ident.target_comp_id),
            (TARGET_COMP_ID, ident.sender_comp_id),
        ):
            if msg.get(tag) != want:
                text = f"CompID problem: tag {tag} is {msg.get(tag)!r}, expected {want!r}"
                reject = self._session_reject(msg, seq, Problem(COMPID_PROBLEM, tag, text), now_ns)
                return reject + self._logout_and_close(text, now_ns)
        sending = msg.get(SENDING_TIME) or ""
        try:
            sent_ns = parse_utc_timestamp(sending)
        except ValueError:
            problem = Problem(INCORRECT_DATA_FORMAT, SENDING_TIME, f"SendingTime {sending!r}")
            return self._session_reject(msg, seq, problem, now_ns)
        if msg.get(POSS_DUP_FLAG) != "Y":
            if abs(arrived_ns - sent_ns) > MAX_CLOCK_SKEW_NS:
                text = f"SendingTime accuracy problem: {sending} is more than 120 s from our clock"
                problem = Problem(SENDING_TIME_ACCURACY, SENDING_TIME, text)
                return self._session_reject(msg, seq, problem, now_ns) + self._logout_and_close(
                    text, now_ns
                )
            return None
        return self._possdup_problem(msg, seq, sent_ns, now_ns)

    def _possdup_problem(
        self, msg: FixMessage, seq: int, sent_ns: int, now_ns: int
    ) -> list[Action] | None:
        """A possible duplicate needs OrigSendingTime(122), no later than its SendingTime.

        A SequenceReset-GapFill without 122 is let through: it answers our own ResendRequest,
        and refusing it would leave the gap open for good.
        """
        orig = msg.get(ORIG_SENDING_TIME)
        if orig is None:
            if msg.msg_type == "4":
                return None
            problem = Problem(REQUIRED_TAG_MISSING, ORIG_SENDING_TIME, "PossDupFlag=Y without 122")
            return self._session_reject(msg, seq, problem, now_ns)
        try:
            orig_ns = parse_utc_timestamp(orig)
        except ValueError:
            problem = Problem(INCORRECT_DATA_FORMAT, ORIG_SENDING_TIME, f"OrigSendingTime {orig!r}")
            return self._session_reject(msg, seq, problem, now_ns)
        if orig_ns > sent_ns:
            text = (
                f"SendingTime accuracy problem: OrigSendingTime(122) {orig} is later than"
                f" SendingTime(52) {msg.get(SENDING_TIME)}"
            )
            problem = Problem(SENDING_TIME_ACCURACY, ORIG_SENDING_TIME, text)
            return self._session_reject(msg, seq, problem, now_ns) + self._logout_and_close(
                text, now_ns
            )
        return None

    # --- logon -----------------------------------------------------------------------------

    def logon_refusal(self, msg: FixMessage, now_ns: int) -> str | None:
        """Why this Logon would be refused, decided before anything changes (or None)."""
        problem = logon_problem(msg, self.policy) or sending_time_problem(msg, now_ns)
        if problem is not None:
            return problem
        seq = parse_seq_num(msg.get(MSG_SEQ_NUM))
        if seq is None:
            return "MsgSeqNum(34) missing or not a number"
        reset = msg.get(RESET_SEQ_NUM_FLAG) == "Y"
        if reset and seq != 1:
            return f"ResetSeqNumFlag(141)=Y requires MsgSeqNum 1, received {seq}"
        expected_target = 1 if reset else self.next_target_seq
        if seq < expected_target:
            return f"MsgSeqNum too low, expecting {expected_target} but received {seq}"
        next_expected_text = msg.get(NEXT_EXPECTED_MSG_SEQ_NUM)
        if next_expected_text is not None:
            our_logon = 1 if reset else self.next_sender_seq
            next_expected = parse_seq_num(next_expected_text)
            if next_expected is None or not 1 <= next_expected <= our_logon:
                return (
                    f"NextExpectedMsgSeqNum(789)={next_expected_text} must be between 1 and"
                    f" the next message we send ({our_logon})"
                )
        return None

    def _on_logon(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
        problem = self.logon_refusal(msg, now_ns)
        if problem is not None:
            regression = self._regression_from_logon(msg, now_ns)
            return regression + self._logout_and_close(problem, now_ns)
        return self._accept_logon(msg, seq, now_ns)

    def _on_logon_in_session(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
        """Only a Logon with ResetSeqNumFlag(141)=Y belongs in a running session: both
        sequences restart at 1 (FIXT.1.1 sequence reset during a session)."""
        if self.state is not State.ACTIVE:
            return []
        if msg.get(RESET_SEQ_NUM_FLAG) != "Y":
            return self._logout_and_close("Logon received on an established session", now_ns)
        problem = self.logon_refusal(msg, now_ns)
        if problem is not None:
            return self._logout_and_close(problem, now_ns)
        return self._accept_logon(msg, seq, now_ns)

    def _accept_logon(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
        first = self.state is State.AWAITING_LOGON
        self.heartbeat_s = int(msg.get(HEART_BT_INT) or "0")
        reset = msg.get(RESET_SEQ_NUM_FLAG) == "Y"
        if reset:
            self._restart_sequences()
        next_expected = parse_seq_num(msg.get(NEXT_EXPECTED_MSG_SEQ_NUM))
        gap_from = self.next_target_seq if seq > self.next_target_seq else None
        self.next_target_seq = seq + 1
        self.state = State.ACTIVE
        fields = [(ENCRYPT_METHOD, "0"), (HEART_BT_INT, str(self.heartbeat_s))]
        if reset:
            fields.append((RESET_SEQ_NUM_FLAG, "Y"))
        if next_expected is not None:
            expected_from_client = gap_from if gap_from is not None else self.next_target_seq
            fields.append((NEXT_EXPECTED_MSG_SEQ_NUM, str(expected_from_client)))
        fields.append((DEFAULT_APPL_VER_ID, FIX50SP2))
        send = self._build("A", encode_fields(fields), now_ns)
        self._logon_sent_seq = send.seq
        actions: list[Action] = [self._persist(reset=reset), send]
        if first:
            actions.append(LoggedOn(self.heartbeat_s, reset))
        else:
            actions.append(Note("client Logon with ResetSeqNumFlag(141)=Y: sequences restart"))
        if next_expected is not None and next_expected < send.seq:
            # The client told us what it is missing: replay it without waiting to be asked.
            actions += self._start_resend(next_expected, send.seq - 1)
        if gap_from is not None:
            if next_expected is not None:
                # FIXT.1.1: with NextExpectedMsgSeqNum in use, no ResendRequest is sent for a
                # Logon's MsgSeqNum (our Logon's 789 tells the client what to send again). We
                # go on from the Logon's number, as without 789: what the client sends again
                # arrives as PossDup duplicates and is taken as such; a later gap is asked for.
                gap = f"expected {gap_from}, received {seq}"
                actions.append(Note(f"logon gap: {gap}; no ResendRequest (789 in use)"))
                return actions
            self._awaiting_resend = True
            actions.append(Note(f"logon gap: expected {gap_from}, received {seq}"))
            actions += self._admin("2", [(BEGIN_SEQ_NO, str(gap_from)), (END_SEQ_NO, "0")], now_ns)
        return actions

    def _regression_from_logon(self, msg: FixMessage, now_ns: int) -> list[Action]:
        """A refused Logon whose NextExpectedMsgSeqNum(789) is beyond our next number: FIXT.1.1
        ends the session (done by the caller); our numbers are moved to what the client
        expects, so its next Logon binds and no number is sent twice."""
        expected = parse_seq_num(msg.get(NEXT_EXPECTED_MSG_SEQ_NUM))
        if msg.get(RESET_SEQ_NUM_FLAG) == "Y" or expected is None:
            return []
        if logon_problem(msg, self.policy) or sending_time_problem(msg, now_ns):
            return []  # only a Logon that is right in every other way is believed
        seq = parse_seq_num(msg.get(MSG_SEQ_NUM))
        if seq is None or seq < self.next_target_seq:
            return []  # its own number is too low as well: nothing here is to be believed
        if not self.next_sender_seq < expected <= MAX_SEQ_NUM:
            return []
        had, self.next_sender_seq = self.next_sender_seq, expected
        evidence = f"client Logon has NextExpectedMsgSeqNum(789)={expected}"
        return [Regression(expected, had, evidence), self._persist()]

    def _regression_in(self, text: str) -> Regression | None:
        """A client's Logout saying our MsgSeqNum was too low (the text QuickFIX, QuickFIX/J
        and QuickFIX/n write, and fixbridge itself) for our Logon on this connection, the
        first message a client checks: our numbers are moved past what it expects. A text
        naming any other number (stale, or about another connection) moves nothing."""
        found = _TOO_LOW.search(text)
        if found is None:
            return None
        expected, received = int(found[1]), int(found[2])
        if received != self._logon_sent_seq or not received < expected <= MAX_SEQ_NUM:
            return None  # not about this connection's Logon
        had, self.next_sender_seq = self.next_sender_seq, expected
        return Regression(expected, had, f"client logged out: {text}", rejected_from=received)

    def _restart_sequences(self) -> None:
        self.next_sender_seq = 1
        self.next_target_seq = 1
        self._queue.clear()
        self._queued_bytes = 0
        self._awaiting_resend = False
        self._resending.clear()
        self._epoch += 1

    # --- schedule windows ------------------------------------------------------------------

    def start_new_window(self) -> list[Action]:
        """The stored numbers belong to an earlier schedule window: this is a new session
        instance, both sequences restart at 1 (call before the Logon is fed)."""
        self._restart_sequences()
        note = Note("new schedule window; sequence numbers reset to 1")
        return [note, self._persist(reset=True)]

    def connection_ended(self) -> list[Action]:
        """The connection is gone. If it ended with its schedule window, the session instance
        ends too: the numbers restart at 1 for the next window."""
        if not self._window_over:
            return []
        self._restart_sequences()
        note = Note("schedule window ended; sequence numbers reset to 1")
        return [note, self._persist(reset=True)]

    # --- admin message handlers ------------------------------------------------------------

    def probe(self, now_ns: int) -> list[Action]:
        """A TestRequest to learn whether the client on this connection is still there."""
        self._timers.test_request_counter += 1
        test_req_id = f"PROBE{self._timers.test_request_counter}"
        return self._admin("1", [(TEST_REQ_ID, test_req_id)], now_ns)

    def _on_heartbeat(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
        return [self._persist()]

    def _on_test_request(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
        return self._admin("0", [(TEST_REQ_ID, msg.get(TEST_REQ_ID) or "")], now_ns)

    def _on_resend_request(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
        for tag in (BEGIN_SEQ_NO, END_SEQ_NO):
            if parse_seq_num(msg.get(tag)) is None:
                problem = Problem(INCORRECT_DATA_FORMAT, tag, f"{tag}={msg.get(tag)!r}")
                return self._session_reject(msg, seq, problem, now_ns)
        begin = parse_seq_num(msg.get(BEGIN_SEQ_NO)) or 0
        end = parse_seq_num(msg.get(END_SEQ_NO)) or 0
        last_sent = self.next_sender_seq - 1
        if begin < 1 or (end != 0 and end < begin):
            problem = Problem(VALUE_INCORRECT, BEGIN_SEQ_NO, f"range {begin}..{end}")
            return self._session_reject(msg, seq, problem, now_ns)
        if end == 0 or end > last_sent:
            end = last_sent
        if begin > end:
            asked = f"ResendRequest {begin}..{msg.get(END_SEQ_NO)}"
            if begin <= self.next_sender_seq:
                return [self._persist(), Note(f"{asked} is beyond our last message {last_sent}")]
            # Numbers we never sent: FIX defines no recovery from here (the client may hold
            # numbers far above BeginSeqNo), so none is guessed and nothing moves.
            text = (
                f"{asked} asks for numbers never sent: our last MsgSeqNum is {last_sent};"
                " sequence numbers unchanged"
            )
            doubt = SequenceDoubt(self.next_sender_seq, f"client {asked}, our last {last_sent}")
            if self.state is State.LOGOUT_SENT:  # our Logout is out already: just close
                self.state = State.CLOSED
                return [doubt, self._persist(), Disconnect(text)]
            return [doubt, *self._logout_and_close(text, now_ns)]
        return [self._persist(), *self._start_resend(begin, end)]

    def _start_resend(self, begin: int, end: int) -> list[Action]:
        """Replay ``begin..end``, minus whatever the resends in progress already cover."""
        parts = [(begin, end)]
        for low, high in self._resending:
            parts = [piece for b, e in parts for piece in _subtract(b, e, low, high)]
        if not parts:
            return [Note(f"ResendRequest {begin}..{end} is already being served; ignored")]
        self._resending += parts
        return [Resend(b, e) for b, e in parts]

    def _resend_served(self, begin: int, end: int) -> None:
        """A replay wrote its last frame: a new request for that range is served again."""
        if (begin, end) in self._resending:
            self._resending.remove((begin, end))

    def resend_complete(self) -> None:
        """The edge stopped serving resends (all written, or the connection went away)."""
        self._resending.clear()

    def _on_gap_fill(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
        new_seq = parse_seq_num(msg.get(NEW_SEQ_NO))
        if new_seq is None:
            return self._new_seq_no_unusable(msg, seq, now_ns)
        if new_seq <= seq:
            problem = Problem(VALUE_INCORRECT, NEW_SEQ_NO, f"gap fill to {new_seq} from {seq}")
            return self._session_reject(msg, seq, problem, now_ns)
        self.next_target_seq = new_seq
        return [self._persist()]

    def _on_sequence_reset(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
        rejected = self._check(msg, seq, now_ns, now_ns)
        if rejected is not None:
            return rejected
        new_seq = parse_seq_num(msg.get(NEW_SEQ_NO))
        if new_seq is None:
            return self._new_seq_no_unusable(msg, seq, now_ns)
        if new_seq < self.next_target_seq:
            problem = Problem(
                VALUE_INCORRECT, NEW_SEQ_NO, f"reset to {new_seq} below {self.next_target_seq}"
            )
            return self._session_reject(msg, seq, problem, now_ns)
        self.next_target_seq = new_seq
        return [self._persist(), Note(f"client SequenceReset-Reset to {new_seq}")]

    def _new_seq_no_unusable(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
        problem = Problem(INCORRECT_DATA_FORMAT, NEW_SEQ_NO, f"NewSeqNo {msg.get(NEW_SEQ_NO)!r}")
        return self._session_reject(msg, seq, problem, now_ns)

    def _on_logout(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
        if seq == self.next_target_seq:
            self.next_target_seq = seq + 1
        regression = self._regression_in(msg.get(TEXT) or "")
        if regression is not None:
            reply: list[Action] = [self._persist()]
            if self.state is State.ACTIVE:  # test case 13b; after our own Logout, 13a: close
                moved = f"sequence numbers continue at {regression.expected}"
                reply = self._admin("5", [(TEXT, moved)], now_ns)
            self.state = State.CLOSED
            return [regression, *reply, Disconnect(regression.evidence)]
        if self.state is State.LOGOUT_SENT:
            self.state = State.CLOSED
            return [self._persist(), Disconnect("logout confirmed by client")]
        actions = self._admin("5", [], now_ns)
        self.state = State.CLOSED
        text = msg.get(TEXT)
        return [*actions, Disconnect("client logged out" + (f": {text}" if text else ""))]

    def _on_reject(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
        return [self._persist(), Note(f"client rejected our message: {msg}")]

    def _session_reject(
        self, msg: FixMessage, seq: int, problem: Problem, now_ns: int
    ) -> list[Action]:
        fields = [*_reply_routing(msg), (REF_SEQ_NUM, str(seq))]
        if problem.ref_tag is not None:
            fields.append((REF_TAG_ID, str(problem.ref_tag)))
        if msg.msg_type:
            fields.append((REF_MSG_TYPE, msg.msg_type))
        # Text(58): the reason's standard description, as QuickFIX writes it.
        fields += [(SESSION_REJECT_REASON, problem.reason), (TEXT, REJECT_TEXT[problem.reason])]
        note = Note(
            f"Reject sent for MsgSeqNum {seq} (373={problem.reason}"
            f" {REJECT_TEXT[problem.reason]}, 371={problem.ref_tag}): {problem.detail}"
        )
        return [note, *self._admin("3", fields, now_ns)]

    def _business_reject(
        self,
        msg: FixMessage,
        seq: int,
        now_ns: int,
        text: str = BUSINESS_REJECT_TEXT,
        reason: str = BUSINESS_REJECT_UNSUPPORTED,
    ) -> list[Action]:
        # The routing tags lead the stored part, so a replay carries them too.
        body = encode_fields(
            [
                *_reply_routing(msg),
                (REF_SEQ_NUM, str(seq)),
                (TEXT, text),
                (REF_MSG_TYPE, msg.msg_type),
                (BUSINESS_REJECT_REASON, reason),
            ]
        )
        send = self._build("j", body, now_ns, store=True)
        note = Note(f"BusinessMessageReject sent for MsgType {msg.msg_type!r} (MsgSeqNum {seq})")
        return [note, self._persist(), send]

    def _on_event_resend_request(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
        """The one application message a client may send (fix/history.py): checked here,
        answered by the acceptor, which reads the journal."""
        parsed = parse_request(msg, seq)
        if isinstance(parsed, str):
            return self._business_reject(msg, seq, now_ns, parsed, BUSINESS_REJECT_OTHER)
        request = dataclasses.replace(parsed, routing=tuple(_reply_routing(msg)))
        return [self._persist(), request]


    # --- leaving ---------------------------------------------------------------------------

    def _logout_and_close(self, text: str, now_ns: int) -> list[Action]:
        actions = self._admin("5", [(TEXT, text)], now_ns)
        self.state = State.CLOSED
        return [*actions, Disconnect(text)]

    def logout_now(self, text: str, now_ns: int) -> list[Action]:
        """End the session at once for a failure on our side (the journal cannot be written):
        a Logout naming ``text`` if it is logged on, then disconnect without waiting."""
        if self.state is not State.ACTIVE:
            return [Disconnect(text)]
        return self._logout_and_close(text, now_ns)

    def logout(self, text: str, now_ns: int, reply_within_s: int | None = None) -> list[Action]:
        """Start an orderly logout (shutdown, end of schedule): we wait for the client's reply,
        ``reply_within_s`` or max(HeartBtInt, 2) s, then disconnect."""
        if self.state is not State.ACTIVE:
            return [Disconnect(text)]
        actions = self._admin("5", [(TEXT, text)], now_ns)
        self.state = State.LOGOUT_SENT
        wait_s = reply_within_s if reply_within_s is not None else max(self.heartbeat_s, 2)
        self._timers.logout_deadline_ns = now_ns + _seconds(wait_s)
        return actions

    # --- time ------------------------------------------------------------------------------

    def on_tick(self, now_ns: int) -> list[Action]:
        """Heartbeats, liveness and the schedule window's end: call several times a second."""
        if self.state is State.CLOSED:
            return []
        if (
            self.window_end_ns is not None
            and now_ns >= self.window_end_ns
            and not self._window_over
        ):
            self._window_over = True
            return self.logout("end of session window", now_ns)
        if self.state is State.LOGOUT_SENT:
            deadline = self._timers.logout_deadline_ns
            if deadline is None or now_ns >= deadline:
                self.state = State.CLOSED
                return [Disconnect("no Logout reply from client")]
            return []
        if self.state is not State.ACTIVE:
            return []
        hb = _seconds(self.heartbeat_s)
        timers = self._timers
        if timers.test_request_sent_ns is not None:
            if now_ns - timers.test_request_sent_ns >= hb:
                self.state = State.CLOSED
                return [Disconnect("no answer to TestRequest: client considered gone")]
        elif now_ns - timers.last_received_ns >= hb + hb // 5:
            timers.test_request_counter += 1
            timers.test_request_sent_ns = now_ns
            test_req_id = f"TEST{timers.test_request_counter}"
            return self._admin("1", [(TEST_REQ_ID, test_req_id)], now_ns)
        if now_ns - timers.last_sent_ns >= hb:
            return self._admin("0", [], now_ns)
        return []


class Replay:
    """A resend in progress. ``take(n, now)`` returns up to n more frames, stamped ``now``.

    A replay stops (returns nothing more) once both sequences have restarted, and tells the
    session when it has written its last frame, so that range can be asked for again.
    """

    def __init__(
        self, session: FixSession, begin: int, end: int, stored: Iterator[OutboundMessage]
    ) -> None:
        self._session = session
        self._begin = begin
        self._end = end
        self._stored = stored
        self._expected = begin
        self._pending: OutboundMessage | None = None
        self._epoch = session._epoch
        self.replayed = 0
        self.gap_fills = 0

    def take(self, limit: int, now_ns: int) -> list[bytes]:
        frames: list[bytes] = []
        session = self._session
        if session._epoch != self._epoch:
            return frames
        while len(frames) < limit and self._expected <= self._end:
            msg = self._pending or next(self._stored, None)
            self._pending = None
            if msg is not None and msg.seq < self._expected:
                continue
            if msg is None or msg.seq > self._end:
                frames.append(session._gap_fill(self._expected, self._end + 1, now_ns))
                self.gap_fills += 1
                self._expected = self._end + 1
            elif msg.seq > self._expected:
                frames.append(session._gap_fill(self._expected, msg.seq, now_ns))
                self.gap_fills += 1
                self._expected = msg.seq
                self._pending = msg
            else:
                extra = [(POSS_DUP_FLAG, "Y"), (ORIG_SENDING_TIME, msg.sending_time)]
                send = session._build(
                    msg.msg_type, msg.body, now_ns, seq=msg.seq, extra_header=extra
                )
                frames.append(send.data)
                self.replayed += 1
                self._expected = msg.seq + 1
        if self._expected > self._end:
            session._resend_served(self._begin, self._end)
        return frames


def _reply_routing(msg: FixMessage) -> list[tuple[int, str]]:
    """The routing tags of a reply to ``msg``: each of its non-empty ones, reversed; a tag
    the message repeats (which earns it a Reject) is answered once, with its first value."""
    reply: dict[int, str] = {}
    for tag, value in msg.fields:
        if tag in ROUTING_REVERSED and value:
            reply.setdefault(ROUTING_REVERSED[tag], value)
    return list(reply.items())


def _subtract(begin: int, end: int, low: int, high: int) -> list[tuple[int, int]]:
    """The parts of ``begin..end`` outside ``low..high`` (all inclusive)."""
    parts = []
    if begin < low:
        parts.append((begin, min(end, low - 1)))
    if end > high:
        parts.append((max(begin, high + 1), end))
    return parts


def _seconds(s: int) -> int:
    return s * 1_000_000_000


def logon_problem(msg: FixMessage, policy: LogonPolicy) -> str | None:
    """Why a Logon is unacceptable whatever the session's state: its form or credentials."""
    if msg.msg_type != "A":
        return f"first message must be Logon, got MsgType {msg.msg_type!r}"
    if msg.get(BEGIN_STRING_TAG) != BEGIN_STRING:
        return f"BeginString must be {BEGIN_STRING}, got {msg.get(BEGIN_STRING_TAG)!r}"
    return _logon_form_problem(msg) or _credentials_problem(msg, policy)


def sending_time_problem(msg: FixMessage, now_ns: int) -> str | None:
    """Why a message's SendingTime(52) is unusable: missing, malformed or >120 s off."""
    sending = msg.get(SENDING_TIME)
    if not sending:
        return "SendingTime(52) missing"
    try:
        sent_ns = parse_utc_timestamp(sending)
    except ValueError:
        return f"SendingTime(52) is not a UTCTimestamp: {sending!r}"
    if abs(now_ns - sent_ns) > MAX_CLOCK_SKEW_NS:
        return f"SendingTime accuracy problem: {sending} is more than 120 s from our clock"
    return None


def credentials_ok(msg: FixMessage, policy: LogonPolicy) -> bool:
    """Whether a Logon carries the Username(553) and Password(554) the session requires
    (always true when it requires neither)."""
    if policy.username is None and policy.password_hash is None:
        return True
    username, password = msg.get(USERNAME) or "", msg.get(PASSWORD) or ""
    user_ok = policy.username is None or same_text(username, policy.username)
    if policy.password_hash is None:
        password_ok = True
    elif policy.password_ok is not None:
        password_ok = policy.password_ok
    else:
        password_ok = verify_password(password, policy.password_hash)
    return user_ok and password_ok


def _credentials_problem(msg: FixMessage, policy: LogonPolicy) -> str | None:
    if credentials_ok(msg, policy):
        return None
    return "invalid Username(553) or Password(554)"


def _logon_form_problem(msg: FixMessage) -> str | None:
    """Why a Logon's fields are unacceptable, or None."""
    appl = msg.get(DEFAULT_APPL_VER_ID)
    if appl != FIX50SP2:
        return f"DefaultApplVerID(1137) must be 9 (FIX50SP2), got {appl!r}"
    hb_text = msg.get(HEART_BT_INT)
    hb = parse_seq_num(hb_text)
    if hb is None:
        return f"HeartBtInt(108) missing or not a number: {hb_text!r}"
    if not MIN_HEARTBEAT_S <= hb <= MAX_HEARTBEAT_S:
        return f"HeartBtInt(108)={hb} outside {MIN_HEARTBEAT_S}..{MAX_HEARTBEAT_S} seconds"
    encrypt = msg.get(ENCRYPT_METHOD)
    if encrypt not in (None, "0"):
        return f"EncryptMethod(98) must be 0, got {encrypt!r}"
    return None


_HANDLERS = {
    "0": FixSession._on_heartbeat,
    "1": FixSession._on_test_request,
    "2": FixSession._on_resend_request,
    "3": FixSession._on_reject,
    "4": FixSession._on_gap_fill,
    "5": FixSession._on_logout,
    EVENT_RESEND_REQUEST: FixSession._on_event_resend_request,
}
