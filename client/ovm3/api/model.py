"""The types the API table is written in: areas, methods, parameters, and signature checks."""
import ast
import re
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

from ovm3.errors import SignatureError, UsageError

#: Agent versions the table knows, oldest first. The reference has no facts on 3.4: it is 3.3 with
#: 3.4 version strings.
VERSIONS = ("3.2", "3.3", "3.4")

#: Timeout classes (the read timeout handed to requests; see ovm3.transport.Timeouts).
SHORT = "short"
MEDIUM = "medium"
LONG = "long"

WIRE_TYPES = ("str", "int", "long", "bool", "struct", "array", "any")
_NO_DEFAULT = object()


@dataclass(frozen=True)
class Area:
    """One API area: where its methods live on the agent and what the client calls it."""

    name: str
    title: str
    agent_module: Optional[str]
    agent_class: Optional[str]
    ours: bool = False


#: Python types of the values XML-RPC decodes, per wire type of the table.
_PY_TYPES = {
    "str": (str,), "int": (int,), "long": (int,), "bool": (bool,), "struct": (dict,),
    "array": (list, tuple),
}


@dataclass(frozen=True)
class Param:
    """One positional parameter of a wire method."""

    name: str
    type: str
    default: object = _NO_DEFAULT
    secret: bool = False
    name_known: bool = True

    @property
    def required(self):
        return self.default is _NO_DEFAULT

    def accepts(self, value):
        """Does ``value`` have this parameter's wire type? A bool is not an int (Python says it is; the
        agent's XML-RPC does not). The one type rule the client and the simulated agent share."""
        if self.type == "any":
            return True
        if self.type in ("int", "long") and isinstance(value, bool):
            return False
        return isinstance(value, _PY_TYPES[self.type])

    def describe(self):
        d = {"name": self.name, "type": self.type, "required": self.required,
             "name_known": self.name_known}
        if not self.required:
            d["default"] = self.default
        if self.secret:
            d["secret"] = True
        return d


def parse_params(spec):
    """Parse the table's ``name:type[=default]`` words (``!`` secret, ``~`` descriptive name)."""
    params = []
    for word in spec.split():
        secret = name_known = False
        secret = word.startswith("!")
        word = word.lstrip("!")
        name_known = not word.startswith("~")
        word = word.lstrip("~")
        m = re.fullmatch(r"([A-Za-z_]\w*):(\w+)(?:=(.+))?", word)
        if not m or m.group(2) not in WIRE_TYPES:
            raise ValueError("bad parameter spec %r" % word)
        default = _NO_DEFAULT if m.group(3) is None else ast.literal_eval(m.group(3))
        params.append(Param(m.group(1), m.group(2), default, secret, name_known))
    seen_optional = False
    for p in params:
        if not p.required:
            seen_optional = True
        elif seen_optional:
            raise ValueError("required parameter %s after an optional one in %r" % (p.name, spec))
    return tuple(params)


def python_name(wire):
    """Wire name to Python attribute name: ``storage_plugin_getFileInfo`` -> ``storage_plugin_get_file_info``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), wire).lower()


class Method:
    """One wire method of the agent, as the table declares it."""

    def __init__(self, wire, area, params="", returns="any", readonly=False, timeout=None, sigs=None,
                 since=None, note="", py=None):
        self.wire = wire
        self.area = area
        self.py = py or python_name(wire)
        self.returns = returns
        self.readonly = readonly
        self.timeout = timeout or SHORT
        self.since = since or VERSIONS[0]
        self.note = note
        base = parse_params(params)
        # Signatures by version: a version inherits the nearest older declared signature.
        self._sigs: Dict[str, Tuple[Param, ...]] = {}
        declared = {VERSIONS[0]: base}
        for v, spec in (sigs or {}).items():
            if v not in VERSIONS:
                raise ValueError("%s: unknown version %s" % (wire, v))
            declared[v] = parse_params(spec)
        current = base
        for v in VERSIONS:
            current = declared.get(v, current)
            self._sigs[v] = current
        self._changes = [newer for older, newer in zip(VERSIONS, VERSIONS[1:])
                         if self._sigs[older] != self._sigs[newer]]

    def __repr__(self):
        return "<Method %s.%s>" % (self.area.name, self.wire)

    def exists_in(self, version):
        return VERSIONS.index(normalise_version(version)) >= VERSIONS.index(self.since)

    def params(self, version=None):
        """The parameters on ``version`` (the newest when None)."""
        return self._sigs[normalise_version(version) if version else VERSIONS[-1]]

    def signature_changes(self):
        """Versions at which the signature differs from the previous version."""
        return list(self._changes)  # computed once: every call asks

    def secret_positions(self, version=None):
        return {i for i, p in enumerate(self.params(version)) if p.secret}

    def bind(self, args, version=None, host=None):
        """Check ``args`` against the signature on ``version``; return the wire argument list.

        Trailing optional parameters whose default is None are left off the wire (the agent applies
        its own default); other defaults are sent explicitly.
        """
        params = self.params(version)
        if version and not self.exists_in(version):
            raise SignatureError("%s does not exist on agent %s (added in %s)" % (self.wire, version, self.since),
                                 host=host, method=self.wire)
        if len(args) > len(params):
            raise SignatureError(
                "takes at most %d argument(s)%s, got %d: %s" % (
                    len(params), _on_agent(version), len(args), self.usage(version)),
                host=host, method=self.wire)
        missing = [p.name for p in params[len(args):] if p.required]
        if missing:
            raise SignatureError("missing argument(s) %s%s: %s" % (
                ", ".join(missing), _on_agent(version), self.usage(version)), host=host, method=self.wire)
        out = list(args)
        for p in params[len(args):]:
            if p.default is None:
                break
            out.append(p.default)
        for p, value in zip(params, out):
            _check_type(self, p, value, host)
        return out

    def usage(self, version=None):
        words = []
        for p in self.params(version):
            w = "%s:%s" % (p.name, p.type)
            words.append(w if p.required else "[%s=%r]" % (w, p.default))
        return "%s(%s)" % (self.wire, ", ".join(words))

    def describe(self, version=None):
        """A plain-data view (used by the introspection snapshots and ``ovm3 call --help``)."""
        return {
            "name": self.wire, "area": self.area.name, "python_name": self.py,
            "module": self.area.agent_module, "class": self.area.agent_class,
            "params": [p.describe() for p in self.params(version)],
            "returns": self.returns, "readonly": self.readonly, "timeout": self.timeout,
        }


def _check_type(method, param, value, host):
    if value is None and not param.required:
        return
    if not param.accepts(value):
        shown = "<secret>" if param.secret else repr(value)
        raise SignatureError("argument %s must be %s, got %s %s" % (
            param.name, param.type, type(value).__name__, shown), host=host, method=method.wire)


_NORMALISED = {}  # version string -> generation, for the strings seen (every call normalises its version)


def normalise_version(version):
    """``"3.2.1-517"`` -> ``"3.2"``; refuses versions the table does not know."""
    if type(version) is str:
        known = _NORMALISED.get(version)
        if known is not None:
            return known
    m = re.match(r"^(\d+)\.(\d+)", str(version or ""))
    if not m or "%s.%s" % m.groups() not in VERSIONS:
        raise UsageError("unsupported agent version %r (supported: %s)" % (version, ", ".join(VERSIONS)))
    if type(version) is str and len(_NORMALISED) < 256:
        _NORMALISED[version] = "%s.%s" % m.groups()
    return "%s.%s" % m.groups()


@dataclass
class Table:
    """Look-ups over the method tuple; see :data:`ovm3.api.TABLE`."""

    methods: tuple
    by_wire: dict = field(default_factory=dict)

    def __post_init__(self):
        for m in self.methods:
            if m.wire in self.by_wire:
                raise ValueError("method %s listed twice" % m.wire)
            self.by_wire[m.wire] = m

    def __iter__(self):
        return iter(self.methods)

    def __len__(self):
        return len(self.methods)

    def get(self, wire):
        try:
            return self.by_wire[wire]
        except KeyError:
            raise UsageError("unknown agent method %r (see ovm3 call --list)" % wire, method=wire) from None

    def areas(self):
        seen = []
        for m in self.methods:
            if m.area not in seen:
                seen.append(m.area)
        return seen

    def in_area(self, area_name):
        return [m for m in self.methods if m.area.name == area_name]

    def for_version(self, version):
        return [m for m in self.methods if m.exists_in(version)]


def _on_agent(version):
    # Without a version read from the agent the signature is the same on every version: naming one
    # ("on agent 3.4") would be a guess.
    return " on agent %s" % version if version else ""
