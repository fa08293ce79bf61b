"""Suite-wide set-up: make QuickFIX's stock FIX 5.0 SP2 dictionary available to every test.

The dictionary-driven checks in tests/unit read FIXBRIDGE_FIX50SP2_XML when they are
imported, so it is set here, before collection. Where the dictionaries cannot be fetched the
variable stays unset: those unit checks skip and the integration tests fail with the reason.
"""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("FIXBRIDGE_FIX50SP2_XML"):
        return
    from tests.integration.qfharness import QuickFixSpecError, quickfix_spec_dir

    try:
        spec = quickfix_spec_dir()
    except QuickFixSpecError:
        return
    os.environ["FIXBRIDGE_FIX50SP2_XML"] = str(spec / "FIX50SP2.xml")
