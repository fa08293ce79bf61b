"""EventResendRequest (35=U1) over FIX, in-process with a raw client: what comes back for an
ExecID, a range, a time, and each refusal (fix/history.py lists the messages and reasons).

Expected values come from the request's meaning, not from the bridge: "from BeginExecID to
EndExecID, both inclusive" is the journal's executions in that order, each sent again under a
new sequence number with PossResend(97)=Y and without PossDupFlag, then one
EventResendComplete naming the request (45) and the count (21003)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from fixbridge.app import Bridge
from fixbridge.journal.store import NewEvent
from fixbridge.normalize.execution import ExecutionEvent
from fixbridge.normalize.timestamps import Precision, format_utc_timestamp
from tests.integration.inprocess import ExecutionFeed, bridge, port_of
from tests.integration.rawfix import RawClient

pytestmark = pytest.mark.integration

BRIDGE = "FIXBRIDGE"


# Four messages a second: a request is still being answered when the next message comes.
SLOW = {"name": "a", "sender_comp_id": BRIDGE, "target_comp_id": "CLIENT_A", "resend_rate": 4}


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout=30))


async def logged_on(b: Bridge, reports: int) -> RawClient:
    client = RawClient("CLIENT_A", BRIDGE)
    await client.connect(port_of(b))
    client.logon()
    await client.read_until(lambda box: len(client.of_type("8")) == reports)
    return client


async def ask(client: RawClient, *fields: tuple[int, str], answer: str = "U2") -> list[Any]:
    """Send one EventResendRequest; everything received up to its answer (U2, U3 or j)."""
    client.inbox.clear()
    client.send("U1", *fields)
    return await client.read_until(lambda box: any(m.msg_type == answer for m in box))


def test_from_an_exec_id_and_up_to_one(tmp_path: Path) -> None:
    async def conversation() -> None:
        session = {"name": "a", "sender_comp_id": BRIDGE, "target_comp_id": "CLIENT_A"}
        async with bridge(tmp_path, [session]) as b:
            ids = ExecutionFeed(b).append(10)
            client = await logged_on(b, 10)
            request_seq = client.seq
            *again, done = await ask(client, (21001, ids[3]))
            assert [m.get(17) for m in again] == ids[3:]
            assert {(m.msg_type, m.get(97), m.get(43)) for m in again} == {("8", "Y", None)}
            assert [int(m.get(34) or 0) for m in again] == list(range(12, 19))  # new numbers
            assert (done.get(45), done.get(21003), done.get(34)) == (str(request_seq), "7", "19")

            *again, done = await ask(client, (21001, ids[2]), (21002, ids[4]))
            assert [m.get(17) for m in again] == ids[2:5] and done.get(21003) == "3"

            more = ExecutionFeed(b, seed=9).append(2)  # live delivery goes on afterwards
            await client.read_until(lambda box: len([m for m in box if m.msg_type == "8"]) == 5)
            live = [m for m in client.inbox if m.msg_type == "8"][3:]
            assert [(m.get(17), m.get(97)) for m in live] == [(more[0], None), (more[1], None)]
            client.close()

    run(conversation)


def test_from_a_time(tmp_path: Path) -> None:
    async def conversation() -> None:
        session = {"name": "a", "sender_comp_id": BRIDGE, "target_comp_id": "CLIENT_A"}
        async with bridge(tmp_path, [session]) as b:
            assert b.journal is not None
            ids = ExecutionFeed(b).append(12)
            client = await logged_on(b, 12)
            events = b.journal.read_events(0, 100)
            start = events[5].transact_time_ns
            expected = [e.upstream_id for e in events if e.transact_time_ns >= start]
            assert 0 < len(expected) < len(ids)
            stamp = format_utc_timestamp(start, Precision.NANOS)
            *again, done = await ask(client, (21005, stamp))
            assert [m.get(17) for m in again] == expected
            assert done.get(21003) == str(len(expected))
            client.close()

    run(conversation)


def test_refusals_say_why(tmp_path: Path) -> None:
    async def conversation() -> None:
        session = {"name": "a", "sender_comp_id": BRIDGE, "target_comp_id": "CLIENT_A"}
        async with bridge(tmp_path, [session]) as b:
            ids = ExecutionFeed(b).append(4)
            client = await logged_on(b, 4)
            (unknown,) = await ask(client, (21001, "NO-SUCH-EXEC"), answer="U3")
            assert unknown.get(21004) == "5" and "NO-SUCH-EXEC" in (unknown.get(58) or "")
            (backwards,) = await ask(client, (21001, ids[2]), (21002, ids[1]), answer="U3")
            assert backwards.get(21004) == "4"
            (too_old,) = await ask(client, (21005, "20200101-00:00:00"), answer="U3")
            assert too_old.get(21004) == "3"
            (neither,) = await ask(client, answer="j")
            assert (neither.get(372), neither.get(380)) == ("U1", "0")
            assert "exactly one of" in (neither.get(58) or "")
            (both,) = await ask(client, (21001, ids[0]), (21005, "20200101-00:00:00"), answer="j")
            assert both.get(380) == "0"
            (garbled,) = await ask(client, (21005, "yesterday"), answer="j")
            assert "not a UTCTimestamp" in (garbled.get(58) or "")
            client.close()

    run(conversation)


def test_the_answers_are_stored_and_replayed_on_resend_request(tmp_path: Path) -> None:
    async def conversation() -> None:
        session = {"name": "a", "sender_comp_id": BRIDGE, "target_comp_id": "CLIENT_A"}
        async with bridge(tmp_path, [session]) as b:
            ids = ExecutionFeed(b).append(3)
            client = await logged_on(b, 3)  # Logon 1, reports 2..4
            *again, done = await ask(client, (21001, ids[1]))  # reports 5..6, U2 7
            assert [m.get(34) for m in [*again, done]] == ["5", "6", "7"]
            client.inbox.clear()
            client.send("2", (7, "5"), (16, "7"))
            replay = await client.read_until(lambda box: any(m.msg_type == "U2" for m in box))
            assert [(m.msg_type, m.get(34), m.get(43), m.get(97)) for m in replay] == [
                ("8", "5", "Y", "Y"), ("8", "6", "Y", "Y"), ("U2", "7", "Y", None)
            ]  # fmt: skip
            client.close()

    run(conversation)


def test_one_request_at_a_time(tmp_path: Path) -> None:
    """A second request while the first is answered (paced by resend_rate) is refused with
    reason 1; the first completes whole."""

    async def conversation() -> None:
        async with bridge(tmp_path, [SLOW]) as b:
            ids = ExecutionFeed(b).append(6)
            client = await logged_on(b, 6)
            client.inbox.clear()
            client.send("U1", (21001, ids[0]))
            first_seq = client.seq - 1
            await client.read_until(lambda box: len(box) >= 1)  # the first is under way
            client.send("U1", (21001, ids[3]))
            await client.read_until(lambda box: any(m.msg_type == "U2" for m in box))
            (busy,) = client.of_type("U3")
            assert (busy.get(45), busy.get(21004)) == (str(first_seq + 1), "1")
            (done,) = client.of_type("U2")
            assert (done.get(45), done.get(21003)) == (str(first_seq), "6")
            assert [m.get(17) for m in client.of_type("8")] == ids
            client.close()

    run(conversation)


def test_a_sequence_reset_abandons_the_request_being_answered_and_serves_the_next(
    tmp_path: Path,
) -> None:
    """A Logon with ResetSeqNumFlag=Y while a request is answered: the request belonged to
    the numbers just reset, so it stops (no EventResendComplete naming an old number); a
    request made after the reset is answered whole."""

    async def conversation() -> None:
        async with bridge(tmp_path, [SLOW]) as b:
            ids = ExecutionFeed(b).append(8)
            client = await logged_on(b, 8)
            client.inbox.clear()
            client.send("U1", (21001, ids[0]))
            await client.read_until(lambda box: len(box) >= 1)  # under way
            client.seq = 1
            client.logon(reset=True)
            await client.read_until(lambda box: any(m.msg_type == "A" for m in box))
            reset_at = len(client.inbox)
            client.send("U1", (21001, ids[6]))  # the new epoch's number 2
            await client.read_until(lambda box: any(m.msg_type in ("U2", "U3") for m in box))
            answers = [m for m in client.inbox if m.msg_type in ("U2", "U3")]
            assert [(m.msg_type, m.get(45), m.get(21003)) for m in answers] == [("U2", "2", "2")]
            after = [m.get(17) for m in client.inbox[reset_at:] if m.msg_type == "8"]
            assert after[-2:] == ids[6:]
            client.close()

    run(conversation)


def test_a_trade_cancels_exec_id_names_the_bust(tmp_path: Path) -> None:
    """A trade cancel's ExecID(17) is ``<fill ExecID>-BUST`` (specs/mapping.md): asked for
    by it, the answer starts (or ends) at the BUSTED trade that cancelled the fill."""

    async def conversation() -> None:
        session = {"name": "a", "sender_comp_id": BRIDGE, "target_comp_id": "CLIENT_A"}
        async with bridge(tmp_path, [session]) as b:
            assert b.journal is not None
            feed = ExecutionFeed(b)
            ids = feed.append(60)
            fills = [
                ExecutionEvent.from_payload(e.payload)
                for e in b.journal.read_events(0, 100)
                if ExecutionEvent.from_payload(e.payload).trade_id is not None
            ]
            fill = fills[0]
            # The BUSTED version of its trade (a payload no renderer takes: it sends nothing
            # itself; only where it sits in the journal counts here).
            bust = NewEvent(f"{fill.trade_id}:BUSTED", 1, b"{}", b"raw")
            b.journal.append("trades", [bust], b"", 1)
            later = feed.append(2)
            client = await logged_on(b, 62)
            *again, done = await ask(client, (21001, f"{fill.exec_id}-BUST"))
            assert [m.get(17) for m in again] == later and done.get(21003) == "2"
            start = ids.index(fill.exec_id)
            *again, done = await ask(
                client, (21001, fill.exec_id), (21002, f"{fill.exec_id}-BUST")
            )
            assert [m.get(17) for m in again] == ids[start:]
            client.close()

    run(conversation)
