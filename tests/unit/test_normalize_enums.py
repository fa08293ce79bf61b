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
    "ORD_REJECT_REASON_UNKNOWN_SYMBOL": "1",  # §2.2 103 table
    "ORD_REJECT_REASON_EXCHANGE_CLOSED": "2",  # §3.4: "Book is CLOSED / SUSPENDED / HALTED" -> 2
    # §3.4: order size limits, "Minimum trade quantity is 100, given 99" -> 103=0
    "ORD_REJECT_REASON_INCORRECT_QUANTITY": "0",
    "ORD_REJECT_REASON_INVALID_PRICE_INCREMENT": "18",  # §2.2: 18 Invalid price increment
    "ORD_REJECT_REASON_INCORRECT_ORDER_TYPE": "11",  # §2.2: 11 Unsupported order characteristic
    # §3.4: "Low/High price limit is 0.5, given 0.49" -> 103=0
    "ORD_REJECT_REASON_PRICE_OUT_OF_BOUNDS": "0",
    # §3.4: "No liquidity to derive limit price" -> 103=0
    "ORD_REJECT_REASON_NO_LIQUIDITY": "0",
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
    return enums.fix_exec_restatement_reason(number, text="")


def _state_status(number: int) -> str:
    """OrderState -> OrdStatus as the table has it; REPLACED (no FIX status) and unknown
    numbers go through fix_ord_status, which decides the one and refuses the other."""
    if number in enums.ORD_STATUS:
        return enums.ORD_STATUS[number]
    exec_type = "5" if number == pb.ORDER_STATE_REPLACED else "0"
    return enums.fix_ord_status(
        number, exec_type=exec_type, cum_qty=Decimal(0), leaves_qty=Decimal(1)
    )


# (gRPC enum, lookup, expected by value name, value names that must raise)
CASES: list[tuple[str, Callable[[int], object], Mapping[str, object], frozenset[str]]] = [
    ("ExecutionType", enums.fix_exec_type, EXPECTED_EXEC_TYPE, frozenset()),
    (
        "OrderState",
        _state_status,
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


# OrdStatus values FIX allows after each ExecType (FIX 5.0 SP2 Order State Change Matrices:
# New -> New; Trade -> Partially filled, Filled, or a pending status that takes precedence;
# Canceled -> Canceled; Replaced -> New, Partially filled or Filled; Rejected, Expired, Done
# for day -> themselves). Written here independently of enums.ALLOWED_ORD_STATUS.
FIX_PAIRS = {
    "0": {"0"},
    "F": {"1", "2", "6", "E"},
    "4": {"4"},
    "5": {"0", "1", "2"},
    "8": {"8"},
    "C": {"C"},
    "3": {"3"},
}


@pytest.mark.parametrize("exec_type", sorted(FIX_PAIRS))
@pytest.mark.parametrize(("name", "number"), _enum_values("OrderState"))
@pytest.mark.parametrize(("cum", "leaves"), [(0, 10), (4, 6), (10, 0)])
def test_every_state_and_exec_type_give_a_pair_fix_allows(
    exec_type: str, name: str, number: int, cum: int, leaves: int
) -> None:
    status = enums.fix_ord_status(
        number, exec_type=exec_type, cum_qty=Decimal(cum), leaves_qty=Decimal(leaves)
    )
    assert status in FIX_PAIRS[exec_type], (name, exec_type, status)


@pytest.mark.parametrize(
    ("state", "exec_type", "cum", "leaves", "expected"),
    [
        # Defect: 150=0 with 39=A (a New acknowledged while upstream still says PENDING_NEW).
        (pb.ORDER_STATE_PENDING_NEW, "0", 0, 10, "0"),
        (pb.ORDER_STATE_PENDING_RISK, "0", 0, 10, "0"),
        # Defect: 150=5 with 39=E (a Replaced while upstream still says PENDING_REPLACE).
        (pb.ORDER_STATE_PENDING_REPLACE, "5", 0, 10, "0"),
        (pb.ORDER_STATE_PENDING_REPLACE, "5", 4, 6, "1"),
        # Defect: 150=4 with 39=6 (a Canceled while upstream still says PENDING_CANCEL).
        (pb.ORDER_STATE_PENDING_CANCEL, "4", 4, 0, "4"),
        # REPLACED has no OrdStatus: New without fills, else Partially filled (or Filled).
        (pb.ORDER_STATE_REPLACED, "5", 0, 10, "0"),
        (pb.ORDER_STATE_REPLACED, "5", 1, 9, "1"),
        (pb.ORDER_STATE_REPLACED, "5", 10, 0, "2"),
        # A fill reported while the state is still NEW: Partially filled / Filled by leaves.
        (pb.ORDER_STATE_NEW, "F", 4, 6, "1"),
        (pb.ORDER_STATE_NEW, "F", 10, 0, "2"),
        # Pending cancel takes precedence over Partially filled on a Trade (matrix B.1.c).
        (pb.ORDER_STATE_PENDING_CANCEL, "F", 5, 5, "6"),
        # Done for day: the order state says EXPIRED, FIX pairs 150=3 with 39=3.
        (pb.ORDER_STATE_EXPIRED, "3", 0, 0, "3"),
        (pb.ORDER_STATE_EXPIRED, "C", 0, 0, "C"),
    ],
)
def test_ord_status_follows_exec_type_where_upstream_state_would_break_the_pair(
    state: int, exec_type: str, cum: int, leaves: int, expected: str
) -> None:
    got = enums.fix_ord_status(
        state, exec_type=exec_type, cum_qty=Decimal(cum), leaves_qty=Decimal(leaves)
    )
    assert got == expected


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
    # Spec §2.2 lifecycle: "SMP resting cancel: 39=4, 150=4, 378=99, 58=Self Match Prevention".
    assert enums.fix_exec_restatement_reason(reason, text=text) == "99"


def test_operations_cancel_is_8_whatever_instruction_the_order_carries() -> None:
    # Spec §2.2 drop-copy page: 378 "8 = Market/exchange option, 99 = Other (SMP)". The
    # order's SelfMatchPreventionInstruction says what happens on a self-match; it does not
    # make an exchange-operations cancel a self-match cancel.
    exchange_option = pb.UNSOLICITED_CXL_REASON_EXCHANGE_OPTION
    assert enums.fix_exec_restatement_reason(exchange_option, text="") == "8"
    text = "Cancelled by exchange operations"
    assert enums.fix_exec_restatement_reason(exchange_option, text=text) == "8"
    undefined = pb.UNSOLICITED_CXL_REASON_UNDEFINED
    assert enums.fix_exec_restatement_reason(undefined, text="") is None


def test_unknown_cancel_reason_is_refused() -> None:
    with pytest.raises(NormalizationError) as caught:
        enums.fix_exec_restatement_reason(9, text="")
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
    39: set(enums.ORD_STATUS.values()) | {"3"},
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
