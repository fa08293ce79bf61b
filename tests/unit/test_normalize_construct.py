"""normalize/construct.py: a class given ``slot_init`` is made exactly as the dataclass
decorator's own ``__init__`` would make it (same signature, same object), stays frozen, and a
class it cannot do that for is refused when it is defined.

The reference is an undecorated twin of each class, built by ``dataclasses`` itself from the
same fields: its generated ``__init__`` is what ``slot_init`` must be indistinguishable from."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import InitVar, dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings

from fixbridge.journal.store import KnownOrder, NewEvent, OrderRecord
from fixbridge.normalize.construct import slot_init
from fixbridge.normalize.execution import ExecutionEvent
from fixbridge.normalize.fills import BustedFill, Fill, OrderTotals
from fixbridge.upstream.orders import Linked
from tests.unit.test_fix_compiled_bodies import EVENTS

DECORATED = (ExecutionEvent, OrderTotals, Fill, BustedFill, KnownOrder, OrderRecord, NewEvent,
             Linked)  # fmt: skip


def twin(cls: type) -> type:
    """``cls`` as ``@dataclass(frozen=True, slots=True)`` alone would make it."""
    specs = [
        (f.name, f.type, field(default=f.default, kw_only=f.kw_only))
        for f in dataclasses.fields(cls)
    ]
    made: type = dataclasses.make_dataclass(cls.__name__, specs, frozen=True, slots=True)
    return made


def bare(signature: inspect.Signature) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


@pytest.mark.parametrize("cls", DECORATED, ids=lambda c: c.__name__)
def test_the_signature_is_the_generated_one(cls: type) -> None:
    assert "__slot_set0(self," in (cls.__init__.__doc__ or "")  # slot_init's, not generated
    assert bare(inspect.signature(cls.__init__)) == bare(inspect.signature(twin(cls).__init__))
    assert cls.__init__.__annotations__ == twin(cls).__init__.__annotations__


@settings(max_examples=200, deadline=None)
@given(EVENTS)
def test_an_event_made_by_keywords_or_positions_is_the_same_object(event: ExecutionEvent) -> None:
    values = {f.name: getattr(event, f.name) for f in dataclasses.fields(ExecutionEvent)}
    by_keyword = ExecutionEvent(**values)
    by_position = ExecutionEvent(*values.values())
    reference = twin(ExecutionEvent)(**values)
    for made in (by_keyword, by_position):
        assert dataclasses.asdict(made) == dataclasses.asdict(reference)
        assert made == event
        assert hash(made) == hash(event)
    # Defaults apply where a field is left out, as the generated __init__ applies them.
    defaulted = {k: v for k, v in values.items() if k not in ("orig_cl_ord_id", "cancel_reason")}
    made = ExecutionEvent(**defaulted)
    assert dataclasses.asdict(made) == dataclasses.asdict(twin(ExecutionEvent)(**defaulted))
    assert (made.orig_cl_ord_id, made.cancel_reason) == (None, None)


def test_it_stays_frozen_and_refuses_wrong_arguments_as_before() -> None:
    totals = OrderTotals(1, "0", Decimal(5), Decimal(0), Decimal(5), Decimal(0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        totals.cum_qty = Decimal(1)  # type: ignore[misc]
    with pytest.raises(TypeError):
        OrderTotals(1, "0")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Fill("e", Decimal(1), Decimal(1), 1, colour="red")  # type: ignore[call-arg]
    event = NewEvent("u", 1, b"{}", b"raw", order=None)
    assert (event.flagged, event.busts, event.bodies) == (None, (), ())


def test_a_class_it_cannot_make_the_same_way_is_refused() -> None:
    with pytest.raises(TypeError, match="not a plain slots dataclass"):

        @slot_init
        @dataclass(frozen=True, slots=True)
        class Checked:
            price: Decimal

            def __post_init__(self) -> None:
                pass

    with pytest.raises(TypeError, match="not a plain slots dataclass"):

        @slot_init
        @dataclass(frozen=True, slots=True)
        class OwnInit:
            price: Decimal

            def __init__(self, price: Decimal) -> None:
                object.__setattr__(self, "price", price * 2)

    with pytest.raises(TypeError, match="not a plain slots dataclass"):

        @slot_init
        @dataclass(frozen=True)
        class NoSlots:
            price: Decimal

    with pytest.raises(TypeError, match="not frozen"):

        @slot_init
        @dataclass(slots=True)
        class Mutable:
            price: Decimal

    with pytest.raises(TypeError, match="default factory"):

        @slot_init
        @dataclass(frozen=True, slots=True)
        class Factory:
            prices: list[Decimal] = field(default_factory=list)

    with pytest.raises(TypeError, match="not a plain slots dataclass"):

        @slot_init
        @dataclass(frozen=True, slots=True)
        class WithInitVar:
            price: Decimal
            scale: InitVar[int] = 1

    with pytest.raises(TypeError, match="field named self"):

        @slot_init
        @dataclass(frozen=True, slots=True)
        class Selfish:
            self: int


def test_a_class_variable_or_a_field_named_like_a_helper_changes_nothing() -> None:
    @slot_init
    @dataclass(frozen=True, slots=True)
    class Odd:
        limit: ClassVar[int] = 3
        set0: int
        default1: int = 7

    reference = twin(Odd)
    assert bare(inspect.signature(Odd.__init__)) == bare(inspect.signature(reference.__init__))
    assert dataclasses.asdict(Odd(1)) == dataclasses.asdict(reference(1)) == {
        "set0": 1, "default1": 7}
    assert Odd.limit == 3


def test_keyword_only_fields_keep_their_place() -> None:
    @slot_init
    @dataclass(frozen=True, slots=True)
    class Quote:
        symbol: str
        bid: Decimal = Decimal(0)
        _: dataclasses.KW_ONLY
        source: str
        venue: str = "X"

    reference = twin(Quote)
    assert bare(inspect.signature(Quote.__init__)) == bare(inspect.signature(reference.__init__))
    made = Quote("S", source="feed")
    assert dataclasses.asdict(made) == dataclasses.asdict(reference("S", source="feed"))
    with pytest.raises(TypeError):
        Quote("S", Decimal(1), "feed")  # type: ignore[misc]
