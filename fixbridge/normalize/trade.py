"""One upstream ``Trade`` -> one :class:`TradeEvent` -> TradeCaptureReport (35=AE) body fields,
and for a busted trade one trade-cancel ExecutionReport (35=8, ExecType H) body per side.

Rules:

* Identity. A trade is re-sent with the same id and a new state (spec §4.5), and each state is a
  new event: ``upstream_id = f"{trade_id}:{state}"``. On FIX the trade is one entity,
  TradeID(1003) = TrdMatchID(880) = trade id, and each version has its own stable
  TradeReportID(571) = ``f"{trade_id}-{state}"`` (no TradeReportRefID(572) chain).
* Sides. Each of ``aggressor`` and ``passive`` is normalized by
  :func:`~fixbridge.normalize.execution.normalize_execution` (same scales, parties, commission
  and text rules as an ExecutionReport) and must be a fill of this trade: a fill ExecutionType,
  the trade's id (or none), the same symbol, LastQty and LastPx on both sides, opposite sides,
  0 < LastQty <= CumQty. Which side was the aggressor is taken from the Trade's structure.
* State and type. TradeState / TradeType numbers become the exchange's names through the tables
  in :mod:`fixbridge.normalize.enums`, which also give 487, 856, 939, 150, 828 and 829 per name.
  TradeState UNDEFINED ("never sent") and unknown numbers are errors; TradeType UNDEFINED is kept
  and rendered as a regular trade (828=0), as the exchange's own FIX does.
* Busts. A BUSTED trade renders as a Cancel report (487=1, 856=6, 939=2, 150=H) and, per side,
  an ExecutionReport with ExecType H, ExecRefID(19) = that side's fill ExecID, ExecID(17) =
  ``f"{fill ExecID}-BUST"``, LastQty/LastPx of the busted fill, CumQty = the order's CumQty at
  the fill minus the busted quantity, and OrdStatus, LeavesQty and TransactTime as of the fill:
  the upstream Trade has no time or order state of its own for the bust.
* Same guarantees as the execution normalizer: pure (no I/O, clock or sleep); ``Decimal`` only,
  exact; total (bad input raises :class:`NormalizationError`, never anything else); every tag
  defined for the message in the stock QuickFIX FIX50SP2.xml, with listed values, in
  declaration order, groups starting with their delimiter; no user-defined tags.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from decimal import Decimal, localcontext
from typing import Final

from fixbridge.normalize import enums
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.execution import (
    _COMM_TYPE_ABSOLUTE,
    _EXACT,
    _FIX_BOOLEAN,
    _PRODUCT_OTHER,
    _SECURITY_ID_SOURCE_EXCHANGE_SYMBOL,
    _UNPRICED_ORD_TYPES,
    COPY_MSG_INDICATOR,
    ExecutionEvent,
    _optional_text,
    _parties,
    _put,
    _required_text,
    normalize_execution,
)
from fixbridge.normalize.payload import (
    decode_str,
    event_from_payload,
    event_to_payload,
    field_decoders,
    plain_value,
)
from fixbridge.normalize.scale import fix_decimal
from fixbridge.normalize.timestamps import Precision, format_utc_timestamp
from fixbridge.proto.polymarket.v1 import orders_pb2, trading_pb2

_EXEC_TYPE_TRADE_CANCEL: Final = "H"
_UNSOLICITED: Final = "Y"  # UnsolicitedIndicator(325): sent by out-of-band subscription
_NO_SIDES: Final = "2"  # NoSides(552): both sides, aggressor first
BUST_EXEC_ID_SUFFIX: Final = "-BUST"
"""Appended to a side's fill ExecID to make the ExecID(17) of its trade-cancel report."""


@dataclass(frozen=True, slots=True)
class TradeSide:
    """One side of a trade: that side's fill, as :func:`normalize_execution` gives it.

    ``execution.aggressor`` is this side's role in the trade and ``execution.trade_id`` the
    trade's id. The properties name what the reports and the scope filter read.
    """

    execution: ExecutionEvent

    @property
    def firm(self) -> str:
        """Firm parsed from the account (else the participant); "" when neither names one."""
        return self.execution.firm

    @property
    def account(self) -> str:
        """Full upstream account, e.g. ``firms/F/accounts/A``; Account(1)."""
        return self.execution.account

    @property
    def participant(self) -> str:
        return self.execution.participant

    @property
    def client_id(self) -> str:
        """PartyRole 3 (client id)."""
        return self.execution.client_id

    @property
    def side(self) -> str:
        """Side(54): "1" buy, "2" sell."""
        return self.execution.side

    @property
    def order_id(self) -> str:
        return self.execution.order_id

    @property
    def cl_ord_id(self) -> str:
        """ClOrdID(11); "" when upstream sent none."""
        return self.execution.cl_ord_id

    @property
    def exec_id(self) -> str:
        """The fill's ExecID (Execution.id)."""
        return self.execution.exec_id

    @property
    def bust_exec_id(self) -> str:
        """ExecID(17) of this side's trade-cancel ExecutionReport."""
        return f"{self.execution.exec_id}{BUST_EXEC_ID_SUFFIX}"

    @property
    def commission(self) -> Decimal | None:
        """Commission(12) in dollars on this fill; negative = rebate."""
        return self.execution.commission

    @property
    def aggressor(self) -> bool:
        """AggressorIndicator(1057)."""
        return self.execution.aggressor is True


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """One version (state) of one upstream Trade, in exact FIX-ready terms.

    ``state`` and ``trade_type`` are the exchange's enum names without prefix ("CLEARED",
    "BLOCK"; a trade type upstream left UNDEFINED stays "UNDEFINED"). Trade-level values that
    both sides share (symbol, LastQty, LastPx) are read from the aggressor's fill, which
    :func:`normalize_trade` has checked against the passive one.
    """

    trade_id: str  # Trade.id; TradeID(1003) and TrdMatchID(880)
    state: str  # TradeState name, e.g. "NEW", "CLEARED", "BUSTED"
    trade_type: str  # TradeType name, e.g. "REGULAR"; TrdType(828) / TrdSubType(829)
    text: str | None  # Trade.text, e.g. the bust reason; in Text(58) after the state name
    trade_link_id: str | None  # Trade.trade_link_id; TradeLinkID(820)
    aggressor: TradeSide  # the taker; first NoSides entry, 1057=Y
    passive: TradeSide  # the maker; second NoSides entry, 1057=N

    @property
    def upstream_id(self) -> str:
        """Journal dedup key: a trade re-sent with a new state is a new event (invariant 2)."""
        return f"{self.trade_id}:{self.state}"

    @property
    def trade_report_id(self) -> str:
        """TradeReportID(571): unique per (trade id, state), the same on every rendering."""
        return f"{self.trade_id}-{self.state}"

    @property
    def sides(self) -> tuple[TradeSide, TradeSide]:
        return (self.aggressor, self.passive)

    @property
    def symbol(self) -> str:
        """Symbol(55) and SecurityID(48)."""
        return self.aggressor.execution.symbol

    @property
    def last_qty(self) -> Decimal:
        """LastQty(32): the traded quantity."""
        return self.aggressor.execution.last_qty

    @property
    def last_px(self) -> Decimal:
        """LastPx(31): the trade price."""
        return self.aggressor.execution.last_px

    @property
    def transact_time_ns(self) -> int:
        """TransactTime(60): the aggressor execution's transact_time, in ns since the epoch."""
        return self.aggressor.execution.transact_time_ns

    @property
    def trade_date(self) -> str | None:
        """TradeDate(75), YYYYMMDD: the aggressor's transact_trade_date, else the passive's."""
        return self.aggressor.execution.trade_date or self.passive.execution.trade_date

    @property
    def firms(self) -> frozenset[str]:
        """Firms of both sides (scope filter); sides naming no firm add nothing."""
        return frozenset(side.firm for side in self.sides if side.firm)

    @property
    def accounts(self) -> frozenset[str]:
        """Accounts of both sides (scope filter); sides without an account add nothing."""
        return frozenset(side.account for side in self.sides if side.account)

    @property
    def is_bust(self) -> bool:
        """Whether this version cancels the trade (then it also has trade-cancel ERs)."""
        return enums.TRADE_EXEC_TYPE[self.state] == _EXEC_TYPE_TRADE_CANCEL

    def to_payload(self) -> bytes:
        """Compact JSON for the journal: each side as its execution's document; exact round trip."""
        return event_to_payload(self, _encode)

    @classmethod
    def from_payload(cls, data: bytes) -> TradeEvent:
        """Inverse of :meth:`to_payload`; a corrupt payload raises :class:`NormalizationError`."""
        return event_from_payload(cls, _DECODE, data)


# --- payload codecs (the execution module's, plus a TradeSide and the two enum names) --------


def _encode(value: object) -> object:
    if isinstance(value, TradeSide):
        fill = value.execution
        return {spec.name: _encode(getattr(fill, spec.name)) for spec in fields(fill)}
    return plain_value(value)


def _decode_side(name: str, raw: object) -> TradeSide:
    if not isinstance(raw, dict):
        raise NormalizationError(f"payload.{name}", "expected a JSON object", type(raw).__name__)
    try:
        return TradeSide(ExecutionEvent.from_payload(json.dumps(raw).encode("utf-8")))
    except NormalizationError as error:
        raise _within(error, f"payload.{name}", strip="payload") from None


def _decode_name(table: Mapping[int, str]) -> Callable[[str, object], str]:
    names = frozenset(table.values())

    def decode(name: str, raw: object) -> str:
        value = decode_str(name, raw)
        if value not in names:
            raise NormalizationError(f"payload.{name}", "not a known name", value)
        return value

    return decode


_DECODE: Final[Mapping[str, Callable[[str, object], object]]] = {
    **field_decoders(TradeEvent, {TradeSide: _decode_side}),
    "state": _decode_name(enums.TRADE_STATE_NAME),
    "trade_type": _decode_name(enums.TRADE_TYPE_NAME),
}


def _within(error: NormalizationError, prefix: str, *, strip: str = "") -> NormalizationError:
    """``error`` with its field path moved under ``prefix`` (after removing a ``strip`` head)."""
    rest = error.field.removeprefix(strip).lstrip(".")
    return NormalizationError(f"{prefix}.{rest}" if rest else prefix, error.reason, error.value)


# --- normalization -------------------------------------------------------------------------


def normalize_trade(trade: orders_pb2.Trade) -> TradeEvent:
    """Validate and convert one upstream Trade; raises only :class:`NormalizationError`."""
    with localcontext(_EXACT):
        return _normalize(trade)


def _normalize(trade: orders_pb2.Trade) -> TradeEvent:
    """:func:`normalize_trade`, run under the exact decimal context."""
    trade_id = _required_text(trade.id, "id")
    state = enums.trade_state_name(trade.state)
    trade_type = enums.trade_type_name(trade.trade_type)
    text = _optional_text(trade.text, "text")
    trade_link_id = _optional_text(trade.trade_link_id, "trade_link_id")
    if not trade.HasField("aggressor"):
        raise NormalizationError("aggressor", "missing")
    if not trade.HasField("passive"):
        raise NormalizationError("passive", "missing")
    aggressor = _side(trade.aggressor, "aggressor", trade_id, is_aggressor=True)
    passive = _side(trade.passive, "passive", trade_id, is_aggressor=False)
    _check_counterparts(aggressor.execution, passive.execution)
    return TradeEvent(
        trade_id=trade_id,
        state=state,
        trade_type=trade_type,
        text=text,
        trade_link_id=trade_link_id,
        aggressor=aggressor,
        passive=passive,
    )


def _side(
    execution: trading_pb2.Execution, name: str, trade_id: str, *, is_aggressor: bool
) -> TradeSide:
    """One side's fill, normalized; errors name the field under ``name`` ("aggressor.order.id")."""
    try:
        fill = normalize_execution(execution)
    except NormalizationError as error:
        raise _within(error, name) from None
    if not fill.is_fill:
        raise NormalizationError(f"{name}.type", "not a fill execution", execution.type)
    if fill.trade_id not in (None, trade_id):
        raise NormalizationError(f"{name}.trade_id", "not the trade's id", fill.trade_id)
    if fill.last_qty <= 0:
        raise NormalizationError(f"{name}.last_shares", "must be positive", execution.last_shares)
    if fill.cum_qty < fill.last_qty:
        # The order's CumQty includes this fill; the bust report subtracts it again.
        raise NormalizationError(
            f"{name}.order.cum_qty", "less than last_shares", execution.order.cum_qty
        )
    return TradeSide(replace(fill, trade_id=trade_id, aggressor=is_aggressor))


# What both fills of one trade must agree on: (passive field path, value of a fill).
_SHARED: Final[tuple[tuple[str, Callable[[ExecutionEvent], object]], ...]] = (
    ("order.symbol", lambda fill: fill.symbol),
    ("last_shares", lambda fill: fill.last_qty),
    ("last_px", lambda fill: fill.last_px),
)


def _check_counterparts(aggressor: ExecutionEvent, passive: ExecutionEvent) -> None:
    for field, value in _SHARED:
        if value(passive) != value(aggressor):
            raise NormalizationError(
                f"passive.{field}", "differs from the aggressor's", value(passive)
            )
    if passive.side == aggressor.side:
        raise NormalizationError("passive.order.side", "same side as the aggressor", passive.side)


# --- rendering -----------------------------------------------------------------------------


def trade_capture_report_body(event: TradeEvent, precision: Precision) -> list[tuple[int, str]]:
    """TradeCaptureReport (35=AE) body fields, in the stock FIX50SP2.xml's declaration order.

    No header or trailer tags. Always: 571, 1003, 487, 856, 939, 828, 150, 325=Y, 880, 55, 48,
    22=8, 460=12, 32, 31, 60, 552=2 and per side (aggressor, then passive) 54, 1427 (the fill's
    ExecID), 12/13=3 (the fill's commission), 58 (state name, then ": " and Trade.text if any),
    1057, 37. Conditional: 829 for CROSS; 820 with a trade link id; 75 when a trade date is known;
    per side the Parties group (453: 448/447=D/452 for executing firm 1, client id 3, customer
    account 24) for each known party, 1 with an account, 11 with a ClOrdID.
    """
    with localcontext(_EXACT):
        return _report_body(event, precision)


def _report_body(event: TradeEvent, precision: Precision) -> list[tuple[int, str]]:
    state = event.state
    out: list[tuple[int, str]] = [
        (571, event.trade_report_id),
        (1003, event.trade_id),
        (487, enums.TRADE_REPORT_TRANS_TYPE[state]),
        (856, enums.TRADE_REPORT_TYPE[state]),
        (939, enums.TRD_RPT_STATUS[state]),
        (828, enums.TRD_TYPE[event.trade_type]),
    ]
    _put(out, 829, enums.TRD_SUB_TYPE.get(event.trade_type))
    out += [(150, enums.TRADE_EXEC_TYPE[state]), (325, _UNSOLICITED)]
    _put(out, 820, event.trade_link_id)
    out.append((880, event.trade_id))
    out += _instrument(event.symbol)
    out += [(32, fix_decimal(event.last_qty)), (31, fix_decimal(event.last_px))]
    _put(out, 75, event.trade_date)
    out += [(60, format_utc_timestamp(event.transact_time_ns, precision)), (552, _NO_SIDES)]
    text = _text(event)
    for side in event.sides:
        out += _report_side(side, text)
    out.append((797, COPY_MSG_INDICATOR))  # declared after the sides group
    return out


def _instrument(symbol: str) -> list[tuple[int, str]]:
    """Symbol, SecurityID = Symbol, SecurityIDSource 8 (exchange symbol), Product 12 (OTHER)."""
    return [
        (55, symbol),
        (48, symbol),
        (22, _SECURITY_ID_SOURCE_EXCHANGE_SYMBOL),
        (460, _PRODUCT_OTHER),
    ]


def _text(event: TradeEvent) -> str:
    """Text(58): the exchange's state name, then the trade's own text if it has one."""
    return f"{event.state}: {event.text}" if event.text else event.state


def _report_side(side: TradeSide, text: str) -> list[tuple[int, str]]:
    """One TrdCapRptSideGrp entry: Side (the delimiter) first, then declaration order."""
    fill = side.execution
    out: list[tuple[int, str]] = [(54, fill.side), (1427, fill.exec_id)]
    out += _parties(fill)
    _put(out, 1, fill.account)
    if fill.commission is not None:
        out += [(12, fix_decimal(fill.commission)), (13, _COMM_TYPE_ABSOLUTE)]
    out += [(58, text), (1057, _FIX_BOOLEAN[side.aggressor]), (37, fill.order_id)]
    _put(out, 11, fill.cl_ord_id)
    return out


def trade_bust_execution_reports(
    event: TradeEvent, precision: Precision
) -> list[tuple[TradeSide, list[tuple[int, str]]]]:
    """One trade-cancel ExecutionReport (35=8) body per side of a BUSTED trade, else ``[]``.

    Aggressor first. Field order and formatting as
    :func:`~fixbridge.normalize.execution.execution_report_body`: 37, 11, Parties, 880, 17 =
    ``f"{fill ExecID}-BUST"``, 19 = fill ExecID, 150=H, 39 (as of the fill), 828 (829), 1, 55,
    48, 22, 460, 54, 38, 40, 44, 99, 59, 126, 1057, 32/31 (the busted fill), 151 (as of the
    fill), 14 (CumQty at the fill minus the busted quantity), 75, 60 (the fill's), 110, 58
    (as in the report), 1028. Not sent: AvgPx(6), which has no exact value once a fill is taken
    out (it is optional in FIX50SP2), and the fill-only 12/13, 119, 381.
    """
    if not event.is_bust:
        return []
    with localcontext(_EXACT):
        return [(side, _bust_body(event, side, precision)) for side in event.sides]


def _bust_body(event: TradeEvent, side: TradeSide, precision: Precision) -> list[tuple[int, str]]:
    fill = side.execution
    out: list[tuple[int, str]] = [(37, fill.order_id)]
    _put(out, 11, fill.cl_ord_id)
    out += _parties(fill)
    out += [
        (880, event.trade_id),
        (17, side.bust_exec_id),
        (19, fill.exec_id),
        (150, _EXEC_TYPE_TRADE_CANCEL),
        (39, fill.ord_status),
        (828, enums.TRD_TYPE[event.trade_type]),
    ]
    _put(out, 829, enums.TRD_SUB_TYPE.get(event.trade_type))
    _put(out, 1, fill.account)
    out += _instrument(fill.symbol)
    out += [(54, fill.side), (38, fix_decimal(fill.order_qty))]
    _put(out, 40, fill.ord_type)
    if fill.price != 0 or fill.ord_type not in _UNPRICED_ORD_TYPES:
        out.append((44, fix_decimal(fill.price)))
    out += [(99, fix_decimal(fill.stop_px)), (59, fill.time_in_force)]
    if fill.expire_time_ns is not None:
        out.append((126, format_utc_timestamp(fill.expire_time_ns, precision)))
    out += [
        (1057, _FIX_BOOLEAN[side.aggressor]),
        (32, fix_decimal(fill.last_qty)),
        (31, fix_decimal(fill.last_px)),
        (151, fix_decimal(fill.leaves_qty)),
        (14, fix_decimal(fill.cum_qty - fill.last_qty)),
    ]
    _put(out, 75, fill.trade_date)
    out.append((60, format_utc_timestamp(fill.transact_time_ns, precision)))
    if fill.min_qty is not None:
        out.append((110, fix_decimal(fill.min_qty)))
    out += [(58, _text(event)), (797, COPY_MSG_INDICATOR)]
    if fill.manual_order_indicator is not None:
        out.append((1028, _FIX_BOOLEAN[fill.manual_order_indicator]))
    return out


__all__ = [
    "BUST_EXEC_ID_SUFFIX",
    "NormalizationError",
    "TradeEvent",
    "TradeSide",
    "normalize_trade",
    "trade_bust_execution_reports",
    "trade_capture_report_body",
]
