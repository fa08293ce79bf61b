"""Settlement prices from the market-data stream, against the exchange's market-data streaming
guide (seed 003, "Settlement Fields" and its two settled-market examples)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from google.protobuf import json_format

from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.settlement import settlement_of
from fixbridge.proto.polymarket.v1 import marketdatasubscription_pb2 as md
from tests.unit.test_proto_market_data import NO_WINS, YES_WINS


def update(text: str) -> md.MarketDataUpdate:
    return json_format.Parse(text, md.MarketDataUpdate())


def test_yes_wins_is_a_final_resolution_at_one_dollar() -> None:
    # The guide: "settlement_px = 1000 with a price_scale of 1000 equals $1.00 (YES won)".
    found = settlement_of(update(YES_WINS), price_scale=1000)
    assert found is not None
    assert (found.symbol, found.price) == ("aec-nfl-buf-kc-2026-01-26", Decimal("1"))
    assert (found.preliminary, found.resolution) == (False, True)
    assert found.outcome == "Buffalo Bills win"
    set_at = datetime(2026, 1, 27, 3, 42, 11, tzinfo=UTC)
    assert found.set_time_ns == int(set_at.timestamp()) * 1_000_000_000


def test_no_wins_is_a_settlement_at_zero_not_an_absent_one() -> None:
    found = settlement_of(update(NO_WINS), price_scale=1000)
    assert found is not None and found.price == Decimal("0") and found.resolution
    assert found.outcome == "Kansas City Chiefs win" and found.set_time_ns is None


def test_an_update_without_a_settlement_price_is_none() -> None:
    plain = md.MarketDataUpdate(symbol="x", stats=md.InstrumentStats(last_trade_px=525))
    assert settlement_of(plain, 1000) is None
    assert settlement_of(md.MarketDataUpdate(symbol="x"), 1000) is None


def test_another_method_is_a_daily_mark_and_an_unflagged_price_is_not_final() -> None:
    # The guide: a method other than EVENT_TIER_1 "you can treat ... as a daily mark".
    mark = md.MarketDataUpdate(
        symbol="x",
        stats=md.InstrumentStats(
            settlement_px=5250, settlement_price_calculation_method="DAILY_VWAP"
        ),
    )
    found = settlement_of(mark, 10_000)
    assert found is not None
    assert (found.price, found.resolution, found.preliminary) == (Decimal("0.525"), False, True)


def test_preliminary_and_final_are_two_facts_and_a_changed_price_a_third() -> None:
    base = update(NO_WINS)
    final = settlement_of(base, 1000)
    base.stats.settlement_preliminary = True
    preliminary = settlement_of(base, 1000)
    base.stats.settlement_px = 1000
    changed = settlement_of(base, 1000)
    assert final and preliminary and changed
    assert len({final.identity, preliminary.identity, changed.identity}) == 3
    first, again = settlement_of(update(YES_WINS), 1000), settlement_of(update(YES_WINS), 1000)
    assert first is not None and again is not None and first.identity == again.identity


def test_a_bad_scale_or_a_missing_symbol_is_named() -> None:
    with pytest.raises(NormalizationError, match="price_scale"):
        settlement_of(update(YES_WINS), price_scale=0)
    nameless = update(YES_WINS)
    nameless.symbol = ""
    with pytest.raises(NormalizationError, match="symbol"):
        settlement_of(nameless, 1000)


def test_a_price_with_no_exact_decimal_is_refused_not_rounded() -> None:
    odd = update(YES_WINS)
    odd.stats.settlement_px = 2
    with pytest.raises(NormalizationError, match="no exact decimal"):
        settlement_of(odd, price_scale=3)


def test_the_report_key_names_the_fact_without_spaces_or_separators() -> None:
    timed = settlement_of(update(YES_WINS), 1000)
    untimed = settlement_of(update(NO_WINS), 1000)  # the guide's NO example has no set time
    assert timed is not None and untimed is not None
    assert timed.report_key == f"aec-nfl-buf-kc-2026-01-26:{timed.set_time_ns}:F"
    _, digest, flag = untimed.report_key.split(":")
    assert (len(digest), flag) == (16, "F") and " " not in untimed.report_key


def test_a_price_outside_zero_to_one_dollar_is_refused() -> None:
    # The guide's examples settle at $1.00 (1000 / 1000) or $0.00: an event contract pays
    # at most $1. 1500 at scale 1000 would be $1.50.
    over = update(YES_WINS)
    over.stats.settlement_px = 1500
    with pytest.raises(NormalizationError, match="between"):
        settlement_of(over, price_scale=1000)
