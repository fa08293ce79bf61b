"""What each session receives: scope on every dimension, and its timestamp precision."""

from __future__ import annotations

import pytest

from fixbridge.config import ScopeConfig, SessionConfig
from fixbridge.fix.codec import split_fields
from fixbridge.fix.outbound import render
from fixbridge.journal.store import JournalEvent
from fixbridge.normalize.execution import ExecutionEvent, normalize_execution
from fixbridge.normalize.timestamps import Precision
from fixbridge.simulator.market import MarketModel

T0 = 1_795_000_000_123_456_789


def _executions() -> list[ExecutionEvent]:
    model, now, out = MarketModel(9), T0, []
    while len(out) < 400:
        now += 1_000_000
        out += [normalize_execution(e) for e in model.step(now).executions]
    return out


EVENTS = _executions()


def _journal_event(event: ExecutionEvent) -> JournalEvent:
    return JournalEvent(1, "executions", event.exec_id, 0, 0, event.to_payload(), None)


def _delivered(scope: ScopeConfig, precision: Precision = Precision.NANOS) -> list[ExecutionEvent]:
    config = SessionConfig(
        name="s", sender_comp_id="A", target_comp_id="B", scope=scope, timestamp_precision=precision
    )
    return [e for e in EVENTS if render(_journal_event(e), config)]


@pytest.mark.parametrize(
    ("scope", "rule"),
    [
        (ScopeConfig(), lambda e: True),
        (ScopeConfig(firms=("SIM-ALPHA",)), lambda e: e.firm == "SIM-ALPHA"),
        (ScopeConfig(symbols=("pres-2028-dem",)), lambda e: e.symbol == "pres-2028-dem"),
        (ScopeConfig(fills_only=True), lambda e: e.exec_type == "F"),
        (ScopeConfig(message_kinds=("trades",)), lambda e: False),
    ],
)
def test_scope_dimensions(scope: ScopeConfig, rule: object) -> None:
    assert callable(rule)
    expected = [e for e in EVENTS if rule(e)]
    assert _delivered(scope) == expected
    assert expected or scope.message_kinds == ("trades",)


def test_accounts_scope_keeps_only_those_accounts() -> None:
    account = EVENTS[0].account
    assert {e.account for e in _delivered(ScopeConfig(accounts=(account,)))} == {account}


def test_flagged_events_are_never_sent() -> None:
    event = _journal_event(EVENTS[0])
    flagged = JournalEvent(1, "executions", "x", 0, 0, event.payload, "bad scale")
    config = SessionConfig(name="s", sender_comp_id="A", target_comp_id="B")
    assert render(flagged, config) == []


@pytest.mark.parametrize(("precision", "digits"), [("ms", 3), ("us", 6), ("ns", 9), ("s", 0)])
def test_transact_time_at_the_session_precision(precision: str, digits: int) -> None:
    config = SessionConfig(
        name="s", sender_comp_id="A", target_comp_id="B", timestamp_precision=Precision(precision)
    )
    (rendered,) = render(_journal_event(EVENTS[0]), config)
    transact = dict(split_fields(rendered.body))[60]
    fraction = transact.partition(".")[2]
    assert len(fraction) == digits
    expected_ns = f"{EVENTS[0].transact_time_ns % 1_000_000_000:09d}"
    assert fraction == expected_ns[:digits]
