"""The golden corpus runs against QuickFIX's stock dictionaries, as the integration tests do."""

from __future__ import annotations

from tests.integration.conftest import spec_dir

__all__ = ["spec_dir"]
