"""A scripted exchange for the golden corpus: the DropCopyAPI streams, fed by hand, over real gRPC
(and RefDataAPI.ListInstruments, answering a scripted instrument list).

Each of the four server streams serves whatever the test pushes onto its queue, one response
at a time, each with a resume token of its own; while nothing is pushed it sends token-only
responses, as the exchange does in quiet periods (spec §4.2). It computes nothing and knows
nothing of fixbridge: what it serves is exactly the scripted protobuf messages.
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
    refdata_pb2,
    refdata_pb2_grpc,
)

HEARTBEAT_S = 0.3

RESPONSE_TYPES: dict[str, Any] = {
    "executions": dropcopy_pb2.CreateDropCopySubscriptionResponse,
    "trades": dropcopy_pb2.CreateTradeCaptureReportSubscriptionResponse,
    "instruments": dropcopy_pb2.CreateInstrumentStateChangeSubscriptionResponse,
    "positions": dropcopy_pb2.CreatePositionChangeSubscriptionResponse,
}


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


class ScriptedUpstream:
    """``with ScriptedUpstream() as upstream: upstream.push("executions", response)``; the
    ``instrument_list`` is what RefDataAPI.ListInstruments answers."""

    def __init__(self, instrument_list: list[Any] | None = None) -> None:
        self._queues: dict[str, queue.Queue[Any]] = {name: queue.Queue() for name in RESPONSE_TYPES}
        self._tokens = itertools.count(1)
        self._stopping = threading.Event()
        self.opened: dict[str, int] = dict.fromkeys(RESPONSE_TYPES, 0)
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        dropcopy_pb2_grpc.add_DropCopyAPIServicer_to_server(_Servicer(self), self._server)
        refdata_pb2_grpc.add_RefDataAPIServicer_to_server(  # type: ignore[no-untyped-call]
            _RefData(instrument_list or []), self._server
        )
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    def push(self, stream: str, response: Any) -> None:
        """Serve ``response`` (a Create...SubscriptionResponse) next on ``stream``."""
        self._queues[stream].put(response)

    def serve(self, stream: str, context: Any) -> Iterator[Any]:
        self.opened[stream] += 1
        make = RESPONSE_TYPES[stream]
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
