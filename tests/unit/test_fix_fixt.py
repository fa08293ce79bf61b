"""The FIXT.1.1 session-layer tables against QuickFIX's stock FIXT11.xml (an independent copy
of the transport dictionary), and the inbound structure checks that use them."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fixbridge.fix.codec import FixMessage, FrameParser, encode_fields, frame
from fixbridge.fix.fixt import ADMIN_MESSAGES, HEADER_TAGS, TRAILER_TAGS
from fixbridge.fix.inbound import admin_field_problem, structure_problem

_FIX50SP2 = os.environ.get("FIXBRIDGE_FIX50SP2_XML", "")
FIXT11 = Path(_FIX50SP2).with_name("FIXT11.xml") if _FIX50SP2 else None
needs_fixt11 = pytest.mark.skipif(
    FIXT11 is None or not FIXT11.is_file(),
    reason="the stock QuickFIX FIXT11.xml is unavailable (FIXBRIDGE_FIX50SP2_XML not set)",
)
# Logon's NoMsgTypes group (384: 372, 385, 1130, 1131) is defined by FIXT.1.1; QuickFIX's
# FIXT11.xml declares its component (MsgTypeGrp) empty.
_NO_MSG_TYPES = 384


def _stock() -> tuple[dict[str, int], ET.Element]:
    assert FIXT11 is not None
    root = ET.parse(FIXT11).getroot()
    fields_node = root.find("fields")
    assert fields_node is not None
    return {f.attrib["name"]: int(f.attrib["number"]) for f in fields_node}, root


def _tags(node: ET.Element, numbers: dict[str, int], required_only: bool = False) -> set[int]:
    out = set()
    for child in node.iter():
        if child.tag in ("field", "group") and (
            not required_only or child.attrib.get("required") == "Y"
        ):
            out.add(numbers[child.attrib["name"]])
    return out


@needs_fixt11
def test_header_and_trailer_are_the_stock_ones() -> None:
    numbers, root = _stock()
    header, trailer = root.find("header"), root.find("trailer")
    assert header is not None and trailer is not None
    assert _tags(header, numbers) == HEADER_TAGS
    assert _tags(trailer, numbers) == TRAILER_TAGS


@needs_fixt11
def test_each_admin_message_has_the_stock_fields_and_required_fields() -> None:
    numbers, root = _stock()
    messages = root.find("messages")
    assert messages is not None
    stock = {m.attrib["msgtype"]: m for m in messages if m.attrib["msgcat"] == "admin"}
    assert set(ADMIN_MESSAGES) == set(stock) - {"n"}  # XMLnonFIX carries no fields of its own
    for msg_type, ours in ADMIN_MESSAGES.items():
        node = stock[msg_type]
        assert ours.name == node.attrib["name"]
        group = ours.repeatable | {_NO_MSG_TYPES} if msg_type == "A" else set()
        assert ours.fields - group == _tags(node, numbers) - group, msg_type
        assert ours.required == _tags(node, numbers, required_only=True), msg_type


def _msg(msg_type: str, *fields: tuple[int, str]) -> FixMessage:
    (parsed,) = FrameParser().feed(frame(msg_type, b"", encode_fields(fields)))
    assert isinstance(parsed, FixMessage)
    return parsed


HEADER = ((49, "C"), (56, "B"), (34, "2"), (52, "20240102-03:04:05"))


@pytest.mark.parametrize(
    ("msg_type", "fields", "expected"),
    [
        ("0", HEADER, None),
        ("0", (*HEADER, (999, "HI")), ("0", 999)),
        ("0", (*HEADER, (0, "HI")), ("0", 0)),
        ("0", (*HEADER, (-1, "HI")), ("0", -1)),
        ("0", (*HEADER, (5000, "HI")), ("0", 5000)),
        ("0", (*HEADER, (58, "Text")), ("2", 58)),
        ("0", (*HEADER, (112, "a"), (112, "b")), ("13", 112)),
        ("1", HEADER, ("1", 112)),
        ("2", (*HEADER, (7, "1")), ("1", 16)),
        ("4", (*HEADER, (123, "Y")), ("1", 36)),
        ("A", (*HEADER, (98, "0"), (108, "30"), (1137, "9"), (384, "1"), (372, "D")), None),
        ("D", (*HEADER, (999, "x"), (11, "a"), (11, "b")), None),  # application: not checked
    ],
)
def test_admin_field_rules(
    msg_type: str, fields: tuple[tuple[int, str], ...], expected: tuple[str, int] | None
) -> None:
    problem = admin_field_problem(_msg(msg_type, *fields))
    assert (None if problem is None else (problem.reason, problem.ref_tag)) == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (HEADER, None),
        (((49, "C"), (56, ""), (34, "2"), (52, "20240102-03:04:05")), ("4", 56)),
        ((*HEADER, (115, "")), ("4", 115)),
        (((49, "C"), (34, "2"), (52, "20240102-03:04:05")), ("1", 56)),
        (((56, "B"), (34, "2"), (52, "20240102-03:04:05")), ("1", 49)),
        (((49, "C"), (56, "B"), (34, "2")), ("1", 52)),
        (((11, "x"), (49, "C"), (56, "B"), (34, "2"), (52, "20240102-03:04:05")), ("14", 49)),
        (((55, "X"), (34, "2"), (49, "C"), (52, "20240102-03:04:05"), (56, "B")), ("14", 34)),
        ((*HEADER, (49, "C")), ("13", 49)),
        ((*HEADER[:3], (627, "2"), (628, "H1"), (628, "H2"), HEADER[3]), None),  # NoHops group
        (((56, "B"), (49, "C"), (52, "20240102-03:04:05"), (34, "2"), (11, "x")), None),
    ],
)
def test_structure_rules(
    fields: tuple[tuple[int, str], ...], expected: tuple[str, int] | None
) -> None:
    problem = structure_problem(_msg("D", *fields))
    assert (None if problem is None else (problem.reason, problem.ref_tag)) == expected
