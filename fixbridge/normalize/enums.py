"""Tables from the exchange's gRPC enum numbers to FIX 5.0 SP2 enum values.

Each gRPC enum that reaches a FIX message has one table here (a dict, never an if-chain) and one
lookup function. The mapping follows spec/exchange-api.md §4.7 "FIX <-> gRPC enum correspondence"
and §2.2; every FIX value used is one the stock QuickFIX FIX50SP2.xml lists for that tag.

An enum number missing from a table (e.g. a value the exchange adds later) must never crash and
must never be guessed: the lookup raises :class:`NormalizationError` naming the field and the
number. The only defaults are the ones the spec states (TimeInForce absent = DAY). This module is
pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Final, TypeVar

from fixbridge.normalize.errors import NormalizationError
from fixbridge.proto.polymarket.v1 import enums_pb2 as pb

# ExecutionType -> ExecType(150). Both fill kinds are 150=F (Trade); OrdStatus(39) tells them apart.
EXEC_TYPE: Final[Mapping[int, str]] = {
    pb.EXECUTION_TYPE_NEW: "0",  # New
    pb.EXECUTION_TYPE_PARTIAL_FILL: "F",  # Trade
    pb.EXECUTION_TYPE_FILL: "F",  # Trade
    pb.EXECUTION_TYPE_CANCELED: "4",  # Canceled
    pb.EXECUTION_TYPE_REPLACE: "5",  # Replaced
    pb.EXECUTION_TYPE_REJECTED: "8",  # Rejected
    pb.EXECUTION_TYPE_EXPIRED: "C",  # Expired
    pb.EXECUTION_TYPE_DONE_FOR_DAY: "3",  # Done for day
}

# OrderState -> OrdStatus(39). REPLACED has no FIX OrdStatus: see REPLACED_ORD_STATUS.
ORD_STATUS: Final[Mapping[int, str]] = {
    pb.ORDER_STATE_NEW: "0",  # New
    pb.ORDER_STATE_PARTIALLY_FILLED: "1",  # Partially filled
    pb.ORDER_STATE_FILLED: "2",  # Filled
    pb.ORDER_STATE_CANCELED: "4",  # Canceled
    pb.ORDER_STATE_REJECTED: "8",  # Rejected
    pb.ORDER_STATE_EXPIRED: "C",  # Expired
    pb.ORDER_STATE_PENDING_NEW: "A",  # Pending new
    pb.ORDER_STATE_PENDING_REPLACE: "E",  # Pending replace
    pb.ORDER_STATE_PENDING_CANCEL: "6",  # Pending cancel
    pb.ORDER_STATE_PENDING_RISK: "A",  # no FIX value; Pending new is closest (spec §4.7)
}

# OrderState REPLACED, keyed by "has the order any fills (CumQty > 0)?" (spec §4.7, INFERRED):
# a replaced order is working again, New if nothing has filled, else Partially filled.
REPLACED_ORD_STATUS: Final[Mapping[bool, str]] = {False: "0", True: "1"}

# OrderType -> OrdType(40). UNDEFINED is absent upstream: 40 is then omitted (see fix_ord_type).
ORD_TYPE: Final[Mapping[int, str]] = {
    pb.ORDER_TYPE_MARKET_TO_LIMIT: "K",  # Market with left over as limit
    pb.ORDER_TYPE_LIMIT: "2",  # Limit
    pb.ORDER_TYPE_STOP: "3",  # Stop
    pb.ORDER_TYPE_STOP_LIMIT: "4",  # Stop limit
}

# TimeInForce -> TimeInForce(59). UNDEFINED: the spec says "Absent = DAY".
TIME_IN_FORCE: Final[Mapping[int, str]] = {
    pb.TIME_IN_FORCE_UNDEFINED: "0",  # Day (absent = DAY)
    pb.TIME_IN_FORCE_DAY: "0",  # Day
    pb.TIME_IN_FORCE_GOOD_TILL_CANCEL: "1",  # Good till cancel
    pb.TIME_IN_FORCE_IMMEDIATE_OR_CANCEL: "3",  # Immediate or cancel
    pb.TIME_IN_FORCE_GOOD_TILL_TIME: "6",  # Good till date; ExpireTime(126) = good_till_time
    pb.TIME_IN_FORCE_FILL_OR_KILL: "4",  # Fill or kill
}

# Side -> Side(54). UNDEFINED is not mapped: 54 is required in an ExecutionReport.
SIDE: Final[Mapping[int, str]] = {
    pb.SIDE_BUY: "1",  # Buy
    pb.SIDE_SELL: "2",  # Sell
}

# OrdRejectReason -> OrdRejReason(103): the closest standard FIX value for each gRPC value.
ORD_REJ_REASON: Final[Mapping[int, str]] = {
    # "Broker / Exchange option": the exchange's own FIX sends 103=0 for its generic rejects
    # (limits, buying power, SMP newest, ...), spec §2.2 and §3.4.
    pb.ORD_REJECT_REASON_EXCHANGE_OPTION: "0",
    pb.ORD_REJECT_REASON_UNKNOWN_SYMBOL: "1",  # Unknown symbol: same meaning
    pb.ORD_REJECT_REASON_EXCHANGE_CLOSED: "2",  # Exchange closed: same meaning
    pb.ORD_REJECT_REASON_INCORRECT_QUANTITY: "13",  # Incorrect quantity (lot size)
    pb.ORD_REJECT_REASON_INVALID_PRICE_INCREMENT: "18",  # Invalid price increment (tick)
    # "Unsupported order characteristic": an order type the book does not accept.
    pb.ORD_REJECT_REASON_INCORRECT_ORDER_TYPE: "11",
    # "Price exceeds current price band": outside the instrument's price limits.
    pb.ORD_REJECT_REASON_PRICE_OUT_OF_BOUNDS: "16",
    # No standard FIX value says "no liquidity". 19 "Reference price not available" is close for
    # market-to-limit orders only, so the neutral "Other" is used; Text(58) carries the detail.
    pb.ORD_REJECT_REASON_NO_LIQUIDITY: "99",
}

# UnsolicitedCxlReason -> ExecRestatementReason(378), as the exchange's own FIX drop copy sends
# it (spec §2.2: "8 = Market/exchange option, 99 = Other (SMP)"). UNDEFINED means the cancel was
# not unsolicited: no 378 at all. (The stock dictionary also lists 12 "Cancel on connection
# loss", 13 "Cancel on logout" and 17 "Cxld SMP"; the exchange documents only 8 and 99, so those
# are what a client of this bridge sees too.)
EXEC_RESTATEMENT_REASON: Final[Mapping[int, str]] = {
    pb.UNSOLICITED_CXL_REASON_CONNECTION_LOSS: "99",  # Other
    pb.UNSOLICITED_CXL_REASON_LOGOUT: "99",  # Other
    pb.UNSOLICITED_CXL_REASON_EXCHANGE_OPTION: "8",  # Market (Exchange) option
    pb.UNSOLICITED_CXL_REASON_OTHER: "99",  # Other
}

# Self-match-prevention cancels are ExecRestatementReason 99 (Other), with 58=Self Match Prevention.
SMP_EXEC_RESTATEMENT_REASON: Final = "99"
SMP_TEXT: Final = "self match prevention"

# ManualOrderIndicator -> ManualOrderIndicator(1028), a FIX Boolean. UNDEFINED: 1028 omitted.
MANUAL_ORDER_INDICATOR: Final[Mapping[int, bool]] = {
    pb.MANUAL_ORDER_INDICATOR_MANUAL: True,
    pb.MANUAL_ORDER_INDICATOR_AUTOMATED: False,
}


_V = TypeVar("_V")


def _lookup(table: Mapping[int, _V], number: int, field: str, enum_name: str) -> _V:
    try:
        return table[number]
    except KeyError:
        raise NormalizationError(field, f"unknown {enum_name} enum number", number) from None


def fix_exec_type(number: int, *, field: str = "type") -> str:
    """ExecType(150) for an ExecutionType number."""
    return _lookup(EXEC_TYPE, number, field, "ExecutionType")


EXEC_TYPE_DONE_FOR_DAY: Final = "3"
ORD_STATUS_DONE_FOR_DAY: Final = "3"


def fix_ord_status(
    number: int, *, cum_qty: int | Decimal, exec_type: str = "", field: str = "order.state"
) -> str:
    """OrdStatus(39) for an OrderState number; REPLACED depends on whether ``cum_qty`` > 0.

    OrderState has no done-for-day value: the exchange reports DONE_FOR_DAY executions with
    a terminal state (EXPIRED). FIX pairs ExecType 3 with OrdStatus 3, so that pair wins.
    """
    if exec_type == EXEC_TYPE_DONE_FOR_DAY:
        return ORD_STATUS_DONE_FOR_DAY
    if number == pb.ORDER_STATE_REPLACED:
        return REPLACED_ORD_STATUS[cum_qty > 0]
    return _lookup(ORD_STATUS, number, field, "OrderState")


def fix_ord_type(number: int, *, field: str = "order.type") -> str | None:
    """OrdType(40) for an OrderType number, or None when upstream left it UNDEFINED.

    OrdType is optional in the FIX50SP2 ExecutionReport, so an absent type omits 40 instead of
    losing the whole report (a reject for a bad order type may well carry none).
    """
    if number == pb.ORDER_TYPE_UNDEFINED:
        return None
    return _lookup(ORD_TYPE, number, field, "OrderType")


def fix_time_in_force(number: int, *, field: str = "order.time_in_force") -> str:
    """TimeInForce(59) for a TimeInForce number; UNDEFINED (absent) is DAY."""
    return _lookup(TIME_IN_FORCE, number, field, "TimeInForce")


def fix_side(number: int, *, field: str = "order.side") -> str:
    """Side(54) for a Side number; UNDEFINED is an error because 54 is required."""
    return _lookup(SIDE, number, field, "Side")


def fix_ord_rej_reason(number: int, *, field: str = "order_reject_reason") -> str:
    """OrdRejReason(103) for an OrdRejectReason number."""
    return _lookup(ORD_REJ_REASON, number, field, "OrdRejectReason")


def fix_manual_order_indicator(
    number: int, *, field: str = "order.manual_order_indicator"
) -> bool | None:
    """ManualOrderIndicator(1028) as a bool, or None when upstream left it UNDEFINED."""
    if number == pb.MANUAL_ORDER_INDICATOR_UNDEFINED:
        return None
    return _lookup(MANUAL_ORDER_INDICATOR, number, field, "ManualOrderIndicator")


def is_smp_text(text: str) -> bool:
    """Whether an execution's free text says it is a self-match-prevention action."""
    return SMP_TEXT in text.casefold()


def fix_exec_restatement_reason(
    number: int,
    *,
    text: str,
    smp_instruction: int,
    field: str = "unsolicited_cancel_reason",
) -> str | None:
    """ExecRestatementReason(378) for a cancel, or None when the cancel was requested.

    ``number`` is the UnsolicitedCxlReason. A self-match-prevention cancel is 99: either the text
    says "Self Match Prevention", or the order carries an SMP instruction and the cancel is
    unsolicited. Otherwise an unsolicited cancel maps through :data:`EXEC_RESTATEMENT_REASON`.
    """
    if is_smp_text(text):
        return SMP_EXEC_RESTATEMENT_REASON
    if number == pb.UNSOLICITED_CXL_REASON_UNDEFINED:
        return None
    reason = _lookup(EXEC_RESTATEMENT_REASON, number, field, "UnsolicitedCxlReason")
    if smp_instruction != pb.SELF_MATCH_PREVENTION_INSTRUCTION_UNDEFINED:
        return SMP_EXEC_RESTATEMENT_REASON
    return reason
