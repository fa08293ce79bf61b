"""Wires the bridge together and owns its lifecycle: start, run, drain, stop.

Order matters: the journal opens first (nothing runs without it), the ops HTTP port
(/metrics, /healthz, /readyz) next, then the FIX acceptor listens (clients can log on and
receive the backlog even while the exchange is unreachable), the upstream subscribers start
last, beside a one-off read of the exchange's instrument list for the scales positions need.
Stopping runs the other way round, and every live FIX session is logged out with a Text
before the journal closes; the ops port closes last, answering /readyz 503 meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fixbridge import __version__
from fixbridge.config import (
    STREAMS,
    BridgeConfig,
    ConfigError,
    SettingError,
    load_config,
    naming_setting,
)
from fixbridge.fix.acceptor import (
    Acceptor,
    AdminError,
    Notifier,
    load_configured_session,
)
from fixbridge.fix.reload import restart_only_changes, session_changes
from fixbridge.ha.role import Action, BecomeActive, LeaseTiming
from fixbridge.journal.retention import PRUNED_STREAMS, retain
from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.journal.store import Journal, JournalError
from fixbridge.ops.admin import AdminServer, read_token
from fixbridge.ops.http import OpsServer
from fixbridge.ops.logging import configure_logging
from fixbridge.ops.metrics import Metrics
from fixbridge.ops.status import BridgeStatus, StreamStatus, iso
from fixbridge.upstream.auth import TokenSource
from fixbridge.upstream.md_interest import wants_settlements
from fixbridge.upstream.md_subscriber import STREAM as SETTLEMENTS
from fixbridge.upstream.md_subscriber import JournalInterest, MarketDataSubscriber
from fixbridge.upstream.refdata import seed_scales
from fixbridge.upstream.scales import ScaleBook
from fixbridge.upstream.streams import DEPENDS_ON, build_stream_specs, executions_first
from fixbridge.upstream.subscriber import StreamSubscriber

if TYPE_CHECKING:
    from fixbridge.ha.lease import LeaseKeeper

log = logging.getLogger("fixbridge")

GAUGE_INTERVAL_S = 1.0
READY_CHECK_REUSE_S = 1.0
STANDBY_REASON = "this bridge is the standby ([ha]): the other one serves"


class SteppedDown(Exception):
    """The bridge lost the lease (or could not take up the active role) and stopped serving;
    its service manager starts it again, as the standby."""


class Bridge:
    def __init__(
        self,
        config: BridgeConfig,
        clock: Callable[[], int] = time.time_ns,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self.metrics = metrics if metrics is not None else Metrics()
        self.metrics.init_labels(
            tuple(wanted_streams(config, available=(*STREAMS, SETTLEMENTS))),
            tuple(s.name for s in config.sessions),
        )
        self.ops_server: OpsServer | None = None
        self._gauge_task: asyncio.Task[None] | None = None
        self._retention_task: asyncio.Task[None] | None = None
        self._serving = False  # from the end of start() to the beginning of stop()
        self._journal_ok_at: float | None = None  # monotonic time of the last good write check
        self.journal: Journal | None = None
        self.acceptor: Acceptor | None = None
        self.subscribers: list[StreamSubscriber] = []
        self.market_data: MarketDataSubscriber | None = None
        self.market_data_interest: JournalInterest | None = None
        self._subscriber_tasks: list[asyncio.Task[None]] = []
        self.token_source: TokenSource | None = None
        self._token_task: asyncio.Task[None] | None = None
        self._seed_task: asyncio.Task[int] | None = None
        # [ha]: the lease this bridge serves under, and what became of it.
        self.lease: LeaseKeeper | None = None
        self._lease_task: asyncio.Task[None] | None = None
        self._activation: asyncio.Task[None] | None = None
        self._upstream_started = False
        self._stepped_down: str | None = None
        # Set when running must end without a stop being asked for: a subscriber failed for
        # good, or the lease was lost.
        self._ended = asyncio.Event()
        self.admin_server: AdminServer | None = None
        self._scales = ScaleBook()
        self._specs = build_stream_specs(self._scales)
        self._notifier = Notifier()
        self._reloading = asyncio.Lock()

    async def start(self) -> None:
        config = self.config
        if config.upstream.auth is not None:
            # First: an unusable key (AuthConfigError) stops startup before anything opens.
            self.token_source = TokenSource(config.upstream.auth, metrics=self.metrics)
        # Opened off the loop: SQLite's integrity check reads the whole file, and a damaged
        # journal is refused here (JournalCorrupt), before anything serves from it.
        where = (
            f"journal.path = {str(config.journal.path)!r}"
            if config.journal.backend == "sqlite"
            else f"journal.dsn ({journal_where(config)})"
        )
        with naming_setting(where):
            self.journal = await asyncio.to_thread(self._open_journal)
        if self.lease is None:
            for session in config.sessions:
                # A configured session receives everything journaled from now on (or from
                # its start_from instant, when new), logged on or not.
                await load_configured_session(self.journal, session)
        if config.metrics.enabled:
            self.ops_server = OpsServer(
                config.metrics.host,
                config.metrics.port,
                self.metrics.registry,
                self.readiness,
                status=self.status,
            )
            metrics = config.metrics
            with naming_setting(f"metrics.host, metrics.port = {metrics.host}:{metrics.port}"):
                await self.ops_server.start()
        notifier = Notifier()
        self.acceptor = Acceptor(
            config.fix, config.sessions, self.journal, notifier, self._clock, self.metrics
        )
        standby = STANDBY_REASON if self.lease is not None else None  # until the lease is ours
        with naming_setting(f"fix.host, fix.port = {config.fix.host}:{config.fix.port}"):
            await self.acceptor.start(standby=standby)
        admin = config.admin
        if admin.enabled:
            assert admin.token_file is not None  # the config requires it when enabled
            token = await asyncio.to_thread(read_token, admin.token_file)
            self.admin_server = AdminServer(
                admin.host, admin.port, token, self.acceptor, self.metrics, AdminError
            )
            with naming_setting(f"admin.host, admin.port = {admin.host}:{admin.port}"):
                await self.admin_server.start()
        self._gauge_task = asyncio.create_task(self._refresh_gauges(), name="gauges")
        self._notifier = notifier
        if self.lease is None:
            self._serve_upstream()
        else:
            self._ha_gauges(active=0, epoch=0)
            self._lease_task = asyncio.create_task(self.lease.run(), name="lease")
            self._lease_task.add_done_callback(self._lease_ended)
            log.info(
                "fixbridge started as the standby (%s): it serves once the lease is its own",
                self.lease.holder,
            )
        self._serving = True

    def _open_journal(self) -> Journal:
        """The configured journal (on a thread: opening may read or connect), and with [ha]
        the lease keeper whose fence guards its every write."""
        config = self.config
        journal = config.journal
        if journal.backend == "sqlite":
            return SqliteJournal(
                journal.path, synchronous=journal.synchronous, verify=journal.verify_on_start
            )
        from fixbridge.ha.lease import JournalFence, LeaseKeeper
        from fixbridge.journal.postgres import PostgresJournal
        from fixbridge.pg import PasswordError, with_password

        assert journal.dsn is not None  # the config requires it
        try:
            dsn = with_password(journal.dsn, journal.password_file, journal.password_env)
        except PasswordError as exc:
            raise SettingError(str(exc)) from None
        if not config.ha.enabled:
            return PostgresJournal(dsn)
        ha = config.ha
        timing = LeaseTiming(ha.lease_ttl_s, ha.renew_every_s, ha.margin_s)
        self.lease = LeaseKeeper(dsn, ha.name or socket.gethostname(), timing, self._on_role)
        # A fenced write may hold the lease row for at most half the lease: a writer frozen
        # mid-transaction delays a takeover by no more than that. A read (on the event loop,
        # where the lease is renewed) gives up long before the lease could run out.
        return PostgresJournal(
            dsn,
            fence=JournalFence(self.lease, hold_s=ha.lease_ttl_s / 2),
            read_limit_s=max(0.5, ha.lease_ttl_s / 4),
        )

    def _serve_upstream(self) -> None:
        """What only the serving bridge runs: retention, the token, the subscribers."""
        config = self.config
        if config.journal.retain_days is not None:
            self._retention_task = asyncio.create_task(
                self._retention(config.journal.retain_days), name="retention"
            )
        if self.token_source is not None:  # one token for every stream, refreshed ahead
            self._token_task = asyncio.create_task(self.token_source.run(), name="token")
        self._start_streams(wanted_streams(config, available=tuple(self._specs)))
        self._upstream_started = True
        if self.lease is not None:
            self._ha_gauges(active=1)
        log.info(
            "fixbridge %s: journal %s, %d session(s), upstream %s",
            "started" if self.lease is None else "serving, the lease is its own",
            journal_where(config),
            len(config.sessions),
            config.upstream.target,
        )

    def _on_role(self, action: Action) -> None:
        """The lease keeper's news (ha/role.py): become active, or stop for good."""
        if not self._serving:  # starting or stopping: nothing is taken up any more
            return
        if isinstance(action, BecomeActive):
            if self._activation is None:
                self._ha_gauges(epoch=action.epoch)
                self._activation = asyncio.create_task(self._activate(), name="activate")
            return
        self._ha_gauges(active=0)
        if self._activation is not None and self._stepped_down is None:
            # A bridge that served cannot serve again from what it holds in memory: the other
            # one may have written meanwhile. It stops (the keeper too, so that the lease is
            # never taken up again by this process); its service manager starts it anew.
            self._stepped_down = action.reason
            self._ended.set()
            if self._lease_task is not None:
                self._lease_task.cancel()

    def _lease_ended(self, task: asyncio.Task[None]) -> None:
        """The keeper ends only when cancelled; one that failed leaves no bridge to take over:
        stop, and say why."""
        if task.cancelled() or self._stepped_down is not None or not self._serving:
            return
        error = task.exception()
        log.error("the lease keeper failed: %r", error, exc_info=error)
        self._stepped_down = f"the lease keeper failed: {error!r}"
        self._ended.set()

    def _ha_gauges(self, *, active: int | None = None, epoch: int | None = None) -> None:
        assert self.lease is not None
        pair = ha_pair(self.config)
        if active is not None:
            self.metrics.ha_active.labels(pair).set(active)
        if epoch is not None:
            self.metrics.ha_epoch.labels(pair).set(epoch)

    async def _activate(self) -> None:
        assert self.acceptor is not None
        try:
            async with self._reloading:  # a reload waits, and is applied to what is loaded
                await self.acceptor.activate()
            if not self._serving or self._stepped_down is not None:
                return  # stopping, or the lease went while loading: nothing is started
            self._serve_upstream()
        except Exception as exc:
            log.exception("taking up the active role failed")
            self._stepped_down = f"taking up the active role failed: {exc}"
            self._ended.set()

    def _start_streams(self, wanted: list[str]) -> None:
        """A subscriber for each stream in ``wanted`` not running yet (at start, and when a
        reload adds a session that receives a new kind)."""
        assert self.journal is not None and self.acceptor is not None
        running = {s.spec.name for s in self.subscribers}
        config, specs = self.config, self._specs
        if "executions" in wanted and "trades" in wanted and "trades" not in running:
            # busts settle against the fills
            specs["trades"] = dataclasses.replace(
                specs["trades"], before_store=executions_first(self.journal)
            )
        market_data = wants_market_data(config)
        if ("positions" in wanted or market_data) and self._seed_task is None:
            # a head start on the scales positions and settlements need
            self._seed_task = asyncio.create_task(
                seed_scales(config.upstream, self._scales, self.token_source), name="scales"
            )
        for name in wanted:
            if name in running:
                continue
            subscriber = StreamSubscriber(
                specs[name], config.upstream, self.journal, self._notifier.notify, self._clock,
                token_source=self.token_source,
                metrics=self.metrics,
                on_decoded=self.acceptor.render_cache.remember,
                prerender=self.acceptor.prerender,
            )  # fmt: skip
            self.subscribers.append(subscriber)
            self._watch(asyncio.create_task(subscriber.run(), name=name))
        if market_data and self.market_data is None:
            self._start_market_data()

    def _positions_reach(self, at_ns: int) -> bool:
        """Whether the positions journaled cover the exchange's time ``at_ns`` (true when
        positions are not followed: nothing will come to wait for)."""
        if self.journal is None or not any(s.spec.name == "positions" for s in self.subscribers):
            return True
        anchor = self.journal.resume_anchor_ns("positions")
        return anchor is not None and anchor >= at_ns

    def _start_market_data(self) -> None:
        """The settlement-price subscriber and what keeps its symbols up to date."""
        assert self.journal is not None and self.acceptor is not None
        self.market_data = MarketDataSubscriber(
            self.config.upstream, self.journal, self._scales, self._notifier.notify, self._clock,
            token_source=self.token_source,
            metrics=self.metrics,
            on_decoded=self.acceptor.render_cache.remember,
            positions_reach=self._positions_reach,
        )  # fmt: skip
        self.market_data_interest = JournalInterest(
            self.journal, self.market_data, lambda: self.config.sessions, self._notifier.current
        )
        self._watch(asyncio.create_task(self.market_data.run(), name=SETTLEMENTS))
        self._watch(
            asyncio.create_task(self.market_data_interest.run(), name="settlement-interest"))

    def _watch(self, task: asyncio.Task[None]) -> None:
        """A subscriber's task: running ends should it end (it fails only for good)."""
        self._subscriber_tasks.append(task)
        task.add_done_callback(lambda _: self._ended.set())

    async def reload(self, path: Path) -> bool:
        """Re-read the config file (SIGHUP): sessions added, removed or changed take effect,
        every other session is left alone; a config that fails to load, or that only a
        restart could apply, is refused and the running one kept. Returns whether applied."""
        async with self._reloading:  # two SIGHUPs in a row apply one after the other
            if not self._serving:
                log.warning("configuration reload ignored: the bridge is starting or stopping")
                return False
            try:
                new = await asyncio.to_thread(load_config, path)
                changes = session_changes(self.config.sessions, new.sessions)
                assert self.acceptor is not None
                refusal = self.acceptor.reload_refusal(changes)
                if refusal is not None:
                    raise ConfigError(refusal)
            except ConfigError as exc:
                self.metrics.config_reloads.labels("refused").inc()
                log.error(
                    "configuration reload refused, the running configuration is kept: %s", exc
                )
                return False
            later = restart_only_changes(self.config, new)
            kept = {name: getattr(self.config, name) for name in later}
            await self.acceptor.reconfigure(
                changes, "session settings changed by a configuration reload; log on again"
            )
            if new.logging != self.config.logging:
                configure_logging(new.logging.format, new.effective_log_level)
            self.config = new.model_copy(update=kept)
            if self._upstream_started:  # a standby starts its streams when it takes over
                self._start_streams(wanted_streams(self.config, available=tuple(self._specs)))
            self.metrics.config_reloads.labels("applied").inc()
            log.info("configuration reloaded from %s: %s", path, changes.summary())
            if later:
                log.warning(
                    "configuration reload: %s changed; kept as running until the next restart",
                    ", ".join(f"[{name}]" for name in later),
                )
            return True

    async def stop(self) -> None:
        self._serving = False  # /readyz says so while the sessions drain
        if self._activation is not None:  # first: it would start what is stopped below
            self._activation.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._activation
        if self._gauge_task is not None:
            self._gauge_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._gauge_task
        if self._retention_task is not None:
            self._retention_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retention_task
        if self._seed_task is not None:
            self._seed_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._seed_task
        for task in self._subscriber_tasks:
            task.cancel()
        # A subscriber that already failed keeps its error for run_until; nothing raises here.
        await asyncio.gather(*self._subscriber_tasks, return_exceptions=True)
        if self._token_task is not None:
            self._token_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._token_task
        if self.admin_server is not None:
            await self.admin_server.stop()
        if self.acceptor is not None:
            await self.acceptor.stop()  # the Logouts are written under the lease still
        if self._lease_task is not None and self.lease is not None:
            self._lease_task.cancel()
            # A keeper that failed has said so (_lease_ended): the stop goes on regardless.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._lease_task
            await self.lease.release()  # the standby need not wait for it to run out
        if self.journal is not None:
            self.journal.close()
        if self.ops_server is not None:
            await self.ops_server.stop()
        log.info("fixbridge stopped")

    @property
    def metrics_port(self) -> int | None:
        """The bound ops HTTP port (useful with port 0), or None when it is not serving."""
        server = self.ops_server
        return server.port if server is not None and server.listening else None

    async def status(self) -> BridgeStatus:
        """The bridge at a glance for ``/status``: readiness, each session, each stream."""
        reason = await self.readiness()
        now = self._clock()
        head = self.journal.head_offset() if self.journal is not None else 0
        sessions = self.acceptor.session_statuses(head) if self.acceptor is not None else []
        streams = [
            StreamStatus(
                name=s.spec.name,
                connected=s.connected,
                catching_up=s.catch_up.catching_up,
                resume_mode=s.resume_mode,
                last_response=iso(s.last_response_ns),
                newest_transact_time=iso(s.newest_transact_ns),
                lag_s=(
                    max(0, now - s.newest_transact_ns) / 1e9
                    if s.newest_transact_ns is not None
                    else None
                ),
                events_stored=s.events_stored,
                duplicates=s.duplicates,
                flagged=s.flagged,
                reconnects=sum(s.reconnects.values()),
            )
            for s in self.subscribers
        ]
        if self.market_data is not None:
            streams.append(market_data_status(self.market_data, now))
        return BridgeStatus(
            version=__version__,
            now=iso(now),
            ready=reason is None,
            not_ready_reason=reason,
            journal_path=journal_where(self.config),
            journal_head=head,
            sessions=sessions,
            streams=streams,
        )

    async def readiness(self) -> str | None:
        """Why traffic should not come here (None = ready): the journal takes a real write,
        the executions stream, when some session receives executions, is connected, and no
        connected stream is still catching up on what it missed ("catching_up: ...")."""
        if not self._serving or self.journal is None:
            return "starting or stopping"
        if self.lease is not None and not (self.lease.active and self._upstream_started):
            if self.lease.active:
                return "activating: loading the sessions and starting the streams"
            return f"standby: {self.lease.holder} does not hold the lease"
        now = time.monotonic()
        # A passing write check is reused for a second: a probe flood must not become an
        # fsync flood (the check commits with the journal's other writes, off the loop).
        if self._journal_ok_at is None or now - self._journal_ok_at >= READY_CHECK_REUSE_S:
            try:
                await self.journal.check_writable_async(self._clock())
            except JournalError as exc:
                self._journal_ok_at = None
                return str(exc)
            self._journal_ok_at = now
        for subscriber in self.subscribers:
            if subscriber.spec.name == "executions" and not subscriber.connected:
                return "upstream executions stream is not connected"
        behind = []  # a stream that is not connected is not catching up on anything yet
        for subscriber in self.subscribers:
            if subscriber.connected and subscriber.catch_up.catching_up:
                lag = subscriber.catch_up.lag_s(self._clock())
                where = f"{lag:.0f} s behind" if lag is not None else "no event yet"
                behind.append(f"{subscriber.spec.name} ({where})")
        if behind:
            return "catching_up: " + ", ".join(behind)
        return None

    async def _retention(self, retain_days: int) -> None:
        """What is older than ``retain_days`` and sent to every configured session goes
        (journal/retention.py), hour by hour."""
        assert self.journal is not None
        journal = self.journal
        removed = self.metrics.journal_retention_removed

        def names() -> list[str]:
            return [s.name for s in self.config.sessions]

        upstream = self.config.upstream
        margin_ns = int(upstream.resume_margin_s * 1e9)
        reach = {stream: margin_ns for stream in PRUNED_STREAMS}
        reach["trades"] += int(upstream.trades_lookback_s * 1e9)
        await retain(
            journal, names, journal.head_offset, self._clock, retain_days, reach,
            lambda what, count: removed.labels(what).inc(count),
        )  # fmt: skip

    async def _refresh_gauges(self) -> None:
        """Journal size, head and the disk space left, and each session's backlog and schedule
        window, move while nothing is sent (a session logged out, a quiet market): refresh
        them every second."""
        failing = False
        while True:
            try:
                assert self.journal is not None and self.acceptor is not None
                head = self.journal.head_offset()
                self.metrics.journal_head_offset.set(head)
                self.metrics.journal_size_bytes.set(self.journal.size_bytes())
                space = self.journal.disk_space()
                if space is not None:
                    self.metrics.journal_disk_free_bytes.set(space[0])
                    self.metrics.journal_disk_total_bytes.set(space[1])
                self.acceptor.refresh_gauges(head)
                failing = False
            except Exception:
                if not failing:  # once per failure spell, not once a second
                    log.exception("refreshing the journal and session gauges failed")
                failing = True
            await asyncio.sleep(GAUGE_INTERVAL_S)

    async def run_until(
        self, stop: asyncio.Event, on_stop: Callable[[], object] | None = None
    ) -> None:
        """Run until ``stop`` is set, or until a subscriber fails for good (the exchange
        refused the request as invalid): then stop cleanly and raise its error. ``on_stop``
        is called as the stop begins, however it began (the stop's deadline)."""
        await self.start()
        stopping = asyncio.create_task(stop.wait(), name="stop")
        ended = asyncio.create_task(self._ended.wait(), name="ended")
        try:
            await asyncio.wait([stopping, ended], return_when=asyncio.FIRST_COMPLETED)
        finally:
            if on_stop is not None:
                on_stop()
            stopping.cancel()
            ended.cancel()
            failed = [t for t in self._subscriber_tasks if t.done() and not t.cancelled()]
            await self.stop()
        for task in failed:
            error = task.exception()
            if error is not None:
                raise error
        if self._stepped_down is not None:
            raise SteppedDown(self._stepped_down)


def ha_pair(config: BridgeConfig) -> str:
    """The active/standby pair a bridge belongs to, as its metrics label it: the journal's
    database (the two bridges of a pair share it; two pairs never do)."""
    from fixbridge.pg import parse_dsn

    settings = parse_dsn(config.journal.dsn or "")
    return str(settings.get("dbname") or settings.get("user") or "fixbridge")


def journal_where(config: BridgeConfig) -> str:
    """The journal named for people: its file, or its database (never the password)."""
    journal = config.journal
    if journal.backend == "sqlite" or journal.dsn is None:
        return str(journal.path)
    from fixbridge.pg import parse_dsn

    settings = parse_dsn(journal.dsn)
    return f"postgresql {settings.get('dbname', '')}@{settings.get('host', 'localhost')}"


def market_data_status(md: MarketDataSubscriber, now: int) -> StreamStatus:
    """The settlement-price streams as one row of /status."""
    return StreamStatus(
        name=SETTLEMENTS,
        connected=md.connected,
        catching_up=False,  # a subscribe sends each symbol's current state: nothing to replay
        resume_mode=f"subscribe ({len(md.plan.assigned)} symbols, {len(md.streams)} streams)",
        last_response=iso(md.last_response_ns),
        newest_transact_time=iso(md.newest_set_ns),
        lag_s=None,  # settlements are rare: their age is no lag
        events_stored=md.settlements_stored,
        duplicates=md.duplicates,
        flagged=md.flagged,
        reconnects=md.reconnects,
    )


def wants_market_data(config: BridgeConfig) -> bool:
    """Whether the settlement-price subscriber runs: enabled, and some session receives
    settlements or positions (a position report carries its settlement price)."""
    return config.upstream.market_data.enabled and any(
        wants_settlements(s) for s in config.sessions
    )


def wanted_streams(config: BridgeConfig, *, available: tuple[str, ...]) -> list[str]:
    """The upstream streams some configured session receives (and what they depend on)."""
    kinds: set[str] = {kind for s in config.sessions for kind in s.scope.message_kinds}
    for kind in list(kinds):
        kinds.update(DEPENDS_ON.get(kind, ()))
    served = set(available)
    if wants_market_data(config):
        served.add(SETTLEMENTS)  # from the market-data stream, not a DropCopyAPI stream
    missing = sorted(kinds - served)
    if missing:
        log.warning("message kinds %s are not consumed from upstream yet", ", ".join(missing))
    return [name for name in available if name in kinds]
