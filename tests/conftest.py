"""Suite-wide set-up: Hypothesis profiles, and QuickFIX's stock FIX 5.0 SP2 dictionary for
every test.

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

import pytest
from hypothesis import settings

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
