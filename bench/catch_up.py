"""Catch-up delivery end to end: journaled ExecutionReports to QuickFIX C++ clients with
validation on, from the bridge, from a QuickFIX C++ acceptor (the peer) and from the reference
pipeline (the limit), in the same run.

What one invocation does, for 1 session (``--executions``, default 100,000) and then for N
sessions at once (``--sessions``, default 10, ``--per-session`` each, default 20,000):

1. Journals the executions of the seeded simulator as ingestion does (``delivery_leg.py``'s
   builder, ``synchronous = "full"``), with the sessions configured first so each has every
   event to catch up on.
2. **fixbridge**: a bridge process (``python -m fixbridge run``, ``synchronous = "full"``,
   profile ``fix50sp2``, its upstream an unused port) serves the sessions; the clients log on
   at once.
3. **QuickFIX C++ acceptor** (``bench/qfpeer/peer.cpp``, Debian's libquickfix 1.15.1): sends
   the same ExecutionReports (those the bridge sent the first session, read back from its
   store) through ``Session::sendToTarget``, each kept in its FileStore, to the same clients.
4. **reference pipeline** (``bench/reference_server.py``): the same journal, parse -> template
   -> group commit -> one write per batch.

The client is ``bench/qfpeer/client.cpp`` (QuickFIX C++ 1.15.1, its stock FIXT11/FIX50SP2
dictionaries, validation on, ResetOnLogon), one process per session. Printed per run: messages
received, messages/s in total (first Logon to last message), the server's CPU microseconds per
message and peak RSS, and the two ratios (rate over the peer's, rate over the reference's).
With one session the client then sends ResendRequest 1..0, and the time until the last
message comes back with PossDupFlag=Y is printed with the same two ratios (the bridge's
sessions here have ``resend_rate = 0``: unpaced). A client that rejects anything or receives
less than expected makes the exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from delivery_leg import build_into, build_journal  # noqa: E402
from qfprograms import QUICKFIX_VERSION, Programs, programs, settings  # noqa: E402
from reference_server import running  # noqa: E402
from resend_memory import cpu_seconds, peak_rss_mb  # noqa: E402

from fixbridge.config import SessionConfig  # noqa: E402
from fixbridge.fix.codec import encode_fields, frame  # noqa: E402
from fixbridge.fix.outbound import style_of  # noqa: E402
from fixbridge.fix.prerender import ExecutionBodies  # noqa: E402
from fixbridge.journal import sent_batches  # noqa: E402
from fixbridge.journal.postgres import PostgresJournal  # noqa: E402
from fixbridge.journal.rules import INT64_MAX  # noqa: E402
from tests.integration.bridge_proc import BridgeProcess, write_config  # noqa: E402
from tests.integration.qfharness import free_tcp_port, quickfix_spec_dir  # noqa: E402
from tests.postgres_server import PostgresServer, running_server  # noqa: E402

BRIDGE = "FIXBRIDGE"


@dataclass(frozen=True)
class ClientResult:
    received: int
    rejects: int
    logon_ns: int
    last_ns: int
    resent: int = 0  # with a ResendRequest 1..0 after the catch-up: PossDup ERs back
    resend_request_ns: int = 0
    resend_last_ns: int = 0


@dataclass(frozen=True)
class Run:
    name: str
    sessions: int
    expected: int
    clients: list[ClientResult]
    cpu_s: float
    rss_mb: float | None

    @property
    def received(self) -> int:
        return sum(c.received for c in self.clients)

    @property
    def seconds(self) -> float:
        logons = [c.logon_ns for c in self.clients if c.logon_ns]
        lasts = [c.last_ns for c in self.clients if c.last_ns]
        return (max(lasts) - min(logons)) / 1e9 if logons and lasts else float("nan")

    @property
    def rate(self) -> float:
        return self.received / self.seconds

    @property
    def complete(self) -> bool:
        return all(c.received >= self.expected and not c.rejects for c in self.clients)

    @property
    def resend_seconds(self) -> float:
        """ResendRequest sent -> last resent message received (the first client)."""
        c = self.clients[0]
        return (c.resend_last_ns - c.resend_request_ns) / 1e9 if c.resend_last_ns else 0.0


def run_clients(
    progs: Programs, names: list[str], port: int, expected: int, spec_dir: Path, workdir: Path,
    server_pid: int, resend: bool,
) -> tuple[list[ClientResult], float, float | None]:
    """The clients, logged on at once; their results, and the server's CPU and peak RSS."""
    procs = []
    cpu_before = cpu_seconds(server_pid)
    for name in names:
        store = workdir / f"client-{name}"
        store.mkdir(parents=True, exist_ok=True)
        config = settings(store / "client.cfg", role="initiator", sender=name, targets=[BRIDGE],
                          port=port, spec_dir=spec_dir, store_dir=store)  # fmt: skip
        procs.append(subprocess.Popen(
            [str(progs.client), str(config), str(expected), *(["resend"] if resend else [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        ))  # fmt: skip
    deadline = time.monotonic() + 60 + expected * len(names) / 2000 * (2 if resend else 1)
    results = []
    for proc in procs:
        # stdin stays open until now: closing it tells the client to stop waiting
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        out, _ = proc.communicate(input="stop\n", timeout=30)
        fields = out.split()
        values = dict(zip(fields[::2], fields[1::2], strict=False))
        results.append(ClientResult(*(int(values.get(key, 0)) for key in (
            "received", "rejects", "logon_ns", "last_ns", "resent", "resend_request_ns",
            "resend_last_ns",
        ))))  # fmt: skip
    return results, cpu_seconds(server_pid) - cpu_before, peak_rss_mb(server_pid)


def session_settings(name: str) -> dict[str, Any]:
    """A bridge session of the bench, as its configuration file says it."""
    return {"name": name, "sender_comp_id": BRIDGE, "target_comp_id": name,
            "fix_profile": "fix50sp2", "resend_rate": 0,
            "scope": {"message_kinds": ["executions"]}}  # fmt: skip


def ingest_bodies(names: list[str]) -> ExecutionBodies:
    """The FIX bodies the bridge's ingestion journals with each execution for these
    sessions (fix/prerender.py): the journals here are built as it would have built them."""
    configs = [SessionConfig.model_validate(session_settings(n)) for n in names]
    return ExecutionBodies((style_of(c), c.scope) for c in configs)


def bridge_run(
    progs: Programs, journal: Path, names: list[str], expected: int, spec_dir: Path, work: Path,
    resend: bool, dsn: str | None = None,
) -> Run:
    """The bridge on the SQLite file ``journal``, or with ``dsn`` on that PostgreSQL journal."""
    fix_port = free_tcp_port()
    config = write_config(
        work / "bridge.toml", upstream_port=free_tcp_port(), fix_port=fix_port, journal=journal,
        sessions=[session_settings(n) for n in names],
        journal_settings=None if dsn is None else {"backend": "postgresql", "dsn": dsn},
    )  # fmt: skip
    config.write_text(config.read_text().replace('synchronous = "normal"', 'synchronous = "full"'))
    with BridgeProcess(config, work / "bridge.log", fix_port, None) as bridge:
        assert bridge._proc is not None
        clients, cpu, rss = run_clients(progs, names, fix_port, expected, spec_dir, work,
                                        bridge._proc.pid, resend)  # fmt: skip
    name = "fixbridge" if dsn is None else "fixbridge, PostgreSQL journal"
    return Run(name, len(names), expected, clients, cpu, rss)


def export_messages(journal: Path, session: str, count: int, out: Path) -> None:
    """The ExecutionReports the bridge sent ``session``, framed, as the peer reads them."""
    with sqlite3.connect(journal) as db:
        reports = itertools.islice(
            (m for m in sent_batches.read(db, session, 1, INT64_MAX) if m.msg_type == "8"), count
        )
        with out.open("wb") as sink:
            for m in reports:
                header = encode_fields([(49, BRIDGE), (56, session), (34, str(m.seq)),
                                        (52, m.sending_time)])  # fmt: skip
                message = frame("8", header, m.body)
                sink.write(b"%d\n" % len(message) + message)


def peer_run(
    progs: Programs, messages: Path, names: list[str], expected: int, spec_dir: Path, work: Path,
    resend: bool,
) -> Run:
    port = free_tcp_port()
    store = work / "peer"
    store.mkdir(parents=True, exist_ok=True)
    config = settings(store / "peer.cfg", role="acceptor", sender=BRIDGE, targets=names,
                      port=port, spec_dir=spec_dir, store_dir=store)  # fmt: skip
    peer = subprocess.Popen([str(progs.peer), str(config), str(messages)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert peer.stdout is not None
        line = peer.stdout.readline()
        if not line.startswith("loaded"):
            raise RuntimeError(f"the QuickFIX peer did not start: {line!r}")
        clients, cpu, rss = run_clients(progs, names, port, expected, spec_dir, work, peer.pid,
                                        resend)  # fmt: skip
    finally:
        peer.communicate(input="stop\n", timeout=60)
    return Run(f"QuickFIX C++ {QUICKFIX_VERSION} acceptor", len(names), expected, clients,
               cpu, rss)  # fmt: skip


def reference_run(
    progs: Programs, journal: Path, names: list[str], expected: int, spec_dir: Path, work: Path,
    resend: bool,
) -> Run:
    with running(["--journal", str(journal)], work / "reference-store.db") as (server, port):
        clients, cpu, rss = run_clients(progs, names, port, expected, spec_dir, work, server.pid,
                                        resend)  # fmt: skip
    return Run("reference pipeline", len(names), expected, clients, cpu, rss)


def measure(
    progs: Programs, spec_dir: Path, sessions: int, each: int, work: Path,
    dsn: str | None = None,
) -> list[Run]:
    """The bridge, the peer, the reference and, given a fresh PostgreSQL database ``dsn``,
    the bridge again on a PostgreSQL journal holding the same events."""
    names = [f"BO{n}" for n in range(sessions)]
    source = work / "source.db"
    build_journal(source, each, names, ingest_bodies(names))
    bridge_journal = work / "bridge.db"
    bridge_journal.write_bytes(source.read_bytes())
    resend = sessions == 1  # the ResendRequest figure: one session, after its catch-up
    bridge = bridge_run(progs, bridge_journal, names, each, spec_dir, work / "bridge", resend)
    messages = work / "messages.fix"
    export_messages(bridge_journal, names[0], each, messages)
    peer = peer_run(progs, messages, names, each, spec_dir, work / "peer", resend)
    reference = reference_run(progs, source, names, each, spec_dir, work / "reference", resend)
    if dsn is None:
        return [bridge, peer, reference]
    build_into(PostgresJournal(dsn), each, names, ingest_bodies(names))
    (work / "bridge-pg").mkdir(parents=True, exist_ok=True)
    on_pg = bridge_run(progs, work / "unused.db", names, each, spec_dir, work / "bridge-pg",
                       resend, dsn)  # fmt: skip
    return [bridge, peer, reference, on_pg]


@contextlib.contextmanager
def maybe_postgres(wanted: bool) -> Iterator[PostgresServer | None]:
    """A PostgreSQL server for the run (fsync on, as production), or None."""
    if not wanted:
        yield None
        return
    with running_server() as server:
        yield server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--per-session", type=int, default=20_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--workdir", type=Path, help="keep journals, configs and logs here")
    parser.add_argument(
        "--postgresql", action="store_true",
        help="also run the bridge on a PostgreSQL journal (a server of its own, started here)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    progs = programs()
    spec_dir = quickfix_spec_dir(QUICKFIX_VERSION)
    rows: list[dict[str, object]] = []
    resends: list[dict[str, object]] = []
    ok = True
    with tempfile.TemporaryDirectory(prefix="fixbridge-catch-up-") as tmp, maybe_postgres(
        args.postgresql
    ) as server:
        root = args.workdir or Path(tmp)
        plan = [(1, args.executions)] + ([(args.sessions, args.per_session)]
                                         if args.sessions > 1 else [])  # fmt: skip
        for sessions, each in plan:
            work = root / f"sessions-{sessions}"
            work.mkdir(mode=0o700, parents=True, exist_ok=True)  # a journal's directory
            for sub in ("bridge", "peer", "reference"):
                (work / sub).mkdir(mode=0o700, exist_ok=True)
            dsn = server.database() if server is not None else None
            runs = measure(progs, spec_dir, sessions, each, work, dsn)
            peer, reference = runs[1], runs[2]
            for run in runs:
                ok = ok and run.complete
                resent = sum(c.resent for c in run.clients)
                rows.append({
                    "run": run.name, "sessions": sessions, "expected_each": each,
                    "received": run.received, "complete": run.complete,
                    "seconds": round(run.seconds, 3), "msgs_per_s": round(run.rate),
                    # the server's CPU over the whole run (catch-up, and the resend if any)
                    "server_cpu_us_per_msg": round(
                        run.cpu_s / max(run.received + resent, 1) * 1e6, 1),
                    "server_peak_rss_mb": run.rss_mb,
                    "x_peer": round(run.rate / peer.rate, 3),
                    "x_reference": round(run.rate / reference.rate, 3),
                })  # fmt: skip
                if sessions == 1:
                    ok = ok and resent >= each
                    resends.append({
                        "run": run.name, "resent": resent,
                        "seconds": round(run.resend_seconds, 3),
                        "x_peer": round(peer.resend_seconds / run.resend_seconds, 3)
                        if run.resend_seconds else None,
                        "x_reference": round(reference.resend_seconds / run.resend_seconds, 3)
                        if run.resend_seconds else None,
                    })  # fmt: skip
    if args.json:
        print(json.dumps({"catch_up": rows, "resend": resends}, indent=2))
        return 0 if ok else 1
    print("catch-up delivery (first Logon -> last message at the clients)")
    print(f"{'run':<32} {'sess':>4} {'received':>9} {'msgs/s':>9} {'CPU us/msg':>10} "
          f"{'RSS MB':>7} {'x peer':>7} {'x ref':>7}")  # fmt: skip
    for row in rows:
        flag = "" if row["complete"] else "  INCOMPLETE or rejected"
        print(f"{row['run']:<32} {row['sessions']:>4} {row['received']:>9} "
              f"{row['msgs_per_s']:>9,} {row['server_cpu_us_per_msg']:>10} "
              f"{row['server_peak_rss_mb']!s:>7} {row['x_peer']:>7} {row['x_reference']:>7}"
              f"{flag}")  # fmt: skip
    if resends:
        print("ResendRequest 1..0 after the catch-up (request sent -> last PossDup message"
              " received; x = speed over the other's)")
        print(f"{'run':<32} {'resent':>9} {'seconds':>9} {'x peer':>7} {'x ref':>7}")
        for row in resends:
            print(f"{row['run']:<32} {row['resent']:>9} {row['seconds']:>9} "
                  f"{row['x_peer']!s:>7} {row['x_reference']!s:>7}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
