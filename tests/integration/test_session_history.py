"""History for a session: a session new to the journal starts from a configured instant, and
an operator replays a session's events from an instant as new messages, marked PossResend.

In-process bridge, scripted FIX client (``RawClient``). The journal gets executions with
chosen exchange times (``ExecutionFeed(start_ns=...)``), so "at or after the instant" can be
asserted exactly. What is expected comes from the rules, not from the code:
- a session is sent every event journaled from the first one whose TransactTime is at or
  after the instant, in journal order (an event made earlier but journaled later included);
- a replayed event is a new message: the next sequence number, PossResend(97)=Y ("may contain
  information that has been sent under another sequence number", FIX 5.0 SP2), and not
  PossDupFlag(43), which is for a message sent again under its own number.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fixbridge.app import Bridge
from fixbridge.cli import main
from tests.integration.inprocess import ExecutionFeed, bridge, port_of
from tests.integration.rawfix import RawClient
from tests.integration.test_admin import count, post, token_file

pytestmark = pytest.mark.integration

BRIDGE = "FIXBRIDGE"
S = 1_000_000_000
T0 = 1_700_000_000 * S  # 2023-11-14T22:13:20Z: executions long made
T1 = T0 + 3600 * S  # an hour later: the instant sessions start or replay from


def rfc3339(ns: int) -> str:
    return datetime.fromtimestamp(ns // S, UTC).isoformat().replace("+00:00", "Z")


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout=30))


def session(name: str, client: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "sender_comp_id": BRIDGE, "target_comp_id": client, **extra}


def journal_history(b: Bridge) -> tuple[list[str], list[str], list[str]]:
    """Executions made before T1, from T1 on, and made before T1 but journaled after."""
    before = ExecutionFeed(b, seed=5, start_ns=T0).append(4)
    since = ExecutionFeed(b, seed=6, start_ns=T1).append(3)
    late = ExecutionFeed(b, seed=7, start_ns=T0 + 60 * S).append(2)
    return before, since, late


async def reports_of(b: Bridge, client_id: str, count: int) -> list[Any]:
    client = RawClient(client_id, BRIDGE)
    await client.connect(port_of(b))
    client.logon()
    await client.read_until(lambda box: len(client.of_type("8")) >= count)
    reports = client.of_type("8")
    client.send("5")
    await client.closed_by_peer()
    return reports


def test_a_session_added_later_starts_from_its_instant(tmp_path: Path) -> None:
    async def conversation() -> None:
        async with bridge(tmp_path, [session("a", "CLIENT_A")]) as b:
            before, since, late = journal_history(b)
        later = [
            session("a", "CLIENT_A"),
            session("b", "CLIENT_B", start_from=rfc3339(T1)),
            session("c", "CLIENT_C", start_from=rfc3339(T0 - S)),
            session("d", "CLIENT_D", start_from=rfc3339(T1 + 86400 * S)),
            session("e", "CLIENT_E"),
        ]
        async with bridge(tmp_path, later) as b:
            assert b.journal is not None
            head = b.journal.head_offset()
            # b: from the first event at or after T1, in journal order: "late" included.
            reports = await reports_of(b, "CLIENT_B", len(since + late))
            assert [m.get(17) for m in reports] == since + late
            assert [m.get(34) for m in reports] == [str(n) for n in range(2, 7)]  # Logon 1
            assert all(m.get(97) is None and m.get(43) is None for m in reports)
            # c: an instant before every event: everything journaled.
            reports = await reports_of(b, "CLIENT_C", len(before + since + late))
            assert [m.get(17) for m in reports] == before + since + late
            # d (after every event) and e (the default, "head"): nothing journaled before.
            for name in ("d", "e"):
                record = b.journal.load_session(name)
                assert (record.cursor_offset, record.origin_offset) == (head, head)
            fresh = ExecutionFeed(b, seed=8).append(2)
            assert [m.get(17) for m in await reports_of(b, "CLIENT_D", 2)] == fresh
            known = b.journal.load_session("b")
        # The instant only places a new session: known now, it is not moved again.
        again = [session("b", "CLIENT_B", start_from=rfc3339(T0 - S))]
        async with bridge(tmp_path, again) as b:
            assert b.journal is not None
            assert b.journal.load_session("b") == known

    run(conversation)


def test_a_replay_sends_the_events_from_the_instant_again_as_new_possresend_messages(
    tmp_path: Path,
) -> None:
    async def conversation() -> None:
        sessions = [session("a", "CLIENT_A")]
        async with bridge(tmp_path, sessions, admin_token_file=token_file(tmp_path)) as b:
            assert b.journal is not None
            call = lambda *a, **k: asyncio.to_thread(post, b, *a, **k)  # noqa: E731
            before, since, late = journal_history(b)
            client = RawClient("CLIENT_A", BRIDGE)
            await client.connect(port_of(b))
            client.logon()
            everything = before + since + late
            await client.read_until(lambda box: len(client.of_type("8")) == len(everything))
            first = client.of_type("8")
            assert [m.get(17) for m in first] == everything
            assert [m.get(34) for m in first] == [str(n) for n in range(2, 11)]

            status, text = await call("/sessions/a/replay", body=rfc3339(T1))
            assert status == 200 and "replaying" in text, text
            wanted = len(everything) + len(since + late)
            await client.read_until(lambda box: len(client.of_type("8")) == wanted)
            again = client.of_type("8")[len(everything) :]
            assert [m.get(17) for m in again] == since + late
            assert [m.get(34) for m in again] == [str(n) for n in range(11, 16)]  # new numbers
            assert [(m.get(97), m.get(43)) for m in again] == [("Y", None)] * 5

            # An event made after the replay goes out as usual, unmarked.
            horizon = b.journal.load_session("a").possibly_sent_before_ns
            fresh = ExecutionFeed(b, seed=8, start_ns=horizon).append(1)
            await client.read_until(lambda box: len(client.of_type("8")) == wanted + 1)
            last = client.of_type("8")[-1]
            assert (last.get(17), last.get(97), last.get(34)) == (fresh[0], None, "16")

            # Never forward: nothing delivered from an instant after the last event.
            status, text = await call("/sessions/a/replay", body=rfc3339(horizon + 3600 * S))
            assert status == 409 and "only moves the cursor back" in text, text
            status, text = await call("/sessions/a/replay", body="2026-11-21T09:30:00")
            assert status == 400 and "time zone" in text, text
            status, _ = await call("/sessions/nobody/replay", body=rfc3339(T1))
            assert status == 404
            assert count(b, "replay", "done") == 1 and count(b, "replay", "refused") == 3
            client.send("5")
            await client.closed_by_peer()

            # Logged out: the next Logon receives the replay, under the numbers that follow.
            status, text = await call("/sessions/a/replay", body=rfc3339(T1))
            assert status == 200, text
            back = RawClient("CLIENT_A", BRIDGE)
            back.seq = client.seq
            await back.connect(port_of(b))
            back.logon()
            await back.read_until(lambda box: len(back.of_type("8")) == 6)
            reports = back.of_type("8")
            assert [m.get(17) for m in reports] == since + late + fresh
            # Made before this replay, the fresh one too: all marked.
            assert [(m.get(97), m.get(43)) for m in reports] == [("Y", None)] * 6
            assert [m.get(34) for m in reports] == [str(n) for n in range(19, 25)]  # 17 Logout
            back.close()

    run(conversation)


def test_the_replay_command_needs_an_instant_with_a_time_zone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for since in ([], ["--since", "2026-11-21T09:30:00"], ["--since", "yesterday"]):
        assert main(["admin", "replay", "a", *since]) == 2
        assert "admin replay needs --since, an RFC 3339 instant" in capsys.readouterr().err


def test_a_replay_stored_while_a_batch_renders_is_not_undone_by_that_batch(
    tmp_path: Path,
) -> None:
    """The race of a replay of a logged-out session with a Logon binding at the same moment:
    the new pump has read the cursor from before the replay. Its first batch finds the stored
    cursor moved, stores nothing, and the session reads the journal again: the replay goes
    out, then the new event, and the stored cursor ends past both."""

    async def conversation() -> None:
        async with bridge(tmp_path, [session("a", "CLIENT_A")]) as b:
            assert b.journal is not None
            before, since, late = journal_history(b)
            everything = before + since + late
            client = RawClient("CLIENT_A", BRIDGE)
            await client.connect(port_of(b))
            client.logon()
            await client.read_until(lambda box: len(client.of_type("8")) == len(everything))
            # Stored behind the acceptor's back, as a replay that raced the Logon's first read.
            offset = b.journal.offset_before(T1)
            await b.journal.replay_from_async("a", offset, T1 + 7200 * S)
            fresh = ExecutionFeed(b, seed=8, start_ns=T1 + 10800 * S).append(1)
            wanted = len(everything) + len(since + late) + 1
            await client.read_until(lambda box: len(client.of_type("8")) == wanted)
            again = client.of_type("8")[len(everything) :]
            assert [m.get(17) for m in again] == since + late + fresh
            assert [m.get(97) for m in again] == ["Y"] * len(since + late) + [None]
            numbers = [int(m.get(34)) for m in client.of_type("8")]
            assert numbers == list(range(2, 2 + wanted))  # no number lost or used twice
            assert b.journal.load_session("a").cursor_offset == b.journal.head_offset()
            client.send("5")
            await client.closed_by_peer()

    run(conversation)
