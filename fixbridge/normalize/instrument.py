"""One upstream ``Instrument`` state change -> :class:`InstrumentEvent` -> SecurityStatus (35=f).

The instrument-state stream sends whole ``Instrument`` messages; this module keeps what a
SecurityStatus needs: the symbol, the state (name, number and its FIX codes, from the tables in
:mod:`fixbridge.normalize.enums`), the scales (which the position stream lacks, spec §4.6) and
the time of the change. Rules:

* Time: ``Instrument`` has no time field (spec §4.6, gap 7), so the change time is read from
  ``metadata["update_time"]``, RFC 3339 with up to nine fractional digits (what the simulator
  and protobuf's JSON Timestamp write). Absent, empty, malformed or outside 1970..9999 is a
  :class:`NormalizationError`: it is part of the dedup identity ``symbol:state:time`` (DESIGN
  invariant 2), so a guessed time would break exactly-once. Should a later proto add
  ``update_time`` as a field, read it here first.
* Scales: ``price_scale`` must be a positive integer; ``fractional_qty_scale`` 0 (absent)
  means 1, negative is an error (spec §4.4, as for executions).
* An unknown InstrumentState number is an error naming it; nothing is guessed.
* Instrument events are not firm-scoped: ``firms`` and ``accounts`` are empty.

Pure (no I/O, no clock); total (bad input raises only :class:`NormalizationError`); every tag
:func:`security_status_body` emits is defined for SecurityStatus in the stock QuickFIX
FIX50SP2.xml with a listed value. The journal payload codec here is shared with
:mod:`fixbridge.normalize.position`; its type tables are the execution normalizer's.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, NamedTuple

from fixbridge.normalize import enums
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.execution import (
    _PRODUCT_OTHER,
    _SECURITY_ID_SOURCE_EXCHANGE_SYMBOL,
    _put,
    _required_text,
    _text,
    _timestamp,
)
from fixbridge.normalize.payload import event_from_payload, event_to_payload, field_decoders
from fixbridge.normalize.timestamps import Precision, format_utc_timestamp
from fixbridge.proto.polymarket.v1 import refdata_pb2

if TYPE_CHECKING:
    pass

UPDATE_TIME_KEY: Final = "update_time"
_UPDATE_TIME_FIELD: Final = f"metadata.{UPDATE_TIME_KEY}"

# RFC 3339 date-time (section 5.6), ASCII digits only; fraction of 1..9 digits.
_RFC3339: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,9}))?(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_OFFSET_SIGN: Final[Mapping[str, int]] = {"+": 1, "-": -1}


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
    security_trading_status: str  # SecurityTradingStatus(326), distinct per state
    security_status: str  # SecurityStatus(965), the instrument lifecycle
    trading_session_sub_id: str | None  # TradingSessionSubID(625); auction phase only
    description: str  # Instrument.description; SecurityDesc(107), "" = not sent
    price_scale: int  # Instrument.price_scale, > 0
    quantity_scale: int  # Instrument.fractional_qty_scale, > 0 (absent upstream = 1)
    transact_time_ns: int  # metadata["update_time"]; TransactTime(60)

    @property
    def upstream_id(self) -> str:
        """Dedup identity (DESIGN invariant 2): ``symbol:state:transact_time_ns``."""
        return f"{self.symbol}:{self.state}:{self.transact_time_ns}"

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
        return event_to_payload(self)

    @classmethod
    def from_payload(cls, data: bytes) -> InstrumentEvent:
        """Inverse of :meth:`to_payload`; a corrupt payload raises :class:`NormalizationError`."""
        return event_from_payload(cls, _INSTRUMENT_DECODE, data)


_INSTRUMENT_DECODE: Final = field_decoders(InstrumentEvent)


# --- normalization -------------------------------------------------------------------------


def normalize_instrument(instrument: refdata_pb2.Instrument) -> InstrumentEvent:
    """Validate and convert one upstream Instrument; raises only :class:`NormalizationError`."""
    symbol = _required_text(instrument.symbol, "symbol")
    number = int(instrument.state)
    price_scale = instrument.price_scale
    if price_scale <= 0:
        raise NormalizationError("price_scale", "must be a positive integer", price_scale)
    quantity_scale = instrument.fractional_qty_scale
    if quantity_scale < 0:
        raise NormalizationError("fractional_qty_scale", "must not be negative", quantity_scale)
    return InstrumentEvent(
        symbol=symbol,
        state=enums.instrument_state_name(number),
        state_number=number,
        security_trading_status=enums.fix_security_trading_status(number),
        security_status=enums.fix_security_status(number),
        trading_session_sub_id=enums.fix_trading_session_sub_id(number),
        description=_text(instrument.description, "description"),
        price_scale=price_scale,
        # Spec §4.4: "If an instrument publishes no fractionalQtyScale, treat it as 1".
        quantity_scale=quantity_scale or 1,
        transact_time_ns=_update_time(instrument),
    )


class _Stamp(NamedTuple):
    """Seconds and nanos, as :func:`fixbridge.normalize.execution._timestamp` reads them."""

    seconds: int
    nanos: int


def _update_time(instrument: refdata_pb2.Instrument) -> int:
    """Nanoseconds of ``metadata["update_time"]`` (RFC 3339), range-checked like any time."""
    text = instrument.metadata.get(UPDATE_TIME_KEY, "")
    if not text:
        raise NormalizationError(_UPDATE_TIME_FIELD, "missing")
    return _timestamp(_parse_rfc3339(text, _UPDATE_TIME_FIELD), _UPDATE_TIME_FIELD)


def _parse_rfc3339(text: str, field: str) -> _Stamp:
    """``2026-11-21T09:47:00.123456789Z`` (or with a ``±HH:MM`` offset) as UTC seconds + nanos.

    Strict RFC 3339 date-time: no leap second 60, at most nine fractional digits, offsets up to
    ±23:59. Anything else raises :class:`NormalizationError` naming ``field``.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise NormalizationError(field, "not an RFC 3339 date-time", text)
    year, month, day, hour, minute, second = (int(part) for part in match.group(1, 2, 3, 4, 5, 6))
    fraction, sign, offset_hours, offset_minutes = match.group(7, 8, 9, 10)
    try:
        moment = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
    except ValueError:
        raise NormalizationError(field, "not a calendar date and time", text) from None
    offset = 0
    if sign is not None:
        if int(offset_hours) > 23 or int(offset_minutes) > 59:
            raise NormalizationError(field, "UTC offset out of range", text)
        offset = _OFFSET_SIGN[sign] * (int(offset_hours) * 3600 + int(offset_minutes) * 60)
    seconds = (moment - _EPOCH) // dt.timedelta(seconds=1) - offset
    return _Stamp(seconds, int((fraction or "").ljust(9, "0")))


# --- rendering -----------------------------------------------------------------------------


def security_status_body(event: InstrumentEvent, precision: Precision) -> list[tuple[int, str]]:
    """SecurityStatus (35=f) body fields, in the stock FIX50SP2.xml's declaration order.

    No header or trailer tags. Instrument component: Symbol(55), SecurityID(48) = symbol,
    SecurityIDSource(22) = 8 (exchange symbol), Product(460) = 12 (other), SecurityStatus(965),
    SecurityDesc(107) when upstream has a description. Then TradingSessionSubID(625) where the
    state has one, SecurityTradingStatus(326), TransactTime(60) at ``precision`` and Text(58) =
    the exchange's state name (e.g. ``HALTED``). No SecurityStatusReqID(324): nothing was asked.
    """
    out: list[tuple[int, str]] = [
        (55, event.symbol),
        (48, event.symbol),
        (22, _SECURITY_ID_SOURCE_EXCHANGE_SYMBOL),
        (460, _PRODUCT_OTHER),
        (965, event.security_status),
    ]
    _put(out, 107, event.description)
    _put(out, 625, event.trading_session_sub_id)
    out += [
        (326, event.security_trading_status),
        (60, format_utc_timestamp(event.transact_time_ns, precision)),
        (58, event.state),
    ]
    return out


__all__ = [
    "InstrumentEvent",
    "NormalizationError",
    "normalize_instrument",
    "security_status_body",
]
