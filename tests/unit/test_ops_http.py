"""The ops HTTP server over a real socket: what Prometheus and an orchestrator see, and what
garbage does to it (nothing)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from fixbridge.ops import http
from fixbridge.ops.http import OpsServer, parse_request_head
from fixbridge.ops.metrics import Metrics


class Probe:
    """A readiness probe a test can flip: None = ready, a string = why not."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.fail = False

    async def __call__(self) -> str | None:
        if self.fail:
            raise RuntimeError("probe blew up")
        return self.reason


def serve(test: Callable[[OpsServer, Metrics, Probe], Coroutine[Any, Any, None]]) -> None:
    async def main() -> None:
        metrics, probe = Metrics(), Probe()
        metrics.init_labels(("executions",), ("backoffice",))
        server = OpsServer("127.0.0.1", 0, metrics.registry, probe)
        await server.start()
        try:
            await test(server, metrics, probe)
        finally:
            await server.stop()

    asyncio.run(asyncio.wait_for(main(), timeout=20))


async def exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read until the server closes; (status, headers, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    response = await reader.read()  # to EOF: Connection: close
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.lower()] = value.strip()
    return int(status_line.split(" ")[1]), headers, body


def get(path: str, *headers: str, method: str = "GET") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_metrics_serves_the_registry_in_the_prometheus_text_format() -> None:
    async def test(server: OpsServer, metrics: Metrics, probe: Probe) -> None:
        metrics.session_up.labels("backoffice").set(1)
        metrics.session_messages_sent.labels("backoffice", "8").inc(3)
        status, headers, body = await exchange(server.port, get("/metrics"))
        assert status == 200
        assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert headers["connection"] == "close"
        assert int(headers["content-length"]) == len(body)
        text = body.decode()
        assert 'fixbridge_session_up{session="backoffice"} 1.0' in text
        sent = 'fixbridge_session_messages_sent_total{msg_type="8",session="backoffice"} 3.0'
        assert sent in text
        assert 'fixbridge_upstream_connected{stream="executions"} 0.0' in text
        assert "_created" not in text

    serve(test)


def test_metrics_honours_an_openmetrics_accept_header() -> None:
    async def test(server: OpsServer, metrics: Metrics, probe: Probe) -> None:
        accept = "Accept: application/openmetrics-text; version=1.0.0,text/plain;q=0.5"
        status, headers, body = await exchange(server.port, get("/metrics", accept))
        assert status == 200
        assert headers["content-type"].startswith("application/openmetrics-text")
        assert body.endswith(b"# EOF\n")

    serve(test)


def test_healthz_answers_ok_and_a_query_string_is_ignored() -> None:
    async def test(server: OpsServer, metrics: Metrics, probe: Probe) -> None:
        probe.reason = "not ready does not make the process unhealthy"
        assert await exchange(server.port, get("/healthz?verbose=1")) == (
            200,
            {
                "content-type": "text/plain; charset=utf-8",
                "content-length": "3",
                "cache-control": "no-store",
                "connection": "close",
            },
            b"ok\n",
        )

    serve(test)


def test_readyz_follows_the_probe_and_says_why_not() -> None:
    async def test(server: OpsServer, metrics: Metrics, probe: Probe) -> None:
        status, _, body = await exchange(server.port, get("/readyz"))
        assert (status, body) == (200, b"ready\n")
        probe.reason = "upstream executions stream is not connected"
        status, headers, body = await exchange(server.port, get("/readyz"))
        assert (status, body) == (503, b"not ready: upstream executions stream is not connected\n")
        assert headers["content-type"] == "text/plain; charset=utf-8"
        probe.reason = None
        assert (await exchange(server.port, get("/readyz")))[0] == 200

    serve(test)


def test_a_failing_probe_is_not_ready_and_the_server_goes_on() -> None:
    async def test(server: OpsServer, metrics: Metrics, probe: Probe) -> None:
        probe.fail = True
        status, _, body = await exchange(server.port, get("/readyz"))
        assert (status, body) == (503, b"not ready: readiness check failed: RuntimeError\n")
        assert (await exchange(server.port, get("/healthz")))[0] == 200

    serve(test)


def test_unknown_paths_are_404_and_other_methods_405() -> None:
    async def test(server: OpsServer, metrics: Metrics, probe: Probe) -> None:
        assert (await exchange(server.port, get("/")))[0] == 404
        assert (await exchange(server.port, get("/metrics/extra")))[0] == 404
        status, headers, _ = await exchange(server.port, get("/metrics", method="POST"))
        assert status == 405 and headers["allow"] == "GET, HEAD"
        assert (await exchange(server.port, get("/readyz", method="DELETE")))[0] == 405

    serve(test)


def test_head_gets_the_headers_without_the_body() -> None:
    async def test(server: OpsServer, metrics: Metrics, probe: Probe) -> None:
        status, headers, body = await exchange(server.port, get("/healthz", method="HEAD"))
        assert (status, headers["content-length"], body) == (200, "3", b"")

    serve(test)


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\xff\xfe binary \x16\x03\x01\r\n\r\n",  # e.g. a TLS ClientHello on the plain port
        b"GET /metrics\r\n\r\n",  # HTTP/0.9 style, no version
        b"GET /metrics HTTP/2.0\r\n\r\n",
        b"get /metrics HTTP/1.1\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n",
        b"GET  /metrics HTTP/1.1\r\n\r\n",
    ],
)
def test_garbage_gets_400_and_the_server_keeps_serving(garbage: bytes) -> None:
    async def test(server: OpsServer, metrics: Metrics, probe: Probe) -> None:
        assert (await exchange(server.port, garbage))[0] == 400
        assert (await exchange(server.port, get("/healthz")))[0] == 200

    serve(test)


def test_an_oversize_request_head_gets_431() -> None:
    async def test(server: OpsServer, metrics: Metrics, probe: Probe) -> None:
        huge = get("/metrics", "X-Padding: " + "a" * (2 * http.MAX_HEAD_BYTES))
        assert (await exchange(server.port, huge))[0] == 431
        assert (await exchange(server.port, get("/healthz")))[0] == 200

    serve(test)


def test_a_client_that_hangs_up_or_stays_silent_harms_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(http, "READ_TIMEOUT_S", 0.3)

    async def test(server: OpsServer, metrics: Metrics, probe: Probe) -> None:
        for partial in (b"", b"GET /metr", b"GET /metrics HTTP/1.1\r\nHost"):
            _, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(partial)
            await writer.drain()
            writer.close()
        silent_reader, silent_writer = await asyncio.open_connection("127.0.0.1", server.port)
        assert (await exchange(server.port, get("/healthz")))[0] == 200
        answer = await asyncio.wait_for(silent_reader.read(), timeout=5)
        assert answer.startswith(b"HTTP/1.1 408 ")
        silent_writer.close()
        assert (await exchange(server.port, get("/healthz")))[0] == 200

    serve(test)


def test_connections_beyond_the_cap_are_cut_not_queued(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "MAX_CONNECTIONS", 2)

    async def test(server: OpsServer, metrics: Metrics, probe: Probe) -> None:
        idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(2)]
        await asyncio.sleep(0.1)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(get("/healthz"))
        try:
            answer = await asyncio.wait_for(reader.read(), timeout=5)
        except ConnectionResetError:
            answer = b""
        assert answer == b""  # cut without a status line
        writer.close()
        for _, idle_writer in idle:
            idle_writer.close()
        await asyncio.sleep(0.1)
        assert (await exchange(server.port, get("/healthz")))[0] == 200

    serve(test)


def test_port_zero_binds_a_free_port_and_stop_frees_it() -> None:
    async def main() -> None:
        server = OpsServer("127.0.0.1", 0, Metrics().registry, lambda: None)
        with pytest.raises(RuntimeError):
            _ = server.port
        await server.start()
        port = server.port
        assert port > 0
        await server.stop()
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)
        again = OpsServer("127.0.0.1", port, Metrics().registry, lambda: None)
        await again.start()  # the port is free again
        await again.stop()

    asyncio.run(main())


def test_request_head_parsing() -> None:
    request = parse_request_head(b"GET /metrics?x=1 HTTP/1.0\r\nAccept: text/plain\r\n\r\n")
    assert request is not None
    assert (request.method, request.path, request.headers) == (
        "GET",
        "/metrics",
        {"accept": "text/plain"},
    )
    assert parse_request_head(b"\r\n\r\n") is None
    assert parse_request_head(b"GET /x HTTP/1.1\r\n Folded: no\r\n\r\n") is None
