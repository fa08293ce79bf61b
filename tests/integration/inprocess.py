"""An in-process bridge for acceptance tests: the real acceptor on a free port, a real
journal in a temporary directory, and no exchange (the upstream target is a closed port, so
the journal holds only what a test puts into it)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fixbridge.app import Bridge
from fixbridge.config import parse_config
from tests.integration.qfharness import free_tcp_port


@asynccontextmanager
async def bridge(
    tmp: Path,
    sessions: list[dict[str, Any]],
    clock: Callable[[], int] = time.time_ns,
    **fix: Any,
) -> AsyncIterator[Bridge]:
    """A started bridge with these sessions and ``[fix]`` settings; stopped on exit."""
    config = parse_config(
        {
            "upstream": {"target": f"127.0.0.1:{free_tcp_port()}", "reconnect_max_s": 5.0},
            "journal": {"path": str(tmp / "journal.db"), "synchronous": "normal"},
            "fix": {"host": "127.0.0.1", "port": 0, **fix},
            "metrics": {"enabled": False},
            "sessions": sessions,
        }
    )
    running = Bridge(config, clock)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


def port_of(b: Bridge) -> int:
    assert b.acceptor is not None
    return b.acceptor.port
