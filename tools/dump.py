"""Three ways to dump what an agent exposes, one snapshot format (:mod:`ovm3.tools.snapshot`).

- :func:`dump_xmlrpc`: ask our agent module's ``get_api_services`` service on a live agent;
- :func:`dump_ssh`: upload the dumper to dom0 and run it with dom0's own Python (a host without our
  module), through the deployment connector (:class:`ovm3.deploy.connector.Connector`);
- :func:`dump_sim`: start a simulated agent of one personality and dump it over XML-RPC.
"""
import json
import logging
import os

from ovm3 import errors
from ovm3.api import normalise_version
from ovm3.hostfiles import path as host_path
from ovm3.tools import snapshot

log = logging.getLogger(__name__)

DUMPER = "ovm3_dump_api.py"
WALKER = "ovm3_apidump.py"
#: The walker imports it (flat, as on dom0): what dom0's old Pythons lack, JSON writer included.
COMPAT = "ovm3_compat.py"
DEFAULT_REMOTE_PYTHON = "python"


def dumper_files():
    """``{remote file name: local path}`` of what :func:`dump_ssh` uploads."""
    import ovm3.tools.host as host_pkg

    return {DUMPER: os.path.join(os.path.dirname(os.path.abspath(host_pkg.__file__)), DUMPER),
            WALKER: host_path("hostlib", WALKER), COMPAT: host_path("hostlib", COMPAT)}


def _services_of(reply, host):
    """``get_api_services`` answers a list of services (or a dict holding ``services``)."""
    if isinstance(reply, dict) and isinstance(reply.get("services"), list):
        return reply["services"]
    if isinstance(reply, list):
        return reply
    raise errors.ParseError("get_api_services answered a %s, expected a list of services"
                            % type(reply).__name__, host=host, method="get_api_services")


def dump_xmlrpc(client, source="xmlrpc"):
    """Snapshot dict of a live agent through our module's ``get_api_services`` (AgentClient given)."""
    reply = client.call("get_api_services")
    services = _services_of(reply, client.host)
    ovm_version = agent_version = None
    try:
        info = client.linux.discover_server()
        ovm_version = getattr(info, "ovm_version", None)
        agent_version = normalise_version(ovm_version) if ovm_version else None
    except errors.OVM3Error as e:
        log.warning("%s: cannot read the OVM version (%s); the snapshot will not name it", client.host, e)
    try:
        return snapshot.build(services, agent_version, ovm_version, host=client.host, source=source)
    except ValueError as e:
        raise errors.ParseError("get_api_services answered something that is not a service list: %s" % e,
                                host=client.host, method="get_api_services") from None


def dump_ssh(connector, python=DEFAULT_REMOTE_PYTHON, agent_path=None, version=None, release_file=None,
             timeout=120.0, remote_tmp="/tmp"):
    """Snapshot dict of a host reached through ``connector``: upload the dumper, run it, clean up.

    The dumper runs from a fresh ``mktemp -d`` directory under ``remote_tmp``, removed afterwards.
    """
    prefix = remote_tmp.rstrip("/") + "/ovm3-apidump."
    made = connector.run(["mktemp", "-d", prefix + "XXXXXX"], timeout=timeout, check=True)
    workdir = made.text().strip()
    if not workdir.startswith(prefix):
        raise errors.SSHError("mktemp answered %r" % workdir, host=connector.label)
    try:
        for name, local in dumper_files().items():
            with open(local, "rb") as f:
                connector.put(f.read(), workdir + "/" + name, timeout=timeout)
        argv = [python, workdir + "/" + DUMPER]
        for option, value in (("--agent-path", agent_path), ("--version", version),
                              ("--release-file", release_file)):
            if value:
                argv += [option, value]
        result = connector.run(argv, timeout=timeout)
    finally:
        try:
            connector.run(["rm", "-rf", workdir], timeout=timeout)
        except errors.OVM3Error as e:
            log.warning("%s: could not remove %s: %s", connector.label, workdir, e)
    if not result.ok:
        raise errors.SSHError("the API dumper exited %d: %s" % (result.status, result.error_text()),
                              host=connector.label,
                              hint="is this an OVM server? give --agent-path or --python if the agent "
                                   "package or dom0's Python live elsewhere")
    try:
        data = json.loads(result.text())
        snapshot.validate(data)
    except ValueError as e:
        raise errors.ParseError("the API dumper printed no usable snapshot: %s" % e,
                                host=connector.label) from None
    return data


def dump_sim(version):
    """Snapshot dict of a simulated agent of personality ``version`` (``3.2``/``3.3``/``3.4``)."""
    from ovm3.sim import simulated_agents

    version = normalise_version(version)
    with simulated_agents(1, version=version) as hosts:
        with hosts[0].client() as client:
            data = dump_xmlrpc(client, source="sim")
    data["agent_version"] = data["agent_version"] or version
    return data
