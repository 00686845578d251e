"""ovm3's module for Oracle's ovs-agent: the service registry, and the installer's command line.

ovs-agent loads the classes listed in ``agent/target/api.py`` MODULES and registers what each
instance's ``get_services(version)`` returns; :class:`OVM3Agent` is ours. The services keep the wire
names and argument orders of CloudStack's ``cloudstack.py`` so a stock CloudStack management server
works unchanged, plus ovm3's own (``get_api_services``, ``get_module_info``,
``check_dom0_storage_verdict``). Every service reaches the host only through the HostIO seam
(``ovm3_hostio``); the simulated agent installs its own with :func:`set_host`.

Run with dom0's Python to install it into the agent (see ``ovm3_agent_install``)::

    python ovm3_agent.py install --agent-dir DIR [--agent-ini FILE] [--agent-ssl keep|enable|disable]
                                 [--host-fixes] [--restart] [--root ROOT]
    python ovm3_agent.py uninstall --agent-dir DIR [...]
    python ovm3_agent.py status --agent-dir DIR [...]

Python 2.4-compatible, stdlib only; the module's files import each other by flat name.
"""
import os
import sys

try:
    import ovm3_compat  # noqa: F401  (deployed flat next to this file)
except ImportError:  # running from a checkout: the shared helpers live in ../hostlib
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "hostlib"))
    import ovm3_compat  # noqa: F401

import ovm3_agent_base as base
import ovm3_agent_domr
import ovm3_agent_files
import ovm3_agent_health
import ovm3_agent_info
import ovm3_agent_net
import ovm3_agent_stats

MODULE_VERSION = base.MODULE_VERSION
SERVICE_MODULES = (ovm3_agent_info, ovm3_agent_net, ovm3_agent_domr, ovm3_agent_files, ovm3_agent_stats,
                   ovm3_agent_health)

# Re-exported for the simulator and tests: one place to install a HostIO and change settings.
set_host = base.set_host
get_host = base.host
configure = base.configure
reset = base.reset
set_agent_modules = base.set_agent_modules
ServiceError = base.ServiceError
InvalidArgument = base.InvalidArgument


def services():
    """{wire name: function} over every service module (a name served twice is a programming error)."""
    out = {}
    for module in SERVICE_MODULES:
        for name in module.SERVICES:
            if name in out:
                raise RuntimeError("service %s is defined twice" % name)
            out[name] = module.SERVICES[name]
    return out


try:
    from agent.api.base import Agent as _AgentBase
except ImportError:  # outside ovs-agent: tests, the simulator, the installer CLI
    _AgentBase = object


class OVM3Agent(_AgentBase):
    """The class ovs-agent loads from ``agent/target/api.py`` MODULES."""

    def get_services(self, version=None):
        """{wire name: function} of every service of this module (the same on every agent version)."""
        return services()

    def getName(self):
        return "OVM3Agent"


def main(argv=None):
    """The installer CLI (``install``, ``uninstall``, ``status``): exit 0 ok, 1 error, 2 usage."""
    import ovm3_agent_install
    if argv is None:
        argv = sys.argv[1:]
    return ovm3_agent_install.main(argv)


if __name__ == "__main__":
    sys.exit(main())
