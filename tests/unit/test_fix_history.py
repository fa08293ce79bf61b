"""EventResendRequest (35=U1) in the sans-IO session and the replies' bodies (fix/history.py)."""

from __future__ import annotations

from fixbridge.fix.codec import split_fields
from fixbridge.fix.history import EventResendRequest, complete_body, reject_body
from fixbridge.fix.session import FixSession, Persist, SessionIdentity
from tests.unit.fixmsg import BRIDGE, CLIENT, T0, S, client_msg, logon, sent


def active() -> FixSession:
    session = FixSession(SessionIdentity(BRIDGE, CLIENT))
    session.on_message(logon(), T0)
    return session


def test_a_request_by_exec_id_is_handed_to_the_acceptor_with_its_routing() -> None:
    session = active()
    msg = client_msg("U1", 2, (115, "DESK"), (21001, "EX-1"), (21002, "EX-9"))
    actions = session.on_message(msg, T0 + S)
    assert isinstance(actions[0], Persist) and sent(actions) == []
    assert actions[1] == EventResendRequest(2, "EX-1", None, "EX-9", ((128, "DESK"),))
    assert session.next_target_seq == 3


def test_a_request_by_time_carries_the_time_in_nanoseconds() -> None:
    actions = active().on_message(client_msg("U1", 2, (21005, "20261118-11:06:40.5")), T0 + S)
    (request,) = [a for a in actions if isinstance(a, EventResendRequest)]
    assert request.start_ns == 1_795_000_000 * 10**9 + 500_000_000  # 2026-11-18T11:06:40.5Z
    assert request.begin_exec_id is None and request.end_exec_id is None


def test_a_request_that_says_neither_or_both_gets_a_business_reject() -> None:
    session = active()
    for seq, fields in enumerate(
        [(), ((21001, "EX-1"), (21005, "20261118-11:06:40")), ((21005, "soon"),)], start=2
    ):
        (reject,) = sent(session.on_message(client_msg("U1", seq, *fields), T0 + S))
        assert reject.msg_type == "j"
        assert (reject.get(45), reject.get(372), reject.get(380)) == (str(seq), "U1", "0")


def test_the_replies_lead_with_the_routing_then_name_the_request() -> None:
    request = EventResendRequest(7, "EX-1", None, None, ((128, "DESK"),))
    complete = list(split_fields(complete_body(request, 12)))
    assert complete == [(128, "DESK"), (45, "7"), (21003, "12")]
    assert list(split_fields(reject_body(request, "5", "unknown"))) == [
        (128, "DESK"), (45, "7"), (21004, "5"), (58, "unknown")
    ]  # fmt: skip
