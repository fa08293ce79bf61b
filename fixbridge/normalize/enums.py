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

# OrderState -> OrdStatus(39). REPLACED has no FIX OrdStatus: see fix_ord_status.
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

# OrdStatus(39) values FIX allows with each ExecType(150) (FIX 5.0 SP2 Volume 4, ExecutionReport
# usage and the Order State Change Matrices): ExecType tells what happened, OrdStatus the order's
# status after it, so a New is New, a Canceled is Canceled, a Replaced order is working
# (New / Partially filled) or Filled, and a Trade leaves it Partially filled or Filled (or still
# Pending cancel / Pending replace, which take precedence). Pairs outside this table (0 with A,
# 5 with E, 4 with 6, ...) are never sent; ORD_STATUS_FOR_EXEC_TYPE decides instead.
ALLOWED_ORD_STATUS: Final[Mapping[str, frozenset[str]]] = {
    "0": frozenset({"0"}),
    "F": frozenset({"1", "2", "6", "E"}),
    "4": frozenset({"4"}),
    "5": frozenset({"0", "1", "2"}),
    "8": frozenset({"8"}),
    "C": frozenset({"C"}),
    "3": frozenset({"3"}),
}

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

# OrdRejectReason -> OrdRejReason(103), as the exchange's own FIX sends it (spec §3.4: every
# limit reject - price, size, notional, minimum quantity, buying power, no liquidity, SMP newest
# - is 103=0 "Broker / Exchange option", and a closed book is 2). Values for reasons §3.4 does
# not list come from the §2.2 table.
ORD_REJ_REASON: Final[Mapping[int, str]] = {
    pb.ORD_REJECT_REASON_EXCHANGE_OPTION: "0",  # Broker / Exchange option
    pb.ORD_REJECT_REASON_UNKNOWN_SYMBOL: "1",  # Unknown symbol (§2.2)
    pb.ORD_REJECT_REASON_EXCHANGE_CLOSED: "2",  # Exchange closed ("Book is CLOSED", §3.4)
    # Order size limits and "Minimum trade quantity is 100, given 99" are 103=0 in §3.4.
    pb.ORD_REJECT_REASON_INCORRECT_QUANTITY: "0",
    pb.ORD_REJECT_REASON_INVALID_PRICE_INCREMENT: "18",  # Invalid price increment (tick, §2.2)
    # "Unsupported order characteristic" (§2.2): an order type the book does not accept.
    pb.ORD_REJECT_REASON_INCORRECT_ORDER_TYPE: "11",
    # Price limits ("Low price limit is 0.5, given 0.49") are 103=0 in §3.4.
    pb.ORD_REJECT_REASON_PRICE_OUT_OF_BOUNDS: "0",
    # "No liquidity to derive limit price" is 103=0 in §3.4.
    pb.ORD_REJECT_REASON_NO_LIQUIDITY: "0",
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

# UnsolicitedCxlReason -> the cancel reason an execution event keeps, so that a profile with
# more precise values than the exchange's 8 and 99 can tell the reasons apart.
CANCEL_REASON_NAME: Final[Mapping[int, str]] = {
    pb.UNSOLICITED_CXL_REASON_CONNECTION_LOSS: "CONNECTION_LOSS",
    pb.UNSOLICITED_CXL_REASON_LOGOUT: "LOGOUT",
    pb.UNSOLICITED_CXL_REASON_EXCHANGE_OPTION: "EXCHANGE_OPTION",
    pb.UNSOLICITED_CXL_REASON_OTHER: "OTHER",
}
SMP_CANCEL_REASON: Final = "SELF_MATCH_PREVENTION"  # marked by its text, whatever the number

# Cancel reason -> ExecRestatementReason(378) for sessions with fix_profile = "latest": the
# extension packs' own codes where they have one.
LATEST_EXEC_RESTATEMENT_REASON: Final[Mapping[str, str]] = {
    "CONNECTION_LOSS": "12",  # Cancel on connection loss
    "LOGOUT": "13",  # Cancel on logout
    "EXCHANGE_OPTION": "8",  # Market (Exchange) option
    "OTHER": "99",  # Other
    # Cancelled by self-match prevention; the exchange does not say whether this order was
    # the aggressive or the passive one, so not 18, 19 or 20.
    SMP_CANCEL_REASON: "17",
}

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


def fix_ord_status(
    number: int,
    *,
    exec_type: str,
    cum_qty: Decimal,
    leaves_qty: Decimal,
    field: str = "order.state",
) -> str:
    """OrdStatus(39) for an execution: the OrderState's, where FIX allows it with ``exec_type``.

    An unknown OrderState number is refused. Where the state's value is not allowed with the
    ExecType (:data:`ALLOWED_ORD_STATUS`; e.g. REPLACED, which FIX has no status for, or a
    cancel reported while the order state still says PENDING_CANCEL), the status follows from
    the ExecType and the quantities: Done for day, Canceled, Rejected and Expired are
    themselves; New is New; a Trade or a Replaced order is Filled with no leaves, else
    Partially filled (a Replaced one New while nothing is filled).
    """
    state = None
    if number != pb.ORDER_STATE_REPLACED:
        state = _lookup(ORD_STATUS, number, field, "OrderState")
    if state is not None and state in ALLOWED_ORD_STATUS.get(exec_type, ()):
        return state
    if exec_type == "5" and cum_qty == 0:
        return "0"  # a Replaced order with nothing filled is New
    if exec_type in ("F", "5"):
        return "2" if leaves_qty == 0 else "1"
    if exec_type in ALLOWED_ORD_STATUS:
        (only,) = ALLOWED_ORD_STATUS[exec_type]
        return only
    raise NormalizationError(field, f"no OrdStatus for ExecType {exec_type!r}", number)


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
    field: str = "unsolicited_cancel_reason",
) -> str | None:
    """ExecRestatementReason(378) for a cancel, or None when the cancel was requested.

    ``number`` is the UnsolicitedCxlReason. A self-match-prevention cancel is 99: the exchange
    marks one with the text "Self Match Prevention" (spec §2.2, SMP resting cancel: 39=4,
    150=4, 378=99, 58=Self Match Prevention), whatever the reason number says. Any other cancel
    follows its UnsolicitedCxlReason (:data:`EXEC_RESTATEMENT_REASON`): an operations cancel is
    8 even when the order carries an SMP instruction, which only says what would happen on a
    self-match.
    """
    if is_smp_text(text):
        return SMP_EXEC_RESTATEMENT_REASON
    if number == pb.UNSOLICITED_CXL_REASON_UNDEFINED:
        return None
    return _lookup(EXEC_RESTATEMENT_REASON, number, field, "UnsolicitedCxlReason")


def cancel_reason(
    number: int,
    *,
    text: str,
    field: str = "unsolicited_cancel_reason",
) -> str | None:
    """Why an unsolicited cancel happened (:data:`CANCEL_REASON_NAME`, or
    :data:`SMP_CANCEL_REASON` when its text says self-match prevention); None when requested."""
    if is_smp_text(text):
        return SMP_CANCEL_REASON
    if number == pb.UNSOLICITED_CXL_REASON_UNDEFINED:
        return None
    return _lookup(CANCEL_REASON_NAME, number, field, "UnsolicitedCxlReason")


# --- InstrumentState -> SecurityStatus (35=f) ----------------------------------------------
# Three tables keyed by InstrumentState (spec §4.7, incl. 8 PENDING from the newer docs; the
# states' meanings are the exchange's reference-data page). FIX has no single field with the
# exchange's nine states, so each state is told three ways: SecurityTradingStatus(326), what
# trading may happen now; SecurityStatus(965), the instrument's lifecycle; and, for the two
# call phases, TradingSessionSubID(625), which auction the orders are collected for. The
# exchange's own state name goes in Text(58): its MD feed puts it in TradingSessionID(336),
# but the stock dictionary restricts 336 to 1..7 (DAY, HALF_DAY, ...).

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

# InstrumentState -> SecurityTradingStatus(326).
SECURITY_TRADING_STATUS: Final[Mapping[int, str]] = {
    # No order entry, no matching, DAY orders expired; trading resumes on schedule: "Not
    # available for trading" (the end-of-session status).
    pb.INSTRUMENT_STATE_CLOSED: "18",
    pb.INSTRUMENT_STATE_OPEN: "17",  # Ready to trade: continuous order entry and matching
    # Orders entered, no matching; they match at one opening price when it opens (an opening
    # auction's call phase): "Pre-open", with 625=2.
    pb.INSTRUMENT_STATE_PREOPEN: "21",
    # An exception state, no matching until operations lift it (orders may still be
    # canceled): a trading halt; 965=9 says suspended, 58 which of the two it is.
    pb.INSTRUMENT_STATE_SUSPENDED: "2",
    # Expiration reached, resting orders expired, no new orders ever again: "No open / no
    # resume".
    pb.INSTRUMENT_STATE_EXPIRED: "4",
    pb.INSTRUMENT_STATE_TERMINATED: "4",  # book removed: no open / no resume
    pb.INSTRUMENT_STATE_HALTED: "2",  # Trading halt (orders cannot even be canceled)
    # Like PREOPEN, but the orders match when the state ends and the book then closes: the call
    # phase of a closing auction, "Pre-open" with 625=4.
    pb.INSTRUMENT_STATE_MATCH_AND_CLOSE_AUCTION: "21",
    # Created, has never traded yet: not available for trading; 965=10 says it is published.
    pb.INSTRUMENT_STATE_PENDING: "18",
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

# InstrumentState -> TradingSessionSubID(625), for the call phases; other states send no 625.
TRADING_SESSION_SUB_ID: Final[Mapping[int, str]] = {
    pb.INSTRUMENT_STATE_PREOPEN: "2",  # Opening or opening auction
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
# version), so no TradeReportRefID(572) chain is needed.

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

# TradeReportTransType(487) and TradeReportType(856) of one report, keyed by (is this the first
# report of the trade the session gets?, is this version a bust?). A back office books the first
# report it sees as a new trade, so that one is always New / Submit, whatever clearing state
# the trade has reached by then (TrdRptStatus says which). Every later clearing state replaces
# the report with the same economics and a new status: Replace / Submit, never No/Was (856=5,
# which announces a correction of the trade's terms). A bust cancels it: Cancel / Trade Report
# Cancel.
TRADE_REPORT_VERSION: Final[Mapping[tuple[bool, bool], tuple[str, str]]] = {
    (True, False): ("0", "0"),  # New / Submit
    (True, True): ("0", "0"),  # New / Submit, with 939=2 Cancelled: already busted when first seen
    (False, False): ("2", "0"),  # Replace / Submit
    (False, True): ("1", "6"),  # Cancel / Trade Report Cancel
}

# The same for sessions with fix_profile = "latest": a later clearing state, same terms, is
# 856=18 Non-material update (an extension-pack value), not Submit again.
LATEST_TRADE_REPORT_VERSION: Final[Mapping[tuple[bool, bool], tuple[str, str]]] = {
    **TRADE_REPORT_VERSION,
    (False, False): ("2", "18"),  # Replace / Non-material update
}

# The same for sessions with fix_profile = "fix50sp2": its TrdRptStatus has no 2 Cancelled, so
# a trade already busted when first seen would read as a New trade to book; it is a Cancel /
# Trade Report Cancel instead, which a back office never books.
FIX50SP2_TRADE_REPORT_VERSION: Final[Mapping[tuple[bool, bool], tuple[str, str]]] = {
    **TRADE_REPORT_VERSION,
    (True, True): ("1", "6"),  # Cancel / Trade Report Cancel
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

# TrdType(828): one value per trade, on every message about it. A fill's ExecutionReport cannot
# know the trade's type (an Execution carries none), and the exchange's own FIX sends 828=0 on
# every trade (spec §2.2, §3.1: the only TrdType it documents), so every trade is 828=0 and its
# gRPC TradeType, where the TradeCaptureReport and trade-cancel reports know it, is added in
# SecondaryTrdType(855) (same code set as TrdType) or TrdSubType(829).
TRD_TYPE_REGULAR: Final = "0"

# Type name -> SecondaryTrdType(855); types not listed send no 855.
SECONDARY_TRD_TYPE: Final[Mapping[str, str]] = {
    "BLOCK": "1",  # Block trade
    # Price agreed between the requester and the quoting party, not on the central book:
    # "Privately negotiated trade".
    "REQUEST_FOR_QUOTE": "22",
}

# Type name -> TrdSubType(829); types not listed send no 829. One participant entered both
# sides and they matched on the exchange at one price: "Crossed trade".
TRD_SUB_TYPE: Final[Mapping[str, str]] = {
    "CROSS": "37",
}


def trade_state_name(number: int, *, field: str = "state") -> str:
    """The exchange's name for a TradeState number (``"CLEARED"`` for 2); UNDEFINED is refused."""
    return _lookup(TRADE_STATE_NAME, number, field, "TradeState")


def trade_type_name(number: int, *, field: str = "trade_type") -> str:
    """The exchange's name for a TradeType number (``"BLOCK"`` for 3)."""
    return _lookup(TRADE_TYPE_NAME, number, field, "TradeType")
