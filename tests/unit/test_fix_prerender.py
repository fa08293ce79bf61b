"""Executions' bodies rendered at ingest (fix/prerender.py): journaled with the event, read
back for a session's rendering, and sent as they are, giving exactly what rendering the event
as it is sent gives, with the same scope.

The oracle for the bytes is the reference path, ``encode_fields(execution_report_body(...))``
(the precompiled encoder is held to it, and to simplefix, in test_fix_compiled_bodies.py);
for scope, rendering the same journal event without its stored body.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest

from fixbridge.config import ScopeConfig, SessionConfig
from fixbridge.fix.codec import FieldError, encode_fields
from fixbridge.fix.outbound import recipient, render_to, style_of
from fixbridge.fix.prerender import CODE_DIGEST, ExecutionBodies, rendering_key
from fixbridge.journal.records import StoredBody
from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.journal.store import JournalEvent, NewEvent
from fixbridge.normalize.execution import ExecutionEvent, execution_report_body
from fixbridge.normalize.style import Identifiers, Profile, RenderStyle
from fixbridge.normalize.timestamps import Precision
from fixbridge.simulator.market import MarketModel
from fixbridge.upstream.streams import NO_MEMORY, executions_to_events

T0 = 1_795_000_000_000_000_000


def simulated(count: int, seed: int = 7) -> list[NewEvent]:
    """``count`` executions of the seeded simulator, as ingestion journals them."""
    model, now, out = MarketModel(seed), T0, []
    while len(out) < count:
        now += 1_000_000
        out += model.step(now).executions
    return executions_to_events(out[:count], NO_MEMORY)


def session(name: str, **settings: object) -> SessionConfig:
    return SessionConfig.model_validate(
        {"name": name, "sender_comp_id": "FIXBRIDGE", "target_comp_id": name, **settings}
    )


def journaled(tmp_path: Path, events: list[NewEvent]) -> SqliteJournal:
    journal = SqliteJournal(tmp_path / "journal.db", synchronous="normal")
    journal.append("executions", events, b"t", T0)
    return journal


def firms_of(events: list[NewEvent]) -> list[str]:
    firms = sorted({e.decoded.firm for e in events if isinstance(e.decoded, ExecutionEvent)})
    assert len(firms) >= 2, "the simulated executions need two firms"
    return firms


def test_a_journaled_body_is_what_rendering_the_event_as_sent_gives(tmp_path: Path) -> None:
    events = simulated(300)
    sessions = [
        session(f"S{n}", timestamp_precision=precision.value, identifiers=identifiers.value,
                fix_profile=profile.value)
        for n, (precision, identifiers, profile) in enumerate(
            itertools.product(Precision, Identifiers, Profile)
        )
    ]  # fmt: skip
    bodies = ExecutionBodies((style_of(s), s.scope) for s in sessions)
    assert len(bodies.keys) == len(sessions)  # every style its own rendering
    journal = journaled(tmp_path, bodies.attach(events))
    try:
        for config in sessions:
            style = style_of(config)
            key = rendering_key(style)
            read = journal.read_events(0, 1000, rendering=key)
            assert [e.body is not None for e in read] == [True] * len(events)
            to = recipient(config, style=style, rendering=key)
            for event, new in zip(read, events, strict=True):
                assert isinstance(new.decoded, ExecutionEvent)
                reference = encode_fields(execution_report_body(new.decoded, style))
                sent = render_to(event, to)
                assert [(m.msg_type, m.body) for m in sent] == [("8", reference)], config.name
                assert sent == render_to(event._replace(body=None), to)
    finally:
        journal.close()


SCOPES = [
    {},
    {"fills_only": True},
    {"symbols": ["NOT-LISTED"]},
    {"message_kinds": ["trades"]},
]


@pytest.mark.parametrize("scope", SCOPES, ids=str)
def test_scope_is_decided_on_the_stored_fields_as_on_the_event(
    tmp_path: Path, scope: dict[str, object]
) -> None:
    events = simulated(300)
    first, second = firms_of(events)[:2]
    scopes = [
        {**scope, "firms": [first]},
        {**scope, "firms": [second]},
        {**scope, "accounts": [next(
            e.decoded.account for e in events
            if isinstance(e.decoded, ExecutionEvent) and e.decoded.firm == second
        )]},
        scope,
    ]  # fmt: skip
    # One session per scope, all in one style: one rendering, bodies for what any admits.
    sessions = [session(f"S{n}", scope=s) for n, s in enumerate(scopes)]
    bodies = ExecutionBodies((style_of(s), s.scope) for s in sessions)
    attached = bodies.attach(events)
    journal = journaled(tmp_path, attached)
    try:
        key = rendering_key(style_of(sessions[0]))
        read = journal.read_events(0, 1000, rendering=key)
        stored = sum(e.body is not None for e in read)
        admitted = 0
        for config in sessions:
            to = recipient(config, rendering=key)
            for event in read:
                sent = render_to(event, to)
                assert sent == render_to(event._replace(body=None), to)
                admitted += bool(sent)
        if "message_kinds" in scope or "symbols" in scope:
            assert stored == 0 and admitted == 0  # no session would be sent one: none made
        else:
            assert 0 < stored <= len(events) and admitted > 0
    finally:
        journal.close()


def test_a_body_is_made_only_where_a_session_of_its_rendering_would_be_sent_it() -> None:
    events = simulated(200)
    first = firms_of(events)[0]
    only_first = session("A", scope={"firms": [first]})
    bodies = ExecutionBodies([(style_of(only_first), only_first.scope)])
    for event in bodies.attach(events):
        assert isinstance(event.decoded, ExecutionEvent)
        if event.decoded.firm == first:
            assert [b.firm for b in event.bodies] == [first]
        else:
            assert event.bodies == ()


def test_a_stored_body_of_the_sessions_rendering_is_sent_as_it_is() -> None:
    (new,) = simulated(1)
    assert isinstance(new.decoded, ExecutionEvent)
    e = new.decoded
    config = session("S")
    key = rendering_key(style_of(config))
    event = JournalEvent(1, "executions", new.upstream_id, T0, T0, new.payload, None)

    def with_body(rendering: str, firm: str = e.firm) -> JournalEvent:
        stored = StoredBody(rendering, firm, e.account, e.symbol, e.exec_type, b"37=STORED\x01")
        return event._replace(body=stored)

    to = recipient(config, rendering=key)
    assert [m.body for m in render_to(with_body(key), to)] == [b"37=STORED\x01"]
    rendered = render_to(event, to)
    assert rendered and rendered[0].body != b"37=STORED\x01"
    # Another rendering's body (another style, or this style by other code) is not used.
    assert render_to(with_body(key[::-1]), to) == rendered
    # Scope is decided on the stored fields.
    scoped = recipient(session("S", scope={"firms": [e.firm]}), rendering=key)
    assert render_to(with_body(key, firm="ELSEWHERE"), scoped) == []


def test_a_rendering_key_names_the_style_and_the_code() -> None:
    styles = [
        RenderStyle(precision=p, identifiers=i, realized_pnl=r, profile=f)
        for p, i, r, f in itertools.product(Precision, Identifiers, (False, True), Profile)
    ]
    keys = [rendering_key(style) for style in styles]
    assert len(set(keys)) == len(styles)
    assert all(len(k) == 16 and int(k, 16) >= 0 for k in keys)
    assert rendering_key(RenderStyle()) == rendering_key(RenderStyle())
    other_code = bytes(b ^ 1 for b in CODE_DIGEST)
    assert rendering_key(RenderStyle(), other_code) != rendering_key(RenderStyle())


def test_events_without_a_normalized_execution_are_left_as_they_are() -> None:
    (new,) = simulated(1)
    bodies = ExecutionBodies([(style_of(session("S")), ScopeConfig())])
    flagged = dataclasses.replace(new, flagged="cannot be normalized")
    undecoded = dataclasses.replace(new, decoded=None)
    assert bodies.attach([flagged, undecoded]) == [flagged, undecoded]
    assert ExecutionBodies().attach([new]) == [new]
    trades_only = ExecutionBodies([(RenderStyle(), ScopeConfig(message_kinds=("trades",)))])
    assert trades_only.keys == frozenset() and trades_only.attach([new]) == [new]


def test_with_bodies_passes_every_other_field_on() -> None:
    (new,) = simulated(1)
    body = StoredBody("k", "F", "A", "S", "F", b"37=1\x01")
    assert new.with_bodies((body,)) == dataclasses.replace(new, bodies=(body,))
    # Every field set to a value other than its default, so a field left out shows.
    filled = NewEvent(
        **{
            f.name: (
                getattr(new, f.name)
                if f.name in {"upstream_id", "transact_time_ns", "payload", "raw"}
                else object()
            )
            for f in dataclasses.fields(NewEvent)
        }
    )
    assert filled.with_bodies((body,)) == dataclasses.replace(filled, bodies=(body,))


def test_an_execution_with_nul_in_its_scope_fields_gets_no_body() -> None:
    """PostgreSQL keeps U+0000 in text as U+FFFD: a body whose scope fields held one would
    be admitted on other values than the event's, so its scope is decided on the event."""
    (new,) = simulated(1)
    assert isinstance(new.decoded, ExecutionEvent)
    bodies = ExecutionBodies([(style_of(session("S")), ScopeConfig())])
    assert bodies.bodies(new.decoded)
    for field in ("firm", "account", "symbol"):
        nul = dataclasses.replace(new.decoded, **{field: getattr(new.decoded, field) + "\x00"})
        assert bodies.bodies(nul) == ()


def test_an_execution_no_body_can_be_made_of_is_journaled_without_one() -> None:
    (new,) = simulated(1)
    assert isinstance(new.decoded, ExecutionEvent)
    unsendable = dataclasses.replace(new, decoded=dataclasses.replace(new.decoded, text="a\x01b"))
    bodies = ExecutionBodies([(style_of(session("S")), ScopeConfig())])
    assert isinstance(unsendable.decoded, ExecutionEvent)
    with pytest.raises(FieldError):  # SOH in a value: the reference refuses to encode it
        bodies.bodies(unsendable.decoded)
    made = new.with_bodies(bodies.bodies(new.decoded))
    assert bodies.attach([unsendable, new]) == [unsendable, made]
