"""State every service module shares: the HostIO in use, the settings, the service error.

Kept apart from ``ovm3_agent`` (the registry) so service modules can import it without a cycle.
Python 2.4-compatible, stdlib only.
"""
import os

import ovm3_hostio

MODULE_VERSION = "1.0.0"

#: Where the module's files live (next to this file once installed into <agent>/api/).
MODULE_DIR = os.path.dirname(os.path.abspath(__file__))

#: Host paths and limits the services use; the simulator and tests change them with :func:`configure`.
DEFAULTS = {
    # Heartbeat daemon (fencing/ovm3_heartbeat.py): its config is the single source of guid and timings.
    "heartbeat_config": "/etc/sysconfig/ovm3-heartbeat",
    # root's SSH directory (CloudStack uploads the system-VM key there) and that key.
    "ssh_dir": "/root/.ssh",
    "domr_key": "/root/.ssh/id_rsa.cloud",
    # Key file names ovs_upload_ssh_key writes besides id_rsa.cloud (sshd's own files are always refused).
    "ssh_key_names": (),
    # Uploads, mkdirs and file checks are confined below these host directories.
    "file_roots": ("/OVS/Repositories", "/nfsmnt", "/opt/ovm3", "/var/lib/ovm3"),
    # Private scratch dir for files on their way to a system VM (mode 0700).
    "spool_dir": "/var/lib/ovm3/spool",
    "ovs_release": "/etc/ovs-release",
    "ssh": "/usr/bin/ssh",
    "scp": "/usr/bin/scp",
    "ping": "/bin/ping",
    "ip": ovm3_hostio.IP,
    "domr_port": 3922,
    "domr_user": "root",
    # Seconds between the two /proc/stat samples of ovs_dom0_stats.
    "cpu_sample": 0.5,
}

_state = {"host": None, "settings": dict(DEFAULTS), "modules": None}


class ServiceError(Exception):
    """A refusal or failure of one of our services; ovs-agent turns it into an XML-RPC fault."""


class InvalidArgument(ServiceError):
    """An argument failed validation (the fault text always contains "invalid argument")."""

    def __init__(self, name, reason):
        ServiceError.__init__(self, "invalid argument %s: %s" % (name, reason))
        self.name = name
        self.reason = reason


def set_host(hostio):
    """Install the HostIO every service uses (None goes back to the real host on ``/``)."""
    _state["host"] = hostio


def host():
    """The HostIO in use."""
    if _state["host"] is None:
        _state["host"] = ovm3_hostio.RealHost("/")
    return _state["host"]


def configure(**settings):
    """Change settings (see :data:`DEFAULTS`); unknown names are refused. Returns the old values."""
    old = {}
    for key in settings:
        if key not in DEFAULTS:
            raise KeyError("unknown agent module setting %r" % key)
        old[key] = _state["settings"][key]
    _state["settings"].update(settings)
    return old


def reset():
    """Back to the defaults and the real host (tests call this in tearDown)."""
    _state["host"] = None
    _state["settings"] = dict(DEFAULTS)
    _state["modules"] = None


def setting(name):
    return _state["settings"][name]


def set_agent_modules(modules):
    """Tell ``get_api_services`` which service classes the hosting agent loaded (the simulator's)."""
    _state["modules"] = modules


def agent_modules():
    """The hosting agent's MODULES: as set, else ``agent.target.api.MODULES``; ImportError outside it."""
    if _state["modules"] is not None:
        return list(_state["modules"])
    mod = __import__("agent.target.api", {}, {}, ["MODULES"])
    return list(mod.MODULES)
