"""The bridge's configuration: a TOML file validated by pydantic into plain, immutable data.

Every problem is reported with the dotted path of the key that is wrong (``sessions.0.scope.
symbols``), so an operator can fix the file without reading code. Nothing here opens sockets
or files other than the config file itself; secrets never appear in error messages.
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from fixbridge.fix.credentials import PasswordHashError, parse_hash
from fixbridge.fix.schedule import ScheduleConfig
from fixbridge.fix.tls import SessionTlsConfig, TlsConfig
from fixbridge.normalize.style import Identifiers, Profile
from fixbridge.normalize.timestamps import Precision

STREAMS = ("executions", "trades", "instruments", "positions")
MessageKind = Literal["executions", "trades", "instruments", "positions", "settlements"]
_COMP_ID = re.compile(r"^[\x21-\x7e]{1,64}$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class ConfigError(ValueError):
    """The configuration cannot be used; the message names each offending key."""


class SettingError(RuntimeError):
    """A valid setting this machine cannot honour (a port in use, a journal directory that
    cannot be made); the message names the setting and its value."""


@contextlib.contextmanager
def naming_setting(setting: str) -> Iterator[None]:
    """Turn an OSError raised while using ``setting`` into a SettingError naming it."""
    try:
        yield
    except OSError as exc:
        detail = exc.strerror or str(exc)
        if exc.filename:
            detail += f": {exc.filename}"
        raise SettingError(f"{setting}: {detail}") from exc


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UpstreamAuthConfig(_Strict):
    """Private Key JWT (RFC 7523) client credentials for the exchange's token endpoint.

    The private key comes from a PEM file or an environment variable, never from this file
    itself, and is never logged. ``participant_id`` is the value onboarding gave
    (``firms/<firm>/users/<user>``), sent as ``x-participant-id``.
    """

    client_id: Annotated[str, Field(min_length=1)]
    token_url: str  # e.g. https://pmx-prod.us.auth0.com/oauth/token (also the assertion's aud)
    audience: str  # e.g. https://api.prod.polymarketexchange.com
    private_key_file: Path | None = None
    private_key_env: str | None = None
    participant_id: str | None = None
    # Fetch a new access token this long before the current one expires.
    refresh_ahead_s: Annotated[float, Field(strict=True, ge=0, le=3600)] = 30.0
    # Bound on one token request (connect + response).
    request_timeout_s: Annotated[float, Field(strict=True, gt=0, le=120)] = 10.0
    # CA bundle for an https token_url; system roots otherwise.
    ca_file: Path | None = None

    @field_validator("token_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+(/\S*)?$", value):
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_key_source(self) -> UpstreamAuthConfig:
        if (self.private_key_file is None) == (self.private_key_env is None):
            raise ValueError("set exactly one of private_key_file and private_key_env")
        return self


class MarketDataConfig(_Strict):
    """The market-data subscriber: settlement prices for the symbols the sessions can see.

    Started only when ``enabled`` and some session receives settlements or positions. The
    exchange's load balancer resets a stream idle for an hour; its guidance is a KeepAlive
    every 30-60 minutes, so ``keepalive_interval_s`` is at most 50 minutes: a KeepAlive sent
    late (a busy loop, a slow token refresh) still lands well inside the hour."""

    enabled: StrictBool = True
    keepalive_interval_s: Annotated[float, Field(strict=True, gt=0, le=3000)] = 1800.0
    # The exchange serves at most 1000 symbols on one stream; more open another stream.
    max_symbols_per_stream: Annotated[int, Field(strict=True, ge=1, le=1000)] = 1000
    # Reopen a market-data stream that sent nothing, not even a Heartbeat, for this long.
    stall_timeout_s: Annotated[float, Field(strict=True, gt=0, le=3600)] = 180.0
    # How often the wanted symbol set is re-read from the journal (positions held, instruments
    # listed, final resolutions journaled); new journal events also wake it.
    interest_poll_s: Annotated[float, Field(strict=True, gt=0, le=3600)] = 5.0


def _with_time_zone(value: datetime) -> datetime:
    """An instant in the config must say its time zone (a naive one is ambiguous)."""
    if value.tzinfo is None:
        raise ValueError("needs a time zone, e.g. 2026-11-21T00:00:00Z")
    return value


class UpstreamConfig(_Strict):
    """Where the exchange's DropCopyAPI is and what to ask it for."""

    target: str = "127.0.0.1:50051"
    tls: StrictBool = False
    ca_file: Path | None = None
    symbols: tuple[str, ...] = ()
    firms: tuple[str, ...] = ()
    # With no stored resume token: "live" (the exchange's default) or an RFC 3339 instant
    # to replay from (resume_time), e.g. the start of the trading day.
    start_from: Literal["live"] | datetime = "live"
    reconnect_initial_s: Annotated[float, Field(strict=True, gt=0, le=60)] = 1.0
    reconnect_max_s: Annotated[float, Field(strict=True, gt=0, le=600)] = 30.0
    # A stream that has been healthy this long resets the backoff to reconnect_initial_s.
    healthy_after_s: Annotated[float, Field(strict=True, gt=0, le=3600)] = 30.0
    # PERMISSION_DENIED / RESOURCE_EXHAUSTED: retry this slowly (with a loud log each time).
    slow_retry_s: Annotated[float, Field(strict=True, gt=0, le=3600)] = 60.0
    # Reconnect when a stream sends nothing, not even a token-only heartbeat, for this long.
    stall_timeout_s: Annotated[float, Field(strict=True, gt=0, le=3600)] = 180.0
    # When a resume token is refused: replay by resume_time from the last durable event's
    # transact time minus this margin (the overlap is deduplicated).
    resume_margin_s: Annotated[float, Field(strict=True, ge=0, le=86400)] = 60.0
    # The trades stream looks this much further back: a trade's later states (CLEARED,
    # BUSTED) keep the original trade's transact time, so they sort before newer trades.
    trades_lookback_s: Annotated[float, Field(strict=True, ge=0, le=30 * 86400)] = 86400.0
    # Absent = no authorization metadata (the simulator without auth).
    auth: UpstreamAuthConfig | None = None
    market_data: MarketDataConfig = MarketDataConfig()

    @field_validator("target")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"must be host:port, got {value!r}")
        return value

    @field_validator("start_from")
    @classmethod
    def _aware(cls, value: Literal["live"] | datetime) -> Literal["live"] | datetime:
        return _with_time_zone(value) if isinstance(value, datetime) else value


class JournalConfig(_Strict):
    """Where the journal lives: an embedded SQLite file (``path``, the default), or a
    PostgreSQL database (``backend = "postgresql"``, ``dsn``) that two bridges share for
    active/standby ([ha]). The database password comes from ``password_file`` or
    ``password_env``, never from the DSN in this file, and is never logged."""

    backend: Literal["sqlite", "postgresql"] = "sqlite"
    path: Path = Path("fixbridge.db")
    # libpq connection string, e.g. "host=db1 port=5432 dbname=fixbridge user=fixbridge"
    # (several hosts for a replicated database: "host=db1,db2 target_session_attrs=read-write").
    dsn: str | None = None
    password_file: Path | None = None
    password_env: str | None = None
    # "full" fsyncs every commit (survives power loss); "normal" survives process crashes.
    synchronous: Literal["full", "normal"] = "full"
    # SQLite's quick integrity check at start-up (reads the whole file once); a journal that
    # fails it is refused. Off only for a journal too large to read at every start.
    verify_on_start: StrictBool = True
    # Days an event, and a sent message, is kept once every session has been sent it; absent =
    # kept for ever. What is never removed: journal/retention.py.
    retain_days: Annotated[int, Field(strict=True, ge=1, le=36500)] | None = None

    @model_validator(mode="after")
    def _backend_settings(self) -> JournalConfig:
        if self.backend == "sqlite":
            given = [
                name for name in ("dsn", "password_file", "password_env")
                if getattr(self, name) is not None
            ]  # fmt: skip
            if given:
                raise ValueError(f"{', '.join(given)}: only for backend = \"postgresql\"")
            return self
        sqlite_only = {"path", "synchronous", "verify_on_start"} & self.model_fields_set
        if sqlite_only:
            raise ValueError(
                f"{', '.join(sorted(sqlite_only))}: only for the SQLite journal, not with"
                ' backend = "postgresql"'
            )
        if self.dsn is None:
            raise ValueError('dsn is required with backend = "postgresql"')
        try:
            from fixbridge.pg import parse_dsn
        except ImportError:
            raise ValueError(
                'backend = "postgresql" needs psycopg: pip install "fixbridge[postgresql]"'
            ) from None
        settings = parse_dsn(self.dsn)  # ValueError names what is wrong, never the DSN
        if settings.get("password"):
            raise ValueError(
                "dsn must not hold the password: give it in password_file or password_env"
            )
        if self.password_file is not None and self.password_env is not None:
            raise ValueError("set at most one of password_file and password_env")
        return self


class HaConfig(_Strict):
    """Active/standby: two bridges with the same config and a PostgreSQL journal; the one
    holding the lease (ha/lease.py) serves, the other waits and takes over when the lease
    runs out. The active steps down ``margin_s`` before its lease ends by its own clock; a
    standby tries every ``renew_every_s``, so a takeover comes at most about
    ``lease_ttl_s + renew_every_s`` after the active's last renewal."""

    enabled: StrictBool = False
    # This bridge's name in the lease and the logs (default: the host name).
    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    lease_ttl_s: Annotated[float, Field(strict=True, gt=0, le=600)] = 4.0
    renew_every_s: Annotated[float, Field(strict=True, gt=0, le=60)] = 1.0
    margin_s: Annotated[float, Field(strict=True, ge=0, le=60)] = 1.0

    @model_validator(mode="after")
    def _timing(self) -> HaConfig:
        if self.lease_ttl_s < 2 * self.renew_every_s + self.margin_s:
            raise ValueError(
                f"lease_ttl_s ({self.lease_ttl_s:g}) must be at least twice renew_every_s"
                f" ({self.renew_every_s:g}) plus margin_s ({self.margin_s:g}), so that one"
                " late renewal does not cost the lease"
            )
        return self


class LogonThrottleConfig(_Strict):
    """Back-off and lockout after failed logons, for one kind of key (fix/throttle.py).

    Defaults are the per-source ones; :class:`SessionThrottleConfig` loosens them."""

    enabled: StrictBool = True
    # After the n-th failure in the window: refused for initial * 2^(n-1) s, at most max.
    backoff_initial_s: Annotated[float, Field(strict=True, gt=0, le=60)] = 1.0
    backoff_max_s: Annotated[float, Field(strict=True, gt=0, le=3600)] = 30.0
    # This many failures within failure_window_s lock the key out for lockout_s.
    lockout_failures: Annotated[int, Field(strict=True, ge=1, le=100_000)] = 10
    failure_window_s: Annotated[float, Field(strict=True, gt=0, le=86400)] = 600.0
    lockout_s: Annotated[float, Field(strict=True, gt=0, le=86400)] = 900.0

    @model_validator(mode="after")
    def _ordered(self) -> LogonThrottleConfig:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must not be below backoff_initial_s")
        return self


class SessionThrottleConfig(LogonThrottleConfig):
    """Per session (any source): looser than per source, because a session locked out is
    locked out for its real client too (fix/throttle.py's docstring)."""

    backoff_max_s: Annotated[float, Field(strict=True, gt=0, le=3600)] = 5.0
    lockout_failures: Annotated[int, Field(strict=True, ge=1, le=100_000)] = 50
    lockout_s: Annotated[float, Field(strict=True, gt=0, le=86400)] = 300.0


class FixConfig(_Strict):
    host: str = "0.0.0.0"
    port: Annotated[int, Field(strict=True, ge=0, le=65535)] = 9878
    max_message_size: Annotated[int, Field(strict=True, ge=512, le=16 * 1024 * 1024)] = 65536
    logon_timeout_s: Annotated[float, Field(strict=True, gt=0, le=300)] = 10.0
    # A second Logon for a live session that looks alive is refused at once, and the live
    # connection gets a TestRequest and this long to answer; if it does not, it is dropped
    # (a half-open socket) and the client's next Logon binds.
    half_open_probe_s: Annotated[float, Field(strict=True, gt=0, le=60)] = 5.0
    # A client that accepts none of our bytes for this long is disconnected (slow consumer).
    write_timeout_s: Annotated[float, Field(strict=True, gt=0, le=3600)] = 60.0
    # TLS on the FIX port (TLS 1.2+); absent = plain TCP.
    tls: TlsConfig | None = None
    # Threads of their own for Logon password checks (scrypt), apart from other work.
    credential_check_threads: Annotated[int, Field(strict=True, ge=1, le=64)] = 2
    # Password checks queued or running at once, over all sources; past this, Logons needing
    # one are refused unread (busy) until the queue shortens. At ~45 checks/s per thread,
    # 32 keeps a legitimate Logon's wait under a second on the default two threads.
    max_pending_password_checks: Annotated[int, Field(strict=True, ge=1, le=10_000)] = 32
    # Failed logons slow down, then lock out, their source address and their session.
    source_throttle: LogonThrottleConfig = LogonThrottleConfig()
    session_throttle: SessionThrottleConfig = SessionThrottleConfig()
    # Source addresses whose failures are remembered; beyond that the oldest are forgotten.
    throttle_max_sources: Annotated[int, Field(strict=True, ge=1, le=10_000_000)] = 10_000
    # Connections that never log on: at most one log line per source address this often
    # (the rest are counted, and the next line says how many were left out).
    unauthenticated_log_interval_s: Annotated[float, Field(strict=True, gt=0, le=86400)] = 60.0


class ScopeConfig(_Strict):
    """What a session may see. Empty lists mean no restriction on that dimension."""

    firms: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    symbols: tuple[str, ...] = ()
    message_kinds: tuple[MessageKind, ...] = ("executions",)
    fills_only: StrictBool = False


class SessionConfig(_Strict):
    name: str
    sender_comp_id: str  # ours: the client's TargetCompID
    target_comp_id: str  # the client's SenderCompID
    timestamp_precision: Precision = Precision.NANOS
    # Which FIX dictionary generation the messages are written for, each with its dictionaries
    # from `fixbridge dictionary --profile P`: "exchange" (the exchange's own FIX drop copy;
    # extension-pack dictionary, e.g. QuickFIX 1.16), "fix50sp2" (the original FIX 5.0 SP2
    # dictionary, e.g. QuickFIX 1.15 and QuickFIX/J) or "latest" (extension-pack values
    # where they say more). specs/mapping.md lists every difference.
    fix_profile: Profile = Profile.EXCHANGE
    # How accounts, firms and users appear in Account(1) and PartyID(448): "exchange" (short
    # ids, as the exchange's own FIX drop copy sends them) or "resource_names" (firms/F/...).
    identifiers: Identifiers = Identifiers.EXCHANGE
    # Realized P&L on PositionReports, in the user-defined tag RealizedPnL(5900); FIX has no
    # standard field for it, so it is off unless the client's dictionary declares the tag.
    send_realized_pnl: StrictBool = False
    # In the exchange profile, a MarketSettlementReport (35=UMS) per account at a final
    # resolution, for a session that receives settlements: a user-defined message only
    # fixbridge's exchange dictionary (and Kalshi's, Coinbase's) declares; false for a client
    # on a stock dictionary, which would reject it (Kalshi's ReceiveSettlementReports=N).
    send_settlement_reports: StrictBool = True
    scope: ScopeConfig = ScopeConfig()
    # Optional Logon credentials: Username(553) and a salted hash of Password(554), made by
    # `fixbridge hash-password`. The clear password is never stored.
    username: str | None = None
    password_hash: str | None = None
    # Client addresses allowed to log on to this session (CIDR); empty = any.
    allowed_ips: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    # Messages per second when answering a ResendRequest; 0 = as fast as the client reads.
    resend_rate: Annotated[int, Field(strict=True, ge=0)] = 20_000
    # Client-certificate rules for this session (needs [fix.tls]).
    tls: SessionTlsConfig = SessionTlsConfig()
    # Daily or weekly session window; absent = always on, sequence numbers never reset by time.
    schedule: ScheduleConfig | None = None
    # Where a session the journal has never seen begins: "head" (what is journaled from now
    # on) or an RFC 3339 instant (every event journaled whose exchange time is at or after
    # it, in journal order, then on). Ignored once the session exists in the journal.
    start_from: Literal["head"] | datetime = "head"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must be 1-64 characters of letters, digits, '_', '.', '-'")
        return value

    @field_validator("password_hash")
    @classmethod
    def _password_hash(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_hash(value)
            except PasswordHashError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("allowed_ips", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            try:
                return tuple(ipaddress.ip_network(str(v), strict=False) for v in value)
            except ValueError as exc:
                raise ValueError(f"not an IP address or CIDR network: {exc}") from None
        return value

    def allows(self, address: str) -> bool:
        if not self.allowed_ips:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.allowed_ips)

    @field_validator("start_from", mode="before")
    @classmethod
    def _start_from(cls, value: object) -> object:
        if value == "head":
            return value
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = datetime.fromisoformat(value)
        if not isinstance(value, datetime):
            raise ValueError('must be "head" or an RFC 3339 instant, e.g. 2026-11-21T00:00:00Z')
        return _with_time_zone(value)

    @field_validator("sender_comp_id", "target_comp_id")
    @classmethod
    def _comp_id(cls, value: str) -> str:
        if not _COMP_ID.match(value):
            raise ValueError("must be 1-64 printable ASCII characters without spaces")
        return value


class MetricsConfig(_Strict):
    """The ops HTTP port: /metrics (Prometheus), /healthz and /readyz."""

    enabled: StrictBool = True
    host: str = "0.0.0.0"
    port: Annotated[int, Field(strict=True, ge=0, le=65535)] = 9108


class AdminConfig(_Strict):
    """The admin port: operator actions (log out, reset, pause, resume a session) over HTTP on
    loopback only, each request carrying the token from ``token_file`` (mode 0600)."""

    enabled: StrictBool = False
    host: str = "127.0.0.1"
    port: Annotated[int, Field(strict=True, ge=0, le=65535)] = 9109
    token_file: Path | None = None

    @field_validator("host")
    @classmethod
    def _loopback(cls, value: str) -> str:
        try:
            loopback = ipaddress.ip_address(value).is_loopback
        except ValueError:
            loopback = value == "localhost"
        if not loopback:
            raise ValueError(f"must be a loopback address (127.0.0.1, ::1), got {value!r}")
        return value

    @model_validator(mode="after")
    def _token(self) -> AdminConfig:
        if self.enabled and self.token_file is None:
            raise ValueError("token_file is required when the admin port is enabled")
        return self


class LoggingConfig(_Strict):
    format: Literal["plain", "json"] = "plain"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class BridgeConfig(_Strict):
    upstream: UpstreamConfig = UpstreamConfig()
    journal: JournalConfig = JournalConfig()
    ha: HaConfig = HaConfig()
    fix: FixConfig = FixConfig()
    metrics: MetricsConfig = MetricsConfig()
    admin: AdminConfig = AdminConfig()
    logging: LoggingConfig = LoggingConfig()
    sessions: tuple[SessionConfig, ...]
    # Kept for older config files; [logging] level wins when both are given.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None = None

    @property
    def effective_log_level(self) -> str:
        if self.log_level is not None and "level" not in self.logging.model_fields_set:
            return self.log_level
        return self.logging.level

    @model_validator(mode="after")
    def _retention_outlasts_replays(self) -> BridgeConfig:
        days = self.journal.retain_days
        upstream = self.upstream
        replayed_s = upstream.trades_lookback_s + upstream.resume_margin_s
        if days is not None and days * 86400 < replayed_s + 86400:
            raise ValueError(
                f"journal.retain_days = {days} keeps less than what the exchange may replay"
                f" (upstream.trades_lookback_s + resume_margin_s = {replayed_s / 86400:g} days)"
                " plus a day: an event replayed after its removal would be journaled and sent"
                " again"
            )
        return self

    @model_validator(mode="after")
    def _ha_shares_a_database(self) -> BridgeConfig:
        if self.ha.enabled and self.journal.backend != "postgresql":
            raise ValueError(
                'ha.enabled needs journal.backend = "postgresql": the two bridges share it'
            )
        return self

    @model_validator(mode="after")
    def _unique_sessions(self) -> BridgeConfig:
        if not self.sessions:
            raise ValueError("sessions: at least one [[sessions]] entry is required")
        names: set[str] = set()
        pairs: set[tuple[str, str]] = set()
        for session in self.sessions:
            if session.name in names:
                raise ValueError(f"sessions: name {session.name!r} is used twice")
            pair = (session.sender_comp_id, session.target_comp_id)
            if pair in pairs:
                raise ValueError(f"sessions: CompID pair {pair} is used twice")
            names.add(session.name)
            pairs.add(pair)
            if session.tls.require_client_cert:
                if self.fix.tls is None:
                    raise ValueError(
                        f"sessions: {session.name!r} requires a client certificate but [fix.tls]"
                        " is not configured"
                    )
                if self.fix.tls.client_ca_file is None:
                    raise ValueError(
                        f"sessions: {session.name!r} requires a client certificate but"
                        " fix.tls.client_ca_file is not set"
                    )
        return self


# What a TOML user must write, by pydantic error type (the library's own words speak Python:
# "valid tuple", "valid boolean").
_TOML_EXPECTED = {
    "bool_type": "must be true or false (a TOML boolean, without quotes)",
    "bool_parsing": "must be true or false (a TOML boolean, without quotes)",
    "int_type": "must be a whole number (a TOML integer, without quotes)",
    "int_parsing": "must be a whole number (a TOML integer, without quotes)",
    "int_from_float": "must be a whole number (a TOML integer, without a fraction)",
    "float_type": "must be a number (a TOML integer or float, without quotes)",
    "float_parsing": "must be a number (a TOML integer or float, without quotes)",
    "string_type": 'must be a string (in quotes, e.g. "text")',
    "tuple_type": 'must be a list (e.g. ["a", "b"]; one item is ["a"])',
    "list_type": 'must be a list (e.g. ["a", "b"]; one item is ["a"])',
    "model_type": "must be a table ([section] or { key = value, ... })",
    "model_attributes_type": "must be a table ([section] or { key = value, ... })",
    "dict_type": "must be a table ([section] or { key = value, ... })",
    "missing": "is required but missing",
    "extra_forbidden": "is not a setting here (check its spelling and its [section])",
}


def _toml_type(value: object) -> str:
    """What TOML type a parsed value was written as (never the value: it may be a secret)."""
    kinds: tuple[tuple[type, str], ...] = (
        (bool, "a boolean"), (int, "an integer"), (float, "a float"), (str, "a string"),
        (list, "a list"), (dict, "a table"), (datetime, "a date-time"),
    )  # fmt: skip
    return next((name for kind, name in kinds if isinstance(value, kind)), "a value")


def describe_errors(exc: ValidationError) -> str:
    """One clause per problem: the dotted key, then what TOML wants there."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or "(top level)"
        expected = _TOML_EXPECTED.get(err["type"])
        if expected is None:
            # pydantic words a validator's own message "Value error, <message>".
            lines.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
        elif err["type"] in ("missing", "extra_forbidden"):
            lines.append(f"{where}: {expected}")
        else:
            lines.append(f"{where}: {expected}, got {_toml_type(err['input'])}")
    return "; ".join(lines)


def parse_config(data: dict[str, object], *, source: str = "config") -> BridgeConfig:
    try:
        return BridgeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_errors(exc)}") from None


ENV_PREFIX = "FIXBRIDGE_"
ENV_SEPARATOR = "__"


def _env_value(text: str) -> object:
    """An override's value read as a TOML value (``9878``, ``true``, ``["a"]``, ``"123"``),
    else the text itself as a string (``scrypt$...``, ``/var/lib/fixbridge``)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _env_key(part: str) -> str:
    return part.lower()


def _session_key(name: str) -> str:
    """A session name as it appears in an environment variable's name."""
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def apply_environment(
    data: dict[str, object], environ: Mapping[str, str]
) -> tuple[dict[str, object], dict[str, str]]:
    """``data`` with every ``FIXBRIDGE_SECTION__KEY`` override applied (sections and keys
    joined by ``__``; a session by its name: ``FIXBRIDGE_SESSIONS__BACKOFFICE__PASSWORD_HASH``),
    and which dotted key each variable set. Pure: reads only ``environ``."""
    merged = copy.deepcopy(data)
    origins: dict[str, str] = {}
    for variable in sorted(environ):
        if not variable.startswith(ENV_PREFIX) or ENV_SEPARATOR not in variable:
            continue  # FIXBRIDGE_CONFIG and other single names are not settings
        parts = variable[len(ENV_PREFIX) :].split(ENV_SEPARATOR)
        if not all(parts):
            raise ConfigError(f"{variable}: an empty section or key in the variable's name")
        node: object = merged
        path: list[str] = []
        if parts[0].upper() == "SESSIONS":
            if len(parts) < 3:
                raise ConfigError(f"{variable}: name a session and a key (SESSIONS__NAME__KEY)")
            sessions = merged.get("sessions")
            found = [
                (i, entry)
                for i, entry in enumerate(sessions if isinstance(sessions, list) else [])
                if isinstance(entry, dict) and _session_key(str(entry.get("name"))) == parts[1]
            ]
            if len(found) != 1:
                raise ConfigError(f"{variable}: the config has no session named {parts[1]!r}")
            index, node = found[0]
            path, parts = ["sessions", str(index)], parts[2:]
        for part in parts[:-1]:
            key = _env_key(part)
            assert isinstance(node, dict)
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{variable}: {'.'.join([*path, key])} is not a table")
            node, path = child, [*path, key]
        assert isinstance(node, dict)
        leaf = _env_key(parts[-1])
        node[leaf] = _env_value(environ[variable])
        origins[".".join([*path, leaf])] = variable
    return merged, origins


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> BridgeConfig:
    """The config file at ``path`` with the ``FIXBRIDGE_...`` overrides in ``environ``
    (default: the process environment) applied on top."""
    environ = os.environ if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    data, origins = apply_environment(data, environ)
    try:
        return parse_config(data, source=str(path))
    except ConfigError as exc:
        if not origins:
            raise
        given = ", ".join(f"{key} from {variable}" for key, variable in origins.items())
        raise ConfigError(f"{exc} (set by the environment: {given})") from None
