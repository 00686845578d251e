"""Give an :class:`ovm3.client.AgentClient` the signatures a snapshot recorded for the connected agent.

The API table knows what the reference says each agent version takes; a snapshot dumped from the real
host knows what that host really exposes. With a snapshot attached, every call (raw ``call`` and the
typed mirrors, which go through it) is first checked against the snapshot: a method the agent does not
expose, too many arguments or a missing required one raise :class:`ovm3.errors.SignatureError` before
anything is sent. The table's own checks (types, version) still run afterwards.

Usage::

    snap = ovm3.tools.snapshot.load("ovm-1.json")
    client = client_for("https://ovm-1:8899", snap, password=...)   # or attach(existing_client, snap)
"""
from ovm3.errors import SignatureError
from ovm3.tools import snapshot as snapshots


def check_call(snap, wire, args, host=None):
    """Raise SignatureError unless ``wire(*args)`` fits what ``snap`` recorded."""
    service = snap.service(wire)
    if service is None:
        raise SignatureError("the agent does not expose %s (according to snapshot %s of agent %s)" % (
            wire, snap.label, snap.agent_version or "?"), host=host, method=wire,
            hint="dump the agent again (ovm3 introspect dump) if it was upgraded")
    service.check_args(args, host=host, version=snap.agent_version)


def attach(client, snap):
    """Check every call of ``client`` against ``snap`` (a Snapshot or a path); returns the client."""
    if isinstance(snap, str):
        snap = snapshots.load(snap)
    plain_call = client.call

    def call(wire, *args, **kw):
        check_call(snap, wire, args, host=client.host)
        return plain_call(wire, *args, **kw)

    call.__doc__ = plain_call.__doc__
    client.call = call
    client.snapshot = snap
    return client


def client_for(url, snap, **kw):
    """An AgentClient for ``url`` that knows its agent's version and signatures from ``snap``."""
    from ovm3.client import AgentClient

    if isinstance(snap, str):
        snap = snapshots.load(snap)
    if snap.agent_version and "agent_version" not in kw:
        kw["agent_version"] = snap.agent_version
    return attach(AgentClient(url, **kw), snap)
