"""What each session receives: scope on every dimension (a firm's session never sees another
firm's identities), the first report of a trade, and its timestamp precision."""

from __future__ import annotations

import pytest

from fixbridge.config import ScopeConfig, SessionConfig
from fixbridge.fix.codec import split_fields
from fixbridge.fix.outbound import RenderCache, Rendered, render
from fixbridge.journal.store import JournalEvent
from fixbridge.normalize.execution import ExecutionEvent, normalize_execution
from fixbridge.normalize.timestamps import Precision
from fixbridge.normalize.trade import normalize_trade
from fixbridge.proto.polymarket.v1 import enums_pb2 as pb
from fixbridge.simulator.market import MarketModel
from tests.unit.test_normalize_trade import (
    AGGRESSOR_EXEC_ID,
    PASSIVE_EXEC_ID,
    TRADE_ID,
    make_trade,
    settled,
)

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


# --- trades: each session sees only its own sides ----------------------------------------------

FIRM_SESSIONS = {
    "isv": ScopeConfig(firms=("ISV-X",), message_kinds=("executions", "trades")),
    "mm": ScopeConfig(firms=("MM-Y",), message_kinds=("executions", "trades")),
    "everyone": ScopeConfig(message_kinds=("executions", "trades")),
}
# What identifies each firm in the trade of tests/unit/test_normalize_trade.py: the firm, its
# account (short and full), its user, its order, its ClOrdID, its fill's ExecID.
IDENTITIES = {
    "ISV-X": {"ISV-X", "acct-1", "trader-1", "1HQ4A5T0EDM07", "1182560826", AGGRESSOR_EXEC_ID},
    "MM-Y": {"MM-Y", "mm-1", "quoter", "1HQ4A5T0EDM08", "mm-77", PASSIVE_EXEC_ID},
}


def _trade_event(state: int, offset: int) -> JournalEvent:
    event = settled(normalize_trade(make_trade(state=state)))
    return JournalEvent(offset, "trades", event.upstream_id, 0, 0, event.to_payload(), None)


def _values(
    session: str, event: JournalEvent, cache: RenderCache | None = None, **style: object
) -> set[str]:
    config = SessionConfig(
        name=session, sender_comp_id="A", target_comp_id="B", scope=FIRM_SESSIONS[session],
        **style,  # type: ignore[arg-type]
    )
    return {
        value.rsplit("/", 1)[-1]
        for rendered in render(event, config, cache=cache)
        for _, value in split_fields(rendered.body)
    }


@pytest.mark.parametrize("shared", [False, True], ids=["alone", "shared-cache"])
@pytest.mark.parametrize("identifiers", ["exchange", "resource_names"])
@pytest.mark.parametrize(
    "state", [pb.TRADE_STATE_NEW, pb.TRADE_STATE_CLEARED, pb.TRADE_STATE_BUSTED]
)
def test_no_identity_of_another_firm_reaches_a_firm_session(
    identifiers: str, state: int, shared: bool
) -> None:
    """Also with one render cache shared by the sessions, the everyone session going first:
    what it rendered for both sides must never be what a firm's session gets."""
    event = _trade_event(state, 1)
    cache = RenderCache() if shared else None
    everyone = _values("everyone", event, cache, identifiers=identifiers)
    for session, own, other in (("isv", "ISV-X", "MM-Y"), ("mm", "MM-Y", "ISV-X")):
        values = _values(session, event, cache, identifiers=identifiers)
        assert IDENTITIES[own] <= values, session  # its own side in full
        assert not IDENTITIES[other] & values, session
        assert "-0.01" not in values or session == "mm"  # the maker's rebate is the maker's
    assert IDENTITIES["ISV-X"] | IDENTITIES["MM-Y"] <= everyone


def test_the_other_side_of_a_report_is_its_side_alone() -> None:
    event = _trade_event(pb.TRADE_STATE_NEW, 1)
    config = SessionConfig(name="isv", sender_comp_id="A", target_comp_id="B",
                           scope=FIRM_SESSIONS["isv"])  # fmt: skip
    (report,) = render(event, config)
    fields = list(split_fields(report.body))
    sides = [tag for tag, _ in fields][[tag for tag, _ in fields].index(552) + 1 : -1]
    passive = sides[sides.index(54, 1):]
    assert passive == [54]
    assert dict(fields)[552] == "2"


def test_a_bust_goes_only_to_sessions_that_cover_its_side() -> None:
    event = _trade_event(pb.TRADE_STATE_BUSTED, 1)
    config = {name: SessionConfig(name=name, sender_comp_id="A", target_comp_id="B", scope=scope)
              for name, scope in FIRM_SESSIONS.items()}  # fmt: skip
    busts = {name: [dict(split_fields(m.body))[19] for m in render(event, c) if m.msg_type == "8"]
             for name, c in config.items()}  # fmt: skip
    assert busts == {
        "isv": [AGGRESSOR_EXEC_ID],
        "mm": [PASSIVE_EXEC_ID],
        "everyone": [AGGRESSOR_EXEC_ID, PASSIVE_EXEC_ID],
    }


class _History:
    def __init__(self, earlier: set[str]) -> None:
        self.earlier = earlier

    def reported_before(self, trade_id: str, before_offset: int) -> bool:
        return trade_id in self.earlier


@pytest.mark.parametrize(
    ("state", "sent_before", "expected"),
    [
        (pb.TRADE_STATE_NEW, False, ("0", "0")),
        (pb.TRADE_STATE_CLEARED, False, ("0", "0")),  # first seen CLEARED: still a New
        (pb.TRADE_STATE_CLEARED, True, ("2", "0")),
        (pb.TRADE_STATE_BUSTED, True, ("1", "6")),
        (pb.TRADE_STATE_BUSTED, False, ("0", "0")),
    ],
)
def test_the_first_report_a_session_gets_of_a_trade_is_a_new(
    state: int, sent_before: bool, expected: tuple[str, str]
) -> None:
    event = _trade_event(state, 7)
    config = SessionConfig(name="everyone", sender_comp_id="A", target_comp_id="B",
                           scope=FIRM_SESSIONS["everyone"])  # fmt: skip
    history = _History({TRADE_ID} if sent_before else set())
    (report, *_) = render(event, config, history)
    values = dict(split_fields(report.body))
    assert (values[487], values[856]) == expected


# --- one rendering shared by every session ------------------------------------------------------


def _session(name: str, **settings: object) -> SessionConfig:
    return SessionConfig(name=name, sender_comp_id="A", target_comp_id=name.upper(),
                         **settings)  # type: ignore[arg-type]  # fmt: skip


def _all_kinds(cache: RenderCache | None, config: SessionConfig) -> list[list[Rendered]]:
    events = [_journal_event(e) for e in EVENTS[:50]]
    events = [JournalEvent(n, e.stream, e.upstream_id, 0, 0, e.payload, None)
              for n, e in enumerate(events, 1)]  # fmt: skip
    events += [_trade_event(state, 100 + state) for state in (pb.TRADE_STATE_NEW,
                                                              pb.TRADE_STATE_BUSTED)]
    return [render(event, config, cache=cache) for event in events]


def test_sessions_rendering_alike_share_one_rendering_of_each_event() -> None:
    cache = RenderCache()
    first = _all_kinds(cache, _session("one"))
    misses = cache.misses
    second = _all_kinds(cache, _session("two"))
    assert second == first == _all_kinds(None, _session("alone"))
    assert cache.misses == misses  # the second session rendered nothing itself
    assert cache.hits == misses


@pytest.mark.parametrize(
    "settings",
    [
        {"timestamp_precision": Precision.MILLIS},
        {"identifiers": "resource_names"},
        {"fix_profile": "fix50sp2"},
        {"fix_profile": "latest"},
        {"send_realized_pnl": True},
    ],
)
def test_a_session_rendering_differently_never_gets_anothers_bodies(
    settings: dict[str, object],
) -> None:
    cache = RenderCache()
    _all_kinds(cache, _session("plain"))
    assert _all_kinds(cache, _session("other", **settings)) == _all_kinds(
        None, _session("other", **settings)
    )


def test_a_first_report_and_a_later_one_are_rendered_apart() -> None:
    cache = RenderCache()
    event = _trade_event(pb.TRADE_STATE_CLEARED, 9)
    config = _session("everyone", scope=FIRM_SESSIONS["everyone"])
    (new, *_) = render(event, config, _History(set()), cache=cache)
    (replace, *_) = render(event, config, _History({TRADE_ID}), cache=cache)
    assert (dict(split_fields(new.body))[487], dict(split_fields(replace.body))[487]) == ("0", "2")


def test_the_cache_forgets_the_least_recently_used_first() -> None:
    cache = RenderCache(decoded_capacity=2, bodies_capacity=2)
    config = _session("s")
    one, two, three = (JournalEvent(n, "executions", e.exec_id, 0, 0, e.to_payload(), None)
                       for n, e in enumerate(EVENTS[:3], 1))  # fmt: skip
    for event in (one, two, one, three):  # "two" is the least recently used when "three" comes
        render(event, config, cache=cache)
    assert (cache.hits, cache.misses) == (1, 3)
    render(one, config, cache=cache)
    render(two, config, cache=cache)
    assert (cache.hits, cache.misses) == (2, 4)


# --- which messages measure the exchange -> FIX lag ---------------------------------------------


@pytest.mark.parametrize(
    ("state", "timed"),
    [
        (pb.TRADE_STATE_NEW, True),
        # The exchange re-sends a trade with a new state and its original times (spec §4.5: the
        # Trade carries no time of the change), so a CLEARED report an hour later is not an
        # hour of lag; neither is a bust's trade-cancel ExecutionReport.
        (pb.TRADE_STATE_CLEARED, False),
        (pb.TRADE_STATE_BUSTED, False),
    ],
)
def test_only_a_trades_first_state_measures_exchange_lag(state: int, timed: bool) -> None:
    config = _session("both", scope=ScopeConfig(message_kinds=("executions", "trades")))
    rendered = render(_trade_event(state, 7), config)
    assert rendered and [r.exchange_timed for r in rendered] == [timed] * len(rendered)
    assert any(r.msg_type == "AE" for r in rendered)


def test_execution_reports_of_executions_measure_exchange_lag() -> None:
    config = _session("ex", scope=ScopeConfig(message_kinds=("executions",)))
    rendered = [r for e in EVENTS[:20] for r in render(_journal_event(e), config)]
    assert rendered and all(r.exchange_timed for r in rendered)


def test_a_cache_not_shared_keeps_nothing_it_renders_but_finds_what_it_was_told() -> None:
    cache = RenderCache()
    cache.sharing = False  # one session alone delivering
    config = _session("s")
    one, two = (JournalEvent(n, "executions", e.exec_id, 0, 0, e.to_payload(), None)
                for n, e in enumerate(EVENTS[:2], 1))  # fmt: skip
    first = render(one, config, cache=cache)
    assert render(one, config, cache=cache) == first
    assert (cache.hits, cache.misses) == (0, 2)  # rendered twice: nothing was kept
    cache.remember(two.offset, EVENTS[1])  # a live event's decoding, from its normalization

    def undecodable(payload: bytes) -> object:
        raise AssertionError("decoded again")

    assert cache.decoded(two, undecodable) is EVENTS[1]
    cache.sharing = True
    render(one, config, cache=cache)
    render(one, config, cache=cache)
    assert (cache.hits, cache.misses) == (1, 3)
