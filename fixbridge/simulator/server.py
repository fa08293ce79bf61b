"""The simulated exchange as a running gRPC server, and a way to run it beside a test.

:class:`SimulatorServer` is the I/O edge around the pure market model: it reads the real clock,
steps the model at about ``rate`` executions a second (``rate=0``: as fast as it can while still
letting the event loop breathe), logs every event in the :class:`EventStore`, wakes the streams,
and serves ``polymarket.v1.DropCopyAPI``, ``ReportAPI``, ``RefDataAPI.ListInstruments`` and
``MarketDataSubscriptionAPI`` over plaintext gRPC. With
``max_executions`` it stops producing after exactly that many executions; the streams then only
send heartbeats. Its :class:`FaultPlan` (``server.faults``) is consulted by the streams and the
producer and ticked here for its periodic faults.
:class:`SimulatorThread` runs one in a background thread with its own event loop, for tests and
tools that are not asyncio code. Nothing here decides market behaviour: that is the model's job.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Self

import grpc

from fixbridge.proto.polymarket.v1 import (
    dropcopy_pb2,
    dropcopy_pb2_grpc,
    marketdatasubscription_pb2_grpc,
    orders_pb2,
    refdata_pb2,
    refdata_pb2_grpc,
    report_pb2_grpc,
    trading_pb2,
)
from fixbridge.simulator.auth import SimulatorAuth
from fixbridge.simulator.faults import FaultPlan
from fixbridge.simulator.market import MarketModel
from fixbridge.simulator.marketdata import SettlementChange
from fixbridge.simulator.marketdata_api import DEFAULT_IDLE_LIMIT_S, MarketDataServicer
from fixbridge.simulator.refdata import FIRM_NAMES, SYMBOLS
from fixbridge.simulator.refdata_api import RefDataServicer
from fixbridge.simulator.report import ReportServicer
from fixbridge.simulator.servicer import DropCopyServicer, Pulse
from fixbridge.simulator.store import EventStore

logger = logging.getLogger("fixbridge.simulator")

DEFAULT_LISTEN = "127.0.0.1:50051"
SLICE_SECONDS = 0.005
"""Longest the producer steps the model before it yields to the streams."""
FAULT_TICK_SECONDS = 0.05
"""How often the fault plan's periodic faults are checked."""

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
        auth: SimulatorAuth | None = None,
        token_listen: str = "127.0.0.1:0",
        resume_token_ttl_s: float | None = None,
        replay_window_s: float | None = None,
        report_requests_per_minute: int | None = None,
        faults: FaultPlan | None = None,
        market_data_idle_limit_s: float = DEFAULT_IDLE_LIMIT_S,
        market_data_listings: Sequence[str] = (),
    ) -> None:
        """``listen`` is ``host:port`` (port 0 picks a free one). ``rate`` is executions per
        second, 0 for as fast as possible. ``on_progress`` is called in the event loop with
        the total number of executions after each burst the producer logs.
        ``resume_token_ttl_s`` and ``replay_window_s`` (None: unlimited) bound resuming;
        ``report_requests_per_minute`` rate-limits each ReportAPI method (None: off). They
        and every fault can be changed at run time through ``faults`` (by default a fresh
        :class:`FaultPlan` seeded with ``seed``; limits given here also apply to a given plan).
        ``market_data_idle_limit_s``: a bidirectional market-data stream with no message from its
        client for this long is ended with UNAVAILABLE (the load balancer's idle timeout).
        ``market_data_listings``: more symbols the market-data API accepts (an exchange lists
        thousands): they never trade, so a subscribe to one is acknowledged and nothing more
        is sent for it; the instrument list and the drop-copy streams do not know them."""
        if rate < 0:
            raise ValueError(f"rate must be >= 0, got {rate}")
        if max_executions is not None and max_executions < 0:
            raise ValueError(f"max_executions must be >= 0, got {max_executions}")
        if heartbeat_interval <= 0:
            raise ValueError(f"heartbeat_interval must be > 0, got {heartbeat_interval}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if market_data_idle_limit_s <= 0:
            raise ValueError(
                f"market_data_idle_limit_s must be > 0, got {market_data_idle_limit_s}")
        self._listen = listen
        self._md_idle_limit_s = market_data_idle_limit_s
        self._md_listings = tuple(market_data_listings)
        self.seed = seed
        self.rate = rate
        self.max_executions = max_executions
        self.heartbeat_interval = heartbeat_interval
        self._on_progress = on_progress
        self.instance_id = secrets.token_hex(8)
        self.faults = faults if faults is not None else FaultPlan(seed)
        if resume_token_ttl_s is not None:
            self.faults.set_resume_token_ttl(resume_token_ttl_s)
        if replay_window_s is not None:
            self.faults.set_replay_window(replay_window_s)
        self.faults.attach_access_token_revoker(auth.revoke_all if auth is not None else None)
        self.store = EventStore(corrupt=self.faults.corrupt_event)
        self.report = ReportServicer(self.store, instance=self.instance_id,
                                     requests_per_minute=report_requests_per_minute)
        self.refdata = RefDataServicer(self.store, self.faults, instance=self.instance_id)
        self._model = MarketModel(seed)
        self._pulse: Pulse | None = None
        self._server: Any = None
        self._producer: asyncio.Task[None] | None = None
        self._fault_ticker: asyncio.Task[None] | None = None
        self._port = 0
        self._batch_size = batch_size
        # With auth: a token endpoint on token_listen, every call checked when it opens.
        self._auth = auth
        self._token_listen = token_listen

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
            batch_size=self._batch_size,
            faults=self.faults,
        )
        market_data = MarketDataServicer(
            self.store.market_data,
            self._pulse,
            known_symbols=[*(s.symbol for s in SYMBOLS), *self._md_listings],
            heartbeat_interval=self.heartbeat_interval,
            idle_limit_s=self._md_idle_limit_s,
        )
        interceptors = [self._auth.interceptor()] if self._auth is not None else []
        server = grpc.aio.server(options=_SERVER_OPTIONS, interceptors=interceptors)
        _register(servicer, server)
        marketdatasubscription_pb2_grpc.add_MarketDataSubscriptionAPIServicer_to_server(  # type: ignore[no-untyped-call]
            market_data, server)
        report_pb2_grpc.add_ReportAPIServicer_to_server(self.report, server)  # type: ignore[no-untyped-call]
        refdata_pb2_grpc.add_RefDataAPIServicer_to_server(self.refdata, server)  # type: ignore[no-untyped-call]
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
        if self._auth is not None:
            try:
                await self._auth.start(self._token_listen)
            except (OSError, ValueError) as exc:
                raise SimulatorError(
                    f"cannot serve the token endpoint on {self._token_listen}: {exc}"
                ) from exc
        await server.start()
        self._server = server
        self._producer = asyncio.create_task(self._produce(), name="simulator-producer")
        self._fault_ticker = asyncio.create_task(self._tick_faults(), name="simulator-faults")
        return port

    async def stop(self, grace: float | None = 1.0) -> None:
        """Stop producing, end every stream (after ``grace`` seconds) and close the port."""
        if self._producer is not None:
            self._producer.cancel()
            await asyncio.wait({self._producer})
            self._producer = None
        if self._fault_ticker is not None:
            self._fault_ticker.cancel()
            await asyncio.wait({self._fault_ticker})
            self._fault_ticker = None
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
        if self._auth is not None:
            await self._auth.stop()

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
    def auth(self) -> SimulatorAuth | None:
        return self._auth

    @property
    def token_url(self) -> str | None:
        """The token endpoint's URL while running; None without auth or before start."""
        return self._auth.token_url if self._auth is not None and self._server else None

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

    @property
    def settlements(self) -> list[SettlementChange]:
        """Every settlement price set so far, in order (a copy)."""
        return self.store.market_data.settlements()

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

    async def _tick_faults(self) -> None:
        """Fire the fault plan's periodic faults (refusal bursts, token revocation and expiry,
        stalls) in the event loop, so they happen while streams run."""
        while True:
            try:
                self.faults.tick()
            except Exception:
                logger.exception("a periodic fault failed; the fault ticker goes on")
            await asyncio.sleep(FAULT_TICK_SECONDS)


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
        auth: SimulatorAuth | None = None,
        token_listen: str = "127.0.0.1:0",
        resume_token_ttl_s: float | None = None,
        replay_window_s: float | None = None,
        report_requests_per_minute: int | None = None,
        faults: FaultPlan | None = None,
        market_data_idle_limit_s: float = DEFAULT_IDLE_LIMIT_S,
        market_data_listings: Sequence[str] = (),
    ) -> None:
        self._server = SimulatorServer(
            listen, seed=seed, rate=rate, max_executions=max_executions,
            heartbeat_interval=heartbeat_interval, batch_size=batch_size,
            auth=auth, token_listen=token_listen,
            resume_token_ttl_s=resume_token_ttl_s, replay_window_s=replay_window_s,
            report_requests_per_minute=report_requests_per_minute, faults=faults,
            market_data_idle_limit_s=market_data_idle_limit_s,
            market_data_listings=market_data_listings,
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
    def auth(self) -> SimulatorAuth | None:
        return self._server.auth

    @property
    def token_url(self) -> str | None:
        return self._server.token_url

    @property
    def instance_id(self) -> str:
        return self._server.instance_id

    @property
    def faults(self) -> FaultPlan:
        """The server's fault plan: flip its knobs from the test thread at any time."""
        return self._server.faults

    def executions(self) -> list[trading_pb2.Execution]:
        """Snapshot of every execution produced so far."""
        return self._server.executions

    def trades(self) -> list[orders_pb2.Trade]:
        return self._server.trades

    def instruments(self) -> list[refdata_pb2.Instrument]:
        return self._server.instruments

    def position_changes(self) -> list[dropcopy_pb2.PositionChange]:
        return self._server.position_changes

    def settlements(self) -> list[SettlementChange]:
        return self._server.settlements

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
