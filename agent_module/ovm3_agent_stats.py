"""Statistics and console services: dom0 and domU counters, the one-call host sweep, a VNC port.

Values are strings (CloudStack reads a Map<String, String>, and strings carry counters past 2**31
through Python 2's xmlrpclib). Python 2.4-compatible, stdlib only.
"""
import sys
import threading

import ovm3_agent_base as base
import ovm3_agent_validate as check
import ovm3_compat

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


#: Version of the get_host_stats reply layout (a manager refuses a layout it does not know).
HOST_STATS_FORMAT = "1"
#: Where repositories are mounted on dom0.
REPOSITORY_ROOT = "/OVS/Repositories"
#: Seconds one repository's statvfs may take before it is reported unresponsive (a dead NFS mount
#: hangs statvfs; the reply must not).
FS_USAGE_WAIT = 2.0
#: Which way the network counters of the reply count.
NET_DIRECTION = {"host": "rx_bytes is what the host's device received",
                 "domains": "rx_bytes is what the guest received (dom0's vif tx)"}


#: path -> the state of the helper thread still stuck in that repository's statvfs (not asked again
#: until it ends; it sets "ended" as it ends: Thread.isAlive is gone in 3.9).
_stuck = {}


def _bounded(key, fn, args, wait):
    """``fn(*args)`` in a helper thread -> ``(done, value, error)``; gives up after ``wait`` seconds. A call
    under ``key`` still stuck from an earlier reply is not started again (one thread per dead mount)."""
    old = _stuck.get(key)
    if old is not None:
        if "ended" not in old:
            return False, None, None
        del _stuck[key]
    box = {}

    def target():
        try:
            try:
                box["value"] = fn(*args)
            except Exception:
                box["error"] = sys.exc_info()[1]
        finally:
            box["ended"] = True

    worker = threading.Thread(target=target)
    worker.setDaemon(True)
    worker.start()
    worker.join(wait)
    if "value" in box:
        return True, box["value"], None
    if "error" in box:
        return True, None, box["error"]
    _stuck[key] = box
    return False, None, None


def _host_figures(host, errors):
    try:
        info = host.xen_physinfo()
    except Exception:
        e = sys.exc_info()[1]
        if ovm3_compat.is_fatal(e):
            raise
        errors.append("hypervisor: %s" % e)
        return {}
    out = {"cpus": str(int(info["cpus"])), "memory_total_bytes": str(int(info["total_bytes"])),
           "memory_free_bytes": str(int(info["free_bytes"]))}
    if info.get("idle_seconds") is not None:
        idle = float(info["idle_seconds"])
        out["cpu_idle_seconds"] = "%.3f" % idle
        try:
            busy = max(0.0, int(info["cpus"]) * host.uptime() - idle)
            out["cpu_busy_seconds"] = "%.3f" % busy
        except (IOError, OSError, ValueError):
            errors.append("uptime: %s" % sys.exc_info()[1])
    return out


def _network(host, errors):
    out = []
    try:
        names = host.net_devices()
    except (IOError, OSError):
        errors.append("network: %s" % sys.exc_info()[1])
        return out
    for name in names:
        counters = host.net_counters(name)
        if counters is None:
            continue
        item = {"device": name}
        for key in ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets"):
            item[key] = str(int(counters.get(key, 0)))
        out.append(item)
    return out


def _storage(host, errors):
    out = []
    try:
        names = host.listdir(REPOSITORY_ROOT)
    except (IOError, OSError):
        return out  # no repository here
    names.sort()
    for name in names:
        path = REPOSITORY_ROOT + "/" + name
        item = {"path": path, "state": "ok"}
        done, value, error = _bounded(path, host.fs_usage, (path,), FS_USAGE_WAIT)
        if not done:
            item["state"] = "unresponsive"
        elif error is not None:
            item["state"] = "error"
            item["reason"] = str(error)[:200]
        else:
            item["total_bytes"] = str(int(value[0]))
            item["free_bytes"] = str(int(value[1]))
        out.append(item)
    return out


def _heartbeat_state():
    """The local daemon's verdict on this host's own guid, from its record only (never probes)."""
    import ovm3_agent_health as health
    try:
        config = health._config()
    except base.ServiceError:
        return {"verdict": "NONE", "reason": "no heartbeat configured: %s" % sys.exc_info()[1]}
    if not config.get("guid"):
        return {"verdict": "NONE", "reason": "the heartbeat config names no guid"}
    try:
        result, why = health._heartbeat().recorded_verdict(config, config["guid"])
    except Exception:
        e = sys.exc_info()[1]
        if ovm3_compat.is_fatal(e):
            raise
        return {"verdict": "UNKNOWN", "reason": "cannot read the heartbeat record: %s" % e}
    if result is None:
        return {"verdict": "UNKNOWN", "reason": "no daemon record: %s" % why, "guid": config["guid"]}
    out = {}
    for key in ("verdict", "reason", "guid", "since_progress", "observed_by", "interval", "timeout"):
        if key in result:
            out[key] = result[key]
    return out


def _domain_counters(host, dom):
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
    return {
        "name": dom["name"], "uuid": dom.get("uuid", ""), "domid": str(dom["domid"]), "state": dom.get("state", ""),
        "cpu_seconds": "%.3f" % dom["cpu_time"], "vcpus": str(dom["online_vcpus"]),
        "memory_bytes": str(int(dom.get("memory", 0))),
        "rd_bytes": str(disk["rd_sect"] * SECTOR), "wr_bytes": str(disk["wr_sect"] * SECTOR),
        "rd_ops": str(disk["rd_req"]), "wr_ops": str(disk["wr_req"]),
        "rx_bytes": str(net_rx), "tx_bytes": str(net_tx),
    }


def get_host_stats():
    """One sweep of the host in one reply: hypervisor CPU and memory, network devices, repositories,
    the heartbeat state and every running domain (Domain-0 included), as raw monotonic counters with
    the sample's time. Never sleeps: rates are the manager's job (two samples, their ``monotonic``).

    A part that cannot be read leaves its figures out and says why in ``errors``; the call fails only
    when the domain list itself cannot be read.
    """
    host = base.host()
    errors = []
    reply = {
        "format": HOST_STATS_FORMAT,
        "module_version": base.MODULE_VERSION,
        "time": "%.3f" % host.now(),
        "monotonic": "%.3f" % host.monotonic(),
        "net_direction": dict(NET_DIRECTION),
    }
    reply["host"] = _host_figures(host, errors)
    reply["network"] = _network(host, errors)
    reply["storage"] = _storage(host, errors)
    reply["heartbeat"] = _heartbeat_state()
    reply["domains"] = [_domain_counters(host, dom) for dom in host.list_domains()]
    reply["errors"] = errors
    return reply


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
    counters = _domain_counters(host, dom)
    uptime = 0.0
    if dom["start_time"]:
        uptime = max(0.0, host.now() - dom["start_time"])
    out = {"cputime": counters["cpu_seconds"], "uptime": "%.3f" % uptime, "vcpus": counters["vcpus"]}
    for key in ("rd_bytes", "wr_bytes", "rd_ops", "wr_ops", "rx_bytes", "tx_bytes"):
        out[key] = counters[key]
    return out


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
    "get_host_stats": get_host_stats,
}
