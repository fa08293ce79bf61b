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
from fixbridge.journal.store import NewEvent
from fixbridge.simulator.market import MarketModel
from fixbridge.upstream.streams import execution_to_event
from tests.integration.qfharness import free_tcp_port

RESPONSE_SIZE = 100  # executions per journal append, as in one exchange response


@asynccontextmanager
async def bridge(
    tmp: Path,
    sessions: list[dict[str, Any]],
    clock: Callable[[], int] = time.time_ns,
    *,
    ops: bool = False,
    admin_token_file: Path | None = None,
    retain_days: int | None = None,
    **fix: Any,
) -> AsyncIterator[Bridge]:
    """A started bridge with these sessions and ``[fix]`` settings; stopped on exit. With
    ``ops``, the ops HTTP port (/metrics, /status) listens on a free loopback port."""
    config = parse_config(
        {
            "upstream": {"target": f"127.0.0.1:{free_tcp_port()}", "reconnect_max_s": 5.0},
            "journal": {
                "path": str(tmp / "journal.db"),
                "synchronous": "normal",
                **({} if retain_days is None else {"retain_days": retain_days}),
            },
            "fix": {"host": "127.0.0.1", "port": 0, **fix},
            "metrics": {"enabled": ops, "host": "127.0.0.1", "port": 0},
            "admin": (
                {"enabled": True, "port": 0, "token_file": str(admin_token_file)}
                if admin_token_file is not None
                else {}
            ),
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


class ExecutionFeed:
    """Simulator executions journaled as the subscriber would, from one seeded model."""

    def __init__(self, b: Bridge, seed: int = 5, *, start_ns: int | None = None) -> None:
        assert b.journal is not None
        self._journal = b.journal
        self._model = MarketModel(seed)
        self._now = time.time_ns() if start_ns is None else start_ns

    def append(self, count: int) -> list[str]:
        """Journal ``count`` more executions, up to 100 per append as the exchange's responses
        bring them; their ExecIDs in journal order."""
        ids: list[str] = []
        pending: list[NewEvent] = []
        while len(ids) < count:
            self._now += 1_000_000
            for execution in self._model.step(self._now).executions[: count - len(ids)]:
                pending.append(execution_to_event(execution))
                ids.append(execution.id)
            if len(pending) >= RESPONSE_SIZE or len(ids) >= count:
                self._journal.append("executions", pending, b"t", self._now)
                pending = []
        return ids


def journal_executions(b: Bridge, count: int) -> list[str]:
    """Put ``count`` simulator executions into the journal; their ExecIDs in journal order."""
    return ExecutionFeed(b).append(count)
