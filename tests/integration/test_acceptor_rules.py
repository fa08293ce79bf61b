"""Acceptance rules of the FIX acceptor over real TCP and TLS, against the in-process bridge.

Each test plays one conversation with a scripted client (``RawClient``) that answers nothing
on its own, so silence, wrong credentials and half-open sockets can be acted out.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from fixbridge.app import Bridge
from fixbridge.fix import acceptor as acceptor_module
from fixbridge.fix import session as session_module
from fixbridge.fix.acceptor import STORAGE_LOGOUT_TEXT
from fixbridge.fix.codec import FixMessage
from fixbridge.fix.credentials import hash_password, verify_password
from tests.integration.inprocess import ExecutionFeed, bridge, journal_executions, port_of
from tests.integration.rawfix import RawClient
from tests.pki import Pki, client_context, make_pki

pytestmark = pytest.mark.integration

BRIDGE = "FIXBRIDGE"


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout=30))


def session(name: str, client: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "sender_comp_id": BRIDGE, "target_comp_id": client, **extra}


def test_logon_then_backlog_then_resend_of_everything(tmp_path: Path) -> None:
    async def conversation() -> None:
        async with bridge(tmp_path, [session("a", "CLIENT_A")]) as b:
            ids = journal_executions(b, 30)
            client = RawClient("CLIENT_A", BRIDGE)
            await client.connect(port_of(b))
            client.logon()
            await client.read_until(lambda box: len([m for m in box if m.msg_type == "8"]) == 30)
            assert [m.get(17) for m in client.of_type("8")] == ids
            client.inbox.clear()
            client.send("2", (7, "1"), (16, "0"))
            inbox = await client.read_until(lambda box: any(m.get(34) == "31" for m in box))
            fill, *replayed = inbox
            assert (fill.msg_type, fill.get(34), fill.get(123), fill.get(36)) == (
                "4",
                "1",
                "Y",
                "2",
            )
            assert [m.get(17) for m in replayed] == ids
            assert all(m.get(43) == "Y" and m.get(122) for m in inbox)
            client.close()

    run(conversation)


def test_second_logon_is_refused_at_once_and_the_live_one_answering_keeps_it(
    tmp_path: Path,
) -> None:
    async def conversation() -> None:
        async with bridge(tmp_path, [session("a", "CLIENT_A")], half_open_probe_s=1.0) as b:
            first, second = RawClient("CLIENT_A", BRIDGE), RawClient("CLIENT_A", BRIDGE)
            await first.connect(port_of(b))
            first.logon()
            await first.read_until(lambda box: bool(box))
            await second.connect(port_of(b))
            second.logon()
            assert await second.closed_by_peer(timeout=0.5)  # refused without waiting
            assert second.inbox == []
            (probe,) = [m for m in await first.read_until(lambda box: len(box) == 2)][1:]
            assert probe.msg_type == "1"
            first.send("0", (112, probe.get(112) or ""))
            assert not await first.closed_by_peer(timeout=1.5)  # answered: it keeps the session
            first.close()

    run(conversation)


def test_half_open_connection_is_dropped_by_the_probe_and_the_next_logon_binds(
    tmp_path: Path,
) -> None:
    async def conversation() -> None:
        async with bridge(tmp_path, [session("a", "CLIENT_A")], half_open_probe_s=0.5) as b:
            silent, early = RawClient("CLIENT_A", BRIDGE), RawClient("CLIENT_A", BRIDGE)
            await silent.connect(port_of(b))
            silent.logon()
            await silent.read_until(lambda box: bool(box))
            await early.connect(port_of(b))
            early.seq = 2  # the same client, back after its old socket went silent
            early.logon()
            assert await early.closed_by_peer(timeout=0.5)
            assert await silent.closed_by_peer(timeout=3)  # no answer to the probe: dropped
            fresh = RawClient("CLIENT_A", BRIDGE)
            fresh.seq = 2
            await fresh.connect(port_of(b))
            fresh.logon()
            inbox = await fresh.read_until(lambda box: bool(box))
            (logon,) = [m for m in inbox if m.msg_type == "A"]
            assert logon.get(34) == "3"  # Logon 1, the probe's TestRequest 2
            fresh.close()

    run(conversation)


def test_wrong_password_is_logged_out_and_right_one_logs_on_after_the_back_off(
    tmp_path: Path,
) -> None:
    secured = session("a", "CLIENT_A", username="ops", password_hash=hash_password("s3cret"))
    quick = {"backoff_initial_s": 0.5, "backoff_max_s": 0.5}

    async def conversation() -> None:
        async with bridge(tmp_path, [secured], source_throttle=quick, session_throttle=quick) as b:
            bad = RawClient("CLIENT_A", BRIDGE)
            await bad.connect(port_of(b))
            bad.logon((553, "ops"), (554, "wrong"), reset=True)
            assert await bad.closed_by_peer()
            (logout,) = bad.of_type("5")
            assert logout.get(58) == "invalid Username(553) or Password(554)"
            at_once = RawClient("CLIENT_A", BRIDGE)  # within the back-off: refused unread
            await at_once.connect(port_of(b))
            at_once.logon((553, "ops"), (554, "s3cret"), reset=True)
            assert await at_once.closed_by_peer()
            assert at_once.inbox == []
            await asyncio.sleep(0.5)
            good = RawClient("CLIENT_A", BRIDGE)
            await good.connect(port_of(b))
            good.logon((553, "ops"), (554, "s3cret"), reset=True)
            await good.read_until(lambda box: any(m.msg_type == "A" for m in box))
            good.close()

    run(conversation)


def test_passwords_are_checked_off_the_event_loop_at_every_logon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """scrypt takes tens of milliseconds: the first Logon's and a reset Logon's checks run in a
    worker thread, and the session never checks a password on the event loop itself."""
    secured = session("a", "CLIENT_A", username="ops", password_hash=hash_password("s3cret"))
    threads: list[threading.Thread] = []

    def recording(password: str, encoded: str) -> bool:
        threads.append(threading.current_thread())
        return verify_password(password, encoded)

    def forbidden(password: str, encoded: str) -> bool:
        raise AssertionError("scrypt on the event loop")

    monkeypatch.setattr(acceptor_module, "verify_password", recording)
    monkeypatch.setattr(session_module, "verify_password", forbidden)

    async def conversation() -> None:
        async with bridge(tmp_path, [secured]) as b:
            client = RawClient("CLIENT_A", BRIDGE)
            await client.connect(port_of(b))
            client.logon((553, "ops"), (554, "s3cret"), reset=True)
            await client.read_until(lambda box: any(m.msg_type == "A" for m in box))
            client.seq = 1  # a sequence reset inside the session, with a wrong password
            client.logon((553, "ops"), (554, "wrong"), reset=True)
            assert await client.closed_by_peer()
            assert client.of_type("5")[-1].get(58) == "invalid Username(553) or Password(554)"
            loop_thread = threading.current_thread()
            assert len(threads) == 2 and loop_thread not in threads

    run(conversation)


def test_address_outside_the_allowlist_is_refused(tmp_path: Path) -> None:
    async def conversation() -> None:
        async with bridge(tmp_path, [session("a", "CLIENT_A", allowed_ips=["10.0.0.0/8"])]) as b:
            client = RawClient("CLIENT_A", BRIDGE)
            await client.connect(port_of(b))
            client.logon()
            assert await client.closed_by_peer()
            assert client.inbox == []

    run(conversation)


def test_unknown_comp_ids_are_refused(tmp_path: Path) -> None:
    async def conversation() -> None:
        async with bridge(tmp_path, [session("a", "CLIENT_A")]) as b:
            client = RawClient("STRANGER", BRIDGE)
            await client.connect(port_of(b))
            client.logon()
            assert await client.closed_by_peer()
            assert client.inbox == []

    run(conversation)


def test_read_only_application_message_is_business_rejected(tmp_path: Path) -> None:
    async def conversation() -> None:
        async with bridge(tmp_path, [session("a", "CLIENT_A")]) as b:
            client = RawClient("CLIENT_A", BRIDGE)
            await client.connect(port_of(b))
            client.logon()
            client.send("D", (11, "ORDER-1"), (55, "x"), (54, "1"))
            inbox = await client.read_until(lambda box: any(m.msg_type == "j" for m in box))
            (bmr,) = [m for m in inbox if m.msg_type == "j"]
            assert (bmr.get(372), bmr.get(380), bmr.get(45)) == ("D", "3", "2")
            client.close()

    run(conversation)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_tls_with_client_certificates_per_session(tmp_path: Path, pki: Pki) -> None:
    tls = {"cert_file": str(pki.server.cert), "key_file": str(pki.server.key),
           "client_ca_file": str(pki.ca)}  # fmt: skip
    sessions = [
        session(
            "mtls", "CLIENT_A", tls={"require_client_cert": True, "allowed_subjects": ["client-a"]}
        ),
        session("plain", "CLIENT_B"),
    ]

    async def conversation() -> None:
        async with bridge(tmp_path, sessions, tls=tls) as b:
            ok = RawClient("CLIENT_A", BRIDGE)
            await ok.connect(port_of(b), tls=client_context(pki, pki.client_a))
            ok.logon()
            await ok.read_until(lambda box: any(m.msg_type == "A" for m in box))
            ok.close()
            for identity in (pki.client_b, None):
                refused = RawClient("CLIENT_A", BRIDGE)
                await refused.connect(port_of(b), tls=client_context(pki, identity))
                refused.logon()
                assert await refused.closed_by_peer()
                assert refused.of_type("A") == []
            no_cert_needed = RawClient("CLIENT_B", BRIDGE)
            await no_cert_needed.connect(port_of(b), tls=client_context(pki, None))
            no_cert_needed.logon()
            await no_cert_needed.read_until(lambda box: any(m.msg_type == "A" for m in box))
            no_cert_needed.close()
            plain = RawClient("CLIENT_B", BRIDGE)
            with pytest.raises((ConnectionError, TimeoutError, OSError)):
                await plain.connect(port_of(b))
                plain.logon()
                await plain.read_until(lambda box: bool(box), timeout=2)

    run(conversation)


class FakeClock:
    """Real time plus an offset the test moves forward: schedule boundaries on demand."""

    def __init__(self) -> None:
        self.offset_ns = 0

    def __call__(self) -> int:
        return time.time_ns() + self.offset_ns

    def advance(self, seconds: float) -> None:
        self.offset_ns += int(seconds * 1_000_000_000)


def _window_around_now() -> dict[str, str]:
    """A daily UTC window from one hour ago to one hour ahead (it may cross midnight)."""
    now = time.gmtime()
    start = f"{(now.tm_hour - 1) % 24:02d}:{now.tm_min:02d}:00"
    end = f"{(now.tm_hour + 1) % 24:02d}:{now.tm_min:02d}:00"
    return {"timezone": "UTC", "start_time": start, "end_time": end}


def test_schedule_window_end_logs_out_resets_and_refuses_until_the_next_window(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    scheduled = session("a", "CLIENT_A", schedule=_window_around_now())

    async def logged_on_client(b: Bridge) -> RawClient:
        client = RawClient("CLIENT_A", BRIDGE, clock)
        await client.connect(port_of(b))
        client.logon()
        await client.read_until(lambda box: any(m.msg_type == "A" for m in box))
        return client

    async def conversation() -> None:
        async with bridge(tmp_path, [scheduled], clock=clock) as b:
            first = await logged_on_client(b)
            clock.advance(2 * 3600)  # past the window's end
            inbox = await first.read_until(lambda box: any(m.msg_type == "5" for m in box))
            assert [m.get(58) for m in inbox if m.msg_type == "5"] == ["end of session window"]
            first.send("5")
            assert await first.closed_by_peer()
            outside = RawClient("CLIENT_A", BRIDGE, clock)
            await outside.connect(port_of(b))
            outside.logon()
            assert await outside.closed_by_peer() and outside.inbox == []
            clock.advance(22 * 3600)  # the same window, the next day
            second = await logged_on_client(b)
            assert second.of_type("A")[0].get(34) == "1"  # a new session: numbers reset
            second.close()

    run(conversation)


def test_restart_across_a_window_boundary_resets_at_logon(tmp_path: Path) -> None:
    clock = FakeClock()
    scheduled = session("a", "CLIENT_A", schedule=_window_around_now())

    async def conversation() -> None:
        async with bridge(tmp_path, [scheduled], clock=clock) as b:
            client = RawClient("CLIENT_A", BRIDGE, clock)
            await client.connect(port_of(b))
            client.logon()
            client.send("1", (112, "T"))
            await client.read_until(lambda box: any(m.msg_type == "0" for m in box))
            client.close()
        clock.advance(24 * 3600)  # the bridge was down across the boundary
        async with bridge(tmp_path, [scheduled], clock=clock) as b:
            client = RawClient("CLIENT_A", BRIDGE, clock)
            await client.connect(port_of(b))
            client.logon()
            inbox = await client.read_until(lambda box: any(m.msg_type == "A" for m in box))
            assert inbox[0].get(34) == "1"
        async with bridge(tmp_path, [scheduled], clock=clock) as b:  # same window: no reset
            client = RawClient("CLIENT_A", BRIDGE, clock)
            client.seq = 2
            await client.connect(port_of(b))
            client.logon()
            inbox = await client.read_until(lambda box: any(m.msg_type == "A" for m in box))
            assert inbox[0].get(34) == "3"  # Logon 1, shutdown Logout 2: numbers kept

    run(conversation)


def test_garbled_frame_is_ignored_and_the_session_goes_on(tmp_path: Path) -> None:
    async def conversation() -> None:
        async with bridge(tmp_path, [session("a", "CLIENT_A")]) as b:
            client = RawClient("CLIENT_A", BRIDGE)
            await client.connect(port_of(b))
            client.logon()
            await client.read_until(lambda box: bool(box))
            client.write_raw(b"8=FIXT.1.1\x019=5\x0135=0\x0110=000\x01")  # wrong length and sum
            client.send("1", (112, "STILL-THERE"))
            inbox = await client.read_until(lambda box: any(m.get(112) for m in box))
            assert [m.get(112) for m in inbox if m.msg_type == "0"] == ["STILL-THERE"]
            client.close()

    run(conversation)


def test_oversize_message_disconnects(tmp_path: Path) -> None:
    async def conversation() -> None:
        async with bridge(tmp_path, [session("a", "CLIENT_A")], max_message_size=1024) as b:
            client = RawClient("CLIENT_A", BRIDGE)
            await client.connect(port_of(b))
            client.logon()
            await client.read_until(lambda box: bool(box))
            client.send("1", (112, "X" * 5000))
            assert await client.closed_by_peer()

    run(conversation)


def test_no_logon_within_the_timeout_disconnects(tmp_path: Path) -> None:
    async def conversation() -> None:
        async with bridge(tmp_path, [session("a", "CLIENT_A")], logon_timeout_s=0.5) as b:
            client = RawClient("CLIENT_A", BRIDGE)
            await client.connect(port_of(b))
            assert await client.closed_by_peer(timeout=3)
            assert client.inbox == []

    run(conversation)


def test_a_client_that_stops_reading_does_not_hold_back_another_session(tmp_path: Path) -> None:
    async def conversation() -> None:
        sessions = [session("stuck", "STUCK"), session("live", "LIVE")]
        async with bridge(tmp_path, sessions) as b:
            stuck, live = RawClient("STUCK", BRIDGE), RawClient("LIVE", BRIDGE)
            await stuck.connect(port_of(b))
            stuck.logon()
            await stuck.read_until(lambda box: bool(box))  # then never reads again
            await live.connect(port_of(b))
            live.logon()
            ids = journal_executions(b, 30_000)  # ~18 MB: far more than socket buffers hold
            inbox = await live.read_until(
                lambda box: len([m for m in box if m.msg_type == "8"]) == len(ids), timeout=20
            )
            assert [m.get(17) for m in inbox if m.msg_type == "8"] == ids
            assert b.journal is not None
            # The stuck session really is held back (its socket is full), not just slow.
            assert b.journal.load_session("stuck").cursor_offset < b.journal.head_offset()
            stuck.close()
            live.close()

    run(conversation)


# --- scenarios from the session-layer review ------------------------------------------------


def test_a_stuck_client_is_dropped_by_liveness_and_its_session_can_log_on_again(
    tmp_path: Path,
) -> None:
    async def conversation() -> None:
        async with bridge(tmp_path, [session("a", "CLIENT_A")]) as b:
            stuck = RawClient("CLIENT_A", BRIDGE)
            await stuck.connect(port_of(b))
            stuck.logon(hb=1)
            await stuck.read_until(lambda box: bool(box))
            journal_executions(b, 30_000)  # fills its socket: the pump is stuck in drain()
            await asyncio.sleep(4)  # TestRequest after 1.2 s, no answer within 1 s: gone
            back = RawClient("CLIENT_A", BRIDGE)
            back.seq = 2
            await back.connect(port_of(b))
            back.logon()
            await back.read_until(lambda box: any(m.msg_type == "A" for m in box), timeout=10)
            assert b.acceptor is not None and b.acceptor.live_sessions() == ["a"]
            stuck.close()
            back.close()

    # Making 30,000 simulated executions takes seconds of CPU on a loaded machine: a wider
    # guard against a hang than the other conversations'.
    asyncio.run(asyncio.wait_for(conversation(), timeout=120))


def test_two_replacement_logons_at_once_bind_only_one(tmp_path: Path) -> None:
    async def conversation() -> None:
        async with bridge(tmp_path, [session("a", "CLIENT_A")], half_open_probe_s=0.5) as b:
            silent = RawClient("CLIENT_A", BRIDGE)
            await silent.connect(port_of(b))
            silent.logon()
            await silent.read_until(lambda box: bool(box))
            silent.close()  # the socket is gone: the next logons need no probe
            racers = [RawClient("CLIENT_A", BRIDGE), RawClient("CLIENT_A", BRIDGE)]
            for racer in racers:
                racer.seq = 2
                await racer.connect(port_of(b))
            for racer in racers:
                racer.logon()
            await asyncio.sleep(1)
            for racer in racers:
                await racer.closed_by_peer(timeout=0.5)
            logged_on = [r for r in racers if r.of_type("A")]
            assert len(logged_on) == 1
            assert logged_on[0].of_type("A")[0].get(34) == "2"  # Logon 1 was the last number
            for racer in racers:
                racer.close()

    run(conversation)


def test_a_logon_with_a_wrong_password_never_disturbs_the_live_session(tmp_path: Path) -> None:
    secured = session("a", "CLIENT_A", username="ops", password_hash=hash_password("s3cret"))

    async def conversation() -> None:
        async with bridge(tmp_path, [secured], half_open_probe_s=0.5) as b:
            live = RawClient("CLIENT_A", BRIDGE)
            await live.connect(port_of(b))
            live.logon((553, "ops"), (554, "s3cret"))
            await live.read_until(lambda box: bool(box))
            intruder = RawClient("CLIENT_A", BRIDGE)
            await intruder.connect(port_of(b))
            intruder.logon((553, "ops"), (554, "guess"))
            assert await intruder.closed_by_peer()
            assert not await live.closed_by_peer(timeout=1.5)
            assert live.of_type("1") == []  # not even probed
            live.close()

    run(conversation)


def test_no_replayed_message_follows_our_logout_at_shutdown(tmp_path: Path) -> None:
    paced = session("a", "CLIENT_A", resend_rate=300)

    async def conversation() -> None:
        async with bridge(tmp_path, [paced]) as b:
            journal_executions(b, 900)
            client = RawClient("CLIENT_A", BRIDGE)
            await client.connect(port_of(b))
            client.logon()
            await client.read_until(lambda box: len(box) >= 901)
            client.send("2", (7, "1"), (16, "0"))
            await asyncio.sleep(0.5)  # the paced replay is under way
            assert b.acceptor is not None
            stopping = asyncio.create_task(b.acceptor.stop())
            inbox = await client.read_until(lambda box: any(m.msg_type == "5" for m in box))
            client.send("5")
            await stopping
            after_logout = inbox[[m.msg_type for m in inbox].index("5") + 1 :]
            assert [m for m in after_logout if m.get(43) == "Y"] == []
            replayed = [m for m in inbox if m.get(43) == "Y"]
            assert 0 < len(replayed) < 900
            client.close()

    run(conversation)


async def logons_until_closed(b: Bridge, times: int) -> list[list[FixMessage]]:
    """``times`` Logons for session a, one connection after another, each with the client's
    next number, each read until the bridge closes it: what each connection received."""
    inboxes = []
    for attempt in range(times):
        client = RawClient("CLIENT_A", BRIDGE)
        client.seq = 1 + attempt
        await client.connect(port_of(b))
        client.logon()
        assert await client.closed_by_peer()
        inboxes.append(client.inbox)
    return inboxes


def one_traceback(caplog: pytest.LogCaptureFixture, error: str) -> None:
    """The acceptor logged one error line, with the traceback of ``error``, however many
    clients the failure cut off."""
    failures = [
        r for r in caplog.records if r.name == "fixbridge.fix" and r.levelno >= logging.ERROR
    ]
    assert len(failures) == 1, [r.getMessage() for r in failures]
    assert failures[0].exc_info is not None and error in str(failures[0].exc_info[1])


def test_a_full_journal_logs_the_client_out_with_a_text_and_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite's own "database or disk is full" (the journal may not grow): every client the
    failing writes cut off gets a Logout saying why, whose number is stored, so nothing is
    numbered twice once the disk has room again; the log has one traceback, not one per
    client and attempt."""
    caplog.set_level(logging.WARNING, logger="fixbridge.fix")

    async def conversation() -> None:
        async with bridge(tmp_path, [session("a", "CLIENT_A")]) as b:
            ids = journal_executions(b, 30)
            assert b.journal is not None
            writer = b.journal._wdb  # the journal's write connection
            (pages,) = writer.execute("PRAGMA page_count").fetchone()
            writer.execute(f"PRAGMA max_page_count = {pages}")
            numbers: list[int] = []
            for inbox in await logons_until_closed(b, 3):
                assert [(m.msg_type, m.get(58)) for m in inbox] == [
                    ("A", None),
                    ("5", STORAGE_LOGOUT_TEXT),
                ]
                numbers += [int(m.get(34) or 0) for m in inbox]
            writer.execute("PRAGMA max_page_count = 1073741823")  # room again
            client = RawClient("CLIENT_A", BRIDGE)
            client.seq = 4
            await client.connect(port_of(b))
            client.logon()
            await client.read_until(lambda box: len(box) == 31)
            assert [m.get(17) for m in client.of_type("8")] == ids
            numbers += [int(m.get(34) or 0) for m in client.inbox]
            assert numbers == list(range(1, 38))  # none used twice, none skipped
            client.close()

    run(conversation)
    one_traceback(caplog, "database or disk is full")


def test_a_journal_refusing_every_write_closes_without_a_logout_it_could_not_number(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """When not even a Logout's sequence number can be stored, nothing is sent: a number sent
    but not stored would be sent again, on another message, once the journal works."""
    caplog.set_level(logging.WARNING, logger="fixbridge.fix")

    async def conversation() -> None:
        async with bridge(tmp_path, [session("a", "CLIENT_A")]) as b:
            assert b.journal is not None
            writer = b.journal._wdb
            writer.execute("PRAGMA query_only = ON")  # as a disk remounted read-only
            assert await logons_until_closed(b, 3) == [[], [], []]
            writer.execute("PRAGMA query_only = OFF")
            client = RawClient("CLIENT_A", BRIDGE)
            client.seq = 4
            await client.connect(port_of(b))
            client.logon()
            inbox = await client.read_until(lambda box: any(m.msg_type == "2" for m in box))
            logon, request = inbox
            assert (logon.msg_type, logon.get(34)) == ("A", "1")  # the first number sent
            assert (request.get(7), request.get(16)) == ("1", "0")  # the client's gap
            client.close()

    run(conversation)
    one_traceback(caplog, "readonly database")


def test_connections_that_never_log_on_are_logged_once_per_address_and_interval(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fixbridge.fix")

    async def conversation() -> None:
        async with bridge(
            tmp_path, [session("a", "CLIENT_A")], unauthenticated_log_interval_s=0.5
        ) as b:
            for _ in range(5):
                garbled = RawClient("CLIENT_A", BRIDGE)
                await garbled.connect(port_of(b))
                garbled.write_raw(b"8=FIXT.1.1\x019=5\x0135=A\x0110=000\x01")
                assert await garbled.closed_by_peer()
            await asyncio.sleep(1.5)  # the interval has passed: the count left out is said
            stranger = RawClient("STRANGER", BRIDGE)
            await stranger.connect(port_of(b))
            stranger.logon()
            assert await stranger.closed_by_peer()
            registry = b.metrics.registry
            causes = {
                cause: registry.get_sample_value(
                    "fixbridge_unauthenticated_connections_total", {"cause": cause}
                )
                for cause in ("garbled", "refused", "logon_timeout")
            }
            assert causes == {"garbled": 5, "refused": 1, "logon_timeout": 0}

    run(conversation)
    lines = [
        r.getMessage() for r in caplog.records
        if r.name == "fixbridge.fix" and r.levelno >= logging.WARNING
    ]  # fmt: skip
    assert len(lines) == 3, lines
    first, owed, stranger = lines
    assert first.endswith("first message garbled, oversize or incomplete")
    assert owed == "4 more connections from 127.0.0.1 ended without logging on (lines left out)"
    assert "unknown CompID pair" in stranger and "more from" not in stranger


def test_a_resend_request_for_numbers_never_sent_moves_nothing_and_789_then_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A ResendRequest from beyond our next number states no number the client holds: Logout
    naming it, CRITICAL, counted, numbers unchanged. The client's next Logon states what it
    expects (789): refused as FIXT.1.1 requires, our numbers move there, and the Logon after
    binds with our Logon numbered as the client expects; nothing it holds is numbered again."""
    caplog.set_level(logging.INFO, logger="fixbridge.fix")

    async def conversation() -> None:
        async with bridge(tmp_path, [session("a", "CLIENT_A")]) as b:
            assert b.journal is not None
            client = RawClient("CLIENT_A", BRIDGE)
            await client.connect(port_of(b))
            client.logon()
            await client.read_until(lambda box: bool(box))
            client.send("2", (7, "50"), (16, "0"))
            inbox = await client.read_until(lambda box: any(m.msg_type == "5" for m in box))
            assert await client.closed_by_peer()
            (logout,) = [m for m in inbox if m.msg_type == "5"]
            assert logout.get(34) == "2" and "ResendRequest 50..0" in (logout.get(58) or "")
            assert b.journal.load_session("a").next_sender_seq == 3  # Logon 1, Logout 2
            registry = b.metrics.registry
            regressions = registry.get_sample_value(
                "fixbridge_session_sequence_regressions_total", {"session": "a"}
            )
            assert regressions == 1

            second = RawClient("CLIENT_A", BRIDGE)
            second.seq = client.seq
            await second.connect(port_of(b))
            second.logon((789, "50"))
            assert await second.closed_by_peer()
            (refused,) = second.of_type("5")
            assert "NextExpectedMsgSeqNum(789)=50" in (refused.get(58) or "")

            assert refused.get(34) == "50"  # the refusal already takes the number expected

            third = RawClient("CLIENT_A", BRIDGE)
            third.seq = second.seq
            await third.connect(port_of(b))
            third.logon((789, "51"))
            inbox = await third.read_until(lambda box: any(m.msg_type == "A" for m in box))
            (accepted,) = [m for m in inbox if m.msg_type == "A"]
            assert accepted.get(34) == "51" and not [m for m in inbox if m.msg_type == "4"]
            third.close()

    run(conversation)
    critical = [r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL]
    assert any("asks for numbers we never sent" in line for line in critical), critical
    assert any("went backwards" in line for line in critical), critical


def test_after_our_numbers_went_backwards_what_the_exchange_made_before_goes_out_possresend(
    tmp_path: Path,
) -> None:
    """A client holding numbers beyond ours (a journal restored from a backup) may hold events
    we are about to send it again under new numbers. FIX marks such a message PossResend(97)=Y
    ("may contain information that has been sent under another sequence number"): every event
    the exchange made before the regression was found is marked, for good (later Logons
    included); an event made after it (beyond the clock margin) is not."""

    async def conversation() -> None:
        async with bridge(tmp_path, [session("a", "CLIENT_A")]) as b:
            assert b.journal is not None
            older = ExecutionFeed(b).append(3)
            refused = RawClient("CLIENT_A", BRIDGE)
            refused.seq = 10
            await refused.connect(port_of(b))
            found_ns = time.time_ns()
            refused.logon((789, "40"))
            assert await refused.closed_by_peer()
            before_ns = b.journal.load_session("a").possibly_sent_before_ns
            margin = acceptor_module.POSSIBLY_SENT_MARGIN_NS
            assert found_ns + margin <= before_ns <= time.time_ns() + margin
            later = ExecutionFeed(b, seed=6, start_ns=before_ns + 1).append(2)

            client = RawClient("CLIENT_A", BRIDGE)
            client.seq = refused.seq
            await client.connect(port_of(b))
            client.logon((789, "41"))
            await client.read_until(lambda box: len(client.of_type("8")) == 5)
            reports = client.of_type("8")
            assert [m.get(17) for m in reports] == older + later
            assert [m.get(97) for m in reports] == ["Y", "Y", "Y", None, None]
            assert [m.get(34) for m in reports] == [str(n) for n in range(42, 47)]  # Logon 41
            client.send("2", (7, "42"), (16, "44"))  # a replay keeps the mark, adds PossDup
            replayed = await client.read_until(lambda box: len(client.of_type("8")) == 8)
            again = [m for m in replayed if m.msg_type == "8"][5:]
            assert [(m.get(17), m.get(43), m.get(97)) for m in again] == [
                (older[0], "Y", "Y"), (older[1], "Y", "Y"), (older[2], "Y", "Y")
            ]  # fmt: skip
            client.close()

    run(conversation)


def test_a_reset_logon_restarts_the_numbers_but_still_delivers_the_backlog(
    tmp_path: Path,
) -> None:
    """ResetSeqNumFlag=Y restarts both sequences at 1; the events the session has not been
    sent yet are still delivered, none skipped (as the README says)."""

    async def conversation() -> None:
        async with bridge(tmp_path, [session("a", "CLIENT_A")]) as b:
            feed = ExecutionFeed(b)
            first = feed.append(5)
            client = RawClient("CLIENT_A", BRIDGE)
            await client.connect(port_of(b))
            client.logon()
            await client.read_until(lambda box: len(client.of_type("8")) == 5)
            assert [m.get(17) for m in client.of_type("8")] == first
            client.send("5")
            assert await client.closed_by_peer()
            backlog = feed.append(7)  # while the client is away

            again = RawClient("CLIENT_A", BRIDGE)
            await again.connect(port_of(b))
            again.logon(reset=True)
            inbox = await again.read_until(lambda box: len(again.of_type("8")) == 7)
            (logon,) = [m for m in inbox if m.msg_type == "A"]
            assert (logon.get(34), logon.get(141)) == ("1", "Y")
            assert [m.get(17) for m in again.of_type("8")] == backlog
            assert [m.get(34) for m in again.of_type("8")] == [str(n) for n in range(2, 9)]
            again.close()

    run(conversation)
