"""Which market-data stream carries which symbol, and the commands that keep it so.

The exchange serves at most 1000 symbols on one bidirectional stream, so the wanted symbols are
spread over as many streams as they need. The plan is stable: when the wanted set changes, a
symbol that stays keeps its stream; a symbol that leaves is unsubscribed on its own stream; a
new symbol goes to the first open stream with room (streams in the order they were opened),
and a new stream is opened only when every open one is full. A stream left with no symbol stays
open (kept alive) and is filled first next time. So a change is only subscribe and unsubscribe
commands on streams that are already open, plus new streams; an open stream is never
reconnected or re-planned because of a change.

Pure: no I/O, no clock, no gRPC; it must never move a symbol from one open stream to another.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ShardChange:
    """What one stream must do: ``opened`` (a new stream, which subscribes ``subscribe`` when it
    connects), otherwise unsubscribe then subscribe these symbols on the open stream."""

    shard: int
    subscribe: tuple[str, ...] = ()
    unsubscribe: tuple[str, ...] = ()
    opened: bool = False


class ShardPlan:
    def __init__(self, max_symbols_per_stream: int) -> None:
        if max_symbols_per_stream < 1:
            raise ValueError(f"max_symbols_per_stream must be >= 1, got {max_symbols_per_stream}")
        self._limit = max_symbols_per_stream
        self._shards: list[dict[str, None]] = []  # each stream's symbols, in subscribe order
        self._home: dict[str, int] = {}  # symbol -> its stream

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def shard_count(self) -> int:
        return len(self._shards)

    def symbols(self, shard: int) -> tuple[str, ...]:
        """The symbols ``shard`` carries now (what it subscribes when it (re)connects)."""
        return tuple(self._shards[shard])

    @property
    def assigned(self) -> frozenset[str]:
        return frozenset(self._home)

    def update(self, wanted: Collection[str]) -> list[ShardChange]:
        """Make the plan carry exactly ``wanted``; the changes, in stream order (unsubscribes
        come with their stream's subscribes, before them, so a freed place is reused)."""
        target = set(wanted)
        leaving: dict[int, list[str]] = {}
        for symbol in sorted(self._home.keys() - target):
            shard = self._home.pop(symbol)
            del self._shards[shard][symbol]
            leaving.setdefault(shard, []).append(symbol)
        joining: dict[int, list[str]] = {}
        opened: set[int] = set()
        shard = 0
        for symbol in sorted(target - self._home.keys()):
            while shard < len(self._shards) and len(self._shards[shard]) >= self._limit:
                shard += 1
            if shard == len(self._shards):
                self._shards.append({})
                opened.add(shard)
            self._shards[shard][symbol] = None
            self._home[symbol] = shard
            joining.setdefault(shard, []).append(symbol)
        return [
            ShardChange(
                index,
                tuple(joining.get(index, ())),
                tuple(leaving.get(index, ())),
                opened=index in opened,
            )
            for index in sorted(leaving.keys() | joining.keys())
        ]
