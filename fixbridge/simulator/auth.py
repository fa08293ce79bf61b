"""The simulated exchange's authentication: an OAuth token endpoint and a gRPC gatekeeper.

The exchange authenticates with Private Key JWT (RFC 7523, spec §4.1): a client signs an RS256
assertion with its registered key, posts it to the token endpoint and gets a short-lived opaque
bearer token, which it sends as ``authorization`` metadata when it opens a stream. Here:

* the token endpoint is a minimal HTTP/1.1 server (POST only, one request per connection, a
  bounded body) that checks every rule of the assertion and answers OAuth-style JSON errors
  (``{"error", "error_description"}``) that name the broken rule;
* :class:`AuthInterceptor` checks the token and the method's scope when a call opens, so the
  servicers know nothing of auth. A call is checked once, at open: a stream whose token expires
  (or is revoked) later is never cut, as at the exchange.

Tests steer it with :meth:`SimulatorAuth.revoke_all`, the ``token_lifetime_s`` attribute and
the counters. Nothing here logs a token or an assertion.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import secrets
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from fixbridge.simulator.addresses import listen_address

logger = logging.getLogger("fixbridge.simulator.auth")

TOKEN_PATH = "/oauth/token"
DEFAULT_AUDIENCE = "https://api.simulator.fixbridge.invalid"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRANT_TYPE = "client_credentials"
MAX_ASSERTION_LIFETIME_S = 300
DEFAULT_TOKEN_LIFETIME_S = 180.0
DEFAULT_LEEWAY_S = 5.0
MAX_HEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024
REQUEST_TIMEOUT_S = 10.0

# Scope each RPC needs (spec §4.1). Trade-capture and position-change: INFERRED read:dropcopy.
# ListInstruments: read:instruments (the exchange's Reference Data API Overview).
_DROPCOPY = "/polymarket.v1.DropCopyAPI/"
METHOD_SCOPES: dict[str, str] = {
    _DROPCOPY + "CreateDropCopySubscription": "read:dropcopy",
    _DROPCOPY + "CreateTradeCaptureReportSubscription": "read:dropcopy",
    _DROPCOPY + "CreatePositionChangeSubscription": "read:dropcopy",
    _DROPCOPY + "CreateInstrumentStateChangeSubscription": "read:instruments",
    "/polymarket.v1.RefDataAPI/ListInstruments": "read:instruments",
}
# Whole services whose every method needs one scope (spec §5: ReportAPI reads; the market-data
# page: "only requires Auth0 JWT authentication with read:marketdata scope", no participant id).
SERVICE_SCOPES: dict[str, str] = {
    "/polymarket.v1.ReportAPI/": "read:reports",
    "/polymarket.v1.MarketDataSubscriptionAPI/": "read:marketdata",
}
ALL_SCOPES = frozenset({*METHOD_SCOPES.values(), *SERVICE_SCOPES.values()})


def required_scope(method: str) -> str | None:
    """The scope a full gRPC method name needs; None for a method no table knows."""
    scope = METHOD_SCOPES.get(method)
    if scope is not None:
        return scope
    for prefix, service_scope in SERVICE_SCOPES.items():
        if method.startswith(prefix):
            return service_scope
    return None


def firm_of_participant(participant_id: str) -> str | None:
    """``SIM-ALPHA`` from ``firms/SIM-ALPHA/users/u1``; None if it is not of that form."""
    parts = participant_id.split("/")
    if len(parts) == 4 and parts[0] == "firms" and parts[2] == "users" and parts[1] and parts[3]:
        return parts[1]
    return None


@dataclass(frozen=True)
class ClientRegistration:
    """What onboarding gave one client: its public key, its scopes, its participant id."""

    public_key: RSAPublicKey | bytes | str
    scopes: frozenset[str]
    participant_id: str | None = None

    def key(self) -> RSAPublicKey:
        if isinstance(self.public_key, RSAPublicKey):
            return self.public_key
        data = self.public_key.encode() if isinstance(self.public_key, str) else self.public_key
        key = serialization.load_pem_public_key(data)
        if not isinstance(key, RSAPublicKey):
            raise ValueError("the registered public key must be an RSA key (RS256)")
        return key


class TokenRefused(Exception):
    """A token request broke a rule: the HTTP status and the OAuth error to answer."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description


@dataclass
class _Issued:
    client_id: str
    scopes: frozenset[str]
    participant_id: str | None
    expires_at: float
    revoked: bool = False


@dataclass
class _Client:
    key: RSAPublicKey
    scopes: frozenset[str]
    participant_id: str | None


@dataclass
class AuthCounters:
    tokens_issued: int = 0
    tokens_rejected: int = 0  # token requests refused by the endpoint
    calls_unauthenticated: int = 0
    calls_denied: int = 0  # PERMISSION_DENIED: scope or cross-firm
    refusals: list[str] = field(default_factory=list)  # last token-endpoint error codes


class SimulatorAuth:
    """Registered clients, issued tokens, the token endpoint and the gRPC interceptor.

    Thread-safe where tests touch it from another thread (revoke, lifetime, counters).
    """

    def __init__(
        self,
        clients: Mapping[str, ClientRegistration],
        *,
        audience: str = DEFAULT_AUDIENCE,
        token_lifetime_s: float = DEFAULT_TOKEN_LIFETIME_S,
        clock: Callable[[], float] = time.time,
        leeway_s: float = DEFAULT_LEEWAY_S,
    ) -> None:
        if not clients:
            raise ValueError("register at least one client")
        self._clients = {
            client_id: _Client(reg.key(), frozenset(reg.scopes), reg.participant_id)
            for client_id, reg in clients.items()
        }
        self.audience = audience
        self.token_lifetime_s = token_lifetime_s
        self._clock = clock
        self._leeway = leeway_s
        self._lock = threading.Lock()
        self._tokens: dict[str, _Issued] = {}
        self._jtis: dict[tuple[str, str], float] = {}  # (client, jti) -> forget after
        self.counters = AuthCounters()
        self._server: asyncio.Server | None = None
        self._token_url: str | None = None

    # ------------------------------------------------------------------------ runtime knobs

    @property
    def token_lifetime_s(self) -> float:
        """Lifetime of tokens issued from now on (settable at runtime, e.g. 1 s in a test)."""
        return self._lifetime

    @token_lifetime_s.setter
    def token_lifetime_s(self, value: float) -> None:
        if value <= 0:
            raise ValueError(f"token_lifetime_s must be > 0, got {value}")
        self._lifetime = float(value)

    @property
    def token_url(self) -> str:
        """The token endpoint's URL (also the ``aud`` assertions must carry)."""
        if self._token_url is None:
            raise RuntimeError("the token endpoint is not started")
        return self._token_url

    @property
    def tokens_issued(self) -> int:
        return self.counters.tokens_issued

    @property
    def tokens_rejected(self) -> int:
        return self.counters.tokens_rejected

    def revoke_all(self) -> None:
        """Every token issued so far stops working for new calls (open streams go on)."""
        with self._lock:
            for issued in self._tokens.values():
                issued.revoked = True

    # ----------------------------------------------------------------------- token requests

    def token_request(
        self, form: Mapping[str, object], *, host: str | None = None
    ) -> dict[str, Any]:
        """Check one token request; the OAuth success body, or TokenRefused naming the rule.

        ``host`` is the request's Host header: an assertion may name the endpoint by the
        address the client used as well as by :attr:`token_url`.
        """
        try:
            answer = self._grant(form, host)
        except TokenRefused as refused:
            with self._lock:
                self.counters.tokens_rejected += 1
                self.counters.refusals = [*self.counters.refusals[-99:], refused.error]
            logger.info("token request refused: %s", refused)
            raise
        return answer

    def _grant(self, form: Mapping[str, object], host: str | None) -> dict[str, Any]:
        def text(name: str) -> str:
            value = form.get(name)
            if not isinstance(value, str) or not value:
                raise TokenRefused(400, "invalid_request", f"missing parameter {name}")
            return value

        grant_type = text("grant_type")
        if grant_type != GRANT_TYPE:
            raise TokenRefused(
                400, "unsupported_grant_type",
                f"grant_type must be {GRANT_TYPE}, got {grant_type!r}",
            )
        assertion_type = text("client_assertion_type")
        if assertion_type != CLIENT_ASSERTION_TYPE:
            raise TokenRefused(
                400, "invalid_request", f"client_assertion_type must be {CLIENT_ASSERTION_TYPE}"
            )
        assertion = text("client_assertion")
        client_id = text("client_id")
        audience = text("audience")
        if audience != self.audience:
            raise TokenRefused(
                400, "invalid_request",
                f"unknown audience {audience!r}: this API is {self.audience}",
            )
        client = self._clients.get(client_id)
        if client is None:
            raise TokenRefused(401, "invalid_client", f"unknown client_id {client_id!r}")
        claims = self._verify(assertion, client, client_id, host)
        return self._issue(client_id, client, claims)

    def _verify(
        self, assertion: str, client: _Client, client_id: str, host: str | None
    ) -> dict[str, Any]:
        def refuse(description: str) -> TokenRefused:
            return TokenRefused(401, "invalid_client", description)

        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.DecodeError:
            raise refuse("client_assertion is not a JWT") from None
        if header.get("alg") != "RS256":
            raise refuse(f"client_assertion alg is {header.get('alg')!r}; RS256 is required")
        try:
            raw = jwt.PyJWS().decode(assertion, client.key, algorithms=["RS256"])
        except jwt.InvalidSignatureError:
            raise refuse(
                f"client_assertion signature does not verify with the key registered "
                f"for {client_id}"
            ) from None
        except jwt.PyJWTError:
            raise refuse("client_assertion is not a valid JWS") from None
        try:
            claims = json.loads(raw)
        except ValueError:
            claims = None
        if not isinstance(claims, dict):
            raise refuse("client_assertion payload is not a JSON object")

        if claims.get("iss") != client_id:
            raise refuse(f"iss must be the client_id {client_id!r}, got {claims.get('iss')!r}")
        if claims.get("sub") != client_id:
            raise refuse(f"sub must equal iss ({client_id!r}), got {claims.get('sub')!r}")
        aud = claims.get("aud")
        auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        expected = self._endpoint_urls(host)
        if not any(a in expected for a in auds):
            raise refuse(f"aud must be the token endpoint URL {self.token_url}, got {aud!r}")
        iat, exp = claims.get("iat"), claims.get("exp")
        for name, value in (("iat", iat), ("exp", exp)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise refuse(f"{name} claim missing or not a number")
        assert isinstance(iat, int | float) and isinstance(exp, int | float)
        if exp - iat > MAX_ASSERTION_LIFETIME_S:
            raise refuse(
                f"assertion lifetime exp - iat = {exp - iat:g} s exceeds "
                f"{MAX_ASSERTION_LIFETIME_S} s"
            )
        if exp <= iat:
            raise refuse("exp must be after iat")
        now = self._clock()
        if exp < now - self._leeway:
            raise refuse("client_assertion expired")
        if iat > now + self._leeway:
            raise refuse("iat is in the future")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise refuse("jti claim missing")
        with self._lock:
            self._jtis = {k: t for k, t in self._jtis.items() if t >= now}
            if (client_id, jti) in self._jtis:
                raise refuse("jti already used: a replayed client_assertion")
            self._jtis[(client_id, jti)] = exp + self._leeway
        return claims

    def _endpoint_urls(self, host: str | None) -> set[str]:
        urls = {self.token_url}
        if host:
            urls.add(f"http://{host}{TOKEN_PATH}")
        return urls

    def _issue(self, client_id: str, client: _Client, claims: dict[str, Any]) -> dict[str, Any]:
        token = secrets.token_urlsafe(32)
        lifetime = self._lifetime
        now = self._clock()
        with self._lock:
            # Forget tokens long expired (a minute after expiry is enough to name them).
            self._tokens = {t: i for t, i in self._tokens.items() if i.expires_at > now - 60}
            self._tokens[token] = _Issued(
                client_id, client.scopes, client.participant_id, now + lifetime
            )
            self.counters.tokens_issued += 1
        logger.info(
            "issued an access token to %s (%s), expires in %g s",
            client_id, " ".join(sorted(client.scopes)), lifetime,
        )
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": math.ceil(lifetime),
            "scope": " ".join(sorted(client.scopes)),
        }

    # -------------------------------------------------------------------------------- calls

    def check_call(
        self, method: str, metadata: Iterable[tuple[str, str | bytes]] | None
    ) -> tuple[grpc.StatusCode, str] | None:
        """None if ``method`` may be opened with this metadata, else (status, message)."""
        values: dict[str, str] = {}
        for key, value in metadata or ():
            if key not in values and isinstance(value, str):
                values[key] = value
        refusal = self._refusal(method, values)
        if refusal is not None:
            with self._lock:
                if refusal[0] == grpc.StatusCode.UNAUTHENTICATED:
                    self.counters.calls_unauthenticated += 1
                else:
                    self.counters.calls_denied += 1
            logger.info("%s refused: %s %s", method, refusal[0].name, refusal[1])
        return refusal

    def _refusal(
        self, method: str, values: Mapping[str, str]
    ) -> tuple[grpc.StatusCode, str] | None:
        unauthenticated = grpc.StatusCode.UNAUTHENTICATED
        header = values.get("authorization")
        if header is None:
            return unauthenticated, "missing authorization metadata: send 'Bearer <token>'"
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return unauthenticated, "malformed authorization metadata: expected 'Bearer <token>'"
        with self._lock:
            issued = self._tokens.get(token)
        if issued is None:
            return unauthenticated, "invalid access token"
        if issued.revoked:
            return unauthenticated, "access token revoked"
        if self._clock() >= issued.expires_at:
            return unauthenticated, "access token expired"
        denied = grpc.StatusCode.PERMISSION_DENIED
        scope = required_scope(method)
        if scope is None:
            return denied, f"permission denied: no scope grants {method}"
        if scope not in issued.scopes:
            return denied, f"permission denied: missing required scope {scope}"
        participant = values.get("x-participant-id")
        if issued.participant_id is not None and participant is not None:
            firm = firm_of_participant(participant)
            own = firm_of_participant(issued.participant_id)
            if firm is None:
                return denied, (
                    "permission denied: x-participant-id is not firms/<firm>/users/<user>"
                )
            if firm != own:
                return denied, (
                    f"permission denied: cross-firm request: x-participant-id names firm {firm}, "
                    f"the token belongs to firm {own}"
                )
        return None

    def interceptor(self) -> AuthInterceptor:
        return AuthInterceptor(self)

    # ------------------------------------------------------------------------ HTTP endpoint

    async def start(self, listen: str = "127.0.0.1:0") -> str:
        """Serve the token endpoint on ``listen`` (port 0: any); returns its URL."""
        if self._server is not None:
            raise RuntimeError("token endpoint already started")
        host, _, port = listen.rpartition(":")
        host = host.strip("[]")
        server = await asyncio.start_server(
            self._connection, host or None, int(port), limit=MAX_HEAD_BYTES
        )
        bound = server.sockets[0].getsockname()[1]
        shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
        shown = f"[{shown}]" if ":" in shown else shown
        self._server = server
        self._token_url = f"http://{shown}:{bound}{TOKEN_PATH}"
        return self._token_url

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT_S):
                    status, body, extra = await self._exchange(reader)
            except TimeoutError:
                status, body, extra = _error(408, "invalid_request", "request not received in time")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            writer.write(_http_response(status, body, extra))
            await writer.drain()
            # Lingering close: a refused request may have unread bytes, and closing on them
            # would reset the connection before the client reads our answer.
            if writer.can_write_eof():
                writer.write_eof()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    while await reader.read(65536):
                        pass
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _exchange(self, reader: asyncio.StreamReader) -> tuple[int, bytes, dict[str, str]]:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            return _error(431, "invalid_request", "request head too large")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return _error(400, "invalid_request", "malformed HTTP request line")
        method, target = parts[0], parts[1]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, sep, value = line.partition(":")
                if not sep:
                    return _error(400, "invalid_request", "malformed HTTP header")
                headers[name.strip().lower()] = value.strip()
        if method != "POST":
            status, body, extra = _error(405, "invalid_request", "the token endpoint takes POST")
            return status, body, {**extra, "Allow": "POST"}
        if target.split("?", 1)[0] != TOKEN_PATH:
            return _error(404, "invalid_request", f"no endpoint at {target}; use {TOKEN_PATH}")
        if "transfer-encoding" in headers:
            return _error(411, "invalid_request", "send Content-Length, not a chunked body")
        try:
            length = int(headers["content-length"])
        except (KeyError, ValueError):
            return _error(411, "invalid_request", "Content-Length required")
        if not 0 <= length <= MAX_BODY_BYTES:
            return _error(413, "invalid_request", f"body over {MAX_BODY_BYTES} bytes")
        raw = await reader.readexactly(length)
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        form: Mapping[str, object]
        if media == "application/json":
            try:
                decoded = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                return _error(400, "invalid_request", "body is not valid JSON")
            if not isinstance(decoded, dict):
                return _error(400, "invalid_request", "body must be a JSON object")
            form = decoded
        elif media == "application/x-www-form-urlencoded":
            pairs = urllib.parse.parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
            form = dict(pairs)
        else:
            return _error(
                415, "invalid_request",
                "Content-Type must be application/json or application/x-www-form-urlencoded",
            )
        try:
            answer = self.token_request(form, host=headers.get("host"))
        except TokenRefused as refused:
            return _error(refused.status, refused.error, refused.description)
        return 200, json.dumps(answer).encode(), {}


_REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 411: "Length Required",
    413: "Content Too Large", 415: "Unsupported Media Type",
    431: "Request Header Fields Too Large",
}


def _error(status: int, error: str, description: str) -> tuple[int, bytes, dict[str, str]]:
    body = json.dumps({"error": error, "error_description": description}).encode()
    extra = {"WWW-Authenticate": 'Basic realm="token"'} if status == 401 else {}
    return status, body, extra


def _http_response(status: int, body: bytes, extra: Mapping[str, str]) -> bytes:
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "Cache-Control": "no-store",
        "Connection": "close",
        **extra,
    }
    head = f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return head.encode("latin-1") + b"\r\n" + body


# ----------------------------------------------------------------------------- interceptor

_HANDLER_KINDS: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("unary_unary", grpc.unary_unary_rpc_method_handler),
    ("unary_stream", grpc.unary_stream_rpc_method_handler),
    ("stream_unary", grpc.stream_unary_rpc_method_handler),
    ("stream_stream", grpc.stream_stream_rpc_method_handler),
)


class AuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Checks every call when it opens; a refused call is answered without its servicer."""

    def __init__(self, auth: SimulatorAuth) -> None:
        self._auth = auth

    async def intercept_service(
        self, continuation: Callable[[Any], Awaitable[Any]], handler_call_details: Any
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:  # no such method: gRPC answers UNIMPLEMENTED
            return None
        refusal = self._auth.check_call(
            handler_call_details.method, handler_call_details.invocation_metadata
        )
        if refusal is None:
            return handler
        code, details = refusal

        async def refuse(request: Any, context: Any) -> None:
            await context.abort(code, details)

        for kind, make in _HANDLER_KINDS:
            if getattr(handler, kind, None) is not None:
                return make(
                    refuse,
                    request_deserializer=handler.request_deserializer,
                    response_serializer=handler.response_serializer,
                )
        return handler


# ------------------------------------------------------------------------------ CLI helpers


def _lifetime(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def add_auth_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``simulate`` options that turn auth on."""
    parser.add_argument(
        "--auth-public-key", type=Path, default=None, metavar="FILE",
        help="PEM RSA public key of the one client allowed in; turns auth on",
    )
    parser.add_argument(
        "--auth-client-id", default=None, metavar="ID", help="that client's client_id",
    )
    parser.add_argument(
        "--auth-scopes", nargs="+", default=sorted(ALL_SCOPES), metavar="SCOPE",
        help=f"scopes its tokens carry (default: {' '.join(sorted(ALL_SCOPES))})",
    )
    parser.add_argument(
        "--auth-participant-id", default=None, metavar="firms/F/users/U",
        help="its participant id: another firm in x-participant-id is refused",
    )
    parser.add_argument(
        "--auth-audience", default=DEFAULT_AUDIENCE, help="the API audience tokens are for",
    )
    parser.add_argument(
        "--token-lifetime", type=_lifetime, default=DEFAULT_TOKEN_LIFETIME_S, metavar="SECONDS",
        help=f"access-token lifetime (default {DEFAULT_TOKEN_LIFETIME_S:g})",
    )
    parser.add_argument(
        "--token-listen", type=listen_address, default="127.0.0.1:0", metavar="HOST:PORT",
        help="address of the HTTP token endpoint (default 127.0.0.1, any port)",
    )


def auth_from_args(args: argparse.Namespace) -> SimulatorAuth | None:
    """A SimulatorAuth from the parsed options; None without --auth-public-key."""
    if args.auth_public_key is None and args.auth_client_id is None:
        return None
    if args.auth_public_key is None or args.auth_client_id is None:
        raise ValueError("--auth-public-key and --auth-client-id go together")
    try:
        pem = args.auth_public_key.read_bytes()
    except OSError as exc:
        raise ValueError(f"--auth-public-key: cannot read {args.auth_public_key}: "
                         f"{exc.strerror}") from None
    try:
        registration = ClientRegistration(
            pem, frozenset(args.auth_scopes), args.auth_participant_id
        )
        return SimulatorAuth(
            {args.auth_client_id: registration},
            audience=args.auth_audience,
            token_lifetime_s=args.token_lifetime,
        )
    except ValueError as exc:
        raise ValueError(f"--auth-public-key: {exc}") from None
