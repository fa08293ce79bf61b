"""Every metric fixbridge exports, in one registry, named by Prometheus rules.

One :class:`Metrics` object is made per bridge and handed to the parts that count things; no
module-level globals, so tests and the demo can run several bridges in one process. Labels are
bounded: ``stream`` is one of the four upstream streams, ``session`` one of the configured
session names (``unknown`` for a Logon that matched none), ``msg_type`` a FIX MsgType or
``other``, ``reason`` / ``result`` / ``kind`` / ``scope`` / ``cause`` come from the closed sets
below. Units are base units: seconds, bytes, and ``_total`` for counters.
"""

from __future__ import annotations

import platform

import grpc
import prometheus_client
from google.protobuf import __version__ as protobuf_version
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

from fixbridge import __version__
from fixbridge.ops.batch_histogram import BatchHistogram

# ``*_created`` series double the exposition and no dashboard or rule of ours reads them.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

RECONNECT_REASONS = (
    "unavailable",  # UNAVAILABLE, also a stream aborted mid-batch
    "deadline_exceeded",
    "unauthenticated",  # token expired or refused: refreshed, then reconnected
    "permission_denied",
    "resource_exhausted",
    "invalid_argument",
    "resume_token_rejected",
    "replay_window_gone",  # even resume_time was refused: the gap comes from ReportAPI
    "stall",  # the watchdog saw no response for upstream.stall_timeout_s
    "stream_ended",  # the exchange closed the stream with OK
    "internal",  # any other gRPC status
    "error",  # an error on our side (journal, decoding)
)
TOKEN_RESULTS = ("ok", "failed")
# The market-data page's SubscriptionError codes, the simulator's limit code, and "other".
SUBSCRIPTION_ERROR_CODES = (
    "INVALID_SYMBOL", "ALREADY_SUBSCRIBED", "NOT_SUBSCRIBED", "SYMBOL_LIMIT_EXCEEDED", "other",
)
RESUME_FALLBACKS = (
    "resume_time",  # token refused: replayed from the last durable event minus a margin
    "report_api",  # replay window gone too: the gap was filled from ReportAPI
    "unrecoverable",  # no replay and no report for this stream: gap logged, went live
)
LOGON_RESULTS = ("accepted", "refused")
THROTTLE_REASONS = ("backoff", "lockout", "busy")  # fix/throttle.py's Reason
LOCKOUT_SCOPES = ("source", "session")  # fix/throttle.py's Scope: the keys that lock out
THROTTLE_SCOPES = (*LOCKOUT_SCOPES, "bridge")  # "bridge": too many password checks queued
UNAUTHENTICATED_CAUSES = (
    "logon_timeout",  # no complete first message within fix.logon_timeout_s
    "garbled",  # the first message garbled, oversize or cut short
    "silent",  # connected and closed without sending anything (a port probe)
    "refused",  # a Logon refused (admission, or the session: credentials, form)
    "throttled",  # a Logon refused unread: its source or session is held back
)
REJECT_KINDS = ("session", "business")  # 35=3 / 35=j
RELOAD_RESULTS = ("applied", "refused")
# ops/admin.py; none: no token
ADMIN_ACTIONS = ("logout", "reset", "pause", "resume", "replay", "none")
ADMIN_RESULTS = ("done", "refused", "unauthorized")

# Exchange transact time -> FIX write spans network, journal and session queues: from a
# fraction of a millisecond live to minutes for a backlog delivered at logon.
LAG_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
)
APPEND_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
)


class Metrics:
    """The bridge's metrics; ``registry`` is what ``/metrics`` serves."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry if registry is not None else CollectorRegistry()

        # ---- the process ------------------------------------------------------------------
        # process_* (CPU seconds, resident memory, open files, start time) and python_info.
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self.build_info = Gauge(
            "fixbridge_build_info",
            "Always 1; the labels say which fixbridge and which libraries are running.",
            ["version", "python", "grpcio", "protobuf"], registry=r)  # fmt: skip
        self.admin_actions = Counter(
            "fixbridge_admin_actions",
            "Requests on the admin port, by action (logout, reset, pause, resume, replay; none when"
            " the token was missing or wrong) and result (done, refused, unauthorized).",
            ["action", "result"], registry=r)  # fmt: skip
        for action in ADMIN_ACTIONS:
            for result in ADMIN_RESULTS:
                self.admin_actions.labels(action, result)
        self.config_reloads = Counter(
            "fixbridge_config_reloads",
            "Configuration reloads (SIGHUP), by result: applied, or refused (the running"
            " configuration kept).",
            ["result"], registry=r)  # fmt: skip
        for result in RELOAD_RESULTS:
            self.config_reloads.labels(result)
        self.build_info.labels(
            __version__, platform.python_version(), grpc.__version__, protobuf_version
        ).set(1)

        # ---- upstream (label stream) ------------------------------------------------------
        self.upstream_connected = Gauge(
            "fixbridge_upstream_connected",
            "1 while the stream is open and has delivered a response, else 0.",
            ["stream"], registry=r)
        self.upstream_reconnects = Counter(
            "fixbridge_upstream_reconnects",
            "Streams lost and reopened, by stream and reason.",
            ["stream", "reason"], registry=r)
        self.upstream_events_received = Counter(
            "fixbridge_upstream_events_received",
            "Events received from the exchange (duplicates included).",
            ["stream"], registry=r)
        self.upstream_duplicates = Counter(
            "fixbridge_upstream_duplicates",
            "Events received again and skipped (at-least-once delivery, replays).",
            ["stream"], registry=r)
        self.upstream_events_flagged = Counter(
            "fixbridge_upstream_events_flagged",
            "Events that could not be normalized: journaled flagged, not sent.",
            ["stream"], registry=r)
        self.upstream_token_refreshes = Counter(
            "fixbridge_upstream_token_refreshes",
            "Access-token requests to the token endpoint, by result.",
            ["result"], registry=r)
        self.upstream_token_expiry = Gauge(
            "fixbridge_upstream_token_expiry_timestamp_seconds",
            "When the current access token expires (Unix time); 0 before the first token.",
            registry=r)
        self.upstream_resume_fallbacks = Counter(
            "fixbridge_upstream_resume_fallbacks",
            "Resumes that could not use the stored token, by what was done instead.",
            ["stream", "kind"], registry=r)
        self.upstream_report_events = Counter(
            "fixbridge_upstream_report_events",
            "Events fetched from ReportAPI to fill a gap the stream could not replay.",
            ["stream"], registry=r)
        self.upstream_stalls = Counter(
            "fixbridge_upstream_stalls",
            "Streams reopened because nothing arrived for upstream.stall_timeout_s.",
            ["stream"], registry=r)
        self.upstream_last_transact_time = Gauge(
            "fixbridge_upstream_last_transact_time_seconds",
            "Exchange transact time of the newest event received (Unix time).",
            ["stream"], registry=r)
        self.upstream_last_response_time = Gauge(
            "fixbridge_upstream_last_response_time_seconds",
            "When the stream last delivered any response, heartbeats included (Unix time).",
            ["stream"], registry=r)

        # ---- market data (settlement prices) ----------------------------------------------
        self.market_data_streams_open = Gauge(
            "fixbridge_market_data_streams_open",
            "Market-data streams open (each takes at most max_symbols_per_stream symbols).",
            registry=r)
        self.market_data_symbols_subscribed = Gauge(
            "fixbridge_market_data_symbols_subscribed",
            "Symbols the exchange acknowledged as active, over every market-data stream.",
            registry=r)
        self.market_data_symbols_wanted = Gauge(
            "fixbridge_market_data_symbols_wanted",
            "Symbols the sessions need settlement prices for (positions held, scope symbols).",
            registry=r)
        self.market_data_keepalives = Counter(
            "fixbridge_market_data_keepalives_sent",
            "KeepAliveCommands sent on market-data streams (the load balancer's idle limit).",
            registry=r)
        self.market_data_subscription_errors = Counter(
            "fixbridge_market_data_subscription_errors",
            "SubscriptionErrors the exchange answered a subscribe or unsubscribe with, by code.",
            ["code"], registry=r)
        for code in SUBSCRIPTION_ERROR_CODES:
            self.market_data_subscription_errors.labels(code)

        # ---- journal ----------------------------------------------------------------------
        self.journal_append_seconds = Histogram(
            "fixbridge_journal_append_seconds",
            "Time to journal what a stream received (events + resume token, one group-commit job).",
            buckets=APPEND_BUCKETS, registry=r)
        self.journal_events_stored = Counter(
            "fixbridge_journal_events_stored",
            "Events given a journal offset (after deduplication).",
            ["stream"], registry=r)
        self.journal_retention_removed = Counter(
            "fixbridge_journal_retention_removed",
            "Rows removed by retention ([journal] retain_days): events, sent messages, log rows.",
            ["what"], registry=r)
        for what in ("events", "messages", "log"):
            self.journal_retention_removed.labels(what)
        self.journal_size_bytes = Gauge(
            "fixbridge_journal_size_bytes",
            "Size of the journal database files on disk.",
            registry=r)
        self.journal_disk_free_bytes = Gauge(
            "fixbridge_journal_disk_free_bytes",
            "Bytes free to fixbridge on the file system that holds the journal.",
            registry=r)
        self.journal_disk_total_bytes = Gauge(
            "fixbridge_journal_disk_total_bytes",
            "Size of the file system that holds the journal.",
            registry=r)
        self.journal_head_offset = Gauge(
            "fixbridge_journal_head_offset",
            "Offset of the newest journaled event.",
            registry=r)
        self.ha_active = Gauge(
            "fixbridge_ha_active",
            "With [ha]: 1 while this bridge holds the lease and serves, 0 while it is the"
            " standby (or taking over). pair: the journal database the two bridges share.",
            ["pair"], registry=r)
        self.ha_epoch = Gauge(
            "fixbridge_ha_epoch",
            "With [ha]: the lease's fencing epoch this bridge took up last (0: never).",
            ["pair"], registry=r)

        # ---- FIX sessions (label session) -------------------------------------------------
        self.session_up = Gauge(
            "fixbridge_session_up",
            "1 while a client is logged on to the session, else 0.",
            ["session"], registry=r)
        self.session_in_schedule = Gauge(
            "fixbridge_session_in_schedule",
            "1 while the session's schedule window is open (always 1 without a schedule).",
            ["session"], registry=r)
        self.session_logons = Counter(
            "fixbridge_session_logons",
            "Logon attempts by result.",
            ["session", "result"], registry=r)
        self.session_messages_sent = Counter(
            "fixbridge_session_messages_sent",
            "FIX messages written to the client, resends included, by MsgType.",
            ["session", "msg_type"], registry=r)
        self.session_messages_received = Counter(
            "fixbridge_session_messages_received",
            "FIX messages received from the client, by MsgType.",
            ["session", "msg_type"], registry=r)
        self.session_next_sender_seq_num = Gauge(
            "fixbridge_session_next_sender_seq_num",
            "MsgSeqNum of the next message fixbridge sends.",
            ["session"], registry=r)
        self.session_next_target_seq_num = Gauge(
            "fixbridge_session_next_target_seq_num",
            "MsgSeqNum expected next from the client.",
            ["session"], registry=r)
        self.session_resend_requests = Counter(
            "fixbridge_session_resend_requests",
            "ResendRequests received from the client.",
            ["session"], registry=r)
        self.session_messages_resent = Counter(
            "fixbridge_session_messages_resent",
            "Application messages sent again (PossDupFlag=Y) in answer to ResendRequest.",
            ["session"], registry=r)
        self.session_gap_fills = Counter(
            "fixbridge_session_gap_fills",
            "SequenceReset-GapFill messages sent in resends.",
            ["session"], registry=r)
        self.session_messages_rerendered = Counter(
            "fixbridge_session_messages_rerendered",
            "Resent application messages missing from the outbound store, rendered again from"
            " their journaled events (proved identical to what was sent).",
            ["session"], registry=r)
        self.session_messages_lost = Counter(
            "fixbridge_session_messages_lost",
            "Sent application messages a resend could neither find nor render again: gap-filled"
            " (each one is also logged CRITICAL).",
            ["session"], registry=r)
        self.session_sequence_regressions = Counter(
            "fixbridge_session_sequence_regressions",
            "Times a client showed that our sequence numbers went backwards (its Logon's"
            " NextExpectedMsgSeqNum, or its Logout saying MsgSeqNum too low): the numbers"
            " were moved past what it has.",
            ["session"], registry=r)
        self.session_rejects_sent = Counter(
            "fixbridge_session_rejects_sent",
            "Reject (35=3) and BusinessMessageReject (35=j) messages sent.",
            ["session", "kind"], registry=r)
        self.session_rejects_received = Counter(
            "fixbridge_session_rejects_received",
            "Reject (35=3) and BusinessMessageReject (35=j) messages received.",
            ["session", "kind"], registry=r)
        self.session_heartbeat_timeouts = Counter(
            "fixbridge_session_heartbeat_timeouts",
            "Disconnects because the client answered no TestRequest.",
            ["session"], registry=r)
        self.session_slow_consumer_disconnects = Counter(
            "fixbridge_session_slow_consumer_disconnects",
            "Disconnects because the client read none of our bytes for fix.write_timeout_s.",
            ["session"], registry=r)
        self.session_backlog_events = Gauge(
            "fixbridge_session_backlog_events",
            "Journaled events after the session's cursor (upper bound of what is unsent).",
            ["session"], registry=r)

        # ---- logons before a session is bound --------------------------------------------
        self.unauthenticated_connections = Counter(
            "fixbridge_unauthenticated_connections",
            "Connections that ended without logging on, by cause.",
            ["cause"], registry=r)
        self.logon_throttled = Counter(
            "fixbridge_logon_throttled",
            "Logons refused unread (no password check) because their source address or"
            " session is held back after failed logons, by reason and scope.",
            ["reason", "scope"], registry=r)
        self.logon_lockouts = Counter(
            "fixbridge_logon_lockouts",
            "Source addresses or sessions locked out after too many failed logons.",
            ["scope"], registry=r)
        self.logon_locked_out = Gauge(
            "fixbridge_logon_locked_out",
            "Source addresses or sessions locked out now.",
            ["scope"], registry=r)

        # ---- end-to-end lag (label session) -----------------------------------------------
        # Observed a batch at a time by the delivery leg (ops/batch_histogram.py).
        self.lag_exchange_seconds = BatchHistogram(
            "fixbridge_lag_exchange_to_fix_write_seconds",
            "Exchange transact time to the FIX write of the message, per application message"
            " whose transact time is when the exchange made it (not a trade's later states).",
            ["session"], buckets=LAG_BUCKETS, registry=r)
        self.lag_receipt_seconds = BatchHistogram(
            "fixbridge_lag_receipt_to_fix_write_seconds",
            "Upstream receipt to the FIX write of the message, per application message.",
            ["session"], buckets=LAG_BUCKETS, registry=r)

    def init_labels(self, streams: tuple[str, ...], sessions: tuple[str, ...]) -> None:
        """Create every bounded label set at zero, so dashboards and alerts see series
        (and ``rate()`` works) before the first event."""
        for stream in streams:
            self.upstream_connected.labels(stream)
            self.upstream_events_received.labels(stream)
            self.upstream_duplicates.labels(stream)
            self.upstream_events_flagged.labels(stream)
            self.upstream_stalls.labels(stream)
            self.upstream_report_events.labels(stream)
            self.journal_events_stored.labels(stream)
            for reason in RECONNECT_REASONS:
                self.upstream_reconnects.labels(stream, reason)
            for kind in RESUME_FALLBACKS:
                self.upstream_resume_fallbacks.labels(stream, kind)
        for result in TOKEN_RESULTS:
            self.upstream_token_refreshes.labels(result)
        for cause in UNAUTHENTICATED_CAUSES:
            self.unauthenticated_connections.labels(cause)
        for scope in LOCKOUT_SCOPES:
            self.logon_lockouts.labels(scope)
            self.logon_locked_out.labels(scope)
        for scope in THROTTLE_SCOPES:
            for reason in THROTTLE_REASONS:
                self.logon_throttled.labels(reason, scope)
        for session in sessions:
            self.session_up.labels(session)
            self.session_in_schedule.labels(session)
            for result in LOGON_RESULTS:
                self.session_logons.labels(session, result)
            for kind in REJECT_KINDS:
                self.session_rejects_sent.labels(session, kind)
                self.session_rejects_received.labels(session, kind)
            self.session_resend_requests.labels(session)
            self.session_messages_resent.labels(session)
            self.session_gap_fills.labels(session)
            self.session_messages_rerendered.labels(session)
            self.session_messages_lost.labels(session)
            self.session_sequence_regressions.labels(session)
            self.session_heartbeat_timeouts.labels(session)
            self.session_slow_consumer_disconnects.labels(session)
            self.session_backlog_events.labels(session)
            self.lag_exchange_seconds.labels(session)
            self.lag_receipt_seconds.labels(session)
