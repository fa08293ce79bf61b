"""The FIX acceptor's view of the metrics catalogue: one session's label children, bound once.

``fixbridge.ops.metrics`` names every metric; this module only binds the ``session`` label of
each to one configured session up front, so the pump's hot path increments prebuilt children
instead of looking labels up per message, and keeps ``msg_type`` a bounded label (a FIX
MsgType we know, else ``other``). It counts what the acceptor tells it; it never decides
anything and never touches a socket or the journal.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge

from fixbridge.fix.codec import first_value
from fixbridge.fix.msgtypes import APPLICATION_MSG_TYPES
from fixbridge.ops.batch_histogram import BatchHistogramChild
from fixbridge.ops.metrics import Metrics

SESSION_MSG_TYPES = frozenset({"0", "1", "2", "3", "4", "5", "A"})  # FIXT.1.1 admin messages
KNOWN_MSG_TYPES = SESSION_MSG_TYPES | APPLICATION_MSG_TYPES
REJECT_KINDS = {"3": "session", "j": "business"}
UNKNOWN_SESSION = "unknown"  # a Logon whose CompIDs match no configured session

_NS = 1_000_000_000


def msg_type_label(msg_type: str) -> str:
    """A client can send any MsgType; only known ones become label values."""
    return msg_type if msg_type in KNOWN_MSG_TYPES else "other"


def frame_msg_type(data: bytes) -> str:
    """MsgType(35) of a frame we built (``8=..|9=..|35=..|``), without parsing the rest."""
    return first_value(data, 35) or ""


class SessionMeters:
    """The metrics of one configured session."""

    def __init__(self, metrics: Metrics, session: str) -> None:
        self._metrics = metrics
        self.session = session
        self.up: Gauge = metrics.session_up.labels(session)
        self.in_schedule: Gauge = metrics.session_in_schedule.labels(session)
        self.next_sender_seq: Gauge = metrics.session_next_sender_seq_num.labels(session)
        self.next_target_seq: Gauge = metrics.session_next_target_seq_num.labels(session)
        self.backlog: Gauge = metrics.session_backlog_events.labels(session)
        self.resend_requests: Counter = metrics.session_resend_requests.labels(session)
        self.messages_resent: Counter = metrics.session_messages_resent.labels(session)
        self.gap_fills: Counter = metrics.session_gap_fills.labels(session)
        self.rerendered: Counter = metrics.session_messages_rerendered.labels(session)
        self.lost: Counter = metrics.session_messages_lost.labels(session)
        self.sequence_regressions: Counter = metrics.session_sequence_regressions.labels(session)
        self.heartbeat_timeouts: Counter = metrics.session_heartbeat_timeouts.labels(session)
        self.slow_consumers: Counter = metrics.session_slow_consumer_disconnects.labels(session)
        self.lag_exchange: BatchHistogramChild = metrics.lag_exchange_seconds.labels(session)
        self.lag_receipt: BatchHistogramChild = metrics.lag_receipt_seconds.labels(session)
        self._sent: dict[str, Counter] = {}
        self._received: dict[str, Counter] = {}

    def logon(self, *, accepted: bool) -> None:
        count_logon(self._metrics, self.session, accepted=accepted)

    def sent(self, msg_type: str, count: int = 1) -> None:
        """Messages written to the client (resends included); rejects are counted by kind too."""
        child = self._sent.get(msg_type)
        if child is None:
            label = msg_type_label(msg_type)
            child = self._metrics.session_messages_sent.labels(self.session, label)
            self._sent[msg_type] = child
        child.inc(count)
        kind = REJECT_KINDS.get(msg_type)
        if kind is not None:
            self._metrics.session_rejects_sent.labels(self.session, kind).inc(count)

    def sent_frames(self, frames: Iterable[bytes]) -> None:
        """Frames whose MsgType is known only from their bytes (a replay's mix)."""
        for data in frames:
            self.sent(frame_msg_type(data))

    def received(self, msg_type: str) -> None:
        child = self._received.get(msg_type)
        if child is None:
            label = msg_type_label(msg_type)
            child = self._metrics.session_messages_received.labels(self.session, label)
            if len(self._received) < 2 * len(KNOWN_MSG_TYPES):  # raw types are client-chosen
                self._received[msg_type] = child
        child.inc()
        kind = REJECT_KINDS.get(msg_type)
        if kind is not None:
            self._metrics.session_rejects_received.labels(self.session, kind).inc()
        if msg_type == "2":
            self.resend_requests.inc()

    def seq_nums(self, next_sender: int, next_target: int) -> None:
        self.next_sender_seq.set(next_sender)
        self.next_target_seq.set(next_target)

    def written(self, written_ns: int, times: Iterable[tuple[int | None, int]]) -> None:
        """First sends of application messages just written: ``times`` holds each message's
        (exchange transact time, upstream receipt) in ns; a message whose exchange time is
        not the time of what it reports (None: a trade's later state) counts for the receipt
        lag only. A clock behind the exchange's would give negative lags; they count as 0
        rather than distort the histogram's sum."""
        exchange: list[float] = []
        receipt: list[float] = []
        for transact_ns, received_ns in times:
            if transact_ns is not None:
                exchange.append(max(0, written_ns - transact_ns) / _NS)
            receipt.append(max(0, written_ns - received_ns) / _NS)
        self.lag_exchange.observe_many(exchange)
        self.lag_receipt.observe_many(receipt)


def count_logon(metrics: Metrics, session: str, *, accepted: bool) -> None:
    metrics.session_logons.labels(session, "accepted" if accepted else "refused").inc()
