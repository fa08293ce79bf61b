"""Helpers for scripted FIX conversations: build client frames, read actions back."""

from __future__ import annotations

from fixbridge.fix.codec import FixMessage, FrameParser, encode_fields, frame
from fixbridge.fix.session import Action, Send

CLIENT, BRIDGE = "BACKOFFICE", "FIXBRIDGE"
T0 = 1_700_000_000_000_000_000  # an arbitrary fixed instant, in ns
S = 1_000_000_000


def client_msg(
    msg_type: str, seq: int, *fields: tuple[int, str], poss_dup: bool = False
) -> FixMessage:
    header = [(49, CLIENT), (56, BRIDGE), (34, str(seq))]
    if poss_dup:
        header += [(43, "Y"), (122, "20231114-22:13:20")]
    header.append((52, "20231114-22:13:20"))
    raw = frame(msg_type, encode_fields(header), encode_fields(fields))
    (parsed,) = FrameParser().feed(raw)
    assert isinstance(parsed, FixMessage)
    return parsed


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
