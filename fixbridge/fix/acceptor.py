"""The asyncio edge of the FIX acceptor: sockets, timers and the journal around FixSession.

One listening port serves every configured session. A connection's first frame must be a
Logon whose CompIDs name a configured session; it is then bound to that session's persistent
state. Per live session three things run: the reader (frames -> FixSession), the ticker
(heartbeats, liveness) and the pump (reads journal events, has ``fix/delivery.py`` render,
sequence and store them, writes the bytes).

Rules kept here:
- Sequence numbers and outbound messages reach the journal before their bytes reach the
  socket, and building + persisting + writing a message happens under the session's lock,
  so wire order is sequence order. In catch-up the pump renders its next batch while the
  one before commits; a batch commits only if the one before it did, and a failure gives
  up every batch not yet written that did not commit, numbers included (one that did is
  written: a stored number is never used again).
- Live, on a journal that can (SQLite), a round that appends events also stores the batch
  of each session whose lock is free and whose events after its cursor all render from
  themselves: the round takes the lock without awaiting, and writes the bytes and frees the
  lock once its COMMIT returned (``_deliver_in_round``); any other case is the pump's, after
  the commit. Either way the batch is durable before its bytes are written.
- An operator's replay moves a logged-on session's cursor back only under its lock, with no
  batch in flight; the pump takes the moved cursor and a renderer with the new PossResend
  horizon before its next batch.
- Every message of a bound session, in and out, goes into the message log (``fix/logbook.py``)
  with a journal write the session makes anyway: ours in the write that stores them or their
  numbers, before their bytes are written (a replayed chunk in a write of its own); a client's
  with the first write of its answer, or a write of its own when the answer makes none.
- A slow client only slows its own pump: the journal is the buffer, nothing is queued in
  memory beyond two batches and the socket's 1 MiB, and ingestion never waits for a
  session's client (an append's round makes and stores the batches that ride with it, and
  writes them without waiting for the socket).
- A connection whose socket is known to be gone (a write failed, the peer reset it, we closed
  it) gets no more writes, and a new Logon for its session replaces it at once.
- This module makes no protocol decisions: ``fix/throttle.py`` decides whether a Logon is
  looked at, ``fix/admission.py`` whether it binds, FixSession everything after. It counts
  what it carries out (``fix/meters.py``): messages by MsgType at the write, the lag of each
  application message at its first write, logons, disconnects by cause, each session's
  backlog, throttled logons and lockouts, connections that never log on.
- Logon passwords are checked (scrypt) on a small pool of threads of the acceptor's own,
  never on the event loop nor in the executor other work shares.
- Input from clients not logged on is bounded in the log as in memory: at most one line per
  source address and ``fix.unauthenticated_log_interval_s`` (``ops/log_limit.py``), one per
  lockout; a failing journal is logged once per condition and interval, and each client it
  cuts off gets a Logout with a Text when that Logout's number can still be stored.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import functools
import logging
import sqlite3
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fixbridge.config import FixConfig, SessionConfig
from fixbridge.fix.admission import Bind, Live, Peer, Refuse, Slot, admit, peer_refusal
from fixbridge.fix.codec import FixMessage, FrameParser, Garbled, Oversize
from fixbridge.fix.credentials import verify_password
from fixbridge.fix.delivery import Batch, Delivery
from fixbridge.fix.history import (
    BAD_END,
    BUSY,
    TOO_OLD,
    UNKNOWN_BEGIN,
    EventResendRequest,
    complete_body,
    reject_body,
)
from fixbridge.fix.history import COMPLETE as EVENT_RESEND_COMPLETE
from fixbridge.fix.history import REJECT as EVENT_RESEND_REJECT
from fixbridge.fix.logbook import Logbook, application_entry
from fixbridge.fix.meters import UNKNOWN_SESSION, SessionMeters, count_logon
from fixbridge.fix.outbound import (
    Recipient,
    RenderCache,
    Rendered,
    SessionTradeHistory,
    possible_resends,
    recipient,
    render_to,
    renders_alone,
    style_of,
)
from fixbridge.fix.prerender import ExecutionBodies, rendering_key
from fixbridge.fix.recovery import ReplaySource
from fixbridge.fix.reload import SessionChanges
from fixbridge.fix.schedule import ALWAYS, SessionSchedule
from fixbridge.fix.session import (
    Action,
    Disconnect,
    FixSession,
    LoggedOn,
    LogonPolicy,
    Note,
    Persist,
    Regression,
    Resend,
    Send,
    SequenceDoubt,
    SessionIdentity,
    State,
    credentials_ok,
)
from fixbridge.fix.session_lock import SessionLock
from fixbridge.fix.shared_reads import SharedReads
from fixbridge.fix.throttle import (
    Attempt,
    Lockout,
    LogonThrottle,
    Reason,
    Scope,
    Throttled,
    source_key,
)
from fixbridge.fix.tls import peer_identity, server_context
from fixbridge.journal.commit import Submitted
from fixbridge.journal.message_log import LogEntry
from fixbridge.journal.records import OutboundMessage
from fixbridge.journal.store import (
    POSSIBLY_SENT_MARGIN_NS,
    CursorMoved,
    Journal,
    JournalError,
    JournalEvent,
    NewEvent,
    RoundRead,
    SentInRound,
    SessionRecord,
)
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.execution import ExecutionEvent
from fixbridge.normalize.timestamps import instant_ns
from fixbridge.normalize.trade import BUST_EXEC_ID_SUFFIX
from fixbridge.ops.log_limit import LogLimiter
from fixbridge.ops.metrics import Metrics
from fixbridge.ops.status import SessionStatus, iso

log = logging.getLogger("fixbridge.fix")

PUMP_BATCH = 500
TICK_S = 0.25  # heartbeats, TestRequests and window ends are due within this of their time
RESEND_CHUNK = 200
PIPELINE_BATCHES = 8  # a pump's batches per hold of the session's lock (two in flight at most)
WRITE_BUFFER_HIGH = 1 << 20  # bytes queued for a client before a pump waits for it to read
CLOSE_GRACE_S = 2.0  # a closed connection's last bytes get this long, then the socket is cut
HOUSEKEEPING_S = 1.0  # owed log summaries are written and the lockout gauge refreshed this often
# What a journal read or write raises when the storage fails (disk full, I/O error, lock).
STORAGE_ERRORS = (JournalError, sqlite3.Error)
STORAGE_LOGOUT_TEXT = "fixbridge cannot store messages at the moment; log on again later"


class Notifier:
    """Wakes every waiting pump when new events are journaled."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def current(self) -> asyncio.Event:
        return self._event

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()


class AdminError(Exception):
    """An operator action that cannot be done; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


@dataclass(slots=True)
class SessionSlot:
    """A configured session and, while someone is logged on, its live connection."""

    config: SessionConfig
    meters: SessionMeters
    connection: Connection | None = None
    logon_in_progress: bool = False  # claimed before the first await of a logon
    retired: bool = False  # removed or replaced by a configuration reload
    cursor: int = 0  # the journal offset delivered up to (for the backlog gauge)
    next_sender_seq: int = 1  # as last persisted (shown by /status while offline too)
    next_target_seq: int = 1
    schedule: SessionSchedule = field(init=False)
    # Cleared by an operator's pause: no application message goes out until resumed (admin
    # messages, resends and the session itself go on). Not kept across a restart.
    delivering: asyncio.Event = field(init=False)

    def __post_init__(self) -> None:
        self.schedule = SessionSchedule(self.config.schedule)
        self.delivering = asyncio.Event()
        self.delivering.set()


@dataclass(slots=True)
class Connection:
    slot: SessionSlot
    session: FixSession
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    peer: str
    attempt: Attempt  # its Logon's keys in the logon throttle
    logbook: Logbook  # its message log rows not yet written
    lock: SessionLock = field(default_factory=SessionLock)
    delivery: Delivery | None = None  # its pump's, while the pump runs
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    received: asyncio.Event = field(default_factory=asyncio.Event)
    resends: list[Resend | EventResendRequest] = field(default_factory=list)
    # The reset epoch of the EventResendRequest being answered (None: none is); a request of
    # an earlier epoch stops at its next chunk.
    event_resending: int | None = None
    resend_task: asyncio.Task[None] | None = None
    probe_task: asyncio.Task[None] | None = None
    not_resending: asyncio.Event = field(default_factory=asyncio.Event)
    logged_on: bool = False
    close_reason: str | None = None  # the first reason the connection was closed for
    logon_cursor: int | None = None  # the session's cursor when delivery began
    # An operator's replay moved the cursor back and the PossResend horizon on: the pump
    # reloads both (under ``lock``) before its next batch.
    replayed: bool = False
    logged_on_ns: int | None = None  # when its Logon was accepted

    def __post_init__(self) -> None:
        self.not_resending.set()

    @property
    def name(self) -> str:
        return self.slot.config.name

    @property
    def meters(self) -> SessionMeters:
        return self.slot.meters

    @property
    def log_extra(self) -> dict[str, str]:
        """Structured fields for log lines about this session."""
        return {"session": self.slot.config.name}

    @property
    def dead(self) -> bool:
        """Closed by us, or its socket is gone (a write failed, the peer reset it)."""
        return self.closed.is_set() or self.writer.transport.is_closing()


class Acceptor:
    def __init__(
        self,
        config: FixConfig,
        sessions: tuple[SessionConfig, ...],
        journal: Journal,
        notifier: Notifier,
        clock: Callable[[], int],
        metrics: Metrics | None = None,
    ) -> None:
        self._config = config
        self._journal = journal
        self._notifier = notifier
        self._clock = clock
        self._rendered = RenderCache()  # each event rendered once, whatever the sessions
        self._reads = SharedReads(journal)  # each batch read once, likewise
        # Executions' bodies made at ingest, per rendering of the configured sessions.
        self._bodies = ExecutionBodies((style_of(s), s.scope) for s in sessions)
        self._pumps = 0  # sessions delivering now
        self._metrics = metrics if metrics is not None else Metrics()
        self._slots = {
            (s.sender_comp_id, s.target_comp_id): SessionSlot(
                s, SessionMeters(self._metrics, s.name)
            )
            for s in sessions
        }
        self._server: asyncio.Server | None = None
        # While the bridge is the standby: why every Logon is refused (start(), activate()).
        self.standby: str | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._housekeeping: asyncio.Task[None] | None = None
        # scrypt runs here, never in the default executor other work shares.
        self._credential_checks = ThreadPoolExecutor(
            config.credential_check_threads, thread_name_prefix="fix-credentials"
        )
        self._throttle = LogonThrottle(
            config.source_throttle,
            config.session_throttle,
            max_sources=config.throttle_max_sources,
            max_pending_checks=config.max_pending_password_checks,
        )
        self._client_certs = False  # whether the TLS listener asks clients for certificates
        interval_s = config.unauthenticated_log_interval_s
        self._unbound_log: LogLimiter[str] = LogLimiter(interval_s)  # per source key
        self._storage_log: LogLimiter[tuple[str, str]] = LogLimiter(interval_s)  # per condition

    def prerender(self, events: Sequence[NewEvent]) -> list[NewEvent]:
        """``events`` about to be journaled, each execution with its bodies in the renderings
        of the configured sessions that would be sent it (fix/prerender.py)."""
        return self._bodies.attach(events)

    @property
    def render_cache(self) -> RenderCache:
        """The rendering shared by the sessions (the subscribers hand it live events)."""
        return self._rendered

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("acceptor is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    def live_sessions(self) -> list[str]:
        return [s.config.name for s in self._slots.values() if s.connection is not None]

    def refresh_gauges(self, head_offset: int) -> None:
        """Gauges that move while nothing is sent: each session's backlog (logged on or not)
        and whether its schedule window is open. Called periodically with the journal head."""
        now = self._clock()
        if self.standby is not None:  # the serving bridge moves the cursors meanwhile
            cursors = self._journal.cursors([slot.config.name for slot in self._slots.values()])
            for slot in self._slots.values():
                slot.cursor = cursors.get(slot.config.name, head_offset)
        for slot in self._slots.values():
            slot.meters.backlog.set(max(0, head_offset - slot.cursor))
            slot.meters.in_schedule.set(1 if slot.schedule.is_open(now) else 0)

    def session_statuses(self, head_offset: int) -> list[SessionStatus]:
        """Each configured session as ``/status`` shows it, in configuration order."""
        now = self._clock()
        out = []
        for slot in self._slots.values():
            conn = slot.connection
            window = slot.schedule.window_at(now)
            shown = window if window is not None and window != ALWAYS else None
            if conn is not None and conn.logged_on:
                state = "logged_on"
            elif conn is not None or slot.logon_in_progress:
                state = "logging_on"
            else:
                state = "offline"
            out.append(
                SessionStatus(
                    name=slot.config.name,
                    sender_comp_id=slot.config.sender_comp_id,
                    target_comp_id=slot.config.target_comp_id,
                    state=state,
                    paused=not slot.delivering.is_set(),
                    in_schedule=window is not None,
                    peer=conn.peer if conn is not None else None,
                    logon_time=iso(conn.logged_on_ns) if conn is not None else None,
                    next_sender_seq=slot.next_sender_seq,
                    next_target_seq=slot.next_target_seq,
                    cursor=slot.cursor,
                    backlog=max(0, head_offset - slot.cursor),
                    last_sent=iso(conn.session.last_sent_ns) if conn is not None else None,
                    last_received=(
                        iso(conn.session.last_received_ns) if conn is not None else None
                    ),
                    window_start=iso(shown.start_ns) if shown is not None else None,
                    window_end=iso(shown.end_ns) if shown is not None else None,
                )
            )
        return out

    async def _load(self, slot: SessionSlot, *, create: bool = False) -> None:
        """A slot's stored numbers and cursor (a new session's record starts where its
        ``start_from`` says: :func:`load_configured_session`); a standby only reads them
        (``create``: it is taking over)."""
        if self.standby is not None and not create:
            found = self._journal.find_session(slot.config.name)
            if found is None:
                return
            record = found
        else:
            record = await load_configured_session(self._journal, slot.config)
        slot.cursor = record.cursor_offset
        slot.meters.seq_nums(record.next_sender_seq, record.next_target_seq)
        slot.next_sender_seq = record.next_sender_seq
        slot.next_target_seq = record.next_target_seq

    async def start(self, *, standby: str | None = None) -> None:
        """Listen. With ``standby`` (the reason), every Logon that would bind is refused
        instead and nothing is written to the journal, until :meth:`activate`."""
        self.standby = standby
        for slot in self._slots.values():
            await self._load(slot)
        self.refresh_gauges(self._journal.head_offset())
        tls = self._config.tls
        context = None
        if tls is not None:
            self._client_certs = any(
                s.config.tls.require_client_cert for s in self._slots.values()
            )
            context = server_context(tls, want_client_certs=self._client_certs)
        self._server = await asyncio.start_server(
            self._on_connect, self._config.host, self._config.port, ssl=context
        )
        self._housekeeping = asyncio.create_task(self._keep_house(), name="fix-housekeeping")
        self._journal.deliver_in_rounds(self._deliver_in_round)
        log.info(
            "FIX acceptor listening on %s:%d (%s)",
            self._config.host,
            self.port,
            f"TLS {tls.min_version}+" if tls is not None else "plain TCP",
        )

    async def activate(self) -> None:
        """A standby becomes the active bridge: sessions load (new ones are created) from the
        journal as it is now, then Logons bind (refused until every session is loaded)."""
        self.standby = "this bridge is taking over: its sessions are loading"
        for slot in list(self._slots.values()):
            await self._load(slot, create=True)
        self.standby = None
        log.info("FIX acceptor active: Logons bind from now on")

    async def stop(self, text: str = "fixbridge shutting down") -> None:
        """Stop accepting, log every live session out, and close."""
        self._journal.deliver_in_rounds(None)
        if self._server is not None:
            self._server.close()
        connections = [s.connection for s in self._slots.values() if s.connection is not None]
        await asyncio.gather(*(self._logout(c, text) for c in connections))
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            await asyncio.gather(self._housekeeping, return_exceptions=True)
        self._credential_checks.shutdown(wait=False, cancel_futures=True)
        if self._server is not None:
            await self._server.wait_closed()

    def reload_refusal(self, changes: SessionChanges) -> str | None:
        """Why ``changes`` cannot be applied without a restart (None: they can)."""
        needs_certs = [
            s.name for s in [*changes.added, *(new for _, new in changes.changed)]
            if s.tls.require_client_cert
        ]  # fmt: skip
        if needs_certs and not self._client_certs:
            return (
                f"session(s) {', '.join(needs_certs)} require a client certificate, but the TLS"
                " listener was started without asking for one: restart to apply"
            )
        return None

    async def reconfigure(self, changes: SessionChanges, text: str) -> None:
        """Apply session changes (checked by ``reload_refusal``): removed and changed sessions'
        clients get a Logout with ``text``; added and changed sessions bind from their next
        Logon; every other session, and its connection, is left as it is."""
        going = [old for old in changes.removed] + [old for old, _ in changes.changed]
        slots = [self._slots[(s.sender_comp_id, s.target_comp_id)] for s in going]
        connections = [slot.connection for slot in slots if slot.connection is not None]
        for slot in slots:
            slot.retired = True
            del self._slots[(slot.config.sender_comp_id, slot.config.target_comp_id)]
        await asyncio.gather(*(self._logout(c, text, "configuration reload") for c in connections))
        for session in [*changes.added, *(new for _, new in changes.changed)]:
            slot = SessionSlot(session, SessionMeters(self._metrics, session.name))
            await self._load(slot)
            self._slots[(session.sender_comp_id, session.target_comp_id)] = slot
        self._bodies = ExecutionBodies(
            (style_of(s.config), s.config.scope) for s in self._slots.values()
        )

    # --- operator actions (ops/admin.py) ---------------------------------------------------

    def _slot_named(self, name: str) -> SessionSlot:
        if self.standby is not None:
            raise AdminError(503, f"{self.standby}: act on the bridge that serves")
        for slot in self._slots.values():
            if slot.config.name == name:
                return slot
        raise AdminError(404, f"no session named {name!r}")

    async def admin_logout(self, name: str, text: str) -> str:
        """Log the session's client out with ``text``; it may log on again."""
        conn = self._slot_named(name).connection
        if conn is None or not conn.logged_on:
            raise AdminError(409, f"session {name} is not logged on")
        await self._logout(conn, text, "operator logout")
        return f"session {name}: logged out ({text})"

    async def admin_reset(self, name: str, text: str) -> str:
        """Both sequence numbers back to 1 and the outbound store emptied, as a Logon with
        ResetSeqNumFlag(141)=Y would; a logged-on client is logged out first. Delivery goes
        on from the session's cursor: nothing is skipped."""
        slot = self._slot_named(name)
        if slot.logon_in_progress:
            raise AdminError(409, f"session {name}: a Logon is in progress; try again")
        if slot.connection is not None:
            await self._logout(slot.connection, text, "operator reset")
        if slot.connection is not None or slot.logon_in_progress:
            raise AdminError(409, f"session {name}: a client logged on meanwhile; try again")
        await self._journal.save_sequence_numbers_async(name, 1, 1, at_ns=self._clock(), reset=True)
        slot.next_sender_seq = slot.next_target_seq = 1
        slot.meters.seq_nums(1, 1)
        return f"session {name}: sequence numbers reset to 1"

    def admin_pause(self, name: str, paused: bool) -> str:
        """Hold (or release) the session's application messages; it stays logged on."""
        slot = self._slot_named(name)
        if paused:
            slot.delivering.clear()
        else:
            slot.delivering.set()
            self._notifier.notify()
        return f"session {name}: delivery {'paused' if paused else 'resumed'}"

    async def admin_replay(self, name: str, since: datetime) -> str:
        """Deliver again, as new messages under new numbers marked PossResend(97)=Y, the
        session's events from the first one journaled with an exchange time at or after
        ``since``: the cursor moves back there (never forward) and the PossResend horizon to
        now, in one transaction; a logged-on session's pump picks both up before its next
        batch (taken under the session's lock, so no batch is in flight)."""
        slot = self._slot_named(name)
        at_ns = instant_ns(since)
        offset = await asyncio.to_thread(self._journal.offset_before, at_ns)
        if slot.retired:
            raise AdminError(409, f"session {name} was reconfigured meanwhile; try again")
        if slot.logon_in_progress:
            raise AdminError(409, f"session {name}: a Logon is in progress; try again")
        conn = slot.connection
        if conn is None:
            await self._move_back(slot, offset, since)
        else:
            async with conn.lock:
                await self._move_back(slot, offset, since)
                conn.replayed = True
        if slot.connection is not None:  # bound while the move was being stored
            slot.connection.replayed = True
        self._notifier.notify()
        return (
            f"session {name}: replaying the events journaled after offset {offset}"
            f" (exchange time from {since.isoformat()} on) as new messages with PossResend(97)=Y"
        )

    async def _move_back(self, slot: SessionSlot, offset: int, since: datetime) -> None:
        """The replay's one transaction; refused if it would move the cursor forward."""
        name = slot.config.name
        if offset >= slot.cursor:
            raise AdminError(
                409,
                f"session {name}: nothing delivered to replay from {since.isoformat()} on (a"
                f" replay from there starts after offset {offset}, and the session's cursor is"
                f" at {slot.cursor}): a replay only moves the cursor back",
            )
        # Every event replayed was sent before now; events the exchange stamped a little
        # ahead of our clock too (the same margin as after a regression).
        before = self._clock() + POSSIBLY_SENT_MARGIN_NS
        await self._journal.replay_from_async(name, offset, before)
        slot.cursor = offset

    async def _logout(self, conn: Connection, text: str, why: str = "shutdown") -> None:
        try:
            async with conn.lock:
                if conn.closed.is_set():  # gone meanwhile: no number is taken for it
                    return
                await self._execute(conn, conn.session.logout(text, self._clock()))
        except STORAGE_ERRORS as exc:
            self._storage_failure(conn, "logout", exc)
            self._close(conn, why)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(conn.closed.wait(), timeout=2.0)
        self._close(conn, why)

    async def _keep_house(self) -> None:
        """Every second: the lockout gauge, and the counts of log lines left out in an
        interval that has passed (so the end of a flood is said too)."""
        while True:
            await asyncio.sleep(HOUSEKEEPING_S)
            now = self._clock()
            for scope, count in self._throttle.locked_out(now).items():
                self._metrics.logon_locked_out.labels(scope.value).set(count)
            for source, count in self._unbound_log.due(now):
                log.warning(
                    "%d more connections from %s ended without logging on (lines left out)",
                    count,
                    source,
                )
            for (kind, text), count in self._storage_log.due(now):
                log.error("journal failure went on: %s: %s (%d more times)", kind, text, count)

    # --- connection lifecycle ----------------------------------------------------------------

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        peer = _peer(writer)
        # Room for a few batches: the next batch renders while the client reads this one.
        writer.transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        try:
            await self._serve(reader, writer, peer)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.info("connection from %s ended: %s", peer, exc)
        except asyncio.CancelledError:
            log.info("connection from %s closed by shutdown", peer)
        except Exception:
            log.exception("connection from %s failed", peer)
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        parser = FrameParser(self._config.max_message_size)
        who = self._peer(writer, peer)
        try:
            logon, leftover = await asyncio.wait_for(
                _first_message(reader, parser), timeout=self._config.logon_timeout_s
            )
        except TimeoutError:
            waited_s = self._config.logon_timeout_s
            text = f"logon refused from {peer}: no Logon within {waited_s:.0f} s"
            self._unbound(who, "logon_timeout", text)
            return
        if logon is None:
            if parser.dropped_bytes or parser.buffered:
                text = f"logon refused from {peer}: first message garbled, oversize or incomplete"
                self._unbound(who, "garbled", text)
            else:  # a TCP health check or port probe
                text = f"connection from {peer} closed without sending anything"
                self._unbound(who, "silent", text, level=logging.INFO)
            return
        ours, theirs = logon.get(56) or "", logon.get(49) or ""
        slot = self._slots.get((ours, theirs))
        attempt = Attempt(source_key(who.address), slot.config.name if slot else None)
        decision, password_ok = await self._decide(logon, slot, who, attempt)
        if isinstance(decision, Throttled):
            self._refused(slot, who, peer, _held_back(decision), cause="throttled")
            self._metrics.logon_throttled.labels(decision.reason, decision.scope).inc()
            return
        if isinstance(decision, Refuse):
            self._refused(slot, who, peer, decision.reason, cause="refused")
            if decision.probe_live and slot is not None and slot.connection is not None:
                self._start_probe(slot.connection)
            return
        assert slot is not None
        if self.standby is not None:
            # Closed without a message: a FIX engine counts a Logout's MsgSeqNum as received
            # whatever it is (QuickFIX C++ adds one to the number it expects), so any Logout
            # from here could make the client skip a message the serving bridge sent it.
            self._refused(slot, who, peer, self.standby, cause="standby")
            return
        slot.logon_in_progress = True
        try:
            conn = await self._bind(slot, decision, reader, writer, peer, attempt, password_ok)
        finally:
            slot.logon_in_progress = False
        if slot.retired:  # a reload removed or replaced the session while this Logon waited
            slot.connection = None
            self._close(conn, "session removed or changed by a configuration reload")
            conn.finished.set()
            return
        try:
            await self._run(conn, logon, parser, leftover, new_window=decision.new_window)
        except STORAGE_ERRORS as exc:
            await self._storage_failed(conn, "reader", exc)
        finally:
            self._close(conn, "connection ended")
            tasks = [*conn.tasks, *([conn.resend_task] if conn.resend_task else [])]
            for task in tasks:
                task.cancel()
            try:
                await asyncio.gather(*tasks, return_exceptions=True)
                # A write round delivering the session's batch holds its lock until it has
                # ended (and then stores the numbers and moves the cursor): a new Logon must
                # not read the session before that.
                await conn.lock.acquire()
                conn.lock.release()
            finally:  # even if cancelled meanwhile (the acceptor stopping): let the session go
                slot.connection = None
                try:
                    await self._ended(conn, who)
                except STORAGE_ERRORS as exc:
                    self._storage_failure(conn, "end of connection", exc)
                finally:
                    conn.finished.set()

    async def _decide(
        self, logon: FixMessage, slot: SessionSlot | None, who: Peer, attempt: Attempt
    ) -> tuple[Bind | Refuse | Throttled, bool | None]:
        """Whether a first message binds, with its password checked when that is worth it.

        In order: a source or session held back by the logon throttle is refused unread; the
        password (scrypt) is checked on the acceptor's own threads, one check at a time per
        key, and only for a Logon its session would take from this peer; admission decides;
        a Logon naming no session or carrying wrong credentials counts as a failure
        (fix/throttle.py rule 1), which may lock its keys out."""
        throttled = self._throttle.check(attempt, self._clock())
        if throttled is not None:
            return throttled, None
        config = slot.config if slot is not None else None
        vetted = config is not None and logon.msg_type == "A" and peer_refusal(config, who) is None
        password_ok: bool | None = None
        if vetted and config is not None and config.password_hash is not None:
            busy = self._throttle.begin_password_check(attempt)
            if busy is not None:
                return busy, None
            try:
                password_ok = await self._password_ok(config, logon)
            finally:
                self._throttle.end_password_check(attempt)
        now = self._clock()
        decision = admit(logon, self._admission_view(slot), who, now, password_ok)
        if config is None or (
            vetted
            and not credentials_ok(
                logon, LogonPolicy(config.username, config.password_hash, password_ok)
            )
        ):
            for lockout in self._throttle.failed(attempt, now):
                self._locked_out(lockout)
        return decision, password_ok

    def _locked_out(self, lockout: Lockout) -> None:
        scope = lockout.scope
        self._metrics.logon_lockouts.labels(scope).inc()
        self._metrics.logon_locked_out.labels(scope).set(
            self._throttle.locked_out(self._clock())[scope]
        )
        log.warning(
            "logon lockout: %s %s refused for %.0f s after %d failed logons within %.0f s",
            scope,
            lockout.key,
            lockout.lockout_s,
            lockout.failures,
            lockout.window_s,
            extra={"session": lockout.key} if scope == "session" else None,
        )

    def _admission_view(self, slot: SessionSlot | None) -> Slot | None:
        """What admission needs to know about a configured session, right now."""
        if slot is None:
            return None
        if slot.logon_in_progress:
            live = Live.BINDING
        elif slot.connection is None:
            live = Live.NONE
        else:
            live = Live.DEAD if slot.connection.dead else Live.ALIVE
        if self.standby is not None:  # a standby creates no session record
            found = self._journal.find_session(slot.config.name)
            return Slot(slot.config, slot.schedule, live, found.updated_at_ns if found else 0)
        record = self._journal.load_session(slot.config.name)
        return Slot(slot.config, slot.schedule, live, record.updated_at_ns)

    def _peer(self, writer: asyncio.StreamWriter, peer: str) -> Peer:
        certificate = peer_identity(writer.get_extra_info("ssl_object"))
        return Peer(peer.rpartition(":")[0], certificate, tls=self._config.tls is not None)

    def _refused(
        self, slot: SessionSlot | None, who: Peer, peer: str, reason: str, *, cause: str
    ) -> None:
        """A Logon refused before binding: counted, and logged as unauthenticated input."""
        if slot is None:
            count_logon(self._metrics, UNKNOWN_SESSION, accepted=False)
            self._unbound(who, cause, f"logon refused from {peer}: {reason}")
            return
        slot.meters.logon(accepted=False)
        name = slot.config.name
        self._unbound(who, cause, f"logon refused from {peer} for session {name}: {reason}", name)

    def _unbound(
        self,
        who: Peer,
        cause: str,
        text: str,
        session: str | None = None,
        *,
        level: int = logging.WARNING,
    ) -> None:
        """A connection that ended without logging on: counted by cause, and logged at most
        once per source and ``fix.unauthenticated_log_interval_s``, the line saying how many
        were left out since the source's last one."""
        self._metrics.unauthenticated_connections.labels(cause).inc()
        source = source_key(who.address)
        line = self._unbound_log.admit(source, self._clock())
        if line is None:
            return
        if line.suppressed:
            text += f" ({line.suppressed} more from {source} since the last line left out)"
        log.log(level, "%s", text, extra={"session": session} if session else None)

    async def _ended(self, conn: Connection, who: Peer) -> None:
        """A bound connection is gone: say why, count a refused logon, end the window."""
        reason = conn.close_reason or "connection ended"
        if conn.logged_on:
            conn.meters.up.set(0)
            log.info(
                "session %s: logged out, %s disconnected: %s",
                conn.name,
                conn.peer,
                reason,
                extra=conn.log_extra,
            )
        else:
            conn.meters.logon(accepted=False)
            text = f"logon refused from {conn.peer} for session {conn.name}: {reason}"
            self._unbound(who, "refused", text, conn.name)
        await self._execute(conn, conn.session.connection_ended())

    async def _bind(
        self,
        slot: SessionSlot,
        decision: Bind,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: str,
        attempt: Attempt,
        password_ok: bool | None,
    ) -> Connection:
        """Bind an admitted connection to its session, replacing a dead one first."""
        previous = slot.connection
        if decision.replaces_dead and previous is not None:
            log.info(
                "session %s: connection from %s is gone; the new logon from %s replaces it",
                slot.config.name,
                previous.peer,
                peer,
                extra=previous.log_extra,
            )
            self._close(previous, "connection lost; replaced by a new logon")
            previous.writer.transport.abort()  # nothing more can reach that peer
            await previous.finished.wait()
        config = slot.config
        record = self._journal.load_session(config.name)
        session = FixSession(
            SessionIdentity(config.sender_comp_id, config.target_comp_id),
            next_sender_seq=record.next_sender_seq,
            next_target_seq=record.next_target_seq,
            precision=config.timestamp_precision,
            policy=LogonPolicy(config.username, config.password_hash, password_ok),
            window_end_ns=decision.window.end_ns,
        )
        logbook = Logbook(config.name, record.reset_epoch)
        conn = Connection(slot, session, reader, writer, peer, attempt, logbook)
        slot.connection = conn
        return conn

    def _start_probe(self, live: Connection) -> None:
        """A second Logon arrived for ``live``'s session: learn whether ``live`` is still
        there (one probe at a time)."""
        if live.probe_task is None and not live.dead:
            live.probe_task = self._spawn(live, self._probe(live), "probe")
            live.tasks.append(live.probe_task)

    async def _probe(self, live: Connection) -> None:
        """Send a TestRequest; a connection that sends nothing back within
        ``half_open_probe_s`` is half-open and is dropped, so the next Logon binds."""
        try:
            live.received.clear()
            async with live.lock:
                await self._execute(live, live.session.probe(self._clock()))
            probe_s = self._config.half_open_probe_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(live.received.wait(), timeout=probe_s)
            if live.received.is_set() or live.closed.is_set():
                return
            log.warning(
                "session %s: connection from %s did not answer a TestRequest within %.1f s;"
                " dropping it (half-open)",
                live.name,
                live.peer,
                probe_s,
                extra=live.log_extra,
            )
            live.meters.heartbeat_timeouts.inc()
            self._close(live, "no answer to a TestRequest probe (half-open connection)")
        finally:
            live.probe_task = None

    async def _run(
        self,
        conn: Connection,
        logon: FixMessage,
        parser: FrameParser,
        leftover: list[object],
        *,
        new_window: bool,
    ) -> None:
        if new_window:
            await self._execute(conn, conn.session.start_new_window())
        conn.meters.received(logon.msg_type)
        async with conn.lock:
            await self._receive(conn, logon)
        await self._drain(conn)
        pending = list(leftover)
        while not conn.closed.is_set():
            for item in pending:
                await self._on_frame(conn, item)
                if conn.closed.is_set():
                    return
            try:
                data = await conn.reader.read(65536)
            except ConnectionError as exc:
                self._close(conn, f"connection lost: {exc}")
                return
            if not data:
                self._close(conn, "client closed the connection")
                return
            pending = list(parser.feed(data))

    async def _on_frame(self, conn: Connection, item: object) -> None:
        if isinstance(item, Garbled):
            log.warning(
                "session %s: garbled input ignored (%s)",
                conn.name,
                item.reason,
                extra=conn.log_extra,
            )
            return
        if isinstance(item, Oversize):
            log.warning(
                "session %s: message of %d bytes exceeds the %d limit; disconnecting",
                conn.name,
                item.declared,
                item.limit,
                extra=conn.log_extra,
            )
            self._close(conn, "oversize message")
            return
        assert isinstance(item, FixMessage)
        conn.received.set()
        conn.meters.received(item.msg_type)
        if item.msg_type == "A" and item.get(141) == "Y":
            # A reset Logon inside the session: its own password check (any other Logon
            # here ends the session unread, so no check is spent on it).
            checked = await self._password_ok(conn.slot.config, item)
            conn.session.policy = dataclasses.replace(conn.session.policy, password_ok=checked)
        async with conn.lock:
            await self._receive(conn, item)
        await self._drain(conn)

    async def _receive(self, conn: Connection, message: FixMessage) -> None:
        """Hand a client's message to the session and carry out its answer, the message
        logged with the first journal write of that answer. Caller holds ``conn.lock``."""
        now = self._clock()
        actions = conn.session.on_message(message, now)
        conn.logbook.received(message, now, actions)
        await self._execute(conn, actions)

    async def _execute(self, conn: Connection, actions: list[Action]) -> None:
        """Carry out a FixSession's actions in order. Caller holds ``conn.lock``.

        The only awaits are the journal's commits (bounded by the disk, never by the client):
        holding the lock through them keeps the bytes queued on the transport in sequence
        order. The caller drains after releasing the lock, so a client that stops reading can
        never hold the session's lock.

        Message log: the rows waiting in the connection's logbook (the client's message being
        answered) and those of the Sends that follow a Persist go into that Persist's write,
        before the bytes are written; rows still waiting at the end get a write of their own.
        Every row of ours is committed before its bytes are written.
        """
        name, meters, logbook = conn.name, conn.meters, conn.logbook
        logged: set[int] = set()  # the Sends whose rows went with a Persist
        for i, action in enumerate(actions):
            if isinstance(action, Persist):
                if action.reset:
                    conn.resends.clear()  # those numbers are gone; queued replays with them
                    logbook.reset()
                ahead = logbook.ahead(actions[i + 1 :], self._clock())
                waiting = logbook.take()
                try:
                    await self._journal.save_sequence_numbers_async(
                        name,
                        action.next_sender_seq,
                        action.next_target_seq,
                        at_ns=self._clock(),
                        reset=action.reset,
                        log=[*waiting, *(entry for _, entry in ahead)],
                    )
                except Exception:  # not written: they go with the next write
                    logbook.give_back(waiting)
                    raise
                logged.update(id(send) for send, _ in ahead)
                meters.seq_nums(action.next_sender_seq, action.next_target_seq)
                conn.slot.next_sender_seq = action.next_sender_seq
                conn.slot.next_target_seq = action.next_target_seq
            elif isinstance(action, Send):
                if action.stored is not None:
                    await self._store(conn, action)  # logged with what it stores
                elif id(action) not in logged:  # no Persist before it: logged on its own first
                    await self._log_waiting(conn, [logbook.sent(action.data, self._clock())])
                if self._write(conn, action.data):
                    meters.sent(action.msg_type)
            elif isinstance(action, Resend | EventResendRequest):
                if isinstance(action, EventResendRequest) and (
                    conn.event_resending == conn.logbook.epoch
                    or any(isinstance(r, EventResendRequest) for r in conn.resends)
                ):
                    text = "an earlier EventResendRequest is still being answered"
                    await self._event_resend_refused(conn, action, BUSY, text, held=True)
                    continue
                conn.resends.append(action)
                if conn.resend_task is None:
                    conn.not_resending.clear()
                    conn.resend_task = self._spawn(conn, self._serve_resends(conn), "resend")
            elif isinstance(action, LoggedOn):
                conn.logged_on = True
                conn.logged_on_ns = self._clock()
                self._throttle.succeeded(conn.attempt)
                meters.logon(accepted=True)
                meters.up.set(1)
                log.info(
                    "session %s: logon from %s (HeartBtInt=%d%s)",
                    name,
                    conn.peer,
                    action.heartbeat_s,
                    ", sequence reset" if action.reset else "",
                    extra=conn.log_extra,
                )
                conn.tasks.append(self._spawn(conn, self._pump(conn), "pump"))
                conn.tasks.append(self._spawn(conn, self._tick(conn), "ticker"))
            elif isinstance(action, Note):
                log.info("session %s: %s", name, action.text, extra=conn.log_extra)
            elif isinstance(action, Regression):
                await self._regressed(conn, action)
            elif isinstance(action, SequenceDoubt):
                conn.meters.sequence_regressions.inc()
                log.critical(
                    "session %s: the client asks for numbers we never sent (%s): our sequence"
                    " numbers may have gone backwards (a restored or damaged journal), or the"
                    " client is wrong. Numbers are not moved (our next was %d before our"
                    " Logout); the session is logged out, and the client's next Logon"
                    " (NextExpectedMsgSeqNum(789), or its 'MsgSeqNum too low' Logout) moves"
                    " them if ours went backwards",
                    name,
                    action.evidence,
                    action.next_sender_seq,
                    extra=conn.log_extra,
                )
            elif isinstance(action, Disconnect):
                self._close(conn, action.reason)  # logged with the reason when the connection ends
                break
        if logbook.pending:
            await self._log_waiting(conn)

    async def _log_waiting(
        self, conn: Connection, also: list[LogEntry] | None = None
    ) -> None:
        """Write the logbook's waiting rows (and ``also``) in a journal write of their own."""
        waiting = conn.logbook.take()
        try:
            await self._journal.log_messages_async([*waiting, *(also or [])])
        except Exception:  # not written: they go with the next write
            conn.logbook.give_back(waiting)
            raise

    async def _regressed(self, conn: Connection, action: Regression) -> None:
        """Our numbers went backwards: counted, logged CRITICAL, and, when the client logged
        out on one of our messages, what this connection delivered is delivered again: the
        messages from the one it refused on (it took none of them) are forgotten, so a resend
        never replays one under a number where the client holds another, and the cursor goes
        back to where it was at the Logon."""
        conn.meters.sequence_regressions.inc()
        log.critical(
            "session %s: our sequence numbers went backwards (%s; our next number was %d): a"
            " restored or damaged journal. Numbers continue from %d, the next the client"
            " expects; events delivered since its Logon are delivered again, and events the"
            " exchange made before now go out with PossResend(97)=Y (the client may hold them"
            " under the numbers this journal lost)",
            conn.name,
            action.evidence,
            action.had,
            action.expected,
            extra=conn.log_extra,
        )
        before = self._clock() + POSSIBLY_SENT_MARGIN_NS
        await self._journal.mark_possibly_sent_async(conn.name, before)
        if action.rejected_from is None:
            return
        if conn.logon_cursor is not None:  # else delivery had not begun: nothing to go back on
            conn.slot.cursor = conn.logon_cursor
        await self._journal.rewind_session_async(
            conn.name,
            conn.session.next_sender_seq,
            conn.slot.cursor,
            forget_from=action.rejected_from,
            at_ns=self._clock(),
        )

    def _spawn(
        self, conn: Connection, work: Coroutine[Any, Any, None], what: str
    ) -> asyncio.Task[None]:
        """A connection's background task; if it fails, the connection is closed, not left
        logged on and silent."""
        task = asyncio.create_task(self._guarded(conn, work, what), name=f"{conn.name}-{what}")

        def done(finished: asyncio.Task[None]) -> None:
            if finished.cancelled() or finished.exception() is None:
                return
            log.error(
                "session %s: %s failed; closing the connection",
                conn.name,
                what,
                exc_info=finished.exception(),
                extra=conn.log_extra,
            )
            self._close(conn, f"internal error in {what}")

        task.add_done_callback(done)
        return task

    async def _guarded(self, conn: Connection, work: Coroutine[Any, Any, None], what: str) -> None:
        try:
            await work
        except STORAGE_ERRORS as exc:
            await self._storage_failed(conn, what, exc)

    async def _storage_failed(self, conn: Connection, what: str, exc: BaseException) -> None:
        """The journal failed under ``conn``'s ``what``: say so (once per condition and
        interval), log the client out with a Text, and close. The Logout goes out only if its
        sequence number can be stored first: a number sent but not stored could be sent again
        after a restart, which would break the client's next logon."""
        self._storage_failure(conn, what, exc)
        if not conn.dead:
            try:
                async with conn.lock:
                    actions = conn.session.logout_now(STORAGE_LOGOUT_TEXT, self._clock())
                    await self._execute(conn, actions)
            except STORAGE_ERRORS as again:  # closed without one; logged as the same condition
                self._storage_failure(conn, "its Logout", again)
        self._close(conn, f"journal failure in {what}")

    def _storage_failure(self, conn: Connection, what: str, exc: BaseException) -> None:
        """Log a journal failure: the traceback the first time the condition is seen, then
        one line with a count at most once per interval, whichever sessions it hits."""
        line = self._storage_log.admit((type(exc).__name__, str(exc)), self._clock())
        if line is None:
            return
        if line.first:
            log.error(
                "session %s: journal failure in %s (the same failure again is summarised at"
                " most once per %.0f s)",
                conn.name,
                what,
                self._config.unauthenticated_log_interval_s,
                exc_info=exc,
                extra=conn.log_extra,
            )
        else:
            log.error(
                "session %s: journal failure in %s goes on: %s: %s (%d more times)",
                conn.name,
                what,
                type(exc).__name__,
                exc,
                line.suppressed,
                extra=conn.log_extra,
            )

    async def _password_ok(self, config: SessionConfig, logon: FixMessage) -> bool | None:
        """``logon``'s Password(554) checked against the session's hash on the credential
        threads (scrypt must neither hold up the event loop nor fill the shared executor);
        None when the session has no password."""
        if config.password_hash is None:
            return None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._credential_checks, verify_password, logon.get(554) or "", config.password_hash
        )

    async def _serve_resends(self, conn: Connection) -> None:
        """Answer ResendRequests in chunks, paced to the session's resend_rate.

        New application messages wait until the replay is done, so the client sees the gap
        closed before anything newer; admin messages (heartbeats) may go in between. Memory
        stays flat: the store is read in batches and only one chunk of frames exists at once.
        """
        rate = conn.slot.config.resend_rate
        loop = asyncio.get_running_loop()
        try:
            while conn.resends and self._replaying(conn):
                request = conn.resends.pop(0)
                if isinstance(request, EventResendRequest):
                    conn.event_resending = conn.logbook.epoch
                    try:
                        await self._serve_event_resend(conn, request)
                    finally:
                        conn.event_resending = None
                    continue
                renderer = self._renderer(conn, self._journal.load_session(conn.name))
                stored = ReplaySource(
                    self._journal, conn.name, request.begin, request.end, renderer.render
                )
                replay = conn.session.replay(request.begin, request.end, stored)
                started, sent = loop.time(), 0
                while self._replaying(conn):
                    async with conn.lock:
                        replayed, gap_fills = replay.replayed, replay.gap_fills
                        now = self._clock()
                        frames = replay.take(RESEND_CHUNK, now)
                        if frames:  # logged before written, as every message we send
                            rows = [conn.logbook.sent(frame, now) for frame in frames]
                            await self._log_waiting(conn, rows)
                        written = self._write(conn, b"".join(frames)) if frames else False
                    if not written:
                        break
                    conn.meters.sent_frames(frames)
                    conn.meters.messages_resent.inc(replay.replayed - replayed)
                    conn.meters.gap_fills.inc(replay.gap_fills - gap_fills)
                    sent += len(frames)
                    await self._drain(conn)
                    if rate:
                        await asyncio.sleep(max(0.0, started + sent / rate - loop.time()))
                log.info(
                    "session %s: resend %d..%d served: %d messages, %d gap fills, %.2f s",
                    conn.name,
                    request.begin,
                    request.end,
                    replay.replayed,
                    replay.gap_fills,
                    loop.time() - started,
                    extra=conn.log_extra,
                )
                self._report_recovery(conn, stored)
        finally:
            conn.session.resend_complete()
            conn.resend_task = None
            conn.not_resending.set()

    async def _serve_event_resend(self, conn: Connection, request: EventResendRequest) -> None:
        """Send again, as new messages marked PossResend(97)=Y, what the session's scope held
        from the request's start up to its end (at most what the session has been sent), then
        EventResendComplete; or EventResendReject saying why not (fix/history.py)."""
        journal = self._journal
        cursor = conn.slot.cursor
        if request.begin_exec_id is not None:
            begin = self._exec_id_offset(request.begin_exec_id)
            if begin is None:
                text = (
                    f"BeginExecID {request.begin_exec_id} is not in the journal (never"
                    " journaled, or removed by retention)"
                )
                await self._event_resend_refused(conn, request, UNKNOWN_BEGIN, text)
                return
        else:
            assert request.start_ns is not None
            oldest = journal.oldest_transact_time()
            if oldest is None or request.start_ns < oldest:
                text = "EventResendStartTime is older than the oldest event the journal keeps"
                await self._event_resend_refused(conn, request, TOO_OLD, text)
                return
            # A scan by time over the whole journal: off the event loop.
            begin = await asyncio.to_thread(journal.offset_before, request.start_ns) + 1
        last = cursor
        if request.end_exec_id is not None:
            end = self._exec_id_offset(request.end_exec_id)
            if end is None or end < begin:
                text = f"EndExecID {request.end_exec_id} is not journaled, or precedes the start"
                await self._event_resend_refused(conn, request, BAD_END, text)
                return
            last = min(end, cursor)
        renderer = self._renderer(conn, journal.load_session(conn.name))
        delivery = Delivery(conn.name, conn.session, lambda e: possible_resends(renderer.render(e)))
        rate = conn.slot.config.resend_rate
        loop = asyncio.get_running_loop()
        started, sent, after = loop.time(), 0, begin - 1
        epoch = conn.logbook.epoch
        while after < last and self._replaying(conn) and conn.logbook.epoch == epoch:
            events = [e for e in journal.read_events(after, RESEND_CHUNK) if e.offset <= last]
            if not events:
                break
            async with conn.lock:
                sent += await self._send_batch(conn, delivery, events, after, history=True)
            after = events[-1].offset
            await self._drain(conn)
            if rate:
                await asyncio.sleep(max(0.0, started + sent / rate - loop.time()))
        if conn.logbook.epoch != epoch:  # the numbers were reset: the request went with them
            log.info(
                "session %s: event resend (request %d) abandoned after %d messages: sequence"
                " numbers were reset", conn.name, request.ref_seq, sent, extra=conn.log_extra,
            )  # fmt: skip
        elif self._replaying(conn):
            await self._reply(conn, EVENT_RESEND_COMPLETE, complete_body(request, sent))
            log.info(
                "session %s: event resend (request %d) served: %d messages, %.2f s",
                conn.name, request.ref_seq, sent, loop.time() - started, extra=conn.log_extra,
            )  # fmt: skip

    def _exec_id_offset(self, exec_id: str) -> int | None:
        """The journal offset of the event an ExecID(17) we send came from: a fill's or an
        order's execution, or, for a trade cancel's ``<fill ExecID>-BUST``, the BUSTED trade
        that cancelled the fill. None if it was never journaled (or was removed)."""
        journal = self._journal
        found = journal.offset_of("executions", exec_id)
        if found is not None or not exec_id.endswith(BUST_EXEC_ID_SUFFIX):
            return found
        fill_offset = journal.offset_of("executions", exec_id[: -len(BUST_EXEC_ID_SUFFIX)])
        if fill_offset is None:
            return None
        (fill,) = journal.read_events(fill_offset - 1, 1)
        try:
            trade_id = ExecutionEvent.from_payload(fill.payload).trade_id
        except NormalizationError:
            return None
        return None if trade_id is None else journal.offset_of("trades", f"{trade_id}:BUSTED")

    async def _event_resend_refused(
        self,
        conn: Connection,
        request: EventResendRequest,
        reason: str,
        text: str,
        *,
        held: bool = False,
    ) -> None:
        """EventResendReject; ``held``: the caller holds ``conn.lock`` already."""
        log.info(
            "session %s: event resend (request %d) refused: %s",
            conn.name, request.ref_seq, text, extra=conn.log_extra,
        )  # fmt: skip
        body = reject_body(request, reason, text)
        if held:
            await self._reply_held(conn, EVENT_RESEND_REJECT, body)
        else:
            await self._reply(conn, EVENT_RESEND_REJECT, body)

    async def _reply(self, conn: Connection, msg_type: str, body: bytes) -> None:
        async with conn.lock:
            await self._reply_held(conn, msg_type, body)

    async def _reply_held(self, conn: Connection, msg_type: str, body: bytes) -> None:
        """One application message of ours that no event produced (an answer to a request),
        stored as sent before it is written, the cursor unmoved. Caller holds ``conn.lock``."""
        if conn.session.state is not State.ACTIVE or conn.closed.is_set():
            return
        now = self._clock()
        first = conn.session.next_sender_seq
        send, stamp = conn.session.application_message(msg_type, body, now)
        waiting = conn.logbook.take()
        try:
            await self._journal.submit_sent(
                conn.name, [OutboundMessage(send.seq, msg_type, stamp, body)],
                conn.session.next_sender_seq, None, at_ns=now,
                log=[*waiting, conn.logbook.sent(send.data, now)],
            ).result()  # fmt: skip
        except BaseException as exc:
            if isinstance(exc, Exception):  # not written: they go with the next write
                conn.logbook.give_back(waiting)
            conn.session.next_sender_seq = first
            raise
        conn.slot.next_sender_seq = conn.session.next_sender_seq
        if self._write(conn, send.data):
            conn.meters.sent(msg_type, 1)

    @staticmethod
    def _report_recovery(conn: Connection, source: ReplaySource) -> None:
        """Say what a replay had to fill in: messages rendered again, and any lost."""
        if source.recovered:
            conn.meters.rerendered.inc(source.recovered)
            log.warning(
                "session %s: %d resent message(s) were missing from the outbound store and were"
                " rendered again from their journal events (identical to what was sent);"
                " run `fixbridge check-journal`",
                conn.name,
                source.recovered,
                extra=conn.log_extra,
            )
        for lost in source.lost:
            conn.meters.lost.inc(lost.count)
            log.critical(
                "session %s: sent message(s) %d..%d are missing from the outbound store and"
                " cannot be rendered again from the journal; the resend gap-filled them",
                conn.name,
                lost.first,
                lost.last,
                extra=conn.log_extra,
            )

    @staticmethod
    def _replaying(conn: Connection) -> bool:
        """A replay stops when the connection closes or either side starts logging out."""
        return not conn.closed.is_set() and conn.session.state is State.ACTIVE

    async def _tick(self, conn: Connection) -> None:
        while not conn.closed.is_set():
            await asyncio.sleep(TICK_S)
            async with conn.lock:
                active = conn.session.state is State.ACTIVE
                actions = conn.session.on_tick(self._clock())
                if active and any(isinstance(a, Disconnect) for a in actions):
                    # An active session's tick only disconnects for an unanswered TestRequest.
                    conn.meters.heartbeat_timeouts.inc()
                await self._execute(conn, actions)

    async def _pump(self, conn: Connection) -> None:
        """Deliver journal events in the session's scope, in journal order, from its cursor.
        While it runs, the render cache keeps what it renders only if another session's pump
        runs too (RenderCache.sharing)."""
        self._pumps += 1
        self._rendered.sharing = self._pumps > 1
        try:
            await self._pump_events(conn)
        finally:
            self._pumps -= 1
            self._rendered.sharing = self._pumps > 1

    async def _pump_events(self, conn: Connection) -> None:
        slot = conn.slot
        record = self._journal.load_session(conn.name)
        slot.cursor = conn.logon_cursor = record.cursor_offset
        delivery = conn.delivery = self._delivery(conn, record)
        try:
            await self._pump_from_cursor(conn, delivery)
        finally:
            conn.delivery = None

    async def _pump_from_cursor(self, conn: Connection, delivery: Delivery) -> None:
        slot = conn.slot
        while not conn.dead and conn.session.state is State.ACTIVE:
            await conn.not_resending.wait()
            await slot.delivering.wait()
            wake = self._notifier.current()
            async with conn.lock:
                if conn.session.state is not State.ACTIVE or conn.dead:
                    return
                if not conn.not_resending.is_set():
                    continue
                if conn.replayed:  # admin_replay: the cursor and horizon it stored
                    conn.replayed = False
                    record = self._journal.load_session(conn.name)
                    slot.cursor = record.cursor_offset
                    if conn.logon_cursor is not None:  # a regression rewinds no further on
                        conn.logon_cursor = min(conn.logon_cursor, slot.cursor)
                    delivery = conn.delivery = self._delivery(conn, record)
                # Where the session is now: a batch delivered in a write round moves it too.
                cursor = slot.cursor
                events = self._reads.read_events(cursor, PUMP_BATCH, self._rendering(conn))
                if events:
                    try:
                        cursor = await self._send_batches(conn, delivery, events, cursor)
                    except CursorMoved as moved:  # a replay stored while this batch rendered
                        log.info("session %s: %s; reading it again", conn.name, moved,
                                 extra=conn.log_extra)  # fmt: skip
                        conn.replayed = True
                        continue
                    slot.cursor = cursor
            if events:
                head = self._journal.head_offset()
                self._metrics.journal_head_offset.set(head)
                conn.meters.backlog.set(max(0, head - cursor))
                await self._drain(conn)
                continue
            conn.meters.backlog.set(0)  # nothing after the cursor
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=TICK_S)

    def _deliver_in_round(self, read: RoundRead) -> list[SentInRound]:
        """The journal's question inside a write round that appended events: the batches of
        the sessions that can take the events after their cursor (the new ones, and any not
        sent yet) in that round. A session qualifies when its pump is between batches (its
        lock is free: taken here and held until the round has ended,
        :meth:`_delivered_in_round`), nothing holds its delivery back (:meth:`_may_go_on`)
        and every one of those events renders from itself (``outbound.renders_alone``: an
        execution whose body was rendered at ingest). Any other session is left to its pump,
        which delivers after the commit. A batch commits with its events or not at all (its
        events may commit without it); its bytes are written once that COMMIT returned. A
        session that cannot be served here is left to its pump; anything raised after a
        batch was made first gives that batch up."""
        batches: list[SentInRound] = []
        reads: dict[tuple[int, str], list[JournalEvent]] = {}
        try:
            for slot in self._slots.values():
                conn = slot.connection
                if (
                    conn is None
                    or conn.delivery is None
                    or not self._may_go_on(conn)
                    or not conn.lock.try_acquire()
                ):
                    continue
                batch = None
                try:
                    batch = self._batch_in_round(conn, conn.delivery, read, reads)
                except Exception:
                    log.exception(
                        "session %s: a batch of the events being journaled could not be"
                        " made; its pump delivers what is committed", conn.name,
                        extra=conn.log_extra,
                    )  # fmt: skip
                finally:
                    if batch is None:
                        conn.lock.release()
                if batch is not None:
                    batches.append(batch)
        except BaseException as exc:  # not asked again: the batches made are given up here
            for made in batches:
                made.done(exc)
            raise
        return batches

    def _batch_in_round(
        self,
        conn: Connection,
        delivery: Delivery,
        read: RoundRead,
        reads: dict[tuple[int, str], list[JournalEvent]],
    ) -> SentInRound | None:
        """A session's batch of the round's events (caller holds ``conn.lock``), or None."""
        after, rendering = conn.slot.cursor, self._rendering(conn)
        events = reads.get((after, rendering))
        if events is None:
            events = reads[(after, rendering)] = read(after, PUMP_BATCH, rendering)
        if not events or not all(renders_alone(event, rendering) for event in events):
            return None
        batch = delivery.deliver(events, self._clock())
        try:
            rows = self._log_rows(conn, batch)
        except BaseException:
            delivery.abandon(batch)
            raise
        record, waiting = batch.record, conn.logbook.take()
        return SentInRound(
            record.session_id, record.messages, record.next_sender_seq, record.cursor_offset,
            record.at_ns, after, [*waiting, *rows],
            functools.partial(self._delivered_in_round, conn, delivery, batch, waiting),
        )  # fmt: skip

    def _delivered_in_round(
        self,
        conn: Connection,
        delivery: Delivery,
        batch: Batch,
        waiting: list[LogEntry],
        failure: BaseException | None,
    ) -> None:
        """The round holding a session's batch has ended: committed, the bytes are written
        and the cursor moves; else the batch is abandoned (numbers taken back, log rows kept
        for the next write) and the pump delivers the events. The session's lock is free
        again either way."""
        try:
            if failure is None:
                self._written(conn, batch)
                conn.slot.cursor = batch.cursor
                return
            if isinstance(failure, Exception):
                conn.logbook.give_back(waiting)
            delivery.abandon(batch)
            if isinstance(failure, CursorMoved):  # a replay stored meanwhile
                conn.replayed = True
            log.info(
                "session %s: a batch of the events just journaled was not stored (%s);"
                " its pump delivers them", conn.name, failure, extra=conn.log_extra,
            )  # fmt: skip
        finally:
            conn.lock.release()

    def _delivery(self, conn: Connection, record: SessionRecord) -> Delivery:
        return Delivery(conn.name, conn.session, self._renderer(conn, record).render)

    def _renderer(self, conn: Connection, record: SessionRecord) -> _Renderer:
        config = conn.slot.config
        history = SessionTradeHistory(self._journal, record.origin_offset)
        style = style_of(config)
        bound = recipient(
            config, history, style, self._rendered, self._journal, rendering_key(style)
        )
        return _Renderer(bound, record.possibly_sent_before_ns)

    @staticmethod
    def _rendering(conn: Connection) -> str:
        """The key of the bodies stored at ingest the session may be sent as they are."""
        return rendering_key(style_of(conn.slot.config))

    async def _send_batch(
        self,
        conn: Connection,
        delivery: Delivery,
        events: list[JournalEvent],
        after: int,
        *,
        history: bool = False,
    ) -> int:
        """One batch (the events after offset ``after``): rendered and sequenced, stored
        (group commit, off the loop), then written; the new cursor. Caller holds ``conn.lock``,
        so nothing else of the session's goes out between the numbers being taken and the bytes
        being queued. A ``history`` batch (events sent again on request) leaves the cursor
        where it is, records no batch (its messages are marked, not a re-rendering) and
        returns the number of messages instead."""
        batch = delivery.deliver(events, self._clock())
        record = batch.record
        cursor = None if history else record.cursor_offset
        waiting = conn.logbook.take()
        try:
            await self._journal.submit_sent(
                record.session_id, record.messages, record.next_sender_seq,
                cursor, at_ns=record.at_ns, after_offset=None if history else after,
                log=[*waiting, *self._log_rows(conn, batch)],
            ).result()  # fmt: skip
        except BaseException as exc:
            if isinstance(exc, Exception):  # not written: they go with the next write
                conn.logbook.give_back(waiting)
            delivery.abandon(batch)
            raise
        self._written(conn, batch)
        return batch.frames if history else batch.cursor

    async def _send_batches(
        self, conn: Connection, delivery: Delivery, events: list[JournalEvent], after: int
    ) -> int:
        """The pump's batches from ``events`` (the events after offset ``after``) on,
        pipelined: while the oldest batch commits, the next one is rendered and handed in;
        each is written once its own COMMIT returned, in order. Up to PIPELINE_BATCHES per
        call (caller holds ``conn.lock`` throughout); the new cursor.

        A batch stores nothing unless the stored cursor is still where it began
        (``CursorMoved``), so a batch commits only if the one before it did. On any failure,
        the batches not yet written go to :meth:`_give_up`: those that did not commit lose
        their numbers, those that did are written."""
        staged: collections.deque[tuple[Batch, Submitted[None], list[LogEntry]]]
        staged = collections.deque()
        cursor, count = after, 0

        def stage(events: list[JournalEvent]) -> None:
            nonlocal cursor, count
            batch = delivery.deliver(events, self._clock())
            record, waiting = batch.record, conn.logbook.take()
            try:
                submitted = self._journal.submit_sent(
                    record.session_id, record.messages, record.next_sender_seq,
                    record.cursor_offset, at_ns=record.at_ns, after_offset=cursor,
                    log=[*waiting, *self._log_rows(conn, batch)],
                )  # fmt: skip
            except BaseException:
                conn.logbook.give_back(waiting)
                delivery.abandon(batch)
                raise
            staged.append((batch, submitted, waiting))
            cursor, count = batch.cursor, count + 1

        try:
            stage(events)
            while staged:
                more = len(events) == PUMP_BATCH and count < PIPELINE_BATCHES
                if more:
                    await asyncio.sleep(0)  # the oldest's round begins: it commits meanwhile
                    more = self._may_go_on(conn)
                events = (
                    self._reads.read_events(cursor, PUMP_BATCH, self._rendering(conn))
                    if more
                    else []
                )
                if events:
                    stage(events)  # rendered while the oldest commits
                oldest, submitted, _ = staged[0]
                await submitted.result()
                staged.popleft()
                self._written(conn, oldest)
                conn.slot.cursor = oldest.cursor
            return cursor
        except BaseException as exc:
            await self._give_up(conn, delivery, staged, keep_rows=isinstance(exc, Exception))
            raise

    async def _give_up(
        self,
        conn: Connection,
        delivery: Delivery,
        staged: collections.deque[tuple[Batch, Submitted[None], list[LogEntry]]],
        *,
        keep_rows: bool,
    ) -> None:
        """The batches of a failed pipeline, none written yet: each one's write withdrawn,
        or its round waited for (a cancellation meanwhile waits all the same, so nothing is
        left in flight). Those that did not commit are abandoned, latest first, their log
        rows kept for a later write when ``keep_rows``; those that did (always the oldest:
        a batch commits only if the one before it did) are stored, so they are written,
        oldest first, and their numbers kept."""
        outcomes: list[tuple[Batch, bool, list[LogEntry]]] = []
        interrupted = False
        for batch, submitted, waiting in reversed(staged):
            while True:
                try:
                    committed = await submitted.withdraw()
                    break
                except asyncio.CancelledError:
                    interrupted = True
            outcomes.append((batch, committed, waiting))
        staged.clear()
        for batch, committed, waiting in outcomes:
            if not committed:
                if keep_rows:  # not written: they go with the next write
                    conn.logbook.give_back(waiting)
                delivery.abandon(batch)
        for batch, committed, _ in reversed(outcomes):
            if committed:
                self._written(conn, batch)
                conn.slot.cursor = batch.cursor
        if interrupted:
            raise asyncio.CancelledError

    @staticmethod
    def _may_go_on(conn: Connection) -> bool:
        """Nothing has happened meanwhile that the pump must see before its next batch, and
        the client is keeping up (its socket holds less than WRITE_BUFFER_HIGH unread)."""
        return (
            not conn.dead
            and conn.session.state is State.ACTIVE
            and conn.not_resending.is_set()
            and not conn.replayed
            and conn.slot.delivering.is_set()
            and conn.writer.transport.get_write_buffer_size() < WRITE_BUFFER_HIGH
        )

    @staticmethod
    def _log_rows(conn: Connection, batch: Batch) -> list[LogEntry]:
        """The message log's rows of a batch's messages, from what the batch knows."""
        record, epoch = batch.record, conn.logbook.epoch
        return [
            application_entry(
                conn.name, epoch, frame, seq=m.seq, msg_type=m.msg_type,
                sending_time=m.sending_time, now_ns=record.at_ns,
            )
            for m, frame in zip(record.messages, batch.wire, strict=True)
        ]  # fmt: skip

    def _written(self, conn: Connection, batch: Batch) -> None:
        """A stored batch: its numbers known stored, its bytes written, counted."""
        meters = conn.meters
        meters.next_sender_seq.set(batch.record.next_sender_seq)
        conn.slot.next_sender_seq = batch.record.next_sender_seq
        if batch.data and self._write(conn, batch.data):
            meters.written(self._clock(), batch.times)
            for msg_type, count in batch.msg_types.items():
                meters.sent(msg_type, count)

    async def _drain(self, conn: Connection) -> None:
        """Wait for the client to take our bytes; one that takes nothing for write_timeout_s
        is a slow consumer and is disconnected (its backlog stays in the journal)."""
        if conn.writer.is_closing():
            return
        try:
            await asyncio.wait_for(conn.writer.drain(), timeout=self._config.write_timeout_s)
        except TimeoutError:
            log.warning(
                "session %s: slow consumer: %d bytes unread for %.0f s; disconnecting",
                conn.name,
                conn.writer.transport.get_write_buffer_size(),
                self._config.write_timeout_s,
                extra=conn.log_extra,
            )
            if not conn.closed.is_set():
                conn.meters.slow_consumers.inc()
            self._close(conn, "slow consumer")
        except ConnectionError:
            self._close(conn, "connection lost")

    def _write(self, conn: Connection, data: bytes) -> bool:
        """Queue bytes on the transport, unless the connection is known dead: then close it
        (once) and write nothing. True when the bytes were queued."""
        if conn.closed.is_set():
            return False
        if conn.writer.transport.is_closing():
            self._close(conn, "connection lost (a write failed or the peer reset it)")
            return False
        conn.writer.write(data)
        return True

    async def _store(self, conn: Connection, send: Send) -> None:
        """Keep a message the session sent (a BusinessMessageReject) for resend; the
        session's cursor into the journal does not move."""
        stored = send.stored
        assert stored is not None
        cursor, now = conn.slot.cursor, self._clock()
        waiting = conn.logbook.take()
        try:
            await self._journal.submit_sent(
                conn.name, [stored], stored.seq + 1, cursor, at_ns=now, after_offset=cursor,
                log=[*waiting, conn.logbook.sent(send.data, now)],
            ).result()  # fmt: skip
        except Exception:  # not written: they go with the next write
            conn.logbook.give_back(waiting)
            raise

    def _close(self, conn: Connection, reason: str) -> None:
        """Close now; bytes already queued get CLOSE_GRACE_S to leave, then the socket is cut."""
        if not conn.closed.is_set():
            conn.close_reason = reason
            conn.closed.set()
            conn.writer.close()
            asyncio.get_running_loop().call_later(CLOSE_GRACE_S, conn.writer.transport.abort)


@dataclass(frozen=True, slots=True)
class _Renderer:
    """One session's rendering: its configuration, style, trade history and the cache shared
    with the other sessions, bound once (``to``)."""

    to: Recipient
    possibly_sent_before_ns: int = 0  # SessionRecord.possibly_sent_before_ns

    def render(self, event: JournalEvent) -> list[Rendered]:
        messages = render_to(event, self.to)
        if event.transact_time_ns < self.possibly_sent_before_ns:
            return possible_resends(messages)
        return messages


async def load_configured_session(journal: Journal, config: SessionConfig) -> SessionRecord:
    """A session's stored state. One the journal has never seen is created at the head, or,
    with ``start_from`` an instant, just before the first event journaled with an exchange
    time at or after it; that scan runs on a thread, off the event loop."""
    record = journal.find_session(config.name)
    if record is not None:
        return record
    if not isinstance(config.start_from, datetime):
        return journal.load_session(config.name)
    start = await asyncio.to_thread(journal.offset_before, instant_ns(config.start_from))
    log.info(
        "session %s: new; receives the events journaled after offset %d (exchange time from"
        " %s on)",
        config.name,
        start,
        config.start_from.isoformat(),
        extra={"session": config.name},
    )
    return journal.load_session(config.name, start_offset=start)


async def _first_message(
    reader: asyncio.StreamReader, parser: FrameParser
) -> tuple[FixMessage | None, list[object]]:
    """Read until the first complete frame. A garbled or oversize first frame ends it at
    once (None): a Logon that cannot be read is not waited for."""
    while True:
        data = await reader.read(65536)
        if not data:
            return None, []
        results = parser.feed(data)
        for i, item in enumerate(results):
            if isinstance(item, Oversize | Garbled):
                return None, []
            if isinstance(item, FixMessage):
                return item, list(results[i + 1 :])


def _peer(writer: asyncio.StreamWriter) -> str:
    info = writer.get_extra_info("peername")
    if isinstance(info, tuple) and len(info) >= 2:
        return f"{info[0]}:{info[1]}"
    return str(info)


_HELD_BACK = {
    Reason.BACKOFF: "is in back-off after a failed logon",
    Reason.LOCKOUT: "is locked out after too many failed logons",
    Reason.BUSY: "has another password check running",
}


def _held_back(throttled: Throttled) -> str:
    """Why a throttled Logon was refused, for the log (the client is told nothing)."""
    if throttled.scope is Scope.BRIDGE:
        return "the password checks queued are at fix.max_pending_password_checks"
    return f"{throttled.scope} {throttled.key} {_HELD_BACK[throttled.reason]}"
