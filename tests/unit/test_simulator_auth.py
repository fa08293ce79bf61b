"""The simulator's token endpoint over a real socket, and its per-call checks.

Each refusal test breaks one rule of RFC 7523 / spec §4.1 in an otherwise valid request and
expects the endpoint's OAuth error to name that rule. The call checks (``check_call``) are
what the gRPC interceptor applies when a stream opens.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import grpc
import jwt
import pytest

from fixbridge.simulator.auth import (
    CLIENT_ASSERTION_TYPE,
    ClientRegistration,
    SimulatorAuth,
    required_scope,
)
from fixbridge.upstream.auth import http_post_json
from tests.auth_keys import public_pem, rsa_key

AUDIENCE = "https://api.sim.test"
DROPCOPY = "/polymarket.v1.DropCopyAPI/CreateDropCopySubscription"
INSTRUMENTS = "/polymarket.v1.DropCopyAPI/CreateInstrumentStateChangeSubscription"
REPORTS = "/polymarket.v1.ReportAPI/SearchExecutions"


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class Endpoint:
    """A SimulatorAuth serving its token endpoint from a thread with its own event loop."""

    def __init__(self, auth: SimulatorAuth) -> None:
        self.auth = auth
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> Endpoint:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(self.auth.start("127.0.0.1:0"), self._loop)
        self.url = started.result(5)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.auth.stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    @property
    def port(self) -> int:
        return int(urllib.parse.urlsplit(self.url).port or 0)

    def post(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        status, body = http_post_json(self.url, form, timeout_s=5, context=None)
        return status, json.loads(body)

    def raw(self, request: bytes) -> tuple[int, dict[str, Any]]:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as conn:
            conn.sendall(request)
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        assert b"Connection: close" in head
        return status, json.loads(body)


def make_auth(clock: Clock | None = None) -> SimulatorAuth:
    return SimulatorAuth(
        {
            "full": ClientRegistration(
                public_pem(rsa_key()),
                frozenset({"read:dropcopy", "read:instruments", "read:reports"}),
                "firms/SIM-ALPHA/users/alpha-ops",
            ),
            "dropcopy-only": ClientRegistration(
                rsa_key().public_key(), frozenset({"read:dropcopy"})
            ),
        },
        audience=AUDIENCE,
        clock=clock or time.time,
    )


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def endpoint(clock: Clock) -> Iterator[Endpoint]:
    with Endpoint(make_auth(clock)) as running:
        yield running


@pytest.fixture(autouse=True)
def _reset_clock(clock: Clock) -> None:
    clock.offset = 0.0


def assertion(url: str, client_id: str = "full", *, key: Any = None, alg: str = "RS256",
              iat_in: int = 0, exp_in: int = 60, **claims: Any) -> str:
    """A signed assertion; ``iat_in`` and ``exp_in`` are seconds from the moment it is signed."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": client_id, "sub": client_id, "aud": url, "iat": now + iat_in,
        "exp": now + exp_in, "jti": secrets.token_hex(8),
    }
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key if key is not None else rsa_key(), algorithm=alg)


def form(url: str, client_id: str = "full", **changes: str) -> dict[str, str]:
    fields = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion(url, client_id),
        "audience": AUDIENCE,
    }
    fields.update(changes)
    return fields


# ------------------------------------------------------------------------------- granted


def test_a_valid_assertion_gets_a_bearer_token(endpoint: Endpoint) -> None:
    issued = endpoint.auth.tokens_issued
    status, body = endpoint.post(form(endpoint.url))
    assert status == 200
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 180
    assert body["scope"] == "read:dropcopy read:instruments read:reports"
    assert isinstance(body["access_token"], str) and len(body["access_token"]) >= 32
    assert endpoint.auth.tokens_issued == issued + 1


def test_a_form_encoded_request_is_accepted_too(endpoint: Endpoint) -> None:
    data = urllib.parse.urlencode(form(endpoint.url)).encode()
    status, body = endpoint.raw(
        b"POST /oauth/token HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        + f"Content-Length: {len(data)}\r\n\r\n".encode() + data
    )
    assert status == 200, body
    assert body["token_type"] == "Bearer"


def test_expires_in_is_the_lifetime_rounded_up() -> None:
    auth = make_auth()
    auth.token_lifetime_s = 1.2
    with Endpoint(auth) as running:
        status, body = running.post(form(running.url))
    assert (status, body["expires_in"]) == (200, 2)


# ------------------------------------------------------------------------------- refused


def _refusal(endpoint: Endpoint, **changes: Any) -> tuple[int, str, str]:
    url = endpoint.url
    client_id = changes.pop("client_id", "full")
    fields = form(url, client_id)
    claim_changes = changes.pop("claims", None)
    if claim_changes is not None:
        fields["client_assertion"] = assertion(url, client_id, **claim_changes)
    fields.update(changes)
    rejected = endpoint.auth.tokens_rejected
    status, body = endpoint.post(fields)
    assert set(body) == {"error", "error_description"}
    assert endpoint.auth.tokens_rejected == rejected + 1
    return status, body["error"], body["error_description"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"claims": {"key": rsa_key("intruder")}},
         (401, "invalid_client", "signature does not verify with the key registered for full")),
        ({"claims": {"sub": "someone-else"}},
         (401, "invalid_client", "sub must equal iss ('full'), got 'someone-else'")),
        ({"claims": {"iss": "dropcopy-only"}},
         (401, "invalid_client", "iss must be the client_id 'full', got 'dropcopy-only'")),
        ({"claims": {"aud": "https://elsewhere.test/oauth/token"}},
         (401, "invalid_client", "aud must be the token endpoint URL")),
        ({"claims": {"iat_in": 0, "exp_in": 301}},
         (401, "invalid_client", "exp - iat = 301 s exceeds 300 s")),
        ({"claims": {"iat_in": -400, "exp_in": -100}},
         (401, "invalid_client", "client_assertion expired")),
        ({"claims": {"iat_in": 600, "exp_in": 660}},
         (401, "invalid_client", "iat is in the future")),
        ({"claims": {"exp": None}}, (401, "invalid_client", "exp claim missing")),
        ({"claims": {"jti": None}}, (401, "invalid_client", "jti claim missing")),
        ({"claims": {"alg": "HS256", "key": "a-shared-secret-of-32-bytes-long!"}},
         (401, "invalid_client", "alg is 'HS256'; RS256 is required")),
        ({"client_assertion": "not-a-jwt"}, (401, "invalid_client", "not a JWT")),
        ({"client_id": "stranger"}, (401, "invalid_client", "unknown client_id 'stranger'")),
        ({"grant_type": "password"},
         (400, "unsupported_grant_type", "grant_type must be client_credentials")),
        ({"client_assertion_type": "urn:other"},
         (400, "invalid_request", "client_assertion_type must be")),
        ({"audience": "https://api.other.test"},
         (400, "invalid_request", "unknown audience 'https://api.other.test'")),
        ({"client_assertion": ""}, (400, "invalid_request", "missing parameter client_assertion")),
    ],
    ids=[
        "other-key", "sub-not-iss", "iss-not-client", "wrong-aud", "exp-too-far", "expired",
        "iat-future", "no-exp", "no-jti", "hs256", "not-jwt", "unknown-client",
        "wrong-grant-type", "wrong-assertion-type", "wrong-audience", "no-assertion",
    ],
)
def test_each_broken_rule_is_refused_by_name(
    endpoint: Endpoint, changes: dict[str, Any], expected: tuple[int, str, str]
) -> None:
    status, error, description = _refusal(endpoint, **dict(changes))
    assert (status, error) == expected[:2]
    assert expected[2] in description


def test_a_replayed_assertion_is_refused(endpoint: Endpoint) -> None:
    fields = form(endpoint.url)
    assert endpoint.post(fields)[0] == 200
    status, body = endpoint.post(fields)
    assert status == 401
    assert body == {
        "error": "invalid_client",
        "error_description": "jti already used: a replayed client_assertion",
    }


@pytest.mark.parametrize(
    ("request_bytes", "status", "text"),
    [
        (b"GET /oauth/token HTTP/1.1\r\nHost: x\r\n\r\n", 405, "takes POST"),
        (b"POST /token HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 404, "no endpoint at /token"),
        (b"POST /oauth/token HTTP/1.1\r\nContent-Type: application/json\r\n"
         b"Content-Length: 999999\r\n\r\n", 413, "body over"),
        (b"POST /oauth/token HTTP/1.1\r\nContent-Type: application/json\r\n"
         b"Content-Length: 5\r\n\r\n{oops", 400, "not valid JSON"),
        (b"POST /oauth/token HTTP/1.1\r\nContent-Type: text/plain\r\n"
         b"Content-Length: 2\r\n\r\n{}", 415, "Content-Type must be"),
        (b"POST /oauth/token HTTP/1.1\r\nContent-Type: application/json\r\n\r\n", 411,
         "Content-Length required"),
        (b"POST /oauth/token HTTP/1.1\r\nX: " + b"a" * 20_000 + b"\r\n\r\n", 431, "too large"),
    ],
    ids=["get", "wrong-path", "too-big", "bad-json", "media-type", "no-length", "huge-head"],
)
def test_http_that_is_not_a_token_request_is_refused(
    endpoint: Endpoint, request_bytes: bytes, status: int, text: str
) -> None:
    got_status, body = endpoint.raw(request_bytes)
    assert got_status == status
    assert text in body["error_description"]


# ---------------------------------------------------------------------------- call checks


def _token(endpoint: Endpoint, client_id: str = "full") -> str:
    status, body = endpoint.post(form(endpoint.url, client_id))
    assert status == 200, body
    return str(body["access_token"])


def _bearer(token: str, participant: str | None = None) -> list[tuple[str, str]]:
    metadata = [("authorization", f"Bearer {token}")]
    if participant is not None:
        metadata.append(("x-participant-id", participant))
    return metadata


def test_scopes_by_method() -> None:
    assert required_scope(DROPCOPY) == "read:dropcopy"
    assert required_scope("/polymarket.v1.DropCopyAPI/CreatePositionChangeSubscription") == (
        "read:dropcopy"
    )
    assert required_scope(INSTRUMENTS) == "read:instruments"
    assert required_scope(REPORTS) == "read:reports"
    assert required_scope("/polymarket.v1.ReportAPI/DownloadTrades") == "read:reports"
    # The market-data page: "only requires Auth0 JWT authentication with read:marketdata scope".
    for method in ("CreateMarketDataSubscription", "BiDirectionalStreamMarketData"):
        assert required_scope(f"/polymarket.v1.MarketDataSubscriptionAPI/{method}") == (
            "read:marketdata")
    assert required_scope("/polymarket.v1.OrderAPI/CreateOrder") is None


def test_a_call_with_a_valid_token_and_scope_passes(endpoint: Endpoint) -> None:
    token = _token(endpoint)
    for method in (DROPCOPY, INSTRUMENTS, REPORTS):
        assert endpoint.auth.check_call(method, _bearer(token)) is None


MALFORMED = "malformed authorization metadata: expected 'Bearer <token>'"


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ([], "missing authorization metadata: send 'Bearer <token>'"),
        ([("authorization", "Basic dXNlcjpwdw==")], MALFORMED),
        ([("authorization", "Bearer")], MALFORMED),
        ([("authorization", "Bearer not-issued-here")], "invalid access token"),
    ],
)
def test_a_call_without_a_good_token_is_unauthenticated(
    endpoint: Endpoint, metadata: list[tuple[str, str]], message: str
) -> None:
    refused = endpoint.auth.counters.calls_unauthenticated
    assert endpoint.auth.check_call(DROPCOPY, metadata) == (
        grpc.StatusCode.UNAUTHENTICATED, message
    )
    assert endpoint.auth.counters.calls_unauthenticated == refused + 1


def test_an_expired_token_is_unauthenticated(endpoint: Endpoint, clock: Clock) -> None:
    token = _token(endpoint)
    clock.offset = 181.0
    assert endpoint.auth.check_call(DROPCOPY, _bearer(token)) == (
        grpc.StatusCode.UNAUTHENTICATED, "access token expired"
    )


def test_revoke_all_refuses_every_token_issued_so_far(endpoint: Endpoint) -> None:
    before = _token(endpoint)
    endpoint.auth.revoke_all()
    assert endpoint.auth.check_call(DROPCOPY, _bearer(before)) == (
        grpc.StatusCode.UNAUTHENTICATED, "access token revoked"
    )
    assert endpoint.auth.check_call(DROPCOPY, _bearer(_token(endpoint))) is None


def test_a_missing_scope_is_permission_denied_with_the_spec_message(endpoint: Endpoint) -> None:
    token = _token(endpoint, "dropcopy-only")
    assert endpoint.auth.check_call(DROPCOPY, _bearer(token)) is None
    assert endpoint.auth.check_call(INSTRUMENTS, _bearer(token)) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "permission denied: missing required scope read:instruments",
    )
    assert endpoint.auth.check_call(REPORTS, _bearer(token)) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "permission denied: missing required scope read:reports",
    )


def test_another_firm_in_x_participant_id_is_cross_firm(endpoint: Endpoint) -> None:
    token = _token(endpoint)
    own = _bearer(token, "firms/SIM-ALPHA/users/someone")
    assert endpoint.auth.check_call(DROPCOPY, own) is None
    code, message = endpoint.auth.check_call(
        DROPCOPY, _bearer(token, "firms/SIM-BRAVO/users/alpha-ops")
    ) or (None, "")
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert "cross-firm" in message and "SIM-BRAVO" in message
    code, message = endpoint.auth.check_call(DROPCOPY, _bearer(token, "SIM-ALPHA")) or (None, "")
    assert code == grpc.StatusCode.PERMISSION_DENIED


def test_a_method_no_table_knows_is_denied(endpoint: Endpoint) -> None:
    token = _token(endpoint)
    refusal = endpoint.auth.check_call("/polymarket.v1.OrderAPI/CreateOrder", _bearer(token))
    assert refusal is not None and refusal[0] == grpc.StatusCode.PERMISSION_DENIED


def test_token_lifetime_applies_to_tokens_issued_afterwards(
    endpoint: Endpoint, clock: Clock
) -> None:
    endpoint.auth.token_lifetime_s = 2.0
    try:
        token = _token(endpoint)
    finally:
        endpoint.auth.token_lifetime_s = 180.0
    clock.offset = 2.5
    assert endpoint.auth.check_call(DROPCOPY, _bearer(token)) == (
        grpc.StatusCode.UNAUTHENTICATED, "access token expired"
    )
    with pytest.raises(ValueError):
        endpoint.auth.token_lifetime_s = 0
