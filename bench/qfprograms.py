"""The bench's QuickFIX C++ programs: the peer acceptor and the client, built against Debian's
libquickfix-dev (QuickFIX 1.15.1), and the session settings they read.

``programs()`` installs libquickfix-dev with apt when its headers are missing (root only; it
says what to run otherwise) and compiles ``bench/qfpeer/*.cpp`` into ``.cache/qfpeer/`` once
per source change.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = REPO / "bench" / "qfpeer"
BUILD = REPO / ".cache" / "qfpeer"
HEADER = Path("/usr/include/quickfix/Application.h")
QUICKFIX_VERSION = "1.15.1"  # Debian bookworm's libquickfix-dev; the stock dictionaries match


class BuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class Programs:
    peer: Path
    client: Path


def _install() -> None:
    if HEADER.exists():
        return
    if os.geteuid() != 0:
        raise BuildError("QuickFIX C++ headers missing: run `apt-get install libquickfix-dev g++`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "libquickfix-dev", "g++"]):  # fmt: skip
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0 and command[1] == "install":
            raise BuildError(f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}")


def programs() -> Programs:
    """The two programs, built if their sources changed since the last build."""
    _install()
    BUILD.mkdir(parents=True, exist_ok=True)
    built = {}
    for name in ("peer", "client"):
        source = SOURCES / f"{name}.cpp"
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
        target = BUILD / f"qf{name}-{digest}"
        if not target.exists():
            compiler = shutil.which("g++") or "c++"
            done = subprocess.run(
                [compiler, "-O2", "-std=c++14", "-Wno-deprecated", "-o", str(target), str(source),
                 "-lquickfix", "-lpthread"],
                capture_output=True, text=True,
            )  # fmt: skip
            if done.returncode != 0:
                raise BuildError(f"compiling {source.name} failed:\n{done.stderr[-2000:]}")
        built[name] = target
    return Programs(built["peer"], built["client"])


def settings(
    path: Path,
    *,
    role: str,
    sender: str,
    targets: list[str],
    port: int,
    spec_dir: Path,
    store_dir: Path,
) -> Path:
    """A settings file: an acceptor (``role`` "acceptor") with one session per target, or an
    initiator to one target; FIXT.1.1 / FIX 5.0 SP2, validation on as a strict back office."""
    lines = [
        "[DEFAULT]",
        f"ConnectionType={role}",
        f"FileStorePath={store_dir}",
        "StartTime=00:00:00",
        "EndTime=00:00:00",
        "ReconnectInterval=1",
        "HeartBtInt=30",
        "ResetOnLogon=Y",
        "UseDataDictionary=Y",
        f"TransportDataDictionary={spec_dir / 'FIXT11.xml'}",
        f"AppDataDictionary={spec_dir / 'FIX50SP2.xml'}",
        "ValidateFieldsOutOfOrder=Y",
        "ValidateFieldsHaveValues=Y",
        "ValidateUserDefinedFields=Y",
        "AllowUnknownMsgFields=N",
        "CheckLatency=N",
        "TimeStampPrecision=6",
        *([f"SocketAcceptPort={port}"] if role == "acceptor" else []),
    ]
    for target in targets:
        lines += [
            "",
            "[SESSION]",
            "BeginString=FIXT.1.1",
            "DefaultApplVerID=FIX.5.0SP2",
            f"SenderCompID={sender}",
            f"TargetCompID={target}",
        ]
        if role == "initiator":
            lines += ["SocketConnectHost=127.0.0.1", f"SocketConnectPort={port}"]
    path.write_text("\n".join(lines) + "\n")
    return path
