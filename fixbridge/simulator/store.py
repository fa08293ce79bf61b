"""The simulator's memory: an append-only log per stream of every event it has produced.

A position in a log never changes meaning: entry ``i`` of a stream is the ``i``-th event that
stream ever had, which is what resume tokens point at. Beside the four DropCopy logs, the market
data log keeps every MarketDataUpdate (with the latest of each symbol, for snapshots) and every
settlement price set. One lock guards all of them, so a step's events appear in all of them at
once and another thread (a test) always sees a consistent set. Readers get copies or immutable
slices, never the live lists, and must never change a logged message.

An optional :class:`Corruptor` (the fault plan's malformed-event fault) may replace a DropCopy
event by a broken copy as it is logged (market data is never corrupted): the broken copy is
then the event, for live streams, replays and the ReportAPI alike, while what subscriptions and
searches select it by (time, symbol, firms, accounts) is still worked out from the event as
produced.
This module must never do I/O or know about gRPC or asyncio.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable
from typing import Generic, Protocol

from fixbridge.proto.polymarket.v1 import (
    dropcopy_pb2,
    marketdatasubscription_pb2,
    orders_pb2,
    refdata_pb2,
    trading_pb2,
)
from fixbridge.simulator.exchange import StepOutput
from fixbridge.simulator.marketdata import SettlementChange
from fixbridge.simulator.streams import (
    E,
    Entry,
    Stream,
    execution_entry,
    instrument_entry,
    position_entry,
    trade_entry,
)


class Corruptor(Protocol):
    """Given a just-produced event of ``stream``, a corrupted copy to log instead, or None."""

    def __call__(self, stream: Stream, event: E) -> E | None: ...


class ProductionFailed(RuntimeError):
    """The simulator stopped producing events because the model raised."""


class EventLog(Generic[E]):
    """One stream's events, oldest first. Thread-safe through the store's shared lock."""

    def __init__(self, stream: Stream, lock: threading.Condition,
                 corrupt: Corruptor | None = None) -> None:
        self.stream = stream
        self._lock = lock
        self._corrupt = corrupt
        self._entries: list[Entry[E]] = []

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def read(self, start: int, limit: int) -> list[Entry[E]]:
        """Up to ``limit`` entries from position ``start`` on."""
        with self._lock:
            return self._entries[start:start + limit]

    def events(self) -> list[E]:
        """A snapshot of every event so far."""
        with self._lock:
            return [entry.event for entry in self._entries]

    def _extend(self, entries: Iterable[Entry[E]]) -> list[E]:
        """Log ``entries``; returns their events as logged (corrupted or not). Caller holds the
        lock."""
        logged: list[E] = []
        for entry in entries:
            event = entry.event
            broken = None if self._corrupt is None else self._corrupt(self.stream, event)
            if broken is not None:
                entry = dataclasses.replace(entry, event=broken)
            self._entries.append(entry)
            logged.append(entry.event)
        return logged


class MarketDataLog:
    """Every MarketDataUpdate, oldest first, the latest of each symbol, and the settlement
    prices set. Thread-safe through the store's shared lock."""

    def __init__(self, lock: threading.Condition) -> None:
        self._lock = lock
        self._updates: list[marketdatasubscription_pb2.MarketDataUpdate] = []
        self._latest: dict[str, marketdatasubscription_pb2.MarketDataUpdate] = {}
        self._settlements: list[SettlementChange] = []

    def __len__(self) -> int:
        with self._lock:
            return len(self._updates)

    def read(self, start: int, limit: int) -> list[marketdatasubscription_pb2.MarketDataUpdate]:
        """Up to ``limit`` updates from position ``start`` on."""
        with self._lock:
            return self._updates[start:start + limit]

    def snapshot_at(
        self,
    ) -> tuple[dict[str, marketdatasubscription_pb2.MarketDataUpdate], int]:
        """The latest update of every symbol that has one (in first-seen order) and the log's
        length they are the state at: updates from that position on came after them."""
        with self._lock:
            return dict(self._latest), len(self._updates)

    def updates(self) -> list[marketdatasubscription_pb2.MarketDataUpdate]:
        with self._lock:
            return list(self._updates)

    def settlements(self) -> list[SettlementChange]:
        """Every settlement price set so far, in the order they were set."""
        with self._lock:
            return list(self._settlements)

    def _extend(self, output: StepOutput) -> None:
        """Log one step's market data. Caller holds the lock."""
        for update in output.market_data:
            self._updates.append(update)
            self._latest[update.symbol] = update
        self._settlements.extend(output.settlements)


class EventStore:
    """The four DropCopy logs, the market data log, the current state of every instrument, and
    a way to wait for progress."""

    def __init__(self, corrupt: Corruptor | None = None) -> None:
        self._lock = threading.Condition()
        self.executions: EventLog[trading_pb2.Execution] = EventLog(
            Stream.EXECUTIONS, self._lock, corrupt)
        self.trades: EventLog[orders_pb2.Trade] = EventLog(Stream.TRADES, self._lock, corrupt)
        self.instruments: EventLog[refdata_pb2.Instrument] = EventLog(
            Stream.INSTRUMENTS, self._lock, corrupt)
        self.position_changes: EventLog[dropcopy_pb2.PositionChange] = EventLog(
            Stream.POSITIONS, self._lock, corrupt)
        self.market_data = MarketDataLog(self._lock)
        self._current: dict[str, refdata_pb2.Instrument] = {}
        self._failure: BaseException | None = None

    def append(self, output: StepOutput) -> None:
        """Log one step's events in every log at once."""
        with self._lock:
            self.executions._extend(execution_entry(e) for e in output.executions)
            self.trades._extend(trade_entry(t) for t in output.trades)
            changes = output.instrument_changes
            logged = self.instruments._extend(
                instrument_entry(c.instrument, c.time_ns) for c in changes)
            for change, instrument in zip(changes, logged, strict=True):
                self._current[change.instrument.symbol] = instrument
            self.position_changes._extend(position_entry(p) for p in output.position_changes)
            self.market_data._extend(output)
            self._lock.notify_all()

    def instrument_snapshot(self) -> list[refdata_pb2.Instrument]:
        """The latest Instrument of every symbol that has one, in first-seen order."""
        return self.instrument_snapshot_at()[0]

    def instrument_snapshot_at(self) -> tuple[list[refdata_pb2.Instrument], int]:
        """The snapshot and the instrument log's length it is the state at, read together:
        the log entries from that position on are the changes that came after it."""
        with self._lock:
            return list(self._current.values()), len(self.instruments._entries)

    def fail(self, error: BaseException) -> None:
        """Record that production stopped on ``error``; waiters stop waiting."""
        with self._lock:
            self._failure = error
            self._lock.notify_all()

    @property
    def failure(self) -> BaseException | None:
        with self._lock:
            return self._failure

    def wait_for_executions(self, count: int, timeout: float) -> bool:
        """Block until ``count`` executions were logged (True) or ``timeout`` seconds passed
        (False). Raises ProductionFailed if production stopped on an error."""
        with self._lock:
            self._lock.wait_for(
                lambda: len(self.executions._entries) >= count or self._failure is not None,
                timeout,
            )
            if len(self.executions._entries) >= count:
                return True
            if self._failure is not None:
                raise ProductionFailed(f"simulator stopped producing: {self._failure!r}")
            return False
