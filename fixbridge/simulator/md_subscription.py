"""What one market-data stream asked for: its options, its symbols, and the book it is sent.

Rules the exchange's market-data page states: ``symbols`` empty subscribes to every instrument;
``depth`` is the number of price levels (default 10); ``unaggregated`` false gives the book
"aggregated by price level", true the raw book; the bidirectional stream reads its options from
its first request only; a subscribe answers with a SubscriptionAck listing the symbols added,
removed and active, an error is a SubscriptionError with INVALID_SYMBOL (no such symbol),
ALREADY_SUBSCRIBED or NOT_SUBSCRIBED (unsubscribing a symbol not in the subscription) and the
symbols that caused it; "each gRPC stream is limited to 1000 symbols maximum".

The simulator's choices where the page is silent:

* every subscribe or unsubscribe command is answered by exactly one SubscriptionAck, after one
  SubscriptionError per problem (INVALID_SYMBOL first, then ALREADY_SUBSCRIBED or
  NOT_SUBSCRIBED); the symbols without a problem are applied, so a client can always wait for
  the ack to know where it stands;
* the limit is checked on the command's new names before they are looked up: a subscribe that
  would take the stream over 1000 symbols is refused whole with a SubscriptionError
  ``SYMBOL_LIMIT_EXCEEDED`` naming them (the stream and its symbols stay as they were). On the
  server stream (symbols fixed at open) more than 1000 symbols, an unknown symbol or a negative
  depth is INVALID_ARGUMENT, as the exchange's error page has it for ">1000 MD symbols";
* names are taken once each, in the order given; an unaggregated book keeps the orders of its
  first ``depth`` price levels.

Pure: no I/O, no clock, no gRPC. This module must never change a logged update; it renders
copies.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from fixbridge.proto.polymarket.v1 import marketdatasubscription_pb2

md = marketdatasubscription_pb2

MAX_SYMBOLS_PER_STREAM = 1000
DEFAULT_DEPTH = 10

INVALID_SYMBOL = "INVALID_SYMBOL"
ALREADY_SUBSCRIBED = "ALREADY_SUBSCRIBED"
NOT_SUBSCRIBED = "NOT_SUBSCRIBED"
SYMBOL_LIMIT_EXCEEDED = "SYMBOL_LIMIT_EXCEEDED"
"""The simulator's own code: the exchange documents the limit, not the error for breaking it."""


class RequestError(ValueError):
    """A request the simulator ends with INVALID_ARGUMENT; the message names the problem."""


@dataclass(frozen=True, slots=True)
class Options:
    depth: int = DEFAULT_DEPTH
    unaggregated: bool = False
    snapshot_only: bool = False


def options(depth: int, unaggregated: bool, snapshot_only: bool) -> Options:
    """A stream's options as requested (depth 0 is the default, 10); RequestError if the
    depth is negative."""
    if depth < 0:
        raise RequestError(f"depth must be >= 0 (0 = {DEFAULT_DEPTH}), got {depth}")
    return Options(depth or DEFAULT_DEPTH, unaggregated, snapshot_only)


def _unique(symbols: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(symbols))


def server_stream_symbols(requested: Sequence[str], known: Sequence[str]) -> tuple[str, ...]:
    """The symbols a CreateMarketDataSubscription serves: every known one for an empty list;
    RequestError for more than 1000 or for names the exchange does not list."""
    wanted = _unique(requested)
    if len(wanted) > MAX_SYMBOLS_PER_STREAM:
        raise RequestError(
            f"{len(wanted)} symbols requested; a stream takes at most {MAX_SYMBOLS_PER_STREAM}")
    if not wanted:
        return tuple(known)
    listed = frozenset(known)
    unknown = [s for s in wanted if s not in listed]
    if unknown:
        raise RequestError(f"unknown symbols: {', '.join(unknown)}")
    return tuple(wanted)


def _levels(entries: Sequence[md.BookEntry], depth: int, aggregate: bool) -> list[md.BookEntry]:
    """The first ``depth`` price levels of one side (best first), summed per price or not."""
    out: list[md.BookEntry] = []
    prices = 0
    for entry in entries:
        same = bool(out) and out[-1].px == entry.px
        if not same:
            if prices == depth:
                break
            prices += 1
        if same and aggregate:
            out[-1].qty += entry.qty
        else:
            out.append(md.BookEntry(px=entry.px, qty=entry.qty))
    return out


def render(update: md.MarketDataUpdate, wanted: Options) -> md.MarketDataUpdate:
    """A copy of a logged ``update`` (one book entry per order) with the book as ``wanted``."""
    rendered = md.MarketDataUpdate()
    rendered.CopyFrom(update)
    for side in ("bids", "offers"):
        levels = _levels(getattr(update, side), wanted.depth, not wanted.unaggregated)
        target = getattr(rendered, side)
        del target[:]
        target.extend(levels)
    return rendered


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one command was answered: its errors, then its ack; ``added``: the symbols whose
    current state the stream now sends."""

    errors: tuple[md.SubscriptionError, ...]
    ack: md.SubscriptionAck
    added: tuple[str, ...] = ()


class SymbolSet:
    """The active symbols of one bidirectional stream, in the order they were added."""

    def __init__(self, known: Collection[str], limit: int = MAX_SYMBOLS_PER_STREAM) -> None:
        self._known = frozenset(known)
        self._limit = limit
        self._active: dict[str, None] = {}

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._active

    @property
    def active(self) -> tuple[str, ...]:
        return tuple(self._active)

    def subscribe(self, symbols: Iterable[str]) -> Outcome:
        requested = _unique(symbols)
        fresh = [s for s in requested if s not in self._active]
        if len(self._active) + len(fresh) > self._limit:
            error = md.SubscriptionError(
                error_code=SYMBOL_LIMIT_EXCEEDED,
                message=(f"{len(self._active)} active and {len(fresh)} new symbols: a stream "
                         f"takes at most {self._limit}; nothing was added"),
                symbols=fresh,
            )
            return Outcome((error,), self._ack())
        errors = []
        unknown = [s for s in fresh if s not in self._known]
        if unknown:
            errors.append(md.SubscriptionError(
                error_code=INVALID_SYMBOL, message=f"{len(unknown)} symbols do not exist",
                symbols=unknown))
        already = [s for s in requested if s in self._active]
        if already:
            errors.append(md.SubscriptionError(
                error_code=ALREADY_SUBSCRIBED,
                message=f"{len(already)} symbols are already subscribed", symbols=already))
        added = [s for s in fresh if s in self._known]
        self._active.update(dict.fromkeys(added))
        return Outcome(tuple(errors), self._ack(added=added), tuple(added))

    def unsubscribe(self, symbols: Iterable[str]) -> Outcome:
        requested = _unique(symbols)
        missing = [s for s in requested if s not in self._active]
        errors = []
        if missing:
            errors.append(md.SubscriptionError(
                error_code=NOT_SUBSCRIBED,
                message=f"{len(missing)} symbols are not in this subscription", symbols=missing))
        removed = [s for s in requested if s in self._active]
        for symbol in removed:
            del self._active[symbol]
        return Outcome(tuple(errors), self._ack(removed=removed))

    def _ack(self, added: Sequence[str] = (), removed: Sequence[str] = ()) -> md.SubscriptionAck:
        return md.SubscriptionAck(
            symbols_added=added, symbols_removed=removed, active_symbols=self.active)
