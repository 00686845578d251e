"""ovm3's module for Oracle's ovs-agent: service registry (installer CLI to follow)."""
import ovm3_hostio

MODULE_VERSION = "1.0.0"

_host = [None]


def set_host(hostio):
    """Install the HostIO every service uses (the simulator installs its own; None resets)."""
    _host[0] = hostio


def get_host():
    """The HostIO in use (a RealHost on / unless :func:`set_host` installed another)."""
    if _host[0] is None:
        _host[0] = ovm3_hostio.RealHost("/")
    return _host[0]


try:
    from agent.api.base import Agent as _AgentBase
except ImportError:  # outside ovs-agent (tests, the simulator, the installer CLI)
    _AgentBase = object


class OVM3Agent(_AgentBase):
    """The class ovs-agent loads from ``agent/target/api.py`` MODULES."""

    def get_services(self, version=None):
        """{wire name: function} of every service of this module."""
        return {}

    def getName(self):
        return "OVM3Agent"
