"""One upstream ``Execution`` -> one :class:`ExecutionEvent` -> ExecutionReport (35=8) body fields.

:func:`normalize_execution` turns the exchange's scaled integers and enum numbers into exact
FIX-ready values (``Decimal`` prices and quantities, FIX enum codes, integer nanoseconds). The
event is what the journal stores (:meth:`ExecutionEvent.to_payload`); each FIX session renders it
with :func:`execution_report_body` at its own timestamp precision.

Rules this module must keep: pure (no I/O, no clock, no sleep); ``Decimal`` only, never a float,
and never an inexact division; total (bad upstream data raises :class:`NormalizationError`, never
anything else); and every tag it emits is defined for ExecutionReport in the stock QuickFIX
FIX50SP2.xml with a value that dictionary allows, so a validating QuickFIX client accepts it.
No user-defined tags (5000+) are ever sent.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Final, Protocol

from fixbridge.normalize import enums
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.payload import (
    defaulted_fields,
    event_from_payload,
    event_to_payload,
    field_decoders,
)
from fixbridge.normalize.scale import ScaleError, fix_decimal, scaled
from fixbridge.normalize.timestamps import Precision, format_utc_timestamp, timestamp_ns
from fixbridge.proto.polymarket.v1 import trading_pb2, types_pb2

# Arithmetic context: enough digits for any int64 / int64 and for the product of two such
# results; Inexact is trapped, so a value that has no exact decimal form is an error, not a
# silently rounded price.
_EXACT: Final = Context(
    prec=120,
    Emax=MAX_EMAX,
    Emin=MIN_EMIN,
    traps=[Inexact, InvalidOperation, DivisionByZero, Overflow],
)

# Protobuf Timestamp's valid range is 0001-01-01..9999-12-31; FIX needs a 4-digit year and the
# exchange has no business before the epoch, so 1970-01-01T00:00:00Z (exclusive) .. 9999 it is.
_MAX_TIMESTAMP_SECONDS: Final = 253_402_300_799
_NS_PER_S: Final = 1_000_000_000

_SOH: Final = "\x01"

_ACCOUNT_FIRM: Final = re.compile(r"firms/([^/]+)/accounts/[^/]+")
_PARTICIPANT_FIRM: Final = re.compile(r"firms/([^/]+)/users/.+")

# FIX values used by the renderer (all listed in the stock FIX50SP2.xml).
_EXEC_TYPE_TRADE: Final = "F"
_EXEC_TYPE_CANCELED: Final = "4"
_EXEC_TYPE_REJECTED: Final = "8"
_TIF_GOOD_TILL_DATE: Final = "6"
# Order types with no limit price of their own: 44 is left out while upstream says 0.
_UNPRICED_ORD_TYPES: Final = frozenset({"K", "3", None})
_SECURITY_ID_SOURCE_EXCHANGE_SYMBOL: Final = "8"
_PRODUCT_OTHER: Final = "12"
_COMM_TYPE_ABSOLUTE: Final = "3"
_TRD_TYPE_REGULAR: Final = "0"
_PARTY_ID_SOURCE_PROPRIETARY: Final = "D"
_PARTY_ROLE_EXECUTING_FIRM: Final = "1"
_PARTY_ROLE_CLIENT_ID: Final = "3"
_PARTY_ROLE_CUSTOMER_ACCOUNT: Final = "24"
_FIX_BOOLEAN: Final[Mapping[bool, str]] = {True: "Y", False: "N"}


@dataclass(frozen=True, slots=True)
class ExecutionEvent:
    """One upstream Execution in exact FIX-ready terms.

    Prices, quantities and amounts are ``Decimal``; enum fields hold FIX codes (``exec_type`` is
    the ExecType(150) value, ``ord_status`` OrdStatus(39), ...); times are integer nanoseconds
    since the epoch (UTC). ``None`` means "not applicable / not sent"; an empty string means
    upstream sent nothing for an identifier that is still part of the event.
    """

    exec_id: str  # Execution.id; dedup key; ExecID(17)
    order_id: str  # order.id; OrderID(37)
    cl_ord_id: str  # order.clord_id; ClOrdID(11), "" = not sent
    symbol: str  # order.symbol; Symbol(55) and SecurityID(48)
    account: str  # order.account, full upstream form, e.g. "firms/F/accounts/A"; Account(1)
    firm: str  # parsed from account, else from participant; "" when neither names a firm
    participant: str  # order.participant, e.g. "firms/F/users/U"
    client_id: str  # party role 3: order.participant, else order.client_participant_id
    exec_type: str  # ExecType(150)
    ord_status: str  # OrdStatus(39)
    side: str  # Side(54)
    ord_type: str | None  # OrdType(40); None when upstream left the type UNDEFINED
    time_in_force: str  # TimeInForce(59)
    expire_time_ns: int | None  # ExpireTime(126); GTD orders only
    order_qty: Decimal  # OrderQty(38)
    price: Decimal  # Price(44)
    stop_px: Decimal  # StopPx(99); 0 for non-stop orders
    min_qty: Decimal | None  # MinQty(110); None when not set
    last_qty: Decimal  # LastQty(32); 0 when not a trade
    last_px: Decimal  # LastPx(31); 0 when not a trade
    cum_qty: Decimal  # CumQty(14)
    leaves_qty: Decimal  # LeavesQty(151)
    avg_px: Decimal  # AvgPx(6)
    gross_trade_amt: Decimal | None  # GrossTradeAmt(381) = avg_px * cum_qty, once cum_qty > 0
    trade_id: str | None  # TrdMatchID(880); fills only
    aggressor: bool | None  # AggressorIndicator(1057); fills only
    commission: Decimal | None  # Commission(12) in dollars, negative = rebate; fills only
    settl_curr_amt: Decimal | None  # SettlCurrAmt(119) = last_px * last_qty; fills only
    text: str | None  # Text(58)
    ord_rej_reason: str | None  # OrdRejReason(103); rejects only
    exec_restatement_reason: str | None  # ExecRestatementReason(378); unsolicited cancels only
    manual_order_indicator: bool | None  # ManualOrderIndicator(1028); None when UNDEFINED
    transact_time_ns: int  # TransactTime(60)
    trade_date: str | None  # TradeDate(75), YYYYMMDD, from transact_trade_date
    # OrigClOrdID(41): the order's ClOrdID on its previous execution, when this one carries a
    # different ClOrdID (a client cancel or replace). Upstream has no such field: the
    # subscriber fills it from the order's history at ingestion (see upstream/orders.py).
    orig_cl_ord_id: str | None = None

    @property
    def is_fill(self) -> bool:
        """Whether this is a trade (ExecType F), i.e. what a fills-only session receives."""
        return self.exec_type == _EXEC_TYPE_TRADE

    def to_payload(self) -> bytes:
        """Compact JSON for the journal: Decimals as strings, ``None`` kept, exact round trip."""
        return event_to_payload(self)

    @classmethod
    def from_payload(cls, data: bytes) -> ExecutionEvent:
        """Inverse of :meth:`to_payload`; a corrupt payload raises :class:`NormalizationError`."""
        return event_from_payload(cls, _DECODE, data, _OPTIONAL)


_DECODE: Final = field_decoders(ExecutionEvent)
_OPTIONAL: Final = defaulted_fields(ExecutionEvent)


# --- normalization -------------------------------------------------------------------------


def normalize_execution(execution: trading_pb2.Execution) -> ExecutionEvent:
    """Validate and convert one upstream Execution; raises only :class:`NormalizationError`."""
    with localcontext(_EXACT):
        return _normalize(execution)


def _normalize(execution: trading_pb2.Execution) -> ExecutionEvent:
    """:func:`normalize_execution`, run under the exact decimal context."""
    exec_id = _required_text(execution.id, "id")
    if not execution.HasField("order"):
        raise NormalizationError("order", "missing")
    order = execution.order
    order_id = _required_text(order.id, "order.id")
    symbol = _required_text(order.symbol, "order.symbol")
    price_scale = order.price_scale
    if price_scale <= 0:
        raise NormalizationError("order.price_scale", "must be a positive integer", price_scale)
    qty_scale = order.fractional_quantity_scale
    if qty_scale < 0:
        raise NormalizationError(
            "order.fractional_quantity_scale", "must not be negative", qty_scale
        )
    # Spec §4.4: "If an instrument publishes no fractionalQtyScale, treat it as 1".
    qty_scale = qty_scale or 1
    if not execution.HasField("transact_time"):
        raise NormalizationError("transact_time", "missing")
    transact_time_ns = _timestamp(execution.transact_time, "transact_time")

    exec_type = enums.fix_exec_type(execution.type)
    is_fill = exec_type == _EXEC_TYPE_TRADE
    ord_type = enums.fix_ord_type(order.type)
    time_in_force = enums.fix_time_in_force(order.time_in_force)
    text = _optional_text(execution.text, "text")

    def px(value: int, field: str) -> Decimal:
        return _scaled(value, price_scale, field)

    def qty(value: int, field: str) -> Decimal:
        return _scaled(value, qty_scale, field)

    last_qty = qty(execution.last_shares, "last_shares")
    last_px = px(execution.last_px, "last_px")
    cum_qty = qty(order.cum_qty, "order.cum_qty")
    avg_px = px(order.avg_px, "order.avg_px")

    account = _text(order.account, "order.account")
    participant = _text(order.participant, "order.participant")
    client_participant_id = _text(order.client_participant_id, "order.client_participant_id")

    return ExecutionEvent(
        exec_id=exec_id,
        order_id=order_id,
        cl_ord_id=_text(order.clord_id, "order.clord_id"),
        symbol=symbol,
        account=account,
        firm=_firm(account, participant),
        participant=participant,
        client_id=participant or client_participant_id,
        exec_type=exec_type,
        ord_status=enums.fix_ord_status(order.state, cum_qty=cum_qty, exec_type=exec_type),
        side=enums.fix_side(order.side),
        ord_type=ord_type,
        time_in_force=time_in_force,
        expire_time_ns=_expire_time(order, time_in_force),
        order_qty=qty(order.order_qty, "order.order_qty"),
        price=px(order.price, "order.price"),
        stop_px=px(order.stop_price, "order.stop_price"),
        min_qty=qty(order.min_qty, "order.min_qty") if order.min_qty else None,
        last_qty=last_qty,
        last_px=last_px,
        cum_qty=cum_qty,
        leaves_qty=qty(order.leaves_qty, "order.leaves_qty"),
        avg_px=avg_px,
        gross_trade_amt=_product(avg_px, cum_qty, "order.avg_px") if cum_qty > 0 else None,
        trade_id=_optional_text(execution.trade_id, "trade_id") if is_fill else None,
        aggressor=execution.aggressor if is_fill else None,
        # Spec §0: dollars = commission_notional_collected / (price_scale * quantity scale).
        commission=(
            _scaled(
                execution.commission_notional_collected,
                price_scale * qty_scale,
                "commission_notional_collected",
            )
            if is_fill
            else None
        ),
        settl_curr_amt=_product(last_px, last_qty, "last_px") if is_fill else None,
        text=text,
        ord_rej_reason=(
            enums.fix_ord_rej_reason(execution.order_reject_reason)
            if exec_type == _EXEC_TYPE_REJECTED
            else None
        ),
        exec_restatement_reason=(
            enums.fix_exec_restatement_reason(
                execution.unsolicited_cancel_reason,
                text=text or "",
                smp_instruction=order.self_match_prevention_instruction,
            )
            if exec_type == _EXEC_TYPE_CANCELED
            else None
        ),
        manual_order_indicator=enums.fix_manual_order_indicator(order.manual_order_indicator),
        transact_time_ns=transact_time_ns,
        trade_date=_trade_date(execution),
    )


def _text(value: str, field: str) -> str:
    """An upstream string as is, unless it would break FIX framing."""
    if _SOH in value:
        raise NormalizationError(field, "contains the FIX field separator SOH", value)
    return value


def _required_text(value: str, field: str) -> str:
    if not value:
        raise NormalizationError(field, "missing")
    return _text(value, field)


def _optional_text(value: str, field: str) -> str | None:
    return _text(value, field) or None


def _scaled(value: int, scale: int, field: str) -> Decimal:
    """``value / scale`` exactly, or NormalizationError naming ``field`` (under ``_EXACT``)."""
    try:
        return scaled(value, scale, what=field)
    except ScaleError as exc:
        raise NormalizationError(field, str(exc), scale) from None
    except DecimalException:
        raise NormalizationError(field, f"no exact decimal for {value} / {scale}", value) from None


def _product(left: Decimal, right: Decimal, field: str) -> Decimal:
    """``left * right`` exactly, or NormalizationError naming ``field`` (under ``_EXACT``)."""
    try:
        return left * right
    except DecimalException:
        raise NormalizationError(field, f"no exact decimal for {left} * {right}", left) from None


class _Timestamp(Protocol):
    """What is read from a google.protobuf.Timestamp."""

    @property
    def seconds(self) -> int: ...

    @property
    def nanos(self) -> int: ...


def _timestamp(stamp: _Timestamp, field: str) -> int:
    """Integer nanoseconds of a protobuf Timestamp inside the range FIX can carry."""
    if not 0 <= stamp.nanos < _NS_PER_S:
        raise NormalizationError(f"{field}.nanos", "must be in 0..999999999", stamp.nanos)
    if not 0 <= stamp.seconds <= _MAX_TIMESTAMP_SECONDS:
        raise NormalizationError(f"{field}.seconds", "outside 1970..9999", stamp.seconds)
    ns = timestamp_ns(stamp.seconds, stamp.nanos)
    if ns == 0:
        raise NormalizationError(field, "missing (epoch zero)")
    return ns


def _expire_time(order: trading_pb2.Order, time_in_force: str) -> int | None:
    if time_in_force != _TIF_GOOD_TILL_DATE or not order.HasField("good_till_time"):
        return None
    return _timestamp(order.good_till_time, "order.good_till_time")


def _trade_date(execution: trading_pb2.Execution) -> str | None:
    if not execution.HasField("transact_trade_date"):
        return None
    date: types_pb2.Date = execution.transact_trade_date
    if (date.year, date.month, date.day) == (0, 0, 0):
        return None
    try:
        day = dt.date(date.year, date.month, date.day)
    except ValueError:
        raise NormalizationError(
            "transact_trade_date", "not a calendar date", (date.year, date.month, date.day)
        ) from None
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _firm(account: str, participant: str) -> str:
    """``F`` from ``firms/F/accounts/A``, else from ``firms/F/users/U``, else ``""``."""
    for pattern, value in ((_ACCOUNT_FIRM, account), (_PARTICIPANT_FIRM, participant)):
        match = pattern.fullmatch(value)
        if match:
            return match.group(1)
    return ""


# --- rendering -----------------------------------------------------------------------------


def execution_report_body(event: ExecutionEvent, precision: Precision) -> list[tuple[int, str]]:
    """ExecutionReport (35=8) body fields, in the stock FIX50SP2.xml's declaration order.

    No header or trailer tags (8, 9, 35, 49, 56, 34, 52, 10). Only non-empty values are emitted.
    Conditional tags: 11 when ClOrdID is known; 41 when ingestion linked a previous ClOrdID;
    Parties (453) for each known party; 880, 828, 1057, 12/13 and 119 on fills; 103 on rejects;
    378 on unsolicited cancels; 1 when the account is known; 40 when the type is known; 44 unless
    the order has no limit price yet (market-to-limit, stop or untyped with price 0); 126 for
    GTD; 75 when the trade date is known; 381 once CumQty > 0; 110 when MinQty is set; 58 when
    there is text; 1028 when upstream says.
    """
    with localcontext(_EXACT):
        return _body(event, precision)


def _body(event: ExecutionEvent, precision: Precision) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = [(37, event.order_id)]
    _put(out, 11, event.cl_ord_id)
    _put(out, 41, event.orig_cl_ord_id)
    out.extend(_parties(event))
    if event.is_fill:
        _put(out, 880, event.trade_id)
    out += [(17, event.exec_id), (150, event.exec_type), (39, event.ord_status)]
    _put(out, 103, event.ord_rej_reason)
    _put(out, 378, event.exec_restatement_reason)
    if event.is_fill:
        out.append((828, _TRD_TYPE_REGULAR))
    _put(out, 1, event.account)
    # Instrument component: Symbol, SecurityID = Symbol, SecurityIDSource 8, Product 12 (OTHER).
    # SecurityType(167) is not sent: the stock dictionary has no "EVENT" value for it.
    out += [
        (55, event.symbol),
        (48, event.symbol),
        (22, _SECURITY_ID_SOURCE_EXCHANGE_SYMBOL),
        (460, _PRODUCT_OTHER),
        (54, event.side),
        (38, fix_decimal(event.order_qty)),
    ]
    _put(out, 40, event.ord_type)
    if event.price != 0 or event.ord_type not in _UNPRICED_ORD_TYPES:
        out.append((44, fix_decimal(event.price)))
    out += [(99, fix_decimal(event.stop_px)), (59, event.time_in_force)]
    if event.expire_time_ns is not None:
        out.append((126, format_utc_timestamp(event.expire_time_ns, precision)))
    if event.aggressor is not None:
        out.append((1057, _FIX_BOOLEAN[event.aggressor]))
    out += [
        (32, fix_decimal(event.last_qty)),
        (31, fix_decimal(event.last_px)),
        (151, fix_decimal(event.leaves_qty)),
        (14, fix_decimal(event.cum_qty)),
        (6, fix_decimal(event.avg_px)),
    ]
    _put(out, 75, event.trade_date)
    out.append((60, format_utc_timestamp(event.transact_time_ns, precision)))
    if event.commission is not None:
        out += [(12, fix_decimal(event.commission)), (13, _COMM_TYPE_ABSOLUTE)]
    if event.gross_trade_amt is not None:
        out.append((381, fix_decimal(event.gross_trade_amt)))
    if event.settl_curr_amt is not None:
        out.append((119, fix_decimal(event.settl_curr_amt)))
    if event.min_qty is not None:
        out.append((110, fix_decimal(event.min_qty)))
    _put(out, 58, event.text)
    out.append((797, COPY_MSG_INDICATOR))
    if event.manual_order_indicator is not None:
        out.append((1028, _FIX_BOOLEAN[event.manual_order_indicator]))
    return out


# CopyMsgIndicator(797)=Y: every message fixbridge sends is a copy, never an order response.
COPY_MSG_INDICATOR = "Y"


def _put(out: list[tuple[int, str]], tag: int, value: str | None) -> None:
    """Append ``tag=value`` only when there is a value (QuickFIX rejects empty fields)."""
    if value:
        out.append((tag, value))


def _parties(event: ExecutionEvent) -> list[tuple[int, str]]:
    """Parties component: 453 NoPartyIDs, then 448, 447, 452 per party (dictionary order)."""
    parties = [
        (party_id, role)
        for party_id, role in (
            (event.firm, _PARTY_ROLE_EXECUTING_FIRM),
            (event.client_id, _PARTY_ROLE_CLIENT_ID),
            (event.account, _PARTY_ROLE_CUSTOMER_ACCOUNT),
        )
        if party_id
    ]
    if not parties:
        return []
    out: list[tuple[int, str]] = [(453, str(len(parties)))]
    for party_id, role in parties:
        out += [(448, party_id), (447, _PARTY_ID_SOURCE_PROPRIETARY), (452, role)]
    return out


__all__ = [
    "ExecutionEvent",
    "NormalizationError",
    "execution_report_body",
    "normalize_execution",
]
