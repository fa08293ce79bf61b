"""The bridge against a misbehaving exchange: every fault, alone and all at once.

Each test runs the real bridge as a subprocess against the simulator over real gRPC (with
Private Key JWT auth where tokens matter), injects faults, then compares the journal with the
simulator's own logs: the serialized bytes of every event of every stream must be in the
journal exactly once. Nothing lost, nothing twice, malformed events included (kept, flagged).
The comparison reads the journal's raw column, not fixbridge's identities, so a wrong dedup key
shows up as a missing or doubled event.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import grpc
import pytest

from fixbridge.proto.polymarket.v1 import refdata_pb2
from fixbridge.simulator.auth import ClientRegistration, SimulatorAuth
from fixbridge.simulator.faults import FaultKind, FaultPlan
from fixbridge.simulator.server import SimulatorThread
from tests.auth_keys import rsa_key, write_private_key
from tests.integration.bridge_proc import BridgeProcess, bridge_for
from tests.integration.qfharness import free_tcp_port
from tests.integration.scrape import Samples, scrape, total

pytestmark = pytest.mark.integration

STREAMS = ("executions", "trades", "instruments", "positions")
# Streams whose every event reaches the journal exactly once (instruments: instrument_problems).
EXACTLY_ONCE = ("executions", "trades", "positions")
AUDIENCE = "https://api.simulator.test"
CLIENT_ID = "fault-test-client"
PARTICIPANT = "firms/SIM-ALPHA/users/ops"
ALL_KINDS = {
    "name": "all",
    "sender_comp_id": "FIXBRIDGE",
    "target_comp_id": "BACKOFFICE",
    "scope": {"message_kinds": list(STREAMS)},
}
# Upstream settings that let faults be met and recovered from in seconds, not minutes.
FAST_UPSTREAM: dict[str, object] = {
    "reconnect_initial_s": 0.2,
    "reconnect_max_s": 2.0,
    "slow_retry_s": 1.0,
    "stall_timeout_s": 2.0,
    "resume_margin_s": 2.0,
}


# --------------------------------------------------------------------------------- helpers


def make_auth(token_lifetime_s: float) -> SimulatorAuth:
    scopes = frozenset({"read:dropcopy", "read:instruments", "read:reports"})
    return SimulatorAuth(
        {CLIENT_ID: ClientRegistration(rsa_key().public_key(), scopes, PARTICIPANT)},
        audience=AUDIENCE,
        token_lifetime_s=token_lifetime_s,
    )


def auth_config(sim: SimulatorThread, tmp: Path) -> dict[str, object]:
    assert sim.token_url is not None
    return {
        "client_id": CLIENT_ID,
        "token_url": sim.token_url,
        "audience": AUDIENCE,
        "private_key_file": write_private_key(tmp / "upstream.pem", rsa_key()),
        "participant_id": PARTICIPANT,
        "refresh_ahead_s": 1.0,
    }


def simulator_events(sim: SimulatorThread) -> dict[str, Counter[bytes]]:
    logs: dict[str, list[Any]] = {
        "executions": sim.executions(),
        "trades": sim.trades(),
        "instruments": sim.instruments(),
        "positions": sim.position_changes(),
    }
    return {
        name: Counter(e.SerializeToString(deterministic=True) for e in events)
        for name, events in logs.items()
    }


def journal_events(journal: Path) -> dict[str, Counter[bytes]]:
    """Every journaled event's raw upstream bytes, per stream, read beside the running bridge."""
    found: dict[str, Counter[bytes]] = {name: Counter() for name in STREAMS}
    if not journal.exists():
        return found
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
        try:
            rows = db.execute("SELECT stream, raw FROM events").fetchall()
        except sqlite3.OperationalError:
            return found
    for stream, raw in rows:
        found[stream][bytes(raw)] += 1
    return found


def flagged_counts(journal: Path) -> Counter[str]:
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT stream FROM events WHERE flagged IS NOT NULL").fetchall()
    return Counter(stream for (stream,) in rows)


def assert_flagged_only_malformed(
    journal: Path, plan: FaultPlan, samples: Samples
) -> None:
    """Flagged events are kept and counted, and only the simulator's broken ones are flagged
    (a zero quantity scale is proto3's "unset", read as 1, so not every defect is an error)."""
    flagged = sum(flagged_counts(journal).values())
    assert 0 < flagged <= sum(plan.defect_counts().values())
    assert total(samples, "fixbridge_upstream_events_flagged_total") >= flagged


def _state(instrument: refdata_pb2.Instrument) -> tuple[str, int, int, int, str]:
    """What an instrument says: its state, its scales (a quantity scale of 0 is 1, spec §4.4)
    and its description."""
    return (
        instrument.symbol, instrument.state, instrument.price_scale,
        instrument.fractional_qty_scale or 1, instrument.description,
    )


def instrument_problems(sim: SimulatorThread, journal: Path) -> list[str]:
    """Instrument states are not replayed (spec §4.8: a snapshot of the current state on every
    connect, the old token not relied on) and carry no time of their own, so they cannot be
    matched one for one: per symbol, what is journaled must be the simulator's states in the
    same order, some possibly skipped while the stream was away, never the same state twice
    in a row, ending at the simulator's last state."""
    want: dict[str, list[tuple[str, int, int, int, str]]] = {}
    for instrument in sim.instruments():
        states = want.setdefault(instrument.symbol, [])
        if not states or states[-1] != _state(instrument):
            states.append(_state(instrument))
    got: dict[str, list[tuple[str, int, int, int, str]]] = {}
    if journal.exists():
        query = "SELECT raw FROM events WHERE stream='instruments' ORDER BY offset"
        with (
            sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db,
            contextlib.suppress(sqlite3.OperationalError),
        ):
            for (raw,) in db.execute(query):
                instrument = refdata_pb2.Instrument.FromString(bytes(raw))
                got.setdefault(instrument.symbol, []).append(_state(instrument))
    problems = []
    for symbol, states in want.items():
        journaled = got.get(symbol, [])
        remaining = iter(states)
        if not all(state in remaining for state in journaled):  # a subsequence, in order
            problems.append(f"{symbol}: states journaled out of the simulator's order")
        if any(a == b for a, b in itertools.pairwise(journaled)):
            problems.append(f"{symbol}: the same state journaled twice in a row")
        if not journaled or journaled[-1] != states[-1]:
            problems.append(f"{symbol}: the last state journaled is not the simulator's"
                            f" ({journaled[-3:]} vs {states[-3:]})")
    problems += [f"{symbol}: not from the simulator" for symbol in got.keys() - want.keys()]
    return [f"instruments {problem}" for problem in problems]


def differences(want: dict[str, Counter[bytes]], got: dict[str, Counter[bytes]]) -> list[str]:
    problems = []
    for name in EXACTLY_ONCE:
        missing = want[name] - got[name]
        extra = got[name] - want[name]
        doubled = sum(1 for n in got[name].values() if n > 1)
        if missing or extra or doubled:
            problems.append(
                f"{name}: {sum(missing.values())} missing, {sum(extra.values())} not from the"
                f" simulator, {doubled} journaled twice (simulator {sum(want[name].values())},"
                f" journal {sum(got[name].values())})"
            )
    return problems


def wait_for_journal_to_match(
    sim: SimulatorThread, journal: Path, bridge: BridgeProcess, timeout: float
) -> dict[str, Counter[bytes]]:
    want = simulator_events(sim)
    deadline = time.monotonic() + timeout
    while True:
        got = journal_events(journal)
        problems = differences(want, got) + instrument_problems(sim, journal)
        if not problems:
            return want
        if time.monotonic() > deadline:
            raise AssertionError("journal differs from the simulator: " + "; ".join(problems)
                                 + "\n" + bridge.tail(60))
        time.sleep(0.5)


def production_done(sim: SimulatorThread, count: int, timeout: float) -> None:
    sim.wait_for_executions(count, timeout=timeout)


@pytest.fixture
def metrics_port() -> int:
    return free_tcp_port()


# ------------------------------------------------------------------- one fault at a time


FAULTS: dict[FaultKind, dict[str, Any]] = {
    # kind -> what shows the bridge met and recovered from it: a reconnect reason, a metric,
    # and a text its log must contain.
    FaultKind.ABORT_MID_BATCH: {
        "reason": "unavailable", "log": "fault injected: stream aborted mid-batch"},
    FaultKind.REFUSE_OPEN: {"reason": "unavailable", "log": "fault injected: stream open refused"},
    FaultKind.REVOKE_ACCESS_TOKENS: {"reason": "unauthenticated", "log": "UNAUTHENTICATED"},
    FaultKind.OVERLAP_ON_RESUME: {"metric": "fixbridge_upstream_duplicates_total",
                                  "log": "duplicates skipped"},
    FaultKind.EXPIRE_RESUME_TOKENS: {"reason": "resume_token_rejected",
                                     "metric": "fixbridge_upstream_resume_fallbacks_total",
                                     "log": "resume token refused"},
    FaultKind.STALL: {"reason": "stall", "metric": "fixbridge_upstream_stalls_total",
                      "log": "stall watchdog"},
    FaultKind.MALFORMED_EVENT: {"metric": "fixbridge_upstream_events_flagged_total",
                                "log": "kept but flagged"},
}


@pytest.mark.parametrize("kind", list(FAULTS), ids=str)
def test_each_fault_alone_loses_and_doubles_nothing(
    kind: FaultKind, tmp_path: Path, metrics_port: int
) -> None:
    count = 1600
    plan = FaultPlan(seed=zlib.crc32(kind.encode()))
    with SimulatorThread(
        seed=21, rate=200, max_executions=count, heartbeat_interval=0.3,
        auth=make_auth(token_lifetime_s=30.0), faults=plan,
    ) as sim:
        bridge = bridge_for(
            tmp_path, sim.port, [ALL_KINDS], auth_config(sim, tmp_path),
            metrics_port=metrics_port, upstream=FAST_UPSTREAM,
        )
        # The bridge starts late, so it meets the faults both replaying and live (an abort
        # mid-batch needs a backlog).
        plan.enable_all(period_s=2.5, stall_s=3.0, kinds=[kind])
        sim.wait_for_executions(count // 3, timeout=30)
        with bridge:
            if kind in (FaultKind.OVERLAP_ON_RESUME, FaultKind.REVOKE_ACCESS_TOKENS):
                # Both show only when streams reopen: end every stream now and then.
                for _ in range(3):
                    time.sleep(1.5)
                    plan.drop_streams_now()
            production_done(sim, count, timeout=60)
            time.sleep(1.0)
            plan.disable_all()
            want = wait_for_journal_to_match(sim, tmp_path / "journal.db", bridge, 60)
            samples = scrape(metrics_port)
            assert bridge.stop() == 0, bridge.tail()
        injected = plan.count(kind)
    log = (tmp_path / "bridge.log").read_text()
    assert injected >= 1, f"{kind} was never injected"
    expect = FAULTS[kind]
    if "reason" in expect:
        assert total(samples, "fixbridge_upstream_reconnects_total", reason=expect["reason"]) >= 1
    if "metric" in expect:
        assert total(samples, expect["metric"]) >= 1, expect["metric"]
    assert expect["log"] in log, bridge.tail(60)
    assert "Traceback" not in log, bridge.tail(60)
    if kind is FaultKind.MALFORMED_EVENT:
        assert_flagged_only_malformed(tmp_path / "journal.db", plan, samples)
    assert sum(len(c) for c in want.values()) > count


# ------------------------------------------------------------------------ all at once


def test_all_faults_at_once_for_two_minutes(tmp_path: Path, metrics_port: int) -> None:
    seconds = float(os.environ.get("FIXBRIDGE_FAULT_RUN_SECONDS", "120"))
    rate = 400
    count = int(seconds * rate)
    plan = FaultPlan(seed=2026)
    with SimulatorThread(
        seed=31, rate=rate, max_executions=count, heartbeat_interval=0.5,
        auth=make_auth(token_lifetime_s=5.0), faults=plan,
    ) as sim:
        bridge = bridge_for(
            tmp_path, sim.port, [ALL_KINDS], auth_config(sim, tmp_path),
            metrics_port=metrics_port, upstream=FAST_UPSTREAM,
        )
        with bridge:
            plan.enable_all(period_s=12.0, stall_s=3.0)
            production_done(sim, count, timeout=seconds + 60)
            plan.disable_all()
            want = wait_for_journal_to_match(sim, tmp_path / "journal.db", bridge, 120)
            samples = scrape(metrics_port)
            assert bridge.stop() == 0, bridge.tail()
        injected = plan.counts()
    log = (tmp_path / "bridge.log").read_text()
    journaled = {name: sum(c.values()) for name, c in want.items()}
    print(f"journaled exactly once: {journaled}; faults injected: {dict(injected)}")
    for kind in FAULTS:
        assert injected.get(kind, 0) >= 1, f"{kind} was never injected: {injected}"
    # The log and the metrics name each fault the bridge recovered from.
    for kind, expect in FAULTS.items():
        assert expect["log"] in log, f"{kind}: {expect['log']!r} not in the log"
        if "reason" in expect:
            value = total(samples, "fixbridge_upstream_reconnects_total", reason=expect["reason"])
            assert value >= 1, f"{kind}: no reconnect with reason {expect['reason']}"
        if "metric" in expect:
            assert total(samples, expect["metric"]) >= 1, f"{kind}: {expect['metric']} is 0"
    assert "Traceback" not in log
    assert_flagged_only_malformed(tmp_path / "journal.db", plan, samples)
    # 5 s tokens (refreshed 1 s early) for the whole run, and every revocation: many
    # refreshes, none failed.
    assert total(samples, "fixbridge_upstream_token_refreshes_total", result="ok") >= seconds / 10
    assert total(samples, "fixbridge_upstream_token_refreshes_total", result="failed") == 0
    for name in EXACTLY_ONCE:
        assert total(samples, "fixbridge_journal_events_stored_total", stream=name) == (
            journaled[name]
        )


# ------------------------------------------------------------- resume fallbacks and policy


def test_expired_token_and_lost_window_are_filled_from_the_report_api(
    tmp_path: Path, metrics_port: int
) -> None:
    session = {**ALL_KINDS, "scope": {"message_kinds": ["executions", "trades"]}}
    plan = FaultPlan(seed=3)
    with SimulatorThread(
        seed=41, rate=200, heartbeat_interval=0.3, auth=make_auth(30.0), faults=plan,
    ) as sim:
        bridge = bridge_for(
            tmp_path, sim.port, [session], auth_config(sim, tmp_path),
            metrics_port=metrics_port, upstream={**FAST_UPSTREAM, "resume_margin_s": 1.0},
        )
        with bridge:
            sim.wait_for_executions(300, timeout=30)
            assert bridge.stop() == 0
        # While the bridge is down: many more executions, its token expires, and the stream
        # can now replay only the last 3 s.
        sim.wait_for_executions(len(sim.executions()) + 1200, timeout=30)
        plan.expire_resume_tokens_now()
        plan.set_replay_window(3.0)
        with bridge:
            time.sleep(3.0)
            journal = tmp_path / "journal.db"
            want = simulator_events(sim)
            deadline = time.monotonic() + 30
            while True:
                got = journal_events(journal)
                # Production goes on: every event made before we looked must be there once.
                problems = [
                    f"{name}: {sum((want[name] - got[name]).values())} missing"
                    for name in ("executions", "trades") if want[name] - got[name]
                ] + [f"{name} doubled" for name in ("executions", "trades")
                     if any(n > 1 for n in got[name].values())]
                if not problems:
                    break
                assert time.monotonic() < deadline, f"{problems}\n{bridge.tail(60)}"
                time.sleep(0.5)
            samples = scrape(metrics_port)
            assert bridge.stop() == 0
    log = (tmp_path / "bridge.log").read_text()
    assert "resume token refused" in log
    assert "replay window gone" in log
    assert "gap filled from ReportAPI.SearchExecutions" in log
    assert "gap filled from ReportAPI.SearchTrades" in log
    assert total(samples, "fixbridge_upstream_resume_fallbacks_total", kind="report_api") >= 2
    assert total(samples, "fixbridge_upstream_report_events_total", stream="executions") > 0
    assert total(samples, "fixbridge_upstream_reconnects_total", reason="replay_window_gone") >= 2


def test_without_read_reports_a_lost_window_is_reported_and_the_stream_goes_live(
    tmp_path: Path, metrics_port: int
) -> None:
    """A Drop Copy User holds read:dropcopy only: the ReportAPI refuses the fill. The gap is
    said out loud, and the stream goes live instead of never delivering again."""
    session = {**ALL_KINDS, "scope": {"message_kinds": ["executions"]}}
    plan = FaultPlan(seed=6)
    auth = SimulatorAuth(
        {CLIENT_ID: ClientRegistration(
            rsa_key().public_key(), frozenset({"read:dropcopy"}), PARTICIPANT)},
        audience=AUDIENCE,
    )
    with SimulatorThread(
        seed=42, rate=200, heartbeat_interval=0.3, auth=auth, faults=plan
    ) as sim:
        bridge = bridge_for(
            tmp_path, sim.port, [session], auth_config(sim, tmp_path),
            metrics_port=metrics_port, upstream={**FAST_UPSTREAM, "resume_margin_s": 1.0},
        )
        with bridge:
            sim.wait_for_executions(200, timeout=30)
            assert bridge.stop() == 0
        sim.wait_for_executions(len(sim.executions()) + 600, timeout=30)
        plan.expire_resume_tokens_now()
        plan.set_replay_window(2.0)
        with bridge:
            restarted = len(sim.executions())
            sim.wait_for_executions(restarted + 400, timeout=30)
            time.sleep(1.0)
            later = {e.SerializeToString(deterministic=True)
                     for e in sim.executions()[restarted + 200: restarted + 400]}
            got = journal_events(tmp_path / "journal.db")["executions"]
            samples = scrape(metrics_port)
            assert bridge.stop() == 0
    log = (tmp_path / "bridge.log").read_text()
    assert "PERMISSION_DENIED" in log and "going live" in log, log[-3000:]
    assert later <= set(got), "the stream did not go live after the refused fill"
    assert all(n == 1 for n in got.values())
    assert total(samples, "fixbridge_upstream_resume_fallbacks_total", kind="unrecoverable") == 1


def test_invalid_request_is_a_configuration_error_naming_the_key(tmp_path: Path) -> None:
    with SimulatorThread(seed=1, rate=20, heartbeat_interval=0.3) as sim:
        bridge = bridge_for(
            tmp_path, sim.port, [ALL_KINDS], upstream={"symbols": ["no-such-market"]}
        )
        bridge.start(wait_for_listen=False)
        code = bridge.wait(timeout=20)
    log = (tmp_path / "bridge.log").read_text()
    assert code == 2, log
    assert "configuration error: upstream.symbols: the exchange refused the" in log
    assert "INVALID_ARGUMENT: unknown symbols: no-such-market" in log


@pytest.mark.parametrize(
    ("code", "reason", "advice"),
    [
        (grpc.StatusCode.PERMISSION_DENIED, "permission_denied", "check the client's scopes"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "resource_exhausted", "the exchange's limits"),
    ],
)
def test_permission_and_limits_retry_slowly_and_loudly(
    code: grpc.StatusCode, reason: str, advice: str, tmp_path: Path, metrics_port: int
) -> None:
    plan = FaultPlan(seed=4)
    plan.refuse_opens(2, code, f"fault injected: {reason}")
    with SimulatorThread(
        seed=5, rate=100, max_executions=300, heartbeat_interval=0.3, faults=plan
    ) as sim:
        session = {**ALL_KINDS, "scope": {"message_kinds": ["executions"]}}
        bridge = bridge_for(
            tmp_path, sim.port, [session], metrics_port=metrics_port, upstream=FAST_UPSTREAM
        )
        with bridge:
            sim.wait_for_executions(300, timeout=30)
            deadline = time.monotonic() + 30
            while journal_events(tmp_path / "journal.db")["executions"] != (
                simulator_events(sim)["executions"]
            ):
                assert time.monotonic() < deadline, bridge.tail()
                time.sleep(0.3)
            samples = scrape(metrics_port)
            assert bridge.stop() == 0
    log = (tmp_path / "bridge.log").read_text()
    assert total(samples, "fixbridge_upstream_reconnects_total", reason=reason) == 2
    loud = [line for line in log.splitlines() if advice in line]
    assert len(loud) == 2 and all(" ERROR " in line for line in loud), loud


def test_long_replay_does_not_trip_the_stall_watchdog(tmp_path: Path) -> None:
    count = 40_000
    with SimulatorThread(
        seed=8, rate=0, max_executions=count, heartbeat_interval=0.3
    ) as sim:
        sim.wait_for_executions(count, timeout=60)
        session = {**ALL_KINDS, "scope": {"message_kinds": ["executions"]}}
        bridge = bridge_for(
            tmp_path, sim.port, [session], upstream={**FAST_UPSTREAM, "stall_timeout_s": 1.0}
        )
        with bridge:
            started = time.monotonic()
            wait_for_journal_to_match_stream(sim, tmp_path / "journal.db", bridge, "executions")
            replay_s = time.monotonic() - started
            assert bridge.stop() == 0
    log = (tmp_path / "bridge.log").read_text()
    assert replay_s > 1.0, "the replay was too short to prove anything"
    assert "stall watchdog" not in log
    assert log.count("executions stream connecting") == 1


def wait_for_journal_to_match_stream(
    sim: SimulatorThread, journal: Path, bridge: BridgeProcess, stream: str
) -> None:
    want = simulator_events(sim)[stream]
    deadline = time.monotonic() + 60
    while journal_events(journal)[stream] != want:
        assert time.monotonic() < deadline, bridge.tail()
        time.sleep(0.2)
