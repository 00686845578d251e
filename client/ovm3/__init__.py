"""ovm3: drive Oracle VM Server 3 hosts through Oracle's ovs-agent.

Usage::

    >>> import ovm3
    >>> agent = ovm3.connect("https://ovm-1:8899", password_file="~/.ovm3/ovm-1.pw")
    >>> agent.linux.discover_server().hostname
    'ovm-1'
"""
import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())


def connect(url, **kwargs):
    """Open a client to one agent; see :class:`ovm3.client.AgentClient` for the keyword arguments."""
    from ovm3.client import AgentClient

    return AgentClient(url, **kwargs)
