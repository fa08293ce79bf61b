"""The four DropCopyAPI streams as data: how to ask for each and how to journal its events.

One row per stream: the RPC, its request type, the response field that holds the events, the
filters it accepts, and how one upstream message becomes a journal entry (normalized, or kept
and flagged when it cannot be). The subscriber is the same code for every row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fixbridge.journal.store import NewEvent
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.execution import normalize_execution
from fixbridge.normalize.timestamps import timestamp_ns
from fixbridge.proto.polymarket.v1 import dropcopy_pb2, trading_pb2


@dataclass(frozen=True, slots=True)
class StreamSpec:
    name: str  # the journal's stream name and the session scope's message kind
    rpc: str  # DropCopyAPIStub method
    request_type: Callable[..., Any]
    events_field: str  # repeated field of the response holding the events
    firm_filter: bool  # whether the request takes `firms`
    to_journal: Callable[[Any], NewEvent]


def _fallback_id(raw: bytes, natural: str) -> str:
    """The event's own id when it has one, else a digest of its bytes (still deduplicated)."""
    return natural or "sha256:" + hashlib.sha256(raw).hexdigest()


def execution_to_event(execution: trading_pb2.Execution) -> NewEvent:
    """The journal entry for one upstream execution (flagged if it cannot be normalized)."""
    raw = execution.SerializeToString(deterministic=True)
    try:
        event = normalize_execution(execution)
    except NormalizationError as exc:
        transact = timestamp_ns(execution.transact_time.seconds, execution.transact_time.nanos)
        return NewEvent(_fallback_id(raw, execution.id), transact, b"", raw, flagged=str(exc))
    return NewEvent(event.exec_id, event.transact_time_ns, event.to_payload(), raw)


EXECUTIONS = StreamSpec(
    name="executions",
    rpc="CreateDropCopySubscription",
    request_type=dropcopy_pb2.CreateDropCopySubscriptionRequest,
    events_field="executions",
    firm_filter=True,
    to_journal=execution_to_event,
)

STREAM_SPECS: dict[str, StreamSpec] = {spec.name: spec for spec in (EXECUTIONS,)}
