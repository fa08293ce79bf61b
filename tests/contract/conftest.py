"""Every contract test takes ``spec``: one per backend in ``backends.BACKENDS``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.contract.backends import BACKENDS, spec_for


@pytest.fixture(params=BACKENDS)
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return spec_for(str(request.param), tmp_path)
