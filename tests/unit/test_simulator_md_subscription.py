"""One market-data stream's symbols, options and book, without gRPC.

Expected values come from the exchange's market-data streaming page (the seed document
003_6157fb6ab5205f94): "Empty list subscribes to all instruments", "depth ... Default: 10",
"aggregated book by price level" unless unaggregated, "Each gRPC stream is limited to 1000
symbols maximum", SubscriptionAck's symbols_added / symbols_removed / active_symbols, and the
error codes INVALID_SYMBOL, ALREADY_SUBSCRIBED, NOT_SUBSCRIBED. Where the page is silent the
module states the simulator's rule and the test checks that rule.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from fixbridge.proto.polymarket.v1 import marketdatasubscription_pb2 as md
from fixbridge.simulator.md_subscription import (
    Options,
    RequestError,
    SymbolSet,
    options,
    render,
    server_stream_symbols,
)

KNOWN = ("a-yes", "b-yes", "c-yes")


def codes(errors: tuple[md.SubscriptionError, ...]) -> list[tuple[str, list[str]]]:
    return [(e.error_code, list(e.symbols)) for e in errors]


def test_subscribe_adds_and_acks_with_the_active_symbols() -> None:
    symbols = SymbolSet(KNOWN)
    first = symbols.subscribe(["b-yes"])
    assert first.errors == ()
    assert list(first.ack.symbols_added) == ["b-yes"]
    assert list(first.ack.symbols_removed) == []
    assert list(first.ack.active_symbols) == ["b-yes"]
    assert first.added == ("b-yes",)
    second = symbols.subscribe(["a-yes", "a-yes"])
    assert list(second.ack.symbols_added) == ["a-yes"]
    assert list(second.ack.active_symbols) == ["b-yes", "a-yes"]
    assert "a-yes" in symbols and "c-yes" not in symbols


def test_unknown_and_already_subscribed_symbols_are_errors_the_rest_is_applied() -> None:
    symbols = SymbolSet(KNOWN)
    symbols.subscribe(["a-yes"])
    outcome = symbols.subscribe(["a-yes", "nope", "c-yes", ""])
    assert codes(outcome.errors) == [("INVALID_SYMBOL", ["nope", ""]),
                                     ("ALREADY_SUBSCRIBED", ["a-yes"])]
    assert list(outcome.ack.symbols_added) == ["c-yes"]
    assert list(outcome.ack.active_symbols) == ["a-yes", "c-yes"]
    assert outcome.added == ("c-yes",)


def test_unsubscribe_removes_and_names_what_was_not_subscribed() -> None:
    symbols = SymbolSet(KNOWN)
    symbols.subscribe(["a-yes", "b-yes"])
    outcome = symbols.unsubscribe(["b-yes", "c-yes", "nope"])
    assert codes(outcome.errors) == [("NOT_SUBSCRIBED", ["c-yes", "nope"])]
    assert list(outcome.ack.symbols_removed) == ["b-yes"]
    assert list(outcome.ack.symbols_added) == []
    assert list(outcome.ack.active_symbols) == ["a-yes"]
    assert outcome.added == ()
    again = symbols.subscribe(["b-yes"])
    assert list(again.ack.active_symbols) == ["a-yes", "b-yes"]


def test_a_command_that_fails_whole_is_still_acknowledged() -> None:
    symbols = SymbolSet(KNOWN)
    outcome = symbols.unsubscribe(["a-yes"])
    assert codes(outcome.errors) == [("NOT_SUBSCRIBED", ["a-yes"])]
    assert list(outcome.ack.active_symbols) == [] and list(outcome.ack.symbols_removed) == []


def test_no_stream_holds_more_than_1000_symbols() -> None:
    known = [f"s-{i:04d}" for i in range(1500)]
    symbols = SymbolSet(known)
    assert len(symbols.subscribe(known[:999]).ack.active_symbols) == 999
    over = symbols.subscribe(known[999:1001])
    assert codes(over.errors) == [("SYMBOL_LIMIT_EXCEEDED", known[999:1001])]
    assert list(over.ack.symbols_added) == []
    assert len(over.ack.active_symbols) == 999
    assert over.added == ()
    # Names already active do not count again; one more fits exactly.
    fits = symbols.subscribe([known[0], known[999]])
    assert codes(fits.errors) == [("ALREADY_SUBSCRIBED", [known[0]])]
    assert len(fits.ack.active_symbols) == 1000
    assert codes(symbols.subscribe([known[1000]]).errors)[0][0] == "SYMBOL_LIMIT_EXCEEDED"
    symbols.unsubscribe([known[5]])
    assert list(symbols.subscribe([known[1000]]).ack.symbols_added) == [known[1000]]
    assert len(symbols.active) == 1000


def test_the_limit_is_checked_before_the_names_are_looked_up() -> None:
    made_up = [f"x-{i}" for i in range(1001)]
    outcome = SymbolSet(KNOWN).subscribe(made_up)
    assert [e.error_code for e in outcome.errors] == ["SYMBOL_LIMIT_EXCEEDED"]
    assert len(outcome.errors[0].symbols) == 1001


def test_the_server_stream_takes_every_symbol_for_an_empty_list() -> None:
    assert server_stream_symbols([], KNOWN) == KNOWN
    assert server_stream_symbols(["c-yes", "a-yes", "c-yes"], KNOWN) == ("c-yes", "a-yes")


@pytest.mark.parametrize(("requested", "message"), [
    (["a-yes", "zzz"], "unknown symbols: zzz"),
    ([f"x-{i}" for i in range(1001)], "1001 symbols requested; a stream takes at most 1000"),
])
def test_the_server_stream_refuses_unknown_or_too_many_symbols(
    requested: list[str], message: str
) -> None:
    with pytest.raises(RequestError, match=message):
        server_stream_symbols(requested, KNOWN)


def test_options_default_depth_ten_and_refuse_a_negative_one() -> None:
    assert options(0, False, False) == Options(depth=10)
    assert options(3, True, True) == Options(depth=3, unaggregated=True, snapshot_only=True)
    with pytest.raises(RequestError, match="depth must be >= 0"):
        options(-1, False, False)


def logged_update() -> md.MarketDataUpdate:
    """A logged update: one entry per resting order, best first on each side."""
    return md.MarketDataUpdate(
        symbol="a-yes",
        bids=[md.BookEntry(px=px, qty=qty) for px, qty in
              [(45, 10), (45, 5), (44, 7), (43, 1), (43, 2), (42, 9)]],
        offers=[md.BookEntry(px=px, qty=qty) for px, qty in [(47, 3), (48, 4), (48, 6)]],
        state=1,
        stats=md.InstrumentStats(last_trade_px=46),
    )


def book(entries: Iterable[md.BookEntry]) -> list[tuple[int, int]]:
    return [(e.px, e.qty) for e in entries]


def test_the_aggregated_book_sums_each_price_level_to_the_depth() -> None:
    update = logged_update()
    rendered = render(update, Options(depth=3))
    assert book(rendered.bids) == [(45, 15), (44, 7), (43, 3)]
    assert book(rendered.offers) == [(47, 3), (48, 10)]
    assert rendered.stats.last_trade_px == 46 and rendered.HasField("state")
    assert book(update.bids)[:2] == [(45, 10), (45, 5)], "the logged update must not change"


def test_the_unaggregated_book_keeps_each_order_of_the_first_levels() -> None:
    rendered = render(logged_update(), Options(depth=2, unaggregated=True))
    assert book(rendered.bids) == [(45, 10), (45, 5), (44, 7)]
    assert book(rendered.offers) == [(47, 3), (48, 4), (48, 6)]
