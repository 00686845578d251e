"""A real OpenSSH server on a 127.0.0.1 port for the deploy tests.

``SSHServer(workdir, ...)`` writes its own host key, authorized_keys and config under ``workdir`` and runs
``/usr/sbin/sshd -D -e -f config`` until ``stop()``. Root may log in with the test's key (CI runs as
root); ``legacy=True`` restricts the server to what an Oracle Linux 6 OpenSSH 5.3 offers.

``open_under_root=FOLDER`` makes one folder below /root (root's 0700 home) reachable by every user of
that sshd's sessions, for an interpreter an unprivileged user must run (pyenv's Python 2.7 lives in
/root/.pyenv): sshd runs in a private mount namespace where /root is an empty tmpfs holding only that
folder, bound at its own path. Nothing outside the namespace changes.

``root_password=...`` lets root log in with that password without touching the machine's accounts:
sshd then runs in a private mount namespace (``unshare -m``) where a throwaway shadow file holding only
that password is bind-mounted over /etc/shadow; the real file is never written and nothing outside
the namespace sees the bind mount.
"""
import os
import shutil
import socket
import subprocess
import time

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
#: Runs inside the new mount namespace: $0 is the throwaway shadow file, "$@" the sshd command line.
_BIND_SHADOW = 'mount --bind "$0" /etc/shadow && exec "$@"'
#: Runs inside the new mount namespace: $0 a staging dir, $1 a folder below /root, "$@" after them the
#: sshd command line. /root becomes an empty tmpfs (0755) holding only that folder, bound back in place.
_OPEN_UNDER_ROOT = ('set -e; stage=$0; folder=$1; shift; mount --bind "$folder" "$stage"; '
                    'mount -t tmpfs -o mode=0755 ovm3-test-root /root; mkdir -p "$folder"; '
                    'mount --bind "$stage" "$folder"; exec "$@"')

#: The algorithms of an Oracle Linux 6 (OVM 3.3/3.4) sshd; OpenSSH 9 needs them enabled explicitly.
OL6_ALGORITHMS = """\
HostKeyAlgorithms ssh-rsa
PubkeyAcceptedAlgorithms ssh-rsa
KexAlgorithms diffie-hellman-group14-sha1,diffie-hellman-group-exchange-sha1
Ciphers aes128-ctr,aes256-ctr
MACs hmac-sha1
"""


def available():
    """True when sshd and ssh-keygen exist and we run as root (sshd must switch to the root user)."""
    return os.path.exists(SSHD) and os.path.exists(SSH_KEYGEN) and os.geteuid() == 0


def private_shadow_possible():
    """True when sshd can run in its own mount namespace with a throwaway /etc/shadow (root, unshare)."""
    return private_mounts_possible() and os.path.exists(OPENSSL)


def private_mounts_possible():
    """True when sshd can run in its own mount namespace (root, unshare -m)."""
    if not available() or not os.path.exists(UNSHARE):
        return False
    probe = subprocess.run([UNSHARE, "-m", "--propagation", "private", "true"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return probe.returncode == 0


def keygen(path, kind="ed25519"):
    """Create an unencrypted key pair at ``path`` (+ ``.pub``); return ``path``."""
    cmd = [SSH_KEYGEN, "-q", "-t", kind, "-N", "", "-C", "ovm3-test", "-f", path]
    if kind == "rsa":
        cmd[4:4] = ["-b", "2048"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SSHServer:
    """One sshd. ``client_keys``: public key files allowed to log in as root."""

    def __init__(self, workdir, client_keys, legacy=False, password_auth=False, host_key=None,
                 root_password=None, open_under_root=None):
        self.workdir = workdir
        if open_under_root is not None and not open_under_root.startswith("/root/"):
            raise ValueError("open_under_root names a folder below /root, got %r" % open_under_root)
        self.open_under_root = open_under_root
        os.makedirs(workdir, exist_ok=True)
        self.legacy = legacy
        self.host_key = host_key or keygen(os.path.join(workdir, "host_key"), "rsa" if legacy else "ed25519")
        self.authorized = os.path.join(workdir, "authorized_keys")
        with open(self.authorized, "w") as out:
            for pub in client_keys:
                with open(pub) as f:
                    out.write(f.read())
        self.password_auth = password_auth or root_password is not None
        self.shadow = None
        if root_password is not None:
            self.shadow = os.path.join(workdir, "shadow")
            crypted = subprocess.run([OPENSSL, "passwd", "-6", "-stdin"], input=root_password.encode(),
                                     stdout=subprocess.PIPE, check=True).stdout.decode().strip()
            with open(self.shadow, "w") as f:
                f.write("root:%s:::::::\n" % crypted)
            os.chmod(self.shadow, 0o600)
        self.proc = None
        self.port = None

    def host_public_key(self):
        """``(type, base64)`` of the server's host key."""
        with open(self.host_key + ".pub") as f:
            kind, b64 = f.read().split()[:2]
        return kind, b64

    def known_hosts_line(self):
        kind, b64 = self.host_public_key()
        return "[127.0.0.1]:%d %s %s\n" % (self.port, kind, b64)

    def _config(self, port):
        text = (
            "Port %d\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s\nUsePAM no\nStrictModes no\n"
            "AuthorizedKeysFile %s\nPermitRootLogin yes\nPasswordAuthentication %s\n"
            "KbdInteractiveAuthentication no\nLogLevel VERBOSE\nUseDNS no\nPrintMotd no\nPrintLastLog no\n"
            "Subsystem sftp internal-sftp\n"
            % (port, self.host_key, os.path.join(self.workdir, "sshd.pid"), self.authorized,
               "yes" if self.password_auth else "no"))
        if self.legacy:
            text += OL6_ALGORITHMS
        path = os.path.join(self.workdir, "sshd_config")
        with open(path, "w") as f:
            f.write(text)
        return path

    def start(self, deadline=15.0):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation dir sshd insists on
        for _ in range(5):
            port = free_port()
            config = self._config(port)
            log = open(os.path.join(self.workdir, "sshd.log"), "ab")
            argv = [SSHD, "-D", "-e", "-f", config]
            if self.shadow:
                argv = [UNSHARE, "-m", "--propagation", "private", "sh", "-c", _BIND_SHADOW, self.shadow] + argv
            elif self.open_under_root:
                stage = os.path.join(self.workdir, "root-stage")
                os.makedirs(stage, exist_ok=True)
                argv = [UNSHARE, "-m", "--propagation", "private", "sh", "-c", _OPEN_UNDER_ROOT, stage,
                        self.open_under_root] + argv
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log)
            log.close()
            end = time.monotonic() + deadline
            while time.monotonic() < end and self.proc.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                        if s.recv(4).startswith(b"SSH-"):
                            self.port = port
                            return self
                except OSError:
                    time.sleep(0.05)
            self.stop()
        with open(os.path.join(self.workdir, "sshd.log"), "rb") as f:
            raise RuntimeError("sshd did not start: %s" % f.read()[-2000:].decode("utf-8", "replace"))

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
