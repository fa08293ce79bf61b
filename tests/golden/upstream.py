"""A scripted exchange for the golden corpus: the DropCopyAPI streams, fed by hand, over real gRPC
(and RefDataAPI.ListInstruments, answering a scripted instrument list, and
MarketDataSubscriptionAPI.BiDirectionalStreamMarketData, serving scripted market-data updates).

Each of the four server streams serves whatever the test pushes onto its queue, one response
at a time, each with a resume token of its own; while nothing is pushed it sends token-only
responses, as the exchange does in quiet periods (spec §4.2).

The market-data stream behaves as the exchange's market-data streaming guide (seed 003)
describes BiDirectionalStreamMarketData: each SubscribeCommand and UnsubscribeCommand is
answered with a SubscriptionAck (the symbols added or removed by it and all active symbols);
a symbol subscribed twice, or unsubscribed while not subscribed, is answered with a
SubscriptionError (ALREADY_SUBSCRIBED, NOT_SUBSCRIBED) for it; a KeepAliveCommand gets no
response; a Heartbeat is sent while nothing else is. ``push("settlements", update)`` makes the
MarketDataUpdate its symbol's current one and sends it on every open stream subscribed to the
symbol; a subscribe is followed by each newly subscribed symbol's current update, if any (a
client that subscribes late still learns a settlement set earlier, as the guide's "current
state" updates let it).

It computes nothing and knows nothing of fixbridge (it imports only the generated protos):
what it serves is exactly the scripted protobuf messages.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc

from fixbridge.proto.polymarket.v1 import (
    dropcopy_pb2,
    dropcopy_pb2_grpc,
    marketdatasubscription_pb2,
    marketdatasubscription_pb2_grpc,
    refdata_pb2,
    refdata_pb2_grpc,
)

HEARTBEAT_S = 0.3
MARKET_DATA = "settlements"  # the name steps push market-data updates under

DROP_COPY_TYPES: dict[str, Any] = {
    "executions": dropcopy_pb2.CreateDropCopySubscriptionResponse,
    "trades": dropcopy_pb2.CreateTradeCaptureReportSubscriptionResponse,
    "instruments": dropcopy_pb2.CreateInstrumentStateChangeSubscriptionResponse,
    "positions": dropcopy_pb2.CreatePositionChangeSubscriptionResponse,
}
#: What a step of each stream scripts: a DropCopyAPI response, or a MarketDataUpdate.
RESPONSE_TYPES: dict[str, Any] = {
    **DROP_COPY_TYPES,
    MARKET_DATA: marketdatasubscription_pb2.MarketDataUpdate,
}
_MD = marketdatasubscription_pb2


class _Servicer(dropcopy_pb2_grpc.DropCopyAPIServicer):
    def __init__(self, upstream: ScriptedUpstream) -> None:
        self._upstream = upstream

    def CreateDropCopySubscription(self, request: Any, context: Any) -> Iterator[Any]:
        return self._upstream.serve("executions", context)

    def CreateTradeCaptureReportSubscription(
        self, request: Any, context: Any
    ) -> Iterator[Any]:
        return self._upstream.serve("trades", context)

    def CreateInstrumentStateChangeSubscription(
        self, request: Any, context: Any
    ) -> Iterator[Any]:
        return self._upstream.serve("instruments", context)

    def CreatePositionChangeSubscription(
        self, request: Any, context: Any
    ) -> Iterator[Any]:
        return self._upstream.serve("positions", context)


class _RefData(refdata_pb2_grpc.RefDataAPIServicer):
    """ListInstruments: the scripted instrument list, in one page."""

    def __init__(self, instruments: list[Any]) -> None:
        self._instruments = instruments

    def ListInstruments(self, request: Any, context: Any) -> Any:
        wanted = set(request.symbols)
        listed = [i for i in self._instruments if not wanted or i.symbol in wanted]
        return refdata_pb2.ListInstrumentsResponse(instruments=listed, eof=True)


class _MarketDataStream:
    """One open BiDirectionalStreamMarketData call: its symbols and what is to be sent."""

    def __init__(self) -> None:
        self.symbols: set[str] = set()
        self.outbox: queue.Queue[Any] = queue.Queue()
        self.closed = threading.Event()


class _MarketData(marketdatasubscription_pb2_grpc.MarketDataSubscriptionAPIServicer):
    def __init__(self, upstream: ScriptedUpstream) -> None:
        self._upstream = upstream

    def BiDirectionalStreamMarketData(self, request_iterator: Any, context: Any) -> Iterator[Any]:
        return self._upstream.serve_market_data(request_iterator, context)


class ScriptedUpstream:
    """``with ScriptedUpstream() as upstream: upstream.push("executions", response)``; the
    ``instrument_list`` is what RefDataAPI.ListInstruments answers."""

    def __init__(self, instrument_list: list[Any] | None = None) -> None:
        self._queues: dict[str, queue.Queue[Any]] = {
            name: queue.Queue() for name in DROP_COPY_TYPES
        }
        self._tokens = itertools.count(1)
        self._stopping = threading.Event()
        self.opened: dict[str, int] = dict.fromkeys(RESPONSE_TYPES, 0)
        self._lock = threading.Lock()  # the current updates and the open market-data streams
        self._current: dict[str, Any] = {}
        self._md_streams: list[_MarketDataStream] = []
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
        dropcopy_pb2_grpc.add_DropCopyAPIServicer_to_server(_Servicer(self), self._server)  # type: ignore[no-untyped-call]
        marketdatasubscription_pb2_grpc.add_MarketDataSubscriptionAPIServicer_to_server(  # type: ignore[no-untyped-call]
            _MarketData(self), self._server
        )
        refdata_pb2_grpc.add_RefDataAPIServicer_to_server(  # type: ignore[no-untyped-call]
            _RefData(instrument_list or []), self._server
        )
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    def push(self, stream: str, response: Any) -> None:
        """Serve ``response`` (a Create...SubscriptionResponse) next on ``stream``; for
        ``settlements``, make ``response`` (a MarketDataUpdate) its symbol's current update and
        send it on every open market-data stream subscribed to the symbol."""
        if stream != MARKET_DATA:
            self._queues[stream].put(response)
            return
        with self._lock:
            self._current[response.symbol] = response
            for each in self._md_streams:
                if response.symbol in each.symbols:
                    each.outbox.put(_MD.BiDirectionalStreamMarketDataResponse(update=response))

    def serve_market_data(self, requests: Iterator[Any], context: Any) -> Iterator[Any]:
        stream = _MarketDataStream()
        with self._lock:
            self.opened[MARKET_DATA] += 1
            self._md_streams.append(stream)
        reader = threading.Thread(
            target=self._read_commands, args=(requests, stream), daemon=True
        )
        reader.start()
        try:
            while (
                context.is_active() and not self._stopping.is_set() and not stream.closed.is_set()
            ):
                try:
                    yield stream.outbox.get(timeout=HEARTBEAT_S)
                except queue.Empty:
                    yield _MD.BiDirectionalStreamMarketDataResponse(heartbeat=_MD.Heartbeat())
        finally:
            with self._lock:
                self._md_streams.remove(stream)

    def _read_commands(self, requests: Iterator[Any], stream: _MarketDataStream) -> None:
        try:
            for request in requests:
                with self._lock:  # a push waits, so an update is never lost between the two
                    self._command(request, stream)
        except grpc.RpcError:
            pass  # the client went away
        finally:
            stream.closed.set()

    def _command(self, request: Any, stream: _MarketDataStream) -> None:
        """Answer one request (the lock held): an ack, errors, the current updates."""
        command = request.WhichOneof("command")
        if command not in ("subscribe", "unsubscribe"):
            return  # a KeepAliveCommand, or a first request carrying only options
        asked = list(dict.fromkeys(getattr(request, command).symbols))
        out = stream.outbox
        if command == "subscribe":
            changed = [s for s in asked if s not in stream.symbols]
            refused = [s for s in asked if s in stream.symbols]
            stream.symbols.update(changed)
            code = "ALREADY_SUBSCRIBED"
        else:
            changed = [s for s in asked if s in stream.symbols]
            refused = [s for s in asked if s not in stream.symbols]
            stream.symbols.difference_update(changed)
            code = "NOT_SUBSCRIBED"
        if refused:
            error = _MD.SubscriptionError(error_code=code, message=code, symbols=refused)
            out.put(_MD.BiDirectionalStreamMarketDataResponse(subscription_error=error))
        active = sorted(stream.symbols)
        ack = _MD.SubscriptionAck(active_symbols=active, active_symbol_count=len(active))
        if command == "subscribe":
            ack.symbols_added.extend(changed)
            ack.symbols_added_count = len(changed)
        else:
            ack.symbols_removed.extend(changed)
            ack.symbols_removed_count = len(changed)
        out.put(_MD.BiDirectionalStreamMarketDataResponse(subscription_ack=ack))
        if command == "subscribe":
            for symbol in changed:
                if symbol in self._current:
                    update = self._current[symbol]
                    out.put(_MD.BiDirectionalStreamMarketDataResponse(update=update))

    def serve(self, stream: str, context: Any) -> Iterator[Any]:
        self.opened[stream] += 1
        make = DROP_COPY_TYPES[stream]
        pending = self._queues[stream]
        while context.is_active() and not self._stopping.is_set():
            try:
                response = pending.get(timeout=HEARTBEAT_S)
            except queue.Empty:
                response = make()
            response.resume_token = f"golden:{stream}:{next(self._tokens)}".encode()
            yield response

    def __enter__(self) -> ScriptedUpstream:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.stop(grace=0.5).wait()
