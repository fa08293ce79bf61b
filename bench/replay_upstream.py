"""A replay upstream: the exchange's executions stream served from pre-built protobuf
responses, so the bench measures the bridge and not the source.

It is a gRPC server for ``polymarket.v1.DropCopyAPI/CreateDropCopySubscription`` only (the
benches configure sessions whose scope is executions, so the bridge opens no other stream).
Before it listens it builds every response: E executions of the seeded market simulator,
already serialized, so serving one costs a write and nothing else. Two ways to serve:

- full speed (no ``--rate``): responses of ``--per-response`` executions, one after another,
  as fast as gRPC flow control lets them go (the ingest figure);
- paced (``--rate R``): open loop, execution k is due at ``start + k / R`` and
  its TransactTime(60) is that instant; executions due in the same millisecond share one
  response, sent when due (or at once if the server is late: the lateness is then part of the
  measured latency, never hidden).

``start`` is ``--start-in`` seconds after the executions are made, leaving time to serialize
them and for the bridge and its client to start. Each response carries resume token
``r<index>``; a request with a token resumes after it. When everything is sent the stream stays
open with a token-only response every second, as the exchange's heartbeats. Prints
``ready <port> <start ns>`` once listening (start 0 at full speed). Imports no bridge code: only
the generated protos and the simulator's market model.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import AsyncIterator
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


def group_paced(count: int, rate: float, start_ns: int) -> list[tuple[int, list[int]]]:
    """Execution indexes grouped by the millisecond they are due in: (due ns, indexes)."""
    groups: list[tuple[int, list[int]]] = []
    for k in range(count):
        due = start_ns + int(k * 1e9 / rate)
        if groups and groups[-1][0] // 1_000_000 == due // 1_000_000:
            groups[-1][1].append(k)
        else:
            groups.append((due, [k]))
    return groups


def build(args: argparse.Namespace) -> tuple[list[tuple[int, bytes]], int]:
    """Every response, serialized, with when it is due (0 = at once); and the start."""
    made = executions(args.executions, args.seed)
    out: list[tuple[int, bytes]] = []
    if args.rate:
        start = time.time_ns() + int(args.start_in * 1e9)
        for n, (due, indexes) in enumerate(group_paced(len(made), args.rate, start)):
            response = dropcopy_pb2.CreateDropCopySubscriptionResponse(resume_token=b"r%d" % n)
            for k in indexes:
                execution = response.executions.add()
                execution.CopyFrom(made[k])
                execution.transact_time.FromNanoseconds(start + int(k * 1e9 / args.rate))
            out.append((due, response.SerializeToString()))
        return out, start
    for n in range(0, len(made), args.per_response):
        response = dropcopy_pb2.CreateDropCopySubscriptionResponse(
            resume_token=b"r%d" % len(out), executions=made[n : n + args.per_response]
        )
        out.append((0, response.SerializeToString()))
    return out, 0


class Replay:
    def __init__(self, responses: list[tuple[int, bytes]]) -> None:
        self._responses = responses
        self.streams = 0

    async def stream(self, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        self.streams += 1
        token = bytes(request.resume_token)
        first = int(token[1:]) + 1 if token.startswith(b"r") else 0
        for due, data in self._responses[first:]:
            if due:
                wait = (due - time.time_ns()) / 1e9
                if wait > 0:
                    await asyncio.sleep(wait)
            yield data
        last = len(self._responses) - 1
        heartbeat = dropcopy_pb2.CreateDropCopySubscriptionResponse(
            resume_token=b"r%d" % last
        ).SerializeToString()
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            yield heartbeat


async def serve(args: argparse.Namespace) -> None:
    responses, start = build(args)
    replay = Replay(responses)
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
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--start-in", type=float, default=5.0,
                        help="paced: seconds from the end of the build to execution 0")
    args = parser.parse_args(argv)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
