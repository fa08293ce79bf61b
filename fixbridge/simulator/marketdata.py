"""The simulated exchange's market data: each symbol's statistics, settlement and book, and the
MarketDataUpdate messages one step of the model publishes.

:class:`MarketData` follows a step's events in time order (instrument state changes, trades,
position changes, settlements) and then publishes an update for every symbol whose book, state,
statistics or settlement changed during the step, and one more at the instant of each settlement,
so that a preliminary price followed by the final one in the same step is still published twice.

What the statistics mean here (the exchange's market-data page names the fields; the session
rules are the simulator's):

* a trading session starts when the instrument enters PREOPEN or OPEN outside a session and ends
  when it enters CLOSED, EXPIRED or TERMINATED; halts, suspensions and the closing auction stay
  inside it;
* ``open_px``, ``high_px``, ``low_px``: first, highest and lowest trade price of the session,
  absent before its first trade; ``close_px``: the latest trade price of the session that ended
  last, set when it ends and absent from the next session's start, or when it had no trade;
* ``shares_traded`` (quantity units) and ``notional_traded`` (``qty * px``, price_scale *
  fractional_qty_scale units, like fees) are session totals, present (0 included) from the
  first session on;
* ``last_trade_px`` and ``last_trade_qty``: the most recent trade ever printed on the symbol;
  ``open_interest``: the long positions in it, in quantity units (expired positions count 0),
  always present. A bust changes positions, so open interest, but no traded total;
* the settlement fields carry the symbol's latest settlement price and appear only while the
  instrument is CLOSED, EXPIRED or TERMINATED (the page: "Only populated when instrument state
  is CLOSED, TERMINATED, or EXPIRED");
* ``state`` is always set; ``indicative_open_px`` is never set; ``book_hidden`` is always false:
  the simulator never hides a book.

The book is each side's resting orders, one entry per order in priority order (the unaggregated
book) as they stand at the end of the step; subscriptions aggregate and cut it to their depth.
Pure: instants and books are passed in. This module must never read a clock, draw random
numbers or know about gRPC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from fixbridge.proto.polymarket.v1 import (
    dropcopy_pb2,
    enums_pb2,
    marketdatasubscription_pb2,
    orders_pb2,
)
from fixbridge.simulator.settlement import Call, Settlement, daily_mark
from fixbridge.simulator.times import from_timestamp, to_timestamp

md = marketdatasubscription_pb2
InstrumentState = enums_pb2.InstrumentState

SETTLED_STATES = frozenset({
    InstrumentState.INSTRUMENT_STATE_CLOSED,
    InstrumentState.INSTRUMENT_STATE_EXPIRED,
    InstrumentState.INSTRUMENT_STATE_TERMINATED,
})
"""States in which an update shows the settlement price (the market-data page)."""
SESSION_STARTS = frozenset({InstrumentState.INSTRUMENT_STATE_PREOPEN,
                            InstrumentState.INSTRUMENT_STATE_OPEN})

Entries = tuple[tuple[int, int], ...]
"""One side of a book: (px, qty) per resting order, best first."""


@dataclass(frozen=True, slots=True)
class RawBook:
    bids: Entries = ()
    offers: Entries = ()


EMPTY_BOOK = RawBook()


@dataclass(frozen=True, slots=True)
class SettlementOrder:
    """A settlement the exchange sets for ``symbol`` at ``time_ns``: ``call``, or, if None, the
    daily mark of the session that has just closed (worked out from the session's trades)."""

    symbol: str
    time_ns: int
    call: Call | None = None


@dataclass(frozen=True, slots=True)
class SettlementChange:
    """A settlement price as it was set, for the log."""

    symbol: str
    settlement: Settlement


@dataclass(frozen=True, slots=True)
class _Entered:
    symbol: str
    state: InstrumentState


@dataclass(frozen=True, slots=True)
class _View:
    """Everything an update shows, to tell whether anything changed."""

    state: InstrumentState
    book: RawBook
    stats: tuple[int | None, ...]
    settlement: Settlement | None


@dataclass(slots=True)
class _Symbol:
    state: InstrumentState = InstrumentState.INSTRUMENT_STATE_CLOSED
    in_session: bool = False
    had_session: bool = False
    last_px: int | None = None
    last_qty: int | None = None
    open_px: int | None = None
    high_px: int | None = None
    low_px: int | None = None
    close_px: int | None = None
    session_last_px: int | None = None
    shares: int = 0
    notional: int = 0
    longs: dict[str, int] = field(default_factory=dict)
    settlement: Settlement | None = None
    published: _View | None = None

    def enter(self, state: InstrumentState) -> None:
        if state in SESSION_STARTS and not self.in_session:
            self.in_session = self.had_session = True
            self.open_px = self.high_px = self.low_px = self.close_px = None
            self.session_last_px = None
            self.shares = self.notional = 0
        elif state in SETTLED_STATES and self.in_session:
            self.in_session = False
            self.close_px = self.session_last_px
        self.state = state

    def trade(self, px: int, qty: int) -> None:
        self.last_px, self.last_qty = px, qty
        if self.open_px is None:
            self.open_px = px
        self.high_px = px if self.high_px is None else max(self.high_px, px)
        self.low_px = px if self.low_px is None else min(self.low_px, px)
        self.session_last_px = px
        self.shares += qty
        self.notional += qty * px

    def position(self, account: str, net: int, expired: bool) -> None:
        self.longs[account] = 0 if expired else max(net, 0)

    def shown_settlement(self) -> Settlement | None:
        return self.settlement if self.state in SETTLED_STATES else None

    def view(self, book: RawBook) -> _View:
        totals = (self.shares, self.notional) if self.had_session else (None, None)
        stats = (self.last_px, self.last_qty, self.open_px, self.high_px, self.low_px,
                 self.close_px, *totals, sum(self.longs.values()))
        return _View(self.state, book, stats, self.shown_settlement())


_STATS_FIELDS = ("last_trade_px", "last_trade_qty", "open_px", "high_px", "low_px", "close_px",
                 "shares_traded", "notional_traded", "open_interest")


def update_message(symbol: str, view: _View, time_ns: int) -> md.MarketDataUpdate:
    """The MarketDataUpdate showing ``view`` of ``symbol`` at ``time_ns``."""
    stats = md.InstrumentStats()
    for name, value in zip(_STATS_FIELDS, view.stats, strict=True):
        if value is not None:
            setattr(stats, name, value)
    settlement = view.settlement
    if settlement is not None:
        stats.settlement_px = settlement.px
        stats.settlement_preliminary = settlement.preliminary
        stats.settlement_price_calculation_method = settlement.method
        stats.settlement_price_calculation_text = settlement.text
        stats.settlement_set_time.CopyFrom(to_timestamp(settlement.set_time_ns))
    return md.MarketDataUpdate(
        symbol=symbol,
        bids=[md.BookEntry(px=px, qty=qty) for px, qty in view.book.bids],
        offers=[md.BookEntry(px=px, qty=qty) for px, qty in view.book.offers],
        state=view.state,
        stats=stats,
        transact_time=to_timestamp(time_ns),
        book_hidden=False,
    )


@dataclass(frozen=True, slots=True)
class Published:
    """What one step published: the updates in order, and the settlements it set."""

    updates: tuple[md.MarketDataUpdate, ...]
    settlements: tuple[SettlementChange, ...]


class MarketData:
    """Statistics, settlements and last published view of every symbol."""

    def __init__(self, symbols: Iterable[str]) -> None:
        self._symbols: dict[str, _Symbol] = {symbol: _Symbol() for symbol in symbols}

    def settlement(self, symbol: str) -> Settlement | None:
        """The latest settlement price of ``symbol``, shown or not."""
        return self._symbols[symbol].settlement

    def publish(
        self,
        *,
        instrument_changes: Sequence[tuple[int, str, InstrumentState]],
        trades: Sequence[orders_pb2.Trade],
        position_changes: Sequence[dropcopy_pb2.PositionChange],
        settlements: Sequence[SettlementOrder],
        books: Mapping[str, RawBook],
        time_ns: int,
    ) -> Published:
        """Apply one step's events in time order and return what it publishes.
        ``instrument_changes`` are (instant, symbol, new state); ``time_ns`` is the instant of
        the end-of-step updates (not earlier than any event of the step)."""
        kinds: tuple[list[tuple[int, object]], ...] = (
            [(t, _Entered(symbol, state)) for t, symbol, state in instrument_changes],
            [(from_timestamp(tr.aggressor.transact_time), tr) for tr in trades
             if tr.state == enums_pb2.TRADE_STATE_NEW],
            [(from_timestamp(p.change_time), p) for p in position_changes],
            [(s.time_ns, s) for s in settlements],
        )
        # At one instant: a state change first, a settlement last (a mark follows its close).
        timeline = sorted(
            ((t, rank, i, event) for rank, events in enumerate(kinds)
             for i, (t, event) in enumerate(events)),
            key=lambda item: (item[0], item[1], item[2]),
        )
        updates: list[md.MarketDataUpdate] = []
        changes: list[SettlementChange] = []
        for at, _, _, event in timeline:
            if isinstance(event, _Entered):
                self._symbols[event.symbol].enter(event.state)
            elif isinstance(event, orders_pb2.Trade):
                fill = event.aggressor
                self._symbols[fill.order.symbol].trade(fill.last_px, fill.last_shares)
            elif isinstance(event, dropcopy_pb2.PositionChange):
                position = event.position
                self._symbols[position.symbol].position(
                    position.account, position.net_position, position.expired)
            elif isinstance(event, SettlementOrder):
                entry = self._symbols[event.symbol]
                call = event.call or daily_mark(entry.session_last_px, entry.settlement)
                entry.settlement = Settlement.of(call, at)
                changes.append(SettlementChange(event.symbol, entry.settlement))
                updates.append(self._publish(event.symbol, books, at))
        for symbol, entry in self._symbols.items():
            if entry.view(books.get(symbol, EMPTY_BOOK)) != entry.published:
                updates.append(self._publish(symbol, books, time_ns))
        return Published(tuple(updates), tuple(changes))

    def _publish(self, symbol: str, books: Mapping[str, RawBook], time_ns: int
                 ) -> md.MarketDataUpdate:
        entry = self._symbols[symbol]
        entry.published = entry.view(books.get(symbol, EMPTY_BOOK))
        return update_message(symbol, entry.published, time_ns)
