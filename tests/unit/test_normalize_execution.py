"""Execution -> ExecutionEvent -> ExecutionReport body: table-driven, properties, dictionary.

Set FIXBRIDGE_FIX50SP2_XML to the stock QuickFIX FIX50SP2.xml (from the quickfix sdist's spec/
directory) to also check every rendered body against it, the way a validating QuickFIX client
would: every tag defined for ExecutionReport, every enum value listed, groups in order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import fields, replace
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.execution import CODEC as ExecutionEvent_CODEC
from fixbridge.normalize.execution import (
    ExecutionEvent,
    execution_report_body,
    normalize_execution,
)
from fixbridge.normalize.style import Identifiers, RenderStyle
from fixbridge.normalize.timestamps import Precision
from fixbridge.proto.polymarket.v1 import enums_pb2 as pb
from fixbridge.proto.polymarket.v1 import trading_pb2
from tests.fix_dictionary import (
    HAVE_DICTIONARY,
    check_against_dictionary,
    message_spec,
    needs_dictionary,
)
from tests.quickfix_validation import validate_everywhere
from tests.unit.payloads import mutated

# 2024-05-17T19:06:47.977567695Z, as in the exchange's order-entry fill example.
TRANSACT = {"seconds": 1_715_972_807, "nanos": 977_567_695}
HEADER_AND_TRAILER = {8, 9, 35, 49, 56, 34, 52, 43, 97, 122, 10}
FILL_ONLY_TAGS = {880, 828, 1057, 12, 13, 119}


def make_order(**overrides: Any) -> trading_pb2.Order:
    values: dict[str, Any] = {
        "id": "1HQ4A5T0EDM07",
        "type": pb.ORDER_TYPE_LIMIT,
        "side": pb.SIDE_BUY,
        "order_qty": 500,
        "symbol": "tec-nfl-sbw-2026-02-08-kc",
        "clord_id": "1182560826",
        "time_in_force": pb.TIME_IN_FORCE_DAY,
        "account": "firms/ISV-X/accounts/acct-1",
        "cum_qty": 0,
        "avg_px": 0,
        "leaves_qty": 500,
        "state": pb.ORDER_STATE_NEW,
        "participant": "firms/ISV-X/users/trader-1",
        "price": 50,
        "price_scale": 100,
        "fractional_quantity_scale": 1,
    }
    values.update(overrides)
    return trading_pb2.Order(**values)


def make_execution(
    order: trading_pb2.Order | None = None, **overrides: Any
) -> trading_pb2.Execution:
    values: dict[str, Any] = {
        "id": "1HPT7DPFMC5M5",
        "order": make_order() if order is None else order,
        "type": pb.EXECUTION_TYPE_NEW,
        "transact_time": TRANSACT,
    }
    values.update(overrides)
    return trading_pb2.Execution(**values)


def make_fill(**order_overrides: Any) -> trading_pb2.Execution:
    """The spec's fee decode example: 3.12 contracts @ $0.97, commission $0.01."""
    order_values: dict[str, Any] = {
        "order_qty": 312,
        "cum_qty": 312,
        "leaves_qty": 0,
        "avg_px": 97,
        "price": 97,
        "state": pb.ORDER_STATE_FILLED,
        "price_scale": 100,
        "fractional_quantity_scale": 100,
    }
    order_values.update(order_overrides)
    return make_execution(
        make_order(**order_values),
        type=pb.EXECUTION_TYPE_FILL,
        last_shares=312,
        last_px=97,
        trade_id="1HPT7DPFMC5M4",
        aggressor=True,
        commission_notional_collected=100,
        transact_trade_date={"year": 2024, "month": 5, "day": 17},
    )


def body_of(
    execution: trading_pb2.Execution, precision: Precision = Precision.NANOS
) -> dict[int, str]:
    """Body as a dict (the Parties group is checked separately)."""
    return dict(execution_report_body(normalize_execution(execution), RenderStyle(precision)))


def set_fields(message: Any, **values: Any) -> None:
    """Assign fields by name (enum fields take plain ints, as on the wire)."""
    for name, value in values.items():
        setattr(message, name, value)


def enum_values(enum_name: str) -> list[tuple[str, int]]:
    descriptor = pb.DESCRIPTOR.enum_types_by_name[enum_name]
    return [(value.name, value.number) for value in descriptor.values]


# --- enums, table-driven ---------------------------------------------------------------------

EXEC_TYPES = {
    "EXECUTION_TYPE_NEW": "0",
    "EXECUTION_TYPE_PARTIAL_FILL": "F",
    "EXECUTION_TYPE_FILL": "F",
    "EXECUTION_TYPE_CANCELED": "4",
    "EXECUTION_TYPE_REPLACE": "5",
    "EXECUTION_TYPE_REJECTED": "8",
    "EXECUTION_TYPE_EXPIRED": "C",
    "EXECUTION_TYPE_DONE_FOR_DAY": "3",
}


@pytest.mark.parametrize(("name", "number"), enum_values("ExecutionType"))
def test_every_execution_type(name: str, number: int) -> None:
    execution = make_fill()
    set_fields(execution, type=number)
    body = body_of(execution)
    assert body[150] == EXEC_TYPES[name]
    fill = EXEC_TYPES[name] == "F"
    assert (body.keys() >= FILL_ONLY_TAGS) is fill
    assert not (FILL_ONLY_TAGS & body.keys()) or fill
    assert (103 in body) is (name == "EXECUTION_TYPE_REJECTED")
    assert 378 not in body  # no unsolicited cancel reason set


# Each OrderState with the ExecType it typically comes with, and the OrdStatus FIX expects for
# that pair (FIX 5.0 SP2 Order State Change Matrices; spec §4.7 for the state table). Where
# the state's own value would make a pair FIX does not allow (39=A with 150=0), the ExecType
# decides.
ORD_STATUSES = {
    "ORDER_STATE_NEW": (pb.EXECUTION_TYPE_NEW, "0"),
    "ORDER_STATE_PARTIALLY_FILLED": (pb.EXECUTION_TYPE_PARTIAL_FILL, "1"),
    "ORDER_STATE_FILLED": (pb.EXECUTION_TYPE_FILL, "2"),
    "ORDER_STATE_CANCELED": (pb.EXECUTION_TYPE_CANCELED, "4"),
    "ORDER_STATE_REPLACED": (pb.EXECUTION_TYPE_REPLACE, "0"),  # CumQty 0; see below
    "ORDER_STATE_REJECTED": (pb.EXECUTION_TYPE_REJECTED, "8"),
    "ORDER_STATE_EXPIRED": (pb.EXECUTION_TYPE_EXPIRED, "C"),
    "ORDER_STATE_PENDING_NEW": (pb.EXECUTION_TYPE_NEW, "0"),  # never 150=0 with 39=A
    "ORDER_STATE_PENDING_REPLACE": (pb.EXECUTION_TYPE_PARTIAL_FILL, "E"),
    "ORDER_STATE_PENDING_CANCEL": (pb.EXECUTION_TYPE_PARTIAL_FILL, "6"),
    "ORDER_STATE_PENDING_RISK": (pb.EXECUTION_TYPE_NEW, "0"),
}


@pytest.mark.parametrize(("name", "number"), enum_values("OrderState"))
def test_every_order_state(name: str, number: int) -> None:
    exec_type, expected = ORD_STATUSES[name]
    order = make_order(state=number, cum_qty=100, leaves_qty=400, avg_px=50)
    if exec_type == pb.EXECUTION_TYPE_NEW or name == "ORDER_STATE_REPLACED":
        order = make_order(state=number)
    execution = make_execution(order, type=exec_type, last_shares=100, last_px=50)
    assert body_of(execution)[39] == expected


@pytest.mark.parametrize(("cum_qty", "expected"), [(0, "0"), (1, "1"), (499, "1")])
def test_replaced_order_status_follows_cum_qty(cum_qty: int, expected: str) -> None:
    order = make_order(state=pb.ORDER_STATE_REPLACED, cum_qty=cum_qty, avg_px=50)
    body = body_of(make_execution(order, type=pb.EXECUTION_TYPE_REPLACE))
    assert (body[150], body[39]) == ("5", expected)


@pytest.mark.parametrize(("name", "number"), enum_values("Side"))
def test_every_side(name: str, number: int) -> None:
    expected = {"SIDE_BUY": "1", "SIDE_SELL": "2"}
    if name not in expected:
        with pytest.raises(NormalizationError) as caught:
            normalize_execution(make_execution(make_order(side=number)))
        assert caught.value.field == "order.side"
        return
    assert body_of(make_execution(make_order(side=number)))[54] == expected[name]


ORD_TYPES: dict[str, str | None] = {
    "ORDER_TYPE_UNDEFINED": None,
    "ORDER_TYPE_MARKET_TO_LIMIT": "K",
    "ORDER_TYPE_LIMIT": "2",
    "ORDER_TYPE_STOP": "3",
    "ORDER_TYPE_STOP_LIMIT": "4",
}


@pytest.mark.parametrize(("name", "number"), enum_values("OrderType"))
def test_every_order_type(name: str, number: int) -> None:
    body = body_of(make_execution(make_order(type=number, stop_price=45)))
    assert body.get(40) == ORD_TYPES[name]
    assert body[44] == "0.5"  # a non-zero price is always sent
    assert body[99] == "0.45"


@pytest.mark.parametrize(
    ("order_type", "price", "sends_price"),
    [
        (pb.ORDER_TYPE_MARKET_TO_LIMIT, 0, False),  # not priced yet: no 44 rather than 44=0
        (pb.ORDER_TYPE_MARKET_TO_LIMIT, 97, True),
        (pb.ORDER_TYPE_STOP, 0, False),
        (pb.ORDER_TYPE_UNDEFINED, 0, False),
        (pb.ORDER_TYPE_LIMIT, 0, True),
        (pb.ORDER_TYPE_STOP_LIMIT, 0, True),
    ],
)
def test_price_is_left_out_only_for_unpriced_order_types(
    order_type: int, price: int, sends_price: bool
) -> None:
    body = body_of(make_execution(make_order(type=order_type, price=price)))
    assert (44 in body) is sends_price
    assert body[99] == "0"  # StopPx is always sent, 0 for non-stop orders, as the exchange does


TIME_IN_FORCES = {
    "TIME_IN_FORCE_UNDEFINED": "0",
    "TIME_IN_FORCE_DAY": "0",
    "TIME_IN_FORCE_GOOD_TILL_CANCEL": "1",
    "TIME_IN_FORCE_IMMEDIATE_OR_CANCEL": "3",
    "TIME_IN_FORCE_GOOD_TILL_TIME": "6",
    "TIME_IN_FORCE_FILL_OR_KILL": "4",
}


@pytest.mark.parametrize(("name", "number"), enum_values("TimeInForce"))
def test_every_time_in_force(name: str, number: int) -> None:
    good_till = {"seconds": 1_790_000_000, "nanos": 123_456_789}
    order = make_order(time_in_force=number, good_till_time=good_till)
    body = body_of(make_execution(order), Precision.MILLIS)
    assert body[59] == TIME_IN_FORCES[name]
    if TIME_IN_FORCES[name] == "6":
        assert body[126] == "20260921-14:13:20.123"
    else:
        assert 126 not in body


def test_gtd_without_good_till_time_has_no_expire_time() -> None:
    order = make_order(time_in_force=pb.TIME_IN_FORCE_GOOD_TILL_TIME)
    body = body_of(make_execution(order))
    assert body[59] == "6"
    assert 126 not in body


@pytest.mark.parametrize(("name", "number"), enum_values("OrdRejectReason"))
def test_every_reject_reason(name: str, number: int) -> None:
    expected = {
        "ORD_REJECT_REASON_EXCHANGE_OPTION": "0",
        "ORD_REJECT_REASON_UNKNOWN_SYMBOL": "1",
        "ORD_REJECT_REASON_EXCHANGE_CLOSED": "2",
        "ORD_REJECT_REASON_INCORRECT_QUANTITY": "0",  # §3.4: size limits are 103=0
        "ORD_REJECT_REASON_INVALID_PRICE_INCREMENT": "18",
        "ORD_REJECT_REASON_INCORRECT_ORDER_TYPE": "11",
        "ORD_REJECT_REASON_PRICE_OUT_OF_BOUNDS": "0",  # §3.4: price limits are 103=0
        "ORD_REJECT_REASON_NO_LIQUIDITY": "0",  # §3.4: "No liquidity to derive limit price"
    }
    order = make_order(state=pb.ORDER_STATE_REJECTED, leaves_qty=0)
    execution = make_execution(
        order, type=pb.EXECUTION_TYPE_REJECTED, order_reject_reason=number, text="Rejected"
    )
    body = body_of(execution)
    assert (body[150], body[39], body[103], body[58]) == ("8", "8", expected[name], "Rejected")


def test_smp_newest_reject_is_103_0() -> None:
    execution = make_execution(
        make_order(state=pb.ORDER_STATE_REJECTED),
        type=pb.EXECUTION_TYPE_REJECTED,
        text="Self Match Prevention",
    )
    body = body_of(execution)
    assert (body[39], body[150], body[103]) == ("8", "8", "0")
    assert 378 not in body


@pytest.mark.parametrize(
    ("reason", "text", "smp_instruction", "expected"),
    [
        (pb.UNSOLICITED_CXL_REASON_UNDEFINED, "", 0, None),  # requested cancel
        (pb.UNSOLICITED_CXL_REASON_CONNECTION_LOSS, "", 0, "99"),
        (pb.UNSOLICITED_CXL_REASON_LOGOUT, "", 0, "99"),
        (pb.UNSOLICITED_CXL_REASON_EXCHANGE_OPTION, "", 0, "8"),
        (pb.UNSOLICITED_CXL_REASON_OTHER, "", 0, "99"),
        (pb.UNSOLICITED_CXL_REASON_UNDEFINED, "Self Match Prevention", 0, "99"),
        (pb.UNSOLICITED_CXL_REASON_EXCHANGE_OPTION, "Self Match Prevention", 0, "99"),
        # An operations cancel of an order that carries an SMP instruction is still an
        # operations cancel (§2.2: 8 = Market/exchange option).
        (pb.UNSOLICITED_CXL_REASON_EXCHANGE_OPTION, "", 2, "8"),
        (pb.UNSOLICITED_CXL_REASON_EXCHANGE_OPTION, "Cancelled by exchange operations", 3, "8"),
        (pb.UNSOLICITED_CXL_REASON_UNDEFINED, "", 2, None),
    ],
)
def test_cancel_restatement_reason(
    reason: int, text: str, smp_instruction: int, expected: str | None
) -> None:
    order = make_order(
        state=pb.ORDER_STATE_CANCELED,
        leaves_qty=0,
        self_match_prevention_instruction=smp_instruction,
    )
    execution = make_execution(
        order, type=pb.EXECUTION_TYPE_CANCELED, unsolicited_cancel_reason=reason, text=text
    )
    body = body_of(execution)
    assert (body[39], body[150], body[151]) == ("4", "4", "0")
    assert body.get(378) == expected
    assert body.get(58) == (text or None)


def test_restatement_reason_only_on_cancels() -> None:
    execution = make_execution(unsolicited_cancel_reason=pb.UNSOLICITED_CXL_REASON_EXCHANGE_OPTION)
    assert 378 not in body_of(execution)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (pb.MANUAL_ORDER_INDICATOR_UNDEFINED, None),
        (pb.MANUAL_ORDER_INDICATOR_MANUAL, "Y"),
        (pb.MANUAL_ORDER_INDICATOR_AUTOMATED, "N"),
    ],
)
def test_manual_order_indicator(number: int, expected: str | None) -> None:
    assert body_of(make_execution(make_order(manual_order_indicator=number))).get(1028) == expected


# --- exact decimals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price_scale", "qty_scale", "price", "qty", "expected_px", "expected_qty"),
    [
        (100, 1, 97, 312, "0.97", "312"),
        (100, 100, 97, 312, "0.97", "3.12"),
        (1000, 1, 525, 100, "0.525", "100"),
        (1000, 100, 525, 1, "0.525", "0.01"),
        (1000, 100, 1000, 100, "1", "1"),
        (100, 100, 5000, 50000, "50", "500"),
    ],
)
def test_scales(
    price_scale: int, qty_scale: int, price: int, qty: int, expected_px: str, expected_qty: str
) -> None:
    order = make_order(
        price=price,
        avg_px=price,
        order_qty=qty,
        cum_qty=qty,
        leaves_qty=0,
        min_qty=qty,
        state=pb.ORDER_STATE_FILLED,
        price_scale=price_scale,
        fractional_quantity_scale=qty_scale,
    )
    execution = make_execution(
        order, type=pb.EXECUTION_TYPE_FILL, last_px=price, last_shares=qty, trade_id="T1"
    )
    event = normalize_execution(execution)
    assert event.price == event.last_px == event.avg_px == Decimal(expected_px)
    assert event.order_qty == event.last_qty == event.cum_qty == Decimal(expected_qty)
    body = dict(execution_report_body(event, RenderStyle(Precision.NANOS)))
    assert body[44] == body[31] == body[6] == expected_px
    assert body[38] == body[32] == body[14] == body[110] == expected_qty
    assert body[151] == "0"
    notional = Decimal(expected_px) * Decimal(expected_qty)
    assert Decimal(body[119]) == Decimal(body[381]) == notional


def test_fee_decode_example_from_the_spec() -> None:
    event = normalize_execution(make_fill())
    assert event.last_qty == Decimal("3.12")
    assert event.last_px == Decimal("0.97")
    assert event.commission == Decimal("0.01")
    assert event.settl_curr_amt == Decimal("3.0264")
    body = dict(execution_report_body(event, RenderStyle(Precision.NANOS)))
    assert (body[12], body[13]) == ("0.01", "3")
    assert (body[32], body[31], body[119], body[381]) == ("3.12", "0.97", "3.0264", "3.0264")
    assert (body[880], body[1057], body[828], body[75]) == ("1HPT7DPFMC5M4", "Y", "0", "20240517")


@pytest.mark.parametrize(
    ("collected", "price_scale", "qty_scale", "expected"),
    [
        (-100, 100, 100, "-0.01"),  # maker rebate
        (-1, 1000, 1, "-0.001"),
        (0, 100, 100, "0"),
        (5, 1000, 1, "0.005"),
        (25, 1000, 100, "0.00025"),
        (12345, 100, 0, "123.45"),  # no fractional scale: 1
    ],
)
def test_commission(collected: int, price_scale: int, qty_scale: int, expected: str) -> None:
    execution = make_fill(price_scale=price_scale, fractional_quantity_scale=qty_scale)
    execution.commission_notional_collected = collected
    event = normalize_execution(execution)
    assert event.commission == Decimal(expected)
    assert dict(execution_report_body(event, RenderStyle(Precision.NANOS)))[12] == expected


def test_aggressor_n_on_passive_fill() -> None:
    execution = make_fill()
    execution.aggressor = False
    execution.type = pb.EXECUTION_TYPE_PARTIAL_FILL
    assert body_of(execution)[1057] == "N"


def test_missing_fractional_quantity_scale_is_one() -> None:
    event = normalize_execution(make_execution(make_order(fractional_quantity_scale=0)))
    assert event.order_qty == Decimal(500)


def test_gross_trade_amount_only_once_filled() -> None:
    assert 381 not in body_of(make_execution())
    order = make_order(
        cum_qty=200, leaves_qty=300, avg_px=52, state=pb.ORDER_STATE_PARTIALLY_FILLED
    )
    body = body_of(make_execution(order, type=pb.EXECUTION_TYPE_CANCELED))
    assert body[381] == "104"  # 0.52 * 200
    assert FILL_ONLY_TAGS.isdisjoint(body)


def test_decimals_have_no_exponent_and_no_float_artifacts() -> None:
    order = make_order(price=10**9, price_scale=1000, order_qty=10**12, leaves_qty=10**12)
    body = body_of(make_execution(order))
    assert (body[44], body[38]) == ("1000000", "1000000000000")
    order = make_order(price=1, price_scale=10**9, fractional_quantity_scale=10**8, order_qty=1)
    body = body_of(make_execution(order))
    assert (body[44], body[38]) == ("0.000000001", "0.00000001")


# --- identifiers, parties, account ----------------------------------------------------------


def test_core_fields_and_order() -> None:
    body = execution_report_body(normalize_execution(make_execution()))
    assert [tag for tag, _ in body] == [
        37, 11, 453, 448, 447, 452, 448, 447, 452, 448, 447, 452,
        17, 150, 39, 1, 55, 48, 22, 460, 54, 38, 40, 44, 99, 59,
        32, 31, 151, 14, 6, 75, 60, 797,
    ]  # fmt: skip
    values = dict(body)
    assert values[37] == "1HQ4A5T0EDM07"
    assert values[11] == "1182560826"
    assert values[17] == "1HPT7DPFMC5M5"
    assert values[55] == values[48] == "tec-nfl-sbw-2026-02-08-kc"
    assert (values[22], values[460]) == ("8", "12")
    # Spec §2.2: the exchange's drop copy sends short account ids (`1=account1`).
    assert values[1] == "acct-1"
    assert values[60] == "20240517-19:06:47.977567695"
    # 19:06:47 UTC is 15:06:47 in New York (EDT): before the 17:00 roll, same trade date.
    assert values[75] == "20240517"
    assert (values[32], values[31], values[6], values[14], values[151]) == (
        "0",
        "0",
        "0",
        "0",
        "500",
    )
    assert 167 not in values  # SecurityType EVENT is not in the stock dictionary


def test_parties_group() -> None:
    # Spec §2.2 Parties: PartyIDSource D (proprietary), role 1 executing firm, 3 end client,
    # 24 trading account; the exchange's ids are short, so the default sends the last segment
    # of each gRPC resource name. The user who entered the order is role 36 (entering trader).
    event = normalize_execution(make_execution())
    body = execution_report_body(event, RenderStyle(Precision.NANOS))
    start = [tag for tag, _ in body].index(453)
    assert body[start : start + 10] == [
        (453, "3"),
        (448, "ISV-X"), (447, "D"), (452, "1"),
        (448, "acct-1"), (447, "D"), (452, "24"),
        (448, "trader-1"), (447, "D"), (452, "36"),
    ]  # fmt: skip
    full = RenderStyle(Precision.NANOS, Identifiers.RESOURCE_NAMES)
    body = execution_report_body(event, full)
    start = [tag for tag, _ in body].index(453)
    assert body[start : start + 10] == [
        (453, "3"),
        (448, "firms/ISV-X"), (447, "D"), (452, "1"),
        (448, "firms/ISV-X/accounts/acct-1"), (447, "D"), (452, "24"),
        (448, "firms/ISV-X/users/trader-1"), (447, "D"), (452, "36"),
    ]  # fmt: skip
    assert dict(body)[1] == "firms/ISV-X/accounts/acct-1"


def test_end_client_is_party_role_3() -> None:
    order = make_order(client_participant_id="firms/ISV-X/users/client-7")
    body = execution_report_body(normalize_execution(make_execution(order)))
    parties = [(body[i][1], body[i + 2][1]) for i, (tag, _) in enumerate(body) if tag == 448]
    assert parties == [("ISV-X", "1"), ("client-7", "3"), ("acct-1", "24"), ("trader-1", "36")]


@pytest.mark.parametrize(
    ("account", "participant", "client_participant_id", "firm", "roles"),
    [
        ("firms/A/accounts/x", "firms/B/users/u", "", "A", ["1", "24", "36"]),
        ("acct-1", "firms/B/users/u", "", "B", ["1", "24", "36"]),
        ("acct-1", "", "cp-9", "", ["3", "24"]),
        ("", "", "", "", []),
        ("firms//accounts/x", "users/u", "", "", ["24", "36"]),
        ("firms/A/accounts/x/extra", "firms/B/users/u/devices/d", "", "B", ["1", "24", "36"]),
    ],
)
def test_firm_and_parties(
    account: str, participant: str, client_participant_id: str, firm: str, roles: list[str]
) -> None:
    order = make_order(
        account=account, participant=participant, client_participant_id=client_participant_id
    )
    event = normalize_execution(make_execution(order))
    assert (event.firm, event.account, event.participant) == (firm, account, participant)
    assert event.end_client == client_participant_id
    body = execution_report_body(event, RenderStyle(Precision.NANOS))
    assert [value for tag, value in body if tag == 452] == roles
    counts = [value for tag, value in body if tag == 453]
    assert counts == ([str(len(roles))] if roles else [])
    assert (1 in dict(body)) is bool(account)


def test_empty_clordid_and_text_are_not_sent() -> None:
    body = body_of(make_execution(make_order(clord_id=""), text=""))
    assert 11 not in body
    assert 58 not in body


# --- timestamps ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("precision", "expected"),
    [
        (Precision.SECONDS, "20240517-19:06:47"),
        (Precision.MILLIS, "20240517-19:06:47.999"),
        (Precision.MICROS, "20240517-19:06:47.999999"),
        (Precision.NANOS, "20240517-19:06:47.999999999"),
    ],
)
def test_timestamps_are_truncated_not_rounded(precision: Precision, expected: str) -> None:
    stamp = {"seconds": 1_715_972_807, "nanos": 999_999_999}
    order = make_order(time_in_force=pb.TIME_IN_FORCE_GOOD_TILL_TIME, good_till_time=stamp)
    event = normalize_execution(make_execution(order, transact_time=stamp))
    assert event.transact_time_ns == 1_715_972_807_999_999_999
    body = dict(execution_report_body(event, RenderStyle(precision)))
    assert body[60] == body[126] == expected


# --- AvgPx(6) and GrossTradeAmt(381) --------------------------------------------------------
# Spec §2.2: AvgPx is the "VWAP of fills", GrossTradeAmt "AvgPx x CumQty"; §4.4:
# Order.price_to_quantity_filled maps each fill price to the quantity filled at it; §1.5: FIX
# prices are decimals of up to 15 significant digits. Expected values computed by hand.


def _filled(fills: dict[int, int], cum_qty: int, avg_px: int, **order: Any) -> dict[int, str]:
    execution = make_execution(
        make_order(
            cum_qty=cum_qty,
            leaves_qty=0,
            order_qty=cum_qty,
            avg_px=avg_px,
            state=pb.ORDER_STATE_FILLED,
            price_to_quantity_filled=fills,
            **order,
        ),
        type=pb.EXECUTION_TYPE_FILL,
        last_shares=next(iter(fills.values())),
        last_px=next(iter(fills)),
        trade_id="T1",
    )
    return body_of(execution)


def test_avg_px_is_the_exact_vwap_not_the_rounded_upstream_avg_px() -> None:
    # 36 @ 0.39 + 86 @ 0.37 = 14.04 + 31.82 = 45.86 for 122 contracts; upstream's avg_px can
    # only say 0.38 at price scale 100. 45.86 / 122 = 0.3759016393442622950..., to 15
    # significant digits 0.375901639344262.
    body = _filled({39: 36, 37: 86}, cum_qty=122, avg_px=38)
    assert body[6] == "0.375901639344262"
    assert body[381] == "45.86"
    assert body[14] == "122"


def test_avg_px_exact_when_the_vwap_terminates() -> None:
    assert _filled({40: 10, 42: 10}, cum_qty=20, avg_px=41)[6] == "0.41"
    # Price scale 1000, quantity scale 100: 1.5 @ 0.525 + 2.25 @ 0.5 = 0.7875 + 1.125 = 1.9125
    # for 3.75 contracts: 0.51.
    body = _filled(
        {525: 150, 500: 225},
        cum_qty=375,
        avg_px=510,
        price_scale=1000,
        fractional_quantity_scale=100,
        price=525,
    )
    assert (body[6], body[381], body[14]) == ("0.51", "1.9125", "3.75")


def test_without_the_fill_map_avg_px_is_upstreams() -> None:
    # An exchange version older than price_to_quantity_filled (changelog v0.0.34).
    order = make_order(cum_qty=122, leaves_qty=0, avg_px=38, state=pb.ORDER_STATE_FILLED)
    body = body_of(
        make_execution(
            order, type=pb.EXECUTION_TYPE_FILL, last_shares=122, last_px=38, trade_id="T1"
        )
    )
    assert (body[6], body[381]) == ("0.38", "46.36")


def test_a_fill_map_that_does_not_add_up_is_refused() -> None:
    order = make_order(
        cum_qty=122,
        leaves_qty=0,
        avg_px=38,
        state=pb.ORDER_STATE_FILLED,
        price_to_quantity_filled={39: 36, 37: 80},
    )
    with pytest.raises(NormalizationError) as caught:
        normalize_execution(make_execution(order, type=pb.EXECUTION_TYPE_FILL))
    assert caught.value.field == "order.price_to_quantity_filled"
    assert "116" in str(caught.value) and "122" in str(caught.value)


def test_trade_date() -> None:
    # The exchange's own transact_trade_date wins when it sends one.
    execution = make_execution(transact_trade_date={"year": 2026, "month": 2, "day": 8})
    assert body_of(execution)[75] == "20260208"
    # Else the trade date of the transact time: the day rolls at 17:00 New York (spec §1.4).
    assert body_of(make_execution())[75] == "20240517"  # 15:06:47 EDT
    after_roll = {"seconds": 1_715_981_400, "nanos": 0}  # 2024-05-17 21:30 UTC = 17:30 EDT
    assert body_of(make_execution(transact_time=after_roll))[75] == "20240518"


# --- bad input -------------------------------------------------------------------------------


def _clear(*path: str) -> Callable[[trading_pb2.Execution], None]:
    def mutate(execution: trading_pb2.Execution) -> None:
        target: Any = execution
        for name in path[:-1]:
            target = getattr(target, name)
        target.ClearField(path[-1])

    return mutate


def _set(path: str, value: object) -> Callable[[trading_pb2.Execution], None]:
    *parents, leaf = path.split(".")

    def mutate(execution: trading_pb2.Execution) -> None:
        target: Any = execution
        for name in parents:
            target = getattr(target, name)
        setattr(target, leaf, value)

    return mutate


def _epoch_zero(execution: trading_pb2.Execution) -> None:
    """A present but all-default Timestamp: the exchange never means 1970-01-01T00:00:00Z."""
    execution.transact_time.Clear()
    execution.transact_time.SetInParent()
    assert execution.HasField("transact_time")


BAD_INPUTS: list[tuple[str, Callable[[trading_pb2.Execution], None], str]] = [
    ("missing id", _clear("id"), "id"),
    ("missing order", _clear("order"), "order"),
    ("missing order id", _clear("order", "id"), "order.id"),
    ("missing symbol", _clear("order", "symbol"), "order.symbol"),
    ("price scale absent", _clear("order", "price_scale"), "order.price_scale"),
    ("price scale negative", _set("order.price_scale", -100), "order.price_scale"),
    (
        "qty scale negative",
        _set("order.fractional_quantity_scale", -1),
        "order.fractional_quantity_scale",
    ),
    ("missing transact time", _clear("transact_time"), "transact_time"),
    ("epoch-zero transact time", _epoch_zero, "transact_time"),
    ("pre-epoch transact time", _set("transact_time.seconds", -5), "transact_time.seconds"),
    ("year 10000", _set("transact_time.seconds", 253_402_300_800), "transact_time.seconds"),
    ("negative nanos", _set("transact_time.nanos", -1), "transact_time.nanos"),
    ("nanos overflow", _set("transact_time.nanos", 1_000_000_000), "transact_time.nanos"),
    ("unknown execution type", _set("type", 8), "type"),
    ("unknown order state", _set("order.state", 11), "order.state"),
    ("undefined side", _set("order.side", 0), "order.side"),
    ("unknown side", _set("order.side", 3), "order.side"),
    ("unknown order type", _set("order.type", 5), "order.type"),
    ("unknown time in force", _set("order.time_in_force", 6), "order.time_in_force"),
    (
        "unknown manual indicator",
        _set("order.manual_order_indicator", 3),
        "order.manual_order_indicator",
    ),
    ("SOH in text", _set("text", "a\x01b"), "text"),
    ("SOH in clordid", _set("order.clord_id", "x\x0135=D"), "order.clord_id"),
    ("SOH in account", _set("order.account", "\x01"), "order.account"),
    ("inexact price", _set("order.price_scale", 3), "order.price"),
    ("bad trade date", _set("transact_trade_date.month", 13), "transact_trade_date"),
]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [(mutate, field) for _, mutate, field in BAD_INPUTS],
    ids=[name for name, _, _ in BAD_INPUTS],
)
def test_bad_input_is_a_normalization_error(
    mutate: Callable[[trading_pb2.Execution], None], field: str
) -> None:
    execution = make_execution(transact_trade_date={"year": 2024, "month": 5, "day": 17})
    mutate(execution)
    with pytest.raises(NormalizationError) as caught:
        normalize_execution(execution)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_bad_scale_message_names_field_and_value() -> None:
    with pytest.raises(NormalizationError) as caught:
        normalize_execution(make_execution(make_order(price_scale=-7)))
    assert str(caught.value) == "order.price_scale: must be a positive integer (got -7)"
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("execution_type", "field", "number"),
    [
        (pb.EXECUTION_TYPE_REJECTED, "order_reject_reason", 8),
        (pb.EXECUTION_TYPE_CANCELED, "unsolicited_cancel_reason", 5),
    ],
)
def test_unknown_reason_numbers(execution_type: int, field: str, number: int) -> None:
    execution = make_execution(type=execution_type)
    set_fields(execution, **{field: number})
    with pytest.raises(NormalizationError) as caught:
        normalize_execution(execution)
    assert caught.value.field == field
    assert caught.value.value == number
    # The same number on an execution where the reason does not apply is ignored.
    execution.type = pb.EXECUTION_TYPE_NEW
    body = body_of(execution)
    assert 103 not in body
    assert 378 not in body


# --- payload ---------------------------------------------------------------------------------


def _payload_cases() -> list[trading_pb2.Execution]:
    cancel = make_execution(
        make_order(state=pb.ORDER_STATE_CANCELED, manual_order_indicator=1, min_qty=3),
        type=pb.EXECUTION_TYPE_CANCELED,
        text="Self Match Prevention",
        unsolicited_cancel_reason=pb.UNSOLICITED_CXL_REASON_OTHER,
    )
    rebate = make_fill()
    rebate.commission_notional_collected = -100
    gtd = make_execution(
        make_order(
            time_in_force=pb.TIME_IN_FORCE_GOOD_TILL_TIME,
            good_till_time={"seconds": 1_790_000_000, "nanos": 5},
            type=pb.ORDER_TYPE_UNDEFINED,
        )
    )
    return [make_execution(), make_fill(), cancel, rebate, gtd]


def _assert_identical(left: ExecutionEvent, right: ExecutionEvent) -> None:
    assert left == right
    for spec in fields(ExecutionEvent):
        a, b = getattr(left, spec.name), getattr(right, spec.name)
        assert (type(a), str(a)) == (type(b), str(b)), spec.name


@pytest.mark.parametrize("execution", _payload_cases())
def test_payload_round_trip(execution: trading_pb2.Execution) -> None:
    event = normalize_execution(execution)
    payload = event.to_payload()
    assert b" " not in payload.replace(b"Self Match Prevention", b"")
    back = ExecutionEvent.from_payload(payload)
    _assert_identical(event, back)
    assert back.to_payload() == payload
    assert execution_report_body(back, RenderStyle(Precision.NANOS)) == execution_report_body(
        event, RenderStyle(Precision.NANOS)
    )


def test_payload_keeps_none_and_decimal_strings() -> None:
    document = json.loads(normalize_execution(make_fill()).to_payload())
    assert document["commission"] == "0.01"
    assert document["last_qty"] == "3.12"
    assert document["text"] is None
    assert document["transact_time_ns"] == 1_715_972_807_977_567_695
    event = replace(normalize_execution(make_fill()), price=Decimal("0.970"))
    assert str(ExecutionEvent.from_payload(event.to_payload()).price) == "0.970"


def _corrupt(mutate: Callable[[dict[str, Any]], object]) -> bytes:
    return mutated(normalize_execution(make_fill()).to_payload(), mutate)


CORRUPT_PAYLOADS: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("not json", b"{exec_id"),
    ("not utf-8", b"\xff\xfe"),
    ("list", b"[]"),
    ("deeply nested", b"[" * 100_000 + b"]" * 100_000),
    ("null", b"null"),
    ("missing key", _corrupt(lambda d: d.pop("price"))),
    ("extra key", _corrupt(lambda d: d.update(extra=1))),
    ("decimal as number", _corrupt(lambda d: d.update(price=0.97))),
    ("decimal garbage", _corrupt(lambda d: d.update(price="abc"))),
    ("decimal NaN", _corrupt(lambda d: d.update(price="NaN"))),
    ("decimal infinity", _corrupt(lambda d: d.update(commission="-Infinity"))),
    ("null required", _corrupt(lambda d: d.update(exec_id=None))),
    ("int as string", _corrupt(lambda d: d.update(transact_time_ns="1"))),
    ("bool as int", _corrupt(lambda d: d.update(transact_time_ns=True))),
    ("int as bool", _corrupt(lambda d: d.update(aggressor=1))),
    ("string as int", _corrupt(lambda d: d.update(symbol=5))),
]


@pytest.mark.parametrize(
    "payload", [p for _, p in CORRUPT_PAYLOADS], ids=[n for n, _ in CORRUPT_PAYLOADS]
)
def test_corrupt_payload_is_a_normalization_error(payload: bytes) -> None:
    with pytest.raises(NormalizationError) as caught:
        ExecutionEvent.from_payload(payload)
    assert caught.value.field.startswith("payload")


def _decoded(decode: Callable[[object, str], object], document: object) -> tuple[object, ...]:
    try:
        return ("event", decode(document, ""))
    except NormalizationError as exc:
        return ("error", exc.field, str(exc))


def test_the_compiled_decoder_agrees_with_the_checked_one_on_every_wrong_value() -> None:
    """The payload codec decodes a current document with a compiled function and falls back
    to the checked path on anything that function refuses: for each field, a value of each
    wrong kind gives the same outcome both ways (the same error, naming the same field)."""
    codec = ExecutionEvent_CODEC
    document = json.loads(normalize_execution(make_fill()).to_payload())
    assert _decoded(codec.from_document, document)[0] == "event"
    assert _decoded(codec.from_document, document) == _decoded(codec._checked, document)
    for name in document:
        for wrong in (None, 7, True, "x", "NaN", "1E+2", 1.5, [], {}):
            bad = {**document, name: wrong}
            assert _decoded(codec.from_document, bad) == _decoded(codec._checked, bad), (
                name, wrong,
            )  # fmt: skip


# --- the stock FIX50SP2 dictionary, as a validating QuickFIX client applies it -------------


def _representative_executions() -> list[trading_pb2.Execution]:
    cases = _payload_cases()
    for _, number in enum_values("ExecutionType"):
        for _, reason in enum_values("OrdRejectReason"):
            execution = make_fill(
                type=pb.ORDER_TYPE_MARKET_TO_LIMIT,
                time_in_force=pb.TIME_IN_FORCE_GOOD_TILL_TIME,
                good_till_time={"seconds": 1_790_000_000},
                min_qty=100,
                manual_order_indicator=pb.MANUAL_ORDER_INDICATOR_AUTOMATED,
                self_match_prevention_instruction=1,
            )
            set_fields(
                execution,
                type=number,
                order_reject_reason=reason,
                unsolicited_cancel_reason=reason % 5,
                text="Self Match Prevention",
            )
            cases.append(execution)
    for name, number in enum_values("OrderState") + enum_values("TimeInForce"):
        key = "state" if name.startswith("ORDER_STATE") else "time_in_force"
        cases.append(make_execution(make_order(**{key: number})))
    return cases


@needs_dictionary
@pytest.mark.parametrize("precision", list(Precision))
def test_rendered_bodies_satisfy_the_stock_dictionary(precision: Precision) -> None:
    spec = message_spec("8")
    assert not HEADER_AND_TRAILER & set(spec.top) - {43}  # sanity: body tags only
    for execution in _representative_executions():
        check_against_dictionary(
            execution_report_body(normalize_execution(execution), RenderStyle(precision)), spec
        )


@needs_dictionary
def test_dictionary_checker_catches_violations() -> None:
    spec = message_spec("8")
    good = execution_report_body(normalize_execution(make_fill()))
    check_against_dictionary(good, spec)
    bad_bodies = [
        [*good, (7928, "smp-1")],  # user-defined tag
        [*good, (167, "EVENT")],  # value not in the stock dictionary
        [(tag, "Z") if tag == 150 else (tag, value) for tag, value in good],
        [*good, (58, "")],  # empty value
        [(tag, "2") if tag == 453 else (tag, value) for tag, value in good],  # wrong count
        [(447, "D") if tag == 448 else (448, v) if tag == 447 else (tag, v) for tag, v in good],
        [(60, "x"), *good],  # out of declaration order / bad timestamp
    ]
    for bad in bad_bodies:
        with pytest.raises(AssertionError):
            check_against_dictionary(bad, spec)


# --- property: total over arbitrary protobufs ------------------------------------------------

INT64 = st.integers(-(2**63), 2**63 - 1)
INT32 = st.integers(-(2**31), 2**31 - 1)
SMALL = st.integers(-3, 1_000_000)
AMOUNTS = st.one_of(SMALL, INT64)
ENUMS = st.one_of(st.integers(-2, 14), INT32)
SCALES = st.one_of(st.sampled_from([0, -1, -100, 1, 3, 7, 100, 1000, 10**18, 2**62]), INT64)
TEXTS = st.one_of(
    st.sampled_from(
        ["", "x", "Self Match Prevention", "a\x01b", "firms/F/accounts/A", "firms/F/users/U"]
    ),
    st.text(max_size=12),
)
TIMESTAMPS = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {
            "seconds": st.one_of(st.integers(-10, 300_000_000_000), INT64),
            "nanos": st.one_of(st.integers(-1, 1_000_000_000), INT32),
        }
    ),
)
DATES = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"year": st.one_of(st.integers(0, 10_000), INT32), "month": INT32, "day": INT32}
    ),
    st.fixed_dictionaries(
        {"year": st.integers(1, 9999), "month": st.integers(1, 12), "day": st.integers(1, 31)}
    ),
)


def _without_none(values: Mapping[str, object]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


ORDERS = st.builds(
    lambda values: trading_pb2.Order(**_without_none(values)),
    st.fixed_dictionaries(
        {
            "id": TEXTS,
            "type": ENUMS,
            "side": ENUMS,
            "order_qty": AMOUNTS,
            "symbol": TEXTS,
            "clord_id": TEXTS,
            "time_in_force": ENUMS,
            "account": TEXTS,
            "cum_qty": AMOUNTS,
            "avg_px": AMOUNTS,
            "leaves_qty": AMOUNTS,
            "state": ENUMS,
            "participant": TEXTS,
            "price": AMOUNTS,
            "stop_price": AMOUNTS,
            "min_qty": AMOUNTS,
            "client_participant_id": TEXTS,
            "good_till_time": TIMESTAMPS,
            "self_match_prevention_instruction": ENUMS,
            "manual_order_indicator": ENUMS,
            "price_scale": SCALES,
            "fractional_quantity_scale": SCALES,
        }
    ),
)
EXECUTIONS = st.builds(
    lambda values: trading_pb2.Execution(**_without_none(values)),
    st.fixed_dictionaries(
        {
            "id": TEXTS,
            "order": st.one_of(st.none(), ORDERS),
            "last_shares": AMOUNTS,
            "last_px": AMOUNTS,
            "type": ENUMS,
            "text": TEXTS,
            "order_reject_reason": ENUMS,
            "transact_time": TIMESTAMPS,
            "trade_id": TEXTS,
            "aggressor": st.booleans(),
            "commission_notional_collected": AMOUNTS,
            "unsolicited_cancel_reason": ENUMS,
            "transact_trade_date": DATES,
        }
    ),
)


def _plausible(execution: trading_pb2.Execution) -> trading_pb2.Execution:
    """Nudge a random execution towards valid, so the success path gets exercised too."""
    plausible = trading_pb2.Execution()
    plausible.CopyFrom(execution)
    plausible.id = plausible.id.replace("\x01", "") or "E1"
    order = plausible.order
    order.id = order.id.replace("\x01", "") or "O1"
    order.symbol = order.symbol.replace("\x01", "") or "S1"
    order.price_scale = 10 ** (abs(order.price_scale) % 4) * 100
    order.fractional_quantity_scale = 10 ** (abs(order.fractional_quantity_scale) % 3)
    for name in ("side", "type", "time_in_force", "manual_order_indicator"):
        setattr(order, name, abs(getattr(order, name)) % 3)
    set_fields(order, side=order.side or 1, state=abs(order.state) % 11)
    set_fields(
        plausible,
        type=abs(plausible.type) % 8,
        order_reject_reason=abs(plausible.order_reject_reason) % 8,
        unsolicited_cancel_reason=abs(plausible.unsolicited_cancel_reason) % 5,
    )
    plausible.transact_time.seconds = abs(plausible.transact_time.seconds) % 10**10 + 1
    plausible.transact_time.nanos = abs(plausible.transact_time.nanos) % 10**9
    plausible.ClearField("transact_trade_date")
    order.ClearField("good_till_time")
    for name in ("clord_id", "account", "participant", "client_participant_id"):
        setattr(order, name, getattr(order, name).replace("\x01", ""))
    for name in ("text", "trade_id"):
        setattr(plausible, name, getattr(plausible, name).replace("\x01", ""))
    return plausible


def _check_total(execution: trading_pb2.Execution) -> bool:
    """Either a NormalizationError, or an event whose body renders cleanly at every precision."""
    try:
        event = normalize_execution(execution)
    except NormalizationError as error:
        assert error.field
        assert str(error).startswith(error.field)
        return False
    for precision in Precision:
        body = execution_report_body(event, RenderStyle(precision))
        for tag, value in body:
            assert isinstance(tag, int) and 0 < tag < 5000
            assert isinstance(value, str) and value and "\x01" not in value
            assert "E" not in value or tag not in {
                6,
                12,
                14,
                31,
                32,
                38,
                44,
                99,
                110,
                119,
                151,
                381,
            }
        assert not HEADER_AND_TRAILER & {tag for tag, _ in body}
        if HAVE_DICTIONARY:
            check_against_dictionary(body, message_spec("8"))
    _assert_identical(ExecutionEvent.from_payload(event.to_payload()), event)
    return True


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXECUTIONS)
def test_arbitrary_executions_normalize_or_raise_normalization_error(
    execution: trading_pb2.Execution,
) -> None:
    _check_total(execution)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXECUTIONS)
def test_nearly_valid_executions_normalize(execution: trading_pb2.Execution) -> None:
    assert _check_total(_plausible(execution))


# --- the real thing: QuickFIX's own validator, when the quickfix package is installed --------


def _quickfix_validator() -> Callable[[list[tuple[int, str]]], None]:
    """Validate an ExecutionReport body as QuickFIX would, with the stock dictionaries and ours."""
    return partial(validate_everywhere, "8")


@needs_dictionary
def test_quickfix_accepts_every_representative_body() -> None:
    validate = _quickfix_validator()
    for execution in _representative_executions():
        for precision in Precision:
            validate(execution_report_body(normalize_execution(execution), RenderStyle(precision)))
    with pytest.raises(Exception, match="167"):
        body = execution_report_body(normalize_execution(make_fill()))
        validate([*body, (167, "EVENT")])


@needs_dictionary
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXECUTIONS, st.sampled_from(list(Precision)))
def test_quickfix_accepts_arbitrary_valid_bodies(
    execution: trading_pb2.Execution, precision: Precision
) -> None:
    validate = _cached_quickfix_validator()
    event = normalize_execution(_plausible(execution))
    validate(execution_report_body(event, RenderStyle(precision)))


def _cached_quickfix_validator() -> Callable[[list[tuple[int, str]]], None]:
    return _quickfix_validator()
