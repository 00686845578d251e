"""The client every mutating command runs through: it records the agent calls that change something, in
order, and in a dry run does not send them.

A command's code never asks whether it is a dry run to decide which calls to make: it calls the typed
mirrors (``recorder.xen.start_vm(...)``) as it always does. Read-only calls (the table's ``readonly``)
always go to the agent, so a dry run sees the host as it is; calls that change something are checked
against the table's signature, recorded with their arguments redacted, and sent only when ``send`` is
True. The only thing code asks (``recorder.dry_run``) is whether to skip waiting for the agent to catch
up (or reading a copy's progress), since in a dry run it never will.
"""
from ovm3.api import TABLE
from ovm3.api.mirror import build_mirrors
from ovm3.redact import redact_args


class RecordingClient:
    """Wraps an :class:`ovm3.client.AgentClient`; ``calls`` lists ``(host, wire method, redacted args)``
    (pass one list to several recorders to keep the order of a command that talks to two hosts)."""

    def __init__(self, client, send=True, calls=None):
        self.real = client
        self.send = send
        self.host = client.host
        self.calls = [] if calls is None else calls
        for name, mirror in build_mirrors(self).items():
            setattr(self, name, mirror)

    def __repr__(self):
        return "<RecordingClient %s%s, %d call(s)>" % (self.host, "" if self.send else " dry-run",
                                                       len(self.calls))

    @property
    def dry_run(self):
        return not self.send

    @property
    def version(self):
        return self.real.version

    def call(self, wire, *args, timeout_class=None):
        method = TABLE.get(wire)
        if method.readonly:
            return self.real.call(wire, *args, timeout_class=timeout_class)
        known = method.signature_changes() or self.real.version_known
        version = self.real.version if known else None
        wire_args = method.bind(args, version, host=self.host)
        self.calls.append((self.host, method.wire, redact_args(method, wire_args, version)))
        if not self.send:
            return None
        return self.real.call(wire, *args, timeout_class=timeout_class)

    def close(self):
        self.real.close()


def describe_call(call):
    """``(host, method, args)`` as ``method(arg, ...)`` (arguments shown as repr)."""
    _host, method, args = call
    return "%s(%s)" % (method, ", ".join(repr(a) for a in args))
