"""gRPC enum number -> FIX value tables: every value of every mapped enum, unknowns are errors.

The expected values are written out here independently of the tables (spec/exchange-api.md §4.7
and §2.2), and every gRPC enum value in the generated protobuf module must be covered, so a new
upstream value fails a test instead of slipping through.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path

import pytest

from fixbridge.normalize import enums
from fixbridge.normalize.errors import NormalizationError
from fixbridge.proto.polymarket.v1 import enums_pb2 as pb

EXPECTED_EXEC_TYPE = {
    "EXECUTION_TYPE_NEW": "0",
    "EXECUTION_TYPE_PARTIAL_FILL": "F",
    "EXECUTION_TYPE_FILL": "F",
    "EXECUTION_TYPE_CANCELED": "4",
    "EXECUTION_TYPE_REPLACE": "5",
    "EXECUTION_TYPE_REJECTED": "8",
    "EXECUTION_TYPE_EXPIRED": "C",
    "EXECUTION_TYPE_DONE_FOR_DAY": "3",
}
EXPECTED_ORD_STATUS = {  # REPLACED is tested separately (depends on CumQty)
    "ORDER_STATE_NEW": "0",
    "ORDER_STATE_PARTIALLY_FILLED": "1",
    "ORDER_STATE_FILLED": "2",
    "ORDER_STATE_CANCELED": "4",
    "ORDER_STATE_REJECTED": "8",
    "ORDER_STATE_EXPIRED": "C",
    "ORDER_STATE_PENDING_NEW": "A",
    "ORDER_STATE_PENDING_REPLACE": "E",
    "ORDER_STATE_PENDING_CANCEL": "6",
    "ORDER_STATE_PENDING_RISK": "A",
}
EXPECTED_ORD_TYPE: dict[str, str | None] = {
    "ORDER_TYPE_UNDEFINED": None,
    "ORDER_TYPE_MARKET_TO_LIMIT": "K",
    "ORDER_TYPE_LIMIT": "2",
    "ORDER_TYPE_STOP": "3",
    "ORDER_TYPE_STOP_LIMIT": "4",
}
EXPECTED_TIME_IN_FORCE = {
    "TIME_IN_FORCE_UNDEFINED": "0",
    "TIME_IN_FORCE_DAY": "0",
    "TIME_IN_FORCE_GOOD_TILL_CANCEL": "1",
    "TIME_IN_FORCE_IMMEDIATE_OR_CANCEL": "3",
    "TIME_IN_FORCE_GOOD_TILL_TIME": "6",
    "TIME_IN_FORCE_FILL_OR_KILL": "4",
}
EXPECTED_SIDE = {"SIDE_BUY": "1", "SIDE_SELL": "2"}
EXPECTED_ORD_REJ_REASON = {
    "ORD_REJECT_REASON_EXCHANGE_OPTION": "0",
    "ORD_REJECT_REASON_UNKNOWN_SYMBOL": "1",
    "ORD_REJECT_REASON_EXCHANGE_CLOSED": "2",
    "ORD_REJECT_REASON_INCORRECT_QUANTITY": "13",
    "ORD_REJECT_REASON_INVALID_PRICE_INCREMENT": "18",
    "ORD_REJECT_REASON_INCORRECT_ORDER_TYPE": "11",
    "ORD_REJECT_REASON_PRICE_OUT_OF_BOUNDS": "16",
    "ORD_REJECT_REASON_NO_LIQUIDITY": "99",
}
EXPECTED_EXEC_RESTATEMENT: dict[str, str | None] = {
    "UNSOLICITED_CXL_REASON_UNDEFINED": None,
    "UNSOLICITED_CXL_REASON_CONNECTION_LOSS": "99",
    "UNSOLICITED_CXL_REASON_LOGOUT": "99",
    "UNSOLICITED_CXL_REASON_EXCHANGE_OPTION": "8",
    "UNSOLICITED_CXL_REASON_OTHER": "99",
}
EXPECTED_MANUAL: dict[str, bool | None] = {
    "MANUAL_ORDER_INDICATOR_UNDEFINED": None,
    "MANUAL_ORDER_INDICATOR_MANUAL": True,
    "MANUAL_ORDER_INDICATOR_AUTOMATED": False,
}


def _restatement(number: int) -> str | None:
    return enums.fix_exec_restatement_reason(number, text="", smp_instruction=0)


# (gRPC enum, lookup, expected by value name, value names that must raise)
CASES: list[tuple[str, Callable[[int], object], Mapping[str, object], frozenset[str]]] = [
    ("ExecutionType", enums.fix_exec_type, EXPECTED_EXEC_TYPE, frozenset()),
    (
        "OrderState",
        lambda n: enums.fix_ord_status(n, cum_qty=0),
        EXPECTED_ORD_STATUS | {"ORDER_STATE_REPLACED": "0"},
        frozenset(),
    ),
    ("OrderType", enums.fix_ord_type, EXPECTED_ORD_TYPE, frozenset()),
    ("TimeInForce", enums.fix_time_in_force, EXPECTED_TIME_IN_FORCE, frozenset()),
    ("Side", enums.fix_side, EXPECTED_SIDE, frozenset({"SIDE_UNDEFINED"})),
    ("OrdRejectReason", enums.fix_ord_rej_reason, EXPECTED_ORD_REJ_REASON, frozenset()),
    ("UnsolicitedCxlReason", _restatement, EXPECTED_EXEC_RESTATEMENT, frozenset()),
    ("ManualOrderIndicator", enums.fix_manual_order_indicator, EXPECTED_MANUAL, frozenset()),
]
CASE_IDS = [case[0] for case in CASES]


def _enum_values(enum_name: str) -> list[tuple[str, int]]:
    return [
        (value.name, value.number) for value in pb.DESCRIPTOR.enum_types_by_name[enum_name].values
    ]


@pytest.mark.parametrize(("enum_name", "lookup", "expected", "invalid"), CASES, ids=CASE_IDS)
def test_every_grpc_value_is_mapped_or_refused(
    enum_name: str,
    lookup: Callable[[int], object],
    expected: Mapping[str, object],
    invalid: frozenset[str],
) -> None:
    values = _enum_values(enum_name)
    assert {name for name, _ in values} == set(expected) | invalid, "a gRPC value is untested"
    for name, number in values:
        if name in invalid:
            with pytest.raises(NormalizationError):
                lookup(number)
        else:
            assert lookup(number) == expected[name], name


@pytest.mark.parametrize(("enum_name", "lookup", "expected", "invalid"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("unknown", [-1, 99, 2**31 - 1])
def test_unknown_number_is_a_normalization_error(
    enum_name: str,
    lookup: Callable[[int], object],
    expected: Mapping[str, object],
    invalid: frozenset[str],
    unknown: int,
) -> None:
    with pytest.raises(NormalizationError) as caught:
        lookup(unknown)
    assert str(unknown) in str(caught.value)
    assert enum_name in str(caught.value)
    assert caught.value.value == unknown


def test_error_names_the_field() -> None:
    with pytest.raises(NormalizationError) as caught:
        enums.fix_exec_type(42)
    assert caught.value.field == "type"
    assert str(caught.value).startswith("type: ")
    with pytest.raises(NormalizationError) as caught:
        enums.fix_side(7, field="order.side")
    assert caught.value.field == "order.side"


@pytest.mark.parametrize(
    ("cum_qty", "expected"),
    [(0, "0"), (Decimal(0), "0"), (Decimal("0.00"), "0"), (1, "1"), (Decimal("0.01"), "1")],
)
def test_replaced_is_new_without_fills_else_partially_filled(
    cum_qty: int | Decimal, expected: str
) -> None:
    assert enums.fix_ord_status(pb.ORDER_STATE_REPLACED, cum_qty=cum_qty) == expected


def test_cum_qty_does_not_change_other_states() -> None:
    for name, number in _enum_values("OrderState"):
        if name != "ORDER_STATE_REPLACED":
            assert enums.fix_ord_status(number, cum_qty=5) == EXPECTED_ORD_STATUS[name]


@pytest.mark.parametrize(
    "text",
    [
        "Self Match Prevention",
        "cancelled: self match prevention",
        "SELF MATCH PREVENTION (resting)",
    ],
)
@pytest.mark.parametrize("reason", [number for _, number in _enum_values("UnsolicitedCxlReason")])
def test_smp_text_makes_any_cancel_99(text: str, reason: int) -> None:
    assert enums.fix_exec_restatement_reason(reason, text=text, smp_instruction=0) == "99"


@pytest.mark.parametrize(
    "instruction", [number for _, number in _enum_values("SelfMatchPreventionInstruction")][1:]
)
def test_smp_instruction_makes_unsolicited_cancel_99(instruction: int) -> None:
    exchange_option = pb.UNSOLICITED_CXL_REASON_EXCHANGE_OPTION
    assert (
        enums.fix_exec_restatement_reason(exchange_option, text="", smp_instruction=instruction)
        == "99"
    )
    # A requested (solicited) cancel of an SMP order is not an SMP cancel.
    undefined = pb.UNSOLICITED_CXL_REASON_UNDEFINED
    assert (
        enums.fix_exec_restatement_reason(undefined, text="", smp_instruction=instruction) is None
    )


def test_unknown_cancel_reason_is_refused_even_with_smp_instruction() -> None:
    with pytest.raises(NormalizationError) as caught:
        enums.fix_exec_restatement_reason(9, text="", smp_instruction=2)
    assert caught.value.field == "unsolicited_cancel_reason"


def test_tables_are_not_if_chains() -> None:
    for table in (
        enums.EXEC_TYPE,
        enums.ORD_STATUS,
        enums.ORD_TYPE,
        enums.TIME_IN_FORCE,
        enums.SIDE,
        enums.ORD_REJ_REASON,
        enums.EXEC_RESTATEMENT_REASON,
        enums.MANUAL_ORDER_INDICATOR,
    ):
        assert isinstance(table, dict)
        assert table


# --- the stock QuickFIX FIX50SP2.xml allows every value the tables produce -------------------

_DICTIONARY = os.environ.get("FIXBRIDGE_FIX50SP2_XML", "")

VALUES_BY_TAG: dict[int, set[str]] = {
    150: set(enums.EXEC_TYPE.values()),
    39: set(enums.ORD_STATUS.values()) | set(enums.REPLACED_ORD_STATUS.values()),
    40: set(enums.ORD_TYPE.values()),
    59: set(enums.TIME_IN_FORCE.values()),
    54: set(enums.SIDE.values()),
    103: set(enums.ORD_REJ_REASON.values()),
    378: set(enums.EXEC_RESTATEMENT_REASON.values()) | {enums.SMP_EXEC_RESTATEMENT_REASON},
}


@pytest.mark.skipif(
    not _DICTIONARY or not Path(_DICTIONARY).is_file(),
    reason="set FIXBRIDGE_FIX50SP2_XML to the stock QuickFIX FIX50SP2.xml",
)
def test_every_fix_value_is_in_the_stock_dictionary() -> None:
    root = ET.parse(_DICTIONARY).getroot()
    fields_node = root.find("fields")
    assert fields_node is not None
    allowed = {
        int(field.attrib["number"]): {value.attrib["enum"] for value in field.iter("value")}
        for field in fields_node
    }
    types = {int(field.attrib["number"]): field.attrib["type"] for field in fields_node}
    for tag, values in VALUES_BY_TAG.items():
        assert values <= allowed[tag], tag
    # ManualOrderIndicator lists no values in the stock file; its type makes QuickFIX check Y/N.
    assert types[1028] == "BOOLEAN"


def test_done_for_day_execution_reports_ord_status_done_for_day() -> None:
    # Upstream has no DONE_FOR_DAY order state; the execution type decides.
    from fixbridge.normalize.enums import fix_ord_status
    from fixbridge.proto.polymarket.v1 import enums_pb2

    assert fix_ord_status(enums_pb2.ORDER_STATE_EXPIRED, cum_qty=0, exec_type="3") == "3"
    assert fix_ord_status(enums_pb2.ORDER_STATE_EXPIRED, cum_qty=0, exec_type="C") == "C"
