"""The simulated market: deterministic for a seed, and every stream tells one consistent story.

One run of ~5,000 executions (seed 7, 20 ms per step) is shared by most tests; each test checks
one rule of the exchange contract against it.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cache

import pytest

from fixbridge.proto.polymarket.v1 import (
    dropcopy_pb2,
    enums_pb2,
    orders_pb2,
    refdata_pb2,
    trading_pb2,
)
from fixbridge.simulator.exchange import REINSTATED_EXPIRY_TEXT
from fixbridge.simulator.market import MarketModel, StepOutput
from fixbridge.simulator.orders import vwap_half_up
from fixbridge.simulator.refdata import ACCOUNTS, FIRMS, SYMBOLS, SYMBOLS_BY_NAME
from fixbridge.simulator.times import from_timestamp

E = enums_pb2
START_NS = 1_795_000_000_000_000_000  # 2026-11-18
STEP_NS = 20_000_000
TARGET_EXECUTIONS = 5_000
ID = re.compile(r"^[0-9A-Z]{13}$")

STATE_OF = {
    E.EXECUTION_TYPE_NEW: E.ORDER_STATE_NEW,
    E.EXECUTION_TYPE_PARTIAL_FILL: E.ORDER_STATE_PARTIALLY_FILLED,
    E.EXECUTION_TYPE_FILL: E.ORDER_STATE_FILLED,
    E.EXECUTION_TYPE_CANCELED: E.ORDER_STATE_CANCELED,
    E.EXECUTION_TYPE_REPLACE: E.ORDER_STATE_REPLACED,
    E.EXECUTION_TYPE_REJECTED: E.ORDER_STATE_REJECTED,
    E.EXECUTION_TYPE_EXPIRED: E.ORDER_STATE_EXPIRED,
    E.EXECUTION_TYPE_DONE_FOR_DAY: E.ORDER_STATE_EXPIRED,
}
TERMINAL = {
    E.ORDER_STATE_FILLED,
    E.ORDER_STATE_CANCELED,
    E.ORDER_STATE_REJECTED,
    E.ORDER_STATE_EXPIRED,
}
FILLS = {E.EXECUTION_TYPE_PARTIAL_FILL, E.EXECUTION_TYPE_FILL}


@dataclass(frozen=True)
class Run:
    executions: list[trading_pb2.Execution]
    trades: list[orders_pb2.Trade]
    instruments: list[refdata_pb2.Instrument]
    position_changes: list[dropcopy_pb2.PositionChange]
    instrument_times: list[int]
    """The instant of each instrument state change, as the exchange hands it to its log."""


def run_model(seed: int, *, executions: int = TARGET_EXECUTIONS, capped: bool = False) -> Run:
    """Step until ``executions`` were produced; ``capped`` passes the remaining budget."""
    model = MarketModel(seed)
    run = Run([], [], [], [], [])
    now = START_NS
    for _ in range(100 * executions + 100):
        if len(run.executions) >= executions:
            break
        out = model.step(now, executions - len(run.executions) if capped else None)
        now += STEP_NS
        run.executions.extend(out.executions)
        run.trades.extend(out.trades)
        run.instruments.extend(out.instruments)
        run.instrument_times.extend(c.time_ns for c in out.instrument_changes)
        run.position_changes.extend(out.position_changes)
    return run


@cache
def seven() -> Run:
    return run_model(7)


def serialized(out: StepOutput) -> list[bytes]:
    streams = (out.executions, out.trades, out.instruments, out.position_changes)
    return [m.SerializeToString(deterministic=True) for stream in streams for m in stream]


def by_order(executions: list[trading_pb2.Execution]) -> dict[str, list[trading_pb2.Execution]]:
    grouped: dict[str, list[trading_pb2.Execution]] = defaultdict(list)
    for execution in executions:
        grouped[execution.order.id].append(execution)
    return grouped


# ----------------------------------------------------------------------------- determinism


def test_same_seed_and_same_times_give_byte_identical_events() -> None:
    first, second = MarketModel(1234), MarketModel(1234)
    for step in range(1_500):
        now = START_NS + step * 7_000_000 + (step % 3) * 11
        assert serialized(first.step(now)) == serialized(second.step(now)), f"step {step}"


def test_another_seed_gives_another_market() -> None:
    a, b = MarketModel(1), MarketModel(2)
    a_bytes = [serialized(a.step(START_NS + i * STEP_NS)) for i in range(200)]
    b_bytes = [serialized(b.step(START_NS + i * STEP_NS)) for i in range(200)]
    assert a_bytes != b_bytes


# ---------------------------------------------------------------------------- reference data


def test_reference_data_has_the_promised_variety() -> None:
    assert len(SYMBOLS) >= 6
    assert {s.price_scale for s in SYMBOLS} == {100, 1000}
    assert {s.fractional_qty_scale for s in SYMBOLS} == {1, 100}
    assert len(FIRMS) >= 2
    assert all(len(firm.accounts) >= 2 for firm in FIRMS)
    for spec in SYMBOLS:
        assert spec.reference_price % spec.tick == 0
        assert spec.min_price <= spec.reference_price <= spec.max_price


def test_every_order_carries_the_scales_of_its_symbol() -> None:
    for execution in seven().executions:
        order = execution.order
        spec = SYMBOLS_BY_NAME[order.symbol]
        assert order.price_scale == spec.price_scale
        assert order.fractional_quantity_scale == spec.fractional_qty_scale


def test_accounts_and_participants_are_firm_scoped_names() -> None:
    accounts = {a.name: a for a in ACCOUNTS}
    for execution in seven().executions:
        order = execution.order
        assert re.fullmatch(r"firms/[A-Z-]+/accounts/[a-z0-9-]+", order.account)
        assert re.fullmatch(r"firms/[A-Z-]+/users/[a-z0-9-]+", order.participant)
        assert order.account.split("/")[1] == order.participant.split("/")[1]
        assert order.self_match_prevention_instruction == (accounts[order.account].smp_instruction)


def test_prices_are_between_one_and_ninety_nine_cents() -> None:
    for execution in seven().executions:
        order = execution.order
        low, high = order.price_scale // 100, order.price_scale * 99 // 100
        for price in (order.price, order.stop_price, execution.last_px, order.avg_px):
            assert price == 0 or low <= price <= high, execution


# ------------------------------------------------------------------------------------- ids


def test_execution_ids_are_unique_13_character_ids() -> None:
    ids = [e.id for e in seven().executions]
    assert len(set(ids)) == len(ids)
    assert all(ID.match(i) for i in ids)
    assert all(ID.match(e.order.id) for e in seven().executions)


def test_every_fill_has_a_trade_id_and_every_other_execution_has_none() -> None:
    for execution in seven().executions:
        if execution.type in FILLS:
            assert ID.match(execution.trade_id)
            assert execution.last_shares > 0 and execution.last_px > 0
            assert execution.transact_trade_date.year >= 2026
        else:
            assert execution.trade_id == ""
            assert execution.last_shares == 0 and execution.last_px == 0


# ------------------------------------------------------------------------ order lifecycles


def test_cum_leaves_and_avg_px_follow_the_fills() -> None:
    assert_order_arithmetic(seven())


def bust_times(run: Run) -> dict[str, int]:
    """Trade id -> the instant it was busted, read off the position stream: a bust moves both
    sides' positions at one instant, each lowering qty_bought or qty_sold (a fill never lowers
    them), and busts come in the same order there as the BUSTED records in the trade stream."""
    seen: dict[tuple[str, str], tuple[int, int]] = {}
    lowered: list[int] = []
    for change in run.position_changes:
        position = change.position
        key = (position.account, position.symbol)
        bought, sold = seen.get(key, (0, 0))
        if position.qty_bought < bought or position.qty_sold < sold:
            lowered.append(from_timestamp(change.change_time))
        seen[key] = (position.qty_bought, position.qty_sold)
    busted = [t.id for t in run.trades if t.state == E.TRADE_STATE_BUSTED]
    assert lowered[0::2] == lowered[1::2], "both sides of a bust move at one instant"
    return dict(zip(busted, lowered[0::2], strict=True))


def assert_order_arithmetic(run: Run) -> None:
    """CumQty, AvgPx, the fill map and the collected commission of every execution's order are
    those of the order's fills so far less the ones busted before that execution."""
    busted_at = bust_times(run)
    for order_id, executions in by_order(run.executions).items():
        fills: list[trading_pb2.Execution] = []
        for execution in executions:
            order = execution.order
            if execution.type in FILLS:
                fills.append(execution)
                assert order.last_trade_id == execution.trade_id
            at = from_timestamp(execution.transact_time)
            standing = [f for f in fills if busted_at.get(f.trade_id, at + 1) > at]
            cum = sum(f.last_shares for f in standing)
            notional = sum(f.last_shares * f.last_px for f in standing)
            filled_at: Counter[int] = Counter()
            for f in standing:
                filled_at[f.last_px] += f.last_shares
            assert order.cum_qty == cum, order_id
            assert order.avg_px == vwap_half_up(notional, cum), order_id
            assert dict(order.price_to_quantity_filled) == dict(filled_at), order_id
            assert order.commission_notional_total_collected == sum(
                f.commission_notional_collected for f in standing)
            if order.state in TERMINAL:
                assert order.leaves_qty == 0, order_id
            else:
                assert order.leaves_qty == order.order_qty - cum > 0, order_id


def test_avg_px_rounds_half_up() -> None:
    assert vwap_half_up(0, 0) == 0
    assert vwap_half_up(1 * 52 + 1 * 53, 2) == 53  # 52.5 -> 53
    assert vwap_half_up(2 * 52 + 1 * 53, 3) == 52  # 52.33 -> 52
    assert vwap_half_up(1 * 52 + 2 * 53, 3) == 53  # 52.67 -> 53


def test_order_state_matches_the_execution_type() -> None:
    for execution in seven().executions:
        assert execution.order.state == STATE_OF[execution.type], execution


def test_nothing_happens_to_an_order_after_it_is_done() -> None:
    """Except that a bust reinstates a FILLED order: then it may rest and trade again, or have
    its reinstated quantity expired."""
    busted_at = bust_times(seven())
    reinstated = 0
    for order_id, executions in by_order(seven().executions).items():
        assert executions[0].type in (E.EXECUTION_TYPE_NEW, E.EXECUTION_TYPE_REJECTED)
        if executions[0].type == E.EXECUTION_TYPE_REJECTED:
            assert len(executions) == 1
        trade_ids = {e.trade_id for e in executions if e.type in FILLS}
        for done, after in itertools.pairwise(executions):
            if done.order.state not in TERMINAL:
                continue
            assert done.order.state == E.ORDER_STATE_FILLED, order_id
            start, end = from_timestamp(done.transact_time), from_timestamp(after.transact_time)
            assert any(start < busted_at.get(t, 0) < end for t in trade_ids), order_id
            reinstated += 1
    assert reinstated > 0, "seed 7 must reinstate some filled order"


def test_transact_times_never_go_back_and_last_transact_time_is_set() -> None:
    times = [from_timestamp(e.transact_time) for e in seven().executions]
    assert times == sorted(times)
    for execution in seven().executions:
        assert execution.order.last_transact_time == execution.transact_time


def test_every_execution_type_order_type_and_time_in_force_appears() -> None:
    executions = seven().executions
    assert {e.type for e in executions} == set(E.ExecutionType.values())
    assert {e.order.type for e in executions} == {1, 2, 3, 4}
    assert {e.order.time_in_force for e in executions} == {1, 2, 3, 4, 5}
    assert any(e.order.min_qty for e in executions)


def test_order_attributes_follow_type_and_time_in_force() -> None:
    for execution in seven().executions:
        order = execution.order
        is_stop = order.type in (E.ORDER_TYPE_STOP, E.ORDER_TYPE_STOP_LIMIT)
        assert (order.stop_price > 0) == is_stop, order
        is_gtt = order.time_in_force == E.TIME_IN_FORCE_GOOD_TILL_TIME
        assert order.HasField("good_till_time") == is_gtt, order


def test_replace_changes_quantity_or_price_and_the_clord_id() -> None:
    seen = 0
    for executions in by_order(seven().executions).values():
        for before, after in itertools.pairwise(executions):
            if after.type == E.EXECUTION_TYPE_REPLACE:
                seen += 1
                assert after.order.clord_id != before.order.clord_id
                assert (after.order.order_qty, after.order.price) != (
                    before.order.order_qty,
                    before.order.price,
                )
                assert after.order.order_qty > after.order.cum_qty
    assert seen > 20


def test_rejects_carry_a_reason_and_a_text() -> None:
    rejects = [e for e in seven().executions if e.type == E.EXECUTION_TYPE_REJECTED]
    assert all(e.text for e in rejects)
    reasons = {e.order_reject_reason for e in rejects}
    assert {
        E.ORD_REJECT_REASON_PRICE_OUT_OF_BOUNDS,
        E.ORD_REJECT_REASON_EXCHANGE_CLOSED,
        E.ORD_REJECT_REASON_INCORRECT_QUANTITY,
        E.ORD_REJECT_REASON_EXCHANGE_OPTION,
    } <= reasons
    band = [
        e.text for e in rejects if e.order_reject_reason == E.ORD_REJECT_REASON_PRICE_OUT_OF_BOUNDS
    ]
    assert all(re.fullmatch(r"(Low|High) price limit is 0\.\d+, given 0\.\d+", t) for t in band)


def test_cancels_solicited_unsolicited_and_self_match_prevention() -> None:
    cancels = [e for e in seven().executions if e.type == E.EXECUTION_TYPE_CANCELED]
    reasons = Counter(e.unsolicited_cancel_reason for e in cancels)
    assert reasons[E.UNSOLICITED_CXL_REASON_UNDEFINED] > 0
    assert reasons[E.UNSOLICITED_CXL_REASON_EXCHANGE_OPTION] > 0
    assert (
        reasons[E.UNSOLICITED_CXL_REASON_CONNECTION_LOSS] + reasons[E.UNSOLICITED_CXL_REASON_LOGOUT]
        > 0
    )
    smp = [e for e in cancels if e.text == "Self Match Prevention"]
    assert smp and all(e.unsolicited_cancel_reason == E.UNSOLICITED_CXL_REASON_OTHER for e in smp)
    for execution in cancels:
        if execution.unsolicited_cancel_reason != E.UNSOLICITED_CXL_REASON_UNDEFINED:
            assert execution.text


def test_immediate_orders_expire_what_they_cannot_fill() -> None:
    """And expire at once what a bust reinstates: they can never rest."""
    ioc_partial_then_expired = fok_new_then_expired = reinstated_expired = 0
    for order_executions in by_order(seven().executions).values():
        tif = order_executions[0].order.time_in_force
        executions = [e for e in order_executions if e.text != REINSTATED_EXPIRY_TEXT]
        after_bust = order_executions[len(executions):]
        if tif in (E.TIME_IN_FORCE_FILL_OR_KILL, E.TIME_IN_FORCE_IMMEDIATE_OR_CANCEL):
            assert executions == order_executions[:len(executions)]
            assert len(after_bust) <= 1
            if after_bust:
                assert after_bust[0].type == E.EXECUTION_TYPE_EXPIRED
                assert executions[-1].order.state == E.ORDER_STATE_FILLED
                assert after_bust[0].order.cum_qty < after_bust[0].order.order_qty
                reinstated_expired += 1
        types = [e.type for e in executions]
        if tif == E.TIME_IN_FORCE_FILL_OR_KILL and types[0] != E.EXECUTION_TYPE_REJECTED:
            final = executions[-1].order
            assert final.state in (E.ORDER_STATE_FILLED, E.ORDER_STATE_EXPIRED)
            if final.state == E.ORDER_STATE_EXPIRED:
                assert types == [E.EXECUTION_TYPE_NEW, E.EXECUTION_TYPE_EXPIRED]
                fok_new_then_expired += 1
            else:
                assert final.cum_qty == final.order_qty
        if tif == E.TIME_IN_FORCE_IMMEDIATE_OR_CANCEL and types[0] == E.EXECUTION_TYPE_NEW:
            assert executions[-1].order.state in TERMINAL
            if types[-1] == E.EXECUTION_TYPE_EXPIRED and E.EXECUTION_TYPE_PARTIAL_FILL in types:
                ioc_partial_then_expired += 1
    assert ioc_partial_then_expired > 0
    assert fok_new_then_expired > 0
    assert reinstated_expired > 0


def test_done_for_day_is_for_day_orders_only() -> None:
    dfd = [e for e in seven().executions if e.type == E.EXECUTION_TYPE_DONE_FOR_DAY]
    assert dfd
    assert all(e.order.time_in_force == E.TIME_IN_FORCE_DAY for e in dfd)


def test_good_till_time_orders_expire_at_their_time() -> None:
    expired = [
        e
        for e in seven().executions
        if e.type == E.EXECUTION_TYPE_EXPIRED
        and e.order.time_in_force == E.TIME_IN_FORCE_GOOD_TILL_TIME
        and not e.text
    ]
    assert expired
    for execution in expired:
        assert from_timestamp(execution.transact_time) >= from_timestamp(
            execution.order.good_till_time
        )


# ------------------------------------------------------------------------ fills and trades


def test_each_trade_id_pairs_an_aggressor_and_a_passive_fill() -> None:
    assert assert_fills_pair_up(seven()) > 0, "no trade between two firms"


def assert_fills_pair_up(run: Run) -> int:
    """Checks the pairs; returns how many trades were between two different firms."""
    pairs: dict[str, list[trading_pb2.Execution]] = defaultdict(list)
    for execution in run.executions:
        if execution.type in FILLS:
            pairs[execution.trade_id].append(execution)
    firms_crossed = 0
    for trade_id, fills in pairs.items():
        assert len(fills) == 2, trade_id
        taker, maker = sorted(fills, key=lambda e: not e.aggressor)
        assert taker.aggressor and not maker.aggressor
        assert taker.order.id != maker.order.id
        assert taker.order.account != maker.order.account
        assert taker.order.side != maker.order.side
        assert (taker.last_px, taker.last_shares, taker.transact_time, taker.order.symbol) == (
            maker.last_px,
            maker.last_shares,
            maker.transact_time,
            maker.order.symbol,
        )
        firms_crossed += taker.order.account.split("/")[1] != maker.order.account.split("/")[1]
    return firms_crossed


def test_fees_are_in_notional_units_with_rebates_for_makers() -> None:
    accounts = {a.name: a for a in ACCOUNTS}
    rebates = 0
    for execution in seven().executions:
        if execution.type not in FILLS:
            continue
        account = accounts[execution.order.account]
        bps = account.taker_bps if execution.aggressor else account.maker_bps
        notional = execution.last_shares * execution.last_px
        fee = execution.commission_notional_collected
        if bps > 0:
            assert notional * bps / 10_000 <= fee < notional * bps / 10_000 + 1
        elif bps < 0:
            assert notional * bps / 10_000 <= fee <= 0
            rebates += fee < 0
        else:
            assert fee == 0
    assert rebates > 0


def test_trades_are_new_then_cleared_sometimes_busted() -> None:
    run = seven()
    assert_trades_match_fills(run)
    history: dict[str, list[int]] = defaultdict(list)
    for trade in run.trades:
        history[trade.id].append(trade.state)
    allowed = (
        [E.TRADE_STATE_NEW],
        [E.TRADE_STATE_NEW, E.TRADE_STATE_CLEARED],
        [E.TRADE_STATE_NEW, E.TRADE_STATE_CLEARED, E.TRADE_STATE_BUSTED],
    )
    assert all(states in allowed for states in history.values())
    busted = sum(E.TRADE_STATE_BUSTED in states for states in history.values())
    assert 0 < busted < len(history) * 0.06
    types = Counter(t.trade_type for t in run.trades if t.state == E.TRADE_STATE_NEW)
    assert types[E.TRADE_TYPE_REGULAR] > len(history) * 0.8
    assert {E.TRADE_TYPE_BLOCK, E.TRADE_TYPE_CROSS, E.TRADE_TYPE_REQUEST_FOR_QUOTE} <= set(types)


def assert_trades_match_fills(run: Run) -> None:
    fills = {(e.trade_id, e.aggressor): e for e in run.executions if e.type in FILLS}
    for trade in run.trades:
        assert trade.aggressor == fills[(trade.id, True)]
        assert trade.passive == fills[(trade.id, False)]
        assert trade.reporting_counterparty == trade.aggressor.order.side
    assert {t.id for t in run.trades} == {trade_id for trade_id, _ in fills}


# -------------------------------------------------------------------------------- positions


def test_positions_follow_fills_and_busts() -> None:
    assert_positions_follow(seven())


def assert_positions_follow(run: Run) -> None:
    expected: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])  # net, buy, sell
    for execution in run.executions:
        if execution.type in FILLS:
            book = expected[(execution.order.account, execution.order.symbol)]
            signed = execution.last_shares
            if execution.order.side == E.SIDE_BUY:
                book[0] += signed
                book[1] += signed
            else:
                book[0] -= signed
                book[2] += signed
    for trade in run.trades:
        if trade.state == E.TRADE_STATE_BUSTED:
            for execution in (trade.aggressor, trade.passive):
                book = expected[(execution.order.account, execution.order.symbol)]
                if execution.order.side == E.SIDE_BUY:
                    book[0] -= execution.last_shares
                    book[1] -= execution.last_shares
                else:
                    book[0] += execution.last_shares
                    book[2] -= execution.last_shares
    last: dict[tuple[str, str], dropcopy_pb2.PositionChange] = {}
    for change in run.position_changes:
        position = change.position
        last[(position.account, position.symbol)] = change
        assert position.net_position == position.qty_bought - position.qty_sold
        assert position.update_time == change.change_time
        if position.net_position == 0:
            assert position.cost == 0
    assert set(last) == set(expected)
    for key, change in last.items():
        position = change.position
        assert [position.net_position, position.qty_bought, position.qty_sold] == expected[key]
    for spec in SYMBOLS:
        assert sum(c.position.net_position for k, c in last.items() if k[1] == spec.symbol) == 0


def test_position_changes_come_in_time_order() -> None:
    times = [from_timestamp(c.change_time) for c in seven().position_changes]
    assert times == sorted(times)


# ------------------------------------------------------------------------------ instruments


def test_instruments_open_first_then_change_state_now_and_then() -> None:
    instruments = seven().instruments
    opening = instruments[: len(SYMBOLS)]
    assert [i.symbol for i in opening] == [s.symbol for s in SYMBOLS]
    assert all(i.state == E.INSTRUMENT_STATE_OPEN for i in opening)
    states = {i.state for i in instruments}
    assert {
        E.INSTRUMENT_STATE_HALTED,
        E.INSTRUMENT_STATE_CLOSED,
        E.INSTRUMENT_STATE_PREOPEN,
        E.INSTRUMENT_STATE_SUSPENDED,
        E.INSTRUMENT_STATE_EXPIRED,
    } <= states
    times = seven().instrument_times
    assert len(times) == len(instruments) and times == sorted(times)
    for instrument in instruments:
        spec = SYMBOLS_BY_NAME[instrument.symbol]
        assert instrument.price_scale == spec.price_scale
        assert instrument.fractional_qty_scale == spec.fractional_qty_scale


def test_no_trading_while_an_instrument_is_not_open() -> None:
    run = seven()
    events = sorted(
        [(t, 0, i.symbol, i.state) for t, i in zip(run.instrument_times, run.instruments,
                                                   strict=True)]
        + [
            (from_timestamp(e.transact_time), 1, e.order.symbol, e.type)
            for e in run.executions
            if e.type in FILLS or e.type == E.EXECUTION_TYPE_NEW
        ]
    )
    state: dict[str, int] = {}
    for _, kind, symbol, value in events:
        if kind == 0:
            state[symbol] = value
        else:
            assert state[symbol] == E.INSTRUMENT_STATE_OPEN, (symbol, value)


@pytest.mark.parametrize("seed", [3, 99])
def test_other_seeds_keep_the_books_consistent(seed: int) -> None:
    run = run_model(seed, executions=2_000)
    assert_order_arithmetic(run)
    for execution in run.executions:
        assert execution.order.state == STATE_OF[execution.type]


# ------------------------------------------------------------------------ execution budget


def test_an_unreached_budget_changes_nothing() -> None:
    free, budgeted = MarketModel(5), MarketModel(5)
    for step in range(800):
        now = START_NS + step * STEP_NS
        assert serialized(free.step(now)) == serialized(budgeted.step(now, 10**9)), step


def test_a_capped_run_ends_exactly_on_its_cap_and_stays_consistent() -> None:
    run = run_model(21, executions=3_001, capped=True)
    assert len(run.executions) == 3_001
    assert_order_arithmetic(run)
    assert_fills_pair_up(run)
    assert_trades_match_fills(run)
    assert_positions_follow(run)


@pytest.mark.parametrize("cap", [1, 2, 3, 5, 8, 13, 21, 34, 55, 89])
def test_small_caps_are_hit_exactly(cap: int) -> None:
    for seed in range(8):
        run = run_model(seed, executions=cap, capped=True)
        assert len(run.executions) == cap, seed
        assert_fills_pair_up(run)
        assert_trades_match_fills(run)
