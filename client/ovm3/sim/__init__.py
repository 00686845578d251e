"""The simulated ovs-agent: a stateful fake OVM 3 host (or many) served over real loopback sockets.

``simulated_agents(count, version, root=..., tls=...)`` is the context manager tests use; ``ovm3 sim`` runs the
same hosts in the foreground. See README "Simulated agent".
"""

from ovm3.sim.hosts import Hosts, SimHost, simulated_agents, start_hosts, stop_hosts  # noqa: F401
from ovm3.sim.personality import PERSONALITIES, personality  # noqa: F401

__all__ = [
    "simulated_agents",
    "SimHost",
    "Hosts",
    "start_hosts",
    "stop_hosts",
    "PERSONALITIES",
    "personality",
]
