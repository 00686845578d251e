"""The connector interface: how deployment reaches a host (run a command, put a file, get a file).

Deployment logic only ever talks to a :class:`Connector`; :mod:`ovm3.deploy.ssh` is the paramiko
implementation. Commands are argv lists: :func:`command_line` quotes every word with ``shlex.quote``, so
no data is ever interpreted by the remote shell.
"""
import dataclasses
import shlex

from ovm3.errors import SSHError

#: Seconds a remote command may take unless the caller gives its own deadline.
DEFAULT_COMMAND_TIMEOUT = 120.0


@dataclasses.dataclass
class CommandResult:
    """What one remote command did: its argv, exit status and both output streams (bytes)."""

    argv: list
    status: int
    stdout: bytes = b""
    stderr: bytes = b""

    @property
    def ok(self):
        return self.status == 0

    def text(self):
        """stdout decoded as UTF-8 (undecodable bytes replaced)."""
        return self.stdout.decode("utf-8", "replace")

    def error_text(self, limit=400):
        """A short excerpt of stderr (else stdout) for error messages."""
        raw = (self.stderr or self.stdout).decode("utf-8", "replace").strip()
        return raw if len(raw) <= limit else raw[:limit] + "..."


def command_line(argv):
    """One argv (list of words) as a remote command line with every word quoted."""
    if isinstance(argv, str) or not argv:
        raise ValueError("a command is a non-empty list of words, not %r" % (argv,))
    return " ".join(shlex.quote(str(word)) for word in argv)


def chain(*argvs):
    """Several argvs run one after the other, stopping at the first failure (``a && b``), each quoted."""
    return " && ".join(command_line(a) for a in argvs)


class Connector:
    """A connection to one host. Subclasses implement :meth:`run_line`, :meth:`close` and ``label``.

    ``put`` and ``get`` are built on ``run`` so every implementation gets the same semantics: ``put``
    streams the bytes to ``dd`` (no SFTP subsystem needed on old dom0), ``get`` reads with ``cat``.
    """

    label = "?"

    def run_line(self, line, stdin=None, timeout=DEFAULT_COMMAND_TIMEOUT):
        """Run one already-quoted command line; return ``(status, stdout, stderr)``."""
        raise NotImplementedError

    def close(self):
        """Drop the connection (idempotent)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def run(self, argv, stdin=None, timeout=DEFAULT_COMMAND_TIMEOUT, check=False):
        """Run one argv; with ``check`` a non-zero exit raises :class:`ovm3.errors.SSHError`."""
        return self._result(argv, command_line(argv), stdin, timeout, check)

    def run_chain(self, argvs, stdin=None, timeout=DEFAULT_COMMAND_TIMEOUT, check=False):
        """Run several argvs joined with ``&&`` in one round trip (``stdin`` goes to the chain)."""
        return self._result(list(argvs), chain(*argvs), stdin, timeout, check)

    def _result(self, argv, line, stdin, timeout, check):
        status, out, err = self.run_line(line, stdin=stdin, timeout=timeout)
        result = CommandResult(argv, status, out, err)
        if check and not result.ok:
            raise SSHError("command %s exited %d: %s" % (_short(argv), status, result.error_text()),
                           host=self.label, hint="see the command's message above")
        return result

    def put(self, data, remote_path, timeout=DEFAULT_COMMAND_TIMEOUT):
        """Write ``data`` (bytes) to ``remote_path`` as is (callers handle temp names and renames)."""
        self.run(["dd", "of=%s" % remote_path, "bs=65536"], stdin=data, timeout=timeout, check=True)

    def get(self, remote_path, timeout=DEFAULT_COMMAND_TIMEOUT):
        """The bytes of ``remote_path``; None when it does not exist."""
        result = self.run(["cat", remote_path], timeout=timeout)
        if not result.ok:
            if b"No such file" in result.stderr:
                return None
            raise SSHError("cannot read %s: %s" % (remote_path, result.error_text()), host=self.label)
        return result.stdout


def _short(argv, limit=160):
    text = command_line(argv[0]) if argv and isinstance(argv[0], list) else command_line(argv)
    return text if len(text) <= limit else text[:limit] + "..."
