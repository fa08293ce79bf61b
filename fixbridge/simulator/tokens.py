"""The simulator's resume tokens: what they contain and how they are written and read.

Clients treat a token as opaque bytes. Inside it is ASCII text of four colon-separated fields::

    fbsim1:<instance>:<stream>:<position>
    fbsim1:9f1c2ab04e7d3a61:executions:1200

``fbsim1`` names the format (version 1); ``instance`` is the 16-hex-digit id of the simulator
server that issued it (a new id every time a server starts, because a restarted simulator has a
new history); ``stream`` is one of the four stream names; ``position`` is how many events of
that stream's log the token covers, so resuming delivers the log from index ``position`` on,
i.e. strictly after the last event the token covered. Decoding checks the shape only; whether a
token fits this server and stream is the subscription's business. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from fixbridge.simulator.streams import Stream

TOKEN_FORMAT = "fbsim1"


class TokenError(ValueError):
    """Bytes that are not a simulator resume token; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class ResumeToken:
    instance: str
    stream: Stream
    position: int

    def encode(self) -> bytes:
        return f"{TOKEN_FORMAT}:{self.instance}:{self.stream}:{self.position}".encode("ascii")


def decode_token(raw: bytes) -> ResumeToken:
    """Parse a token; raises TokenError naming the problem."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise TokenError("resume_token is not a simulator token (not ASCII text)") from None
    parts = text.split(":")
    if len(parts) != 4 or parts[0] != TOKEN_FORMAT:
        raise TokenError(
            f"resume_token is not a simulator token (expected {TOKEN_FORMAT}:<instance>:"
            f"<stream>:<position>, got {text[:80]!r})"
        )
    _, instance, stream, position = parts
    try:
        kind = Stream(stream)
    except ValueError:
        raise TokenError(f"resume_token names an unknown stream {stream!r}") from None
    if not position.isdigit():
        raise TokenError(f"resume_token position {position!r} is not a non-negative integer")
    return ResumeToken(instance, kind, int(position))
