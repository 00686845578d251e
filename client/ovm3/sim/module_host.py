"""Hosting the project's agent module the way ovs-agent does (filled in once agent_module/ exists).

Until ``agent_module/ovm3_agent.py`` and ``agent_module/ovm3_hostio.py`` exist, nothing is attached
and the table's ``cloudstack``/``ovm3`` methods answer "not simulated".
"""


def attach(sim_host):
    """Load the agent module for ``sim_host`` if it exists; return the loaded module host or None."""
    return None
