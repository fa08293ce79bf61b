"""The floor under live ingestion in Python: what grpcio costs to receive one stream response,
with nothing done with it.

A bare client (grpcio's asyncio API, as the bridge uses, then its blocking API) reads the
replay upstream's executions stream and does nothing else, for responses of one execution:
paced at ``--rate`` responses/s (one per millisecond tick at 1,000/s) and at full speed.
Printed: the client's CPU microseconds per response and its CPU share of a core.
Every live execution the bridge receives alone in a response costs at least this much before
the bridge sees it. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import grpc

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from replay_upstream import launch  # noqa: E402

from fixbridge.proto.polymarket.v1 import dropcopy_pb2, dropcopy_pb2_grpc  # noqa: E402


class Meter:
    """CPU and wall time from the first response until ``count`` executions have come."""

    def __init__(self, count: int) -> None:
        self._count, self._seen = count, 0
        self._cpu = self._wall = 0.0

    def done_after(self, response: Any) -> bool:
        if not self._seen:
            self._cpu, self._wall = time.process_time(), time.monotonic()
        self._seen += len(response.executions)
        return self._seen >= self._count

    def figures(self) -> tuple[float, float]:
        return time.process_time() - self._cpu, time.monotonic() - self._wall


REQUEST = dropcopy_pb2.CreateDropCopySubscriptionRequest()


async def receive_async(target: str, count: int) -> tuple[float, float]:
    meter = Meter(count)
    async with grpc.aio.insecure_channel(target) as channel:
        stub = dropcopy_pb2_grpc.DropCopyAPIStub(channel)  # type: ignore[no-untyped-call]
        async for response in stub.CreateDropCopySubscription(REQUEST):
            if meter.done_after(response):
                break
    return meter.figures()


def receive_blocking(target: str, count: int) -> tuple[float, float]:
    meter = Meter(count)
    with grpc.insecure_channel(target) as channel:
        stub = dropcopy_pb2_grpc.DropCopyAPIStub(channel)  # type: ignore[no-untyped-call]
        for response in stub.CreateDropCopySubscription(REQUEST):
            if meter.done_after(response):
                break
    return meter.figures()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--responses", type=int, default=5000)
    args = parser.parse_args(argv)
    n = args.responses
    print(f"{'client':<28} {'responses':>9} {'sent as':<20} {'CPU us/resp':>11} {'CPU share':>9}")
    for name, receive in (("grpc.aio (the bridge's)", None), ("grpc blocking API", 1)):
        for label, extra in ((f"{args.rate}/s paced", ["--rate", str(args.rate),
                                                       "--start-in", "1"]),
                             ("full speed", ["--per-response", "1"])):  # fmt: skip
            proc, port, _ = launch(["--executions", str(n), *extra])
            target = f"127.0.0.1:{port}"
            try:
                if receive is None:
                    cpu, wall = asyncio.run(receive_async(target, n))
                else:
                    cpu, wall = receive_blocking(target, n)
            finally:
                proc.kill()
                proc.wait(10)
            print(f"{name:<28} {n:>9} {label:<20} {cpu / n * 1e6:>11.1f} {cpu / wall:>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
