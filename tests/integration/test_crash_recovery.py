"""The crash test: full-rate streaming to two QuickFIX clients with different scopes while the
bridge is SIGKILLed three times and one client is away for a while.

Afterwards each client must hold every execution of its scope exactly once in exchange order
(further copies only with PossDupFlag=Y), and neither side may have rejected anything.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from fixbridge.proto.polymarket.v1 import trading_pb2
from fixbridge.simulator.server import SimulatorThread
from tests.integration.bridge_proc import bridge_for
from tests.integration.qfharness import FixMessage, QuickFixClient

pytestmark = pytest.mark.integration

BRIDGE = "FIXBRIDGE"
FILLS = (1, 2)  # ExecutionType PARTIAL_FILL, FILL


def firm_of(execution: trading_pb2.Execution) -> str:
    return execution.order.account.split("/")[1]


def check_delivery(name: str, received: list[FixMessage], expected: list[str]) -> None:
    first_seen: list[str] = []
    seen: set[str] = set()
    for message in received:
        exec_id = message.get(17) or ""
        if exec_id in seen:
            assert message.poss_dup, f"{name}: {exec_id} sent twice without PossDupFlag"
            continue
        seen.add(exec_id)
        first_seen.append(exec_id)
    missing = [i for i in expected if i not in seen]
    assert not missing, f"{name}: {len(missing)} executions never arrived, e.g. {missing[:3]}"
    assert first_seen == expected, f"{name}: executions out of order or out of scope"


def test_two_scoped_clients_survive_three_sigkills_and_a_disconnect(
    tmp_path: Path, spec_dir: str
) -> None:
    rng = random.Random(2026)
    total = 40_000
    fill_symbols = ["nfl-kc-buf-2026-11-22-kc", "pres-2028-dem", "fed-cut-2026-12-16"]
    with SimulatorThread(seed=21, rate=0, max_executions=total, heartbeat_interval=0.5) as sim:
        bridge = bridge_for(
            tmp_path,
            sim.port,
            [
                {
                    "name": "alpha",
                    "sender_comp_id": BRIDGE,
                    "target_comp_id": "ALPHA_BO",
                    "scope": {"firms": ["SIM-ALPHA"]},
                },
                {
                    "name": "fills",
                    "sender_comp_id": BRIDGE,
                    "target_comp_id": "FILLS_BO",
                    "scope": {"symbols": fill_symbols, "fills_only": True},
                },
            ],
        )
        alpha = QuickFixClient(
            port=bridge.fix_port,
            sender="ALPHA_BO",
            target=BRIDGE,
            workdir=tmp_path / "alpha",
            spec_dir=spec_dir,
        )
        fills = QuickFixClient(
            port=bridge.fix_port,
            sender="FILLS_BO",
            target=BRIDGE,
            workdir=tmp_path / "fills",
            spec_dir=spec_dir,
        )
        try:
            bridge.start()
            alpha.start()
            fills.start()
            for kill in range(3):
                time.sleep(rng.uniform(0.3, 1.2))
                if kill == 1:
                    fills.stop()  # one back office goes away for a while
                bridge.kill()
                bridge.start()
                if kill == 2:
                    fills.start()
            sim.wait_for_executions(total, timeout=120)
            executions = sim.executions()
            expected_alpha = [e.id for e in executions if firm_of(e) == "SIM-ALPHA"]
            expected_fills = [
                e.id for e in executions if e.order.symbol in fill_symbols and e.type in FILLS
            ]
            alpha.wait_for_app(len(expected_alpha), timeout=180, unique_tag=17)
            fills.wait_for_app(len(expected_fills), timeout=180, unique_tag=17)
            time.sleep(1.0)
        finally:
            fills.stop()
            alpha.stop()
            code = bridge.stop()
    assert code == 0, bridge.tail()

    for name, client, expected in (
        ("alpha", alpha, expected_alpha),
        ("fills", fills, expected_fills),
    ):
        assert client.rejects_sent() == [], f"{name} rejected: {client.rejects_sent()[:3]}"
        assert client.rejects_received() == [], (
            f"{name} was rejected: {client.rejects_received()[:3]}"
        )
        assert client.unvalidated_app_messages() == []
        check_delivery(name, client.app_messages(), expected)
    log_text = (tmp_path / "bridge.log").read_text()
    assert "Reject sent" not in log_text and "BusinessMessageReject sent" not in log_text
    assert log_text.count("fixbridge started") == 4


def test_a_write_ahead_log_cut_in_half_after_a_sigkill_never_reuses_a_number_the_client_has(
    tmp_path: Path, spec_dir: str
) -> None:
    """Damage after a crash: the journal's -wal file loses its second half, so the journal
    forgets sequence numbers it had sent. The QuickFIX client (left running, reconnecting)
    refuses our first too-low number and says what it expects; the bridge moves its numbers
    there and delivers everything again. The client ends with every execution, has rejected
    nothing, and never took two messages under one number."""
    total = 240  # few enough that the -wal file is never checkpointed (SQLite: 1,000 pages)
    with SimulatorThread(seed=9, rate=60, max_executions=total, heartbeat_interval=0.5) as sim:
        bridge = bridge_for(tmp_path, sim.port, [{"name": "bo", "sender_comp_id": BRIDGE,
                                                  "target_comp_id": "BO"}])  # fmt: skip
        wal = tmp_path / "journal.db-wal"
        with bridge:
            client = QuickFixClient(
                port=bridge.fix_port, sender="BO", target=BRIDGE, workdir=tmp_path / "qf",
                spec_dir=spec_dir,
            )  # fmt: skip
            with client:
                client.wait_for_app(total // 3, timeout=60)
                bridge.kill()
                had = len(client.app_messages())
                size = wal.stat().st_size
                with open(wal, "r+b") as file:
                    file.truncate(size // 2)
                bridge.start()
                client.wait_for(
                    lambda: len(sim.executions()) == total
                    and sum(e.get("event") == "logon" for e in client.events()) >= 2
                    and {m.get(17) for m in client.app_messages()}
                    >= {e.id for e in sim.executions()},
                    90,
                    "every execution, after a new Logon",
                )
                time.sleep(0.5)
                rejects, received = client.rejects_sent(), client.app_messages()
            assert bridge.stop() == 0, bridge.tail()
            log = bridge.tail(2000)
    assert rejects == []
    numbers = [m.seq_num for m in received if not m.poss_dup]
    assert len(numbers) == len(set(numbers)), "the client took two messages under one number"
    assert had < total and size > 0
    assert "sequence numbers went backwards" in log, log[-3000:]
