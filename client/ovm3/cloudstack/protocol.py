"""The direct-connect protocol of ``ovm3 serve``: which URL gets which body and which answer.

CloudStack's direct-connect resource posts every command to ``/api/HypervResource/<command class>``
with the command's plain JSON as body (``contextMap`` and ``wait`` included) and reads the reply as an
``Answer[]``; a 404 means "unsupported". Three URLs are not ordinary commands:

* ``.../com.cloud.agent.api.StartupCommand``: body ``[{"com.cloud.agent.api.StartupRoutingCommand":
  {...}}]``, answered with the same form (a ``Command[]``), the identity fields echoed as sent;
* ``.../com.cloud.agent.api.PingRoutingCommand``: answered ``[{"com.cloud.agent.api.Answer":
  {"result": true}}]`` while the agent answers (false when not: CloudStack then marks the host down);
* ``.../org.apache.cloudstack.HostVmStateReportCommand``: body ``{}``, answered
  ``[{"<vm name>": "PowerOn"}, ...]`` for the domains the agent lists.

``ping`` and ``startup`` stay as short aliases answering the PingRoutingCommand / StartupRoutingCommand
data; ``ovm3.HostSetup`` runs the host set-up when the caller is authenticated by a secret.
:func:`answer` maps ``(resource, command name, raw body)`` to ``(HTTP status, JSON payload)``; the
socket side lives in :mod:`ovm3.cloudstack.server`.
"""

import json
import logging

from ovm3.errors import HeartbeatMismatch
from ovm3.cloudstack import answers, naming
from ovm3.cloudstack import host as host_commands
from ovm3.cloudstack.cs_fields import short_name
from ovm3.cloudstack.dispatch import answer_type, describe_error
from ovm3.cloudstack.registry import HANDLERS, unwrap

log = logging.getLogger(__name__)

PREFIX = "/api/HypervResource"
STARTUP = "com.cloud.agent.api.StartupCommand"
STARTUP_ROUTING = "com.cloud.agent.api.StartupRoutingCommand"
PING = "com.cloud.agent.api.PingRoutingCommand"
STATE_REPORT = "org.apache.cloudstack.HostVmStateReportCommand"
SETUP = "ovm3.HostSetup"
#: the short aliases of the two host reports (a URL name, not the agent's ``ping`` method)
PING_ALIAS, STARTUP_ALIAS = "ping", "startup"


class BadRequest(Exception):
    """A body this protocol cannot read: answered with ``status`` and an ``{"error": ...}``."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def parse_json(raw):
    """The JSON value of a request body (``{}`` for an empty one); BadRequest when it is not JSON."""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BadRequest(400, "body is not JSON: %s" % e.__class__.__name__) from None


def command_object(body):
    """A command body as an object: a one-element array is taken as its element."""
    if isinstance(body, list) and len(body) == 1:
        body = body[0]
    if not isinstance(body, dict):
        raise BadRequest(400, "the command must be a JSON object")
    return body


def _failure(resource, what, e, status=503):
    step = getattr(e, "ovm3_step", None) or what
    details = "host %s: %s failed at step %s: %s" % (resource.host, what, step, describe_error(e))
    log.warning("%s", details)
    return status, {"error": details, "host": resource.host, "step": step}


def startup(resource, raw):
    """``Command[]`` with this host's StartupRoutingCommand, identity fields echoed from the body."""
    sent = None
    body = parse_json(raw)
    if body != {}:
        cls, fields = unwrap(command_object(body))
        if cls not in (None, short_name(STARTUP_ROUTING)):
            raise BadRequest(400, "expected a StartupRoutingCommand, got %s" % cls)
        sent = fields
        if sent.get("guid") not in (None, "") and not naming.is_host_guid(sent.get("guid")):
            raise BadRequest(400, "the StartupRoutingCommand's guid is not a UUID")
    try:
        host_commands.identify(resource)
        return 200, [host_commands.startup(resource, sent)]
    except Exception as e:  # noqa: BLE001 - the answer says what failed, the server carries on
        return _failure(resource, "startup", e, 409 if isinstance(e, HeartbeatMismatch) else 503)


def ping_alias(resource):
    """``/ping``: ``[PingRoutingCommand data]``, or 503 when the agent does not answer."""
    try:
        host_commands.identify(resource)
        result = resource.ping()
    except Exception as e:  # noqa: BLE001
        return _failure(resource, PING_ALIAS, e)
    if result is None:
        return 503, {"error": "host %s does not answer" % resource.host, "host": resource.host, "step": PING_ALIAS}
    return 200, [result]


def ping(resource):
    """The PingRoutingCommand CloudStack posts: an ``Answer`` whose result says the host is up."""
    try:
        host_commands.identify(resource)
        result = resource.ping()
    except Exception as e:  # noqa: BLE001 - a ping reports, it never raises
        result, why = None, describe_error(e)
    else:
        why = "agent does not answer"
    if result is None:
        return 200, [answers.answer("Answer", False, "host %s: ping failed: %s" % (resource.host, why))]
    data = result["com.cloud.agent.api.PingRoutingCommand"]
    details = "host %s up; agent module %s" % (resource.host, data["ovm3"]["agentModule"])
    return 200, [answers.answer("Answer", True, details)]


def state_report(resource):
    """``[{"<vm name>": "<PowerState>"}, ...]`` for the domains the agent lists, or 503."""
    try:
        host_commands.identify(resource)
        report = host_commands.vm_report(resource)
    except Exception as e:  # noqa: BLE001
        return _failure(resource, "state report", e)
    return 200, [{name: entry["state"]} for name, entry in sorted(report.items())]


def setup(resource, allowed):
    """``ovm3.HostSetup``: the host set-up (ownership, roles, control interface, heartbeat)."""
    if not allowed:
        return 403, {"error": "host set-up needs a caller authenticated by API key or client certificate"}
    try:
        host_commands.identify(resource)
        steps = resource.setup()
    except Exception as e:  # noqa: BLE001
        return _failure(resource, "set-up", e)
    return 200, {"host": resource.host, "steps": [list(pair) for pair in steps]}


def command(resource, name, raw):
    """An ordinary command: ``[answer]`` (200 even for a failed answer), 404 for an unsupported one."""
    short = short_name(name)
    if short not in HANDLERS:
        return 404, {"error": "unsupported command %s" % short, "answer": [answers.unsupported(short)]}
    body = command_object(parse_json(raw))
    try:
        host_commands.identify(resource)
    except Exception as e:  # noqa: BLE001
        return 200, [answers.failure(answer_type(short), "host %s: %s failed at step identify: %s"
                                     % (resource.host, short, describe_error(e)))]
    answer = resource.execute(short, body)
    log.info("%s %s -> %s %s", resource.host, short, answer_type(short), answers.ok(answer))
    return 200, [answer]


def answer(resource, name, raw, setup_allowed=False):
    """``(HTTP status, JSON payload)`` for a POST to ``PREFIX/<name>`` with body bytes ``raw``."""
    try:
        if name == STARTUP:
            return startup(resource, raw)
        if name == STARTUP_ALIAS:
            return startup(resource, b"")
        if name == PING:
            return ping(resource)
        if name == PING_ALIAS:
            return ping_alias(resource)
        if name == STATE_REPORT:
            return state_report(resource)
        if name == SETUP:
            return setup(resource, setup_allowed)
        return command(resource, name, raw)
    except BadRequest as e:
        return e.status, {"error": str(e)}
