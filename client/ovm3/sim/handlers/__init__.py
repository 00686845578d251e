"""Handler registry: one function per agent wire method, keyed by wire name.

A handler is ``fn(host, *args)`` where ``host`` is the :class:`ovm3.sim.state.HostState`; it returns the
reply value (None for the agent's "void" calls, which reply nil) or raises
:class:`ovm3.sim.state.AgentError`. Arguments were already checked against the table's signature for
the host's version. Methods of the table without a handler answer the "not simulated" fault.
"""

import importlib

HANDLERS = {}
#: Oracle methods the simulator deliberately leaves out (they answer "not simulated"), with the reason.
NOT_SIMULATED = {
    "ocfs2_get_meta_data": "there are no OCFS2 block devices in the sandbox",
}
_MODULES = ("linux", "network", "pool", "cluster", "repository", "storage", "xen", "misc")


def handles(wire):
    """Register the decorated function as the handler of ``wire``."""

    def deco(fn):
        if wire in HANDLERS:
            raise ValueError("two handlers for %s" % wire)
        HANDLERS[wire] = fn
        return fn

    return deco


def load():
    """Import every handler module once; return the registry."""
    for name in _MODULES:
        importlib.import_module("ovm3.sim.handlers." + name)
    return HANDLERS
