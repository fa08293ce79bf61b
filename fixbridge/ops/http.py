"""The ops HTTP port: ``/metrics`` for Prometheus, ``/healthz`` and ``/readyz`` for orchestrators,
``/status`` for people (JSON, or a small HTML page when a browser asks for HTML).

A deliberately small HTTP/1.1 server on asyncio streams (no framework, no thread): one request
per connection, answered, then closed (``Connection: close``). It runs in the bridge's own event
loop, so ``/healthz`` answering at all proves that loop is serving; ``/readyz`` asks the probe it
is given. It must never take the bridge down or slow it much: the request head is bounded,
slow or garbage requests get a 4xx or are cut off, concurrent connections are capped, and
nothing here knows about FIX sessions or the journal except through the readiness and status
callables it is given.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from fixbridge.ops.status import BridgeStatus, status_html, status_json

log = logging.getLogger("fixbridge.ops")

MAX_HEAD_BYTES = 8192  # request line + headers; a scraper sends a few hundred
READ_TIMEOUT_S = 5.0
WRITE_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 32

# None = ready; otherwise the reason the bridge should not get traffic, as plain text.
Readiness = Callable[[], Awaitable[str | None]]
StatusSource = Callable[[], Awaitable[BridgeStatus]]

_METHOD = re.compile(r"^[A-Z]{1,16}$")
_ALLOWED = ("GET", "HEAD")
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    content_type: str = _TEXT
    headers: tuple[tuple[str, str], ...] = ()

    def encode(self, *, head_only: bool = False) -> bytes:
        lines = [
            f"HTTP/1.1 {self.status} {_REASONS.get(self.status, 'Unknown')}",
            f"Content-Type: {self.content_type}",
            f"Content-Length: {len(self.body)}",
            "Cache-Control: no-store",
            "Connection: close",
            *(f"{name}: {value}" for name, value in self.headers),
        ]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if head_only else head + self.body


def _text(status: int, text: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(status, (text + "\n").encode("utf-8", "replace"), headers=headers)


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]


def parse_request_head(head: bytes) -> Request | None:
    """The request line and headers (names lower-cased), or None if they are not HTTP/1.x."""
    text = head.decode("latin-1")
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    method, target, version = parts
    if not _METHOD.match(method) or not target or version not in ("HTTP/1.0", "HTTP/1.1"):
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            return None
        headers[name.lower()] = value.strip()
    return Request(method, target.split("?", 1)[0], headers)


class OpsServer:
    """Serves the registry and the probes until stopped; ``port`` is the bound port."""

    def __init__(
        self,
        host: str,
        port: int,
        registry: CollectorRegistry,
        readiness: Readiness,
        *,
        status: StatusSource | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._registry = registry
        self._readiness = readiness
        self._status = status
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._routes: dict[str, Callable[[Request], Awaitable[Response]]] = {
            "/metrics": self._metrics,
            "/healthz": self._healthz,
            "/readyz": self._readyz,
        }
        if status is not None:
            self._routes["/status"] = self._status_page

    @property
    def listening(self) -> bool:
        return self._server is not None and bool(self._server.sockets)

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("ops HTTP server is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connect, self._host, self._port, limit=MAX_HEAD_BYTES
        )
        paths = ", ".join(self._routes)
        log.info("ops HTTP on http://%s:%d (%s)", self._host, self.port, paths)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._handlers) >= MAX_CONNECTIONS:  # a flood must not grow without bound
            writer.transport.abort()
            return
        self._handlers.add(task)
        try:
            response, head_only = await self._answer(reader)
            writer.write(response.encode(head_only=head_only))
            await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT_S)
        except (ConnectionError, TimeoutError):
            pass  # the client went away or stopped reading: nothing to answer
        except Exception:
            log.exception("ops HTTP: request failed")
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[Response, bool]:
        """The response to the one request on this connection, and whether it is HEAD."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
        except asyncio.LimitOverrunError:
            return _text(431, f"request head larger than {MAX_HEAD_BYTES} bytes"), False
        except asyncio.IncompleteReadError:
            return _text(400, "incomplete request"), False
        except TimeoutError:
            return _text(408, "no complete request head in time"), False
        request = parse_request_head(head)
        if request is None:
            return _text(400, "not an HTTP/1.x request"), False
        route = self._routes.get(request.path)
        if route is None:
            return _text(404, f"not found: {request.path[:100]}"), False
        if request.method not in _ALLOWED:
            allow = (("Allow", ", ".join(_ALLOWED)),)
            return _text(405, f"method {request.method} not allowed", allow), False
        return await route(request), request.method == "HEAD"

    async def _metrics(self, request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(200, encoder(self._registry), content_type)

    async def _healthz(self, request: Request) -> Response:
        return _text(200, "ok")

    async def _status_page(self, request: Request) -> Response:
        """JSON, unless the client prefers HTML (a browser): then the same as a page."""
        assert self._status is not None
        try:
            status = await self._status()
        except Exception as exc:
            log.exception("ops HTTP: status failed")
            return _text(500, f"status failed: {type(exc).__name__}")
        if "text/html" in request.headers.get("accept", ""):
            return Response(200, status_html(status), "text/html; charset=utf-8")
        return Response(200, status_json(status), "application/json")

    async def _readyz(self, request: Request) -> Response:
        try:
            reason = await self._readiness()
        except Exception as exc:
            log.exception("ops HTTP: readiness check failed")
            reason = f"readiness check failed: {type(exc).__name__}"
        if reason is None:
            return _text(200, "ready")
        return _text(503, f"not ready: {reason}")
