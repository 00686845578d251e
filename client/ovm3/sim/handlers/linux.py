"""Linux host area: discovery, boot time, time zone, file copies, agent password, statistics."""

import time

from ovm3.sim import copying, documents, faultrules
from ovm3.sim.handlers import handles
from ovm3.sim.state import AgentError
from ovm3.wire import I8


@handles("discover_server")
def discover_server(h):
    return documents.discover_server(h)


@handles("discover_hardware")
def discover_hardware(h):
    return documents.discover_hardware(h)


@handles("discover_mounted_file_systems")
def discover_mounted_file_systems(h, fs_type):
    return documents.discover_mounted_file_systems(h, fs_type)


@handles("get_last_boot_time")
def get_last_boot_time(h):
    # The agent types both as i8 (Java casts them to Long), small as they are.
    return {"last_boot_time": I8(h.boot_time), "local_time": I8(int(time.time()))}


@handles("get_timezone")
def get_timezone(h):
    return [h.timezone, bool(h.utc)]


@handles("copy_file")
def copy_file(h, src, dst, sparse=True):
    copying.copy(h, src, dst, sparse, midway=faultrules.take_midway())


@handles("update_agent_password")
def update_agent_password(h, user, password, old_password=None):
    if h.personality.ownership_struct and old_password != h.password:
        raise AgentError("Old password does not match")
    if not password:
        raise AgentError("Password must not be empty", cls="exceptions.ValueError")
    h.agent_user = user
    h.password = password


@handles("set_statistics_interval")
def set_statistics_interval(h, interval):
    if interval <= 0:
        raise AgentError("Invalid interval: %d" % interval, cls="exceptions.ValueError")
    h.stat_interval = interval
