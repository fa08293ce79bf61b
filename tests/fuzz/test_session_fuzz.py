"""Property-based fuzzing of the FIXT.1.1 session core: random conversations of plausible,
malformed and damaged client messages, silences and reconnections, against an injected clock.

The test plays the acceptor's part the way fix/acceptor.py does (persist, write, replay from
the outbound store, reconnect with the persisted numbers) and checks what FIXT.1.1 requires of
every conversation, whatever the client sends:

- nothing raises;
- every frame we write is well formed (tests/fuzz/wire.py, from the bytes alone), carries our
  CompIDs and the sequence number the action names, and passes QuickFIX's own validator with
  its stock FIXT11/FIX50SP2 dictionaries;
- our numbers go up by one per message and are persisted before the message is written; a
  number is never used twice within a session instance (only a reset, or a client proving
  our numbers went backwards, moves them otherwise);
- the client's expected number never goes backwards except on a reset;
- a replay covers exactly the range asked for, in order: each stored message again, byte for
  byte after its header, with PossDupFlag=Y and its first SendingTime as OrigSendingTime, and
  every other number by a SequenceReset-GapFill that never covers a stored message;
- after a Disconnect nothing more is written on that connection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from fixbridge.fix.codec import FixMessage, FrameParser, encode_fields, frame
from fixbridge.fix.session import (
    Action,
    Disconnect,
    FixSession,
    LoggedOn,
    LogonPolicy,
    Note,
    Persist,
    Regression,
    Resend,
    Send,
    SequenceDoubt,
    SessionIdentity,
    State,
)
from fixbridge.journal.records import OutboundMessage
from fixbridge.normalize.timestamps import Precision, format_utc_timestamp, parse_utc_timestamp
from tests.fuzz.wire import damaged, frame_problem, fuzz_examples, values

BRIDGE, CLIENT = "FIXBRIDGE", "BACKOFFICE"
T0 = 1_700_000_000_000_000_000
S = 1_000_000_000
NEWS = encode_fields([(148, "drop copy")])  # an application message QuickFIX accepts


@dataclass(frozen=True)
class Rel:
    """A number relative to the conversation's state when the step runs: ``ours`` is our
    next sender number, ``theirs`` the number we expect from the client."""

    base: str
    delta: int

    def resolve(self, session: FixSession) -> str:
        base = session.next_sender_seq if self.base == "ours" else session.next_target_seq
        return str(base + self.delta)


Value = str | Rel | tuple[str | Rel, ...]


def _text(value: Value, session: FixSession) -> str:
    if isinstance(value, Rel):
        return value.resolve(session)
    if isinstance(value, tuple):
        return "".join(_text(part, session) for part in value)
    return value


@dataclass(frozen=True)
class Say:
    """A client message: its MsgSeqNum, header changes and body are resolved when sent."""

    msg_type: str
    seq: Value
    body: tuple[tuple[int, Value], ...]
    poss_dup: str  # "", "with_orig", "no_orig", "orig_later"
    skew_s: int
    header_edit: tuple[str, int, str] | None
    damage: Any = None  # a strategy draw: bytes -> bytes, applied to the encoded frame


@dataclass(frozen=True)
class Wait:
    seconds: int


@dataclass(frozen=True)
class Deliver:
    count: int


@dataclass(frozen=True)
class Reconnect:
    logon: Say | None


Step = Say | Wait | Deliver | Reconnect

# --- strategies ------------------------------------------------------------------------------

small = st.integers(-6, 3)
ours = small.map(lambda d: Rel("ours", d))
theirs = small.map(lambda d: Rel("theirs", d))
odd_values = st.one_of(
    st.sampled_from(["", "Y", "N", "0", "-1", "9", "7", "01", "1" * 19, "20231114-22:13:20"]),
    values,
)
any_value: st.SearchStrategy[Value] = st.one_of(ours, theirs, odd_values)
TAGS_OF_INTEREST = [0, -1, 7, 16, 34, 36, 43, 45, 49, 52, 56, 58, 97, 98, 108, 112, 115, 122]
TAGS_OF_INTEREST += [123, 128, 141, 371, 372, 373, 383, 553, 554, 789, 1128, 1137, 99999]
extra_fields = st.lists(st.tuples(st.sampled_from(TAGS_OF_INTEREST), any_value), max_size=2)
too_low_text = st.tuples(ours, ours).map(
    lambda p: ("MsgSeqNum too low, expecting ", p[0], " but received ", p[1])
)


def _maybe(tag: int, value: st.SearchStrategy[Value]) -> st.SearchStrategy[list[Any]]:
    return st.one_of(st.just([]), value.map(lambda v: [(tag, v)]))


BODIES: dict[str, st.SearchStrategy[list[Any]]] = {
    "0": _maybe(112, odd_values),
    "1": _maybe(112, odd_values),
    "2": st.tuples(st.one_of(ours, odd_values), st.one_of(st.just("0"), ours, odd_values)).map(
        lambda p: [(7, p[0]), (16, p[1])]
    ),
    "3": st.tuples(ours, _maybe(373, odd_values)).map(lambda p: [(45, p[0]), *p[1]]),
    "4": st.tuples(_maybe(123, st.sampled_from(["Y", "N"])), st.one_of(theirs, odd_values)).map(
        lambda p: [*p[0], (36, p[1])]
    ),
    "5": _maybe(58, st.one_of(too_low_text, values)),
    "A": st.tuples(
        st.sampled_from(["30", "1", "0", "5"]),
        _maybe(141, st.just("Y")),
        _maybe(789, st.one_of(ours, odd_values)),
        st.sampled_from(["9", "9", "7"]),
        _maybe(553, st.sampled_from(["ops", "someone"])),
    ).map(lambda p: [(98, "0"), (108, p[0]), *p[1], *p[2], (1137, p[3]), *p[4]]),
}
OTHER_TYPES = ["D", "8", "j", "AE", "ZZ", "B"]


@st.composite
def says(draw: st.DrawFn) -> Say:
    msg_type = draw(st.sampled_from([*BODIES, "2", "2", "4", "5", *OTHER_TYPES]))
    body = draw(BODIES.get(msg_type, st.lists(st.tuples(st.integers(11, 9999), values))))
    if draw(st.integers(0, 2)) < 2:  # most are in sequence and well formed, as a client's are
        seq: Value = "1" if (141, "Y") in body else Rel("theirs", 0)  # a reset starts at 1
        return Say(msg_type, seq, tuple(body), "", 0, None)
    body = body + draw(extra_fields) if draw(st.integers(0, 4)) == 0 else body
    if body and draw(st.integers(0, 5)) == 0:
        del body[draw(st.integers(0, len(body) - 1))]
    seq = draw(
        st.one_of(
            st.just(Rel("theirs", 0)),
            st.just(Rel("theirs", 0)),
            theirs,
            st.sampled_from(["1", "0", "x", "", "1" * 19]),
        )
    )
    edit = draw(
        st.one_of(
            st.none(),
            st.none(),
            st.tuples(
                st.sampled_from(["drop", "set", "append"]),
                st.sampled_from([49, 56, 52, 34, 43, 97, 122, 115]),
                values,
            ),
        )
    )
    return Say(
        msg_type,
        seq,
        tuple(body),
        draw(st.sampled_from(["", "", "", "with_orig", "no_orig", "orig_later"])),
        draw(st.sampled_from([0, 0, 0, 1, -1, 121, -300])),
        edit,
        draw(st.one_of(st.none(), st.none(), st.none(), st.data())),
    )


policies = st.sampled_from([LogonPolicy(), LogonPolicy(username="ops")])
# Well-formed Logons; with NextExpectedMsgSeqNum(789) in step with ours, behind it (a replay
# at logon) or ahead of it (our numbers went backwards).
logons = st.one_of(
    st.none(),
    st.one_of(st.just(()), st.integers(-4, 2).map(lambda d: ((789, Rel("ours", d)),))).map(
        lambda extra: Say(
            "A",
            Rel("theirs", 0),
            ((98, "0"), (108, "30"), *extra, (1137, "9"), (553, "ops")),
            "",
            0,
            None,
        )
    ),
)

steps = st.lists(
    st.one_of(
        says(),
        says(),
        says(),
        st.integers(0, 100).map(Wait),
        st.integers(1, 4).map(Deliver),
        logons.map(Reconnect),
    ),
    max_size=30,
)

# --- QuickFIX's validator over every frame we write -----------------------------------------


def _quickfix_validator() -> Callable[[bytes], None]:
    quickfix: Any = pytest.importorskip("quickfix")
    from tests.quickfix_validation import stock_dir_or_skip

    stock = stock_dir_or_skip("1.16.0")
    transport = quickfix.DataDictionary(str(stock / "FIXT11.xml"))
    application = quickfix.DataDictionary(str(stock / "FIX50SP2.xml"))
    for dictionary in (transport, application):
        dictionary.checkFieldsOutOfOrder(True)
        dictionary.checkFieldsHaveValues(True)
        dictionary.checkUserDefinedFields(True)

    def validate(raw: bytes) -> None:
        # As a QuickFIX session does: an admin message against FIXT11 alone.
        message = quickfix.Message(raw.decode("utf-8"), transport, application, True)
        body = transport if message.isAdmin() else application
        quickfix.DataDictionary.validate(message, transport, body)

    return validate


# --- the acceptor's part, with the checks ----------------------------------------------------


@dataclass
class Conversation:
    session: FixSession
    validate: Callable[[bytes], None]
    now: int = T0
    store: dict[int, OutboundMessage] = field(default_factory=dict)
    used: set[int] = field(default_factory=set)  # numbers written in this session instance
    next_seq: int | None = None  # the number our next new message must carry (None: 1)
    persisted: tuple[int, int] = (1, 1)
    connected: bool = True
    moved_back: bool = False  # a Regression allows the next Persist to lower our number

    @classmethod
    def start(cls, next_sender: int, next_target: int, policy: LogonPolicy, validate: Any) -> Any:
        session = FixSession(SessionIdentity(BRIDGE, CLIENT), next_sender, next_target)
        session.policy = policy
        return cls(session, validate, next_seq=next_sender, persisted=(next_sender, next_target))

    # writing

    def check_written(self, data: bytes, seq: int, msg_type: str) -> FixMessage:
        assert frame_problem(data) is None, (frame_problem(data), data)
        (parsed,) = FrameParser().feed(data)
        assert isinstance(parsed, FixMessage)
        assert parsed.get(8) == "FIXT.1.1" and parsed.msg_type == msg_type
        assert (parsed.get(49), parsed.get(56), parsed.get(34)) == (BRIDGE, CLIENT, str(seq))
        parse_utc_timestamp(parsed.get(52) or "")
        self.validate(data)
        return parsed

    def new_message(self, send: Send) -> None:
        assert self.connected, "written after the connection ended"
        assert send.seq == (self.next_seq or 1), (send.seq, self.next_seq)
        assert send.seq not in self.used, f"number {send.seq} used twice"
        self.check_written(send.data, send.seq, send.msg_type)
        event(f"wrote MsgType {send.msg_type}")
        self.used.add(send.seq)
        self.next_seq = send.seq + 1
        if send.stored is not None:
            assert send.data[:-7].endswith(send.stored.body)
            self.store[send.seq] = send.stored

    def carry_out(self, actions: list[Action]) -> None:
        target_before = self.session.next_target_seq
        reset = False
        for action in actions:
            assert self.connected, f"{action} after the connection ended"
            if isinstance(action, Persist):
                sender, target = action.next_sender_seq, action.next_target_seq
                if action.reset:
                    event("sequences reset")
                    reset = True
                    self.store.clear()
                    self.used.clear()
                    self.next_seq = None
                elif not self.moved_back:
                    assert sender >= self.persisted[0], (sender, self.persisted)
                self.moved_back = False
                self.persisted = (sender, target)
            elif isinstance(action, Send):
                assert action.seq < self.persisted[0], "written before its number was persisted"
                self.new_message(action)
            elif isinstance(action, Regression):
                event("our numbers went backwards")
                assert action.had == self.next_seq
                if action.rejected_from is not None:  # the client took none from there on
                    for seq in [s for s in self.used if s >= action.rejected_from]:
                        self.used.discard(seq)
                        self.store.pop(seq, None)
                self.moved_back = action.expected < action.had
                self.next_seq = action.expected
            elif isinstance(action, SequenceDoubt):
                event("asked for numbers never sent")
                assert action.next_sender_seq == self.next_seq  # nothing moves
            elif isinstance(action, Resend):
                event("replay served")
                self.replay(action.begin, action.end)
            elif isinstance(action, Disconnect):
                self.connected = False
            elif isinstance(action, LoggedOn):
                event("logged on")
            else:
                assert isinstance(action, Note)
        if not reset:
            assert self.session.next_target_seq >= target_before

    def replay(self, begin: int, end: int) -> None:
        assert 1 <= begin <= end < self.session.next_sender_seq
        stored = [self.store[s] for s in sorted(self.store) if begin <= s <= end]
        replay = self.session.replay(begin, end, stored)
        covered = begin
        while frames := replay.take(3, self.now):
            for data in frames:
                (parsed,) = FrameParser().feed(data)
                assert isinstance(parsed, FixMessage)
                self.check_written(data, covered, parsed.msg_type)
                assert parsed.get(43) == "Y" and parsed.get(122) is not None
                # test case 2f: OrigSendingTime later than SendingTime is rejected by clients
                orig, sending = parsed.get(122) or "", parsed.get(52) or ""
                assert parse_utc_timestamp(orig) <= parse_utc_timestamp(sending), (orig, sending)
                if parsed.msg_type == "4" and parsed.get(123) == "Y":
                    new_seq = int(parsed.get(36) or "0")
                    assert covered < new_seq <= end + 1
                    assert not [s for s in self.store if covered <= s < new_seq]
                    covered = new_seq
                else:
                    original = self.store[covered]
                    assert parsed.msg_type == original.msg_type
                    assert parsed.get(122) == original.sending_time
                    assert data[:-7].endswith(original.body)
                    covered += 1
        assert covered == end + 1

    # the client

    def say(self, step: Say) -> None:
        if not self.connected:
            return
        session = self.session
        stamp_ns = self.now + step.skew_s * S
        stamp = format_utc_timestamp(stamp_ns, Precision.MILLIS)
        head: list[tuple[int, str]] = [(49, CLIENT), (56, BRIDGE), (34, _text(step.seq, session))]
        if step.poss_dup:
            head.append((43, "Y"))
            if step.poss_dup != "no_orig":
                later = 5 * S if step.poss_dup == "orig_later" else -5 * S
                head.append((122, format_utc_timestamp(stamp_ns + later, Precision.MILLIS)))
        head.append((52, stamp))
        if step.header_edit is not None:
            how, tag, value = step.header_edit
            if how == "drop":
                head = [(t, v) for t, v in head if t != tag]
            elif how == "set":
                head = [(t, value if t == tag else v) for t, v in head]
            else:
                head.append((tag, value))
        body = [(tag, _text(value, session)) for tag, value in step.body]
        raw = frame(step.msg_type, encode_fields(head), encode_fields(body))
        if step.damage is not None:
            raw = step.damage.draw(damaged(raw), label="damaged client frame")
        for parsed in FrameParser().feed(raw):
            if isinstance(parsed, FixMessage) and self.connected:
                self.carry_out(session.on_message(parsed, self.now))

    def wait(self, step: Wait) -> None:
        for _ in range(step.seconds):
            self.now += S
            if self.connected:
                self.carry_out(self.session.on_tick(self.now))

    def deliver(self, step: Deliver) -> None:
        if not self.connected or self.session.state is not State.ACTIVE:
            return
        for _ in range(step.count):
            send, stamp = self.session.application_message("B", NEWS, self.now)
            assert send.seq < self.session.next_sender_seq
            self.new_message(
                Send(send.data, send.seq, "B", OutboundMessage(send.seq, "B", stamp, NEWS))
            )
            self.persisted = (self.session.next_sender_seq, self.session.next_target_seq)

    def reconnect(self, logon: Say | None) -> None:
        """A new connection once this one has ended (with a well-formed Logon first)."""
        if self.connected:
            return
        self.carry_out(self.session.connection_ended())
        self.session.resend_complete()
        sender, target = self.persisted
        assert (sender, target) == (self.session.next_sender_seq, self.session.next_target_seq)
        fresh = FixSession(SessionIdentity(BRIDGE, CLIENT), sender, target)
        fresh.policy = self.session.policy
        self.session, self.connected, self.next_seq = fresh, True, sender
        if logon is not None:
            self.say(logon)


_validator: list[Callable[[bytes], None]] = []


@settings(max_examples=fuzz_examples(10))
@given(st.integers(1, 40), st.integers(1, 40), policies, logons, steps)
def test_no_client_conversation_breaks_the_session_rules(
    next_sender: int, next_target: int, policy: LogonPolicy, logon: Say | None, script: list[Step]
) -> None:
    if not _validator:
        _validator.append(_quickfix_validator())
    talk = Conversation.start(next_sender, next_target, policy, _validator[0])
    if logon is not None:
        talk.say(logon)
    for step in script:
        if isinstance(step, Say):
            talk.say(step)
        elif isinstance(step, Wait):
            talk.wait(step)
        elif isinstance(step, Deliver):
            talk.deliver(step)
        else:
            talk.reconnect(step.logon)
