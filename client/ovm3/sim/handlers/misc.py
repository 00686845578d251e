"""NTP, remote power and common areas: get/set NTP, shutdown/reboot, api version, sleep, echo, dispatch."""

import time
import urllib.parse

from ovm3.sim.dispatch import after_reply
from ovm3.sim.handlers import handles
from ovm3.sim.state import AgentError

MAX_SLEEP = 300


@handles("get_ntp")
def get_ntp(h):
    return [list(h.ntp_servers), bool(h.ntp_servers), bool(h.ntp_running)]


@handles("set_ntp")
def set_ntp(h, servers, running):
    h.ntp_servers = [str(s) for s in servers]
    h.ntp_running = bool(running) and bool(servers)


@handles("enable_ntp")
def enable_ntp(h):
    if not h.ntp_servers:
        raise AgentError("No NTP servers configured")
    h.ntp_running = True


@handles("disable_ntp")
def disable_ntp(h):
    h.ntp_running = False


@handles("sys_reboot")
def sys_reboot(h):
    # Domains die with the host (xend's on_xend_start is "ignore"); the agent answers first.
    h.domains.clear()
    h.boot_time = int(time.time())


@handles("sys_shutdown")
def sys_shutdown(h):
    h.domains.clear()
    h.down = True
    sim = getattr(h, "sim", None)
    if sim is not None:
        after_reply(sim.power_off)


@handles("get_api_version")
def get_api_version(h):
    return [3]


@handles("sleep")
def sleep(h, secs):
    time.sleep(max(0, min(secs, MAX_SLEEP)))


@handles("echo")
def echo(h, msg):
    return msg


@handles("dispatch")
def dispatch(h, uri, func, args):
    parts = urllib.parse.urlsplit(uri)
    target = h.world.host_by_name_or_ip(parts.hostname or "")
    if target is None or target.down or getattr(target, "sim", None) is None:
        raise AgentError("[Errno 111] Connection refused", cls="socket.error")
    if parts.username != target.agent_user or urllib.parse.unquote(parts.password or "") != target.password:
        raise AgentError(
            "<ProtocolError for %s: 401 Unauthorized>" % (parts.hostname,), cls="xmlrpclib.ProtocolError"
        )
    return target.sim.dispatcher.handle_nested(func, list(args))
