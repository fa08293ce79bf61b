"""Scaled integers to exact decimals, and decimals to FIX text.

The exchange sends prices and quantities as integers with a divisor (price_scale,
fractional_quantity_scale: 100 means two decimals). Only Decimal arithmetic is used here; a
float never touches a price. A scale that is not a positive integer is the exchange's bad data
and raises :class:`ScaleError`, never a silent guess.
"""

from __future__ import annotations

import functools
from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from typing import Final

# Enough digits for any int64 / int64 and for the product of two such results; Inexact is
# trapped, so a value with no exact decimal form raises instead of being rounded.
EXACT: Final = Context(
    prec=120,
    Emax=MAX_EMAX,
    Emin=MIN_EMIN,
    traps=[Inexact, InvalidOperation, DivisionByZero, Overflow],
)


class ScaleError(ValueError):
    """An upstream scale is zero, negative, or otherwise unusable."""


def scaled(value: int, scale: int, *, what: str) -> Decimal:
    """``value / scale`` exactly, e.g. ``scaled(525, 1000, what="price") == Decimal("0.525")``."""
    if scale <= 0:
        raise ScaleError(f"{what}: scale must be a positive integer, got {scale}")
    return Decimal(value) / Decimal(scale)


def fix_decimal(value: Decimal) -> str:
    """Plain decimal text for FIX Price/Qty/Amt fields: no exponent, no trailing zeros.

    ``Decimal("52.500")`` -> ``"52.5"``, ``Decimal("100")`` -> ``"100"``,
    ``Decimal("-0")`` -> ``"0"``.
    """
    if not value:  # 0, -0, 0E+3: all "0"
        return "0"
    return plain_decimal(value)


@functools.lru_cache(maxsize=65536)
def plain_decimal(value: Decimal) -> str:
    """:func:`fix_decimal` of a non-zero ``value`` (a zero may come out as ``-0``): for
    precompiled encoders that test for zero themselves (fix/compiled_bodies.py)."""
    # Equal decimals (52.5, 52.500) share a cache entry and have the same plain text, whatever
    # context the caller has: the exact one is used here.
    return format(value.normalize(EXACT), "f")
