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
* Versions. The first report of a trade a session gets is New (487=0, 856=0) whatever state
  the trade is in by then; later states Replace it (487=2, 856=0) and a bust Cancels it
  (487=1, 856=6); TrdRptStatus(939) says the clearing status (enums.TRADE_REPORT_VERSION).
  Whether a report is a session's first is the caller's knowledge, passed in.
* TrdType(828) is 0 on every message of every trade, as on the exchange's own FIX; the gRPC
  TradeType goes in SecondaryTrdType(855) or TrdSubType(829) (enums).
* Scope. A session sees only the sides its scope covers. The other side of a
  TradeCaptureReport is reduced to its Side(54), the most the exchange's own drop copy tells a
  participant about its counterparty: no firm, account, user, order id, ClOrdID, commission.
* Busts. The upstream Trade carries neither the time of the bust nor the orders' state after
  it. :func:`settle_bust` is given both (the receipt time of the BUSTED trade, and each
  order's latest totals, fills and earlier busts from the journal) and records, per side, the
  order after the bust (normalize/fills.py: FIX Order State Change Matrices, J). Each side's
  trade-cancel ExecutionReport then has ExecType H, ExecRefID(19) = that side's fill ExecID,
  ExecID(17) = ``f"{fill ExecID}-BUST"``, LastQty/LastPx of the busted fill, the order's
  OrdStatus, CumQty, LeavesQty and AvgPx after the bust, and TransactTime = the bust's time.
* Same guarantees as the execution normalizer: pure (no I/O, clock or sleep); ``Decimal`` only,
  exact; total (bad input raises :class:`NormalizationError`, never anything else); every tag
  defined for the message in the stock QuickFIX FIX50SP2.xml, with listed values, in
  declaration order, groups starting with their delimiter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, localcontext
from typing import Final

from fixbridge.normalize import enums
from fixbridge.normalize.body import (
    COMM_TYPE_ABSOLUTE,
    COPY_MSG_INDICATOR,
    FIX_BOOLEAN,
    UNSOLICITED,
    Fields,
    instrument,
    put,
)
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.execution import (
    ExecutionEvent,
    account_and_order,
    execution_parties,
    normalize_execution,
)
from fixbridge.normalize.fields import EXACT, instant, optional_text, product, required_text
from fixbridge.normalize.fills import (
    BustedFill,
    Fill,
    OrderAfterBust,
    OrderTotals,
    order_after_bust,
)
from fixbridge.normalize.parties import identifier
from fixbridge.normalize.payload import PayloadCodec, one_of, register_nested
from fixbridge.normalize.profiles import conform
from fixbridge.normalize.scale import fix_decimal
from fixbridge.normalize.style import DEFAULT_STYLE, Profile, RenderStyle
from fixbridge.normalize.timestamps import format_utc_timestamp
from fixbridge.proto.polymarket.v1 import orders_pb2, trading_pb2

_EXEC_TYPE_TRADE_CANCEL: Final = "H"
_NO_SIDES: Final = "2"  # NoSides(552): both sides, aggressor first
BUST_EXEC_ID_SUFFIX: Final = "-BUST"
"""Appended to a side's fill ExecID to make the ExecID(17) of its trade-cancel report."""


@dataclass(frozen=True, slots=True)
class TradeSide:
    """One side of a trade: that side's fill, as :func:`normalize_execution` gives it, and for
    a busted trade the side's order after the bust.

    ``execution.aggressor`` is this side's role in the trade and ``execution.trade_id`` the
    trade's id.
    """

    execution: ExecutionEvent
    after_bust: OrderAfterBust | None = None

    @property
    def firm(self) -> str:
        """Firm parsed from the account (else the participant); "" when neither names one."""
        return self.execution.firm

    @property
    def account(self) -> str:
        """Full upstream account, e.g. ``firms/F/accounts/A``."""
        return self.execution.account

    @property
    def order_id(self) -> str:
        return self.execution.order_id

    @property
    def exec_id(self) -> str:
        """The fill's ExecID (Execution.id)."""
        return self.execution.exec_id

    @property
    def bust_exec_id(self) -> str:
        """ExecID(17) of this side's trade-cancel ExecutionReport."""
        return f"{self.execution.exec_id}{BUST_EXEC_ID_SUFFIX}"

    @property
    def aggressor(self) -> bool:
        """AggressorIndicator(1057)."""
        return self.execution.aggressor is True

    def busted_fill(self, busted_at_ns: int) -> BustedFill:
        """This side's fill, as a bust takes it out of its order."""
        fill = self.execution
        notional = product(fill.last_px, fill.last_qty, "last_px")
        return BustedFill(fill.last_qty, notional, busted_at_ns)


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
    trade_type: str  # TradeType name, e.g. "REGULAR"; SecondaryTrdType(855) / TrdSubType(829)
    text: str | None  # Trade.text, e.g. the bust reason; in Text(58) after the state name
    trade_link_id: str | None  # Trade.trade_link_id; TradeLinkID(820)
    aggressor: TradeSide  # the taker; first NoSides entry, 1057=Y
    passive: TradeSide  # the maker; second NoSides entry, 1057=N
    busted_at_ns: int | None = None  # BUSTED only: when the bust became known (receipt)

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
        """TradeDate(75), YYYYMMDD: the aggressor fill's (None only in old payloads)."""
        return self.aggressor.execution.trade_date

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
        return CODEC.encode(self)

    @classmethod
    def from_payload(cls, data: bytes) -> TradeEvent:
        """Inverse of :meth:`to_payload`; a corrupt payload raises :class:`NormalizationError`."""
        return CODEC.decode(data)


register_nested(PayloadCodec(OrderAfterBust))
# A side is its fill's document, with ``after_bust`` beside the execution's fields (payloads
# written before busts were settled have no ``after_bust`` and still decode).
register_nested(PayloadCodec(TradeSide, flatten="execution"))
CODEC: Final = PayloadCodec(
    TradeEvent,
    overrides={
        "state": one_of(frozenset(enums.TRADE_STATE_NAME.values())),
        "trade_type": one_of(frozenset(enums.TRADE_TYPE_NAME.values())),
    },
)


def _within(error: NormalizationError, prefix: str) -> NormalizationError:
    """``error`` with its field path moved under ``prefix``."""
    return NormalizationError(f"{prefix}.{error.field}", error.reason, error.value)


# --- normalization -------------------------------------------------------------------------


def normalize_trade(trade: orders_pb2.Trade) -> TradeEvent:
    """Validate and convert one upstream Trade; raises only :class:`NormalizationError`."""
    with localcontext(EXACT):
        return _normalize(trade)


def _normalize(trade: orders_pb2.Trade) -> TradeEvent:
    """:func:`normalize_trade`, run under the exact decimal context."""
    trade_id = required_text(trade.id, "id")
    state = enums.trade_state_name(trade.state)
    trade_type = enums.trade_type_name(trade.trade_type)
    text = optional_text(trade.text, "text")
    trade_link_id = optional_text(trade.trade_link_id, "trade_link_id")
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
        # The order's CumQty includes this fill; a bust subtracts it again.
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


def settle_bust(
    event: TradeEvent,
    *,
    busted_at_ns: int,
    latest: Mapping[str, OrderTotals],
    fills: Mapping[str, Sequence[Fill]],
    earlier_busts: Mapping[str, Sequence[tuple[str, BustedFill]]],
) -> TradeEvent:
    """A BUSTED ``event`` with the bust's time and each side's order after the bust.

    Per order id: ``latest`` is the order's totals as of its latest journaled execution,
    ``fills`` its journaled fills, ``earlier_busts`` (busted fill's ExecID, busted fill) of the
    busts journaled before this one. Each side starts from its own fill's snapshot, adds the
    order's fills after it, and takes out this fill and every earlier bust made known after it
    (normalize/fills.py). Any other version is returned unchanged.
    """
    if not event.is_bust:
        return event
    busted_at_ns = instant(busted_at_ns, "busted_at")
    with localcontext(EXACT):
        sides = [
            _settle_side(side, busted_at_ns, latest, fills, earlier_busts, name)
            for side, name in ((event.aggressor, "aggressor"), (event.passive, "passive"))
        ]
    return replace(event, aggressor=sides[0], passive=sides[1], busted_at_ns=busted_at_ns)


def _settle_side(
    side: TradeSide,
    busted_at_ns: int,
    latest: Mapping[str, OrderTotals],
    fills: Mapping[str, Sequence[Fill]],
    earlier_busts: Mapping[str, Sequence[tuple[str, BustedFill]]],
    name: str,
) -> TradeSide:
    at_fill = side.execution.totals()
    since = at_fill.transact_time_ns
    known = latest.get(side.order_id)
    newer = known if known is not None and known.transact_time_ns > since else None
    later = [
        fill
        for fill in fills.get(side.order_id, ())
        if fill.transact_time_ns > since and fill.exec_id != side.exec_id
    ]
    known_after = [
        (fill_exec_id, bust)
        for fill_exec_id, bust in earlier_busts.get(side.order_id, ())
        if fill_exec_id != side.exec_id and bust.busted_at_ns > since
    ]
    this = side.busted_fill(busted_at_ns)
    try:
        after = order_after_bust(at_fill, newer, later, [b for _, b in known_after] + [this])
    except NormalizationError as error:
        # A bust carries no exchange time: one known only after the busted fill (a replay, a
        # lagging stream) may have happened before it, and the fill's snapshot then already
        # left it out. Taking out more than was filled proves that: count only the busts of
        # the fills after this one.
        later_ids = {fill.exec_id for fill in later}
        own = [bust for fill_exec_id, bust in known_after if fill_exec_id in later_ids]
        if len(own) == len(known_after):
            raise _within(error, name) from None
        try:
            after = order_after_bust(at_fill, newer, later, [*own, this])
        except NormalizationError as second:
            raise _within(second, name) from None
    return replace(side, after_bust=after)


# --- rendering -----------------------------------------------------------------------------


def trade_capture_report_body(
    event: TradeEvent,
    style: RenderStyle = DEFAULT_STYLE,
    *,
    first_report: bool = True,
    visible: Callable[[TradeSide], bool] = lambda side: True,
) -> Fields:
    """TradeCaptureReport (35=AE) body fields, in the stock FIX50SP2.xml's declaration order.

    No header or trailer tags. Always: 571, 1003, 487/856 (New/Submit when ``first_report``,
    else Replace/Submit, or Cancel/Trade Report Cancel for a bust), 939, 828=0, 150, 325=Y, 880,
    55, 48, 22=8, 460=12, 32, 31, 60, 552=2 and per side (aggressor, then passive) its Side(54).
    Conditional: 855 or 829 for the types that have one; 820 with a trade link id; 75 when a
    trade date is known. A side ``visible`` to the session adds 1427 (the fill's ExecID), the
    Parties group, 1, 12/13=3 (the fill's commission), 58 (state name, then ": " and
    Trade.text if any), 1057, 37 and 11; the other side carries nothing more than 54.
    """
    with localcontext(EXACT):
        return _report_body(event, style, first_report, visible)


def _report_body(
    event: TradeEvent,
    style: RenderStyle,
    first_report: bool,
    visible: Callable[[TradeSide], bool],
) -> Fields:
    state = event.state
    versions = {
        Profile.LATEST: enums.LATEST_TRADE_REPORT_VERSION,
        Profile.FIX50SP2: enums.FIX50SP2_TRADE_REPORT_VERSION,
    }.get(style.profile, enums.TRADE_REPORT_VERSION)
    trans_type, report_type = versions[(first_report, event.is_bust)]
    out: Fields = [
        (571, event.trade_report_id),
        (1003, event.trade_id),
        (487, trans_type),
        (856, report_type),
        (939, enums.TRD_RPT_STATUS[state]),
    ]
    out += _trade_types(event)
    out += [(150, enums.TRADE_EXEC_TYPE[state]), (325, UNSOLICITED)]
    put(out, 820, event.trade_link_id)
    out.append((880, event.trade_id))
    out += instrument(event.symbol)
    out += [(32, fix_decimal(event.last_qty)), (31, fix_decimal(event.last_px))]
    put(out, 75, event.trade_date)
    out += [(60, format_utc_timestamp(event.transact_time_ns, style.precision)), (552, _NO_SIDES)]
    text = _text(event)
    for side in event.sides:
        if visible(side):
            out += _report_side(side, text, style)
        else:
            out.append((54, side.execution.side))
    out.append((797, COPY_MSG_INDICATOR))  # declared after the sides group
    return conform(style.profile, "AE", out)


def _trade_types(event: TradeEvent) -> Fields:
    """TrdType(828)=0, then TrdSubType(829) and SecondaryTrdType(855) where the type has one."""
    out: Fields = [(828, enums.TRD_TYPE_REGULAR)]
    put(out, 829, enums.TRD_SUB_TYPE.get(event.trade_type))
    put(out, 855, enums.SECONDARY_TRD_TYPE.get(event.trade_type))
    return out


def _text(event: TradeEvent) -> str:
    """Text(58): the exchange's state name, then the trade's own text if it has one."""
    return f"{event.state}: {event.text}" if event.text else event.state


def _report_side(side: TradeSide, text: str, style: RenderStyle) -> Fields:
    """One TrdCapRptSideGrp entry in full: Side (the delimiter) first, then declaration order."""
    fill = side.execution
    out: Fields = [(54, fill.side), (1427, fill.exec_id)]
    out += execution_parties(fill, style)
    put(out, 1, identifier(fill.account, style))
    if fill.commission is not None:
        out += [(12, fix_decimal(fill.commission)), (13, COMM_TYPE_ABSOLUTE)]
    out += [(58, text), (1057, FIX_BOOLEAN[side.aggressor]), (37, fill.order_id)]
    put(out, 11, fill.cl_ord_id)
    return out


def trade_bust_execution_reports(
    event: TradeEvent, style: RenderStyle = DEFAULT_STYLE
) -> list[tuple[TradeSide, Fields]]:
    """One trade-cancel ExecutionReport (35=8) body per side of a BUSTED trade, else ``[]``.

    Aggressor first. Field order and formatting as
    :func:`~fixbridge.normalize.execution.execution_report_body`: 37, 11, Parties, 880, 17 =
    ``f"{fill ExecID}-BUST"``, 19 = fill ExecID, 150=H, 39, 828=0 (829/855), 1, 55, 48, 22,
    460, 54, 38, 40, 44, 99, 59, 126, 1057, 32/31 (the busted fill), 151, 14, 6 (the order
    after the bust), 75 (the fill's trade date), 60 (the bust's time), 110, 58 (as in the
    report), 797, 1028. Not sent: the fill-only 12/13, 119 and 381, 103 and 378.
    A bust that :func:`settle_bust` has not settled is refused: it has no order state to report.
    """
    if not event.is_bust:
        return []
    with localcontext(EXACT):
        return [(side, _bust_body(event, side, style)) for side in event.sides]


def _bust_body(event: TradeEvent, side: TradeSide, style: RenderStyle) -> Fields:
    fill = side.execution
    after = side.after_bust
    if after is None or event.busted_at_ns is None:
        raise NormalizationError("after_bust", "the bust was never settled against its orders")
    out: Fields = [(37, fill.order_id)]
    put(out, 11, fill.cl_ord_id)
    out += execution_parties(fill, style)
    out += [
        (880, event.trade_id),
        (17, side.bust_exec_id),
        (19, fill.exec_id),
        (150, _EXEC_TYPE_TRADE_CANCEL),
        (39, after.ord_status),
    ]
    out += _trade_types(event)
    out += account_and_order(fill, style)
    out += [
        (1057, FIX_BOOLEAN[side.aggressor]),
        (32, fix_decimal(fill.last_qty)),
        (31, fix_decimal(fill.last_px)),
        (151, fix_decimal(after.leaves_qty)),
        (14, fix_decimal(after.cum_qty)),
        (6, fix_decimal(after.avg_px)),
    ]
    put(out, 75, fill.trade_date)
    out.append((60, format_utc_timestamp(event.busted_at_ns, style.precision)))
    if fill.min_qty is not None:
        out.append((110, fix_decimal(fill.min_qty)))
    out += [(58, _text(event)), (797, COPY_MSG_INDICATOR)]
    if fill.manual_order_indicator is not None:
        out.append((1028, FIX_BOOLEAN[fill.manual_order_indicator]))
    return conform(style.profile, "8", out)


__all__ = [
    "BUST_EXEC_ID_SUFFIX",
    "NormalizationError",
    "TradeEvent",
    "TradeSide",
    "normalize_trade",
    "settle_bust",
    "trade_bust_execution_reports",
    "trade_capture_report_body",
]
