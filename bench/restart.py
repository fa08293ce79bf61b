"""Restart to serving with a large journal: how long after ``fixbridge run`` starts a client's
Logon is answered, with N events journaled (default 1,000,000).

What one invocation does:

1. Journals 20,000 executions of the seeded simulator as ingestion does (``delivery_leg.py``'s
   builder), then copies them under new upstream ids until the journal holds N events (one
   SQL statement per copy, so building takes seconds, not the hours ingestion would), and
   gives the session 100,000 stored outbound messages; the session's cursor is at the head
   (it was caught up when the bridge stopped).
2. **fixbridge**: starts ``python -m fixbridge run`` (``synchronous = "full"``) and measures,
   from the moment the process is started: the FIX port accepting connections, a Logon
   answered (raw client, sequence numbers as stored), and ``/readyz`` answering 200.
3. **reference**: the least a restart can do with the same file: open it with sqlite3, read
   the journal head and the session's numbers, and listen on a port.

Printed: the journal's events and size, and each time in seconds with its ratio over the
reference. There is no peer figure (the QuickFIX acceptor's FileStore is not this journal).
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from delivery_leg import build_journal  # noqa: E402
from ingest import start_replay  # noqa: E402

from fixbridge.journal import sent_batches  # noqa: E402
from fixbridge.journal.records import OutboundMessage  # noqa: E402
from tests.integration.bridge_proc import write_config  # noqa: E402
from tests.integration.qfharness import free_tcp_port  # noqa: E402
from tests.integration.rawfix import RawClient  # noqa: E402

SEED_EVENTS = 20_000
OUTBOUND = 100_000
SESSION, BRIDGE, CLIENT = "bo", "FIXBRIDGE", "BO"


def build(path: Path, events: int) -> int:
    """The journal (module doc, step 1); returns its head offset."""
    build_journal(path, min(SEED_EVENTS, events), [SESSION])
    db = sqlite3.connect(path, isolation_level=None)
    copies = 0
    while db.execute("SELECT MAX(offset) FROM events").fetchone()[0] < events:
        copies += 1
        have = db.execute("SELECT MAX(offset) FROM events").fetchone()[0]
        db.execute(
            "INSERT INTO events (stream, upstream_id, received_at, transact_time, payload, raw,"
            " flagged) SELECT stream, upstream_id || ':' || ?, received_at, transact_time,"
            " payload, raw, flagged FROM events WHERE offset <= ? ORDER BY offset LIMIT ?",
            (copies, SEED_EVENTS, events - have),
        )  # fmt: skip
    head = int(db.execute("SELECT MAX(offset) FROM events").fetchone()[0])
    body = b"17=X\x01" * 100
    db.execute("BEGIN")
    for first in range(1, OUTBOUND + 1, 500):  # stored as delivered batches are
        sent = [OutboundMessage(seq, "8", "20261204-00:00:00.000000", body)
                for seq in range(first, min(first + 500, OUTBOUND + 1))]  # fmt: skip
        sent_batches.store(db, SESSION, sent, (), None)
    db.execute(
        "UPDATE sessions SET next_sender_seq=?, next_target_seq=1, cursor_offset=?"
        " WHERE session_id=?", (OUTBOUND + 1, head, SESSION),
    )  # fmt: skip
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return head


def _accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 0.2):
            return True
    except OSError:
        return False


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=0.5) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


async def _logon(port: int) -> None:
    client = RawClient(CLIENT, BRIDGE)
    await client.connect(port)
    client.seq = 1
    client.logon(reset=False)
    await client.read_until(lambda inbox: any(m.msg_type == "A" for m in inbox), timeout=30.0)
    client.close()


def bridge_run(journal: Path, work: Path) -> dict[str, Any]:
    fix_port, metrics_port = free_tcp_port(), free_tcp_port()
    replay, upstream_port = start_replay(1, work / "replay.log")  # readiness wants a stream
    config = write_config(
        work / "bridge.toml", upstream_port=upstream_port, fix_port=fix_port, journal=journal,
        metrics_port=metrics_port,
        sessions=[{"name": SESSION, "sender_comp_id": BRIDGE, "target_comp_id": CLIENT,
                   "scope": {"message_kinds": ["executions"]}}],
    )  # fmt: skip
    config.write_text(config.read_text().replace('synchronous = "normal"', 'synchronous = "full"'))
    started = time.monotonic()
    bridge = subprocess.Popen(
        [sys.executable, "-m", "fixbridge", "run", "--config", str(config)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=(work / "bridge.log").open("wb"),
    )  # fmt: skip
    try:
        while not _accepting(fix_port):
            if bridge.poll() is not None or time.monotonic() - started > 120:
                raise RuntimeError(f"the bridge did not listen; see {work / 'bridge.log'}")
            time.sleep(0.01)
        listening = time.monotonic() - started
        asyncio.run(_logon(fix_port))
        logon = time.monotonic() - started
        while not _ready(metrics_port) and time.monotonic() - started < 120:
            time.sleep(0.01)
        ready = time.monotonic() - started
    finally:
        bridge.terminate()
        bridge.wait(30)
        replay.terminate()
        replay.wait(10)
    return {"listening_s": round(listening, 3), "logon_answered_s": round(logon, 3),
            "ready_s": round(ready, 3)}  # fmt: skip


def reference_run(journal: Path) -> dict[str, Any]:
    started = time.monotonic()
    db = sqlite3.connect(journal)
    db.execute("SELECT MAX(offset) FROM events").fetchone()
    db.execute("SELECT * FROM sessions WHERE session_id=?", (SESSION,)).fetchone()
    listener = socket.create_server(("127.0.0.1", 0))
    listening = time.monotonic() - started
    listener.close()
    db.close()
    return {"listening_s": round(listening, 4), "logon_answered_s": round(listening, 4),
            "ready_s": round(listening, 4)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fixbridge-restart-") as tmp:
        journal = Path(tmp) / "journal.db"
        built = time.monotonic()
        head = build(journal, args.events)
        build_s = time.monotonic() - built
        size_mb = journal.stat().st_size / 1e6
        bridge = bridge_run(journal, Path(tmp))
        reference = reference_run(journal)
    result = {"events": head, "journal_mb": round(size_mb), "build_s": round(build_s, 1),
              "fixbridge": bridge, "reference": reference}  # fmt: skip
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"journal: {head:,} events, {size_mb:,.0f} MB, {OUTBOUND:,} stored messages"
          f" (built in {build_s:.1f} s)")
    print(f"{'run':<20} {'listening s':>11} {'logon s':>9} {'ready s':>9} {'x peer':>7} "
          f"{'x ref (logon)':>13}")  # fmt: skip
    for name, row in (("fixbridge", bridge), ("reference", reference)):
        ratio = reference["logon_answered_s"] / row["logon_answered_s"]
        print(f"{name:<20} {row['listening_s']:>11} {row['logon_answered_s']:>9} "
              f"{row['ready_s']:>9} {'-':>7} {ratio:>13.4f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
