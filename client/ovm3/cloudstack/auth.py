"""Who may talk to ``ovm3 serve``: an API key, a pinned client certificate (mutual TLS), an address range.

Every mode given must pass (a key and a pinned certificate together need both). ``--allow-from`` is
for a client that can send neither, such as CloudStack's stock direct-connect resource: it trusts the
network, not the caller, so it is logged as weaker and never allows the set-up endpoint (set-up takes
ownership of a host). Without any of the three, serve refuses to start unless ``--no-auth`` is given.
"""

import base64
import binascii
import dataclasses
import hashlib
import hmac
import ipaddress
import ssl
from typing import Optional, Tuple

from ovm3 import errors


def parse_networks(values):
    """``--allow-from`` values (CIDRs or single addresses) as ip_network objects; UsageError if bad."""
    nets = []
    for value in values or ():
        try:
            nets.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            raise errors.UsageError("--allow-from %r is not an address or CIDR (e.g. 10.1.0.0/24)" % value) from None
    return tuple(nets)


def certificate_fingerprint(pem_file):
    """SHA-256 of the DER form of the first certificate in ``pem_file`` (lowercase hex)."""
    try:
        with open(pem_file, encoding="ascii") as f:
            pem = f.read()
        der = ssl.PEM_cert_to_DER_cert(pem[pem.index("-----BEGIN CERTIFICATE-----"):])
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise errors.UsageError(
            "--client-cert %s: not a PEM certificate (%s)" % (pem_file, e.__class__.__name__)
        ) from None
    return hashlib.sha256(der).hexdigest()


def require_client_certificate(ctx, pem_file):
    """Make the server context ask for a client certificate and trust exactly ``pem_file`` as its
    anchor; returns the pinned fingerprint, which :meth:`AuthPolicy.check` compares after the handshake."""
    fingerprint = certificate_fingerprint(pem_file)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=pem_file)
    ctx.verify_flags |= getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0)  # a pinned leaf needs no chain
    return fingerprint


def require_a_mode(api_key, client_cert, allow_from, no_auth, basic_auth=None):
    """UsageError unless one mode is given or ``no_auth`` says open on purpose."""
    if not (no_auth or api_key or client_cert or allow_from or basic_auth):
        raise errors.UsageError(
            "no authentication: give an API key (--api-key-file or OVM3_SERVE_API_KEY), a client "
            "certificate (--client-cert) or --allow-from CIDR (or --no-auth on purpose)"
        )


@dataclasses.dataclass
class AuthPolicy:
    """The checks one serve applies to every request.

    :param api_key: the key clients send (``X-Api-Key`` or ``Authorization: Bearer``).
    :param client_cert_sha256: fingerprint of the one client certificate accepted (mutual TLS).
    :param allow_from: networks a client address must be in.
    :param no_auth: open on purpose (tests, a socket nothing else can reach).
    :param basic_auth: ``(user, password)`` of HTTP basic authentication (``ovm3 exporter``, for
        Prometheus' ``basic_auth``).
    """

    api_key: Optional[str] = dataclasses.field(default=None, repr=False)
    client_cert_sha256: Optional[str] = None
    allow_from: Tuple = ()
    no_auth: bool = False
    basic_auth: Optional[Tuple[str, str]] = dataclasses.field(default=None, repr=False)

    def __post_init__(self):
        require_a_mode(self.api_key, self.client_cert_sha256, self.allow_from, self.no_auth, self.basic_auth)

    @property
    def modes(self):
        """The modes in force, by name."""
        names = []
        if self.api_key:
            names.append("api-key")
        if self.basic_auth:
            names.append("basic-auth")
        if self.client_cert_sha256:
            names.append("client-certificate")
        if self.allow_from:
            names.append("allow-from " + ",".join(str(n) for n in self.allow_from))
        return names

    @property
    def authenticates_caller(self):
        """True when a secret (key or pinned certificate) proves who calls and ``no_auth`` was not
        asked for: only then is set-up over HTTP allowed."""
        return bool(self.api_key or self.client_cert_sha256 or self.basic_auth) and not self.no_auth

    def warning(self):
        """What to log at start when the policy is weaker than a secret, else None."""
        if self.no_auth and not self.modes:
            return "WITHOUT authentication (--no-auth): anyone who reaches this port drives the host"
        if not self.authenticates_caller:
            return (
                "authenticating by client address only (%s): weaker than an API key or a client "
                "certificate; host set-up over HTTP is refused" % self.modes[0]
            )
        return None

    def check(self, headers, peer_address, peer_cert_der):
        """None when the request may proceed, else why not (no secret in the text)."""
        if self.allow_from:
            try:
                address = ipaddress.ip_address(str(peer_address).split("%", 1)[0])
            except ValueError:
                return "client address %s is not an IP address" % peer_address
            if getattr(address, "ipv4_mapped", None):
                address = address.ipv4_mapped
            if not any(address in net for net in self.allow_from):
                return "client address %s is not in --allow-from" % address
        if self.client_cert_sha256:
            given = hashlib.sha256(peer_cert_der).hexdigest() if peer_cert_der else ""
            if not hmac.compare_digest(given, self.client_cert_sha256):
                return "no client certificate, or not the pinned one"
        if self.api_key:
            given = headers.get("X-Api-Key") or ""
            auth = headers.get("Authorization") or ""
            if auth.startswith("Bearer "):
                given = given or auth[7:]
            if not hmac.compare_digest(given.encode("utf-8"), self.api_key.encode("utf-8")):
                return "missing or wrong API key"
        if self.basic_auth:
            if not _basic_matches(headers.get("Authorization") or "", self.basic_auth):
                return "missing or wrong basic-auth user or password"
        return None


def request_refusal(policy, handler):
    """Why ``policy`` refuses the request a ``BaseHTTPRequestHandler`` is serving (None: it may proceed);
    the peer's certificate is read from the TLS connection only when a pinned one is required."""
    peer_cert = None
    if policy.client_cert_sha256:
        getpeercert = getattr(handler.connection, "getpeercert", None)
        peer_cert = getpeercert(binary_form=True) if getpeercert else None
    return policy.check(handler.headers, handler.client_address[0], peer_cert)


def _basic_matches(header, expected):
    """Does an ``Authorization: Basic ...`` header carry exactly ``expected`` (user, password)?"""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(token.strip().encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return False
    want = ("%s:%s" % expected).encode("utf-8")
    return hmac.compare_digest(given, want)
