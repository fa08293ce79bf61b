"""Catch-up delivery end to end: a bridge process with E journaled executions, S QuickFIX clients
(stock FIX 5.0 SP2 dictionaries, validation on) logging on at once, each receiving all E.

What one invocation does:

1. Builds the journal: the S sessions are configured first, then E executions of the seeded
   market simulator are appended as ingestion does (``bench/delivery_leg.py``'s builder), so
   each session has all E ExecutionReports to catch up on.
2. Starts ``python -m fixbridge run`` on it (``synchronous = "full"``, the upstream an unused
   port the bridge keeps retrying), then S QuickFIX initiators (``tests/integration/qfharness``,
   validation on), and waits until every client has all E application messages.
3. Reads each client's log: from the first client's Logon to the last message any client got.

Printed: messages in total, seconds, messages/s in total and per session, the bridge's CPU
microseconds per delivered message, its peak RSS. Nothing is asserted. Run
``python bench/catch_up.py [--executions 100000] [--sessions 1] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from delivery_leg import build_journal  # noqa: E402
from resend_memory import cpu_seconds  # noqa: E402

from tests.integration.bridge_proc import BridgeProcess, write_config  # noqa: E402
from tests.integration.qfharness import QuickFixClient, free_tcp_port  # noqa: E402

BRIDGE = "FIXBRIDGE"


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1000
    return float("nan")


def run(executions: int, sessions: int, workdir: Path) -> dict[str, object]:
    names = [f"BO{n}" for n in range(sessions)]
    journal = workdir / "journal.db"
    built = time.perf_counter()
    build_journal(journal, executions, names)
    build_s = time.perf_counter() - built
    fix_port = free_tcp_port()
    config = write_config(
        workdir / "bridge.toml", upstream_port=free_tcp_port(), fix_port=fix_port,
        journal=journal,
        sessions=[{"name": name, "sender_comp_id": BRIDGE, "target_comp_id": name,
                   "scope": {"message_kinds": ["executions"]}} for name in names],
    )  # fmt: skip
    bridge = BridgeProcess(config, workdir / "bridge.log", fix_port, None)
    clients = [
        QuickFixClient(port=fix_port, sender=name, target=BRIDGE, workdir=workdir / name)
        for name in names
    ]
    with bridge:
        assert bridge._proc is not None
        pid = bridge._proc.pid
        cpu_before = cpu_seconds(pid)
        for client in clients:
            client.start()
        try:
            deadline = time.monotonic() + 60 + executions * sessions / 1000
            while True:
                counts = [len(c.app_messages()) for c in clients]
                if min(counts) >= executions or time.monotonic() > deadline:
                    break
                time.sleep(1.0)
            cpu = cpu_seconds(pid) - cpu_before
            peak = _peak_rss_mb(pid)
            logons = [c.logons()[0].ts or 0.0 for c in clients if c.logons()]
            lasts = [c.app_messages()[-1].ts or 0.0 for c in clients if c.app_messages()]
            rejects = sum(len(c.rejects_sent()) for c in clients)
        finally:
            for client in clients:
                client.stop()
    seconds = max(lasts) - min(logons)
    total = sum(counts)
    return {
        "executions": executions, "sessions": sessions, "journal_build_s": round(build_s, 1),
        "received": total, "complete": min(counts) >= executions, "rejects": rejects,
        "seconds": round(seconds, 2), "msgs_per_s": round(total / seconds),
        "msgs_per_s_per_session": round(total / seconds / sessions),
        "bridge_cpu_us_per_msg": round(cpu / total * 1e6, 1), "bridge_peak_rss_mb": peak,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=1)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        result = run(args.executions, args.sessions, args.workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="fixbridge-catchup-") as tmp:
            result = run(args.executions, args.sessions, Path(tmp))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")
    return 0 if result["complete"] and not result["rejects"] else 1


if __name__ == "__main__":
    sys.exit(main())
