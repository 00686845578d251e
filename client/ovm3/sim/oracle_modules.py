"""Stand-ins for Oracle's own agent modules, generated from the API table for the fake ``api.py``.

A real ovs-agent lists Oracle's modules (``agent.api.host.linux.Linux``...) in ``MODULES`` next to
ours, so the agent module's ``get_api_services`` (and the introspection dump built on it) sees every
service. The simulator serves Oracle's methods from its own handlers; these classes only carry the
names, signatures (per agent version) and owners that the table declares, so an introspection dump
of the simulator shows what the table says each personality exposes.
"""
import inspect

from ovm3.api import TABLE

_POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD


def _stand_in(method, version):
    def service(*args):
        raise NotImplementedError("%s is served by the simulator's handlers, not by this stand-in" % method.wire)

    params = []
    for p in method.params(version):
        if p.required:
            params.append(inspect.Parameter(p.name, _POSITIONAL))
        else:
            params.append(inspect.Parameter(p.name, _POSITIONAL, default=p.default))
    service.__signature__ = inspect.Signature(params)
    service.__name__ = method.wire
    service.__doc__ = method.note or "%s (%s)" % (method.wire, method.area.title)
    return service


def _make_class(module, cls_name, methods, personality):
    def get_services(self, version=None):
        # A real agent passes its API version (3) here; the signatures depend on the OVM release,
        # which is the personality these stand-ins were made for.
        return {m.wire: _stand_in(m, personality) for m in methods if m.exists_in(personality)}

    return type(cls_name, (), {"__module__": module, "get_services": get_services,
                               "__doc__": "Stand-in for %s.%s (simulated)." % (module, cls_name)})


def classes_for(personality):
    """One stand-in class per Oracle (module, class) of the table, for one personality (``3.2``...)."""
    groups = {}
    for m in TABLE:
        if m.area.ours:
            continue
        key = (m.area.agent_module or "agent.api.unknown", m.area.agent_class or m.area.name.capitalize())
        groups.setdefault(key, []).append(m)
    return [_make_class(module, cls_name, methods, personality)
            for (module, cls_name), methods in groups.items()]
