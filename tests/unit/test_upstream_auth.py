"""The bridge's Private Key JWT client: the assertion, the token cache, and what never leaks.

The token endpoint is a fake ``fetch`` and time an injected clock, so each test states one
rule: claims and signature, caching and refresh ahead of expiry, one request for concurrent
callers, every malformed answer named, and no token, assertion or key in any message.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from fixbridge.config import UpstreamAuthConfig
from fixbridge.ops.metrics import Metrics
from fixbridge.upstream import auth
from fixbridge.upstream.auth import (
    CLIENT_ASSERTION_TYPE,
    AuthConfigError,
    AuthError,
    TokenSource,
    build_client_assertion,
    load_private_key,
)
from tests.auth_keys import private_pem, public_pem, rsa_key, write_private_key

TOKEN_URL = "https://auth.example.test/oauth/token"
AUDIENCE = "https://api.example.test"
PARTICIPANT = "firms/SIM-ALPHA/users/alpha-ops"
ACCESS_TOKEN = "opaque-access-token-ZXhhbXBsZQ"


def config(tmp_path: Path, **changes: Any) -> UpstreamAuthConfig:
    fields: dict[str, Any] = {
        "client_id": "drop-copy-client",
        "token_url": TOKEN_URL,
        "audience": AUDIENCE,
        "private_key_file": write_private_key(tmp_path / "key.pem", rsa_key()),
        "participant_id": PARTICIPANT,
    }
    fields.update(changes)
    return UpstreamAuthConfig(**fields)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Endpoint:
    """A fake token endpoint: records each form, answers from a list (the last repeats)."""

    def __init__(self, *answers: tuple[int, Any]) -> None:
        self.answers = list(answers) or [ok()]
        self.forms: list[dict[str, str]] = []

    def __call__(self, url: str, form: dict[str, str]) -> tuple[int, bytes]:
        assert url == TOKEN_URL
        self.forms.append(form)
        status, body = self.answers[min(len(self.forms), len(self.answers)) - 1]
        return status, body if isinstance(body, bytes) else json.dumps(body).encode()


def ok(token: str = ACCESS_TOKEN, expires_in: int = 180) -> tuple[int, Any]:
    return 200, {"access_token": token, "token_type": "Bearer", "expires_in": expires_in}


def source(tmp_path: Path, endpoint: Any, clock: Callable[[], float] | None = None,
           **changes: Any) -> TokenSource:
    return TokenSource(config(tmp_path, **changes), clock=clock or Clock(), fetch=endpoint)


def claims_of(assertion: str) -> dict[str, Any]:
    return jwt.decode(
        assertion,
        rsa_key().public_key(),
        algorithms=["RS256"],
        audience=TOKEN_URL,
        options={"verify_exp": False, "verify_iat": False},
    )


# ------------------------------------------------------------------------------ assertion


def test_assertion_is_rs256_signed_with_the_rfc7523_claims() -> None:
    assertion = build_client_assertion(
        client_id="drop-copy-client", token_url=TOKEN_URL, key=rsa_key(), now=1_800_000_000,
        jti="j-1",
    )
    assert jwt.get_unverified_header(assertion)["alg"] == "RS256"
    assert claims_of(assertion) == {
        "iss": "drop-copy-client",
        "sub": "drop-copy-client",
        "aud": TOKEN_URL,
        "iat": 1_800_000_000,
        "exp": 1_800_000_300,
        "jti": "j-1",
    }


def test_assertion_signed_by_another_key_does_not_verify() -> None:
    assertion = build_client_assertion(
        client_id="c", token_url=TOKEN_URL, key=rsa_key("other"), now=1, jti="j"
    )
    with pytest.raises(jwt.InvalidSignatureError):
        claims_of(assertion)


@pytest.mark.parametrize("lifetime", [0, 301, 3600])
def test_assertion_lifetime_is_at_most_five_minutes(lifetime: int) -> None:
    with pytest.raises(ValueError, match="lifetime_s"):
        build_client_assertion(
            client_id="c", token_url=TOKEN_URL, key=rsa_key(), now=1, jti="j", lifetime_s=lifetime
        )


def test_each_token_request_carries_a_fresh_assertion(tmp_path: Path) -> None:
    endpoint = Endpoint()
    tokens = source(tmp_path, endpoint)

    async def twice() -> None:
        await tokens.metadata()
        tokens.invalidate()
        await tokens.metadata()

    asyncio.run(twice())
    assert len(endpoint.forms) == 2
    for form in endpoint.forms:
        assert form["grant_type"] == "client_credentials"
        assert form["client_id"] == "drop-copy-client"
        assert form["client_assertion_type"] == CLIENT_ASSERTION_TYPE
        assert form["audience"] == AUDIENCE
        claims = claims_of(form["client_assertion"])
        assert claims["exp"] - claims["iat"] <= 300
        assert claims["iat"] == 1_800_000_000
    jtis = {claims_of(f["client_assertion"])["jti"] for f in endpoint.forms}
    assert len(jtis) == 2


# ------------------------------------------------------------------------------- caching


def test_metadata_is_bearer_token_and_participant_id(tmp_path: Path) -> None:
    tokens = source(tmp_path, Endpoint())
    assert asyncio.run(tokens.metadata()) == (
        ("authorization", f"Bearer {ACCESS_TOKEN}"),
        ("x-participant-id", PARTICIPANT),
    )


def test_without_participant_id_only_authorization_is_sent(tmp_path: Path) -> None:
    tokens = source(tmp_path, Endpoint(), participant_id=None)
    assert asyncio.run(tokens.metadata()) == (("authorization", f"Bearer {ACCESS_TOKEN}"),)


def test_token_is_reused_until_refresh_ahead_of_expiry(tmp_path: Path) -> None:
    endpoint = Endpoint(ok("first"), ok("second"))
    clock = Clock()
    tokens = source(tmp_path, endpoint, clock)  # 180 s tokens, refresh 30 s ahead

    async def at(offset: float) -> str:
        clock.now = 1_800_000_000.0 + offset
        return dict(await tokens.metadata())["authorization"]

    assert asyncio.run(at(0)) == "Bearer first"
    assert tokens.expires_at == 1_800_000_180.0
    assert asyncio.run(at(149.9)) == "Bearer first"
    assert len(endpoint.forms) == 1
    assert asyncio.run(at(150.0)) == "Bearer second"
    assert len(endpoint.forms) == 2


def test_a_short_lived_token_is_refreshed_at_half_its_life(tmp_path: Path) -> None:
    endpoint = Endpoint(ok("a", expires_in=2), ok("b", expires_in=2))
    clock = Clock()
    tokens = source(tmp_path, endpoint, clock)  # refresh_ahead_s 30 > the 2 s lifetime
    asyncio.run(tokens.metadata())
    clock.now += 0.9
    asyncio.run(tokens.metadata())
    assert len(endpoint.forms) == 1
    clock.now += 0.2
    asyncio.run(tokens.metadata())
    assert len(endpoint.forms) == 2


def test_a_failed_early_refresh_falls_back_to_the_still_valid_token(tmp_path: Path) -> None:
    endpoint = Endpoint(ok("first"), (503, b"down"))
    clock = Clock()
    tokens = source(tmp_path, endpoint, clock)
    asyncio.run(tokens.metadata())
    clock.now += 170  # inside the refresh window, 10 s left
    assert dict(asyncio.run(tokens.metadata()))["authorization"] == "Bearer first"
    assert len(endpoint.forms) == 2
    clock.now += 9.5  # half a second left: not handed out
    with pytest.raises(AuthError, match="HTTP 503"):
        asyncio.run(tokens.metadata())


def test_invalidate_makes_the_next_call_fetch(tmp_path: Path) -> None:
    endpoint = Endpoint(ok("first"), ok("second"))
    tokens = source(tmp_path, endpoint)
    asyncio.run(tokens.metadata())
    tokens.invalidate()
    assert tokens.expires_at == 0.0
    assert dict(asyncio.run(tokens.metadata()))["authorization"] == "Bearer second"


def test_invalidating_a_token_already_replaced_keeps_the_new_one(tmp_path: Path) -> None:
    endpoint = Endpoint(ok("first"), ok("second"), ok("third"))
    tokens = source(tmp_path, endpoint)
    stale = asyncio.run(tokens.metadata())  # a stream opened with "first" ...
    tokens.invalidate(stale)  # ... and was refused: drop it
    fresh = asyncio.run(tokens.metadata())
    assert dict(fresh)["authorization"] == "Bearer second"
    tokens.invalidate(stale)  # a second stream refused with "first" must not drop "second"
    assert dict(asyncio.run(tokens.metadata()))["authorization"] == "Bearer second"
    assert len(endpoint.forms) == 2


def test_concurrent_callers_share_one_request(tmp_path: Path) -> None:
    calls = 0

    async def main() -> list[tuple[tuple[str, str], ...]]:
        release = asyncio.Event()

        async def slow_endpoint(url: str, form: dict[str, str]) -> tuple[int, bytes]:
            nonlocal calls
            calls += 1
            await release.wait()
            return 200, json.dumps(ok()[1]).encode()

        tokens = source(tmp_path, slow_endpoint)
        waiting = [asyncio.create_task(tokens.metadata()) for _ in range(5)]
        await asyncio.sleep(0.01)
        waiting[0].cancel()  # one caller giving up does not cancel the others' request
        release.set()
        done = await asyncio.gather(*waiting[1:])
        return done

    results = asyncio.run(main())
    assert calls == 1
    assert len(set(results)) == 1


def test_results_are_counted_and_expiry_exported(tmp_path: Path) -> None:
    metrics = Metrics()
    endpoint = Endpoint(ok(), (503, b"busy"))
    tokens = TokenSource(config(tmp_path), metrics=metrics, clock=Clock(), fetch=endpoint)
    asyncio.run(tokens.metadata())
    tokens.invalidate()
    with pytest.raises(AuthError):
        asyncio.run(tokens.metadata())
    sample = metrics.registry.get_sample_value
    assert sample("fixbridge_upstream_token_refreshes_total", {"result": "ok"}) == 1
    assert sample("fixbridge_upstream_token_refreshes_total", {"result": "failed"}) == 1
    assert sample("fixbridge_upstream_token_expiry_timestamp_seconds") == 1_800_000_180.0


# ------------------------------------------------------------------------- bad answers


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ((401, {"error": "invalid_client", "error_description": "bad signature"}),
         "refused the request (HTTP 401): invalid_client: bad signature"),
        ((403, {"error": "access_denied"}), "(HTTP 403): access_denied"),
        ((502, b"<html>bad gateway</html>"), "answered HTTP 502"),
        ((200, b"not json"), "HTTP 200 without a JSON object"),
        ((200, [1, 2]), "HTTP 200 without a JSON object"),
        ((200, {"token_type": "Bearer", "expires_in": 180}), "access_token missing"),
        ((200, {"access_token": "", "token_type": "Bearer", "expires_in": 180}),
         "access_token missing or not a non-empty string"),
        ((200, {"access_token": 7, "token_type": "Bearer", "expires_in": 180}),
         "access_token missing"),
        ((200, {"access_token": "t", "token_type": "mac", "expires_in": 180}),
         "token_type is mac, not Bearer"),
        ((200, {"access_token": "t", "expires_in": 180}), "token_type is None, not Bearer"),
        ((200, {"access_token": "t", "token_type": "Bearer", "expires_in": "180"}),
         "expires_in is 180, not a positive integer"),
        ((200, {"access_token": "t", "token_type": "Bearer", "expires_in": 0}),
         "expires_in is 0, not a positive integer"),
        ((200, {"access_token": "t", "token_type": "Bearer", "expires_in": True}),
         "expires_in is True"),
        ((200, {"access_token": "t", "token_type": "Bearer", "expires_in": 1.5}),
         "expires_in is 1.5"),
        ((200, {"access_token": "t", "token_type": "Bearer"}), "expires_in is None"),
    ],
)
def test_a_bad_answer_is_an_auth_error_naming_the_problem(
    tmp_path: Path, answer: tuple[int, Any], expected: str
) -> None:
    tokens = source(tmp_path, Endpoint(answer))
    with pytest.raises(AuthError) as raised:
        asyncio.run(tokens.metadata())
    assert expected in str(raised.value)
    assert TOKEN_URL in str(raised.value)
    assert tokens.expires_at == 0.0


def test_token_type_is_case_insensitive(tmp_path: Path) -> None:
    answer = (200, {"access_token": "t", "token_type": "bearer", "expires_in": 60})
    tokens = source(tmp_path, Endpoint(answer))
    assert dict(asyncio.run(tokens.metadata()))["authorization"] == "Bearer t"


def test_a_slow_endpoint_times_out(tmp_path: Path) -> None:
    async def never(url: str, form: dict[str, str]) -> tuple[int, bytes]:
        await asyncio.sleep(10)
        raise AssertionError("not reached")

    tokens = source(tmp_path, never, request_timeout_s=0.05)
    with pytest.raises(AuthError, match=r"token request to \S+ timed out after 0.05 s"):
        asyncio.run(tokens.metadata())


def test_a_transport_failure_names_the_cause(tmp_path: Path) -> None:
    def refused(url: str, form: dict[str, str]) -> tuple[int, bytes]:
        raise ConnectionRefusedError(111, "Connection refused")

    with pytest.raises(AuthError, match="failed: Connection refused"):
        asyncio.run(source(tmp_path, refused).metadata())


def test_the_default_transport_reports_a_closed_port(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/oauth/token"
    tokens = TokenSource(config(tmp_path, token_url=url, request_timeout_s=2))
    with pytest.raises(AuthError, match=f"token request to {url} failed: .*refused"):
        asyncio.run(tokens.metadata())


# ------------------------------------------------------------------------------- secrets


def test_no_token_assertion_or_key_in_logs_errors_or_repr(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "s3cr3t-access-token-value"
    echoed: list[str] = []

    def echoing_endpoint(url: str, form: dict[str, str]) -> tuple[int, bytes]:
        if not echoed:
            echoed.append(form["client_assertion"])
            return 200, json.dumps(ok(secret)[1]).encode()
        echoed.append(form["client_assertion"])
        # A careless endpoint quoting the request back in its error.
        body = {"error": "invalid_grant", "error_description": form["client_assertion"]}
        return 400, json.dumps(body).encode()

    tokens = source(tmp_path, echoing_endpoint)
    asyncio.run(tokens.metadata())
    texts = [repr(tokens), repr(tokens._inflight)]  # a done Task's repr shows its result
    tokens.invalidate()
    with pytest.raises(AuthError) as raised:
        asyncio.run(tokens.metadata())
    texts += [str(raised.value), repr(raised.value), caplog.text]
    pem_lines = private_pem(rsa_key()).decode().splitlines()[1:-1]
    for text in texts:
        assert secret not in text
        for assertion in echoed:
            assert assertion not in text
            assert assertion.split(".")[2] not in text  # not even the signature
        assert not any(line in text for line in pem_lines)
    assert "upstream token refreshed, expires in 180 s" in caplog.text
    assert "invalid_grant: <jwt>" in str(raised.value)


# ------------------------------------------------------------------------------ run loop


def test_run_refreshes_ahead_and_retries_failures_with_doubling_backoff(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "RETRY_INITIAL_S", 0.02)
    monkeypatch.setattr(auth, "RETRY_MAX_S", 0.08)
    caplog.set_level(logging.INFO, logger="fixbridge.upstream.auth")
    failure = (503, {"error": "temporarily_unavailable", "error_description": "try later"})
    endpoint = Endpoint(failure, failure, failure, failure, ok("t1", 1), ok("t2", 1))
    called_at: list[float] = []

    def timed(url: str, form: dict[str, str]) -> tuple[int, bytes]:
        called_at.append(time.monotonic())
        return endpoint(url, form)

    metrics = Metrics()
    tokens = TokenSource(config(tmp_path), metrics=metrics, fetch=timed)

    async def main() -> None:
        task = asyncio.create_task(tokens.run())
        await asyncio.sleep(0.15 + 0.9)  # 4 failures (0.02+0.04+0.08+0.08), then 1 s tokens
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    gaps = [b - a for a, b in itertools.pairwise(called_at)]
    for gap, backoff in zip(gaps, (0.02, 0.04, 0.08, 0.08), strict=False):
        assert gap >= backoff * 0.9
    assert len(called_at) >= 6, "a 1 s token is replaced about every 0.5 s"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 4
    assert all("HTTP 503" in w and "temporarily_unavailable: try later" in w for w in warnings)
    sample = metrics.registry.get_sample_value
    assert sample("fixbridge_upstream_token_refreshes_total", {"result": "failed"}) == 4
    assert sample("fixbridge_upstream_token_refreshes_total", {"result": "ok"}) >= 2


# ------------------------------------------------------------------------------ the key


def test_key_from_file_and_from_env(tmp_path: Path) -> None:
    from_file = load_private_key(config(tmp_path))
    assert from_file.private_numbers() == rsa_key().private_numbers()
    pem = private_pem(rsa_key()).decode()
    env_config = config(tmp_path, private_key_file=None, private_key_env="PMX_KEY")
    for value in (pem, pem.replace("\n", "\\n")):  # a PEM flattened onto one line works too
        key = load_private_key(env_config, environ={"PMX_KEY": value})
        assert key.private_numbers() == rsa_key().private_numbers()


def _ec_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _encrypted_pem() -> bytes:
    return rsa_key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"-----BEGIN PRIVATE KEY-----\nZ2FyYmFnZQ==\n-----END PRIVATE KEY-----\n",
         "not a PEM private key"),
        (b"", "not a PEM private key"),
        (None, "encrypted"),
        (None, "RS256 needs an RSA key"),
        (None, "at least 2048"),
        (None, "public"),
    ],
    ids=["garbage", "empty", "encrypted", "ec", "small", "public-key"],
)
def test_an_unusable_key_file_names_the_config_key(
    tmp_path: Path, content: bytes | None, expected: str, request: pytest.FixtureRequest
) -> None:
    case = request.node.callspec.id
    if content is None:
        content = {
            "encrypted": _encrypted_pem,
            "ec": _ec_pem,
            "small": lambda: private_pem(rsa_key("small", 1024)),
            "public-key": lambda: public_pem(rsa_key()),
        }[case]()
    path = tmp_path / "bad.pem"
    path.write_bytes(content)
    path.chmod(0o600)
    if case == "public-key":
        expected = "not a PEM private key"
    with pytest.raises(AuthConfigError) as raised:
        load_private_key(config(tmp_path, private_key_file=path))
    message = str(raised.value)
    assert message.startswith("upstream.auth.private_key_file: ")
    assert expected in message
    assert "BEGIN" not in message and "Z2FyYmFnZQ" not in message


def test_a_missing_key_file_or_variable_is_named(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match=r"private_key_file: cannot read .*missing.pem"):
        load_private_key(config(tmp_path, private_key_file=tmp_path / "missing.pem"))
    env_config = config(tmp_path, private_key_file=None, private_key_env="PMX_KEY")
    with pytest.raises(AuthConfigError, match="private_key_env: environment variable PMX_KEY"):
        load_private_key(env_config, environ={})
    with pytest.raises(AuthConfigError, match="private_key_env: not a PEM private key"):
        load_private_key(env_config, environ={"PMX_KEY": "nonsense"})


def test_token_source_checks_the_key_when_built(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match="private_key_file"):
        TokenSource(config(tmp_path, private_key_file=tmp_path / "missing.pem"))


def test_a_key_file_readable_by_others_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_private_key(tmp_path / "open.pem", rsa_key(), mode=0o644)
    load_private_key(config(tmp_path, private_key_file=path))
    assert "readable by other users" in caplog.text
