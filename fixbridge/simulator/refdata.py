"""Static reference data of the simulated exchange: its symbols, firms, accounts and users.

Everything here is a constant: the same for every seed, so tests, filters and demo configs can
name symbols and firms without running the model. Prices and quantities are scaled integers
(``price_scale``, ``fractional_qty_scale``), never floats. This module must never hold state
that changes while the simulator runs; the market model keeps that.
"""

from __future__ import annotations

from dataclasses import dataclass

from fixbridge.proto.polymarket.v1 import enums_pb2, refdata_pb2, types_pb2

Side = enums_pb2.Side
SmpInstruction = enums_pb2.SelfMatchPreventionInstruction
Capacity = enums_pb2.OrderCapacity


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """One event contract. Prices are in 1/price_scale dollars, quantities in 1/qty_scale."""

    symbol: str
    description: str
    product_id: str
    price_scale: int
    fractional_qty_scale: int
    tick: int
    """Minimum price increment in price_scale units (5 with scale 1000 = half a cent)."""
    reference_price: int
    """Where the simulated market starts trading, in price_scale units."""
    max_order_qty: int
    """Largest accepted order quantity, in fractional_qty_scale units."""
    start_date: tuple[int, int, int]
    expiration_date: tuple[int, int, int]
    outcomes: tuple[str, str]
    """What decides the contract, as a settlement names it: (when YES wins, when NO wins)."""

    @property
    def min_price(self) -> int:
        """$0.01: the lowest price an event contract trades at."""
        return self.price_scale // 100

    @property
    def max_price(self) -> int:
        """$0.99: the highest price an event contract trades at."""
        return self.price_scale * 99 // 100

    @property
    def price_band(self) -> int:
        """Half-width of the band around the reference price outside which orders are rejected
        ($0.20)."""
        return self.price_scale // 5

    @property
    def minimum_trade_qty(self) -> int:
        """One unit of the quantity scale: one contract, or 0.01 for partial-contract symbols."""
        return 1


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """A trading account; ``name`` is the fully qualified ``firms/<FIRM>/accounts/<ACCT>``."""

    firm: str
    short_name: str
    users: tuple[str, ...]
    smp_instruction: SmpInstruction
    capacity: Capacity
    taker_bps: int
    """Fee charged to the aggressor, in basis points of notional."""
    maker_bps: int
    """Fee charged to the resting side; negative is a rebate (market makers)."""
    buying_power_usd: int
    """Whole dollars the account may commit to one order (buy: price, sell: 1 - price)."""

    @property
    def name(self) -> str:
        return f"firms/{self.firm}/accounts/{self.short_name}"

    def participant(self, user: str) -> str:
        """``firms/<FIRM>/users/<USER>`` of one of this account's users."""
        return f"firms/{self.firm}/users/{user}"


@dataclass(frozen=True, slots=True)
class FirmSpec:
    name: str
    accounts: tuple[AccountSpec, ...]


def _account(
    firm: str,
    short_name: str,
    users: tuple[str, ...],
    smp: SmpInstruction,
    capacity: Capacity,
    *,
    maker_bps: int = 0,
    buying_power_usd: int = 5_000_000,
) -> AccountSpec:
    return AccountSpec(
        firm, short_name, users, smp, capacity,
        taker_bps=200, maker_bps=maker_bps, buying_power_usd=buying_power_usd,
    )


SYMBOLS: tuple[SymbolSpec, ...] = (
    SymbolSpec(
        "nfl-kc-buf-2026-11-22-kc",
        "Kansas City at Buffalo, 22 Nov 2026: Kansas City wins",
        "nfl-kc-buf-2026-11-22",
        price_scale=1000, fractional_qty_scale=100, tick=5, reference_price=525,
        max_order_qty=500_000, start_date=(2026, 11, 1), expiration_date=(2026, 11, 23),
        outcomes=("Kansas City Chiefs win", "Buffalo Bills win"),
    ),
    SymbolSpec(
        "nfl-kc-buf-2026-11-22-buf",
        "Kansas City at Buffalo, 22 Nov 2026: Buffalo wins",
        "nfl-kc-buf-2026-11-22",
        price_scale=1000, fractional_qty_scale=100, tick=5, reference_price=475,
        max_order_qty=500_000, start_date=(2026, 11, 1), expiration_date=(2026, 11, 23),
        outcomes=("Buffalo Bills win", "Kansas City Chiefs win"),
    ),
    SymbolSpec(
        "nba-lal-bos-2026-11-21-lal",
        "Los Angeles at Boston, 21 Nov 2026: Los Angeles wins",
        "nba-lal-bos-2026-11-21",
        price_scale=100, fractional_qty_scale=1, tick=1, reference_price=41,
        max_order_qty=5_000, start_date=(2026, 11, 10), expiration_date=(2026, 11, 22),
        outcomes=("Los Angeles Lakers win", "Boston Celtics win"),
    ),
    SymbolSpec(
        "nhl-tor-mtl-2026-11-28-tor",
        "Toronto at Montreal, 28 Nov 2026: Toronto wins",
        "nhl-tor-mtl-2026-11-28",
        price_scale=100, fractional_qty_scale=100, tick=1, reference_price=58,
        max_order_qty=500_000, start_date=(2026, 11, 14), expiration_date=(2026, 11, 29),
        outcomes=("Toronto Maple Leafs win", "Montreal Canadiens win"),
    ),
    SymbolSpec(
        "pres-2028-dem",
        "2028 US presidential election: the Democratic candidate wins",
        "pres-2028",
        price_scale=1000, fractional_qty_scale=1, tick=1, reference_price=487,
        max_order_qty=10_000, start_date=(2026, 1, 5), expiration_date=(2028, 11, 8),
        outcomes=("The Democratic candidate wins", "The Democratic candidate loses"),
    ),
    SymbolSpec(
        "fed-cut-2026-12-16",
        "FOMC lowers the target rate at the 16 Dec 2026 meeting",
        "fed-2026-12-16",
        price_scale=1000, fractional_qty_scale=100, tick=5, reference_price=315,
        max_order_qty=1_000_000, start_date=(2026, 9, 18), expiration_date=(2026, 12, 17),
        outcomes=("The FOMC lowers the target rate", "The FOMC does not lower the target rate"),
    ),
    SymbolSpec(
        "epl-ars-che-2026-11-29-draw",
        "Arsenal v Chelsea, 29 Nov 2026: draw",
        "epl-ars-che-2026-11-29",
        price_scale=100, fractional_qty_scale=100, tick=1, reference_price=27,
        max_order_qty=250_000, start_date=(2026, 11, 15), expiration_date=(2026, 11, 30),
        outcomes=("Arsenal and Chelsea draw", "Arsenal or Chelsea wins"),
    ),
    SymbolSpec(
        "btc-above-150k-2026-12-31",
        "Bitcoin trades above 150,000 USD at 31 Dec 2026 23:59 UTC",
        "btc-150k-2026-12-31",
        price_scale=100, fractional_qty_scale=1, tick=1, reference_price=22,
        max_order_qty=20_000, start_date=(2026, 7, 1), expiration_date=(2027, 1, 1),
        outcomes=("Bitcoin is above 150,000 USD", "Bitcoin is not above 150,000 USD"),
    ),
)

EXPIRING_SYMBOL = "nba-lal-bos-2026-11-21-lal"
"""The one contract whose game ends while the simulator runs: it closes, expires, terminates."""

_SMP = SmpInstruction
_CAP = Capacity

FIRMS: tuple[FirmSpec, ...] = (
    FirmSpec("SIM-ALPHA", (
        _account("SIM-ALPHA", "alpha-mm", ("alpha-algo-1",),
                 _SMP.SELF_MATCH_PREVENTION_INSTRUCTION_CANCEL_RESTING,
                 _CAP.ORDER_CAPACITY_PROPRIETARY, maker_bps=-25),
        _account("SIM-ALPHA", "alpha-prop", ("alpha-trader-1", "alpha-trader-2"),
                 _SMP.SELF_MATCH_PREVENTION_INSTRUCTION_REJECT_AGGRESSOR,
                 _CAP.ORDER_CAPACITY_PRINCIPAL),
        _account("SIM-ALPHA", "alpha-client-7", ("alpha-desk-1",),
                 _SMP.SELF_MATCH_PREVENTION_INSTRUCTION_REMOVE_BOTH,
                 _CAP.ORDER_CAPACITY_AGENCY),
    )),
    FirmSpec("SIM-BRAVO", (
        _account("SIM-BRAVO", "bravo-mm", ("bravo-quoter-1",),
                 _SMP.SELF_MATCH_PREVENTION_INSTRUCTION_CANCEL_RESTING,
                 _CAP.ORDER_CAPACITY_PROPRIETARY, maker_bps=-25),
        _account("SIM-BRAVO", "bravo-hedge", ("bravo-pm-1", "bravo-pm-2"),
                 _SMP.SELF_MATCH_PREVENTION_INSTRUCTION_REJECT_AGGRESSOR,
                 _CAP.ORDER_CAPACITY_PRINCIPAL),
        _account("SIM-BRAVO", "bravo-retail", ("bravo-app",),
                 _SMP.SELF_MATCH_PREVENTION_INSTRUCTION_CANCEL_RESTING,
                 _CAP.ORDER_CAPACITY_INDIVIDUAL, buying_power_usd=1_000),
    )),
    FirmSpec("SIM-CHARLIE", (
        _account("SIM-CHARLIE", "charlie-fund", ("charlie-trader-1",),
                 _SMP.SELF_MATCH_PREVENTION_INSTRUCTION_CANCEL_RESTING,
                 _CAP.ORDER_CAPACITY_AGENT_FOR_OTHER_MEMBER),
        _account("SIM-CHARLIE", "charlie-arb", ("charlie-algo-1", "charlie-algo-2"),
                 _SMP.SELF_MATCH_PREVENTION_INSTRUCTION_REMOVE_BOTH,
                 _CAP.ORDER_CAPACITY_RISKLESS_PRINCIPAL),
    )),
)

ACCOUNTS: tuple[AccountSpec, ...] = tuple(a for firm in FIRMS for a in firm.accounts)
SYMBOLS_BY_NAME: dict[str, SymbolSpec] = {s.symbol: s for s in SYMBOLS}
FIRM_NAMES: tuple[str, ...] = tuple(f.name for f in FIRMS)


def firm_of(account_or_participant: str) -> str:
    """``"SIM-ALPHA"`` for ``"firms/SIM-ALPHA/accounts/alpha-mm"``; ``""`` if not firm-scoped."""
    parts = account_or_participant.split("/")
    if len(parts) >= 2 and parts[0] == "firms":
        return parts[1]
    return ""


def instrument_message(
    spec: SymbolSpec, state: enums_pb2.InstrumentState, time_ns: int
) -> refdata_pb2.Instrument:
    """The Instrument a state change at ``time_ns`` publishes.

    The contract's Instrument has no timestamp field (spec section 4.6); the simulator's own log
    keeps the instant beside the message and never reads it back from the message.
    ``tick_size`` and ``multiplier`` are doubles only because the contract says so; every price
    the simulator works with stays a scaled integer.
    """
    instrument = refdata_pb2.Instrument(
        symbol=spec.symbol,
        tick_size=spec.tick / spec.price_scale,
        base_currency="USD",
        multiplier=1.0,
        minimum_trade_qty=spec.minimum_trade_qty,
        start_date=_date(spec.start_date),
        expiration_date=_date(spec.expiration_date),
        termination_date=_date(spec.expiration_date),
        description=spec.description,
        clearing_house="QCC",
        product_id=spec.product_id,
        price_limit=refdata_pb2.PriceLimit(
            low=spec.min_price, high=spec.max_price, low_set=True, high_set=True
        ),
        order_size_limit=refdata_pb2.OrderSizeLimit(
            low=spec.minimum_trade_qty, high=spec.max_order_qty, low_set=True, high_set=True
        ),
        expiration_time=types_pb2.TimeOfDay(hours=23, minutes=59, seconds=59),
        state=state,
        price_scale=spec.price_scale,
        fractional_qty_scale=spec.fractional_qty_scale,
    )
    return instrument


def _date(ymd: tuple[int, int, int]) -> types_pb2.Date:
    year, month, day = ymd
    return types_pb2.Date(year=year, month=month, day=day)
