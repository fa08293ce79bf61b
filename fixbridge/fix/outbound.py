"""What a session receives: its scope filter and the rendering of journal events into FIX.

A journal event and a session's settings in, the application messages that session receives
for it out (often one, sometimes none, for a bust several). The journal keeps normalized
events, not FIX bytes, because each session renders differently (timestamp precision,
identifiers, scope).

Scope is also about privacy: a session sees only the sides of a trade its firms and accounts
cover. A TradeCaptureReport shows the other side as its Side(54) alone, and a trade cancel is
sent only for a side the session may see, so no firm, account, user or order of another firm
ever reaches it.

Rendering is done once per event and way of rendering it, not once per session: a
:class:`RenderCache` shared by every session keeps recently decoded events and rendered bodies,
keyed by journal offset and everything the body depends on (the style; for a trade, also which
sides the session sees and whether it is the session's first report of the trade). Journal
offsets never change meaning, so an entry is never stale.

Pure, apart from one narrow question put to the journal through :class:`TradeHistory`: has
this session been sent an earlier version of this trade? Must never decide sequence numbers.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Protocol, TypeVar

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
DECODED_CAPACITY = 4096  # decoded journal events kept by a RenderCache
BODIES_CAPACITY = 16384  # rendered bodies kept by a RenderCache (~500 bytes each)

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Rendered:
    msg_type: str
    body: bytes
    # Whether the event's transact time is when the exchange produced what this message
    # reports, so exchange time -> FIX write is the bridge's lag. Not for a trade's later
    # states: the exchange re-sends the trade with its original time and no time of the change.
    exchange_timed: bool = True


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


class RenderCache:
    """Recently decoded journal events and rendered bodies, shared by every session (least
    recently used entries go first). Only what rendering alone determines is kept: scope
    filtering and sequencing stay per session."""

    def __init__(
        self, decoded_capacity: int = DECODED_CAPACITY, bodies_capacity: int = BODIES_CAPACITY
    ) -> None:
        self._decoded: OrderedDict[int, object] = OrderedDict()
        self._bodies: OrderedDict[Hashable, bytes] = OrderedDict()
        self._decoded_capacity = decoded_capacity
        self._bodies_capacity = bodies_capacity
        self.hits = 0
        self.misses = 0

    def decoded(self, event: JournalEvent, decode: Callable[[bytes], _T]) -> _T:
        """``event``'s payload decoded (by ``decode``, the event kind's own decoder)."""
        found = self._decoded.get(event.offset)
        if found is None:
            found = decode(event.payload)
            self._decoded[event.offset] = found
            if len(self._decoded) > self._decoded_capacity:
                self._decoded.popitem(last=False)
        else:
            self._decoded.move_to_end(event.offset)
        return found  # type: ignore[return-value]  # one offset is always one kind

    def remember(self, offset: int, decoded: object) -> None:
        """What decoding the payload at ``offset`` gives, known already (a live event, from
        the normalization that made the payload)."""
        self._decoded[offset] = decoded
        if len(self._decoded) > self._decoded_capacity:
            self._decoded.popitem(last=False)

    def body(self, key: Hashable, make: Callable[[], bytes]) -> bytes:
        """The body rendered for ``key`` (journal offset first, then all it depends on)."""
        found = self._bodies.get(key)
        if found is None:
            self.misses += 1
            found = make()
            self._bodies[key] = found
            if len(self._bodies) > self._bodies_capacity:
                self._bodies.popitem(last=False)
        else:
            self.hits += 1
            self._bodies.move_to_end(key)
        return found


class _NoCache(RenderCache):
    """Decodes and renders every time (one-off renderings, tests)."""

    def decoded(self, event: JournalEvent, decode: Callable[[bytes], _T]) -> _T:
        return decode(event.payload)

    def remember(self, offset: int, decoded: object) -> None:
        pass

    def body(self, key: Hashable, make: Callable[[], bytes]) -> bytes:
        return make()


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
    event: JournalEvent,
    session: SessionConfig,
    style: RenderStyle,
    history: TradeHistory,
    cache: RenderCache,
) -> list[Rendered]:
    execution = cache.decoded(event, ExecutionEvent.from_payload)
    if not admits_execution(session.scope, execution):
        return []
    body = cache.body(
        (event.offset, "8", style),
        lambda: encode_fields(execution_report_body(execution, style)),
    )
    return [Rendered("8", body)]


def _render_trade(
    event: JournalEvent,
    session: SessionConfig,
    style: RenderStyle,
    history: TradeHistory,
    cache: RenderCache,
) -> list[Rendered]:
    """A TradeCaptureReport for sessions that receive trades and may see a side; for a bust,
    also a trade-cancel ExecutionReport (150=H) for each side an executions session may see.
    Fills-only sessions get those too: a bust reverses a fill they received."""
    scope = session.scope
    trade = cache.decoded(event, TradeEvent.from_payload)
    if not _matches(scope.symbols, trade.symbol):
        return []
    out: list[Rendered] = []
    seen = tuple(side_visible(scope, side) for side in trade.sides)

    def visible(side: TradeSide) -> bool:
        return side_visible(scope, side)

    timed = trade.state == "NEW"  # later states carry the trade's time, not their own
    if "trades" in scope.message_kinds and any(seen):
        first = not history.reported_before(trade.trade_id, event.offset)
        body = cache.body(
            (event.offset, "AE", style, seen, first),
            lambda: encode_fields(
                trade_capture_report_body(trade, style, first_report=first, visible=visible)
            ),
        )
        out.append(Rendered("AE", body, timed))
    if "executions" in scope.message_kinds and trade.is_bust:
        for index, visible_side in enumerate(seen):
            if visible_side:
                bust = _bust_body(event, trade, index, style, cache)
                out.append(Rendered("8", bust, exchange_timed=False))
    return out


def _bust_body(
    event: JournalEvent, trade: TradeEvent, index: int, style: RenderStyle, cache: RenderCache
) -> bytes:
    """The trade-cancel ExecutionReport of a bust's side ``index`` (aggressor 0)."""

    def make() -> bytes:
        _, fields = trade_bust_execution_reports(trade, style)[index]
        return encode_fields(fields)

    return cache.body((event.offset, "8H", style, index), make)


def _render_instrument(
    event: JournalEvent,
    session: SessionConfig,
    style: RenderStyle,
    history: TradeHistory,
    cache: RenderCache,
) -> list[Rendered]:
    """Instrument states are market-wide: only the symbol filter applies."""
    scope = session.scope
    if "instruments" not in scope.message_kinds:
        return []
    instrument = cache.decoded(event, InstrumentEvent.from_payload)
    if not _matches(scope.symbols, instrument.symbol):
        return []
    body = cache.body(
        (event.offset, "f", style),
        lambda: encode_fields(security_status_body(instrument, style)),
    )
    return [Rendered("f", body)]


def _render_position(
    event: JournalEvent,
    session: SessionConfig,
    style: RenderStyle,
    history: TradeHistory,
    cache: RenderCache,
) -> list[Rendered]:
    scope = session.scope
    if "positions" not in scope.message_kinds:
        return []
    position = cache.decoded(event, PositionEvent.from_payload)
    admitted = (
        _matches(scope.firms, position.firm)
        and _matches(scope.accounts, position.account)
        and _matches(scope.symbols, position.symbol)
    )
    if not admitted:
        return []
    body = cache.body(
        (event.offset, "AP", style),
        lambda: encode_fields(position_report_body(position, style)),
    )
    return [Rendered("AP", body)]


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
    cache: RenderCache | None = None,
) -> list[Rendered]:
    """The messages ``session`` receives for ``event``, in order (often one, maybe none);
    ``cache`` shares decoding and rendering with other sessions."""
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
        cache if cache is not None else _NO_CACHE,
    )


_NO_CACHE = _NoCache(0, 0)
