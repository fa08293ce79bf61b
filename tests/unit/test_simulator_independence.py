"""The simulator is the bridge's independent check: it imports no bridge code and writes its own
decimal texts, so a value it publishes never shares the bridge's rounding or formatting."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest

from fixbridge.proto.polymarket.v1 import enums_pb2, refdata_pb2
from fixbridge.simulator.amounts import amount_text, decimal_places
from fixbridge.simulator.exchange import Exchange, InstrumentChange, OrderRequest, StepOutput
from fixbridge.simulator.refdata import ACCOUNTS, SYMBOLS, SYMBOLS_BY_NAME, instrument_message
from fixbridge.simulator.store import EventStore
from fixbridge.simulator.streams import Stream
from fixbridge.simulator.subscription import open_subscription

SIMULATOR = Path(__file__).resolve().parents[2] / "fixbridge" / "simulator"
ALLOWED = ("fixbridge.proto", "fixbridge.simulator")
E = enums_pb2
NOW = 1_795_000_000_000_000_000


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_the_simulator_imports_only_the_contract_and_itself() -> None:
    files = sorted(SIMULATOR.glob("*.py"))
    assert len(files) > 10
    outside = [
        (path.name, name)
        for path in files
        for name in imported_modules(path)
        if name.split(".")[0] == "fixbridge"
        and not any(name == a or name.startswith(a + ".") for a in ALLOWED)
    ]
    assert outside == []


@pytest.mark.parametrize(
    ("value", "scale", "text"),
    [
        (95, 100, "0.95"),
        (525, 1000, "0.525"),
        (500, 1000, "0.5"),
        (300, 100, "3"),
        (7, 1, "7"),
        (0, 1000, "0"),
        (1, 100, "0.01"),
        (30264, 10_000, "3.0264"),
        (-45, 100, "-0.45"),
        (123_456_789, 100_000, "1234.56789"),
    ],
)
def test_amount_text_is_the_exact_plain_decimal(value: int, scale: int, text: str) -> None:
    assert amount_text(value, scale) == text


@pytest.mark.parametrize("scale", [0, -10, 3, 20, 250, 1001])
def test_a_scale_that_is_not_a_power_of_ten_is_refused_by_name(scale: int) -> None:
    with pytest.raises(ValueError, match=f"power of ten, got {scale}"):
        decimal_places(scale)


def reject_text(symbol: str, side: E.Side, qty: int, price: int) -> str:
    exchange = Exchange(random.Random(3))
    exchange.begin_step(NOW)
    exchange.set_state(symbol, E.INSTRUMENT_STATE_OPEN)
    account = ACCOUNTS[0]
    order = exchange.submit(OrderRequest(
        spec=SYMBOLS_BY_NAME[symbol], account=account,
        participant=account.participant(account.users[0]), side=side,
        type=E.ORDER_TYPE_LIMIT, time_in_force=E.TIME_IN_FORCE_DAY, qty=qty, price=price,
        clord_id="c-1",
    ))
    assert order is not None and order.state == E.ORDER_STATE_REJECTED
    return exchange.end_step().executions[-1].text


def test_reject_texts_show_exact_decimals_at_both_price_scales() -> None:
    # nba-lal: price scale 100, reference 0.41, band +/- 0.20: highest accepted 0.61.
    assert (reject_text("nba-lal-bos-2026-11-21-lal", E.SIDE_BUY, 5, 62)
            == "High price limit is 0.61, given 0.62")
    assert (reject_text("nba-lal-bos-2026-11-21-lal", E.SIDE_SELL, 5, 20)
            == "Low price limit is 0.21, given 0.2")
    # nfl-kc: price scale 1000, tick 0.005, reference 0.525: band 0.325 .. 0.725.
    assert (reject_text("nfl-kc-buf-2026-11-22-kc", E.SIDE_BUY, 100, 730)
            == "High price limit is 0.725, given 0.73")
    assert (reject_text("nfl-kc-buf-2026-11-22-kc", E.SIDE_BUY, 100, 502)
            == "Price 0.502 is not a multiple of the tick size 0.005")
    # Quantity scale 100: 5000.01 contracts is one unit over the 5000-contract limit.
    assert (reject_text("nfl-kc-buf-2026-11-22-kc", E.SIDE_BUY, 500_001, 525)
            == "High order size limit is 5000, given 5000.01")


def test_buying_power_text_is_the_exact_dollar_amount() -> None:
    # bravo-retail may commit $1000; 2000.5 contracts bought at 0.50 need $1000.25.
    exchange = Exchange(random.Random(3))
    exchange.begin_step(NOW)
    exchange.set_state("nfl-kc-buf-2026-11-22-kc", E.INSTRUMENT_STATE_OPEN)
    retail = next(a for a in ACCOUNTS if a.short_name == "bravo-retail")
    order = exchange.submit(OrderRequest(
        spec=SYMBOLS_BY_NAME["nfl-kc-buf-2026-11-22-kc"], account=retail,
        participant=retail.participant(retail.users[0]), side=E.SIDE_BUY,
        type=E.ORDER_TYPE_LIMIT, time_in_force=E.TIME_IN_FORCE_DAY, qty=200_050, price=500,
        clord_id="c-2",
    ))
    assert order is not None and order.state == E.ORDER_STATE_REJECTED
    assert exchange.end_step().executions[-1].text == "1000 USD available, requested 1000.25"


# ------------------------------------------------------------- instrument times in the log


def bare_instrument(symbol: str, state: E.InstrumentState) -> refdata_pb2.Instrument:
    """An Instrument with no metadata at all, as the exchange documents it."""
    instrument = instrument_message(SYMBOLS_BY_NAME[symbol], state, 0)
    instrument.ClearField("metadata")
    return instrument


def test_an_instrument_change_is_logged_and_selected_by_its_own_time() -> None:
    lal, btc = "nba-lal-bos-2026-11-21-lal", "btc-above-150k-2026-12-31"
    times = [NOW, NOW + 5_000, NOW + 9_000]
    changes = [
        InstrumentChange(at, bare_instrument(symbol, state))
        for at, (symbol, state) in zip(times, [(lal, E.INSTRUMENT_STATE_OPEN),
                                               (btc, E.INSTRUMENT_STATE_OPEN),
                                               (lal, E.INSTRUMENT_STATE_HALTED)], strict=True)
    ]
    store = EventStore()
    store.append(StepOutput((), (), tuple(changes), ()))
    logged = store.instruments.read(0, 10)
    assert [(e.time_ns, e.symbol) for e in logged] == [(NOW, lal), (NOW + 5_000, btc),
                                                       (NOW + 9_000, lal)]
    assert all(not e.event.metadata for e in logged)
    since = open_subscription(
        Stream.INSTRUMENTS, instance="i", head=len(store.instruments), resume_token=b"",
        resume_time_ns=NOW + 5_000, symbols=[], firms=[],
        known_symbols=[s.symbol for s in SYMBOLS], known_firms=[],
    )
    assert [e.event.state for i, e in enumerate(logged) if since.wants_at(i, e)] == [
        E.INSTRUMENT_STATE_OPEN, E.INSTRUMENT_STATE_HALTED]


def test_the_exchange_hands_each_state_change_its_instant() -> None:
    exchange = Exchange(random.Random(3))
    exchange.begin_step(NOW)
    exchange.set_state("pres-2028-dem", E.INSTRUMENT_STATE_OPEN)
    exchange.set_state("pres-2028-dem", E.INSTRUMENT_STATE_HALTED)
    changes = exchange.end_step().instrument_changes
    # Each event gets its own instant, 1 microsecond after the previous one.
    assert [(c.time_ns, c.instrument.state) for c in changes] == [
        (NOW, E.INSTRUMENT_STATE_OPEN), (NOW + 1_000, E.INSTRUMENT_STATE_HALTED)]
