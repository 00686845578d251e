"""Converters for plain (non-document) replies, and the scalar helpers every converter shares.

Numbers often arrive as strings, sometimes with the trailing newline of a shell pipeline
(``"11631523\\n"``): :func:`to_int` and :func:`to_float` normalise them. Every converter raises only
:class:`ovm3.errors.ParseError` on a reply of the wrong shape.
"""
from dataclasses import dataclass, field
from typing import List, Optional

from ovm3.errors import ParseError

_TRUE = frozenset(("true", "1", "yes", "on"))
_FALSE = frozenset(("false", "0", "no", "off", ""))


def type_name(value):
    return "nil" if value is None else type(value).__name__


def expect(value, kinds, what):
    """``value`` if it is one of ``kinds``, else :class:`ParseError` naming ``what``."""
    if isinstance(value, kinds):
        return value
    names = "/".join(k.__name__ for k in (kinds if isinstance(kinds, tuple) else (kinds,)))
    raise ParseError("%s: expected %s, got %s" % (what, names, type_name(value)))


def clean(value):
    """A string value with surrounding whitespace (the ``"\\n"`` recording artefacts) removed."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ParseError("expected a string, got %s" % type_name(value))


def _number_text(value, what, default):
    """Shared front of :func:`to_int`/:func:`to_float`: ``(done, value)``; ``done`` when ``value`` is
    already the answer (a number, or ``default`` for None/blank), else the stripped numeric text."""
    if isinstance(value, bool):
        raise ParseError("%s: expected a number, got a boolean" % what)
    if value is None:
        return True, default
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return True, default
        if len(text) > 40:
            raise ParseError("%s: number too long (%d characters)" % (what, len(text)))
        return False, text
    if not isinstance(value, (int, float)):
        raise ParseError("%s: expected a number, got %s" % (what, type_name(value)))
    return True, value


def to_int(value, what="value", default=None):
    """An int from an int or a numeric string (whitespace stripped; ``""`` gives ``default``)."""
    done, value = _number_text(value, what, default)
    if done:
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                raise ParseError("%s: expected a finite number, got %r" % (what, value))
            return int(value)
        return value
    try:
        return int(value)
    except ValueError:
        try:
            return int(float(value))
        except (ValueError, OverflowError):
            raise ParseError("%s: not a number: %r" % (what, value)) from None


def to_float(value, what="value", default=None):
    """A float from a number or a numeric string (whitespace stripped; ``""`` gives ``default``)."""
    done, value = _number_text(value, what, default)
    if done:
        return float(value) if isinstance(value, (int, float)) else value
    try:
        return float(value)
    except ValueError:
        raise ParseError("%s: not a number: %r" % (what, value)) from None


def to_flag(value, what="value", default=None):
    """A boolean from a bool, 0/1, or the strings ``True``/``False``/``yes``/``no`` the agent writes."""
    if isinstance(value, bool):
        return value
    if value is None:
        return default
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False if low else default
    raise ParseError("%s: expected a boolean, got %s %.40r" % (what, type_name(value), value))


def to_void(value):
    """``void`` calls: the agent replies nil on success; any value is passed through unchanged."""
    return value


def to_any(value):
    """Replies with no fixed shape: the decoded XML-RPC value, unchanged."""
    return value


def to_str(value):
    """A string reply (numbers are turned into their text; nil stays None)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ParseError("expected a string, got %s" % type_name(value))
    return str(value)


def to_bool(value):
    """A boolean reply. ``"True"``/``"true"`` strings (is_cluster_online) are accepted too."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ParseError("expected a boolean, got %s" % type_name(value))


def to_mkdirs(value):
    """``ovs_mkdirs``: ``True`` when the directory was created (nil reply), ``False`` when it existed."""
    if value is None:
        return True
    if value is True:
        return False
    raise ParseError("ovs_mkdirs: expected nil or True, got %s" % type_name(value))


def to_vnc_port(value):
    """``get_vncport``: the port as an int (``0`` when the name is not a CloudStack VM name)."""
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        port = to_int(value, "get_vncport")
        if port is not None and 0 <= port <= 65535:
            return port
    raise ParseError("get_vncport: expected a port number, got %s %.40r" % (type_name(value), value))


def to_api_version(value):
    """``get_api_version``: the int API version from ``[3]`` (a bare int is accepted too)."""
    if isinstance(value, (list, tuple)) and value:
        value = value[0]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return to_int(value, "get_api_version")
    raise ParseError("get_api_version: expected [version], got %s" % type_name(value))


@dataclass
class BootTime:
    """``get_last_boot_time``: epoch seconds of the last boot and of the agent's clock."""

    last_boot_time: int
    local_time: Optional[int] = None


def to_boot_time(value):
    """``{last_boot_time, local_time}`` (i8 or numeric strings) -> :class:`BootTime`."""
    expect(value, dict, "get_last_boot_time")
    if "last_boot_time" not in value:
        raise ParseError("get_last_boot_time: reply has no last_boot_time")
    boot = to_int(value["last_boot_time"], "last_boot_time")
    if boot is None:
        raise ParseError("get_last_boot_time: last_boot_time is empty")
    return BootTime(boot, to_int(value.get("local_time"), "local_time"))


@dataclass
class TimeZone:
    """``get_timezone``: zone name and whether the hardware clock is UTC."""

    zone: str
    utc: bool


def to_timezone(value):
    """``[zone, utc]`` -> :class:`TimeZone`."""
    expect(value, (list, tuple), "get_timezone")
    if len(value) < 2 or not isinstance(value[0], str):
        raise ParseError("get_timezone: expected [zone, utc], got %d element(s)" % len(value))
    return TimeZone(value[0], bool(to_flag(value[1], "utc", False)))


@dataclass
class NtpInfo:
    """``get_ntp``: configured servers, whether this host serves time, whether ntpd runs."""

    servers: List[str] = field(default_factory=list)
    is_server: bool = False
    is_running: bool = False


def to_ntp(value):
    """``[[servers...], is_server, is_running]``; like the reference, booleans are taken in order."""
    expect(value, (list, tuple), "get_ntp")
    info = NtpInfo()
    flags = []
    for item in value:
        if isinstance(item, bool):
            flags.append(item)
        elif isinstance(item, (list, tuple)):
            for server in item:
                if not isinstance(server, str):
                    raise ParseError("get_ntp: server names must be strings, got %s" % type_name(server))
                if server not in info.servers:
                    info.servers.append(server)
        else:
            raise ParseError("get_ntp: unexpected element of type %s" % type_name(item))
    if flags:
        info.is_server = flags[0]
    if len(flags) > 1:
        info.is_running = flags[1]
    return info


@dataclass
class ExecResult:
    """``exec_domr``: what a command run in a system VM printed and its exit status."""

    rc: int
    out: str = ""
    err: str = ""

    @property
    def ok(self):
        return self.rc == 0


def to_exec_result(value):
    """``{out, err, rc}`` -> :class:`ExecResult`."""
    expect(value, dict, "exec_domr")
    if "rc" not in value:
        raise ParseError("exec_domr: reply has no rc")
    rc = to_int(value["rc"], "exec_domr rc")
    if rc is None:
        raise ParseError("exec_domr: rc is empty")
    out, err = value.get("out", ""), value.get("err", "")
    for name, text in (("out", out), ("err", err)):
        if text is not None and not isinstance(text, str):
            raise ParseError("exec_domr: %s must be a string, got %s" % (name, type_name(text)))
    return ExecResult(rc, out or "", err or "")


@dataclass
class HealthCheck:
    """``check_dom0_storage_health_check``: is the heartbeat running now, was it started by this call."""

    running: bool
    started: bool


def to_health_check(value):
    """``[running, started]`` -> :class:`HealthCheck`."""
    expect(value, (list, tuple), "check_dom0_storage_health_check")
    if len(value) != 2:
        raise ParseError("check_dom0_storage_health_check: expected [running, started], got %d element(s)"
                         % len(value))
    return HealthCheck(to_flag(value[0], "running", False), to_flag(value[1], "started", False))
