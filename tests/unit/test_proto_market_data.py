"""The market-data protos against the exchange's market-data streaming guide (seed 003).

Numbers the guide gives are checked one by one; its two settled-market examples (protobuf
JSON, "Example: Settled Market (YES wins)" and "(NO wins)") must parse into MarketDataUpdate
field for field, which they cannot if a name or a type is wrong.
"""

from __future__ import annotations

from google.protobuf import json_format

from fixbridge.proto.polymarket.v1 import enums_pb2
from fixbridge.proto.polymarket.v1 import marketdatasubscription_pb2 as md

YES_WINS = """{
  "symbol": "aec-nfl-buf-kc-2026-01-26",
  "state": "INSTRUMENT_STATE_EXPIRED",
  "stats": {
    "settlement_px": 1000,
    "settlement_set_time": "2026-01-27T03:42:11Z",
    "settlement_preliminary": false,
    "settlement_price_calculation_method": "SETTLEMENT_PRICE_CALCULATION_METHOD_EVENT_TIER_1",
    "settlement_price_calculation_text": "Buffalo Bills win"
  }
}"""
NO_WINS = """{
  "symbol": "aec-nfl-buf-kc-2026-01-26",
  "state": "INSTRUMENT_STATE_EXPIRED",
  "stats": {
    "settlement_px": 0,
    "settlement_preliminary": false,
    "settlement_price_calculation_method": "SETTLEMENT_PRICE_CALCULATION_METHOD_EVENT_TIER_1",
    "settlement_price_calculation_text": "Kansas City Chiefs win"
  }
}"""


def numbers(message: type) -> dict[str, int]:
    return {f.name: f.number for f in message.DESCRIPTOR.fields}  # type: ignore[attr-defined]


def test_the_numbers_the_guide_gives() -> None:
    assert numbers(md.BiDirectionalStreamMarketDataRequest) == {
        "subscribe": 1, "unsubscribe": 2, "unaggregated": 3, "depth": 4, "snapshot_only": 5,
        "slow_consumer_skip_to_head": 6, "keepalive": 7,
    }  # fmt: skip
    assert numbers(md.BiDirectionalStreamMarketDataResponse) == {
        "heartbeat": 1, "update": 2, "subscription_ack": 3, "subscription_error": 4,
    }  # fmt: skip
    ack = numbers(md.SubscriptionAck)
    assert (ack["symbols_added"], ack["symbols_removed"]) == (1, 2)
    assert numbers(md.SubscriptionError) == {"error_code": 1, "message": 2, "symbols": 3}
    assert numbers(md.SubscribeCommand) == numbers(md.UnsubscribeCommand) == {"symbols": 1}
    assert numbers(md.SubscriptionAck)["active_symbols"] == 3


def test_the_inferred_numbers_follow_the_bundle_copy() -> None:
    """Not given by the guide: the numbers of a third-party copy of the exchange's bundle file
    (see the proto's header), InstrumentStats also in the exchange's OrderBookAPI schema order.
    A change here is a wire change: check it against the exchange's bundle first."""
    assert numbers(md.CreateMarketDataSubscriptionResponse) == {"heartbeat": 1, "update": 2}
    assert numbers(md.InstrumentStats) == {
        "open_px": 1, "close_px": 2, "low_px": 3, "high_px": 4, "last_trade_px": 5,
        "indicative_open_px": 6, "settlement_px": 7, "shares_traded": 8, "notional_traded": 9,
        "open_interest": 10, "settlement_preliminary": 11,
        "settlement_price_calculation_method": 12, "settlement_price_calculation_text": 13,
        "last_trade_qty": 14, "settlement_set_time": 15,
    }  # fmt: skip
    assert numbers(md.MarketDataUpdate) == {
        "symbol": 1, "bids": 2, "offers": 3, "state": 4, "stats": 5, "transact_time": 6,
        "book_hidden": 7,
    }  # fmt: skip
    assert numbers(md.CreateMarketDataSubscriptionRequest) == {
        "symbols": 1, "unaggregated": 2, "depth": 3, "snapshot_only": 4,
        "slow_consumer_skip_to_head": 5,
    }  # fmt: skip


def test_the_guides_settled_market_examples_parse_field_for_field() -> None:
    yes = json_format.Parse(YES_WINS, md.MarketDataUpdate())
    assert yes.symbol == "aec-nfl-buf-kc-2026-01-26"
    assert yes.state == enums_pb2.INSTRUMENT_STATE_EXPIRED
    assert yes.stats.settlement_px == 1000  # $1.00 at price_scale 1000: YES won
    assert yes.stats.settlement_set_time.ToJsonString() == "2026-01-27T03:42:11Z"
    assert yes.stats.HasField("settlement_preliminary") and not yes.stats.settlement_preliminary
    assert yes.stats.settlement_price_calculation_method == (
        "SETTLEMENT_PRICE_CALCULATION_METHOD_EVENT_TIER_1"
    )
    assert yes.stats.settlement_price_calculation_text == "Buffalo Bills win"
    no = json_format.Parse(NO_WINS, md.MarketDataUpdate())
    # A price of 0 is still there: NO won. Absence would mean no settlement at all.
    assert no.stats.HasField("settlement_px") and no.stats.settlement_px == 0
    assert not no.stats.HasField("settlement_set_time")
    assert no.stats.settlement_price_calculation_text == "Kansas City Chiefs win"


def test_stats_the_guide_calls_optional_can_be_told_absent() -> None:
    empty = md.InstrumentStats()
    for name in ("last_trade_px", "settlement_px", "settlement_preliminary", "open_interest"):
        assert not empty.HasField(name)
    assert not md.MarketDataUpdate().HasField("state")


def test_every_stat_can_be_told_absent_and_the_method_is_a_string() -> None:
    from google.protobuf.descriptor import FieldDescriptor

    assert all(f.has_presence for f in md.InstrumentStats.DESCRIPTOR.fields)
    method = md.InstrumentStats.DESCRIPTOR.fields_by_name["settlement_price_calculation_method"]
    assert method.type == FieldDescriptor.TYPE_STRING
