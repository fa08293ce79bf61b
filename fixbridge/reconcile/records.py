"""How one execution or trade becomes a compared :class:`~fixbridge.reconcile.compare.Event`
and which FIX messages it gives a session, the same way on both sides of a reconciliation.

Identities come from the stream conversion (``fixbridge/upstream/streams.py``), so an event
the Report API returns has the identity the journal would give it. Trade dates come from the
upstream message (``transact_trade_date``, else the trade date of its ``transact_time``), so a
journal event that could not be normalized still belongs to a date. Session scope is decided
as ``fixbridge/fix/outbound.py`` decides it. Pure: it must never read a clock, the journal or
the network.
"""

from __future__ import annotations

from decimal import Decimal

from fixbridge.config import ScopeConfig
from fixbridge.fix.outbound import admits_execution, side_visible
from fixbridge.normalize.execution import ExecutionEvent
from fixbridge.normalize.timestamps import timestamp_ns
from fixbridge.normalize.trade import TradeEvent
from fixbridge.normalize.tradedate import trade_date
from fixbridge.proto.polymarket.v1 import orders_pb2, trading_pb2
from fixbridge.reconcile.compare import Event, FieldValue

EXECUTION_FIELDS = (
    "order_id", "cl_ord_id", "symbol", "account", "side", "exec_type", "ord_status",
    "order_qty", "price", "last_qty", "last_px", "cum_qty", "leaves_qty", "trade_id",
    "trade_date", "transact_time_ns",
)
SIDE_FIELDS = ("exec_id", "order_id", "account", "side", "last_qty", "last_px")


def execution_date(execution: trading_pb2.Execution) -> str:
    """YYYYMMDD trade date of an upstream execution ("" when it has none readable)."""
    date = execution.transact_trade_date
    if date.year and date.month and date.day:
        return f"{date.year:04d}{date.month:02d}{date.day:02d}"
    when = execution.transact_time
    try:
        return trade_date(timestamp_ns(when.seconds, when.nanos))
    except ValueError:
        return ""


def trade_date_of(trade: orders_pb2.Trade) -> str:
    """A trade's date is its aggressor fill's (as TradeDate(75) of its reports)."""
    return execution_date(trade.aggressor)


def _value(raw: object) -> FieldValue:
    if raw is None or isinstance(raw, str | bool | Decimal):
        return raw
    return str(raw)  # an int (nanoseconds): compared exactly as text


def execution_fields(event: ExecutionEvent) -> dict[str, FieldValue]:
    return {name: _value(getattr(event, name)) for name in EXECUTION_FIELDS}


def trade_fields(event: TradeEvent) -> dict[str, FieldValue]:
    fields: dict[str, FieldValue] = {
        "state": event.state,
        "trade_type": event.trade_type,
        "symbol": event.symbol,
        "trade_date": event.trade_date,
    }
    for role, side in (("aggressor", event.aggressor), ("passive", event.passive)):
        for name in SIDE_FIELDS:
            fields[f"{role}.{name}"] = _value(getattr(side.execution, name))
    return fields


def compared(stream: str, key: str, decoded: ExecutionEvent | TradeEvent | None) -> Event:
    """The compared form of a decoded event (None: unreadable, presence only)."""
    if isinstance(decoded, ExecutionEvent):
        return Event(stream, key, execution_fields(decoded))
    if isinstance(decoded, TradeEvent):
        return Event(stream, key, trade_fields(decoded))
    return Event(stream, key, None)


def session_messages(scope: ScopeConfig, decoded: ExecutionEvent | TradeEvent) -> list[str]:
    """The application messages (``8:<ExecID>``, ``AE:<TradeReportID>``) a session with
    ``scope`` is sent for one journal event, as the outbound renderer selects them."""
    if isinstance(decoded, ExecutionEvent):
        return [f"8:{decoded.exec_id}"] if admits_execution(scope, decoded) else []
    if scope.symbols and decoded.symbol not in scope.symbols:
        return []
    seen = [side for side in decoded.sides if side_visible(scope, side)]
    out: list[str] = []
    if "trades" in scope.message_kinds and seen:
        out.append(f"AE:{decoded.trade_report_id}")
    if "executions" in scope.message_kinds and decoded.is_bust:
        out += [f"8:{side.bust_exec_id}" for side in seen]
    return out

