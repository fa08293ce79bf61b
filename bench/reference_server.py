"""The reference pipeline as a server: the least a drop copy can do to deliver executions to FIX
clients, the limit the bridge is compared with.

No session logic beyond answering the Logon (ResetSeqNumFlag=Y). Two sources:

- ``--journal J`` (catch-up): round after round, every logged-on session takes its next batch
  of journal events (500), each payload is parsed (``json.loads``) and filled into a
  precompiled ExecutionReport template (header and tag layout fixed, empty fields left out,
  TransactTime formatted), the frames of every session of the round are stored in one
  transaction (``synchronous = FULL``: one fsync per round, group commit), then each
  session's batch is written with one write.
- ``--upstream HOST:PORT`` (live): a grpc.aio client reads the executions stream; whatever
  arrived while the previous round committed makes the next round. Each execution's fields
  become FIX values (enums through a table, fixed-point integers divided by their scale as
  Decimals), are put in a JSON payload (``json.dumps`` of a dict) and filled into the same
  template for every logged-on session; the events, the resume token and the frames are
  stored in one transaction, run whole (its INSERTs and its COMMIT) on a worker thread
  (``asyncio.to_thread``), then each session's frames are written with one write. The
  stream ending or failing stops the server with that error.

A ResendRequest is answered from what the store has committed: each stored frame gets
PossDupFlag=Y and OrigSendingTime and a new length and checksum, 500 per write. Anything else
a client sends after its Logon is dropped. Imports no bridge code (live: the exchange's
generated protobuf classes only).

Usage: ``python bench/reference_server.py (--journal J | --upstream HOST:PORT) --store S
--port P`` (prints ``ready <port>``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

BATCH = 500
SENDER = "FIXBRIDGE"
SOH = b"\x01"

_BODY = [  # (tag, payload key): the ExecutionReport's body, in this order
    (37, "order_id"), (11, "cl_ord_id"), (17, "exec_id"), (150, "exec_type"),
    (39, "ord_status"), (55, "symbol"), (54, "side"), (40, "ord_type"), (38, "order_qty"),
    (44, "price"), (32, "last_qty"), (31, "last_px"), (151, "leaves_qty"), (14, "cum_qty"),
    (6, "avg_px"), (58, "text"),
]  # fmt: skip


def utc(ns: int) -> str:
    seconds, fraction = divmod(ns, 1_000_000_000)
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(seconds)) + f".{fraction // 1000:06d}"


def finish(content: bytes) -> bytes:
    message = b"8=FIXT.1.1\x019=%d\x01" % len(content) + content
    return message + b"10=%03d\x01" % (sum(message) & 0xFF)


@dataclass
class Session:
    target: str
    writer: asyncio.StreamWriter
    cursor: int = 0
    seq: int = 2  # 1 was the Logon reply
    head: bytes = field(init=False)

    def __post_init__(self) -> None:
        self.head = f"35=8\x0149={SENDER}\x0156={self.target}\x0134=".encode()

    def execution_report(self, payload: dict[str, Any], sending: bytes) -> bytes:
        body = "".join(
            f"{tag}={payload[key]}\x01" for tag, key in _BODY if payload.get(key) not in (None, "")
        )
        content = (self.head + b"%d\x0152=" % self.seq + sending + SOH
                   + body.encode() + b"60=" + utc(payload["transact_time_ns"]).encode() + SOH)
        self.seq += 1
        return finish(content)


class Reference:
    """Logons, resends and the store of sent frames: what both sources share."""

    def __init__(self, store: str) -> None:
        self._store = sqlite3.connect(store, isolation_level=None, check_same_thread=False)
        self._store.execute("PRAGMA journal_mode=WAL")
        self._store.execute("PRAGMA synchronous=FULL")
        self._store.execute(
            "CREATE TABLE IF NOT EXISTS sent (session TEXT, seq INTEGER, body BLOB)"
        )
        # Resends read what is committed, through a connection of their own (the store's may
        # be inside a transaction on a worker thread meanwhile).
        self._committed = sqlite3.connect(store, isolation_level=None)
        self._sessions: list[Session] = []
        self._wake = asyncio.Event()

    async def on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = b""
        while b"\x0110=" not in data or not data.endswith(SOH):
            chunk = await reader.read(4096)
            if not chunk:
                writer.close()
                return
            data += chunk
        fields = dict(f.split(b"=", 1) for f in data.split(SOH) if b"=" in f)
        target = fields[b"49"].decode()
        sending = utc(time.time_ns()).encode()
        writer.write(finish(
            f"35=A\x0149={SENDER}\x0156={target}\x0134=1\x0152=".encode() + sending
            + b"\x0198=0\x01108=30\x01141=Y\x011137=9\x01"
        ))  # fmt: skip
        session = Session(target, writer)
        self._sessions.append(session)
        self._wake.set()
        try:
            while data := await reader.read(65536):
                if b"\x0135=2\x01" in data:  # a ResendRequest (arrives whole: it is small)
                    fields = dict(f.split(b"=", 1) for f in data.split(SOH) if b"=" in f)
                    await self.resend(session, int(fields[b"7"]), int(fields[b"16"]))
        finally:  # however the connection ended
            self._sessions.remove(session)

    async def resend(self, session: Session, begin: int, end: int) -> None:
        end = end or 1 << 62
        low = begin
        while True:
            rows = self._committed.execute(
                "SELECT seq, body FROM sent WHERE session=? AND seq BETWEEN ? AND ?"
                " ORDER BY seq LIMIT ?", (session.target, low, end, BATCH),
            ).fetchall()  # fmt: skip
            if not rows:
                return
            sending = b"52=" + utc(time.time_ns()).encode() + b"\x0143=Y\x01122="
            frames = []
            for _, stored in rows:
                content = stored[stored.index(b"\x0135=") + 1 : stored.rindex(b"10=")]
                frames.append(finish(content.replace(b"52=", sending, 1)))
            session.writer.write(b"".join(frames))
            await session.writer.drain()
            low = int(rows[-1][0]) + 1


class JournalReference(Reference):
    """Catch-up: every session's next batch of a journal's events, round after round."""

    def __init__(self, journal: str, store: str) -> None:
        super().__init__(store)
        self._source = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
        self._head = int(self._source.execute("SELECT MAX(offset) FROM events").fetchone()[0])

    async def deliver(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while active := [s for s in self._sessions if s.cursor < self._head]:
                rows: list[tuple[str, int, bytes]] = []
                out: list[tuple[Session, bytes]] = []
                sending = utc(time.time_ns()).encode()
                for session in active:
                    batch = self._source.execute(
                        "SELECT offset, payload FROM events WHERE offset > ?"
                        " ORDER BY offset LIMIT ?", (session.cursor, BATCH),
                    ).fetchall()  # fmt: skip
                    frames = []
                    for _, payload in batch:
                        frame = session.execution_report(json.loads(payload), sending)
                        frames.append(frame)
                        rows.append((session.target, session.seq - 1, frame))
                    session.cursor = int(batch[-1][0])
                    out.append((session, b"".join(frames)))
                self._store.execute("BEGIN")
                self._store.executemany("INSERT INTO sent VALUES (?, ?, ?)", rows)
                self._store.execute("COMMIT")
                for session, data in out:
                    session.writer.write(data)
                await asyncio.gather(*(session.writer.drain() for session, _ in out))


# The exchange's enums (protos/polymarket/v1/enums.proto) as FIX values: ExecType(150),
# OrdStatus(39), Side(54), OrdType(40). Anything else is sent as its number.
_EXEC_TYPE = {0: "0", 1: "F", 2: "F", 3: "4", 4: "5", 5: "8", 6: "C", 7: "3"}
_ORD_STATUS = {0: "0", 1: "1", 2: "2", 3: "4", 4: "5", 5: "8", 6: "C", 7: "A", 8: "E", 9: "6"}
_SIDE = {1: "1", 2: "2"}
_ORD_TYPE = {1: "K", 2: "2", 3: "3", 4: "4"}


def scaled(value: int, scale: int) -> str:
    """A fixed-point integer as the decimal it stands for (``scale`` is a divisor)."""
    return str(Decimal(value) / Decimal(scale or 1))


class LiveReference(Reference):
    """Live: the upstream's executions journaled and sent to every session, a round at a time
    (module doc)."""

    def __init__(self, upstream: str, store: str) -> None:
        super().__init__(store)
        import grpc  # imported here, so that its cost is paid before the figures are taken

        sys.path.insert(0, str(REPO))
        from fixbridge.proto.polymarket.v1 import dropcopy_pb2, dropcopy_pb2_grpc

        self._channel = grpc.aio.insecure_channel(upstream)
        self._stub = dropcopy_pb2_grpc.DropCopyAPIStub(self._channel)  # type: ignore[no-untyped-call]
        self._request = dropcopy_pb2.CreateDropCopySubscriptionRequest()
        self._store.execute(
            "CREATE TABLE IF NOT EXISTS events (offset INTEGER PRIMARY KEY,"
            " upstream_id TEXT UNIQUE, payload BLOB, raw BLOB)"
        )
        self._store.execute("CREATE TABLE IF NOT EXISTS token (id INTEGER PRIMARY KEY, value BLOB)")

    def _commit(self, events: list[tuple[str, bytes, bytes]], sent: list[tuple[str, int, bytes]],
                token: bytes) -> None:  # fmt: skip
        """On a worker thread: the round's events, token and frames in one transaction."""
        db = self._store
        db.execute("BEGIN")
        db.executemany("INSERT OR IGNORE INTO events (upstream_id, payload, raw) VALUES (?, ?, ?)",
                       events)  # fmt: skip
        if token:
            db.execute("INSERT OR REPLACE INTO token VALUES (1, ?)", (token,))
        db.executemany("INSERT INTO sent VALUES (?, ?, ?)", sent)
        db.execute("COMMIT")

    async def deliver(self) -> None:
        inbox: asyncio.Queue[Any] = asyncio.Queue()
        end = object()  # the stream ended or failed: what receiving() raised is raised here

        async def receive() -> None:
            try:
                async for response in self._stub.CreateDropCopySubscription(self._request):
                    inbox.put_nowait(response)
            finally:
                inbox.put_nowait(end)

        receiving = asyncio.create_task(receive())
        while True:
            responses = [await inbox.get()]
            while not inbox.empty():
                responses.append(inbox.get_nowait())
            if any(response is end for response in responses):
                await receiving  # its error, if it failed
                raise RuntimeError("the upstream stream ended")
            events: list[tuple[str, bytes, bytes]] = []
            payloads: list[dict[str, Any]] = []
            for response in responses:
                for e in response.executions:
                    order = e.order
                    px, qty = order.price_scale, order.fractional_quantity_scale
                    payload = {
                        "exec_id": e.id, "order_id": order.id, "cl_ord_id": order.clord_id,
                        "exec_type": _EXEC_TYPE.get(e.type, str(e.type)),
                        "ord_status": _ORD_STATUS.get(order.state, str(order.state)),
                        "symbol": order.symbol, "side": _SIDE.get(order.side, str(order.side)),
                        "ord_type": _ORD_TYPE.get(order.type, str(order.type)),
                        "order_qty": scaled(order.order_qty, qty),
                        "price": scaled(order.price, px), "last_qty": scaled(e.last_shares, qty),
                        "last_px": scaled(e.last_px, px),
                        "leaves_qty": scaled(order.leaves_qty, qty),
                        "cum_qty": scaled(order.cum_qty, qty), "avg_px": scaled(order.avg_px, px),
                        "text": e.text, "transact_time_ns": e.transact_time.ToNanoseconds(),
                    }  # fmt: skip
                    events.append((e.id, json.dumps(payload).encode(), e.SerializeToString()))
                    payloads.append(payload)
            if not events:
                continue
            token = next((r.resume_token for r in reversed(responses) if r.resume_token), b"")
            sending = utc(time.time_ns()).encode()
            sent: list[tuple[str, int, bytes]] = []
            out: list[tuple[Session, bytes]] = []
            for session in list(self._sessions):
                frames = []
                for payload in payloads:
                    frame = session.execution_report(payload, sending)
                    frames.append(frame)
                    sent.append((session.target, session.seq - 1, frame))
                out.append((session, b"".join(frames)))
            await asyncio.to_thread(self._commit, events, sent, token)
            live = [(session, data) for session, data in out if not session.writer.is_closing()]
            for session, data in live:
                session.writer.write(data)
            await asyncio.gather(*(session.writer.drain() for session, _ in live),
                                 return_exceptions=True)  # fmt: skip


@contextlib.contextmanager
def running(source: list[str], store: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """This server in a process of its own on ``source`` (``["--journal", J]`` or
    ``["--upstream", "HOST:PORT"]``), once listening: (process, FIX port); stopped when the
    context ends."""
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *source, "--store", str(store)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        line = server.stdout.readline().split()
        if len(line) != 2 or line[0] != "ready":
            raise RuntimeError(f"the reference pipeline did not start: {line}")
        yield server, int(line[1])
    finally:
        server.terminate()
        server.wait(10)


async def serve(args: argparse.Namespace) -> None:
    reference: JournalReference | LiveReference
    if args.upstream:
        reference = LiveReference(args.upstream, args.store)
    else:
        reference = JournalReference(args.journal, args.store)
    server = await asyncio.start_server(reference.on_connect, "127.0.0.1", args.port)
    port = server.sockets[0].getsockname()[1]
    print(f"ready {port}", flush=True)
    await reference.deliver()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--journal", help="catch-up: deliver this journal's events")
    source.add_argument("--upstream", help="live: deliver the executions of this gRPC upstream")
    parser.add_argument("--store", required=True)
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(serve(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
