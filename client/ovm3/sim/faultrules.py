"""Fault injection rules: per method (and optionally per argument), with counts and probabilities.

Kinds:

* ``fault``: answer an XML-RPC fault (``code``, ``fault`` string) instead of running the method;
* ``latency``: wait ``delay`` seconds, then run the method normally;
* ``hang``: wait until the rule is released (:meth:`FaultRules.release`) or ``timeout`` seconds pass,
  then run the method normally;
* ``drop``: run nothing, send the HTTP headers and half of a reply, then close the connection;
* ``garbage``: answer HTTP 200 with a body that is not XML-RPC;
* ``midway``: run the method but fail it halfway with ``fault``: ``copy_file`` (the only method with a
  midway point) writes the first half of the source to its destination, then answers the fault, as a
  real copy cut short by an I/O error would leave a partial file;
* ``stop_heartbeat``: matches no call; adding it kills the host's heartbeat daemon (SIGKILL: no ``stopped``
  record, so its peers see its heartbeat stop, as after a crash) and refuses restarting it (the agent
  module's ``check_dom0_storage_health_check`` then faults) until the rule is cleared, or for ``count``
  refused starts.

Rules are set from Python (``host.faults.add(...)``), from a JSON file (a list of rule objects with the
same keys) and over the admin endpoint ``POST /_sim/faults``.
"""

import fnmatch
import itertools
import json
import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Optional

KINDS = ("fault", "latency", "hang", "drop", "garbage", "midway", "stop_heartbeat")
#: Kinds that act on the host rather than on a call (never picked for a call).
HOST_KINDS = ("stop_heartbeat",)
#: Methods whose simulator handler has a midway point (see :func:`take_midway`).
MIDWAY_METHODS = ("copy_file",)
DEFAULT_FAULT = "exceptions.Exception:injected fault"
_ids = itertools.count(1)
_midway = threading.local()


@dataclass
class FaultRule:
    """One rule. ``method`` is a wire name or glob; ``args`` maps argument positions to wanted values
    (a string value may be a glob). ``count`` None means every matching call."""

    method: str = "*"
    kind: str = "fault"
    fault: str = DEFAULT_FAULT
    code: int = 1
    delay: float = 0.0
    timeout: float = 300.0
    count: Optional[int] = None
    probability: float = 1.0
    args: Optional[dict] = None
    id: int = field(default_factory=lambda: next(_ids))
    fired: int = 0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError("unknown fault kind %r (one of %s)" % (self.kind, ", ".join(KINDS)))
        if self.kind == "midway" and self.method not in MIDWAY_METHODS:
            raise ValueError("midway faults exist for %s only, not %r" % (", ".join(MIDWAY_METHODS), self.method))
        if not 0.0 <= float(self.probability) <= 1.0:
            raise ValueError("probability must be within 0..1")
        if self.args is not None:
            self.args = {int(k): v for k, v in dict(self.args).items()}
        self._released = threading.Event()

    def matches(self, method, args):
        if not fnmatch.fnmatchcase(method, self.method):
            return False
        for pos, want in (self.args or {}).items():
            if pos >= len(args):
                return False
            got = args[pos]
            if isinstance(want, str) and isinstance(got, str):
                if not fnmatch.fnmatchcase(got, want):
                    return False
            elif got != want:
                return False
        return True

    def wait_released(self):
        """Block a ``hang`` until released; True when released, False on timeout."""
        return self._released.wait(self.timeout)

    def release(self):
        self._released.set()

    def describe(self):
        d = asdict(self)
        d["exhausted"] = self.count is not None and self.count <= 0
        return d


class FaultRules:
    """The rule set of one simulated host (thread-safe). First matching live rule wins."""

    def __init__(self, seed=None):
        self._lock = threading.Lock()
        self._rules = []
        self._random = random.Random(seed)
        #: called with each added rule of a :data:`HOST_KINDS` kind (the host acts on it)
        self.on_host_rule = None

    def add(self, method="*", kind="fault", **kw):
        """Add a rule; returns it (keep it to release a ``hang``)."""
        rule = FaultRule(method=method, kind=kind, **kw)
        with self._lock:
            self._rules.append(rule)
        if rule.kind in HOST_KINDS and self.on_host_rule is not None:
            self.on_host_rule(rule)
        return rule

    def take_host_rule(self, kind):
        """The live rule of host kind ``kind`` (its count consumed, counted as fired), or None."""
        with self._lock:
            for rule in self._rules:
                if rule.kind == kind and (rule.count is None or rule.count > 0):
                    if rule.count is not None:
                        rule.count -= 1
                    rule.fired += 1
                    return rule
        return None

    def load(self, data):
        """Add rules from parsed JSON: a rule object, a list of them, or ``{"rules": [...]}``."""
        if isinstance(data, dict) and "rules" in data:
            data = data["rules"]
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list):
            raise ValueError("fault rules must be a JSON object or a list of objects")
        added = []
        for item in data:
            if not isinstance(item, dict):
                raise ValueError("each fault rule must be a JSON object")
            allowed = {
                k: v
                for k, v in item.items()
                if k in FaultRule.__dataclass_fields__ and k not in ("id", "fired")
            }
            unknown = set(item) - set(allowed) - {"id", "fired"}
            if unknown:
                raise ValueError("unknown fault rule keys: %s" % ", ".join(sorted(unknown)))
            added.append(self.add(**allowed))
        return added

    def load_file(self, path):
        with open(path, encoding="utf-8") as f:
            return self.load(json.load(f))

    def clear(self):
        with self._lock:
            rules, self._rules = self._rules, []
        for r in rules:
            r.release()

    def release(self, rule_id=None):
        """Release hanging calls of one rule (or of every rule)."""
        with self._lock:
            rules = list(self._rules)
        for r in rules:
            if rule_id is None or r.id == rule_id:
                r.release()

    def rules(self):
        with self._lock:
            return list(self._rules)

    def pick(self, method, args):
        """The rule that fires for this call (its count is consumed), or None. A ``midway`` rule is also
        handed to the handler this thread runs next (:func:`take_midway`)."""
        _midway.rule = None
        with self._lock:
            for rule in self._rules:
                if rule.count is not None and rule.count <= 0:
                    continue
                if rule.kind in HOST_KINDS or not rule.matches(method, args):
                    continue
                if rule.probability < 1.0 and self._random.random() >= rule.probability:
                    continue
                if rule.count is not None:
                    rule.count -= 1
                rule.fired += 1
                if rule.kind == "midway":
                    _midway.rule = rule
                return rule
        return None


def take_midway():
    """For a handler with a midway point: the ``midway`` rule that fired for the call this thread is
    running, or None. Taking it consumes it."""
    rule = getattr(_midway, "rule", None)
    _midway.rule = None
    return rule
