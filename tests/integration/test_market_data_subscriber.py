"""The market-data subscriber against the simulator over real gRPC.

The exchange's load balancer resets a bidirectional stream that has had no client-to-server
message for its idle timeout, and the market-data page asks for a KeepAliveCommand every 30-60
minutes; here the simulator's idle limit is shortened to one second. With the bridge's KeepAlive
on a shorter schedule the stream stays open; without it the cut is noticed, the stream is
reopened, its symbols subscribed again, and a settlement published while it was down is
journaled exactly once. Symbols are spread at most 1,000 a stream, and a change of the wanted
symbols is a subscribe or unsubscribe on the open stream, never a reconnect.

No timed assertions: every wait is for a condition, with a generous bound.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fixbridge.app import Bridge
from fixbridge.config import MarketDataConfig, UpstreamAuthConfig, UpstreamConfig, parse_config
from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.ops.metrics import Metrics
from fixbridge.proto.polymarket.v1 import marketdatasubscription_pb2 as md
from fixbridge.simulator.auth import ClientRegistration, SimulatorAuth
from fixbridge.simulator.exchange import StepOutput
from fixbridge.simulator.refdata import SYMBOLS
from fixbridge.simulator.server import SimulatorThread
from fixbridge.upstream.md_subscriber import MarketDataSubscriber
from fixbridge.upstream.scales import ScaleBook
from tests.auth_keys import rsa_key, write_private_key

pytestmark = pytest.mark.integration

IDLE_LIMIT_S = 1.0  # the simulator's shortened load-balancer idle timeout
HEARTBEAT_S = 0.3
WAIT_S = 60.0
TIER_1 = "SETTLEMENT_PRICE_CALCULATION_METHOD_EVENT_TIER_1"
LAL = "nba-lal-bos-2026-11-21-lal"  # resolves within the simulator's first 1,500 executions
PRES = "pres-2028-dem"  # price_scale 1000; trades for years: settled here only by the test
REAL = (
    "nfl-kc-buf-2026-11-22-kc", "nfl-kc-buf-2026-11-22-buf", LAL, "nhl-tor-mtl-2026-11-28-tor",
    PRES, "fed-cut-2026-12-16", "epl-ars-che-2026-11-29-draw", "btc-above-150k-2026-12-31",
)
# Symbols the simulator's market-data API lists besides the eight it trades (never traded).
LISTED = tuple(f"listed-{i:04d}" for i in range(2_500 - len(REAL)))
FAST_RECONNECT = {"reconnect_initial_s": 0.5, "reconnect_max_s": 1.0}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(seed=2, rate=0, max_executions=1_500, heartbeat_interval=HEARTBEAT_S,
                         market_data_idle_limit_s=IDLE_LIMIT_S,
                         market_data_listings=LISTED) as quiet:
        quiet.wait_for_executions(1_500, timeout=30)
        yield quiet


async def until(condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.01)


def bridge_config(
    sim: SimulatorThread, tmp: Path, symbols: tuple[str, ...] = (), **market_data: Any
) -> Any:
    return parse_config({
        "upstream": {"target": sim.address, **FAST_RECONNECT, "market_data": market_data},
        "journal": {"path": str(tmp / "journal.db"), "synchronous": "normal"},
        "fix": {"host": "127.0.0.1", "port": 0},
        "metrics": {"enabled": False},
        "sessions": [{"name": "settle", "sender_comp_id": "FIXBRIDGE",
                      "target_comp_id": "BACKOFFICE",
                      "scope": {"message_kinds": ["settlements"], "symbols": list(symbols)}}],
    })


def settlement_ids(bridge: Bridge) -> list[str]:
    assert bridge.journal is not None
    return bridge.journal.upstream_ids("settlements")


def run_bridge(config: Any, body: Callable[[Bridge], Awaitable[None]]) -> None:
    async def main() -> None:
        bridge = Bridge(config)
        await bridge.start()
        try:
            await body(bridge)
        finally:
            await bridge.stop()

    asyncio.run(main())


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def reconnects(bridge: Bridge) -> int:
    assert bridge.market_data is not None
    return bridge.market_data.reconnects


def test_keepalive_keeps_the_stream_open_past_the_idle_limit(
    sim: SimulatorThread, tmp_path: Path
) -> None:
    config = bridge_config(sim, tmp_path, keepalive_interval_s=0.25, stall_timeout_s=5.0)

    async def body(bridge: Bridge) -> None:
        md_sub = bridge.market_data
        assert md_sub is not None
        # The session sees every instrument: the symbols follow the instrument stream, but the
        # resolved contract leaves once its final resolution is journaled.
        await until(lambda: any(i.startswith(f"{LAL}|") and i.endswith("|F")
                                for i in settlement_ids(bridge)), "the final resolution")
        await until(lambda: len(md_sub.streams) == 1
                    and md_sub.streams[0].active == set(REAL) - {LAL},
                    "every listed instrument but the resolved one subscribed")
        # Four idle limits' worth of KeepAlives (one each 0.25 s) on the one stream.
        await until(lambda: sample(bridge.metrics, "fixbridge_market_data_keepalives_sent_total")
                    >= 4 * IDLE_LIMIT_S / 0.25 + 4, "KeepAlives over several idle limits")
        stream = md_sub.streams[0]
        assert stream.connected and stream.connects == 1 and reconnects(bridge) == 0
        ids = settlement_ids(bridge)
        assert len(ids) == len(set(ids))
        row = next(r for r in (await bridge.status()).streams if r.name == "settlements")
        assert row.connected and row.reconnects == 0 and row.events_stored == len(ids)

    run_bridge(config, body)


def test_without_keepalive_the_cut_is_recovered_and_a_settlement_is_journaled_once(
    sim: SimulatorThread, tmp_path: Path
) -> None:
    # One symbol, so every settlement received again after the injected one is that one.
    config = bridge_config(sim, tmp_path, (PRES,), keepalive_interval_s=3000.0,
                           stall_timeout_s=5.0)
    set_ns = time.time_ns()
    identity = f"{PRES}|{set_ns}|P"

    async def body(bridge: Bridge) -> None:
        md_sub = bridge.market_data
        assert md_sub is not None
        await until(lambda: len(md_sub.streams) == 1 and PRES in md_sub.streams[0].active,
                    "subscribed")
        stream = md_sub.streams[0]
        # The idle limit cuts the stream: noticed (a reconnect), and the stream is down now.
        await until(lambda: reconnects(bridge) >= 1 and not stream.connected, "a cut")
        assert stream.reconnects["unavailable"] >= 1
        publish_settlement(sim, PRES, set_ns)  # published while the stream is down
        await until(lambda: identity in settlement_ids(bridge), "the settlement journaled")
        # Every later reconnect subscribes again and is sent the settlement again: a duplicate.
        duplicates = md_sub.duplicates
        await until(lambda: md_sub.duplicates >= duplicates + 2, "sent twice more")
        assert settlement_ids(bridge).count(identity) == 1
        assert sample(bridge.metrics, "fixbridge_upstream_reconnects_total",
                      stream="settlements", reason="unavailable") >= 3

    run_bridge(config, body)


def test_a_positions_session_subscribes_the_symbols_where_positions_are_held(
    sim: SimulatorThread, tmp_path: Path
) -> None:
    latest = {(c.position.account, c.position.symbol): c.position.net_position
              for c in sim.position_changes()}
    resolved = {c.symbol for c in sim.settlements()
                if c.settlement.is_resolution and not c.settlement.preliminary}
    by_account: dict[str, set[str]] = {}
    for (account, symbol), net in latest.items():
        if net != 0:
            by_account.setdefault(account, set()).add(symbol)
    # The session sees the account holding the fewest symbols.
    account, held = min(by_account.items(), key=lambda item: len(item[1]))
    assert held - resolved and held - resolved != set(REAL)
    config = bridge_config(sim, tmp_path, keepalive_interval_s=0.25)
    # The positions so far are replayed (a live start would know of none until they change).
    upstream = config.upstream.model_copy(update={"start_from": datetime(2020, 1, 1, tzinfo=UTC)})
    config = config.model_copy(update={"upstream": upstream, "sessions": tuple(
        s.model_copy(update={"scope": s.scope.model_copy(update={
            "message_kinds": ("positions",), "accounts": (account,)})})
        for s in config.sessions)})

    async def body(bridge: Bridge) -> None:
        md_sub = bridge.market_data
        assert md_sub is not None
        await until(lambda: md_sub.plan.assigned == held - resolved
                    and set().union(*(s.active for s in md_sub.streams)) == held - resolved,
                    "the held symbols subscribed")
        assert all(s.connects == 1 for s in md_sub.streams)

    run_bridge(config, body)


def publish_settlement(sim: SimulatorThread, symbol: str, set_ns: int) -> None:
    """A preliminary resolution of ``symbol`` in the simulator's market-data log."""
    update = md.MarketDataUpdate(symbol=symbol, stats=md.InstrumentStats(
        settlement_px=1000, settlement_preliminary=True,
        settlement_price_calculation_method=TIER_1,
        settlement_price_calculation_text="The Democratic candidate wins"))
    update.stats.settlement_set_time.FromNanoseconds(set_ns)
    sim.server.store.append(StepOutput((), (), (), (), market_data=(update,)))


# ---- the subscriber alone: sharding and changes


def run_subscriber(
    sim: SimulatorThread, tmp: Path, body: Callable[[MarketDataSubscriber], Awaitable[None]],
    **market_data: Any,
) -> None:
    async def main() -> None:
        config = UpstreamConfig(target=sim.address, reconnect_initial_s=0.5,
                                reconnect_max_s=1.0, market_data=MarketDataConfig(**market_data))
        journal = SqliteJournal(tmp / "journal.db", synchronous="normal")
        scales = ScaleBook()  # as the bridge seeds it from ListInstruments
        for spec in SYMBOLS:
            scales.update(spec.symbol, spec.price_scale, spec.fractional_qty_scale)
        subscriber = MarketDataSubscriber(config, journal, scales, lambda: None,
                                          time.time_ns, metrics=Metrics())
        task = asyncio.create_task(subscriber.run())
        try:
            await body(subscriber)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            journal.close()

    asyncio.run(main())


def test_2500_symbols_use_three_streams(sim: SimulatorThread, tmp_path: Path) -> None:
    # 2,500 symbols the exchange lists; at most 1,000 a stream (the market-data page).
    wanted = [*REAL, *LISTED]

    async def body(subscriber: MarketDataSubscriber) -> None:
        subscriber.apply(wanted)
        await until(lambda: len(subscriber.streams) == 3
                    and all(s.connected and s.acks >= 1 for s in subscriber.streams),
                    "three streams open and acknowledged")
        assert sorted(len(subscriber.plan.symbols(i)) for i in range(3)) == [500, 1000, 1000]
        await until(lambda: set().union(*(s.active for s in subscriber.streams)) == set(wanted),
                    "every symbol active on the exchange's side")
        assert sorted(len(s.active) for s in subscriber.streams) == [500, 1000, 1000]
        metrics, errors = subscriber.metrics, "fixbridge_market_data_subscription_errors_total"
        assert sample(metrics, errors, code="SYMBOL_LIMIT_EXCEEDED") == 0
        assert sample(metrics, errors, code="INVALID_SYMBOL") == 0
        assert sample(metrics, "fixbridge_market_data_streams_open") == 3
        assert all(s.connects == 1 for s in subscriber.streams)

    run_subscriber(sim, tmp_path, body, keepalive_interval_s=0.25)


def test_a_symbol_the_exchange_does_not_list_is_refused_and_counted(
    sim: SimulatorThread, tmp_path: Path
) -> None:
    async def body(subscriber: MarketDataSubscriber) -> None:
        subscriber.apply([PRES, "no-such-symbol"])
        await until(lambda: subscriber.streams[0].acks >= 1, "the subscribe acknowledged")
        assert subscriber.streams[0].active == {PRES}
        errors = "fixbridge_market_data_subscription_errors_total"
        assert sample(subscriber.metrics, errors, code="INVALID_SYMBOL") == 1

    run_subscriber(sim, tmp_path, body, keepalive_interval_s=0.25)


def test_adding_and_removing_a_symbol_changes_the_open_stream_without_reconnecting(
    sim: SimulatorThread, tmp_path: Path
) -> None:
    async def body(subscriber: MarketDataSubscriber) -> None:
        subscriber.apply(REAL[:3])
        await until(lambda: len(subscriber.streams) == 1
                    and subscriber.streams[0].active == set(REAL[:3]), "first three")
        # A position's instrument added: the full stream stays, a second one opens.
        changes = subscriber.apply(REAL[:4])
        assert [(c.shard, c.opened) for c in changes] == [(1, True)]
        await until(lambda: len(subscriber.streams) == 2
                    and subscriber.streams[1].active == {REAL[3]}, "a second stream")
        # Removed from the first stream, added where there is room: commands, no reconnect.
        changes = subscriber.apply([REAL[1], REAL[2], REAL[3], REAL[4], REAL[5]])
        assert [(c.shard, c.opened) for c in changes] == [(0, False), (1, False)]
        # New symbols are placed in name order: fed-cut fills the freed place, pres the next.
        await until(lambda: subscriber.streams[0].active == {REAL[1], REAL[2], REAL[5]}
                    and subscriber.streams[1].active == {REAL[3], REAL[4]}, "applied by commands")
        subscriber.apply([REAL[2]])
        await until(lambda: subscriber.streams[0].active == {REAL[2]}
                    and not subscriber.streams[1].active, "unsubscribed")
        assert [s.connects for s in subscriber.streams] == [1, 1]
        assert all(not s.reconnects for s in subscriber.streams)
        assert sample(subscriber.metrics, "fixbridge_market_data_symbols_subscribed") == 1

    run_subscriber(sim, tmp_path, body, keepalive_interval_s=0.25, max_symbols_per_stream=3)


# ---- authentication: the drop-copy token, scope read:marketdata


AUDIENCE = "https://api.simulator.test"
CLIENT_ID = "md-test-client"
PARTICIPANT = "firms/SIM-ALPHA/users/ops"


@pytest.mark.parametrize("with_scope", [True, False], ids=["read-marketdata", "no-scope"])
def test_market_data_is_authenticated_and_a_missing_scope_retries_slowly(
    tmp_path: Path, with_scope: bool
) -> None:
    scopes = {"read:dropcopy", "read:instruments"} | ({"read:marketdata"} if with_scope else set())
    auth = SimulatorAuth(
        {CLIENT_ID: ClientRegistration(rsa_key().public_key(), frozenset(scopes), PARTICIPANT)},
        audience=AUDIENCE,
    )
    with SimulatorThread(seed=2, rate=0, max_executions=100, heartbeat_interval=HEARTBEAT_S,
                         auth=auth) as sim:
        assert sim.token_url is not None
        config = bridge_config(sim, tmp_path, (PRES,), keepalive_interval_s=0.25)
        upstream = config.upstream.model_copy(update={
            "slow_retry_s": 60.0,
            "auth": UpstreamAuthConfig(
                client_id=CLIENT_ID, token_url=sim.token_url, audience=AUDIENCE,
                private_key_file=write_private_key(tmp_path / "upstream.pem", rsa_key()),
                participant_id=PARTICIPANT,
            ),
        })
        config = config.model_copy(update={"upstream": upstream})

        async def body(bridge: Bridge) -> None:
            md_sub = bridge.market_data
            assert md_sub is not None
            if with_scope:
                await until(lambda: len(md_sub.streams) == 1
                            and md_sub.streams[0].active == {PRES}, "subscribed with a token")
                return
            await until(lambda: md_sub.streams and
                        md_sub.streams[0].reconnects["permission_denied"] == 1,
                        "refused for the missing scope")
            assert not md_sub.streams[0].connected

        run_bridge(config, body)
