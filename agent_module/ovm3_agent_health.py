"""Storage-health services: start and query the heartbeat daemon (fencing/ovm3_heartbeat.py).

The daemon's config file is the single source of guid and timings: a call whose arguments disagree
with it gets a fault naming both values. Timings travel as CloudStack's whole seconds: an argument
agrees with a fractional configured value when it equals that value rounded up (INTERVAL=0.2 -> 1);
``heartbeat_settings`` tells a manager the configured values (get_module_info reports them).
CloudStack's ``path``/``script`` arguments are checked for shape and otherwise ignored: they would
let a caller pick the program root runs.
Python 2.4-compatible, stdlib only. The config reader is the shared hostlib ``ovm3_hb_config``;
``ovm3_heartbeat`` (the daemon, for the verdict) is deployed next to this module and imported only
when a service needs it.
"""
import math
import os
import sys
import time

import ovm3_agent_base as base
import ovm3_agent_validate as check
import ovm3_compat
import ovm3_hb_config

DAEMON_FILE = "ovm3_heartbeat.py"
DAEMON_TIMEOUT = 30


def _heartbeat():
    try:
        import ovm3_heartbeat
    except ImportError:
        raise base.ServiceError("the heartbeat daemon (ovm3_heartbeat.py) is not installed next to the "
                                "agent module; run the installer with the fencing files present")
    return ovm3_heartbeat


def _config_path():
    return base.host().local_path(base.setting("heartbeat_config"))


def _config():
    path = _config_path()
    try:
        return ovm3_hb_config.load_config(path)
    except Exception:
        e = sys.exc_info()[1]
        if ovm3_compat.is_fatal(e):
            raise
        raise base.ServiceError("cannot use the heartbeat config %s: %s" % (path, e))


def whole_seconds(value):
    """A configured timing as the wire carries it: whole seconds, rounded up (0.2 -> 1)."""
    return int(math.ceil(float(value)))


def _same(configured, value):
    if isinstance(value, ovm3_compat.integer_types):
        try:
            return whole_seconds(configured) == value
        except (TypeError, ValueError):
            return False
    return str(configured) == str(value)


def heartbeat_settings():
    """``{guid, timeout, interval}`` of the deployed heartbeat config (seconds, as configured), or
    ``{error}`` saying why it cannot be read; never a fault (get_module_info reports it)."""
    try:
        config = _config()
    except base.ServiceError:
        return {"error": str(sys.exc_info()[1])}
    return {"guid": config.get("guid") or "", "timeout": float(config.get("timeout")),
            "interval": float(config.get("interval")), "config": _config_path()}


def _agree(config, key, name, value):
    """Fault unless the call's ``name=value`` equals the config file's ``KEY`` (dict key ``key.lower()``)."""
    configured = config.get(key.lower())
    if configured is None:
        raise base.ServiceError("the heartbeat config %s sets no %s" % (_config_path(), key))
    if not _same(configured, value):
        raise base.ServiceError("argument %s=%s disagrees with %s=%s in the heartbeat config %s (timings "
                                "are sent in whole seconds, rounded up)"
                                % (name, value, key, configured, _config_path()))


def _check_cloudstack_args(path, script):
    check._text("path", path, check.MAX_PATH)
    check._text("script", script, check.MAX_NAME)


def _daemon(action):
    argv = [sys.executable, os.path.join(base.MODULE_DIR, DAEMON_FILE), "-c", _config_path(), action]
    try:
        return base.host().run(argv, DAEMON_TIMEOUT)
    except ovm3_compat.CommandTimeout:
        raise base.ServiceError("heartbeat daemon '%s' did not answer within %d s" % (action, DAEMON_TIMEOUT))


def check_dom0_storage_health_check(path, script, guid, timeout, interval):
    """Make sure the heartbeat daemon runs -> ``[running, started]`` (started: by this call)."""
    _check_cloudstack_args(path, script)
    guid = check.guid("guid", guid)
    timeout = check.integer("timeout", timeout, 1, 86400)
    interval = check.integer("interval", interval, 1, 86400)
    config = _config()
    _agree(config, "GUID", "guid", guid)
    _agree(config, "TIMEOUT", "timeout", timeout)
    _agree(config, "INTERVAL", "interval", interval)
    rc, out, err = _daemon("status")
    if rc == 0:
        return [True, False]
    rc, out, err = _daemon("start")
    if rc != 0:
        raise base.ServiceError("heartbeat daemon failed to start (rc %d): %s" % (rc, (err or out).strip()[:300]))
    rc, out, err = _daemon("status")
    return [rc == 0, True]


def check_dom0_storage_verdict(guid):
    """The heartbeat verdict on ``guid``'s storage: ``{verdict: ALIVE|DEAD|UNKNOWN, reason, ...}``."""
    guid = check.guid("guid", guid)
    result = _heartbeat().verdict(_config(), guid)
    return ovm3_compat.xmlrpc_safe(result)


def check_dom0_storage_health(path, script, guid, timeout):
    """True when ``guid``'s heartbeat is ALIVE, False when DEAD, a fault when UNKNOWN."""
    _check_cloudstack_args(path, script)
    guid = check.guid("guid", guid)
    timeout = check.integer("timeout", timeout, 1, 86400)
    config = _config()
    _agree(config, "TIMEOUT", "timeout", timeout)
    result = _heartbeat().verdict(config, guid)
    verdict = result.get("verdict")
    if verdict == "ALIVE":
        return True
    if verdict == "DEAD":
        return False
    raise base.ServiceError("heartbeat verdict for %s is %s: %s" % (guid, verdict, result.get("reason", "")))


#: Seconds a planned removal waits for the daemon's answer, beyond two of its intervals.
RELEASE_WAIT = 20


def heartbeat_release_storage(path):
    """Before a planned unmount of ``path``: the running heartbeat daemon records ``stopped`` there
    and stops monitoring it, so the unmount neither fences this host nor leaves peers a silent
    ``running`` record -> ``{released: bool, reason}``; a fault when the daemon does not answer in time
    (then unmounting would fence this host). ``released`` False: no daemon runs, nothing to do."""
    path = check.path_syntax("path", path)
    rc, out, err = _daemon("status")
    if rc != 0:
        return {"released": False, "reason": "no heartbeat daemon runs on this host"}
    config = _config()
    mount = base.host().mount_path(path)
    request = ovm3_hb_config.request_removal(config["state_dir"], mount)
    deadline = time.time() + RELEASE_WAIT + 2 * float(config["interval"])
    while os.path.exists(request):
        if time.time() > deadline:
            try:
                os.unlink(request)
            except OSError:
                pass
            raise base.ServiceError("the heartbeat daemon did not release %s within %d s: do not unmount it "
                                    "(the daemon would count it as failed storage and fence this host)"
                                    % (path, RELEASE_WAIT))
        time.sleep(0.05)
    return {"released": True, "reason": "stopped recorded on %s; the heartbeat no longer monitors it" % path}


SERVICES = {
    "heartbeat_release_storage": heartbeat_release_storage,
    "check_dom0_storage_health_check": check_dom0_storage_health_check,
    "check_dom0_storage_health": check_dom0_storage_health,
    "check_dom0_storage_verdict": check_dom0_storage_verdict,
}
