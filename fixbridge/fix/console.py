"""A small console FIX initiator: logs on to a fixbridge session and prints what arrives.

It is the client half of ``fixbridge demo`` and an ops tool for checking a deployment. It
answers TestRequests, sends Heartbeats and logs out cleanly when asked to stop; it keeps no
store and asks for no resends, so it is a viewer, not a back-office engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from fixbridge.fix.codec import FixMessage, FrameParser, encode_fields, frame
from fixbridge.fix.dictionary import describe
from fixbridge.normalize.timestamps import Precision, format_utc_timestamp


class ConsoleClient:
    def __init__(
        self,
        host: str,
        port: int,
        sender_comp_id: str,
        target_comp_id: str,
        *,
        output: Callable[[str], None] = print,
        heartbeat_s: int = 30,
        reset_on_logon: bool = True,
    ) -> None:
        self._addr = (host, port)
        self._header = encode_fields([(49, sender_comp_id), (56, target_comp_id)])
        self._out = output
        self._hb = heartbeat_s
        self._reset = reset_on_logon
        self._seq = 1
        self._writer: asyncio.StreamWriter | None = None
        self.app_messages = 0
        self.logged_on = asyncio.Event()

    def _send(self, msg_type: str, fields: list[tuple[int, str]]) -> None:
        assert self._writer is not None
        stamp = format_utc_timestamp(time.time_ns(), Precision.MILLIS)
        header = self._header + encode_fields([(34, str(self._seq)), (52, stamp)])
        self._seq += 1
        self._writer.write(frame(msg_type, header, encode_fields(fields)))

    async def run(self, stop: asyncio.Event) -> None:
        """Log on, print until ``stop`` is set or fixbridge ends the session, then log out."""
        reader, self._writer = await asyncio.open_connection(*self._addr)
        logon = [(98, "0"), (108, str(self._hb))]
        if self._reset:
            logon.append((141, "Y"))
        self._send("A", [*logon, (1137, "9")])
        receiving = asyncio.create_task(self._receive(reader))
        heartbeat = asyncio.create_task(self._heartbeats(stop))
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({receiving, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not receiving.done():
                self._send("5", [(58, "console client done")])
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(receiving), timeout=2.0)
        finally:
            for task in (receiving, heartbeat, stopped):
                task.cancel()
            await asyncio.gather(receiving, heartbeat, stopped, return_exceptions=True)
            self._writer.close()

    async def _receive(self, reader: asyncio.StreamReader) -> None:
        parser = FrameParser()
        while True:
            try:
                data = await reader.read(65536)
            except ConnectionError:
                data = b""
            if not data:
                self._out("-- connection closed by fixbridge")
                return
            for item in parser.feed(data):
                if isinstance(item, FixMessage) and self._handle(item):
                    return

    def _handle(self, msg: FixMessage) -> bool:
        """Print and answer one message; True when the session is over."""
        msg_type = msg.msg_type
        if msg_type == "1":
            self._send("0", [(112, msg.get(112) or "")])
        if msg_type == "A":
            self.logged_on.set()
        if msg_type not in ("0", "1", "A", "5", "2", "4", "3"):
            self.app_messages += 1
        self._out(describe(msg.fields))
        return msg_type == "5"

    async def _heartbeats(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(self._hb)
            self._send("0", [])
