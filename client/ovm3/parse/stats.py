"""``ovs_dom0_stats`` and ``ovs_domU_stats``: structs of strings (some with trailing newlines) -> numbers."""
from dataclasses import dataclass
from typing import Optional

from ovm3.parse.basic import expect, to_float, to_int


@dataclass
class Dom0Stats:
    """Host statistics: bridge traffic counters, memory in bytes, CPU use in percent."""

    rx: Optional[int] = None
    tx: Optional[int] = None
    total: Optional[int] = None
    free: Optional[int] = None
    cpu: Optional[float] = None


def to_dom0_stats(value):
    """``ovs_dom0_stats`` struct of strings -> :class:`Dom0Stats`."""
    expect(value, dict, "ovs_dom0_stats")
    return Dom0Stats(rx=to_int(value.get("rx"), "rx"), tx=to_int(value.get("tx"), "tx"),
                     total=to_int(value.get("total"), "total"), free=to_int(value.get("free"), "free"),
                     cpu=to_float(value.get("cpu"), "cpu"))


@dataclass
class DomUStats:
    """VM statistics: disk and network counters, CPU seconds, uptime in seconds, online vcpus."""

    rx_bytes: Optional[int] = None
    tx_bytes: Optional[int] = None
    rd_bytes: Optional[int] = None
    wr_bytes: Optional[int] = None
    rd_ops: Optional[int] = None
    wr_ops: Optional[int] = None
    cputime: Optional[float] = None
    uptime: Optional[float] = None
    vcpus: Optional[int] = None
    #: Memory in bytes, where the agent reports it (CloudStack's own module does not).
    memory: Optional[int] = None


def to_domu_stats(value):
    """``ovs_domU_stats`` struct of strings -> :class:`DomUStats`."""
    expect(value, dict, "ovs_domU_stats")
    ints = {k: to_int(value.get(k), k) for k in ("rx_bytes", "tx_bytes", "rd_bytes", "wr_bytes", "rd_ops",
                                                  "wr_ops", "vcpus", "memory")}
    return DomUStats(cputime=to_float(value.get("cputime"), "cputime"),
                     uptime=to_float(value.get("uptime"), "uptime"), **ints)
