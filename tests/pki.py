"""A throwaway PKI for TLS tests: a CA, server and client certificates made at test time.

Nothing here is committed or reused between runs; keys live in the test's temporary folder.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# --- throwaway PKI ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path
    der: bytes

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.der).hexdigest()


@dataclass(frozen=True)
class Pki:
    ca: Path
    server: Issued
    client_a: Issued  # CN=client-a, SAN DNS client-a.example.net, DNS Alt.Example.NET
    client_b: Issued  # CN=client-b, no SAN
    rogue: Issued  # CN=client-a, but from a CA the server does not trust


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(
    directory: Path,
    stem: str,
    cn: str,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    sans: list[x509.GeneralName] | None = None,
    usage: x509.ObjectIdentifier | None = None,
) -> tuple[Issued, x509.Name, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(cn)
    issuer_name, issuer_key = issuer if issuer is not None else (subject, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    issued = Issued(cert_path, key_path, cert.public_bytes(serialization.Encoding.DER))
    return issued, subject, key


def make_pki(d: Path) -> Pki:
    """A CA, a server certificate for localhost/127.0.0.1 and client certificates in ``d``."""
    ca, ca_name, ca_key = _issue(d, "ca", "fixbridge test CA", None, ca=True)
    _, rogue_ca_name, rogue_ca_key = _issue(d, "rogue-ca", "someone else's CA", None, ca=True)
    signer = (ca_name, ca_key)
    server, _, _ = _issue(
        d,
        "server",
        "localhost",
        signer,
        sans=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
    )
    client_a, _, _ = _issue(
        d,
        "client-a",
        "client-a",
        signer,
        sans=[x509.DNSName("client-a.example.net"), x509.DNSName("Alt.Example.NET")],
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
    )
    client_b, _, _ = _issue(
        d, "client-b", "client-b", signer, usage=ExtendedKeyUsageOID.CLIENT_AUTH
    )
    rogue, _, _ = _issue(
        d,
        "rogue",
        "client-a",
        (rogue_ca_name, rogue_ca_key),
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
    )
    return Pki(ca.cert, server, client_a, client_b, rogue)


def client_context(
    pki: Pki,
    identity: Issued | None = None,
    *,
    version: ssl.TLSVersion | None = None,
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(pki.ca))
    if identity is not None:
        context.load_cert_chain(str(identity.cert), str(identity.key))
    if version is not None:
        context.minimum_version = version
        context.maximum_version = version
    return context
