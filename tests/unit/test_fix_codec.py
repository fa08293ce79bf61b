"""The codec: our encoder agrees with simplefix byte for byte; garbled frames are dropped."""

from __future__ import annotations

import simplefix
from hypothesis import given
from hypothesis import strategies as st

from fixbridge.fix.codec import (
    FieldError,
    FixMessage,
    FrameParser,
    Garbled,
    Oversize,
    checksum,
    encode_fields,
    first_value,
    frame,
    split_fields,
)

values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=20
)
HEADER_AND_TRAILER = {8, 9, 10, 34, 35, 43, 49, 52, 56, 122}
body_tags = st.integers(min_value=1, max_value=9999).filter(lambda t: t not in HEADER_AND_TRAILER)
fields = st.lists(st.tuples(body_tags, values), max_size=15)


@given(fields)
def test_encoder_matches_simplefix(body: list[tuple[int, str]]) -> None:
    header = [(49, "FIXBRIDGE"), (56, "CLIENT"), (34, "12"), (52, "20260101-00:00:00.000")]
    ours = frame("8", encode_fields(header), encode_fields(body))
    oracle = simplefix.FixMessage()
    oracle.append_pair(8, "FIXT.1.1")
    oracle.append_pair(35, "8")
    for tag, value in header + body:
        oracle.append_pair(tag, value)
    assert ours == oracle.encode()


@given(fields, st.integers(min_value=1, max_value=50))
def test_parser_reassembles_frames_split_anywhere(body: list[tuple[int, str]], cut: int) -> None:
    raw = frame("8", encode_fields([(34, "1")]), encode_fields(body))
    parser = FrameParser()
    out = parser.feed(raw[:cut]) + parser.feed(raw[cut:])
    assert len(out) == 1 and isinstance(out[0], FixMessage)
    assert out[0].fields[3:-1] == ((34, "1"), *body)


def _msg(seq: int) -> bytes:
    return frame("0", encode_fields([(34, str(seq))]), b"")


def test_bad_checksum_is_dropped_and_next_frame_is_read() -> None:
    bad = bytearray(_msg(1))
    bad[-4:-1] = b"000" if bad[-4:-1] != b"000" else b"001"
    out = FrameParser().feed(bytes(bad) + _msg(2))
    assert isinstance(out[0], Garbled) and "CheckSum" in out[0].reason
    assert isinstance(out[1], FixMessage) and out[1].get(34) == "2"


def test_wrong_body_length_is_dropped() -> None:
    good = _msg(1)
    declared = good.split(b"\x019=")[1].split(b"\x01")[0]
    bad = good.replace(b"9=" + declared, b"9=%d" % (int(declared) - 3), 1)
    out = FrameParser().feed(bad + _msg(2))
    assert isinstance(out[0], Garbled)
    assert [m.get(34) for m in out if isinstance(m, FixMessage)] == ["2"]


def test_leading_garbage_is_skipped() -> None:
    out = FrameParser().feed(b"\x00\xffnoise" + _msg(3))
    assert isinstance(out[0], Garbled) and isinstance(out[1], FixMessage)


def test_oversize_is_reported_before_reading_the_body() -> None:
    out = FrameParser(max_message_size=1000).feed(b"8=FIXT.1.1\x019=5000\x0135=0\x01")
    assert out == [Oversize(5000, 1000)]


def test_soh_in_a_value_is_refused() -> None:
    try:
        encode_fields([(58, "a\x01b")])
    except FieldError as exc:
        assert "58" in str(exc)
    else:
        raise AssertionError("SOH accepted")


def _with_length_and_sum(content: bytes) -> bytes:
    """``8=FIXT.1.1|9=<len>|`` + content + a correct CheckSum: well framed, whatever inside."""
    head = b"8=FIXT.1.1\x019=%d\x01" % len(content)
    total = sum(head + content) & 0xFF
    return head + content + b"10=%03d\x01" % total


def test_msg_type_not_third_is_garbled_and_uses_no_number() -> None:
    out = FrameParser().feed(_with_length_and_sum(b"34=3\x0135=0\x0149=C\x01") + _msg(3))
    assert isinstance(out[0], Garbled) and "MsgType(35)" in out[0].reason
    assert [m.get(34) for m in out if isinstance(m, FixMessage)] == ["3"]


def test_negative_and_zero_tag_numbers_parse_for_the_session_to_reject() -> None:
    (msg,) = FrameParser().feed(frame("0", encode_fields([(34, "2")]), b"-1=HI\x010=HI\x01"))
    assert isinstance(msg, FixMessage) and msg.fields[4:6] == ((-1, "HI"), (0, "HI"))
    (garbled,) = FrameParser().feed(frame("0", encode_fields([(34, "2")]), b"4x=HI\x01"))
    assert isinstance(garbled, Garbled)


def test_too_long_body_length_loses_its_frame_and_recovers_the_next() -> None:
    good = _msg(4)
    declared = int(good.split(b"\x019=")[1].split(b"\x01")[0])
    too_long = good.replace(b"9=%d" % declared, b"9=%d" % (declared + 12), 1)
    parser = FrameParser()
    out = parser.feed(too_long) + parser.feed(_msg(5))
    assert isinstance(out[0], Garbled)
    assert [m.get(34) for m in out if isinstance(m, FixMessage)] == ["5"]


def test_noise_starting_with_8_is_no_frame_even_when_the_checksum_happens_to_match() -> None:
    """Found by tests/fuzz: the bytes before this heartbeat begin with "8=" and their sum is 0
    modulo 256, so taking "8=.3n...8=FIXT.1.1" for a BeginString gave a frame whose CheckSum
    matched, and the heartbeat was lost as a message of the wrong protocol."""
    heartbeat = b"8=FIXT.1.1\x019=20\x0135=0\x0149=0\x0156=0\x0134=1\x0110=168\x01"
    noise = b"8=8=.3n\xc600000001"
    assert sum(noise) % 256 == 0
    out = FrameParser().feed(noise + heartbeat)
    assert [m.raw for m in out if isinstance(m, FixMessage)] == [heartbeat]


def test_a_frame_of_another_fix_version_still_parses_for_the_session_to_answer() -> None:
    raw = b"8=FIX.4.4\x019=20\x0135=0\x0149=0\x0156=0\x0134=1\x0110=%03d\x01"
    body = raw[: raw.index(b"10=")]
    (parsed,) = FrameParser().feed(body + b"10=%03d\x01" % (sum(body) % 256))
    assert isinstance(parsed, FixMessage) and parsed.get(8) == "FIX.4.4"


@given(
    st.lists(
        st.tuples(st.sampled_from([34, 52, 134, 58, 3452, 11]), st.text(
            st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=8
        )),
        max_size=12,
    )
)
def test_first_value_reads_what_split_fields_reads_first(body: list[tuple[int, str]]) -> None:
    data = frame("8", encode_fields(body), b"")
    firsts: dict[int, str] = {}
    for tag, value in split_fields(data):
        firsts.setdefault(tag, value)
    for tag in (34, 35, 52, 134, 58, 3452, 11, 10, 7):
        assert first_value(data, tag) == firsts.get(tag), tag


# CheckSum(10) is defined as the sum of the bytes modulo 256 (FIXT.1.1, "CheckSum"); the codec
# reads it from Adler-32 in 256-byte spans. Lengths around the span edges and bytes up to 0xFF
# (the largest sums a span can have) are where that reading could go wrong.
@given(st.binary(max_size=2000) | st.integers(0, 1100).map(lambda n: b"\xff" * n))
def test_the_checksum_is_the_byte_sum_modulo_256(data: bytes) -> None:
    assert checksum(data) == sum(data) % 256


def test_the_checksum_of_every_length_around_the_spans() -> None:
    for size in (0, 1, 255, 256, 257, 511, 512, 513, 1023, 1024, 1025, 70_000):
        for data in (
            b"\xff" * size,  # the largest byte: spans of 256
            b"\x7f" * size,  # the largest ASCII byte: spans of 512
            bytes(range(256)) * (size // 256) + b"\x7f" * (size % 256),
            b"\x7f" * (size - 1) + b"\x80" * min(size, 1),  # not ASCII by its last byte only
        ):
            assert checksum(data) == sum(data) % 256, size
