"""A scripted FIX initiator that judges the acceptor's every answer, message by message.

What it is for: the conformance suite plays each FIX session-level test case as one
conversation over real TCP. The peer sends exactly the frames a case scripts (any field
order, missing or empty fields, a wrong BodyLength, CheckSum or BeginString, raw bytes) and
compares each message the acceptor sends, in order, with what the case expects.

How a message is compared: its MsgType; SenderCompID, TargetCompID and a SendingTime in
UTCTimestamp form always; then exactly the fields the case lists, no more and no fewer
(BeginString, BodyLength and CheckSum are checked by the framing). Field order inside the
header and the body is not compared: FIX fixes only the first three fields and the trailer.

Leniency is explicit: a case may accept an extra field (``extra``), a field fixbridge leaves
out (``missing``), a value other than the definition's (``Deviates``) or a message or step the
definition does not have (``deviation=``). Each use marks the case as deviating; the suite
checks that exactly the cases listed in ``LENIENT`` deviate, so a strict case cannot quietly
become lenient and the list of lenient cases is never stale.

It never imports fixbridge: the wire is judged by code of its own.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

SOH = b"\x01"
_PREFIX = b"8=FIXT.1.1\x019="
CLIENT, ACCEPTOR = "TW", "ISLD"
_STAMP = re.compile(r"\d{8}-\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6}|\.\d{9})?")
_ANY = re.compile(r".+")

Tag = int | str  # str for a deliberately malformed tag such as "4garbled9"


def stamp(offset_s: int = 0) -> str:
    """UTC now (+ offset) as a UTCTimestamp with seconds, as the definitions' <TIME+n>."""
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(time.time() + offset_s))


@dataclass(frozen=True)
class Pattern:
    """A value matched by a regular expression (the whole value)."""

    regex: re.Pattern[str]
    label: str

    def matches(self, value: str) -> bool:
        return self.regex.fullmatch(value) is not None


ANY_TIME = Pattern(_STAMP, "a UTCTimestamp")
ANY_TEXT = Pattern(_ANY, "any non-empty value")


@dataclass(frozen=True)
class Deviates:
    """A value that differs from the definition's (a lenient match)."""

    value: str | Pattern


Value = str | Pattern | Deviates


class ConformanceError(AssertionError):
    pass


@dataclass
class CaseLog:
    """What one case did that the definition does not: why each deviation happened."""

    name: str
    deviations: list[str] = field(default_factory=list)


def frame(fields: Sequence[tuple[Tag, str]], *, begin: str = "FIXT.1.1",
          body_length: str | None = None, checksum: str | None = None) -> bytes:
    """``8=begin|9=len|`` + fields + ``10=sum|``; a given BodyLength or CheckSum is used as is."""
    content = b"".join(f"{tag}={value}".encode() + SOH for tag, value in fields)
    head = f"8={begin}".encode() + SOH
    head += f"9={len(content) if body_length is None else body_length}".encode() + SOH
    total = f"{sum(head + content) % 256:03d}" if checksum is None else checksum
    return head + content + f"10={total}".encode() + SOH


def parse_frames(buffer: bytearray) -> list[list[tuple[int, str]]]:
    """Complete, well-framed messages at the front of ``buffer`` (removed from it). The
    acceptor must never send a malformed frame: one is a failure, not something to skip."""
    out: list[list[tuple[int, str]]] = []
    while buffer:
        match = re.match(rb"8=FIXT\.1\.1\x019=(\d+)\x01", buffer)
        if match is None:
            if len(buffer) > 40 or not _PREFIX.startswith(bytes(buffer[: len(_PREFIX)])):
                raise ConformanceError(f"malformed frame start: {bytes(buffer[:40])!r}")
            return out  # the start of a frame: wait for the rest
        end = match.end() + int(match.group(1))
        if len(buffer) < end + 7:
            return out
        trailer = bytes(buffer[end : end + 7])
        if not re.fullmatch(rb"10=\d{3}\x01", trailer):
            raise ConformanceError(f"BodyLength does not end at CheckSum: {bytes(buffer)!r}")
        if int(trailer[3:6]) != sum(buffer[:end]) % 256:
            raise ConformanceError(f"wrong CheckSum: {bytes(buffer[: end + 7])!r}")
        raw = bytes(buffer[match.end() : end])
        del buffer[: end + 7]
        fields = [part.split(b"=", 1) for part in raw.split(SOH) if part]
        out.append([(int(tag), value.decode()) for tag, value in fields])
        if not out[-1] or out[-1][0][0] != 35:
            raise ConformanceError(f"MsgType is not the third field: {raw!r}")
    return out


class Peer:
    """One TCP connection to the acceptor, scripted by a case."""

    def __init__(self, log: CaseLog, port: int) -> None:
        self._log = log
        self._port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._buffer = bytearray()
        self._inbox: list[list[tuple[int, str]]] = []

    async def connect(self) -> Peer:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self._port)
        return self

    # --- sending -----------------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        assert self._writer is not None
        if not self._writer.is_closing():
            self._writer.write(data)

    def send_exact(self, fields: Sequence[tuple[Tag, str]], **framing: str) -> None:
        """Exactly these fields after BodyLength (MsgType included), in this order."""
        self.send_raw(frame(fields, **framing))

    def send(
        self,
        msg_type: str,
        seq: int,
        *body: tuple[Tag, str],
        header: Sequence[tuple[Tag, str]] = (),
        sending_time: str | None = None,
        sender: str = CLIENT,
        target: str = ACCEPTOR,
        **framing: str,
    ) -> None:
        """A message in the definitions' usual order: 35, 34, 49, 52, 56, extra header, body."""
        fields: list[tuple[Tag, str]] = [
            (35, msg_type),
            (34, str(seq)),
            (49, sender),
            (52, sending_time or stamp()),
            (56, target),
            *header,
            *body,
        ]
        self.send_exact(fields, **framing)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    # --- judging -----------------------------------------------------------------------------

    def deviate(self, why: str) -> None:
        self._log.deviations.append(why)

    async def _next(self, timeout: float) -> list[tuple[int, str]] | None:
        """The next message, or None when the acceptor closed the connection."""
        assert self._reader is not None
        deadline = time.monotonic() + timeout
        while not self._inbox:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConformanceError(f"{self._log.name}: nothing arrived within {timeout} s")
            try:
                data = await asyncio.wait_for(self._reader.read(65536), remaining)
            except ConnectionError:
                data = b""
            if not data:
                if self._buffer:
                    raise ConformanceError(f"closed inside a frame: {bytes(self._buffer)!r}")
                return None
            self._buffer += data
            self._inbox += parse_frames(self._buffer)
        return self._inbox.pop(0)

    async def expect(
        self,
        msg_type: str,
        fields: Mapping[int, Value],
        *,
        extra: Mapping[int, Value] | None = None,
        missing: Sequence[int] = (),
        deviation: str | None = None,
        timeout: float = 5.0,
    ) -> dict[int, str]:
        """The next message must be ``msg_type`` with exactly ``fields`` (see module doc)."""
        got = await self._next(timeout)
        if got is None:
            raise ConformanceError(f"expected {msg_type} {dict(fields)}, the connection closed")
        where = f"{self._log.name}: {_show(got)}"
        tags = [tag for tag, _ in got]
        if len(tags) != len(set(tags)):
            raise ConformanceError(f"{where}: a tag appears twice")
        actual = dict(got)
        if actual.get(35) != msg_type:
            raise ConformanceError(f"{where}: expected MsgType {msg_type}")
        wanted: dict[int, Value] = {49: ACCEPTOR, 56: CLIENT, 52: ANY_TIME, 35: msg_type}
        wanted |= {tag: value for tag, value in fields.items() if tag not in missing}
        if extra:
            self.deviate(f"{msg_type}: fields the definition does not have: {sorted(extra)}")
            wanted |= extra
        if missing:
            self.deviate(f"{msg_type}: the definition's fields left out: {sorted(missing)}")
        if deviation is not None:
            self.deviate(deviation)
        if set(actual) != set(wanted):
            raise ConformanceError(
                f"{where}: unexpected {sorted(set(actual) - set(wanted))},"
                f" absent {sorted(set(wanted) - set(actual))}"
            )
        for tag, value in wanted.items():
            if isinstance(value, Deviates):
                self.deviate(f"{msg_type}: {tag}={actual[tag]} where the definition has another")
                value = value.value
            ok = value.matches(actual[tag]) if isinstance(value, Pattern) else value == actual[tag]
            if not ok:
                shown = value.label if isinstance(value, Pattern) else repr(value)
                raise ConformanceError(f"{where}: {tag} should be {shown}")
        return actual

    async def expect_disconnect(self, within: float = 5.0) -> float:
        """The acceptor closes the connection without sending anything more; returns after
        how many seconds."""
        started = time.monotonic()
        got = await self._next(within)
        if got is not None:
            raise ConformanceError(f"{self._log.name}: expected a disconnect, got {_show(got)}")
        return time.monotonic() - started


def _show(fields: list[tuple[int, str]]) -> str:
    return "|".join(f"{tag}={value}" for tag, value in fields)
