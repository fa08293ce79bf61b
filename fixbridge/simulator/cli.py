"""``fixbridge simulate``: run the simulated exchange in the foreground until SIGINT or SIGTERM.

:func:`add_simulate_arguments` declares the options, :func:`run_simulate` runs it. Logs go to
the ``fixbridge.simulator`` logger: one line when it listens, one per 1,000 executions, one
when it stops. This module only parses options and wires the server's lifecycle to signals; it
must never contain market behaviour.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from fixbridge.simulator.addresses import listen_address
from fixbridge.simulator.auth import add_auth_arguments, auth_from_args
from fixbridge.simulator.faults import add_fault_arguments, describe, plan_from_args
from fixbridge.simulator.marketdata_api import DEFAULT_IDLE_LIMIT_S
from fixbridge.simulator.server import DEFAULT_LISTEN, SimulatorError, SimulatorServer

logger = logging.getLogger("fixbridge.simulator")

PROGRESS_EVERY = 1_000
_FAILURE_POLL_SECONDS = 0.5


def _parse(text: str, kind: type[float] | type[int]) -> float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _rate(text: str) -> float:
    value = _parse(text, float)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _seconds(text: str) -> float:
    value = _parse(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _count(text: str) -> int:
    value = int(_parse(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``simulate`` options to ``parser``."""
    parser.add_argument(
        "--listen", type=listen_address, default=DEFAULT_LISTEN, metavar="HOST:PORT",
        help=f"plaintext gRPC address to serve on (default {DEFAULT_LISTEN}; port 0 = any)",
    )
    parser.add_argument(
        "--seed", type=int, default=7,
        help="seed of the market model: the same seed replays the same market (default 7)",
    )
    parser.add_argument(
        "--rate", type=_rate, default=50.0,
        help="executions per second; 0 = as fast as possible (default 50)",
    )
    parser.add_argument(
        "--max-executions", type=_count, default=None,
        metavar="N", help="stop producing after exactly N executions (default: never)",
    )
    parser.add_argument(
        "--heartbeat-interval", type=_seconds, default=5.0,
        metavar="SECONDS",
        help="send an empty response with a fresh resume token after this long without "
             "events on a stream (default 5)",
    )
    parser.add_argument(
        "--market-data-idle-limit", type=_seconds, default=DEFAULT_IDLE_LIMIT_S,
        metavar="SECONDS",
        help="end a bidirectional market-data stream with UNAVAILABLE after this long without "
             f"a message from its client (default {DEFAULT_IDLE_LIMIT_S:g}, the exchange's "
             "load balancer idle timeout)",
    )
    add_auth_arguments(parser)
    add_fault_arguments(parser)


def run_simulate(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM. 0 on a clean stop, 1 if it cannot start or the model fails.
    Configures logging at INFO only if nothing configured it before."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(_serve(args))


class _ProgressLog:
    """Logs one line each time the execution count passes a multiple of PROGRESS_EVERY."""

    def __init__(self) -> None:
        self._logged = 0

    def __call__(self, executions: int) -> None:
        while executions >= self._logged + PROGRESS_EVERY:
            self._logged += PROGRESS_EVERY
            logger.info("%d executions produced", self._logged)


async def _serve(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stopping.set)
    try:
        auth = auth_from_args(args)
    except ValueError as exc:
        logger.error("%s", exc)
        return 2
    server = SimulatorServer(
        args.listen,
        seed=args.seed,
        rate=args.rate,
        max_executions=args.max_executions,
        heartbeat_interval=args.heartbeat_interval,
        on_progress=_ProgressLog(),
        auth=auth,
        token_listen=args.token_listen,
        report_requests_per_minute=args.report_rate_limit,
        faults=plan_from_args(args),
        market_data_idle_limit_s=args.market_data_idle_limit,
    )
    try:
        try:
            await server.start()
        except SimulatorError as exc:
            logger.error("%s", exc)
            return 1
        cap = "no cap" if args.max_executions is None else f"cap {args.max_executions}"
        rate = "as fast as possible" if args.rate == 0 else f"{args.rate:g} executions/s"
        logger.info(
            "simulated exchange (polymarket.v1.DropCopyAPI, plaintext gRPC) listening on %s: "
            "seed %d, %s, %s, heartbeat every %g s, instance %s",
            server.address, args.seed, rate, cap, args.heartbeat_interval, server.instance_id,
        )
        if auth is not None:
            logger.info(
                "auth on: token endpoint %s, audience %s, client %s, token lifetime %g s",
                server.token_url, auth.audience, args.auth_client_id, auth.token_lifetime_s,
            )
        logger.info("%s", describe(args))
        while not stopping.is_set() and server.failure is None:
            try:
                await asyncio.wait_for(stopping.wait(), _FAILURE_POLL_SECONDS)
            except TimeoutError:
                continue
        await server.stop(grace=1.0)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
    if server.failure is not None:
        logger.error("stopped: the market model failed: %r", server.failure)
        return 1
    logger.info("stopped after %d executions", len(server.store.executions))
    return 0
