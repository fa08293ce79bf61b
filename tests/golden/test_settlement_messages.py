"""Golden settlements rendered directly: the exchange's documented settled-market examples in,
hand-written FIX fields out, every message validated by QuickFIX.

The settlement cases that a step can pin down run end to end through the bridge
(06_settlements.json ``steps``, tests/golden/test_golden.py). What stays here is what a step
cannot pin down: the guide's NO example has no ``settlement_set_time``, so its messages' time
is when the bridge received the update, which a step can only bound and a rendering fixes to a
hand-written value (MDEntryDate(272), MDEntryTime(273)); and each profile's exact fields
(``fix50sp2_absent``) and the stock exchange dictionary's refusal of 35=UMS are checked
message by message.

Case files' ``renders`` hold, per case, a ``market_data_update`` (protobuf JSON, as the
exchange's market-data guide prints it) with the instrument's ``price_scale`` and
``quantity_scale``, the ``received_time`` of the update, one account's ``position`` (a
PositionChange), the ``instrument`` (its state), optionally the replaced
``prior_settlement_px`` and the ``report_id`` the session layer would give. ``expect`` lists
messages by ``msg_type`` with ``cite``, ``fields`` (tag -> exact text, for the ``exchange``
and ``latest`` profiles), ``absent`` and ``fix50sp2_absent`` (tags the original FIX 5.0 SP2
dictionary lacks: absent there, and not expected). The pure renderers are called through the
real normalizers; the values expected are written from the documents each ``cite`` names,
never computed here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format

from fixbridge.normalize.instrument import normalize_instrument, security_status_body
from fixbridge.normalize.position import normalize_position, position_report_body
from fixbridge.normalize.scale import scaled
from fixbridge.normalize.settlement import Settlement, settlement_of
from fixbridge.normalize.settlement_report import (
    MARKET_SETTLEMENT_MSG_TYPE,
    SETTLEMENT_MSG_TYPE,
    business_date,
    market_settlement_report_body,
    settlement_message_body,
)
from fixbridge.normalize.style import Profile, RenderStyle
from fixbridge.proto.polymarket.v1 import dropcopy_pb2, refdata_pb2
from fixbridge.proto.polymarket.v1 import marketdatasubscription_pb2 as md
from tests.quickfix_validation import quickfix_validators, validate_everywhere

HERE = Path(__file__).resolve().parent
Body = list[tuple[int, str]]


@dataclass(frozen=True)
class Case:
    name: str
    raw: dict[str, Any]

    @property
    def settlement(self) -> Settlement:
        update = json_format.ParseDict(self.raw["market_data_update"], md.MarketDataUpdate())
        found = settlement_of(update, self.raw["price_scale"])
        assert found is not None, f"{self.name}: no settlement in the update"
        return found

    @property
    def received_ns(self) -> int:
        moment = datetime.fromisoformat(self.raw["received_time"].replace("Z", "+00:00"))
        seconds = int(moment.timestamp())
        return seconds * 1_000_000_000 + moment.microsecond * 1_000


def load_cases() -> list[Case]:
    return [
        Case(raw["case"], raw)
        for path in sorted(HERE.glob("*.json"))
        for raw in json.loads(path.read_text(encoding="utf-8")).get("renders", [])
    ]


def render(case: Case, msg_type: str, style: RenderStyle) -> Body:
    """The one message of ``msg_type`` the case's settlement makes, rendered in ``style``."""
    raw = case.raw
    settlement = case.settlement
    change = json_format.ParseDict(raw["position"], dropcopy_pb2.PositionChange())
    position = normalize_position(
        change, price_scale=raw["price_scale"], quantity_scale=raw["quantity_scale"]
    )
    renderers: dict[str, Callable[[], Body]] = {
        SETTLEMENT_MSG_TYPE: lambda: settlement_message_body(settlement, style, case.received_ns),
        MARKET_SETTLEMENT_MSG_TYPE: lambda: market_settlement_report_body(
            settlement, position, style, raw["report_id"], case.received_ns
        ),
        "AP": lambda: position_report_body(
            position, style, settlement, _prior(raw), raw["report_id"],
            (case.received_ns, business_date(settlement, case.received_ns)),
        ),
        "f": lambda: security_status_body(
            normalize_instrument(
                json_format.ParseDict(raw["instrument"], refdata_pb2.Instrument()),
                received_at_ns=case.received_ns,
            ),
            style,
            settlement.outcome,
        ),
    }
    return renderers[msg_type]()


def _prior(raw: dict[str, Any]) -> Decimal | None:
    px = raw.get("prior_settlement_px")
    return None if px is None else scaled(px, raw["price_scale"], what="prior_settlement_px")


EXPECTATIONS = [
    pytest.param(case, want, id=f"{case.name} {want['msg_type']}")
    for case in load_cases()
    for want in case.raw["expect"]
]


def test_the_corpus_covers_every_settlement_message() -> None:
    kinds = {want["msg_type"] for case in load_cases() for want in case.raw["expect"]}
    assert kinds == {SETTLEMENT_MSG_TYPE, MARKET_SETTLEMENT_MSG_TYPE, "AP", "f"}


@pytest.mark.parametrize("profile", list(Profile))
@pytest.mark.parametrize(("case", "want"), EXPECTATIONS)
def test_each_message_has_the_fields_the_documents_give(
    case: Case, want: dict[str, Any], profile: Profile
) -> None:
    msg_type = want["msg_type"]
    if msg_type == MARKET_SETTLEMENT_MSG_TYPE and profile is not Profile.EXCHANGE:
        pytest.skip("35=UMS is sent in the exchange profile only")
    body = render(case, msg_type, RenderStyle(profile=profile))
    fields = dict(body)
    left_out = set(want.get("fix50sp2_absent", [])) if profile is Profile.FIX50SP2 else set()
    problems = [
        f"{tag}={fields.get(int(tag))!r}, expected {value!r}"
        for tag, value in want["fields"].items()
        if int(tag) not in left_out and fields.get(int(tag)) != value
    ]
    problems += [
        f"{tag}={fields[tag]!r} sent, expected absent"
        for tag in [*want.get("absent", []), *left_out]
        if tag in fields
    ]
    assert problems == [], f"{want['cite']}: {problems}"


@pytest.mark.parametrize("profile", list(Profile))
@pytest.mark.parametrize(("case", "want"), EXPECTATIONS)
def test_quickfix_accepts_each_message(case: Case, want: dict[str, Any], profile: Profile) -> None:
    """The profile's stock dictionaries and ours accept 35=W, AP and f; only our exchange
    dictionary declares 35=UMS, which the stock one refuses."""
    msg_type = want["msg_type"]
    if msg_type == MARKET_SETTLEMENT_MSG_TYPE:
        if profile is not Profile.EXCHANGE:
            pytest.skip("35=UMS is sent in the exchange profile only")
        stock, ours = quickfix_validators(profile)
        body = render(case, msg_type, RenderStyle(profile=profile))
        ours(msg_type, body)
        with pytest.raises(Exception, match="Invalid Message Type"):
            stock(msg_type, body)
        return
    validate_everywhere(msg_type, render(case, msg_type, RenderStyle(profile=profile)), profile)
