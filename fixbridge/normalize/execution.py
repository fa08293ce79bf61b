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

import dataclasses
import datetime as dt
import functools
import operator
from dataclasses import dataclass
from decimal import Decimal, DecimalException, localcontext
from typing import Final

from fixbridge.normalize import enums
from fixbridge.normalize.body import (
    COMM_TYPE_ABSOLUTE,
    COPY_MSG_INDICATOR,
    FIX_BOOLEAN,
    Fields,
    instrument,
    put,
)
from fixbridge.normalize.construct import slot_init
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.fields import (
    EXACT,
    optional_text,
    positive_scale,
    product,
    quantity_scale,
    required_text,
    scaled_value,
    text,
    timestamp,
)
from fixbridge.normalize.fills import Fill, OrderTotals, average_price, filled_notional
from fixbridge.normalize.parties import firm_of, identifier, order_parties
from fixbridge.normalize.payload import PayloadCodec, register_nested
from fixbridge.normalize.profiles import conform
from fixbridge.normalize.scale import fix_decimal
from fixbridge.normalize.style import DEFAULT_STYLE, Profile, RenderStyle
from fixbridge.normalize.timestamps import format_utc_timestamp
from fixbridge.normalize.tradedate import checked_trade_date
from fixbridge.proto.polymarket.v1 import trading_pb2, types_pb2

# FIX values used by the renderer (all listed in the stock FIX50SP2.xml).
_EXEC_TYPE_TRADE: Final = "F"
_EXEC_TYPE_CANCELED: Final = "4"
_EXEC_TYPE_REJECTED: Final = "8"
_TIF_GOOD_TILL_DATE: Final = "6"
# Order types with no limit price of their own: 44 is left out while upstream says 0.
UNPRICED_ORD_TYPES: Final = frozenset({"K", "3", None})
_ZERO: Final = Decimal(0)


@slot_init
@dataclass(frozen=True, slots=True)
class ExecutionEvent:
    """One upstream Execution in exact FIX-ready terms.

    Prices, quantities and amounts are ``Decimal``; enum fields hold FIX codes (``exec_type`` is
    the ExecType(150) value, ``ord_status`` OrdStatus(39), ...); times are integer nanoseconds
    since the epoch (UTC). ``None`` means "not applicable / not sent"; an empty string means
    upstream sent nothing for an identifier that is still part of the event. Identifiers are
    kept as upstream's full resource names; each session renders them in its own style.
    """

    exec_id: str  # Execution.id; dedup key; ExecID(17)
    order_id: str  # order.id; OrderID(37)
    cl_ord_id: str  # order.clord_id; ClOrdID(11), "" = not sent
    symbol: str  # order.symbol; Symbol(55) and SecurityID(48)
    account: str  # order.account, e.g. "firms/F/accounts/A"; Account(1), party role 24
    firm: str  # parsed from account, else from participant; party role 1; "" when neither
    participant: str  # order.participant, e.g. "firms/F/users/U"; party role 36
    exec_type: str  # ExecType(150)
    ord_status: str  # OrdStatus(39), a value FIX allows with exec_type
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
    avg_px: Decimal  # AvgPx(6): VWAP of the order's fills (normalize/fills.py)
    gross_trade_amt: Decimal | None  # GrossTradeAmt(381): filled notional, once cum_qty > 0
    trade_id: str | None  # TrdMatchID(880); fills only
    aggressor: bool | None  # AggressorIndicator(1057); fills only
    commission: Decimal | None  # Commission(12) in dollars, negative = rebate; fills only
    settl_curr_amt: Decimal | None  # SettlCurrAmt(119) = last_px * last_qty; fills only
    text: str | None  # Text(58)
    ord_rej_reason: str | None  # OrdRejReason(103); rejects only
    exec_restatement_reason: str | None  # ExecRestatementReason(378); unsolicited cancels only
    manual_order_indicator: bool | None  # ManualOrderIndicator(1028); None when UNDEFINED
    transact_time_ns: int  # TransactTime(60)
    trade_date: str | None  # TradeDate(75), YYYYMMDD (None only in payloads of old versions)
    # OrigClOrdID(41): the order's ClOrdID on its previous execution, when this one carries a
    # different ClOrdID (a client cancel or replace). Upstream has no such field: the
    # subscriber fills it from the order's history at ingestion (see upstream/orders.py).
    orig_cl_ord_id: str | None = None
    end_client: str = ""  # order.client_participant_id; party role 3, "" = not sent
    # Why an unsolicited cancel happened (enums.cancel_reason), for profiles whose 378 says
    # more than 8 or 99; None for other executions and in payloads of older versions.
    cancel_reason: str | None = None

    @property
    def is_fill(self) -> bool:
        """Whether this is a trade (ExecType F), i.e. what a fills-only session receives."""
        return self.exec_type == _EXEC_TYPE_TRADE

    def totals(self) -> OrderTotals:
        """The order's status and quantities as of this execution."""
        return OrderTotals(
            transact_time_ns=self.transact_time_ns,
            ord_status=self.ord_status,
            order_qty=self.order_qty,
            cum_qty=self.cum_qty,
            leaves_qty=self.leaves_qty,
            filled_notional=self.gross_trade_amt or _ZERO,
        )

    def as_fill(self) -> Fill | None:
        """This execution as one fill of its order, or None when it is not a fill."""
        if not self.is_fill:
            return None
        notional = self.settl_curr_amt if self.settl_curr_amt is not None else _ZERO
        return Fill(self.exec_id, self.last_qty, notional, self.transact_time_ns)

    def with_orig_cl_ord_id(self, orig_cl_ord_id: str | None) -> ExecutionEvent:
        """This event with OrigClOrdID(41) set: ``dataclasses.replace`` without its per-call
        look at the fields (linking does this for every cancel and replace)."""
        values = dict(zip(_FIELD_NAMES, _field_values(self), strict=True))
        values["orig_cl_ord_id"] = orig_cl_ord_id
        return type(self)(**values)

    def to_payload(self) -> bytes:
        """Compact JSON for the journal: Decimals as strings, ``None`` kept, exact round trip."""
        return CODEC.encode(self)

    @classmethod
    def from_payload(cls, data: bytes) -> ExecutionEvent:
        """Inverse of :meth:`to_payload`; a corrupt payload raises :class:`NormalizationError`."""
        return CODEC.decode(data)


# ``client_id`` (the submitting user, else the end client) was replaced by ``participant``
# and ``end_client``; payloads journaled with it still decode.
CODEC: Final = PayloadCodec(ExecutionEvent, retired=frozenset({"client_id"}))
register_nested(CODEC)
_FIELD_NAMES: Final = tuple(spec.name for spec in dataclasses.fields(ExecutionEvent))
_field_values: Final = operator.attrgetter(*_FIELD_NAMES)


# --- normalization -------------------------------------------------------------------------


def normalize_execution(execution: trading_pb2.Execution) -> ExecutionEvent:
    """Validate and convert one upstream Execution; raises only :class:`NormalizationError`."""
    with localcontext(EXACT):
        return _normalize(execution)


def _normalize(execution: trading_pb2.Execution) -> ExecutionEvent:
    """:func:`normalize_execution`, run under the exact decimal context."""
    exec_id = required_text(execution.id, "id")
    if not execution.HasField("order"):
        raise NormalizationError("order", "missing")
    order = execution.order
    order_id = required_text(order.id, "order.id")
    symbol = required_text(order.symbol, "order.symbol")
    price_scale = positive_scale(order.price_scale, "order.price_scale")
    qty_scale = quantity_scale(order.fractional_quantity_scale, "order.fractional_quantity_scale")
    if not execution.HasField("transact_time"):
        raise NormalizationError("transact_time", "missing")
    transact_time_ns = timestamp(execution.transact_time, "transact_time")

    exec_type = enums.fix_exec_type(execution.type)
    is_fill = exec_type == _EXEC_TYPE_TRADE
    time_in_force = enums.fix_time_in_force(order.time_in_force)
    note = optional_text(execution.text, "text")

    # Both scales are positive here, so value / scale can only fail as a decimal operation;
    # the exact division is tried first and scaled_value, which names the field, runs only
    # when it failed (it fails again and raises the NormalizationError).
    price_divisor = Decimal(price_scale)
    qty_divisor = Decimal(qty_scale)

    def px(value: int, field: str) -> Decimal:
        try:
            return Decimal(value) / price_divisor
        except DecimalException:
            return scaled_value(value, price_scale, field)

    def qty(value: int, field: str) -> Decimal:
        try:
            return Decimal(value) / qty_divisor
        except DecimalException:
            return scaled_value(value, qty_scale, field)

    last_qty = qty(execution.last_shares, "last_shares")
    last_px = px(execution.last_px, "last_px")
    cum_qty = qty(order.cum_qty, "order.cum_qty")
    leaves_qty = qty(order.leaves_qty, "order.leaves_qty")
    avg_px, gross_trade_amt = _average(order, cum_qty, price_scale, qty_scale)
    account = text(order.account, "order.account")
    participant = text(order.participant, "order.participant")

    return ExecutionEvent(
        exec_id=exec_id,
        order_id=order_id,
        cl_ord_id=text(order.clord_id, "order.clord_id"),
        symbol=symbol,
        account=account,
        firm=firm_of(account, participant),
        participant=participant,
        end_client=text(order.client_participant_id, "order.client_participant_id"),
        exec_type=exec_type,
        ord_status=enums.fix_ord_status(
            order.state, exec_type=exec_type, cum_qty=cum_qty, leaves_qty=leaves_qty
        ),
        side=enums.fix_side(order.side),
        ord_type=enums.fix_ord_type(order.type),
        time_in_force=time_in_force,
        expire_time_ns=_expire_time(order, time_in_force),
        order_qty=qty(order.order_qty, "order.order_qty"),
        price=px(order.price, "order.price"),
        stop_px=px(order.stop_price, "order.stop_price"),
        min_qty=qty(order.min_qty, "order.min_qty") if order.min_qty else None,
        last_qty=last_qty,
        last_px=last_px,
        cum_qty=cum_qty,
        leaves_qty=leaves_qty,
        avg_px=avg_px,
        gross_trade_amt=gross_trade_amt,
        trade_id=optional_text(execution.trade_id, "trade_id") if is_fill else None,
        aggressor=execution.aggressor if is_fill else None,
        # Spec §0: dollars = commission_notional_collected / (price_scale * quantity scale).
        commission=(
            scaled_value(
                execution.commission_notional_collected,
                price_scale * qty_scale,
                "commission_notional_collected",
            )
            if is_fill
            else None
        ),
        settl_curr_amt=product(last_px, last_qty, "last_px") if is_fill else None,
        text=note,
        ord_rej_reason=(
            enums.fix_ord_rej_reason(execution.order_reject_reason)
            if exec_type == _EXEC_TYPE_REJECTED
            else None
        ),
        exec_restatement_reason=(
            enums.fix_exec_restatement_reason(execution.unsolicited_cancel_reason, text=note or "")
            if exec_type == _EXEC_TYPE_CANCELED
            else None
        ),
        manual_order_indicator=enums.fix_manual_order_indicator(order.manual_order_indicator),
        transact_time_ns=transact_time_ns,
        trade_date=_trade_date(execution, transact_time_ns),
        cancel_reason=(
            enums.cancel_reason(execution.unsolicited_cancel_reason, text=note or "")
            if exec_type == _EXEC_TYPE_CANCELED
            else None
        ),
    )


def _average(
    order: trading_pb2.Order, cum_qty: Decimal, price_scale: int, qty_scale: int
) -> tuple[Decimal, Decimal | None]:
    """(AvgPx, GrossTradeAmt) of the order's fills; see normalize/fills.py for the rules."""
    notional = filled_notional(
        order.price_to_quantity_filled,
        cum_qty=order.cum_qty,
        price_scale=price_scale,
        quantity_scale=qty_scale,
    )
    if notional is not None:
        return average_price(notional, cum_qty), notional
    avg_px = scaled_value(order.avg_px, price_scale, "order.avg_px")
    if cum_qty <= 0:
        return avg_px, None
    return avg_px, product(avg_px, cum_qty, "order.avg_px")


def _expire_time(order: trading_pb2.Order, time_in_force: str) -> int | None:
    if time_in_force != _TIF_GOOD_TILL_DATE or not order.HasField("good_till_time"):
        return None
    return timestamp(order.good_till_time, "order.good_till_time")


def _trade_date(execution: trading_pb2.Execution, transact_time_ns: int) -> str:
    """The exchange's ``transact_trade_date`` when it sends one, else the trade date of the
    transact time (17:00 New York roll, normalize/tradedate.py)."""
    date: types_pb2.Date = execution.transact_trade_date
    if (date.year, date.month, date.day) == (0, 0, 0):  # absent, or all zero
        return checked_trade_date(transact_time_ns, "transact_time")
    return _calendar_date(date.year, date.month, date.day)


@functools.lru_cache(maxsize=1024)
def _calendar_date(year: int, month: int, day: int) -> str:
    """``YYYYMMDD`` of a calendar date (cached: one trade date serves many executions); not
    a date raises NormalizationError (errors are not cached)."""
    try:
        date = dt.date(year, month, day)
    except ValueError:
        raise NormalizationError(
            "transact_trade_date", "not a calendar date", (year, month, day)
        ) from None
    return f"{date.year:04d}{date.month:02d}{date.day:02d}"


# --- rendering -----------------------------------------------------------------------------


def execution_report_body(event: ExecutionEvent, style: RenderStyle = DEFAULT_STYLE) -> Fields:
    """ExecutionReport (35=8) body fields, in the stock FIX50SP2.xml's declaration order.

    No header or trailer tags (8, 9, 35, 49, 56, 34, 52, 10). Only non-empty values are emitted.
    Conditional tags: 11 when ClOrdID is known; 41 when ingestion linked a previous ClOrdID;
    Parties (453) for each known party; 880, 828, 1057, 12/13 and 119 on fills; 103 on rejects;
    378 on unsolicited cancels; 1 when the account is known; 40 when the type is known; 44 unless
    the order has no limit price yet (market-to-limit, stop or untyped with price 0); 126 for
    GTD; 75 when the trade date is known; 381 once CumQty > 0; 110 when MinQty is set; 58 when
    there is text; 1028 when upstream says.
    """
    with localcontext(EXACT):
        return _body(event, style)


def _body(event: ExecutionEvent, style: RenderStyle) -> Fields:
    precision = style.precision
    out: Fields = [(37, event.order_id)]
    put(out, 11, event.cl_ord_id)
    put(out, 41, event.orig_cl_ord_id)
    out += execution_parties(event, style)
    if event.is_fill:
        put(out, 880, event.trade_id)
    out += [(17, event.exec_id), (150, event.exec_type), (39, event.ord_status)]
    put(out, 103, event.ord_rej_reason)
    put(out, 378, _exec_restatement_reason(event, style.profile))
    if event.is_fill:
        out.append((828, enums.TRD_TYPE_REGULAR))
    out += account_and_order(event, style)
    if event.aggressor is not None:
        out.append((1057, FIX_BOOLEAN[event.aggressor]))
    out += [
        (32, fix_decimal(event.last_qty)),
        (31, fix_decimal(event.last_px)),
        (151, fix_decimal(event.leaves_qty)),
        (14, fix_decimal(event.cum_qty)),
        (6, fix_decimal(event.avg_px)),
    ]
    put(out, 75, event.trade_date)
    out.append((60, format_utc_timestamp(event.transact_time_ns, precision)))
    if event.commission is not None:
        out += [(12, fix_decimal(event.commission)), (13, COMM_TYPE_ABSOLUTE)]
    if event.gross_trade_amt is not None:
        out.append((381, fix_decimal(event.gross_trade_amt)))
    if event.settl_curr_amt is not None:
        out.append((119, fix_decimal(event.settl_curr_amt)))
    if event.min_qty is not None:
        out.append((110, fix_decimal(event.min_qty)))
    put(out, 58, event.text)
    out.append((797, COPY_MSG_INDICATOR))
    if event.manual_order_indicator is not None:
        out.append((1028, FIX_BOOLEAN[event.manual_order_indicator]))
    return conform(style.profile, "8", out)


def _exec_restatement_reason(event: ExecutionEvent, profile: Profile) -> str | None:
    """378 as the profile sends it: the exchange's 8 or 99, or for ``latest`` the
    extension-pack code of the cancel reason (an event journaled before the reason was kept
    falls back to the exchange's value)."""
    if profile is Profile.LATEST and event.cancel_reason is not None:
        return enums.LATEST_EXEC_RESTATEMENT_REASON.get(
            event.cancel_reason, event.exec_restatement_reason
        )
    return event.exec_restatement_reason


def execution_parties(event: ExecutionEvent, style: RenderStyle) -> Fields:
    """The Parties component of an order's report (normalize/parties.py for the roles)."""
    return order_parties(
        firm=event.firm,
        end_client=event.end_client,
        account=event.account,
        participant=event.participant,
        style=style,
    )


def account_and_order(event: ExecutionEvent, style: RenderStyle) -> Fields:
    """Account(1) through ExpireTime(126): the account, the instrument and the order's terms,
    as every ExecutionReport of an order carries them (fills, cancels, trade cancels)."""
    out: Fields = []
    put(out, 1, identifier(event.account, style))
    out += instrument(event.symbol)
    out += [(54, event.side), (38, fix_decimal(event.order_qty))]
    put(out, 40, event.ord_type)
    if event.price != 0 or event.ord_type not in UNPRICED_ORD_TYPES:
        out.append((44, fix_decimal(event.price)))
    out += [(99, fix_decimal(event.stop_px)), (59, event.time_in_force)]
    if event.expire_time_ns is not None:
        out.append((126, format_utc_timestamp(event.expire_time_ns, style.precision)))
    return out


__all__ = [
    "ExecutionEvent",
    "NormalizationError",
    "execution_report_body",
    "normalize_execution",
]
