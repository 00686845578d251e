"""Talking to the agent during deployment: wait for ``echo``, pin its certificate, rotate its password.

The certificate is read over the already verified SSH session, so the pin (and the first XML-RPC
connection made with it) does not rely on trust on first use.
"""
import dataclasses
import hashlib
import logging
import os
import secrets
import ssl
from typing import Optional

from ovm3 import errors
from ovm3.deploy.facts import under
from ovm3.inventory import sync_directory, write_secret
from ovm3.transport import parse_agent_url

log = logging.getLogger(__name__)

AGENT_CERT = "/etc/ovs-agent/cert/certificate.pem"
DEFAULT_WAIT = 120.0


@dataclasses.dataclass
class AgentAccess:
    """How to reach one agent over XML-RPC. The password is kept out of repr."""

    url: str
    user: str = "oracle"
    password: Optional[str] = dataclasses.field(default=None, repr=False)
    password_file: Optional[str] = None
    legacy_tls: bool = False
    fingerprint: Optional[str] = None

    @property
    def address(self):
        """``(host, port)`` of the agent URL."""
        parsed = parse_agent_url(self.url)
        return parsed[1], parsed[2]

    @property
    def tls(self):
        return self.url.lower().startswith("https:")

    def client(self, agent_version=None, retries=0, password=None):
        from ovm3.client import AgentClient
        from ovm3.transport import Timeouts

        return AgentClient(self.url, user=self.user, password=password or self.password,
                           fingerprint=self.fingerprint if self.tls else None, legacy_tls=self.legacy_tls,
                           agent_version=agent_version, retries=retries,
                           timeouts=Timeouts(connect=3.0, short=5.0, medium=5.0, long=5.0))


def cert_fingerprint(pem_bytes):
    """SHA-256 hex of the DER form of the first certificate in a PEM file."""
    text = pem_bytes.decode("ascii", "replace")
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    start = text.find(begin)
    stop = text.find(end, start)
    if start < 0 or stop < 0:
        raise errors.DeployError("the agent certificate file holds no PEM certificate")
    try:
        der = ssl.PEM_cert_to_DER_cert(text[start:stop + len(end)] + "\n")
    except ValueError:
        raise errors.DeployError("the agent certificate file is not valid PEM") from None
    return hashlib.sha256(der).hexdigest()


def read_agent_fingerprint(conn, root):
    """The agent certificate's SHA-256 read over SSH, or None when the host has no certificate (no TLS)."""
    pem = conn.get(under(root, AGENT_CERT))
    return cert_fingerprint(pem) if pem else None


def pin_agent(pin_store, access, fingerprint):
    """Record the fingerprint for the agent's host:port and use it for this access from now on."""
    host, port = access.address
    pin_store.add(host, port, fingerprint)
    access.fingerprint = fingerprint
    return fingerprint


def wait_for_agent(access, deadline_s=DEFAULT_WAIT, agent_version=None, password=None, label=None):
    """Poll ``echo`` until the agent answers correctly or ``deadline_s`` passes; return seconds waited.

    The polling is the client's (:meth:`ovm3.client.AgentClient.wait_until_answering`): refusals,
    timeouts and half-up TLS while the agent restarts are retried; a refused login fails at once.
    """
    token = "ovm3-deploy-%s" % secrets.token_hex(4)
    with access.client(agent_version=agent_version, password=password) as client:
        try:
            return client.wait_until_answering(deadline_s, token=token)
        except errors.AuthenticationError:
            raise
        except errors.TransportError as e:
            raise errors.DeployError("agent %s did not answer echo within %.0fs (last: %s)"
                                     % (access.url, deadline_s, e.message), host=label,
                                     hint="check 'service ovs-agent status' and /var/log/ovs-agent.log") from None


def rotate_password(access, agent_version, wait_s=DEFAULT_WAIT, label=None):
    """Give the agent a new random password and store it in ``access.password_file``.

    Crash-safe: at every moment one file on disk holds a password the agent accepts. The new secret
    is first written and synced beside the file (``FILE.new``) while ``FILE`` keeps the old one; then
    the agent is changed (3.2 takes ``(user, new)``, 3.3 and later ``(user, new, old)``) and from then
    on ``FILE.new`` holds the accepted one; the new password is proven with ``echo``, and only then
    does ``FILE.new`` replace ``FILE`` (an atomic rename, synced). Returns the seconds the check waited.
    """
    if not access.password_file:
        raise errors.UsageError("--rotate-agent-password needs a password file to record the new secret "
                                "(agent_password_file in the inventory, or --password-file)", host=label)
    if access.password is None:
        raise errors.UsageError("no current agent password to rotate from", host=label)
    new = secrets.token_urlsafe(24)
    # The CLI and the inventory expand ~ already; a library caller's ~ is expanded here, once, so the
    # pending file and the rename target are the same folder.
    path = os.path.expanduser(access.password_file)
    pending = path + ".new"
    write_secret(pending, new)
    try:
        args = [access.user, new]
        if agent_version != "3.2":
            args.append(access.password)
        with access.client(agent_version=agent_version) as client:
            client.call("update_agent_password", *args)
        waited = wait_for_agent(access, wait_s, agent_version, password=new, label=label)
    except BaseException:
        log.error("%s: password rotation failed; the agent keeps its old password unless the call went "
                  "through (the new one is in %s)", label, pending)
        raise
    os.replace(pending, path)
    sync_directory(os.path.dirname(os.path.abspath(path)))
    access.password = new
    return waited
