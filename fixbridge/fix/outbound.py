"""What a session receives: its scope filter and the rendering of journal events into FIX.

A journal event and a session's settings in, the application messages that session receives
for it out (often one, sometimes none, for a bust several). The journal keeps normalized
events, not FIX bytes, because each session renders differently (timestamp precision,
identifiers, scope).

Scope is also about privacy: a session sees only the sides of a trade its firms and accounts
cover. A TradeCaptureReport shows the other side as its Side(54) alone, and a trade cancel is
sent only for a side the session may see, so no firm, account, user or order of another firm
ever reaches it.

Pure, apart from one narrow question put to the journal through :class:`TradeHistory`: has
this session been sent an earlier version of this trade? Must never decide sequence numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from fixbridge.config import ScopeConfig, SessionConfig
from fixbridge.fix.codec import encode_fields
from fixbridge.journal.store import JournalEvent
from fixbridge.normalize.execution import ExecutionEvent, execution_report_body
from fixbridge.normalize.instrument import InstrumentEvent, security_status_body
from fixbridge.normalize.position import PositionEvent, position_report_body
from fixbridge.normalize.style import RenderStyle
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


class TradeHistory(Protocol):
    """What rendering a TradeCaptureReport needs to know of what a session was sent before."""

    def reported_before(self, trade_id: str, before_offset: int) -> bool:
        """Whether an earlier version of ``trade_id`` was journaled (before ``before_offset``)
        since the session began, i.e. whether the session has had a report of it."""
        ...


class NoTradeHistory:
    """A session that has been sent nothing before (tests, one-off renderings)."""

    def reported_before(self, trade_id: str, before_offset: int) -> bool:
        return False


class TradeLog(Protocol):
    def trade_reported_before(
        self, trade_id: str, from_offset: int, before_offset: int
    ) -> bool: ...


@dataclass(frozen=True, slots=True)
class SessionTradeHistory:
    """A session's trade history as the journal knows it: every version journaled since the
    session began (``origin_offset``) was sent to it, if its scope covers the trade (the scope
    is the same for every version of one trade)."""

    journal: TradeLog
    origin_offset: int

    def reported_before(self, trade_id: str, before_offset: int) -> bool:
        return self.journal.trade_reported_before(trade_id, self.origin_offset, before_offset)


def style_of(session: SessionConfig) -> RenderStyle:
    """The session's rendering choices, from its configuration."""
    return RenderStyle(
        precision=session.timestamp_precision,
        identifiers=session.identifiers,
        realized_pnl=session.send_realized_pnl,
        profile=session.fix_profile,
    )


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


def side_visible(scope: ScopeConfig, side: TradeSide) -> bool:
    """Whether the session's firms and accounts cover this side of a trade."""
    return _matches(scope.firms, side.firm) and _matches(scope.accounts, side.account)


def _render_execution(
    event: JournalEvent, session: SessionConfig, style: RenderStyle, history: TradeHistory
) -> list[Rendered]:
    execution = ExecutionEvent.from_payload(event.payload)
    if not admits_execution(session.scope, execution):
        return []
    return [Rendered("8", encode_fields(execution_report_body(execution, style)))]


def _render_trade(
    event: JournalEvent, session: SessionConfig, style: RenderStyle, history: TradeHistory
) -> list[Rendered]:
    """A TradeCaptureReport for sessions that receive trades and may see a side; for a bust,
    also a trade-cancel ExecutionReport (150=H) for each side an executions session may see.
    Fills-only sessions get those too: a bust reverses a fill they received."""
    scope = session.scope
    trade = TradeEvent.from_payload(event.payload)
    if not _matches(scope.symbols, trade.symbol):
        return []
    out: list[Rendered] = []

    def visible(side: TradeSide) -> bool:
        return side_visible(scope, side)

    if "trades" in scope.message_kinds and any(visible(side) for side in trade.sides):
        first = not history.reported_before(trade.trade_id, event.offset)
        body = trade_capture_report_body(trade, style, first_report=first, visible=visible)
        out.append(Rendered("AE", encode_fields(body)))
    if "executions" in scope.message_kinds:
        for side, body in trade_bust_execution_reports(trade, style):
            if visible(side):
                out.append(Rendered("8", encode_fields(body)))
    return out


def _render_instrument(
    event: JournalEvent, session: SessionConfig, style: RenderStyle, history: TradeHistory
) -> list[Rendered]:
    """Instrument states are market-wide: only the symbol filter applies."""
    scope = session.scope
    instrument = InstrumentEvent.from_payload(event.payload)
    if "instruments" not in scope.message_kinds or not _matches(scope.symbols, instrument.symbol):
        return []
    return [Rendered("f", encode_fields(security_status_body(instrument, style)))]


def _render_position(
    event: JournalEvent, session: SessionConfig, style: RenderStyle, history: TradeHistory
) -> list[Rendered]:
    scope = session.scope
    position = PositionEvent.from_payload(event.payload)
    admitted = (
        "positions" in scope.message_kinds
        and _matches(scope.firms, position.firm)
        and _matches(scope.accounts, position.account)
        and _matches(scope.symbols, position.symbol)
    )
    if not admitted:
        return []
    return [Rendered("AP", encode_fields(position_report_body(position, style)))]


_RENDERERS = {
    "executions": _render_execution,
    "trades": _render_trade,
    "instruments": _render_instrument,
    "positions": _render_position,
}


def render(
    event: JournalEvent,
    session: SessionConfig,
    history: TradeHistory | None = None,
    style: RenderStyle | None = None,
) -> list[Rendered]:
    """The messages ``session`` receives for ``event``, in order (often one, maybe none)."""
    if event.flagged is not None:
        return []
    renderer = _RENDERERS.get(event.stream)
    if renderer is None:
        return []
    return renderer(
        event,
        session,
        style if style is not None else style_of(session),
        history if history is not None else NoTradeHistory(),
    )
