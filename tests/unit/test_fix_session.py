"""Scripted conversations with the sans-IO acceptor session: literal messages, injected time."""

from __future__ import annotations

import pytest

from fixbridge.fix.credentials import hash_password
from fixbridge.fix.session import (
    Action,
    Disconnect,
    FixSession,
    LoggedOn,
    LogonPolicy,
    Persist,
    Regression,
    Resend,
    Send,
    SequenceDoubt,
    SessionIdentity,
    State,
)
from fixbridge.journal.records import OutboundMessage
from tests.unit.fixmsg import (
    BRIDGE,
    CLIENT,
    STAMP,
    T0,
    S,
    client_msg,
    exact_msg,
    header,
    logon,
    parse_all,
    sent,
)


def new_session(next_sender: int = 1, next_target: int = 1) -> FixSession:
    return FixSession(SessionIdentity(BRIDGE, CLIENT), next_sender, next_target)


def active_session(next_sender: int = 1) -> FixSession:
    session = new_session(next_sender)
    session.on_message(logon(), T0)
    return session


def test_logon_is_answered_with_logon_and_persisted_first() -> None:
    session = new_session()
    actions = session.on_message(logon(), T0)
    assert isinstance(actions[0], Persist) and actions[0].next_sender_seq == 2
    (reply,) = sent(actions)
    assert reply.msg_type == "A"
    assert (reply.get(34), reply.get(98), reply.get(108), reply.get(1137)) == ("1", "0", "30", "9")
    assert reply.get(49) == BRIDGE and reply.get(56) == CLIENT
    assert any(isinstance(a, LoggedOn) for a in actions)
    assert session.state is State.ACTIVE and session.next_target_seq == 2


def test_reset_logon_restarts_both_sequences() -> None:
    session = new_session(next_sender=500, next_target=90)
    actions = session.on_message(logon(1, reset=True), T0)
    (reply,) = sent(actions)
    assert reply.get(34) == "1" and reply.get(141) == "Y"
    assert isinstance(actions[0], Persist) and actions[0].reset
    assert (session.next_sender_seq, session.next_target_seq) == (2, 2)


def test_restart_keeps_sequence_numbers() -> None:
    session = new_session(next_sender=41, next_target=7)
    reply = sent(session.on_message(logon(7), T0))[0]
    assert reply.get(34) == "41"


def test_first_message_must_be_logon() -> None:
    actions = new_session().on_message(client_msg("0", 1), T0)
    assert actions == [Disconnect("first message must be Logon, got MsgType '0'")]


def test_logon_with_wrong_appl_ver_is_logged_out_with_reason() -> None:
    session = new_session()
    bad = client_msg("A", 1, (98, "0"), (108, "30"), (1137, "7"))
    actions = session.on_message(bad, T0)
    (logout,) = sent(actions)
    assert logout.msg_type == "5" and "DefaultApplVerID(1137) must be 9" in (logout.get(58) or "")
    assert isinstance(actions[-1], Disconnect)


def test_absurd_heartbeat_is_refused() -> None:
    actions = new_session().on_message(logon(hb="0"), T0)
    assert "HeartBtInt(108)=0" in (sent(actions)[0].get(58) or "")


def test_test_request_is_answered_with_its_id() -> None:
    session = active_session()
    (hb,) = sent(session.on_message(client_msg("1", 2, (112, "PING-7")), T0 + S))
    assert hb.msg_type == "0" and hb.get(112) == "PING-7" and hb.get(34) == "2"


def test_sequence_too_low_without_possdup_logs_out() -> None:
    session = active_session()
    session.on_message(client_msg("0", 2), T0)
    actions = session.on_message(client_msg("0", 2), T0)
    (logout,) = sent(actions)
    assert logout.get(58) == "MsgSeqNum too low, expecting 3 but received 2"
    assert isinstance(actions[-1], Disconnect)


def test_possdup_duplicate_is_ignored() -> None:
    session = active_session()
    session.on_message(client_msg("0", 2), T0)
    assert session.on_message(client_msg("0", 2, poss_dup=True), T0) == []


def test_sequence_too_high_asks_for_resend() -> None:
    session = active_session()
    (resend_request,) = sent(session.on_message(client_msg("0", 5), T0))
    assert resend_request.msg_type == "2"
    assert (resend_request.get(7), resend_request.get(16)) == ("2", "0")


def test_application_message_gets_business_reject() -> None:
    session = active_session()
    (bmr,) = sent(session.on_message(client_msg("D", 2, (11, "ORDER1")), T0))
    assert bmr.msg_type == "j"
    assert (bmr.get(45), bmr.get(372), bmr.get(380)) == ("2", "D", "3")


def test_a_batch_is_sequenced_as_its_messages_one_by_one() -> None:
    one_by_one, batched = active_session(), active_session()
    messages = [("8", b"17=A\x01"), ("AE", b"571=T1\x01"), ("8", b"17=B\x01")]
    singles = [one_by_one.application_message(t, body, T0 + 7) for t, body in messages]
    frames, stamp = batched.application_messages(messages, T0 + 7)
    assert frames == [send.data for send, _ in singles]
    assert {stamp} == {s for _, s in singles}
    assert batched.next_sender_seq == one_by_one.next_sender_seq == 5
    assert batched.last_sent_ns == one_by_one.last_sent_ns == T0 + 7
    assert [m.get(34) for m in parse_all(frames)] == ["2", "3", "4"]


def test_a_batch_is_refused_unless_the_session_is_active() -> None:
    session = new_session()
    with pytest.raises(RuntimeError, match="active session"):
        session.application_messages([("8", b"17=A\x01")], T0)
    assert session.application_messages([], T0)[0] == []  # nothing to send: nothing refused


def test_resend_request_zero_means_to_the_end() -> None:
    session = active_session()
    for _ in range(3):
        session.application_message("8", b"17=X\x01", T0)
    actions = session.on_message(client_msg("2", 2, (7, "2"), (16, "0")), T0)
    assert Resend(2, 4) in actions


def test_replay_marks_possdup_and_gap_fills_admin_messages() -> None:
    session = active_session(next_sender=1)  # Logon took seq 1
    stored = []
    for seq_body in (b"17=A\x01", b"17=B\x01"):
        send, stamp = session.application_message("8", seq_body, T0)
        stored.append(OutboundMessage(send.seq, "8", stamp, seq_body))
    session.on_tick(T0 + 31 * S)  # a heartbeat: seq 4 is an admin message
    send, stamp = session.application_message("8", b"17=C\x01", T0 + 31 * S)
    stored.append(OutboundMessage(send.seq, "8", stamp, b"17=C\x01"))
    frames = parse_all(session.replay(1, 5, stored).take(100, T0 + 60 * S))
    kinds = [(m.get(34), m.msg_type, m.get(123), m.get(36), m.get(17)) for m in frames]
    assert kinds == [
        ("1", "4", "Y", "2", None),
        ("2", "8", None, None, "A"),
        ("3", "8", None, None, "B"),
        ("4", "4", "Y", "5", None),
        ("5", "8", None, None, "C"),
    ]
    assert all(m.get(43) == "Y" and m.get(122) for m in frames)
    assert frames[1].get(122) == stored[0].sending_time


def test_consecutive_missing_messages_share_one_gap_fill() -> None:
    session = active_session()
    frames = parse_all(session.replay(1, 50, []).take(100, T0))
    assert len(frames) == 1 and frames[0].get(36) == "51"


def test_client_sequence_reset_moves_expected_number() -> None:
    session = active_session()
    session.on_message(client_msg("4", 2, (36, "10")), T0)
    assert session.next_target_seq == 10
    session.on_message(client_msg("4", 10, (123, "Y"), (36, "20")), T0)
    assert session.next_target_seq == 20


def test_heartbeat_then_test_request_then_disconnect_on_silence() -> None:
    session = active_session()
    assert sent(session.on_tick(T0 + 29 * S)) == []
    (hb,) = sent(session.on_tick(T0 + 30 * S))
    assert hb.msg_type == "0"
    (test_request,) = sent(session.on_tick(T0 + 36 * S))
    assert test_request.msg_type == "1" and test_request.get(112)
    actions = session.on_tick(T0 + 66 * S)
    assert isinstance(actions[-1], Disconnect)


def test_answered_test_request_keeps_session_alive() -> None:
    session = active_session()
    session.on_tick(T0 + 36 * S)
    session.on_message(client_msg("0", 2, (112, "TEST1")), T0 + 37 * S)
    assert not any(isinstance(a, Disconnect) for a in session.on_tick(T0 + 67 * S))


def test_client_logout_is_answered_and_closed() -> None:
    session = active_session()
    actions = session.on_message(client_msg("5", 2, (58, "bye")), T0)
    (reply,) = sent(actions)
    assert reply.msg_type == "5" and isinstance(actions[-1], Disconnect)
    assert session.state is State.CLOSED


def test_our_logout_waits_for_the_reply() -> None:
    session = active_session()
    (logout,) = sent(session.logout("maintenance", T0))
    assert logout.get(58) == "maintenance" and session.state is State.LOGOUT_SENT
    actions = session.on_message(client_msg("5", 2), T0 + S)
    assert isinstance(actions[-1], Disconnect) and sent(actions) == []


def test_logout_now_stores_its_number_first_then_disconnects_without_waiting() -> None:
    session = active_session()
    actions = session.logout_now("storage unavailable", T0)
    persist, send, disconnect = actions
    assert isinstance(persist, Persist) and persist.next_sender_seq == 3
    assert isinstance(send, Send) and send.seq == 2
    (logout,) = sent(actions)
    assert (logout.msg_type, logout.get(34), logout.get(58)) == ("5", "2", "storage unavailable")
    assert isinstance(disconnect, Disconnect) and session.state is State.CLOSED


def test_logout_now_before_the_logon_or_after_it_closed_only_disconnects() -> None:
    for session in (new_session(), active_session()):
        session.logout_now("first", T0)  # a new session, then one already closed by this
        actions = session.logout_now("again", T0)
        assert actions == [Disconnect("again")]


# --- inbound sequence gaps ----------------------------------------------------------------


def test_gap_is_requested_once_and_queued_messages_run_after_the_fill() -> None:
    session = active_session()
    (request,) = sent(session.on_message(client_msg("1", 4, (112, "LATE")), T0))
    assert (request.msg_type, request.get(7), request.get(16)) == ("2", "2", "0")
    assert sent(session.on_message(client_msg("0", 5), T0)) == []  # queued, no second request
    # The client fills 2..3 with a gap fill; the queued TestRequest (4) is then answered.
    actions = session.on_message(client_msg("4", 2, (123, "Y"), (36, "4"), poss_dup=True), T0)
    (heartbeat,) = sent(actions)
    assert heartbeat.msg_type == "0" and heartbeat.get(112) == "LATE"
    assert session.next_target_seq == 6


def test_resend_request_with_a_gap_is_served_at_once() -> None:
    session = active_session()
    session.application_message("8", b"17=A\x01", T0)
    actions = session.on_message(client_msg("2", 7, (7, "2"), (16, "0")), T0)
    assert Resend(2, 2) in actions
    assert [m.msg_type for m in sent(actions)] == ["2"]  # and we ask for the client's gap


def test_gap_fill_cannot_lower_the_sequence() -> None:
    session = active_session()
    (reject,) = sent(session.on_message(client_msg("4", 2, (123, "Y"), (36, "2")), T0))
    assert (reject.msg_type, reject.get(373), reject.get(371)) == ("3", "5", "36")


# --- header checks --------------------------------------------------------------------------


def test_wrong_comp_id_is_rejected_and_logged_out() -> None:
    session = active_session()
    msg = client_msg("0", 2)
    forged = type(msg)(tuple((49, "INTRUDER") if t == 49 else (t, v) for t, v in msg.fields), b"")
    actions = session.on_message(forged, T0)
    reject, logout = sent(actions)
    assert (reject.get(373), reject.get(371)) == ("9", "49")
    assert logout.msg_type == "5" and "CompID problem" in (logout.get(58) or "")
    assert isinstance(actions[-1], Disconnect)


def test_sending_time_far_from_our_clock_is_rejected() -> None:
    session = active_session()
    reject, logout = sent(session.on_message(client_msg("0", 2), T0 + 121 * S))
    assert (reject.get(373), reject.get(371)) == ("10", "52")
    assert "SendingTime accuracy" in (logout.get(58) or "")


def test_unknown_msg_type_gets_session_reject() -> None:
    session = active_session()
    (reject,) = sent(session.on_message(client_msg("ZZ", 2), T0))
    assert (reject.msg_type, reject.get(373), reject.get(371), reject.get(372)) == (
        "3",
        "11",
        "35",
        "ZZ",
    )


# --- logon extras ---------------------------------------------------------------------------


def test_next_expected_msg_seq_num_lower_replays_what_the_client_missed() -> None:
    session = new_session(next_sender=10, next_target=4)
    actions = session.on_message(logon(4, (789, "7")), T0)
    (reply,) = sent(actions)
    assert reply.get(34) == "10" and reply.get(789) == "5"
    assert Resend(7, 9) in actions


def test_a_logon_gap_is_not_requested_when_the_logon_carries_789() -> None:
    """FIXT.1.1 (Logon NextExpectedMsgSeqNum processing): with 789 in use, neither side sends
    a ResendRequest for the Logon's MsgSeqNum; our Logon's 789 (4) tells the client to fill."""
    session = new_session(next_sender=10, next_target=4)
    actions = session.on_message(logon(8, (789, "10")), T0)
    (reply,) = sent(actions)
    assert (reply.msg_type, reply.get(789)) == ("A", "4")
    assert session.state is State.ACTIVE
    # The client's fill (4..7 again, PossDup) and its next message are taken quietly.
    assert sent(session.on_message(client_msg("0", 4, poss_dup=True), T0)) == []
    assert sent(session.on_message(client_msg("0", 9), T0)) == []
    assert session.next_target_seq == 10


def test_a_gap_after_a_789_logon_is_still_asked_for() -> None:
    """No ResendRequest for the Logon's own gap, but nothing is left waiting for one: a later
    gap (9 missing) gets its ResendRequest at once."""
    session = new_session(next_sender=10, next_target=4)
    session.on_message(logon(8, (789, "10")), T0)
    (request,) = sent(session.on_message(client_msg("0", 10), T0))
    assert (request.msg_type, request.get(7), request.get(16)) == ("2", "9", "0")


def test_after_our_logout_a_too_low_logout_or_a_resend_beyond_us_only_closes() -> None:
    """Test case 13a: the client's Logout answering ours is not answered again."""
    session = active_session(next_sender=3)  # our Logon was 3
    session.logout("maintenance", T0)  # 4
    text = "MsgSeqNum too low, expecting 41 but received 3"
    actions = session.on_message(client_msg("5", 2, (58, text)), T0)
    assert sent(actions) == [] and isinstance(actions[-1], Disconnect)
    assert isinstance(actions[0], Regression) and session.next_sender_seq == 41
    other = active_session()
    other.logout("maintenance", T0)
    actions = other.on_message(client_msg("2", 2, (7, "50"), (16, "0")), T0)
    assert sent(actions) == [] and isinstance(actions[0], SequenceDoubt)
    assert isinstance(actions[-1], Disconnect) and other.state is State.CLOSED


def test_a_logon_gap_without_789_is_requested() -> None:
    session = new_session(next_sender=10, next_target=4)
    actions = session.on_message(logon(8), T0)
    assert [(m.msg_type, m.get(7), m.get(16)) for m in sent(actions)] == [
        ("A", None, None),
        ("2", "4", "0"),
    ]


def test_next_expected_msg_seq_num_beyond_ours_is_refused() -> None:
    session = new_session(next_sender=10, next_target=4)
    actions = session.on_message(logon(4, (789, "12")), T0)
    assert "NextExpectedMsgSeqNum(789)=12" in (sent(actions)[0].get(58) or "")
    assert isinstance(actions[-1], Disconnect)


def test_next_expected_beyond_ours_moves_our_numbers_so_the_next_logon_binds() -> None:
    """FIXT.1.1 ends a session whose Logon expects a number we never sent; the client has
    11 messages, so ours went backwards: we continue from 12 and never send 10 or 11 again."""
    session = new_session(next_sender=10, next_target=4)
    actions = session.on_message(logon(4, (789, "12")), T0)
    assert Regression(12, 10, "client Logon has NextExpectedMsgSeqNum(789)=12") in actions
    assert Persist(12, 4) in actions
    assert [m.get(34) for m in sent(actions)] == ["12"]  # the Logout
    again = FixSession(SessionIdentity(BRIDGE, CLIENT), session.next_sender_seq, 5)
    (reply,) = sent(again.on_message(logon(5, (789, "13")), T0))
    assert (reply.msg_type, reply.get(34)) == ("A", "13")


def test_a_logon_wrong_in_another_way_does_not_move_our_numbers() -> None:
    session = _session_with_password()
    session.next_sender_seq = 10
    bad = logon(1, (789, "500"), (553, "ops"), (554, "wrong"))
    actions = session.on_message(bad, T0)
    assert not any(isinstance(a, Regression) for a in actions)
    assert sent(actions)[0].get(34) == "10"


def test_a_logon_whose_own_number_is_too_low_does_not_move_our_numbers() -> None:
    """Its 789 is beyond ours, but its MsgSeqNum is below what we expect: refused for that,
    and our numbers stay (session-rules.md: only a Logon right in every other way moves them)."""
    session = new_session(next_sender=10, next_target=4)
    actions = session.on_message(logon(3, (789, "12")), T0)
    assert not any(isinstance(a, Regression) for a in actions)
    (logout,) = sent(actions)
    assert logout.get(34) == "10" and "MsgSeqNum too low" in (logout.get(58) or "")


def test_a_client_logout_saying_our_number_was_too_low_moves_our_numbers() -> None:
    """The text QuickFIX engines log out with when our MsgSeqNum is below what they expect."""
    session = active_session(next_sender=3)  # our Logon reply was 3
    text = "MsgSeqNum too low, expecting 41 but received 3"
    actions = session.on_message(client_msg("5", 2, (58, text)), T0)
    assert actions[0] == Regression(41, 4, f"client logged out: {text}", rejected_from=3)
    # FIX session test case 13b: a Logout is answered by a Logout, here numbered 41, the
    # number the client expects, so it is read in sequence.
    (reply,) = sent(actions)
    assert (reply.msg_type, reply.get(34)) == ("5", "41")
    assert actions.index(Persist(42, 3)) < actions.index(
        next(a for a in actions if isinstance(a, Send))
    )
    assert isinstance(actions[-1], Disconnect)
    assert session.next_sender_seq == 42


def test_a_too_low_logout_about_a_later_message_of_ours_moves_nothing() -> None:
    """A client checks our Logon first (test case 2c): a "too low" naming a later number of
    this connection, or one from before it, does not come from our numbers going backwards."""
    session = active_session(next_sender=3)  # our Logon reply was 3
    for _ in range(3):
        session.application_message("8", b"17=X\x01", T0)  # 4, 5, 6
    text = "MsgSeqNum too low, expecting 41 but received 5"
    actions = session.on_message(client_msg("5", 2, (58, text)), T0)
    assert not any(isinstance(a, Regression) for a in actions)
    assert session.next_sender_seq == 8  # only our Logout reply (7) was numbered


@pytest.mark.parametrize(
    "text",
    [
        "MsgSeqNum too low, expecting 41 but received 99",  # not a number we sent
        "MsgSeqNum too low, expecting 41 but received 2",  # before this connection's Logon
        "MsgSeqNum too low, expecting 2 but received 3",  # not too low at all
        "Logout requested",
    ],
)
def test_other_logouts_leave_our_numbers_alone(text: str) -> None:
    session = active_session(next_sender=3)
    actions = session.on_message(client_msg("5", 2, (58, text)), T0)
    assert not any(isinstance(a, Regression) for a in actions)
    assert session.next_sender_seq == 5  # our Logon reply, then our Logout reply


def _session_with_password() -> FixSession:
    policy = LogonPolicy(username="ops", password_hash=hash_password("s3cret"))
    return FixSession(SessionIdentity(BRIDGE, CLIENT), policy=policy)


def test_logon_with_the_right_password_is_accepted() -> None:
    session = _session_with_password()
    session.on_message(logon(1, (553, "ops"), (554, "s3cret")), T0)
    assert session.state is State.ACTIVE


def test_logon_with_a_wrong_password_is_refused_without_saying_which() -> None:
    for creds in (((553, "ops"), (554, "nope")), ((553, "other"), (554, "s3cret")), ()):
        session = _session_with_password()
        actions = session.on_message(logon(1, *creds), T0)
        assert sent(actions)[0].get(58) == "invalid Username(553) or Password(554)"
        assert session.state is State.CLOSED


# --- resend during resend -------------------------------------------------------------------


def test_repeated_resend_request_during_a_resend_is_ignored_and_overlap_gets_the_tail() -> None:
    session = active_session()
    for _ in range(20):
        session.application_message("8", b"17=X\x01", T0)
    assert Resend(2, 10) in session.on_message(client_msg("2", 2, (7, "2"), (16, "10")), T0)
    again = session.on_message(client_msg("2", 3, (7, "3"), (16, "8")), T0)
    assert not any(isinstance(a, Resend) for a in again)
    more = session.on_message(client_msg("2", 4, (7, "5"), (16, "15")), T0)
    assert Resend(11, 15) in more
    session.resend_complete()
    assert Resend(2, 3) in session.on_message(client_msg("2", 5, (7, "2"), (16, "3")), T0)


def test_replay_in_chunks_stamps_each_chunk_with_its_own_time() -> None:
    session = active_session()
    stored = []
    for _ in range(5):
        send, stamp = session.application_message("8", b"17=X\x01", T0)
        stored.append(OutboundMessage(send.seq, "8", stamp, b"17=X\x01"))
    replay = session.replay(2, 6, stored)
    first = parse_all(replay.take(2, T0 + 10 * S))
    rest = parse_all(replay.take(10, T0 + 20 * S))
    assert [m.get(34) for m in first + rest] == ["2", "3", "4", "5", "6"]
    assert first[0].get(52) != rest[0].get(52)
    assert replay.take(10, T0) == [] and replay.replayed == 5 and replay.gap_fills == 0


def test_resend_request_beyond_our_last_message_replays_nothing() -> None:
    session = active_session()  # we have sent only the Logon (1)
    actions = session.on_message(client_msg("2", 2, (7, "2"), (16, "9")), T0)
    assert not any(isinstance(a, Resend) for a in actions) and sent(actions) == []
    assert not any(isinstance(a, Regression) for a in actions)


def test_resend_request_from_beyond_our_next_number_moves_nothing_and_logs_out() -> None:
    """The client asks from 5 when our next is 2: numbers we never sent. A client only asks
    after receiving a higher number, so it may hold numbers far above 5 (a closed range B..E
    means it received E+1): no number is safe to jump to, and FIXT.1.1 has no recovery for
    a counterparty expecting more than we sent but a Logout. Nothing moves; the client's next
    Logon (789, or its "too low" Logout) says where it is."""
    session = active_session()  # we have sent only the Logon (1)
    actions = session.on_message(client_msg("2", 2, (7, "5"), (16, "9")), T0)
    assert not any(isinstance(a, (Resend, Regression)) for a in actions)
    assert actions[0] == SequenceDoubt(2, "client ResendRequest 5..9, our last 1")
    (logout,) = sent(actions)
    assert (logout.msg_type, logout.get(34)) == ("5", "2")
    assert "ResendRequest 5..9" in (logout.get(58) or "")
    assert isinstance(actions[-1], Disconnect) and session.state is State.CLOSED
    assert session.next_sender_seq == 3


def test_resend_request_far_beyond_our_numbers_cannot_move_them() -> None:
    session = active_session()
    actions = session.on_message(client_msg("2", 2, (7, "100000000000000000"), (16, "0")), T0)
    assert isinstance(actions[0], SequenceDoubt)
    assert session.next_sender_seq == 3


def test_resend_request_end_beyond_our_last_message_is_cut_to_it() -> None:
    session = active_session()
    session.application_message("8", b"17=X\x01", T0)
    assert Resend(1, 2) in session.on_message(client_msg("2", 2, (7, "1"), (16, "99")), T0)


# --- findings of the session-layer review ---------------------------------------------------


def test_a_refused_reset_logon_changes_no_sequence_number() -> None:
    session = new_session(next_sender=6, next_target=3)
    actions = session.on_message(logon(1, (789, "9"), reset=True), T0)
    assert isinstance(actions[-1], Disconnect)
    persisted = [a for a in actions if isinstance(a, Persist)]
    assert all(not p.reset for p in persisted)
    assert (session.next_sender_seq, session.next_target_seq) == (7, 3)  # only the Logout used 6


def test_next_expected_zero_is_refused() -> None:
    actions = new_session(next_sender=10, next_target=4).on_message(logon(4, (789, "0")), T0)
    assert "NextExpectedMsgSeqNum(789)=0" in (sent(actions)[0].get(58) or "")


def test_our_logout_times_out_even_if_the_client_keeps_talking() -> None:
    session = active_session()
    session.logout("maintenance", T0)
    session.on_message(client_msg("0", 2), T0 + S)  # crossed our Logout on the wire
    assert isinstance(session.on_tick(T0 + 40 * S)[-1], Disconnect)


def test_disjoint_and_enclosing_resend_requests_lose_no_range() -> None:
    session = active_session()
    for _ in range(25):
        session.application_message("8", b"17=X\x01", T0)
    assert Resend(5, 10) in session.on_message(client_msg("2", 2, (7, "5"), (16, "10")), T0)
    assert Resend(15, 20) in session.on_message(client_msg("2", 3, (7, "15"), (16, "20")), T0)
    assert Resend(11, 14) in session.on_message(client_msg("2", 4, (7, "11"), (16, "14")), T0)
    wide = session.on_message(client_msg("2", 5, (7, "1"), (16, "22")), T0)
    assert [a for a in wide if isinstance(a, Resend)] == [Resend(1, 4), Resend(21, 22)]


@pytest.mark.parametrize("bad", ["\u00b2", "1" * 19, "-3", "", "1e3"])
def test_odd_numbers_never_raise(bad: str) -> None:
    session = active_session()
    actions = session.on_message(client_msg("2", 2, (7, bad), (16, "0")), T0)
    (reject,) = sent(actions)
    assert reject.msg_type == "3" and reject.get(371) == "7"
    actions = new_session().on_message(logon(1, hb="\u00b2"), T0)
    assert isinstance(actions[-1], Disconnect)


def test_queued_message_is_judged_by_when_it_arrived() -> None:
    session = active_session()
    session.on_message(client_msg("0", 3), T0)  # gap: 2 missing
    fill = client_msg("4", 2, (123, "Y"), (36, "3"), poss_dup=True)
    actions = session.on_message(fill, T0 + 150 * S)  # the gap is filled 150 s later
    assert not any(m.msg_type in ("3", "5") for m in sent(actions))
    assert session.state is State.ACTIVE and session.next_target_seq == 4


# --- FIXT.1.1 session rules (specs/session-rules.md) -----------------------------------------


def _reject_of(actions: list[Action]) -> tuple[str | None, ...]:
    (reject,) = sent(actions)
    assert reject.msg_type == "3"
    return reject.get(45), reject.get(371), reject.get(372), reject.get(373)


def test_undefined_tag_in_an_admin_message_is_rejected_and_the_session_goes_on() -> None:
    session = active_session()
    actions = session.on_message(exact_msg("0", *header(2), (999, "HI")), T0)
    assert _reject_of(actions) == ("2", "999", "0", "0")
    assert session.state is State.ACTIVE and session.next_target_seq == 3


def test_tag_not_defined_for_the_admin_message_type() -> None:
    session = active_session()
    actions = session.on_message(exact_msg("0", *header(2), (58, "Text")), T0)
    assert _reject_of(actions) == ("2", "58", "0", "2")


def test_missing_target_comp_id_is_a_required_tag_not_a_comp_id_problem() -> None:
    session = active_session()
    actions = session.on_message(exact_msg("0", (34, "2"), (49, CLIENT), (52, STAMP)), T0)
    assert _reject_of(actions) == ("2", "56", "0", "1")
    assert session.state is State.ACTIVE
    (hb,) = sent(session.on_message(client_msg("1", 3, (112, "NEXT")), T0))
    assert hb.get(112) == "NEXT"


def test_empty_value_is_rejected_with_373_4() -> None:
    session = active_session()
    actions = session.on_message(exact_msg("0", (34, "2"), (49, CLIENT), (52, STAMP), (56, "")), T0)
    assert _reject_of(actions) == ("2", "56", "0", "4")


def test_header_field_after_a_body_field_is_rejected_whatever_the_msg_type() -> None:
    session = active_session()
    body_first = exact_msg("D", (11, "id"), (55, "X"), *header(2))
    assert _reject_of(session.on_message(body_first, T0)) == (
        "2",
        "49",
        "D",
        "14",
    )
    assert session.next_target_seq == 3


def test_possdup_with_orig_sending_time_after_sending_time_is_rejected_and_logged_out() -> None:
    session = active_session()
    for seq in (2, 3):
        session.on_message(client_msg("D", seq, (11, "id")), T0)
    late = exact_msg(
        "D", *header(2), (43, "Y"), (122, "20231114-22:13:30"), (11, "id")
    )  # OrigSendingTime 10 s after SendingTime
    actions = session.on_message(late, T0)
    reject, logout = sent(actions)
    assert (reject.get(45), reject.get(371), reject.get(373)) == ("2", "122", "10")
    assert reject.get(58) == "SendingTime accuracy problem" and logout.msg_type == "5"
    assert isinstance(actions[-1], Disconnect)


def test_possdup_without_orig_sending_time_is_rejected_and_uses_no_number() -> None:
    session = active_session()
    for seq in (2, 3):
        session.on_message(client_msg("D", seq, (11, "id")), T0)
    actions = session.on_message(exact_msg("D", *header(2), (43, "Y"), (11, "id")), T0)
    assert _reject_of(actions) == ("2", "122", "D", "1")
    assert session.next_target_seq == 4 and session.state is State.ACTIVE


def test_reset_logon_inside_a_running_session_restarts_both_sequences() -> None:
    session = active_session()
    for seq in range(2, 6):
        session.on_message(client_msg("0", seq), T0)
    session.on_message(client_msg("1", 6, (112, "X")), T0)  # our Heartbeat takes 2
    actions = session.on_message(logon(1, reset=True), T0)
    (reply,) = sent(actions)
    assert (reply.msg_type, reply.get(34), reply.get(141)) == ("A", "1", "Y")
    assert isinstance(actions[0], Persist) and actions[0].reset
    assert not any(isinstance(a, LoggedOn) for a in actions)
    (hb,) = sent(session.on_message(client_msg("1", 2, (112, "Y")), T0))
    assert hb.get(34) == "2" and session.state is State.ACTIVE


def test_logon_without_reset_inside_a_session_still_ends_it() -> None:
    session = active_session()
    actions = session.on_message(logon(2), T0)
    assert "Logon received on an established session" in (sent(actions)[0].get(58) or "")


@pytest.mark.parametrize(
    ("routing", "reversed_"),
    [
        (((115, "JCD"),), {128: "JCD"}),
        (((128, "JCD"), (129, "CS"), (145, "CHI")), {115: "JCD", 116: "CS", 144: "CHI"}),
        (((115, "JCD"), (116, "CS"), (144, "CHI")), {128: "JCD", 129: "CS", 145: "CHI"}),
    ],
)
def test_business_reject_carries_the_routing_tags_reversed(
    routing: tuple[tuple[int, str], ...], reversed_: dict[int, str]
) -> None:
    session = active_session()
    (bmr,) = sent(session.on_message(exact_msg("D", *header(2), *routing, (11, "id")), T0))
    assert bmr.msg_type == "j"
    assert {t: v for t, v in bmr.fields if t in (115, 116, 144, 128, 129, 145)} == reversed_


def test_empty_routing_tag_is_rejected_and_not_reversed() -> None:
    session = active_session()
    msg = exact_msg("D", *header(2), (115, "JCD"), (116, ""), (11, "id"))
    (reject,) = sent(session.on_message(msg, T0))
    assert (reject.get(371), reject.get(373), reject.get(128), reject.get(129)) == (
        "116",
        "4",
        "JCD",
        None,
    )


def test_a_repeated_routing_tag_is_rejected_and_answered_once() -> None:
    """Found by tests/fuzz: a Reject echoing each DeliverToCompID(128) of 115=A|115=A
    repeated a tag itself, and QuickFIX refused it (Repeated tag not part of repeating group)."""
    session = active_session()
    msg = exact_msg("D", *header(2), (115, "JCD"), (115, "XYZ"), (11, "id"))
    (reject,) = sent(session.on_message(msg, T0))
    assert (reject.msg_type, reject.get(371), reject.get(373)) == ("3", "115", "13")
    assert reject.get_all(128) == ["JCD"]


def test_business_reject_is_stored_and_replayed_with_possdup() -> None:
    session = active_session()
    actions = session.on_message(exact_msg("D", *header(2), (115, "JCD"), (11, "id")), T0)
    (send,) = [a for a in actions if isinstance(a, Send)]
    assert send.stored is not None and send.stored.seq == 2 and send.stored.msg_type == "j"
    (again,) = parse_all(session.replay(2, 2, [send.stored]).take(10, T0 + 5 * S))
    original = sent(actions)[0]
    assert (again.msg_type, again.get(34), again.get(43), again.get(122)) == (
        "j",
        "2",
        "Y",
        original.get(52),
    )
    assert (again.get(128), again.get(45), again.get(380)) == ("JCD", "2", "3")


def test_resend_request_with_an_already_used_number_is_served_not_logged_out() -> None:
    session = active_session()
    session.application_message("8", b"17=A\x01", T0)
    session.on_message(client_msg("2", 2, (7, "1"), (16, "0")), T0)
    session.resend_complete()
    session.on_message(client_msg("1", 3, (112, "X")), T0)
    actions = session.on_message(client_msg("2", 2, (7, "1"), (16, "0")), T0)
    assert Resend(1, 3) in actions and session.state is State.ACTIVE  # Logon, 8, Heartbeat
    assert session.next_target_seq == 4


def test_logout_is_answered_whatever_its_number() -> None:
    for seq in (2, 9, 50):
        session = active_session()
        session.on_message(client_msg("4", 2, (123, "Y"), (36, "20")), T0)
        (reply,) = sent(session.on_message(client_msg("5", seq), T0))
        assert reply.msg_type == "5" and reply.get(58) is None
        assert session.state is State.CLOSED


def test_wrong_begin_string_in_session_logs_out_and_waits_for_the_reply() -> None:
    session = active_session()
    actions = session.on_message(exact_msg("1", *header(2), (112, "id"), begin="FIX.4.1"), T0)
    (logout,) = sent(actions)
    assert logout.get(58) == "Incorrect BeginString" and session.state is State.LOGOUT_SENT
    assert session.on_tick(T0 + S) == []
    assert isinstance(session.on_message(client_msg("5", 3), T0 + S)[-1], Disconnect)
    silent = active_session()
    silent.on_message(exact_msg("1", *header(2), (112, "id"), begin="FIX.4.1"), T0)
    assert isinstance(silent.on_tick(T0 + 2 * S)[-1], Disconnect)


def test_wrong_begin_string_on_the_logon_disconnects_without_a_message() -> None:
    actions = new_session().on_message(
        exact_msg("A", *header(1), (98, "0"), (108, "30"), (1137, "9"), begin="FIX.3.9"), T0
    )
    assert sent(actions) == [] and isinstance(actions[-1], Disconnect)


def test_logon_with_sending_time_far_off_is_refused() -> None:
    session = new_session()
    actions = session.on_message(logon(), T0 + 600 * S)
    (logout,) = sent(actions)
    assert "SendingTime accuracy problem" in (logout.get(58) or "")
    assert isinstance(actions[-1], Disconnect) and session.state is State.CLOSED


def test_a_finished_replay_can_be_asked_for_again_at_once() -> None:
    session = active_session()
    session.application_message("8", b"17=A\x01", T0)
    (resend,) = [a for a in session.on_message(client_msg("2", 2, (7, "1"), (16, "0")), T0)
                 if isinstance(a, Resend)]  # fmt: skip
    session.replay(resend.begin, resend.end, []).take(100, T0)  # its last frame is out
    again = session.on_message(client_msg("2", 3, (7, "1"), (16, "0")), T0)
    assert Resend(1, 2) in again


def test_a_reset_stops_a_replay_of_the_old_numbers() -> None:
    session = active_session()
    for _ in range(5):
        session.application_message("8", b"17=A\x01", T0)
    replay = session.replay(1, 6, [])
    session.on_message(logon(1, reset=True), T0)
    assert replay.take(10, T0) == []


def test_window_end_logs_out_and_the_next_window_starts_at_one() -> None:
    session = FixSession(SessionIdentity(BRIDGE, CLIENT), 40, 9, window_end_ns=T0 + 60 * S)
    session.on_message(logon(9), T0)
    assert all(m.msg_type != "5" for m in sent(session.on_tick(T0 + 59 * S)))
    (logout,) = sent(session.on_tick(T0 + 60 * S))
    assert logout.get(58) == "end of session window"
    session.on_message(client_msg("5", 10), T0 + 61 * S)
    assert [a for a in session.connection_ended() if isinstance(a, Persist)] == [
        Persist(1, 1, reset=True)
    ]


def test_a_new_window_restarts_the_numbers_before_the_logon() -> None:
    session = new_session(next_sender=40, next_target=9)
    assert Persist(1, 1, reset=True) in session.start_new_window()
    (reply,) = sent(session.on_message(logon(1), T0))
    assert reply.get(34) == "1"
