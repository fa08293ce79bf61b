"""Which symbols the bridge wants settlement prices for (fixbridge/upstream/md_interest.py):
sessions receiving settlements or positions; their scope symbols when listed; otherwise every
listed instrument (settlements) or the symbols where a visible position is held (positions);
bounded by upstream.symbols; a symbol leaves once its final resolution is journaled. And how
one market-data update becomes a journal entry (md_subscriber.settlement_event)."""

from __future__ import annotations

from typing import Any

import pytest

from fixbridge.config import ScopeConfig, SessionConfig
from fixbridge.normalize.instrument import normalize_instrument
from fixbridge.normalize.position import normalize_position
from fixbridge.normalize.settlement import Settlement
from fixbridge.proto.polymarket.v1 import marketdatasubscription_pb2 as md
from fixbridge.upstream.md_interest import Interest
from fixbridge.upstream.md_subscriber import settlement_event
from tests.unit.test_normalize_instrument import make_instrument
from tests.unit.test_normalize_position import make_change

ALPHA = "firms/SIM-ALPHA/accounts/alpha-prop"
BETA = "firms/SIM-BETA/accounts/beta-1"
TIER_1 = "SETTLEMENT_PRICE_CALCULATION_METHOD_EVENT_TIER_1"


def session(*kinds: Any, **scope: Any) -> SessionConfig:
    return SessionConfig(
        name="s", sender_comp_id="A", target_comp_id="B",
        scope=ScopeConfig(message_kinds=kinds, **scope),
    )


def listed(interest: Interest, *symbols: str) -> None:
    for symbol in symbols:
        event = normalize_instrument(make_instrument(symbol=symbol), received_at_ns=1)
        interest.observe("instruments", event.to_payload())


def position(interest: Interest, account: str, symbol: str, net: int) -> None:
    change = make_change(account=account, symbol=symbol, net_position=net)
    event = normalize_position(change, price_scale=1000, quantity_scale=100)
    interest.observe("positions", event.to_payload())


def settled(interest: Interest, symbol: str, *, preliminary: bool, method: str = TIER_1) -> None:
    update = md.MarketDataUpdate(symbol=symbol, stats=md.InstrumentStats(
        settlement_px=100, settlement_preliminary=preliminary,
        settlement_price_calculation_method=method))
    event = settlement_event(update, 100, received_at_ns=5)
    assert event is not None
    interest.observe("settlements", event.payload)


@pytest.fixture
def interest() -> Interest:
    found = Interest()
    listed(found, "a", "b", "c")
    position(found, ALPHA, "a", 5)
    position(found, BETA, "b", 3)
    return found


@pytest.mark.parametrize(("sessions", "expected"), [
    ([session("executions")], set()),
    ([session("executions", "trades", "instruments")], set()),
    ([session("settlements")], {"a", "b", "c"}),
    ([session("settlements", symbols=("b", "z"))], {"b", "z"}),
    ([session("positions")], {"a", "b"}),
    ([session("positions", firms=("SIM-ALPHA",))], {"a"}),
    ([session("positions", accounts=(BETA,))], {"b"}),
    ([session("positions", symbols=("c",))], {"c"}),
    ([session("positions", firms=("SIM-ALPHA",)), session("settlements", symbols=("c",))],
     {"a", "c"}),
])
def test_the_sessions_decide_the_symbols(
    interest: Interest, sessions: list[SessionConfig], expected: set[str]
) -> None:
    assert interest.wanted(sessions) == expected


def test_upstream_symbols_bound_everything(interest: Interest) -> None:
    assert interest.wanted([session("settlements")], upstream_symbols=("a", "z")) == {"a"}


def test_a_closed_position_is_no_longer_held(interest: Interest) -> None:
    position(interest, ALPHA, "a", 0)
    assert interest.wanted([session("positions")]) == {"b"}


def test_a_symbol_leaves_only_at_its_final_resolution(interest: Interest) -> None:
    settled(interest, "a", preliminary=True)
    settled(interest, "b", preliminary=False, method="DAILY_MARK")
    assert interest.wanted([session("settlements")]) == {"a", "b", "c"}
    settled(interest, "a", preliminary=False)
    assert interest.wanted([session("settlements")]) == {"b", "c"}
    assert interest.wanted([session("settlements", symbols=("a", "c"))]) == {"c"}


def test_flagged_and_unknown_events_change_nothing(interest: Interest) -> None:
    before = interest.wanted([session("settlements"), session("positions")])
    interest.observe("positions", b"")
    interest.observe("instruments", b"{not json")
    interest.observe("executions", b"anything")
    assert interest.wanted([session("settlements"), session("positions")]) == before


# ---- settlement_event: the journal entry for one update


def test_an_update_without_a_settlement_price_is_not_journaled() -> None:
    book = md.MarketDataUpdate(symbol="a", stats=md.InstrumentStats(last_trade_px=50))
    assert settlement_event(book, 100, 1) is None
    assert settlement_event(md.MarketDataUpdate(symbol="a"), None, 1) is None


def test_a_settlement_is_journaled_under_its_identity_at_its_set_time() -> None:
    update = md.MarketDataUpdate(symbol="a", stats=md.InstrumentStats(
        settlement_px=100, settlement_preliminary=False,
        settlement_price_calculation_method=TIER_1))
    update.stats.settlement_set_time.FromNanoseconds(7_000_000_000)
    event = settlement_event(update, 100, received_at_ns=9)
    assert event is not None and event.flagged is None
    decoded = Settlement.from_payload(event.payload)
    assert event.upstream_id == decoded.identity == "a|7000000000|F"
    assert event.transact_time_ns == 7_000_000_000 and event.decoded == decoded
    assert event.raw == update.SerializeToString(deterministic=True)


def test_without_a_set_time_it_is_stamped_when_received() -> None:
    update = md.MarketDataUpdate(symbol="a", stats=md.InstrumentStats(settlement_px=0))
    event = settlement_event(update, 100, received_at_ns=9)
    assert event is not None and event.transact_time_ns == 9


def test_an_unknown_scale_is_kept_flagged_with_a_stable_identity() -> None:
    update = md.MarketDataUpdate(symbol="a", stats=md.InstrumentStats(settlement_px=100))
    first = settlement_event(update, None, received_at_ns=1)
    again = settlement_event(update, None, received_at_ns=2)
    assert first is not None and again is not None
    assert first.flagged is not None and "price_scale" in first.flagged and first.payload == b""
    assert first.upstream_id == again.upstream_id  # the same bytes again are a duplicate
