"""The agent client: signature checks from the table, retries for read-only calls, typed area mirrors.

Usage::

    agent = AgentClient("https://ovm-1:8899", password="...")
    agent.call("echo", "put")                # raw XML-RPC value
    agent.linux.discover_server().hostname   # typed, through the Linux area mirror
"""
import logging
import os
import time

from ovm3 import errors
from ovm3.api import TABLE, normalise_version
from ovm3.api.mirror import build_mirrors
from ovm3.faults import fault_error
from ovm3.redact import redact_args, secret_values
from ovm3.transport import DEFAULT_USER, Timeouts, TLSPolicy, Transport
from ovm3.wire import Fault, dumps_request, loads_response

log = logging.getLogger(__name__)

DEFAULT_RETRIES = 2
DEFAULT_BACKOFF = 0.2
MAX_BACKOFF = 2.0
_RETRYABLE = (errors.AgentUnreachable, errors.AgentTimeout)
# While an agent restarts: nothing listens, the old connection is reset, or TLS is half up.
_WAIT_RETRYABLE = (errors.AgentUnreachable, errors.AgentTimeout, errors.ProtocolError, errors.TLSError)


def read_password_file(path):
    """The first line of a password file (the file must not be readable by others)."""
    path = os.path.expanduser(path)
    try:
        st = os.stat(path)
        with open(path, encoding="utf-8") as f:
            secret = f.readline().rstrip("\r\n")
    except OSError as e:
        raise errors.ConfigError("cannot read password file %s: %s" % (path, e.strerror)) from None
    if st.st_mode & 0o077:
        log.warning("password file %s is readable by group or others; chmod 600 it", path)
    if not secret:
        raise errors.ConfigError("password file %s is empty" % path)
    return secret


class AgentClient:
    """A client to one ovs-agent.

    :param url: ``https://host[:8899]`` (or ``http://`` explicitly for plain HTTP).
    :param password: agent password; or ``password_file``. Never logged, never in repr.
    :param agent_version: ``"3.2"``/``"3.3"``/``"3.4"`` (or an OVM version string). When None it is read
        from ``discover_server`` the first time a version-dependent method is called.
    :param retries: extra attempts for read-only calls after connection failures or timeouts.
    :param total_timeout: seconds from now that bound every call of this client, retries and their
        pauses included (the command line's ``--timeout SECONDS``); None: each call only has its own.
    """

    def __init__(self, url, user=DEFAULT_USER, password=None, password_file=None, timeouts=None,
                 fingerprint=None, ca_bundle=None, legacy_tls=False, pin_store=None, agent_version=None,
                 retries=DEFAULT_RETRIES, backoff=DEFAULT_BACKOFF, max_reply_bytes=None, pool_size=4,
                 total_timeout=None):
        if password is None and password_file:
            password = read_password_file(password_file)
        kw = {}
        if max_reply_bytes:
            kw["max_reply_bytes"] = max_reply_bytes
        self.transport = Transport(url, user=user, password=password, timeouts=timeouts or Timeouts(),
                                   tls=TLSPolicy(fingerprint, ca_bundle, legacy_tls, pin_store),
                                   pool_size=pool_size, **kw)
        self.host = self.transport.label
        self.retries = retries
        self.backoff = backoff
        self.ends = time.monotonic() + total_timeout if total_timeout else None
        self._version = normalise_version(agent_version) if agent_version else None
        self._ovm_version = None
        for name, mirror in build_mirrors(self).items():
            setattr(self, name, mirror)

    def __repr__(self):
        return "<AgentClient %s version=%s>" % (self.transport.url, self._version or "?")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.transport.close()

    @property
    def version(self):
        """The agent's API generation (``3.2``, ``3.3`` or ``3.4``), discovered once if not given."""
        if self._version is None:
            info = self.linux.discover_server()
            self._ovm_version = info.ovm_version
            self._version = normalise_version(info.ovm_version)
        return self._version

    @property
    def version_known(self):
        """True once the API generation is set or discovered (``version`` will not call the agent)."""
        return self._version is not None

    def set_version(self, ovm_version):
        """Record the agent's version read elsewhere (e.g. a ``discover_server`` the caller already made),
        so ``version`` needs no call of its own. Takes an OVM version (``3.3.1-1065``) or ``3.3``."""
        self._version = normalise_version(ovm_version)
        if str(ovm_version) != self._version:
            self._ovm_version = str(ovm_version)
        return self._version

    def wait_until_answering(self, deadline_s, token="ovm3-wait"):
        """Poll ``echo`` until the agent answers it or ``deadline_s`` passes; return the seconds waited.

        For agents that restart (a 3.3 agent after ``take_ownership``, any agent after an install):
        refused or reset connections, timeouts and failed handshakes are retried with a growing pause
        (capped at 1 s and at the time left); a refused login or an agent fault ends the wait at once.
        Raises the last :class:`ovm3.errors.TransportError` when the deadline passes.
        """
        started = time.monotonic()
        end = started + deadline_s
        pause = 0.05
        while True:
            try:
                if self._send(TABLE.get("echo"), [token], self._version, "short") == token:
                    return time.monotonic() - started
                raise errors.ProtocolError("echo answered something else", host=self.host, method="echo")
            except errors.AuthenticationError:
                raise
            except _WAIT_RETRYABLE:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    raise
                time.sleep(min(pause, remaining))
                pause = min(pause * 2, 1.0)

    def call(self, wire, *args, timeout_class=None):
        """Call one agent method by wire name with positional arguments; return the raw decoded value.

        Arguments are checked against the table's signature for the agent version first (a mismatch
        raises :class:`ovm3.errors.SignatureError` without touching the wire).
        """
        method = TABLE.get(wire)
        version = self.version if method.signature_changes() else self._version
        wire_args = method.bind(args, version, host=self.host)
        return self._send(method, wire_args, version, timeout_class or method.timeout)

    def _send(self, method, wire_args, version, timeout_class):
        body = dumps_request(method.wire, wire_args)
        shown = None
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                reply = self.transport.post(body, timeout_class, method=method.wire, deadline=self.ends)
                value = loads_response(reply)
            except Fault as f:
                shown = shown or redact_args(method, wire_args, version)
                log.debug("%s %s fault after %.1f ms", self.host, method.wire, _ms(started))
                secrets = secret_values(method, wire_args, version) + list(self.transport.secrets)
                raise fault_error(f.code, f.string, host=self.host, method=method.wire, args=shown,
                                  secrets=sorted(secrets, key=len, reverse=True)) from None
            except errors.OVM3Error as e:
                shown = shown or redact_args(method, wire_args, version)
                e.args_redacted = shown
                e.method = method.wire
                retry = (method.readonly and isinstance(e, _RETRYABLE) and attempt < self.retries)
                pause = min(MAX_BACKOFF, self.backoff * (2 ** attempt))
                if retry and self.ends is not None and self.ends - time.monotonic() <= pause:
                    retry = False  # the command's --timeout has no room for another attempt
                log.debug("%s %s failed after %.1f ms: %s%s", self.host, method.wire, _ms(started),
                          type(e).__name__, " (retrying)" if retry else "")
                if not retry:
                    raise
                attempt += 1
                log.info("%s %s: %s; retry %d of %d in %.1fs", self.host, method.wire, e.message,
                         attempt, self.retries, pause)
                time.sleep(pause)
                continue
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s %s(%s) %.1f ms", self.host, method.wire,
                          ", ".join(repr(a) for a in redact_args(method, wire_args, version)), _ms(started))
            return value


def _ms(started):
    return (time.monotonic() - started) * 1000.0
