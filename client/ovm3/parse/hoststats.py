"""``get_host_stats``: the one-call sweep of a host (raw monotonic counters and the sample's time).

Every figure the agent could not read is None; ``errors`` says why. Network counters of ``network`` count
from the host's side (``rx_bytes`` is what the device received), those of ``domains`` from the guest's
side (``rx_bytes`` is what the VM received), as the reply's ``net_direction`` states.
"""
from dataclasses import dataclass, field
from typing import List, Optional

from ovm3.errors import ParseError
from ovm3.parse.basic import clean, expect, to_float, to_int

#: Reply layouts this parser knows.
FORMATS = ("1",)


@dataclass
class NetDevice:
    device: str
    rx_bytes: Optional[int] = None
    tx_bytes: Optional[int] = None
    rx_packets: Optional[int] = None
    tx_packets: Optional[int] = None


@dataclass
class RepositoryUsage:
    path: str
    #: ``ok``, ``unresponsive`` (statvfs did not return in time: a dead mount) or ``error``.
    state: str
    total_bytes: Optional[int] = None
    free_bytes: Optional[int] = None
    reason: str = ""

    @property
    def used_bytes(self):
        if self.total_bytes is None or self.free_bytes is None:
            return None
        return max(0, self.total_bytes - self.free_bytes)


@dataclass
class HeartbeatState:
    #: ``ALIVE``, ``DEAD``, ``UNKNOWN`` (from the daemon's record) or ``NONE`` (no heartbeat set up).
    verdict: str
    reason: str = ""
    #: Seconds since the host's own heartbeat last made progress (None: never seen / no record).
    since_progress: Optional[float] = None
    observed_by: str = ""


@dataclass
class DomainStats:
    name: str
    domid: int
    uuid: str = ""
    state: str = ""
    cpu_seconds: Optional[float] = None
    vcpus: Optional[int] = None
    memory_bytes: Optional[int] = None
    rd_bytes: Optional[int] = None
    wr_bytes: Optional[int] = None
    rd_ops: Optional[int] = None
    wr_ops: Optional[int] = None
    rx_bytes: Optional[int] = None
    tx_bytes: Optional[int] = None

    @property
    def is_dom0(self):
        return self.domid == 0


@dataclass
class HostStats:
    """One sample of a host. ``time`` is the agent's epoch seconds, ``monotonic`` its clock for rates."""

    time: Optional[float] = None
    monotonic: Optional[float] = None
    module_version: str = ""
    cpus: Optional[int] = None
    cpu_idle_seconds: Optional[float] = None
    cpu_busy_seconds: Optional[float] = None
    memory_total_bytes: Optional[int] = None
    memory_free_bytes: Optional[int] = None
    network: List[NetDevice] = field(default_factory=list)
    storage: List[RepositoryUsage] = field(default_factory=list)
    heartbeat: Optional[HeartbeatState] = None
    domains: List[DomainStats] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    #: ``one-call`` (get_host_stats) or ``per-vm`` (the fallback over ovs_dom0_stats/ovs_domU_stats).
    source: str = "one-call"


def _str(value, what):
    value = clean(value)
    if value is None:
        return ""
    expect(value, str, what)
    return value


def _items(value, what):
    if value is None:
        return []
    expect(value, list, what)
    for item in value:
        expect(item, dict, what + " item")
    return value


def to_host_stats(value):
    """``get_host_stats`` struct -> :class:`HostStats` (unknown layouts refused)."""
    expect(value, dict, "get_host_stats")
    fmt = _str(value.get("format"), "format")
    if fmt not in FORMATS:
        raise ParseError("get_host_stats: unknown reply format %r (this client knows %s)" % (fmt, ", ".join(FORMATS)))
    host = value.get("host") or {}
    expect(host, dict, "host")
    out = HostStats(
        time=to_float(value.get("time"), "time"), monotonic=to_float(value.get("monotonic"), "monotonic"),
        module_version=_str(value.get("module_version"), "module_version"),
        cpus=to_int(host.get("cpus"), "cpus"),
        cpu_idle_seconds=to_float(host.get("cpu_idle_seconds"), "cpu_idle_seconds"),
        cpu_busy_seconds=to_float(host.get("cpu_busy_seconds"), "cpu_busy_seconds"),
        memory_total_bytes=to_int(host.get("memory_total_bytes"), "memory_total_bytes"),
        memory_free_bytes=to_int(host.get("memory_free_bytes"), "memory_free_bytes"))
    for item in _items(value.get("network"), "network"):
        out.network.append(NetDevice(_str(item.get("device"), "device"),
                                     **{k: to_int(item.get(k), k)
                                        for k in ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets")}))
    for item in _items(value.get("storage"), "storage"):
        out.storage.append(RepositoryUsage(_str(item.get("path"), "path"), _str(item.get("state"), "state"),
                                           to_int(item.get("total_bytes"), "total_bytes"),
                                           to_int(item.get("free_bytes"), "free_bytes"),
                                           _str(item.get("reason"), "reason")))
    hb = value.get("heartbeat")
    if hb is not None:
        expect(hb, dict, "heartbeat")
        out.heartbeat = HeartbeatState(_str(hb.get("verdict"), "verdict") or "UNKNOWN",
                                       _str(hb.get("reason"), "reason"),
                                       to_float(hb.get("since_progress"), "since_progress"),
                                       _str(hb.get("observed_by"), "observed_by"))
    for item in _items(value.get("domains"), "domains"):
        out.domains.append(DomainStats(
            _str(item.get("name"), "name"), to_int(item.get("domid"), "domid", -1), _str(item.get("uuid"), "uuid"),
            _str(item.get("state"), "state"),
            to_float(item.get("cpu_seconds"), "cpu_seconds"), to_int(item.get("vcpus"), "vcpus"),
            **{k: to_int(item.get(k), k) for k in ("memory_bytes", "rd_bytes", "wr_bytes", "rd_ops", "wr_ops",
                                                    "rx_bytes", "tx_bytes")}))
    errors = value.get("errors") or []
    expect(errors, list, "errors")
    out.errors = [_str(e, "errors") for e in errors]
    return out
