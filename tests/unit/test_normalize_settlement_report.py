"""Settlements as FIX: the 35=W settlement entry, the 35=UMS MarketSettlementReport, the
settlement prices of a PositionReport and the outcome in a SecurityStatus.

Inputs are the exchange's market-data guide examples (seed 003: YES at 1000 with price_scale
1000 is $1.00, NO at 0, "Buffalo Bills win"); the FIX values are FIX 5.0 SP2's (MDEntryType 6
Settlement Price, SettlPriceType 1 Final / 2 Theoretical, OpenCloseSettlFlag) and Kalshi's
published MarketSettlementReport layout.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from google.protobuf import json_format

from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.instrument import (
    InstrumentEvent,
    normalize_instrument,
    security_status_body,
)
from fixbridge.normalize.position import PositionEvent, position_report_body
from fixbridge.normalize.settlement import Settlement, settlement_of
from fixbridge.normalize.settlement_report import (
    MARKET_SETTLEMENT_MSG_TYPE,
    SETTLEMENT_MSG_TYPE,
    cents,
    market_result,
    market_settlement_report_body,
    payout,
    settlement_message_body,
)
from fixbridge.normalize.style import Identifiers, Profile, RenderStyle
from fixbridge.normalize.timestamps import Precision
from fixbridge.proto.polymarket.v1 import enums_pb2
from fixbridge.proto.polymarket.v1 import marketdatasubscription_pb2 as md
from tests.quickfix_validation import quickfix_validators, validate_everywhere
from tests.unit.test_normalize_instrument import make_instrument
from tests.unit.test_normalize_position import make_change, normalize
from tests.unit.test_proto_market_data import NO_WINS, YES_WINS

SYMBOL = "aec-nfl-buf-kc-2026-01-26"
RECEIVED_NS = 1_769_486_000_000_000_000  # 2026-01-27T03:53:20Z


def settlement(text: str) -> Settlement:
    found = settlement_of(json_format.Parse(text, md.MarketDataUpdate()), price_scale=1000)
    assert found is not None
    return found


YES = settlement(YES_WINS)
NO = settlement(NO_WINS)
PRELIMINARY = replace(YES, price=Decimal("0.62"), preliminary=True)
MARK = replace(YES, price=Decimal("0.55"), resolution=False, method="", outcome="")


def position(net: int) -> PositionEvent:
    """A simulator-shaped position in the settled symbol (quantity scale 100)."""
    return normalize(make_change(symbol=SYMBOL, net_position=net))


# --- 35=W -------------------------------------------------------------------------------------


def test_a_final_resolution_is_one_settlement_price_entry() -> None:
    body = settlement_message_body(YES, RenderStyle(Precision.MILLIS), RECEIVED_NS)
    assert SETTLEMENT_MSG_TYPE == "W"
    assert body == [
        (55, SYMBOL), (48, SYMBOL), (22, "8"), (460, "12"),
        (779, "20260127-03:42:11.000"),
        (268, "1"),
        (269, "6"),  # Settlement Price
        (270, "1"),  # settlement_px 1000 / price_scale 1000: $1.00
        (272, "20260127"), (273, "03:42:11.000"),  # settlement_set_time
        (286, "2"),  # Delivery settlement entry: the event's resolution
        (58, "Buffalo Bills win"),
        (731, "1"),  # Final
    ]  # fmt: skip


def test_without_a_set_time_the_time_is_the_transact_time() -> None:
    body = dict(settlement_message_body(NO, RenderStyle(Precision.SECONDS), RECEIVED_NS))
    assert (body[270], body[272], body[273], body[779]) == (
        "0", "20260127", "03:53:20", "20260127-03:53:20",
    )  # fmt: skip
    assert body[58] == "Kansas City Chiefs win"


def test_a_preliminary_price_is_theoretical_and_an_expected_entry() -> None:
    body = dict(settlement_message_body(PRELIMINARY, RenderStyle(), RECEIVED_NS))
    assert (body[270], body[286], body[731]) == ("0.62", "3", "2")


def test_a_final_daily_mark_is_a_daily_settlement_entry_and_no_outcome_means_no_text() -> None:
    body = dict(settlement_message_body(MARK, RenderStyle(), RECEIVED_NS))
    assert (body[270], body[286], body[731]) == ("0.55", "0", "1")
    assert 58 not in body


def test_fix50sp2_leaves_out_what_the_original_dictionary_lacks() -> None:
    exchange = settlement_message_body(PRELIMINARY, RenderStyle(), RECEIVED_NS)
    original = settlement_message_body(
        PRELIMINARY, RenderStyle(profile=Profile.FIX50SP2), RECEIVED_NS
    )
    assert original == [(t, v) for t, v in exchange if t not in (779, 731)]
    assert dict(original)[286] == "3"  # still says preliminary


@pytest.mark.parametrize("profile", list(Profile))
@pytest.mark.parametrize("case", [YES, NO, PRELIMINARY, MARK])
@pytest.mark.parametrize("precision", list(Precision))
def test_quickfix_accepts_the_settlement_message(
    profile: Profile, case: Settlement, precision: Precision
) -> None:
    body = settlement_message_body(case, RenderStyle(precision, profile=profile), RECEIVED_NS)
    validate_everywhere(SETTLEMENT_MSG_TYPE, body, profile)


# --- 35=UMS -----------------------------------------------------------------------------------


def ums(
    case: Settlement,
    held: PositionEvent,
    style: RenderStyle | None = None,
    report_id: str = "r",
    paid: tuple[Settlement, PositionEvent] | None = None,
) -> list[tuple[int, str]]:
    return market_settlement_report_body(
        case, held, style or RenderStyle(), report_id, RECEIVED_NS, paid
    )


def test_a_long_position_in_a_yes_resolution_is_paid_a_dollar_a_contract() -> None:
    held = position(153_403)  # 1534.03 contracts long
    body = ums(YES, held, report_id="settle-1")
    assert MARKET_SETTLEMENT_MSG_TYPE == "UMS"
    # Kalshi's layout (docs.kalshi.com/fix/market-settlement): 730 in cents with two
    # decimals; the fee entry always present, zero when there is no fee.
    assert body == [
        (20105, "settle-1"), (55, SYMBOL),
        (715, "20260127"),  # the trade date of 2026-01-27T03:42:11Z (New York 22:42, rolled)
        (20107, "yes"), (730, "100.00"),
        (20108, "1"), (20109, "alpha-prop"), (20110, "24"), (704, "1534.03"), (705, "0"),
        (1703, "1"), (1704, "1534.03"), (1705, "PAYOUT"),
        (136, "1"), (137, "0"), (138, "USD"), (139, "4"), (891, "0"),
        (893, "Y"),
    ]  # fmt: skip


def test_a_short_position_is_paid_as_the_no_contracts_it_amounts_to() -> None:
    # Kalshi: "No outcome: No contract holders receive $1 per contract"; a YES outcome pays
    # them nothing. A payout is never negative.
    short = position(-2_000)  # 20 contracts short
    yes = dict(ums(YES, short))
    assert (yes[704], yes[705], yes[1704]) == ("0", "20", "0")
    no = dict(ums(NO, short))
    assert (no[20107], no[730], no[1704]) == ("no", "0.00", "20")


def test_payout_is_long_times_price_plus_short_times_one_minus_price_exactly() -> None:
    # Kalshi's scalar example: 100.01 contracts at $0.3060.
    scalar = replace(YES, price=Decimal("0.306"))
    assert payout(scalar, position(10_001)) == Decimal("30.60306")
    assert payout(scalar, position(-10_001)) == Decimal("69.40694")
    assert payout(MARK, position(-300)) == Decimal("1.35")
    assert dict(ums(scalar, position(10_001)))[730] == "30.60"


def test_market_result_is_yes_no_or_scalar() -> None:
    assert [market_result(Decimal(p)) for p in ("1", "1.000", "0", "0.62")] == [
        "yes", "yes", "no", "scalar",
    ]  # fmt: skip


def test_cents_are_exact_with_at_least_two_decimals() -> None:
    assert [cents(Decimal(p)) for p in ("1", "0", "0.306", "0.3065", "0.5")] == [
        "100.00", "0.00", "30.60", "30.65", "50.00",
    ]  # fmt: skip


def test_a_corrected_final_price_reports_the_difference() -> None:
    held = position(500)  # 5 contracts long: paid $5 at YES, $0 at NO
    corrected = replace(YES, price=Decimal(0), set_time_ns=YES.set_time_ns + 1)  # type: ignore[operator]
    assert dict(ums(corrected, held, paid=(YES, held)))[1704] == "-5"
    assert dict(ums(YES, held, paid=(corrected, held)))[1704] == "5"
    # Paid under the first price with the position held then (flat by the correction).
    assert dict(ums(corrected, position(0), paid=(YES, held)))[1704] == "-5"


def test_without_a_set_time_the_business_date_is_when_it_was_received() -> None:
    body = dict(ums(NO, position(100)))
    # 2026-01-27T03:53:20Z is 22:53 on the 26th in New York, after the 17:00 roll.
    assert body[715] == "20260127"


def test_the_account_follows_the_sessions_identifiers() -> None:
    style = RenderStyle(identifiers=Identifiers.RESOURCE_NAMES)
    body = dict(ums(YES, position(100), style))
    assert body[20109] == position(100).account


@pytest.mark.parametrize("profile", [Profile.FIX50SP2, Profile.LATEST])
def test_ums_is_only_for_the_exchange_profile(profile: Profile) -> None:
    with pytest.raises(ValueError, match="exchange profile"):
        ums(YES, position(1), RenderStyle(profile=profile))


def test_ums_refuses_another_symbols_position_and_an_empty_id() -> None:
    with pytest.raises(ValueError, match="settlement of"):
        ums(replace(YES, symbol="other"), position(1))
    with pytest.raises(ValueError, match="report id"):
        ums(YES, position(1), report_id="")


@pytest.mark.parametrize("case", [YES, NO, PRELIMINARY, MARK])
@pytest.mark.parametrize("net", [153_403, -2_000, 0])
def test_quickfix_accepts_ums_with_our_dictionary_and_the_stock_one_does_not(
    case: Settlement, net: int
) -> None:
    stock, ours = quickfix_validators(Profile.EXCHANGE)
    body = ums(case, position(net), report_id="settle-9")
    ours(MARKET_SETTLEMENT_MSG_TYPE, body)
    with pytest.raises(Exception, match="Invalid Message Type"):
        stock(MARKET_SETTLEMENT_MSG_TYPE, body)


# --- PositionReport ---------------------------------------------------------------------------


def test_defaults_keep_the_position_report_unchanged() -> None:
    held = position(153_403)
    assert position_report_body(held, RenderStyle(), None, None, None) == position_report_body(
        held
    )


def test_a_settlement_adds_settl_price_and_type_after_the_instrument() -> None:
    held = position(153_403)
    body = position_report_body(held, RenderStyle(), YES, Decimal("0.5"), "pos-settle-1")
    tags = [tag for tag, _ in body]
    plain = [tag for tag, _ in position_report_body(held)]
    at = plain.index(460) + 1
    assert tags == [*plain[:at], 730, 731, 734, *plain[at:]]
    fields = dict(body)
    assert (fields[721], fields[730], fields[731], fields[734]) == ("pos-settle-1", "1", "1", "0.5")


def test_a_preliminary_settlement_is_theoretical_and_a_prior_price_needs_none() -> None:
    held = position(-2_000)
    assert dict(position_report_body(held, RenderStyle(), PRELIMINARY))[731] == "2"
    only_prior = dict(position_report_body(held, RenderStyle(), prior_price=Decimal("0.25")))
    assert only_prior[734] == "0.25" and 730 not in only_prior and 731 not in only_prior


def test_a_settlement_of_another_symbol_or_an_empty_id_is_refused() -> None:
    with pytest.raises(ValueError, match="settlement of"):
        position_report_body(position(1), RenderStyle(), replace(YES, symbol="other"))
    with pytest.raises(ValueError, match="PosMaintRptID"):
        position_report_body(position(1), RenderStyle(), report_id="")


@pytest.mark.parametrize("profile", list(Profile))
@pytest.mark.parametrize("case", [YES, PRELIMINARY])
def test_quickfix_accepts_settled_position_reports(profile: Profile, case: Settlement) -> None:
    body = position_report_body(
        position(153_403), RenderStyle(profile=profile), case, Decimal("0.5"), "pos-settle-2"
    )
    validate_everywhere("AP", body, profile)


# --- SecurityStatus ---------------------------------------------------------------------------


def instrument_event(state: int) -> InstrumentEvent:
    return normalize_instrument(make_instrument(state=state), received_at_ns=RECEIVED_NS)


def status(state: int) -> list[tuple[int, str]]:
    return security_status_body(instrument_event(state), RenderStyle(), "Buffalo Bills win")


@pytest.mark.parametrize(
    ("state", "text"),
    [
        (enums_pb2.INSTRUMENT_STATE_CLOSED, "CLOSED: Buffalo Bills win"),
        (enums_pb2.INSTRUMENT_STATE_EXPIRED, "EXPIRED: Buffalo Bills win"),
        (enums_pb2.INSTRUMENT_STATE_TERMINATED, "TERMINATED: Buffalo Bills win"),
        (enums_pb2.INSTRUMENT_STATE_HALTED, "HALTED"),
        (enums_pb2.INSTRUMENT_STATE_OPEN, "OPEN"),
    ],
)
def test_the_outcome_joins_the_state_name_in_text_where_the_state_is_settled(
    state: int, text: str
) -> None:
    assert dict(status(state))[58] == text


def test_without_an_outcome_security_status_is_unchanged() -> None:
    event = instrument_event(enums_pb2.INSTRUMENT_STATE_EXPIRED)
    assert security_status_body(event, RenderStyle(), None) == security_status_body(event)
    assert security_status_body(event, RenderStyle(), "") == security_status_body(event)


def test_an_outcome_with_the_field_separator_is_refused() -> None:
    event = instrument_event(enums_pb2.INSTRUMENT_STATE_EXPIRED)
    with pytest.raises(NormalizationError):
        security_status_body(event, RenderStyle(), "a\x01b")


@pytest.mark.parametrize("profile", list(Profile))
def test_quickfix_accepts_security_status_with_an_outcome(profile: Profile) -> None:
    event = instrument_event(enums_pb2.INSTRUMENT_STATE_TERMINATED)
    body = security_status_body(event, RenderStyle(profile=profile), "x")
    validate_everywhere("f", body, profile)
