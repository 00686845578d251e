"""Informational services: echo, versions, module info and the live list of every agent service.

Python 2.4-compatible, stdlib only.
"""
import os
import re
import sys

import ovm3_agent_base as base
import ovm3_agent_health
import ovm3_compat

#: Shared files deployed next to the module (ovm3_agent*.py files are found by name).
SHARED_FILES = ("ovm3_hostio.py", "ovm3_compat.py", "ovm3_heartbeat.py", "ovm3_apidump.py")


def call(msg):
    """Echo ``msg`` back (CloudStack's connectivity test)."""
    return msg


def get_module_version():
    """This module's version string."""
    return base.MODULE_VERSION


def get_ovs_version():
    """The OVM release (``3.2.1``) from the last version-like word of /etc/ovs-release's first line."""
    release = base.setting("ovs_release")
    try:
        text = base.host().read_file(release, 4096)
    except (IOError, OSError):
        e = sys.exc_info()[1]
        raise base.ServiceError("cannot read %s: %s" % (release, e))
    lines = text.splitlines()
    if lines:
        m = re.search(r"(\d+(\.\d+)+)\s*\Z", lines[0])
        if m:
            return m.group(1)
    raise base.ServiceError("%s names no version: %r" % (release, text[:80]))


def files_checksum(files):
    """MD5 over ``{name: path}``: one ``name md5`` line per file, in name order."""
    names = list(files.keys())
    names.sort()
    parts = []
    for name in names:
        parts.append("%s %s" % (name, ovm3_compat.md5_file(files[name])))
    return ovm3_compat.md5_hex("\n".join(parts))


def deployed_files(directory):
    """{name: path} of the module's files in ``directory`` (the agent's api/ dir once installed)."""
    out = {}
    for name in os.listdir(directory):
        ours = name.startswith("ovm3_agent") or name.startswith("ovm3_hb_")
        if (ours and name.endswith(".py")) or name in SHARED_FILES:
            path = os.path.join(directory, name)
            if os.path.isfile(path):
                out[name] = path
    return out


def module_checksum(directory=None):
    """The checksum ``status`` reports, over the files deployed next to this module."""
    return files_checksum(deployed_files(directory or base.MODULE_DIR))


def _agent_version():
    try:
        from agent.lib import settings
    except ImportError:
        return None
    for name in ("version", "agent_version", "VERSION"):
        value = getattr(settings, name, None)
        if isinstance(value, ovm3_compat.string_types):
            return value
    return None


def get_module_info():
    """``{module_version, checksum, python_version, agent_version, ovs_version, heartbeat}`` (unknown ->
    ""); ``heartbeat`` is the deployed heartbeat config's ``{guid, timeout, interval, config}`` or
    ``{error}``."""
    try:
        ovs = get_ovs_version()
    except base.ServiceError:
        ovs = ""
    return {
        "module_version": base.MODULE_VERSION,
        "checksum": module_checksum(),
        "python_version": "%d.%d.%d" % tuple(sys.version_info[:3]),
        "agent_version": _agent_version() or "",
        "ovs_version": ovs,
        "heartbeat": ovm3_compat.xmlrpc_safe(ovm3_agent_health.heartbeat_settings()),
    }


def get_api_services():
    """Every service of every module loaded in the agent (Oracle's and ours), as ovm3_apidump describes it."""
    try:
        import ovm3_apidump
    except ImportError:
        raise base.ServiceError("get_api_services needs ovm3_apidump.py next to the agent module; "
                                "reinstall the module with the introspection files present")
    try:
        modules = base.agent_modules()
    except ImportError:
        e = sys.exc_info()[1]
        raise base.ServiceError("cannot import the agent's MODULES (agent.target.api): %s" % e)
    version = None
    try:
        from agent.lib.settings import get_api_version
        version = get_api_version()
    except ImportError:
        pass
    return ovm3_compat.xmlrpc_safe(ovm3_apidump.dump_services(modules, version))


SERVICES = {
    "call": call,
    "get_module_version": get_module_version,
    "get_ovs_version": get_ovs_version,
    "get_module_info": get_module_info,
    "get_api_services": get_api_services,
}
