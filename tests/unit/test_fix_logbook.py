"""The message log rows of rendered messages: logged without the password scan only because
no definition of theirs can hold a password. That is read from the dictionaries here: the
stock QuickFIX FIX 5.0 SP2 dictionary (a source that is not ours) for the standard types, and
every shipped profile's dictionary for all of them."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from fixbridge.fix.logbook import MASK, RENDERED_MSG_TYPES, SECRET_TAGS, application_entry
from fixbridge.fix.shipped_dictionaries import APPLICATION_FILE, dictionary_text
from fixbridge.normalize.style import Profile
from tests.integration.qfharness import quickfix_spec_dir

STANDARD = RENDERED_MSG_TYPES - {"UMS"}  # MarketSettlementReport is the exchange's own


def _fields_of(root: ET.Element, msg_type: str) -> set[int]:
    """Every field number a message of ``msg_type`` may hold, through its components and
    groups (header and trailer aside: those are the session's)."""
    numbers = {f.get("name"): int(f.get("number", "0")) for f in root.iter("field")
               if f.get("number")}  # fmt: skip
    components = {c.get("name"): c for c in root.findall("./components/component")}
    (message,) = [m for m in root.findall("./messages/message") if m.get("msgtype") == msg_type]
    found: set[int] = set()
    seen: set[str] = set()

    def walk(node: ET.Element) -> None:
        for child in node:
            name = child.get("name", "")
            if child.tag == "field":
                found.add(numbers[name])
            elif child.tag == "group":
                found.add(numbers[name])
                walk(child)
            elif child.tag == "component" and name not in seen:
                seen.add(name)
                walk(components[name])

    walk(message)
    return found


def test_no_standard_rendered_type_can_hold_a_password_in_the_stock_dictionary() -> None:
    root = ET.parse(quickfix_spec_dir() / "FIX50SP2.xml").getroot()
    logon = _fields_of(ET.parse(quickfix_spec_dir() / "FIXT11.xml").getroot(), "A")
    assert set(SECRET_TAGS) <= logon  # the reading finds them where they are
    for msg_type in sorted(STANDARD):
        fields = _fields_of(root, msg_type)
        assert len(fields) > 10, msg_type
        assert not fields & set(SECRET_TAGS), msg_type


@pytest.mark.parametrize("profile", list(Profile))
def test_no_rendered_type_can_hold_a_password_in_a_shipped_dictionary(profile: Profile) -> None:
    root = ET.fromstring(dictionary_text(profile, APPLICATION_FILE))
    types = {m.get("msgtype") for m in root.findall("./messages/message")}
    for msg_type in sorted(RENDERED_MSG_TYPES & types):
        assert not _fields_of(root, msg_type) & set(SECRET_TAGS), (profile, msg_type)


def test_another_type_is_still_masked() -> None:
    frame = b"8=FIXT.1.1\x019=30\x0135=BE\x01923=1\x01554=secret\x01925=new\x0110=000\x01"
    entry = application_entry("S", 0, frame, seq=1, msg_type="BE", sending_time="", now_ns=0)
    assert b"secret" not in entry.raw and b"new" not in entry.raw
    assert entry.raw.count(b"=" + MASK) == 2
