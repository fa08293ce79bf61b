"""QuickFIX's own validator over rendered FIX bodies, against two dictionaries at once.

Every body must pass QuickFIX's stock FIXT11/FIX50SP2 dictionaries (what a back office loads
by default) and fixbridge's own dictionaries in specs/ (what it may load instead). Both are
loaded once per run, with the strict checks on. Tests that need them skip where QuickFIX or
the stock dictionary is not available.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

SPECS = Path(__file__).resolve().parents[1] / "specs"
Validate = Callable[[str, list[tuple[int, str]]], None]


def stock_dictionary() -> Path | None:
    """The stock FIX50SP2.xml (FIXT11.xml beside it), if the suite could fetch it."""
    path = Path(os.environ.get("FIXBRIDGE_FIX50SP2_XML", ""))
    return path if path.is_file() and path.with_name("FIXT11.xml").is_file() else None


@cache
def _validator(application_xml: str, transport_xml: str) -> Validate:
    quickfix: Any = pytest.importorskip("quickfix")
    simplefix: Any = pytest.importorskip("simplefix")
    application = quickfix.DataDictionary(application_xml)
    transport = quickfix.DataDictionary(transport_xml)
    for dictionary in (application, transport):
        dictionary.checkFieldsOutOfOrder(True)
        dictionary.checkFieldsHaveValues(True)
        dictionary.checkUserDefinedFields(True)

    def validate(msg_type: str, body: list[tuple[int, str]]) -> None:
        message = simplefix.FixMessage()
        header = [(8, "FIXT.1.1"), (35, msg_type), (49, "BRIDGE"), (56, "CLIENT"), (34, "7")]
        for tag, value in [*header, (52, "20261121-09:47:00.123"), *body]:
            message.append_pair(tag, value)
        parsed = quickfix.Message(message.encode().decode("utf-8"), transport, application, True)
        quickfix.DataDictionary.validate(parsed, transport, application)

    return validate


def quickfix_validators() -> list[Validate]:
    """Validators for the stock dictionaries and for ours; skips without the stock ones."""
    stock = stock_dictionary()
    if stock is None:
        pytest.skip("the stock FIX50SP2.xml is not available (FIXBRIDGE_FIX50SP2_XML)")
    return [
        _validator(str(stock), str(stock.with_name("FIXT11.xml"))),
        _validator(str(SPECS / "FIX50SP2-fixbridge.xml"), str(SPECS / "FIXT11-fixbridge.xml")),
    ]


def validate_everywhere(msg_type: str, body: list[tuple[int, str]]) -> None:
    for validate in quickfix_validators():
        validate(msg_type, body)
