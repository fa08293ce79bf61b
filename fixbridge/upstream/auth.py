"""Access tokens for the exchange's gRPC API: Private Key JWT (RFC 7523) client credentials.

The bridge signs a short-lived assertion with its RSA key, trades it at the token endpoint for
a bearer token (180 s at the exchange) and sends that token as ``authorization`` metadata when
a stream opens. A stream is authenticated once, when it opens: a token expiring under a
healthy stream changes nothing, the next connect uses the current one. :class:`TokenSource`
keeps one token for every subscriber, refreshes it ahead of expiry in the background, and
fetches at once when a stream was refused as UNAUTHENTICATED.

This module must never log, repr or put into an exception the assertion, the access token, the
private key or the contents of its file: errors name the endpoint, the HTTP status, the
endpoint's error code and description, or the config key that is wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import math
import os
import re
import secrets
import ssl
import stat
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from fixbridge.config import UpstreamAuthConfig
from fixbridge.ops.metrics import Metrics

log = logging.getLogger("fixbridge.upstream.auth")

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRANT_TYPE = "client_credentials"
MAX_ASSERTION_LIFETIME_S = 300  # spec §4.1: exp at most 5 min after iat
MIN_RSA_BITS = 2048
RETRY_INITIAL_S = 1.0
MIN_REMAINING_S = 1.0  # a token closer to expiry than this is not handed out
RETRY_MAX_S = 30.0
MAX_RESPONSE_BYTES = 64 * 1024
_MAX_DETAIL = 200  # longest piece of endpoint-supplied text quoted in an error
# Anything shaped like a JWT (an echoed assertion or token) is never quoted.
_JWT_LIKE = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")

Form = dict[str, str]
Fetch = Callable[[str, Form], Awaitable[tuple[int, bytes]] | tuple[int, bytes]]
"""POST ``form`` as JSON to a URL; returns (HTTP status, response body). May be sync or async.
Transport failures raise :class:`AuthError` (or ``OSError``)."""


class AuthError(RuntimeError):
    """No access token could be obtained; the message names the cause, never a secret."""


class AuthConfigError(ValueError):
    """The configured private key is unusable; the message names the config key."""


# --------------------------------------------------------------------------------- the key


def load_private_key(
    config: UpstreamAuthConfig, environ: Mapping[str, str] = os.environ
) -> RSAPrivateKey:
    """The RSA key that signs assertions, from ``private_key_file`` or ``private_key_env``.

    Checked here, at startup, so a bad key stops the bridge with a clear message instead of
    failing every reconnect later.
    """
    if config.private_key_file is not None:
        where = "upstream.auth.private_key_file"
        path = config.private_key_file
        try:
            pem = path.read_bytes()
            mode = path.stat().st_mode
        except OSError as exc:
            raise AuthConfigError(
                f"{where}: cannot read {path}: {exc.strerror or type(exc).__name__}"
            ) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("%s: %s is readable by other users; chmod 600 it", where, path)
    else:
        where = "upstream.auth.private_key_env"
        name = config.private_key_env or ""
        text = environ.get(name, "")
        if not text.strip():
            raise AuthConfigError(f"{where}: environment variable {name} is not set or empty")
        if "\n" not in text.strip() and "\\n" in text:
            text = text.replace("\\n", "\n")  # a PEM flattened onto one line
        pem = text.encode()
    return _parse_rsa_key(pem, where)


def _parse_rsa_key(pem: bytes, where: str) -> RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        raise AuthConfigError(
            f"{where}: the private key is encrypted; give an unencrypted PEM key"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        # cryptography's message may quote the input: say only what is wrong.
        raise AuthConfigError(f"{where}: not a PEM private key") from None
    if not isinstance(key, RSAPrivateKey):
        raise AuthConfigError(
            f"{where}: a {type(key).__name__.removeprefix('_')} key; RS256 needs an RSA key"
        )
    if key.key_size < MIN_RSA_BITS:
        raise AuthConfigError(
            f"{where}: RSA key of {key.key_size} bits; at least {MIN_RSA_BITS} are needed"
        )
    return key


# --------------------------------------------------------------------------- the assertion


def build_client_assertion(
    *,
    client_id: str,
    token_url: str,
    key: RSAPrivateKey,
    now: int,
    jti: str,
    lifetime_s: int = MAX_ASSERTION_LIFETIME_S,
) -> str:
    """The signed RS256 JWT that proves the client holds its key (RFC 7523 §3). Pure."""
    if not 0 < lifetime_s <= MAX_ASSERTION_LIFETIME_S:
        raise ValueError(f"lifetime_s must be in 1..{MAX_ASSERTION_LIFETIME_S}, got {lifetime_s}")
    if not jti:
        raise ValueError("jti must not be empty")
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_url,
        "iat": now,
        "exp": now + lifetime_s,
        "jti": jti,
    }
    return jwt.encode(claims, key, algorithm="RS256")


# ------------------------------------------------------------------------------ transport


def ssl_context_for(config: UpstreamAuthConfig) -> ssl.SSLContext | None:
    """Verification context for an https token URL (``ca_file`` or system roots)."""
    if not config.token_url.startswith("https://"):
        return None
    cafile = str(config.ca_file) if config.ca_file is not None else None
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise AuthConfigError(f"upstream.auth.ca_file: cannot load {cafile}: {exc}") from None


def http_post_json(
    url: str, form: Form, *, timeout_s: float, context: ssl.SSLContext | None
) -> tuple[int, bytes]:
    """Blocking POST of ``form`` as JSON; (status, body) for any HTTP answer, 4xx/5xx included."""
    request = urllib.request.Request(
        url,
        data=json.dumps(form).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s, context=context) as response:
            return int(response.status), response.read(MAX_RESPONSE_BYTES)
    except urllib.error.HTTPError as exc:
        with contextlib.closing(exc):
            return int(exc.code), exc.read(MAX_RESPONSE_BYTES)
    except urllib.error.URLError as exc:
        reason = exc.reason
        text = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
        raise AuthError(f"token request to {url} failed: {text}") from None
    except TimeoutError:
        raise AuthError(f"token request to {url} timed out after {timeout_s:g} s") from None
    except OSError as exc:
        raise AuthError(
            f"token request to {url} failed: {exc.strerror or type(exc).__name__}"
        ) from None


def _default_fetch(config: UpstreamAuthConfig) -> Fetch:
    context = ssl_context_for(config)

    async def fetch(url: str, form: Form) -> tuple[int, bytes]:
        return await asyncio.to_thread(
            http_post_json, url, form, timeout_s=config.request_timeout_s, context=context
        )

    return fetch


# ------------------------------------------------------------------------------- response


@dataclass(frozen=True)
class _Token:
    value: str = field(repr=False)  # never in a repr (a done Task shows its result)
    expires_at: float
    lifetime_s: float


def _quote(value: object) -> str:
    """Endpoint-supplied text, shortened and printable, for an error message."""
    text = _JWT_LIKE.sub("<jwt>", str(value))
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= _MAX_DETAIL else text[:_MAX_DETAIL] + "..."


def parse_token_response(url: str, status: int, body: bytes, requested_at: float) -> _Token:
    """A checked token, or AuthError naming what is wrong with the answer."""
    try:
        payload: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        payload = None
    if status != 200:
        if isinstance(payload, dict) and "error" in payload:
            detail = _quote(payload["error"])
            if payload.get("error_description"):
                detail += f": {_quote(payload['error_description'])}"
            raise AuthError(f"token endpoint {url} refused the request (HTTP {status}): {detail}")
        raise AuthError(f"token endpoint {url} answered HTTP {status}")
    if not isinstance(payload, dict):
        raise AuthError(f"token endpoint {url} answered HTTP 200 without a JSON object")
    token = payload.get("access_token")
    if not isinstance(token, str) or not token:
        raise AuthError(f"token endpoint {url}: access_token missing or not a non-empty string")
    token_type = payload.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise AuthError(f"token endpoint {url}: token_type is {_quote(token_type)}, not Bearer")
    expires_in = payload.get("expires_in")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0:
        raise AuthError(
            f"token endpoint {url}: expires_in is {_quote(expires_in)}, not a positive integer"
        )
    return _Token(token, requested_at + expires_in, float(expires_in))


# ---------------------------------------------------------------------------- TokenSource


class TokenSource:
    """One access token shared by every subscriber, refreshed before it expires.

    ``metadata()`` is what a subscriber sends when it opens a stream; ``run()`` is the
    background refresher; ``invalidate()`` is for a stream the exchange refused as
    UNAUTHENTICATED. ``clock`` is Unix time in seconds (also the expiry gauge's unit).
    """

    def __init__(
        self,
        config: UpstreamAuthConfig,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
        fetch: Fetch | None = None,
    ) -> None:
        self._config = config
        self._key = load_private_key(config)
        self._metrics = metrics
        self._clock = clock
        self._fetch = fetch if fetch is not None else _default_fetch(config)
        self._token: _Token | None = None
        self._inflight: asyncio.Task[_Token] | None = None

    def __repr__(self) -> str:
        state = "no token" if self._token is None else f"token until {self.expires_at:.0f}"
        return f"TokenSource(client_id={self._config.client_id!r}, {state})"

    @property
    def expires_at(self) -> float:
        """When the current token expires (Unix seconds); 0 before the first token or after
        :meth:`invalidate`."""
        return self._token.expires_at if self._token is not None else 0.0

    def _lead(self, token: _Token) -> float:
        """How long before expiry to replace ``token``: refresh_ahead_s, but never more than
        half its lifetime, so a short-lived token is not refetched on every call."""
        return min(self._config.refresh_ahead_s, token.lifetime_s / 2)

    def _fresh(self) -> _Token | None:
        token = self._token
        if token is not None and self._clock() < token.expires_at - self._lead(token):
            return token
        return None

    async def metadata(self) -> tuple[tuple[str, str], ...]:
        """gRPC metadata for a stream opening now; fetches a token if none is fresh enough.

        If that fetch fails while the current token is still valid, the current one is used:
        an endpoint outage shorter than refresh_ahead_s costs no stream.
        """
        token = self._fresh()
        if token is None:
            try:
                token = await self._refresh()
            except AuthError:
                token = self._token
                if token is None or self._clock() >= token.expires_at - MIN_REMAINING_S:
                    raise
        pairs: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token.value}"),)
        if self._config.participant_id:
            pairs += (("x-participant-id", self._config.participant_id),)
        return pairs

    def invalidate(self, refused: tuple[tuple[str, str], ...] | None = None) -> None:
        """The exchange refused the token: the next ``metadata()`` fetches a new one. With
        ``refused`` (the metadata the stream sent), only if that is still the current token:
        four streams refused at once must not discard the new token one of them just got."""
        current = self._token
        if refused is not None and current is not None and (
            ("authorization", f"Bearer {current.value}") not in refused
        ):
            return
        self._token = None

    async def run(self) -> None:
        """Refresh ahead of expiry until cancelled; on failure retry 1 s doubling to 30 s."""
        delay = RETRY_INITIAL_S
        while True:
            token = self._token
            if token is not None:
                wait = token.expires_at - self._lead(token) - self._clock()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue  # the token may have changed meanwhile; look again
            try:
                await self._refresh()
            except AuthError:
                await asyncio.sleep(delay)  # already logged and counted by _request
                delay = min(delay * 2, RETRY_MAX_S)
            else:
                delay = RETRY_INITIAL_S

    async def _refresh(self) -> _Token:
        """One request at a time: concurrent callers share the one in flight."""
        if self._inflight is None or self._inflight.done():
            task = asyncio.get_running_loop().create_task(
                self._request(), name="upstream-token-request"
            )
            # Its failure is logged in _request; retrieve it even if every caller gave up.
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._inflight = task
        # shield: a caller giving up (its stream task cancelled) does not cancel the others'.
        return await asyncio.shield(self._inflight)

    async def _request(self) -> _Token:
        config = self._config
        url = config.token_url
        requested_at = self._clock()
        assertion = build_client_assertion(
            client_id=config.client_id,
            token_url=url,
            key=self._key,
            now=math.floor(requested_at),
            jti=secrets.token_urlsafe(24),
        )
        form: Form = {
            "grant_type": GRANT_TYPE,
            "client_id": config.client_id,
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": assertion,
            "audience": config.audience,
        }
        try:
            token = parse_token_response(
                url, *(await self._post(url, form)), requested_at=requested_at
            )
        except AuthError as exc:
            self._count("failed")
            # An endpoint that echoes the request must not get the assertion into our logs.
            message = str(exc).replace(assertion, "<jwt>")
            log.warning("upstream token request failed: %s", message)
            raise AuthError(message) from None
        self._token = token
        self._count("ok")
        if self._metrics is not None:
            self._metrics.upstream_token_expiry.set(token.expires_at)
        log.info("upstream token refreshed, expires in %d s", round(token.lifetime_s))
        return token

    async def _post(self, url: str, form: Form) -> tuple[int, bytes]:
        timeout = self._config.request_timeout_s
        try:
            async with asyncio.timeout(timeout):
                answer = self._fetch(url, form)
                return await answer if inspect.isawaitable(answer) else answer
        except TimeoutError:
            raise AuthError(f"token request to {url} timed out after {timeout:g} s") from None
        except AuthError:
            raise
        except OSError as exc:
            raise AuthError(
                f"token request to {url} failed: {exc.strerror or type(exc).__name__}"
            ) from None
        except Exception as exc:  # an injected transport's bug: name it, quote nothing
            raise AuthError(f"token request to {url} failed: {type(exc).__name__}") from None

    def _count(self, result: str) -> None:
        if self._metrics is not None:
            self._metrics.upstream_token_refreshes.labels(result).inc()
