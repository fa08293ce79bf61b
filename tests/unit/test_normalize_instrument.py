"""Instrument -> InstrumentEvent -> SecurityStatus body: tables, time rule, payload, dictionary.

Expected values come from FIX 5.0 SP2 (SecurityTradingStatus, SecurityStatus and
TradingSessionSubID code sets) read against the exchange's own description of each state
(reference-data page: PREOPEN "orders can be entered and modified, but no matching occurs ...
they will match at a single opening price"; MATCH_AND_CLOSE_AUCTION "similar to PREOPEN, with
the exception that matching will occur upon the transition of this state to any other state";
SUSPENDED "orders can be canceled but no matching occurs"; HALTED "similar to SUSPENDED, with
the exception that orders cannot be canceled").

The dictionary checks reuse the execution tests' checker (declaration order, listed values,
group order) with a loader for any message type, and QuickFIX's own validator the same way
tests/unit/test_normalize_execution.py runs it; both skip when the stock FIX50SP2.xml (or the
quickfix package) is unavailable. The position tests import the two helpers from here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import fields
from functools import cache, partial
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixbridge.normalize import enums
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.instrument import (
    InstrumentEvent,
    instrument_scales,
    normalize_instrument,
    security_status_body,
)
from fixbridge.normalize.style import RenderStyle
from fixbridge.normalize.timestamps import Precision
from fixbridge.proto.polymarket.v1 import enums_pb2 as pb
from fixbridge.proto.polymarket.v1 import refdata_pb2
from fixbridge.simulator.market import MarketModel
from tests.fix_dictionary import (
    DICTIONARY,
    HAVE_DICTIONARY,
    check_against_dictionary,
    message_spec,
    needs_dictionary,
    required_tags,
)
from tests.quickfix_validation import validate_everywhere
from tests.unit.payloads import mutated
from tests.unit.test_normalize_execution import (
    HEADER_AND_TRAILER,
    INT32,
    INT64,
    SCALES,
    TEXTS,
    set_fields,
)

# When the response carrying the instrument was received: 2026-11-21T09:47:00.123456789Z.
UPDATE_NS = 1_795_254_420_123_456_789
SECURITY_STATUS = "f"


def make_instrument(**overrides: Any) -> refdata_pb2.Instrument:
    values: dict[str, Any] = {
        "symbol": "nfl-kc-buf-2026-11-22-kc",
        "description": "Kansas City at Buffalo, 22 Nov 2026: Kansas City wins",
        "state": pb.INSTRUMENT_STATE_HALTED,
        "price_scale": 1000,
        "fractional_qty_scale": 100,
        "base_currency": "USD",
        "product_id": "nfl-kc-buf-2026-11-22",
    }
    values.update(overrides)
    return refdata_pb2.Instrument(**values)


def normalize(instrument: refdata_pb2.Instrument, at: int = UPDATE_NS) -> InstrumentEvent:
    return normalize_instrument(instrument, received_at_ns=at)


def body_of(
    instrument: refdata_pb2.Instrument, precision: Precision = Precision.NANOS
) -> dict[int, str]:
    return dict(security_status_body(normalize(instrument), RenderStyle(precision)))


def enum_values(enum_name: str) -> list[tuple[str, int]]:
    descriptor = pb.DESCRIPTOR.enum_types_by_name[enum_name]
    return [(value.name, value.number) for value in descriptor.values]


# --- every InstrumentState, table-driven ------------------------------------------------------

# name -> (state name in 58, 326 SecurityTradingStatus, 965 SecurityStatus, 625 or None)
EXPECTED_STATES: dict[str, tuple[str, str, str, str | None]] = {
    # No entry, no matching, DAY orders expired; reopens on schedule: 18 Not available for
    # trading; 2 Inactive.
    "INSTRUMENT_STATE_CLOSED": ("CLOSED", "18", "2", None),
    "INSTRUMENT_STATE_OPEN": ("OPEN", "17", "1", None),  # Ready to trade; Active
    # Orders collected for one opening price: 21 Pre-open; Active; 625=2 opening auction.
    "INSTRUMENT_STATE_PREOPEN": ("PREOPEN", "21", "1", "2"),
    # An exception state, no matching: 2 Trading halt (never 18, the end-of-session status);
    # 9 Suspended.
    "INSTRUMENT_STATE_SUSPENDED": ("SUSPENDED", "2", "9", None),
    # Expiration reached, resting orders expired, no new orders: 4 No open/no resume; Expired.
    "INSTRUMENT_STATE_EXPIRED": ("EXPIRED", "4", "4", None),
    "INSTRUMENT_STATE_TERMINATED": ("TERMINATED", "4", "5", None),  # No open/resume; Delisted
    "INSTRUMENT_STATE_HALTED": ("HALTED", "2", "9", None),  # Trading halt; Suspended
    # The call phase of a closing auction: 21 Pre-open with 625=4 closing auction (never 24
    # Pre-cross, which is a cross's own phase); Active.
    "INSTRUMENT_STATE_MATCH_AND_CLOSE_AUCTION": ("MATCH_AND_CLOSE_AUCTION", "21", "1", "4"),
    # Created, never traded yet: 18 Not available for trading; 10 Published.
    "INSTRUMENT_STATE_PENDING": ("PENDING", "18", "10", None),
}


def test_all_nine_states_are_covered_and_pending_is_8() -> None:
    assert {name for name, _ in enum_values("InstrumentState")} == EXPECTED_STATES.keys()
    assert pb.INSTRUMENT_STATE_PENDING == 8
    assert len(EXPECTED_STATES) == 9


def test_states_are_told_apart_by_the_three_fields_together() -> None:
    told = {(row[1], row[2], row[3]) for row in EXPECTED_STATES.values()}
    # SUSPENDED and HALTED differ only in whether orders may be canceled: Text(58) says which.
    assert len(told) == 8


@pytest.mark.parametrize(("name", "number"), enum_values("InstrumentState"))
def test_every_instrument_state(name: str, number: int) -> None:
    state, trading_status, security_status, sub_id = EXPECTED_STATES[name]
    event = normalize(make_instrument(state=number))
    assert (event.state, event.state_number) == (state, number)
    assert (event.security_trading_status, event.security_status) == (
        trading_status,
        security_status,
    )
    assert event.trading_session_sub_id == sub_id
    body = dict(security_status_body(event, RenderStyle(Precision.NANOS)))
    assert (body[326], body[965], body[58]) == (trading_status, security_status, state)
    assert body.get(625) == sub_id
    assert 336 not in body  # the stock dictionary only allows 1..7 there; see the QuickFIX test


@pytest.mark.parametrize("number", [9, 10, -1, 2**31 - 1, -(2**31)])
def test_unknown_instrument_state_is_an_error_naming_it(number: int) -> None:
    with pytest.raises(NormalizationError) as caught:
        normalize(make_instrument(state=number))
    assert caught.value.field == "state"
    assert caught.value.value == number
    assert "InstrumentState" in caught.value.reason


@pytest.mark.parametrize(
    "lookup",
    [
        enums.instrument_state_name,
        enums.fix_security_trading_status,
        enums.fix_security_status,
        enums.fix_trading_session_sub_id,
    ],
)
def test_enum_lookups_refuse_unknown_numbers(lookup: Callable[[int], object]) -> None:
    with pytest.raises(NormalizationError):
        lookup(9)


def test_instrument_tables_are_tables() -> None:
    for table in (
        enums.INSTRUMENT_STATE_NAME,
        enums.SECURITY_TRADING_STATUS,
        enums.SECURITY_STATUS,
    ):
        assert isinstance(table, Mapping)
        assert set(table) == {number for _, number in enum_values("InstrumentState")}
    assert set(enums.TRADING_SESSION_SUB_ID) <= set(enums.INSTRUMENT_STATE_NAME)


# --- the event and its body ------------------------------------------------------------------


def test_event_fields() -> None:
    event = normalize(make_instrument())
    assert event == InstrumentEvent(
        symbol="nfl-kc-buf-2026-11-22-kc",
        state="HALTED",
        state_number=6,
        security_trading_status="2",
        security_status="9",
        trading_session_sub_id=None,
        description="Kansas City at Buffalo, 22 Nov 2026: Kansas City wins",
        price_scale=1000,
        quantity_scale=100,
        transact_time_ns=UPDATE_NS,
    )
    assert event.firms == frozenset()
    assert event.accounts == frozenset()


def test_content_is_what_the_instrument_says_without_its_time() -> None:
    halted = normalize(make_instrument(), at=UPDATE_NS)
    assert normalize(make_instrument(), at=UPDATE_NS + 5).content == halted.content
    for changed in (
        make_instrument(state=pb.INSTRUMENT_STATE_OPEN),
        make_instrument(price_scale=100),
        make_instrument(fractional_qty_scale=1),
        make_instrument(description="renamed"),
    ):
        assert normalize(changed).content != halted.content


def test_body_fields_and_order() -> None:
    auction = pb.INSTRUMENT_STATE_MATCH_AND_CLOSE_AUCTION
    body = security_status_body(
        normalize(make_instrument(state=auction)), RenderStyle(Precision.MICROS)
    )
    assert body == [
        (55, "nfl-kc-buf-2026-11-22-kc"),
        (48, "nfl-kc-buf-2026-11-22-kc"),
        (22, "8"),
        (460, "12"),
        (965, "1"),
        (107, "Kansas City at Buffalo, 22 Nov 2026: Kansas City wins"),
        (75, "20261121"),  # 04:47 in New York: before the 17:00 roll
        (625, "4"),
        (326, "21"),
        (60, "20261121-09:47:00.123456"),
        (58, "MATCH_AND_CLOSE_AUCTION"),
    ]


def test_empty_description_is_not_sent() -> None:
    body = body_of(make_instrument(description=""))
    assert 107 not in body
    assert body[58] == "HALTED"


@pytest.mark.parametrize(
    ("precision", "expected"),
    [
        (Precision.SECONDS, "20261121-09:47:00"),
        (Precision.MILLIS, "20261121-09:47:00.123"),
        (Precision.MICROS, "20261121-09:47:00.123456"),
        (Precision.NANOS, "20261121-09:47:00.123456789"),
    ],
)
def test_transact_time_is_truncated_to_the_session_precision(
    precision: Precision, expected: str
) -> None:
    assert body_of(make_instrument(), precision)[60] == expected


@pytest.mark.parametrize(("raw", "expected"), [(0, 1), (1, 1), (100, 100), (10**6, 10**6)])
def test_missing_quantity_scale_is_one(raw: int, expected: int) -> None:
    event = normalize(make_instrument(fractional_qty_scale=raw))
    assert (event.price_scale, event.quantity_scale) == (1000, expected)


# --- the time of a change --------------------------------------------------------------------


def test_the_time_is_when_it_was_received_and_nothing_undocumented_is_read() -> None:
    # The exchange documents no time on Instrument (spec §4.6, gap 7): the receipt time is the
    # change's time, and a metadata key the exchange never documented changes nothing.
    documented = normalize(make_instrument(), at=UPDATE_NS)
    with_metadata = make_instrument(metadata={"update_time": "2020-01-01T00:00:00Z"})
    assert normalize(with_metadata, at=UPDATE_NS).transact_time_ns == UPDATE_NS
    assert documented.transact_time_ns == UPDATE_NS


@pytest.mark.parametrize(
    ("at", "trade_date"),
    [
        (1_795_298_399_000_000_000, "20261121"),  # 2026-11-21 21:59:59 UTC = 16:59:59 EST
        (1_795_298_400_000_000_000, "20261122"),  # 22:00:00 UTC = 17:00:00 EST: rolled
    ],
)
def test_trade_date_follows_the_new_york_roll(at: int, trade_date: str) -> None:
    assert dict(security_status_body(normalize(make_instrument(), at=at)))[75] == trade_date


@pytest.mark.parametrize("at", [0, -1, 253_402_300_800 * 10**9])
def test_a_receipt_time_fix_cannot_carry_is_refused(at: int) -> None:
    with pytest.raises(NormalizationError) as caught:
        normalize(make_instrument(), at=at)
    assert caught.value.field == "received_at"


def test_instrument_scales_are_read_alone() -> None:
    # So an instrument refused for another reason (here an unknown state) still teaches the
    # scales its symbol's positions need.
    unknown_state = make_instrument(state=42, price_scale=100, fractional_qty_scale=0)
    assert instrument_scales(unknown_state) == (100, 1)
    with pytest.raises(NormalizationError):
        instrument_scales(make_instrument(price_scale=0))


# --- other bad input -------------------------------------------------------------------------

BAD_INPUTS: list[tuple[str, dict[str, Any], str]] = [
    ("missing symbol", {"symbol": ""}, "symbol"),
    ("SOH in symbol", {"symbol": "a\x01b"}, "symbol"),
    ("SOH in description", {"description": "x\x0158=y"}, "description"),
    ("price scale absent", {"price_scale": 0}, "price_scale"),
    ("price scale negative", {"price_scale": -100}, "price_scale"),
    ("quantity scale negative", {"fractional_qty_scale": -1}, "fractional_qty_scale"),
    ("unknown state", {"state": 42}, "state"),
]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [(o, f) for _, o, f in BAD_INPUTS],
    ids=[name for name, _, _ in BAD_INPUTS],
)
def test_bad_input_is_a_normalization_error(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(NormalizationError) as caught:
        normalize(make_instrument(**overrides))
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


# --- payload ---------------------------------------------------------------------------------


def _assert_identical(left: InstrumentEvent, right: InstrumentEvent) -> None:
    assert left == right
    for spec in fields(InstrumentEvent):
        a, b = getattr(left, spec.name), getattr(right, spec.name)
        assert (type(a), str(a)) == (type(b), str(b)), spec.name


@pytest.mark.parametrize(("name", "number"), enum_values("InstrumentState"))
def test_payload_round_trip(name: str, number: int) -> None:
    event = normalize(make_instrument(state=number, description="Montréal «x»"))
    payload = event.to_payload()
    back = InstrumentEvent.from_payload(payload)
    _assert_identical(event, back)
    assert back.to_payload() == payload
    assert security_status_body(back) == security_status_body(event)


def test_payload_document() -> None:
    document = json.loads(normalize(make_instrument()).to_payload())
    assert document == {
        "symbol": "nfl-kc-buf-2026-11-22-kc",
        "state": "HALTED",
        "state_number": 6,
        "security_trading_status": "2",
        "security_status": "9",
        "trading_session_sub_id": None,
        "description": "Kansas City at Buffalo, 22 Nov 2026: Kansas City wins",
        "price_scale": 1000,
        "quantity_scale": 100,
        "transact_time_ns": UPDATE_NS,
    }


def _corrupt(mutate: Callable[[dict[str, Any]], object]) -> bytes:
    return mutated(normalize(make_instrument()).to_payload(), mutate)


CORRUPT_PAYLOADS: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("not json", b"{symbol"),
    ("not utf-8", b"\xff\xfe"),
    ("list", b"[]"),
    ("deeply nested", b"[" * 100_000 + b"]" * 100_000),
    ("missing key", _corrupt(lambda d: d.pop("state"))),
    ("extra key", _corrupt(lambda d: d.update(extra=1))),
    ("null required", _corrupt(lambda d: d.update(symbol=None))),
    ("int as string", _corrupt(lambda d: d.update(transact_time_ns="1"))),
    ("bool as int", _corrupt(lambda d: d.update(price_scale=True))),
    ("float as int", _corrupt(lambda d: d.update(state_number=6.0))),
    ("number as optional string", _corrupt(lambda d: d.update(trading_session_sub_id=4))),
]


@pytest.mark.parametrize(
    "payload", [p for _, p in CORRUPT_PAYLOADS], ids=[n for n, _ in CORRUPT_PAYLOADS]
)
def test_corrupt_payload_is_a_normalization_error(payload: bytes) -> None:
    with pytest.raises(NormalizationError) as caught:
        InstrumentEvent.from_payload(payload)
    assert caught.value.field.startswith("payload")


def quickfix_validator(msg_type: str) -> Callable[[list[tuple[int, str]]], None]:
    """QuickFIX's validator for ``msg_type`` bodies, with the stock dictionaries and ours."""
    return partial(validate_everywhere, msg_type)


# --- the stock dictionary: representative bodies, then 2,000+ simulator events ---------------


def _representative_instruments() -> list[refdata_pb2.Instrument]:
    cases = [make_instrument(state=number) for _, number in enum_values("InstrumentState")]
    cases += [
        make_instrument(state=number, description="")
        for _, number in enum_values("InstrumentState")
    ]
    return cases


@needs_dictionary
@pytest.mark.parametrize("precision", list(Precision))
def test_rendered_bodies_satisfy_the_stock_dictionary(precision: Precision) -> None:
    spec = message_spec(SECURITY_STATUS)
    assert not required_tags(DICTIONARY, SECURITY_STATUS)  # nothing required at top level
    for instrument in _representative_instruments():
        body = security_status_body(normalize(instrument), RenderStyle(precision))
        check_against_dictionary(body, spec)
        assert not HEADER_AND_TRAILER & {tag for tag, _ in body}


@needs_dictionary
def test_every_state_value_is_listed_in_the_stock_dictionary() -> None:
    spec = message_spec(SECURITY_STATUS)
    assert set(enums.SECURITY_TRADING_STATUS.values()) <= spec.values[326]
    assert set(enums.SECURITY_STATUS.values()) <= spec.values[965]
    assert set(enums.TRADING_SESSION_SUB_ID.values()) <= spec.values[625]
    # Why the state name is in Text(58) and not TradingSessionID(336) as on the MD feed:
    assert spec.values[336] == {"1", "2", "3", "4", "5", "6", "7"}
    assert not set(enums.INSTRUMENT_STATE_NAME.values()) & spec.values[336]


@needs_dictionary
def test_quickfix_accepts_every_representative_body() -> None:
    validate = quickfix_validator(SECURITY_STATUS)
    for instrument in _representative_instruments():
        for precision in Precision:
            validate(security_status_body(normalize(instrument), RenderStyle(precision)))


@needs_dictionary
def test_quickfix_rejects_the_state_name_in_336_and_undefined_tags() -> None:
    validate = quickfix_validator(SECURITY_STATUS)
    body = security_status_body(normalize(make_instrument()))
    validate(body)
    with pytest.raises(Exception, match="336"):
        validate([*body[:5], (336, "HALTED"), *body[5:]])
    with pytest.raises(Exception, match="326"):
        validate([(t, "11") if t == 326 else (t, v) for t, v in body])  # 11 is not assigned
    with pytest.raises(Exception, match="7928"):
        validate([*body, (7928, "x")])


SIMULATOR_START_NS = 1_795_000_000_000_000_000  # 2026-11-18
SIMULATOR_STEP_NS = 20_000_000
SIMULATOR_RUN_GAP_NS = 86_400 * 10**9


@cache
def simulator_instruments() -> tuple[refdata_pb2.Instrument, ...]:
    """2,000+ realistic instrument state changes: several seeds, time-driven steps only.

    ``max_executions=0`` keeps order flow out of the way; halts, suspensions, closing auctions,
    session closes and the one expiry still happen on their own schedule.
    """
    out: list[refdata_pb2.Instrument] = []
    for run, seed in enumerate((7, 11, 23)):
        model = MarketModel(seed)
        now = SIMULATOR_START_NS + run * SIMULATOR_RUN_GAP_NS  # one run after the other
        for _ in range(20_000):
            out.extend(model.step(now, 0).instruments)
            now += SIMULATOR_STEP_NS
    return tuple(out)


def test_simulator_run_is_big_and_varied() -> None:
    instruments = simulator_instruments()
    assert len(instruments) >= 2_000
    states = {instrument.state for instrument in instruments}
    assert states >= {0, 1, 2, 3, 4, 5, 6, 7}  # all but PENDING, which the simulator never uses


def test_every_simulator_event_normalizes_and_round_trips() -> None:
    for index, instrument in enumerate(simulator_instruments()):
        event = normalize(instrument, at=SIMULATOR_START_NS + index)
        assert InstrumentEvent.from_payload(event.to_payload()) == event
        assert event.price_scale == instrument.price_scale > 0
        assert event.quantity_scale == instrument.fractional_qty_scale > 0


@needs_dictionary
def test_quickfix_accepts_every_simulator_event() -> None:
    validate = quickfix_validator(SECURITY_STATUS)
    spec = message_spec(SECURITY_STATUS)
    precisions = list(Precision)
    for index, instrument in enumerate(simulator_instruments()):
        event = normalize(instrument, at=SIMULATOR_START_NS + index)
        body = security_status_body(event, RenderStyle(precisions[index % len(precisions)]))
        check_against_dictionary(body, spec)
        validate(body)


# --- property: total over arbitrary protobufs ------------------------------------------------

ENUMS = st.one_of(st.integers(-2, 10), INT32)
METADATA: st.SearchStrategy[dict[str, str]] = st.dictionaries(
    st.sampled_from(["update_time", "x", "createTime"]), st.text(max_size=40)
)
INSTRUMENTS = st.builds(
    lambda values: refdata_pb2.Instrument(**values),
    st.fixed_dictionaries(
        {
            "symbol": TEXTS,
            "state": ENUMS,
            "description": TEXTS,
            "price_scale": SCALES,
            "fractional_qty_scale": SCALES,
            "minimum_trade_qty": INT64,
            "non_tradable": st.booleans(),
            "metadata": METADATA,
        }
    ),
)
# Up to 9999-12-31 16:59:59 in New York: later instants have no trade date before 10000.
NANOS = st.integers(1, 253_402_293_599_999_999_999)


def _plausible(instrument: refdata_pb2.Instrument) -> refdata_pb2.Instrument:
    """Nudge a random instrument towards valid, so the success path gets exercised too."""
    plausible = refdata_pb2.Instrument()
    plausible.CopyFrom(instrument)
    plausible.symbol = plausible.symbol.replace("\x01", "") or "S1"
    plausible.description = plausible.description.replace("\x01", "")
    set_fields(plausible, state=abs(plausible.state) % 9)
    plausible.price_scale = 10 ** (abs(plausible.price_scale) % 7)
    plausible.fractional_qty_scale = abs(plausible.fractional_qty_scale) % 10**6
    return plausible


def _check_total(instrument: refdata_pb2.Instrument, at: int) -> bool:
    """Either a NormalizationError, or an event that renders cleanly at every precision."""
    try:
        event = normalize(instrument, at=at)
    except NormalizationError as error:
        assert error.field
        assert str(error).startswith(error.field)
        return False
    for precision in Precision:
        body = security_status_body(event, RenderStyle(precision))
        for tag, value in body:
            assert isinstance(tag, int) and 0 < tag < 5000
            assert isinstance(value, str) and value and "\x01" not in value
        if HAVE_DICTIONARY:
            check_against_dictionary(body, message_spec(SECURITY_STATUS))
    _assert_identical(InstrumentEvent.from_payload(event.to_payload()), event)
    return True


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(INSTRUMENTS, NANOS)
def test_arbitrary_instruments_normalize_or_raise_normalization_error(
    instrument: refdata_pb2.Instrument, at: int
) -> None:
    _check_total(instrument, at)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(INSTRUMENTS, NANOS)
def test_nearly_valid_instruments_normalize(instrument: refdata_pb2.Instrument, ns: int) -> None:
    assert _check_total(_plausible(instrument), ns)


@needs_dictionary
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(INSTRUMENTS, NANOS, st.sampled_from(list(Precision)))
def test_quickfix_accepts_arbitrary_valid_bodies(
    instrument: refdata_pb2.Instrument, ns: int, precision: Precision
) -> None:
    validate = quickfix_validator(SECURITY_STATUS)
    event = normalize(_plausible(instrument), at=ns)
    validate(security_status_body(event, RenderStyle(precision)))
