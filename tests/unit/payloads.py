"""Broken journal payloads for the decoders' tests: a good payload with one change made."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def mutated(payload: bytes, mutate: Callable[[dict[str, Any]], object]) -> bytes:
    """``payload`` decoded, changed in place by ``mutate``, encoded again."""
    document = json.loads(payload)
    mutate(document)
    return json.dumps(document).encode()
