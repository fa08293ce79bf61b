"""Every simulator fault, and the ReportAPI, seen by a real gRPC client over localhost.

Most tests share one simulator that produced exactly 1,500 executions as fast as it could (with
5 % of them deliberately malformed) and then went quiet, so its logs are known; each test flips
the fault plan's knobs from this thread and an autouse fixture switches them off afterwards.
Live behaviour (access-token revocation with auth, a combined run) gets its own simulator.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from fixbridge.proto.polymarket.v1 import dropcopy_pb2 as pb
from fixbridge.proto.polymarket.v1 import (
    dropcopy_pb2_grpc,
    enums_pb2,
    report_pb2,
    report_pb2_grpc,
)
from fixbridge.simulator.auth import (
    ClientRegistration,
    SimulatorAuth,
)
from fixbridge.simulator.faults import (
    ABORT_MESSAGE,
    DROP_MESSAGE,
    ENABLEABLE,
    REFUSE_MESSAGE,
    Defect,
    FaultKind,
    FaultPlan,
)
from fixbridge.simulator.server import SimulatorThread
from fixbridge.simulator.streams import Stream
from fixbridge.simulator.times import NS_PER_SECOND, from_timestamp, to_rfc3339, to_timestamp
from fixbridge.simulator.tokens import ResumeToken
from tests.auth_keys import bearer_metadata, public_pem, rsa_key
from tests.integration.test_simulator_grpc import read

pytestmark = pytest.mark.integration

TOTAL = 1_500
HEARTBEAT = 0.2
DEADLINE = 15.0
EPOCH = Timestamp()
Code = grpc.StatusCode
PRODUCED_DEFECTS: dict[Defect, int] = {}
"""What the shared simulator's malformed-event fault did while it produced its log."""


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    faults = FaultPlan(11)
    faults.malformed(0.05)
    with SimulatorThread(
        seed=11, rate=0, max_executions=TOTAL, heartbeat_interval=HEARTBEAT, faults=faults
    ) as simulator:
        simulator.wait_for_executions(TOTAL, timeout=20)
        faults.disable_all()
        PRODUCED_DEFECTS.update(faults.defect_counts())
        yield simulator


@pytest.fixture(autouse=True)
def calm(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test on the shared simulator counts from zero, and whatever it switched on is off
    again for the next one."""
    plan = request.getfixturevalue("sim").faults if "sim" in request.fixturenames else None
    if plan is not None:
        plan.reset_counts()
    yield
    if plan is not None:
        plan.disable_all()
        plan.set_resume_token_ttl(None)
        plan.set_replay_window(None)


@pytest.fixture(scope="module")
def channel(sim: SimulatorThread) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(sim.address) as opened:
        yield opened


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> Any:
    return dropcopy_pb2_grpc.DropCopyAPIStub(channel)  # type: ignore[no-untyped-call]


@pytest.fixture(scope="module")
def report(channel: grpc.Channel) -> Any:
    return report_pb2_grpc.ReportAPIStub(channel)  # type: ignore[no-untyped-call]


def executions(stub: Any, **fields: Any) -> Any:
    return stub.CreateDropCopySubscription(
        pb.CreateDropCopySubscriptionRequest(**fields), timeout=DEADLINE
    )


def ids(responses: list[Any]) -> list[str]:
    return [e.id for r in responses for e in r.executions]


def until_heartbeat_after(count: int) -> Callable[[list[Any]], bool]:
    """Done at the first empty response once ``count`` executions arrived."""
    return lambda rs: len(ids(rs)) >= count and not rs[-1].executions


def refused(call: Any) -> grpc.RpcError:
    """The error a stream ends with before or after some responses."""
    with pytest.raises(grpc.RpcError) as failure:
        for _ in call:
            pass
    error: grpc.RpcError = failure.value
    return error


def token_at(sim: SimulatorThread, position: int) -> bytes:
    return ResumeToken(sim.instance_id, Stream.EXECUTIONS, position, time.time_ns()).encode()


# ------------------------------------------------------------------------- b. refused opens


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (Code.UNAVAILABLE, REFUSE_MESSAGE),
        (Code.RESOURCE_EXHAUSTED, "too many streams for this firm"),
        (Code.PERMISSION_DENIED, "permission denied: missing required scope read:dropcopy"),
        (Code.DEADLINE_EXCEEDED, "upstream deadline"),
        (Code.INTERNAL, "internal error"),
    ],
)
def test_refused_opens_carry_the_chosen_status(
    sim: SimulatorThread, stub: Any, code: grpc.StatusCode, message: str
) -> None:
    sim.faults.refuse_opens(2, code, message)
    for _ in range(2):
        error = refused(executions(stub))
        assert (error.code(), error.details()) == (code, message)
    assert len(read(executions(stub), lambda rs: len(rs) == 1)) == 1, "the third open works"
    assert sim.faults.refused_codes()[code] >= 2


def test_opens_are_refused_for_a_while_then_let_through(sim: SimulatorThread, stub: Any) -> None:
    sim.faults.refuse_opens(duration_s=0.6)
    started = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        try:
            read(executions(stub), lambda rs: True)
            break
        except grpc.RpcError as error:
            assert error.code() == Code.UNAVAILABLE
            time.sleep(0.05)
    assert attempts > 2 and time.monotonic() - started >= 0.55


# ---------------------------------------------------------------------- a. abort mid-batch


def test_an_abort_mid_replay_is_unavailable_and_its_last_token_resumes_exactly(
    sim: SimulatorThread, stub: Any
) -> None:
    log = [e.id for e in sim.executions()]
    sim.faults.abort_mid_batch(1.0)
    responses: list[Any] = []
    with pytest.raises(grpc.RpcError) as failure:
        for response in executions(stub, resume_time=EPOCH):
            responses.append(response)
    assert failure.value.code() == Code.UNAVAILABLE
    assert failure.value.details() == ABORT_MESSAGE
    assert ids(responses) == log[:100], "one complete response, then the abort"
    assert sim.faults.count(FaultKind.ABORT_MID_BATCH) == 1
    sim.faults.abort_mid_batch(0.0)
    rest = read(executions(stub, resume_token=responses[-1].resume_token),
                until_heartbeat_after(TOTAL - 100))
    assert ids(responses) + ids(rest) == log


def test_no_abort_when_nothing_more_is_pending(sim: SimulatorThread, stub: Any) -> None:
    sim.faults.abort_mid_batch(1.0)
    responses = read(executions(stub, resume_token=token_at(sim, TOTAL - 50)),
                      lambda rs: len(rs) == 3)
    assert [len(r.executions) for r in responses] == [50, 0, 0]
    assert sim.faults.count(FaultKind.ABORT_MID_BATCH) == 0


# ------------------------------------------------------------------- d. overlap on resume


def test_a_resumed_stream_starts_k_events_early(sim: SimulatorThread, stub: Any) -> None:
    log = [e.id for e in sim.executions()]
    sim.faults.overlap_on_resume(7)
    responses = read(executions(stub, resume_token=token_at(sim, 300)),
                     until_heartbeat_after(TOTAL - 293))
    assert ids(responses) == log[293:], "7 duplicates, then exactly the rest"
    times = [from_timestamp(e.transact_time) for e in sim.executions()]
    first = next(i for i, t in enumerate(times) if t >= times[800])
    since = sim.executions()[800].transact_time
    responses = read(executions(stub, resume_time=since), until_heartbeat_after(TOTAL - first + 7))
    assert ids(responses) == log[first - 7:]
    assert sim.faults.count(FaultKind.OVERLAP_ON_RESUME) == 2
    assert sim.faults.count(FaultKind.OVERLAP_EVENTS) == 14


def test_a_live_only_stream_gets_no_overlap(sim: SimulatorThread, stub: Any) -> None:
    sim.faults.overlap_on_resume(7)
    responses = read(executions(stub), lambda rs: len(rs) == 2)
    assert ids(responses) == []
    assert sim.faults.count(FaultKind.OVERLAP_ON_RESUME) == 0


# ------------------------------------------------ e. resume-token expiry and replay window


def test_expired_tokens_are_failed_precondition(sim: SimulatorThread, stub: Any) -> None:
    stored = read(executions(stub, resume_token=token_at(sim, 1000)),
                  lambda rs: len(rs) == 2)[-1].resume_token
    sim.faults.expire_resume_tokens_now()
    error = refused(executions(stub, resume_token=stored))
    assert error.code() == Code.FAILED_PRECONDITION
    assert error.details().startswith("resume_token expired: issued ")
    fresh = read(executions(stub, resume_time=EPOCH), lambda rs: len(rs) == 1)[-1].resume_token
    assert len(read(executions(stub, resume_token=fresh), lambda rs: len(rs) == 1)) == 1
    other = ResumeToken("0" * 16, Stream.EXECUTIONS, 1, 0).encode()
    assert refused(executions(stub, resume_token=other)).code() == Code.INVALID_ARGUMENT
    assert sim.faults.count(FaultKind.EXPIRED_TOKEN_REFUSED) == 1


def test_tokens_older_than_the_ttl_are_failed_precondition(
    sim: SimulatorThread, stub: Any
) -> None:
    sim.faults.set_resume_token_ttl(0.3)
    token = token_at(sim, TOTAL)
    assert len(read(executions(stub, resume_token=token), lambda rs: True)) == 1
    time.sleep(0.35)
    error = refused(executions(stub, resume_token=token))
    assert error.code() == Code.FAILED_PRECONDITION
    assert "older than resume_token_ttl_s=0.3" in error.details()
    legacy = ResumeToken(sim.instance_id, Stream.EXECUTIONS, 5).encode()
    assert "carries no issue time" in refused(executions(stub, resume_token=legacy)).details()


def test_a_resume_time_before_the_window_is_out_of_range_but_reports_keep_history(
    sim: SimulatorThread, stub: Any, report: Any
) -> None:
    sim.faults.set_replay_window(30.0)
    before = time.time_ns()
    error = refused(executions(stub, resume_time=EPOCH))
    assert error.code() == Code.OUT_OF_RANGE
    prefix = "resume_time 1970-01-01T00:00:00Z is before the replay window (earliest "
    assert error.details().startswith(prefix)
    earliest = error.details()[len(prefix):-1]
    assert earliest >= to_rfc3339(before - 30 * NS_PER_SECOND)
    recent = to_timestamp(time.time_ns() - 10 * NS_PER_SECOND)
    assert len(read(executions(stub, resume_time=recent), lambda rs: True)) == 1
    assert sim.faults.count(FaultKind.REPLAY_WINDOW_REFUSED) == 1
    old = report.SearchExecutions(report_pb2.SearchExecutionsRequest(page_size=5))
    assert [e.id for e in old.executions] == [e.id for e in sim.executions()[:5]]


# -------------------------------------------------------------------- f. stall, and drops


def arrivals(call: Any, count: int) -> list[float]:
    """When each of the first ``count`` responses arrived."""
    times: list[float] = []

    def done(responses: list[Any]) -> bool:
        times.append(time.monotonic())
        return len(responses) == count

    read(call, done)
    return times


def test_a_stall_silences_a_stream_without_closing_it(sim: SimulatorThread, stub: Any) -> None:
    call = executions(stub, resume_token=token_at(sim, TOTAL))
    times: list[float] = []
    stalled_at = 0.0

    def done(responses: list[Any]) -> bool:
        nonlocal stalled_at
        times.append(time.monotonic())
        if len(responses) == 2:
            stalled_at = time.monotonic()
            sim.faults.stall_now(1.0)
        return len(responses) == 5

    read(call, done)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert times[2] - stalled_at >= 0.95, "nothing at all, not even a heartbeat"
    assert all(gap < 0.6 for gap in gaps[2:]), f"heartbeats resume: {gaps}"
    assert sim.faults.count(FaultKind.STALL) == 1


def test_a_random_stall_after_a_response(sim: SimulatorThread, stub: Any) -> None:
    sim.faults.stall(1.0, 0.6)
    times = arrivals(executions(stub, resume_token=token_at(sim, TOTAL)), 3)
    assert times[1] - times[0] >= 0.55 and times[2] - times[1] >= 0.55
    assert sim.faults.count(FaultKind.STALL) >= 2


def test_a_drop_ends_the_open_streams_only(sim: SimulatorThread, stub: Any) -> None:
    old = executions(stub, resume_token=token_at(sim, TOTAL))
    next(old)
    sim.faults.drop_streams_now()
    error = refused(old)
    assert (error.code(), error.details()) == (Code.UNAVAILABLE, DROP_MESSAGE)
    assert len(read(executions(stub), lambda rs: len(rs) == 2)) == 2
    assert sim.faults.count(FaultKind.STREAM_DROPPED) == 1


# -------------------------------------------------------------------- g. malformed events


def test_malformed_events_are_the_simulators_events_everywhere(
    sim: SimulatorThread, stub: Any, report: Any
) -> None:
    log = sim.executions()
    broken = [e for e in log if not e.HasField("order") or e.type > 7 or e.order.side > 2
              or e.order.type > 4 or e.order.price_scale <= 0
              or e.order.fractional_quantity_scale <= 0]
    assert len(broken) >= 30 and all(e.id for e in broken)
    assert any(not e.HasField("order") for e in broken)
    execution_defects = (Defect.UNKNOWN_SIDE, Defect.UNKNOWN_EXECUTION_TYPE,
                         Defect.UNKNOWN_ORDER_TYPE, Defect.MISSING_ORDER,
                         Defect.BAD_PRICE_SCALE, Defect.BAD_QUANTITY_SCALE)
    assert all(PRODUCED_DEFECTS.get(d, 0) > 0 for d in execution_defects), PRODUCED_DEFECTS
    streamed = read(executions(stub, resume_time=EPOCH), until_heartbeat_after(TOTAL))
    assert [e for r in streamed for e in r.executions] == log, "byte for byte"
    request = report_pb2.SearchExecutionsRequest(page_size=1000)
    first = report.SearchExecutions(request)
    request.page_token = first.next_page_token
    second = report.SearchExecutions(request)
    assert second.eof and [*first.executions, *second.executions] == log
    # An execution without its order has no symbol on the wire, but the simulator still knows
    # the one it was produced for, and a symbol-filtered stream and a search still select it.
    entries = sim.server.store.executions.read(0, TOTAL)
    orphan = next(x for x in entries if not x.event.HasField("order"))
    same_symbol = [x.event.id for x in entries if x.symbol == orphan.symbol]
    by_symbol = read(executions(stub, resume_time=EPOCH, symbols=[orphan.symbol]),
                     until_heartbeat_after(len(same_symbol)))
    assert ids(by_symbol) == same_symbol and orphan.event.id in same_symbol
    searched = report.SearchExecutions(report_pb2.SearchExecutionsRequest(
        symbol=orphan.symbol, exec_ids=[orphan.event.id]))
    assert list(searched.executions) == [orphan.event]


# ------------------------------------------------------------------------------- ReportAPI


def test_search_executions_pages_through_exactly_a_time_range(
    sim: SimulatorThread, report: Any
) -> None:
    log = sim.executions()
    start, end = log[100].transact_time, log[1200].transact_time
    expected = [e.id for e in log
                if from_timestamp(start) <= from_timestamp(e.transact_time) < from_timestamp(end)]
    for newest_first in (False, True):
        request = report_pb2.SearchExecutionsRequest(
            start_time=start, end_time=end, page_size=97, newest_first=newest_first)
        got: list[str] = []
        pages = 0
        while True:
            page = report.SearchExecutions(request)
            pages += 1
            assert len(page.executions) <= 97
            got += [e.id for e in page.executions]
            assert page.eof == (page.next_page_token == "")
            if page.eof:
                break
            request.page_token = page.next_page_token
        assert got == (expected[::-1] if newest_first else expected)
        assert pages == -(-len(expected) // 97)


def test_search_trades_returns_every_state_record(sim: SimulatorThread, report: Any) -> None:
    trades = sim.trades()
    cleared = next(t for t in trades if t.state == enums_pb2.TRADE_STATE_CLEARED)
    page = report.SearchTrades(report_pb2.SearchTradesRequest(trade_id=cleared.id))
    states = [t.state for t in page.trades]
    assert states[:2] == [enums_pb2.TRADE_STATE_NEW, enums_pb2.TRADE_STATE_CLEARED]
    assert list(page.trades) == [t for t in trades if t.id == cleared.id] and page.eof
    by_exec = report.SearchTrades(report_pb2.SearchTradesRequest(exec_id=cleared.passive.id))
    assert list(by_exec.trades) == list(page.trades)


def test_report_requests_are_checked(sim: SimulatorThread, report: Any) -> None:
    first = report.SearchExecutions(report_pb2.SearchExecutionsRequest(page_size=10))
    changed = report_pb2.SearchExecutionsRequest(symbol=sim.executions()[0].order.symbol,
                                                 page_token=first.next_page_token)
    with pytest.raises(grpc.RpcError) as failure:
        report.SearchExecutions(changed)
    assert failure.value.code() == Code.INVALID_ARGUMENT
    assert "different search" in failure.value.details()
    with pytest.raises(grpc.RpcError) as failure:
        report.SearchExecutions(report_pb2.SearchExecutionsRequest(page_size=-1))
    assert failure.value.code() == Code.INVALID_ARGUMENT


def test_report_rate_limit_is_resource_exhausted(sim: SimulatorThread, report: Any) -> None:
    limiter = sim.server.report.rate_limit
    limiter.set_limit(2)
    try:
        for _ in range(2):
            report.SearchTrades(report_pb2.SearchTradesRequest(page_size=1))
        with pytest.raises(grpc.RpcError) as failure:
            report.SearchTrades(report_pb2.SearchTradesRequest(page_size=1))
        assert failure.value.code() == Code.RESOURCE_EXHAUSTED
        assert failure.value.details() == (
            "rate limit exceeded: SearchTrades allows 2 requests per minute")
        report.SearchExecutions(report_pb2.SearchExecutionsRequest(page_size=1))
    finally:
        limiter.set_limit(None)


# ------------------------------------------------------------ c. access tokens mid-stream


def test_revoking_access_tokens_without_auth_does_nothing(sim: SimulatorThread) -> None:
    assert sim.faults.revoke_access_tokens_now() is False
    assert sim.faults.count(FaultKind.REVOKE_SKIPPED) >= 1


def test_revoked_access_tokens_keep_open_streams_and_refuse_new_opens() -> None:
    key = rsa_key("faults")
    auth = SimulatorAuth({"fault-client": ClientRegistration(
        public_pem(key), frozenset({"read:dropcopy"}))})

    def bearer() -> tuple[tuple[str, str]]:
        return bearer_metadata(auth, key, "fault-client")

    with (
        SimulatorThread(seed=3, rate=0, max_executions=50, heartbeat_interval=HEARTBEAT,
                        auth=auth) as live,
        grpc.insecure_channel(live.address) as channel,
    ):
        live.wait_for_executions(50, timeout=10)
        stub = dropcopy_pb2_grpc.DropCopyAPIStub(channel)  # type: ignore[no-untyped-call]
        metadata = bearer()
        call = stub.CreateDropCopySubscription(
            pb.CreateDropCopySubscriptionRequest(), metadata=metadata, timeout=DEADLINE)
        next(call)
        assert live.faults.revoke_access_tokens_now() is True
        assert len(read(call, lambda rs: len(rs) == 3)) == 3, "the open stream goes on"
        error = refused(stub.CreateDropCopySubscription(
            pb.CreateDropCopySubscriptionRequest(), metadata=metadata, timeout=DEADLINE))
        assert (error.code(), error.details()) == (Code.UNAUTHENTICATED, "access token revoked")
        renewed = stub.CreateDropCopySubscription(
            pb.CreateDropCopySubscriptionRequest(), metadata=bearer(), timeout=DEADLINE)
        assert len(read(renewed, lambda rs: True)) == 1
        assert live.faults.count(FaultKind.REVOKE_ACCESS_TOKENS) == 1


# ------------------------------------------------------------------------- all at once


def test_every_fault_at_once_and_a_persistent_client_still_gets_everything() -> None:
    """enable_all at a compressed period: each fault happens, and a client that resumes by
    token, falls back to resume_time on an expired token and dedups ends with the full log."""
    received: dict[str, int] = {}
    errors: list[grpc.StatusCode] = []
    stop = threading.Event()

    def consume(address: str) -> None:
        token, fallback, last = b"", 0, 0
        with grpc.insecure_channel(address) as channel:
            stub = dropcopy_pb2_grpc.DropCopyAPIStub(channel)  # type: ignore[no-untyped-call]
            while not stop.is_set():
                fields: dict[str, Any] = (
                    {"resume_token": token} if token else {"resume_time": to_timestamp(fallback)})
                call = stub.CreateDropCopySubscription(
                    pb.CreateDropCopySubscriptionRequest(**fields))
                try:
                    for response in call:
                        for execution in response.executions:
                            received[execution.id] = received.get(execution.id, 0) + 1
                            last = max(last, from_timestamp(execution.transact_time))
                        token = response.resume_token
                        if stop.is_set():
                            call.cancel()
                except grpc.RpcError as error:
                    errors.append(error.code())
                    if error.code() == Code.FAILED_PRECONDITION:
                        token, fallback = b"", max(0, last - NS_PER_SECOND // 2)
                    time.sleep(0.05)

    with SimulatorThread(seed=5, rate=400, max_executions=2_400,
                         heartbeat_interval=HEARTBEAT) as live:
        live.faults.enable_all(period_s=0.8, stall_s=0.3)
        live.faults.abort_mid_batch(0.5, min_interval_s=0.4)
        worker = threading.Thread(target=consume, args=(live.address,), daemon=True)
        worker.start()
        live.wait_for_executions(2_400, timeout=15)
        time.sleep(1.0)
        counts = live.faults.counts()
        live.faults.disable_all()
        log = [e.id for e in live.executions()]
        deadline = time.monotonic() + 10
        while set(received) != set(log) and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        worker.join(5)
    for kind in ENABLEABLE:
        if kind is not FaultKind.REVOKE_ACCESS_TOKENS:
            assert counts.get(kind, 0) >= 1, (kind, counts)
    assert counts.get(FaultKind.REVOKE_SKIPPED, 0) >= 1, "no auth here: said so"
    assert counts.get(FaultKind.EXPIRED_TOKEN_REFUSED, 0) >= 1, counts
    assert {Code.UNAVAILABLE, Code.FAILED_PRECONDITION} <= set(errors)
    assert set(received) == set(log), "every execution arrived"
    assert any(n > 1 for n in received.values()), "and some more than once (overlap)"
