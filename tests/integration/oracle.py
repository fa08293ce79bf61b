"""The expected FIX values for a simulator Execution, computed independently of fixbridge.

Written from the exchange spec (§2.2, §4.3, §4.7), not from fixbridge's normalizer, so an
integration test comparing the two can fail when the normalizer is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fixbridge.proto.polymarket.v1 import trading_pb2

EXEC_TYPE = {0: "0", 1: "F", 2: "F", 3: "4", 4: "5", 5: "8", 6: "C", 7: "3"}
ORD_STATUS = {0: "0", 1: "1", 2: "2", 3: "4", 5: "8", 6: "C", 7: "A", 8: "E", 9: "6", 10: "A"}
SIDE = {1: "1", 2: "2"}
ORD_TYPE = {1: "K", 2: "2", 3: "3", 4: "4"}
TIME_IN_FORCE = {0: "0", 1: "0", 2: "1", 3: "3", 4: "6", 5: "4"}
DECIMAL_TAGS = frozenset({6, 12, 14, 31, 32, 38, 44, 99, 110, 119, 151, 381})


def _utc(seconds: int, nanos: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y%m%d-%H:%M:%S") + f".{nanos:09d}"


def previous_cl_ord_ids(executions: list[trading_pb2.Execution]) -> dict[str, str | None]:
    """Exec id -> the ClOrdID its order had on its previous execution, where it differs."""
    last: dict[str, str] = {}
    out: dict[str, str | None] = {}
    for e in executions:
        before = last.get(e.order.id)
        out[e.id] = before if before and before != e.order.clord_id else None
        if e.order.clord_id:
            last[e.order.id] = e.order.clord_id
    return out


def expected_execution_report(
    e: trading_pb2.Execution, orig_cl_ord_id: str | None = None
) -> dict[int, str | Decimal | None]:
    """Tag -> value; ``None`` means the tag must not be sent."""
    o = e.order
    price_scale = Decimal(o.price_scale)
    qty_scale = Decimal(o.fractional_quantity_scale or 1)
    fill = e.type in (1, 2)
    exp: dict[int, str | Decimal | None] = {
        17: e.id,
        41: orig_cl_ord_id,
        37: o.id,
        55: o.symbol,
        48: o.symbol,
        22: "8",
        54: SIDE[o.side],
        150: EXEC_TYPE[e.type],
        39: "3" if e.type == 7 else ORD_STATUS.get(o.state, "0" if o.cum_qty == 0 else "1"),
        59: TIME_IN_FORCE[o.time_in_force],
        1: o.account,
        32: Decimal(e.last_shares) / qty_scale if fill else Decimal(0),
        31: Decimal(e.last_px) / price_scale if fill else Decimal(0),
        14: Decimal(o.cum_qty) / qty_scale,
        151: Decimal(o.leaves_qty) / qty_scale,
        38: Decimal(o.order_qty) / qty_scale,
        6: Decimal(o.avg_px) / price_scale,
        99: Decimal(o.stop_price) / price_scale,
        60: _utc(e.transact_time.seconds, e.transact_time.nanos),
    }
    if o.type in ORD_TYPE:
        exp[40] = ORD_TYPE[o.type]
    if o.clord_id:
        exp[11] = o.clord_id
    if o.price:
        exp[44] = Decimal(o.price) / price_scale
    if fill:
        exp[880] = e.trade_id
        exp[1057] = "Y" if e.aggressor else "N"
        exp[12] = Decimal(e.commission_notional_collected) / (price_scale * qty_scale)
        exp[119] = exp[31] * exp[32]  # type: ignore[operator]
    if e.type == 5:
        exp[58] = e.text
    return exp


def mismatches(
    expected: Mapping[int, str | Decimal | None], received: dict[int, str]
) -> list[str]:
    problems = []
    for tag, want in expected.items():
        got = received.get(tag)
        if want is None:
            if got is not None:
                problems.append(f"tag {tag}: got {got!r}, expected it absent")
        elif got is None:
            problems.append(f"tag {tag} missing (expected {want})")
        elif isinstance(want, Decimal):
            if Decimal(got) != want:
                problems.append(f"tag {tag}: got {got}, expected {want}")
        elif got != want:
            problems.append(f"tag {tag}: got {got!r}, expected {want!r}")
    return problems


# --- the other three streams ----------------------------------------------------------------
# Written from the exchange spec and specs/mapping.md's decisions, not from fixbridge's code.

INSTRUMENT_STATES = {0: "CLOSED", 1: "OPEN", 2: "PREOPEN", 3: "SUSPENDED", 4: "EXPIRED",
                     5: "TERMINATED", 6: "HALTED", 7: "MATCH_AND_CLOSE_AUCTION",
                     8: "PENDING"}  # fmt: skip
SECURITY_TRADING_STATUS = {0: "26", 1: "17", 2: "21", 3: "18", 4: "19", 5: "4", 6: "2",
                           7: "24", 8: "1"}  # fmt: skip
TRADE_STATES = {1: "NEW", 2: "CLEARED", 3: "BUSTED", 4: "INFLIGHT", 5: "PENDING_RISK",
                6: "PENDING_CLEARED", 7: "REJECTED", 8: "CLEARING_ACKNOWLEDGED",
                9: "RETRY_REQUEST"}  # fmt: skip


def rfc3339_to_fix(text: str) -> str:
    """``2026-11-21T11:04:08.286771652Z`` -> ``20261121-11:04:08.286771652``."""
    head, _, frac = text.rstrip("Z").partition(".")
    stamp = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").strftime("%Y%m%d-%H:%M:%S")
    return f"{stamp}.{frac.ljust(9, '0')}"


def expected_security_status(instrument: Any) -> dict[int, str | Decimal]:
    return {
        55: instrument.symbol,
        48: instrument.symbol,
        22: "8",
        326: SECURITY_TRADING_STATUS[instrument.state],
        58: INSTRUMENT_STATES[instrument.state],
        60: rfc3339_to_fix(instrument.metadata["update_time"]),
    }


def _split(net: Decimal) -> tuple[Decimal, Decimal]:
    return (net, Decimal(0)) if net >= 0 else (Decimal(0), -net)


def expected_position_report(
    change: Any, price_scale: int, qty_scale: int
) -> tuple[dict[int, str | Decimal], dict[str, tuple[Decimal, Decimal]], dict[str, Decimal]]:
    """Top-level fields, PositionQty by PosType (long, short), PosAmt by PosAmtType."""
    p = change.position
    qty = Decimal(qty_scale)
    money = Decimal(price_scale) * qty
    update_ns = p.update_time.seconds * 1_000_000_000 + p.update_time.nanos
    fields: dict[int, str | Decimal] = {
        721: f"{p.account}:{p.symbol}:{update_ns}",
        1: p.account,
        55: p.symbol,
        715: datetime.fromtimestamp(p.update_time.seconds, UTC).strftime("%Y%m%d"),
        60: _utc(p.update_time.seconds, p.update_time.nanos),
    }
    quantities = {
        "SOD": _split(Decimal(p.bod_position) / qty),
        "TQ": (Decimal(p.qty_bought) / qty, Decimal(p.qty_sold) / qty),
        "NET": _split(Decimal(p.net_position) / qty),
    }
    amounts = {"PREM": Decimal(p.cost) / money, "TVAR": Decimal(p.realized) / money}
    return fields, quantities, amounts


def expected_trade_capture(trade: Any) -> tuple[dict[int, str | Decimal], list[dict[int, str]]]:
    """Top-level fields and, aggressor first, each side's identifying fields."""
    a = trade.aggressor
    state = TRADE_STATES[trade.state]
    qty = Decimal(a.order.fractional_quantity_scale or 1)
    fields: dict[int, str | Decimal] = {
        571: f"{trade.id}-{state}",
        1003: trade.id,
        880: trade.id,
        487: {"NEW": "0", "BUSTED": "1"}.get(state, "2"),
        939: {"BUSTED": "2", "REJECTED": "1"}.get(state, "0"),
        55: a.order.symbol,
        32: Decimal(a.last_shares) / qty,
        31: Decimal(a.last_px) / Decimal(a.order.price_scale),
        60: _utc(a.transact_time.seconds, a.transact_time.nanos),
    }
    sides = [
        {54: SIDE[e.order.side], 1427: e.id, 37: e.order.id, 11: e.order.clord_id,
         1: e.order.account, 1057: flag}
        for e, flag in ((trade.aggressor, "Y"), (trade.passive, "N"))
    ]  # fmt: skip
    return fields, sides
