"""Statistics and console services: dom0 and domU counters, a domain's VNC port.

Values are strings (CloudStack reads a Map<String, String>, and strings carry counters past 2**31
through Python 2's xmlrpclib). Python 2.4-compatible, stdlib only.
"""
import ovm3_agent_base as base
import ovm3_agent_validate as check

SECTOR = 512
MIB = 1048576


def _cpu_percent(before, after):
    """Busy share of the CPU between two /proc/stat ``cpu`` lines (idle and iowait count as idle)."""
    width = min(len(before), len(after))
    total = 0
    for i in range(width):
        total += after[i] - before[i]
    idle = after[3] - before[3]
    if width > 4:
        idle += after[4] - before[4]
    if total <= 0:
        return 0.0
    busy = 100.0 * (total - idle) / total
    return max(0.0, min(100.0, busy))


def ovs_dom0_stats(bridge):
    """dom0 load: ``{cpu, total, free, rx, tx}`` as strings.

    ``cpu`` is the busy percentage over a short /proc/stat sample, ``total``/``free`` the hypervisor's
    memory in bytes, ``rx``/``tx`` the bridge's received/transmitted bytes since boot.
    """
    bridge = check.device("bridge", bridge)
    host = base.host()
    counters = host.net_counters(bridge)
    if counters is None:
        raise base.ServiceError("ovs_dom0_stats: no network device %s on this host" % bridge)
    before = host.read_proc_stat()
    host.sleep(base.setting("cpu_sample"))
    after = host.read_proc_stat()
    total_mib, free_mib = host.xen_memory()
    return {
        "cpu": "%.2f" % _cpu_percent(before, after),
        "total": str(int(total_mib) * MIB),
        "free": str(int(free_mib) * MIB),
        "rx": str(int(counters["rx_bytes"])),
        "tx": str(int(counters["tx_bytes"])),
    }


def _domain(name):
    dom = base.host().xend_domain(name)
    if dom is None:
        raise base.ServiceError("domain %s not found on this host" % name)
    return dom


def ovs_domU_stats(domain):
    """A VM's counters: ``{rd_bytes, wr_bytes, rd_ops, wr_ops, rx_bytes, tx_bytes, cputime, uptime, vcpus}``.

    Disk figures sum every vbd (sectors x 512 for bytes, requests for ops). Network figures sum every
    vif from the guest's point of view: ``rx_bytes`` is what the VM received (the backend's tx).
    ``cputime`` is CPU seconds, ``uptime`` seconds since the domain started. All values are strings.
    """
    domain = check.domain_name("domain", domain)
    host = base.host()
    dom = _domain(domain)
    disk = {"rd_sect": 0, "wr_sect": 0, "rd_req": 0, "wr_req": 0}
    for devid in dom["vbd"]:
        stats = host.vbd_stats(dom["domid"], devid)
        if stats:
            for key in disk:
                disk[key] += int(stats.get(key, 0))
    net_rx = net_tx = 0
    for devid in dom["vif"]:
        stats = host.vif_stats(dom["domid"], devid)
        if stats:
            net_rx += int(stats.get("tx_bytes", 0))
            net_tx += int(stats.get("rx_bytes", 0))
    uptime = 0.0
    if dom["start_time"]:
        uptime = max(0.0, host.now() - dom["start_time"])
    return {
        "rd_bytes": str(disk["rd_sect"] * SECTOR),
        "wr_bytes": str(disk["wr_sect"] * SECTOR),
        "rd_ops": str(disk["rd_req"]),
        "wr_ops": str(disk["wr_req"]),
        "rx_bytes": str(net_rx),
        "tx_bytes": str(net_tx),
        "cputime": "%.3f" % dom["cpu_time"],
        "uptime": "%.3f" % uptime,
        "vcpus": str(dom["online_vcpus"]),
    }


def get_vncport(domain):
    """The VNC port of a running VM's console, as a string (``"5901"``)."""
    domain = check.domain_name("domain", domain)
    dom = _domain(domain)
    location = dom.get("vfb_location")
    if not location or ":" not in location:
        raise base.ServiceError("get_vncport: domain %s has no VNC console" % domain)
    port = location.rsplit(":", 1)[1]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise base.ServiceError("get_vncport: domain %s reports a bad console location %r" % (domain, location))
    return str(int(port))


SERVICES = {
    "ovs_dom0_stats": ovs_dom0_stats,
    "ovs_domU_stats": ovs_domU_stats,
    "get_vncport": get_vncport,
}
