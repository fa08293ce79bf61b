"""The simulator's RefDataAPI.ListInstruments seen by a real gRPC client over localhost:
paging, the symbols filter, bad requests, the read:instruments scope and the refusal fault.

Expected values come from the exchange's documentation (page_size default 50, at most 1000;
symbols an exact filter; eof on the last page; scope read:instruments, no x-participant-id) and
from the simulator's reference data (8 symbols), not from the servicer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from fixbridge.proto.polymarket.v1 import (
    dropcopy_pb2,
    dropcopy_pb2_grpc,
    enums_pb2,
    refdata_pb2_grpc,
)
from fixbridge.proto.polymarket.v1 import refdata_pb2 as rd
from fixbridge.simulator.auth import (
    ClientRegistration,
    SimulatorAuth,
)
from fixbridge.simulator.faults import LIST_REFUSE_MESSAGE, FaultKind
from fixbridge.simulator.report import PageToken, decode_page_token
from fixbridge.simulator.server import SimulatorThread
from tests.auth_keys import bearer_metadata, public_pem, rsa_key
from tests.integration.test_simulator_grpc import read

pytestmark = pytest.mark.integration

Code = grpc.StatusCode
DEADLINE = 10.0
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
SCALES = {  # symbol -> (price_scale, fractional_qty_scale), from the reference data
    "nfl-kc-buf-2026-11-22-kc": (1000, 100),
    "nba-lal-bos-2026-11-21-lal": (100, 1),
    "pres-2028-dem": (1000, 1),
    "epl-ars-che-2026-11-29-draw": (100, 100),
}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(seed=5, rate=0, max_executions=200, heartbeat_interval=0.2) as live:
        live.wait_for_executions(200, timeout=20)
        yield live


@pytest.fixture(autouse=True)
def calm(request: pytest.FixtureRequest) -> Iterator[None]:
    plan = request.getfixturevalue("sim").faults if "sim" in request.fixturenames else None
    if plan is not None:
        plan.reset_counts()
    yield
    if plan is not None:
        plan.disable_all()


@pytest.fixture(scope="module")
def channel(sim: SimulatorThread) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(sim.address) as opened:
        yield opened


@pytest.fixture(scope="module")
def refdata(channel: grpc.Channel) -> Any:
    return refdata_pb2_grpc.RefDataAPIStub(channel)  # type: ignore[no-untyped-call]


def list_instruments(refdata: Any, **fields: Any) -> Any:
    return refdata.ListInstruments(rd.ListInstrumentsRequest(**fields), timeout=DEADLINE)


def refused(refdata: Any, **fields: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as failure:
        list_instruments(refdata, **fields)
    error: grpc.RpcError = failure.value
    return error


def test_one_default_page_holds_every_instrument_as_the_state_stream_sends_it(
    sim: SimulatorThread, refdata: Any, channel: grpc.Channel
) -> None:
    listed = list_instruments(refdata)
    assert [i.symbol for i in listed.instruments] == SYMBOL_ORDER
    assert (listed.eof, listed.next_page_token) == (True, "")
    for instrument in listed.instruments:
        if instrument.symbol in SCALES:
            assert (instrument.price_scale, instrument.fractional_qty_scale) == (
                SCALES[instrument.symbol])
    stream = dropcopy_pb2_grpc.DropCopyAPIStub(channel)  # type: ignore[no-untyped-call]
    call = stream.CreateInstrumentStateChangeSubscription(
        dropcopy_pb2.CreateInstrumentStateChangeSubscriptionRequest(), timeout=DEADLINE)
    snapshot = [i for r in read(call, lambda rs: sum(len(r.instruments) for r in rs) >= 8)
                for i in r.instruments]
    assert list(listed.instruments) == snapshot
    current = {i.symbol: i for i in sim.instruments()}
    assert all(i == current[i.symbol] for i in listed.instruments)
    assert {i.state for i in listed.instruments} <= set(enums_pb2.InstrumentState.values())


def test_pages_of_three_then_the_rest(refdata: Any) -> None:
    pages, token = [], ""
    while True:
        page = list_instruments(refdata, page_size=3, page_token=token)
        pages.append(page)
        token = page.next_page_token
        if page.eof:
            break
        assert token, "a page that is not the last gives a token"
    assert [len(p.instruments) for p in pages] == [3, 3, 2]
    assert [p.eof for p in pages] == [False, False, True]
    assert pages[-1].next_page_token == ""
    assert [i.symbol for p in pages for i in p.instruments] == SYMBOL_ORDER
    exact = list_instruments(refdata, page_size=8)
    assert (len(exact.instruments), exact.eof, exact.next_page_token) == (8, True, "")
    largest = list_instruments(refdata, page_size=1000)
    assert len(largest.instruments) == 8 and largest.eof


def test_symbols_select_exactly_and_page_on_their_own(refdata: Any) -> None:
    wanted = ["btc-above-150k-2026-12-31", "nba-lal-bos-2026-11-21-lal", "nba-lal",
              "pres-2028-dem"]
    listed = list_instruments(refdata, symbols=wanted)
    assert [i.symbol for i in listed.instruments] == [
        "nba-lal-bos-2026-11-21-lal", "pres-2028-dem", "btc-above-150k-2026-12-31"]
    assert listed.eof
    first = list_instruments(refdata, symbols=wanted, page_size=2)
    second = list_instruments(refdata, symbols=wanted, page_size=2,
                              page_token=first.next_page_token)
    assert [i.symbol for i in second.instruments] == ["btc-above-150k-2026-12-31"]
    assert second.eof
    nothing = list_instruments(refdata, symbols=["not-a-symbol"])
    assert (list(nothing.instruments), nothing.eof) == ([], True)
    error = refused(refdata, symbols=["pres-2028-dem"], page_size=2,
                    page_token=first.next_page_token)
    assert error.code() == Code.INVALID_ARGUMENT
    assert "different request" in (error.details() or "")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"page_size": -1}, "page_size must be between 0 and 1000, got -1"),
        ({"page_size": 1001}, "page_size must be between 0 and 1000, got 1001"),
        ({"page_token": "not a token"}, "page_token is not a page token of this simulator"),
    ],
)
def test_bad_page_size_or_token_is_invalid_argument(
    refdata: Any, fields: dict[str, Any], problem: str
) -> None:
    error = refused(refdata, **fields)
    assert (error.code(), error.details()) == (Code.INVALID_ARGUMENT, problem)


def test_a_token_of_another_simulator_is_invalid_argument(refdata: Any) -> None:
    issued = decode_page_token(list_instruments(refdata, page_size=3).next_page_token)
    foreign = PageToken("0000000000000000", issued.method, issued.query, issued.head,
                        issued.position).encode()
    error = refused(refdata, page_size=3, page_token=foreign)
    assert error.code() == Code.INVALID_ARGUMENT
    assert "another simulator instance" in (error.details() or "")


def test_refused_calls_get_the_fault_status_and_are_counted(
    sim: SimulatorThread, refdata: Any
) -> None:
    sim.faults.refuse_list_instruments(2, Code.RESOURCE_EXHAUSTED, "rate limit: 6 per minute")
    for _ in range(2):
        error = refused(refdata)
        assert (error.code(), error.details()) == (Code.RESOURCE_EXHAUSTED,
                                                   "rate limit: 6 per minute")
    assert len(list_instruments(refdata).instruments) == 8
    sim.faults.refuse_list_instruments(1)
    error = refused(refdata)
    assert (error.code(), error.details()) == (Code.UNAVAILABLE, LIST_REFUSE_MESSAGE)
    assert sim.faults.count(FaultKind.REFUSE_LIST_INSTRUMENTS) == 3


def test_list_instruments_needs_the_read_instruments_scope_and_no_participant() -> None:
    key = rsa_key("refdata")
    auth = SimulatorAuth({
        "instruments-only": ClientRegistration(public_pem(key), frozenset({"read:instruments"})),
        "dropcopy-only": ClientRegistration(public_pem(key), frozenset({"read:dropcopy"})),
    })

    def bearer(client: str) -> tuple[tuple[str, str]]:
        return bearer_metadata(auth, key, client)

    with (
        SimulatorThread(seed=3, rate=0, max_executions=20, auth=auth) as live,
        grpc.insecure_channel(live.address) as channel,
    ):
        stub = refdata_pb2_grpc.RefDataAPIStub(channel)  # type: ignore[no-untyped-call]
        request = rd.ListInstrumentsRequest()
        listed = stub.ListInstruments(request, metadata=bearer("instruments-only"),
                                      timeout=DEADLINE)
        assert [i.symbol for i in listed.instruments] == SYMBOL_ORDER
        with pytest.raises(grpc.RpcError) as denied:
            stub.ListInstruments(request, metadata=bearer("dropcopy-only"), timeout=DEADLINE)
        assert (denied.value.code(), denied.value.details()) == (
            Code.PERMISSION_DENIED, "permission denied: missing required scope read:instruments")
        with pytest.raises(grpc.RpcError) as anonymous:
            stub.ListInstruments(request, timeout=DEADLINE)
        assert anonymous.value.code() == Code.UNAUTHENTICATED
