"""What a session receives: its scope filter and the rendering of journal events into FIX.

Pure: a journal event and a session's settings in, an application message body (or nothing,
when the event is outside the session's scope) out. The journal keeps normalized events, not
FIX bytes, because each session may render differently (timestamp precision, scope).
"""

from __future__ import annotations

from dataclasses import dataclass

from fixbridge.config import ScopeConfig, SessionConfig
from fixbridge.fix.codec import encode_fields
from fixbridge.journal.store import JournalEvent
from fixbridge.normalize.execution import ExecutionEvent, execution_report_body
from fixbridge.normalize.instrument import InstrumentEvent, security_status_body
from fixbridge.normalize.position import PositionEvent, position_report_body
from fixbridge.normalize.timestamps import Precision
from fixbridge.normalize.trade import (
    TradeEvent,
    TradeSide,
    trade_bust_execution_reports,
    trade_capture_report_body,
)

EXEC_TYPE_TRADE = "F"


@dataclass(frozen=True, slots=True)
class Rendered:
    msg_type: str
    body: bytes


def _matches(allowed: tuple[str, ...], value: str) -> bool:
    return not allowed or value in allowed


def admits_execution(scope: ScopeConfig, event: ExecutionEvent) -> bool:
    return (
        "executions" in scope.message_kinds
        and _matches(scope.firms, event.firm)
        and _matches(scope.accounts, event.account)
        and _matches(scope.symbols, event.symbol)
        and (not scope.fills_only or event.exec_type == EXEC_TYPE_TRADE)
    )


def _render_execution(
    event: JournalEvent, scope: ScopeConfig, precision: Precision
) -> list[Rendered]:
    execution = ExecutionEvent.from_payload(event.payload)
    if not admits_execution(scope, execution):
        return []
    return [Rendered("8", encode_fields(execution_report_body(execution, precision)))]


def _render_trade(event: JournalEvent, scope: ScopeConfig, precision: Precision) -> list[Rendered]:
    """A TradeCaptureReport for sessions that receive trades; for a bust, also a trade-cancel
    ExecutionReport (150=H) for each side an executions session may see. Fills-only sessions
    get those too: a bust reverses a fill they received."""
    trade = TradeEvent.from_payload(event.payload)
    if not _matches(scope.symbols, trade.symbol):
        return []
    out: list[Rendered] = []
    if "trades" in scope.message_kinds and any(_side_visible(scope, side) for side in trade.sides):
        out.append(Rendered("AE", encode_fields(trade_capture_report_body(trade, precision))))
    if "executions" in scope.message_kinds:
        for side, body in trade_bust_execution_reports(trade, precision):
            if _side_visible(scope, side):
                out.append(Rendered("8", encode_fields(body)))
    return out


def _side_visible(scope: ScopeConfig, side: TradeSide) -> bool:
    return _matches(scope.firms, side.firm) and _matches(scope.accounts, side.account)


def _render_instrument(
    event: JournalEvent, scope: ScopeConfig, precision: Precision
) -> list[Rendered]:
    """Instrument states are market-wide: only the symbol filter applies."""
    instrument = InstrumentEvent.from_payload(event.payload)
    if "instruments" not in scope.message_kinds or not _matches(scope.symbols, instrument.symbol):
        return []
    return [Rendered("f", encode_fields(security_status_body(instrument, precision)))]


def _render_position(
    event: JournalEvent, scope: ScopeConfig, precision: Precision
) -> list[Rendered]:
    position = PositionEvent.from_payload(event.payload)
    admitted = (
        "positions" in scope.message_kinds
        and _matches(scope.firms, position.firm)
        and _matches(scope.accounts, position.account)
        and _matches(scope.symbols, position.symbol)
    )
    if not admitted:
        return []
    return [Rendered("AP", encode_fields(position_report_body(position, precision)))]


_RENDERERS = {
    "executions": _render_execution,
    "trades": _render_trade,
    "instruments": _render_instrument,
    "positions": _render_position,
}


def render(event: JournalEvent, session: SessionConfig) -> list[Rendered]:
    """The messages ``session`` receives for ``event``, in order (often one, maybe none)."""
    if event.flagged is not None:
        return []
    renderer = _RENDERERS.get(event.stream)
    if renderer is None:
        return []
    return renderer(event, session.scope, session.timestamp_precision)
