"""Building blocks shared by every FIX body renderer: constants and small field helpers.

Every renderer (ExecutionReport, TradeCaptureReport, SecurityStatus, PositionReport) emits the
same Instrument component, the same booleans and the same "leave empty values out" rule; they
live here once. Values are ones the stock QuickFIX FIX50SP2.xml lists for their tags.

Pure: appends to lists, nothing else. Must never emit an empty value (QuickFIX rejects them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

Fields = list[tuple[int, str]]

SECURITY_ID_SOURCE_EXCHANGE_SYMBOL: Final = "8"  # SecurityIDSource(22)
PRODUCT_OTHER: Final = "12"  # Product(460): every exchange product is OTHER (spec §2.2)
COMM_TYPE_ABSOLUTE: Final = "3"  # CommType(13): a dollar amount
# CopyMsgIndicator(797)=Y: every ExecutionReport and TradeCaptureReport fixbridge sends is a
# copy, never an answer to an order.
COPY_MSG_INDICATOR: Final = "Y"
UNSOLICITED: Final = "Y"  # UnsolicitedIndicator(325): sent without a request
FIX_BOOLEAN: Final[Mapping[bool, str]] = {True: "Y", False: "N"}


def put(out: Fields, tag: int, value: str | None) -> None:
    """Append ``tag=value`` only when there is a value."""
    if value:
        out.append((tag, value))


def instrument(symbol: str) -> Fields:
    """Instrument component: Symbol, SecurityID = Symbol, SecurityIDSource 8, Product 12.

    SecurityType(167) is not sent: the stock dictionary has no ``EVENT`` value for it.
    """
    return [
        (55, symbol),
        (48, symbol),
        (22, SECURITY_ID_SOURCE_EXCHANGE_SYMBOL),
        (460, PRODUCT_OTHER),
    ]
