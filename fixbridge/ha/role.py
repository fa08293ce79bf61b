"""Active or standby: the decisions of one bridge about the lease that makes one bridge active.

Two bridges share a journal in PostgreSQL; exactly one may subscribe upstream, accept Logons
and write. Which one is decided by a lease row in the database (``ha/lease.py``): taken or
renewed for ``ttl_s`` by the database's own clock, with a fencing epoch that goes up each time
the lease changes hands. This module is the pure half: attempts' outcomes and the time in,
:class:`BecomeActive` / :class:`StepDown` out.

Rules:
- A bridge is active from the answer that granted it the lease until it steps down; it
  renews every ``renew_every_s``, measured from when each attempt was sent.
- An active bridge counts its lease from when it *sent* the attempt that renewed it, never
  from the answer: the database granted ``ttl_s`` from a moment after that, so by
  ``sent + ttl_s - margin_s`` on our clock the lease may be gone only if our clock runs slow by
  more than the margin. At that time, with no renewal confirmed since, it steps down without
  waiting for an answer (the database may be unreachable; the other bridge may take over at
  ``ttl_s``). The writes are fenced in the database as well (``ha/lease.py``): stepping down
  in time keeps a bridge from serving clients after it lost the lease, the fence keeps it
  from writing.
- An answer that another bridge holds the lease makes an active bridge step down at once.
- An answer granting a different epoch than the one held means the lease lapsed and was
  taken again: the old term ends (step down) before the new one begins.
- A standby tries to take the lease every ``renew_every_s``; the database grants it only once
  the holder's lease has expired (or was released).

Pure: no I/O, no clock (times are monotonic seconds passed in), no asyncio.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.Enum):
    STANDBY = "standby"
    ACTIVE = "active"


@dataclass(frozen=True, slots=True)
class BecomeActive:
    """The lease is ours under ``epoch``: load the state, subscribe, accept Logons."""

    epoch: int


@dataclass(frozen=True, slots=True)
class StepDown:
    """The lease is no longer surely ours: stop writing, log every session out, unsubscribe."""

    reason: str


Action = BecomeActive | StepDown


@dataclass(frozen=True, slots=True)
class LeaseTiming:
    ttl_s: float  # how long the database grants the lease at each renewal
    renew_every_s: float  # how often the holder renews and a standby tries
    margin_s: float  # how long before its lease ends, by our clock, an active one steps down

    def __post_init__(self) -> None:
        if not (self.renew_every_s > 0 and self.margin_s >= 0):
            raise ValueError("lease timing: renew_every_s must be > 0 and margin_s >= 0")
        if self.ttl_s < 2 * self.renew_every_s + self.margin_s:
            raise ValueError(
                f"lease timing: ttl_s ({self.ttl_s:g}) must be at least twice renew_every_s"
                f" ({self.renew_every_s:g}) plus margin_s ({self.margin_s:g}), so one late"
                " renewal does not cost the lease"
            )


class Elector:
    """One bridge's view of the lease (rules: module doc)."""

    def __init__(self, timing: LeaseTiming, now: float) -> None:
        self.timing = timing
        self.role = Role.STANDBY
        self.epoch: int | None = None
        self._in_flight_since: float | None = None
        self._next_attempt = now
        self._confirmed_until: float | None = None  # while active

    @property
    def steps_down_at(self) -> float | None:
        """While active: when it steps down unless a renewal is confirmed before then."""
        return self._confirmed_until

    @property
    def attempt_in_flight(self) -> bool:
        return self._in_flight_since is not None

    def attempt_due(self, now: float) -> bool:
        """Whether an attempt should be sent now."""
        return self._in_flight_since is None and now >= self._next_attempt

    def sent(self, now: float) -> None:
        """An attempt to take or renew the lease was sent at ``now``."""
        self._in_flight_since = now

    def granted(self, epoch: int, now: float) -> list[Action]:
        """The attempt in flight was answered: the lease is ours under ``epoch``. With no
        attempt in flight (one given up or released since) the answer counts for nothing; one
        that comes after the lease it granted may have ended, by our clock, is treated as no
        answer."""
        if self._in_flight_since is None:
            return []
        sent_at = self._take_attempt(now)
        if now >= sent_at + self.timing.ttl_s - self.timing.margin_s:
            self._next_attempt = now
            return self._step_down("the lease's answer came too late")
        actions: list[Action] = []
        if self.role is Role.ACTIVE and epoch != self.epoch:
            actions.append(StepDown(f"the lease lapsed (epoch {self.epoch}, now {epoch})"))
            self.role = Role.STANDBY
        if self.role is Role.STANDBY:
            actions.append(BecomeActive(epoch))
        self.role, self.epoch = Role.ACTIVE, epoch
        self._confirmed_until = sent_at + self.timing.ttl_s - self.timing.margin_s
        self._next_attempt = sent_at + self.timing.renew_every_s
        return actions

    def refused(self, holder: str, now: float) -> list[Action]:
        """The attempt in flight was answered: ``holder`` holds the lease."""
        self._take_attempt(now)
        self._next_attempt = now + self.timing.renew_every_s
        return self._step_down(f"the lease is held by {holder}")

    def failed(self, now: float) -> list[Action]:
        """The attempt in flight got no answer (an error, a timeout): try again soon; an
        active bridge steps down once its lease may have ended."""
        self._take_attempt(now)
        self._next_attempt = now + self.timing.renew_every_s
        return self.tick(now)

    def stopped(self, reason: str) -> list[Action]:
        """The keeper stops (its task ends): whatever the lease, this bridge is no longer
        active."""
        self._in_flight_since = None
        return self._step_down(reason)

    def released(self, now: float) -> list[Action]:
        """We give the lease up (a clean stop): step down now, and try for it again no sooner
        than ``ttl_s`` from now (another bridge should have it by then)."""
        self._in_flight_since = None
        self._next_attempt = now + self.timing.ttl_s
        return self._step_down("the lease was released")

    def tick(self, now: float) -> list[Action]:
        """Time passes: an active bridge whose lease may have ended steps down."""
        if self._confirmed_until is not None and now >= self._confirmed_until:
            return self._step_down("the lease was not renewed in time")
        return []

    def next_wake(self) -> float:
        """When :meth:`tick` or an attempt is next due (monotonic seconds)."""
        wake = self._next_attempt
        if self._confirmed_until is not None:
            wake = min(wake, self._confirmed_until)
        return wake

    def _take_attempt(self, now: float) -> float:
        sent_at = self._in_flight_since
        self._in_flight_since = None
        return now if sent_at is None else sent_at

    def _step_down(self, reason: str) -> list[Action]:
        if self.role is not Role.ACTIVE:
            return []
        self.role, self._confirmed_until = Role.STANDBY, None
        return [StepDown(reason)]
