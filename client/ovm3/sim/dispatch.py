"""From request body to reply body: decode, fault rules, signature check, handler, call log, encode.

Dispatch comes from the API table: a wire method the table does not list (or lists only for a newer
agent) is "not supported", like on a real agent; a listed method without a simulator handler answers
``exceptions.Exception:<method> is not simulated``. Never a silent default.
"""

import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

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

@dataclass
class Outcome:
    """What the HTTP layer sends: ``body`` with ``status``; ``drop`` cuts the reply in the middle;
    ``after`` runs once the reply went out (see :func:`after_reply`)."""

    body: bytes
    status: int = 200
    drop: bool = False
    after: Optional[Callable[[], None]] = None  # run once the reply is out; the connection then closes


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
        if not p.accepts(value):
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
            if self.services:  # the module is loaded, an older one without this service: ovs-agent's fault
                raise AgentError('method "%s" is not supported' % wire)
            raise not_simulated(wire)
        fn = self.handlers.get(wire)
        if fn is None:
            raise not_simulated(wire)
        return method, fn, False

    def invoke(self, wire, args):
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

    def _apply_rule(self, wire, args, record):
        """Fire the fault rule matching this call, if any: wait for ``latency``/``hang`` and return
        None (the call then runs), or return the kind (``fault``/``drop``/``garbage``) that replaces
        the reply, with ``record.fault`` set."""
        rule = self.faults.pick(wire, args)
        if rule is None:
            return None, None
        record.injected = rule.kind
        if rule.kind == "latency":
            time.sleep(rule.delay)
            return None, rule
        if rule.kind == "hang":
            rule.wait_released()
            return None, rule
        if rule.kind == "midway":
            return None, rule  # the handler runs and fails halfway itself (faultrules.take_midway)
        record.fault = {
            "fault": rule.fault,
            "drop": "connection dropped (injected)",
            "garbage": "garbage reply (injected)",
        }[rule.kind]
        return rule.kind, rule

    def _run(self, wire, args, record):
        """Invoke and fill ``record``; return the value or raise AgentError (any failure becomes one)."""
        # Replies and faults go through host_view: a simulated host names dom0 paths, never the sandbox's.
        try:
            value = self.host.host_view(self.invoke(wire, args))
        except AgentError as e:
            e.fault_string = record.fault = self.host.host_view(e.fault_string)
            raise
        except Exception as e:  # noqa: BLE001 - a real agent turns any exception into a fault
            record.fault = self.host.host_view("exceptions.%s:%s" % (type(e).__name__, e))
            raise _raw_fault(record.fault) from None
        record.result = redact_value(value)
        return value

    def _record(self, wire, args, nested=False):
        return CallRecord(
            host=self.host.hostname,
            method=wire,
            args=redact_call(wire, args, self.version),
            time=time.time(),
            nested=nested,
        )

    def handle_body(self, body):
        """The whole server side of one POST: returns an :class:`Outcome`."""
        try:
            wire, args = loads_request(body)
        except OVM3Error as e:
            return Outcome(dumps_response(fault=(1, "exceptions.ExpatError:%s" % e.message)))
        args = list(args)
        record = self._record(wire, args)
        try:
            kind, rule = self._apply_rule(wire, args, record)
            if kind == "fault":
                return Outcome(dumps_response(fault=(rule.code, rule.fault)))
            if kind == "drop":
                return Outcome(dumps_response(None), drop=True)
            if kind == "garbage":
                return Outcome(GARBAGE)
            try:
                value = self._run(wire, args, record)
            except AgentError as e:
                return Outcome(dumps_response(fault=(1, e.fault_string)))
            try:
                reply = dumps_response(value)
            except (TypeError, OverflowError) as e:
                record.result = None
                record.fault = "exceptions.TypeError:cannot marshal reply: %s" % e
                return Outcome(dumps_response(fault=(1, record.fault)))
            return Outcome(reply, after=_take_after_reply())
        finally:
            _take_after_reply()  # a failed call runs no after-reply action
            record.duration = time.time() - record.time
            self.calls.append(record)

    def handle_nested(self, wire, args):
        """A call another simulated host's ``dispatch()`` makes to this one, as a real agent's
        xmlrpclib proxy would: fault rules fire (a dropped or garbage reply becomes the error the
        caller's xmlrpclib raises) and the call goes into this host's call log (``nested=True``)."""
        args = list(args)
        record = self._record(wire, args, nested=True)
        try:
            kind, rule = self._apply_rule(wire, args, record)
            if kind == "fault":
                raise _raw_fault(rule.fault)
            if kind == "drop":
                raise AgentError("IncompleteRead(0 bytes read)", cls="httplib.IncompleteRead")
            if kind == "garbage":
                raise AgentError("syntax error: line 1, column 0", cls="xml.parsers.expat.ExpatError")
            value = self._run(wire, args, record)
        finally:
            record.duration = time.time() - record.time
            self.calls.append(record)
        action = _take_after_reply()
        if action is not None:
            action()  # the reply reached the caller in-process: nothing left to send first
        return value


def _raw_fault(fault_string):
    err = AgentError("")
    err.fault_string = fault_string
    return err


_after = threading.local()


def after_reply(action):
    """From a handler: run ``action()`` once this call's reply has been sent (the connection is then
    closed). Used for what a real agent does after answering, such as restarting itself."""
    _after.action = action


def _take_after_reply():
    action = getattr(_after, "action", None)
    _after.action = None
    return action
