"""A settlement price on the exchange's market-data stream, read as the facts a back office books.

In: one ``MarketDataUpdate`` (its symbol and ``stats``) and the instrument's ``price_scale``
(from ListInstruments or the instrument-state stream). Out: a :class:`Settlement`, or None when
the update carries no settlement price. Pure: no clock, no I/O; it never guesses a scale and
never calls a price final that the exchange did not call final.

Rules, from the exchange's market-data streaming guide (InstrumentStats, "Settlement Fields"):

* ``settlement_px`` is the settlement (resolution) price divided by the instrument's
  price_scale. A price of 0 is a settlement (NO won); an absent ``settlement_px`` is none. An
  event contract pays $0 to $1: a price outside that is refused (NormalizationError).
* ``settlement_preliminary`` true: the price may still change; false: final, positions are
  resolved at it. Absent: treated as preliminary, since nothing says it is final.
* ``settlement_price_calculation_method`` ``SETTLEMENT_PRICE_CALCULATION_METHOD_EVENT_TIER_1`` is
  the event's resolution; any other method, or none, is a daily mark and never a resolution
  (the guide: "If you see a different method, you can treat it as a daily mark").
* ``settlement_price_calculation_text`` is the outcome ("Buffalo Bills win"), kept as given.
* A settlement is one fact per symbol, set time and preliminary flag (the journal's identity
  for it). The guide's NO example has no set time: without one, the price, method and text
  join the identity, so a changed preliminary price is still a new fact.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Final

from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.fields import EXACT, required_text, scaled_value, text, timestamp
from fixbridge.normalize.payload import PayloadCodec
from fixbridge.proto.polymarket.v1 import marketdatasubscription_pb2 as md

EVENT_RESOLUTION = "SETTLEMENT_PRICE_CALCULATION_METHOD_EVENT_TIER_1"
_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)


@dataclass(frozen=True, slots=True)
class Settlement:
    symbol: str
    price: Decimal
    preliminary: bool
    resolution: bool  # True: the event's resolution (EVENT_TIER_1); False: a daily mark
    method: str  # as the exchange sent it ("" when absent)
    outcome: str  # settlement_price_calculation_text ("" when absent)
    set_time_ns: int | None  # settlement_set_time, when the exchange gives it

    @property
    def identity(self) -> str:
        """What makes this settlement one fact: equal identities are the same settlement."""
        flag = "P" if self.preliminary else "F"
        if self.set_time_ns is not None:
            return f"{self.symbol}|{self.set_time_ns}|{flag}"
        return f"{self.symbol}|-|{flag}|{self.price}|{self.method}|{self.outcome}"

    @property
    def report_key(self) -> str:
        """The identity as FIX identifiers carry it: ``symbol:set time:P|F``, the price,
        method and text of a settlement without a set time reduced to a digest (no spaces or
        separators of the outcome text in an id)."""
        flag = "P" if self.preliminary else "F"
        if self.set_time_ns is not None:
            return f"{self.symbol}:{self.set_time_ns}:{flag}"
        digest = hashlib.sha256(self.identity.encode()).hexdigest()[:16]
        return f"{self.symbol}:{digest}:{flag}"

    @property
    def upstream_id(self) -> str:
        """The journal's dedup identity (stream ``settlements``): :attr:`identity`."""
        return self.identity

    @property
    def firms(self) -> frozenset[str]:
        """A settlement is market-wide, not firm-scoped: empty."""
        return frozenset()

    @property
    def accounts(self) -> frozenset[str]:
        """A settlement is market-wide, not account-scoped: empty."""
        return frozenset()

    def to_payload(self) -> bytes:
        """Compact JSON for the journal; exact round trip through :meth:`from_payload`."""
        return CODEC.encode(self)

    @classmethod
    def from_payload(cls, data: bytes) -> Settlement:
        """Inverse of :meth:`to_payload`; a corrupt payload raises NormalizationError."""
        return CODEC.decode(data)


CODEC: Final = PayloadCodec(Settlement)


def settlement_of(update: md.MarketDataUpdate, price_scale: int) -> Settlement | None:
    """The settlement ``update`` carries (module rules), or None. Raises NormalizationError
    for an update that cannot be read correctly (no symbol, an unusable scale)."""
    stats = update.stats
    if not update.HasField("stats") or not stats.HasField("settlement_px"):
        return None
    with localcontext(EXACT):  # a price with no exact decimal is refused, never rounded
        return _settlement(update, price_scale)


def _settlement(update: md.MarketDataUpdate, price_scale: int) -> Settlement:
    stats = update.stats
    set_time = stats.settlement_set_time if stats.HasField("settlement_set_time") else None
    method = text(
        stats.settlement_price_calculation_method, "stats.settlement_price_calculation_method"
    )
    price = scaled_value(stats.settlement_px, price_scale, "price_scale")
    if not _ZERO <= price <= _ONE:
        raise NormalizationError(
            "stats.settlement_px", "an event contract settles between $0 and $1", price
        )
    return Settlement(
        symbol=required_text(update.symbol, "symbol"),
        price=price,
        preliminary=not stats.HasField("settlement_preliminary") or stats.settlement_preliminary,
        resolution=method == EVENT_RESOLUTION,
        method=method,
        outcome=text(
            stats.settlement_price_calculation_text, "stats.settlement_price_calculation_text"
        ),
        set_time_ns=None if set_time is None else timestamp(set_time, "stats.settlement_set_time"),
    )
