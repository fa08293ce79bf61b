"""Live latency: executions offered at a fixed rate by the simulator, through a bridge process,
to a FIX client; from the exchange's transact time to the bytes readable at the client.

What one invocation does, per offered rate R (executions/s, open loop: the simulator keeps
its pace whatever the bridge does):

1. Starts the simulator (``python -m fixbridge simulate``, its own process, real gRPC) at R
   for ``--seconds``, and a bridge process (``python -m fixbridge run``,
   ``synchronous = "full"``) subscribed to it from the simulator's first event. Three
   processes: the simulator, the bridge and this client do not share a CPU lock.
2. A raw FIX client (asyncio, this process) logs on and reads ExecutionReports as they come;
   for each one it takes its receipt time minus its TransactTime(60) (the simulator stamps an
   execution when it makes it and sends it at once; both clocks are this machine's).
3. Executions made before the client's Logon + 1 s are left out (what the simulator made
   while the bridge and the client were starting arrives as a backlog); the rest are the
   samples.

Printed per rate: samples, p50 / p99 / p99.9 / max in milliseconds (exact, from the samples),
the bridge's CPU microseconds per delivered message and its CPU share of one core over the
run. Nothing is asserted. Run ``python bench/live_latency.py [--rates 1000,2000] [--seconds 10]``.
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import contextlib
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from resend_memory import cpu_seconds  # noqa: E402

from tests.integration.bridge_proc import BridgeProcess, write_config  # noqa: E402
from tests.integration.qfharness import free_tcp_port  # noqa: E402
from tests.integration.rawfix import RawClient  # noqa: E402

BRIDGE, CLIENT = "FIXBRIDGE", "BO"
WARM_UP_S = 1.0


def transact_ns(stamp: str) -> int:
    """A UTCTimestamp (YYYYMMDD-HH:MM:SS[.fraction]) as ns since the epoch."""
    whole, _, fraction = stamp.partition(".")
    seconds = calendar.timegm(time.strptime(whole, "%Y%m%d-%H:%M:%S"))
    return seconds * 1_000_000_000 + int((fraction + "000000000")[:9])


def _wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"the simulator did not listen on {port}")


def percentile(ordered: list[int], share: float) -> float:
    index = min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))
    return ordered[index] / 1e6


async def _receive(port: int, until_ns: int) -> tuple[list[int], int]:
    """Latencies (ns) of the ExecutionReports read until ``until_ns``, and how many came."""
    client = RawClient(CLIENT, BRIDGE)
    await client.connect(port)
    client.logon(reset=True)
    reader = client._reader
    assert reader is not None
    parser = client._parser
    latencies: list[int] = []
    count = 0
    warm = time.time_ns() + int(WARM_UP_S * 1e9)
    while time.time_ns() < until_ns:
        try:
            data = await asyncio.wait_for(reader.read(1 << 20), timeout=1.0)
        except TimeoutError:
            continue
        if not data:
            break
        now = time.time_ns()
        for message in parser.feed(data):
            if getattr(message, "msg_type", None) != "8":
                continue
            count += 1
            made = transact_ns(message.get(60) or "")
            if made >= warm:  # made after the warm-up: a live message, not the backlog
                latencies.append(now - made)
    client.close()
    return latencies, count


def measure(rate: int, seconds: float, workdir: Path) -> dict[str, object]:
    run_dir = workdir / f"rate-{rate}"
    run_dir.mkdir(parents=True, exist_ok=True)
    total = int(rate * seconds)
    sim_port = free_tcp_port()
    simulator = subprocess.Popen(
        [sys.executable, "-m", "fixbridge", "simulate", "--listen", f"127.0.0.1:{sim_port}",
         "--seed", "17", "--rate", str(rate), "--max-executions", str(total),
         "--heartbeat-interval", "0.5"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=(run_dir / "simulator.log").open("wb"),
    )  # fmt: skip
    try:
        _wait_for_port(sim_port)
        fix_port = free_tcp_port()
        config = write_config(
            run_dir / "bridge.toml", upstream_port=sim_port, fix_port=fix_port,
            journal=run_dir / "journal.db",
            sessions=[{"name": "bo", "sender_comp_id": BRIDGE, "target_comp_id": CLIENT,
                       "scope": {"message_kinds": ["executions"]}}],
        )  # fmt: skip
        text = config.read_text().replace('synchronous = "normal"', 'synchronous = "full"')
        config.write_text(text)
        bridge = BridgeProcess(config, run_dir / "bridge.log", fix_port, None)
        with bridge:
            assert bridge._proc is not None
            pid = bridge._proc.pid
            cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
            until = time.time_ns() + int((seconds + 2.0) * 1e9)
            latencies, count = asyncio.run(_receive(fix_port, until))
            cpu = cpu_seconds(pid) - cpu_before
            wall = time.monotonic() - wall_before
    finally:
        simulator.terminate()
        simulator.wait(10)
    ordered = sorted(latencies)
    return {
        "offered_per_s": rate, "seconds": seconds, "received": count,
        "samples": len(ordered),
        "p50_ms": round(percentile(ordered, 0.50), 3) if ordered else None,
        "p99_ms": round(percentile(ordered, 0.99), 3) if ordered else None,
        "p99_9_ms": round(percentile(ordered, 0.999), 3) if ordered else None,
        "max_ms": round(ordered[-1] / 1e6, 3) if ordered else None,
        "bridge_cpu_us_per_msg": round(cpu / max(count, 1) * 1e6, 1),
        "bridge_cpu_share": round(cpu / wall, 3),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="1000,2000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rates = [int(r) for r in args.rates.split(",") if r]
    with tempfile.TemporaryDirectory(prefix="fixbridge-live-") as tmp:
        results = [measure(rate, args.seconds, Path(tmp)) for rate in rates]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'offered/s':>9} {'received':>8} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} "
          f"{'max ms':>8} {'CPU us/msg':>10} {'CPU share':>9}")  # fmt: skip
    for r in results:
        print(f"{r['offered_per_s']:>9} {r['received']:>8} {r['p50_ms']:>8} {r['p99_ms']:>8} "
              f"{r['p99_9_ms']:>9} {r['max_ms']:>8} {r['bridge_cpu_us_per_msg']:>10} "
              f"{r['bridge_cpu_share']:>9}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
