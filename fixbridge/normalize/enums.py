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


# --- InstrumentState -> SecurityStatus (35=f) ----------------------------------------------
# Four tables keyed by InstrumentState (spec §4.7, incl. 8 PENDING from the newer docs). FIX has
# no single field with the exchange's nine states, so each state is told three ways, every value
# listed in the stock FIX50SP2.xml: SecurityTradingStatus(326), a DISTINCT value per state (the
# field a back office switches on); SecurityStatus(965), the instrument's lifecycle; and, only
# where 326 alone would not say which phase it is, TradingSessionSubID(625). The exchange's own
# state name goes in Text(58): its MD feed puts it in TradingSessionID(336), but the stock
# dictionary restricts 336 to 1..7 (DAY, HALF_DAY, ...), so a validating client rejects it there.

# InstrumentState -> the exchange's state name (as its MD feed sends it in 336; spec §3.2).
INSTRUMENT_STATE_NAME: Final[Mapping[int, str]] = {
    pb.INSTRUMENT_STATE_CLOSED: "CLOSED",
    pb.INSTRUMENT_STATE_OPEN: "OPEN",
    pb.INSTRUMENT_STATE_PREOPEN: "PREOPEN",
    pb.INSTRUMENT_STATE_SUSPENDED: "SUSPENDED",
    pb.INSTRUMENT_STATE_EXPIRED: "EXPIRED",
    pb.INSTRUMENT_STATE_TERMINATED: "TERMINATED",
    pb.INSTRUMENT_STATE_HALTED: "HALTED",
    pb.INSTRUMENT_STATE_MATCH_AND_CLOSE_AUCTION: "MATCH_AND_CLOSE_AUCTION",
    pb.INSTRUMENT_STATE_PENDING: "PENDING",
}

# InstrumentState -> SecurityTradingStatus(326): nine states, nine distinct values.
SECURITY_TRADING_STATUS: Final[Mapping[int, str]] = {
    # Outside trading hours, reopens on schedule: "Post-close" (a session end, not a halt).
    pb.INSTRUMENT_STATE_CLOSED: "26",
    pb.INSTRUMENT_STATE_OPEN: "17",  # Ready to trade (start of session)
    pb.INSTRUMENT_STATE_PREOPEN: "21",  # Pre-open: orders accepted, no matching yet
    # Exception state, no trading until operations lift it: "Not available for trading".
    pb.INSTRUMENT_STATE_SUSPENDED: "18",
    # Trading over for good, final settlement published (spec §3.2): "Not traded on this market".
    pb.INSTRUMENT_STATE_EXPIRED: "19",
    # Removed after expiry; it will never open again: "No Open / No Resume".
    pb.INSTRUMENT_STATE_TERMINATED: "4",
    pb.INSTRUMENT_STATE_HALTED: "2",  # Trading halt
    # Orders are collected for an auction that matches them and then closes the book: "Pre-cross"
    # (the call phase before a cross), with 625=4 saying it is the closing auction.
    pb.INSTRUMENT_STATE_MATCH_AND_CLOSE_AUCTION: "24",
    # Listed, not yet opened for the first time (PENDING -> OPEN): "Opening delay".
    pb.INSTRUMENT_STATE_PENDING: "1",
}

# InstrumentState -> SecurityStatus(965), in the Instrument component: the lifecycle.
SECURITY_STATUS: Final[Mapping[int, str]] = {
    pb.INSTRUMENT_STATE_CLOSED: "2",  # Inactive: no longer traded for now, may become active
    pb.INSTRUMENT_STATE_OPEN: "1",  # Active
    pb.INSTRUMENT_STATE_PREOPEN: "1",  # Active
    pb.INSTRUMENT_STATE_SUSPENDED: "9",  # Suspended: temporarily disabled for trading
    pb.INSTRUMENT_STATE_EXPIRED: "4",  # Expired
    pb.INSTRUMENT_STATE_TERMINATED: "5",  # Delisted: removed from reference data
    pb.INSTRUMENT_STATE_HALTED: "9",  # Suspended ("temporarily disabled, i.e. halted")
    pb.INSTRUMENT_STATE_MATCH_AND_CLOSE_AUCTION: "1",  # Active
    pb.INSTRUMENT_STATE_PENDING: "10",  # Published: provided prior to its first activation
}

# InstrumentState -> TradingSessionSubID(625), only where 326 needs it; other states send no 625.
TRADING_SESSION_SUB_ID: Final[Mapping[int, str]] = {
    pb.INSTRUMENT_STATE_MATCH_AND_CLOSE_AUCTION: "4",  # Closing or closing auction
}


def instrument_state_name(number: int, *, field: str = "state") -> str:
    """The exchange's name for an InstrumentState number, e.g. ``"HALTED"`` for 6."""
    return _lookup(INSTRUMENT_STATE_NAME, number, field, "InstrumentState")


def fix_security_trading_status(number: int, *, field: str = "state") -> str:
    """SecurityTradingStatus(326) for an InstrumentState number."""
    return _lookup(SECURITY_TRADING_STATUS, number, field, "InstrumentState")


def fix_security_status(number: int, *, field: str = "state") -> str:
    """SecurityStatus(965) for an InstrumentState number."""
    return _lookup(SECURITY_STATUS, number, field, "InstrumentState")


def fix_trading_session_sub_id(number: int, *, field: str = "state") -> str | None:
    """TradingSessionSubID(625) for an InstrumentState number, or None when 625 is not sent.

    A number that is no InstrumentState at all is an error, not a quiet None.
    """
    instrument_state_name(number, field=field)
    return TRADING_SESSION_SUB_ID.get(number)


# --- Trade -> TradeCaptureReport (35=AE) and trade-bust ExecutionReports (35=8, 150=H) ---------
# A Trade is re-sent with the same id and a new state (spec §4.5); every state is a new version
# of one trade report. The event carries the exchange's names (TradeEvent.state "CLEARED",
# TradeEvent.trade_type "BLOCK"); the tables below, keyed by those names, give the FIX values.
# Entity model (FIX: TradeID(1003) identifies the trade across versions, TradeReportID(571) the
# version), so no TradeReportRefID(572) chain is needed. Values used are the long-standing ones
# of FIX 5.0 SP2 (no extension-pack-only values such as 856=18 or tag 1832), all listed in the
# stock QuickFIX FIX50SP2.xml.

# TradeState -> the state name an event carries. UNDEFINED (0) is "never sent" (spec §4.7): it is
# absent, so it is refused like any unknown number.
TRADE_STATE_NAME: Final[Mapping[int, str]] = {
    pb.TRADE_STATE_NEW: "NEW",
    pb.TRADE_STATE_CLEARED: "CLEARED",
    pb.TRADE_STATE_BUSTED: "BUSTED",
    pb.TRADE_STATE_INFLIGHT: "INFLIGHT",
    pb.TRADE_STATE_PENDING_RISK: "PENDING_RISK",
    pb.TRADE_STATE_PENDING_CLEARED: "PENDING_CLEARED",
    pb.TRADE_STATE_REJECTED: "REJECTED",
    pb.TRADE_STATE_CLEARING_ACKNOWLEDGED: "CLEARING_ACKNOWLEDGED",
    pb.TRADE_STATE_RETRY_REQUEST: "RETRY_REQUEST",
}

# TradeType -> the type name an event carries. UNDEFINED is kept as is (the event says what
# upstream said) and rendered as a regular trade, see TRD_TYPE.
TRADE_TYPE_NAME: Final[Mapping[int, str]] = {
    pb.TRADE_TYPE_UNDEFINED: "UNDEFINED",
    pb.TRADE_TYPE_REGULAR: "REGULAR",
    pb.TRADE_TYPE_REQUEST_FOR_QUOTE: "REQUEST_FOR_QUOTE",
    pb.TRADE_TYPE_BLOCK: "BLOCK",
    pb.TRADE_TYPE_CROSS: "CROSS",
}

# State name -> TradeReportTransType(487): the first report of a trade is New, a bust Cancels
# it, and every other later state Replaces the report with the same economics and a new status.
TRADE_REPORT_TRANS_TYPE: Final[Mapping[str, str]] = {
    "NEW": "0",  # New
    "CLEARED": "2",  # Replace
    "BUSTED": "1",  # Cancel
    "INFLIGHT": "2",  # Replace
    "PENDING_RISK": "2",  # Replace
    "PENDING_CLEARED": "2",  # Replace
    "REJECTED": "2",  # Replace (the report stays; TrdRptStatus says the clearing house refused)
    "CLEARING_ACKNOWLEDGED": "2",  # Replace
    "RETRY_REQUEST": "2",  # Replace
}

# State name -> TradeReportType(856), the partner of 487: Submit with New, No/Was (Replaced)
# with Replace, Trade Report Cancel with Cancel.
TRADE_REPORT_TYPE: Final[Mapping[str, str]] = {
    "NEW": "0",  # Submit
    "CLEARED": "5",  # No/Was (Replaced)
    "BUSTED": "6",  # Trade Report Cancel
    "INFLIGHT": "5",
    "PENDING_RISK": "5",
    "PENDING_CLEARED": "5",
    "REJECTED": "5",
    "CLEARING_ACKNOWLEDGED": "5",
    "RETRY_REQUEST": "5",
}

# State name -> TrdRptStatus(939): the matched trade stands (Accepted) through every clearing
# step; a clearing-house rejection is Rejected; a bust is Cancelled.
TRD_RPT_STATUS: Final[Mapping[str, str]] = {
    "NEW": "0",  # Accepted
    "CLEARED": "0",  # Accepted
    "BUSTED": "2",  # Cancelled
    "INFLIGHT": "0",  # Accepted (on its way to clearing)
    "PENDING_RISK": "0",  # Accepted (clearing risk check pending)
    "PENDING_CLEARED": "0",  # Accepted (clearing pending)
    "REJECTED": "1",  # Rejected (by the clearing house)
    "CLEARING_ACKNOWLEDGED": "0",  # Accepted (clearing house has it)
    "RETRY_REQUEST": "0",  # Accepted (clearing submission is retried)
}

# State name -> ExecType(150) of the report (and of the per-side ERs): a bust is Trade Cancel;
# every other version reports a Trade. Trade-bust ExecutionReports go out for states mapped to H.
TRADE_EXEC_TYPE: Final[Mapping[str, str]] = {
    "NEW": "F",  # Trade
    "CLEARED": "F",
    "BUSTED": "H",  # Trade Cancel
    "INFLIGHT": "F",
    "PENDING_RISK": "F",
    "PENDING_CLEARED": "F",
    "REJECTED": "F",
    "CLEARING_ACKNOWLEDGED": "F",
    "RETRY_REQUEST": "F",
}

# Type name -> TrdType(828). The exchange's own FIX documents only 828=0 (spec §2.2, §4.7).
TRD_TYPE: Final[Mapping[str, str]] = {
    "UNDEFINED": "0",  # Regular trade: the documented default (the exchange's FIX sends 828=0)
    "REGULAR": "0",  # Regular trade
    "BLOCK": "1",  # Block trade
    # One participant entered both sides and they matched on the exchange at one price: a
    # regular exchange trade, flagged by TrdSubType(829)=37 "Crossed trade" (see TRD_SUB_TYPE).
    "CROSS": "0",
    # Price agreed between the requester and the quoting party, not on the central book:
    # "Privately negotiated trade".
    "REQUEST_FOR_QUOTE": "22",
}

# Type name -> TrdSubType(829); types not listed send no 829.
TRD_SUB_TYPE: Final[Mapping[str, str]] = {
    "CROSS": "37",  # Crossed trade
}


def trade_state_name(number: int, *, field: str = "state") -> str:
    """The exchange's name for a TradeState number (``"CLEARED"`` for 2); UNDEFINED is refused."""
    return _lookup(TRADE_STATE_NAME, number, field, "TradeState")


def trade_type_name(number: int, *, field: str = "trade_type") -> str:
    """The exchange's name for a TradeType number (``"BLOCK"`` for 3)."""
    return _lookup(TRADE_TYPE_NAME, number, field, "TradeType")
