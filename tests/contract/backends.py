"""The journal backends the contract suite runs against, opened by name and by a spec string.

A spec names a backend and where its journal lives (``sqlite:/path/to/j.db``), so a test can
hand the same journal to a subprocess (the crash test) and open it again afterwards (a
restart). Only SQLite exists today; a second backend joins ``BACKENDS`` and every contract
test runs on it unchanged.
"""

from __future__ import annotations

from pathlib import Path

from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.journal.store import Journal

BACKENDS = ("sqlite",)


def spec_for(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:{tmp_path / 'journal.db'}"
    raise ValueError(f"unknown journal backend {backend!r}")


def open_journal(spec: str) -> Journal:
    """The journal ``spec`` names (a new, empty one the first time)."""
    kind, _, where = spec.partition(":")
    if kind == "sqlite":
        return SqliteJournal(Path(where), synchronous="normal")
    raise ValueError(f"unknown journal backend in {spec!r}")
