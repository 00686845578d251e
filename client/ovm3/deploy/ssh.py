"""The paramiko connector: verified host key first, then root login, then commands with deadlines.

Settings for old dom0 sshd (OVM 3.2 = Oracle Linux 5, OpenSSH 4.3; 3.3/3.4 = Oracle Linux 6, OpenSSH
5.3): they offer only ``ssh-rsa`` host keys and SHA-1 key exchanges, which paramiko 3.4..4.x still
negotiate (5.x removed them, hence ``paramiko<5`` in pyproject.toml). They also predate the
``server-sig-algs`` extension (OpenSSH 7.2), so for servers whose version string says OpenSSH older than
7.2 we sign public-key logins with plain ``ssh-rsa`` instead of paramiko's first choice ``rsa-sha2-512``,
which they reject.

Host keys are checked before any credential is sent: a key missing from known_hosts is refused unless
``trust_new`` (trust on first use, which appends it), a different key for a known host is always refused.
"""
import base64
import hashlib
import logging
import os
import re
import select
import socket
import threading
import time

try:
    import paramiko
except ImportError:  # a plain client install: ovm3 deploy says which extra to add (SSHConnector)
    paramiko = None

from ovm3.deploy.connector import DEFAULT_COMMAND_TIMEOUT, Connector
from ovm3.errors import ConfigError, HostKeyError, SSHError

log = logging.getLogger(__name__)

DEFAULT_SSH_PORT = 22
DEFAULT_CONNECT_TIMEOUT = 15.0
DEFAULT_KEY_FILES = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")
_SHA2_RSA = ["rsa-sha2-512", "rsa-sha2-256"]
_OLD_OPENSSH = re.compile(r"OpenSSH_(?:[1-6]\.|7\.[01](?![0-9]))")
_known_hosts_lock = threading.Lock()


def require_paramiko():
    """Refuse SSH work, with the fix, on an installation without the ``[deploy]`` extra."""
    if paramiko is None:
        raise ConfigError("SSH deployment needs paramiko, which this installation lacks",
                          hint="install ovm3 with its deploy extra: pip install 'ovm3[deploy]'")


def default_known_hosts():
    """``$OVM3_KNOWN_HOSTS`` or ``~/.ssh/known_hosts``."""
    return os.environ.get("OVM3_KNOWN_HOSTS") or os.path.expanduser("~/.ssh/known_hosts")


def key_fingerprint(key):
    """OpenSSH style ``SHA256:...`` fingerprint of a paramiko key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def known_hosts_name(host, port):
    """The name known_hosts uses: ``host`` on port 22, else ``[host]:port``."""
    return host if int(port) == DEFAULT_SSH_PORT else "[%s]:%d" % (host, int(port))


def check_host_key(path, host, port, key, trust_new=False, record=True):
    """Accept ``key`` for ``host:port`` per known_hosts at ``path``; record it when ``trust_new`` (unless
    ``record`` is False: a dry run trusts it for this session only and writes nothing).

    Returns ``"known"``, ``"recorded"`` or ``"trusted"``; raises :class:`ovm3.errors.HostKeyError` otherwise.
    """
    name = known_hosts_name(host, port)
    label = "%s:%s" % (host, port)
    with _known_hosts_lock:
        keys = paramiko.HostKeys()
        if os.path.exists(path):
            try:
                keys.load(path)
            except (OSError, paramiko.SSHException) as e:
                raise HostKeyError("cannot read known_hosts %s: %s" % (path, e), host=label) from None
        entry = keys.lookup(name)
        if entry:
            if entry.get(key.get_name()) == key:
                return "known"
            raise HostKeyError(
                "HOST KEY CHANGED: %s now presents %s %s, which differs from the key recorded in %s; "
                "refusing to connect" % (name, key.get_name(), key_fingerprint(key), path), host=label,
                hint="if the host was reinstalled, verify the new key out of band and remove the old "
                     "line (ssh-keygen -R '%s' -f %s); otherwise this may be an attack" % (name, path))
        if not trust_new:
            raise HostKeyError("unknown host key %s %s for %s (not in %s)"
                               % (key.get_name(), key_fingerprint(key), name, path), host=label)
        if not record:
            log.warning("%s: trusting new host key %s %s for this dry run only (not recorded in %s)",
                        label, key.get_name(), key_fingerprint(key), path)
            return "trusted"
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        with open(path, "a", encoding="ascii") as f:
            f.write("%s %s %s\n" % (name, key.get_name(), key.get_base64()))
        log.warning("%s: recorded new host key %s %s in %s (trust on first use)",
                    label, key.get_name(), key_fingerprint(key), path)
        return "recorded"


class SSHConnector(Connector):
    """A logged-in SSH session to one host (root by default).

    :param password: used only during login, never stored on the object.
    :param key_files: private keys to offer; default the usual ``~/.ssh/id_*`` that exist.
    :param trust_new: record an unknown host key instead of refusing (trust on first use).
    :param passphrase: ``callable(path) -> str or None`` asked for the passphrase of an encrypted key
        file (the command line prompts on a terminal); without one such a key is used through
        ssh-agent only.
    :param record_new: False to trust an unknown key (with ``trust_new``) without writing known_hosts.
    """

    def __init__(self, host, port=DEFAULT_SSH_PORT, user="root", key_files=None, password=None,
                 known_hosts=None, trust_new=False, connect_timeout=DEFAULT_CONNECT_TIMEOUT,
                 passphrase=None, record_new=True):
        require_paramiko()
        self.host = host
        self._passphrase = passphrase
        self.port = int(port)
        self.user = user
        self.label = host if self.port == DEFAULT_SSH_PORT else "%s:%d" % (host, self.port)
        self.known_hosts = known_hosts or default_known_hosts()
        self.host_key_status = None
        self._transport = None
        self._record_new = record_new
        self._connect(key_files, password, trust_new, connect_timeout)

    def __repr__(self):
        return "<SSHConnector %s@%s>" % (self.user, self.label)

    # ---- login -----------------------------------------------------------------------------------
    def _connect(self, key_files, password, trust_new, timeout):
        try:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
        except socket.timeout:
            raise SSHError("SSH connect timed out after %ss" % timeout, host=self.label,
                           hint="check the host is up and port %d is reachable" % self.port) from None
        except OSError as e:
            raise SSHError("cannot connect to sshd: %s" % (e.strerror or e), host=self.label,
                           hint="check the host is up and sshd listens on port %d" % self.port) from None
        transport = paramiko.Transport(sock)
        transport.banner_timeout = timeout
        transport.handshake_timeout = timeout
        self._transport = transport
        try:
            try:
                transport.start_client(timeout=timeout)
            except paramiko.SSHException as e:
                raise SSHError("SSH handshake failed: %s" % e, host=self.label,
                               hint="the server may offer only algorithms this client lacks; dom0 needs "
                                    "ssh-rsa and SHA-1 key exchange, which paramiko>=5 removed") from None
            key = transport.get_remote_server_key()
            self.host_key_status = check_host_key(self.known_hosts, self.host, self.port, key, trust_new,
                                                  record=self._record_new)
            if _OLD_OPENSSH.search(transport.remote_version or ""):
                # Pre-7.2 OpenSSH (every OVM dom0) knows only ssh-rsa signatures for RSA logins and
                # does not send server-sig-algs, so paramiko would offer rsa-sha2-512 and be refused.
                disabled = dict(transport.disabled_algorithms or {})
                disabled["pubkeys"] = list(disabled.get("pubkeys", [])) + _SHA2_RSA
                transport.disabled_algorithms = disabled
            self._login(key_files, password)
        except BaseException:
            self.close()
            raise

    def _keys(self, key_files):
        """``(label, key)`` to try in order, as ssh does: the ssh-agent's keys (``SSH_AUTH_SOCK``), then
        the key files."""
        if os.environ.get("SSH_AUTH_SOCK"):
            agent = paramiko.Agent()
            try:
                for key in agent.get_keys():
                    yield "agent key %s" % key_fingerprint(key), key
            finally:
                agent.close()
        for path in self._key_paths(key_files):
            pkey = self._load_key(path)
            # None: encrypted and no passphrase to be had (the agent's keys were offered first)
            yield "key %s" % path, pkey

    def _login(self, key_files, password):
        tried = []
        for label, pkey in self._keys(key_files):
            if pkey is None:
                tried.append("%s (passphrase-protected; not in ssh-agent)" % label)
                continue
            try:
                try:
                    self._transport.auth_publickey(self.user, pkey)
                except paramiko.AuthenticationException:
                    if not self._rsa_sha1_only(pkey):
                        raise
                    # A server that took no rsa-sha2 signature (announced late or not at all): the
                    # same key again, signed with ssh-rsa.
                    self._transport.auth_publickey(self.user, pkey)
                return
            except paramiko.BadAuthenticationType as e:
                tried.append("publickey (server allows only %s)" % ", ".join(e.allowed_types))
                break
            except paramiko.AuthenticationException:
                tried.append(label)
            except paramiko.SSHException as e:
                raise SSHError("SSH login failed: %s" % e, host=self.label) from None
        if password is not None:
            try:
                self._transport.auth_password(self.user, password)
                return
            except paramiko.AuthenticationException:
                tried.append("password")
            except paramiko.SSHException as e:
                raise SSHError("SSH password login failed: %s" % e.__class__.__name__,
                               host=self.label) from None
        hint = "give --ssh-key, or a password via --ssh-password-file / OVM3_SSH_PASSWORD"
        if any("passphrase" in t for t in tried):
            hint = ("load the encrypted key into ssh-agent (ssh-add KEY) or run on a terminal to be asked "
                    "for its passphrase")
        raise SSHError("%s login refused (tried %s)" % (self.user, ", ".join(tried) or "nothing"),
                       host=self.label, hint=hint)

    def _load_key(self, path):
        """The key in ``path``; None when it is encrypted and no passphrase was given."""
        try:
            return paramiko.PKey.from_path(path)
        except (paramiko.PasswordRequiredException, TypeError) as e:
            # paramiko raises either, depending on the key format ("Key is password-protected").
            if isinstance(e, TypeError) and "password" not in str(e).lower():
                raise SSHError("cannot load SSH key %s: %s" % (path, e), host=self.label) from None
        except (OSError, paramiko.SSHException, ValueError) as e:
            raise SSHError("cannot load SSH key %s: %s" % (path, e), host=self.label,
                           hint="give a private key file readable by this user") from None
        secret = self._passphrase(path) if self._passphrase is not None else None
        if not secret:
            return None
        try:
            return paramiko.PKey.from_path(path, passphrase=secret.encode("utf-8"))
        except (paramiko.SSHException, ValueError, TypeError):
            raise SSHError("cannot decrypt SSH key %s: wrong passphrase?" % path, host=self.label,
                           hint="check the passphrase, or load the key into ssh-agent (ssh-add %s)"
                                % path) from None

    def _rsa_sha1_only(self, pkey):
        """Switch RSA logins to ssh-rsa signatures; False if not RSA or already switched."""
        disabled = dict(self._transport.disabled_algorithms or {})
        pubkeys = list(disabled.get("pubkeys", []))
        if pkey.get_name() != "ssh-rsa" or set(_SHA2_RSA) <= set(pubkeys):
            return False
        disabled["pubkeys"] = pubkeys + _SHA2_RSA
        self._transport.disabled_algorithms = disabled
        return True

    @staticmethod
    def _key_paths(key_files):
        if key_files:
            return [os.path.expanduser(p) for p in key_files]
        return [p for p in (os.path.expanduser(k) for k in DEFAULT_KEY_FILES) if os.path.exists(p)]

    def close(self):
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    # ---- commands --------------------------------------------------------------------------------
    def run_line(self, line, stdin=None, timeout=DEFAULT_COMMAND_TIMEOUT):
        """Run one command line; read stdout and stderr concurrently until exit, within ``timeout``."""
        if self._transport is None or not self._transport.is_active():
            raise SSHError("SSH session is closed", host=self.label)
        deadline = time.monotonic() + timeout
        try:
            channel = self._transport.open_session(timeout=timeout)
            channel.exec_command(line)
        except paramiko.SSHException as e:
            raise SSHError("cannot start remote command: %s" % e, host=self.label) from None
        feeder = threading.Thread(target=_feed_stdin, args=(channel, stdin), daemon=True)
        feeder.start()
        out, err = [], []
        try:
            # The channel's pipe wakes select() on data for either stream and on EOF; EOF comes before
            # the exit status, which is then awaited on its own event (recv_exit_status has no timeout).
            while not (channel.eof_received or channel.closed):
                remaining = self._remaining(deadline, timeout, line)
                select.select([channel], [], [], min(remaining, 1.0))
                _drain(channel, out, err)
            _drain(channel, out, err)
            while not channel.status_event.wait(min(self._remaining(deadline, timeout, line), 1.0)):
                pass
            _drain(channel, out, err)
        finally:
            channel.close()
        feeder.join(timeout=1.0)
        return channel.recv_exit_status(), b"".join(out), b"".join(err)

    def _remaining(self, deadline, timeout, line):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SSHError("remote command did not finish within %ss: %s" % (timeout, line[:160]),
                           host=self.label, hint="the host may be overloaded or the command hung")
        return remaining


def _drain(channel, out, err):
    while channel.recv_ready():
        out.append(channel.recv(65536))
    while channel.recv_stderr_ready():
        err.append(channel.recv_stderr(65536))


def _feed_stdin(channel, data):
    try:
        if data:
            view = memoryview(data)
            for start in range(0, len(view), 32768):
                channel.sendall(view[start:start + 32768])
        channel.shutdown_write()
    except (OSError, paramiko.SSHException, EOFError):
        pass  # the command ended or the channel closed; run_line reports the outcome
