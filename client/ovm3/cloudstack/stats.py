"""Host and VM statistics in CloudStack's units.

* memory and traffic are reported in KiB (the ``*KBs`` fields), converted from the agent's bytes;
* host network figures are the interface's cumulative byte counters (as CloudStack's KVM agent reports);
* VM figures are deltas since the previous sample of that VM, and the CPU percentage is CPU seconds used
  per wall second, divided by the VM's vCPU count; wall time comes from the monotonic clock, so clock
  jumps do not distort rates. The first sample of a VM has no deltas (zeros). A counter that went
  backwards (the domain restarted) starts a new baseline.
"""

KIB = 1024.0
_COUNTERS = ("cputime", "rx_bytes", "tx_bytes", "rd_bytes", "wr_bytes", "rd_ops", "wr_ops")


def _delta(new, old):
    return new - old if new >= old else new


def vm_stats_entry(resource, name, stats, vcpus, memory_mib=0):
    """A VmStatsEntry dict for one VM from its ``ovs_domU_stats`` reply (:class:`ovm3.parse.stats.DomUStats`).

    ``ovs_domU_stats`` carries no memory figure; ``memory_mib`` is the domain's memory as ``list_vms``
    shows it (MiB), used unless the reply has a ``memory`` value in bytes.
    """
    now = resource.clock()
    sample = {k: float(getattr(stats, k) or 0) for k in _COUNTERS}
    vcpus = int(stats.vcpus or vcpus or 1)
    previous = resource.stats_cache.get(name)
    resource.stats_cache[name] = (now, sample)
    entry = {
        "vmName": name,
        "entityType": "vm",
        "numCPUs": vcpus,
        "cpuUtilization": 0.0,
        "networkReadKBs": 0.0,
        "networkWriteKBs": 0.0,
        "diskReadKBs": 0.0,
        "diskWriteKBs": 0.0,
        "diskReadIOs": 0.0,
        "diskWriteIOs": 0.0,
        "memoryKBs": stats.memory / KIB if stats.memory is not None else float(memory_mib) * KIB,
        "targetMemoryKBs": 0.0,
    }
    entry["targetMemoryKBs"] = entry["memoryKBs"]  # no balloon target on OVM3: the domain's allocation
    if previous is None:
        return entry
    then, old = previous
    elapsed = now - then
    if elapsed <= 0:
        return entry
    d = {k: _delta(sample[k], old[k]) for k in sample}
    entry["cpuUtilization"] = min(100.0, max(0.0, d["cputime"] / elapsed / vcpus * 100.0))
    entry["networkReadKBs"] = d["rx_bytes"] / KIB
    entry["networkWriteKBs"] = d["tx_bytes"] / KIB
    entry["diskReadKBs"] = d["rd_bytes"] / KIB
    entry["diskWriteKBs"] = d["wr_bytes"] / KIB
    entry["diskReadIOs"] = d["rd_ops"]
    entry["diskWriteIOs"] = d["wr_ops"]
    return entry


def host_stats_entry(host_id, stats):
    """A HostStatsEntry dict from an ``ovs_dom0_stats`` reply (:class:`ovm3.parse.stats.Dom0Stats`; bytes
    in, KiB out)."""
    return {
        "hostId": host_id,
        "entityType": "host",
        "cpuUtilization": min(100.0, max(0.0, float(stats.cpu or 0))),
        "networkReadKBs": (stats.rx or 0) / KIB,
        "networkWriteKBs": (stats.tx or 0) / KIB,
        "totalMemoryKBs": (stats.total or 0) / KIB,
        "freeMemoryKBs": (stats.free or 0) / KIB,
        "averageLoad": 0.0,  # HostStatsEntry's field name (getLoadAverage() reads it)
    }
