"""A throwaway certificate authority for the HTTPS fakes: a CA plus a server certificate for 127.0.0.1.

Some SDKs refuse to send credentials over plain http (azure-core will not attach a bearer token to an ``http://``
URL), so the fakes speak HTTPS. Tests may use trustme; the `demo` command must not need dev dependencies, so this
module builds the same thing with `cryptography` (shipped with the cloud extras) at run time. Keys live in memory
and in a private temporary directory only for as long as `ssl` needs files to load them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["LocalCA"]

_LIFETIME = dt.timedelta(days=2)  # long enough for any demo or test run, short enough to be useless if leaked


@dataclass(frozen=True)
class LocalCA:
    """A self-signed CA that issues certificates for loopback names.

    `cert_pem` is what clients trust (write it with `write_ca_bundle` and hand the path to ``connection_verify`` /
    ``REQUESTS_CA_BUNDLE``). The private key never leaves the object (``repr=False``).
    """

    cert_pem: bytes
    _key_pem: bytes = field(repr=False)

    @classmethod
    def create(cls, name: str = "origin-region-agent sandbox CA") -> LocalCA:
        """Generate a fresh CA key and certificate (EC P-256: fast to generate, accepted everywhere)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + _LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
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
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cls(cert_pem=cert.public_bytes(serialization.Encoding.PEM), _key_pem=key_pem)

    def issue_server_cert(self, *hosts: str) -> tuple[bytes, bytes]:
        """Return ``(chain_pem, key_pem)`` of a server certificate for `hosts` (IP addresses or DNS names)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        hosts = hosts or ("127.0.0.1", "localhost")
        ca_cert = x509.load_pem_x509_certificate(self.cert_pem)
        ca_key = serialization.load_pem_private_key(self._key_pem, password=None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + _LIFETIME)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cert.public_bytes(serialization.Encoding.PEM) + self.cert_pem, key_pem

    def server_context(self, *hosts: str) -> ssl.SSLContext:
        """An `ssl.SSLContext` for a server presenting a fresh certificate for `hosts` (default 127.0.0.1, localhost).

        `ssl` can only load keys from files, so they are written to a private temporary directory that is removed
        before this returns.
        """
        chain_pem, key_pem = self.issue_server_cert(*hosts)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        with tempfile.TemporaryDirectory(prefix="ora-tls-") as tmp:
            chain_path, key_path = Path(tmp, "chain.pem"), Path(tmp, "key.pem")
            chain_path.write_bytes(chain_pem)
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(key_pem)
            ctx.load_cert_chain(chain_path, key_path)
        return ctx

    def write_ca_bundle(self, path: str | os.PathLike[str]) -> Path:
        """Write the CA certificate (public) to `path`, for ``connection_verify`` or ``REQUESTS_CA_BUNDLE``."""
        target = Path(path)
        target.write_bytes(self.cert_pem)
        return target
