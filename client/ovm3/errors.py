"""Every error ovm3 raises. One root, subclasses chosen by what the caller does next.

Each error carries the host, the agent method and a redacted view of the arguments, and its message
says what to do. Secrets never reach these objects: callers pass arguments through
:func:`ovm3.redact.redact_args` first (the transport does this for you).
"""


class OVM3Error(Exception):
    """Root of every ovm3 error."""

    #: Exit code the command line uses for this error (see README, "Exit codes").
    exit_code = 1
    hint = ""

    def __init__(self, message, host=None, method=None, args=None, hint=None):
        super().__init__(message)
        self.message = message
        self.host = host
        self.method = method
        self.args_redacted = args
        if hint is not None:
            self.hint = hint

    def __str__(self):
        where = []
        if self.host:
            where.append("host %s" % self.host)
        if self.method:
            call = self.method
            if self.args_redacted is not None:
                call += "(%s)" % ", ".join(repr(a) for a in self.args_redacted)
            where.append("call %s" % call)
        text = self.message
        if where:
            text = "%s: %s" % ("; ".join(where), text)
        if self.hint:
            text += " (%s)" % self.hint
        return text


class UsageError(OVM3Error):
    """The caller asked for something malformed (bad URL, unknown method, wrong argument count)."""

    exit_code = 2


class SignatureError(UsageError, TypeError):
    """Arguments do not fit the method's signature on the connected agent version."""


class ConfigError(OVM3Error):
    """A configuration or input file is missing, unreadable or inconsistent."""


class TransportError(OVM3Error):
    """The call did not complete on the wire."""


class AgentUnreachable(TransportError, ConnectionError):
    """Nothing answered at the agent's address (refused, reset, DNS, routing)."""

    hint = "check the host is up, ovs-agent runs (service ovs-agent status) and port 8899 is open"


class AgentTimeout(TransportError, TimeoutError):
    """The agent did not answer within the call's deadline."""

    hint = "raise the timeout class for this call, or check the agent is not hung"


class AuthenticationError(TransportError):
    """The agent refused the credentials (HTTP 401)."""

    hint = "check the agent user (default oracle) and the password source"


class TLSError(TransportError):
    """The TLS handshake failed or the peer certificate could not be verified."""

    hint = ("pin the agent certificate (ovm3 host fingerprint --save) or give a CA bundle; OVM 3.2/3.3 "
            "agents that only speak TLS 1.0/1.1 need --legacy-tls")


class FingerprintMismatch(TLSError):
    """The agent's certificate does not match the pinned SHA-256 fingerprint."""

    hint = ("the certificate changed since it was pinned: if the host was reinstalled, verify the new "
            "fingerprint out of band and re-pin it; otherwise this may be an attack")


class SSHError(TransportError):
    """An SSH connection, login or remote command to a host failed (deployment)."""

    hint = "check the host's sshd is reachable as root and the key or password source is right"


class HostKeyError(SSHError):
    """The host's SSH key is unknown (and trust on first use was not asked for) or has changed."""

    hint = ("verify the host key fingerprint out of band, then add it to known_hosts or pass "
            "--trust-new-host-key once; a changed key is never accepted automatically")


class DeployError(OVM3Error):
    """A deployment step on a host failed or the host cannot take our files (unsupported, bad checksum)."""


class ProtocolError(TransportError):
    """The peer answered, but not with a well-formed XML-RPC reply within the size cap."""

    hint = "is this really an ovs-agent on this port (and the right http/https scheme)?"


class ParseError(OVM3Error, ValueError):
    """A reply (or a document inside it) could not be parsed into the expected shape."""


class AgentFault(OVM3Error):
    """The agent ran the call and raised an exception.

    ``fault_code`` and ``fault_string`` are the raw XML-RPC fault; ``agent_exception`` is the agent's
    exception class (e.g. ``exceptions.RuntimeError``) and ``agent_message`` its message.
    """

    def __init__(self, message, fault_code=None, fault_string=None, agent_exception=None,
                 agent_message=None, **kw):
        super().__init__(message, **kw)
        self.fault_code = fault_code
        self.fault_string = fault_string
        self.agent_exception = agent_exception
        self.agent_message = agent_message


class FileExistsFault(AgentFault, FileExistsError):
    """The agent refused to overwrite an existing file."""


class NoSuchFileFault(AgentFault):
    """The agent could not find a file or directory it needed."""


class AlreadyInPoolFault(AgentFault):
    """The server is already a member of a (maybe other) server pool."""


class RepositoryExistsFault(AgentFault):
    """The repository is already known to the agent."""


class InvalidRolesFault(AgentFault):
    """update_server_roles was given roles the agent does not know."""


class NoSuchVMFault(AgentFault):
    """The agent knows no VM by that id or name."""


class BridgeBusyFault(AgentFault):
    """A bridge could not be started or stopped because it is in use."""


class UnknownMethodFault(AgentFault):
    """The agent has no such method (an older agent, or our module not installed or not upgraded)."""


class NotSimulatedFault(AgentFault):
    """The simulated agent does not implement this method."""


class ValidationFault(AgentFault):
    """Our agent module refused an argument (bad address, path outside allowed roots...)."""


class NegativeAnswer(OVM3Error):
    """A check completed and the answer is no (DEAD, breaking findings)."""

    exit_code = 3


class UnknownAnswer(OVM3Error):
    """A check completed but the answer cannot be known (UNKNOWN verdict)."""

    exit_code = 4


# ---- the CloudStack resource layer (ovm3.cloudstack) -------------------------------------------------
class CommandError(UsageError, ValueError):
    """A CloudStack command object lacks something its handler needs (a client error, not an agent
    failure)."""


class Refused(OVM3Error):
    """The handler will not do what the command asks because it would harm data it did not make
    (e.g. overwrite an existing file). The message says what is in the way, on which host."""


class HostRefused(OVM3Error):
    """The host is not ours to manage (owned by another manager, or an unsupported version)."""


class HeartbeatMismatch(OVM3Error):
    """The host's deployed heartbeat config disagrees with what this installation expects."""


class InvalidTransition(OVM3Error):
    """An operation event that is not legal from the VM's current state."""
