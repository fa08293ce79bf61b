"""Catch-up delivery through the delivery leg, in process: journaled ExecutionReports to 1 and
to N sessions, with figures and ratios measured in the same run.

What one invocation does:

1. Builds a journal (``SqliteJournal``, ``synchronous`` as the bridge's default, "full") with
   E executions of the seeded market simulator, normalized and appended as the bridge's
   ingestion does (``executions_to_events`` + ``append``, 100 per response).
2. For each session count S (1, then N): S logged-on sessions, each a ``FixSession`` and a
   ``Delivery`` (``fix/delivery.py``) with its own cursor, catch up from offset 0, one batch of
   500 events per turn, round robin, as the acceptor's pumps do. Each batch's bytes go to a
   socket whose other end a thread reads and discards, one write per batch. Run twice: each
   session rendering for itself, then all sessions sharing one ``RenderCache``.
3. The reference pipeline: no session logic, the least a delivery can do on the same input:
   read the batch, parse each payload (JSON), fill a precompiled ExecutionReport template,
   frame it, store the batch in one transaction (same ``synchronous``), one write per batch.

Figures per run: messages/s (wall), CPU microseconds per delivered message (this process,
user + system), and the ratios: against the reference pipeline, and shared cache against
rendering per session. Nothing is asserted: the figures are printed (``--json`` for one
object). Run ``python bench/delivery_leg.py [--executions 20000] [--sessions 10]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from fixbridge.config import SessionConfig
from fixbridge.fix.codec import FixMessage, FrameParser, encode_fields, frame
from fixbridge.fix.delivery import Delivery
from fixbridge.fix.outbound import NoTradeHistory, RenderCache, recipient, render_to, style_of
from fixbridge.fix.prerender import ExecutionBodies
from fixbridge.fix.session import FixSession, SessionIdentity
from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.simulator.market import MarketModel
from fixbridge.upstream.streams import NO_MEMORY, executions_to_events

BATCH = 500
RESPONSE = 100
T0 = 1_795_000_000_000_000_000
BRIDGE = "FIXBRIDGE"
LOGON_TIME = datetime.fromtimestamp(T0 // 10**9, UTC).strftime("%Y%m%d-%H:%M:%S")


@dataclass(frozen=True)
class Figure:
    name: str
    messages: int
    wall_s: float
    cpu_s: float

    @property
    def rate(self) -> float:
        return self.messages / self.wall_s

    @property
    def cpu_us(self) -> float:
        return self.cpu_s / self.messages * 1e6


def build_journal(
    path: Path,
    executions: int,
    sessions: Sequence[str] = (),
    bodies: ExecutionBodies | None = None,
) -> int:
    """The journal of ``executions`` simulated executions; returns the head offset.
    ``sessions`` are configured first, so each has every event to catch up on; with
    ``bodies``, each execution is journaled with its FIX bodies, as the bridge's ingestion
    does for the renderings of its sessions (fix/prerender.py)."""
    return build_into(SqliteJournal(path), executions, sessions, bodies)


def build_into(
    journal: Any,
    executions: int,
    sessions: Sequence[str] = (),
    bodies: ExecutionBodies | None = None,
) -> int:
    """:func:`build_journal` into an open journal of any backend (closed at the end): the
    same seeded executions, so two backends hold the same events."""
    for name in sessions:
        journal.load_session(name)
    model, now, pending = MarketModel(2026), T0, []
    appended = 0
    while appended < executions:
        now += 1_000_000
        pending += model.step(now).executions
        while len(pending) >= RESPONSE or (pending and appended + len(pending) >= executions):
            chunk, pending = pending[:RESPONSE], pending[RESPONSE:]
            chunk = chunk[: executions - appended]
            events = executions_to_events(chunk, NO_MEMORY)
            if bodies is not None:
                events = bodies.attach(events)
            journal.append("executions", events, b"token", now)
            appended += len(chunk)
            if appended >= executions:
                break
    head = journal.head_offset()
    journal.close()
    return head


@contextmanager
def sink() -> Iterator[socket.socket]:
    """A socket whose peer a thread reads and throws away, as a fast client would."""
    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)

    def drain() -> None:
        while theirs.recv(1 << 20):
            pass

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        yield ours
    finally:
        ours.shutdown(socket.SHUT_WR)
        reader.join()
        ours.close()
        theirs.close()


def _logged_on(name: str) -> FixSession:
    session = FixSession(SessionIdentity(BRIDGE, name), 1, 1)
    logon = frame("A", encode_fields([(49, name), (56, BRIDGE), (34, "1"),
                                      (52, LOGON_TIME)]),
                  encode_fields([(98, "0"), (108, "30"), (1137, "9"), (141, "Y")]))  # fmt: skip
    (message,) = FrameParser().feed(logon)
    assert isinstance(message, FixMessage)
    session.on_message(message, T0)
    return session


def fresh_copy(path: Path, name: str) -> Path:
    """A byte copy of the built journal (closed, so checkpointed): every run starts equal."""
    copy = path.with_name(name)
    shutil.copyfile(path, copy)
    return copy


def bridge_leg(path: Path, sessions: int, shared: bool, head: int) -> Figure:
    """``sessions`` sessions catch up from 0 through Delivery, round robin, batch by batch."""
    journal = SqliteJournal(fresh_copy(path, f"bridge-{sessions}-{shared}.db"))
    cache = RenderCache() if shared else None
    legs: list[tuple[Delivery, list[int]]] = []
    for n in range(sessions):
        name = f"BO{n}"
        journal.load_session(name)
        config = SessionConfig(name=name, sender_comp_id=BRIDGE, target_comp_id=name)
        # Bound once per session, as the acceptor's renderer is.
        renderer = partial(render_to, to=recipient(config, NoTradeHistory(), style_of(config),
                                                   cache))  # fmt: skip
        legs.append((Delivery(name, _logged_on(name), renderer), [0]))
    delivered = 0
    with sink() as out:
        wall, cpu = time.perf_counter(), time.process_time()
        while any(cursor[0] < head for _, cursor in legs):
            for leg, cursor in legs:
                if cursor[0] >= head:
                    continue
                events = journal.read_events(cursor[0], BATCH)
                batch = leg.deliver(events, T0)
                r = batch.record
                journal.record_sent(r.session_id, r.messages, r.next_sender_seq,
                                    r.cursor_offset, at_ns=r.at_ns)  # fmt: skip
                out.sendall(batch.data)
                cursor[0] = batch.cursor
                delivered += batch.frames
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    journal.close()
    label = "shared RenderCache" if shared else "rendered per session"
    return Figure(f"fixbridge Delivery, {sessions} session(s), {label}", delivered, wall, cpu)


def _template() -> Callable[[dict[str, object], int], bytes]:
    """A precompiled ExecutionReport: fixed header and tag layout, values filled in."""
    head = b"8=FIXT.1.1\x019=%d\x01"
    body = ("35=8\x0149=FIXBRIDGE\x0156=BO\x0134=%d\x0152=20261204-00:00:00.000000000\x01"
            "37=%s\x0111=%s\x0117=%s\x01150=%s\x0139=%s\x0155=%s\x0154=%s\x0138=%s\x01"
            "44=%s\x0132=%s\x0131=%s\x01151=%s\x0114=%s\x016=%s\x0160=%d\x01")  # fmt: skip

    def fill(p: dict[str, object], seq: int) -> bytes:
        content = (body % (seq, p["order_id"], p["cl_ord_id"], p["exec_id"], p["exec_type"],
                           p["ord_status"], p["symbol"], p["side"], p["order_qty"], p["price"],
                           p["last_qty"], p["last_px"], p["leaves_qty"], p["cum_qty"],
                           p["avg_px"], p["transact_time_ns"])).encode()  # fmt: skip
        message = head % len(content) + content
        return message + b"10=%03d\x01" % (sum(message) & 0xFF)

    return fill


def reference_pipeline(path: Path, sessions: int, head: int) -> Figure:
    """Parse -> template encode -> one transaction per batch -> one write per batch."""
    source = sqlite3.connect(path)
    store = sqlite3.connect(path.with_name(f"reference-{sessions}.db"), isolation_level=None)
    store.execute("PRAGMA journal_mode=WAL")
    store.execute("PRAGMA synchronous=FULL")
    store.execute("CREATE TABLE IF NOT EXISTS sent (session TEXT, seq INTEGER, body BLOB)")
    fill = _template()
    cursors = [0] * sessions
    seqs = [1] * sessions
    delivered = 0
    with sink() as out:
        wall, cpu = time.perf_counter(), time.process_time()
        while any(c < head for c in cursors):
            for n in range(sessions):
                if cursors[n] >= head:
                    continue
                rows = source.execute(
                    "SELECT offset, payload FROM events WHERE offset > ? ORDER BY offset LIMIT ?",
                    (cursors[n], BATCH),
                ).fetchall()
                frames = []
                for _, payload in rows:
                    frames.append(fill(json.loads(payload), seqs[n]))
                    seqs[n] += 1
                store.execute("BEGIN")
                store.executemany("INSERT INTO sent VALUES (?, ?, ?)",
                                  [(f"BO{n}", seqs[n] - len(frames) + i, f)
                                   for i, f in enumerate(frames)])  # fmt: skip
                store.execute("COMMIT")
                out.sendall(b"".join(frames))
                cursors[n] = int(rows[-1][0])
                delivered += len(frames)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    source.close()
    store.close()
    return Figure(f"reference pipeline, {sessions} session(s)", delivered, wall, cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=20_000)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results: dict[str, object] = {"executions": args.executions}
    with tempfile.TemporaryDirectory(prefix="fixbridge-bench-") as tmp:
        built = time.perf_counter()
        journal = Path(tmp) / "journal.db"
        head = build_journal(journal, args.executions)
        results["journal_build_s"] = round(time.perf_counter() - built, 2)
        rows = []
        for sessions in sorted({1, args.sessions}):
            alone = bridge_leg(journal, sessions, False, head)
            shared = bridge_leg(journal, sessions, True, head)
            reference = reference_pipeline(journal, sessions, head)
            for figure in (alone, shared, reference):
                rows.append({
                    "run": figure.name, "messages": figure.messages,
                    "msgs_per_s": round(figure.rate), "cpu_us_per_msg": round(figure.cpu_us, 1),
                    "vs_reference": round(figure.rate / reference.rate, 3),
                    "vs_per_session": round(figure.rate / alone.rate, 3),
                })  # fmt: skip
        results["runs"] = rows
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"journal: {args.executions} executions (built in {results['journal_build_s']} s)")
    print(f"{'run':<58} {'msgs':>8} {'msgs/s':>9} {'CPU us/msg':>10} {'x ref':>7} {'x own':>7}")
    for row in rows:
        print(f"{row['run']:<58} {row['messages']:>8} {row['msgs_per_s']:>9,} "
              f"{row['cpu_us_per_msg']:>10} {row['vs_reference']:>7} "
              f"{row['vs_per_session']:>7}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
