"""``fixbridge demo`` as a user runs it: it serves, and Ctrl-C (SIGINT) or SIGTERM ends it
cleanly, with its summary line and exit code 0."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_demo_ends_cleanly_on_a_signal(sig: signal.Signals) -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "fixbridge", "demo"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert demo.stdout is not None
    seen: list[str] = []
    try:
        for line in demo.stdout:  # until the console client has an ExecutionReport
            seen.append(line)
            if line.startswith("MsgType=8(ExecutionReport)"):
                break
        else:
            raise AssertionError("the demo ended before any ExecutionReport:\n" + "".join(seen))
        demo.send_signal(sig)
        rest, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(10)
    assert demo.returncode == 0, rest[-2000:]
    found = re.search(r"-- demo finished: (\d+) application messages received\s*$", rest)
    assert found is not None and int(found.group(1)) >= 1, rest[-2000:]
