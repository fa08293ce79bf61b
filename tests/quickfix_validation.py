"""QuickFIX's own validator over rendered FIX bodies, against a profile's two dictionaries.

Every body rendered in a ``fix_profile`` must pass the stock FIXT11/FIX50SP2 dictionaries of
the QuickFIX release that profile is written for (what a back office loads by default:
1.16's for exchange and latest, 1.15.1's for fix50sp2) and fixbridge's own dictionaries for
the profile in specs/dictionaries/ (what it may load instead). Each pair is loaded once per
run, with the strict checks on. Tests that need them skip where QuickFIX or the stock
dictionary is not available.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from fixbridge.normalize.style import Profile
from specs.generate_dictionary import (
    APPLICATION_FILE,
    DICTIONARIES,
    PROFILE_STOCK,
    STOCK_APPLICATION,
    STOCK_TRANSPORT,
    TRANSPORT_FILE,
)
from tests.integration.qfharness import QuickFixSpecError, quickfix_spec_dir

Validate = Callable[[str, list[tuple[int, str]]], None]


@cache
def stock_dir(version: str) -> Path | None:
    """QuickFIX ``version``'s stock dictionaries (fetched once), or None if unavailable."""
    try:
        return quickfix_spec_dir(version)
    except QuickFixSpecError:
        return None


def stock_dir_or_skip(version: str) -> Path:
    found = stock_dir(version)
    if found is None:
        pytest.skip(f"QuickFIX {version}'s stock dictionaries are not available")
    return found


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


def quickfix_validators(profile: Profile = Profile.EXCHANGE) -> list[Validate]:
    """Validators for the profile's stock dictionaries and for ours; skips without the stock
    ones."""
    stock = stock_dir_or_skip(PROFILE_STOCK[profile])
    ours = DICTIONARIES / profile.value
    return [
        _validator(str(stock / STOCK_APPLICATION), str(stock / STOCK_TRANSPORT)),
        _validator(str(ours / APPLICATION_FILE), str(ours / TRANSPORT_FILE)),
    ]


def validate_everywhere(
    msg_type: str, body: list[tuple[int, str]], profile: Profile = Profile.EXCHANGE
) -> None:
    for validate in quickfix_validators(profile):
        validate(msg_type, body)
