"""A replay upstream: the exchange's executions stream served from pre-built protobuf
responses, so the bench measures the bridge and not the source.

It is a gRPC server for ``polymarket.v1.DropCopyAPI/CreateDropCopySubscription`` only (the
benches configure sessions whose scope is executions, so the bridge opens no other stream).
Before it listens it makes the executions of the seeded market simulator. Two ways to serve:

- full speed (no ``--rate``): E executions in responses of ``--per-response``, all built and
  serialized before it listens, so serving one costs a write and nothing else; sent one after
  another as fast as gRPC flow control lets them go (the ingest figure);
- paced (``--rate R``): open loop, execution k is due at ``start + k / R`` and its
  TransactTime(60) is that instant; executions due in the same millisecond share one response,
  made and sent when due (or at once if the server is late: the lateness is then part of the
  measured latency, never hidden). Beyond ``--pool`` distinct executions the pool is reused
  with suffixed ids, so a long run needs no more memory.

``start`` is ``--start-in`` seconds after the executions are made, leaving time for the bridge
and its client to start. Each response carries resume token
``r<index>``; a request with a token resumes after it. When everything is sent the stream stays
open with a token-only response every second, as the exchange's heartbeats. Prints
``ready <port> <start ns>`` once listening (start 0 at full speed). Imports no bridge code: only
the generated protos and the simulator's market model.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fixbridge.proto.polymarket.v1 import dropcopy_pb2  # noqa: E402
from fixbridge.simulator.market import MarketModel  # noqa: E402

SERVICE = "polymarket.v1.DropCopyAPI"
HEARTBEAT_S = 1.0
T0 = 1_795_000_000_000_000_000


def executions(count: int, seed: int) -> list[Any]:
    """``count`` executions of the seeded market model, in the order it makes them."""
    model, now, made = MarketModel(seed), T0, []
    while len(made) < count:
        now += 1_000_000
        made += model.step(now).executions
    return made[:count]


def paced_groups(count: int, rate: float, start_ns: int) -> Iterator[tuple[int, range]]:
    """Execution indexes grouped by the millisecond they are due in: (due ns, indexes)."""
    first = 0
    while first < count:
        due = start_ns + int(first * 1e9 / rate)
        tick = due // 1_000_000
        last = first + 1
        while last < count and (start_ns + int(last * 1e9 / rate)) // 1_000_000 == tick:
            last += 1
        yield due, range(first, last)
        first = last


class Paced:
    """Responses made when due (so a long run needs no memory for them): execution k is
    ``pool[k % len(pool)]``, copy c = k // len(pool) with ``-c`` appended to its own and its
    order's id, so every execution is new; its TransactTime is when it is due."""

    def __init__(self, pool: list[Any], count: int, rate: float, start_ns: int) -> None:
        self._pool, self._count, self._rate, self._start = pool, count, rate, start_ns

    def responses(self, after: int) -> Iterator[tuple[int, bytes]]:
        pool = self._pool
        for n, (due, indexes) in enumerate(paced_groups(self._count, self._rate, self._start)):
            if n <= after:
                continue
            response = dropcopy_pb2.CreateDropCopySubscriptionResponse(resume_token=b"r%d" % n)
            for k in indexes:
                execution = response.executions.add()
                copy, original = divmod(k, len(pool))
                execution.CopyFrom(pool[original])
                if copy:
                    execution.id += f"-{copy}"
                    execution.order.id += f"-{copy}"
                execution.transact_time.FromNanoseconds(self._start + int(k * 1e9 / self._rate))
            yield due, response.SerializeToString()

    @property
    def last_token(self) -> bytes:
        return b"r%d" % (sum(1 for _ in paced_groups(self._count, self._rate, self._start)) - 1)


class FullSpeed:
    """Every response built and serialized before the server listens."""

    def __init__(self, made: list[Any], per_response: int) -> None:
        self._data = [
            dropcopy_pb2.CreateDropCopySubscriptionResponse(
                resume_token=b"r%d" % (n // per_response), executions=made[n : n + per_response]
            ).SerializeToString()
            for n in range(0, len(made), per_response)
        ]

    def responses(self, after: int) -> Iterator[tuple[int, bytes]]:
        for data in self._data[after + 1 :]:
            yield 0, data

    @property
    def last_token(self) -> bytes:
        return b"r%d" % (len(self._data) - 1)


class Replay:
    def __init__(self, source: Paced | FullSpeed) -> None:
        self._source = source

    async def stream(self, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        token = bytes(request.resume_token)
        after = int(token[1:]) if token.startswith(b"r") else -1
        for due, data in self._source.responses(after):
            if due:
                wait = (due - time.time_ns()) / 1e9
                if wait > 0:
                    await asyncio.sleep(wait)
            yield data
        heartbeat = dropcopy_pb2.CreateDropCopySubscriptionResponse(
            resume_token=self._source.last_token
        ).SerializeToString()
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            yield heartbeat


def launch(args: list[str], log: Path | None = None) -> tuple[subprocess.Popen[str], int, int]:
    """This server in a process of its own with ``args``, once built and listening:
    (process, port, start ns; 0 at full speed). Its stderr goes to ``log``."""
    replay = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *args], cwd=REPO,
        stdout=subprocess.PIPE, text=True,
        stderr=log.open("wb") if log is not None else subprocess.DEVNULL,
    )  # fmt: skip
    assert replay.stdout is not None
    line = replay.stdout.readline().split()
    if len(line) != 3 or line[0] != "ready":
        replay.kill()
        raise RuntimeError(f"the replay upstream did not start: {line}")
    return replay, int(line[1]), int(line[2])


async def serve(args: argparse.Namespace) -> None:
    source: Paced | FullSpeed
    if args.rate:
        pool = executions(min(args.executions, args.pool), args.seed)
        start = time.time_ns() + int(args.start_in * 1e9)
        source = Paced(pool, args.executions, args.rate, start)
    else:  # every execution distinct, all built before listening
        start, source = 0, FullSpeed(executions(args.executions, args.seed), args.per_response)
    replay = Replay(source)
    handler = grpc.method_handlers_generic_handler(SERVICE, {
        "CreateDropCopySubscription": grpc.unary_stream_rpc_method_handler(
            replay.stream,
            request_deserializer=dropcopy_pb2.CreateDropCopySubscriptionRequest.FromString,
            response_serializer=lambda data: data,
        ),
    })  # fmt: skip
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port(args.listen)
    await server.start()
    print(f"ready {port} {start}", flush=True)
    await server.wait_for_termination()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--executions", type=int, required=True)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--per-response", type=int, default=100)
    parser.add_argument("--pool", type=int, default=100_000,
                        help="paced: distinct executions made, reused beyond (ids suffixed)")
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--start-in", type=float, default=5.0,
                        help="paced: seconds from the end of the build to execution 0")
    args = parser.parse_args(argv)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
