"""The journal backends the contract suite runs against, opened by name and by a spec string.

A spec names a backend and where its journal lives (``sqlite:/path/to/j.db``,
``postgresql:<libpq DSN>``), so a test can hand the same journal to a subprocess (the crash
test) and open it again afterwards (a restart). Every contract test runs on each backend of
``BACKENDS`` unchanged.
"""

from __future__ import annotations

from pathlib import Path

from fixbridge.journal.store import Journal

BACKENDS = ("sqlite", "postgresql")


def spec_for(backend: str, tmp_path: Path, dsn: str | None = None) -> str:
    """The spec of a new journal of ``backend``: a file in ``tmp_path``, or the empty
    database ``dsn`` names."""
    if backend == "sqlite":
        return f"sqlite:{tmp_path / 'journal.db'}"
    if backend == "postgresql" and dsn is not None:
        return f"postgresql:{dsn}"
    raise ValueError(f"unknown journal backend {backend!r}")


def open_journal(spec: str) -> Journal:
    """The journal ``spec`` names (a new, empty one the first time)."""
    kind, _, where = spec.partition(":")
    if kind == "sqlite":
        from fixbridge.journal.sqlite import SqliteJournal

        return SqliteJournal(Path(where), synchronous="normal")
    if kind == "postgresql":
        from fixbridge.journal.postgres import PostgresJournal

        return PostgresJournal(where)
    raise ValueError(f"unknown journal backend in {spec!r}")
