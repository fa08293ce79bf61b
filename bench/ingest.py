"""Ingest rate: executions from a replay upstream at full speed into the journal, durable.

What one invocation does:

1. Starts ``bench/replay_upstream.py`` with E executions of the seeded market model in
   pre-built responses of 100, served as fast as gRPC flow control lets them go (the source
   is not the limit: it only writes bytes it already has).
2. **fixbridge**: a bridge process (``synchronous = "full"``, one session in executions scope,
   no client) subscribes from the start; the journal's event count is read every 20 ms from
   another connection until it reaches E. Rate = E / (time the count reached E - time the
   first event was seen).
3. **reference pipeline**: the least an ingest can do with the same stream, in a process of
   its own: a grpc.aio client reads the responses, each execution's id and fields are put in
   a JSON payload (``json.dumps`` of a dict) with its serialized bytes, and everything that
   arrived while the previous commit ran is inserted in one transaction (group commit,
   ``synchronous = FULL``) with the resume token.

4. With ``--postgresql``: the bridge again on a PostgreSQL journal, on a server of its own
   started here (fsync on); the count is the journal's head (offsets are gap-free).

Printed: executions, seconds, executions/s, the process's CPU microseconds per execution and
peak RSS, and the ratio over the reference. There is no peer figure: a QuickFIX acceptor does
not ingest gRPC. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from replay_upstream import launch  # noqa: E402
from resend_memory import cpu_seconds, peak_rss_mb  # noqa: E402

from tests.integration.bridge_proc import BridgeProcess, write_config  # noqa: E402
from tests.integration.qfharness import free_tcp_port  # noqa: E402

POLL_S = 0.02


def start_replay(executions: int, log: Path) -> tuple[subprocess.Popen[str], int]:
    """The replay upstream at full speed, built and listening: (process, port)."""
    replay, port, _ = launch(["--executions", str(executions)], log)
    return replay, port


def count_events(journal: Path) -> int:
    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=1.0) as db:
            return int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet


def count_events_in(dsn: str) -> int:
    """The PostgreSQL journal's head (offsets are gap-free: the events journaled)."""
    import psycopg

    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            row = conn.execute('SELECT "offset" FROM event_head').fetchone()
            return 0 if row is None else int(row[0])
    except psycopg.Error:
        return 0  # not created yet


def watch(
    count_now: Callable[[], int], pid: int, executions: int, timeout_s: float
) -> dict[str, Any]:
    """Wait until ``count_now()`` reaches ``executions``; the figures of process ``pid``."""
    cpu_before = cpu_seconds(pid)
    first = None
    deadline = time.monotonic() + timeout_s
    count = 0
    while time.monotonic() < deadline:
        count = count_now()
        now = time.monotonic()
        if count and first is None:
            first = now
        if count >= executions:
            break
        time.sleep(POLL_S)
    done = time.monotonic()
    seconds = done - first if first is not None else float("nan")
    return {
        "executions": count, "seconds": round(seconds, 3),
        "per_s": round(count / seconds) if first is not None and seconds > 0 else 0,
        "cpu_us_per_execution": round((cpu_seconds(pid) - cpu_before) / max(count, 1) * 1e6, 1),
        "peak_rss_mb": peak_rss_mb(pid), "complete": count >= executions,
    }  # fmt: skip


def bridge_run(executions: int, work: Path, dsn: str | None = None) -> dict[str, Any]:
    """The bridge on a SQLite file, or with ``dsn`` on that PostgreSQL database."""
    label = "bridge" if dsn is None else "bridge-pg"
    replay, port = start_replay(executions, work / f"replay-{label}.log")
    try:
        journal = work / f"{label}.db"
        fix_port = free_tcp_port()
        config = write_config(
            work / f"{label}.toml", upstream_port=port, fix_port=fix_port, journal=journal,
            sessions=[{"name": "bo", "sender_comp_id": "FIXBRIDGE", "target_comp_id": "BO",
                       "scope": {"message_kinds": ["executions"]}}],
            journal_settings=None if dsn is None else {"backend": "postgresql", "dsn": dsn},
        )  # fmt: skip
        text = config.read_text().replace('synchronous = "normal"', 'synchronous = "full"')
        config.write_text(text)
        count_now = (lambda: count_events(journal)) if dsn is None else (
            lambda: count_events_in(dsn))  # fmt: skip
        with BridgeProcess(config, work / f"{label}.log", fix_port, None) as bridge:
            assert bridge._proc is not None
            return watch(count_now, bridge._proc.pid, executions, 60 + executions / 500)
    finally:
        replay.terminate()
        replay.wait(10)


def reference_run(executions: int, work: Path) -> dict[str, Any]:
    replay, port = start_replay(executions, work / "replay-reference.log")
    journal = work / "reference.db"
    try:
        reference = subprocess.Popen(
            [sys.executable, __file__, "--reference-client", f"127.0.0.1:{port}",
             "--journal", str(journal)],
        )  # fmt: skip
        try:
            return watch(
                lambda: count_events(journal), reference.pid, executions, 60 + executions / 500
            )
        finally:
            reference.terminate()
            reference.wait(10)
    finally:
        replay.terminate()
        replay.wait(10)


async def reference_client(target: str, journal: Path) -> None:
    """The reference ingest (module doc, step 3)."""
    import grpc

    from fixbridge.proto.polymarket.v1 import dropcopy_pb2, dropcopy_pb2_grpc

    db = sqlite3.connect(journal, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS events (offset INTEGER PRIMARY KEY,"
               " upstream_id TEXT UNIQUE, payload BLOB, raw BLOB)")  # fmt: skip
    db.execute("CREATE TABLE IF NOT EXISTS token (id INTEGER PRIMARY KEY, value BLOB)")
    inbox: asyncio.Queue[Any] = asyncio.Queue(256)

    def commit(rows: list[tuple[str, bytes, bytes]], token: bytes) -> None:
        db.execute("BEGIN")
        db.executemany("INSERT OR IGNORE INTO events (upstream_id, payload, raw)"
                       " VALUES (?, ?, ?)", rows)  # fmt: skip
        db.execute("INSERT OR REPLACE INTO token VALUES (1, ?)", (token,))
        db.execute("COMMIT")

    async def journal_inbox() -> None:
        while True:
            batch = [await inbox.get()]
            while not inbox.empty():
                batch.append(inbox.get_nowait())
            rows = []
            for response in batch:
                for e in response.executions:
                    order = e.order
                    payload = json.dumps({
                        "exec_id": e.id, "order_id": order.id, "symbol": order.symbol,
                        "side": order.side, "exec_type": e.type,
                        "transact_time": e.transact_time.ToNanoseconds(),
                    }).encode()  # fmt: skip
                    rows.append((e.id, payload, e.SerializeToString()))
            await asyncio.to_thread(commit, rows, batch[-1].resume_token)

    async with grpc.aio.insecure_channel(target) as channel:
        stub = dropcopy_pb2_grpc.DropCopyAPIStub(channel)  # type: ignore[no-untyped-call]
        task = asyncio.create_task(journal_inbox())
        async for response in stub.CreateDropCopySubscription(
            dropcopy_pb2.CreateDropCopySubscriptionRequest()
        ):
            await inbox.put(response)
        await task


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=200_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--reference-client", help=argparse.SUPPRESS)
    parser.add_argument("--journal", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--postgresql", action="store_true",
        help="also run the bridge on a PostgreSQL journal (a server of its own, started here)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.reference_client:
        asyncio.run(reference_client(args.reference_client, args.journal))
        return 0
    with tempfile.TemporaryDirectory(prefix="fixbridge-ingest-") as tmp:
        bridge = bridge_run(args.executions, Path(tmp))
        reference = reference_run(args.executions, Path(tmp))
        rows = [("fixbridge", bridge), ("reference pipeline", reference)]
        if args.postgresql:
            from tests.postgres_server import running_server

            with running_server() as server:  # fsync on, as production
                on_pg = bridge_run(args.executions, Path(tmp), server.database())
            rows.append(("fixbridge, PostgreSQL", on_pg))
    for _, row in rows:
        row["x_reference"] = round(row["per_s"] / max(reference["per_s"], 1), 3)
        row["x_peer"] = None
    if args.json:
        print(json.dumps({name: row for name, row in rows}, indent=2))
        return 0
    print(f"{'run':<22} {'executions':>10} {'seconds':>8} {'per s':>9} {'CPU us/ex':>9} "
          f"{'RSS MB':>7} {'x peer':>7} {'x ref':>7}")  # fmt: skip
    for name, row in rows:
        print(f"{name:<22} {row['executions']:>10} {row['seconds']:>8} {row['per_s']:>9,} "
              f"{row['cpu_us_per_execution']:>9} {row['peak_rss_mb']!s:>7} {'-':>7} "
              f"{row['x_reference']:>7}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
