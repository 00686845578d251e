"""API snapshots: what one agent exposes, as versioned JSON that diffs cleanly in git.

A snapshot is the dumper's output (``hostlib/ovm3_apidump.py``) or a synthetic one derived from the API
table (:mod:`ovm3.tools.synthetic`). Schema version 1::

    {"schema": "ovm3-api-snapshot", "schema_version": 1,
     "agent_version": "3.2", "ovm_version": "3.2.1" | null, "host": "ovm-1" | null,
     "time": "2024-05-01T10:00:00Z" | null, "source": "xmlrpc" | "ssh" | "sim" | "table",
     "synthetic": false, "note": "..." (optional),
     "services": [                                  # sorted by name
        {"name": "ping", "module": "agent.api.cloudstack", "class": "CloudStack",
         "function": "ping" | null, "doc": "first docstring line" | null,
         "params": [{"name": "host", "name_known": true, "type": "str" (synthetic only),
                     "default": {"type": "int", "repr": "3", "value": 3} (absent when required)}],
         "varargs": null, "kwargs": null, "error": "..." (only when it could not be described)}]}

Usage::

    snap = load("tools/snapshots/ovs-agent-3.3.json")
    snap.service("take_ownership").usage()      # 'take_ownership(ownership)'
"""
import datetime
import json
import os

from ovm3.errors import ConfigError, SignatureError

SCHEMA_NAME = "ovm3-api-snapshot"
SCHEMA_VERSION = 1
SOURCES = ("xmlrpc", "ssh", "sim", "table")
SNAPSHOT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "snapshots")


def shipped_path(version):
    """Path of the shipped synthetic snapshot for agent ``version`` (``3.2``, ``3.3``, ``3.4``)."""
    return os.path.join(SNAPSHOT_DIR, "ovs-agent-%s.json" % version)


class Param:
    """One positional parameter as a snapshot records it."""

    def __init__(self, data):
        self.name = data["name"]
        self.name_known = bool(data.get("name_known", True))
        self.type = data.get("type")
        self.default = data.get("default")

    @property
    def required(self):
        return self.default is None

    def default_key(self):
        """What two defaults are compared by: the typed value when both sides have one, else the repr."""
        if self.default is None:
            return None
        if "value" in self.default:
            return ("value", self.default.get("type"), json.dumps(self.default["value"], sort_keys=True))
        return ("repr", self.default.get("type"), self.default.get("repr"))

    def show(self):
        text = self.name if self.name_known else "~" + self.name
        if self.type:
            text += ":" + self.type
        if not self.required:
            text += "=" + str(self.default.get("repr"))
        return text


class Service:
    """One wire method as a snapshot records it."""

    def __init__(self, data):
        self.data = data
        self.name = data["name"]
        self.module = data.get("module")
        self.cls = data.get("class")
        self.function = data.get("function")
        self.doc = data.get("doc")
        self.params = [Param(p) for p in data.get("params") or []]
        self.varargs = data.get("varargs")
        self.kwargs = data.get("kwargs")
        self.error = data.get("error")

    @property
    def location(self):
        return "%s.%s" % (self.module or "?", self.cls or "?")

    def usage(self):
        words = [p.show() for p in self.params]
        if self.varargs:
            words.append("*" + self.varargs)
        return "%s(%s)" % (self.name, ", ".join(words))

    def check_args(self, args, host=None, version=None):
        """Raise :class:`ovm3.errors.SignatureError` when ``args`` cannot fit this signature."""
        if self.error:
            return
        where = " on agent %s" % version if version else ""
        if len(args) > len(self.params) and not self.varargs:
            raise SignatureError("takes at most %d argument(s)%s, got %d: %s" % (
                len(self.params), where, len(args), self.usage()), host=host, method=self.name)
        missing = [p.name for p in self.params[len(args):] if p.required]
        if missing:
            raise SignatureError("missing argument(s) %s%s: %s" % (", ".join(missing), where, self.usage()),
                                 host=host, method=self.name)


class Snapshot:
    """A loaded, validated snapshot. ``data`` is the plain dict; services are looked up by wire name."""

    def __init__(self, data, path=None):
        self.data = data
        self.path = path
        self.agent_version = data.get("agent_version")
        self.ovm_version = data.get("ovm_version")
        self.host = data.get("host")
        self.source = data.get("source")
        self.synthetic = bool(data.get("synthetic"))
        self.services = {}
        self.errors = []
        for s in data["services"]:
            if s.get("name") is None:
                self.errors.append(s)
            else:
                self.services[s["name"]] = Service(s)

    def __repr__(self):
        return "<Snapshot %s agent %s, %d services>" % (self.label, self.agent_version, len(self.services))

    @property
    def label(self):
        return self.path or self.host or "snapshot"

    def service(self, name):
        return self.services.get(name)

    def names(self):
        return sorted(self.services)


def build(services, agent_version, ovm_version=None, host=None, source="xmlrpc", synthetic=False,
          time=None, note=None):
    """A snapshot dict around a service list (services are sorted; time defaults to now, UTC)."""
    if source not in SOURCES:
        raise ValueError("unknown snapshot source %r" % source)
    if time is None and not synthetic:
        time = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    data = {"schema": SCHEMA_NAME, "schema_version": SCHEMA_VERSION, "agent_version": agent_version,
            "ovm_version": ovm_version, "host": host, "time": time, "source": source,
            "synthetic": bool(synthetic), "services": sort_services(services)}
    if note:
        data["note"] = note
    validate(data)
    return data


def sort_services(services):
    return sorted(services, key=lambda s: (s.get("name") is None, s.get("name") or "", s.get("module") or "",
                                           s.get("class") or ""))


def dumps(data):
    """Deterministic JSON text: sorted keys, two-space indent, ASCII, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def save(data, path):
    """Write a snapshot (validated first) to ``path``."""
    validate(data)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(dumps(data))
    os.replace(tmp, path)


def load(path):
    """Read and validate a snapshot file; raises :class:`ovm3.errors.ConfigError` with the reason."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError("cannot read snapshot %s: %s" % (path, e.strerror or e)) from None
    except UnicodeDecodeError as e:
        raise ConfigError("snapshot %s is not UTF-8 text: %s" % (path, e)) from None
    return loads(text, path)


def loads(text, label="snapshot"):
    """Parse and validate snapshot JSON text."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ConfigError("snapshot %s is not valid JSON: %s" % (label, e)) from None
    try:
        validate(data)
    except ValueError as e:
        raise ConfigError("snapshot %s is not a usable API snapshot: %s" % (label, e)) from None
    return Snapshot(data, label)


def validate(data):
    """Raise ValueError (saying where) unless ``data`` is a schema-1 snapshot."""
    if not isinstance(data, dict):
        raise ValueError("top level must be a JSON object")
    if data.get("schema") != SCHEMA_NAME:
        raise ValueError("schema is %r, expected %r" % (data.get("schema"), SCHEMA_NAME))
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError("schema_version %r is not supported (this ovm3 reads %d)" % (
            data.get("schema_version"), SCHEMA_VERSION))
    for key in ("agent_version", "ovm_version", "host", "time", "source"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ValueError("%s must be a string or null" % key)
    services = data.get("services")
    if not isinstance(services, list):
        raise ValueError("services must be a list")
    seen = set()
    for i, s in enumerate(services):
        _validate_service(s, "services[%d]" % i)
        if s["name"] is not None:
            if s["name"] in seen:
                raise ValueError("service %s listed twice" % s["name"])
            seen.add(s["name"])


def _validate_service(s, where):
    if not isinstance(s, dict):
        raise ValueError("%s must be an object" % where)
    name = s.get("name")
    if name is None and "error" not in s:
        raise ValueError("%s has no name" % where)
    if name is not None and (not isinstance(name, str) or not name):
        raise ValueError("%s name must be a non-empty string" % where)
    for key in ("module", "class", "function", "doc", "varargs", "kwargs", "error"):
        if s.get(key) is not None and not isinstance(s[key], str):
            raise ValueError("%s (%s) %s must be a string or null" % (where, name, key))
    params = s.get("params", [])
    if not isinstance(params, list):
        raise ValueError("%s (%s) params must be a list" % (where, name))
    for j, p in enumerate(params):
        pw = "%s (%s) params[%d]" % (where, name, j)
        if not isinstance(p, dict) or not isinstance(p.get("name"), str) or not p["name"]:
            raise ValueError("%s must be an object with a name" % pw)
        if not isinstance(p.get("name_known", True), bool):
            raise ValueError("%s name_known must be true or false" % pw)
        if p.get("type") is not None and not isinstance(p["type"], str):
            raise ValueError("%s type must be a string" % pw)
        d = p.get("default")
        if d is not None and (not isinstance(d, dict) or not isinstance(d.get("repr"), str)):
            raise ValueError("%s default must be an object with a repr" % pw)
