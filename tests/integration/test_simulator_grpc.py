"""The simulator's DropCopyAPI seen by a real gRPC client over localhost.

Most tests share one simulator that produced exactly 1,500 executions as fast as it could and
then went quiet, so the full event logs are known; the live-stream test runs its own simulator.
A stream's expected content is computed from the simulator's logs; a heartbeat (a response with
no events) after the last expected event shows nothing extra was sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from fixbridge.proto.polymarket.v1 import dropcopy_pb2 as pb
from fixbridge.proto.polymarket.v1 import dropcopy_pb2_grpc
from fixbridge.simulator.refdata import SYMBOLS, firm_of
from fixbridge.simulator.server import SimulatorThread
from fixbridge.simulator.streams import Stream
from fixbridge.simulator.times import from_timestamp, to_timestamp
from fixbridge.simulator.tokens import ResumeToken, decode_token

pytestmark = pytest.mark.integration

TOTAL = 1_500
HEARTBEAT = 0.3
DEADLINE = 15.0
EPOCH = Timestamp()


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(
        seed=11, rate=0, max_executions=TOTAL, heartbeat_interval=HEARTBEAT
    ) as simulator:
        simulator.wait_for_executions(TOTAL, timeout=20)
        yield simulator


def make_stub(channel: grpc.Channel) -> Any:
    """The generated stub (untyped code)."""
    return dropcopy_pb2_grpc.DropCopyAPIStub(channel)  # type: ignore[no-untyped-call]


@pytest.fixture(scope="module")
def stub(sim: SimulatorThread) -> Iterator[Any]:
    with grpc.insecure_channel(sim.address) as channel:
        yield make_stub(channel)


def events_of(response: Any) -> list[Any]:
    for field in ("executions", "trade_capture_reports", "instruments", "position_changes"):
        if hasattr(response, field):
            return list(getattr(response, field))
    raise AssertionError(f"not a DropCopy response: {type(response)}")


def read(call: Any, done: Callable[[list[Any]], bool]) -> list[Any]:
    """Responses of a server stream until ``done(responses)``; then the call is cancelled."""
    responses: list[Any] = []
    try:
        for response in call:
            responses.append(response)
            if done(responses):
                break
    finally:
        call.cancel()
    return responses


def until_events_then_heartbeat(count: int) -> Callable[[list[Any]], bool]:
    """Done at the first empty response once ``count`` events arrived."""

    def done(responses: list[Any]) -> bool:
        received = sum(len(events_of(r)) for r in responses)
        assert received <= count, f"{received} events, expected {count}"
        return received == count and not events_of(responses[-1])

    return done


def flatten(responses: list[Any]) -> list[Any]:
    return [event for response in responses for event in events_of(response)]


def position_of(token: bytes) -> int:
    return decode_token(token).position


def covered(token: bytes) -> tuple[str, Stream, int]:
    """What a token points at: instance, stream, position (not when it was issued)."""
    decoded = decode_token(token)
    return decoded.instance, decoded.stream, decoded.position


# -------------------------------------------------------------------------------------- live


def test_a_stream_without_token_or_time_is_live_from_the_moment_it_opens() -> None:
    with (
        SimulatorThread(seed=5, rate=400, heartbeat_interval=HEARTBEAT) as live,
        grpc.insecure_channel(live.address) as channel,
    ):
        live.wait_for_executions(50, timeout=10)
        head = len(live.executions())
        call = make_stub(channel).CreateDropCopySubscription(
            pb.CreateDropCopySubscriptionRequest(), timeout=DEADLINE
        )
        responses = read(call, lambda rs: len(flatten(rs)) >= 120)
        log_ids = [e.id for e in live.executions()]
    received = [e.id for e in flatten(responses)]
    start = log_ids.index(received[0])
    assert start >= head, "a live-only stream replayed history"
    assert received == log_ids[start : start + len(received)], "gap, duplicate or reorder"
    for response in responses:
        if response.executions:
            last = log_ids.index(response.executions[-1].id)
            assert position_of(response.resume_token) == last + 1


# ------------------------------------------------------------------------------------ resume


def test_resume_token_replays_strictly_after_it_with_no_gap_and_no_duplicate(
    sim: SimulatorThread, stub: Any
) -> None:
    log_ids = [e.id for e in sim.executions()]
    first = read(
        stub.CreateDropCopySubscription(
            pb.CreateDropCopySubscriptionRequest(resume_time=EPOCH), timeout=DEADLINE
        ),
        lambda rs: len(rs) == 3,
    )
    before = [e.id for e in flatten(first)]
    token = first[-1].resume_token
    assert position_of(token) == len(before)
    rest = read(
        stub.CreateDropCopySubscription(
            pb.CreateDropCopySubscriptionRequest(resume_token=token), timeout=DEADLINE
        ),
        until_events_then_heartbeat(TOTAL - len(before)),
    )
    after = [e.id for e in flatten(rest)]
    assert after[0] == log_ids[len(before)]
    assert before + after == log_ids
    assert position_of(rest[-1].resume_token) == TOTAL


def test_resuming_from_the_newest_token_sends_only_heartbeats(
    sim: SimulatorThread, stub: Any
) -> None:
    token = ResumeToken(sim.instance_id, Stream.EXECUTIONS, TOTAL).encode()
    responses = read(
        stub.CreateDropCopySubscription(
            pb.CreateDropCopySubscriptionRequest(resume_token=token), timeout=DEADLINE
        ),
        lambda rs: len(rs) == 2,
    )
    assert [len(r.executions) for r in responses] == [0, 0]
    # Same place as the token resumed from (each one carries its own issue time).
    assert [covered(r.resume_token) for r in responses] == [covered(token)] * 2


def test_resume_time_replays_every_execution_at_or_after_it(
    sim: SimulatorThread, stub: Any
) -> None:
    log = sim.executions()
    since = log[700].transact_time
    expected = [e.id for e in log if from_timestamp(e.transact_time) >= from_timestamp(since)]
    assert 0 < len(expected) <= TOTAL - 700
    responses = read(
        stub.CreateDropCopySubscription(
            pb.CreateDropCopySubscriptionRequest(resume_time=since), timeout=DEADLINE
        ),
        until_events_then_heartbeat(len(expected)),
    )
    assert [e.id for e in flatten(responses)] == expected
    assert max(len(r.executions) for r in responses) == 100, "replay is batched"


def test_resume_time_on_trades_goes_by_the_aggressor_execution_time(
    sim: SimulatorThread, stub: Any
) -> None:
    log = sim.trades()
    since = from_timestamp(log[len(log) // 2].aggressor.transact_time)
    expected = [(t.id, t.state) for t in log if from_timestamp(t.aggressor.transact_time) >= since]
    responses = read(
        stub.CreateTradeCaptureReportSubscription(
            pb.CreateTradeCaptureReportSubscriptionRequest(resume_time=to_timestamp(since)),
            timeout=DEADLINE,
        ),
        until_events_then_heartbeat(len(expected)),
    )
    assert [(t.id, t.state) for t in flatten(responses)] == expected


def test_position_changes_replay_in_full_from_the_epoch(sim: SimulatorThread, stub: Any) -> None:
    log = sim.position_changes()
    responses = read(
        stub.CreatePositionChangeSubscription(
            pb.CreatePositionChangeSubscriptionRequest(resume_time=EPOCH), timeout=DEADLINE
        ),
        until_events_then_heartbeat(len(log)),
    )
    assert flatten(responses) == log


# ----------------------------------------------------------------------------------- filters


def test_symbols_filter_selects_executions_of_those_symbols(
    sim: SimulatorThread, stub: Any
) -> None:
    wanted = [SYMBOLS[0].symbol, SYMBOLS[2].symbol]
    expected = [e.id for e in sim.executions() if e.order.symbol in wanted]
    responses = read(
        stub.CreateDropCopySubscription(
            pb.CreateDropCopySubscriptionRequest(resume_time=EPOCH, symbols=wanted),
            timeout=DEADLINE,
        ),
        until_events_then_heartbeat(len(expected)),
    )
    assert [e.id for e in flatten(responses)] == expected
    assert position_of(responses[-1].resume_token) == TOTAL, "skipped events are covered too"


def test_firms_filter_selects_executions_and_positions_of_that_firm(
    sim: SimulatorThread, stub: Any
) -> None:
    executions = [e.id for e in sim.executions() if firm_of(e.order.account) == "SIM-BRAVO"]
    responses = read(
        stub.CreateDropCopySubscription(
            pb.CreateDropCopySubscriptionRequest(resume_time=EPOCH, firms=["SIM-BRAVO"]),
            timeout=DEADLINE,
        ),
        until_events_then_heartbeat(len(executions)),
    )
    assert [e.id for e in flatten(responses)] == executions
    symbol = SYMBOLS[1].symbol
    positions = [
        c
        for c in sim.position_changes()
        if firm_of(c.position.account) == "SIM-ALPHA" and c.position.symbol == symbol
    ]
    responses = read(
        stub.CreatePositionChangeSubscription(
            pb.CreatePositionChangeSubscriptionRequest(
                resume_time=EPOCH, firms=["firms/SIM-ALPHA"], symbols=[symbol]
            ),
            timeout=DEADLINE,
        ),
        until_events_then_heartbeat(len(positions)),
    )
    assert flatten(responses) == positions


def test_a_trade_matches_a_firm_on_either_side(sim: SimulatorThread, stub: Any) -> None:
    def sides(trade: Any) -> set[str]:
        return {firm_of(trade.aggressor.order.account), firm_of(trade.passive.order.account)}

    expected = [(t.id, t.state) for t in sim.trades() if "SIM-CHARLIE" in sides(t)]
    assert any(sides(t) != {"SIM-CHARLIE"} for t in sim.trades() if "SIM-CHARLIE" in sides(t))
    responses = read(
        stub.CreateTradeCaptureReportSubscription(
            pb.CreateTradeCaptureReportSubscriptionRequest(
                resume_time=EPOCH, firms=["SIM-CHARLIE"]
            ),
            timeout=DEADLINE,
        ),
        until_events_then_heartbeat(len(expected)),
    )
    assert [(t.id, t.state) for t in flatten(responses)] == expected


# ------------------------------------------------------------------------- instruments, quiet


def test_instrument_stream_sends_the_current_state_of_each_symbol_first(
    sim: SimulatorThread, stub: Any
) -> None:
    current = {i.symbol: i for i in sim.instruments()}
    responses = read(
        stub.CreateInstrumentStateChangeSubscription(
            pb.CreateInstrumentStateChangeSubscriptionRequest(), timeout=DEADLINE
        ),
        lambda rs: len(rs) == 2,
    )
    snapshot, heartbeat = responses
    assert [i.symbol for i in snapshot.instruments] == [s.symbol for s in SYMBOLS]
    assert all(i == current[i.symbol] for i in snapshot.instruments)
    assert list(heartbeat.instruments) == []
    assert position_of(heartbeat.resume_token) == len(sim.instruments())

    # Spec §4.8: a snapshot on every connect, the old position not relied on. Resuming from
    # the epoch sends the symbol's current state, not the states it went through before.
    wanted = SYMBOLS[3].symbol
    assert len([i for i in sim.instruments() if i.symbol == wanted]) > 1
    responses = read(
        stub.CreateInstrumentStateChangeSubscription(
            pb.CreateInstrumentStateChangeSubscriptionRequest(resume_time=EPOCH, symbols=[wanted]),
            timeout=DEADLINE,
        ),
        until_events_then_heartbeat(1),
    )
    assert flatten(responses) == [current[wanted]]
    assert position_of(responses[-1].resume_token) == len(sim.instruments())


def test_quiet_streams_send_heartbeats_with_a_fresh_token(sim: SimulatorThread, stub: Any) -> None:
    call = stub.CreateDropCopySubscription(pb.CreateDropCopySubscriptionRequest(), timeout=DEADLINE)
    arrivals: list[float] = []

    def three(responses: list[Any]) -> bool:
        arrivals.append(time.monotonic())
        return len(responses) == 3

    opened = time.monotonic()
    responses = read(call, three)
    assert all(len(r.executions) == 0 for r in responses)
    assert all(
        covered(r.resume_token) == (sim.instance_id, Stream.EXECUTIONS, TOTAL) for r in responses
    )
    gaps = [b - a for a, b in zip([opened, *arrivals], arrivals, strict=False)]
    assert all(HEARTBEAT * 0.8 <= gap <= HEARTBEAT * 5 for gap in gaps), gaps


# -------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("request_fields", "message"),
    [
        ({"resume_token": b"\xff\x00garbage"}, "not a simulator token"),
        ({"resume_token": b"fbsim1:abc:executions"}, "not a simulator token"),
        ({"resume_token": b"fbsim1:0000000000000000:executions:1"}, "another simulator"),
        ({"resume_token": "TRADES"}, "belongs to the trades stream"),
        ({"resume_token": "PAST_END"}, "past the end"),
        ({"resume_token": "VALID", "resume_time": EPOCH}, "mutually exclusive"),
        ({"symbols": ["no-such-symbol"]}, "unknown symbols: no-such-symbol"),
        ({"firms": ["SIM-NOPE"]}, "unknown firms: SIM-NOPE"),
    ],
)
def test_bad_requests_end_with_invalid_argument(
    sim: SimulatorThread,
    stub: Any,
    request_fields: dict[str, Any],
    message: str,
) -> None:
    named = {
        "TRADES": ResumeToken(sim.instance_id, Stream.TRADES, 1).encode(),
        "PAST_END": ResumeToken(sim.instance_id, Stream.EXECUTIONS, TOTAL + 1).encode(),
        "VALID": ResumeToken(sim.instance_id, Stream.EXECUTIONS, 1).encode(),
    }
    fields: dict[str, Any] = {
        k: named.get(v, v) if isinstance(v, str) else v for k, v in request_fields.items()
    }
    call = stub.CreateDropCopySubscription(
        pb.CreateDropCopySubscriptionRequest(**fields), timeout=DEADLINE
    )
    with pytest.raises(grpc.RpcError) as failure:
        next(iter(call))
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in failure.value.details()
