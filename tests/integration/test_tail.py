"""``fixbridge tail`` as an operator runs it: a subprocess against a real bridge and simulator.

What it must do: print the session's messages readably and exit 0 once ``--count`` are in,
and exit 1 with one line naming the reason when the Logon or the connection is refused.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixbridge.fix.credentials import hash_password
from fixbridge.simulator.server import SimulatorThread
from tests.integration.bridge_proc import REPO, BridgeProcess, bridge_for
from tests.integration.qfharness import free_tcp_port

pytestmark = pytest.mark.integration

BRIDGE, CLIENT, OPS = "FIXBRIDGE", "BACKOFFICE", "OPS"


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    """One bridge with an open session and a password-protected one, executions flowing."""
    tmp = tmp_path_factory.mktemp("tail")
    sessions: list[dict[str, object]] = [
        {"name": "open", "sender_comp_id": BRIDGE, "target_comp_id": CLIENT},
        {
            "name": "secured",
            "sender_comp_id": BRIDGE,
            "target_comp_id": OPS,
            "username": "ops",
            "password_hash": hash_password("s3cret"),
        },
    ]
    with SimulatorThread(seed=9, rate=200, max_executions=400, heartbeat_interval=0.5) as sim:
        proc = bridge_for(tmp, sim.port, sessions)
        with proc:
            yield proc


def tail(
    port: int, *args: str, password: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("TAIL_PASSWORD", None)
    if password is not None:
        env["TAIL_PASSWORD"] = password
    command = [sys.executable, "-m", "fixbridge", "tail", "--host", "127.0.0.1"]
    return subprocess.run(
        [*command, "--port", str(port), "--heartbeat", "5", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_prints_execution_reports_and_exits_0_after_count(bridge: BridgeProcess) -> None:
    done = tail(bridge.fix_port, "--sender", CLIENT, "--target", BRIDGE, "--count", "25")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("MsgType=A(Logon) "), lines[:3]
    reports = [line for line in lines if line.startswith("MsgType=8(ExecutionReport) ")]
    assert len(reports) == 25, done.stdout
    assert all(" ExecID=" in r and " ExecType=" in r and " Symbol=" in r for r in reports)
    assert lines[-1] == "-- 25 application messages"
    assert done.stderr == ""


def test_ctrl_c_logs_out_and_exits_0(bridge: BridgeProcess) -> None:
    command = [sys.executable, "-m", "fixbridge", "tail", "--host", "127.0.0.1"]
    args = ["--port", str(bridge.fix_port), "--sender", CLIENT, "--target", BRIDGE]
    with subprocess.Popen(
        [*command, *args],
        cwd=REPO,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        assert first.startswith("MsgType=A(Logon) "), first + proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        rest, errors = proc.communicate(timeout=30)
    assert proc.returncode == 0, errors
    assert errors == ""
    lines = rest.splitlines()
    assert lines[-2].startswith("MsgType=5(Logout) "), lines[-3:]  # fixbridge's answer
    assert re.fullmatch(r"-- \d+ application messages", lines[-1])


def test_logs_on_with_the_password_from_the_environment(bridge: BridgeProcess) -> None:
    args = ["--sender", OPS, "--target", BRIDGE, "--username", "ops"]
    done = tail(bridge.fix_port, *args, "--password-env", "TAIL_PASSWORD", "--count", "1",
                password="s3cret")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "s3cret" not in done.stdout + done.stderr


def test_wrong_password_exits_1_with_the_logout_text(bridge: BridgeProcess) -> None:
    args = ["--sender", OPS, "--target", BRIDGE, "--username", "ops"]
    done = tail(bridge.fix_port, *args, "--password-env", "TAIL_PASSWORD", password="wrong")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"fixbridge tail: logon refused by 127.0.0.1:{bridge.fix_port}:"
        " invalid Username(553) or Password(554)"
    ]
    assert "MsgType=8(" not in done.stdout


def test_unknown_comp_ids_exit_1(bridge: BridgeProcess) -> None:
    done = tail(bridge.fix_port, "--sender", "NOBODY", "--target", BRIDGE)
    assert done.returncode == 1
    assert done.stderr.startswith("fixbridge tail: logon refused by ")
    assert "closed by fixbridge before it answered the Logon" in done.stderr


def test_connection_refused_exits_1(tmp_path: Path) -> None:
    port = free_tcp_port()  # nothing listens there
    done = tail(port, "--sender", CLIENT, "--target", BRIDGE, timeout=30)
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        == f"fixbridge tail: cannot connect to 127.0.0.1:{port}: Connection refused"
    )


def test_missing_password_variable_is_a_usage_error(bridge: BridgeProcess) -> None:
    done = tail(bridge.fix_port, "--sender", OPS, "--target", BRIDGE,
                "--password-env", "TAIL_PASSWORD")  # fmt: skip
    assert done.returncode == 2
    assert "TAIL_PASSWORD is not set" in done.stderr
