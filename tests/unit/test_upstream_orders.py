"""OrigClOrdID(41): each order's previous ClOrdID, linked at ingestion and kept in the journal,
with the order's latest totals (for trade busts)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from decimal import Decimal
from pathlib import Path

from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.journal.store import KnownOrder
from fixbridge.normalize.execution import (
    ExecutionEvent,
    execution_report_body,
    normalize_execution,
)
from fixbridge.normalize.fills import BustedFill, OrderTotals
from fixbridge.normalize.style import RenderStyle
from fixbridge.normalize.timestamps import Precision
from fixbridge.proto.polymarket.v1 import enums_pb2 as pb
from fixbridge.proto.polymarket.v1 import trading_pb2
from fixbridge.upstream.orders import Linked, link_cl_ord_ids
from fixbridge.upstream.streams import executions_to_events
from tests.unit.test_normalize_execution import make_execution, make_order


def execution(exec_id: str, order_id: str, clord: str, kind: int) -> trading_pb2.Execution:
    return make_execution(make_order(id=order_id, clord_id=clord), id=exec_id, type=kind)


def event(exec_id: str, order_id: str, clord: str, kind: int) -> ExecutionEvent:
    return normalize_execution(execution(exec_id, order_id, clord, kind))


class Memory:
    """An order memory with fixed contents that records what it was asked."""

    def __init__(self, latest: dict[str, str] | None = None,
                 journaled: set[str] | None = None) -> None:
        self.latest = latest or {}
        self.journaled = journaled or set()
        self.asked: list[set[str]] = []

    def latest_orders(self, order_ids: Collection[str]) -> dict[str, KnownOrder]:
        self.asked.append(set(order_ids))
        totals = OrderTotals(1, "0", Decimal(500), Decimal(0), Decimal(500), Decimal(0))
        return {i: KnownOrder(self.latest[i], totals) for i in order_ids if i in self.latest}

    def latest_cl_ord_ids(self, order_ids: Collection[str]) -> dict[str, str]:
        self.asked.append(set(order_ids))
        return {i: self.latest[i] for i in order_ids if self.latest.get(i)}

    def order_busts(self, order_ids: Collection[str]) -> dict[str, list[tuple[str, BustedFill]]]:
        return {}

    def journaled_ids(self, stream: str, upstream_ids: Collection[str]) -> set[str]:
        return self.journaled & set(upstream_ids)


nothing_known = Memory()


def link(linked: Linked) -> tuple[str, str] | None:
    """(order id, ClOrdID) the journal is asked to remember, or None."""
    return None if linked.order is None else (linked.order.order_id, linked.order.cl_ord_id)


def cl_ord_ids(journal: SqliteJournal, order_ids: list[str]) -> dict[str, str]:
    return {i: known.cl_ord_id for i, known in journal.latest_orders(order_ids).items()}


def test_replace_and_cancel_carry_the_previous_cl_ord_id() -> None:
    linked = link_cl_ord_ids(
        [
            event("e1", "o1", "c1", pb.EXECUTION_TYPE_NEW),
            event("e2", "o1", "c2", pb.EXECUTION_TYPE_REPLACE),
            event("e3", "o1", "c2", pb.EXECUTION_TYPE_PARTIAL_FILL),
            event("e4", "o1", "c3", pb.EXECUTION_TYPE_CANCELED),
        ],
        nothing_known,
    )
    assert [x.event.orig_cl_ord_id for x in linked] == [None, "c1", None, "c2"]
    assert [link(x) for x in linked] == [("o1", "c1"), ("o1", "c2"), ("o1", "c2"), ("o1", "c3")]


def test_first_execution_in_a_response_uses_what_the_journal_knows() -> None:
    memory = Memory({"o1": "c1"})
    linked = link_cl_ord_ids(
        [event("e2", "o1", "c2", pb.EXECUTION_TYPE_REPLACE),
         event("n1", "o2", "d1", pb.EXECUTION_TYPE_NEW)],
        memory,
    )
    assert memory.asked == [{"o1", "o2"}]
    assert [x.event.orig_cl_ord_id for x in linked] == ["c1", None]


def test_unsolicited_cancel_keeps_its_cl_ord_id_so_no_orig() -> None:
    linked = link_cl_ord_ids(
        [event("e5", "o1", "c1", pb.EXECUTION_TYPE_CANCELED)], Memory({"o1": "c1"})
    )
    assert linked[0].event.orig_cl_ord_id is None


def test_execution_without_cl_ord_id_links_nothing_and_keeps_the_known_one() -> None:
    linked = link_cl_ord_ids(
        [event("e1", "o1", "", pb.EXECUTION_TYPE_NEW),
         event("e2", "o1", "c2", pb.EXECUTION_TYPE_REPLACE)],
        Memory({"o1": "c1"}),
    )
    # The first still teaches the order's totals; its empty ClOrdID keeps the one known.
    assert [link(x) for x in linked] == [("o1", ""), ("o1", "c2")]
    assert [x.event.orig_cl_ord_id for x in linked] == [None, "c1"]


def test_the_journal_keeps_the_known_cl_ord_id_and_the_latest_totals(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.db")
    new = make_execution(make_order(id="o1", clord_id="c1"), id="e1", type=pb.EXECUTION_TYPE_NEW,
                         transact_time={"seconds": 1_800_000_000})
    fill = make_execution(
        make_order(id="o1", clord_id="", cum_qty=200, leaves_qty=300, avg_px=50,
                   state=pb.ORDER_STATE_PARTIALLY_FILLED, price_to_quantity_filled={50: 200}),
        id="e2", type=pb.EXECUTION_TYPE_PARTIAL_FILL, last_shares=200, last_px=50,
        transact_time={"seconds": 1_800_000_001},
    )  # fmt: skip
    journal.append("executions", executions_to_events([new, fill], journal), b"t", 1)
    known = journal.latest_orders(["o1"])["o1"]
    assert known.cl_ord_id == "c1"
    assert known.totals == OrderTotals(
        1_800_000_001_000_000_000, "1", Decimal(500), Decimal(200), Decimal(300), Decimal(100)
    )
    journal.close()


def test_tag_41_follows_tag_11_only_when_linked() -> None:
    replaced = link_cl_ord_ids(
        [event("e2", "o1", "c2", pb.EXECUTION_TYPE_REPLACE)], Memory({"o1": "c1"})
    )[0].event
    tags = [tag for tag, _ in execution_report_body(replaced, RenderStyle(Precision.NANOS))]
    assert tags[tags.index(11) + 1] == 41
    assert dict(execution_report_body(replaced, RenderStyle(Precision.NANOS)))[41] == "c1"
    first = event("e1", "o1", "c1", pb.EXECUTION_TYPE_NEW)
    assert 41 not in dict(execution_report_body(first, RenderStyle(Precision.NANOS)))


def test_payload_keeps_orig_and_old_payloads_without_it_still_decode() -> None:
    replaced = link_cl_ord_ids(
        [event("e2", "o1", "c2", pb.EXECUTION_TYPE_REPLACE)], Memory({"o1": "c1"})
    )[0].event
    assert ExecutionEvent.from_payload(replaced.to_payload()) == replaced
    document = json.loads(event("e1", "o1", "c1", pb.EXECUTION_TYPE_NEW).to_payload())
    del document["orig_cl_ord_id"]  # as journaled before the field existed
    old = ExecutionEvent.from_payload(json.dumps(document).encode())
    assert old.orig_cl_ord_id is None


def test_journal_links_survive_restart_and_duplicates_never_rewind(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = SqliteJournal(path)
    first = [execution("e1", "o1", "c1", pb.EXECUTION_TYPE_NEW),
             execution("e2", "o1", "c2", pb.EXECUTION_TYPE_REPLACE)]
    journal.append("executions", executions_to_events(first, journal), b"t1", 1)
    assert cl_ord_ids(journal, ["o1", "o9"]) == {"o1": "c2"}
    journal.close()

    journal = SqliteJournal(path)
    # A replay re-delivers e1 (a duplicate) before the order's cancel.
    replay = [execution("e1", "o1", "c1", pb.EXECUTION_TYPE_NEW)]
    result = journal.append(
        "executions", executions_to_events(replay, journal), b"t2", 2
    )
    assert result.duplicates == 1
    assert cl_ord_ids(journal, ["o1"]) == {"o1": "c2"}
    cancel = [execution("e3", "o1", "c3", pb.EXECUTION_TYPE_CANCELED)]
    journal.append("executions", executions_to_events(cancel, journal), b"t3", 3)
    stored = journal.read_events(0, 10)
    origs = [ExecutionEvent.from_payload(e.payload).orig_cl_ord_id for e in stored]
    assert origs == [None, "c1", "c2"]
    journal.close()


def test_version_3_journal_rebuilds_order_memory_from_its_executions(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    journal = SqliteJournal(path)
    batch = [execution("e1", "o1", "c1", pb.EXECUTION_TYPE_NEW),
             execution("e2", "o1", "c2", pb.EXECUTION_TYPE_REPLACE),
             execution("f1", "o2", "d1", pb.EXECUTION_TYPE_NEW)]
    journal.append("executions", executions_to_events(batch, journal), b"t", 1)
    journal.close()
    db = sqlite3.connect(path)
    db.executescript(
        "DROP TABLE orders; DROP TABLE order_busts; DROP TABLE instrument_latest;"
        " CREATE TABLE order_links (order_id TEXT PRIMARY KEY, cl_ord_id TEXT NOT NULL,"
        " transact_time INTEGER NOT NULL) WITHOUT ROWID;"
        " UPDATE meta SET value='3' WHERE key='schema_version';"
    )
    db.close()
    journal = SqliteJournal(path)
    assert cl_ord_ids(journal, ["o1", "o2"]) == {"o1": "c2", "o2": "d1"}
    assert journal.latest_orders(["o1"])["o1"].totals.ord_status == "0"
    journal.close()


def test_flagged_executions_pass_through_unlinked() -> None:
    bad = make_execution(make_order(id="o1", clord_id="c9", side=99), id="bad")
    events = executions_to_events(
        [bad, execution("e2", "o1", "c2", pb.EXECUTION_TYPE_REPLACE)], Memory({"o1": "c1"})
    )
    assert events[0].flagged is not None and events[0].order is None
    assert ExecutionEvent.from_payload(events[1].payload).orig_cl_ord_id == "c1"


def test_a_redelivered_execution_neither_links_nor_moves_the_order() -> None:
    # e1 (c1) and e2 (c2) are journaled; a replay redelivers e1 out of order, then e3 (c3).
    linked = link_cl_ord_ids(
        [event("e1", "o1", "c1", pb.EXECUTION_TYPE_NEW),
         event("e3", "o1", "c3", pb.EXECUTION_TYPE_CANCELED)],
        Memory({"o1": "c2"}, journaled={"e1", "e2"}),
    )
    assert [link(x) for x in linked] == [None, ("o1", "c3")]
    assert [x.event.orig_cl_ord_id for x in linked] == [None, "c2"]


def test_an_older_execution_found_late_does_not_rewind_the_order(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.db")
    newer = make_execution(make_order(id="o1", clord_id="c2"), id="e2",
                           type=pb.EXECUTION_TYPE_REPLACE,
                           transact_time={"seconds": 1_800_000_100})
    older = make_execution(make_order(id="o1", clord_id="c1"), id="e1",
                           type=pb.EXECUTION_TYPE_NEW, transact_time={"seconds": 1_800_000_000})
    journal.append("executions", executions_to_events([newer], journal), b"t1", 1)
    journal.append("executions", executions_to_events([older], journal), b"", 2)  # a gap fill
    assert cl_ord_ids(journal, ["o1"]) == {"o1": "c2"}
    journal.close()
