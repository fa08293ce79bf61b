"""SIGHUP re-reads the config: a session added binds at once, one removed is logged out, a
config that cannot load is refused with its error, and the sessions that did not change keep
their connection throughout.

simulator (gRPC, live) -> fixbridge (subprocess) -> QuickFIX clients with validation on.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from fixbridge.config import SessionConfig
from fixbridge.fix.outbound import style_of
from fixbridge.fix.prerender import rendering_key
from fixbridge.simulator.server import SimulatorThread
from tests.integration.bridge_proc import bridge_for, write_config
from tests.integration.qfharness import QuickFixClient

pytestmark = pytest.mark.integration

BRIDGE = "FIXBRIDGE"
ALPHA = {"name": "alpha", "sender_comp_id": BRIDGE, "target_comp_id": "BO_ALPHA",
         "scope": {"message_kinds": ["executions"]}}  # fmt: skip
BETA = {"name": "beta", "sender_comp_id": BRIDGE, "target_comp_id": "BO_BETA",
        "fix_profile": "fix50sp2",
        "scope": {"message_kinds": ["executions", "trades"]}}  # fmt: skip


def renderings(journal: Path) -> set[str]:
    """The renderings the journal holds executions' bodies in (fix/prerender.py)."""
    with contextlib.closing(sqlite3.connect(journal)) as db:
        return {str(r[0]) for r in db.execute("SELECT DISTINCT rendering FROM execution_bodies")}


def rendering_of(session: dict[str, object]) -> str:
    return rendering_key(style_of(SessionConfig.model_validate(session)))


def wait_for_log(path: Path, text: str, count: int = 1, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        log = path.read_text(errors="replace")
        if log.count(text) >= count:
            return log
        assert time.monotonic() < deadline, f"{text!r} x{count} not logged:\n{log[-3000:]}"
        time.sleep(0.1)


def test_sighup_adds_and_removes_sessions_without_disturbing_the_others(
    tmp_path: Path, spec_dir: str
) -> None:
    sim = SimulatorThread(seed=41, rate=40, heartbeat_interval=0.5).start()
    try:
        bridge = bridge_for(tmp_path, sim.port, [ALPHA])
        rewrite = {
            "upstream_port": sim.port, "fix_port": bridge.fix_port,
            "journal": tmp_path / "journal.db",
        }  # fmt: skip
        bridge.start()
        alpha = QuickFixClient(port=bridge.fix_port, sender="BO_ALPHA", target=BRIDGE,
                               workdir=tmp_path / "alpha", spec_dir=spec_dir)  # fmt: skip
        beta = QuickFixClient(port=bridge.fix_port, sender="BO_BETA", target=BRIDGE,
                              workdir=tmp_path / "beta", spec_dir=spec_dir)  # fmt: skip
        try:
            with alpha:
                alpha.wait_for_logon(timeout=20)
                alpha.wait_for_app(20, timeout=30)

                # Added: beta logs on and gets executions and trade reports (a new stream).
                write_config(bridge.config, sessions=[ALPHA, BETA], **rewrite)
                bridge.signal(signal.SIGHUP)
                log = wait_for_log(bridge.log, "configuration reloaded")
                assert "sessions added: beta; removed: none; changed: none; unchanged: 1" in log
                with beta:
                    beta.wait_for_logon(timeout=20)
                    beta.wait_for(
                        lambda: {m.msg_type for m in beta.app_messages()} >= {"8", "AE"},
                        timeout=60, description="ExecutionReports and TradeCaptureReports",
                    )  # fmt: skip
                    # Ingestion renders bodies in the added session's style too.
                    assert renderings(tmp_path / "journal.db") == {
                        rendering_of(ALPHA), rendering_of(BETA)
                    }  # fmt: skip

                    # Refused: the running configuration stays, nobody is disturbed.
                    bridge.config.write_text(bridge.config.read_text() + "\n[fix]\nport = 1\n")
                    bridge.signal(signal.SIGHUP)
                    log = wait_for_log(bridge.log, "configuration reload refused")
                    refused = [line for line in log.splitlines() if "reload refused" in line]
                    assert "not valid TOML" in refused[0], refused

                    # Removed: beta is logged out with a reason; alpha stays.
                    write_config(bridge.config, sessions=[ALPHA], **rewrite)
                    bridge.signal(signal.SIGHUP)
                    wait_for_log(bridge.log, "configuration reloaded", count=2)
                    beta.wait_for(
                        lambda: bool(beta.messages("admin_in", msg_type="5")),
                        timeout=20, description="beta's Logout",
                    )  # fmt: skip
                    (logout,) = beta.messages("admin_in", msg_type="5")
                    assert "configuration reload" in (logout.get(58) or "")

                before = len(alpha.app_messages())
                alpha.wait_for_app(before + 20, timeout=30)  # still delivered to, live
                assert len(alpha.logons()) == 1, alpha.diagnostics()
                assert alpha.messages("admin_in", msg_type="5") == []
                assert alpha.rejects_sent() == [] and beta.rejects_sent() == []
                assert alpha.unvalidated_app_messages() == []
        finally:
            bridge.stop()
    finally:
        sim.stop()
