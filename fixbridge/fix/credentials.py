"""Logon passwords: salted scrypt hashes in the config, checked in constant time.

The config holds only ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`` (made by
``fixbridge hash-password``); the clear password exists only in the client's Logon. Nothing
here logs or returns a password or a hash; a malformed stored hash is a configuration error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_SCHEME = "scrypt"
_N, _R, _P = 2**14, 8, 1
_SALT_BYTES, _KEY_BYTES = 16, 32


class PasswordHashError(ValueError):
    """A stored password hash is not in the ``scrypt$n$r$p$salt$hash`` form."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    key = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_KEY_BYTES)
    return f"{_SCHEME}${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def parse_hash(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != _SCHEME:
        raise PasswordHashError("password hash must look like scrypt$n$r$p$salt$hash")
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, key = (
            base64.b64decode(parts[4], validate=True),
            base64.b64decode(parts[5], validate=True),
        )
    except ValueError as exc:
        raise PasswordHashError(f"password hash is malformed: {exc}") from None
    if n < 2 or n & (n - 1) or r < 1 or p < 1 or not salt or not key:
        raise PasswordHashError("password hash has unusable scrypt parameters")
    return n, r, p, salt, key


def verify_password(password: str, encoded: str) -> bool:
    n, r, p, salt, key = parse_hash(encoded)
    candidate = hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(key), maxmem=256 * 1024 * 1024
    )
    return hmac.compare_digest(candidate, key)


def same_text(a: str, b: str) -> bool:
    """Constant-time equality for usernames (no early exit on the first difference)."""
    return hmac.compare_digest(a.encode(), b.encode())
