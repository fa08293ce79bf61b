"""The simulator's ``polymarket.v1.RefDataAPI``: ListInstruments, every instrument as it is now.

A bridge calls it at start-up to learn each instrument's state and scales before the first
position or state change arrives (the exchange's market-data guide: "Use ListInstruments to get
and cache the initial state for each instrument"). Each Instrument is the full message exactly
as the instrument-state stream's opening snapshot sends it: the latest logged state change of
its symbol (scales included, and a malformed copy if the fault plan corrupted that change).

Rules (the exchange documents the fields; these details are the simulator's choices):
* instruments come in the simulator's symbol order;
* ``page_size`` 0 means 50, at most 1000; a negative page_size or one over 1000 is
  INVALID_ARGUMENT;
* ``symbols`` selects exact symbol names, any of them; a name the exchange does not list
  matches nothing; an empty list does not filter;
* ``next_page_token`` is opaque and empty on the last page, where ``eof`` is true. A token only
  fits the same request (same symbols) on the same simulator instance; anything else is
  INVALID_ARGUMENT. Each page shows the instruments' states as of that page; the set of
  instruments never changes while the simulator runs, so paging never skips or repeats one;
* the fault plan can refuse calls with any status (``FaultPlan.refuse_list_instruments``).

This module reads the store; it must never change it.
"""

from __future__ import annotations

from typing import Any

import grpc

from fixbridge.proto.polymarket.v1 import refdata_pb2, refdata_pb2_grpc
from fixbridge.simulator.faults import FaultPlan
from fixbridge.simulator.report import PageToken, ReportError, decode_page_token, query_digest
from fixbridge.simulator.store import EventStore

METHOD = "ListInstruments"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def list_page_size(requested: int) -> int:
    """The page size a request asks for; ReportError if it is out of range."""
    if requested < 0 or requested > MAX_PAGE_SIZE:
        raise ReportError(f"page_size must be between 0 and {MAX_PAGE_SIZE}, got {requested}")
    return requested or DEFAULT_PAGE_SIZE


def list_instruments(
    current: list[refdata_pb2.Instrument],
    request: refdata_pb2.ListInstrumentsRequest,
    *,
    instance: str,
) -> refdata_pb2.ListInstrumentsResponse:
    """One page of ``current`` (every instrument's latest message) for ``request``; raises
    ReportError (INVALID_ARGUMENT) for a bad page size or page token."""
    size = list_page_size(request.page_size)
    wanted = frozenset(request.symbols)
    selected = [i for i in current if not wanted or i.symbol in wanted]
    query = query_digest(request)
    start = 0
    if request.page_token:
        token = decode_page_token(request.page_token)
        if token.instance != instance:
            raise ReportError("page_token was issued by another simulator instance; list again")
        if token.method != METHOD or token.query != query:
            raise ReportError(
                "page_token belongs to a different request: keep symbols as on the first page")
        if token.head != len(selected) or token.position > token.head:
            raise ReportError("page_token does not fit this simulator's instruments")
        start = token.position
    end = start + size
    following = ""
    if end < len(selected):
        following = PageToken(instance, METHOD, query, len(selected), end).encode()
    return refdata_pb2.ListInstrumentsResponse(
        instruments=selected[start:end], next_page_token=following, eof=not following)


class RefDataServicer(refdata_pb2_grpc.RefDataAPIServicer):
    def __init__(self, store: EventStore, faults: FaultPlan, *, instance: str) -> None:
        self._store = store
        self._faults = faults
        self._instance = instance

    async def ListInstruments(
        self, request: refdata_pb2.ListInstrumentsRequest, context: Any
    ) -> refdata_pb2.ListInstrumentsResponse:
        refusal = self._faults.list_instruments_refusal()
        if refusal is not None:
            await context.abort(*refusal)
        try:
            return list_instruments(
                self._store.instrument_snapshot(), request, instance=self._instance)
        except ReportError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise  # context.abort raises; this line only satisfies the type checker
