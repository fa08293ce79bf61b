"""The precompiled ExecutionReport encoder gives the reference path's bytes, field for field.

The reference is ``encode_fields(execution_report_body(event, style))`` (normalize/execution.py,
profiles.py ``conform``, codec.py); simplefix, which knows nothing of fixbridge, reads the
compiled bytes back and writes the same fields again. Every profile, precision and identifier
style is checked on random events, on the simulator's executions and with made-up profile
tables (so the compiler's handling of left-out tags and replaced values is exercised even for
tags today's tables do not name).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import simplefix
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixbridge.fix import compiled_bodies
from fixbridge.fix.codec import FieldError, encode_fields, frame
from fixbridge.fix.compiled_bodies import execution_report_encoder
from fixbridge.normalize import enums, profiles
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.execution import (
    ExecutionEvent,
    execution_report_body,
    normalize_execution,
)
from fixbridge.normalize.style import Identifiers, Profile, RenderStyle
from fixbridge.normalize.timestamps import Precision
from fixbridge.proto.polymarket.v1 import trading_pb2
from fixbridge.simulator.market import MarketModel
from fixbridge.upstream.streams import NO_MEMORY, executions_to_events

STYLES = [
    RenderStyle(precision=precision, identifiers=identifiers, profile=profile)
    for precision, identifiers, profile in itertools.product(Precision, Identifiers, Profile)
]
HEADER = [(49, "FIXBRIDGE"), (56, "CLIENT"), (34, "7"), (52, "20261120-15:00:00.000")]
GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def reference(event: ExecutionEvent, style: RenderStyle) -> bytes:
    return encode_fields(execution_report_body(event, style))


def assert_same_bytes(event: ExecutionEvent, style: RenderStyle) -> bytes:
    compiled = execution_report_encoder(style)(event)
    assert compiled == reference(event, style), style
    return compiled


def simplefix_fields(body: bytes) -> list[tuple[int, str]]:
    """The body's fields as simplefix reads them from a whole framed message."""
    parser = simplefix.FixParser()
    parser.set_allow_empty_values(True)  # random events have empty ids, as the reference sends
    parser.append_buffer(frame("8", encode_fields(HEADER), body))
    message = parser.get_message()
    assert message is not None
    pairs = [(int(tag), value.decode("utf-8")) for tag, value in message.pairs]
    assert pairs[:2] == [(8, "FIXT.1.1"), (9, pairs[1][1])] and pairs[2] == (35, "8")
    assert pairs[3:7] == HEADER and pairs[-1][0] == 10
    return pairs[7:-1]


def assert_simplefix_agrees(event: ExecutionEvent, style: RenderStyle, body: bytes) -> None:
    """simplefix reads the reference's fields, in its order, from the compiled body, and its
    own encoder writes the same frame from them."""
    fields = execution_report_body(event, style)
    assert simplefix_fields(body) == fields
    oracle = simplefix.FixMessage()
    oracle.append_pair(8, "FIXT.1.1")
    oracle.append_pair(35, "8")
    for tag, value in HEADER + fields:
        oracle.append_pair(tag, value)
    assert frame("8", encode_fields(HEADER), body) == oracle.encode()


# --- random events ---------------------------------------------------------------------------

NAMES = st.sampled_from(
    ["", "A", "firms/F/accounts/A", "firms/F/users/U", "firms/F/accounts/", "firms//x/y", "ü"]
)
TEXTS = st.one_of(
    NAMES,
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x01"), max_size=8),
)
OPTIONAL_TEXTS = st.one_of(st.none(), TEXTS)
CODES = st.one_of(st.sampled_from(["F", "4", "8", "0", "H", "1", "2", "3", "K", "6", ""]), TEXTS)
DECIMALS = st.one_of(
    st.sampled_from(
        [Decimal(v) for v in ("0", "-0", "0E+3", "0.000", "52.500", "1E+2", "-0.01", "1e-9")]
    ),
    st.builds(
        lambda digits, exponent: Decimal(digits).scaleb(exponent),
        st.integers(-(10**20), 10**20),
        st.integers(-12, 6),
    ),
)
OPTIONAL_DECIMALS = st.one_of(st.none(), DECIMALS)
NANOS = st.one_of(
    st.sampled_from([1, 999_999_999, 1_000_000_000, 1_715_972_807_977_567_695]),
    st.integers(1, 253_402_300_799_999_999_999),
)
CANCEL_REASONS = st.one_of(
    st.none(), st.sampled_from([*enums.LATEST_EXEC_RESTATEMENT_REASON, "UNKNOWN"])
)

EVENTS = st.builds(
    ExecutionEvent,
    exec_id=TEXTS,
    order_id=TEXTS,
    cl_ord_id=TEXTS,
    symbol=TEXTS,
    account=NAMES,
    firm=st.one_of(NAMES, TEXTS),
    participant=NAMES,
    exec_type=CODES,
    ord_status=CODES,
    side=CODES,
    ord_type=st.one_of(st.none(), CODES),
    time_in_force=CODES,
    expire_time_ns=st.one_of(st.none(), NANOS),
    order_qty=DECIMALS,
    price=DECIMALS,
    stop_px=DECIMALS,
    min_qty=OPTIONAL_DECIMALS,
    last_qty=DECIMALS,
    last_px=DECIMALS,
    cum_qty=DECIMALS,
    leaves_qty=DECIMALS,
    avg_px=DECIMALS,
    gross_trade_amt=OPTIONAL_DECIMALS,
    trade_id=OPTIONAL_TEXTS,
    aggressor=st.one_of(st.none(), st.booleans()),
    commission=OPTIONAL_DECIMALS,
    settl_curr_amt=OPTIONAL_DECIMALS,
    text=OPTIONAL_TEXTS,
    ord_rej_reason=st.one_of(st.none(), CODES),
    exec_restatement_reason=st.one_of(st.none(), CODES),
    manual_order_indicator=st.one_of(st.none(), st.booleans()),
    transact_time_ns=NANOS,
    trade_date=st.one_of(st.none(), st.sampled_from(["", "20261120"])),
    orig_cl_ord_id=OPTIONAL_TEXTS,
    end_client=NAMES,
    cancel_reason=CANCEL_REASONS,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(EVENTS)
def test_compiled_bytes_are_the_reference_bytes_for_every_style(event: ExecutionEvent) -> None:
    for style in STYLES:
        body = assert_same_bytes(event, style)
        assert_simplefix_agrees(event, style, body)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(EVENTS)
def test_the_journal_round_trip_renders_the_same(event: ExecutionEvent) -> None:
    """What the bridge renders: the event decoded from its journal payload."""
    decoded = ExecutionEvent.from_payload(event.to_payload())
    for style in STYLES:
        assert execution_report_encoder(style)(decoded) == reference(event, style)


@given(EVENTS, st.sampled_from(["order_id", "text", "account", "exec_type", "symbol"]))
def test_a_value_holding_soh_is_refused_as_the_reference_refuses_it(
    event: ExecutionEvent, name: str
) -> None:
    broken = replace(event, **{name: "a\x01b"})
    for style in STYLES:
        try:
            expected: bytes | str = reference(broken, style)
        except FieldError as error:
            expected = str(error)
        try:
            got: bytes | str = execution_report_encoder(style)(broken)
        except FieldError as error:
            got = str(error)
        assert got == expected


# --- the simulator's executions and the golden corpus ----------------------------------------


def simulated_events(count: int) -> list[ExecutionEvent]:
    """Normalized and ClOrdID-linked as ingestion journals them."""
    model, now, events = MarketModel(7), 1_795_000_000_000_000_000, []
    while len(events) < count:
        now += 1_000_000
        for new in executions_to_events(model.step(now).executions, NO_MEMORY):
            if isinstance(new.decoded, ExecutionEvent):
                events.append(ExecutionEvent.from_payload(new.payload))
    return events[:count]


def golden_events() -> list[ExecutionEvent]:
    """Every execution of the golden corpus that normalizes."""
    events = []
    for path in sorted(GOLDEN.glob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        order_defaults = case.get("defaults", {}).get("order", {})
        for step in case["steps"]:
            if step["stream"] != "executions":
                continue
            for raw in step["response"].get("executions", []):
                order = {**order_defaults, **raw.get("order", {})}
                message: dict[str, Any] = {**raw, "order": order}
                execution = json_format.ParseDict(message, trading_pb2.Execution())
                try:
                    events.append(normalize_execution(execution))
                except NormalizationError:
                    continue
    return events


def test_simulated_executions_render_the_same_in_every_style() -> None:
    events = simulated_events(400)
    assert {event.exec_type for event in events} >= {"0", "F", "4"}
    for style in STYLES:
        encode = execution_report_encoder(style)
        for event in events:
            assert encode(event) == reference(event, style)


def test_golden_executions_render_the_same_in_every_style() -> None:
    events = golden_events()
    assert len(events) > 10
    for style in STYLES:
        for event in events:
            body = assert_same_bytes(event, style)
            assert_simplefix_agrees(event, style, body)


# --- profile tables the compiler has not met yet ---------------------------------------------


MADE_UP_LEFT_OUT = {Profile.FIX50SP2: {"8": frozenset({828, 447, 17, 1057, 13, 126})}}
MADE_UP_REPLACED = {
    Profile.FIX50SP2: {
        ("8", 150): {"F": "2", "4": None},
        ("8", 452): {"24": "38", "3": None},
        ("8", 448): {"A": None, "U": "V"},
        ("8", 453): {"3": "three", "1": None},
        ("8", 11): {"x": None},
        ("8", 22): {"8": "4"},
        ("8", 460): {"12": None},
        ("8", 39): {"8": ""},
    },
    Profile.LATEST: {("8", 378): {"17": "99", "8": None}, ("8", 797): {"Y": "N"}},
}


@pytest.fixture
def made_up_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (profiles, compiled_bodies):
        monkeypatch.setattr(module, "LEFT_OUT", MADE_UP_LEFT_OUT)
        monkeypatch.setattr(module, "REPLACED", MADE_UP_REPLACED)


@settings(
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(EVENTS)
def test_left_out_tags_and_replaced_values_of_any_table(
    made_up_tables: None, event: ExecutionEvent
) -> None:
    compile_afresh = execution_report_encoder.__wrapped__  # the cached ones use the real tables
    for style in STYLES:
        expected = reference(event, style)
        assert compile_afresh(style)(event) == expected


def test_every_style_compiles_once() -> None:
    for style in STYLES:
        assert execution_report_encoder(style) is execution_report_encoder(replace(style))
