"""normalize/payload.read_json: pydantic-core's parser first, ``json`` for what it refuses.
Whatever it answers must be what ``json`` answers, for documents written either way and for
bytes that are not JSON at all."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.payload import read_json

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**40), 10**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)


def _by_json(data: bytes) -> object:
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return NormalizationError


def _ours(data: bytes) -> object:
    try:
        return read_json(data)
    except NormalizationError:
        return NormalizationError


@settings(max_examples=300)
@given(documents, st.booleans(), st.sampled_from([None, 1]))
def test_a_written_document_reads_back_as_json_reads_it(
    document: object, ascii_only: bool, indent: int | None
) -> None:
    data = json.dumps(document, ensure_ascii=ascii_only, indent=indent).encode("utf-8")
    assert repr(_ours(data)) == repr(_by_json(data))


json_ish = st.text(alphabet='{}[]",:0123456789.eE+-\\u tfnrl\x01', max_size=40).map(str.encode)


@settings(max_examples=300)
@given(st.binary(max_size=60) | json_ish)
def test_any_bytes_read_as_json_reads_them(data: bytes) -> None:
    assert repr(_ours(data)) == repr(_by_json(data))


@pytest.mark.parametrize(
    "data",
    [b'{"a":"\\ud800"}', b"[" * 3000 + b"]" * 3000, b"[" + b"1" * 5000 + b"]", b"\xef\xbb\xbf{}"],
)
def test_what_the_fast_parser_refuses_is_answered_by_json(data: bytes) -> None:
    assert repr(_ours(data)) == repr(_by_json(data))
