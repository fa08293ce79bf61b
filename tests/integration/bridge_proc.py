"""Run ``fixbridge run`` as a real subprocess for integration tests (so it can be SIGKILLed)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[2]


def write_config(
    path: Path,
    *,
    upstream_port: int,
    fix_port: int,
    journal: Path,
    sessions: list[dict[str, object]],
    auth: dict[str, object] | None = None,
    metrics_port: int | None = None,
    upstream: dict[str, object] | None = None,
    admin: dict[str, object] | None = None,
    journal_settings: dict[str, object] | None = None,
    ha: dict[str, object] | None = None,
) -> Path:
    """``upstream`` overrides or adds [upstream] keys (values written as JSON, which TOML
    reads for strings, numbers and booleans); ``admin``, when given, is the [admin] table;
    ``journal_settings``, when given, is the [journal] table instead of the SQLite file at
    ``journal``; ``ha``, when given, the [ha] table."""
    journal_lines = (
        [f'path = "{journal}"', 'synchronous = "normal"']
        if journal_settings is None
        else [f"{key} = {json.dumps(value)}" for key, value in journal_settings.items()]
    )
    settings: dict[str, object] = {
        "target": f"127.0.0.1:{upstream_port}",
        "start_from": "1970-01-01T00:00:00Z",
        "reconnect_initial_s": 0.2,
        "reconnect_max_s": 1.0,
        **(upstream or {}),
    }
    lines = [
        'log_level = "INFO"',
        "[upstream]",
        *(f"{key} = {json.dumps(value)}" for key, value in settings.items()),
        *auth_section(auth),
        "[journal]",
        *journal_lines,
        *(["[ha]"] if ha is not None else []),
        *(f"{key} = {json.dumps(value)}" for key, value in (ha or {}).items()),
        "[fix]",
        'host = "127.0.0.1"',
        f"port = {fix_port}",
        # The ops HTTP port on loopback; a free one (0) unless the test wants to scrape it.
        "[metrics]",
        'host = "127.0.0.1"',
        f"port = {metrics_port or 0}",
        *(["[admin]"] if admin is not None else []),
        *(f"{key} = {json.dumps(value)}" for key, value in (admin or {}).items()),
    ]
    for session in sessions:
        lines.append("[[sessions]]")
        scope = session.get("scope")
        for key, value in session.items():
            if key != "scope":
                lines.append(f"{key} = {json.dumps(value)}")
        if isinstance(scope, dict):
            lines.append("[sessions.scope]")
            for key, value in scope.items():
                rendered = str(value).lower() if isinstance(value, bool) else repr(list(value))
                lines.append(f"{key} = {rendered.replace(chr(39), chr(34))}")
    path.write_text("\n".join(lines) + "\n")
    return path


class BridgeProcess:
    def __init__(
        self, config: Path, log: Path, fix_port: int, metrics_port: int | None = None
    ) -> None:
        self.config = config
        self.log = log
        self.fix_port = fix_port
        self.metrics_port = metrics_port
        self.admin_port: int | None = None  # when the config enables the admin port
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    def start(self, timeout: float = 20.0, *, wait_for_listen: bool = True) -> None:
        self._log_file = open(self.log, "ab")  # noqa: SIM115 - closed in _reap
        # PYTHONFAULTHANDLER: a bridge that will not stop is sent SIGABRT, which prints every
        # thread's stack into the log (``stop``).
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "fixbridge", "run", "--config", str(self.config)],
            cwd=REPO,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
        if not wait_for_listen:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise AssertionError(f"bridge exited with {self._proc.returncode}:\n{self.tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.fix_port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"bridge did not listen on {self.fix_port}:\n{self.tail()}")

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        assert self._proc is not None
        self._proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Wait for the bridge to exit by itself; its exit code."""
        assert self._proc is not None
        try:
            return self._proc.wait(timeout)
        finally:
            self._reap()

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as in a crash."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGKILL)
        self._proc.wait(10)
        self._reap()

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait for the graceful exit. A bridge still running after ``timeout`` is
        sent SIGABRT (every thread's stack goes to the log) and the test fails with that log."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGTERM)
        try:
            try:
                return self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.send_signal(signal.SIGABRT)
                self._proc.wait(10)
                raise AssertionError(
                    f"bridge did not stop within {timeout} s of SIGTERM:\n{self.tail(400)}"
                ) from None
        finally:
            self._reap()

    def _reap(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> BridgeProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(10)
        self._reap()


def auth_section(auth: dict[str, object] | None) -> list[str]:
    """``[upstream.auth]`` lines (strings quoted as JSON, which TOML reads), or none."""
    if auth is None:
        return []
    return ["[upstream.auth]"] + [
        f"{key} = {json.dumps(str(v) if isinstance(v, Path) else v)}" for key, v in auth.items()
    ]


def bridge_for(
    tmp: Path,
    upstream_port: int,
    sessions: list[dict[str, object]],
    auth: dict[str, object] | None = None,
    *,
    metrics_port: int | None = None,
    upstream: dict[str, object] | None = None,
    admin: dict[str, object] | None = None,
) -> BridgeProcess:
    """A bridge (not started yet) on a free FIX port, journal and log in ``tmp``; its ops
    HTTP port is ``metrics_port`` on 127.0.0.1 when given, else a free one nobody reads."""
    from tests.integration.qfharness import free_tcp_port

    fix_port = free_tcp_port()
    config = write_config(
        tmp / "bridge.toml",
        upstream_port=upstream_port,
        fix_port=fix_port,
        journal=tmp / "journal.db",
        sessions=sessions,
        auth=auth,
        metrics_port=metrics_port,
        upstream=upstream,
        admin=admin,
    )
    return BridgeProcess(config, tmp / "bridge.log", fix_port, metrics_port)
