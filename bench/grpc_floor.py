"""The floor under live ingestion in Python: what grpcio costs to receive one stream response,
with nothing done with it.

A bare client (grpcio's asyncio API, as the bridge uses, then its blocking API) reads the
replay upstream's executions stream and does nothing else, for responses of one execution:
paced at ``--rate`` responses/s (one per millisecond tick at 1,000/s) and at full speed.
Printed: the client's CPU microseconds per response and its CPU share of a core, and for the
paced runs how long after it was due (its first execution's TransactTime) a response was in
the client's hands, p50 / p99 (the first tenth left out): the source's and the transport's
part of every live latency figure. Every live execution the bridge receives alone in a
response costs at least this much CPU before the bridge sees it. Nothing is asserted.
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
    """CPU and wall time from the first response until ``count`` executions have come, and
    each response's delay: its receipt minus its first execution's TransactTime (when the
    replay upstream had it due; paced runs only)."""

    def __init__(self, count: int) -> None:
        self._count, self._seen = count, 0
        self._cpu = self._wall = 0.0
        self._cpu_end = self._wall_end = 0.0  # when the last execution came
        self.delays_ns: list[int] = []

    def done_after(self, response: Any) -> bool:
        now = time.time_ns()
        if not self._seen:
            self._cpu, self._wall = time.process_time(), time.monotonic()
        if response.executions:
            due = response.executions[0].transact_time
            self.delays_ns.append(now - (due.seconds * 1_000_000_000 + due.nanos))
        self._seen += len(response.executions)
        if self._seen < self._count:
            return False
        self._cpu_end, self._wall_end = time.process_time(), time.monotonic()
        return True

    def figures(self) -> tuple[float, float]:
        """CPU and wall seconds from the first response to the last execution (the
        channel's teardown left out)."""
        return self._cpu_end - self._cpu, self._wall_end - self._wall

    def delay_ms(self, share: float) -> float:
        """The delay below which ``share`` of the responses came, the first tenth left out
        (the stream's start)."""
        ordered = sorted(self.delays_ns[len(self.delays_ns) // 10 :])
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] / 1e6


REQUEST = dropcopy_pb2.CreateDropCopySubscriptionRequest()


async def receive_async(target: str, count: int) -> Meter:
    meter = Meter(count)
    async with grpc.aio.insecure_channel(target) as channel:
        stub = dropcopy_pb2_grpc.DropCopyAPIStub(channel)  # type: ignore[no-untyped-call]
        async for response in stub.CreateDropCopySubscription(REQUEST):
            if meter.done_after(response):
                break
    return meter


def receive_blocking(target: str, count: int) -> Meter:
    meter = Meter(count)
    with grpc.insecure_channel(target) as channel:
        stub = dropcopy_pb2_grpc.DropCopyAPIStub(channel)  # type: ignore[no-untyped-call]
        for response in stub.CreateDropCopySubscription(REQUEST):
            if meter.done_after(response):
                break
    return meter


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--responses", type=int, default=5000)
    args = parser.parse_args(argv)
    n = args.responses
    print(f"{'client':<28} {'responses':>9} {'sent as':<20} {'CPU us/resp':>11} {'CPU share':>9}"
          f" {'due -> received p50/p99 ms':>26}")  # fmt: skip
    for name, receive in (("grpc.aio (the bridge's)", None), ("grpc blocking API", 1)):
        for label, extra in ((f"{args.rate}/s paced", ["--rate", str(args.rate),
                                                       "--start-in", "1"]),
                             ("full speed", ["--per-response", "1"])):  # fmt: skip
            proc, port, _ = launch(["--executions", str(n), *extra])
            target = f"127.0.0.1:{port}"
            try:
                if receive is None:
                    meter = asyncio.run(receive_async(target, n))
                else:
                    meter = receive_blocking(target, n)
            finally:
                proc.kill()
                proc.wait(10)
            cpu, wall = meter.figures()
            # At full speed, TransactTime is the simulator's, not when the response was due.
            delay = (f"{meter.delay_ms(0.5):.3f}/{meter.delay_ms(0.99):.3f}"
                     if label != "full speed" else "-")  # fmt: skip
            print(f"{name:<28} {n:>9} {label:<20} {cpu / n * 1e6:>11.1f} {cpu / wall:>9.2f}"
                  f" {delay:>26}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
