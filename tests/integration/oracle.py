"""The expected FIX values for a simulator Execution, computed independently of fixbridge.

Written from the exchange spec (§2.2, §4.3, §4.7), not from fixbridge's normalizer, so an
integration test comparing the two can fail when the normalizer is wrong.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from fixbridge.proto.polymarket.v1 import trading_pb2

EXEC_TYPE = {0: "0", 1: "F", 2: "F", 3: "4", 4: "5", 5: "8", 6: "C", 7: "3"}
ORD_STATUS = {0: "0", 1: "1", 2: "2", 3: "4", 5: "8", 6: "C", 7: "A", 8: "E", 9: "6", 10: "A"}
SIDE = {1: "1", 2: "2"}
ORD_TYPE = {1: "K", 2: "2", 3: "3", 4: "4"}
TIME_IN_FORCE = {0: "0", 1: "0", 2: "1", 3: "3", 4: "6", 5: "4"}
DECIMAL_TAGS = frozenset({6, 12, 14, 31, 32, 38, 44, 99, 110, 119, 151, 381})


def _utc(seconds: int, nanos: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y%m%d-%H:%M:%S") + f".{nanos:09d}"


def expected_execution_report(e: trading_pb2.Execution) -> dict[int, str | Decimal]:
    o = e.order
    price_scale = Decimal(o.price_scale)
    qty_scale = Decimal(o.fractional_quantity_scale or 1)
    fill = e.type in (1, 2)
    exp: dict[int, str | Decimal] = {
        17: e.id,
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


def mismatches(expected: dict[int, str | Decimal], received: dict[int, str]) -> list[str]:
    problems = []
    for tag, want in expected.items():
        got = received.get(tag)
        if got is None:
            problems.append(f"tag {tag} missing (expected {want})")
        elif isinstance(want, Decimal):
            if Decimal(got) != want:
                problems.append(f"tag {tag}: got {got}, expected {want}")
        elif got != want:
            problems.append(f"tag {tag}: got {got!r}, expected {want!r}")
    return problems
