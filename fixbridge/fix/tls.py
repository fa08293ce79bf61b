"""TLS for the FIX acceptor: the server context, the peer's certificate and per-session checks.

One port serves every session, and a session is only known once its Logon has been read, which
is after the handshake. So the handshake *requests* a client certificate (``CERT_OPTIONAL``)
whenever any session needs one; a certificate that is presented must chain to the configured
client CA or the handshake fails. After the Logon names the session, ``check_client`` decides
whether that session's requirement is met by what the handshake produced.

Rules kept here:
- Never below TLS 1.2, whatever the configuration says.
- Key material never appears in an exception, a log line or a returned value: errors name the
  file and the problem only. Messages from libraries that parse key files are not passed on.
- No interactive prompts: an encrypted private key is a configuration error, not a reason for
  OpenSSL to ask a password on the terminal.
- Only a certificate that the handshake verified is reported as the peer's identity.
- Checks fail closed: a session that requires a client certificate refuses plain TCP, a
  missing certificate, and a certificate that matches none of its allow-lists. Names are
  compared literally (no wildcard expansion); DNS names case-insensitively, CNs exactly.
- This module only builds contexts and answers questions: it opens no sockets and logs nothing.
"""

from __future__ import annotations

import hashlib
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NoReturn

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from pydantic import BaseModel, ConfigDict, StrictBool, field_validator, model_validator

__all__ = [
    "PeerCertificate",
    "SessionTlsConfig",
    "TlsConfig",
    "TlsConfigError",
    "check_client",
    "normalise_fingerprint",
    "peer_identity",
    "server_context",
]

_HEX64 = re.compile(r"[0-9a-f]{64}")
_VERSIONS: dict[str, ssl.TLSVersion] = {
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}


class TlsConfigError(ValueError):
    """The TLS files or settings cannot be used; the message names the file and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsConfig(_Strict):
    """The listener's certificate, key and (optionally) the CA that client certificates need."""

    cert_file: Path
    key_file: Path
    # Required when any session sets require_client_cert: presented client certificates
    # must chain to one of these CAs or the handshake fails.
    client_ca_file: Path | None = None
    min_version: Literal["1.2", "1.3"] = "1.2"
    # OpenSSL cipher string for TLS 1.2 (TLS 1.3 suites are not affected); None = defaults.
    ciphers: str | None = None

    @field_validator("ciphers")
    @classmethod
    def _ciphers(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty; leave it out to use the defaults")
        return value


class SessionTlsConfig(_Strict):
    """What one session demands of the connection that logs on to it."""

    require_client_cert: StrictBool = False
    # Accepted certificate subject CNs or SAN DNS names; empty = any certificate the CA verified.
    allowed_subjects: tuple[str, ...] = ()
    # SHA-256 of the DER certificate, hex, colons optional, any case; stored normalised
    # (lowercase, no colons). Empty = no pinning.
    allowed_fingerprints: tuple[str, ...] = ()

    @field_validator("allowed_subjects")
    @classmethod
    def _subjects(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for subject in value:
            if not subject or subject != subject.strip():
                raise ValueError(f"{subject!r} is not a usable name (empty or padded)")
        return value

    @field_validator("allowed_fingerprints")
    @classmethod
    def _fingerprints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        normalised = []
        for given in value:
            fingerprint = normalise_fingerprint(given)
            if not _HEX64.fullmatch(fingerprint):
                raise ValueError(
                    f"{given!r} is not a SHA-256 fingerprint (64 hex digits, colons optional)"
                )
            normalised.append(fingerprint)
        return tuple(normalised)

    @model_validator(mode="after")
    def _lists_need_requirement(self) -> SessionTlsConfig:
        if not self.require_client_cert and (self.allowed_subjects or self.allowed_fingerprints):
            raise ValueError(
                "allowed_subjects / allowed_fingerprints only apply with require_client_cert = true"
            )
        return self


def normalise_fingerprint(value: str) -> str:
    """``AB:cd:...`` -> ``abcd...``: the form PeerCertificate and SessionTlsConfig use."""
    return value.replace(":", "").strip().lower()


@dataclass(frozen=True, slots=True)
class PeerCertificate:
    """The identity a verified client certificate carries."""

    subject: str  # RFC 4514 form, for logs
    common_name: str | None  # the first CN of the subject
    dns_names: tuple[str, ...]
    fingerprint_sha256: str  # lowercase hex, no colons, of the DER certificate

    def describe(self) -> str:
        names = ", ".join(repr(name) for name in self.dns_names) or "none"
        return f"CN={self.common_name!r} DNS=[{names}] sha256={self.fingerprint_sha256}"


# --- the server context ---------------------------------------------------------------------


def server_context(config: TlsConfig, *, want_client_certs: bool) -> ssl.SSLContext:
    """Build the listener's context; raise TlsConfigError naming the file if one is unusable.

    ``want_client_certs`` (true when any session requires a client certificate) makes the
    handshake request, not require, a certificate; it needs ``client_ca_file``.
    """
    if want_client_certs and config.client_ca_file is None:
        raise TlsConfigError(
            "client_ca_file is not set but a session requires a client certificate"
        )
    _check_cert_and_key(config.cert_file, config.key_file)

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _VERSIONS[config.min_version]  # only 1.2 and 1.3 exist here
    context.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
    context.options |= ssl.OP_NO_RENEGOTIATION
    if config.ciphers is not None:
        try:
            context.set_ciphers(config.ciphers)
        except ssl.SSLError:
            raise TlsConfigError(
                f"ciphers {config.ciphers!r}: OpenSSL selects no cipher from it"
            ) from None
    try:
        context.load_cert_chain(
            str(config.cert_file), str(config.key_file), password=_refuse_password
        )
    except (ssl.SSLError, OSError) as exc:
        raise TlsConfigError(
            f"cert_file {config.cert_file} / key_file {config.key_file}: "
            f"OpenSSL refused the pair ({_reason(exc)})"
        ) from None

    if config.client_ca_file is not None:
        _load_client_ca(context, config.client_ca_file)
    context.verify_mode = ssl.CERT_OPTIONAL if want_client_certs else ssl.CERT_NONE
    return context


def _refuse_password() -> NoReturn:
    # Only reached if OpenSSL finds an encrypted key that _check_cert_and_key let through.
    raise TlsConfigError("the private key is encrypted; an unencrypted key file is required")


def _reason(exc: BaseException) -> str:
    """A short, key-free description of an OpenSSL or OS error."""
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or "unknown OpenSSL error")
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return type(exc).__name__


def _read(label: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TlsConfigError(f"cannot read {label} {path}: {_reason(exc)}") from None


def _check_cert_and_key(cert_file: Path, key_file: Path) -> None:
    """Parse both files and compare public keys, so each problem gets a precise message."""
    cert_pem = _read("cert_file", cert_file)
    key_pem = _read("key_file", key_file)
    # TlsConfigError is a ValueError: nothing that raises it may sit inside these try blocks.
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        raise TlsConfigError(
            f"cert_file {cert_file}: no PEM certificate could be read from it"
        ) from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise TlsConfigError(
            f"key_file {key_file}: the private key is encrypted; an unencrypted key is "
            "required (protect it with file permissions)"
        ) from None
    except (ValueError, NotImplementedError):
        raise TlsConfigError(
            f"key_file {key_file}: no usable PEM private key could be read from it"
        ) from None
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) != chain[0].public_key().public_bytes(*spki):
        raise TlsConfigError(
            f"key_file {key_file} does not match the certificate in cert_file {cert_file}"
        )


def _load_client_ca(context: ssl.SSLContext, ca_file: Path) -> None:
    ca_pem = _read("client_ca_file", ca_file)
    try:
        found = x509.load_pem_x509_certificates(ca_pem)
    except ValueError:
        found = []
    if not found:
        raise TlsConfigError(f"client_ca_file {ca_file}: no PEM certificate could be read from it")
    try:
        context.load_verify_locations(cafile=str(ca_file))
    except (ssl.SSLError, OSError) as exc:
        raise TlsConfigError(
            f"client_ca_file {ca_file}: OpenSSL refused it ({_reason(exc)})"
        ) from None


# --- the peer --------------------------------------------------------------------------------


def peer_identity(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> PeerCertificate | None:
    """The verified client certificate of a connection, or None (plain TCP, none presented).

    Pass ``writer.get_extra_info("ssl_object")``. A certificate is only reported when the
    context verified it (``verify_mode`` is not ``CERT_NONE``).
    """
    if ssl_object is None or ssl_object.context.verify_mode == ssl.CERT_NONE:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    fingerprint = hashlib.sha256(der).hexdigest()
    try:
        cert = x509.load_der_x509_certificate(der)
        subject = cert.subject.rfc4514_string()
        common_name = _common_name(cert)
        dns_names = _dns_names(cert)
    except ValueError:
        # Verified by OpenSSL but beyond what cryptography parses: identify it by
        # fingerprint only, so name checks fail closed.
        return PeerCertificate("", None, (), fingerprint)
    return PeerCertificate(subject, common_name, dns_names, fingerprint)


def _common_name(cert: x509.Certificate) -> str | None:
    for attribute in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = attribute.value
        return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return None


def _dns_names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    return tuple(san.value.get_values_for_type(x509.DNSName))


# --- the per-session decision ----------------------------------------------------------------


def check_client(
    session: SessionTlsConfig, peer: PeerCertificate | None, *, tls: bool
) -> str | None:
    """None if the connection meets the session's requirement, else the reason for the log.

    A session that does not require a client certificate accepts any connection. One that
    does needs TLS, a verified certificate and, for each allow-list that is set, a match:
    with both lists set, the certificate must satisfy both.
    """
    if not session.require_client_cert:
        return None
    if not tls:
        return "connection is not TLS but the session requires a client certificate"
    if peer is None:
        return "session requires a client certificate but none was presented"
    if session.allowed_fingerprints and peer.fingerprint_sha256 not in session.allowed_fingerprints:
        return f"client certificate sha256={peer.fingerprint_sha256} is not in allowed_fingerprints"
    if session.allowed_subjects and not _subject_allowed(session.allowed_subjects, peer):
        return f"client certificate {peer.describe()} is not in allowed_subjects"
    return None


def _subject_allowed(allowed: tuple[str, ...], peer: PeerCertificate) -> bool:
    if peer.common_name is not None and peer.common_name in allowed:
        return True
    wanted = {name.lower() for name in allowed}
    return any(name.lower() in wanted for name in peer.dns_names)
