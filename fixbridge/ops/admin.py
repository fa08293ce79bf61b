"""The admin port: operator actions on a session, over HTTP on loopback, with a bearer token.

``POST /sessions/<name>/<action>`` with ``Authorization: Bearer <token>``; ``action`` is
``logout`` or ``reset`` (the request body, if any, is the Text(58) of the Logout, at most 200
characters), ``pause`` / ``resume``, or ``replay`` (the body is an RFC 3339 instant with a
time zone: the session's events from that exchange time on go out again). The answer is one
plain-text line saying what was done, or why not (400 for a replay without an instant, 401
without the token, 404 for an unknown session or action, 409 when the session is not in a
state for it). Every request is logged and counted by action and result.

It must never accept a request without the token (compared in constant time), never listen
beyond loopback (the config refuses any other host), never log the token, and never block
the event loop: the token file is read once at start, off the loop.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import re
import stat
from datetime import datetime
from pathlib import Path
from typing import Protocol

from fixbridge.config import SettingError
from fixbridge.ops.http import MAX_HEAD_BYTES, READ_TIMEOUT_S, Response, parse_request_head
from fixbridge.ops.metrics import Metrics

log = logging.getLogger("fixbridge.admin")

ACTIONS = ("logout", "reset", "pause", "resume", "replay")
MAX_BODY_BYTES = 4096
MAX_TEXT = 200
_PATH = re.compile(r"^/sessions/([A-Za-z0-9_.-]{1,64})/([a-z]{1,16})$")


class SessionActions(Protocol):
    """What the admin port needs from the acceptor (fix/acceptor.py)."""

    async def admin_logout(self, name: str, text: str) -> str: ...

    async def admin_reset(self, name: str, text: str) -> str: ...

    def admin_pause(self, name: str, paused: bool) -> str: ...

    async def admin_replay(self, name: str, since: datetime) -> str: ...


def read_token(path: Path) -> str:
    """The token in ``path``: the file must be private (no group or other access) and hold
    at least 16 characters. SettingError names admin.token_file otherwise."""
    where = f"admin.token_file = {str(path)!r}"
    try:
        mode = os.stat(path).st_mode
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SettingError(f"{where}: {exc.strerror or exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SettingError(f"{where}: readable by others (mode {oct(mode & 0o777)}); chmod 600")
    if len(token) < 16:
        raise SettingError(f"{where}: the token must be at least 16 characters")
    return token


INSTANT_HINT = "an RFC 3339 instant with a time zone, e.g. 2026-11-21T09:30:00Z"


def parse_instant(text: str) -> datetime | None:
    """``text`` as an aware datetime; None if it is not an instant or names no time zone."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _answer(status: int, text: str) -> Response:
    return Response(status, (text + "\n").encode("utf-8", "replace"))


class AdminServer:
    """Serves the admin actions on ``host:port`` (loopback) until stopped."""

    def __init__(
        self,
        host: str,
        port: int,
        token: str,
        actions: SessionActions,
        metrics: Metrics,
        refused: type[Exception],
    ) -> None:
        self._host, self._port, self._token = host, port, token.encode()
        self._actions = actions
        self._metrics = metrics
        self._refused = refused  # the acceptor's error type, carrying an HTTP status
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connect, self._host, self._port, limit=MAX_HEAD_BYTES
        )
        log.info("admin port on http://%s:%d (POST /sessions/<name>/<action>)",
                 self._host, self.port)  # fmt: skip

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            response = await self._answer(reader)
            writer.write(response.encode())
            await asyncio.wait_for(writer.drain(), READ_TIMEOUT_S)
        except (ConnectionError, TimeoutError):
            pass
        except Exception:
            log.exception("admin: request failed")
        finally:
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader) -> Response:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
        except (asyncio.LimitOverrunError, asyncio.IncompleteReadError, TimeoutError):
            return _answer(400, "no complete request head")
        request = parse_request_head(head)
        if request is None:
            return _answer(400, "not an HTTP/1.x request")
        offered = request.headers.get("authorization", "").removeprefix("Bearer ").encode()
        if not hmac.compare_digest(offered, self._token):
            self._count("none", "unauthorized")
            log.warning("admin: request without the right token refused (%s %s)",
                        request.method, request.path[:100])  # fmt: skip
            return _answer(401, "the admin token is missing or wrong")
        found = _PATH.match(request.path)
        if request.method != "POST" or found is None or found[2] not in ACTIONS:
            return _answer(404, f"use POST /sessions/<name>/{{{','.join(ACTIONS)}}}")
        name, action = found[1], found[2]
        try:
            length = int(request.headers.get("content-length", "0"))
        except ValueError:
            return _answer(400, "Content-Length is not a number")
        if not 0 <= length <= MAX_BODY_BYTES:
            return _answer(400, f"the body is limited to {MAX_BODY_BYTES} bytes")
        body = await asyncio.wait_for(reader.readexactly(length), READ_TIMEOUT_S)
        text = " ".join(body.decode("utf-8", "replace").split())[:MAX_TEXT]
        if action == "replay":
            since = parse_instant(text)
            if since is None:
                self._count(action, "refused")
                log.warning("admin replay of session %s refused: no instant in the body", name)
                return _answer(400, f"replay needs {INSTANT_HINT} in the body")
            return await self._act(name, action, text, since)
        return await self._act(name, action, text or f"{action} by the operator")

    async def _act(
        self, name: str, action: str, text: str, since: datetime | None = None
    ) -> Response:
        try:
            if since is not None:
                done = await self._actions.admin_replay(name, since)
            elif action == "logout":
                done = await self._actions.admin_logout(name, text)
            elif action == "reset":
                done = await self._actions.admin_reset(name, text)
            else:
                done = self._actions.admin_pause(name, action == "pause")
        except self._refused as exc:
            self._count(action, "refused")
            log.warning("admin %s of session %s refused: %s", action, name, exc)
            return _answer(int(getattr(exc, "status", 409)), str(exc))
        self._count(action, "done")
        log.warning("admin: %s", done)  # an operator changed a session: worth seeing
        return _answer(200, done)

    def _count(self, action: str, result: str) -> None:
        self._metrics.admin_actions.labels(action, result).inc()
