"""The one error type the normalizers raise for bad upstream data.

A normalizer is total: for any input it returns a value or raises :class:`NormalizationError`
naming the upstream field path (``"order.price_scale"``) and the offending value. It must never
let a ``KeyError``, ``ScaleError``, ``decimal`` signal or other incidental exception escape, and
it must never guess a value to paper over bad data.
"""

from __future__ import annotations

from typing import Final


class _Unset:
    """Marker for "no offending value given" (``None`` can itself be the bad value)."""

    def __repr__(self) -> str:
        return "<unset>"

    def __reduce__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()


class NormalizationError(ValueError):
    """Upstream data that cannot be turned into a correct FIX message.

    ``field`` is the upstream field path, e.g. ``"order.price_scale"`` or ``"type"``;
    ``value`` is the offending value (``UNSET`` when there is none, e.g. a missing field).
    ``str(error)`` names both: ``"order.price_scale: must be a positive integer (got 0)"``.
    """

    field: str
    reason: str
    value: object

    def __init__(self, field: str, reason: str, value: object = UNSET) -> None:
        self.field = field
        self.reason = reason
        self.value = value
        text = f"{field}: {reason}"
        if value is not UNSET:
            text = f"{text} (got {value!r})"
        super().__init__(text)

    def __reduce__(self) -> tuple[type[NormalizationError], tuple[str, str, object]]:
        return (type(self), (self.field, self.reason, self.value))
