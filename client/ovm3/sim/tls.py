"""A self-signed agent certificate made at start, and the server TLS contexts.

The 3.2 personality speaks only TLS 1.0 with old ciphers (as OVM 3.2's Python 2.4 agent does), so
modern clients fail against it unless they use the client's legacy-TLS profile.
"""

import datetime
import hashlib
import ipaddress
import os
import ssl
import warnings
from dataclasses import dataclass

from ovm3.errors import ConfigError

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
except ImportError:  # a plain client install: ovm3 sim / ovm3 demo say which extra to add
    raise ConfigError("the simulated agent needs cryptography, which this installation lacks",
                      hint="install ovm3 with its sim extra: pip install 'ovm3[sim]'") from None


@dataclass(frozen=True)
class CertMaterial:
    """PEM files of one certificate and its SHA-256 fingerprint (64 lowercase hex digits)."""

    cert_file: str
    key_file: str
    fingerprint: str


def make_certificate(directory, common_name="ovs-agent"):
    """Generate an RSA key and a self-signed certificate in ``directory`` (key file mode 0600)."""
    os.makedirs(directory, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ovm3 simulated agent"),
        ]
    )
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(common_name),
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file = os.path.join(directory, "certificate.pem")
    key_file = os.path.join(directory, "key.pem")
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
    with open(cert_file, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    der = cert.public_bytes(serialization.Encoding.DER)
    return CertMaterial(cert_file, key_file, hashlib.sha256(der).hexdigest())


def server_context(material, legacy=False):
    """A server context; ``legacy`` offers only TLS 1.0 with ``DEFAULT:@SECLEVEL=0`` ciphers."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if legacy:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0 is the point here
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.load_cert_chain(material.cert_file, material.key_file)
    return ctx
