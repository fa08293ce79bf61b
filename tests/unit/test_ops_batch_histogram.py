"""ops/batch_histogram.py against prometheus_client's own Histogram fed the same values one
by one: the exposition text must be the same, line for line."""

from __future__ import annotations

import math
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fixbridge.ops.batch_histogram import BatchHistogram
from fixbridge.ops.metrics import LAG_BUCKETS

NAME, DOC = "lag_seconds", "A lag."

# Multiples of 1/1024 s, so a sum is exact whatever the order it is added in.
exact_values = st.integers(0, 2_000_000 * 1024).map(lambda n: n / 1024)
# Every bound itself and its neighbours: a value equal to a bound is in that bound's bucket.
edges = st.sampled_from([v for b in LAG_BUCKETS for v in (b, math.nextafter(b, 0), b * 1.5)])


def _pair() -> tuple[CollectorRegistry, Histogram, CollectorRegistry, BatchHistogram]:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    reference = Histogram(NAME, DOC, ["session"], buckets=LAG_BUCKETS, registry=theirs)
    batched = BatchHistogram(NAME, DOC, ["session"], LAG_BUCKETS, ours)
    return theirs, reference, ours, batched


@given(st.lists(st.lists(exact_values | edges, max_size=40), max_size=8))
def test_the_exposition_is_prometheus_clients_for_the_same_values(
    batches: list[list[float]],
) -> None:
    theirs, reference, ours, batched = _pair()
    for session in ("a", "b"):  # "b" stays at zero: made, never observed
        reference.labels(session)
        batched.labels(session)
    for batch in batches:
        for value in batch:
            reference.labels("a").observe(value)
        batched.labels("a").observe_many(batch)
    ours_text, theirs_text = generate_latest(ours).decode(), generate_latest(theirs).decode()
    if all(v * 1024 == int(v * 1024) for batch in batches for v in batch):
        assert ours_text == theirs_text  # sums exact in any order: the very same text
    else:  # bounds are not binary fractions: the sums may differ in their last bits
        assert _samples(ours_text) == _samples(theirs_text)
        assert _sums(ours_text) == pytest.approx(_sums(theirs_text), rel=1e-12)


def _samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample but the sums."""
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not s.name.endswith("_sum")
    ]


def _sums(text: str) -> list[float]:
    return [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.endswith("_sum")
    ]


def test_a_value_on_a_bound_counts_in_that_bound_and_above() -> None:
    _, _, ours, batched = _pair()
    batched.labels("s").observe_many([0.001, 0.001, 1800.0, 1800.5])
    text = generate_latest(ours).decode()
    assert f'{NAME}_bucket{{le="0.0005",session="s"}} 0.0' in text
    assert f'{NAME}_bucket{{le="0.001",session="s"}} 2.0' in text
    assert f'{NAME}_bucket{{le="1800.0",session="s"}} 3.0' in text
    assert f'{NAME}_bucket{{le="+Inf",session="s"}} 4.0' in text
    assert f'{NAME}_count{{session="s"}} 4.0' in text


def test_batches_from_several_threads_are_all_counted() -> None:
    *_, batched = _pair()
    child = batched.labels("s")

    def feed() -> None:
        for _ in range(500):
            child.observe_many([0.25, 3.0])

    threads = [threading.Thread(target=feed) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts, total = child.snapshot()
    assert sum(counts) == 4 * 500 * 2
    assert total == 4 * 500 * 3.25


@pytest.mark.parametrize("buckets", [(), (1.0, 0.5), (1.0, 1.0), (0.5, math.nan)])
def test_buckets_that_are_not_ascending_are_refused(buckets: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="distinct and ascending"):
        BatchHistogram(NAME, DOC, ["session"], buckets, None)


def test_label_values_must_match_the_label_names() -> None:
    *_, batched = _pair()
    with pytest.raises(ValueError, match="label values"):
        batched.labels("a", "b")
