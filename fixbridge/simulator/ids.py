"""Exchange identifiers: 13-character uppercase base-36 strings, unique by construction.

EP3-style ids (``1HPT7DPFMC5KW``) are increasing numbers written in base 36. The generator starts
at a seeded point and moves forward by a seeded random stride, so ids look irregular but can
never repeat and need no memory of past ids. It draws only from the random.Random it is given;
it must never use another source of randomness or read a clock.
"""

from __future__ import annotations

import random

ID_LENGTH = 13
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWEST = 36 ** (ID_LENGTH - 1)
_MAX_STRIDE = 40


def to_base36(value: int) -> str:
    """Uppercase base-36 text of a non-negative integer."""
    if value < 0:
        raise ValueError(f"cannot write a negative number in base 36: {value}")
    if value == 0:
        return "0"
    out: list[str] = []
    while value:
        value, digit = divmod(value, 36)
        out.append(_DIGITS[digit])
    return "".join(reversed(out))


class ExchangeIds:
    """Hands out order, execution and trade ids from one strictly increasing sequence."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        # Start in the lower third of the 13-digit range: room for ~10^18 more ids.
        self._value = rng.randrange(_LOWEST, 2 * _LOWEST)

    def next_id(self) -> str:
        self._value += self._rng.randint(1, _MAX_STRIDE)
        text = to_base36(self._value)
        if len(text) != ID_LENGTH:
            raise OverflowError("exchange id space exhausted")
        return text
