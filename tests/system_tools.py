"""Programs from Debian packages that some tests drive (promtool, systemd-analyze, headless
Chromium): scripts/test.sh installs them; a missing one fails in CI and skips elsewhere."""

from __future__ import annotations

import os
import shutil

import pytest


def tool(name: str, package: str) -> str:
    """The path of ``name``; fails the test in CI when it is missing, else skips it."""
    path = shutil.which(name)
    if path is not None:
        return path
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{name} not found: CI needs the Debian package {package} (test.sh)")
    pytest.skip(f"{name} not installed (apt-get install {package}); CI runs this check")
