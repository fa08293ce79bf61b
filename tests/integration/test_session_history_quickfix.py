"""History for a session with real parts: simulator (gRPC, live) -> fixbridge (subprocess) ->
QuickFIX clients validating every message against the stock FIX 5.0 SP2 dictionary.

A session added by SIGHUP with ``start_from`` some time back receives exactly the executions
from that time on, in the order the session that was there all along received them; then
``fixbridge admin replay`` sends a stretch of them again as new messages with PossResend(97)=Y.
The expected ExecIDs come from the other session's messages and their TransactTime(60).
"""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fixbridge.cli import main
from fixbridge.simulator.server import SimulatorThread
from tests.integration.bridge_proc import bridge_for, write_config
from tests.integration.qfharness import FixMessage, QuickFixClient, free_tcp_port
from tests.integration.test_admin import token_file
from tests.integration.test_reload import wait_for_log

pytestmark = pytest.mark.integration

BRIDGE = "FIXBRIDGE"
ALPHA = {"name": "alpha", "sender_comp_id": BRIDGE, "target_comp_id": "BO_ALPHA"}


def transact_ns(message: FixMessage) -> int:
    """TransactTime(60), UTCTimestamp with up to nine fractional digits, as nanoseconds."""
    text = message[60]
    whole, _, fraction = text.partition(".")
    moment = datetime.strptime(whole, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000 + int(fraction.ljust(9, "0"))


def instant(ns: int) -> tuple[str, int]:
    """An RFC 3339 instant at microsecond precision at or before ``ns``, and its value."""
    micros = ns // 1000
    text = datetime.fromtimestamp(micros // 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{micros % 1_000_000:06d}Z", micros * 1000


def first_at_or_after(reports: list[FixMessage], at_ns: int) -> int:
    return next(i for i, m in enumerate(reports) if transact_ns(m) >= at_ns)


def replay_covered(messages: list[FixMessage]) -> bool:
    """The messages marked PossResend(97)=Y, from the first, are as many as the unmarked ones
    before it from the tenth on (the replay's instant is the tenth's time), and five more."""
    marked = next((i for i, m in enumerate(messages) if m.get(97) == "Y"), None)
    return marked is not None and len(messages) - marked >= marked - 10 + 5


def test_a_session_added_later_starts_from_its_instant_and_a_replay_resends_possresend(
    tmp_path: Path, spec_dir: str
) -> None:
    sim = SimulatorThread(seed=43, rate=40, heartbeat_interval=0.5).start()
    admin = {"enabled": True, "port": free_tcp_port(), "token_file": str(token_file(tmp_path))}
    try:
        bridge = bridge_for(tmp_path, sim.port, [ALPHA], admin=admin)
        bridge.start()
        alpha = QuickFixClient(port=bridge.fix_port, sender="BO_ALPHA", target=BRIDGE,
                               workdir=tmp_path / "alpha", spec_dir=spec_dir)  # fmt: skip
        beta_client = QuickFixClient(port=bridge.fix_port, sender="BO_BETA", target=BRIDGE,
                                     workdir=tmp_path / "beta", spec_dir=spec_dir)  # fmt: skip
        try:
            with alpha:
                alpha.wait_for_logon(timeout=20)
                alpha.wait_for_app(40, timeout=60)
                seen = [m for m in alpha.app_messages() if m.msg_type == "8"]
                start_text, start_ns = instant(transact_ns(seen[15]))
                beta = {"name": "beta", "sender_comp_id": BRIDGE, "target_comp_id": "BO_BETA",
                        "start_from": start_text}  # fmt: skip
                write_config(
                    bridge.config, upstream_port=sim.port, fix_port=bridge.fix_port,
                    journal=tmp_path / "journal.db", sessions=[ALPHA, beta], admin=admin,
                )  # fmt: skip
                bridge.signal(signal.SIGHUP)
                wait_for_log(bridge.log, "configuration reloaded")
                with beta_client:
                    beta_client.wait_for_logon(timeout=20)
                    beta_client.wait_for_app(40, timeout=60)
                    received = beta_client.app_messages()
                    alpha.wait_for_app(len(seen) + len(received), timeout=60)
                    everything = [m for m in alpha.app_messages() if m.msg_type == "8"]
                    first = first_at_or_after(everything, start_ns)
                    assert [m[17] for m in received] == [
                        m[17] for m in everything[first : first + len(received)]
                    ]
                    assert all(m.get(97) is None and not m.poss_dup for m in received)

                    # The replay: from an instant among what beta has received.
                    replay_text, replay_ns = instant(transact_ns(received[10]))
                    shell = ["--since", replay_text, "--config", str(bridge.config)]
                    assert main(["admin", "replay", "beta", *shell]) == 0
                    beta_client.wait_for(
                        lambda: replay_covered(beta_client.app_messages()), timeout=60,
                        description="the replay of what beta had from its instant on",
                    )  # fmt: skip
                    after = beta_client.app_messages()
                    marked = next(i for i, m in enumerate(after) if m.get(97) == "Y")
                    alpha.wait_for_app(len(after), timeout=60)
                    everything = [m for m in alpha.app_messages() if m.msg_type == "8"]
                    # Before the replay: the executions in order from beta's start, unmarked.
                    assert [m[17] for m in after[:marked]] == [
                        m[17] for m in everything[first : first + marked]
                    ]
                    # From the replay on: again from the first at or after its instant, in
                    # order, marked PossResend and never PossDup, under new numbers.
                    again = first_at_or_after(everything, replay_ns)
                    replayed = after[marked:]
                    assert [m[17] for m in replayed] == [
                        m[17] for m in everything[again : again + len(replayed)]
                    ]
                    resent = {m[17] for m in after[:marked]} & {m[17] for m in replayed}
                    assert len(resent) >= marked - 10  # everything beta had from there on
                    assert all(m.get(97) == "Y" for m in replayed if m[17] in resent)
                    assert not any(m.poss_dup for m in after)
                    numbers = [m.seq_num for m in after]
                    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
                    assert beta_client.rejects_sent() == [] and alpha.rejects_sent() == []
                    assert beta_client.unvalidated_app_messages() == []
        finally:
            bridge.stop()
    finally:
        sim.stop()
