"""The scripted exchange's market-data stream behaves as the exchange's market-data streaming
guide (seed 003) describes BiDirectionalStreamMarketData, seen from a plain gRPC client: an
ack for each subscribe and unsubscribe (symbols added or removed, all active symbols), an
error for a symbol already subscribed or not subscribed, no answer to a KeepAlive, and a
symbol's current update on subscribe and whenever one is pushed."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from fixbridge.proto.polymarket.v1 import marketdatasubscription_pb2 as md
from fixbridge.proto.polymarket.v1 import marketdatasubscription_pb2_grpc
from tests.golden.upstream import ScriptedUpstream

pytestmark = pytest.mark.integration

TIMEOUT_S = 20.0


def _subscribe(*symbols: str) -> md.BiDirectionalStreamMarketDataRequest:
    return md.BiDirectionalStreamMarketDataRequest(
        subscribe=md.SubscribeCommand(symbols=list(symbols)), depth=1
    )


def _unsubscribe(*symbols: str) -> md.BiDirectionalStreamMarketDataRequest:
    return md.BiDirectionalStreamMarketDataRequest(
        unsubscribe=md.UnsubscribeCommand(symbols=list(symbols))
    )


def _settled(symbol: str, px: int) -> md.MarketDataUpdate:
    return md.MarketDataUpdate(symbol=symbol, stats=md.InstrumentStats(settlement_px=px))


class _Client:
    """One BiDirectionalStreamMarketData call; what it received but heartbeats, in order."""

    def __init__(self, port: int) -> None:
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        stub: Any = marketdatasubscription_pb2_grpc.MarketDataSubscriptionAPIStub(self._channel)  # type: ignore[no-untyped-call]
        self._requests: queue.Queue[md.BiDirectionalStreamMarketDataRequest | None] = (
            queue.Queue()
        )
        self._call = stub.BiDirectionalStreamMarketData(self._outgoing())
        self.received: list[tuple[str, Any]] = []
        self.heartbeats = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _outgoing(self) -> Iterator[md.BiDirectionalStreamMarketDataRequest]:
        while (request := self._requests.get()) is not None:
            yield request

    def _read(self) -> None:
        try:
            for response in self._call:
                kind = response.WhichOneof("event")
                if kind == "heartbeat":
                    self.heartbeats += 1
                else:
                    self.received.append((kind, getattr(response, kind)))
        except grpc.RpcError:
            pass

    def send(self, request: md.BiDirectionalStreamMarketDataRequest) -> None:
        self._requests.put(request)

    def wait_for(self, count: int) -> list[tuple[str, Any]]:
        deadline = time.monotonic() + TIMEOUT_S
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.received)

    def close(self) -> None:
        self._requests.put(None)
        self._call.cancel()
        self._channel.close()


def test_acks_errors_and_current_updates_as_the_guide_describes() -> None:
    with ScriptedUpstream() as upstream:
        upstream.push("settlements", _settled("a", 1000))  # before anyone subscribed
        client = _Client(upstream.port)
        try:
            client.send(_subscribe("a", "b"))
            first = client.wait_for(2)
            assert [kind for kind, _ in first] == ["subscription_ack", "update"]
            ack = first[0][1]
            assert list(ack.symbols_added) == ["a", "b"]
            assert list(ack.active_symbols) == ["a", "b"]
            assert first[1][1] == _settled("a", 1000)  # a's current update, on subscribe

            upstream.push("settlements", _settled("b", 0))  # subscribed: sent at once
            upstream.push("settlements", _settled("c", 0))  # not subscribed: not sent
            client.send(md.BiDirectionalStreamMarketDataRequest(keepalive=md.KeepAliveCommand()))
            client.send(_subscribe("a"))
            client.send(_unsubscribe("a", "c"))
            rest = client.wait_for(7)[2:]
            assert [kind for kind, _ in rest] == [
                "update", "subscription_error", "subscription_ack", "subscription_error",
                "subscription_ack",
            ]  # fmt: skip
            assert rest[0][1] == _settled("b", 0)
            errors = [(e.error_code, list(e.symbols)) for _, e in (rest[1], rest[3])]
            assert errors == [("ALREADY_SUBSCRIBED", ["a"]), ("NOT_SUBSCRIBED", ["c"])]
            assert list(rest[2][1].active_symbols) == ["a", "b"]
            assert list(rest[4][1].symbols_removed) == ["a"]
            assert list(rest[4][1].active_symbols) == ["b"]

            upstream.push("settlements", _settled("a", 0))  # unsubscribed now: not sent
            time.sleep(1.0)
            assert len(client.received) == 7
            assert client.heartbeats >= 1  # sent while nothing else is
            assert upstream.opened["settlements"] == 1
        finally:
            client.close()
