"""A labelled Prometheus histogram that takes its observations a batch at a time.

prometheus_client's ``Histogram`` takes one value per call, under a lock, and walks its
buckets in order until one holds the value: a lag of minutes (a backlog delivered at logon)
walks all of them. The delivery leg observes two lags per message it writes, so that cost
was paid per message. Here a batch of values is counted under one acquisition of the
child's lock, each value placed by binary search, and the registry reads the counts when it
is scraped: the same series as prometheus_client's histogram (``_bucket`` with ``le``,
``_count``, ``_sum``; no ``_created``, which this project turns off anyway), under the same
names and labels. tests/unit/test_ops_batch_histogram.py holds the two expositions equal.

Must never lose or double-count an observation, nor show a scrape whose buckets and count
disagree: a child's counts are read under the lock its batches are counted under. Pure apart
from that lock: no I/O, no clock.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client.core import HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString


class BatchHistogramChild:
    """One label set's buckets (counts per bucket, not yet cumulative) and sum."""

    __slots__ = ("_bounds", "_counts", "_lock", "_sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds  # ascending upper bounds, +Inf last
        self._counts = [0] * len(bounds)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        self.observe_many((value,))

    def observe_many(self, values: Iterable[float]) -> None:
        """Count each value in the first bucket whose upper bound is at least the value."""
        bounds, place = self._bounds, bisect.bisect_left
        with self._lock:
            counts = self._counts
            total = 0.0
            for value in values:
                counts[place(bounds, value)] += 1
                total += value
            self._sum += total

    def snapshot(self) -> tuple[list[int], float]:
        """The counts per bucket and the sum, read together."""
        with self._lock:
            return list(self._counts), self._sum


class BatchHistogram(Collector):
    """A histogram metric with labels, registered in ``registry`` (rules: module doc)."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        buckets: Sequence[float],
        registry: CollectorRegistry | None,
    ) -> None:
        bounds = tuple(float(b) for b in buckets)
        if not bounds or any(map(math.isnan, bounds)) or list(bounds) != sorted(set(bounds)):
            raise ValueError(f"histogram {name}: buckets must be distinct and ascending")
        if bounds[-1] != math.inf:
            bounds += (math.inf,)
        self._name = name
        self._documentation = documentation
        self._labelnames = tuple(labelnames)
        self._bounds = bounds
        self._children: dict[tuple[str, ...], BatchHistogramChild] = {}
        self._lock = threading.Lock()
        if registry is not None:
            registry.register(self)

    def labels(self, *values: str) -> BatchHistogramChild:
        """The child of this label set, made (at zero) the first time."""
        if len(values) != len(self._labelnames):
            raise ValueError(
                f"histogram {self._name}: {len(values)} label values for {self._labelnames}"
            )
        key = tuple(str(v) for v in values)
        with self._lock:
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = BatchHistogramChild(self._bounds)
        return child

    def describe(self) -> list[Metric]:
        return [HistogramMetricFamily(self._name, self._documentation, labels=self._labelnames)]

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self._name, self._documentation, labels=self._labelnames)
        with self._lock:
            children = list(self._children.items())
        bounds = [floatToGoString(b) for b in self._bounds]  # type: ignore[no-untyped-call]
        for key, child in children:
            counts, total = child.snapshot()
            cumulative: list[tuple[str, float]] = []
            running = 0
            for bound, count in zip(bounds, counts, strict=True):
                running += count
                cumulative.append((bound, running))
            family.add_metric(list(key), cumulative, total)
        yield family


__all__ = ["BatchHistogram", "BatchHistogramChild"]
