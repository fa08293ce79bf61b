"""A setting the machine cannot honour stops `fixbridge run` with an error naming the setting.

A port already taken or a journal path whose directory cannot be made used to print a bare
``[Errno ...]``; the operator had to guess which of fix.port, metrics.port or journal.path it was.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixbridge import __version__
from fixbridge.cli import main


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield int(held.getsockname()[1])


def write_config(tmp_path: Path, *, journal: Path, fix_port: int, metrics_port: int) -> Path:
    config = tmp_path / "fixbridge.toml"
    config.write_text(
        f'[upstream]\ntarget = "127.0.0.1:9"\n'
        f'[journal]\npath = "{journal}"\n'
        f'[fix]\nhost = "127.0.0.1"\nport = {fix_port}\n'
        f'[metrics]\nhost = "127.0.0.1"\nport = {metrics_port}\n'
        '[[sessions]]\nname = "a"\nsender_comp_id = "FB"\ntarget_comp_id = "BO"\n'
    )
    return config


def run(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["run", "--config", str(config)])
    return code, capsys.readouterr().err.strip().splitlines()[-1]


def test_a_fix_port_in_use_is_named(
    tmp_path: Path, taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """The start-up line before it says which fixbridge started with which file."""
    config = write_config(tmp_path, journal=tmp_path / "j.db", fix_port=taken_port, metrics_port=0)
    code = main(["run", "--config", str(config)])
    err = capsys.readouterr().err.strip().splitlines()
    first, last = err[0], err[-1]
    assert f"INFO fixbridge: fixbridge {__version__} (Python " in first
    assert first.endswith(f") starting with config {config.resolve()}")
    assert code == 1
    assert last.startswith(f"fixbridge: cannot start: fix.host, fix.port = 127.0.0.1:{taken_port}")
    assert "address already in use" in last.lower()
    # The stop's deadline (ops/stop_watch.py) ended with the run: it must not end this process.
    for thread in threading.enumerate():
        if thread.name == "stop-watch":
            thread.join(5)
            assert not thread.is_alive(), "a finished run left its stop deadline armed"


def test_a_metrics_port_in_use_is_named(
    tmp_path: Path, taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, journal=tmp_path / "j.db", fix_port=0, metrics_port=taken_port)
    code, last = run(config, capsys)
    assert code == 1
    expected = f"fixbridge: cannot start: metrics.host, metrics.port = 127.0.0.1:{taken_port}"
    assert last.startswith(expected)


def test_a_journal_directory_that_cannot_be_made_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    journal = blocker / "j.db"
    config = write_config(tmp_path, journal=journal, fix_port=0, metrics_port=0)
    code, last = run(config, capsys)
    assert code == 1
    assert last.startswith(f"fixbridge: cannot start: journal.path = '{journal}': ")
