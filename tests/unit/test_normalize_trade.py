"""Trade -> TradeEvent -> TradeCaptureReport (35=AE) and trade-bust ExecutionReports (35=8).

Table-driven per mapping rule, exact decimals, payload round trip, properties over arbitrary
Trade protobufs, and -- when FIXBRIDGE_FIX50SP2_XML points at the stock QuickFIX FIX50SP2.xml --
every rendered body (2,000+ simulator trades and the property-test inputs) checked twice: by a
structural checker (tags defined for the message, declaration order, nested groups starting with
their delimiter, listed values, formats) and by QuickFIX's own validator with validation on.
Both are needed: QuickFIX 1.16 checks which tags a group may hold, the top-level values and the
required tags, but not the values inside repeating groups (it accepts 452=999 or 1057=Z in a
NoSides entry) nor declaration order (it re-sorts the body); the structural checker does both.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixbridge.normalize import enums
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.execution import ExecutionEvent
from fixbridge.normalize.fills import BustedFill, Fill, OrderTotals
from fixbridge.normalize.style import RenderStyle
from fixbridge.normalize.timestamps import Precision
from fixbridge.normalize.trade import (
    TradeEvent,
    TradeSide,
    normalize_trade,
    settle_bust,
    trade_bust_execution_reports,
    trade_capture_report_body,
)
from fixbridge.proto.polymarket.v1 import enums_pb2 as pb
from fixbridge.proto.polymarket.v1 import orders_pb2, trading_pb2
from fixbridge.simulator.market import MarketModel
from tests.fix_dictionary import (
    HAVE_DICTIONARY,
    check_against_dictionary,
    message_spec,
    needs_dictionary,
)
from tests.quickfix_validation import validate_everywhere
from tests.unit.payloads import mutated
from tests.unit.test_normalize_execution import (
    ENUMS,
    EXECUTIONS,
    HEADER_AND_TRAILER,
    TEXTS,
    TRANSACT,
    _plausible,
    _without_none,
    enum_values,
    set_fields,
)

TRADE_ID = "1HPT7DPFMC5M4"
AGGRESSOR_EXEC_ID = "1HPT7DPFMC5M5"
PASSIVE_EXEC_ID = "1HPT7DPFMC5M6"
SYMBOL = "tec-nfl-sbw-2026-02-08-kc"
TRADE_DATE = {"year": 2024, "month": 5, "day": 17}


def make_fill(exec_id: str, order: dict[str, Any], **overrides: Any) -> trading_pb2.Execution:
    order_values: dict[str, Any] = {
        "type": pb.ORDER_TYPE_LIMIT,
        "symbol": SYMBOL,
        "time_in_force": pb.TIME_IN_FORCE_DAY,
        "price": 97,
        "avg_px": 97,
        "price_scale": 100,
        "fractional_quantity_scale": 100,
    }
    order_values.update(order)
    values: dict[str, Any] = {
        "id": exec_id,
        "order": trading_pb2.Order(**order_values),
        "type": pb.EXECUTION_TYPE_FILL,
        "last_shares": 312,
        "last_px": 97,
        "transact_time": TRANSACT,
        "trade_id": TRADE_ID,
        "transact_trade_date": TRADE_DATE,
    }
    values.update(overrides)
    return trading_pb2.Execution(**values)


def make_trade(**overrides: Any) -> orders_pb2.Trade:
    """The spec's fee example as a trade: 3.12 contracts @ $0.97; taker fee $0.01, maker rebate."""
    aggressor = make_fill(
        AGGRESSOR_EXEC_ID,
        {
            "id": "1HQ4A5T0EDM07",
            "side": pb.SIDE_BUY,
            "order_qty": 312,
            "cum_qty": 312,
            "leaves_qty": 0,
            "state": pb.ORDER_STATE_FILLED,
            "clord_id": "1182560826",
            "account": "firms/ISV-X/accounts/acct-1",
            "participant": "firms/ISV-X/users/trader-1",
        },
        aggressor=True,
        commission_notional_collected=100,
    )
    passive = make_fill(
        PASSIVE_EXEC_ID,
        {
            "id": "1HQ4A5T0EDM08",
            "side": pb.SIDE_SELL,
            "order_qty": 1000,
            "cum_qty": 500,
            "leaves_qty": 500,
            "state": pb.ORDER_STATE_PARTIALLY_FILLED,
            "clord_id": "mm-77",
            "account": "firms/MM-Y/accounts/mm-1",
            "participant": "firms/MM-Y/users/quoter",
        },
        type=pb.EXECUTION_TYPE_PARTIAL_FILL,
        aggressor=False,
        commission_notional_collected=-100,
    )
    values: dict[str, Any] = {
        "id": TRADE_ID,
        "aggressor": aggressor,
        "passive": passive,
        "trade_type": pb.TRADE_TYPE_REGULAR,
        "state": pb.TRADE_STATE_NEW,
        "reporting_counterparty": pb.SIDE_BUY,
        "trade_link_id": "1HPT7DPFMC5L0",
    }
    values.update(overrides)
    return orders_pb2.Trade(**values)


# 2024-05-17T20:00:00.5Z: when the tests' busts become known (after both fills, 19:06:47).
BUST_AT = 1_715_976_000_500_000_000


def settled(
    event: TradeEvent,
    latest: dict[str, OrderTotals] | None = None,
    earlier: dict[str, list[tuple[str, BustedFill]]] | None = None,
    fills: dict[str, list[Fill]] | None = None,
) -> TradeEvent:
    """A BUSTED event settled at BUST_AT against the given order memory (none by default)."""
    return settle_bust(
        event,
        busted_at_ns=BUST_AT,
        latest=latest or {},
        fills=fills or {},
        earlier_busts=earlier or {},
    )


def busts_of(
    trade: orders_pb2.Trade, precision: Precision = Precision.NANOS
) -> list[tuple[TradeSide, list[tuple[int, str]]]]:
    """The trade-cancel ExecutionReports of a trade, settled with no order memory."""
    return trade_bust_execution_reports(settled(normalize_trade(trade)), RenderStyle(precision))


def report_of(trade: orders_pb2.Trade, precision: Precision = Precision.NANOS) -> dict[int, str]:
    """Top-level report fields as a dict (the sides group is checked by entry)."""
    body = trade_capture_report_body(normalize_trade(trade), RenderStyle(precision))
    return dict(body[: [tag for tag, _ in body].index(552) + 1])


def side_entries(body: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """The NoSides entries of a report body, each from its Side(54) on (the group ends at the
    first tag after it that is declared outside the group: CopyMsgIndicator)."""
    start = [tag for tag, _ in body].index(552) + 1
    entries: list[list[tuple[int, str]]] = []
    for tag, value in body[start:]:
        if tag == 797:
            break
        if tag == 54:
            entries.append([])
        entries[-1].append((tag, value))
    return entries


def mutate(path: str, value: object = None) -> Callable[[orders_pb2.Trade], None]:
    """Set (or, with ``value`` None, clear) a field of a Trade by dotted path."""
    *parents, leaf = path.split(".")

    def apply(trade: orders_pb2.Trade) -> None:
        target: Any = trade
        for name in parents:
            target = getattr(target, name)
        if value is None:
            target.ClearField(leaf)
        else:
            setattr(target, leaf, value)

    return apply


# --- TradeState: every value, table-driven -------------------------------------------------

# state name, TrdRptStatus(939), ExecType(150). 939: the trade stands (0 Accepted) through every
# clearing step, a clearing-house refusal is 1 Rejected, a bust 2 Cancelled.
EXPECTED_STATES: dict[str, tuple[str, str, str]] = {
    "TRADE_STATE_NEW": ("NEW", "0", "F"),
    "TRADE_STATE_CLEARED": ("CLEARED", "0", "F"),
    "TRADE_STATE_BUSTED": ("BUSTED", "2", "H"),
    "TRADE_STATE_INFLIGHT": ("INFLIGHT", "0", "F"),
    "TRADE_STATE_PENDING_RISK": ("PENDING_RISK", "0", "F"),
    "TRADE_STATE_PENDING_CLEARED": ("PENDING_CLEARED", "0", "F"),
    "TRADE_STATE_REJECTED": ("REJECTED", "1", "F"),
    "TRADE_STATE_CLEARING_ACKNOWLEDGED": ("CLEARING_ACKNOWLEDGED", "0", "F"),
    "TRADE_STATE_RETRY_REQUEST": ("RETRY_REQUEST", "0", "F"),
}


@pytest.mark.parametrize(("name", "number"), enum_values("TradeState"))
def test_every_trade_state(name: str, number: int) -> None:
    trade = make_trade(state=number)
    if name == "TRADE_STATE_UNDEFINED":  # "never sent" (spec §4.7)
        with pytest.raises(NormalizationError) as caught:
            normalize_trade(trade)
        assert (caught.value.field, caught.value.value) == ("state", 0)
        return
    state, status, exec_type = EXPECTED_STATES[name]
    event = normalize_trade(trade)
    assert event.state == state == name.removeprefix("TRADE_STATE_")
    assert event.upstream_id == f"{TRADE_ID}:{state}"
    # The first report a session gets is New / Submit (487=0, 856=0), whatever the state.
    report = report_of(trade)
    assert report[571] == f"{TRADE_ID}-{state}"
    assert (report[487], report[856], report[939], report[150]) == ("0", "0", status, exec_type)
    assert (report[1003], report[880]) == (TRADE_ID, TRADE_ID)
    assert 572 not in report  # entity model: TradeID(1003) names the trade across versions
    # A later one replaces it (Replace / Submit: same terms, new status; never 856=5 No/Was,
    # which announces changed terms), or cancels it on a bust (Cancel / Trade Report Cancel).
    later = dict(trade_capture_report_body(event, first_report=False))
    expected_later = ("1", "6") if state == "BUSTED" else ("2", "0")
    assert (later[487], later[856], later[939]) == (*expected_later, status)
    body = trade_capture_report_body(event, RenderStyle(Precision.NANOS))
    assert [dict(entry)[58] for entry in side_entries(body)] == [state, state]
    busts = trade_bust_execution_reports(settled(event), RenderStyle(Precision.NANOS))
    assert event.is_bust is (state == "BUSTED")
    assert len(busts) == (2 if state == "BUSTED" else 0)


def test_every_trade_state_is_covered() -> None:
    names = {name for name, _ in enum_values("TradeState")}
    assert names == set(EXPECTED_STATES) | {"TRADE_STATE_UNDEFINED"}, "a TradeState is untested"
    assert set(enums.TRADE_STATE_NAME.values()) == {v[0] for v in EXPECTED_STATES.values()}
    for table in (enums.TRD_RPT_STATUS, enums.TRADE_EXEC_TYPE):
        assert isinstance(table, dict)
        assert table.keys() == set(enums.TRADE_STATE_NAME.values())


@pytest.mark.parametrize("number", [10, 11, 99, -1, 2**31 - 1])
def test_unknown_trade_state_is_an_error_naming_the_value(number: int) -> None:
    with pytest.raises(NormalizationError) as caught:
        normalize_trade(make_trade(state=number))
    assert (caught.value.field, caught.value.value) == ("state", number)
    assert "TradeState" in str(caught.value)
    assert str(number) in str(caught.value)


# --- TradeType: every value, table-driven --------------------------------------------------

# type name, TrdSubType(829), SecondaryTrdType(855). TrdType(828) is 0 on every message of
# every trade: the exchange's FIX documents only 828=0 (spec §2.2, §3.1) and sends it on its
# fill ERs, which cannot know the trade's type; so one trade has one TrdType everywhere and
# the gRPC TradeType is added where it is known.
EXPECTED_TRADE_TYPES: dict[str, tuple[str, str | None, str | None]] = {
    "TRADE_TYPE_UNDEFINED": ("UNDEFINED", None, None),
    "TRADE_TYPE_REGULAR": ("REGULAR", None, None),
    "TRADE_TYPE_REQUEST_FOR_QUOTE": ("REQUEST_FOR_QUOTE", None, "22"),  # privately negotiated
    "TRADE_TYPE_BLOCK": ("BLOCK", None, "1"),  # block trade
    "TRADE_TYPE_CROSS": ("CROSS", "37", None),  # sub type "crossed trade"
}


@pytest.mark.parametrize(("name", "number"), enum_values("TradeType"))
@pytest.mark.parametrize("state", [pb.TRADE_STATE_NEW, pb.TRADE_STATE_BUSTED])
def test_every_trade_type(name: str, number: int, state: int) -> None:
    type_name, trd_sub_type, secondary = EXPECTED_TRADE_TYPES[name]
    event = normalize_trade(make_trade(trade_type=number, state=state))
    assert event.trade_type == type_name
    report = report_of(make_trade(trade_type=number, state=state))
    assert (report[828], report.get(829), report.get(855)) == ("0", trd_sub_type, secondary)
    for _, body in trade_bust_execution_reports(settled(event), RenderStyle(Precision.NANOS)):
        values = dict(body)
        assert (values[828], values.get(829), values.get(855)) == ("0", trd_sub_type, secondary)


def test_every_trade_type_is_covered() -> None:
    assert {name for name, _ in enum_values("TradeType")} == set(EXPECTED_TRADE_TYPES)
    typed = set(enums.TRD_SUB_TYPE) | set(enums.SECONDARY_TRD_TYPE)
    assert typed <= set(enums.TRADE_TYPE_NAME.values())


@pytest.mark.parametrize("number", [5, 99, -1, 2**31 - 1])
def test_unknown_trade_type_is_an_error(number: int) -> None:
    with pytest.raises(NormalizationError) as caught:
        normalize_trade(make_trade(trade_type=number))
    assert (caught.value.field, caught.value.value) == ("trade_type", number)
    assert "TradeType" in str(caught.value)


# --- identities ----------------------------------------------------------------------------


def test_report_ids_are_unique_per_state_and_stable() -> None:
    states = [number for _, number in enum_values("TradeState") if number]
    ids = [report_of(make_trade(state=number))[571] for number in states]
    assert len(set(ids)) == len(states)
    assert ids == [report_of(make_trade(state=number))[571] for number in states]
    other_trade = make_trade(id="1HPT7DPFMC5M9")
    for execution in (other_trade.aggressor, other_trade.passive):
        execution.trade_id = other_trade.id
    other = report_of(other_trade)
    assert other[571] == "1HPT7DPFMC5M9-NEW" != ids[0]
    events = [normalize_trade(make_trade(state=number)) for number in states]
    assert len({event.upstream_id for event in events}) == len(states)
    # Re-rendering the same event (e.g. a resend) gives the same body.
    event = events[0]
    style = RenderStyle(Precision.MICROS)
    again = TradeEvent.from_payload(event.to_payload())
    assert trade_capture_report_body(event, style) == trade_capture_report_body(again, style)


def test_bust_exec_ids_are_new_stable_and_reference_the_fills() -> None:
    event = settled(normalize_trade(make_trade(state=pb.TRADE_STATE_BUSTED)))
    reports = trade_bust_execution_reports(event, RenderStyle(Precision.NANOS))
    assert [side for side, _ in reports] == [event.aggressor, event.passive]
    bodies = [dict(body) for _, body in reports]
    assert [(b[17], b[19]) for b in bodies] == [
        (f"{AGGRESSOR_EXEC_ID}-BUST", AGGRESSOR_EXEC_ID),
        (f"{PASSIVE_EXEC_ID}-BUST", PASSIVE_EXEC_ID),
    ]
    assert [side.bust_exec_id for side, _ in reports] == [b[17] for b in bodies]
    assert reports == trade_bust_execution_reports(event, RenderStyle(Precision.NANOS))


# --- the report body ---------------------------------------------------------------------


def test_report_fields_and_order() -> None:
    body = trade_capture_report_body(normalize_trade(make_trade()))
    side_tags = [54, 1427, 453, 448, 447, 452, 448, 447, 452, 448, 447, 452, 1, 12, 13, 58, 1057,
                 37, 11]  # fmt: skip
    assert [tag for tag, _ in body] == [
        571, 1003, 487, 856, 939, 828, 150, 325, 820, 880, 55, 48, 22, 460, 32, 31, 75, 60, 552,
        *side_tags, *side_tags, 797,
    ]  # fmt: skip
    report = dict(body[:19])
    assert report == {
        571: f"{TRADE_ID}-NEW",
        1003: TRADE_ID,
        487: "0",
        856: "0",
        939: "0",
        828: "0",
        150: "F",
        325: "Y",
        820: "1HPT7DPFMC5L0",
        880: TRADE_ID,
        55: SYMBOL,
        48: SYMBOL,
        22: "8",
        460: "12",
        32: "3.12",
        31: "0.97",
        75: "20240517",
        60: "20240517-19:06:47.977567695",
        552: "2",
    }


def test_sides_group_aggressor_first() -> None:
    body = trade_capture_report_body(normalize_trade(make_trade()))
    assert side_entries(body) == [
        [
            (54, "1"), (1427, AGGRESSOR_EXEC_ID),
            (453, "3"),
            (448, "ISV-X"), (447, "D"), (452, "1"),
            (448, "acct-1"), (447, "D"), (452, "24"),
            (448, "trader-1"), (447, "D"), (452, "36"),
            (1, "acct-1"),
            (12, "0.01"), (13, "3"),
            (58, "NEW"), (1057, "Y"), (37, "1HQ4A5T0EDM07"), (11, "1182560826"),
        ],
        [
            (54, "2"), (1427, PASSIVE_EXEC_ID),
            (453, "3"),
            (448, "MM-Y"), (447, "D"), (452, "1"),
            (448, "mm-1"), (447, "D"), (452, "24"),
            (448, "quoter"), (447, "D"), (452, "36"),
            (1, "mm-1"),
            (12, "-0.01"), (13, "3"),  # maker rebate
            (58, "NEW"), (1057, "N"), (37, "1HQ4A5T0EDM08"), (11, "mm-77"),
        ],
    ]  # fmt: skip


def test_sell_side_aggressor() -> None:
    trade = make_trade()
    trade.aggressor.order.side = pb.SIDE_SELL
    trade.passive.order.side = pb.SIDE_BUY
    entries = side_entries(trade_capture_report_body(normalize_trade(trade)))
    assert [(dict(e)[54], dict(e)[1057]) for e in entries] == [("2", "Y"), ("1", "N")]


def test_aggressor_comes_from_the_trade_structure() -> None:
    trade = make_trade()
    trade.aggressor.aggressor = False  # proto3 default: an unset flag
    trade.passive.aggressor = True
    event = normalize_trade(trade)
    assert (event.aggressor.aggressor, event.passive.aggressor) == (True, False)
    assert event.aggressor.execution.aggressor is True
    entries = side_entries(trade_capture_report_body(event, RenderStyle(Precision.NANOS)))
    assert [dict(e)[1057] for e in entries] == ["Y", "N"]


@pytest.mark.parametrize(
    ("state", "text", "expected"),
    [
        (pb.TRADE_STATE_CLEARED, "", "CLEARED"),
        (pb.TRADE_STATE_BUSTED, "Trade busted by exchange operations",
         "BUSTED: Trade busted by exchange operations"),
        (pb.TRADE_STATE_REJECTED, "clearing: insufficient margin",
         "REJECTED: clearing: insufficient margin"),
    ],
)  # fmt: skip
def test_text_keeps_the_exchange_state_name(state: int, text: str, expected: str) -> None:
    event = normalize_trade(make_trade(state=state, text=text))
    assert event.text == (text or None)
    entries = side_entries(trade_capture_report_body(event, RenderStyle(Precision.NANOS)))
    assert [dict(e)[58] for e in entries] == [expected, expected]
    for _, body in trade_bust_execution_reports(settled(event), RenderStyle(Precision.NANOS)):
        assert dict(body)[58] == expected


def test_optional_fields_are_left_out_when_unknown() -> None:
    trade = make_trade(trade_link_id="")
    for execution in (trade.aggressor, trade.passive):
        set_fields(execution.order, clord_id="", account="", participant="")
        execution.ClearField("transact_trade_date")
    event = normalize_trade(trade)
    assert event.trade_link_id is None
    assert event.firms == frozenset() and event.accounts == frozenset()
    body = trade_capture_report_body(event, RenderStyle(Precision.NANOS))
    assert not {820, 453, 448, 1, 11} & {tag for tag, _ in body}
    # Without the exchange's trade date, the trade date of the transact time (15:06 EDT).
    assert dict(body)[75] == "20240517"
    assert [tag for tag, _ in side_entries(body)[0]] == [54, 1427, 12, 13, 58, 1057, 37]


def test_trade_date_is_the_aggressor_fills() -> None:
    trade = make_trade()
    trade.passive.transact_trade_date.day = 18
    assert report_of(trade)[75] == "20240517"
    # Without the exchange's own date: the trade date of the aggressor's transact time.
    trade.aggressor.ClearField("transact_trade_date")
    trade.aggressor.transact_time.seconds = 1_715_981_400  # 21:30 UTC = 17:30 EDT: rolled
    trade.passive.transact_time.seconds = 1_715_981_400
    assert report_of(trade)[75] == "20240518"


@pytest.mark.parametrize(
    ("account", "participant", "firm"),
    [
        ("firms/A/accounts/x", "firms/B/users/u", "A"),
        ("acct-1", "firms/B/users/u", "B"),
        ("acct-1", "", ""),
    ],
)
def test_firms_and_accounts_of_both_sides(account: str, participant: str, firm: str) -> None:
    trade = make_trade()
    set_fields(trade.passive.order, account=account, participant=participant)
    event = normalize_trade(trade)
    assert event.aggressor.firm == "ISV-X"
    assert event.passive.firm == firm
    assert event.firms == frozenset({"ISV-X", firm} - {""})
    assert event.accounts == frozenset({"firms/ISV-X/accounts/acct-1", account})
    assert (event.passive.account, event.passive.execution.participant) == (account, participant)
    assert event.aggressor.execution.participant == "firms/ISV-X/users/trader-1"


def test_side_attributes() -> None:
    side = normalize_trade(make_trade()).passive
    assert isinstance(side.execution, ExecutionEvent)
    assert (side.execution.side, side.order_id, side.execution.cl_ord_id, side.exec_id) == (
        "2",
        "1HQ4A5T0EDM08",
        "mm-77",
        PASSIVE_EXEC_ID,
    )
    assert side.execution.commission == Decimal("-0.01")
    assert side.aggressor is False
    assert side.execution.trade_id == TRADE_ID


def test_fill_without_trade_id_takes_the_trades() -> None:
    trade = make_trade()
    trade.aggressor.trade_id = ""
    assert normalize_trade(trade).aggressor.execution.trade_id == TRADE_ID


# --- exact decimals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price_scale", "qty_scale", "px", "qty", "fee", "expected"),
    [
        (100, 100, 97, 312, 100, ("0.97", "3.12", "0.01")),  # the spec's fee decode example
        (100, 1, 97, 312, 100, ("0.97", "312", "1")),
        (1000, 1, 525, 100, 5, ("0.525", "100", "0.005")),
        (1000, 100, 525, 1, 25, ("0.525", "0.01", "0.00025")),
        (1000, 100, 1000, 100, 0, ("1", "1", "0")),
        (100, 0, 5, 7, -1, ("0.05", "7", "-0.01")),  # no fractional scale: 1
        (10**9, 10**8, 1, 1, 1, ("0.000000001", "0.00000001", "0.00000000000000001")),
        (1000, 1, 10**9, 10**12, 0, ("1000000", "1000000000000", "0")),
    ],
)
def test_scales(
    price_scale: int, qty_scale: int, px: int, qty: int, fee: int, expected: tuple[str, str, str]
) -> None:
    trade = make_trade(state=pb.TRADE_STATE_BUSTED)
    for execution in (trade.aggressor, trade.passive):
        set_fields(execution, last_px=px, last_shares=qty, commission_notional_collected=fee)
        set_fields(
            execution.order,
            price=px,
            avg_px=px,
            order_qty=qty,
            cum_qty=qty,
            leaves_qty=0,
            price_scale=price_scale,
            fractional_quantity_scale=qty_scale,
        )
    expected_px, expected_qty, expected_fee = expected
    event = normalize_trade(trade)
    assert (event.last_px, event.last_qty) == (Decimal(expected_px), Decimal(expected_qty))
    assert event.aggressor.execution.commission == Decimal(expected_fee)
    body = trade_capture_report_body(event, RenderStyle(Precision.NANOS))
    assert (dict(body)[31], dict(body)[32]) == (expected_px, expected_qty)
    assert [dict(entry)[12] for entry in side_entries(body)] == [expected_fee] * 2
    for _, bust in trade_bust_execution_reports(settled(event), RenderStyle(Precision.NANOS)):
        values = dict(bust)
        # A filled order whose only fill is busted has nothing filled and works again for its
        # whole quantity (FIX Order State Change Matrices, J).
        assert (values[31], values[32], values[14], values[151], values[39]) == (
            expected_px,
            expected_qty,
            "0",
            expected_qty,
            "0",
        )


def test_sides_with_different_scales_but_equal_values_are_one_trade() -> None:
    trade = make_trade()
    set_fields(trade.passive, last_px=970, last_shares=3120)
    set_fields(trade.passive.order, price_scale=1000, fractional_quantity_scale=1000, cum_qty=5000)
    event = normalize_trade(trade)
    assert (event.last_px, event.last_qty) == (Decimal("0.97"), Decimal("3.12"))


# --- trade-bust ExecutionReports -----------------------------------------------------------


def test_bust_report_fields_and_order() -> None:
    trade = make_trade(state=pb.TRADE_STATE_BUSTED, text="Trade busted by exchange operations")
    trade.aggressor.order.manual_order_indicator = pb.MANUAL_ORDER_INDICATOR_AUTOMATED
    (aggressor, body), (passive, passive_body) = busts_of(trade, Precision.MILLIS)
    assert (aggressor.aggressor, passive.aggressor) == (True, False)
    assert body == [
        (37, "1HQ4A5T0EDM07"), (11, "1182560826"),
        (453, "3"),
        (448, "ISV-X"), (447, "D"), (452, "1"),
        (448, "acct-1"), (447, "D"), (452, "24"),
        (448, "trader-1"), (447, "D"), (452, "36"),
        (880, TRADE_ID), (17, f"{AGGRESSOR_EXEC_ID}-BUST"), (19, AGGRESSOR_EXEC_ID),
        # The buy of 3.12 was filled by this one fill: once it is busted nothing is filled
        # and the order works again for 3.12 (FIX Order State Change Matrices, J).
        (150, "H"), (39, "0"), (828, "0"),
        (1, "acct-1"),
        (55, SYMBOL), (48, SYMBOL), (22, "8"), (460, "12"),
        (54, "1"), (38, "3.12"), (40, "2"), (44, "0.97"), (99, "0"), (59, "0"),
        (1057, "Y"), (32, "3.12"), (31, "0.97"), (151, "3.12"), (14, "0"), (6, "0"),
        # TradeDate of the busted trade; TransactTime of the bust (2024-05-17T20:00:00.5Z).
        (75, "20240517"), (60, "20240517-20:00:00.500"),
        (58, "BUSTED: Trade busted by exchange operations"), (797, "Y"), (1028, "N"),
    ]  # fmt: skip
    values = dict(passive_body)
    assert (values[17], values[19], values[150]) == (
        f"{PASSIVE_EXEC_ID}-BUST",
        PASSIVE_EXEC_ID,
        "H",
    )
    # The passive sell of 10 had 5.00 filled (at 0.97, upstream's avg_px, no fill map): after
    # the 3.12 is taken out, 1.88 filled, 8.12 working again, still at 0.97.
    assert (values[54], values[1057], values[38]) == ("2", "N", "10")
    assert (values[39], values[14], values[151], values[6]) == ("1", "1.88", "8.12", "0.97")
    assert values[60] == "20240517-20:00:00.500"
    assert not {12, 13, 119, 381} & values.keys()  # no fill economics on a cancel


def _order_totals(
    at_ns: int, status: str, qty: str, cum: str, leaves: str, notional: str
) -> OrderTotals:
    return OrderTotals(at_ns, status, Decimal(qty), Decimal(cum), Decimal(leaves),
                       Decimal(notional))  # fmt: skip


def test_bust_reports_the_order_as_it_is_after_the_bust_not_as_at_the_fill() -> None:
    # A buy of 20 filled 10 @ 0.40 (this trade) and later 10 @ 0.42; the first trade is busted.
    # As of the busted fill the order was 10 filled, 10 leaves; it has traded since. After the
    # bust it has 10 filled at 0.42 and 10 working again: 39=1, 14=10, 151=10, 6=0.42.
    trade = make_trade(state=pb.TRADE_STATE_BUSTED)
    set_fields(trade.aggressor, last_shares=1000, last_px=40)
    set_fields(trade.passive, last_shares=1000, last_px=40)
    set_fields(trade.aggressor.order, order_qty=2000, cum_qty=1000, leaves_qty=1000,
               state=pb.ORDER_STATE_PARTIALLY_FILLED, price=42, avg_px=40)  # fmt: skip
    set_fields(trade.passive.order, order_qty=1000, cum_qty=1000, leaves_qty=0,
               state=pb.ORDER_STATE_FILLED, price=40, avg_px=40)  # fmt: skip
    later_fill = 1_715_972_900_000_000_000  # after the busted fill, before the bust
    latest = {"1HQ4A5T0EDM07": _order_totals(later_fill, "2", "20", "20", "0", "8.2")}
    fills = {"1HQ4A5T0EDM07": [
        Fill(AGGRESSOR_EXEC_ID, Decimal(10), Decimal(4), 1_715_972_807_977_567_695),
        Fill("LATER", Decimal(10), Decimal("4.2"), later_fill),
    ]}  # fmt: skip
    event = settled(normalize_trade(trade), latest=latest, fills=fills)
    (_, buy), (_, sell) = trade_bust_execution_reports(event)
    buy_values = dict(buy)
    assert (buy_values[39], buy_values[14], buy_values[151], buy_values[6]) == (
        "1", "10", "10", "0.42",
    )  # fmt: skip
    assert (buy_values[32], buy_values[31], buy_values[19]) == ("10", "0.4", AGGRESSOR_EXEC_ID)
    assert buy_values[60] == "20240517-20:00:00.500000000"
    # The seller's only fill was this one: nothing filled, its 10 working again, 39=0.
    sell_values = dict(sell)
    assert (sell_values[39], sell_values[14], sell_values[151], sell_values[6]) == (
        "0", "0", "10", "0",
    )  # fmt: skip


def test_a_snapshot_taken_after_the_bust_does_not_take_it_out_twice() -> None:
    # The exchange may already have left the busted fill out of the order's next snapshot;
    # quantities come from the fills, so that snapshot only gives the status and OrderQty.
    trade = make_trade(state=pb.TRADE_STATE_BUSTED)
    after = BUST_AT + 1
    latest = {"1HQ4A5T0EDM08": _order_totals(after, "1", "10", "1.88", "8.12", "1.8236")}
    (_, _), (_, sell) = trade_bust_execution_reports(settled(normalize_trade(trade), latest))
    values = dict(sell)
    assert (values[39], values[14], values[151], values[6]) == ("1", "1.88", "8.12", "0.97")


def test_a_canceled_order_stays_canceled_through_a_bust() -> None:
    # FIX Order State Change Matrices J.1.b: "Canceled" takes precedence over "New".
    trade = make_trade(state=pb.TRADE_STATE_BUSTED)
    canceled_at = 1_715_973_000_000_000_000
    latest = {"1HQ4A5T0EDM08": _order_totals(canceled_at, "4", "10", "5", "0", "4.85")}
    (_, _), (_, sell) = trade_bust_execution_reports(settled(normalize_trade(trade), latest))
    values = dict(sell)
    assert (values[39], values[14], values[151], values[6]) == ("4", "1.88", "0", "0.97")


def test_earlier_busts_of_the_same_order_are_taken_out_too() -> None:
    # The passive sell (10, 5.00 filled at 0.97) had another fill of 1.00 busted after this
    # fill happened: this bust leaves 5 - 1 - 3.12 = 0.88 filled. A bust made known before
    # the fill happened is already out of the fill's own snapshot.
    trade = make_trade(state=pb.TRADE_STATE_BUSTED)
    fill_time = 1_715_972_807_977_567_695
    earlier = {"1HQ4A5T0EDM08": [
        ("OTHER-FILL", BustedFill(Decimal(1), Decimal("0.97"), BUST_AT - 10)),
        ("OLD-FILL", BustedFill(Decimal(2), Decimal("1.94"), fill_time - 10)),
    ]}  # fmt: skip
    (_, _), (_, sell) = trade_bust_execution_reports(settled(normalize_trade(trade), None, earlier))
    values = dict(sell)
    assert (values[39], values[14], values[151], values[6]) == ("1", "0.88", "9.12", "0.97")


def test_a_bust_of_more_than_was_filled_is_refused() -> None:
    trade = make_trade(state=pb.TRADE_STATE_BUSTED)
    trade.aggressor.order.cum_qty = 100  # 1.00 filled, yet the busted fill is 3.12
    with pytest.raises(NormalizationError) as caught:
        settled(normalize_trade(trade), None, None)
    assert caught.value.field == "aggressor.order.cum_qty"


def test_an_earlier_bust_the_fills_snapshot_already_left_out_is_not_taken_out_again() -> None:
    # A bust of another fill, learned after this fill: taking both out of the 3.12 filled at
    # this fill leaves less than nothing, so that bust happened before this fill (the
    # exchange sends no bust time) and the snapshot already left it out: 3.12 - 3.12 = 0.
    trade = make_trade(state=pb.TRADE_STATE_BUSTED)
    earlier = {"1HQ4A5T0EDM07": [("OTHER", BustedFill(Decimal(1), Decimal("0.97"), BUST_AT))]}
    event = settled(normalize_trade(trade), None, earlier)
    after = event.aggressor.after_bust
    assert after is not None and (after.cum_qty, after.ord_status) == (Decimal(0), "0")


def test_an_unsettled_bust_is_not_rendered() -> None:
    event = normalize_trade(make_trade(state=pb.TRADE_STATE_BUSTED))
    with pytest.raises(NormalizationError):
        trade_bust_execution_reports(event)


@pytest.mark.parametrize(
    ("cum_qty", "last_shares", "expected"),
    [(312, 312, "0"), (500, 312, "1.88"), (100_000_000_000, 1, "999999999.99")],
)
def test_bust_cum_qty_is_exact(cum_qty: int, last_shares: int, expected: str) -> None:
    trade = make_trade(state=pb.TRADE_STATE_BUSTED)
    for execution in (trade.aggressor, trade.passive):
        execution.last_shares = last_shares
        set_fields(execution.order, cum_qty=cum_qty, order_qty=max(cum_qty, 1000))
    for _, body in busts_of(trade):
        assert dict(body)[14] == expected


def test_bust_report_of_an_unpriced_gtd_order() -> None:
    trade = make_trade(state=pb.TRADE_STATE_BUSTED)
    set_fields(
        trade.passive.order,
        type=pb.ORDER_TYPE_MARKET_TO_LIMIT,
        price=0,
        time_in_force=pb.TIME_IN_FORCE_GOOD_TILL_TIME,
        min_qty=100,
    )
    trade.passive.order.good_till_time.seconds = 1_790_000_000
    trade.passive.order.good_till_time.nanos = 123_456_789
    (_, _), (_, body) = busts_of(trade, Precision.MILLIS)
    values = dict(body)
    assert 44 not in values  # market-to-limit with no price yet, as in execution_report_body
    assert (values[40], values[59], values[126], values[110]) == (
        "K",
        "6",
        "20260921-14:13:20.123",
        "1",
    )


@pytest.mark.parametrize(
    "state", [number for name, number in enum_values("TradeState") if name not in
              ("TRADE_STATE_UNDEFINED", "TRADE_STATE_BUSTED")],
)  # fmt: skip
def test_no_bust_reports_unless_busted(state: int) -> None:
    event = normalize_trade(make_trade(state=state))
    assert settled(event) is event
    assert trade_bust_execution_reports(event) == []


# --- timestamps ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("precision", "expected"),
    [
        (Precision.SECONDS, "20240517-19:06:47"),
        (Precision.MILLIS, "20240517-19:06:47.999"),
        (Precision.MICROS, "20240517-19:06:47.999999"),
        (Precision.NANOS, "20240517-19:06:47.999999999"),
    ],
)
def test_transact_time_is_the_aggressors_truncated(precision: Precision, expected: str) -> None:
    trade = make_trade(state=pb.TRADE_STATE_BUSTED)
    trade.aggressor.transact_time.nanos = 999_999_999
    trade.passive.transact_time.nanos = 5
    event = normalize_trade(trade)
    assert event.transact_time_ns == 1_715_972_807_999_999_999
    assert report_of(trade, precision)[60] == expected
    # Each trade-cancel ER carries the bust's own time, at the session's precision.
    fraction = ".500000000"[: precision.digits + 1] if precision.digits else ""
    bust_time = f"20240517-20:00:00{fraction}"
    for _, body in trade_bust_execution_reports(settled(event), RenderStyle(precision)):
        assert dict(body)[60] == bust_time


# --- bad input -----------------------------------------------------------------------------


def _epoch_zero(trade: orders_pb2.Trade) -> None:
    trade.aggressor.transact_time.Clear()
    trade.aggressor.transact_time.SetInParent()


def _both(path: str, value: object) -> Callable[[orders_pb2.Trade], None]:
    def apply(trade: orders_pb2.Trade) -> None:
        mutate(f"aggressor.{path}", value)(trade)
        mutate(f"passive.{path}", value)(trade)

    return apply


BAD_INPUTS: list[tuple[str, Callable[[orders_pb2.Trade], None], str]] = [
    ("missing id", mutate("id"), "id"),
    ("SOH in id", mutate("id", "T\x0135=D"), "id"),
    ("undefined state", mutate("state", 0), "state"),
    ("unknown state", mutate("state", 10), "state"),
    ("unknown trade type", mutate("trade_type", 5), "trade_type"),
    ("SOH in text", mutate("text", "a\x01b"), "text"),
    ("SOH in trade link id", mutate("trade_link_id", "\x01"), "trade_link_id"),
    ("missing aggressor", mutate("aggressor"), "aggressor"),
    ("missing passive", mutate("passive"), "passive"),
    ("missing aggressor exec id", mutate("aggressor.id"), "aggressor.id"),
    ("missing passive order", mutate("passive.order"), "passive.order"),
    ("missing passive order id", mutate("passive.order.id"), "passive.order.id"),
    ("missing symbol", mutate("aggressor.order.symbol"), "aggressor.order.symbol"),
    ("price scale absent", mutate("aggressor.order.price_scale"), "aggressor.order.price_scale"),
    ("price scale negative", mutate("passive.order.price_scale", -1), "passive.order.price_scale"),
    (
        "qty scale negative",
        mutate("passive.order.fractional_quantity_scale", -1),
        "passive.order.fractional_quantity_scale",
    ),
    ("inexact price", _both("order.price_scale", 3), "aggressor.last_px"),
    ("inexact quantity", _both("order.fractional_quantity_scale", 7), "aggressor.last_shares"),
    ("missing transact time", mutate("aggressor.transact_time"), "aggressor.transact_time"),
    ("epoch-zero transact time", _epoch_zero, "aggressor.transact_time"),
    ("negative nanos", mutate("passive.transact_time.nanos", -1), "passive.transact_time.nanos"),
    ("bad trade date", mutate("aggressor.transact_trade_date.month", 13),
     "aggressor.transact_trade_date"),
    ("unknown execution type", mutate("aggressor.type", 8), "aggressor.type"),
    ("aggressor not a fill", mutate("aggressor.type", pb.EXECUTION_TYPE_NEW), "aggressor.type"),
    ("passive canceled", mutate("passive.type", pb.EXECUTION_TYPE_CANCELED), "passive.type"),
    ("undefined side", mutate("aggressor.order.side", 0), "aggressor.order.side"),
    ("unknown order state", mutate("passive.order.state", 11), "passive.order.state"),
    ("SOH in clordid", mutate("passive.order.clord_id", "x\x01"), "passive.order.clord_id"),
    ("another trade's fill", mutate("passive.trade_id", "1HPT7DPFMC5Z9"), "passive.trade_id"),
    ("zero quantity", _both("last_shares", 0), "aggressor.last_shares"),
    ("negative quantity", _both("last_shares", -312), "aggressor.last_shares"),
    ("CumQty below the fill", mutate("aggressor.order.cum_qty", 311), "aggressor.order.cum_qty"),
    ("symbols differ", mutate("passive.order.symbol", "other"), "passive.order.symbol"),
    ("quantities differ", mutate("passive.last_shares", 311), "passive.last_shares"),
    ("prices differ", mutate("passive.last_px", 98), "passive.last_px"),
    ("same side twice", mutate("passive.order.side", pb.SIDE_BUY), "passive.order.side"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"),
    [(change, field) for _, change, field in BAD_INPUTS],
    ids=[name for name, _, _ in BAD_INPUTS],
)
def test_bad_input_is_a_normalization_error(
    change: Callable[[orders_pb2.Trade], None], field: str
) -> None:
    trade = make_trade()
    change(trade)
    with pytest.raises(NormalizationError) as caught:
        normalize_trade(trade)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_nested_errors_keep_reason_and_value() -> None:
    with pytest.raises(NormalizationError) as caught:
        normalize_trade(
            make_trade(passive=make_fill(PASSIVE_EXEC_ID, {"id": "O2", "price_scale": -7}))
        )
    assert str(caught.value) == "passive.order.price_scale: must be a positive integer (got -7)"
    assert caught.value.value == -7


# --- payload -------------------------------------------------------------------------------


def _payload_events() -> list[TradeEvent]:
    """The payload cases normalized, busts settled as ingestion settles them."""
    return [settled(normalize_trade(trade)) for trade in _payload_cases()]


def _payload_cases() -> list[orders_pb2.Trade]:
    bust = make_trade(state=pb.TRADE_STATE_BUSTED, text="Trade busted by exchange operations")
    cross = make_trade(trade_type=pb.TRADE_TYPE_CROSS, trade_link_id="")
    cross.passive.order.time_in_force = pb.TIME_IN_FORCE_GOOD_TILL_TIME
    cross.passive.order.good_till_time.seconds = 1_790_000_000
    cross.passive.order.manual_order_indicator = pb.MANUAL_ORDER_INDICATOR_MANUAL
    undefined = make_trade(trade_type=pb.TRADE_TYPE_UNDEFINED, state=pb.TRADE_STATE_REJECTED)
    undefined.aggressor.ClearField("transact_trade_date")
    return [make_trade(), bust, cross, undefined]


def _assert_identical(left: TradeEvent, right: TradeEvent) -> None:
    assert left == right
    for spec in fields(TradeEvent):
        a, b = getattr(left, spec.name), getattr(right, spec.name)
        if isinstance(a, TradeSide):
            for inner in fields(ExecutionEvent):
                x, y = getattr(a.execution, inner.name), getattr(b.execution, inner.name)
                assert (type(x), str(x)) == (type(y), str(y)), f"{spec.name}.{inner.name}"
            assert a.after_bust == b.after_bust, spec.name
        else:
            assert (type(a), str(a)) == (type(b), str(b)), spec.name


@pytest.mark.parametrize("event", _payload_events())
def test_payload_round_trip(event: TradeEvent) -> None:
    payload = event.to_payload()
    back = TradeEvent.from_payload(payload)
    _assert_identical(event, back)
    assert back.to_payload() == payload
    for precision in Precision:
        style = RenderStyle(precision)
        assert trade_capture_report_body(back, style) == trade_capture_report_body(event, style)
        assert trade_bust_execution_reports(back, style) == trade_bust_execution_reports(
            event, style
        )


def test_payload_document() -> None:
    document = json.loads(normalize_trade(make_trade()).to_payload())
    assert set(document) == {
        "trade_id", "state", "trade_type", "text", "trade_link_id", "aggressor", "passive",
        "busted_at_ns",
    }  # fmt: skip
    assert (document["state"], document["trade_type"], document["text"]) == ("NEW", "REGULAR", None)
    assert document["aggressor"]["exec_id"] == AGGRESSOR_EXEC_ID
    assert document["aggressor"]["aggressor"] is True
    assert document["passive"]["commission"] == "-0.01"
    assert document["passive"]["last_qty"] == "3.12"
    # A side is its fill's document, plus the order after a bust (null unless busted).
    assert set(document["passive"]) == {spec.name for spec in fields(ExecutionEvent)} | {
        "after_bust"
    }
    assert document["passive"]["after_bust"] is None


def test_payloads_written_before_busts_were_settled_still_decode() -> None:
    document = json.loads(normalize_trade(make_trade(state=pb.TRADE_STATE_BUSTED)).to_payload())
    del document["busted_at_ns"]
    for side in ("aggressor", "passive"):
        del document[side]["after_bust"]
    old = TradeEvent.from_payload(json.dumps(document).encode())
    assert old.busted_at_ns is None and old.aggressor.after_bust is None
    assert old.aggressor.exec_id == AGGRESSOR_EXEC_ID


def _corrupt(mutate: Callable[[dict[str, Any]], object]) -> bytes:
    return mutated(normalize_trade(make_trade()).to_payload(), mutate)


CORRUPT_PAYLOADS: list[tuple[str, bytes, str]] = [
    ("empty", b"", "payload"),
    ("not json", b"{trade_id", "payload"),
    ("not utf-8", b"\xff\xfe", "payload"),
    ("list", b"[]", "payload"),
    ("null", b"null", "payload"),
    ("deeply nested", b"[" * 100_000 + b"]" * 100_000, "payload"),
    ("missing key", _corrupt(lambda d: d.pop("state")), "payload"),
    ("extra key", _corrupt(lambda d: d.update(extra=1)), "payload"),
    ("unknown state", _corrupt(lambda d: d.update(state="SETTLED")), "payload.state"),
    ("state as number", _corrupt(lambda d: d.update(state=2)), "payload.state"),
    ("proto state name", _corrupt(lambda d: d.update(state="TRADE_STATE_NEW")), "payload.state"),
    ("unknown trade type", _corrupt(lambda d: d.update(trade_type="SWAP")), "payload.trade_type"),
    ("null trade id", _corrupt(lambda d: d.update(trade_id=None)), "payload.trade_id"),
    ("text as number", _corrupt(lambda d: d.update(text=5)), "payload.text"),
    ("side as string", _corrupt(lambda d: d.update(passive="x")), "payload.passive"),
    ("side as null", _corrupt(lambda d: d.update(aggressor=None)), "payload.aggressor"),
    ("side missing key", _corrupt(lambda d: d["passive"].pop("price")), "payload.passive"),
    ("side decimal as number",
     _corrupt(lambda d: d["passive"].update(last_px=0.97)), "payload.passive.last_px"),
    ("side decimal NaN",
     _corrupt(lambda d: d["aggressor"].update(commission="NaN")), "payload.aggressor.commission"),
    ("side bool as int",
     _corrupt(lambda d: d["aggressor"].update(aggressor=1)), "payload.aggressor.aggressor"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "field"),
    [(payload, field) for _, payload, field in CORRUPT_PAYLOADS],
    ids=[name for name, _, _ in CORRUPT_PAYLOADS],
)
def test_corrupt_payload_is_a_normalization_error(payload: bytes, field: str) -> None:
    with pytest.raises(NormalizationError) as caught:
        TradeEvent.from_payload(payload)
    assert caught.value.field == field


# --- the stock FIX50SP2 dictionary, as a validating QuickFIX client applies it -------------


@needs_dictionary
def test_dictionary_checker_catches_violations() -> None:
    spec = message_spec("AE")
    good = trade_capture_report_body(normalize_trade(make_trade()))
    check_against_dictionary(good, spec)
    first_side = [tag for tag, _ in good].index(54)
    bad_bodies = [
        [*good, (7928, "smp-1")],  # user-defined tag
        [(tag, "9") if tag == 487 else (tag, value) for tag, value in good],  # unlisted value
        [(tag, "") if tag == 58 else (tag, value) for tag, value in good],  # empty value
        [(tag, "3") if tag == 552 else (tag, value) for tag, value in good],  # wrong count
        [(tag, "1") if tag == 552 else (tag, value) for tag, value in good],  # too many entries
        good[:first_side] + good[first_side + 1 :],  # entry without its delimiter
        [(37, "x") if tag == 1427 else (1427, v) if tag == 37 else (tag, v) for tag, v in good],
        [(60, "20240517-19:06:47"), *good],  # out of declaration order
        [*good[:5], (150, "F"), *good[5:]],  # repeated tag
        [(tag, "Z") if tag == 1057 else (tag, value) for tag, value in good],  # bad boolean
        [(tag, "999") if tag == 452 else (tag, value) for tag, value in good],  # nested group
        [(tag, "1.2.3") if tag == 12 else (tag, value) for tag, value in good],  # bad Amt
    ]
    for bad in bad_bodies:
        with pytest.raises(AssertionError):
            check_against_dictionary(bad, spec)


@needs_dictionary
def test_every_fix_value_of_the_trade_tables_is_in_the_stock_dictionary() -> None:
    spec = message_spec("AE")
    versions = enums.TRADE_REPORT_VERSION.values()
    assert {trans for trans, _ in versions} <= spec.values[487]
    assert {report for _, report in versions} <= spec.values[856]
    for tag, table in [
        (939, enums.TRD_RPT_STATUS),
        (150, enums.TRADE_EXEC_TYPE),
        (829, enums.TRD_SUB_TYPE),
    ]:
        assert set(table.values()) <= spec.values[tag], tag
    assert enums.TRD_TYPE_REGULAR in spec.values[828]
    assert {"F", "H"} <= message_spec("8").values[150]


def _cached_validator() -> Callable[[str, list[tuple[int, str]]], None]:
    """QuickFIX's validator with the stock dictionaries and ours."""
    return validate_everywhere


def _check_bodies(event: TradeEvent, precision: Precision, *, quickfix: bool) -> int:
    """Check the report and every bust ER of ``event``; returns how many ERs there were."""
    report = trade_capture_report_body(event, RenderStyle(precision))
    later = trade_capture_report_body(event, RenderStyle(precision), first_report=False)
    busts = trade_bust_execution_reports(settled(event), RenderStyle(precision))
    for tag, value in report + [pair for _, body in busts for pair in body]:
        assert isinstance(tag, int) and 0 < tag < 5000
        assert isinstance(value, str) and value and "\x01" not in value
    assert not HEADER_AND_TRAILER & {tag for tag, _ in report}
    if HAVE_DICTIONARY:
        check_against_dictionary(report, message_spec("AE"))
        check_against_dictionary(later, message_spec("AE"))
        for _, body in busts:
            check_against_dictionary(body, message_spec("8"))
    if quickfix:
        validate = _cached_validator()
        validate("AE", report)
        validate("AE", later)
        for _, body in busts:
            validate("8", body)
    return len(busts)


@cache
def simulator_trades(count: int = 2_000, seed: int = 20_240_517) -> tuple[orders_pb2.Trade, ...]:
    """At least ``count`` Trade messages (NEW, CLEARED, some BUSTED) from the seeded market."""
    model = MarketModel(seed)
    now = 1_770_000_000_000_000_000
    trades: list[orders_pb2.Trade] = []
    while len(trades) < count:
        now += 50_000_000
        trades.extend(model.step(now).trades)
    return tuple(trades)


def test_simulator_trades_normalize_and_round_trip() -> None:
    trades = simulator_trades()
    assert len(trades) >= 2_000
    events = [normalize_trade(trade) for trade in trades]
    assert {event.state for event in events} == {"NEW", "CLEARED", "BUSTED"}
    assert {event.trade_type for event in events} == {"REGULAR", "BLOCK", "CROSS",
                                                      "REQUEST_FOR_QUOTE"}  # fmt: skip
    assert len({event.upstream_id for event in events}) == len(events)  # nothing is resent
    for event in events:
        assert TradeEvent.from_payload(event.to_payload()) == event
        assert len(event.firms) in (1, 2) and len(event.accounts) in (1, 2)


@needs_dictionary
def test_quickfix_accepts_every_simulator_trade() -> None:
    precisions = list(Precision)
    busted_sides = 0
    for number, trade in enumerate(simulator_trades()):
        busted_sides += _check_bodies(
            normalize_trade(trade), precisions[number % len(precisions)], quickfix=True
        )
    assert busted_sides >= 10  # the simulator busts ~2% of trades; both sides get an ER


@needs_dictionary
def test_quickfix_accepts_every_state_and_type() -> None:
    for _, state in enum_values("TradeState")[1:]:
        for _, trade_type in enum_values("TradeType"):
            for trade in _payload_cases():
                set_fields(trade, state=state, trade_type=trade_type)
                for precision in Precision:
                    _check_bodies(normalize_trade(trade), precision, quickfix=True)


@needs_dictionary
def test_quickfix_rejects_what_the_stock_dictionary_does_not_define() -> None:
    validate = _cached_validator()
    report = trade_capture_report_body(normalize_trade(make_trade()))
    validate("AE", report)
    with pytest.raises(Exception, match="167"):
        validate("AE", [*report, (167, "EVENT")])
    with pytest.raises(Exception, match="828"):
        validate("AE", [(tag, "99") if tag == 828 else (tag, v) for tag, v in report])
    with pytest.raises(Exception, match="7928"):
        validate("AE", [*report, (7928, "x")])


# --- properties: total over arbitrary protobufs ----------------------------------------------

TRADES = st.builds(
    lambda values: orders_pb2.Trade(**_without_none(values)),
    st.fixed_dictionaries(
        {
            "id": TEXTS,
            "aggressor": st.one_of(st.none(), EXECUTIONS),
            "passive": st.one_of(st.none(), EXECUTIONS),
            "trade_type": ENUMS,
            "state": ENUMS,
            "reporting_counterparty": ENUMS,
            "text": TEXTS,
            "trade_link_id": TEXTS,
        }
    ),
)


def _plausible_trade(trade: orders_pb2.Trade) -> orders_pb2.Trade:
    """Nudge a random trade towards valid, so the success path gets exercised too."""
    plausible = orders_pb2.Trade()
    plausible.CopyFrom(trade)
    plausible.id = plausible.id.replace("\x01", "") or "T1"
    set_fields(
        plausible,
        state=abs(plausible.state) % 9 + 1,
        trade_type=abs(plausible.trade_type) % 5,
    )
    plausible.text = plausible.text.replace("\x01", "")
    plausible.trade_link_id = plausible.trade_link_id.replace("\x01", "")
    aggressor, passive = _plausible(plausible.aggressor), _plausible(plausible.passive)
    aggressor.last_shares = abs(aggressor.last_shares) % 10**12 + 1
    set_fields(
        passive,
        last_shares=aggressor.last_shares,
        last_px=aggressor.last_px,
    )
    set_fields(
        passive.order,
        symbol=aggressor.order.symbol,
        price_scale=aggressor.order.price_scale,
        fractional_quantity_scale=aggressor.order.fractional_quantity_scale,
    )
    for execution, side in ((aggressor, pb.SIDE_BUY), (passive, pb.SIDE_SELL)):
        execution.type = (
            pb.EXECUTION_TYPE_FILL if execution.aggressor else pb.EXECUTION_TYPE_PARTIAL_FILL
        )
        execution.order.side = side
        execution.order.cum_qty = max(execution.order.cum_qty, execution.last_shares)
        if execution.trade_id:
            execution.trade_id = plausible.id
    if aggressor.transact_time.seconds % 2:
        aggressor.order.side, passive.order.side = pb.SIDE_SELL, pb.SIDE_BUY
    plausible.aggressor.CopyFrom(aggressor)
    plausible.passive.CopyFrom(passive)
    return plausible


def _check_total(trade: orders_pb2.Trade) -> bool:
    """Either a NormalizationError, or an event whose bodies render at every precision."""
    try:
        event = normalize_trade(trade)
    except NormalizationError as error:
        assert error.field
        assert str(error).startswith(error.field)
        return False
    for precision in Precision:
        _check_bodies(event, precision, quickfix=False)
    _assert_identical(TradeEvent.from_payload(event.to_payload()), event)
    if event.is_bust:
        back = TradeEvent.from_payload(settled(event).to_payload())
        _assert_identical(back, settled(event))
    return True


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TRADES)
def test_arbitrary_trades_normalize_or_raise_normalization_error(trade: orders_pb2.Trade) -> None:
    _check_total(trade)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TRADES)
def test_nearly_valid_trades_normalize(trade: orders_pb2.Trade) -> None:
    assert _check_total(_plausible_trade(trade))


@needs_dictionary
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TRADES, st.sampled_from(list(Precision)))
def test_quickfix_accepts_arbitrary_valid_trades(
    trade: orders_pb2.Trade, precision: Precision
) -> None:
    _check_bodies(normalize_trade(_plausible_trade(trade)), precision, quickfix=True)
