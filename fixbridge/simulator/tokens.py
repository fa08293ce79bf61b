"""The simulator's resume tokens: what they contain and how they are written and read.

Clients treat a token as opaque bytes. Inside it is ASCII text of colon-separated fields::

    fbsim2:<instance>:<stream>:<position>:<issued_ns>
    fbsim2:9f1c2ab04e7d3a61:executions:1200:1763718420123456789

``fbsim2`` names the format (version 2); ``instance`` is the 16-hex-digit id of the simulator
server that issued it (a new id every time a server starts, because a restarted simulator has a
new history); ``stream`` is one of the four stream names; ``position`` is how many events of
that stream's log the token covers, so resuming delivers the log from index ``position`` on,
i.e. strictly after the last event the token covered; ``issued_ns`` is when the server issued
it (Unix nanoseconds), which is what token expiry goes by.

Version 1 (``fbsim1:<instance>:<stream>:<position>``, no issue time) is still read, so a token
stored before the upgrade keeps working while no expiry is configured; it has no issue time,
so once a TTL or an expiry cutoff is in force it counts as expired (see ``subscription``).
Decoding checks the shape only; whether a token fits this server and stream, and whether it
has expired, is the subscription's business. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from fixbridge.simulator.streams import Stream

TOKEN_FORMAT = "fbsim2"
LEGACY_TOKEN_FORMAT = "fbsim1"
_FIELDS = {TOKEN_FORMAT: 5, LEGACY_TOKEN_FORMAT: 4}


class TokenError(ValueError):
    """Bytes that are not a simulator resume token; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class ResumeToken:
    instance: str
    stream: Stream
    position: int
    issued_ns: int | None = None
    """When the server issued it; None only for a version-1 token, which is encoded as one."""

    def encode(self) -> bytes:
        head = f"{self.instance}:{self.stream}:{self.position}"
        if self.issued_ns is None:
            return f"{LEGACY_TOKEN_FORMAT}:{head}".encode("ascii")
        return f"{TOKEN_FORMAT}:{head}:{self.issued_ns}".encode("ascii")


def decode_token(raw: bytes) -> ResumeToken:
    """Parse a version-2 or version-1 token; raises TokenError naming the problem."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise TokenError("resume_token is not a simulator token (not ASCII text)") from None
    parts = text.split(":")
    if len(parts) != _FIELDS.get(parts[0], -1):
        raise TokenError(
            f"resume_token is not a simulator token (expected {TOKEN_FORMAT}:<instance>:"
            f"<stream>:<position>:<issued_ns>, got {text[:80]!r})"
        )
    instance, stream, position = parts[1:4]
    try:
        kind = Stream(stream)
    except ValueError:
        raise TokenError(f"resume_token names an unknown stream {stream!r}") from None
    if not position.isdigit():
        raise TokenError(f"resume_token position {position!r} is not a non-negative integer")
    issued: int | None = None
    if parts[0] == TOKEN_FORMAT:
        if not parts[4].isdigit():
            raise TokenError(f"resume_token issue time {parts[4]!r} is not a non-negative integer")
        issued = int(parts[4])
    return ResumeToken(instance, kind, int(position), issued)
