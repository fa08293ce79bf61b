"""A small console FIX initiator: logs on to a fixbridge session and prints what arrives.

It is the client half of ``fixbridge demo`` and of ``fixbridge tail``, the ops tool for checking
a deployment. It answers TestRequests, sends Heartbeats and logs out cleanly when asked to
stop; it keeps no store and asks for no resends, so it is a viewer, not a back-office engine
(and its Logon says ResetSeqNumFlag=Y by default, which resets the session's numbers).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from fixbridge.fix.codec import FixMessage, FrameParser, encode_fields, frame
from fixbridge.fix.dictionary import describe
from fixbridge.normalize.timestamps import Precision, format_utc_timestamp

_ADMIN = frozenset({"0", "1", "2", "3", "4", "5", "A"})


@dataclass(frozen=True, slots=True)
class SessionEnd:
    """How a console session ended; ``fixbridge tail`` turns it into its exit status.

    ``refused``: fixbridge never accepted the Logon (``reason`` says what it answered).
    ``clean``: it ended by a Logout, ours or fixbridge's, or because we were asked to stop.
    """

    refused: bool
    clean: bool
    reason: str


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
        ssl_context: ssl.SSLContext | None = None,
        username: str | None = None,
        password: str | None = None,
        max_app_messages: int | None = None,
        logon_timeout_s: float = 30.0,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self._addr = (host, port)
        self._header = encode_fields([(49, sender_comp_id), (56, target_comp_id)])
        self._out = output
        self._hb = heartbeat_s
        self._reset = reset_on_logon
        self._ssl = ssl_context
        self._credentials = [
            *([(553, username)] if username is not None else []),
            *([(554, password)] if password is not None else []),
        ]
        self._max_app = max_app_messages
        self._logon_timeout_s = logon_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._seq = 1
        self._writer: asyncio.StreamWriter | None = None
        self._enough = asyncio.Event()
        self._logout_sent = False
        self._logout_text: str | None = None  # Text(58) of fixbridge's Logout, once received
        self._problem = ""  # why the connection ended without a Logout
        self.app_messages = 0
        self.logged_on = asyncio.Event()

    def _send(self, msg_type: str, fields: list[tuple[int, str]]) -> None:
        assert self._writer is not None
        stamp = format_utc_timestamp(time.time_ns(), Precision.MILLIS)
        header = self._header + encode_fields([(34, str(self._seq)), (52, stamp)])
        self._seq += 1
        self._writer.write(frame(msg_type, header, encode_fields(fields)))

    async def run(self, stop: asyncio.Event) -> SessionEnd:
        """Log on, print until ``stop`` is set, ``max_app_messages`` have arrived or fixbridge
        ends the session, then log out. Connection errors (``OSError``) propagate."""
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(*self._addr, ssl=self._ssl), timeout=self._connect_timeout_s
        )
        self._writer = writer
        logon = [(98, "0"), (108, str(self._hb))]
        if self._reset:
            logon.append((141, "Y"))
        self._send("A", [*logon, *self._credentials, (1137, "9")])
        receiving = asyncio.create_task(self._receive(reader))
        heartbeat = asyncio.create_task(self._heartbeats(stop))
        stopped = asyncio.create_task(stop.wait())
        enough = asyncio.create_task(self._enough.wait())
        try:
            await asyncio.wait({receiving, stopped, enough}, return_when=asyncio.FIRST_COMPLETED)
            if not receiving.done():
                if self.logged_on.is_set():
                    self._logout_sent = True
                    self._send("5", [(58, "console client done")])
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(receiving), timeout=2.0)
                return SessionEnd(refused=False, clean=True, reason="stopped")
        finally:
            for task in (receiving, heartbeat, stopped, enough):
                task.cancel()
            await asyncio.gather(receiving, heartbeat, stopped, enough, return_exceptions=True)
            writer.close()
        refused = not self.logged_on.is_set()
        if self._logout_text is not None:
            return SessionEnd(refused=refused, clean=not refused, reason=self._logout_text)
        return SessionEnd(refused=refused, clean=False, reason=self._problem)

    async def _receive(self, reader: asyncio.StreamReader) -> None:
        parser = FrameParser()
        deadline = asyncio.get_running_loop().time() + self._logon_timeout_s
        while True:
            wait = None
            if not self.logged_on.is_set():
                wait = max(0.0, deadline - asyncio.get_running_loop().time())
            try:
                data = await asyncio.wait_for(reader.read(65536), timeout=wait)
            except TimeoutError:
                self._problem = f"no answer to the Logon within {self._logon_timeout_s:g} s"
                self._out(f"-- {self._problem}")
                return
            except ConnectionError:
                data = b""
            if not data:
                self._problem = (
                    "connection closed by fixbridge without a Logout"
                    if self.logged_on.is_set()
                    else "connection closed by fixbridge before it answered the Logon"
                )
                self._out("-- connection closed by fixbridge")
                return
            for item in parser.feed(data):
                if isinstance(item, FixMessage) and self._handle(item):
                    return

    def _handle(self, msg: FixMessage) -> bool:
        """Print and answer one message; True when the session is over."""
        msg_type = msg.msg_type
        if msg_type not in _ADMIN:
            if self._enough.is_set():
                return False  # past --count: logging out, not showing more
            self.app_messages += 1
            if self._max_app is not None and self.app_messages >= self._max_app:
                self._enough.set()
        if msg_type == "1":
            self._send("0", [(112, msg.get(112) or "")])
        if msg_type == "A":
            self.logged_on.set()
        self._out(describe(msg.fields))
        if msg_type == "5":
            self._logout_text = msg.get(58) or ""
            if self.logged_on.is_set() and not self._logout_sent:
                self._logout_sent = True
                self._send("5", [])  # acknowledge fixbridge's Logout
            return True
        return False

    async def _heartbeats(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(self._hb)
            self._send("0", [])
