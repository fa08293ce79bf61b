"""``fixbridge reconcile`` on bad input: one line on stderr and a documented exit code, never
a traceback (2: bad usage or configuration; 3: the reconciliation could not be made)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from fixbridge.cli import main
from fixbridge.journal.sqlite import SqliteJournal


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again on leaving: nothing listens


def _config(tmp_path: Path, journal: Path) -> Path:
    config = tmp_path / "fixbridge.toml"
    config.write_text(
        f'[upstream]\ntarget = "127.0.0.1:{_closed_port()}"\n'
        f'[journal]\npath = "{journal}"\n'
        '[fix]\nhost = "127.0.0.1"\nport = 0\n'
        '[[sessions]]\nname = "a"\nsender_comp_id = "FB"\ntarget_comp_id = "BO"\n'
    )
    return config


@pytest.mark.parametrize("date", ["2026-13-01", "yesterday", "20261205", "2026-2-1"])
def test_a_bad_date_is_a_usage_error(
    date: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["reconcile", "--config", str(tmp_path / "none.toml"), "--date", date])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"not a date YYYY-MM-DD: {date!r}" in err
    assert "Traceback" not in err


def test_a_missing_config_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["reconcile", "--config", str(tmp_path / "none.toml"), "--date", "2026-12-05"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("fixbridge: configuration error:")


def test_a_missing_journal_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, tmp_path / "absent.db")
    code = main(["reconcile", "--config", str(config), "--date", "2026-12-05"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3
    assert err[-1] == f"fixbridge: reconcile failed: no journal file at {tmp_path / 'absent.db'}"
    assert not (tmp_path / "absent.db").exists()  # read-only: nothing created


def test_an_unreachable_exchange_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "j.db"
    SqliteJournal(journal).close()
    before = journal.read_bytes()
    config = _config(tmp_path, journal)
    code = main(["reconcile", "--config", str(config), "--date", "2026-12-05"])
    captured = capsys.readouterr()
    last = captured.err.strip().splitlines()[-1]
    assert code == 3
    assert last.startswith("fixbridge: reconcile failed: Report API at 127.0.0.1:")
    assert "UNAVAILABLE" in last
    assert "Traceback" not in captured.err and captured.out == ""
    assert journal.read_bytes() == before
