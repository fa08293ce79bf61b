"""Shared fixtures: the simulator in a background thread, free ports, QuickFIX dictionaries."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.integration.qfharness import quickfix_spec_dir


@pytest.fixture(scope="session")
def spec_dir() -> str:
    path = str(quickfix_spec_dir())
    # Lets the dictionary-driven unit checks run too when the integration suite is present.
    os.environ.setdefault("FIXBRIDGE_FIX50SP2_XML", os.path.join(path, "FIX50SP2.xml"))
    return path


@pytest.fixture
def clean_env() -> Iterator[None]:
    yield
