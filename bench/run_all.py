"""Every bench figure, one section after another, each with its ratios measured in the same run.

1. catch-up delivery to 1 session (100,000 ExecutionReports) and to 10 at once (20,000 each),
   and ResendRequest 1..0 of the 100,000: the bridge, the QuickFIX C++ acceptor (peer) and the
   reference pipeline, to the same QuickFIX C++ clients with validation on (``catch_up.py``);
2. live latency at 1,000, 5,000 and 20,000 executions/s offered, open loop, exchange send to
   bytes readable at the client: the bridge and the reference pipeline (``live_latency.py``);
3. ingest from the replay upstream at full speed (``ingest.py``);
4. restart to serving with 1,000,000 events journaled (``restart.py``);
5. the floor under live ingestion: what grpcio costs per stream response (``grpc_floor.py``);
6. memory over a long live run at 20,000 executions/s offered (``live_latency.py`` for
   ``--rss-minutes``, default 10; 0 leaves it out).

With ``--postgresql`` (on by default where PostgreSQL's server binaries are installed; a server
of its own is started, fsync on), sections 1 and 3 also run the bridge on a PostgreSQL journal
holding the same events, beside the SQLite figures.

``--quick`` runs everything small (for a first look, minutes instead of half an hour). The
exit status is that of the catch-up section (1 when a client rejected something or missed
messages). Nothing is asserted: the figures are read.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import catch_up
import grpc_floor
import ingest
import live_latency
import restart


def section(title: str, run: Callable[[list[str]], int], argv: list[str]) -> int:
    print(f"\n== {title}  (bench/{run.__module__}.py {' '.join(argv)})", flush=True)
    started = time.monotonic()
    status = run(argv)
    print(f"   [{time.monotonic() - started:.0f} s]", flush=True)
    return status


def postgres_installed() -> bool:
    from tests.postgres_server import PostgresUnavailable, server_binaries

    try:
        server_binaries()
    except PostgresUnavailable:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rss-minutes", type=float, default=10.0)
    parser.add_argument(
        "--postgresql", action=argparse.BooleanOptionalAction, default=postgres_installed(),
        help="also measure delivery and ingest on a PostgreSQL journal",
    )  # fmt: skip
    args = parser.parse_args(argv)
    quick = args.quick
    pg = ["--postgresql"] if args.postgresql else []
    status = section(
        "catch-up delivery and ResendRequest", catch_up.main,
        ["--executions", "10000" if quick else "100000", "--sessions", "10",
         "--per-session", "2000" if quick else "20000", *pg],
    )  # fmt: skip
    section("live latency", live_latency.main,
            ["--rates", "1000,5000,20000", "--seconds", "3" if quick else "10"])  # fmt: skip
    section("ingest", ingest.main, ["--executions", "20000" if quick else "200000", *pg])
    section("restart", restart.main, ["--events", "100000" if quick else "1000000"])
    section("gRPC receive floor", grpc_floor.main, ["--responses", "2000" if quick else "5000"])
    minutes = 0.5 if quick and args.rss_minutes else args.rss_minutes
    if minutes:
        section(f"memory over {minutes:g} minutes at 20,000/s offered", live_latency.main,
                ["--rates", "20000", "--seconds", str(int(minutes * 60)),
                 "--no-reference"])  # fmt: skip
    return status


if __name__ == "__main__":
    sys.exit(main())
