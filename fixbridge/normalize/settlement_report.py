"""A settlement price as FIX: the per-instrument settlement message and, in the ``exchange``
profile, the per-account MarketSettlementReport the prediction-market venues send.

In: a :class:`~fixbridge.normalize.settlement.Settlement` (and, for the report, one account's
:class:`~fixbridge.normalize.position.PositionEvent` in the same symbol). Out: FIX body fields,
no header or trailer. specs/mapping.md ("Settlements") has the tables and the sources.

Rules:

* The settlement message is a MarketDataSnapshotFullRefresh (35=W) with one MDEntry of
  MDEntryType(269) ``6`` Settlement Price: FIX's own message for a settlement price (FIX 5.0
  SP2, MDEntryType code set). MDEntryPx(270) is the price in dollars; MDEntryDate(272) and
  MDEntryTime(273) are when the exchange set it, else ``transact_time_ns`` (the exchange's
  NO example carries no set time); LastUpdateTime(779), required in the extension packs'
  35=W, is the same instant.
* Preliminary vs final: SettlPriceType(731) ``1`` Final or ``2`` Theoretical (a price that
  may still change). The original FIX 5.0 SP2 MDFullGrp has no 731, so the entry also says it
  with OpenCloseSettlFlag(286), in every profile: ``3`` Expected entry while preliminary; once
  final, ``2`` Delivery settlement entry for the event's resolution (the contract's final
  settlement) and ``0`` Daily settlement entry for a daily mark. The method's meaning is that
  distinction; SettlPriceDeterminationMethod(2451) is not sent, since none of its values (last
  trade, bid, offer, mid, averages, underlying, calculated, manual) is an event's resolution.
* Text(58) in the entry is the exchange's outcome text ("Buffalo Bills win"), as given; not
  sent when empty.
* The MarketSettlementReport (35=UMS) has the layout Kalshi (post-trade sessions) and
  Coinbase Derivatives: Predictions (drop copy) publish: MarketSettlementReportID(20105),
  Symbol(55), ClearingBusinessDate(715), MarketResult(20107), SettlPrice(730), one
  NoMarketSettlementPartyIDs(20108) entry for the account (20109, role 20110 = 24 customer
  account) with LongQty(704) and ShortQty(705) of its net position, one collateral change
  (1703=1: 1704 the payout, 1705 ``PAYOUT``) and one fee entry (136=1: MiscFeeAmt(137) 0,
  MiscFeeCurr(138) USD, MiscFeeType(139) 4 exchange fees, MiscFeeBasis(891) 0 absolute:
  Kalshi sends that entry always, zero when there is no fee, and the exchange publishes no
  settlement fee), then LastFragment(893)=Y: each report is whole.
* Payout = LongQty * price + ShortQty * (1 - price), exact, never negative: what the account
  receives for its net position at settlement (Kalshi: YES holders receive $1 per contract
  when YES wins, NO holders $1 when NO wins; a short YES position settles as the NO
  contracts it amounts to, each worth 1 - price). A second final price for the same
  instrument (a correction) sends the difference from the payout reported under the earlier
  one: Kalshi's 1704 is a change of balance, so the reports of one account always add up to
  what it received.
* MarketResult(20107) is Kalshi's ``yes`` (price 1), ``no`` (price 0) or ``scalar`` (any
  other price). SettlPrice(730) is in cents with at least two decimals, as Kalshi sends it
  (``100.00`` for $1, ``30.60`` for $0.306), exact: the only fixbridge price not in dollars.
* ClearingBusinessDate(715) is the exchange trade date of the settlement time (the set time,
  else when fixbridge received it); a PositionReport sent for a daily mark carries the day
  the mark closes (:func:`business_date`).

Pure: no clock, no I/O. It never guesses a fee, a collateral or a final price, never sends a
35=UMS outside the ``exchange`` profile (only that profile's dictionary declares it) and never
mixes two symbols: those are the caller's bugs and raise ValueError.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Final

from fixbridge.normalize.body import Fields, instrument, put
from fixbridge.normalize.fields import EXACT, product
from fixbridge.normalize.parties import ROLE_CUSTOMER_ACCOUNT, identifier
from fixbridge.normalize.position import SETTL_PRICE_TYPE, PositionEvent
from fixbridge.normalize.profiles import conform
from fixbridge.normalize.scale import fix_decimal
from fixbridge.normalize.settlement import Settlement
from fixbridge.normalize.style import Profile, RenderStyle
from fixbridge.normalize.timestamps import format_utc_timestamp
from fixbridge.normalize.tradedate import checked_trade_date

SETTLEMENT_MSG_TYPE: Final = "W"  # MarketDataSnapshotFullRefresh
MARKET_SETTLEMENT_MSG_TYPE: Final = "UMS"  # MarketSettlementReport (user-defined)

MD_ENTRY_SETTLEMENT_PRICE: Final = "6"  # MDEntryType(269)


# OpenCloseSettlFlag(286) of the entry: (preliminary, resolution) -> value.
OPEN_CLOSE_SETTL_FLAG: Final = {
    (True, True): "3",  # Expected entry: may still change
    (True, False): "3",
    (False, True): "2",  # Delivery settlement entry: the event's resolution
    (False, False): "0",  # Daily open / close / settlement entry: a daily mark
}

# User-defined tags of the MarketSettlementReport (Kalshi's FIX dictionary numbers).
MARKET_SETTLEMENT_REPORT_ID_TAG: Final = 20105
MARKET_RESULT_TAG: Final = 20107
NO_MARKET_SETTLEMENT_PARTY_IDS_TAG: Final = 20108
MARKET_SETTLEMENT_PARTY_ID_TAG: Final = 20109
MARKET_SETTLEMENT_PARTY_ROLE_TAG: Final = 20110

COLLATERAL_PAYOUT: Final = "PAYOUT"  # CollateralAmountType, Kalshi's 1705
_ONE: Final = Decimal(1)
_ZERO: Final = Decimal(0)
_CENT: Final = Decimal("0.01")
NO_FEE: Final[Fields] = [(136, "1"), (137, "0"), (138, "USD"), (139, "4"), (891, "0")]


def market_result(price: Decimal) -> str:
    """Kalshi's MarketResult(20107): ``yes`` at $1, ``no`` at $0, else ``scalar``."""
    if price == _ONE:
        return "yes"
    if price == _ZERO:
        return "no"
    return "scalar"


def payout(settlement: Settlement, position: PositionEvent) -> Decimal:
    """What ``position`` receives at ``settlement``'s price: LongQty * price + ShortQty *
    (1 - price), exact."""
    with localcontext(EXACT):
        long_side = product(position.long_qty, settlement.price, "payout")
        short_side = product(position.short_qty, _ONE - settlement.price, "payout")
        return long_side + short_side


def cents(price: Decimal) -> str:
    """A dollar price in cents, at least two decimals, exact (``1`` -> ``100.00``)."""
    with localcontext(EXACT):
        value = (price * 100).normalize()
        if value.as_tuple().exponent > -2:  # type: ignore[operator]  # finite: an int
            value = value.quantize(_CENT)
        return f"{value:f}"


def business_date(settlement: Settlement, transact_time_ns: int) -> str:
    """The exchange trade date a settlement price belongs to: a resolution's is that of its
    time; a daily mark closes the trading day that ends at or before it (a mark set at the
    17:00 New York roll is the day that just ended, not the next)."""
    at = settlement_time_ns(settlement, transact_time_ns)
    if not settlement.resolution:
        at -= 1
    return checked_trade_date(at, "settlement_set_time")


def settlement_time_ns(settlement: Settlement, transact_time_ns: int) -> int:
    """When the price was set: the exchange's set time, else ``transact_time_ns``."""
    return settlement.set_time_ns if settlement.set_time_ns is not None else transact_time_ns


def settlement_message_body(
    settlement: Settlement, style: RenderStyle, transact_time_ns: int
) -> Fields:
    """MarketDataSnapshotFullRefresh (35=W) body: one Settlement Price entry (module rules).

    Order is the stock FIX50SP2.xml's: Instrument (55, 48, 22, 460), LastUpdateTime(779),
    NoMDEntries(268)=1, then 269=6, 270, 272, 273, 286, 58 (when there is an outcome), 731.
    """
    stamp = format_utc_timestamp(settlement_time_ns(settlement, transact_time_ns), style.precision)
    date, _, time = stamp.partition("-")
    out = instrument(settlement.symbol)
    out += [
        (779, stamp),
        (268, "1"),
        (269, MD_ENTRY_SETTLEMENT_PRICE),
        (270, fix_decimal(settlement.price)),
        (272, date),
        (273, time),
        (286, OPEN_CLOSE_SETTL_FLAG[settlement.preliminary, settlement.resolution]),
    ]
    put(out, 58, settlement.outcome)
    out.append((731, SETTL_PRICE_TYPE[settlement.preliminary]))
    return conform(style.profile, SETTLEMENT_MSG_TYPE, out)


def market_settlement_report_body(
    settlement: Settlement,
    position: PositionEvent,
    style: RenderStyle,
    report_id: str,
    transact_time_ns: int,
    paid: tuple[Settlement, PositionEvent] | None = None,
) -> Fields:
    """MarketSettlementReport (35=UMS) body for one account's position (module rules).

    ``report_id`` is MarketSettlementReportID(20105), unique per report; ``transact_time_ns``
    when fixbridge received the settlement (its time when the exchange gives none);
    ``paid``: an earlier final price of the instrument and the account's position when it was
    set, whose payout is taken off (a correction). Raises ValueError outside the
    ``exchange`` profile, for another symbol's position or an empty id.
    """
    if style.profile is not Profile.EXCHANGE:
        raise ValueError(f"35=UMS is only sent in the exchange profile, not {style.profile}")
    if position.symbol != settlement.symbol:
        raise ValueError(f"position in {position.symbol!r}, settlement of {settlement.symbol!r}")
    if not report_id:
        raise ValueError("a MarketSettlementReport needs a report id")
    change = payout(settlement, position)
    if paid is not None:
        with localcontext(EXACT):
            change -= payout(*paid)
    return [
        (MARKET_SETTLEMENT_REPORT_ID_TAG, report_id),
        (55, settlement.symbol),
        (715, business_date(settlement, transact_time_ns)),
        (MARKET_RESULT_TAG, market_result(settlement.price)),
        (730, cents(settlement.price)),
        (NO_MARKET_SETTLEMENT_PARTY_IDS_TAG, "1"),
        (MARKET_SETTLEMENT_PARTY_ID_TAG, identifier(position.account, style)),
        (MARKET_SETTLEMENT_PARTY_ROLE_TAG, ROLE_CUSTOMER_ACCOUNT),
        (704, fix_decimal(position.long_qty)),
        (705, fix_decimal(position.short_qty)),
        (1703, "1"),
        (1704, fix_decimal(change)),
        (1705, COLLATERAL_PAYOUT),
        *NO_FEE,
        (893, "Y"),
    ]


__all__ = [
    "MARKET_SETTLEMENT_MSG_TYPE",
    "SETTLEMENT_MSG_TYPE",
    "business_date",
    "cents",
    "market_result",
    "market_settlement_report_body",
    "payout",
    "settlement_message_body",
]
