"""Private Key JWT end to end: the simulator with auth on, real gRPC clients, the real bridge.

A call is checked when it opens (spec §4.1): without a token it is UNAUTHENTICATED, with a
token lacking the method's scope PERMISSION_DENIED with the exchange's message, and a token
that expires or is revoked under an open stream does not cut it. The bridge, run as a
subprocess with 2 s tokens, refreshes several times and journals every execution over one
stream that is never reopened.
"""

from __future__ import annotations

import json
import math
import secrets
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.proto.polymarket.v1 import dropcopy_pb2 as pb
from fixbridge.proto.polymarket.v1 import dropcopy_pb2_grpc
from fixbridge.simulator.auth import CLIENT_ASSERTION_TYPE, ClientRegistration, SimulatorAuth
from fixbridge.simulator.server import SimulatorThread
from fixbridge.simulator.times import from_timestamp
from fixbridge.upstream.auth import build_client_assertion, http_post_json
from tests.auth_keys import rsa_key, write_private_key
from tests.integration.bridge_proc import bridge_for

pytestmark = pytest.mark.integration

AUDIENCE = "https://api.simulator.test"
PARTICIPANT = "firms/SIM-ALPHA/users/alpha-ops"
FULL = "bridge-client"
DROPCOPY_ONLY = "dropcopy-only"
DEADLINE = 10.0


def make_auth(token_lifetime_s: float = 180.0) -> SimulatorAuth:
    scopes = frozenset({"read:dropcopy", "read:instruments", "read:reports"})
    return SimulatorAuth(
        {
            FULL: ClientRegistration(rsa_key().public_key(), scopes, PARTICIPANT),
            DROPCOPY_ONLY: ClientRegistration(
                rsa_key("dc").public_key(), frozenset({"read:dropcopy"})
            ),
        },
        audience=AUDIENCE,
        token_lifetime_s=token_lifetime_s,
    )


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(seed=5, rate=50, heartbeat_interval=0.3, auth=make_auth()) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def stub(sim: SimulatorThread) -> Iterator[Any]:
    with grpc.insecure_channel(sim.address) as channel:
        yield dropcopy_pb2_grpc.DropCopyAPIStub(channel)  # type: ignore[no-untyped-call]


def fetch_token(sim: SimulatorThread, client_id: str = FULL) -> str:
    """A token from the simulator's endpoint, asked for as the bridge asks."""
    assert sim.token_url is not None
    key = rsa_key() if client_id == FULL else rsa_key("dc")
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": build_client_assertion(
            client_id=client_id, token_url=sim.token_url, key=key,
            now=math.floor(time.time()), jti=secrets.token_hex(12),
        ),
        "audience": AUDIENCE,
    }
    status, body = http_post_json(sim.token_url, form, timeout_s=5, context=None)
    assert status == 200, body
    return str(json.loads(body)["access_token"])


def bearer(token: str, participant: str = PARTICIPANT) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"), ("x-participant-id", participant))


def refusal(call: Any) -> tuple[grpc.StatusCode, str]:
    """The status a stream opened with, which must be an error."""
    with pytest.raises(grpc.RpcError) as raised:
        next(iter(call))
    error: Any = raised.value
    return error.code(), error.details()


def executions_after(call: Any, seen: set[str], count: int) -> list[str]:
    """Ids of at least the next ``count`` executions on an open stream (heartbeats skipped)."""
    ids: list[str] = []
    deadline = time.monotonic() + DEADLINE
    while len(ids) < count:
        assert time.monotonic() < deadline, f"only {len(ids)} of {count} executions in time"
        response = next(call)
        ids += [e.id for e in response.executions if e.id not in seen]
    return ids


def delivers_executions_made_after(call: Any, instant_ns: int) -> None:
    """The open stream goes on: it delivers an execution the exchange made after ``instant``."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        response = next(call)
        if any(from_timestamp(e.transact_time) > instant_ns for e in response.executions):
            return
    raise AssertionError("the open stream delivered nothing made after the instant")


def test_a_stream_without_a_token_is_unauthenticated(stub: Any) -> None:
    code, details = refusal(stub.CreateDropCopySubscription(pb.CreateDropCopySubscriptionRequest()))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert "missing authorization" in details
    code, details = refusal(
        stub.CreateDropCopySubscription(
            pb.CreateDropCopySubscriptionRequest(), metadata=bearer("forged-token")
        )
    )
    assert (code, details) == (grpc.StatusCode.UNAUTHENTICATED, "invalid access token")


def test_an_expired_token_opens_nothing_but_the_open_stream_keeps_delivering(
    sim: SimulatorThread, stub: Any
) -> None:
    assert sim.auth is not None
    sim.auth.token_lifetime_s = 1.0
    try:
        token = fetch_token(sim)
    finally:
        sim.auth.token_lifetime_s = 180.0
    request = pb.CreateDropCopySubscriptionRequest()
    open_stream = stub.CreateDropCopySubscription(request, metadata=bearer(token))
    try:
        before = executions_after(open_stream, set(), 5)
        time.sleep(1.3)  # the token is now expired
        code, details = refusal(stub.CreateDropCopySubscription(request, metadata=bearer(token)))
        assert (code, details) == (grpc.StatusCode.UNAUTHENTICATED, "access token expired")
        assert before
        delivers_executions_made_after(open_stream, time.time_ns() + 500_000_000)
    finally:
        open_stream.cancel()


def test_revoked_tokens_open_nothing_but_open_streams_go_on(
    sim: SimulatorThread, stub: Any
) -> None:
    assert sim.auth is not None
    token = fetch_token(sim)
    request = pb.CreateDropCopySubscriptionRequest()
    open_stream = stub.CreateDropCopySubscription(request, metadata=bearer(token))
    try:
        before = executions_after(open_stream, set(), 3)
        sim.auth.revoke_all()
        code, details = refusal(stub.CreateDropCopySubscription(request, metadata=bearer(token)))
        assert (code, details) == (grpc.StatusCode.UNAUTHENTICATED, "access token revoked")
        assert before
        delivers_executions_made_after(open_stream, time.time_ns() + 300_000_000)
    finally:
        open_stream.cancel()
    fresh = fetch_token(sim)
    assert executions_after(
        stub.CreateDropCopySubscription(request, metadata=bearer(fresh)), set(), 1
    )


def test_a_client_without_read_instruments_is_permission_denied(
    sim: SimulatorThread, stub: Any
) -> None:
    token = fetch_token(sim, DROPCOPY_ONLY)
    code, details = refusal(
        stub.CreateInstrumentStateChangeSubscription(
            pb.CreateInstrumentStateChangeSubscriptionRequest(), metadata=bearer(token)
        )
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert details == "permission denied: missing required scope read:instruments"
    allowed = stub.CreateDropCopySubscription(
        pb.CreateDropCopySubscriptionRequest(), metadata=bearer(token)
    )
    try:
        assert executions_after(allowed, set(), 1)
    finally:
        allowed.cancel()


def test_another_firms_participant_id_is_cross_firm(sim: SimulatorThread, stub: Any) -> None:
    token = fetch_token(sim)
    code, details = refusal(
        stub.CreateDropCopySubscription(
            pb.CreateDropCopySubscriptionRequest(),
            metadata=bearer(token, "firms/SIM-BRAVO/users/bravo-ops"),
        )
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert "cross-firm" in details


# ----------------------------------------------------------------------- the real bridge


def journaled(journal: Path) -> int:
    """Executions journaled so far, read beside the running bridge (WAL allows a reader)."""
    if not journal.exists():
        return 0
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
        try:
            row = db.execute("SELECT count(*) FROM events WHERE stream='executions'").fetchone()
        except sqlite3.OperationalError:
            return 0
    return int(row[0])


def test_the_bridge_journals_through_auth_with_2s_tokens(tmp_path: Path) -> None:
    total = 400  # 8 s at 50 executions a second: four token lifetimes
    with SimulatorThread(
        seed=9, rate=50, max_executions=total, heartbeat_interval=0.5,
        auth=make_auth(token_lifetime_s=2.0),
    ) as sim:
        assert sim.auth is not None and sim.token_url is not None
        bridge = bridge_for(
            tmp_path,
            sim.port,
            [{"name": "ops", "sender_comp_id": "FIXBRIDGE", "target_comp_id": "OPS"}],
            auth={
                "client_id": FULL,
                "token_url": sim.token_url,
                "audience": AUDIENCE,
                "private_key_file": write_private_key(tmp_path / "upstream.pem", rsa_key()),
                "participant_id": PARTICIPANT,
                "refresh_ahead_s": 0.5,
            },
        )
        with bridge:
            sim.wait_for_executions(total, timeout=30)
            deadline = time.monotonic() + 20
            while journaled(tmp_path / "journal.db") < total:
                assert time.monotonic() < deadline, bridge.tail()
                time.sleep(0.1)
            code = bridge.stop()
        expected = [e.id for e in sim.executions()]
        issued = sim.auth.tokens_issued
        unauthenticated = sim.auth.counters.calls_unauthenticated
    log = (tmp_path / "bridge.log").read_text()
    assert code == 0, bridge.tail()
    journal = SqliteJournal(tmp_path / "journal.db")
    try:
        assert journal.upstream_ids("executions") == expected
    finally:
        journal.close()
    assert log.count("upstream token refreshed, expires in 2 s") >= 4, bridge.tail()
    assert issued >= 4
    assert unauthenticated == 0
    assert log.count("executions stream connecting") == 1, "the stream was reopened"
    assert "stream lost" not in log
    assert "token request failed" not in log
