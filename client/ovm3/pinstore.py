"""Agent certificate pins: fetch a certificate's SHA-256 fingerprint and keep ``known_agents``.

The store works like SSH's known_hosts: one ``host:port sha256-hex`` line per agent, under the user's
config dir (``$XDG_CONFIG_HOME/ovm3/known_agents``, else ``~/.config/ovm3/known_agents``), or where
``OVM3_KNOWN_AGENTS`` points. A third word ``legacy-tls`` remembers that the agent only speaks TLS
1.0/1.1 (OVM 3.2/3.3), so later connections use the legacy profile without being told.
"""
import hashlib
import os
import re
import socket
import ssl
import tempfile
import warnings

from ovm3.errors import ConfigError, TLSError, AgentUnreachable, AgentTimeout

_HEX = re.compile(r"[0-9a-f]{64}")
LEGACY_WORD = "legacy-tls"


def normalise_fingerprint(text):
    """Accept ``AB:CD:...``, ``sha256:abcd...`` or plain hex; return 64 lowercase hex digits."""
    fp = str(text).strip().lower()
    if fp.startswith("sha256:"):
        fp = fp[len("sha256:"):]
    fp = fp.replace(":", "")
    if not _HEX.fullmatch(fp):
        raise ConfigError("not a SHA-256 fingerprint: %r (want 64 hex digits, colons allowed)" % text)
    return fp


def pretty_fingerprint(fp):
    fp = normalise_fingerprint(fp)
    return ":".join(fp[i:i + 2] for i in range(0, 64, 2)).upper()


def legacy_context(verify=False):
    """A client TLS context that still talks to OVM 3.2/3.3 agents (TLS 1.0, old ciphers).

    Only for pinned connections: the fingerprint check, not the CA chain, authenticates the peer.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    try:
        with warnings.catch_warnings():
            # Deliberate: TLS 1.0 is what these agents speak. Silence exactly this one warning.
            warnings.filterwarnings("ignore", message=r"ssl\.TLSVersion\.TLSv1 is deprecated",
                                    category=DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
    except (ValueError, AttributeError):  # pragma: no cover - OpenSSL built without TLS 1.0
        pass
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


def fetch_fingerprint(host, port, timeout=10.0, legacy_tls=False):
    """Connect once without verification and return the SHA-256 fingerprint of the agent's certificate."""
    if legacy_tls:
        ctx = legacy_context()
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            with ctx.wrap_socket(sock, server_hostname=host) as tls:
                der = tls.getpeercert(binary_form=True)
    except socket.timeout:
        raise AgentTimeout("TLS connect timed out", host="%s:%s" % (host, port)) from None
    except ssl.SSLError as e:
        # The generic TLS hint says "pin it with ovm3 host fingerprint": this is that command.
        hint = ("is this an https agent? OVM 3.2/3.3 agents that speak only TLS 1.0/1.1 need --legacy-tls"
                if not legacy_tls else "is this an https agent on this port?")
        raise TLSError("TLS handshake failed: %s" % (e.reason or e), host="%s:%s" % (host, port),
                       hint=hint) from None
    except OSError as e:
        raise AgentUnreachable("cannot connect: %s" % (e.strerror or e), host="%s:%s" % (host, port),
                               hint="check the host is up, ovs-agent runs and port %s is open" % port) from None
    return hashlib.sha256(der).hexdigest()


def default_store_path():
    if os.environ.get("OVM3_KNOWN_AGENTS"):
        return os.environ["OVM3_KNOWN_AGENTS"]
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "ovm3", "known_agents")


class PinStore:
    """The ``known_agents`` file. Reads are cheap; writes are atomic (temp file + rename)."""

    def __init__(self, path=None):
        self.path = path or default_store_path()

    def _read(self):
        """``{host:port: (fingerprint, legacy_tls)}``."""
        pins = {}
        try:
            with open(self.path, encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    line = line.strip()
                    if not line or line.startswith("#"):
                        continue
                    parts = line.split()
                    if len(parts) not in (2, 3) or parts[2:] not in ([], [LEGACY_WORD]):
                        raise ConfigError("%s:%d: expected 'host:port fingerprint [%s]'"
                                          % (self.path, lineno, LEGACY_WORD))
                    pins[parts[0].lower()] = (normalise_fingerprint(parts[1]), len(parts) == 3)
        except FileNotFoundError:
            pass
        return pins

    def get(self, host, port):
        entry = self.entry(host, port)
        return entry[0] if entry else None

    def entry(self, host, port):
        """``(fingerprint, legacy_tls)`` of the pin for ``host:port``, or None."""
        return self._read().get(("%s:%s" % (host, port)).lower())

    def add(self, host, port, fingerprint, replace=False, legacy_tls=False):
        """Record a pin (with ``legacy_tls``: the agent only speaks TLS 1.0/1.1). Refuses to change an
        existing different pin unless ``replace``."""
        fp = normalise_fingerprint(fingerprint)
        key = ("%s:%s" % (host, port)).lower()
        pins = self._read()
        old = pins.get(key, (None, False))[0]
        if old and old != fp and not replace:
            raise ConfigError("%s already pinned to a different certificate %s; remove the line from %s "
                              "(or pass --replace) after checking the new one out of band"
                              % (key, pretty_fingerprint(old), self.path))
        pins[key] = (fp, bool(legacy_tls))
        d = os.path.dirname(self.path) or "."
        os.makedirs(d, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".known_agents.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write("# ovm3 pinned agent certificates: host:port sha256\n")
                for k in sorted(pins):
                    fp_k, legacy_k = pins[k]
                    f.write("%s %s%s\n" % (k, fp_k, " " + LEGACY_WORD if legacy_k else ""))
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return fp
