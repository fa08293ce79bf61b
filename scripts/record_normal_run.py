"""Record the bridge's metrics during a normal run, for the "no alert fires" promtool test.

Runs the simulated exchange (`fixbridge simulate`, its default market: fills, trade state
changes, busts, instrument states, positions, settlement prices), the bridge (`fixbridge run`)
with a session receiving every kind (the market-data subscriber included), and a FIX client
logged on the whole time (`fixbridge tail`), then scrapes /metrics every --interval seconds
for --minutes and writes the fixbridge_* series (and `up`) in promtool's input_series
notation. tests/unit/test_deploy.py evaluates every alert rule
over the recording and expects none to fire.

    .venv/bin/python scripts/record_normal_run.py --minutes 20 --out deploy/recorded/normal-run.json
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if not sample.name.startswith("fixbridge_"):
                continue
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


def number(value: float) -> str:
    return str(int(value)) if value == int(value) and abs(value) < 1e15 else repr(value)


def wait_until_ready(port: int, timeout: float = 60) -> None:
    """Until /readyz answers 200: every stream connected, the journal writable."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the bridge was not ready within {timeout:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--interval", type=int, default=15, help="seconds between scrapes")
    parser.add_argument("--rate", type=float, default=20.0, help="simulator executions/s")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    fixbridge = [sys.executable, "-m", "fixbridge"]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        sim_port, fix_port, ops_port = free_port(), free_port(), free_port()
        config = work / "bridge.toml"
        config.write_text(
            f'[upstream]\ntarget = "127.0.0.1:{sim_port}"\n'
            f'[journal]\npath = "{work / "journal.db"}"\n'
            f'[fix]\nhost = "127.0.0.1"\nport = {fix_port}\n'
            f'[metrics]\nhost = "127.0.0.1"\nport = {ops_port}\n'
            '[[sessions]]\nname = "backoffice"\nsender_comp_id = "FIXBRIDGE"\n'
            'target_comp_id = "BACKOFFICE"\n[sessions.scope]\n'
            'message_kinds = ["executions", "trades", "instruments", "positions", "settlements"]\n'
        )
        logs = [open(work / f"{name}.log", "wb") for name in ("sim", "bridge", "client")]  # noqa: SIM115
        processes = []
        try:
            processes.append(subprocess.Popen(
                [*fixbridge, "simulate", "--listen", f"127.0.0.1:{sim_port}",
                 "--rate", str(args.rate)], stdout=logs[0], stderr=logs[0]))
            wait_for_port(sim_port)
            processes.append(subprocess.Popen(
                [*fixbridge, "run", "--config", str(config)], stdout=logs[1], stderr=logs[1]))
            wait_for_port(fix_port)
            processes.append(subprocess.Popen(
                [*fixbridge, "tail", "--host", "127.0.0.1", "--port", str(fix_port),
                 "--sender", "BACKOFFICE", "--target", "FIXBRIDGE", "--heartbeat", "30"],
                stdout=subprocess.DEVNULL, stderr=logs[2]))  # fmt: skip
            wait_until_ready(ops_port)  # a normal run, not its start-up
            scrapes: list[dict[str, float]] = []
            base = 0.0  # wall time of the first scrape: promtool's time() is 0 there
            total = int(args.minutes * 60 / args.interval) + 1
            started = time.monotonic()
            for n in range(total):
                time.sleep(max(0.0, started + n * args.interval - time.monotonic()))
                for process in processes:
                    if process.poll() is not None:
                        raise SystemExit(f"{process.args[2]} ended early ({process.returncode})")
                if not scrapes:
                    base = time.time()
                scrapes.append(scrape(ops_port))
                print(f"scrape {n + 1}/{total}: {len(scrapes[-1])} series", file=sys.stderr)
        finally:
            for process in reversed(processes):
                process.terminate()
                process.wait(30)
            for log in logs:
                log.close()
    for sample in scrapes:  # Unix times -> seconds since the first scrape (0 stays "never")
        for name, value in sample.items():
            if name.split("{")[0].endswith(("_time_seconds", "_timestamp_seconds")) and value:
                sample[name] = round(value - base, 3)
    names = sorted({name for s in scrapes for name in s})
    series = {
        name: " ".join(number(s[name]) if name in s else "_" for s in scrapes) for name in names
    }
    series["up{}"] = " ".join("1" for _ in scrapes)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(
        {"interval": f"{args.interval}s", "scrapes": len(scrapes), "rate": args.rate,
         "series": series}, indent=1) + "\n")  # fmt: skip
    print(f"wrote {len(series)} series x {len(scrapes)} scrapes to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
