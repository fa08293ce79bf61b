"""The journal's contract, run unchanged on every backend (``backends.BACKENDS``).

Only what ``journal/store.py``'s ``Journal`` protocol offers is used: writes through its
coroutines, reads through its methods; a restart is the journal closed and opened again from
its spec; a crash is a writer process killed with SIGKILL at a moment the test does not
choose. The rules come from the storage contract and docs/architecture.md ("Invariants"):
events and their token together or not at all, exactly once by stream and upstream id, an
empty token never replacing a stored one, a new session starting at the head, a batch stored
only from the cursor it was rendered from, the PossResend horizon and a replay's cursor only
moving the ways they may.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from fixbridge.journal.records import OutboundMessage, StoredBody
from fixbridge.journal.store import CursorMoved, Journal, NewEvent, OrderRecord
from fixbridge.normalize.fills import Fill, OrderTotals
from tests.contract import crash_writer
from tests.contract.backends import open_journal

REPO = Path(__file__).resolve().parents[2]
STAMP = "20261206-00:00:00"


def ev(upstream_id: str, transact_ns: int = 1, flagged: str | None = None) -> NewEvent:
    return NewEvent(upstream_id, transact_ns, b"{}", b"raw-" + upstream_id.encode(), flagged)


def run(spec: str, test: Callable[[Journal], Awaitable[None]]) -> None:
    async def main() -> None:
        journal = open_journal(spec)
        try:
            await test(journal)
        finally:
            journal.close()

    asyncio.run(main())


async def store_sent(
    journal: Journal,
    session: str,
    messages: Sequence[OutboundMessage],
    next_sender_seq: int,
    cursor: int | None,
    *,
    after: int | None = None,
) -> None:
    await journal.submit_sent(
        session, messages, next_sender_seq, cursor, at_ns=1, after_offset=after
    ).result()


def message(seq: int, msg_type: str = "8") -> OutboundMessage:
    return OutboundMessage(seq, msg_type, STAMP, b"17=%d\x01" % seq)


# --- the event log ----------------------------------------------------------------------------


def test_events_are_kept_once_by_stream_and_id_with_their_token(spec: str) -> None:
    async def test(journal: Journal) -> None:
        first = await journal.append_async("executions", [ev("a"), ev("b")], b"t1", 10)
        again = await journal.append_async("executions", [ev("b"), ev("c")], b"t2", 11)
        assert (first.stored, first.duplicates) == (2, 0)
        assert (again.stored, again.duplicates) == (1, 1)
        a, b = first.offsets
        duplicate, c = again.offsets
        assert 0 < a < b < c and duplicate == 0  # offsets rise; gaps are allowed
        assert (first.head_offset, again.head_offset) == (b, c)
        assert journal.resume_token("executions") == b"t2"
        other = await journal.append_async("trades", [ev("a")], b"x", 12)
        assert other.stored == 1  # the same id in another stream is another event
        assert journal.journaled_ids("executions", ["a", "c", "z"]) == {"a", "c"}
        assert journal.count_events("executions") == 3
        assert journal.offset_of("executions", "c") == c
        assert journal.offset_of("trades", "a") == other.head_offset > c
        assert journal.offset_of("executions", "z") is None

    run(spec, test)


def test_an_empty_token_never_replaces_a_stored_one(spec: str) -> None:
    async def test(journal: Journal) -> None:
        assert journal.resume_token("executions") is None
        await journal.append_async("executions", [], b"heartbeat-token", 1)
        assert journal.resume_token("executions") == b"heartbeat-token"
        await journal.append_async("executions", [ev("a")], b"", 2)
        assert journal.resume_token("executions") == b"heartbeat-token"
        assert journal.count_events("executions") == 1

    run(spec, test)


def test_a_failed_append_keeps_neither_its_events_nor_its_token(spec: str) -> None:
    async def test(journal: Journal) -> None:
        await journal.append_async("executions", [ev("a")], b"t1", 1)
        broken = NewEvent("b", 1, object(), b"raw")  # type: ignore[arg-type]
        with pytest.raises(Exception):  # noqa: B017 - each backend's own error
            await journal.append_async("executions", [ev("c"), broken], b"t2", 2)
        assert journal.journaled_ids("executions", ["a", "b", "c"]) == {"a"}
        assert journal.resume_token("executions") == b"t1"
        assert journal.head_offset() == 1

    run(spec, test)


def test_events_are_read_in_journal_order_after_an_offset(spec: str) -> None:
    async def test(journal: Journal) -> None:
        assert journal.head_offset() == 0 and journal.oldest_transact_time() is None
        first = await journal.append_async("executions", [ev("a", 30), ev("b", 10)], b"t", 1)
        second = await journal.append_async("trades", [ev("c", 20)], b"t", 2)
        events = journal.read_events(0, 10)
        assert [(e.offset, e.stream, e.upstream_id) for e in events] == [
            (first.offsets[0], "executions", "a"),
            (first.offsets[1], "executions", "b"),
            (second.offsets[0], "trades", "c"),
        ]
        assert [e.received_at_ns for e in events] == [1, 1, 2]
        assert [e.upstream_id for e in journal.read_events(first.offsets[0], 1)] == ["b"]
        assert journal.read_events(second.head_offset, 10) == []
        assert journal.oldest_transact_time() == 30  # the first journaled, not the smallest

    run(spec, test)


def with_bodies(event: NewEvent, *bodies: StoredBody) -> NewEvent:
    return dataclasses.replace(event, bodies=bodies)


def body(rendering: str, text: bytes, firm: str = "F1") -> StoredBody:
    return StoredBody(rendering, firm, f"firms/{firm}/accounts/A", "SYM", "F", text)


def test_an_events_bodies_are_kept_with_it_and_read_for_one_rendering(spec: str) -> None:
    async def test(journal: Journal) -> None:
        a = with_bodies(ev("a"), body("r1", b"37=A1\x01"), body("r2", b"37=A2\x01", "F2"))
        b = with_bodies(ev("b"), body("r2", b"37=B2\x01"))
        first = await journal.append_async("executions", [a, b, ev("c")], b"t", 1)
        # A duplicate's bodies are not kept: the first journaling of the event stands.
        again = with_bodies(ev("a"), body("r1", b"37=OTHER\x01"))
        await journal.append_async("executions", [again], b"t", 2)
        read = {r: journal.read_events(0, 10, rendering=r) for r in ("r1", "r2", "r3", "")}
        for events in read.values():
            assert [(e.offset, e.upstream_id) for e in events] == [
                (first.offsets[0], "a"), (first.offsets[1], "b"), (first.offsets[2], "c")
            ]  # fmt: skip
        assert [e.body for e in read["r1"]] == [a.bodies[0], None, None]
        assert [e.body for e in read["r2"]] == [a.bodies[1], b.bodies[0], None]
        assert [e.body for e in read["r3"]] == [None, None, None]
        assert [e.body for e in read[""]] == [None, None, None]
        assert [e.body for e in journal.read_events(first.offsets[0], 1, "r2")] == [b.bodies[0]]

    run(spec, test)


def test_the_anchor_is_the_newest_event_or_what_the_token_covers(spec: str) -> None:
    async def test(journal: Journal) -> None:
        assert journal.resume_anchor_ns("executions") is None
        events = [ev("a", 100), ev("b", 300), ev("c", 200)]
        await journal.append_async("executions", events, b"t1", 1000)
        assert journal.resume_anchor_ns("executions") == 300  # the newest event time
        await journal.append_async("executions", [], b"heartbeat", 5000)  # caught up then
        assert journal.resume_anchor_ns("executions") == 5000

    run(spec, test)


def test_the_anchor_ignores_flagged_events_and_caps_future_times(spec: str) -> None:
    async def test(journal: Journal) -> None:
        far_future = 4 * 10**18
        await journal.append_async("executions", [ev("a", 100)], b"", 1000)
        await journal.append_async(
            "executions", [ev("bad", far_future, "side: unknown")], b"", 1100
        )
        assert journal.resume_anchor_ns("executions") == 100
        await journal.append_async("executions", [ev("odd", far_future)], b"", 1200)
        assert journal.resume_anchor_ns("executions") == 1200  # capped by its receipt

    run(spec, test)


def test_a_time_beyond_int64_is_kept_clamped_not_refused(spec: str) -> None:
    async def test(journal: Journal) -> None:
        huge = 10**10 * 10**9 + 5  # year 2286: more nanoseconds than an int64 holds
        assert (await journal.append_async("executions", [ev("late", huge)], b"t", 1)).stored
        assert journal.read_events(0, 1)[0].transact_time_ns == 2**63 - 1

    run(spec, test)


def order_event(
    upstream_id: str,
    at_ns: int,
    cl_ord_id: str,
    cum_qty: str,
    fill: str | None = None,
    order_id: str = "O1",
) -> NewEvent:
    totals = OrderTotals(at_ns, "1", Decimal(10), Decimal(cum_qty), Decimal(10) - Decimal(cum_qty),
                         Decimal(cum_qty) * Decimal("0.5"))  # fmt: skip
    filled = Fill(fill, Decimal(1), Decimal("0.5"), at_ns) if fill is not None else None
    return NewEvent(
        upstream_id, at_ns, b"{}", b"raw", order=OrderRecord(order_id, cl_ord_id, totals, filled)
    )


def test_an_order_is_remembered_as_of_its_newest_execution_never_an_older_one(spec: str) -> None:
    async def test(journal: Journal) -> None:
        await journal.append_async("executions", [order_event("e2", 200, "C2", "2", "f2")], b"", 1)
        # An older execution found later (a replay): the order's totals do not go back.
        await journal.append_async("executions", [order_event("e1", 100, "C1", "1", "f1")], b"", 2)
        known = journal.latest_orders(["O1", "O9"])
        assert set(known) == {"O1"}
        assert (known["O1"].cl_ord_id, known["O1"].totals.cum_qty) == ("C2", Decimal(2))
        # A newer one without a ClOrdID: the totals move on, the ClOrdID stays.
        await journal.append_async("executions", [order_event("e3", 300, "", "3", "f3")], b"", 3)
        known = journal.latest_orders(["O1"])
        assert (known["O1"].cl_ord_id, known["O1"].totals.cum_qty) == ("C2", Decimal(3))
        assert known["O1"].totals.transact_time_ns == 300
        # Linking's narrower question: the ClOrdIDs alone, and none for an order never sent one.
        await journal.append_async(
            "executions", [order_event("n1", 100, "", "1", None, "O2")], b"", 4
        )
        assert set(journal.latest_orders(["O1", "O2", "O9"])) == {"O1", "O2"}
        assert journal.latest_cl_ord_ids(["O1", "O2", "O9"]) == {"O1": "C2"}
        # Every fill is remembered once, in time order, whatever order they came in.
        await journal.append_async("executions", [order_event("e3b", 300, "", "3", "f3")], b"", 5)
        fills = journal.order_fills(["O1"])["O1"]
        assert [(f.exec_id, f.transact_time_ns) for f in fills] == [
            ("f1", 100), ("f2", 200), ("f3", 300),
        ]  # fmt: skip

    run(spec, test)


def test_one_append_teaches_as_its_executions_one_after_the_other(spec: str) -> None:
    """One order's executions (older ones among newer, ClOrdIDs left empty, a fill repeated)
    in one append, and the same executions of another order appended one by one: both
    orders are remembered alike. Enough of them for the writes to carry many rows each."""
    steps = [(200, "C2", "2", "f2"), (100, "C1", "1", "f1"), (300, "", "3", "f3"),
             (300, "", "3", "f3"), (150, "C0", "1", "f0"), (400, "C4", "4", "f4"),
             (350, "", "3", "f35"), (500, "", "5", "f5"), (450, "C9", "4", "f45"),
             (500, "C5", "5", "f5"), (600, "", "6", None), (550, "C7", "5", "f55")]  # fmt: skip

    def of(order_id: str) -> list[NewEvent]:
        return [
            order_event(f"{order_id}-e{n}", at, cl, cum, f and f"{order_id}-{f}", order_id)
            for n, (at, cl, cum, f) in enumerate(steps)
        ]

    async def test(journal: Journal) -> None:
        await journal.append_async("executions", of("OA"), b"", 1)
        for n, event in enumerate(of("OB")):
            await journal.append_async("executions", [event], b"", 2 + n)
        together, alone = journal.latest_orders(["OA"])["OA"], journal.latest_orders(["OB"])["OB"]
        assert (together.cl_ord_id, together.totals) == (alone.cl_ord_id, alone.totals)
        assert (together.cl_ord_id, together.totals.transact_time_ns) == ("C5", 600)
        fills = journal.order_fills(["OA", "OB"])
        assert [(f.exec_id[3:], f.transact_time_ns) for f in fills["OA"]] == [
            (f.exec_id[3:], f.transact_time_ns) for f in fills["OB"]
        ]
        assert len(fills["OA"]) == 9  # f3 and f5 once each

    run(spec, test)


# --- the sessions ---------------------------------------------------------------------------


def test_a_new_session_starts_at_the_head_and_its_numbers_survive_a_restart(spec: str) -> None:
    async def test(journal: Journal) -> None:
        await journal.append_async("executions", [ev("a"), ev("b")], b"t", 1)
        assert journal.find_session("s1") is None
        record = journal.load_session("s1")
        assert (record.next_sender_seq, record.next_target_seq, record.cursor_offset) == (1, 1, 2)
        assert record.origin_offset == 2
        told = journal.load_session("s2", start_offset=1)
        assert (told.cursor_offset, told.origin_offset) == (1, 1)
        await store_sent(journal, "s1", [message(1)], 2, 2, after=2)
        await journal.save_sequence_numbers_async("s1", 3, 5, at_ns=7)

    run(spec, test)
    reopened = open_journal(spec)
    try:
        record = reopened.find_session("s1")
        assert record is not None
        assert (record.next_sender_seq, record.next_target_seq, record.updated_at_ns) == (3, 5, 7)
        assert reopened.load_session("s2", start_offset=0).cursor_offset == 1  # stored wins
    finally:
        reopened.close()


def test_sent_messages_are_read_back_in_order_over_any_range(spec: str) -> None:
    async def test(journal: Journal) -> None:
        journal.load_session("s")
        total = 1207  # more than one bounded read, whatever the backend's batch
        messages = [message(i) for i in range(1, total + 1) if i % 10]
        await store_sent(journal, "s", messages, total + 1, None)
        got = [m.seq for m in journal.outbound_range("s", 5, total - 3)]
        assert got == [m.seq for m in messages if 5 <= m.seq <= total - 3]
        assert list(journal.outbound_range("s", 5, 5)) == [message(5)]

    run(spec, test)


def test_a_reset_drops_the_sent_messages_and_opens_the_next_epoch(spec: str) -> None:
    async def test(journal: Journal) -> None:
        journal.load_session("s")
        await store_sent(journal, "s", [message(1)], 2, None)
        await journal.save_sequence_numbers_async("s", 1, 1, at_ns=2, reset=True)
        assert list(journal.outbound_range("s", 1, 10)) == []
        record = journal.load_session("s")
        assert (record.next_sender_seq, record.reset_epoch) == (1, 1)

    run(spec, test)


def test_a_batch_rendered_from_a_cursor_no_longer_stored_keeps_nothing(spec: str) -> None:
    async def test(journal: Journal) -> None:
        await journal.append_async("executions", [ev("a"), ev("b"), ev("c")], b"t", 1)
        journal.load_session("s")  # at the head: 3
        await journal.replay_from_async("s", 1, 5)  # an operator's replay: back to 1
        await journal.append_async("executions", [ev("d")], b"t", 2)  # 4: the batch 3 -> 4
        with pytest.raises(CursorMoved):
            await store_sent(journal, "s", [message(2)], 3, 4, after=3)
        record = journal.load_session("s")
        assert (record.cursor_offset, record.next_sender_seq) == (1, 1)
        assert list(journal.outbound_range("s", 1, 10)) == []
        await store_sent(journal, "s", [message(2)], 3, 4, after=1)  # from the stored cursor
        assert journal.load_session("s").cursor_offset == 4
        assert [r.first_seq for r in journal.sent_ranges("s", 1, 10)] == [2]

    run(spec, test)


def test_a_write_that_does_not_move_the_cursor_leaves_the_stored_one_alone(spec: str) -> None:
    async def test(journal: Journal) -> None:
        await journal.append_async("executions", [ev("a"), ev("b"), ev("c")], b"t", 1)
        journal.load_session("s")  # at the head: 3
        await journal.replay_from_async("s", 1, 5)
        await store_sent(journal, "s", [message(1, "U3")], 2, None)  # no event produced it
        await store_sent(journal, "s", [message(2, "j")], 3, 3, after=3)  # where it stood
        record = journal.load_session("s")
        assert (record.cursor_offset, record.next_sender_seq) == (1, 3)
        assert [m.seq for m in journal.outbound_range("s", 1, 10)] == [1, 2]

    run(spec, test)


def test_a_replay_moves_the_cursor_back_never_forward(spec: str) -> None:
    async def test(journal: Journal) -> None:
        await journal.append_async("executions", [ev("a"), ev("b"), ev("c")], b"t", 1)
        journal.load_session("s")  # 3
        await journal.replay_from_async("s", 2, 5)
        assert journal.load_session("s").cursor_offset == 2
        await journal.replay_from_async("s", 3, 6)  # forward: the cursor stays
        record = journal.load_session("s")
        assert (record.cursor_offset, record.possibly_sent_before_ns) == (2, 6)

    run(spec, test)


def test_the_possibly_sent_time_only_moves_forward_and_survives_a_restart(spec: str) -> None:
    async def test(journal: Journal) -> None:
        journal.load_session("s")
        journal.load_session("other")
        await journal.mark_possibly_sent_async("s", 5_000)
        await journal.mark_possibly_sent_async("s", 4_000)  # earlier: moves nothing
        await journal.save_sequence_numbers_async("s", 1, 1, at_ns=2, reset=True)  # nor this
        assert journal.load_session("s").possibly_sent_before_ns == 5_000

    run(spec, test)
    reopened = open_journal(spec)
    try:
        assert reopened.load_session("s").possibly_sent_before_ns == 5_000
        assert reopened.load_session("other").possibly_sent_before_ns == 0  # one session's
    finally:
        reopened.close()


def test_a_rewind_forgets_what_was_sent_from_a_number_on(spec: str) -> None:
    async def test(journal: Journal) -> None:
        await journal.append_async("executions", [ev("a"), ev("b"), ev("c")], b"t", 1)
        journal.load_session("s", start_offset=0)
        await store_sent(journal, "s", [message(1), message(2), message(3)], 4, 3, after=0)
        await journal.rewind_session_async("s", 2, 1, forget_from=2, at_ns=9)
        record = journal.load_session("s")
        assert (record.next_sender_seq, record.cursor_offset) == (2, 1)
        assert [m.seq for m in journal.outbound_range("s", 1, 10)] == [1]

    run(spec, test)


# --- a crash at any moment -------------------------------------------------------------------


def test_a_writer_killed_at_any_moment_leaves_whole_writes_only(spec: str) -> None:
    """SIGKILL lands wherever it lands: afterwards every batch whose token is stored is there
    whole and no event of a later batch is; the session's messages run 1..next-1 without a
    hole, its cursor stands at the end of a whole batch, never past the head."""
    rng = random.Random(14)
    for _ in range(4):
        writer = subprocess.Popen(
            [sys.executable, "-m", "tests.contract.crash_writer", spec],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert writer.stdout is not None
        ready = writer.stdout.readline()
        assert ready == b"ready\n", writer.stderr.read() if writer.stderr else b""
        time.sleep(rng.uniform(0.05, 0.6))  # when the kill lands: not chosen by the test
        writer.kill()
        writer.wait(30)
        check_whole(spec)


def check_whole(spec: str) -> None:
    journal = open_journal(spec)
    try:
        batches = int(journal.resume_token("executions") or b"0")
        per = crash_writer.BATCH
        assert batches >= 1  # the writer said ready once a batch was written
        assert journal.count_events("executions") == batches * per
        assert journal.head_offset() == batches * per
        later = [f"b{batches + 1}-{i}" for i in range(per)]
        assert journal.journaled_ids("executions", later) == set()
        record = journal.load_session(crash_writer.SESSION)
        sent = [m.seq for m in journal.outbound_range(crash_writer.SESSION, 1, 10**9)]
        assert sent == list(range(1, record.next_sender_seq))
        assert len(sent) % 3 == 0
        assert record.cursor_offset % per == 0 and record.cursor_offset <= journal.head_offset()
    finally:
        journal.close()
