"""Wires the bridge together and owns its lifecycle: start, run, drain, stop.

Order matters: the journal opens first (nothing runs without it), the FIX acceptor listens
next (clients can log on and receive the backlog even while the exchange is unreachable),
the upstream subscriber starts last. Stopping runs the other way round, and every live FIX
session is logged out with a Text before the journal closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from fixbridge.config import BridgeConfig
from fixbridge.fix.acceptor import Acceptor, Notifier
from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.upstream.scales import ScaleBook
from fixbridge.upstream.streams import DEPENDS_ON, build_stream_specs
from fixbridge.upstream.subscriber import StreamSubscriber

log = logging.getLogger("fixbridge")


class Bridge:
    def __init__(self, config: BridgeConfig, clock: Callable[[], int] = time.time_ns) -> None:
        self.config = config
        self._clock = clock
        self.journal: SqliteJournal | None = None
        self.acceptor: Acceptor | None = None
        self.subscribers: list[StreamSubscriber] = []
        self._subscriber_tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        config = self.config
        self.journal = SqliteJournal(config.journal.path, synchronous=config.journal.synchronous)
        for session in config.sessions:
            # A configured session receives everything journaled from now on, logged on or not.
            self.journal.load_session(session.name)
        notifier = Notifier()
        self.acceptor = Acceptor(config.fix, config.sessions, self.journal, notifier, self._clock)
        await self.acceptor.start()
        specs = build_stream_specs(ScaleBook())
        for name in wanted_streams(config, available=tuple(specs)):
            subscriber = StreamSubscriber(
                specs[name], config.upstream, self.journal, notifier.notify, self._clock
            )
            self.subscribers.append(subscriber)
            self._subscriber_tasks.append(asyncio.create_task(subscriber.run(), name=name))
        log.info(
            "fixbridge started: journal %s, %d session(s), upstream %s",
            config.journal.path,
            len(config.sessions),
            config.upstream.target,
        )

    async def stop(self) -> None:
        for task in self._subscriber_tasks:
            task.cancel()
        for task in self._subscriber_tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.acceptor is not None:
            await self.acceptor.stop()
        if self.journal is not None:
            self.journal.close()
        log.info("fixbridge stopped")

    async def run_until(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()


def wanted_streams(config: BridgeConfig, *, available: tuple[str, ...]) -> list[str]:
    """The upstream streams some configured session receives (and what they depend on)."""
    kinds: set[str] = {kind for s in config.sessions for kind in s.scope.message_kinds}
    for kind in list(kinds):
        kinds.update(DEPENDS_ON.get(kind, ()))
    missing = sorted(kinds - set(available))
    if missing:
        log.warning("message kinds %s are not consumed from upstream yet", ", ".join(missing))
    return [name for name in available if name in kinds]
