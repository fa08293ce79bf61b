"""The expected FIX values for the simulator's gRPC messages, computed independently of fixbridge.

Written from the exchange spec (spec/exchange-api.md §1.4, §1.5, §2.2, §3.4, §4.3, §4.4, §4.7),
the FIX 5.0 SP2 code sets and the decisions written down in specs/mapping.md, never from
fixbridge's code: nothing here imports fixbridge.normalize, fix, journal or upstream. An
integration test comparing the two fails when the bridge is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fixbridge.proto.polymarket.v1 import trading_pb2

EXEC_TYPE = {0: "0", 1: "F", 2: "F", 3: "4", 4: "5", 5: "8", 6: "C", 7: "3"}
STATE_STATUS = {0: "0", 1: "1", 2: "2", 3: "4", 5: "8", 6: "C", 7: "A", 8: "E", 9: "6", 10: "A"}
# FIX: the OrdStatus values allowed after each ExecType (Order State Change Matrices).
ALLOWED = {"0": {"0"}, "F": {"1", "2", "6", "E"}, "4": {"4"}, "5": {"0", "1", "2"},
           "8": {"8"}, "C": {"C"}, "3": {"3"}}  # fmt: skip
SIDE = {1: "1", 2: "2"}
ORD_TYPE = {1: "K", 2: "2", 3: "3", 4: "4"}
TIME_IN_FORCE = {0: "0", 1: "0", 2: "1", 3: "3", 4: "6", 5: "4"}
# §3.4: every limit reject (price, size, no liquidity) is 103=0; §2.2 for the rest.
ORD_REJ_REASON = {0: "0", 1: "1", 2: "2", 3: "0", 4: "18", 5: "11", 6: "0", 7: "0"}
# §2.2 drop-copy page: 8 = market/exchange option, 99 = other (and self-match prevention).
RESTATEMENT = {1: "99", 2: "99", 3: "8", 4: "99"}
# fix_profile "latest" (mapping.md): the extension packs' 12 Cancel on connection loss, 13
# Cancel on logout; a self-match-prevention cancel is 17.
LATEST_RESTATEMENT = {1: "12", 2: "13", 3: "8", 4: "99"}
# fix_profile "fix50sp2" (mapping.md): what the original FIX 5.0 SP2 messages do not define.
FIX50SP2_ER_LEFT_OUT = (828, 829, 855)
# 965 values the original FIX 5.0 SP2 lacks: suspended/halted is Inactive (2, "may become
# active again"); expired, delisted and never-yet-active are not, and 965 is left out.
FIX50SP2_INACTIVE = {"9"}
FIX50SP2_NO_STATUS = {"4", "5", "10"}
DECIMAL_TAGS = frozenset({6, 12, 14, 31, 32, 38, 44, 99, 110, 119, 151, 381})
NEW_YORK = ZoneInfo("America/New_York")
_VWAP = Context(prec=15, rounding=ROUND_HALF_EVEN)


def _utc(seconds: int, nanos: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y%m%d-%H:%M:%S") + f".{nanos:09d}"


def new_york_trade_date(seconds: int) -> str:
    """Spec §1.4: the trade day rolls at 5:00 PM New York time."""
    local = datetime.fromtimestamp(seconds, UTC).astimezone(NEW_YORK)
    if local.hour >= 17:
        local += timedelta(days=1)
    return local.strftime("%Y%m%d")


def trade_date_of(e: trading_pb2.Execution) -> str:
    d = e.transact_trade_date
    if (d.year, d.month, d.day) != (0, 0, 0):
        return f"{d.year:04d}{d.month:02d}{d.day:02d}"
    return new_york_trade_date(e.transact_time.seconds)


def short(name: str) -> str:
    """The exchange's short id of a resource name (spec §2.2 `1=account1`)."""
    parts = name.split("/")
    return parts[3] if len(parts) == 4 and parts[0] == "firms" and parts[1] else name


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


def _status(e: trading_pb2.Execution) -> str:
    o = e.order
    exec_type = EXEC_TYPE[e.type]
    state = STATE_STATUS.get(o.state)
    if state in ALLOWED[exec_type]:
        return state  # type: ignore[return-value]
    if exec_type == "5" and o.cum_qty == 0:
        return "0"
    if exec_type in ("F", "5"):
        return "2" if o.leaves_qty == 0 else "1"
    (only,) = ALLOWED[exec_type]
    return only


def expected_execution_report(
    e: trading_pb2.Execution, orig_cl_ord_id: str | None = None, profile: str = "exchange"
) -> dict[int, str | Decimal | None]:
    """Tag -> value; ``None`` means the tag must not be sent."""
    o = e.order
    price_scale = Decimal(o.price_scale)
    qty_scale = Decimal(o.fractional_quantity_scale or 1)
    fill = e.type in (1, 2)
    cum = Decimal(o.cum_qty) / qty_scale
    if o.price_to_quantity_filled:  # §4.4; AvgPx the VWAP of the fills (§2.2, §1.5)
        notional = sum(
            (Decimal(px) * Decimal(q) for px, q in o.price_to_quantity_filled.items()), Decimal(0)
        ) / (price_scale * qty_scale)
        avg_px = _VWAP.divide(notional, cum) if cum else Decimal(0)
    else:
        avg_px = Decimal(o.avg_px) / price_scale
        notional = avg_px * cum
    exp: dict[int, str | Decimal | None] = {
        17: e.id,
        41: orig_cl_ord_id,
        37: o.id,
        55: o.symbol,
        48: o.symbol,
        22: "8",
        54: SIDE[o.side],
        150: EXEC_TYPE[e.type],
        39: _status(e),
        59: TIME_IN_FORCE[o.time_in_force],
        1: short(o.account),
        32: Decimal(e.last_shares) / qty_scale if fill else Decimal(0),
        31: Decimal(e.last_px) / price_scale if fill else Decimal(0),
        14: cum,
        151: Decimal(o.leaves_qty) / qty_scale,
        38: Decimal(o.order_qty) / qty_scale,
        6: avg_px,
        381: notional if cum else None,
        99: Decimal(o.stop_price) / price_scale,
        60: _utc(e.transact_time.seconds, e.transact_time.nanos),
        75: trade_date_of(e),
        828: "0" if fill else None,
        103: ORD_REJ_REASON[e.order_reject_reason] if e.type == 5 else None,
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
    if e.type == 3:  # a cancel
        smp = "self match prevention" in e.text.casefold()
        if profile == "latest":
            exp[378] = "17" if smp else LATEST_RESTATEMENT.get(e.unsolicited_cancel_reason)
        else:
            exp[378] = "99" if smp else RESTATEMENT.get(e.unsolicited_cancel_reason)
    if e.type == 5:
        exp[58] = e.text
    if profile == "fix50sp2":
        exp |= dict.fromkeys(FIX50SP2_ER_LEFT_OUT)
    return exp


def expected_parties(o: Any) -> list[tuple[str, str]]:
    """(PartyID, PartyRole) of an order's report, exchange style (spec §2.2 Parties)."""
    firm = o.account.split("/")[1] if o.account.startswith("firms/") else ""
    parties = [
        (firm, "1"),
        (short(o.client_participant_id), "3"),
        (short(o.account), "24"),
        (short(o.participant), "36"),
    ]
    return [(party_id, role) for party_id, role in parties if party_id]


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

INSTRUMENT_STATES = {0: "CLOSED", 1: "OPEN", 2: "PREOPEN", 3: "SUSPENDED", 4: "EXPIRED",
                     5: "TERMINATED", 6: "HALTED", 7: "MATCH_AND_CLOSE_AUCTION",
                     8: "PENDING"}  # fmt: skip
# (326, 965, 625): FIX code sets read against the exchange's state descriptions (mapping.md).
SECURITY_STATUS = {0: ("18", "2", None), 1: ("17", "1", None), 2: ("21", "1", "2"),
                   3: ("2", "9", None), 4: ("4", "4", None), 5: ("4", "5", None),
                   6: ("2", "9", None), 7: ("21", "1", "4"), 8: ("18", "10", None)}  # fmt: skip
TRADE_STATES = {1: "NEW", 2: "CLEARED", 3: "BUSTED", 4: "INFLIGHT", 5: "PENDING_RISK",
                6: "PENDING_CLEARED", 7: "REJECTED", 8: "CLEARING_ACKNOWLEDGED",
                9: "RETRY_REQUEST"}  # fmt: skip
SECONDARY_TRD_TYPE = {3: "1", 2: "22"}  # BLOCK, REQUEST_FOR_QUOTE
TRD_SUB_TYPE = {4: "37"}  # CROSS


def expected_security_status(
    instrument: Any, profile: str = "exchange"
) -> dict[int, str | Decimal | None]:
    """Everything but the time, which is when the bridge received the change."""
    trading_status, status, sub_id = SECURITY_STATUS[instrument.state]
    if profile == "fix50sp2":
        status = (
            "2" if status in FIX50SP2_INACTIVE
            else None if status in FIX50SP2_NO_STATUS
            else status
        )
    return {
        55: instrument.symbol,
        48: instrument.symbol,
        22: "8",
        326: trading_status,
        965: status,
        625: sub_id,
        58: INSTRUMENT_STATES[instrument.state],
    }


def _split(net: Decimal) -> tuple[Decimal, Decimal]:
    return (net, Decimal(0)) if net >= 0 else (Decimal(0), -net)


def expected_position_report(
    change: Any, price_scale: int, qty_scale: int, profile: str = "exchange"
) -> tuple[
    dict[int, str | Decimal | None], dict[str, tuple[Decimal, Decimal]], dict[str, Decimal]
]:
    """Top-level fields, PositionQty by PosType (long, short), PosAmt by PosAmtType."""
    p = change.position
    qty = Decimal(qty_scale)
    money = Decimal(price_scale) * qty
    update_ns = p.update_time.seconds * 1_000_000_000 + p.update_time.nanos
    fields: dict[int, str | Decimal | None] = {
        721: f"{p.account}:{p.symbol}:{update_ns}",
        1: short(p.account),
        55: p.symbol,
        715: new_york_trade_date(p.update_time.seconds),
        60: _utc(p.update_time.seconds, p.update_time.nanos),
    }
    quantities = {
        "SOD": _split(Decimal(p.bod_position) / qty),
        "TQ": (Decimal(p.qty_bought) / qty, Decimal(p.qty_sold) / qty),
        "NET": _split(Decimal(p.net_position) / qty),
    }
    if p.expired:
        quantities["EXP"] = quantities["NET"]
    if profile == "fix50sp2":  # no NET or EXP PosType, no 60: SOD + TQ + PA is the net
        fields[60] = None
        del quantities["NET"]
        quantities.pop("EXP", None)
        adjustment = p.net_position - (p.bod_position + p.qty_bought - p.qty_sold)
        if adjustment:
            quantities["PA"] = _split(Decimal(adjustment) / qty)
    amounts = {"PREM": Decimal(p.cost) / money}  # realized P&L: never a margin PosAmtType
    return fields, quantities, amounts


def expected_trade_capture(
    trade: Any, first_report: bool, profile: str = "exchange"
) -> tuple[dict[int, str | Decimal | None], list[dict[int, str]]]:
    """Top-level fields and, aggressor first, each side's identifying fields, for a session
    that sees both sides; ``first_report``: no earlier version of the trade was sent to it."""
    a = trade.aggressor
    state = TRADE_STATES[trade.state]
    qty = Decimal(a.order.fractional_quantity_scale or 1)
    if first_report and state == "BUSTED" and profile == "fix50sp2":
        version = ("1", "6")  # no 939=2 to say it: never a New of a void trade
    elif first_report:
        version = ("0", "0")  # New / Submit
    elif state == "BUSTED":
        version = ("1", "6")  # Cancel / Trade Report Cancel
    else:  # Replace / Submit; "latest": Replace / Non-material update
        version = ("2", "18") if profile == "latest" else ("2", "0")
    status = {"BUSTED": "2", "REJECTED": "1"}.get(state, "0")
    if profile == "fix50sp2" and status == "2":
        status = None  # the original TrdRptStatus has no 2 Cancelled
    fields: dict[int, str | Decimal | None] = {
        571: f"{trade.id}-{state}",
        1003: trade.id,
        880: trade.id,
        487: version[0],
        856: version[1],
        939: status,
        828: "0",
        829: TRD_SUB_TYPE.get(trade.trade_type),
        855: SECONDARY_TRD_TYPE.get(trade.trade_type),
        55: a.order.symbol,
        32: Decimal(a.last_shares) / qty,
        31: Decimal(a.last_px) / Decimal(a.order.price_scale),
        60: _utc(a.transact_time.seconds, a.transact_time.nanos),
        75: trade_date_of(a),
    }
    sides = [
        {54: SIDE[e.order.side], 1427: e.id, 37: e.order.id, 11: e.order.clord_id,
         1: short(e.order.account), 1057: flag}
        for e, flag in ((trade.aggressor, "Y"), (trade.passive, "N"))
    ]  # fmt: skip
    return fields, sides


# --- trade cancels ---------------------------------------------------------------------------


def bust_problems(received: Iterable[Any], executions: Mapping[str, Any]) -> list[str]:
    """Each trade cancel (150=H) against the order after the bust, worked out from the busted
    fill as the exchange sent it (``executions`` by id) and what the FIX stream told before.

    FIX Order State Change Matrices, J: after a trade cancel the order's CumQty is its fills
    less every busted fill, AvgPx their VWAP; a Canceled, Expired or Done for day order keeps
    its status with no leaves, any other works again for OrderQty - CumQty, Partially filled
    or New. The exchange sends no time for a bust and may leave a busted fill out of its later
    order snapshots, so the quantities are counted from fills: the busted fill's own snapshot,
    the order's fills reported after it, and the busts reported after it (mapping.md,
    ExecutionReport trade cancel).
    """
    seen: list[Any] = []
    problems: list[str] = []
    for m in received:
        if m.msg_type != "8":
            continue
        if m.get(150) != "H":
            seen.append(m)
            continue
        fill = executions[m.get(19)]
        o = fill.order
        price_scale = Decimal(o.price_scale)
        qty_scale = Decimal(o.fractional_quantity_scale or 1)
        since = _utc(fill.transact_time.seconds, fill.transact_time.nanos)
        cum = Decimal(o.cum_qty) / qty_scale
        notional = sum(
            (Decimal(px) * Decimal(q) for px, q in o.price_to_quantity_filled.items()), Decimal(0)
        ) / (price_scale * qty_scale)
        status = _status(fill)
        order_qty = Decimal(o.order_qty) / qty_scale
        for earlier in seen:
            if earlier.get(37) != o.id or earlier.get(60) <= since:
                continue
            qty, px = Decimal(earlier.get(32)), Decimal(earlier.get(31))
            if earlier.get(150) == "F" and earlier.get(17) != fill.id:
                cum += qty
                notional += qty * px
            elif earlier.get(150) == "H" and earlier.get(19) != fill.id:
                cum -= qty
                notional -= qty * px
            if earlier.get(150) != "H":
                status, order_qty = earlier.get(39), Decimal(earlier.get(38))
        cum -= Decimal(fill.last_shares) / qty_scale
        notional -= (Decimal(fill.last_shares) / qty_scale) * (Decimal(fill.last_px) / price_scale)
        if status in ("4", "C", "3", "8"):
            want: dict[int, str | Decimal | None] = {39: status, 151: Decimal(0)}
        else:
            want = {39: status if status in ("6", "E", "A") else ("1" if cum else "0"),
                    151: order_qty - cum}  # fmt: skip
        want |= {14: cum, 6: _VWAP.divide(notional, cum) if cum else Decimal(0)}
        problems += [f"trade cancel {m.get(17)}: {p}" for p in mismatches(want, m.fields)]
        seen.append(m)
    return problems
