"""What a well-formed frame is, checked from its bytes alone, and ways to damage frames.

The checks here do not use fixbridge's parser: BodyLength and CheckSum are recomputed from
the raw bytes as FIXT.1.1 defines them (BodyLength counts from the byte after its own SOH to
the SOH before ``10=``; CheckSum is the byte sum modulo 256 up to that point, three digits).
"""

from __future__ import annotations

import re

from hypothesis import settings
from hypothesis import strategies as st

from fixbridge.fix.codec import encode_fields, frame

_FRAME = re.compile(rb"\A8=([!-<>-~]{1,16})\x019=(\d+)\x01(.*)10=(\d{3})\x01\Z", re.DOTALL)


def frame_problem(raw: bytes) -> str | None:
    """Why ``raw`` is not one well-formed tag=value frame (None when it is)."""
    found = _FRAME.match(raw)
    if found is None:
        return "not 8=...|9=n|...|10=nnn|"
    body = found[3]
    if int(found[2]) != len(body):
        return f"BodyLength {int(found[2])} but the body has {len(body)} bytes"
    if int(found[4]) != sum(raw[: found.start(4) - 3]) % 256:
        return "CheckSum does not match"
    if not body.startswith(b"35="):
        return "MsgType(35) is not the third field"
    if not body.endswith(b"\x01"):
        return "the body does not end with SOH"
    for part in body[:-1].split(b"\x01"):
        tag, sep, _ = part.partition(b"=")
        if not sep or not tag.lstrip(b"-").isdigit():
            return f"malformed field {part[:32]!r}"
    return None


# Body values: printable ASCII without '=', so a damaged frame's remains cannot spell out a
# new frame header by accident (that takes a second "9=" field right after an "8=" one).
values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="="),
    min_size=1,
    max_size=24,
)
body_tags = st.integers(min_value=11, max_value=20_000)
msg_types = st.sampled_from(["0", "1", "2", "3", "4", "5", "A", "8", "AE", "j", "D"])


@st.composite
def valid_frames(draw: st.DrawFn) -> bytes:
    header = encode_fields(
        [(49, draw(values)), (56, draw(values)), (34, str(draw(st.integers(1, 10**9))))]
    )
    body = encode_fields(draw(st.lists(st.tuples(body_tags, values), max_size=12)))
    return frame(draw(msg_types), header, body)


@st.composite
def damaged(draw: st.DrawFn, raw: bytes) -> bytes:
    """``raw`` with one byte changed, removed or added, anywhere."""
    at = draw(st.integers(0, len(raw) - 1))
    how = draw(st.sampled_from(["flip", "delete", "insert"]))
    if how == "delete":
        return raw[:at] + raw[at + 1 :]
    byte = draw(st.integers(0, 255).filter(lambda b: how == "insert" or b != raw[at]))
    return raw[:at] + bytes([byte]) + raw[at + (how == "flip") :]


# Pieces a hostile peer would combine: framing fragments, digits, SOH, whole frames, noise.
_PIECES = [b"8=FIXT.1.1\x01", b"8=", b"9=", b"\x01", b"10=", b"35=A\x01", b"=", b"8", b"\x018="]
noise = st.one_of(
    st.sampled_from(_PIECES),
    st.binary(max_size=40),
    st.integers(0, 10**7).map(lambda n: str(n).encode()),
    valid_frames(),
)
hostile_streams = st.lists(noise, max_size=30).map(b"".join)


def fuzz_examples(factor: int) -> int:
    """How many examples a fuzz test draws: ``factor`` times the profile's count (tests/
    conftest.py), so the ``long`` profile scales every fuzz test up together."""
    return factor * settings().max_examples
