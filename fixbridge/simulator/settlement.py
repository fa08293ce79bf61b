"""Settlement prices of the simulated exchange: the resolution of a contract whose event is
over, and the daily marks of contracts still trading.

The exchange's market-data page: ``settlement_px`` is the "Settlement/resolution price"
(divided by price_scale), ``settlement_preliminary`` true means it "may still change (awaiting
final approval)", false that it is final; the method ``SETTLEMENT_PRICE_CALCULATION_METHOD_
EVENT_TIER_1`` is "settlement via event resolution", and a different method is "a daily mark
rather than final resolution". Its examples resolve YES at 1000 with price_scale 1000 ($1.00)
and NO at 0, with the deciding outcome as text ("Buffalo Bills win").

Rules here (the simulator's choices where the page is silent):

* Resolution (:func:`resolution_calls`): a preliminary EVENT_TIER_1 price of ``price_scale``
  (YES won) or 0 (NO won) with the outcome's text, then the final one (preliminary false) at
  the same price. When the first call was wrong, a second, changed preliminary names the other
  outcome before the final.
* Which outcome (:func:`resolution`) follows the market's last trade price when the event ends:
  the favourite (YES at $0.50 or more) wins, unless the market was close (last price within
  ``price_scale / CLOSE_CALL_DIVISOR``, $0.05, of $0.50): then the first call names the
  favourite and is changed to the other side, which wins. So the outcome is a function of the
  simulated market, never of a die.
* Daily mark (:func:`daily_mark`), set when a trading session closes, after the names and
  descriptions the exchange publishes for its event settlement logic: EVENT_TIER_2, "the price
  of the trading day's latest trade"; EVENT_TIER_3, no trade that day, "set to the current
  settlement price"; EVENT_TIER_4, neither, "set to 0". A daily mark is not preliminary: only
  its method tells it from a resolution, as at the exchange.

Pure: every instant is passed in. This module must never draw random numbers, read a clock or
know about gRPC.
"""

from __future__ import annotations

from dataclasses import dataclass

from fixbridge.simulator.refdata import SymbolSpec

METHOD_PREFIX = "SETTLEMENT_PRICE_CALCULATION_METHOD_"
EVENT_TIER_1 = METHOD_PREFIX + "EVENT_TIER_1"
"""Set by the event's resolution; final once settlement_preliminary is false."""
EVENT_TIER_2 = METHOD_PREFIX + "EVENT_TIER_2"
"""Daily mark: the trading day's latest trade price."""
EVENT_TIER_3 = METHOD_PREFIX + "EVENT_TIER_3"
"""Daily mark: no trade that day, the current settlement price is kept."""
EVENT_TIER_4 = METHOD_PREFIX + "EVENT_TIER_4"
"""Daily mark: no trade that day and no settlement price yet, so 0."""

MARK_TEXTS: dict[str, str] = {
    EVENT_TIER_2: "Daily mark: latest trade of the trading day",
    EVENT_TIER_3: "Daily mark: no trade during the trading day, settlement price kept",
    EVENT_TIER_4: "Daily mark: no trade and no earlier settlement price",
}


CLOSE_CALL_DIVISOR = 20
"""A market is close when its last price is within price_scale / 20 ($0.05) of $0.50."""


@dataclass(frozen=True, slots=True)
class Call:
    """One settlement decision before it has an instant: price, finality and text."""

    px: int
    preliminary: bool
    method: str
    text: str


@dataclass(frozen=True, slots=True)
class Settlement:
    """A settlement price as published: the decision and when it was set."""

    px: int
    preliminary: bool
    method: str
    text: str
    set_time_ns: int

    @classmethod
    def of(cls, call: Call, set_time_ns: int) -> Settlement:
        return cls(call.px, call.preliminary, call.method, call.text, set_time_ns)

    @property
    def is_resolution(self) -> bool:
        return self.method == EVENT_TIER_1


def outcome_call(spec: SymbolSpec, yes_wins: bool, *, preliminary: bool) -> Call:
    """The EVENT_TIER_1 call for one outcome: $1.00 (``price_scale``) if YES won, else 0."""
    yes_text, no_text = spec.outcomes
    if yes_wins:
        return Call(spec.price_scale, preliminary, EVENT_TIER_1, yes_text)
    return Call(0, preliminary, EVENT_TIER_1, no_text)


def resolution_calls(spec: SymbolSpec, yes_wins: bool, first_call_wrong: bool) -> tuple[Call, ...]:
    """Every call of a resolution in order: preliminary (a wrong one first, then the changed
    one, if ``first_call_wrong``), then final."""
    calls: list[Call] = []
    if first_call_wrong:
        calls.append(outcome_call(spec, not yes_wins, preliminary=True))
    calls.append(outcome_call(spec, yes_wins, preliminary=True))
    calls.append(outcome_call(spec, yes_wins, preliminary=False))
    return tuple(calls)


def resolution(spec: SymbolSpec, last_px: int) -> tuple[Call, ...]:
    """Every call of the resolution of ``spec`` whose last trade price was ``last_px``."""
    favourite_yes = 2 * last_px >= spec.price_scale
    close = abs(2 * last_px - spec.price_scale) <= 2 * spec.price_scale // CLOSE_CALL_DIVISOR
    if close:
        return resolution_calls(spec, yes_wins=not favourite_yes, first_call_wrong=True)
    return resolution_calls(spec, yes_wins=favourite_yes, first_call_wrong=False)


def daily_mark(session_last_px: int | None, current: Settlement | None) -> Call:
    """The mark of a trading day that just closed. ``session_last_px``: its latest trade price
    (None: no trade that day); ``current``: the symbol's settlement price before it, if any."""
    if session_last_px is not None:
        return Call(session_last_px, False, EVENT_TIER_2, MARK_TEXTS[EVENT_TIER_2])
    if current is not None:
        return Call(current.px, False, EVENT_TIER_3, MARK_TEXTS[EVENT_TIER_3])
    return Call(0, False, EVENT_TIER_4, MARK_TEXTS[EVENT_TIER_4])
