"""Suite-wide set-up: Hypothesis profiles, and QuickFIX's stock FIX 5.0 SP2 dictionary for
every test; a real PostgreSQL server for the tests that need one (``postgres_dsn``).

Hypothesis runs the ``ci`` profile unless told otherwise: derandomized, so a run of the suite
tries the same examples every time and a commit that passes keeps passing, and without an
example database or deadlines (timing is never a test). ``long`` draws fresh examples, many
more of them, for a fuzzing run (README.md, Development).

The dictionary-driven checks in tests/unit read FIXBRIDGE_FIX50SP2_XML when they are
imported, so it is set here, before collection. Where the dictionaries cannot be fetched the
variable stays unset: those unit checks skip and the integration tests fail with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import NoReturn

import pytest
from hypothesis import settings

from tests.postgres_server import PostgresServer, PostgresUnavailable, running_server

settings.register_profile("ci", derandomize=True, database=None, deadline=None)
settings.register_profile("long", max_examples=20_000, deadline=None)
settings.load_profile("ci")


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("FIXBRIDGE_FIX50SP2_XML"):
        return
    from tests.integration.qfharness import QuickFixSpecError, quickfix_spec_dir

    try:
        spec = quickfix_spec_dir()
    except QuickFixSpecError:
        return
    os.environ["FIXBRIDGE_FIX50SP2_XML"] = str(spec / "FIX50SP2.xml")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole run (tests/postgres_server.py): skipped where
    there is none, a failure under CI, where scripts/test.sh installs one."""
    try:
        import psycopg  # noqa: F401 - the dev extra brings it
    except ImportError as exc:
        _unavailable(f"psycopg is not installed ({exc}): pip install -e '.[dev]'")
    try:
        with running_server() as server:
            yield server
    except PostgresUnavailable as exc:
        _unavailable(str(exc))


@pytest.fixture
def postgres_dsn(postgres: PostgresServer) -> str:
    """A new, empty database on the run's server: its DSN."""
    return postgres.database()


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is needed under CI: {reason}")
    pytest.skip(reason)
