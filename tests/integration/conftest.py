"""Shared fixtures for the integration tests."""

from __future__ import annotations

import pytest

from tests.integration.qfharness import quickfix_spec_dir


@pytest.fixture(scope="session")
def spec_dir() -> str:
    """The folder holding QuickFIX's stock FIXT11.xml and FIX50SP2.xml."""
    return str(quickfix_spec_dir())
