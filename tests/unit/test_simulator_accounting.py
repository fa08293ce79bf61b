"""The simulator's arithmetic: positions, fees and exchange ids, checked against their rules."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from fixbridge.proto.polymarket.v1 import enums_pb2
from fixbridge.simulator.ids import ExchangeIds, to_base36
from fixbridge.simulator.orders import fee_for
from fixbridge.simulator.positions import PositionBook

BUY, SELL = enums_pb2.SIDE_BUY, enums_pb2.SIDE_SELL

fills = st.lists(
    st.tuples(st.sampled_from([BUY, SELL]), st.integers(1, 5_000), st.integers(1, 999)),
    min_size=1,
    max_size=40,
)


@given(fills)
def test_realized_minus_cost_is_what_was_sold_minus_what_was_bought(
    trades: list[tuple[enums_pb2.Side, int, int]],
) -> None:
    book = PositionBook()
    sold = bought = 0
    for side, qty, px in trades:
        change = book.fill("firms/F/accounts/a", "sym", side, qty, px, 1)
        if side == BUY:
            bought += qty * px
        else:
            sold += qty * px
        position = change.position
        assert position.realized - position.cost == sold - bought
        assert position.net_position == position.qty_bought - position.qty_sold
        if position.net_position == 0:
            assert position.cost == 0
        else:
            # The basis of what is held is priced inside the range the fills traded in.
            average = position.cost / position.net_position
            assert min(p for *_, p in trades) - 1 <= average <= max(p for *_, p in trades) + 1


@given(fills, st.data())
def test_a_bust_takes_the_fill_back_out(
    trades: list[tuple[enums_pb2.Side, int, int]], data: st.DataObject
) -> None:
    book = PositionBook()
    for side, qty, px in trades:
        before = book.fill("a", "s", side, qty, px, 1).position
    side, qty, px = data.draw(st.sampled_from(trades))
    after = book.bust("a", "s", side, qty, px, 3).position
    assert after.net_position == before.net_position + (-qty if side == BUY else qty)
    assert after.qty_bought == before.qty_bought - (qty if side == BUY else 0)
    assert after.qty_sold == before.qty_sold - (qty if side == SELL else 0)
    assert after.net_position == after.qty_bought - after.qty_sold


def test_positions_are_per_account_and_symbol_and_can_expire() -> None:
    book = PositionBook()
    book.fill("a1", "s1", BUY, 10, 50, 1)
    book.fill("a2", "s1", SELL, 10, 50, 1)
    book.fill("a1", "s2", SELL, 3, 20, 2)
    expired = book.expire("s1", 3)
    assert [(c.position.account, c.position.net_position, c.position.expired) for c in expired] == [
        ("a1", 10, True),
        ("a2", -10, True),
    ]
    assert book.expire("s1", 4) == []


def test_a_round_trip_realizes_its_profit() -> None:
    book = PositionBook()
    book.fill("a", "s", BUY, 300, 40, 1)  # 3.00 contracts (scale 100) at 0.40 (scale 100)
    book.fill("a", "s", SELL, 100, 55, 2)
    half = book.fill("a", "s", SELL, 200, 45, 3).position
    assert (half.net_position, half.cost, half.realized) == (0, 0, 100 * 15 + 200 * 5)


@given(st.integers(0, 10**9), st.integers(-500, 500))
def test_fees_round_up_and_rebates_round_toward_zero(notional: int, bps: int) -> None:
    fee = fee_for(notional, bps)
    exact = notional * bps
    if bps >= 0:
        assert fee * 10_000 >= exact > (fee - 1) * 10_000
    else:
        assert exact <= fee * 10_000 <= 0 and (fee + 1) * 10_000 > exact


def test_fees_are_in_notional_units() -> None:
    # 3.12 contracts at $0.97 (both scales 100) is 30264 notional units ($3.0264);
    # 33 bps of it is 99.87 units, charged as 100 units: $0.01 (the spec's decode example).
    assert fee_for(312 * 97, 33) == 100


def test_exchange_ids_are_increasing_13_character_base36() -> None:
    ids = ExchangeIds(random.Random(1))
    issued = [ids.next_id() for _ in range(5_000)]
    assert all(len(i) == 13 and i.isalnum() and i.upper() == i for i in issued)
    assert [int(i, 36) for i in issued] == sorted({int(i, 36) for i in issued})


@given(st.integers(0, 36**13))
def test_base36_round_trips(value: int) -> None:
    assert int(to_base36(value), 36) == value
