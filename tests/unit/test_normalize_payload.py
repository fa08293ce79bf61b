"""The payload codec's compiled decoder builds the same event as its checked path, and fills
a dataclass through its slots only when the dataclass's own ``__init__`` would do just that."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from decimal import Decimal

import pytest
from hypothesis import given, settings

from fixbridge.normalize.construct import slot_setters
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.execution import CODEC, ExecutionEvent
from fixbridge.normalize.payload import PayloadCodec
from tests.unit.test_fix_compiled_bodies import EVENTS


def assert_identical(left: object, right: object) -> None:
    assert left == right and type(left) is type(right)
    for spec in fields(left):  # type: ignore[arg-type]
        a, b = getattr(left, spec.name), getattr(right, spec.name)
        assert (type(a), str(a)) == (type(b), str(b)), spec.name


@settings(max_examples=200)
@given(EVENTS)
def test_the_compiled_decoder_builds_what_the_checked_one_builds(event: ExecutionEvent) -> None:
    document = json.loads(event.to_payload())
    fast = CODEC.from_document(document, "")
    assert_identical(fast, CODEC._checked(document, ""))
    assert_identical(fast, event)
    assert fast.to_payload() == event.to_payload()


@pytest.mark.parametrize(
    ("field", "value"),
    [("price", "abc"), ("price", "NaN"), ("price", "-Infinity"), ("price", 1),
     ("min_qty", "sNaN"), ("order_id", 3), ("aggressor", 1), ("transact_time_ns", True)],
)  # fmt: skip
def test_a_value_the_compiled_decoder_refuses_gets_the_checked_error(
    field: str, value: object
) -> None:
    document = json.loads(a_valid_event().to_payload())
    document[field] = value
    with pytest.raises(NormalizationError) as caught:
        ExecutionEvent.from_payload(json.dumps(document).encode())
    assert caught.value.field == f"payload.{field}"


AMOUNTS = (
    "order_qty", "price", "stop_px", "last_qty", "last_px", "cum_qty", "leaves_qty", "avg_px",
)  # fmt: skip


def a_valid_event() -> ExecutionEvent:
    return ExecutionEvent.from_payload(
        json.dumps(
            {
                **{spec.name: None for spec in fields(ExecutionEvent)},
                **dict.fromkeys(("exec_id", "order_id", "cl_ord_id", "symbol"), "X"),
                **dict.fromkeys(("account", "firm", "participant", "end_client"), ""),
                **dict.fromkeys(("exec_type", "ord_status", "side", "time_in_force"), "0"),
                **dict.fromkeys(AMOUNTS, "1.50"),
                "transact_time_ns": 1,
            }
        ).encode()
    )


@dataclass(frozen=True, slots=True)
class _Checked:
    price: Decimal

    def __post_init__(self) -> None:
        if self.price < 0:
            raise NormalizationError("price", "negative", self.price)


@dataclass(frozen=True, slots=True)
class _OwnInit:
    price: Decimal

    def __init__(self, price: Decimal) -> None:
        object.__setattr__(self, "price", price * 2)


@dataclass(frozen=True)
class _NoSlots:
    price: Decimal


def test_only_a_plain_slots_dataclass_is_filled_through_its_slots() -> None:
    assert slot_setters(ExecutionEvent) is not None
    assert slot_setters(_Checked) is None
    assert slot_setters(_OwnInit) is None
    assert slot_setters(_NoSlots) is None
    # Their compiled decoders still call the class: its own rules run.
    with pytest.raises(NormalizationError):
        PayloadCodec(_Checked).decode(b'{"price":"-1"}')
    assert PayloadCodec(_OwnInit).decode(b'{"price":"2"}').price == 4
    assert PayloadCodec(_NoSlots).decode(b'{"price":"2.50"}') == _NoSlots(Decimal("2.50"))
    assert str(a_valid_event().price) == "1.50"
