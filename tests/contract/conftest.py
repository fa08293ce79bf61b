"""Every contract test takes ``spec``: one per backend in ``backends.BACKENDS``, PostgreSQL on
a new database of the run's real server (tests/conftest.py, ``postgres_dsn``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.contract.backends import BACKENDS, spec_for


@pytest.fixture(params=BACKENDS)
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    backend = str(request.param)
    if backend == "postgresql":
        return spec_for(backend, tmp_path, request.getfixturevalue("postgres_dsn"))
    return spec_for(backend, tmp_path)
