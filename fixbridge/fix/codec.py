"""FIX tag=value framing: a fast encoder for outbound messages and a tolerant frame parser.

Encoding builds the bytes directly (a pre-joined header and body; simplefix is the test oracle
that checks them byte for byte). Parsing follows FIXT.1.1 framing rules: a frame whose
BodyLength or CheckSum is wrong, or whose third field is not MsgType(35), is garbled and is
dropped without an answer, and the parser resynchronises on the next ``8=``. A BeginString
that could not name a protocol version is no frame start. A BodyLength
that is too long swallows the start of the next frame; the resynchronisation recovers that
next frame whole (specs/session-rules.md). Pure: bytes in, frames out; no sockets, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zlib import adler32

SOH = b"\x01"
BEGIN_STRING = "FIXT.1.1"
_BEGIN = b"8=" + BEGIN_STRING.encode() + SOH


class FieldError(ValueError):
    """A field value cannot be put on the wire (it contains SOH or is not ASCII text)."""


def encode_fields(fields: Iterable[tuple[int, str]]) -> bytes:
    """``tag=value<SOH>`` for each field; values must not contain SOH."""
    pairs = fields if isinstance(fields, list | tuple) else list(fields)
    # One text, encoded once: a value holding SOH shows as one SOH too many.
    raw = "".join([f"{tag}={value}\x01" for tag, value in pairs]).encode("utf-8")
    if raw.count(SOH) != len(pairs):
        for tag, value in pairs:
            if "\x01" in value:
                raise FieldError(f"tag {tag}: value contains SOH")
    return raw


# Adler-32's low half is 1 + the sum of the bytes modulo 65521. Over at most this many bytes
# the sum (at most 255 * 256 = 65280) stays below the modulus, so it is exact; over ASCII
# bytes (at most 127 each), the span can be twice as long (127 * 512 = 65024).
_EXACT_SPAN = 256
_EXACT_ASCII_SPAN = 512


def checksum(data: bytes) -> int:
    """CheckSum(10): the sum of the bytes of ``data`` modulo 256. Read from zlib's Adler-32
    of each span short enough for its sum to be exact (C speed: ``sum()`` makes a Python int
    of every byte): one less than its low half is the span's exact sum, and its high half, a
    multiple of 65536, vanishes modulo 256. :func:`frame` sums a message's head and body
    apart: each of a rendered one is ASCII and one span long. ``data`` is ``bytes``.
    tests/unit/test_fix_codec.py holds it equal to ``sum(data) % 256``."""
    size = len(data)
    span = _EXACT_ASCII_SPAN if data.isascii() else _EXACT_SPAN
    if size <= span:
        return (adler32(data) - 1) & 0xFF
    view = memoryview(data)
    total = 0
    for start in range(0, size, span):
        total += adler32(view[start : start + span]) - 1
    return total & 0xFF


def frame(msg_type: str, header: bytes, body: bytes) -> bytes:
    """Wrap an encoded header (after MsgType) and body with 8, 9, 35 and the CheckSum trailer.
    The CheckSum is the sum of the head's and the body's (each short enough for one span of
    :func:`checksum`), and the body is copied once."""
    lead = b"35=%s\x01%s" % (msg_type.encode(), header)
    head = b"%s9=%d\x01%s" % (_BEGIN, len(lead) + len(body), lead)
    return b"%s%s10=%03d\x01" % (head, body, (checksum(head) + checksum(body)) & 0xFF)


@dataclass(frozen=True, slots=True)
class FixMessage:
    """A parsed frame: its fields in wire order and the exact bytes it came from."""

    fields: tuple[tuple[int, str], ...]
    raw: bytes

    def get(self, tag: int) -> str | None:
        for t, v in self.fields:
            if t == tag:
                return v
        return None

    def get_all(self, tag: int) -> list[str]:
        return [v for t, v in self.fields if t == tag]

    @property
    def msg_type(self) -> str:
        return self.get(35) or ""

    def __str__(self) -> str:
        return "|".join(f"{t}={v}" for t, v in self.fields)


@dataclass(frozen=True, slots=True)
class Garbled:
    """Bytes dropped because they did not form a valid frame; ``reason`` says why."""

    reason: str
    dropped: int


@dataclass(frozen=True, slots=True)
class Oversize:
    """A frame declares a body longer than the configured limit: the peer must be dropped."""

    declared: int
    limit: int


ParseResult = FixMessage | Garbled | Oversize


def split_fields(data: bytes) -> tuple[tuple[int, str], ...]:
    """``tag=value`` pairs of a complete frame. Raises ValueError on a malformed field.

    A tag is an integer, possibly negative (``-1=x``): an out-of-range tag number is a field
    the session rejects (373=0), not a garbled frame.
    """
    out: list[tuple[int, str]] = []
    for part in data.split(SOH):
        if not part:
            continue
        tag, sep, value = part.partition(b"=")
        digits = tag[1:] if tag.startswith(b"-") else tag
        if not sep or not digits.isdigit():
            raise ValueError(f"malformed field {part[:32]!r}")
        out.append((int(tag), value.decode("utf-8", errors="replace")))
    return tuple(out)


def first_value(data: bytes, tag: int) -> str | None:
    """The value of the first field ``tag`` after BeginString in a frame we built, found
    without splitting the rest (the delivery's hot path). A frame of ours writes each tag in
    its canonical form, so this is the field ``split_fields`` would read first."""
    start = data.find(b"\x01%d=" % tag)
    if start < 0:
        return None
    start += len(str(tag)) + 2
    end = data.find(SOH, start)
    return data[start : end if end >= 0 else len(data)].decode("utf-8", errors="replace")


class FrameParser:
    """Incremental framing: feed bytes as they arrive, take complete frames out."""

    def __init__(self, max_message_size: int = 1 << 20) -> None:
        self._buf = bytearray()
        self._max = max_message_size
        self.dropped_bytes = 0

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[ParseResult]:
        self._buf += data
        results: list[ParseResult] = []
        while True:
            result = self._next()
            if result is None:
                return results
            if isinstance(result, Garbled):
                self.dropped_bytes += result.dropped
            results.append(result)
            if isinstance(result, Oversize):
                return results

    def _resync(self, reason: str) -> Garbled:
        """Drop a frame start that led nowhere, up to the next ``8=`` wherever it is (as for
        bytes before a first BeginString), so the frames read never depend on where the
        stream was split: a frame right after a torn one is not lost for lack of an SOH."""
        buf = self._buf
        nxt = buf.find(b"8=", 1)
        if nxt < 0:
            nxt = len(buf) - 1 if buf.endswith(b"8") else len(buf)
        del buf[:nxt]
        return Garbled(reason, nxt)

    def _next(self) -> ParseResult | None:
        buf = self._buf
        if not buf:
            return None
        if not buf.startswith(b"8="):
            start = buf.find(b"8=")
            if start < 0:
                keep = 1 if buf.endswith(b"8") else 0
                dropped = len(buf) - keep
                del buf[:dropped]
                return Garbled("bytes before BeginString", dropped) if dropped else None
            del buf[:start]
            return Garbled("bytes before BeginString", start)
        first_soh = buf.find(SOH)
        if first_soh < 0:
            return self._too_long_header()
        if not _is_version(bytes(buf[2:first_soh])):
            # Bytes that merely start with "8=" (noise, or a torn frame's tail): a CheckSum that
            # matches by chance (1 in 256) must not make them a frame and swallow the real one.
            return self._resync("BeginString(8) is not a protocol version")
        if len(buf) < first_soh + 3:
            return None
        if not buf.startswith(b"9=", first_soh + 1):
            return self._resync("BodyLength(9) is not the second field")
        len_end = buf.find(SOH, first_soh + 3)
        if len_end < 0:
            return self._too_long_header()
        digits = bytes(buf[first_soh + 3 : len_end])
        if not digits.isdigit():
            return self._resync(f"BodyLength(9) is not a number: {digits[:16]!r}")
        body_len = int(digits)
        if body_len > self._max:
            return Oversize(body_len, self._max)
        body_start = len_end + 1
        trailer_start = body_start + body_len
        end = trailer_start + 7
        if len(buf) < end:
            return None
        trailer = bytes(buf[trailer_start:end])
        if not (trailer.startswith(b"10=") and trailer.endswith(SOH) and trailer[3:6].isdigit()):
            return self._resync("BodyLength(9) does not end at the CheckSum(10) field")
        if int(trailer[3:6]) != checksum(bytes(buf[:trailer_start])):
            return self._resync("CheckSum(10) mismatch")
        raw = bytes(buf[:end])
        del buf[:end]
        try:
            fields = split_fields(raw)
        except ValueError as exc:
            return Garbled(str(exc), len(raw))
        if len(fields) < 4 or fields[2][0] != 35:
            return Garbled("MsgType(35) is not the third field", len(raw))
        return FixMessage(fields, raw)

    def _too_long_header(self) -> ParseResult | None:
        if len(self._buf) > 64:
            return self._resync("no BodyLength(9) within the first 64 bytes")
        return None


def _is_version(value: bytes) -> bool:
    """Whether a BeginString(8) value could name a protocol version (FIXT.1.1, FIX.4.4, ...):
    1 to 16 printable ASCII characters without "=". A wrong version still parses, for the
    session to answer; these bytes are not one at all."""
    return 0 < len(value) <= 16 and all(0x21 <= b <= 0x7E and b != 0x3D for b in value)


def fields_without(
    fields: Sequence[tuple[int, str]], tags: frozenset[int]
) -> list[tuple[int, str]]:
    return [(t, v) for t, v in fields if t not in tags]
