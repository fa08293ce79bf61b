"""``fixbridge demo``: the simulated exchange, the bridge and a console FIX client, one process.

Zero configuration: a throwaway journal in a temporary folder, the simulator on a free local
port, the bridge subscribing to it over real gRPC and serving FIX on another free port, and
the console client logged on over real TCP printing each message. The production code path
is the one that runs; only the exchange is simulated.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from fixbridge.app import Bridge
from fixbridge.config import (
    BridgeConfig,
    FixConfig,
    JournalConfig,
    ScopeConfig,
    SessionConfig,
    UpstreamConfig,
)
from fixbridge.fix.console import ConsoleClient
from fixbridge.simulator.server import SimulatorServer

DEMO_SENDER = "FIXBRIDGE"
DEMO_CLIENT = "BACKOFFICE"


def demo_config(upstream_port: int, journal: Path) -> BridgeConfig:
    return BridgeConfig(
        upstream=UpstreamConfig(
            target=f"127.0.0.1:{upstream_port}", start_from=datetime(1970, 1, 1, tzinfo=UTC)
        ),
        journal=JournalConfig(path=journal, synchronous="normal"),
        fix=FixConfig(host="127.0.0.1", port=0),
        sessions=(
            SessionConfig(
                name="demo",
                sender_comp_id=DEMO_SENDER,
                target_comp_id=DEMO_CLIENT,
                scope=ScopeConfig(
                    message_kinds=("executions", "trades", "instruments", "positions")
                ),
            ),
        ),
    )


async def run_demo(*, duration: float | None, rate: float, seed: int) -> int:
    from fixbridge.cli import stop_on_signals

    stop = asyncio.Event()
    stop_on_signals(stop)
    if duration is not None:
        asyncio.get_running_loop().call_later(duration, stop.set)
    with tempfile.TemporaryDirectory(prefix="fixbridge-demo-") as tmp:
        simulator = SimulatorServer(listen="127.0.0.1:0", seed=seed, rate=rate)
        await simulator.start()
        bridge = Bridge(demo_config(simulator.port, Path(tmp) / "demo.db"))
        await bridge.start()
        assert bridge.acceptor is not None
        port = bridge.acceptor.port
        print(f"-- simulated exchange on 127.0.0.1:{simulator.port} (gRPC DropCopyAPI)")
        print(f"-- fixbridge FIX acceptor on 127.0.0.1:{port}: {DEMO_CLIENT} -> {DEMO_SENDER}")
        print("-- console FIX client logging on; Ctrl-C to stop", flush=True)
        client = ConsoleClient(
            "127.0.0.1", port, DEMO_CLIENT, DEMO_SENDER, output=lambda line: print(line, flush=True)
        )
        try:
            await client.run(stop)
        finally:
            await bridge.stop()
            await simulator.stop(grace=1.0)
        print(f"-- demo finished: {client.app_messages} application messages received")
    return 0
