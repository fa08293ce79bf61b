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
offsets never change meaning, so an entry is never stale. An ExecutionReport body, the most
frequent, is written by its style's precompiled encoder (fix/compiled_bodies.py), which gives
the bytes of ``encode_fields(execution_report_body(...))``, the reference it is tested against;
most are not even rendered here: the body made when the execution was journaled, for the
session's rendering (fix/prerender.py), is read with the event and sent as it is, its scope
decided on the fields stored with it.

A settlement (stream ``settlements``) is one message per instrument (the settlement message);
for sessions that receive positions, a PositionReport with the settlement price for every
position in scope in that symbol as it stood when the settlement was journaled; for sessions
that receive instruments, the SecurityStatus of a closed, expired or terminated instrument
again, now with the outcome; in the ``exchange`` profile, a MarketSettlementReport (35=UMS)
per position in scope once the resolution is final. A PositionReport always carries the
latest settlement price of its instrument journaled before it, and a SecurityStatus of a
closed instrument the outcome of the latest resolution.

Pure, apart from narrow questions put to the journal: through :class:`TradeHistory`, has this
session been sent an earlier version of this trade; through :class:`MarketMemory`, what the
positions, settlements and instrument states of a symbol were as of a journal offset (so a
rendering never depends on when it runs). Must never decide sequence numbers.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple, Protocol, TypeVar

from fixbridge.config import ScopeConfig, SessionConfig
from fixbridge.fix.codec import encode_fields
from fixbridge.fix.compiled_bodies import execution_report_encoder
from fixbridge.journal.records import StoredBody
from fixbridge.journal.store import JournalEvent
from fixbridge.normalize.execution import ExecutionEvent
from fixbridge.normalize.instrument import InstrumentEvent, security_status_body
from fixbridge.normalize.position import PositionEvent, position_report_body
from fixbridge.normalize.settlement import Settlement
from fixbridge.normalize.settlement_report import (
    MARKET_SETTLEMENT_MSG_TYPE,
    SETTLEMENT_MSG_TYPE,
    business_date,
    market_settlement_report_body,
    settlement_message_body,
)
from fixbridge.normalize.style import Profile, RenderStyle
from fixbridge.normalize.trade import (
    TradeEvent,
    TradeSide,
    trade_bust_execution_reports,
    trade_capture_report_body,
)

EXEC_TYPE_TRADE = "F"
# Instrument states whose SecurityStatus carries the outcome of the latest resolution.
SETTLED_STATES = frozenset({"CLOSED", "EXPIRED", "TERMINATED"})
EVERY = 2**62  # no limit on the settlements of a symbol looked through
DECODED_CAPACITY = 4096  # decoded journal events kept by a RenderCache
BODIES_CAPACITY = 16384  # rendered bodies kept by a RenderCache (~500 bytes each)

_T = TypeVar("_T")
_MISSING = object()


class Rendered(NamedTuple):
    """One message an event renders to (a named tuple: one is made for every message
    delivered)."""

    msg_type: str
    body: bytes
    # Whether the event's transact time is when the exchange produced what this message
    # reports, so exchange time -> FIX write is the bridge's lag. Not for a trade's later
    # states: the exchange re-sends the trade with its original time and no time of the change.
    exchange_timed: bool = True


POSS_RESEND = b"97=Y\x01"


def possible_resends(messages: list[Rendered]) -> list[Rendered]:
    """``messages`` marked PossResend(97)=Y: what they report may have reached the client
    before, under other sequence numbers, so it checks their identifiers (ExecID,
    TradeReportID, PosMaintRptID) before booking them. The field opens the body bytes, which
    follow the session's header fields, so it stays in the standard header. A message marked
    already is left as it is."""
    return [
        m if m.body.startswith(POSS_RESEND) else m._replace(body=POSS_RESEND + m.body)
        for m in messages
    ]


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


class MarketMemory(Protocol):
    """What rendering a settlement, a position or a closed instrument needs to know of the
    rest of its symbol, as journaled before a given offset."""

    def latest_by_account(
        self, stream: str, symbol: str, before_offset: int, until_ns: int | None = None
    ) -> list[JournalEvent]: ...

    def latest_of_symbol(
        self, stream: str, symbol: str, before_offset: int, count: int
    ) -> list[JournalEvent]: ...


class NoMarketMemory:
    """A journal that knows nothing else of any symbol (tests, one-off renderings)."""

    def latest_by_account(
        self, stream: str, symbol: str, before_offset: int, until_ns: int | None = None
    ) -> list[JournalEvent]:
        return []

    def latest_of_symbol(
        self, stream: str, symbol: str, before_offset: int, count: int
    ) -> list[JournalEvent]:
        return []


@dataclass(frozen=True, slots=True)
class Marks:
    """A symbol's settlement prices as of a journal offset: the latest (and its offset), and
    the price of the one before it."""

    settlement: Settlement | None = None
    offset: int = 0
    prior_price: Decimal | None = None


NO_MARKS = Marks()


class RenderCache:
    """Recently decoded journal events and rendered bodies, shared by every session (least
    recently used entries go first). Only what rendering alone determines is kept: scope
    filtering and sequencing stay per session.

    ``sharing`` says whether another session may ask for the same event: while one session
    alone is delivering (the acceptor sets it), a decoding or body it makes is not kept, since
    nothing would read it again and keeping it costs (a catch-up to one session paid ~2.5 us
    per message for entries never read). What is kept already is still found, and what
    :meth:`remember` is told is kept either way."""

    def __init__(
        self, decoded_capacity: int = DECODED_CAPACITY, bodies_capacity: int = BODIES_CAPACITY
    ) -> None:
        self._decoded: OrderedDict[Hashable, object] = OrderedDict()
        self._bodies: OrderedDict[Hashable, bytes] = OrderedDict()
        self._decoded_capacity = decoded_capacity
        self._bodies_capacity = bodies_capacity
        self.sharing = True
        self.hits = 0
        self.misses = 0

    def decoded(self, event: JournalEvent, decode: Callable[[bytes], _T]) -> _T:
        """``event``'s payload decoded (by ``decode``, the event kind's own decoder)."""
        found = self._decoded.get(event.offset)
        if found is None:
            found = decode(event.payload)
            if self.sharing:
                self._decoded[event.offset] = found
                if len(self._decoded) > self._decoded_capacity:
                    self._decoded.popitem(last=False)
        else:
            self._decoded.move_to_end(event.offset)
        return found  # type: ignore[return-value]  # one offset is always one kind

    def looked_up(self, key: Hashable, look_up: Callable[[], _T]) -> _T:
        """What ``look_up`` answers for ``key`` (journal offset first: what was journaled
        before an offset never changes), asked once."""
        found = self._decoded.get(key, _MISSING)
        if found is _MISSING:
            found = look_up()
            self._decoded[key] = found
            if len(self._decoded) > self._decoded_capacity:
                self._decoded.popitem(last=False)
        else:
            self._decoded.move_to_end(key)
        return found  # type: ignore[return-value]  # one key is always one question

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
            if self.sharing:
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

    def looked_up(self, key: Hashable, look_up: Callable[[], _T]) -> _T:
        return look_up()

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


def admits_execution(scope: ScopeConfig, event: ExecutionEvent | StoredBody) -> bool:
    """Whether the session is sent this execution: decided on its firm, account, symbol and
    ExecType alone, which a body stored at ingest carries too (fix/prerender.py)."""
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


_STYLE_KEYS: dict[RenderStyle, int] = {}


def _style_key(style: RenderStyle) -> int:
    """A number standing for ``style`` in the cache's keys, the same for equal styles: an
    int is hashed and compared far faster than the dataclass of enums, once per message per
    session. Styles are few (a handful of settings), so the table stays small."""
    key = _STYLE_KEYS.get(style)
    if key is None:
        key = _STYLE_KEYS[style] = len(_STYLE_KEYS)
    return key


@dataclass(frozen=True, slots=True)
class Recipient:
    """One session's side of a rendering: its settings and style, what it was sent before,
    the cache shared with the other sessions, and what the journal held of each symbol."""

    session: SessionConfig
    style: RenderStyle
    history: TradeHistory
    cache: RenderCache
    memory: MarketMemory
    style_key: int  # _style_key(style): made by recipient() only
    # The key of bodies stored at ingest in this style by this code (prerender.rendering_key);
    # "" when the session does not use them.
    rendering: str = ""

    def marks(self, symbol: str, before_offset: int) -> Marks:
        """The symbol's latest settlement journaled before ``before_offset``, and the price
        of the one before that."""
        cache = self.cache

        def look_up() -> Marks:
            found = self.memory.latest_of_symbol("settlements", symbol, before_offset, 2)
            if not found:
                return NO_MARKS
            latest = cache.decoded(found[0], Settlement.from_payload)
            prior = cache.decoded(found[1], Settlement.from_payload).price if found[1:] else None
            return Marks(latest, found[0].offset, prior)

        return cache.looked_up((before_offset, "marks", symbol), look_up)

    def positions_at(
        self, symbol: str, before_offset: int, until_ns: int | None = None
    ) -> tuple[tuple[int, PositionEvent], ...]:
        """Each account's position in ``symbol`` as journaled before ``before_offset`` (with
        ``until_ns``: its last update not after that time), with its journal offset, by
        account."""
        cache = self.cache

        def look_up() -> tuple[tuple[int, PositionEvent], ...]:
            found = self.memory.latest_by_account("positions", symbol, before_offset, until_ns)
            return tuple(
                (e.offset, cache.decoded(e, PositionEvent.from_payload))
                for e in found
                if e.flagged is None
            )

        return cache.looked_up((before_offset, "positions", symbol, until_ns), look_up)

    def final_resolution(self, symbol: str, before_offset: int) -> Settlement | None:
        """The latest final resolution of ``symbol`` journaled before ``before_offset``
        (daily marks may follow it)."""
        cache = self.cache

        def look_up() -> Settlement | None:
            found = self.memory.latest_of_symbol("settlements", symbol, before_offset, EVERY)
            for event in found:
                earlier = cache.decoded(event, Settlement.from_payload)
                if earlier.resolution and not earlier.preliminary:
                    return earlier
            return None

        return cache.looked_up((before_offset, "final", symbol), look_up)

    def latest_instrument(self, symbol: str, before_offset: int) -> InstrumentEvent | None:
        """The symbol's instrument state as journaled before ``before_offset``."""
        cache = self.cache

        def look_up() -> InstrumentEvent | None:
            found = self.memory.latest_of_symbol("instruments", symbol, before_offset, 1)
            if not found or found[0].flagged is not None:
                return None
            return cache.decoded(found[0], InstrumentEvent.from_payload)

        return cache.looked_up((before_offset, "instrument", symbol), look_up)


def _render_execution(event: JournalEvent, to: Recipient) -> list[Rendered]:
    stored = event.body
    if stored is not None and stored.rendering == to.rendering:
        # Rendered at ingest in this style by this code: the bytes rendering now would give.
        if not admits_execution(to.session.scope, stored):
            return []
        return [Rendered("8", stored.body)]
    style, cache = to.style, to.cache
    execution = cache.decoded(event, ExecutionEvent.from_payload)
    if not admits_execution(to.session.scope, execution):
        return []
    # The style's precompiled encoder: the bytes encode_fields(execution_report_body(...)) gives.
    body = cache.body(
        (event.offset, "8", to.style_key), lambda: execution_report_encoder(style)(execution)
    )
    return [Rendered("8", body)]


def _render_trade(event: JournalEvent, to: Recipient) -> list[Rendered]:
    """A TradeCaptureReport for sessions that receive trades and may see a side; for a bust,
    also a trade-cancel ExecutionReport (150=H) for each side an executions session may see.
    Fills-only sessions get those too: a bust reverses a fill they received."""
    scope, style, cache = to.session.scope, to.style, to.cache
    trade = cache.decoded(event, TradeEvent.from_payload)
    if not _matches(scope.symbols, trade.symbol):
        return []
    out: list[Rendered] = []
    seen = tuple(side_visible(scope, side) for side in trade.sides)

    def visible(side: TradeSide) -> bool:
        return side_visible(scope, side)

    timed = trade.state == "NEW"  # later states carry the trade's time, not their own
    if "trades" in scope.message_kinds and any(seen):
        first = not to.history.reported_before(trade.trade_id, event.offset)
        body = cache.body(
            (event.offset, "AE", to.style_key, seen, first),
            lambda: encode_fields(
                trade_capture_report_body(trade, style, first_report=first, visible=visible)
            ),
        )
        out.append(Rendered("AE", body, timed))
    if "executions" in scope.message_kinds and trade.is_bust:
        for index, visible_side in enumerate(seen):
            if visible_side:
                bust = _bust_body(event, trade, index, to)
                out.append(Rendered("8", bust, exchange_timed=False))
    return out


def _bust_body(event: JournalEvent, trade: TradeEvent, index: int, to: Recipient) -> bytes:
    """The trade-cancel ExecutionReport of a bust's side ``index`` (aggressor 0)."""

    def make() -> bytes:
        _, fields = trade_bust_execution_reports(trade, to.style)[index]
        return encode_fields(fields)

    return to.cache.body((event.offset, "8H", to.style_key, index), make)


def _render_instrument(event: JournalEvent, to: Recipient) -> list[Rendered]:
    """Instrument states are market-wide: only the symbol filter applies."""
    scope, style, cache = to.session.scope, to.style, to.cache
    if "instruments" not in scope.message_kinds:
        return []
    instrument = cache.decoded(event, InstrumentEvent.from_payload)
    if not _matches(scope.symbols, instrument.symbol):
        return []
    outcome = None
    if instrument.state in SETTLED_STATES:
        final = to.final_resolution(instrument.symbol, event.offset)
        outcome = (final.outcome or None) if final is not None else None
    body = cache.body(
        (event.offset, "f", to.style_key, outcome),
        lambda: encode_fields(security_status_body(instrument, style, outcome)),
    )
    return [Rendered("f", body)]


def _render_position(event: JournalEvent, to: Recipient) -> list[Rendered]:
    scope, style, cache = to.session.scope, to.style, to.cache
    if "positions" not in scope.message_kinds:
        return []
    position = cache.decoded(event, PositionEvent.from_payload)
    if not _admits_position(scope, position):
        return []
    marks = to.marks(position.symbol, event.offset)
    body = cache.body(
        (event.offset, "AP", to.style_key, marks.offset),
        lambda: encode_fields(
            position_report_body(position, style, marks.settlement, marks.prior_price)
        ),
    )
    return [Rendered("AP", body)]


def _admits_position(scope: ScopeConfig, position: PositionEvent) -> bool:
    return (
        _matches(scope.firms, position.firm)
        and _matches(scope.accounts, position.account)
        and _matches(scope.symbols, position.symbol)
    )


def _render_settlement(event: JournalEvent, to: Recipient) -> list[Rendered]:
    """The settlement message; once a resolution is final, a closed instrument's
    SecurityStatus with the outcome; a PositionReport with the price for each position in
    scope; a MarketSettlementReport for each held at the final price (exchange profile, unless
    the session opts out). Only the exchange's settlement time is its own: the rest report it
    later."""
    scope, style, cache = to.session.scope, to.style, to.cache
    kinds = scope.message_kinds
    settlement = cache.decoded(event, Settlement.from_payload)
    if not _matches(scope.symbols, settlement.symbol):
        return []
    out: list[Rendered] = []
    symbol, offset, at_ns = settlement.symbol, event.offset, event.transact_time_ns
    if "settlements" in kinds:
        body = cache.body(
            (offset, SETTLEMENT_MSG_TYPE, to.style_key),
            lambda: encode_fields(settlement_message_body(settlement, style, at_ns)),
        )
        out.append(Rendered(SETTLEMENT_MSG_TYPE, body, settlement.set_time_ns is not None))
    final = settlement.resolution and not settlement.preliminary
    if "instruments" in kinds and final and settlement.outcome:
        out += _closed_instrument_again(settlement, offset, to)
    if "positions" in kinds:
        prior = to.marks(symbol, offset).settlement
        prior_price = prior.price if prior is not None else None
        for held_at, position in to.positions_at(symbol, offset, at_ns):
            if not _admits_position(scope, position):
                continue
            report_id = f"{position.upstream_id}:{settlement.report_key}"
            body = cache.body(
                (offset, "AP", to.style_key, held_at),
                _marked_position(position, style, settlement, prior_price, report_id, at_ns),
            )
            out.append(Rendered("AP", body, exchange_timed=False))
    reports = (
        "settlements" in kinds
        and style.profile is Profile.EXCHANGE
        and to.session.send_settlement_reports
        and final
    )
    if reports:
        out += _settlement_reports(settlement, offset, at_ns, to)
    return out


def _settlement_reports(
    settlement: Settlement, offset: int, at_ns: int, to: Recipient
) -> list[Rendered]:
    """A MarketSettlementReport for each account in scope that held the instrument when the
    final price was set (its latest position by then; a flat one settles nothing). Under a
    corrected final price, each account's report carries the difference from what it was
    paid under the earlier one, with its position then; an account that held the instrument
    then and not now gets its payout taken back."""
    earlier = to.final_resolution(settlement.symbol, offset)
    before: dict[str, tuple[Settlement, PositionEvent]] = {}
    if earlier is not None:
        earlier_at = earlier.set_time_ns if earlier.set_time_ns is not None else at_ns
        before = {
            p.account: (earlier, p)
            for _, p in to.positions_at(settlement.symbol, offset, earlier_at)
            if _admits_position(to.session.scope, p)
        }
    out: list[Rendered] = []
    for held_at, position in to.positions_at(settlement.symbol, offset, at_ns):
        if not _admits_position(to.session.scope, position):
            continue
        paid = before.get(position.account)
        if not position.net_position and (paid is None or not paid[1].net_position):
            continue
        report_id = f"{position.account}:{settlement.report_key}"
        body = to.cache.body(
            (offset, MARKET_SETTLEMENT_MSG_TYPE, to.style_key, held_at),
            _settlement_report(settlement, position, to.style, report_id, at_ns, paid),
        )
        out.append(Rendered(MARKET_SETTLEMENT_MSG_TYPE, body, exchange_timed=False))
    return out


def _marked_position(
    position: PositionEvent,
    style: RenderStyle,
    settlement: Settlement,
    prior_price: Decimal | None,
    report_id: str,
    at_ns: int,
) -> Callable[[], bytes]:
    reported_at = (at_ns, business_date(settlement, at_ns))
    return lambda: encode_fields(
        position_report_body(position, style, settlement, prior_price, report_id, reported_at)
    )


def _settlement_report(
    settlement: Settlement,
    position: PositionEvent,
    style: RenderStyle,
    report_id: str,
    at_ns: int,
    paid: tuple[Settlement, PositionEvent] | None,
) -> Callable[[], bytes]:
    return lambda: encode_fields(
        market_settlement_report_body(settlement, position, style, report_id, at_ns, paid)
    )


def _closed_instrument_again(
    settlement: Settlement, offset: int, to: Recipient
) -> list[Rendered]:
    """The SecurityStatus of the settled instrument's latest state again, with the outcome,
    when that state is closed, expired or terminated (it was sent without one)."""
    latest = to.latest_instrument(settlement.symbol, offset)
    if latest is None or latest.state not in SETTLED_STATES:
        return []
    instrument, outcome, style = latest, settlement.outcome, to.style
    body = to.cache.body(
        (offset, "f", to.style_key, outcome),
        lambda: encode_fields(security_status_body(instrument, style, outcome)),
    )
    return [Rendered("f", body, exchange_timed=False)]


_RENDERERS = {
    "executions": _render_execution,
    "trades": _render_trade,
    "instruments": _render_instrument,
    "positions": _render_position,
    "settlements": _render_settlement,
}


def render(
    event: JournalEvent,
    session: SessionConfig,
    history: TradeHistory | None = None,
    style: RenderStyle | None = None,
    cache: RenderCache | None = None,
    memory: MarketMemory | None = None,
) -> list[Rendered]:
    """The messages ``session`` receives for ``event``, in order (often one, maybe none);
    ``cache`` shares decoding and rendering with other sessions; ``memory`` answers what the
    journal held of the event's symbol before it."""
    return render_to(event, recipient(session, history, style, cache, memory))


def recipient(
    session: SessionConfig,
    history: TradeHistory | None = None,
    style: RenderStyle | None = None,
    cache: RenderCache | None = None,
    memory: MarketMemory | None = None,
    rendering: str = "",
) -> Recipient:
    """One session's side of every rendering (the arguments of :func:`render`), bound once
    for :func:`render_to`; ``rendering``, the key of the bodies stored at ingest it may be
    sent as they are (fix/prerender.py ``rendering_key`` of its style)."""
    style = style if style is not None else style_of(session)
    return Recipient(
        session,
        style,
        history if history is not None else NoTradeHistory(),
        cache if cache is not None else _NO_CACHE,
        memory if memory is not None else _NO_MEMORY,
        _style_key(style),
        rendering,
    )


def renders_alone(event: JournalEvent, rendering: str) -> bool:
    """Rendering ``event`` for a session of ``rendering`` reads nothing but the event: no
    journal memory (which might not hold an uncommitted event yet) and no shared cache (keyed
    by offsets an uncommitted event does not own yet). True for an execution whose body was
    rendered at ingest for that rendering, and for a flagged event (which renders nothing)."""
    if event.flagged is not None:
        return True
    stored = event.body
    return event.stream == "executions" and stored is not None and stored.rendering == rendering


def render_to(event: JournalEvent, to: Recipient) -> list[Rendered]:
    """:func:`render` of ``event`` for the session bound in ``to``."""
    if event.flagged is not None:
        return []
    renderer = _RENDERERS.get(event.stream)
    if renderer is None:
        return []
    return renderer(event, to)


_NO_CACHE = _NoCache(0, 0)
_NO_MEMORY = NoMarketMemory()
