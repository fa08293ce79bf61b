"""Helpers for scripted FIX conversations: build client frames, read actions back."""

from __future__ import annotations

from fixbridge.fix.codec import FixMessage, FrameParser, encode_fields, frame
from fixbridge.fix.session import Action, Send

CLIENT, BRIDGE = "BACKOFFICE", "FIXBRIDGE"
T0 = 1_700_000_000_000_000_000  # an arbitrary fixed instant, in ns
S = 1_000_000_000
STAMP = "20231114-22:13:20"  # T0 as a UTCTimestamp


def client_msg(
    msg_type: str, seq: int, *fields: tuple[int, str], poss_dup: bool = False
) -> FixMessage:
    head = [(49, CLIENT), (56, BRIDGE), (34, str(seq))]
    if poss_dup:
        head += [(43, "Y"), (122, STAMP)]
    head.append((52, STAMP))
    raw = frame(msg_type, encode_fields(head), encode_fields(fields))
    (parsed,) = FrameParser().feed(raw)
    assert isinstance(parsed, FixMessage)
    return parsed


def exact_msg(msg_type: str, *fields: tuple[int, str], begin: str = "FIXT.1.1") -> FixMessage:
    """A frame with exactly these fields after MsgType, in this order (header ones included)."""
    content = b"35=%s\x01" % msg_type.encode() + encode_fields(fields)
    head = b"8=%s\x019=%d\x01" % (begin.encode(), len(content))
    raw = head + content + b"10=%03d\x01" % (sum(head + content) & 0xFF)
    (parsed,) = FrameParser().feed(raw)
    assert isinstance(parsed, FixMessage)
    return parsed


def header(seq: int, stamp: str = STAMP) -> tuple[tuple[int, str], ...]:
    """The client's standard header fields, in the usual order."""
    return ((49, CLIENT), (56, BRIDGE), (34, str(seq)), (52, stamp))


def logon(seq: int = 1, *extra: tuple[int, str], hb: str = "30", reset: bool = False) -> FixMessage:
    fields = [(98, "0"), (108, hb)]
    if reset:
        fields.append((141, "Y"))
    return client_msg("A", seq, *fields, (1137, "9"), *extra)


def sent(actions: list[Action]) -> list[FixMessage]:
    """The frames a list of actions writes, parsed back."""
    out = []
    for action in actions:
        if isinstance(action, Send):
            (parsed,) = FrameParser().feed(action.data)
            assert isinstance(parsed, FixMessage)
            out.append(parsed)
    return out


def parse_all(frames: list[bytes]) -> list[FixMessage]:
    parser = FrameParser()
    out = [m for m in parser.feed(b"".join(frames)) if isinstance(m, FixMessage)]
    assert len(out) == len(frames)
    return out
