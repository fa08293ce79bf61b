"""Self-test of the QuickFIX harness, with no fixbridge involved.

What this module is for
-----------------------
It proves that ``qfharness.QuickFixClient`` (the real QuickFIX initiator used to judge
fixbridge) logs on, receives valid FIX 5.0 SP2 ExecutionReports, rejects invalid ones with a
session Reject that the harness exposes, keeps its sequence numbers across a restart, and
stops cleanly. The counterparty is a scripted acceptor built with simplefix inside the test
process, so a failure here is a harness (or environment)
problem, never a fixbridge one.

What it must never do
---------------------
- Never import fixbridge or depend on its acceptor: the harness must be trusted before it is
  pointed at fixbridge.
- Never loosen QuickFIX validation on either side to make a message pass.
"""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import simplefix

from tests.integration.qfharness import (
    FixMessage,
    QuickFixClient,
    free_tcp_port,
    quickfix_spec_dir,
)

if importlib.util.find_spec("quickfix") is None:
    pytest.skip("needs the QuickFIX Python binding (quickfix==1.16.0)", allow_module_level=True)

pytestmark = pytest.mark.integration

ACCEPTOR_COMP_ID = "FIXBRIDGE"
CLIENT_COMP_ID = "BACKOFFICE"


@dataclass
class Outgoing:
    """An application message for the scripted acceptor to send: body and extra header."""

    body: list[tuple[int, str]]
    header: list[tuple[int, str]] = field(default_factory=list)


def _pairs_text(message: simplefix.FixMessage) -> str:
    return "|".join(f"{int(t)}={v.decode()}" for t, v in message.pairs) + "|"


class ScriptedAcceptor:
    """A minimal FIXT.1.1 acceptor in a thread, written with simplefix (not fixbridge, and not
    QuickFIX, whose in-process engine can crash the test process when it stops). It answers
    Logon, TestRequest and Logout, records everything it receives, and sends what the test
    asks with consecutive MsgSeqNums that survive the client's reconnects."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = int(self._server.getsockname()[1])
        self.lock = threading.Lock()
        self.logons = 0
        self.received: list[str] = []
        self._conn: socket.socket | None = None
        self._seq = 1
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._serve(conn)

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        parser = simplefix.FixParser()
        with self.lock:
            self._conn = conn
        try:
            while not self._stopping.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                parser.append_buffer(data)
                while (message := parser.get_message()) is not None:
                    if self._handle(message):
                        return
        finally:
            with self.lock:
                self._conn = None
            conn.close()

    def _handle(self, message: simplefix.FixMessage) -> bool:
        msg_type = message.get(35).decode()
        with self.lock:
            self.received.append(_pairs_text(message))
            if msg_type == "A":
                self.logons += 1
        if msg_type == "A":
            heartbeat = message.get(108).decode()
            self._send("A", [(98, "0"), (108, heartbeat), (1137, "9")])
        elif msg_type == "1":
            self._send("0", [(112, message.get(112).decode())])
        elif msg_type == "5":
            self._send("5", [])
            return True
        return False

    def _send(
        self, msg_type: str, body: Sequence[tuple[int, str]], header: Sequence[tuple[int, str]] = ()
    ) -> None:
        with self.lock:
            if self._conn is None:
                raise AssertionError("acceptor has no connected client")
            message = simplefix.FixMessage()
            message.append_pair(8, "FIXT.1.1")
            message.append_pair(35, msg_type)
            message.append_pair(49, ACCEPTOR_COMP_ID)
            message.append_pair(56, CLIENT_COMP_ID)
            message.append_pair(34, str(self._seq))
            message.append_utc_timestamp(52, precision=3)
            for tag, value in (*header, *body):
                message.append_pair(tag, value)
            self._conn.sendall(message.encode())
            self._seq += 1

    def send(self, outgoing: Outgoing) -> None:
        self._send("8", outgoing.body, outgoing.header)

    def received_messages(self) -> list[FixMessage]:
        with self.lock:
            return [FixMessage.parse(raw) for raw in self.received]

    def wait_for_logons(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.logons >= count:
                    return
            time.sleep(0.02)
        raise AssertionError(f"acceptor saw {self.logons} logons, expected {count}")

    def close(self) -> None:
        self._stopping.set()
        self._server.close()
        self._thread.join(5)


def execution_report(
    n: int,
    *,
    extra: Sequence[tuple[int, str]] = (),
    exec_type: str = "F",
    header: Sequence[tuple[int, str]] = (),
) -> Outgoing:
    """A valid FIX 5.0 SP2 ExecutionReport (a fill) with a Parties group; ``extra`` fields are
    added verbatim (which is how the invalid variants are made)."""
    body: list[tuple[int, str]] = [
        (37, f"ORD-{n}"),
        (17, f"EXEC-{n}"),
        (150, exec_type),
        (39, "2"),
        (54, "1"),
        (55, "WILL-IT-RAIN"),
        (48, "0xabc123"),
        (22, "8"),
        (38, "10"),
        (32, "10"),
        (31, "0.55"),
        (151, "0"),
        (14, "10"),
        (6, "0.55"),
        (60, "20260101-12:00:00.000"),
        *extra,
        (453, "1"),
        (448, "ACCT-1"),
        (447, "D"),
        (452, "24"),
    ]
    return Outgoing(body, list(header))


@pytest.fixture(scope="module")
def spec_dir() -> Path:
    return quickfix_spec_dir()


@pytest.fixture
def acceptor() -> Iterator[ScriptedAcceptor]:
    scripted = ScriptedAcceptor()
    try:
        yield scripted
    finally:
        scripted.close()


@pytest.fixture
def client(tmp_path: Path, acceptor: ScriptedAcceptor, spec_dir: Path) -> Iterator[QuickFixClient]:
    quickfix_client = QuickFixClient(
        port=acceptor.port,
        sender=CLIENT_COMP_ID,
        target=ACCEPTOR_COMP_ID,
        workdir=tmp_path / "client",
        spec_dir=spec_dir,
    )
    try:
        yield quickfix_client
    finally:
        quickfix_client.stop()


def test_spec_dir_holds_the_stock_dictionaries(spec_dir: Path) -> None:
    transport = ET.parse(spec_dir / "FIXT11.xml").getroot()
    application = ET.parse(spec_dir / "FIX50SP2.xml").getroot()
    assert (transport.get("type"), transport.get("major"), transport.get("minor")) == (
        "FIXT",
        "1",
        "1",
    )
    assert (application.get("major"), application.get("servicepack")) == ("5", "2")
    assert any(m.get("msgtype") == "8" for m in application.iter("message"))
    assert quickfix_spec_dir() == spec_dir  # already cached: returns without fetching


def test_fix_message_parsing() -> None:
    message = FixMessage.parse(
        "8=FIXT.1.1|9=50|35=8|34=7|43=Y|453=2|448=A|447=D|452=1|448=B|447=D|452=3|10=000|"
    )
    assert (message.msg_type, message.seq_num, message.poss_dup) == ("8", 7, True)
    assert message[448] == "A" and message.get_all(448) == ["A", "B"]
    assert 9999 not in message and message.get(9999) is None
    assert message.group(453, 448, (447, 452)) == [
        [(448, "A"), (447, "D"), (452, "1")],
        [(448, "B"), (447, "D"), (452, "3")],
    ]
    assert message.group(453, 448) == message.group(453, 448, iter((447, 452)))
    assert message.group(454, 455) == []


def test_valid_reports_arrive_and_invalid_ones_are_rejected(
    acceptor: ScriptedAcceptor, client: QuickFixClient
) -> None:
    client.start()
    client.wait_for_logon(timeout=15)
    acceptor.wait_for_logons(1)
    logon = client.logons(current_run=True)[-1]
    assert logon.get(1137) == "9"  # DefaultApplVerID FIX.5.0SP2

    for n in range(3):
        acceptor.send(execution_report(n))
    acceptor.send(execution_report(100, extra=[(9999, "not-in-the-dictionary")]))
    acceptor.send(execution_report(101, exec_type="Z"))  # not a valid ExecType enum
    acceptor.send(execution_report(3))

    client.wait_for_app(4, timeout=10)
    reports = client.app_messages()
    assert [m.get(17) for m in reports] == ["EXEC-0", "EXEC-1", "EXEC-2", "EXEC-3"]
    assert all(m.msg_type == "8" and m.get(1128) in (None, "9") for m in reports)
    assert reports[0].group(453, 448, (447, 452)) == [[(448, "ACCT-1"), (447, "D"), (452, "24")]]

    client.wait_for(lambda: len(client.rejects_sent()) >= 2, 10, "two session rejects")
    rejects = client.rejects_sent()
    assert [(r.msg_type, r.get(372), r.get(371), r.get(373)) for r in rejects] == [
        ("3", "8", "9999", "0"),  # Invalid tag number
        ("3", "8", "150", "5"),  # Value is incorrect (out of range) for this tag
    ]
    assert client.rejects_received() == []

    client.wait_for(
        lambda: all(raw for _r, raw in client.rejected_inbound()),
        5,
        "the rejected messages in the wire log",
    )
    offending = [raw for _reject, raw in client.rejected_inbound()]
    assert [m.get(17) if m else None for m in offending] == ["EXEC-100", "EXEC-101"]
    assert offending[0] is not None and offending[0].get(9999) == "not-in-the-dictionary"
    assert "Rejected" in client.event_log_text()
    assert any("Invalid tag number:9999" in text for text in client.session_events())

    # The counterparty really received the rejects (not just our record of sending them).
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if sum(m.msg_type == "3" for m in acceptor.received_messages()) >= 2:
            break
        time.sleep(0.05)
    assert sum(m.msg_type == "3" for m in acceptor.received_messages()) == 2

    assert client.unvalidated_app_messages() == []
    # QuickFIX caveat the harness exposes: with an ApplVerID whose dictionary is not loaded
    # (1128=8, FIX.5.0SP1) the body is not validated, so even tag 9999 gets through.
    acceptor.send(execution_report(102, extra=[(9999, "unchecked")], header=[(1128, "8")]))
    client.wait_for_app(5)
    assert [m.get(17) for m in client.unvalidated_app_messages()] == ["EXEC-102"]
    assert len(client.rejects_sent()) == 2

    with pytest.raises(AssertionError, match="QuickFIX event log"):
        client.wait_for_app(99, timeout=0.3)

    assert client.stop() == 0
    kinds = [record["event"] for record in client.events()]
    assert kinds[0] == "process_start" and kinds[-1] == "process_exit"
    assert "callback_error" not in kinds


def test_restart_keeps_sequence_numbers(acceptor: ScriptedAcceptor, client: QuickFixClient) -> None:
    client.start()
    client.wait_for_logon(timeout=15)
    acceptor.send(execution_report(0))
    acceptor.send(execution_report(1))
    client.wait_for_app(2)
    first_run_seqs = [m.seq_num for m in client.app_messages()]

    assert client.stop() == 0
    stored = client.stored_seq_nums()
    assert stored is not None and stored[0] > 1 and stored[1] > 1

    client.start()
    client.wait_for_logon(timeout=15)
    acceptor.wait_for_logons(2)
    second_logon = client.logons(current_run=True)[0]
    assert second_logon.seq_num == stored[0] and second_logon.seq_num > 1
    assert second_logon.get(141) in (None, "N")  # no sequence reset

    acceptor.send(execution_report(2))
    client.wait_for_app(1, current_run=True)
    client.wait_for_app(3)  # counts span both runs by default
    acceptor.send(execution_report(2))  # a duplicate ExecID is counted once with unique_tag
    client.wait_for_app(4)
    client.wait_for_app(3, timeout=0.5, unique_tag=17)
    with pytest.raises(AssertionError, match="distinct values of tag 17"):
        client.wait_for_app(4, timeout=0.3, unique_tag=17)
    later = client.app_messages(current_run=True)[0]
    assert later.seq_num is not None and later.seq_num > max(s or 0 for s in first_run_seqs)
    assert client.rejects_sent() == []
    assert client.stop() == 0


def test_stop_after_app_exits_cleanly(
    acceptor: ScriptedAcceptor, tmp_path: Path, spec_dir: Path
) -> None:
    limited = QuickFixClient(
        port=acceptor.port,
        sender=CLIENT_COMP_ID,
        target=ACCEPTOR_COMP_ID,
        workdir=tmp_path / "limited",
        spec_dir=spec_dir,
        stop_after_app=2,
        heartbeat=5,
    )
    with limited:
        limited.wait_for_logon(timeout=15)
        acceptor.send(execution_report(0))
        acceptor.send(execution_report(1))
        assert limited.wait_for_exit(timeout=15) == 0
    assert len(limited.app_messages()) == 2
    stopping = [r for r in limited.events() if r["event"] == "stopping"]
    assert stopping and stopping[-1]["reason"] == "stop-after-app 2"


def test_a_client_that_dies_fails_the_wait_with_its_output(tmp_path: Path) -> None:
    broken = QuickFixClient(
        port=free_tcp_port(),
        sender=CLIENT_COMP_ID,
        target=ACCEPTOR_COMP_ID,
        workdir=tmp_path / "broken",
        spec_dir=tmp_path / "no-dictionaries-here",
    )
    with broken, pytest.raises(AssertionError) as failure:
        broken.wait_for_logon(timeout=15)
    message = str(failure.value)
    assert "exited (code 2)" in message
    assert "missing data dictionaries" in message  # the client's stderr tail is included
    assert broken.returncode == 2
