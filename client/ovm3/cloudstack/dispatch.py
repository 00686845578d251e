"""Dispatch: one handler per CloudStack command class, looked up in a dict, never letting an error escape.

Every handler returns an answer of its command's answer type. Unknown commands get CloudStack's
"unsupported" answer; malformed commands and agent failures get a failed answer whose details name the
host, the step and the agent fault.
"""

import logging
import time

from ovm3 import errors
from ovm3.redact import redact_text
from ovm3.cloudstack import answers
from ovm3.cloudstack.cs_fields import short_name
from ovm3.cloudstack.registry import HANDLERS, CommandError, Refused, unwrap

log = logging.getLogger(__name__)

# Importing the handler modules fills HANDLERS.
from ovm3.cloudstack import ha, host, network, storage, vm, volumes  # noqa: E402,F401  (registration side effect)


def supported():
    """Short names of every command served."""
    return sorted(HANDLERS)


def answer_type(command):
    """The short answer class name a command gets (``Answer`` for unknown ones)."""
    entry = HANDLERS.get(short_name(command))
    return entry[1] if entry else answers.UNSUPPORTED


def describe_error(exc):
    """A one-line, secret-free description of what went wrong, naming the agent fault if any."""
    if isinstance(exc, CommandError):
        text = "malformed command: %s" % exc
    elif isinstance(exc, Refused):
        text = str(exc)
    elif isinstance(exc, errors.AgentFault):
        text = "agent fault %s: %s" % (exc.agent_exception or "?", exc.agent_message or exc.message)
        if exc.method:
            text += " (call %s)" % exc.method
    elif isinstance(exc, errors.OVM3Error):
        text = "%s: %s" % (type(exc).__name__, exc.message)
        if exc.method:
            text += " (call %s)" % exc.method
    else:
        text = "%s: %s" % (type(exc).__name__, exc)
    return redact_text(text)


def command_wait(body):
    """A command's ``wait`` (seconds CloudStack waits for the answer), or None when it gives none."""
    wait = body.get("wait")
    if isinstance(wait, bool) or not isinstance(wait, (int, float)) or wait <= 0:
        return None
    return float(wait)


def dispatch(resource, command, body=None):
    """Answer ``command`` (short or Java class name) with JSON object ``body`` on ``resource``."""
    name = short_name(command)
    if body is not None and not isinstance(body, dict):
        return answers.failure(
            answer_type(name), "host %s: %s: malformed command: expected an object" % (resource.host, name)
        )
    cls, fields = unwrap(body or {})
    if cls == name:
        body = fields
    body = body or {}
    entry = HANDLERS.get(name)
    if entry is None:
        log.info("%s: unsupported command %s", resource.host, name)
        return answers.unsupported(name)
    handler, answer_name = entry
    started = time.monotonic()
    wait = command_wait(body)
    try:
        if wait:
            with resource.bounded(wait):
                result = handler(resource, body)
        else:
            result = handler(resource, body)
        if result is None:
            raise RuntimeError("handler returned no answer")
    except Exception as e:  # noqa: BLE001 - the contract: no exception reaches CloudStack
        step = getattr(e, "ovm3_step", None) or "validate"
        details = "host %s: %s failed at step %s: %s" % (resource.host, name, step, describe_error(e))
        log.warning("%s", details)
        return answers.failure(answer_name, details)
    log.debug("%s: %s answered in %.1f ms", resource.host, name, (time.monotonic() - started) * 1000)
    return result
