"""Logon throttling: whether a Logon may be looked at now, from the failed logons seen so far.

A guess at a session's CompIDs or password costs the guesser one connection and the bridge one
scrypt check (tens of milliseconds of CPU). Here failed logons slow down, then stop, whoever
makes them. Pure: the caller passes in who is logging on, what became of each attempt and the
time (integer nanoseconds); out come decisions. It never reads a clock, sleeps, touches a
socket, logs or sees a password; ``fix/acceptor.py`` asks before the password check and
carries the answer out.

Keys. Every attempt has a source key (the client's address; an IPv6 address counts by its /64,
the block one host is usually given) and, when its CompIDs name a configured session, a
session key. Each kind has its own limits (``[fix.source_throttle]``, ``[fix.session_throttle]``).

Rules:

1. A failure is a Logon refused for what its sender claims: CompIDs naming no configured
   session (source key only: there is no session), or a wrong Username(553)/Password(554)
   (both keys), whether the session is free or logged on. A refusal that guessing cannot
   change is not a failure: an address outside ``allowed_ips``, a refused client certificate,
   outside the schedule window, another Logon for the session being bound, the session
   already logged on (right credentials), a Logon whose other fields are wrong; nor is an
   attempt refused here (nothing was checked).
2. Back-off: the n-th failure within the window refuses the key's attempts for
   ``backoff_initial_s * 2^(n-1)`` seconds, at most ``backoff_max_s``.
3. Lockout: the ``lockout_failures``-th failure within ``failure_window_s`` refuses every
   attempt of the key for ``lockout_s``; its count then starts afresh. The window opens at
   the first failure it counts and closes ``failure_window_s`` later.
4. One password check at a time per key: while a key's check runs, its other attempts are
   refused (busy). Otherwise a burst of simultaneous connections would all reach scrypt
   before the first of them had failed. And at most ``max_pending_checks`` checks queued or
   running at once, whoever asks (``fix.max_pending_password_checks``): past that, attempts
   are refused busy with the scope ``bridge``, so a flood from more addresses than rule 3
   can see cannot queue connections behind the credential threads without bound.
5. A Logon that succeeds clears both its keys.
6. Memory is bounded: session keys by the configuration, source keys by ``max_sources``.
   Past that, the source least recently failed is forgotten first (one whose record has run
   out is dropped whenever met). A flood of more distinct addresses than ``max_sources`` can
   therefore make the bridge forget a lockout early: memory comes first.

The session key is a trade-off. It stops a guesser who spreads attempts over many addresses,
but a session in back-off or locked out refuses its real client too, so anyone who knows a
session's CompIDs can deny it service by failing on purpose. Its default limits are therefore
looser than a source's (a shorter back-off, more failures before a shorter lockout), and
``[fix.session_throttle] enabled = false`` turns it off. Clients sharing an address (a NAT)
share its source key: one of them failing again and again holds the others back too. Behind
a proxy or load balancer that hides client addresses every client shares one source key:
turn the source key off there (``[fix.source_throttle] enabled = false``).
"""

from __future__ import annotations

import enum
import ipaddress
from collections import OrderedDict
from dataclasses import dataclass

from fixbridge.config import LogonThrottleConfig

NS_PER_S = 1_000_000_000
IPV6_SOURCE_PREFIX = 64


class Scope(enum.StrEnum):
    SOURCE = "source"
    SESSION = "session"
    BRIDGE = "bridge"  # every password check at once (rule 4's cap); never locked out


class Reason(enum.StrEnum):
    BACKOFF = "backoff"  # a recent failure: wait for the back-off
    LOCKOUT = "lockout"  # too many failures in the window
    BUSY = "busy"  # another password check for this key is running (or too many in all)


@dataclass(frozen=True, slots=True)
class Attempt:
    """Who is logging on: the source key and the configured session named (None: none)."""

    source: str
    session: str | None


@dataclass(frozen=True, slots=True)
class Throttled:
    """Refuse the attempt without looking at it: ``key`` of ``scope`` is held back."""

    reason: Reason
    scope: Scope
    key: str
    until_ns: int  # when the key may try again (0 for BUSY: when the running check ends)


@dataclass(frozen=True, slots=True)
class Lockout:
    """A failure that locked a key out (worth one log line)."""

    scope: Scope
    key: str
    failures: int
    window_s: float
    lockout_s: float


def source_key(address: str) -> str:
    """The key a client address counts under: an IPv4 address itself (also when written as
    IPv4-mapped IPv6), an IPv6 address by its /64, anything unparsable as given."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_SOURCE_PREFIX), strict=False))
    return str(ip)


@dataclass(slots=True)
class _Record:
    """One key's failures: four integers, so a full table of sources stays small."""

    window_start_ns: int
    failures: int = 0
    retry_at_ns: int = 0  # back-off: attempts before this are refused
    locked_until_ns: int = 0  # lockout: attempts before this are refused


class _Ledger:
    """The records of one kind of key (rules 2, 3 and 6)."""

    def __init__(self, scope: Scope, limits: LogonThrottleConfig, max_keys: int | None) -> None:
        self.scope = scope
        self.enabled = limits.enabled
        self._backoff_ns = _ns(limits.backoff_initial_s)
        self._backoff_max_ns = _ns(limits.backoff_max_s)
        self._threshold = limits.lockout_failures
        self._window_ns = _ns(limits.failure_window_s)
        self._lockout_ns = _ns(limits.lockout_s)
        self._window_s, self._lockout_s = limits.failure_window_s, limits.lockout_s
        self._max_keys = max_keys
        # Least recently failed first: the eviction order of rule 6.
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._locked: dict[str, int] = {}  # key -> locked until (a subset of the records)

    def __len__(self) -> int:
        return len(self._records)

    def refusal(self, key: str, now_ns: int) -> Throttled | None:
        record = self._records.get(key)
        if record is None or not self.enabled:
            return None
        if now_ns < record.locked_until_ns:
            return Throttled(Reason.LOCKOUT, self.scope, key, record.locked_until_ns)
        if now_ns < record.retry_at_ns:
            return Throttled(Reason.BACKOFF, self.scope, key, record.retry_at_ns)
        if self._spent(record, now_ns):
            self._forget(key)
        return None

    def fail(self, key: str, now_ns: int) -> Lockout | None:
        if not self.enabled:
            return None
        record = self._records.pop(key, None)
        if record is None:
            record = _Record(window_start_ns=now_ns)
        elif record.failures == 0 or now_ns - record.window_start_ns >= self._window_ns:
            record.window_start_ns, record.failures = now_ns, 0  # a new window opens
        self._records[key] = record  # now the most recently failed
        record.failures += 1
        delay = min(self._backoff_ns << min(record.failures - 1, 62), self._backoff_max_ns)
        record.retry_at_ns = max(record.retry_at_ns, now_ns + delay)
        lockout = None
        if record.failures >= self._threshold:
            record.locked_until_ns = now_ns + self._lockout_ns
            self._locked[key] = record.locked_until_ns
            lockout = Lockout(self.scope, key, record.failures, self._window_s, self._lockout_s)
            record.failures = 0  # the count starts afresh (rule 3)
        self._bound(now_ns)
        return lockout

    def clear(self, key: str) -> None:
        self._forget(key)

    def locked_out(self, now_ns: int) -> int:
        """Keys locked out at ``now_ns`` (ended lockouts are dropped from the count)."""
        for key in [k for k, until in self._locked.items() if until <= now_ns]:
            del self._locked[key]
        return len(self._locked)

    def _spent(self, record: _Record, now_ns: int) -> bool:
        """Nothing of the record matters any more: no back-off, no lockout, and no failure
        left in an open window."""
        return (
            now_ns >= record.retry_at_ns
            and now_ns >= record.locked_until_ns
            and (record.failures == 0 or now_ns - record.window_start_ns >= self._window_ns)
        )

    def _forget(self, key: str) -> None:
        self._records.pop(key, None)
        self._locked.pop(key, None)

    def _bound(self, now_ns: int) -> None:
        """Rule 6: drop spent records from the old end, then the oldest beyond the cap."""
        records = self._records
        while records:
            key, oldest = next(iter(records.items()))
            if not self._spent(oldest, now_ns):
                break
            self._forget(key)
        if self._max_keys is not None:
            while len(records) > self._max_keys:
                self._forget(next(iter(records)))


class LogonThrottle:
    """The failed logons of every source and session, and what they hold back (module doc)."""

    def __init__(
        self,
        source: LogonThrottleConfig,
        session: LogonThrottleConfig,
        *,
        max_sources: int,
        max_pending_checks: int,
    ) -> None:
        self._sources = _Ledger(Scope.SOURCE, source, max_sources)
        self._sessions = _Ledger(Scope.SESSION, session, None)  # bounded by the configuration
        self._checking: set[tuple[Scope, str]] = set()  # keys whose password check runs
        self._max_pending = max_pending_checks
        self._pending = 0  # checks claimed and not yet given back

    def _keys(self, attempt: Attempt) -> list[tuple[_Ledger, str]]:
        keys = [(self._sources, attempt.source)]
        if attempt.session is not None:
            keys.append((self._sessions, attempt.session))
        return keys

    def check(self, attempt: Attempt, now_ns: int) -> Throttled | None:
        """Whether the attempt is held back (rules 2 and 3): a lockout before a back-off, the
        source before the session. None: look at it."""
        refusals = [r for ledger, key in self._keys(attempt) if (r := ledger.refusal(key, now_ns))]
        for reason in (Reason.LOCKOUT, Reason.BACKOFF):
            for refusal in refusals:
                if refusal.reason is reason:
                    return refusal
        return None

    def begin_password_check(self, attempt: Attempt) -> Throttled | None:
        """Rule 4: claim the attempt's keys for a password check, or say which is busy. A
        claim must be given back with :meth:`end_password_check`."""
        for ledger, key in self._keys(attempt):
            if ledger.enabled and (ledger.scope, key) in self._checking:
                return Throttled(Reason.BUSY, ledger.scope, key, 0)
        if self._pending >= self._max_pending:
            return Throttled(Reason.BUSY, Scope.BRIDGE, "all", 0)
        for ledger, key in self._keys(attempt):
            if ledger.enabled:
                self._checking.add((ledger.scope, key))
        self._pending += 1
        return None

    def end_password_check(self, attempt: Attempt) -> None:
        for ledger, key in self._keys(attempt):
            self._checking.discard((ledger.scope, key))
        self._pending -= 1

    @property
    def pending_checks(self) -> int:
        """Password checks claimed and not yet given back."""
        return self._pending

    def failed(self, attempt: Attempt, now_ns: int) -> list[Lockout]:
        """Count a failure (rule 1 says which refusals are) against the attempt's keys; the
        lockouts it started, if any."""
        return [
            lockout
            for ledger, key in self._keys(attempt)
            if (lockout := ledger.fail(key, now_ns)) is not None
        ]

    def succeeded(self, attempt: Attempt) -> None:
        """Rule 5: a Logon was accepted; its keys start clean."""
        for ledger, key in self._keys(attempt):
            ledger.clear(key)

    def locked_out(self, now_ns: int) -> dict[Scope, int]:
        """How many keys of each scope are locked out at ``now_ns``."""
        return {ledger.scope: ledger.locked_out(now_ns) for ledger in self._ledgers}

    def tracked(self) -> dict[Scope, int]:
        """How many keys of each scope have a record (memory in use)."""
        return {ledger.scope: len(ledger) for ledger in self._ledgers}

    @property
    def _ledgers(self) -> tuple[_Ledger, _Ledger]:
        return self._sources, self._sessions


def _ns(seconds: float) -> int:
    return round(seconds * NS_PER_S)
