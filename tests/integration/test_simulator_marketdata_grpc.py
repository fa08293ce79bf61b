"""The simulator's MarketDataSubscriptionAPI seen by a real gRPC client over localhost.

Expected values come from the exchange's market-data streaming page (the seed document
003_6157fb6ab5205f94) and the simulator's reference data, not from the servicer: an empty
symbol list is every instrument (8 here), depth defaults to 10, snapshot_only closes after the
snapshot, Heartbeats keep a quiet stream alive, a subscribe is acknowledged with the symbols
added, removed and active, errors are INVALID_SYMBOL / ALREADY_SUBSCRIBED / NOT_SUBSCRIBED, at
most 1000 symbols per stream, KeepAliveCommand gets no response and keeps a stream inside the
idle window, and a resolution settles at 0 or $1.00 (100 at price_scale 100), preliminary first
(settlement_preliminary true), then final, with method SETTLEMENT_PRICE_CALCULATION_METHOD_
EVENT_TIER_1, shown only while CLOSED, EXPIRED or TERMINATED.

Most tests share one simulator that produced 1,500 executions as fast as it could (so the
expiring contract has resolved and terminated) and then went quiet.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from fixbridge.proto.polymarket.v1 import enums_pb2, marketdatasubscription_pb2_grpc
from fixbridge.proto.polymarket.v1 import marketdatasubscription_pb2 as md
from fixbridge.simulator.auth import ClientRegistration, SimulatorAuth
from fixbridge.simulator.server import SimulatorThread
from tests.auth_keys import bearer_metadata, public_pem, rsa_key

pytestmark = pytest.mark.integration

E = enums_pb2
Code = grpc.StatusCode
HEARTBEAT = 0.3
DEADLINE = 20.0
SYMBOL_ORDER = [
    "nfl-kc-buf-2026-11-22-kc",
    "nfl-kc-buf-2026-11-22-buf",
    "nba-lal-bos-2026-11-21-lal",
    "nhl-tor-mtl-2026-11-28-tor",
    "pres-2028-dem",
    "fed-cut-2026-12-16",
    "epl-ars-che-2026-11-29-draw",
    "btc-above-150k-2026-12-31",
]
LAL = "nba-lal-bos-2026-11-21-lal"  # the expiring contract, price_scale 100
LAL_OUTCOMES = {100: "Los Angeles Lakers win", 0: "Boston Celtics win"}
TIER_1 = "SETTLEMENT_PRICE_CALCULATION_METHOD_EVENT_TIER_1"
SETTLED = {E.INSTRUMENT_STATE_CLOSED, E.INSTRUMENT_STATE_EXPIRED, E.INSTRUMENT_STATE_TERMINATED}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(seed=2, rate=0, max_executions=1_500,
                         heartbeat_interval=HEARTBEAT) as quiet:
        quiet.wait_for_executions(1_500, timeout=30)
        yield quiet


@pytest.fixture(scope="module")
def stub(sim: SimulatorThread) -> Iterator[Any]:
    with grpc.insecure_channel(sim.address) as channel:
        yield make_stub(channel)


def make_stub(channel: grpc.Channel) -> Any:
    """The generated stub (untyped code)."""
    return marketdatasubscription_pb2_grpc.MarketDataSubscriptionAPIStub(channel)  # type: ignore[no-untyped-call]


def event(response: Any) -> str:
    kind: str = response.WhichOneof("event")
    return kind


class Bidi:
    """One BiDirectionalStreamMarketData call: requests in through a queue, responses read by a
    thread into another queue, so a test can wait for the next response with a timeout."""

    def __init__(self, stub: Any, metadata: tuple[tuple[str, str], ...] = ()) -> None:
        self._requests: queue.Queue[md.BiDirectionalStreamMarketDataRequest | None] = (
            queue.Queue())
        self.responses: queue.Queue[md.BiDirectionalStreamMarketDataResponse] = queue.Queue()
        self.error: grpc.RpcError | None = None
        self.ended = threading.Event()
        self.call = stub.BiDirectionalStreamMarketData(
            iter(self._requests.get, None), timeout=DEADLINE, metadata=metadata)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        try:
            for response in self.call:
                self.responses.put(response)
        except grpc.RpcError as exc:
            self.error = exc
        finally:
            self.ended.set()

    def send(self, **command: Any) -> None:
        self._requests.put(md.BiDirectionalStreamMarketDataRequest(**command))

    def subscribe(self, *symbols: str, **options: Any) -> None:
        self.send(subscribe=md.SubscribeCommand(symbols=symbols), **options)

    def unsubscribe(self, *symbols: str) -> None:
        self.send(unsubscribe=md.UnsubscribeCommand(symbols=symbols))

    def keepalive(self) -> None:
        self.send(keepalive=md.KeepAliveCommand())

    def next(self, timeout: float = 5.0) -> md.BiDirectionalStreamMarketDataResponse:
        """The next response that is not a Heartbeat."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.responses.get(timeout=max(0.0, deadline - time.monotonic()))
            if event(response) != "heartbeat":
                return response

    def close(self) -> None:
        self.call.cancel()
        self._requests.put(None)


@pytest.fixture
def bidi(stub: Any) -> Iterator[Bidi]:
    opened = Bidi(stub)
    yield opened
    opened.close()


def book_is_aggregated(update: md.MarketDataUpdate, depth: int) -> bool:
    bids = [e.px for e in update.bids]
    offers = [e.px for e in update.offers]
    return (len(bids) <= depth and len(offers) <= depth
            and bids == sorted(set(bids), reverse=True) and offers == sorted(set(offers)))


def assert_final_lal(update: md.MarketDataUpdate) -> None:
    stats = update.stats
    assert update.symbol == LAL and update.state == E.INSTRUMENT_STATE_TERMINATED
    assert stats.settlement_preliminary is False
    assert stats.settlement_price_calculation_method == TIER_1
    assert LAL_OUTCOMES[stats.settlement_px] == stats.settlement_price_calculation_text
    assert stats.HasField("settlement_set_time")


# ------------------------------------------------------------------------------ server stream


def test_server_stream_sends_every_symbol_first_then_heartbeats_when_quiet(stub: Any) -> None:
    call = stub.CreateMarketDataSubscription(md.CreateMarketDataSubscriptionRequest(),
                                             timeout=DEADLINE)
    responses = []
    for response in call:
        responses.append(response)
        if len(responses) == len(SYMBOL_ORDER) + 2:
            break
    call.cancel()
    snapshot = [r.update for r in responses[:len(SYMBOL_ORDER)]]
    assert [event(r) for r in responses] == ["update"] * 8 + ["heartbeat"] * 2
    assert [u.symbol for u in snapshot] == SYMBOL_ORDER
    assert all(book_is_aggregated(u, 10) for u in snapshot)
    assert all(u.HasField("state") and u.stats.HasField("open_interest") for u in snapshot)
    assert_final_lal(snapshot[2])
    assert all(not u.stats.HasField("settlement_px") for u in snapshot if u.state not in SETTLED)


def test_snapshot_only_ends_the_stream_after_the_named_symbols(stub: Any) -> None:
    call = stub.CreateMarketDataSubscription(md.CreateMarketDataSubscriptionRequest(
        symbols=["pres-2028-dem", LAL], depth=1, snapshot_only=True), timeout=DEADLINE)
    updates = [r.update for r in call]
    assert call.code() == Code.OK
    assert [u.symbol for u in updates] == ["pres-2028-dem", LAL]
    assert all(len(u.bids) <= 1 and len(u.offers) <= 1 for u in updates)


def test_the_server_stream_sends_updates_as_the_market_moves() -> None:
    with (
        SimulatorThread(seed=5, rate=300, heartbeat_interval=HEARTBEAT) as live,
        grpc.insecure_channel(live.address) as channel,
    ):
        live.wait_for_executions(20, timeout=10)
        call = make_stub(channel).CreateMarketDataSubscription(
            md.CreateMarketDataSubscriptionRequest(symbols=SYMBOL_ORDER[:2], unaggregated=True),
            timeout=DEADLINE)
        updates = []
        for response in call:
            if event(response) == "update":
                updates.append(response.update)
            if len(updates) == 12:
                break
        call.cancel()
    assert [u.symbol for u in updates[:2]] == SYMBOL_ORDER[:2]
    assert {u.symbol for u in updates} <= set(SYMBOL_ORDER[:2])
    times = [u.transact_time.ToNanoseconds() for u in updates[2:]]
    assert times == sorted(times) and len(times) == 10


@pytest.mark.parametrize(("request_", "detail"), [
    (md.CreateMarketDataSubscriptionRequest(symbols=["no-such-symbol"]),
     "unknown symbols: no-such-symbol"),
    (md.CreateMarketDataSubscriptionRequest(symbols=[f"x-{i}" for i in range(1001)]),
     "1001 symbols requested; a stream takes at most 1000"),
    (md.CreateMarketDataSubscriptionRequest(depth=-1), "depth must be >= 0"),
])
def test_bad_server_stream_requests_end_with_invalid_argument(
    stub: Any, request_: md.CreateMarketDataSubscriptionRequest, detail: str
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        list(stub.CreateMarketDataSubscription(request_, timeout=DEADLINE))
    assert raised.value.code() == Code.INVALID_ARGUMENT
    assert detail in raised.value.details()


# ------------------------------------------------------------------------------ bidirectional


def test_subscribe_acks_then_sends_the_current_state_then_errors(bidi: Bidi) -> None:
    bidi.subscribe(LAL, "no-such-symbol", depth=3)
    error = bidi.next()
    assert event(error) == "subscription_error"
    assert (error.subscription_error.error_code, list(error.subscription_error.symbols)) == (
        "INVALID_SYMBOL", ["no-such-symbol"])
    ack = bidi.next().subscription_ack
    assert (list(ack.symbols_added), list(ack.active_symbols)) == ([LAL], [LAL])
    current = bidi.next()
    assert event(current) == "update"
    assert_final_lal(current.update)
    bidi.subscribe(LAL, "pres-2028-dem")
    again = bidi.next().subscription_error
    assert (again.error_code, list(again.symbols)) == ("ALREADY_SUBSCRIBED", [LAL])
    ack = bidi.next().subscription_ack
    assert list(ack.symbols_added) == ["pres-2028-dem"]
    assert list(ack.active_symbols) == [LAL, "pres-2028-dem"]
    dem = bidi.next().update
    assert dem.symbol == "pres-2028-dem" and book_is_aggregated(dem, 3)


def test_unsubscribe_acks_and_names_what_was_not_subscribed(bidi: Bidi) -> None:
    bidi.subscribe(LAL, "fed-cut-2026-12-16")
    assert event(bidi.next()) == "subscription_ack"
    assert [event(bidi.next()) for _ in range(2)] == ["update", "update"]
    bidi.unsubscribe("fed-cut-2026-12-16", "pres-2028-dem")
    missing = bidi.next().subscription_error
    assert (missing.error_code, list(missing.symbols)) == ("NOT_SUBSCRIBED", ["pres-2028-dem"])
    ack = bidi.next().subscription_ack
    assert (list(ack.symbols_removed), list(ack.active_symbols)) == (
        ["fed-cut-2026-12-16"], [LAL])
    assert ack.symbols_added == []


def test_a_stream_takes_at_most_1000_symbols(bidi: Bidi) -> None:
    names = [f"x-{i:04d}" for i in range(1001)]
    bidi.subscribe(*names[:1000])
    invalid = bidi.next().subscription_error
    assert invalid.error_code == "INVALID_SYMBOL" and len(invalid.symbols) == 1000
    assert list(bidi.next().subscription_ack.active_symbols) == []
    bidi.subscribe(*names)
    over = bidi.next().subscription_error
    assert over.error_code == "SYMBOL_LIMIT_EXCEEDED" and list(over.symbols) == names
    ack = bidi.next().subscription_ack
    assert list(ack.active_symbols) == [] and list(ack.symbols_added) == []
    bidi.subscribe(LAL)  # the stream is still usable
    assert list(bidi.next().subscription_ack.active_symbols) == [LAL]


def test_keepalive_holds_a_stream_open_and_silence_is_cut_unavailable() -> None:
    idle = 1.0
    with (
        SimulatorThread(seed=2, rate=0, max_executions=50, heartbeat_interval=HEARTBEAT,
                        market_data_idle_limit_s=idle) as short,
        grpc.insecure_channel(short.address) as channel,
    ):
        short.wait_for_executions(50, timeout=10)
        stub = make_stub(channel)
        kept, silent = Bidi(stub), Bidi(stub)
        try:
            for stream in (kept, silent):
                stream.subscribe("pres-2028-dem")
                assert event(stream.next()) == "subscription_ack"
                assert event(stream.next()) == "update"
            opened = time.monotonic()
            while time.monotonic() - opened < 3 * idle:
                kept.keepalive()
                time.sleep(idle / 4)
            assert silent.ended.wait(5.0)
            assert silent.error is not None and silent.error.code() == Code.UNAVAILABLE
            assert "no client-to-server message for 1 s" in silent.error.details()
            assert not kept.ended.is_set() and kept.error is None
            later = [kept.responses.get_nowait() for _ in range(kept.responses.qsize())]
            assert later and {event(r) for r in later} == {"heartbeat"}, (
                "a keepalive is answered by nothing")
        finally:
            kept.close()
            silent.close()


def test_a_resolution_streams_a_preliminary_then_the_final_settlement() -> None:
    with (
        SimulatorThread(seed=2, rate=500, max_executions=1_500,
                        heartbeat_interval=HEARTBEAT) as live,
        grpc.insecure_channel(live.address) as channel,
    ):
        stream = Bidi(make_stub(channel))
        try:
            stream.subscribe(LAL)
            assert event(stream.next()) == "subscription_ack"
            shown: list[md.MarketDataUpdate] = []
            while not shown or shown[-1].stats.settlement_preliminary:
                update = stream.next(timeout=15.0).update
                if update.stats.HasField("settlement_px"):
                    shown.append(update)
            logged = [c.settlement for c in live.settlements() if c.symbol == LAL]
        finally:
            stream.close()
    assert shown[0].stats.settlement_preliminary is True, "the preliminary comes first"
    assert shown[0].state == E.INSTRUMENT_STATE_CLOSED
    final = shown[-1]
    assert final.state == E.INSTRUMENT_STATE_EXPIRED
    assert final.stats.settlement_price_calculation_method == TIER_1
    assert LAL_OUTCOMES[final.stats.settlement_px] == final.stats.settlement_price_calculation_text
    assert all(u.stats.settlement_price_calculation_method == TIER_1 for u in shown)
    calls = {(u.stats.settlement_px, u.stats.settlement_preliminary) for u in shown}
    assert calls == {(s.px, s.preliminary) for s in logged if s.method == TIER_1}


def test_market_data_needs_the_read_marketdata_scope_and_no_participant() -> None:
    key = rsa_key()
    auth = SimulatorAuth({
        "md-reader": ClientRegistration(public_pem(key), frozenset({"read:marketdata"})),
        "dc-reader": ClientRegistration(public_pem(key), frozenset({"read:dropcopy"})),
    })
    with (
        SimulatorThread(seed=3, rate=0, max_executions=20, auth=auth) as guarded,
        grpc.insecure_channel(guarded.address) as channel,
    ):
        guarded.wait_for_executions(20, timeout=10)
        stub = make_stub(channel)
        request = md.CreateMarketDataSubscriptionRequest(symbols=[LAL], snapshot_only=True)
        allowed = list(stub.CreateMarketDataSubscription(
            request, timeout=DEADLINE, metadata=bearer_metadata(auth, key, "md-reader")))
        assert [r.update.symbol for r in allowed] == [LAL]
        with pytest.raises(grpc.RpcError) as denied:
            list(stub.CreateMarketDataSubscription(
                request, timeout=DEADLINE, metadata=bearer_metadata(auth, key, "dc-reader")))
        assert denied.value.code() == Code.PERMISSION_DENIED
        assert "missing required scope read:marketdata" in denied.value.details()
        refused = Bidi(stub)
        try:
            refused.subscribe(LAL)
            assert refused.ended.wait(5.0)
            assert refused.error is not None
            assert refused.error.code() == Code.UNAUTHENTICATED
        finally:
            refused.close()
