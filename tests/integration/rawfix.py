"""A scriptable FIX initiator for acceptance tests: send exactly these frames, read what comes.

Unlike QuickFIX it never answers on its own, so a test can play a silent, slow or
misbehaving client. Uses fixbridge's codec (checked against simplefix in the unit tests).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable

from fixbridge.fix.codec import FixMessage, FrameParser, encode_fields, frame
from fixbridge.normalize.timestamps import Precision, format_utc_timestamp


class RawClient:
    def __init__(self, sender: str, target: str, clock: Callable[[], int] = time.time_ns) -> None:
        self.sender, self.target = sender, target
        self._clock = clock
        self.seq = 1
        self._parser = FrameParser()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.inbox: list[FixMessage] = []
        self.sent: list[bytes] = []  # every frame ``send`` wrote, in order

    async def connect(self, port: int, *, tls: ssl.SSLContext | None = None) -> None:
        self._reader, self._writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=tls, server_hostname="localhost" if tls else None
        )

    def send(self, msg_type: str, *fields: tuple[int, str], seq: int | None = None) -> None:
        assert self._writer is not None
        use = self.seq if seq is None else seq
        if seq is None:
            self.seq += 1
        stamp = format_utc_timestamp(self._clock(), Precision.MILLIS)
        header = encode_fields([(49, self.sender), (56, self.target), (34, str(use)), (52, stamp)])
        data = frame(msg_type, header, encode_fields(fields))
        self.sent.append(data)
        self._writer.write(data)

    def write_raw(self, data: bytes) -> None:
        assert self._writer is not None
        self._writer.write(data)

    def logon(self, *extra: tuple[int, str], reset: bool = False, hb: int = 30) -> None:
        fields = [(98, "0"), (108, str(hb))]
        if reset:
            fields.append((141, "Y"))
        self.send("A", *fields, *extra, (1137, "9"))

    async def read_until(self, predicate: object, timeout: float = 5.0) -> list[FixMessage]:
        """Read until ``predicate(inbox)`` is true; returns the inbox. Raises on timeout/EOF."""
        assert self._reader is not None and callable(predicate)
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate(self.inbox):
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"inbox so far: {[str(m) for m in self.inbox[-5:]]}")
            data = await asyncio.wait_for(self._reader.read(65536), remaining)
            if not data:
                raise ConnectionError(f"closed by peer; inbox: {[str(m) for m in self.inbox[-5:]]}")
            self.inbox += [m for m in self._parser.feed(data) if isinstance(m, FixMessage)]
        return self.inbox

    async def closed_by_peer(self, timeout: float = 5.0) -> bool:
        """True when the peer closes the connection within ``timeout`` (reading what comes)."""
        assert self._reader is not None
        try:
            async with asyncio.timeout(timeout):
                while True:
                    data = await self._reader.read(65536)
                    if not data:
                        return True
                    self.inbox += [m for m in self._parser.feed(data) if isinstance(m, FixMessage)]
        except TimeoutError:
            return False
        except (ConnectionError, ssl.SSLError):
            return True

    def of_type(self, msg_type: str) -> list[FixMessage]:
        return [m for m in self.inbox if m.msg_type == msg_type]

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def abort(self) -> None:
        """Drop the connection at once, as a crashed process or a cut cable would."""
        if self._writer is not None:
            self._writer.transport.abort()
