"""``fixbridge demo``: the simulated exchange, the bridge and a console FIX client, one process.

Zero configuration: a throwaway journal in a temporary folder, the simulator on a free local
port, the bridge subscribing to it over real gRPC and serving FIX on another free port, and
the console client logged on over real TCP printing each message. The production code path
is the one that runs, Private Key JWT auth included: a throwaway RSA key pair is made in
memory, its public half registered with the simulator, its private half written (mode 0600)
to the temporary folder for the bridge's ``upstream.auth``. Only the exchange is simulated.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fixbridge.app import Bridge
from fixbridge.config import (
    BridgeConfig,
    FixConfig,
    JournalConfig,
    MetricsConfig,
    ScopeConfig,
    SessionConfig,
    UpstreamAuthConfig,
    UpstreamConfig,
)
from fixbridge.fix.console import ConsoleClient
from fixbridge.simulator.auth import ALL_SCOPES, ClientRegistration, SimulatorAuth
from fixbridge.simulator.server import SimulatorServer

DEMO_SENDER = "FIXBRIDGE"
DEMO_CLIENT = "BACKOFFICE"
DEMO_CLIENT_ID = "fixbridge-demo"
DEMO_PARTICIPANT = "firms/SIM-ALPHA/users/alpha-demo"


def demo_credentials(folder: Path) -> tuple[SimulatorAuth, Path]:
    """A fresh key pair: the simulator knows the public key, the bridge reads the private one
    from a file only this user can read, exactly as it would in production."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    auth = SimulatorAuth(
        {DEMO_CLIENT_ID: ClientRegistration(key.public_key(), ALL_SCOPES, DEMO_PARTICIPANT)}
    )
    path = folder / "upstream-key.pem"
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(pem)
    return auth, path


def demo_config(
    upstream_port: int, journal: Path, auth: UpstreamAuthConfig | None = None
) -> BridgeConfig:
    return BridgeConfig(
        upstream=UpstreamConfig(
            target=f"127.0.0.1:{upstream_port}",
            start_from=datetime(1970, 1, 1, tzinfo=UTC),
            auth=auth,
        ),
        journal=JournalConfig(path=journal, synchronous="normal"),
        fix=FixConfig(host="127.0.0.1", port=0),
        metrics=MetricsConfig(host="127.0.0.1", port=0),  # a free port: never clashes
        sessions=(
            SessionConfig(
                name="demo",
                sender_comp_id=DEMO_SENDER,
                target_comp_id=DEMO_CLIENT,
                scope=ScopeConfig(
                    message_kinds=(
                        "executions", "trades", "instruments", "positions", "settlements"
                    )
                ),
            ),
        ),
    )


async def run_demo(*, duration: float | None, rate: float, seed: int) -> int:
    from fixbridge.cli import stop_on_signals

    stop = asyncio.Event()
    if duration is not None:
        asyncio.get_running_loop().call_later(duration, stop.set)
    with stop_on_signals(stop), tempfile.TemporaryDirectory(prefix="fixbridge-demo-") as tmp:
        sim_auth, key_file = demo_credentials(Path(tmp))
        simulator = SimulatorServer(listen="127.0.0.1:0", seed=seed, rate=rate, auth=sim_auth)
        await simulator.start()
        auth = UpstreamAuthConfig(
            client_id=DEMO_CLIENT_ID,
            token_url=sim_auth.token_url,
            audience=sim_auth.audience,
            private_key_file=key_file,
            participant_id=DEMO_PARTICIPANT,
        )
        bridge = Bridge(demo_config(simulator.port, Path(tmp) / "demo.db", auth))
        await bridge.start()
        assert bridge.acceptor is not None
        port = bridge.acceptor.port
        print(f"-- simulated exchange on 127.0.0.1:{simulator.port} (gRPC DropCopyAPI)")
        print(f"-- token endpoint {sim_auth.token_url} (Private Key JWT, {DEMO_CLIENT_ID})")
        print(f"-- fixbridge FIX acceptor on 127.0.0.1:{port}: {DEMO_CLIENT} -> {DEMO_SENDER}")
        print(f"-- metrics http://127.0.0.1:{bridge.metrics_port}/metrics (also /healthz, /readyz)")
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
