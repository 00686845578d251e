"""Walk an ovs-agent's service modules and describe every service it exposes (dom0 Python 2.4..3.x).

The agent lists its service classes in ``agent.target.api.MODULES``; each instance answers
``get_services(version)`` with ``{wire name: function}``. :func:`dump_services` turns that into plain
data: for every service its module, class, function name, argument names, real default values,
varargs/kwargs and the first line of its docstring. The agent module's ``get_api_services`` service
returns that list over XML-RPC; ``tools/host/ovm3_dump_api.py`` prints it as JSON over SSH.

Defaults are kept as ``{"type": ..., "repr": ..., "value": ...}``; ``value`` is present only when it
survives both XML-RPC and JSON unchanged (None, bools, 32-bit ints, floats, strings and lists/dicts of
those), the ``repr`` is always there. The JSON text comes from ``ovm3_compat.json_dumps`` indented
(sorted keys, ASCII only), so snapshots diff cleanly; signatures from ``ovm3_compat.argspec``. Ship
ovm3_compat.py next to this file.
"""
import socket
import sys
import time

import ovm3_compat

SCHEMA_NAME = "ovm3-api-snapshot"
SCHEMA_VERSION = 1


def _type_name(value):
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, ovm3_compat.integer_types):
        return "int"
    if isinstance(value, ovm3_compat.string_types):
        return "str"
    return type(value).__name__


def _plain(value, depth):
    """``(ok, plain value)``: ok is False when the value would not cross XML-RPC and JSON unchanged."""
    if depth > 8:
        return False, None
    if value is None or isinstance(value, bool) or isinstance(value, float):
        if isinstance(value, float) and not ovm3_compat.is_finite(value):
            return False, None
        return True, value
    if isinstance(value, ovm3_compat.integer_types):
        if value < ovm3_compat.XMLRPC_MININT or value > ovm3_compat.XMLRPC_MAXINT:
            return False, None
        return True, int(value)
    if isinstance(value, ovm3_compat.string_types):
        return True, value
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            ok, plain = _plain(item, depth + 1)
            if not ok:
                return False, None
            out.append(plain)
        return True, out
    if isinstance(value, dict):
        out = {}
        for key in value.keys():
            if not isinstance(key, ovm3_compat.string_types):
                return False, None
            ok, plain = _plain(value[key], depth + 1)
            if not ok:
                return False, None
            out[key] = plain
        return True, out
    return False, None


def describe_default(value):
    """A default value as ``{"type", "repr"[, "value"]}`` (see the module docstring)."""
    d = {"type": _type_name(value), "repr": _safe_repr(value)}
    ok, plain = _plain(value, 0)
    if ok:
        d["value"] = plain
    return d


def _safe_repr(value):
    try:
        return repr(value)
    except Exception:
        return "<%s object (repr failed)>" % type(value).__name__


def first_line(doc):
    """First non-empty line of a docstring, stripped; None when there is none."""
    if not doc or not isinstance(doc, ovm3_compat.string_types):
        return None
    for line in doc.strip().splitlines():
        line = line.strip()
        if line:
            return line
    return None


def describe_service(name, func, owner):
    """One service as plain data; ``owner`` is the MODULES entry (a class) that listed it."""
    d = {"name": name, "module": getattr(owner, "__module__", None),
         "class": getattr(owner, "__name__", None),
         "function": getattr(func, "__name__", None),
         "doc": first_line(getattr(func, "__doc__", None)),
         "params": [], "varargs": None, "kwargs": None}
    try:
        args, varargs, varkw, defaults, kwonly = ovm3_compat.argspec(func)
    except TypeError:
        d["error"] = "no Python signature (%s)" % type(func).__name__
        return d
    first_default = len(args) - len(defaults)
    for i in range(len(args)):
        arg = args[i]
        if not isinstance(arg, ovm3_compat.string_types):
            # Python 2 tuple parameters, def f((a, b)): describe them, they are positional anyway.
            arg = "(%s)" % ", ".join([str(a) for a in arg])
        p = {"name": arg, "name_known": True}
        if i >= first_default:
            p["default"] = describe_default(defaults[i - first_default])
        d["params"].append(p)
    d["varargs"] = varargs
    d["kwargs"] = varkw
    if kwonly:
        d["kwonly"] = kwonly
    return d


def _wants_version(get_services):
    try:
        args, varargs, varkw, defaults, kwonly = ovm3_compat.argspec(get_services)
    except TypeError:
        return True
    return bool(args) or bool(varargs)


def dump_services(modules, version=None):
    """Describe every service of ``modules`` (the agent's MODULES list); sorted by service name.

    A module that cannot be instantiated or whose ``get_services`` fails becomes one entry with an
    ``error`` (and ``name`` None) instead of stopping the dump.
    """
    out = []
    for owner in modules:
        try:
            instance = owner()
            get = instance.get_services
            if _wants_version(get):
                services = get(version)
            else:
                services = get()
            names = list(services.keys())
        except Exception:
            e = sys.exc_info()[1]
            out.append({"name": None, "module": getattr(owner, "__module__", None),
                        "class": getattr(owner, "__name__", None),
                        "error": "%s: %s" % (e.__class__.__name__, e)})
            continue
        for name in names:
            out.append(describe_service(name, services[name], owner))
    out.sort(key=_service_key)
    return out


def _service_key(d):
    return (d.get("name") is None, d.get("name") or "", d.get("module") or "", d.get("class") or "")


def read_ovm_version(release_file="/etc/ovs-release"):
    """The OVM version from the release file's first line (``Oracle VM server release 3.2.1``)."""
    try:
        f = open(release_file)
        try:
            line = f.readline()
        finally:
            f.close()
    except (IOError, OSError):
        return None
    words = line.split()
    if not words:
        return None
    last = words[-1]
    digits = last.replace(".", "")
    if digits.isdigit():
        return last
    return None


def api_generation(ovm_version):
    """``3.2.1`` -> ``3.2`` (None stays None)."""
    if not ovm_version:
        return None
    return ".".join(ovm_version.split(".")[:2])


def snapshot(services, agent_version, ovm_version, host, source):
    """The snapshot envelope around a service list (the management side reads exactly this)."""
    return {"schema": SCHEMA_NAME, "schema_version": SCHEMA_VERSION, "agent_version": agent_version,
            "ovm_version": ovm_version, "host": host, "source": source, "synthetic": False,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "services": services}


def load_modules(agent_path=None):
    """``agent.target.api.MODULES``, importing the agent package (from ``agent_path`` if given)."""
    if agent_path and agent_path not in sys.path:
        sys.path.insert(0, agent_path)
    mod = __import__("agent.target.api", {}, {}, ["MODULES"])
    return list(mod.MODULES)


# ---- command line (what tools/host/ovm3_dump_api.py runs on dom0) --------------------------------------

USAGE = """usage: ovm3_dump_api.py [--agent-path DIR] [--version V] [--release-file FILE] [--host NAME]

Print a JSON snapshot of every service ovs-agent exposes (agent.target.api.MODULES) on stdout."""


def parse_args(argv):
    """``{"agent_path", "version", "release_file", "host"}`` from ``--name value`` pairs."""
    opts = {"agent_path": None, "version": None, "release_file": "/etc/ovs-release", "host": None}
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in ("-h", "--help"):
            raise SystemExit(USAGE)
        value = None
        if "=" in word and word.startswith("--"):
            word, value = word.split("=", 1)
        key = word[2:].replace("-", "_")
        if not word.startswith("--") or key not in opts:
            raise ValueError("unknown option %s" % word)
        if value is None:
            i += 1
            if i >= len(argv):
                raise ValueError("option %s needs a value" % word)
            value = argv[i]
        opts[key] = value
        i += 1
    return opts


def main(argv=None, out=None):
    """Dump the local agent; exit status 0 ok, 1 the agent could not be read, 2 usage."""
    if argv is None:
        argv = sys.argv[1:]
    if out is None:
        out = sys.stdout
    try:
        opts = parse_args(argv)
    except ValueError:
        sys.stderr.write("ovm3_dump_api: %s\n%s\n" % (sys.exc_info()[1], USAGE))
        return 2
    try:
        modules = load_modules(opts["agent_path"])
    except Exception:
        e = sys.exc_info()[1]
        sys.stderr.write("ovm3_dump_api: cannot import agent.target.api (%s: %s); is this an OVM "
                         "server? give --agent-path to the directory holding the agent package\n"
                         % (e.__class__.__name__, e))
        return 1
    ovm_version = read_ovm_version(opts["release_file"])
    version = opts["version"] or api_generation(ovm_version)
    host = opts["host"] or socket.gethostname()
    services = dump_services(modules, opts["version"])
    out.write(ovm3_compat.json_dumps(snapshot(services, version, ovm_version, host, "ssh"), 2))
    out.write("\n")
    return 0
