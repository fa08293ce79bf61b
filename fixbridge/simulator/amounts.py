"""Exact decimal text of the simulator's scaled integers, for the texts the exchange writes.

The simulated exchange keeps every price, quantity and dollar amount as an integer with a
power-of-ten divisor (``price_scale``, ``fractional_qty_scale``, or their product for notional).
Its reject texts show such values as plain decimals ("High price limit is 0.95, given 0.96"):
no exponent, no trailing zeros, no float anywhere. The arithmetic is integer division, so the
text is exact for every value.

The simulator is the bridge's independent check, so this module must never import the bridge's
normalizer or any other bridge code, nor share its formatting helpers.
"""

from __future__ import annotations


def decimal_places(scale: int) -> int:
    """Digits after the point of a power-of-ten ``scale`` (1 -> 0, 100 -> 2, 1000 -> 3).

    Raises ValueError for any other scale: the exchange's scales are powers of ten."""
    text = str(scale)
    if scale < 1 or text != "1" + "0" * (len(text) - 1):
        raise ValueError(f"scale must be a positive power of ten, got {scale}")
    return len(text) - 1


def amount_text(value: int, scale: int) -> str:
    """``value / scale`` as plain decimal text: ``amount_text(95, 100) == "0.95"``,
    ``amount_text(500, 1000) == "0.5"``, ``amount_text(300, 100) == "3"``."""
    places = decimal_places(scale)
    whole, fraction = divmod(abs(value), scale)
    sign = "-" if value < 0 else ""
    if fraction == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{places}d}".rstrip("0")
