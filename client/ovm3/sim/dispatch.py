"""From request body to reply body: decode, fault rules, signature check, handler, call log, encode.

Dispatch comes from the API table: a wire method the table does not list (or lists only for a newer
agent) is "not supported", like on a real agent; a listed method without a simulator handler answers
``exceptions.Exception:<method> is not simulated``. Never a silent default.
"""

import time
from dataclasses import dataclass

from ovm3.api import TABLE
from ovm3.errors import OVM3Error
from ovm3.redact import redact_value
from ovm3.sim import handlers
from ovm3.sim.calllog import CallRecord, redact_call
from ovm3.sim.state import AgentError
from ovm3.wire import dumps_response, loads_request

#: Methods that run without the world lock (they wait or move bytes, and mutate no shared state).
UNLOCKED = frozenset({"sleep", "dispatch", "copy_file", "echo"})
GARBAGE = b"<html><body>502 Bad Gateway</body>\x00\xff garbage, not XML-RPC"

_PY_TYPES = {
    "str": (str,),
    "int": (int,),
    "long": (int,),
    "bool": (bool,),
    "struct": (dict,),
    "array": (list, tuple),
}


@dataclass
class Outcome:
    """What the HTTP layer sends: ``body`` with ``status``; ``drop`` cuts the reply in the middle."""

    body: bytes
    status: int = 200
    drop: bool = False


def not_simulated(method):
    return AgentError("%s is not simulated" % method)


def check_signature(method, version, args):
    """Fault like a real (Python 2) agent on a wrong argument count or type."""
    params = method.params(version)
    required = sum(1 for p in params if p.required)
    if not required <= len(args) <= len(params):
        if required == len(params):
            want = "exactly %d" % (len(params) + 1)
        elif len(args) < required:
            want = "at least %d" % (required + 1)
        else:
            want = "at most %d" % (len(params) + 1)
        raise AgentError(
            "%s() takes %s arguments (%d given)" % (method.wire, want, len(args) + 1),
            cls="exceptions.TypeError",
        )
    for p, value in zip(params, args):
        if p.type == "any":
            continue
        ok = isinstance(value, _PY_TYPES[p.type])
        if p.type in ("int", "long") and isinstance(value, bool):
            ok = False
        if not ok:
            raise AgentError(
                "%s() argument %s must be %s, not %s" % (method.wire, p.name, p.type, type(value).__name__),
                cls="exceptions.TypeError",
            )


class Dispatcher:
    """Serves the calls of one simulated host. ``services`` are extra name -> function maps (the agent
    module's ``get_services``); the table's ``cloudstack``/``ovm3`` areas are served from them."""

    def __init__(self, host, calls, faults, persist=True):
        self.host = host
        self.calls = calls
        self.faults = faults
        self.persist = persist
        self.services = {}
        self.handlers = handlers.load()

    @property
    def version(self):
        return self.host.personality.api

    def lookup(self, wire):
        """The callable for a wire name, or raise the fault a real or simulated agent gives."""
        try:
            method = TABLE.get(wire)
        except OVM3Error:
            method = None
        if wire in self.services and (method is None or method.area.ours):
            return method, self.services[wire], True
        if method is None or not method.exists_in(self.version):
            raise AgentError('method "%s" is not supported' % wire)
        if method.area.ours:
            raise not_simulated(wire)
        fn = self.handlers.get(wire)
        if fn is None:
            raise not_simulated(wire)
        return method, fn, False

    def invoke(self, wire, args, nested=False):
        """Run one call (no fault rules, no logging); return the value or raise AgentError."""
        method, fn, is_service = self.lookup(wire)
        if method is not None and not is_service:
            check_signature(method, self.version, args)
        if is_service:
            return fn(*args)
        if wire in UNLOCKED:
            return fn(self.host, *args)
        with self.host.lock:
            value = fn(self.host, *args)
            if self.persist and method is not None and not method.readonly:
                self.host.save()
            return value

    def handle_body(self, body):
        """The whole server side of one POST: returns an :class:`Outcome`."""
        started = time.time()
        try:
            wire, args = loads_request(body)
        except OVM3Error as e:
            return Outcome(dumps_response(fault=(1, "exceptions.ExpatError:%s" % e.message)))
        args = list(args)
        record = CallRecord(
            host=self.host.hostname, method=wire, args=redact_call(wire, args, self.version), time=started
        )
        try:
            rule = self.faults.pick(wire, args)
            if rule is not None:
                record.injected = rule.kind
                if rule.kind == "fault":
                    record.fault = rule.fault
                    return Outcome(dumps_response(fault=(rule.code, rule.fault)))
                if rule.kind == "drop":
                    record.fault = "connection dropped (injected)"
                    return Outcome(dumps_response(None), drop=True)
                if rule.kind == "garbage":
                    record.fault = "garbage reply (injected)"
                    return Outcome(GARBAGE)
                if rule.kind == "latency":
                    time.sleep(rule.delay)
                elif rule.kind == "hang":
                    rule.wait_released()
            try:
                value = self.invoke(wire, args)
            except AgentError as e:
                record.fault = e.fault_string
                return Outcome(dumps_response(fault=(1, e.fault_string)))
            except Exception as e:  # noqa: BLE001 - a real agent turns any exception into a fault
                record.fault = "exceptions.%s:%s" % (type(e).__name__, e)
                return Outcome(dumps_response(fault=(1, record.fault)))
            try:
                reply = dumps_response(value)
            except (TypeError, OverflowError) as e:
                record.fault = "exceptions.TypeError:cannot marshal reply: %s" % e
                return Outcome(dumps_response(fault=(1, record.fault)))
            record.result = redact_value(value)
            return Outcome(reply)
        finally:
            record.duration = time.time() - started
            self.calls.append(record)
