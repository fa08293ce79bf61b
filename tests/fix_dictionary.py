"""A structural check of FIX bodies against a QuickFIX data dictionary, stricter than QuickFIX.

QuickFIX 1.16's own validator does not look inside repeating groups (a made-up value in a
group entry passes it) and sorts the body before checking. This checker walks the message as
the dictionary declares it, components flattened: every tag defined at its level, at most
once, in declaration order; groups (nested ones too) with the announced number of entries,
each starting with its delimiter; listed enum values; value formats by FIX type.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

DICTIONARY = os.environ.get("FIXBRIDGE_FIX50SP2_XML", "")
HAVE_DICTIONARY = bool(DICTIONARY) and Path(DICTIONARY).is_file()
needs_dictionary = pytest.mark.skipif(
    not HAVE_DICTIONARY, reason="set FIXBRIDGE_FIX50SP2_XML to the stock QuickFIX FIX50SP2.xml"
)


@dataclass
class MessageSpec:
    """One message as declared in a QuickFIX data dictionary, components flattened."""

    top: list[int] = field(default_factory=list)  # top-level tags in declaration order
    groups: dict[int, list[int]] = field(default_factory=dict)  # NumInGroup -> member tags
    values: dict[int, set[str]] = field(default_factory=dict)  # tag -> listed enum values
    types: dict[int, str] = field(default_factory=dict)


def _sections(path: str) -> tuple[ET.Element, ET.Element, ET.Element]:
    root = ET.parse(path).getroot()
    fields_node, components_node, messages_node = (
        root.find(n) for n in ("fields", "components", "messages")
    )
    assert fields_node is not None and components_node is not None and messages_node is not None
    return fields_node, components_node, messages_node


def load_message(path: str, msg_type: str) -> MessageSpec:
    fields_node, components_node, messages_node = _sections(path)
    spec = MessageSpec()
    numbers: dict[str, int] = {}
    for node in fields_node:
        number = int(node.attrib["number"])
        numbers[node.attrib["name"]] = number
        spec.types[number] = node.attrib["type"]
        spec.values[number] = {value.attrib["enum"] for value in node.iter("value")}
    components = {node.attrib["name"]: node for node in components_node}

    def members(node: ET.Element) -> Iterator[ET.Element]:
        for child in node:
            if child.tag == "component":
                yield from members(components[child.attrib["name"]])
            else:
                yield child

    def walk(node: ET.Element, into: list[int]) -> None:
        for child in members(node):
            tag = numbers[child.attrib["name"]]
            into.append(tag)
            if child.tag == "group":
                spec.groups[tag] = []
                walk(child, spec.groups[tag])

    (message,) = (m for m in messages_node if m.attrib["msgtype"] == msg_type)
    walk(message, spec.top)
    return spec


def required_tags(path: str, msg_type: str) -> set[int]:
    """Top-level fields the dictionary marks required (directly or via required components)."""
    fields_node, components_node, messages_node = _sections(path)
    numbers = {node.attrib["name"]: int(node.attrib["number"]) for node in fields_node}
    components = {node.attrib["name"]: node for node in components_node}
    required: set[int] = set()

    def walk(node: ET.Element) -> None:
        for child in node:
            if child.attrib.get("required") != "Y":
                continue
            if child.tag == "component":
                walk(components[child.attrib["name"]])
            else:
                required.add(numbers[child.attrib["name"]])

    (message,) = (m for m in messages_node if m.attrib["msgtype"] == msg_type)
    walk(message)
    return required


@cache
def message_spec(msg_type: str) -> MessageSpec:
    """``msg_type`` in the stock dictionary (tests using it carry ``needs_dictionary``)."""
    return load_message(DICTIONARY, msg_type)


FORMATS: Mapping[str, re.Pattern[str]] = {
    "PRICE": re.compile(r"-?\d+(\.\d+)?"),
    "QTY": re.compile(r"-?\d+(\.\d+)?"),
    "AMT": re.compile(r"-?\d+(\.\d+)?"),
    "INT": re.compile(r"-?\d+"),
    "NUMINGROUP": re.compile(r"[1-9]\d*"),
    "BOOLEAN": re.compile(r"[YN]"),
    "CHAR": re.compile(r"."),
    "UTCTIMESTAMP": re.compile(r"\d{8}-\d{2}:\d{2}:\d{2}(\.(\d{3}|\d{6}|\d{9}))?"),
    "LOCALMKTDATE": re.compile(r"\d{8}"),
    "STRING": re.compile(r"[^\x01]+", re.DOTALL),
}


def check_against_dictionary(body: list[tuple[int, str]], spec: MessageSpec) -> None:
    """Raise AssertionError naming the first thing a strict FIX engine would reject."""
    position = _check_level(body, 0, spec.top, spec, entry=False)
    assert position == len(body), f"tag {body[position][0]} is not defined for the message"


def _check_level(
    body: list[tuple[int, str]],
    position: int,
    members: list[int],
    spec: MessageSpec,
    *,
    entry: bool,
) -> int:
    index_of = {tag: index for index, tag in enumerate(members)}
    last = -1
    while position < len(body):
        tag, value = body[position]
        if tag not in index_of:
            assert entry, f"tag {tag} is not defined for the message"
            break  # the group entry ends here
        index = index_of[tag]
        if entry and index == 0 and last >= 0:
            break  # the next entry starts
        assert index > last, f"tag {tag} repeated or out of declaration order"
        last = index
        assert value, f"tag {tag} is empty"
        if spec.values[tag]:
            assert value in spec.values[tag], f"{tag}={value} is not a listed value"
        pattern = FORMATS.get(spec.types[tag])
        assert pattern is not None, f"no format check for type {spec.types[tag]} of tag {tag}"
        assert pattern.fullmatch(value), f"{tag}={value!r} is not a valid {spec.types[tag]}"
        position += 1
        if tag in spec.groups:
            group = spec.groups[tag]
            for _ in range(int(value)):
                assert position < len(body) and body[position][0] == group[0], (
                    f"group {tag} entry must start with {group[0]}"
                )
                position = _check_level(body, position, group, spec, entry=True)
            assert position == len(body) or body[position][0] != group[0], f"too many {tag}"
    return position
