"""TLS for the FIX listener, over real sockets on 127.0.0.1 with throwaway certificates.

A CA, a server certificate and client certificates are made with ``cryptography`` in a
temporary directory when the module runs; nothing here is committed or reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError

from fixbridge.fix.tls import (
    PeerCertificate,
    SessionTlsConfig,
    TlsConfig,
    TlsConfigError,
    check_client,
    peer_identity,
    server_context,
)
from tests.pki import Pki, client_context, make_pki

TIMEOUT_S = 3.0


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _tls_config(pki: Pki, **changes: object) -> TlsConfig:
    base: dict[str, object] = {
        "cert_file": pki.server.cert,
        "key_file": pki.server.key,
        "client_ca_file": pki.ca,
    }
    return TlsConfig.model_validate(base | changes)


# --- a real server and client ----------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """What the server's connection handler saw."""

    version: str | None
    peer: PeerCertificate | None


async def _connect(
    server_ctx: ssl.SSLContext | None, client_ctx: ssl.SSLContext | None
) -> tuple[bytes | Exception, list[Seen]]:
    """One connection. The handler records what it sees and answers 'ok'; the client returns
    the line it read (or its error) and the handler's records."""
    seen: list[Seen] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ssl_object = writer.get_extra_info("ssl_object")
        version = ssl_object.version() if ssl_object is not None else None
        seen.append(Seen(version, peer_identity(ssl_object)))
        writer.write(b"ok\n")
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    async with server, asyncio.timeout(TIMEOUT_S):
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1",
                port,
                ssl=client_ctx,
                server_hostname="localhost" if client_ctx is not None else None,
            )
        except (ConnectionError, ssl.SSLError) as exc:
            return exc, seen
        try:
            line: bytes | Exception = await reader.readline()
        except (ConnectionError, ssl.SSLError) as exc:
            line = exc
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()
    return line, seen


def exchange(server_ctx: ssl.SSLContext | None, client_ctx: ssl.SSLContext | None) -> Seen:
    line, seen = asyncio.run(_connect(server_ctx, client_ctx))
    assert line == b"ok\n"
    (result,) = seen
    return result


def refused(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> Exception | None:
    """Connect expecting the handshake to fail: the server's handler must never run.

    Returns the client's error, or None if it only saw the connection close (with TLS 1.3
    the server rejects a client certificate after the client considers the handshake done).
    """
    line, seen = asyncio.run(_connect(server_ctx, client_ctx))
    assert seen == []
    assert line != b"ok\n"
    return line if isinstance(line, Exception) else None


# --- handshakes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "name"),
    [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")],
    ids=["1.2", "1.3"],
)
def test_handshake_with_tls_1_2_and_1_3(pki: Pki, version: ssl.TLSVersion, name: str) -> None:
    server_ctx = server_context(_tls_config(pki), want_client_certs=True)
    seen = exchange(server_ctx, client_context(pki, pki.client_a, version=version))
    assert seen.version == name
    assert seen.peer is not None and seen.peer.common_name == "client-a"


def test_context_settings(pki: Pki) -> None:
    wanting = server_context(_tls_config(pki), want_client_certs=True)
    assert wanting.verify_mode == ssl.CERT_OPTIONAL
    assert wanting.minimum_version == ssl.TLSVersion.TLSv1_2
    plain = server_context(_tls_config(pki, client_ca_file=None), want_client_certs=False)
    assert plain.verify_mode == ssl.CERT_NONE
    strict = server_context(_tls_config(pki, min_version="1.3"), want_client_certs=False)
    assert strict.minimum_version == ssl.TLSVersion.TLSv1_3


def _legacy_client(pki: Pki, newest: ssl.TLSVersion) -> ssl.SSLContext:
    """A client that offers nothing newer than ``newest`` and whose own OpenSSL allows it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(pki.ca))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = newest
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


@pytest.mark.parametrize(
    ("newest", "name"),
    [(ssl.TLSVersion.TLSv1_1, "TLSv1.1"), (ssl.TLSVersion.TLSv1, "TLSv1")],
    ids=["1.1", "1.0"],
)
def test_tls_1_1_or_older_client_is_refused(pki: Pki, newest: ssl.TLSVersion, name: str) -> None:
    legacy = _legacy_client(pki, newest)
    # Control: the client really does speak the old version to a server that allows it ...
    permissive = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    permissive.load_cert_chain(str(pki.server.cert), str(pki.server.key))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        permissive.minimum_version = ssl.TLSVersion.TLSv1
    permissive.set_ciphers("DEFAULT:@SECLEVEL=0")
    assert exchange(permissive, legacy).version == name
    # ... so the refusal comes from our context. (asyncio's server aborts the connection on a
    # failed handshake, so the client sees a reset or the protocol-version alert.)
    for want_client_certs in (False, True):
        server_ctx = server_context(_tls_config(pki), want_client_certs=want_client_certs)
        assert refused(server_ctx, legacy) is not None


def test_min_version_1_3_refuses_a_tls_1_2_client(pki: Pki) -> None:
    server_ctx = server_context(_tls_config(pki, min_version="1.3"), want_client_certs=False)
    refused(server_ctx, client_context(pki, version=ssl.TLSVersion.TLSv1_2))


@pytest.mark.parametrize(
    "version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["1.2", "1.3"]
)
def test_client_certificate_from_an_untrusted_ca_fails_the_handshake(
    pki: Pki, version: ssl.TLSVersion
) -> None:
    server_ctx = server_context(_tls_config(pki), want_client_certs=True)
    refused(server_ctx, client_context(pki, pki.rogue, version=version))


# --- the peer's identity ---------------------------------------------------------------------


def test_peer_identity_reads_cn_sans_and_fingerprint(pki: Pki) -> None:
    server_ctx = server_context(_tls_config(pki), want_client_certs=True)
    peer = exchange(server_ctx, client_context(pki, pki.client_a)).peer
    assert peer == PeerCertificate(
        subject="CN=client-a",
        common_name="client-a",
        dns_names=("client-a.example.net", "Alt.Example.NET"),
        fingerprint_sha256=pki.client_a.fingerprint,
    )
    other = exchange(server_ctx, client_context(pki, pki.client_b)).peer
    assert other is not None
    assert (other.common_name, other.dns_names) == ("client-b", ())
    assert other.fingerprint_sha256 == pki.client_b.fingerprint


def test_no_certificate_no_identity(pki: Pki) -> None:
    wanting = server_context(_tls_config(pki), want_client_certs=True)
    assert exchange(wanting, client_context(pki)).peer is None
    # A server that does not ask gets no certificate even from a client that has one.
    not_asking = server_context(_tls_config(pki), want_client_certs=False)
    assert exchange(not_asking, client_context(pki, pki.client_a)).peer is None


def test_plain_tcp_has_no_ssl_object() -> None:
    seen = exchange(None, None)
    assert seen == Seen(version=None, peer=None)
    assert peer_identity(None) is None


# --- per-session checks ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def peers(pki: Pki) -> dict[str, PeerCertificate]:
    server_ctx = server_context(_tls_config(pki), want_client_certs=True)
    found = {}
    for label, identity in (("a", pki.client_a), ("b", pki.client_b)):
        peer = exchange(server_ctx, client_context(pki, identity)).peer
        assert peer is not None
        found[label] = peer
    return found


def test_session_without_requirement_accepts_anything(peers: dict[str, PeerCertificate]) -> None:
    session = SessionTlsConfig()
    assert check_client(session, None, tls=False) is None
    assert check_client(session, None, tls=True) is None
    assert check_client(session, peers["a"], tls=True) is None


def test_required_refuses_plain_tcp_and_missing_certificate() -> None:
    session = SessionTlsConfig(require_client_cert=True)
    assert check_client(session, None, tls=False) == (
        "connection is not TLS but the session requires a client certificate"
    )
    assert check_client(session, None, tls=True) == (
        "session requires a client certificate but none was presented"
    )


def test_required_accepts_any_verified_certificate(peers: dict[str, PeerCertificate]) -> None:
    session = SessionTlsConfig(require_client_cert=True)
    assert check_client(session, peers["a"], tls=True) is None
    assert check_client(session, peers["b"], tls=True) is None


def test_allowed_subjects_match_cn_or_dns_name(peers: dict[str, PeerCertificate]) -> None:
    by_cn = SessionTlsConfig(require_client_cert=True, allowed_subjects=("client-a",))
    assert check_client(by_cn, peers["a"], tls=True) is None
    reason = check_client(by_cn, peers["b"], tls=True)
    assert reason is not None
    assert "CN='client-b'" in reason and "allowed_subjects" in reason

    by_dns = SessionTlsConfig(require_client_cert=True, allowed_subjects=("alt.example.net",))
    assert check_client(by_dns, peers["a"], tls=True) is None
    assert check_client(by_dns, peers["b"], tls=True) is not None
    # CNs compare exactly; no wildcard expansion.
    for name in ("CLIENT-A", "*.example.net"):
        strict = SessionTlsConfig(require_client_cert=True, allowed_subjects=(name,))
        assert check_client(strict, peers["a"], tls=True) is not None


def test_allowed_fingerprints_any_spelling(pki: Pki, peers: dict[str, PeerCertificate]) -> None:
    raw = pki.client_b.fingerprint
    colons = ":".join(raw[i : i + 2] for i in range(0, len(raw), 2)).upper()
    session = SessionTlsConfig(require_client_cert=True, allowed_fingerprints=(colons,))
    assert session.allowed_fingerprints == (raw,)
    assert check_client(session, peers["b"], tls=True) is None
    reason = check_client(session, peers["a"], tls=True)
    assert reason == (
        f"client certificate sha256={pki.client_a.fingerprint} is not in allowed_fingerprints"
    )


def test_both_lists_must_match(pki: Pki, peers: dict[str, PeerCertificate]) -> None:
    session = SessionTlsConfig(
        require_client_cert=True,
        allowed_subjects=("client-a",),
        allowed_fingerprints=(pki.client_b.fingerprint,),
    )
    assert check_client(session, peers["a"], tls=True) is not None
    assert check_client(session, peers["b"], tls=True) is not None


# --- configuration errors --------------------------------------------------------------------


def _assert_no_key_material(message: str, *keys: Path) -> None:
    assert "-----BEGIN" not in message and "PRIVATE KEY" not in message
    for key in keys:
        body = [line for line in key.read_text().splitlines() if not line.startswith("-----")]
        assert all(line not in message for line in body)


def test_missing_files_are_named(pki: Pki, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    for field in ("cert_file", "key_file", "client_ca_file"):
        with pytest.raises(TlsConfigError) as caught:
            server_context(_tls_config(pki, **{field: missing}), want_client_certs=True)
        message = str(caught.value)
        assert field in message and str(missing) in message and "No such file" in message


def test_mismatched_key_is_named_without_key_material(pki: Pki) -> None:
    config = _tls_config(pki, key_file=pki.client_a.key)
    with pytest.raises(TlsConfigError) as caught:
        server_context(config, want_client_certs=False)
    message = str(caught.value)
    assert str(pki.client_a.key) in message and "does not match" in message
    assert str(pki.server.cert) in message
    _assert_no_key_material(message, pki.client_a.key, pki.server.key)


def test_key_given_as_certificate_does_not_echo_it(pki: Pki) -> None:
    config = _tls_config(pki, cert_file=pki.server.key)
    with pytest.raises(TlsConfigError) as caught:
        server_context(config, want_client_certs=False)
    message = str(caught.value)
    assert f"cert_file {pki.server.key}" in message
    _assert_no_key_material(message, pki.server.key)


def test_garbage_and_encrypted_keys(pki: Pki, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key\n")
    with pytest.raises(TlsConfigError, match="no usable PEM private key"):
        server_context(_tls_config(pki, key_file=garbage), want_client_certs=False)

    key = serialization.load_pem_private_key(pki.server.key.read_bytes(), password=None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(TlsConfigError, match="encrypted") as caught:
        server_context(_tls_config(pki, key_file=encrypted), want_client_certs=False)
    _assert_no_key_material(str(caught.value), encrypted)


def test_client_certs_need_a_ca(pki: Pki) -> None:
    with pytest.raises(TlsConfigError, match="client_ca_file"):
        server_context(_tls_config(pki, client_ca_file=None), want_client_certs=True)
    with pytest.raises(TlsConfigError, match=f"client_ca_file {pki.server.key}"):
        server_context(_tls_config(pki, client_ca_file=pki.server.key), want_client_certs=True)


def test_unusable_cipher_string(pki: Pki) -> None:
    with pytest.raises(TlsConfigError, match="no cipher"):
        server_context(_tls_config(pki, ciphers="NOT-A-CIPHER"), want_client_certs=False)


def test_models_validate() -> None:
    with pytest.raises(ValidationError):
        TlsConfig.model_validate({"cert_file": "a", "key_file": "b", "min_version": "1.1"})
    with pytest.raises(ValidationError):
        TlsConfig.model_validate({"cert_file": "a", "key_file": "b", "password": "x"})
    with pytest.raises(ValidationError, match="64 hex digits"):
        SessionTlsConfig(require_client_cert=True, allowed_fingerprints=("abcd",))
    with pytest.raises(ValidationError, match="require_client_cert"):
        SessionTlsConfig(allowed_subjects=("client-a",))
    session = SessionTlsConfig(require_client_cert=True)
    with pytest.raises(ValidationError):
        session.require_client_cert = False
