"""The FIXT.1.1 acceptor session as a pure state machine: messages and time in, actions out.

Rules this module keeps:
- It never touches a socket, a database, a clock or a timer. The caller passes each parsed
  frame and the current time (integer nanoseconds) in, and carries out the returned actions in
  order: persist the sequence numbers (``Persist``), write bytes (``Send``), serve a resend from
  the outbound store (``Resend``), start delivering application messages (``LoggedOn``), close
  (``Disconnect``).
- Sequence numbers live here. Every message we send takes ``next_sender_seq``; the caller must
  persist the new numbers before the bytes reach the socket, so a crash can never reuse one.
- We are a read-only drop copy: a client's application message changes nothing and is answered
  with BusinessMessageReject (380=3).
- Administrative messages are answered per FIXT.1.1: TestRequest -> Heartbeat with the same
  TestReqID, ResendRequest -> replay with PossDupFlag=Y / GapFill, SequenceReset (both modes),
  Logout -> Logout then close.

States: AWAITING_LOGON -> ACTIVE -> LOGOUT_SENT -> CLOSED. The first frame must be a Logon for
this session's CompID pair (the acceptor has already matched it); anything else closes.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from fixbridge.fix.codec import BEGIN_STRING, FixMessage, encode_fields, frame
from fixbridge.fix.credentials import same_text, verify_password
from fixbridge.fix.msgtypes import APPLICATION_MSG_TYPES
from fixbridge.normalize.timestamps import Precision, format_utc_timestamp, parse_utc_timestamp

# Standard header and admin tags used here.
BEGIN_SEQ_NO, END_SEQ_NO, MSG_SEQ_NUM, NEW_SEQ_NO = 7, 16, 34, 36
POSS_DUP_FLAG, REF_SEQ_NUM, SENDER_COMP_ID, SENDING_TIME, TARGET_COMP_ID = 43, 45, 49, 52, 56
TEXT, ENCRYPT_METHOD, HEART_BT_INT, TEST_REQ_ID = 58, 98, 108, 112
ORIG_SENDING_TIME, GAP_FILL_FLAG, RESET_SEQ_NUM_FLAG = 122, 123, 141
REF_TAG_ID, REF_MSG_TYPE, SESSION_REJECT_REASON, BUSINESS_REJECT_REASON = 371, 372, 373, 380
NEXT_EXPECTED_MSG_SEQ_NUM, DEFAULT_APPL_VER_ID = 789, 1137
USERNAME, PASSWORD = 553, 554

FIX50SP2 = "9"
MIN_HEARTBEAT_S, MAX_HEARTBEAT_S = 1, 3600
MAX_CLOCK_SKEW_NS = 120 * 1_000_000_000
MAX_QUEUED = 10_000
MAX_QUEUED_BYTES = 8 * 1024 * 1024
MAX_SEQ_NUM = 10**18 - 1  # fits SQLite's 64-bit integers with room to spare
_DIGITS = frozenset("0123456789")


def parse_seq_num(text: str | None) -> int | None:
    """A sequence-number-like field (1-18 ASCII digits), or None if it is not one."""
    if text is None or not 0 < len(text) <= 18 or not set(text) <= _DIGITS:
        return None
    return int(text)


# SessionRejectReason(373) values we use.
REJECT_REQUIRED_TAG_MISSING = "1"
REJECT_VALUE_INCORRECT = "5"
REJECT_INCORRECT_DATA_FORMAT = "6"
REJECT_COMPID_PROBLEM = "9"
REJECT_SENDING_TIME_ACCURACY = "10"
REJECT_INVALID_MSGTYPE = "11"
# BusinessRejectReason(380): Unsupported Message Type.
BUSINESS_REJECT_UNSUPPORTED = "3"


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
    """What a Logon must carry beyond the CompIDs: optional Username(553)/Password(554)."""

    username: str | None = None
    password_hash: str | None = None  # scrypt$..., see fixbridge.fix.credentials


# --- actions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Write these bytes; ``seq`` was taken from the sender sequence."""

    data: bytes
    seq: int
    msg_type: str


@dataclass(frozen=True, slots=True)
class Persist:
    """Store the sequence numbers durably before any later ``Send`` is written."""

    next_sender_seq: int
    next_target_seq: int
    reset: bool = False  # True after a ResetSeqNumFlag logon: the outbound store starts anew


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


Action = Send | Persist | Resend | LoggedOn | Disconnect | Note


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """An application message as kept in the outbound store, for replay."""

    seq: int
    msg_type: str
    sending_time: str
    body: bytes


@dataclass(slots=True)
class _Timers:
    last_sent_ns: int = 0
    last_received_ns: int = 0
    test_request_sent_ns: int | None = None
    logout_sent_ns: int | None = None
    test_request_counter: int = 0


@dataclass(slots=True)
class FixSession:
    """One client session. Create it with the persisted sequence numbers, then feed it."""

    identity: SessionIdentity
    next_sender_seq: int = 1
    next_target_seq: int = 1
    precision: Precision = Precision.NANOS
    state: State = State.AWAITING_LOGON
    heartbeat_s: int = 30
    policy: LogonPolicy = field(default_factory=LogonPolicy)
    _timers: _Timers = field(default_factory=_Timers)
    _header: bytes = b""
    _queue: dict[int, tuple[FixMessage, int] | None] = field(default_factory=dict)
    _awaiting_resend: bool = False
    _queued_bytes: int = 0
    _resending: list[tuple[int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._header = encode_fields(
            [
                (SENDER_COMP_ID, self.identity.sender_comp_id),
                (TARGET_COMP_ID, self.identity.target_comp_id),
            ]
        )

    # --- building messages -----------------------------------------------------------------

    def timestamp(self, now_ns: int) -> str:
        return format_utc_timestamp(now_ns, self.precision)

    def _build(
        self,
        msg_type: str,
        body: bytes,
        now_ns: int,
        *,
        seq: int | None = None,
        extra_header: Iterable[tuple[int, str]] = (),
    ) -> Send:
        if seq is None:
            seq = self.next_sender_seq
            self.next_sender_seq += 1
        header = self._header + encode_fields(
            [(MSG_SEQ_NUM, str(seq)), *extra_header, (SENDING_TIME, self.timestamp(now_ns))]
        )
        self._timers.last_sent_ns = now_ns
        return Send(frame(msg_type, header, body), seq, msg_type)

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
        return send, self.timestamp(now_ns)

    def replay(self, begin: int, end: int, stored: Iterable[StoredMessage]) -> Replay:
        """The frames answering a ResendRequest for ``begin..end``, drawn in chunks.

        ``stored`` yields the store's application messages in that range in ascending order
        (a lazy, batched reader: it is consumed once, front to back). Every sequence number in
        the range without a stored application message (admin messages, or messages trimmed by
        a reset) is covered by a SequenceReset-GapFill; consecutive ones share one gap fill.
        Replayed messages carry PossDupFlag=Y and OrigSendingTime.
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
        if msg.get(8) != BEGIN_STRING:
            return self._logout_and_close(
                f"BeginString must be FIXT.1.1, got {msg.get(8)!r}", now_ns
            )
        seq = parse_seq_num(msg.get(MSG_SEQ_NUM))
        if seq is None:
            return self._logout_and_close("MsgSeqNum(34) missing or not a number", now_ns)
        msg_type = msg.msg_type
        if self.state is State.AWAITING_LOGON:
            if msg_type != "A":
                return [Disconnect(f"first message must be Logon, got MsgType {msg_type!r}")]
            return self._on_logon(msg, seq, now_ns)
        if msg_type == "A":
            return self._logout_and_close("Logon received on an established session", now_ns)
        if msg_type == "4" and msg.get(GAP_FILL_FLAG) != "Y":
            # Reset mode ignores MsgSeqNum; what it skips over is dropped from the queue.
            return self._on_sequence_reset(msg, seq, now_ns) + self._drain_queue(now_ns)
        if seq < self.next_target_seq:
            if msg.get(POSS_DUP_FLAG) == "Y":
                return []
            text = f"MsgSeqNum too low, expecting {self.next_target_seq} but received {seq}"
            return self._logout_and_close(text, now_ns)
        if seq > self.next_target_seq:
            return self._too_high(msg, seq, now_ns)
        return self._in_sequence(msg, seq, now_ns, now_ns) + self._drain_queue(now_ns)

    def _too_high(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
        """A gap from the client: ask for it once, keep the message until the gap is filled."""
        msg_type = msg.msg_type
        if msg_type == "5":
            return self._on_logout(msg, seq, now_ns)
        actions: list[Action] = []
        if msg_type == "2":
            # Serve the client's request now; its own gap must not delay our replay.
            actions += self._on_resend_request(msg, seq, now_ns)
            self._queue[seq] = None
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
        """A message whose MsgSeqNum is the one expected: check its header, then act on it.

        ``arrived_ns`` is when it reached us (earlier than now for a message that waited in
        the queue): SendingTime accuracy is judged against that, not against now.
        """
        self.next_target_seq = seq + 1
        problem = self._header_problem(msg, seq, now_ns, arrived_ns)
        if problem is not None:
            return problem
        msg_type = msg.msg_type
        handler = _HANDLERS.get(msg_type)
        if handler is not None:
            return handler(self, msg, seq, now_ns)
        if msg_type in APPLICATION_MSG_TYPES:
            return self._business_reject(msg, seq, now_ns)
        return self._session_reject(msg, seq, REJECT_INVALID_MSGTYPE, 35, now_ns)

    def _header_problem(
        self, msg: FixMessage, seq: int, now_ns: int, arrived_ns: int
    ) -> list[Action] | None:
        """CompIDs and SendingTime as FIXT.1.1 requires, or the Reject/Logout they call for."""
        ident = self.identity
        for tag, want in (
            (SENDER_COMP_ID, ident.target_comp_id),
            (TARGET_COMP_ID, ident.sender_comp_id),
        ):
            if msg.get(tag) != want:
                reject = self._session_reject(msg, seq, REJECT_COMPID_PROBLEM, tag, now_ns)
                text = f"CompID problem: tag {tag} is {msg.get(tag)!r}, expected {want!r}"
                return reject + self._logout_and_close(text, now_ns)
        sending = msg.get(SENDING_TIME)
        if sending is None:
            return self._session_reject(msg, seq, REJECT_REQUIRED_TAG_MISSING, SENDING_TIME, now_ns)
        try:
            sent_ns = parse_utc_timestamp(sending)
        except ValueError:
            return self._session_reject(
                msg, seq, REJECT_INCORRECT_DATA_FORMAT, SENDING_TIME, now_ns
            )
        if msg.get(POSS_DUP_FLAG) != "Y" and abs(arrived_ns - sent_ns) > MAX_CLOCK_SKEW_NS:
            reject = self._session_reject(
                msg, seq, REJECT_SENDING_TIME_ACCURACY, SENDING_TIME, now_ns
            )
            text = f"SendingTime accuracy problem: {sending} is more than 120 s from our clock"
            return reject + self._logout_and_close(text, now_ns)
        return None

    def logon_refusal(self, msg: FixMessage) -> str | None:
        """Why this Logon would be refused, decided before anything changes (or None)."""
        problem = logon_problem(msg, self.policy)
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
        problem = self.logon_refusal(msg)
        if problem is not None:
            return self._logout_and_close(problem, now_ns)
        self.heartbeat_s = int(msg.get(HEART_BT_INT) or "0")
        reset = msg.get(RESET_SEQ_NUM_FLAG) == "Y"
        if reset:
            self.next_sender_seq = 1
            self.next_target_seq = 1
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
        actions: list[Action] = [
            self._persist(reset=reset),
            send,
            LoggedOn(self.heartbeat_s, reset),
        ]
        if next_expected is not None and next_expected < send.seq:
            # The client told us what it is missing: replay it without waiting to be asked.
            actions += self._start_resend(next_expected, send.seq - 1)
        if gap_from is not None:
            actions.append(Note(f"logon gap: expected {gap_from}, received {seq}"))
            self._awaiting_resend = True
            actions += self._admin("2", [(BEGIN_SEQ_NO, str(gap_from)), (END_SEQ_NO, "0")], now_ns)
        return actions

    def probe(self, now_ns: int) -> list[Action]:
        """A TestRequest to learn whether the client on this connection is still there."""
        self._timers.test_request_counter += 1
        test_req_id = f"PROBE{self._timers.test_request_counter}"
        return self._admin("1", [(TEST_REQ_ID, test_req_id)], now_ns)

    def _on_heartbeat(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
        return [self._persist()]

    def _on_test_request(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
        test_req_id = msg.get(TEST_REQ_ID)
        if test_req_id is None:
            return self._session_reject(msg, seq, REJECT_REQUIRED_TAG_MISSING, TEST_REQ_ID, now_ns)
        return self._admin("0", [(TEST_REQ_ID, test_req_id)], now_ns)

    def _on_resend_request(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
        begin_text, end_text = msg.get(BEGIN_SEQ_NO), msg.get(END_SEQ_NO)
        for tag, text in ((BEGIN_SEQ_NO, begin_text), (END_SEQ_NO, end_text)):
            if text is None:
                return self._session_reject(msg, seq, REJECT_REQUIRED_TAG_MISSING, tag, now_ns)
            if parse_seq_num(text) is None:
                return self._session_reject(msg, seq, REJECT_INCORRECT_DATA_FORMAT, tag, now_ns)
        begin, end = parse_seq_num(begin_text) or 0, parse_seq_num(end_text) or 0
        last_sent = self.next_sender_seq - 1
        if begin < 1 or (end != 0 and end < begin):
            return self._session_reject(msg, seq, REJECT_VALUE_INCORRECT, BEGIN_SEQ_NO, now_ns)
        if end == 0 or end > last_sent:
            end = last_sent
        actions: list[Action] = [self._persist()]
        if begin > end:
            beyond = f"ResendRequest {begin}..{end_text} is beyond our last message {last_sent}"
            return [*actions, Note(beyond)]
        return actions + self._start_resend(begin, end)

    def _start_resend(self, begin: int, end: int) -> list[Action]:
        """Replay ``begin..end``, minus whatever the resends in progress already cover."""
        parts = [(begin, end)]
        for low, high in self._resending:
            parts = [piece for b, e in parts for piece in _subtract(b, e, low, high)]
        if not parts:
            return [Note(f"ResendRequest {begin}..{end} is already being served; ignored")]
        self._resending += parts
        return [Resend(b, e) for b, e in parts]

    def resend_complete(self) -> None:
        """The edge finished writing every frame of the resends it was given."""
        self._resending.clear()

    def _on_gap_fill(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
        new_seq = parse_seq_num(msg.get(NEW_SEQ_NO))
        if new_seq is None:
            return self._new_seq_no_missing(msg, seq, now_ns)
        if new_seq <= seq:
            return self._session_reject(msg, seq, REJECT_VALUE_INCORRECT, NEW_SEQ_NO, now_ns)
        self.next_target_seq = new_seq
        return [self._persist()]

    def _on_sequence_reset(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
        new_seq = parse_seq_num(msg.get(NEW_SEQ_NO))
        if new_seq is None:
            return self._new_seq_no_missing(msg, seq, now_ns)
        if new_seq < self.next_target_seq:
            return self._session_reject(msg, seq, REJECT_VALUE_INCORRECT, NEW_SEQ_NO, now_ns)
        self.next_target_seq = new_seq
        return [self._persist(), Note(f"client SequenceReset-Reset to {new_seq}")]

    def _new_seq_no_missing(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
        reason = (
            REJECT_REQUIRED_TAG_MISSING
            if msg.get(NEW_SEQ_NO) is None
            else REJECT_INCORRECT_DATA_FORMAT
        )
        return self._session_reject(msg, seq, reason, NEW_SEQ_NO, now_ns)

    def _on_logout(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
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
        self, msg: FixMessage, seq: int, reason: str, ref_tag: int | None, now_ns: int
    ) -> list[Action]:
        fields = [(REF_SEQ_NUM, str(seq))]
        if ref_tag is not None:
            fields.append((REF_TAG_ID, str(ref_tag)))
        fields += [(REF_MSG_TYPE, msg.msg_type), (SESSION_REJECT_REASON, reason)]
        note = Note(f"Reject sent for MsgSeqNum {seq} (373={reason}, 371={ref_tag})")
        return [note, *self._admin("3", fields, now_ns)]

    def _business_reject(self, msg: FixMessage, seq: int, now_ns: int) -> list[Action]:
        fields = [
            (REF_SEQ_NUM, str(seq)),
            (TEXT, "read-only drop copy session: application messages are not accepted"),
            (REF_MSG_TYPE, msg.msg_type),
            (BUSINESS_REJECT_REASON, BUSINESS_REJECT_UNSUPPORTED),
        ]
        note = Note(f"BusinessMessageReject sent for MsgType {msg.msg_type!r} (MsgSeqNum {seq})")
        return [note, *self._admin("j", fields, now_ns)]

    # --- leaving ---------------------------------------------------------------------------

    def _logout_and_close(self, text: str, now_ns: int) -> list[Action]:
        actions = self._admin("5", [(TEXT, text)], now_ns)
        self.state = State.CLOSED
        return [*actions, Disconnect(text)]

    def logout(self, text: str, now_ns: int) -> list[Action]:
        """Start an orderly logout (shutdown, end of schedule): we wait for the client's reply."""
        if self.state is not State.ACTIVE:
            return [Disconnect(text)]
        actions = self._admin("5", [(TEXT, text)], now_ns)
        self.state = State.LOGOUT_SENT
        self._timers.logout_sent_ns = now_ns
        return actions

    # --- time ------------------------------------------------------------------------------

    def on_tick(self, now_ns: int) -> list[Action]:
        """Heartbeats and liveness: call at least once a second."""
        if self.state is State.LOGOUT_SENT:
            sent = self._timers.logout_sent_ns
            if sent is None or now_ns - sent >= _seconds(max(self.heartbeat_s, 2)):
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
    """A resend in progress. ``take(n, now)`` returns up to n more frames, stamped ``now``."""

    def __init__(
        self, session: FixSession, begin: int, end: int, stored: Iterator[StoredMessage]
    ) -> None:
        self._session = session
        self._end = end
        self._stored = stored
        self._expected = begin
        self._pending: StoredMessage | None = None
        self.replayed = 0
        self.gap_fills = 0

    def take(self, limit: int, now_ns: int) -> list[bytes]:
        frames: list[bytes] = []
        session = self._session
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
        return frames


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
    return _logon_form_problem(msg) or _credentials_problem(msg, policy)


def _credentials_problem(msg: FixMessage, policy: LogonPolicy) -> str | None:
    if policy.username is None and policy.password_hash is None:
        return None
    username, password = msg.get(USERNAME) or "", msg.get(PASSWORD) or ""
    user_ok = policy.username is None or same_text(username, policy.username)
    password_ok = policy.password_hash is None or verify_password(password, policy.password_hash)
    if user_ok and password_ok:
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
}
