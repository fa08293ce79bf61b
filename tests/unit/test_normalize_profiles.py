"""Each fix_profile's bodies, value by value, against specs/mapping.md "What each fix_profile
changes" (values worked out by hand from that table and the FIX code sets), and each body
through QuickFIX with the profile's stock dictionaries and fixbridge's own."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fixbridge.normalize.body import Fields
from fixbridge.normalize.execution import execution_report_body, normalize_execution
from fixbridge.normalize.instrument import security_status_body
from fixbridge.normalize.position import position_report_body
from fixbridge.normalize.style import Profile, RenderStyle
from fixbridge.normalize.trade import normalize_trade, trade_capture_report_body
from fixbridge.proto.polymarket.v1 import enums_pb2 as pb
from fixbridge.proto.polymarket.v1 import trading_pb2
from tests.quickfix_validation import validate_everywhere
from tests.unit.test_normalize_execution import make_execution, make_fill, make_order
from tests.unit.test_normalize_instrument import make_instrument
from tests.unit.test_normalize_instrument import normalize as normalize_instrument
from tests.unit.test_normalize_position import make_change
from tests.unit.test_normalize_position import normalize as normalize_position
from tests.unit.test_normalize_trade import make_trade, settled

EXCHANGE, FIX50SP2, LATEST = Profile.EXCHANGE, Profile.FIX50SP2, Profile.LATEST


def style(profile: Profile) -> RenderStyle:
    return RenderStyle(profile=profile)


def checked(msg_type: str, body: Fields, profile: Profile) -> dict[int, str]:
    """The body's top-level fields, after QuickFIX accepted it in ``profile``."""
    validate_everywhere(msg_type, body, profile)
    return dict(body)


def groups(body: Fields, delimiter: int, member: int) -> list[tuple[str, str]]:
    tags = [tag for tag, _ in body]
    return [(value, body[i + 1][1]) for i, (tag, value) in enumerate(body)
            if tag == delimiter and i + 1 < len(tags) and body[i + 1][0] == member]  # fmt: skip


# --- ExecutionReport ----------------------------------------------------------------------


def cancel(reason: int, text: str = "") -> trading_pb2.Execution:
    return make_execution(
        make_order(state=pb.ORDER_STATE_CANCELED, leaves_qty=0),
        type=pb.EXECUTION_TYPE_CANCELED,
        unsolicited_cancel_reason=reason,
        text=text,
    )


@pytest.mark.parametrize(
    ("reason", "text", "exchange", "latest"),
    [
        (pb.UNSOLICITED_CXL_REASON_CONNECTION_LOSS, "", "99", "12"),  # Cancel on connection loss
        (pb.UNSOLICITED_CXL_REASON_LOGOUT, "", "99", "13"),  # Cancel on logout
        (pb.UNSOLICITED_CXL_REASON_EXCHANGE_OPTION, "", "8", "8"),  # Market (exchange) option
        (pb.UNSOLICITED_CXL_REASON_OTHER, "", "99", "99"),
        (pb.UNSOLICITED_CXL_REASON_OTHER, "Self Match Prevention", "99", "17"),  # Cxld SMP
    ],
)
def test_exec_restatement_reason_per_profile(
    reason: int, text: str, exchange: str, latest: str
) -> None:
    event = normalize_execution(cancel(reason, text))
    for profile, want in ((EXCHANGE, exchange), (FIX50SP2, exchange), (LATEST, latest)):
        body = checked("8", execution_report_body(event, style(profile)), profile)
        assert (body[150], body[39], body[378]) == ("4", "4", want), profile


def test_a_fill_carries_trd_type_except_in_fix50sp2() -> None:
    event = normalize_execution(make_fill())
    assert checked("8", execution_report_body(event, style(EXCHANGE)), EXCHANGE)[828] == "0"
    assert checked("8", execution_report_body(event, style(LATEST)), LATEST)[828] == "0"
    original = checked("8", execution_report_body(event, style(FIX50SP2)), FIX50SP2)
    assert 828 not in original and original[150] == "F" and original[1057] == "Y"


# --- SecurityStatus -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "exchange", "fix50sp2"),
    [
        (pb.INSTRUMENT_STATE_OPEN, "1", "1"),
        (pb.INSTRUMENT_STATE_CLOSED, "2", "2"),
        (pb.INSTRUMENT_STATE_SUSPENDED, "9", "2"),
        (pb.INSTRUMENT_STATE_HALTED, "9", "2"),
        (pb.INSTRUMENT_STATE_EXPIRED, "4", None),  # Inactive: "not expired", so left out
        (pb.INSTRUMENT_STATE_TERMINATED, "5", None),  # never trades again
        (pb.INSTRUMENT_STATE_PENDING, "10", None),  # never active yet
    ],
)
def test_security_status_per_profile(state: int, exchange: str, fix50sp2: str | None) -> None:
    event = normalize_instrument(make_instrument(state=state))
    for profile, want in ((EXCHANGE, exchange), (LATEST, exchange), (FIX50SP2, fix50sp2)):
        body = checked("f", security_status_body(event, style(profile)), profile)
        assert body.get(965) == want, profile
        assert (75 in body) == (profile is not FIX50SP2), profile
        assert body[60] == "20261121-09:47:00.123456789"


# --- TradeCaptureReport -------------------------------------------------------------------


def test_a_later_clearing_state_is_a_non_material_update_in_latest() -> None:
    cleared = normalize_trade(make_trade(state=pb.TRADE_STATE_CLEARED))
    for profile, report_type in ((EXCHANGE, "0"), (FIX50SP2, "0"), (LATEST, "18")):
        body = checked("AE", trade_capture_report_body(
            cleared, style(profile), first_report=False), profile)  # fmt: skip
        assert (body[487], body[856], body[939]) == ("2", report_type, "0"), profile
        first = trade_capture_report_body(cleared, style(profile), first_report=True)
        assert (dict(first)[487], dict(first)[856]) == ("0", "0"), profile


def test_a_trade_busted_before_a_session_heard_of_it_is_never_a_new_in_fix50sp2() -> None:
    # Exchange and latest: New / Submit with TrdRptStatus 2 Cancelled. The original FIX 5.0 SP2
    # has no 939=2, so fix50sp2 sends Cancel / Trade Report Cancel instead of a New to book.
    busted = settled(normalize_trade(make_trade(state=pb.TRADE_STATE_BUSTED)))
    for profile, want in ((EXCHANGE, ("0", "0", "2")), (LATEST, ("0", "0", "2")),
                          (FIX50SP2, ("1", "6", None))):  # fmt: skip
        body = checked("AE", trade_capture_report_body(busted, style(profile),
                                                       first_report=True), profile)  # fmt: skip
        assert (body[487], body[856], body.get(939)) == want, profile
        later = dict(trade_capture_report_body(busted, style(profile), first_report=False))
        assert (later[487], later[856]) == ("1", "6"), profile


def test_a_rejected_trade_keeps_its_status_in_every_profile() -> None:
    rejected = normalize_trade(make_trade(state=pb.TRADE_STATE_REJECTED))
    for profile in Profile:
        body = dict(trade_capture_report_body(rejected, style(profile), first_report=False))
        assert body[939] == "1", profile


# --- PositionReport -----------------------------------------------------------------------


def test_fix50sp2_positions_have_no_time_stream_desc_net_or_expiring_entry() -> None:
    # 1534.03 net = 0 at the start of the day + 11729.54 bought - 10195.51 sold: no adjustment.
    event = normalize_position(make_change(expired=True))
    exchange = position_report_body(event, style(EXCHANGE))
    checked("AP", exchange, EXCHANGE)
    assert groups(exchange, 703, 704) == [
        ("SOD", "0"), ("TQ", "11729.54"), ("NET", "1534.03"), ("EXP", "1534.03"),
    ]  # fmt: skip
    assert 60 in dict(exchange) and 2096 in dict(exchange)
    original = position_report_body(event, style(FIX50SP2))
    fields = checked("AP", original, FIX50SP2)
    assert groups(original, 703, 704) == [("SOD", "0"), ("TQ", "11729.54")]
    assert fields[702] == "2" and 60 not in fields and 2096 not in dict(original)
    assert groups(original, 707, 708) == [("PREM", "491.82558")]


def test_fix50sp2_carries_the_difference_from_sod_plus_traded_as_an_adjustment() -> None:
    # net -5.00, bod 2.00, bought 1.00, sold 3.00: SOD + TQ = 2 + 1 - 3 = 0, so PA short 5.
    change = make_change(net_position=-500, bod_position=200, qty_bought=100, qty_sold=300)
    body = position_report_body(normalize_position(change), style(FIX50SP2))
    checked("AP", body, FIX50SP2)
    entries = [(t, v) for t, v in body if t in (703, 704, 705)]
    assert entries == [
        (703, "SOD"), (704, "2"), (705, "0"),
        (703, "TQ"), (704, "1"), (705, "3"),
        (703, "PA"), (704, "0"), (705, "5"),
    ]  # fmt: skip
    net = sum(Decimal(v) * (1 if t == 704 else -1) for t, v in entries if t != 703)
    assert net == Decimal("-5")
