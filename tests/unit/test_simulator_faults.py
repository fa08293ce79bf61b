"""The simulator's fault plan without a server: its decisions under a seeded RNG and fake
clocks, what it counts, and what the malformed-event fault does to real simulator events."""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable
from functools import cache
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message

from fixbridge.proto.polymarket.v1 import enums_pb2, orders_pb2, refdata_pb2, trading_pb2
from fixbridge.simulator.faults import (
    DEFECTS,
    ENABLEABLE,
    LIST_REFUSE_MESSAGE,
    REFUSE_MESSAGE,
    UNKNOWN_ENUM_BASE,
    Defect,
    FaultKind,
    FaultPlan,
    add_fault_arguments,
    corrupt,
    plan_from_args,
)
from fixbridge.simulator.market import MarketModel, StepOutput
from fixbridge.simulator.server import SimulatorServer
from fixbridge.simulator.store import EventStore
from fixbridge.simulator.streams import Stream
from fixbridge.simulator.subscription import ReplayLimits
from fixbridge.simulator.times import NS_PER_SECOND

START_NS = 1_795_000_000_000_000_000
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


class FakeClock:
    """Monotonic seconds and wall nanoseconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def wall_ns(self) -> int:
        return START_NS + int(self.now * NS_PER_SECOND)


def plan(seed: int = 1, **limits: Any) -> tuple[FaultPlan, FakeClock]:
    clock = FakeClock()
    return FaultPlan(seed, monotonic=clock.monotonic, wall_ns=clock.wall_ns, **limits), clock


# ------------------------------------------------------------------------- a. abort mid-batch


def test_abort_only_with_more_pending_and_at_about_the_rate() -> None:
    faults, _ = plan()
    assert not any(faults.abort_after_response(pending=True) for _ in range(100)), "off"
    faults.abort_mid_batch(0.25)
    assert not any(faults.abort_after_response(pending=False) for _ in range(100))
    decisions = [faults.abort_after_response(pending=True) for _ in range(2000)]
    assert 400 < sum(decisions) < 600
    assert faults.count(FaultKind.ABORT_MID_BATCH) == sum(decisions)


def test_aborts_can_be_spaced_out() -> None:
    faults, clock = plan()
    faults.abort_mid_batch(1.0, min_interval_s=10.0)
    assert faults.abort_after_response(pending=True)
    clock.now += 9.9
    assert not faults.abort_after_response(pending=True)
    clock.now += 0.1
    assert faults.abort_after_response(pending=True)
    assert faults.count(FaultKind.ABORT_MID_BATCH) == 2


def test_decisions_repeat_for_a_seed() -> None:
    def run(seed: int) -> list[bool]:
        faults, _ = plan(seed)
        faults.abort_mid_batch(0.5)
        return [faults.abort_after_response(pending=True) for _ in range(64)]

    assert run(5) == run(5)
    assert run(5) != run(6)


# ------------------------------------------------------------------------ b. refused opens


def test_refuse_the_next_n_opens_then_let_them_through() -> None:
    faults, _ = plan()
    faults.refuse_opens(2, grpc.StatusCode.RESOURCE_EXHAUSTED, "stream cap reached")
    assert faults.open_refusal() == (grpc.StatusCode.RESOURCE_EXHAUSTED, "stream cap reached")
    assert faults.open_refusal() == (grpc.StatusCode.RESOURCE_EXHAUSTED, "stream cap reached")
    assert faults.open_refusal() is None
    assert faults.count(FaultKind.REFUSE_OPEN) == 2
    assert faults.refused_codes() == {grpc.StatusCode.RESOURCE_EXHAUSTED: 2}


def test_refusals_queue_in_order_with_their_own_codes() -> None:
    faults, _ = plan()
    faults.refuse_opens(1)
    faults.refuse_opens(1, grpc.StatusCode.PERMISSION_DENIED, "permission denied: nope")
    assert faults.open_refusal() == (UNAVAILABLE, REFUSE_MESSAGE)
    assert faults.open_refusal() == (grpc.StatusCode.PERMISSION_DENIED, "permission denied: nope")
    assert faults.open_refusal() is None


def test_list_instruments_refusals_are_their_own_queue_and_count() -> None:
    faults, clock = plan()
    faults.refuse_list_instruments(2, grpc.StatusCode.RESOURCE_EXHAUSTED, "6 per minute")
    assert faults.open_refusal() is None, "stream opens are not affected"
    assert faults.list_instruments_refusal() == (grpc.StatusCode.RESOURCE_EXHAUSTED,
                                                 "6 per minute")
    assert faults.list_instruments_refusal() == (grpc.StatusCode.RESOURCE_EXHAUSTED,
                                                 "6 per minute")
    assert faults.list_instruments_refusal() is None
    faults.refuse_list_instruments(duration_s=2.0)
    assert faults.list_instruments_refusal() == (UNAVAILABLE, LIST_REFUSE_MESSAGE)
    clock.now += 2.0
    assert faults.list_instruments_refusal() is None
    assert faults.counts() == {FaultKind.REFUSE_LIST_INSTRUMENTS: 3}
    assert faults.refused_codes() == {}, "refused_codes counts stream opens only"
    faults.refuse_list_instruments(1)
    faults.disable_all()
    assert faults.list_instruments_refusal() is None


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"code": grpc.StatusCode.OK}, "needs an error status"),
        ({"count": 0}, "count must be >= 1, got 0"),
        ({"count": None}, "count must be >= 1, got None"),
        ({"duration_s": -1.0}, "duration_s must be > 0"),
    ],
)
def test_bad_list_instruments_refusals_are_named(kwargs: dict[str, Any], problem: str) -> None:
    faults, _ = plan()
    with pytest.raises(ValueError, match=problem):
        faults.refuse_list_instruments(**kwargs)


def test_enable_all_never_refuses_list_instruments() -> None:
    faults, clock = plan()
    faults.enable_all(period_s=1.0)
    for _ in range(50):
        clock.now += 0.5
        faults.tick()
        assert faults.list_instruments_refusal() is None


def test_refuse_every_open_for_a_while() -> None:
    faults, clock = plan()
    faults.refuse_opens(duration_s=3.0, code=grpc.StatusCode.DEADLINE_EXCEEDED)
    assert all(faults.open_refusal() is not None for _ in range(10))
    clock.now += 3.0
    assert faults.open_refusal() is None
    assert faults.count(FaultKind.REFUSE_OPEN) == 10


def test_a_refusal_needs_an_error_status() -> None:
    faults, _ = plan()
    with pytest.raises(ValueError, match="not OK"):
        faults.refuse_opens(1, grpc.StatusCode.OK)


def test_periodic_refusals_arm_on_schedule_and_never_pile_up() -> None:
    faults, clock = plan()
    faults.refuse_opens(2, every_s=10.0)
    assert faults.tick() == [] and faults.open_refusal() is None
    clock.now += 10.0
    assert faults.tick() == [FaultKind.REFUSE_OPEN]
    clock.now += 10.0
    assert faults.tick() == [FaultKind.REFUSE_OPEN], "due again, but one burst is still armed"
    assert [faults.open_refusal() is not None for _ in range(3)] == [True, True, False]


# -------------------------------------------------------------- c. access-token revocation


def test_revoking_without_auth_does_nothing_and_says_so() -> None:
    faults, _ = plan()
    assert faults.revoke_access_tokens_now() is False
    assert faults.counts() == {FaultKind.REVOKE_SKIPPED: 1}


def test_revoking_calls_the_servers_revoker_periodically() -> None:
    faults, clock = plan()
    revoked: list[float] = []
    faults.attach_access_token_revoker(lambda: revoked.append(clock.now))
    faults.revoke_access_tokens(every_s=5.0, first_after_s=1.0)
    for _ in range(12):
        clock.now += 1.0
        faults.tick()
    assert revoked == [1001.0, 1006.0, 1011.0]
    assert faults.count(FaultKind.REVOKE_ACCESS_TOKENS) == 3


# ----------------------------------------------------------------------- d. overlap, e. expiry


def test_overlap_is_offered_at_its_probability() -> None:
    faults, _ = plan()
    assert faults.overlap_for_resume() == 0
    faults.overlap_on_resume(7)
    assert {faults.overlap_for_resume() for _ in range(20)} == {7}
    faults.overlap_on_resume(7, probability=0.5)
    offered = [faults.overlap_for_resume() for _ in range(400)]
    assert set(offered) == {0, 7} and 150 < offered.count(7) < 250
    assert faults.counts() == {}, "the servicer counts an overlap once it has rewound"


def test_replay_limits_follow_ttl_cutoff_and_windows() -> None:
    faults, clock = plan(resume_token_ttl_s=60.0, replay_window_s=30.0)
    now = clock.wall_ns()
    limits = faults.replay_limits(Stream.EXECUTIONS, now)
    assert limits.token_ttl_ns == 60 * NS_PER_SECOND
    assert limits.token_cutoff_ns is None
    assert limits.earliest_ns == now - 30 * NS_PER_SECOND
    cutoff = faults.expire_resume_tokens_now()
    assert cutoff == now and faults.replay_limits(Stream.TRADES, now).token_cutoff_ns == now
    faults.set_replay_window(5.0, Stream.TRADES)
    faults.set_resume_token_ttl(None)
    assert faults.replay_limits(Stream.TRADES, now).earliest_ns == now - 5 * NS_PER_SECOND
    assert faults.replay_limits(Stream.POSITIONS, now).earliest_ns == now - 30 * NS_PER_SECOND
    assert faults.replay_limits(Stream.POSITIONS, now).token_ttl_ns is None
    assert faults.count(FaultKind.EXPIRE_RESUME_TOKENS) == 1


def test_periodic_token_expiry_moves_the_cutoff_to_now() -> None:
    faults, clock = plan()
    faults.expire_resume_tokens(every_s=2.0)
    clock.now += 2.0
    faults.tick()
    assert faults.replay_limits(Stream.EXECUTIONS, 0).token_cutoff_ns == clock.wall_ns()


def test_a_drop_ends_the_streams_open_before_it_once_each() -> None:
    faults, _ = plan()
    before = faults.drop_epoch()
    assert faults.pending_drop(before) is None
    faults.drop_streams_now(grpc.StatusCode.INTERNAL, "boom")
    after = faults.drop_epoch()
    assert faults.pending_drop(before) == (grpc.StatusCode.INTERNAL, "boom")
    assert faults.pending_drop(after) is None, "a stream opened after the drop goes on"
    assert faults.count(FaultKind.STREAM_DROPPED) == 1


def test_periodic_expiry_can_drop_every_stream_so_the_expiry_is_met() -> None:
    faults, clock = plan()
    opened = faults.drop_epoch()
    faults.expire_resume_tokens(every_s=5.0, drop_streams=True)
    clock.now += 5.0
    assert faults.tick() == [FaultKind.EXPIRE_RESUME_TOKENS]
    assert faults.pending_drop(opened) is not None
    assert faults.replay_limits(Stream.EXECUTIONS, 0).token_cutoff_ns == clock.wall_ns()


# --------------------------------------------------------------------------------- f. stall


def test_an_on_demand_stall_holds_each_stream_once_until_it_ends() -> None:
    faults, clock = plan()
    assert faults.pending_stall(0) == (0.0, 0)
    faults.stall_now(2.0)
    remaining, epoch = faults.pending_stall(0)
    assert (remaining, epoch) == (2.0, 1)
    clock.now += 0.5
    assert faults.pending_stall(epoch) == (1.5, 1), "same stream, same stall"
    assert faults.pending_stall(0) == (1.5, 1), "another stream"
    clock.now += 1.5
    assert faults.pending_stall(epoch) == (0.0, 1)
    assert faults.count(FaultKind.STALL) == 2


def test_a_random_stall_after_a_response() -> None:
    faults, _ = plan()
    assert faults.stall_after_response() == 0.0
    faults.stall(1.0, 0.75)
    assert faults.stall_after_response() == 0.75
    assert faults.count(FaultKind.STALL) == 1


# --------------------------------------------------------------------- g. malformed events


@cache
def sample() -> StepOutput:
    """Real simulator events: a few hundred steps of the seeded model."""
    model = MarketModel(7)
    out: dict[str, list[Any]] = {"e": [], "t": [], "i": [], "p": []}
    for step in range(400):
        produced = model.step(START_NS + step * 20_000_000)
        out["e"] += produced.executions
        out["t"] += produced.trades
        out["i"] += produced.instrument_changes
        out["p"] += produced.position_changes
    return StepOutput(tuple(out["e"]), tuple(out["t"]), tuple(out["i"]), tuple(out["p"]))


def fill() -> trading_pb2.Execution:
    return next(e for e in sample().executions if e.trade_id)


IDENTITY: dict[Stream, Callable[[Any], tuple[Any, ...]]] = {
    Stream.EXECUTIONS: lambda e: (e.id, e.trade_id, e.transact_time.seconds),
    Stream.TRADES: lambda t: (
        t.id, t.aggressor.id, t.passive.id, t.aggressor.order.symbol,
        t.aggressor.order.account, t.passive.order.account,
    ),
    Stream.INSTRUMENTS: lambda i: (i.symbol, i.metadata["update_time"]),
}

HAS_DEFECT: dict[Defect, Callable[[Any], bool]] = {
    Defect.UNKNOWN_SIDE: lambda e: e.order.side >= UNKNOWN_ENUM_BASE,
    Defect.UNKNOWN_EXECUTION_TYPE: lambda e: e.type >= UNKNOWN_ENUM_BASE,
    Defect.UNKNOWN_ORDER_TYPE: lambda e: e.order.type >= UNKNOWN_ENUM_BASE,
    Defect.MISSING_ORDER: lambda e: not e.HasField("order"),
    Defect.UNKNOWN_TRADE_STATE: lambda t: t.state >= UNKNOWN_ENUM_BASE,
    Defect.UNKNOWN_INSTRUMENT_STATE: lambda i: i.state >= UNKNOWN_ENUM_BASE,
}


def bad_scales(event: Message) -> list[int]:
    if isinstance(event, trading_pb2.Execution):
        return [event.order.price_scale, event.order.fractional_quantity_scale]
    if isinstance(event, orders_pb2.Trade):
        return [o.price_scale for o in (event.aggressor.order, event.passive.order)] + [
            o.fractional_quantity_scale for o in (event.aggressor.order, event.passive.order)]
    assert isinstance(event, refdata_pb2.Instrument)
    return [event.price_scale, event.fractional_qty_scale]


SAMPLES: dict[Stream, Callable[[], Message]] = {
    Stream.EXECUTIONS: fill,
    Stream.TRADES: lambda: sample().trades[0],
    Stream.INSTRUMENTS: lambda: sample().instruments[0],
}


@pytest.mark.parametrize(
    ("stream", "defect"),
    [(stream, defect) for stream, table in DEFECTS.items() for defect in table],
)
def test_each_defect_breaks_a_copy_and_keeps_the_identity(stream: Stream, defect: Defect) -> None:
    original = SAMPLES[stream]()
    before = original.SerializeToString(deterministic=True)
    broken = corrupt(stream, original, defect, random.Random(3))
    assert original.SerializeToString(deterministic=True) == before, "original untouched"
    assert broken != original
    assert IDENTITY[stream](broken)[:1] == IDENTITY[stream](original)[:1]
    if defect is not Defect.MISSING_ORDER:
        assert IDENTITY[stream](broken) == IDENTITY[stream](original)
    if defect in (Defect.BAD_PRICE_SCALE, Defect.BAD_QUANTITY_SCALE):
        changed = [b for a, b in zip(bad_scales(original), bad_scales(broken), strict=True)
                   if a != b]
        assert changed and all(value <= 0 for value in changed)
    else:
        assert HAS_DEFECT[defect](broken)
    assert type(broken).FromString(broken.SerializeToString()) == broken, "still encodes"


def test_records_of_one_trade_stay_distinct_when_both_lose_their_state() -> None:
    trades = sample().trades
    new = next(t for t in trades if t.state == enums_pb2.TRADE_STATE_NEW)
    cleared = next(t for t in trades
                   if t.id == new.id and t.state == enums_pb2.TRADE_STATE_CLEARED)
    broken = [corrupt(Stream.TRADES, t, Defect.UNKNOWN_TRADE_STATE, random.Random(1))
              for t in (new, cleared)]
    assert [t.state for t in broken] == [UNKNOWN_ENUM_BASE + 1, UNKNOWN_ENUM_BASE + 2]
    assert broken[0].SerializeToString() != broken[1].SerializeToString()


def test_both_zero_and_negative_scales_occur() -> None:
    rng = random.Random(0)
    scales = {corrupt(Stream.EXECUTIONS, fill(), Defect.BAD_PRICE_SCALE, rng).order.price_scale
              for _ in range(40)}
    assert scales == {0, -fill().order.price_scale}


def test_position_changes_are_never_corrupted() -> None:
    faults, _ = plan()
    faults.malformed(1.0)
    change = sample().position_changes[0]
    assert faults.corrupt_event(Stream.POSITIONS, change) is None
    assert faults.counts() == {}


def test_the_plan_corrupts_at_its_rate_with_the_chosen_defects() -> None:
    faults, _ = plan()
    assert faults.corrupt_event(Stream.EXECUTIONS, fill()) is None, "off by default"
    faults.malformed(0.0, per_stream={Stream.EXECUTIONS: 1.0},
                     defects=[Defect.MISSING_ORDER])
    broken = faults.corrupt_event(Stream.EXECUTIONS, fill())
    assert broken is not None and not broken.HasField("order") and broken.id == fill().id
    assert faults.corrupt_event(Stream.TRADES, sample().trades[0]) is None
    assert faults.count(FaultKind.MALFORMED_EVENT) == 1
    assert faults.defect_counts() == {Defect.MISSING_ORDER: 1}


def test_a_corrupted_event_is_logged_but_still_selected_as_produced() -> None:
    faults, _ = plan()
    faults.malformed(1.0, defects=[Defect.MISSING_ORDER, Defect.UNKNOWN_INSTRUMENT_STATE])
    store = EventStore(corrupt=faults.corrupt_event)
    out = sample()
    store.append(StepOutput(out.executions[:5], (), out.instrument_changes[:1], ()))
    logged = store.executions.read(0, 5)
    assert [e.event.id for e in logged] == [e.id for e in out.executions[:5]]
    assert all(not e.event.HasField("order") for e in logged)
    assert [(e.symbol, e.accounts) for e in logged] == [
        (e.order.symbol, (e.order.account,)) for e in out.executions[:5]]
    snapshot = store.instrument_snapshot()
    assert snapshot == store.instruments.events()
    assert snapshot[0].state == UNKNOWN_ENUM_BASE + out.instruments[0].state


# --------------------------------------------------------------------------- all together


def test_enable_all_switches_on_every_fault_and_each_periodic_one_recurs() -> None:
    faults, clock = plan()
    faults.attach_access_token_revoker(lambda: None)
    faults.enable_all(period_s=10.0, stall_s=1.0)
    fired: list[FaultKind] = []
    for _ in range(300):  # 30 s in 0.1 s ticks
        clock.now += 0.1
        fired += faults.tick()
    for kind in (FaultKind.REFUSE_OPEN, FaultKind.REVOKE_ACCESS_TOKENS,
                 FaultKind.EXPIRE_RESUME_TOKENS, FaultKind.STALL):
        assert fired.count(kind) >= 3, (kind, fired)
    assert faults.overlap_for_resume() in (0, 5)
    assert faults.abort_after_response(pending=True) in (True, False)
    assert any(faults.corrupt_event(Stream.INSTRUMENTS, sample().instruments[0])
               for _ in range(100))
    faults.disable_all()
    clock.now += 100
    assert faults.tick() == []
    assert faults.replay_limits(Stream.EXECUTIONS, 0).token_cutoff_ns is None


def test_enable_all_can_pick_some_faults() -> None:
    faults, _ = plan()
    faults.enable_all(kinds=[FaultKind.MALFORMED_EVENT])
    assert faults.overlap_for_resume() == 0
    assert not faults.abort_after_response(pending=True)
    assert any(faults.corrupt_event(Stream.INSTRUMENTS, sample().instruments[0])
               for _ in range(100))
    with pytest.raises(ValueError, match="not faults that can be enabled"):
        faults.enable_all(kinds=[FaultKind.OVERLAP_EVENTS])


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=7)
    add_fault_arguments(parser)
    return parser.parse_args(argv)


def test_command_line_options_build_the_plan() -> None:
    args = parse("--faults", "all", "--fault-period", "5", "--abort-probability", "1",
                 "--resume-token-ttl", "90", "--refuse-code", "resource_exhausted")
    assert args.faults == ENABLEABLE
    faults = plan_from_args(args)
    assert faults.abort_after_response(pending=True)
    assert faults.replay_limits(Stream.EXECUTIONS, 0).token_ttl_ns == 90 * NS_PER_SECOND
    only = plan_from_args(parse("--faults", "stall,malformed-event", "--overlap-events", "3"))
    assert only.overlap_for_resume() == 3
    assert not only.abort_after_response(pending=True)


def test_unknown_fault_names_are_refused() -> None:
    with pytest.raises(SystemExit):
        parse("--faults", "everything")


def test_the_servers_limits_land_in_its_plan_given_or_not() -> None:
    server = SimulatorServer(resume_token_ttl_s=5.0, replay_window_s=10.0)
    own, _ = plan()
    given = SimulatorServer(resume_token_ttl_s=7.0, faults=own)
    assert server.faults.replay_limits(Stream.TRADES, 10**12) == ReplayLimits(
        5 * NS_PER_SECOND, None, 10**12 - 10 * NS_PER_SECOND)
    assert given.faults is own
    assert own.replay_limits(Stream.TRADES, 0) == ReplayLimits(7 * NS_PER_SECOND, None, None)


# ------------------------------------------------------------------------------- drop events


def test_drop_events_hides_the_next_n_positions_once_decided_and_in_every_replay() -> None:
    plan = FaultPlan()
    plan.drop_events(2, streams=[Stream.EXECUTIONS])
    first = [plan.hides(Stream.EXECUTIONS, position, f"e{position}") for position in range(4)]
    assert first == [True, True, False, False]
    # A replay of the same positions (a reconnect) meets the same decisions.
    again = [plan.hides(Stream.EXECUTIONS, position, f"e{position}") for position in range(4)]
    assert again == first
    assert plan.dropped_events(Stream.EXECUTIONS) == ["e0", "e1"]
    assert plan.count(FaultKind.DROP_EVENTS) == 2


def test_drop_events_leaves_other_streams_alone_and_is_not_part_of_enable_all() -> None:
    plan = FaultPlan()
    plan.drop_events(5, streams=[Stream.TRADES])
    assert not plan.hides(Stream.EXECUTIONS, 0, "x")
    assert FaultKind.DROP_EVENTS not in ENABLEABLE
    other = FaultPlan()
    other.enable_all()
    assert not other.hides(Stream.EXECUTIONS, 0, "x")
    assert other.count(FaultKind.DROP_EVENTS) == 0


def test_drop_events_with_probability_zero_drops_nothing_and_refuses_a_negative_count() -> None:
    plan = FaultPlan()
    plan.drop_events(3, probability=0.0)
    assert not any(plan.hides(Stream.EXECUTIONS, p, p) for p in range(10))
    assert plan.dropped_events(Stream.EXECUTIONS) == []
    with pytest.raises(ValueError, match="count"):
        plan.drop_events(-1)
