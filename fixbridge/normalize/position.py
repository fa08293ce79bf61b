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
* ClearingBusinessDate(715) = the UTC calendar date of that time (the exchange publishes no
  business date for positions).
* ``account`` must be ``firms/<FIRM>/accounts/<ACCOUNT>``: the firm is the session scope key.

Pure, total (only :class:`NormalizationError`), and every tag :func:`position_report_body`
emits is defined for PositionReport in the stock QuickFIX FIX50SP2.xml with a listed value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Final

from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.execution import (
    _ACCOUNT_FIRM,
    _EXACT,
    _FIX_BOOLEAN,
    _PARTY_ID_SOURCE_PROPRIETARY,
    _PARTY_ROLE_EXECUTING_FIRM,
    _PRODUCT_OTHER,
    _SECURITY_ID_SOURCE_EXCHANGE_SYMBOL,
    _required_text,
    _scaled,
    _timestamp,
)
from fixbridge.normalize.payload import event_from_payload, event_to_payload, field_decoders
from fixbridge.normalize.scale import fix_decimal
from fixbridge.normalize.timestamps import Precision, format_utc_date, format_utc_timestamp
from fixbridge.proto.polymarket.v1 import dropcopy_pb2

_ZERO: Final = Decimal(0)

# FIX values used by the renderer (all listed in the stock FIX50SP2.xml).
_POS_REQ_TYPE_POSITIONS: Final = "0"  # PosReqType(724)
_POS_REQ_RESULT_VALID: Final = "0"  # PosReqResult(728)
_PARTY_ROLE_POSITION_ACCOUNT: Final = "38"  # PartyRole(452)
_POSITION_CURRENCY: Final = "USD"  # PositionCurrency(1055): the exchange trades in US dollars


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
    realized: Decimal  # Position.realized in dollars; PosAmtType TVAR
    expired: bool  # Position.expired; adds a PosType EXP entry
    price_scale: int  # the symbol's price_scale the amounts were divided by
    quantity_scale: int  # the symbol's fractional quantity scale
    update_time_ns: int  # Position.update_time (else PositionChange.change_time); 60
    clearing_business_date: str  # YYYYMMDD, UTC date of update_time_ns; 715

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
        return event_to_payload(self)

    @classmethod
    def from_payload(cls, data: bytes) -> PositionEvent:
        """Inverse of :meth:`to_payload`; a corrupt payload raises :class:`NormalizationError`."""
        return event_from_payload(cls, _POSITION_DECODE, data)


_POSITION_DECODE: Final = field_decoders(PositionEvent)


# --- normalization -------------------------------------------------------------------------


def normalize_position(
    change: dropcopy_pb2.PositionChange, *, price_scale: int | None, quantity_scale: int | None
) -> PositionEvent:
    """Validate and convert one upstream PositionChange with the symbol's scales.

    Raises only :class:`NormalizationError`; :class:`MissingScaleError` when a scale is None.
    """
    with localcontext(_EXACT):
        return _normalize(change, price_scale, quantity_scale)


def _normalize(
    change: dropcopy_pb2.PositionChange, price_scale: int | None, quantity_scale: int | None
) -> PositionEvent:
    if not change.HasField("position"):
        raise NormalizationError("position", "missing")
    position = change.position
    account = _required_text(position.account, "position.account")
    match = _ACCOUNT_FIRM.fullmatch(account)
    if match is None:
        raise NormalizationError("position.account", "not firms/<FIRM>/accounts/<ACCOUNT>", account)
    symbol = _required_text(position.symbol, "position.symbol")
    px_scale = _scale(price_scale, "price_scale", symbol)
    qty_scale = _scale(quantity_scale, "quantity_scale", symbol)
    update_time_ns = _update_time(change)

    def qty(value: int, field: str) -> Decimal:
        return _scaled(value, qty_scale, field)

    def amount(value: int, field: str) -> Decimal:
        return _scaled(value, px_scale * qty_scale, field)

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
        clearing_business_date=format_utc_date(update_time_ns),
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
        return _timestamp(change.position.update_time, "position.update_time")
    if change.HasField("change_time"):
        return _timestamp(change.change_time, "change_time")
    raise NormalizationError("position.update_time", "missing (and no change_time)")


# --- rendering -----------------------------------------------------------------------------

# PositionQty(702) entries, in this order: PosType(703) -> (LongQty(704), ShortQty(705)).
_LongShort = Callable[[PositionEvent], tuple[Decimal, Decimal]]
_POSITION_QTYS: Final[tuple[tuple[str, _LongShort], ...]] = (
    ("SOD", lambda e: _long_short(e.bod_position)),  # Start-of-day qty: bod_position
    ("TQ", lambda e: (e.bought, e.sold)),  # Transaction qty: Long = bought, Short = sold
    ("NET", lambda e: _long_short(e.net_position)),  # Net qty: the current net position
)
# Sent as a fourth entry only when the position has expired: the quantity that expired.
_EXPIRED_POS_TYPE: Final = "EXP"  # Expiring qty

# PositionAmountData(753) entries: PosAmtType(707), PosAmtStreamDesc(2096) label -> amount.
# No PosAmtType means "cost basis" or "realized P&L"; the closest are used and 2096 names them.
_POSITION_AMOUNTS: Final[tuple[tuple[str, str, Callable[[PositionEvent], Decimal]], ...]] = (
    # Premium amount: an event contract is a binary option, its cost basis the premium paid
    # (long, positive) or received (short, negative) for the open contracts.
    ("PREM", "cost", lambda e: e.cost),
    # Trade variation amount: the money the account's trading has made or lost so far.
    ("TVAR", "realized", lambda e: e.realized),
)


def _long_short(net: Decimal) -> tuple[Decimal, Decimal]:
    """(LongQty, ShortQty) of a signed net quantity; both are non-negative."""
    return (net if net > 0 else _ZERO, -net if net < 0 else _ZERO)


def position_report_body(event: PositionEvent, precision: Precision) -> list[tuple[int, str]]:
    """PositionReport (35=AP) body fields, in the stock FIX50SP2.xml's declaration order.

    No header or trailer tags. PosMaintRptID(721) = :attr:`PositionEvent.upstream_id` (unique
    per account, symbol and update, and the same on every resend); PosReqType(724) = 0
    (positions); PosReqResult(728) = 0 (valid; not required by FIX50SP2, sent for FIX 4.4-era
    readers that require it); UnsolicitedIndicator(325) = Y (no request); ClearingBusinessDate
    (715); Parties: firm (452=1 executing firm), account (452=38 position account), 447=D;
    Account(1); Instrument: 55, 48 = symbol, 22 = 8, 460 = 12; TransactTime(60); PositionQty
    (702): SOD, TQ, NET and, once expired, EXP; PositionAmountData (753): PREM (cost) and TVAR
    (realized), each with PosAmtStreamDesc(2096) and PositionCurrency(1055) = USD.
    """
    with localcontext(_EXACT):
        return _body(event, precision)


def _body(event: PositionEvent, precision: Precision) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = [
        (721, event.upstream_id),
        (724, _POS_REQ_TYPE_POSITIONS),
        (728, _POS_REQ_RESULT_VALID),
        (325, _FIX_BOOLEAN[True]),
        (715, event.clearing_business_date),
        (453, "2"),
        (448, event.firm),
        (447, _PARTY_ID_SOURCE_PROPRIETARY),
        (452, _PARTY_ROLE_EXECUTING_FIRM),
        (448, event.account),
        (447, _PARTY_ID_SOURCE_PROPRIETARY),
        (452, _PARTY_ROLE_POSITION_ACCOUNT),
        (1, event.account),
        (55, event.symbol),
        (48, event.symbol),
        (22, _SECURITY_ID_SOURCE_EXCHANGE_SYMBOL),
        (460, _PRODUCT_OTHER),
        (60, format_utc_timestamp(event.update_time_ns, precision)),
    ]
    quantities = [(pos_type, quantity(event)) for pos_type, quantity in _POSITION_QTYS]
    if event.expired:
        quantities.append((_EXPIRED_POS_TYPE, _long_short(event.net_position)))
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
    return out


__all__ = [
    "MissingScaleError",
    "NormalizationError",
    "PositionEvent",
    "normalize_position",
    "position_report_body",
]
