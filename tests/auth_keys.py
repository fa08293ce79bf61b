"""Throwaway RSA keys for the auth tests, made at test time and written only to tmp folders."""

from __future__ import annotations

import functools
import os
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from fixbridge.simulator.auth import (
    CLIENT_ASSERTION_TYPE,
    DEFAULT_AUDIENCE,
    GRANT_TYPE,
    SimulatorAuth,
)


@functools.cache
def rsa_key(name: str = "client", bits: int = 2048) -> RSAPrivateKey:
    """One key per name for the whole run (generating them is the slow part)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def private_pem(key: RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_private_key(path: Path, key: RSAPrivateKey, mode: int = 0o600) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as file:
        file.write(private_pem(key))
    os.chmod(path, mode)
    return path


def bearer_metadata(auth: SimulatorAuth, key: RSAPrivateKey, client: str
                    ) -> tuple[tuple[str, str]]:
    """gRPC metadata with a fresh access token from ``auth`` for ``client``, asked for with a
    signed assertion straight through :meth:`SimulatorAuth.token_request` (no HTTP)."""
    now = int(time.time())
    assertion = jwt.encode(
        {"iss": client, "sub": client, "aud": auth.token_url, "iat": now, "exp": now + 60,
         "jti": uuid.uuid4().hex},
        key, algorithm="RS256")
    answer = auth.token_request({
        "grant_type": GRANT_TYPE, "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion, "client_id": client, "audience": DEFAULT_AUDIENCE})
    return (("authorization", f"Bearer {answer['access_token']}"),)
