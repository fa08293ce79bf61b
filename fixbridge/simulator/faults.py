"""Fault injection for the simulated exchange: what goes wrong, when, and how often it did.

A :class:`FaultPlan` belongs to one ``SimulatorServer`` (``server.faults``). Tests flip its knobs
from any thread while streams run; the servicer, the producer and the server's fault ticker ask
it what to do next, and it counts every fault it really injected (:meth:`FaultPlan.counts`), so a
test can assert that each fault happened instead of hoping it did. The faults:

* ``abort_mid_batch`` - after a response, while more of the log is unread (a burst or a
  replay), end the stream with UNAVAILABLE ``fault injected: stream aborted mid-batch``;
* ``refuse_open`` - refuse the next N stream opens, or every open for D seconds, with a chosen
  status (UNAVAILABLE by default; RESOURCE_EXHAUSTED, PERMISSION_DENIED, ... on request);
* ``revoke_access_tokens`` - revoke every access token of the simulator's auth, if it has one:
  open streams go on, new opens get UNAUTHENTICATED until the client fetches a new token;
* ``overlap_on_resume`` - a resumed stream starts K events before the position asked for;
* ``expire_resume_tokens`` - every token issued until now is refused (FAILED_PRECONDITION);
  optionally every open stream is dropped at the same moment (``drop_streams_now``), as after
  a long disconnection, so that every client meets the expiry on its next open;
* ``stall`` - a stream sends nothing at all, not even heartbeats, for D seconds, but stays open;
* ``malformed_event`` - the producer corrupts an event before it is logged (unknown enum
  numbers, an execution without its order, a zero or negative scale), so replays and the
  ReportAPI return the very same broken event. Identity fields are never touched.

Two more are switched on only by themselves, never by :meth:`FaultPlan.enable_all` or
``--faults``:
``refuse_list_instruments`` - refuse the next N ``RefDataAPI.ListInstruments`` calls, or every
call for D seconds, with a chosen status (UNAVAILABLE by default);
``drop_events`` - the next N events a stream would send (:meth:`FaultPlan.drop_events`, on
some streams or all), each with a probability, are never sent by any DropCopy stream, in
replays too, while they stay in the log and so in the ReportAPI: a loss no resume can repair,
as a reconciliation must find. Counted per event; :meth:`FaultPlan.dropped_events` is the
record of which ones. The decision is taken once per log position, by the first stream that
would send it; the resume token still covers a dropped event.

The plan also holds the replay limits that are configuration rather than faults but can be
changed at run time the same way: the resume-token TTL and the per-stream replay window.

Decisions draw from a seeded RNG. Stream-side decisions interleave across concurrently running
streams, so they are reproducible only for one stream at a time; corruption has an RNG of its
own and depends only on the sequence of produced events. This module must never do network
I/O or touch the event logs: it decides and counts, the servicer and the producer act.
"""

from __future__ import annotations

import argparse
import enum
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from fixbridge.proto.polymarket.v1 import orders_pb2, refdata_pb2, trading_pb2
from fixbridge.simulator.streams import Stream
from fixbridge.simulator.subscription import ReplayLimits
from fixbridge.simulator.times import NS_PER_SECOND

logger = logging.getLogger("fixbridge.simulator.faults")

M = TypeVar("M", bound=Message)

ABORT_MESSAGE = "fault injected: stream aborted mid-batch"
REFUSE_MESSAGE = "fault injected: stream open refused"
LIST_REFUSE_MESSAGE = "fault injected: ListInstruments refused"
DROP_MESSAGE = "fault injected: stream dropped"
UNKNOWN_ENUM_BASE = 100
"""The malformed-event fault sets an enum field to this plus its old number: unknown to every
enum here, and still different for records that differed only in that field (a trade's NEW and
CLEARED records must not become byte-identical, or a consumer would rightly merge them)."""


def unknown(value: int) -> int:
    """The unknown number that stands in for enum value ``value``."""
    return UNKNOWN_ENUM_BASE + value


class FaultKind(enum.StrEnum):
    """What :meth:`FaultPlan.counts` counts. The first seven can be enabled by name."""

    ABORT_MID_BATCH = "abort_mid_batch"
    REFUSE_OPEN = "refuse_open"
    REVOKE_ACCESS_TOKENS = "revoke_access_tokens"
    OVERLAP_ON_RESUME = "overlap_on_resume"
    EXPIRE_RESUME_TOKENS = "expire_resume_tokens"
    STALL = "stall"
    MALFORMED_EVENT = "malformed_event"
    # Consequences and non-events, counted so a test can see them too:
    REVOKE_SKIPPED = "revoke_access_tokens_skipped"
    """The access-token fault was due but the simulator has no auth: nothing was revoked."""
    OVERLAP_EVENTS = "overlap_events"
    """Log entries replayed again by overlap_on_resume (before the symbol/firm filter)."""
    EXPIRED_TOKEN_REFUSED = "expired_token_refused"
    REPLAY_WINDOW_REFUSED = "replay_window_refused"
    STREAM_DROPPED = "stream_dropped"
    """Streams ended by :meth:`FaultPlan.drop_streams_now` (one per stream)."""
    REFUSE_LIST_INSTRUMENTS = "refuse_list_instruments"
    """ListInstruments calls refused (:meth:`FaultPlan.refuse_list_instruments`)."""
    DROP_EVENTS = "drop_events"
    """Events never sent by a stream (:meth:`FaultPlan.drop_events`), one per event."""


ENABLEABLE = (
    FaultKind.ABORT_MID_BATCH,
    FaultKind.REFUSE_OPEN,
    FaultKind.REVOKE_ACCESS_TOKENS,
    FaultKind.OVERLAP_ON_RESUME,
    FaultKind.EXPIRE_RESUME_TOKENS,
    FaultKind.STALL,
    FaultKind.MALFORMED_EVENT,
)


# ---------------------------------------------------------------------------- malformed events


class Defect(enum.StrEnum):
    """One way the malformed-event fault breaks an event."""

    UNKNOWN_SIDE = "unknown_side"
    UNKNOWN_EXECUTION_TYPE = "unknown_execution_type"
    UNKNOWN_ORDER_TYPE = "unknown_order_type"
    MISSING_ORDER = "missing_order"
    BAD_PRICE_SCALE = "bad_price_scale"
    """Order.price_scale (both orders of a trade) or Instrument.price_scale 0 or negative."""
    BAD_QUANTITY_SCALE = "bad_quantity_scale"
    """Order.fractional_quantity_scale or Instrument.fractional_qty_scale 0 or negative."""
    UNKNOWN_TRADE_STATE = "unknown_trade_state"
    UNKNOWN_INSTRUMENT_STATE = "unknown_instrument_state"


def _bad_scale(current: int, rng: random.Random) -> int:
    """0 or the negated scale (-1 if it was already 0): both make every scaled value unreadable."""
    return rng.choice((0, -current if current > 0 else -1))


def _order_price_scale(order: trading_pb2.Order, rng: random.Random) -> None:
    order.price_scale = _bad_scale(order.price_scale, rng)


def _order_quantity_scale(order: trading_pb2.Order, rng: random.Random) -> None:
    order.fractional_quantity_scale = _bad_scale(order.fractional_quantity_scale, rng)


def _set_side(e: trading_pb2.Execution, _: random.Random) -> None:
    e.order.side = unknown(e.order.side)  # type: ignore[assignment]


def _set_exec_type(e: trading_pb2.Execution, _: random.Random) -> None:
    e.type = unknown(e.type)  # type: ignore[assignment]


def _set_order_type(e: trading_pb2.Execution, _: random.Random) -> None:
    e.order.type = unknown(e.order.type)  # type: ignore[assignment]


def _drop_order(e: trading_pb2.Execution, _: random.Random) -> None:
    e.ClearField("order")


def _set_trade_state(t: orders_pb2.Trade, _: random.Random) -> None:
    t.state = unknown(t.state)  # type: ignore[assignment]


def _trade_price_scale(t: orders_pb2.Trade, rng: random.Random) -> None:
    _order_price_scale(t.aggressor.order, rng)
    _order_price_scale(t.passive.order, rng)


def _trade_quantity_scale(t: orders_pb2.Trade, rng: random.Random) -> None:
    _order_quantity_scale(t.aggressor.order, rng)
    _order_quantity_scale(t.passive.order, rng)


def _set_instrument_state(i: refdata_pb2.Instrument, _: random.Random) -> None:
    i.state = unknown(i.state)  # type: ignore[assignment]


def _instrument_price_scale(i: refdata_pb2.Instrument, rng: random.Random) -> None:
    i.price_scale = _bad_scale(i.price_scale, rng)


def _instrument_quantity_scale(i: refdata_pb2.Instrument, rng: random.Random) -> None:
    i.fractional_qty_scale = _bad_scale(i.fractional_qty_scale, rng)


DEFECTS: dict[Stream, dict[Defect, Callable[[Any, random.Random], None]]] = {
    Stream.EXECUTIONS: {
        Defect.UNKNOWN_SIDE: _set_side,
        Defect.UNKNOWN_EXECUTION_TYPE: _set_exec_type,
        Defect.UNKNOWN_ORDER_TYPE: _set_order_type,
        Defect.MISSING_ORDER: _drop_order,
        Defect.BAD_PRICE_SCALE: lambda e, rng: _order_price_scale(e.order, rng),
        Defect.BAD_QUANTITY_SCALE: lambda e, rng: _order_quantity_scale(e.order, rng),
    },
    Stream.TRADES: {
        Defect.UNKNOWN_TRADE_STATE: _set_trade_state,
        Defect.BAD_PRICE_SCALE: _trade_price_scale,
        Defect.BAD_QUANTITY_SCALE: _trade_quantity_scale,
    },
    Stream.INSTRUMENTS: {
        Defect.UNKNOWN_INSTRUMENT_STATE: _set_instrument_state,
        Defect.BAD_PRICE_SCALE: _instrument_price_scale,
        Defect.BAD_QUANTITY_SCALE: _instrument_quantity_scale,
    },
    # A PositionChange has no enum and no scale: there is nothing of that kind to break.
    Stream.POSITIONS: {},
}
"""Which defects each stream's events can get, and how. Identity fields (execution id, trade
id, symbol, account) are never changed; ``MISSING_ORDER`` takes symbol and account away with
the order, but the execution id stays."""


def corrupt(stream: Stream, event: M, defect: Defect, rng: random.Random) -> M:
    """A copy of ``event`` with ``defect``; the original is left alone (the model may hold it)."""
    broken = type(event)()
    broken.CopyFrom(event)
    DEFECTS[stream][defect](broken, rng)
    return broken


# ----------------------------------------------------------------------------------- the plan


@dataclass(slots=True)
class _Refusal:
    code: grpc.StatusCode
    message: str
    remaining: int | None
    """Opens still to refuse; None for a time-based refusal."""
    until: float | None
    """Monotonic time a time-based refusal ends."""


@dataclass(slots=True)
class _Periodic:
    every_s: float
    next_at: float
    action: Callable[[], object]


def _check_refusal(count: int | None, code: grpc.StatusCode, duration_s: float | None) -> None:
    """ValueError naming what is wrong with a refusal's settings."""
    if code == grpc.StatusCode.OK:
        raise ValueError("a refusal needs an error status, not OK")
    if duration_s is None and (count is None or count < 1):
        raise ValueError(f"count must be >= 1, got {count}")
    _positive(duration_s, "duration_s")


def _next_refusal(queue: list[_Refusal], now: float) -> _Refusal | None:
    """The refusal that applies to one call at ``now``, used up by one; None if none is armed.
    Expired time-based refusals are dropped on the way. Caller holds the plan's lock."""
    while queue:
        refusal = queue[0]
        if refusal.until is not None and now >= refusal.until:
            queue.pop(0)
            continue
        if refusal.remaining is not None:
            refusal.remaining -= 1
            if refusal.remaining <= 0:
                queue.pop(0)
        return refusal
    return None


def _probability(value: float, name: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value}")
    return value


def _positive(value: float | None, name: str) -> float | None:
    if value is not None and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


class FaultPlan:
    """Every fault knob of one simulator, safe to change from any thread at any time."""

    def __init__(
        self,
        seed: int = 0,
        *,
        resume_token_ttl_s: float | None = None,
        replay_window_s: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        """``resume_token_ttl_s`` and ``replay_window_s`` (every stream) are the starting replay
        limits, None = unlimited. ``monotonic`` and ``wall_ns`` are the clocks (tests fake them)."""
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._corrupt_rng = random.Random(f"{seed}/malformed")
        self._monotonic = monotonic
        self._wall_ns = wall_ns
        self._counts: Counter[FaultKind] = Counter()
        self._defect_counts: Counter[Defect] = Counter()
        self._refused_codes: Counter[grpc.StatusCode] = Counter()
        self._revoker: Callable[[], None] | None = None
        self._ttl_s = _positive(resume_token_ttl_s, "resume_token_ttl_s")
        self._windows: dict[Stream | None, float | None] = {
            None: _positive(replay_window_s, "replay_window_s")}
        self._cutoff_ns: int | None = None
        self._drop_epoch = 0
        self._stall_epoch = 0
        # drop_events: positions decided so far per stream (all below the mark), those dropped
        self._decided_below: dict[Stream, int] = {}
        self._dropped: dict[Stream, dict[int, Any]] = {}
        self._reset_faults()

    def _reset_faults(self) -> None:
        # Caller holds the lock (or is __init__).
        self._abort_p = 0.0
        self._abort_gap_s = 0.0
        self._last_abort = float("-inf")
        self._refusals: list[_Refusal] = []
        self._list_refusals: list[_Refusal] = []
        self._periodic: dict[FaultKind, _Periodic] = {}
        self._overlap_events = 0
        self._overlap_p = 0.0
        self._stall_p = 0.0
        self._stall_s = 5.0
        self._stall_until = 0.0
        self._drop: tuple[grpc.StatusCode, str] | None = None
        self._malformed_p: dict[Stream, float] = {}
        self._allowed_defects: frozenset[Defect] | None = None
        self._drops_left = 0
        self._drop_p = 0.0
        self._drop_streams: frozenset[Stream] = frozenset()

    # ------------------------------------------------------------------------- counting

    def counts(self) -> dict[FaultKind, int]:
        """How often each fault was injected so far (kinds never injected are absent)."""
        with self._lock:
            return dict(self._counts)

    def count(self, kind: FaultKind) -> int:
        with self._lock:
            return self._counts[kind]

    def defect_counts(self) -> dict[Defect, int]:
        """Malformed events produced so far, by defect."""
        with self._lock:
            return dict(self._defect_counts)

    def refused_codes(self) -> dict[grpc.StatusCode, int]:
        """Stream opens refused so far, by status code."""
        with self._lock:
            return dict(self._refused_codes)

    def reset_counts(self) -> None:
        """Forget what was counted so far (a test sharing a simulator starts from zero)."""
        with self._lock:
            self._counts.clear()
            self._defect_counts.clear()
            self._refused_codes.clear()

    def record(self, kind: FaultKind, n: int = 1) -> None:
        """Count ``n`` injections of ``kind``; for the injection sites that decide by themselves
        whether a fault took effect (an overlap at the start of the log rewinds nothing)."""
        with self._lock:
            self._counts[kind] += n

    # --------------------------------------------------------------------- switching on/off

    def disable_all(self) -> None:
        """Stop injecting every fault; counts, TTL and replay windows stay, the cutoff goes."""
        with self._lock:
            self._reset_faults()
            self._cutoff_ns = None

    def enable_all(
        self,
        *,
        period_s: float = 30.0,
        stall_s: float = 5.0,
        kinds: Collection[FaultKind] = ENABLEABLE,
        refuse_code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE,
    ) -> None:
        """Switch on ``kinds`` (every fault by default) at rates for a combined run.

        Periodic faults, staggered so they do not coincide: a burst of 3 refused opens
        (``refuse_code``) armed every 0.7 period unless one is still pending; once a period
        access tokens revoked, and resume tokens expired together with a drop of every open
        stream (so the expiry is met, not just set); a ``stall_s`` stall of every open stream
        every half period. Per response: while more is pending, abort 25 % of the time but at
        most once a period (so a client that backs off for up to 30 s still catches up and
        aborts cannot feed on the backlog they cause), stall 0.1 %. Every resume overlaps 5
        events half the time. Malformed events: 1 % of executions, 2 % of trades, 25 % of
        instrument changes (they are rare). With the default 30 s period and the simulator's
        default 50 executions/s, two minutes show every fault several times, and since
        refusals are bounded bursts, a client that backs off still gets its data through.
        """
        if period_s <= 0:
            raise ValueError(f"period_s must be > 0, got {period_s}")
        unknown = set(kinds) - set(ENABLEABLE)
        if unknown:
            raise ValueError(f"not faults that can be enabled: {sorted(unknown)}")
        on = set(kinds)
        if FaultKind.ABORT_MID_BATCH in on:
            self.abort_mid_batch(0.25, min_interval_s=period_s)
        if FaultKind.REFUSE_OPEN in on:
            self.refuse_opens(3, refuse_code, every_s=0.7 * period_s,
                              first_after_s=0.15 * period_s)
        if FaultKind.REVOKE_ACCESS_TOKENS in on:
            self.revoke_access_tokens(every_s=period_s, first_after_s=0.35 * period_s)
        if FaultKind.OVERLAP_ON_RESUME in on:
            self.overlap_on_resume(5, probability=0.5)
        if FaultKind.EXPIRE_RESUME_TOKENS in on:
            self.expire_resume_tokens(every_s=period_s, first_after_s=0.6 * period_s,
                                      drop_streams=True)
        if FaultKind.STALL in on:
            self.stall(0.001, stall_s, every_s=0.5 * period_s, first_after_s=0.3 * period_s)
        if FaultKind.MALFORMED_EVENT in on:
            self.malformed(0.01, per_stream={Stream.TRADES: 0.02, Stream.INSTRUMENTS: 0.25})

    def _schedule(self, kind: FaultKind, every_s: float | None, first_after_s: float | None,
                  action: Callable[[], object]) -> None:
        # Caller holds the lock.
        if every_s is None:
            self._periodic.pop(kind, None)
            return
        _positive(every_s, "every_s")
        first = every_s if first_after_s is None else first_after_s
        self._periodic[kind] = _Periodic(every_s, self._monotonic() + first, action)

    def tick(self) -> list[FaultKind]:
        """Run the periodic faults that are due (the server calls this a few times a second);
        returns which ran."""
        now = self._monotonic()
        due: list[tuple[FaultKind, Callable[[], object]]] = []
        with self._lock:
            for kind, periodic in self._periodic.items():
                if now >= periodic.next_at:
                    periodic.next_at = now + periodic.every_s
                    due.append((kind, periodic.action))
        for _, action in due:
            action()
        return [kind for kind, _ in due]

    # ---------------------------------------------------------------- a. abort mid-batch

    def abort_mid_batch(self, probability: float, *, min_interval_s: float | None = None) -> None:
        """After each response sent while more of the log is unread, end the stream with
        UNAVAILABLE ``fault injected: stream aborted mid-batch`` with this probability, but
        (with ``min_interval_s``) at most once in that many seconds across all streams."""
        _positive(min_interval_s, "min_interval_s")
        with self._lock:
            self._abort_p = _probability(probability, "probability")
            self._abort_gap_s = min_interval_s or 0.0

    def abort_after_response(self, pending: bool) -> bool:
        """Whether to abort the stream now (counted when True)."""
        now = self._monotonic()
        with self._lock:
            if not pending or self._abort_p <= 0 or now - self._last_abort < self._abort_gap_s:
                return False
            if self._rng.random() >= self._abort_p:
                return False
            self._last_abort = now
            self._counts[FaultKind.ABORT_MID_BATCH] += 1
        logger.info("fault injected: stream aborted mid-batch")
        return True

    # -------------------------------------------------------------------- b. refused opens

    def refuse_opens(
        self,
        count: int | None = 1,
        code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE,
        message: str = REFUSE_MESSAGE,
        *,
        duration_s: float | None = None,
        every_s: float | None = None,
        first_after_s: float | None = None,
    ) -> None:
        """Refuse the next ``count`` stream opens (or, with ``duration_s``, every open for that
        long) with ``code`` and ``message``. Refusals queue up behind earlier ones. With
        ``every_s`` the same refusal is armed periodically instead (first after
        ``first_after_s``, default ``every_s``), but only when no refusal is pending, so that
        refusals never pile up while nobody opens a stream."""
        _check_refusal(count, code, duration_s)

        def arm(periodic: bool) -> None:
            until = None if duration_s is None else self._monotonic() + duration_s
            remaining = None if duration_s is not None else count
            with self._lock:
                if not (periodic and self._refusals):
                    self._refusals.append(_Refusal(code, message, remaining, until))

        if every_s is None:
            arm(periodic=False)
            return
        with self._lock:
            self._schedule(FaultKind.REFUSE_OPEN, every_s, first_after_s,
                           lambda: arm(periodic=True))

    def clear_refusals(self) -> None:
        with self._lock:
            self._refusals.clear()
            self._periodic.pop(FaultKind.REFUSE_OPEN, None)

    def open_refusal(self) -> tuple[grpc.StatusCode, str] | None:
        """The status to refuse this stream open with, if any (counted when given)."""
        now = self._monotonic()
        with self._lock:
            refusal = _next_refusal(self._refusals, now)
            if refusal is None:
                return None
            self._counts[FaultKind.REFUSE_OPEN] += 1
            self._refused_codes[refusal.code] += 1
        logger.info("fault injected: stream open refused with %s", refusal.code.name)
        return refusal.code, refusal.message

    # ------------------------------------------------- b'. refused ListInstruments calls

    def refuse_list_instruments(
        self,
        count: int | None = 1,
        code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE,
        message: str = LIST_REFUSE_MESSAGE,
        *,
        duration_s: float | None = None,
    ) -> None:
        """Refuse the next ``count`` ListInstruments calls (or, with ``duration_s``, every call
        for that long) with ``code`` and ``message``; refusals queue up behind earlier ones."""
        _check_refusal(count, code, duration_s)
        until = None if duration_s is None else self._monotonic() + duration_s
        with self._lock:
            self._list_refusals.append(
                _Refusal(code, message, None if duration_s is not None else count, until))

    def list_instruments_refusal(self) -> tuple[grpc.StatusCode, str] | None:
        """The status to refuse this ListInstruments call with, if any (counted when given)."""
        now = self._monotonic()
        with self._lock:
            refusal = _next_refusal(self._list_refusals, now)
            if refusal is None:
                return None
            self._counts[FaultKind.REFUSE_LIST_INSTRUMENTS] += 1
        logger.info("fault injected: ListInstruments refused with %s", refusal.code.name)
        return refusal.code, refusal.message

    # -------------------------------------------------------------- c. access-token expiry

    def attach_access_token_revoker(self, revoke: Callable[[], None] | None) -> None:
        """The server hands in how to revoke every access token (None: it has no auth)."""
        with self._lock:
            self._revoker = revoke

    def revoke_access_tokens(self, *, every_s: float | None,
                             first_after_s: float | None = None) -> None:
        """Revoke every access token periodically (None: stop)."""
        with self._lock:
            self._schedule(FaultKind.REVOKE_ACCESS_TOKENS, every_s, first_after_s,
                           self.revoke_access_tokens_now)

    def revoke_access_tokens_now(self) -> bool:
        """Revoke every access token now. False, counted as REVOKE_SKIPPED and logged, if the
        simulator has no auth configured: then this fault does nothing."""
        with self._lock:
            revoke = self._revoker
        if revoke is None:
            self.record(FaultKind.REVOKE_SKIPPED)
            logger.warning("fault not injected: access-token expiry needs simulator auth, "
                           "and this simulator has none")
            return False
        revoke()
        self.record(FaultKind.REVOKE_ACCESS_TOKENS)
        logger.info("fault injected: every access token revoked")
        return True

    # -------------------------------------------------------------- d. overlap on resume

    def overlap_on_resume(self, events: int, probability: float = 1.0) -> None:
        """A resumed stream (token or resume_time) starts ``events`` selected events before the
        position it asked for, with this probability; 0 events switches it off."""
        if events < 0:
            raise ValueError(f"events must be >= 0, got {events}")
        with self._lock:
            self._overlap_events = events
            self._overlap_p = _probability(probability, "probability")

    def overlap_for_resume(self) -> int:
        """How many events to go back for this resume (0: none). Not counted: the servicer
        records OVERLAP_ON_RESUME only if it could go back at all."""
        with self._lock:
            if self._overlap_events <= 0 or self._rng.random() >= self._overlap_p:
                return 0
            return self._overlap_events

    # -------------------------------------------- e. resume-token expiry, replay window

    def set_resume_token_ttl(self, seconds: float | None) -> None:
        """Tokens issued longer ago than this are refused (None: never)."""
        with self._lock:
            self._ttl_s = _positive(seconds, "seconds")

    def set_replay_window(self, seconds: float | None, stream: Stream | None = None) -> None:
        """``resume_time`` earlier than now minus this is refused with OUT_OF_RANGE, on
        ``stream`` or (None) on every stream without a window of its own. None: unlimited."""
        with self._lock:
            self._windows[stream] = _positive(seconds, "seconds")

    def expire_resume_tokens(self, *, every_s: float | None,
                             first_after_s: float | None = None,
                             drop_streams: bool = False) -> None:
        """Expire every token issued so far, periodically (None: stop); with
        ``drop_streams``, also drop every open stream at that moment."""

        def expire() -> None:
            self.expire_resume_tokens_now()
            if drop_streams:
                self.drop_streams_now()

        with self._lock:
            self._schedule(FaultKind.EXPIRE_RESUME_TOKENS, every_s, first_after_s, expire)

    def expire_resume_tokens_now(self) -> int:
        """Refuse every token issued before now on its next use; returns the cutoff (ns)."""
        cutoff = self._wall_ns()
        with self._lock:
            self._cutoff_ns = cutoff
            self._counts[FaultKind.EXPIRE_RESUME_TOKENS] += 1
        logger.info("fault injected: every resume token issued so far expired")
        return cutoff

    def replay_limits(self, stream: Stream, now_ns: int) -> ReplayLimits:
        """What a subscription opening on ``stream`` at ``now_ns`` may resume from."""
        with self._lock:
            window = self._windows.get(stream, self._windows[None])
            return ReplayLimits(
                token_ttl_ns=None if self._ttl_s is None else int(self._ttl_s * NS_PER_SECOND),
                token_cutoff_ns=self._cutoff_ns,
                earliest_ns=None if window is None else now_ns - int(window * NS_PER_SECOND),
            )

    def drop_streams_now(self, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE,
                         message: str = DROP_MESSAGE) -> None:
        """End every stream open now, each before it sends anything more, with ``code`` and
        ``message``; streams opened later are not affected. Counted per stream dropped."""
        if code == grpc.StatusCode.OK:
            raise ValueError("a drop needs an error status, not OK")
        with self._lock:
            self._drop_epoch += 1
            self._drop = (code, message)
        logger.info("fault injected: every open stream is dropped with %s", code.name)

    def drop_epoch(self) -> int:
        """The current drop generation; a stream remembers it when it opens."""
        with self._lock:
            return self._drop_epoch

    def pending_drop(self, opened_epoch: int) -> tuple[grpc.StatusCode, str] | None:
        """The status to end a stream with that opened in ``opened_epoch``, if it was dropped
        since (counted when given)."""
        with self._lock:
            if self._drop is None or opened_epoch == self._drop_epoch:
                return None
            self._counts[FaultKind.STREAM_DROPPED] += 1
            return self._drop

    # --------------------------------------------------------------------------- f. stall

    def stall(self, probability: float = 0.0, duration_s: float = 5.0, *,
              every_s: float | None = None, first_after_s: float | None = None) -> None:
        """After each response, stall the stream for ``duration_s`` with ``probability``; with
        ``every_s``, also stall every open stream periodically (:meth:`stall_now`)."""
        _positive(duration_s, "duration_s")
        with self._lock:
            self._stall_p = _probability(probability, "probability")
            self._stall_s = duration_s
            self._schedule(FaultKind.STALL, every_s, first_after_s, self.stall_now)

    def stall_now(self, duration_s: float | None = None) -> None:
        """Every open stream sends nothing at all for ``duration_s`` (default: the configured
        stall) from now on. Counted once per stream that was actually held."""
        with self._lock:
            seconds = self._stall_s if duration_s is None else duration_s
            self._stall_until = max(self._stall_until, self._monotonic() + seconds)
            self._stall_epoch += 1
        logger.info("fault injected: every open stream stalls for %g s", seconds)

    def stall_after_response(self) -> float:
        """Seconds this stream must now stay silent (0: none; counted when not 0)."""
        with self._lock:
            if self._stall_p <= 0 or self._rng.random() >= self._stall_p:
                return 0.0
            self._counts[FaultKind.STALL] += 1
            seconds = self._stall_s
        logger.info("fault injected: a stream stalls for %g s", seconds)
        return seconds

    def pending_stall(self, seen_epoch: int) -> tuple[float, int]:
        """Seconds left of the current all-streams stall, and its epoch. A stream passes the
        epoch it last saw; the first time it is held by a new one, that counts as a stall."""
        now = self._monotonic()
        with self._lock:
            remaining = max(0.0, self._stall_until - now)
            if remaining > 0 and seen_epoch != self._stall_epoch:
                self._counts[FaultKind.STALL] += 1
            return remaining, self._stall_epoch

    # --------------------------------------------------------------- g. malformed events

    def malformed(
        self,
        probability: float,
        *,
        per_stream: Mapping[Stream, float] | None = None,
        defects: Collection[Defect] | None = None,
    ) -> None:
        """Corrupt each produced event with ``probability`` (``per_stream`` overrides it for
        some streams), choosing uniformly among the ``defects`` (default all) its stream can
        have. Position changes have none, so they are never corrupted."""
        rates = dict.fromkeys(Stream, _probability(probability, "probability"))
        for stream, rate in (per_stream or {}).items():
            rates[stream] = _probability(rate, f"probability for {stream}")
        with self._lock:
            self._malformed_p = rates
            self._allowed_defects = None if defects is None else frozenset(defects)

    def corrupt_event(self, stream: Stream, event: M) -> M | None:
        """A corrupted copy of a just-produced event, or None to log it as it is. The producer
        calls this for every event before logging it (counted when not None)."""
        with self._lock:
            rate = self._malformed_p.get(stream, 0.0)
            if rate <= 0 or self._corrupt_rng.random() >= rate:
                return None
            choices = [d for d in DEFECTS[stream]
                       if self._allowed_defects is None or d in self._allowed_defects]
            if not choices:
                return None
            defect = self._corrupt_rng.choice(choices)
            broken = corrupt(stream, event, defect, self._corrupt_rng)
            self._counts[FaultKind.MALFORMED_EVENT] += 1
            self._defect_counts[defect] += 1
        logger.debug("fault injected: %s event with %s", stream, defect)
        return broken


    # ------------------------------------------------------------------- h. drop events

    def drop_events(
        self, count: int, *, probability: float = 1.0, streams: Collection[Stream] | None = None
    ) -> None:
        """Drop up to ``count`` events not yet decided on ``streams`` (default every stream),
        each with ``probability``; 0 switches it off. Events dropped earlier stay dropped."""
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        with self._lock:
            self._drops_left = count
            self._drop_p = _probability(probability, "probability")
            self._drop_streams = frozenset(Stream if streams is None else streams)

    def hides(self, stream: Stream, position: int, event: Any) -> bool:
        """Whether the stream must skip the event at ``position`` of ``stream``'s log. Decided
        (and counted) the first time any stream asks about that position, then remembered."""
        with self._lock:
            dropped = self._dropped.setdefault(stream, {})
            if position in dropped:
                return True
            below = self._decided_below.get(stream, 0)
            if position < below:
                return False
            self._decided_below[stream] = position + 1
            if (stream not in self._drop_streams or self._drops_left <= 0
                    or self._rng.random() >= self._drop_p):
                return False
            self._drops_left -= 1
            dropped[position] = event
            self._counts[FaultKind.DROP_EVENTS] += 1
        logger.info("fault injected: %s event at log position %d dropped", stream, position)
        return True

    def dropped_events(self, stream: Stream) -> list[Any]:
        """The events of ``stream`` dropped so far, in log order (the fault's record)."""
        with self._lock:
            dropped = self._dropped.get(stream, {})
            return [dropped[position] for position in sorted(dropped)]


# ------------------------------------------------------------------------------ CLI helpers


def _fault_list(text: str) -> tuple[FaultKind, ...]:
    if text.strip() == "all":
        return ENABLEABLE
    names = [n.strip().replace("-", "_") for n in text.split(",") if n.strip()]
    known = {k.value: k for k in ENABLEABLE}
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown faults {unknown}; choose 'all' or some of {', '.join(known)}")
    return tuple(known[n] for n in names)


def _status(text: str) -> grpc.StatusCode:
    try:
        code: grpc.StatusCode = grpc.StatusCode[text.strip().upper()]
    except KeyError:
        raise argparse.ArgumentTypeError(f"not a gRPC status code: {text!r}") from None
    if code == grpc.StatusCode.OK:
        raise argparse.ArgumentTypeError("a refusal needs an error status, not OK")
    return code


def _number(kind: type[float] | type[int], low: float, high: float | None = None
            ) -> Callable[[str], Any]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < low or (high is not None and value > high):
            span = f">= {low}" if high is None else f"between {low} and {high}"
            raise argparse.ArgumentTypeError(f"must be {span}, got {text}")
        return value
    return parse


def add_fault_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``simulate`` options for faults, replay limits and the ReportAPI rate limit."""
    group = parser.add_argument_group("faults and limits")
    group.add_argument(
        "--faults", type=_fault_list, default=(), metavar="all|LIST",
        help="inject these faults at combined-run rates (FaultPlan.enable_all): 'all' or a "
             f"comma list of {', '.join(k.value for k in ENABLEABLE)}",
    )
    group.add_argument(
        "--fault-seed", type=int, default=None, metavar="N",
        help="seed of the fault decisions (default: --seed)",
    )
    group.add_argument(
        "--fault-period", type=_number(float, 0.1), default=30.0, metavar="SECONDS",
        help="period of the periodic faults of --faults (default 30)",
    )
    group.add_argument(
        "--stall-seconds", type=_number(float, 0.01), default=5.0, metavar="SECONDS",
        help="how long a stall keeps a stream silent (default 5)",
    )
    group.add_argument(
        "--refuse-code", type=_status, default=grpc.StatusCode.UNAVAILABLE, metavar="CODE",
        help="status of refused stream opens, e.g. RESOURCE_EXHAUSTED (default UNAVAILABLE)",
    )
    group.add_argument(
        "--abort-probability", type=_number(float, 0, 1), default=None, metavar="P",
        help="abort a stream mid-batch with this probability per response (enables it)",
    )
    group.add_argument(
        "--overlap-events", type=_number(int, 0), default=None, metavar="K",
        help="every resumed stream starts K events early (enables it)",
    )
    group.add_argument(
        "--malformed-probability", type=_number(float, 0, 1), default=None, metavar="P",
        help="corrupt this share of produced events (enables it)",
    )
    group.add_argument(
        "--resume-token-ttl", type=_number(float, 0.001), default=None, metavar="SECONDS",
        help="refuse resume tokens older than this with FAILED_PRECONDITION (default: never)",
    )
    group.add_argument(
        "--replay-window", type=_number(float, 0.001), default=None, metavar="SECONDS",
        help="refuse a resume_time older than this with OUT_OF_RANGE (default: unlimited)",
    )
    group.add_argument(
        "--report-rate-limit", type=_number(int, 1), default=None, metavar="N",
        help="ReportAPI requests per minute per method, then RESOURCE_EXHAUSTED (default off; "
             "the exchange allows 12)",
    )


def plan_from_args(args: argparse.Namespace) -> FaultPlan:
    """The fault plan the ``simulate`` options describe; the per-fault options win over
    ``--faults`` and each switches its fault on by itself."""
    plan = FaultPlan(
        args.seed if args.fault_seed is None else args.fault_seed,
        resume_token_ttl_s=args.resume_token_ttl,
        replay_window_s=args.replay_window,
    )
    if args.faults:
        plan.enable_all(period_s=args.fault_period, stall_s=args.stall_seconds,
                        kinds=args.faults, refuse_code=args.refuse_code)
    if args.abort_probability is not None:
        plan.abort_mid_batch(args.abort_probability)
    if args.overlap_events is not None:
        plan.overlap_on_resume(args.overlap_events)
    if args.malformed_probability is not None:
        plan.malformed(args.malformed_probability)
    return plan


def describe(plan_args: argparse.Namespace) -> str:
    """One log line's worth of what the options switched on."""
    parts = [f"faults {','.join(plan_args.faults) or 'none'}"]
    for name in ("abort_probability", "overlap_events", "malformed_probability",
                 "resume_token_ttl", "replay_window", "report_rate_limit"):
        value = getattr(plan_args, name)
        if value is not None:
            parts.append(f"{name.replace('_', '-')} {value:g}")
    return ", ".join(parts)
