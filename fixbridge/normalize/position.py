"""One upstream ``PositionChange`` -> :class:`PositionEvent` -> PositionReport (35=AP) body.

Rules:

* Scales: ``Position`` carries none (spec §4.6), so the caller passes the symbol's
  ``price_scale`` and ``quantity_scale`` (from :class:`~fixbridge.normalize.instrument.
  InstrumentEvent` or config). Both are required keyword arguments; ``None`` (the symbol's
  scales are not known yet) raises :class:`MissingScaleError`, a :class:`NormalizationError`
  the caller can tell apart and retry once the instrument stream has named the scales. There is
  deliberately no unscaled variant and no default: raw integers sent as contracts would be 100x
  off for a fractional symbol, and FIX has no standard way to say "these are scaled units".
  The instrument stream sends a snapshot of every symbol on each connect (spec §4.8), so the
  wait is short. A scale that is not a positive integer is an error.
* Quantities (net, bought, sold, start of day) = value / quantity_scale. Amounts (cost,
  realized) = value / (price_scale * quantity_scale), in dollars (INFERRED, spec gap 9: the
  same divisor the spec gives for commissions; the simulator uses it). All exact ``Decimal``;
  a value with no exact decimal is an error, never rounded.
* Time: ``position.update_time``; when unset, ``change_time`` (the exchange's time of the same
  change); neither is an error. It is part of the dedup identity ``account:symbol:time``.
* ClearingBusinessDate(715) = the exchange trade date of that time (17:00 New York roll,
  normalize/tradedate.py; the exchange publishes no business date for positions).
* Amounts: cost goes in PositionAmountData as PosAmtType PREM (premium: an event contract is
  a binary option, its cost basis the premium paid or received). FIX has no PosAmtType for
  realized P&L, and the nearest ones (TVAR trade variation, FMTM, VMTM) book as variation
  margin, so realized P&L is sent only to sessions that ask for it
  (``send_realized_pnl``), in the user-defined tag RealizedPnL(5900) that fixbridge's
  dictionary declares.
* ``account`` must be ``firms/<FIRM>/accounts/<ACCOUNT>``: the firm is the session scope key.

Pure, total (only :class:`NormalizationError`), and every tag :func:`position_report_body`
emits, RealizedPnL(5900) aside, is defined for PositionReport in the stock QuickFIX
FIX50SP2.xml with a listed value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Final

from fixbridge.normalize.body import UNSOLICITED, Fields, instrument
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.fields import EXACT, required_text, scaled_value, timestamp
from fixbridge.normalize.parties import (
    ACCOUNT_NAME,
    ROLE_EXECUTING_FIRM,
    ROLE_POSITION_ACCOUNT,
    firm_identifier,
    identifier,
    parties,
)
from fixbridge.normalize.payload import PayloadCodec
from fixbridge.normalize.profiles import conform
from fixbridge.normalize.scale import fix_decimal
from fixbridge.normalize.settlement import Settlement
from fixbridge.normalize.style import DEFAULT_STYLE, Profile, RenderStyle
from fixbridge.normalize.timestamps import format_utc_timestamp
from fixbridge.normalize.tradedate import checked_trade_date
from fixbridge.proto.polymarket.v1 import dropcopy_pb2

_ZERO: Final = Decimal(0)

# FIX values used by the renderer (all listed in the stock FIX50SP2.xml).
_POS_REQ_TYPE_POSITIONS: Final = "0"  # PosReqType(724)
_POS_REQ_RESULT_VALID: Final = "0"  # PosReqResult(728)
_POSITION_CURRENCY: Final = "USD"  # PositionCurrency(1055): the exchange trades in US dollars
# SettlPriceType(731), by whether the settlement is preliminary: 1 Final, 2 Theoretical.
SETTL_PRICE_TYPE: Final = {False: "1", True: "2"}
REALIZED_PNL_TAG: Final = 5900
"""RealizedPnL: user-defined (bilateral range 5000-9999), type Amt, in dollars, signed."""


class MissingScaleError(NormalizationError):
    """The symbol's price or quantity scale is not known (yet): retry, do not drop."""


@dataclass(frozen=True, slots=True)
class PositionEvent:
    """One account's position in one symbol, in exact FIX-ready terms.

    Quantities in contracts and amounts in dollars, as ``Decimal``; times in integer
    nanoseconds since the epoch (UTC).
    """

    account: str  # Position.account, "firms/F/accounts/A"; Account(1), party role 38
    firm: str  # F, parsed from account; party role 1
    symbol: str  # Position.symbol; Symbol(55) and SecurityID(48)
    net_position: Decimal  # Position.net_position; PosType NET
    bod_position: Decimal  # Position.bod_position; PosType SOD
    bought: Decimal  # Position.qty_bought; PosType TQ LongQty
    sold: Decimal  # Position.qty_sold; PosType TQ ShortQty
    cost: Decimal  # Position.cost in dollars, signed cost basis; PosAmtType PREM
    realized: Decimal  # Position.realized in dollars; RealizedPnL(5900) where asked for
    expired: bool  # Position.expired; adds a PosType EXP entry
    price_scale: int  # the symbol's price_scale the amounts were divided by
    quantity_scale: int  # the symbol's fractional quantity scale
    update_time_ns: int  # Position.update_time (else PositionChange.change_time); 60
    clearing_business_date: str  # YYYYMMDD, exchange trade date of update_time_ns; 715

    @property
    def long_qty(self) -> Decimal:
        """The net position when long, else 0."""
        return _long_short(self.net_position)[0]

    @property
    def short_qty(self) -> Decimal:
        """The net position's size when short, else 0 (a short quantity is positive in FIX)."""
        return _long_short(self.net_position)[1]

    @property
    def transact_time_ns(self) -> int:
        """The journal's event time: :attr:`update_time_ns`."""
        return self.update_time_ns

    @property
    def upstream_id(self) -> str:
        """Dedup identity (DESIGN invariant 2): ``account:symbol:update_time_ns``."""
        return f"{self.account}:{self.symbol}:{self.update_time_ns}"

    @property
    def firms(self) -> frozenset[str]:
        return frozenset((self.firm,))

    @property
    def accounts(self) -> frozenset[str]:
        return frozenset((self.account,))

    def to_payload(self) -> bytes:
        """Compact JSON for the journal: Decimals as strings, exact round trip."""
        return CODEC.encode(self)

    @classmethod
    def from_payload(cls, data: bytes) -> PositionEvent:
        """Inverse of :meth:`to_payload`; a corrupt payload raises :class:`NormalizationError`."""
        return CODEC.decode(data)


CODEC: Final = PayloadCodec(PositionEvent)


# --- normalization -------------------------------------------------------------------------


def normalize_position(
    change: dropcopy_pb2.PositionChange, *, price_scale: int | None, quantity_scale: int | None
) -> PositionEvent:
    """Validate and convert one upstream PositionChange with the symbol's scales.

    Raises only :class:`NormalizationError`; :class:`MissingScaleError` when a scale is None.
    """
    with localcontext(EXACT):
        return _normalize(change, price_scale, quantity_scale)


def _normalize(
    change: dropcopy_pb2.PositionChange, price_scale: int | None, quantity_scale: int | None
) -> PositionEvent:
    if not change.HasField("position"):
        raise NormalizationError("position", "missing")
    position = change.position
    account = required_text(position.account, "position.account")
    match = ACCOUNT_NAME.fullmatch(account)
    if match is None:
        raise NormalizationError("position.account", "not firms/<FIRM>/accounts/<ACCOUNT>", account)
    symbol = required_text(position.symbol, "position.symbol")
    px_scale = _scale(price_scale, "price_scale", symbol)
    qty_scale = _scale(quantity_scale, "quantity_scale", symbol)
    update_time_ns = _update_time(change)

    def qty(value: int, field: str) -> Decimal:
        return scaled_value(value, qty_scale, field)

    def amount(value: int, field: str) -> Decimal:
        return scaled_value(value, px_scale * qty_scale, field)

    return PositionEvent(
        account=account,
        firm=match.group(1),
        symbol=symbol,
        net_position=qty(position.net_position, "position.net_position"),
        bod_position=qty(position.bod_position, "position.bod_position"),
        bought=qty(position.qty_bought, "position.qty_bought"),
        sold=qty(position.qty_sold, "position.qty_sold"),
        # Spec §0 (commission) and gap 9: dollars = value / (price_scale * quantity scale).
        cost=amount(position.cost, "position.cost"),
        realized=amount(position.realized, "position.realized"),
        expired=position.expired,
        price_scale=px_scale,
        quantity_scale=qty_scale,
        update_time_ns=update_time_ns,
        clearing_business_date=checked_trade_date(update_time_ns, "position.update_time"),
    )


def _scale(value: int | None, field: str, symbol: str) -> int:
    """A caller-supplied scale: None is "not known yet", anything but a positive int is bad."""
    if value is None:
        raise MissingScaleError(field, f"not known for symbol {symbol!r}")
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise NormalizationError(field, "must be a positive integer", value)
    return value


def _update_time(change: dropcopy_pb2.PositionChange) -> int:
    if change.position.HasField("update_time"):
        return timestamp(change.position.update_time, "position.update_time")
    if change.HasField("change_time"):
        return timestamp(change.change_time, "change_time")
    raise NormalizationError("position.update_time", "missing (and no change_time)")


# --- rendering -----------------------------------------------------------------------------

# PositionQty(702) entries, in this order: PosType(703) -> (LongQty(704), ShortQty(705)).
_LongShort = Callable[[PositionEvent], tuple[Decimal, Decimal]]
_POSITION_QTYS: Final[tuple[tuple[str, _LongShort], ...]] = (
    ("SOD", lambda e: _long_short(e.bod_position)),  # Start-of-day qty: bod_position
    ("TQ", lambda e: (e.bought, e.sold)),  # Transaction qty: Long = bought, Short = sold
    ("NET", lambda e: _long_short(e.net_position)),  # Net qty: the current net position
)
_NET_POS_TYPE: Final = "NET"
# Sent as a fourth entry only when the position has expired: the quantity that expired.
_EXPIRED_POS_TYPE: Final = "EXP"  # Expiring qty
# The original FIX 5.0 SP2 PosType (fix_profile "fix50sp2") has neither NET nor EXP: the net
# position is SOD + TQ there, plus an Adjustment qty entry for any difference the exchange's
# net_position has from bod_position + qty_bought - qty_sold, so nothing is lost.
_ADJUSTMENT_POS_TYPE: Final = "PA"  # Adjustment qty

# PositionAmountData(753) entries: PosAmtType(707), PosAmtStreamDesc(2096) label -> amount.
_POSITION_AMOUNTS: Final[tuple[tuple[str, str, Callable[[PositionEvent], Decimal]], ...]] = (
    # Premium amount: an event contract is a binary option, its cost basis the premium paid
    # (long, positive) or received (short, negative) for the open contracts.
    ("PREM", "cost", lambda e: e.cost),
)


def _quantities(
    event: PositionEvent, profile: Profile
) -> list[tuple[str, tuple[Decimal, Decimal]]]:
    """PositionQty entries: PosType -> (LongQty, ShortQty)."""
    if profile is Profile.FIX50SP2:
        out = [(t, quantity(event)) for t, quantity in _POSITION_QTYS if t != _NET_POS_TYPE]
        adjustment = event.net_position - (event.bod_position + event.bought - event.sold)
        if adjustment:
            out.append((_ADJUSTMENT_POS_TYPE, _long_short(adjustment)))
        return out
    out = [(pos_type, quantity(event)) for pos_type, quantity in _POSITION_QTYS]
    if event.expired:
        out.append((_EXPIRED_POS_TYPE, _long_short(event.net_position)))
    return out


def _long_short(net: Decimal) -> tuple[Decimal, Decimal]:
    """(LongQty, ShortQty) of a signed net quantity; both are non-negative."""
    return (net if net > 0 else _ZERO, -net if net < 0 else _ZERO)


def position_report_body(
    event: PositionEvent,
    style: RenderStyle = DEFAULT_STYLE,
    settlement: Settlement | None = None,
    prior_price: Decimal | None = None,
    report_id: str | None = None,
    reported_at: tuple[int, str] | None = None,
) -> Fields:
    """PositionReport (35=AP) body fields, in the stock FIX50SP2.xml's declaration order.

    No header or trailer tags. PosMaintRptID(721) = :attr:`PositionEvent.upstream_id` (unique
    per account, symbol and update, and the same on every resend); PosReqType(724) = 0
    (positions); PosReqResult(728) = 0 (valid; not required by FIX50SP2, sent for FIX 4.4-era
    readers that require it); UnsolicitedIndicator(325) = Y (no request); ClearingBusinessDate
    (715); Parties: firm (452=1 executing firm), account (452=38 position account), 447=D;
    Account(1); Instrument: 55, 48 = symbol, 22 = 8, 460 = 12; TransactTime(60); PositionQty
    (702): SOD, TQ, NET and, once expired, EXP (``fix50sp2``: SOD, TQ and, where the net
    position differs from their sum, PA); PositionAmountData (753): PREM (cost) with
    PosAmtStreamDesc(2096) and PositionCurrency(1055) = USD; RealizedPnL(5900) last, when the
    session's style asks for it.

    With the instrument's ``settlement`` (a report sent because it was set or changed):
    SettlPrice(730) = its price and SettlPriceType(731) = 1 Final, or 2 Theoretical while
    preliminary; ``prior_price`` (the price it replaces, where known) is PriorSettlPrice(734).
    Both sit after the Instrument component, where PositionReport declares them in every
    profile's dictionary. ``report_id`` replaces PosMaintRptID(721): such a report needs an
    id of its own, since the position's update is the same. ``reported_at``, the time such a
    report is of (when the settlement was set) and the business date of the price, replace
    the update's TransactTime(60) and ClearingBusinessDate(715). All default to today's
    report.
    """
    if settlement is not None and settlement.symbol != event.symbol:
        raise ValueError(f"settlement of {settlement.symbol!r} for a {event.symbol!r} position")
    if report_id == "":
        raise ValueError("an empty PosMaintRptID")
    with localcontext(EXACT):
        return _body(event, style, settlement, prior_price, report_id, reported_at)


def _settlement_prices(settlement: Settlement | None, prior_price: Decimal | None) -> Fields:
    """SettlPrice(730), SettlPriceType(731), PriorSettlPrice(734): what is known of them."""
    out: Fields = []
    if settlement is not None:
        out += [
            (730, fix_decimal(settlement.price)),
            (731, SETTL_PRICE_TYPE[settlement.preliminary]),
        ]
    if prior_price is not None:
        out.append((734, fix_decimal(prior_price)))
    return out


def _body(
    event: PositionEvent,
    style: RenderStyle,
    settlement: Settlement | None,
    prior_price: Decimal | None,
    report_id: str | None,
    reported_at: tuple[int, str] | None,
) -> Fields:
    account = identifier(event.account, style)
    at, business_date = reported_at or (event.update_time_ns, event.clearing_business_date)
    out: Fields = [
        (721, event.upstream_id if report_id is None else report_id),
        (724, _POS_REQ_TYPE_POSITIONS),
        (728, _POS_REQ_RESULT_VALID),
        (325, UNSOLICITED),
        (715, business_date),
    ]
    out += parties(
        [
            (firm_identifier(event.firm, style), ROLE_EXECUTING_FIRM),
            (account, ROLE_POSITION_ACCOUNT),
        ]
    )
    out.append((1, account))
    out += instrument(event.symbol)
    out += _settlement_prices(settlement, prior_price)
    out.append((60, format_utc_timestamp(at, style.precision)))
    quantities = _quantities(event, style.profile)
    out.append((702, str(len(quantities))))
    for pos_type, (long_qty, short_qty) in quantities:
        out += [(703, pos_type), (704, fix_decimal(long_qty)), (705, fix_decimal(short_qty))]
    out.append((753, str(len(_POSITION_AMOUNTS))))
    for amt_type, label, amount in _POSITION_AMOUNTS:
        out += [
            (707, amt_type),
            (708, fix_decimal(amount(event))),
            (2096, label),
            (1055, _POSITION_CURRENCY),
        ]
    if style.realized_pnl:
        out.append((REALIZED_PNL_TAG, fix_decimal(event.realized)))
    return conform(style.profile, "AP", out)


__all__ = [
    "MissingScaleError",
    "NormalizationError",
    "PositionEvent",
    "normalize_position",
    "position_report_body",
]
