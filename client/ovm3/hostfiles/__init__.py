"""The host-side files (agent module, heartbeat daemon, shared dom0 helpers) as shipped in this package.

They run on dom0's own Python (2.4 on OVM 3.2, 2.6 on 3.3/3.4) and import each other by plain module
name, so they are deployed as flat files; :func:`path` finds them in a checkout or an installed copy.
"""
import importlib
import os
import re
import sys

FOLDERS = ("agent_module", "fencing", "hostlib")


def path(folder, filename=None):
    """Absolute path of a host-side folder (``agent_module``, ``fencing``, ``hostlib``) or a file in it."""
    if folder not in FOLDERS:
        raise ValueError("unknown host-side folder %r" % folder)
    mod = __import__("ovm3.hostfiles." + folder, fromlist=["__file__"])
    base = os.path.dirname(os.path.abspath(mod.__file__))
    return os.path.join(base, filename) if filename else base


def files(folder):
    """The deployable files of one folder (sources, scripts and configs; no tests, no caches)."""
    base = path(folder)
    out = []
    for name in sorted(os.listdir(base)):
        full = os.path.join(base, name)
        if os.path.isfile(full) and name != "__init__.py" and not name.endswith((".pyc", ".pyo")):
            out.append(full)
    return out


def flat_import(folder, name):
    """Import the host-side module ``name`` as dom0 does, by its flat name: ``folder`` goes on sys.path,
    so the modules it imports in turn (``import ovm3_compat``) resolve the same way."""
    base = path(folder)
    if base not in sys.path:
        sys.path.append(base)
    return importlib.import_module(name)


def heartbeat_main():
    """Console entry point ``ovm3-heartbeat``: run fencing/ovm3_heartbeat.py as dom0 would."""
    for folder in ("hostlib", "fencing"):
        p = path(folder)
        if p not in sys.path:
            sys.path.insert(0, p)
    import ovm3_heartbeat  # noqa: E402  (a flat host-side module)

    sys.exit(ovm3_heartbeat.main(sys.argv[1:]))


def module_version():
    """MODULE_VERSION of the agent module shipped with this package ("" if it cannot be read)."""
    try:
        with open(path("agent_module", "ovm3_agent_base.py"), encoding="utf-8") as f:
            m = re.search(r'^MODULE_VERSION\s*=\s*"([^"]+)"', f.read(), re.M)
        return m.group(1) if m else ""
    except (OSError, ValueError):
        return ""
