"""Synthetic snapshots: what the API table (and so the simulator) says an agent version exposes.

They are derived from the reference, not dumped from real hosts, and say so: ``synthetic`` is true,
``source`` is ``table``, host and time are null (so regenerating gives byte-identical files) and
``note`` explains. A parameter name the reference does not know keeps the table's descriptive name with
``name_known: false``; nothing is invented. Regenerate the shipped files with
``ovm3 introspect snapshot --version 3.3 --out tools/snapshots/ovs-agent-3.3.json`` (or ``--all``).
"""
from ovm3.api import TABLE, normalise_version
from ovm3.hostfiles import flat_import
from ovm3.tools import snapshot

ovm3_apidump = flat_import("hostlib", "ovm3_apidump")

NOTE = ("Synthetic: generated from ovm3.api.TABLE (facts from the project's reference documents), not "
        "dumped from a real host. Parameters with name_known false carry descriptive names the reference "
        "does not know (the wire carries no names); function and doc are unknown (null).")


def service_from_method(method, version):
    """One table method as a snapshot service entry for agent ``version``."""
    params = []
    for p in method.params(version):
        entry = {"name": p.name, "name_known": p.name_known, "type": p.type}
        if not p.required:
            entry["default"] = ovm3_apidump.describe_default(p.default)
        params.append(entry)
    return {"name": method.wire, "module": method.area.agent_module, "class": method.area.agent_class,
            "function": None, "doc": None, "params": params, "varargs": None, "kwargs": None}


def from_table(version, table=TABLE):
    """The synthetic snapshot dict of agent ``version`` (``3.2``/``3.3``/``3.4``)."""
    version = normalise_version(version)
    services = [service_from_method(m, version) for m in table.for_version(version)]
    return snapshot.build(services, version, source="table", synthetic=True, note=NOTE)
