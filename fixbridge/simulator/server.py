"""The simulated exchange as a running gRPC server, and a way to run it beside a test.

:class:`SimulatorServer` is the I/O edge around the pure market model: it reads the real clock,
steps the model at about ``rate`` executions a second (``rate=0``: as fast as it can while still
letting the event loop breathe), logs every event in the :class:`EventStore`, wakes the streams,
and serves ``polymarket.v1.DropCopyAPI`` over plaintext gRPC. With ``max_executions`` it stops
producing after exactly that many executions; the streams then only send heartbeats.
:class:`SimulatorThread` runs one in a background thread with its own event loop, for tests and
tools that are not asyncio code. Nothing here decides market behaviour: that is the model's job.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import grpc

from fixbridge.proto.polymarket.v1 import (
    dropcopy_pb2,
    dropcopy_pb2_grpc,
    orders_pb2,
    refdata_pb2,
    trading_pb2,
)
from fixbridge.simulator.market import MarketModel
from fixbridge.simulator.refdata import FIRM_NAMES, SYMBOLS
from fixbridge.simulator.servicer import DropCopyServicer, Pulse
from fixbridge.simulator.store import EventStore

logger = logging.getLogger("fixbridge.simulator")

DEFAULT_LISTEN = "127.0.0.1:50051"
SLICE_SECONDS = 0.005
"""Longest the producer steps the model before it yields to the streams."""

_SERVER_OPTIONS = (
    # Refuse a port another process already listens on instead of sharing it silently.
    ("grpc.so_reuseport", 0),
    # Let clients ping as the exchange's sample client does (every 60 s, also when idle).
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_ping_strikes", 0),
)


_register: Callable[[DropCopyServicer, Any], None] = (
    dropcopy_pb2_grpc.add_DropCopyAPIServicer_to_server
)


class SimulatorError(RuntimeError):
    """The simulator could not start (e.g. the listen address is taken)."""


class SimulatorServer:
    """A running simulated exchange. Create it, ``await start()``, ``await stop()``."""

    def __init__(
        self,
        listen: str = DEFAULT_LISTEN,
        *,
        seed: int = 7,
        rate: float = 50.0,
        max_executions: int | None = None,
        heartbeat_interval: float = 5.0,
        batch_size: int = 100,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        """``listen`` is ``host:port`` (port 0 picks a free one). ``rate`` is executions per
        second, 0 for as fast as possible. ``on_progress`` is called in the event loop with
        the total number of executions after each burst the producer logs."""
        if rate < 0:
            raise ValueError(f"rate must be >= 0, got {rate}")
        if max_executions is not None and max_executions < 0:
            raise ValueError(f"max_executions must be >= 0, got {max_executions}")
        if heartbeat_interval <= 0:
            raise ValueError(f"heartbeat_interval must be > 0, got {heartbeat_interval}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self._listen = listen
        self.seed = seed
        self.rate = rate
        self.max_executions = max_executions
        self.heartbeat_interval = heartbeat_interval
        self._on_progress = on_progress
        self.instance_id = secrets.token_hex(8)
        self.store = EventStore()
        self._model = MarketModel(seed)
        self._pulse: Pulse | None = None
        self._server: Any = None
        self._producer: asyncio.Task[None] | None = None
        self._port = 0
        self._servicer_args = {"batch_size": batch_size}

    # -------------------------------------------------------------------------------- lifecycle

    async def start(self) -> int:
        """Open the market, bind, start serving and producing; returns the bound port."""
        if self._server is not None:
            raise SimulatorError("simulator already started")
        self._pulse = Pulse()
        servicer = DropCopyServicer(
            self.store,
            self._pulse,
            instance=self.instance_id,
            known_symbols=[s.symbol for s in SYMBOLS],
            known_firms=FIRM_NAMES,
            heartbeat_interval=self.heartbeat_interval,
            **self._servicer_args,
        )
        server = grpc.aio.server(options=_SERVER_OPTIONS)
        _register(servicer, server)
        try:
            port = int(server.add_insecure_port(self._listen))
        except RuntimeError as exc:
            raise SimulatorError(f"cannot listen on {self._listen}: {exc}") from exc
        if port == 0:
            raise SimulatorError(f"cannot listen on {self._listen}")
        self._port = port
        # The opening step (every instrument OPEN) is logged before anyone can connect, so the
        # instrument-state snapshot is never empty.
        self.store.append(self._model.step(time.time_ns(), self._budget()))
        await server.start()
        self._server = server
        self._producer = asyncio.create_task(self._produce(), name="simulator-producer")
        return port

    async def stop(self, grace: float | None = 1.0) -> None:
        """Stop producing, end every stream (after ``grace`` seconds) and close the port."""
        if self._producer is not None:
            self._producer.cancel()
            await asyncio.wait({self._producer})
            self._producer = None
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None

    async def wait_for_termination(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()

    # ------------------------------------------------------------------------------ what it is

    @property
    def port(self) -> int:
        """The bound port (0 before :meth:`start`)."""
        return self._port

    @property
    def address(self) -> str:
        """``host:port`` as bound, e.g. ``127.0.0.1:50051``."""
        host = self._listen.rsplit(":", 1)[0]
        return f"{host}:{self._port}"

    @property
    def failure(self) -> BaseException | None:
        """The error production stopped on, if it did."""
        return self.store.failure

    @property
    def executions(self) -> list[trading_pb2.Execution]:
        """Every execution produced so far (a copy; safe from any thread)."""
        return self.store.executions.events()

    @property
    def trades(self) -> list[orders_pb2.Trade]:
        return self.store.trades.events()

    @property
    def instruments(self) -> list[refdata_pb2.Instrument]:
        return self.store.instruments.events()

    @property
    def position_changes(self) -> list[dropcopy_pb2.PositionChange]:
        return self.store.position_changes.events()

    # ------------------------------------------------------------------------------- producing

    def _budget(self) -> int | None:
        if self.max_executions is None:
            return None
        return self.max_executions - len(self.store.executions)

    def _capped(self) -> bool:
        budget = self._budget()
        return budget is not None and budget <= 0

    async def _produce(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        produced = len(self.store.executions)
        try:
            while not self._capped():
                if self.rate > 0:
                    next_due = started + (produced + 1) / self.rate
                    if loop.time() < next_due:
                        await asyncio.sleep(min(next_due - loop.time(), 0.25))
                        continue
                slice_end = loop.time() + SLICE_SECONDS
                while not self._capped():
                    self.store.append(self._model.step(time.time_ns(), self._budget()))
                    produced = len(self.store.executions)
                    if loop.time() >= slice_end:
                        break
                    if self.rate > 0 and produced >= (loop.time() - started) * self.rate:
                        break
                self._wake(produced)
                await asyncio.sleep(0)
            logger.info("reached max_executions=%d: streams only send heartbeats from now on",
                        produced)
        except Exception as exc:
            logger.exception("the market model failed; no more events will be produced")
            self.store.fail(exc)

    def _wake(self, produced: int) -> None:
        if self._pulse is not None:
            self._pulse.fire()
        if self._on_progress is not None:
            self._on_progress(produced)


class SimulatorThread:
    """A SimulatorServer on a background thread with its own event loop.

    ``with SimulatorThread(seed=11, rate=0, max_executions=500) as sim:`` starts it (returning
    once it listens on ``sim.port``) and stops it at the end of the block.
    """

    def __init__(
        self,
        listen: str = "127.0.0.1:0",
        *,
        seed: int = 7,
        rate: float = 50.0,
        max_executions: int | None = None,
        heartbeat_interval: float = 5.0,
        batch_size: int = 100,
    ) -> None:
        self._server = SimulatorServer(
            listen, seed=seed, rate=rate, max_executions=max_executions,
            heartbeat_interval=heartbeat_interval, batch_size=batch_size,
        )
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._grace = 0.5

    def start(self, timeout: float = 10.0) -> Self:
        """Start the thread; returns once the server listens. Raises SimulatorError if not."""
        if self._thread is not None:
            raise SimulatorError("simulator thread already started")
        self._thread = threading.Thread(target=self._run, name="simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise SimulatorError(f"simulator did not start within {timeout} s")
        if self._error is not None:
            raise SimulatorError(f"simulator failed to start: {self._error}") from self._error
        return self

    def stop(self, grace: float = 0.5, timeout: float = 10.0) -> None:
        """End every stream (after ``grace`` seconds), stop the server and join the thread."""
        if self._thread is None:
            return
        self._grace = grace
        if self._thread.is_alive() and self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise SimulatorError(f"simulator thread did not stop within {timeout} s")
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def server(self) -> SimulatorServer:
        return self._server

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def address(self) -> str:
        return self._server.address

    @property
    def instance_id(self) -> str:
        return self._server.instance_id

    def executions(self) -> list[trading_pb2.Execution]:
        """Snapshot of every execution produced so far."""
        return self._server.executions

    def trades(self) -> list[orders_pb2.Trade]:
        return self._server.trades

    def instruments(self) -> list[refdata_pb2.Instrument]:
        return self._server.instruments

    def position_changes(self) -> list[dropcopy_pb2.PositionChange]:
        return self._server.position_changes

    def wait_for_executions(self, count: int, timeout: float = 30.0) -> None:
        """Block until ``count`` executions were produced; TimeoutError if not in time."""
        if not self._server.store.wait_for_executions(count, timeout):
            have = len(self._server.store.executions)
            raise TimeoutError(f"{have} of {count} executions after {timeout} s")

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start(); the thread ends either way
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        await self._server.start()
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await self._server.stop(self._grace)
