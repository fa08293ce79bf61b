"""Live latency: executions offered at a fixed rate by a replay upstream, through a bridge
process, to a FIX client; from the exchange's send to the bytes readable at the client.

What one invocation does, per offered rate R (executions/s, open loop: the source keeps its
pace whatever the bridge does):

1. Starts ``bench/replay_upstream.py`` (its own process, real gRPC) with R x ``--seconds``
   executions of the seeded market model, pre-built: execution k is due at ``start + k / R``,
   its TransactTime(60) is that instant, and executions due in the same millisecond share one
   response. Serving costs the source a write per response, so it is not the limit.
2. Starts a bridge process (``python -m fixbridge run``, ``synchronous = "full"``) subscribed
   to it. A raw FIX client (asyncio, this process) logs on before ``start`` and reads the
   ExecutionReports; for each one it takes its receipt time minus its TransactTime(60) (both
   clocks are this machine's). Three processes: source, bridge and client share no CPU lock.
3. The same with the reference pipeline in the bridge's place (``reference_server.py
   --upstream``: gRPC in, FIX values, JSON payload, template, one group commit with
   ``synchronous = FULL``, one write per batch, no session logic), fed by a replay upstream of
   its own with the same executions at the same pace; at every other rate the reference runs
   first, so a machine that slows down during the run does not weigh on one side only
   (``--no-reference`` leaves it out).
4. Executions due in the first ``WARM_UP_S`` after ``start`` are left out of the samples.

Printed per rate and server: messages received, p50 / p99 / p99.9 / max in milliseconds
(exact, from the samples; the JSON adds a histogram with 0.25 ms buckets up to 10 ms, then
1 ms buckets up to 100 ms), the server's CPU microseconds per delivered message, its CPU share
of one core over the run, its RSS once a second (first after the warm-up .. highest); for the
bridge, x ref for its p50 and its p99 (the reference's latency divided by the bridge's: above
1 when the bridge is faster) and its own view: the buckets of its receipt -> FIX write
histogram holding the p50 and the p99. There is no peer figure: a QuickFIX acceptor does not
read gRPC. Nothing is asserted. Run
``python bench/live_latency.py [--rates 1000,5000,20000] [--seconds 10] [--no-reference]``.
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import contextlib
import json
import socket
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reference_server import running  # noqa: E402
from replay_upstream import launch  # noqa: E402
from resend_memory import RssSampler, cpu_seconds, peak_rss_mb  # noqa: E402

from tests.integration.bridge_proc import BridgeProcess, write_config  # noqa: E402
from tests.integration.qfharness import free_tcp_port  # noqa: E402
from tests.integration.rawfix import RawClient  # noqa: E402

BRIDGE, CLIENT = "FIXBRIDGE", "BO"
WARM_UP_S = 1.0
START_IN_S = 6.0  # from the end of the replay's build to its first execution
DRAIN_S = 3.0  # how long after the last execution is due the client keeps reading
HEARTBEAT_S = 10.0  # the client's Heartbeats (it logs on with HeartBtInt=30)


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


async def _receive(port: int, warm_ns: int, until_ns: int) -> tuple[list[int], int]:
    """Latencies (ns) of the ExecutionReports read until ``until_ns`` for executions due from
    ``warm_ns`` on, and how many came in all."""
    client = RawClient(CLIENT, BRIDGE)
    await client.connect(port)
    client.logon(reset=True)
    reader = client._reader
    assert reader is not None
    parser = client._parser
    latencies: list[int] = []
    count = 0
    heartbeat_at = time.monotonic() + HEARTBEAT_S
    while time.time_ns() < until_ns:
        if time.monotonic() >= heartbeat_at:  # a long run must not look like a dead client
            client.send("0")
            heartbeat_at = time.monotonic() + HEARTBEAT_S
        try:
            data = await asyncio.wait_for(reader.read(1 << 20), timeout=1.0)
        except TimeoutError:
            continue
        if not data:
            break
        now = time.time_ns()
        for message in parser.feed(data):
            kind = getattr(message, "msg_type", None)
            if kind == "1":  # TestRequest: answered, as any FIX engine does
                client.send("0", (112, message.get(112) or ""))
            if kind != "8":
                continue
            count += 1
            made = transact_ns(message.get(60) or "")
            if made >= warm_ns:
                latencies.append(now - made)
    client.close()
    return latencies, count


def histogram(ordered: list[int]) -> dict[str, int]:
    """Counts per bucket (upper bound in ms): 0.25 ms wide to 10 ms, 1 ms wide to 100 ms."""
    bounds = [round(0.25 * i, 2) for i in range(1, 41)] + list(range(11, 101))
    counts = dict.fromkeys([str(b) for b in bounds] + ["+Inf"], 0)
    i = 0
    for latency in ordered:
        ms = latency / 1e6
        while i < len(bounds) and ms > bounds[i]:
            i += 1
        counts[str(bounds[i]) if i < len(bounds) else "+Inf"] += 1
    return {k: v for k, v in counts.items() if v}


def receipt_to_write(metrics_port: int) -> tuple[float | None, float | None]:
    """The bucket bounds (ms) holding the p50 and p99 of the bridge's own receipt -> FIX write
    histogram, read from its /metrics (whole run, backlog included)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None, None
    buckets: list[tuple[float, float]] = []
    for line in text.splitlines():
        if line.startswith("fixbridge_lag_receipt_to_fix_write_seconds_bucket{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float(bound), float(line.rsplit(" ", 1)[1])))
    if not buckets or buckets[-1][1] == 0:
        return None, None
    total = buckets[-1][1]

    def bound_for(share: float) -> float | None:
        for bound, count in buckets:
            if count >= share * total:
                return bound * 1000 if bound != float("inf") else None
        return None

    return bound_for(0.5), bound_for(0.99)


# A server under test, started against the replay upstream's port in a run directory:
# (its pid, its FIX port, its metrics port or None), stopped when the context ends.
Server = Callable[[int, Path], contextlib.AbstractContextManager[tuple[int, int, int | None]]]


@contextlib.contextmanager
def bridge_server(upstream_port: int, run_dir: Path) -> Iterator[tuple[int, int, int | None]]:
    """A bridge process (``synchronous = "full"``, one session in executions scope)."""
    fix_port, metrics_port = free_tcp_port(), free_tcp_port()
    config = write_config(
        run_dir / "bridge.toml", upstream_port=upstream_port, fix_port=fix_port,
        journal=run_dir / "journal.db", metrics_port=metrics_port,
        sessions=[{"name": "bo", "sender_comp_id": BRIDGE, "target_comp_id": CLIENT,
                   "scope": {"message_kinds": ["executions"]}}],
    )  # fmt: skip
    text = config.read_text().replace('synchronous = "normal"', 'synchronous = "full"')
    config.write_text(text)
    with BridgeProcess(config, run_dir / "bridge.log", fix_port, None) as bridge:
        assert bridge._proc is not None
        yield bridge._proc.pid, fix_port, metrics_port


@contextlib.contextmanager
def reference_server(upstream_port: int, run_dir: Path) -> Iterator[tuple[int, int, int | None]]:
    """The reference pipeline's live mode (``reference_server.py --upstream``)."""
    upstream = ["--upstream", f"127.0.0.1:{upstream_port}"]
    with running(upstream, run_dir / "reference.db") as (server, port):
        yield server.pid, port, None


def measure(rate: int, seconds: float, run_dir: Path, server: Server) -> dict[str, object]:
    """One server, fed by a replay upstream of its own at ``rate``, read by the client."""
    run_dir.mkdir(parents=True, exist_ok=True)
    total = int(rate * seconds)
    replay, upstream_port, start_ns = launch(
        ["--executions", str(total), "--rate", str(rate), "--start-in", str(START_IN_S)],
        run_dir / "replay.log",
    )
    try:
        with server(upstream_port, run_dir) as (pid, fix_port, metrics_port):
            if time.time_ns() > start_ns:
                print(f"note: the server started {(time.time_ns() - start_ns) / 1e9:.1f} s"
                      " after the first execution was due", file=sys.stderr)  # fmt: skip
            cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
            warm = start_ns + int(WARM_UP_S * 1e9)
            until = start_ns + int((seconds + DRAIN_S) * 1e9)
            with RssSampler(pid, interval=1.0) as rss_samples:
                latencies, count = asyncio.run(_receive(fix_port, warm, until))
            # The samples after the warm-up (the sampler keeps monotonic time).
            warm_mono = time.monotonic() - (time.time_ns() - warm) / 1e9
            after = [rss / 1e6 for rss in rss_samples.window(warm_mono, float("inf"))]
            cpu = cpu_seconds(pid) - cpu_before
            wall = time.monotonic() - wall_before
            rss = peak_rss_mb(pid)
            inside = receipt_to_write(metrics_port) if metrics_port else (None, None)
    finally:
        replay.terminate()
        replay.wait(10)
    ordered = sorted(latencies)
    return {
        "offered_per_s": rate, "seconds": seconds, "offered": total, "received": count,
        "samples": len(ordered),
        "p50_ms": round(percentile(ordered, 0.50), 3) if ordered else None,
        "p99_ms": round(percentile(ordered, 0.99), 3) if ordered else None,
        "p99_9_ms": round(percentile(ordered, 0.999), 3) if ordered else None,
        "max_ms": round(ordered[-1] / 1e6, 3) if ordered else None,
        "cpu_us_per_msg": round(cpu / max(count, 1) * 1e6, 1),
        "cpu_share": round(cpu / wall, 3),
        "peak_rss_mb": rss,
        # VmRSS once a second while executions flow, from the end of the warm-up on
        "rss_mb_first": round(after[0], 1) if after else None,
        "rss_mb_max": round(max(after), 1) if after else None,
        "histogram_ms": histogram(ordered),
        # The bridge's own view (its lag histogram, bucket bounds): upstream receipt -> write
        "receipt_to_write_p50_le_ms": inside[0],
        "receipt_to_write_p99_le_ms": inside[1],
    }  # fmt: skip


def faster(reference: object, bridge: object) -> float | None:
    """The reference's latency divided by the bridge's (above 1: the bridge is faster); None
    when either is missing."""
    if not isinstance(reference, float) or not isinstance(bridge, float) or bridge <= 0:
        return None
    return round(reference / bridge, 2)


def measure_rate(
    rate: int, seconds: float, workdir: Path, with_reference: bool, reference_first: bool
) -> dict[str, dict[str, object]]:
    """The bridge and the reference pipeline at one offered rate, one after the other."""
    def bridge_run() -> dict[str, object]:
        return measure(rate, seconds, workdir / f"rate-{rate}" / "bridge", bridge_server)

    def reference_run() -> dict[str, object]:
        return measure(rate, seconds, workdir / f"rate-{rate}" / "reference", reference_server)

    if not with_reference:
        return {"fixbridge": bridge_run()}
    if reference_first:
        reference = reference_run()
        bridge = bridge_run()
    else:
        bridge = bridge_run()
        reference = reference_run()
    bridge["x_reference_p50"] = faster(reference["p50_ms"], bridge["p50_ms"])
    bridge["x_reference_p99"] = faster(reference["p99_ms"], bridge["p99_ms"])
    return {"fixbridge": bridge, "reference pipeline": reference}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="1000,5000,20000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--reference", action=argparse.BooleanOptionalAction, default=True,
        help="also run the reference pipeline at each rate, for the x ref ratios",
    )  # fmt: skip
    args = parser.parse_args(argv)
    rates = [int(r) for r in args.rates.split(",") if r]
    with tempfile.TemporaryDirectory(prefix="fixbridge-live-") as tmp:
        results = [
            measure_rate(rate, args.seconds, Path(tmp), args.reference, index % 2 == 1)
            for index, rate in enumerate(rates)
        ]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'offered/s':>9} {'run':<18} {'offered':>9} {'received':>9} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'p99.9 ms':>9} {'max ms':>8} {'CPU us/msg':>10} {'CPU share':>9} "
          f"{'RSS MB first..max':>17} {'x ref p50/p99':>13} "
          f"{'in bridge p50/p99 <= ms':>23}")  # fmt: skip
    for result in results:
        for name, r in result.items():
            rss = f"{r['rss_mb_first']}..{r['rss_mb_max']}"
            ratio = ("1.0/1.0" if name != "fixbridge" else
                     f"{r['x_reference_p50']}/{r['x_reference_p99']}" if "x_reference_p50" in r
                     else "-")  # fmt: skip
            inside = (f"{r['receipt_to_write_p50_le_ms']}/{r['receipt_to_write_p99_le_ms']}"
                      if name == "fixbridge" else "-")  # fmt: skip
            print(f"{r['offered_per_s']:>9} {name:<18} {r['offered']:>9} {r['received']:>9} "
                  f"{r['p50_ms']!s:>8} {r['p99_ms']!s:>8} {r['p99_9_ms']!s:>9} "
                  f"{r['max_ms']!s:>8} {r['cpu_us_per_msg']:>10} {r['cpu_share']:>9} "
                  f"{rss:>17} {ratio:>13} {inside:>23}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
