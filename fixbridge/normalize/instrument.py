"""One upstream ``Instrument`` state change -> :class:`InstrumentEvent` -> SecurityStatus (35=f).

The instrument-state stream sends whole ``Instrument`` messages; this module keeps what a
SecurityStatus needs: the symbol, the state (name, number and its FIX codes, from the tables in
:mod:`fixbridge.normalize.enums`), the scales (which the position stream lacks, spec §4.6) and
the time of the change. Rules:

* Time: the exchange's ``Instrument`` documents no time field (spec §4.6; newer docs name an
  ``updateTime`` whose field number is unknown, gap 7), so the change time is when the response
  carrying it was received, passed in by the caller. Nothing undocumented (no ``metadata`` key)
  is read.
* Scales: ``price_scale`` must be a positive integer; ``fractional_qty_scale`` 0 (absent)
  means 1, negative is an error (spec §4.4, as for executions). :func:`instrument_scales`
  reads them alone, so a message whose state cannot be mapped still teaches the scales.
* An unknown InstrumentState number is an error naming it; nothing is guessed.
* Instrument events are not firm-scoped: ``firms`` and ``accounts`` are empty.
* Identity: the time is not the exchange's, so it cannot identify a change. An instrument is
  a new event when what it says (:attr:`InstrumentEvent.content`) differs from the symbol's
  last journaled one; the snapshot the stream sends on every connect repeats the current state
  and is a duplicate (upstream/streams.py).

Pure (no I/O, no clock); total (bad input raises only :class:`NormalizationError`); every tag
:func:`security_status_body` emits is defined for SecurityStatus in the stock QuickFIX
FIX50SP2.xml with a listed value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from fixbridge.normalize import enums
from fixbridge.normalize.body import Fields, instrument, put
from fixbridge.normalize.fields import (
    instant,
    positive_scale,
    quantity_scale,
    required_text,
    text,
)
from fixbridge.normalize.payload import PayloadCodec
from fixbridge.normalize.profiles import conform
from fixbridge.normalize.style import DEFAULT_STYLE, RenderStyle
from fixbridge.normalize.timestamps import format_utc_timestamp
from fixbridge.normalize.tradedate import checked_trade_date, trade_date
from fixbridge.proto.polymarket.v1 import refdata_pb2


@dataclass(frozen=True, slots=True)
class InstrumentEvent:
    """One upstream instrument state (change) in FIX-ready terms.

    ``state`` is the exchange's name ("HALTED"); the FIX fields hold FIX codes. Times are integer
    nanoseconds since the epoch (UTC). ``None`` means "not sent"; ``""`` means upstream sent
    nothing.
    """

    symbol: str  # Instrument.symbol; Symbol(55) and SecurityID(48)
    state: str  # the exchange's state name, e.g. "HALTED"; Text(58)
    state_number: int  # Instrument.state, the InstrumentState number
    security_trading_status: str  # SecurityTradingStatus(326)
    security_status: str  # SecurityStatus(965), the instrument lifecycle
    trading_session_sub_id: str | None  # TradingSessionSubID(625); call phases only
    description: str  # Instrument.description; SecurityDesc(107), "" = not sent
    price_scale: int  # Instrument.price_scale, > 0
    quantity_scale: int  # Instrument.fractional_qty_scale, > 0 (absent upstream = 1)
    transact_time_ns: int  # when the change was received; TransactTime(60), TradeDate(75)

    @property
    def content(self) -> str:
        """What the instrument says, without the time: equal content = no change."""
        return f"{self.state_number}|{self.price_scale}|{self.quantity_scale}|{self.description}"

    @property
    def firms(self) -> frozenset[str]:
        """Instrument events are not firm-scoped: empty."""
        return frozenset()

    @property
    def accounts(self) -> frozenset[str]:
        """Instrument events are not account-scoped: empty."""
        return frozenset()

    def to_payload(self) -> bytes:
        """Compact JSON for the journal; exact round trip through :meth:`from_payload`."""
        return CODEC.encode(self)

    @classmethod
    def from_payload(cls, data: bytes) -> InstrumentEvent:
        """Inverse of :meth:`to_payload`; a corrupt payload raises :class:`NormalizationError`."""
        return CODEC.decode(data)


CODEC: Final = PayloadCodec(InstrumentEvent)


# --- normalization -------------------------------------------------------------------------


def instrument_scales(instrument: refdata_pb2.Instrument) -> tuple[int, int]:
    """(price scale, quantity scale) of an Instrument; NormalizationError when unusable."""
    return (
        positive_scale(instrument.price_scale, "price_scale"),
        quantity_scale(instrument.fractional_qty_scale, "fractional_qty_scale"),
    )


def normalize_instrument(
    instrument: refdata_pb2.Instrument, *, received_at_ns: int
) -> InstrumentEvent:
    """Validate and convert one upstream Instrument received at ``received_at_ns``; raises only
    :class:`NormalizationError`."""
    symbol = required_text(instrument.symbol, "symbol")
    number = int(instrument.state)
    price_scale, qty_scale = instrument_scales(instrument)
    received = instant(received_at_ns, "received_at")
    checked_trade_date(received, "received_at")  # TradeDate(75) is rendered from it
    return InstrumentEvent(
        symbol=symbol,
        state=enums.instrument_state_name(number),
        state_number=number,
        security_trading_status=enums.fix_security_trading_status(number),
        security_status=enums.fix_security_status(number),
        trading_session_sub_id=enums.fix_trading_session_sub_id(number),
        description=text(instrument.description, "description"),
        price_scale=price_scale,
        quantity_scale=qty_scale,
        transact_time_ns=received,
    )


# --- rendering -----------------------------------------------------------------------------


# States in which an instrument's settlement outcome is carried (the market-data guide: the
# settlement price is only populated when the instrument is CLOSED, TERMINATED or EXPIRED).
OUTCOME_STATES: Final = frozenset({"CLOSED", "EXPIRED", "TERMINATED"})


def security_status_body(
    event: InstrumentEvent, style: RenderStyle = DEFAULT_STYLE, outcome: str | None = None
) -> Fields:
    """SecurityStatus (35=f) body fields, in the stock FIX50SP2.xml's declaration order.

    No header or trailer tags. Instrument component: Symbol(55), SecurityID(48) = symbol,
    SecurityIDSource(22) = 8 (exchange symbol), Product(460) = 12 (other), SecurityStatus(965),
    SecurityDesc(107) when upstream has a description. Then TradeDate(75) of the change,
    TradingSessionSubID(625) where the state has one, SecurityTradingStatus(326),
    TransactTime(60) and Text(58) = the exchange's state name (e.g. ``HALTED``). No
    SecurityStatusReqID(324): nothing was asked.

    ``outcome``: the settlement's outcome text ("Buffalo Bills win"). In a CLOSED, EXPIRED or
    TERMINATED state it joins the state name in Text(58), ``EXPIRED: Buffalo Bills win``: Text
    is FIX's only free-text field of SecurityStatus in every profile, and the state name stays
    first. Ignored in any other state, and when empty. An outcome containing SOH raises
    NormalizationError.
    """
    out = instrument(event.symbol)
    out.append((965, event.security_status))
    put(out, 107, event.description)
    out.append((75, trade_date(event.transact_time_ns)))
    put(out, 625, event.trading_session_sub_id)
    out += [
        (326, event.security_trading_status),
        (60, format_utc_timestamp(event.transact_time_ns, style.precision)),
        (58, _status_text(event.state, outcome)),
    ]
    return conform(style.profile, "f", out)


def _status_text(state: str, outcome: str | None) -> str:
    """Text(58): the state name, then ``: <outcome>`` where the state carries one."""
    if not outcome or state not in OUTCOME_STATES:
        return state
    return f"{state}: {text(outcome, 'outcome')}"


__all__ = [
    "InstrumentEvent",
    "instrument_scales",
    "normalize_instrument",
    "security_status_body",
]
