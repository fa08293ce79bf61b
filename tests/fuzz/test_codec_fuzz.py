"""Property-based fuzzing of the frame parser: hostile byte streams, frames split anywhere,
frames damaged by one byte. Example counts come from the Hypothesis profile (tests/conftest.py:
``ci`` by default, ``--hypothesis-profile=long`` for a long run)."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from fixbridge.fix.codec import (
    FixMessage,
    FrameParser,
    Garbled,
    Oversize,
    ParseResult,
    encode_fields,
    frame,
)
from tests.fuzz.wire import damaged, frame_problem, fuzz_examples, hostile_streams, valid_frames

limits = st.sampled_from([64, 300, 1 << 20])


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def feed_all(parser: FrameParser, pieces: list[bytes]) -> list[ParseResult]:
    out: list[ParseResult] = []
    for piece in pieces:
        out += parser.feed(piece)
        if out and isinstance(out[-1], Oversize):
            break  # the connection is dropped: nothing more is read
    return out


@settings(max_examples=fuzz_examples(10))
@given(hostile_streams, st.lists(st.integers(0, 10_000), max_size=8), limits)
def test_a_hostile_stream_yields_only_well_formed_frames_and_loses_no_byte_unaccounted(
    data: bytes, cuts: list[int], limit: int
) -> None:
    parser = FrameParser(max_message_size=limit)
    out = feed_all(parser, chunks(data, cuts))
    for result in out:
        if isinstance(result, FixMessage):
            assert frame_problem(result.raw) is None, (frame_problem(result.raw), result.raw)
            assert result.fields[2][0] == 35 and len(result.raw) <= limit + 100
        elif isinstance(result, Garbled):
            assert result.dropped > 0 and result.reason
    assert [r for r in out[:-1] if isinstance(r, Oversize)] == []
    if not (out and isinstance(out[-1], Oversize)):
        taken = sum(len(r.raw) for r in out if isinstance(r, FixMessage))
        assert taken + parser.dropped_bytes + parser.buffered == len(data)


@settings(max_examples=fuzz_examples(10))
@given(hostile_streams, st.lists(st.integers(0, 10_000), max_size=8))
def test_how_a_stream_is_split_never_changes_the_frames_read_from_it(
    data: bytes, cuts: list[int]
) -> None:
    whole, split = FrameParser(), FrameParser()
    at_once = [r for r in whole.feed(data) if isinstance(r, FixMessage | Oversize)]
    piecewise = [r for r in feed_all(split, chunks(data, cuts)) if not isinstance(r, Garbled)]
    assert piecewise == at_once[: len(piecewise)]
    if not (piecewise and isinstance(piecewise[-1], Oversize)):
        assert piecewise == at_once
        assert split.buffered == whole.buffered


@settings(max_examples=fuzz_examples(10))
@given(st.lists(valid_frames(), min_size=1, max_size=6), st.data())
def test_one_damaged_frame_costs_that_frame_only(frames: list[bytes], data: st.DataObject) -> None:
    """A damaged BodyLength may claim bytes that have not come yet: the frames after it are
    read once later traffic shows the claim wrong. One damaged byte makes BodyLength at most
    four digits (under 10,000 bytes); the stream goes on with 399 heartbeats, some 16 KB."""
    hit = data.draw(st.integers(0, len(frames) - 1), label="damaged frame")
    broken = data.draw(damaged(frames[hit]), label="damaged bytes")
    later = [frame("0", encode_fields([(34, str(n))]), b"") for n in range(1, 400)]
    stream = b"".join([*frames[:hit], broken, *frames[hit + 1 :], *later])
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=5), label="cuts")
    parser = FrameParser()
    read = [r.raw for r in feed_all(parser, chunks(stream, cuts)) if isinstance(r, FixMessage)]
    expected = [*(f for i, f in enumerate(frames) if i != hit), *later]
    if len(read) == len(expected) + 1:  # the damage left a whole frame (a byte before or after)
        assert read[hit] == frames[hit] or frame_problem(read[hit]) is None
        del read[hit]
    assert read == expected
