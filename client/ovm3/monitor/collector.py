"""The exporter's ``prometheus_client`` custom collector: one sweep of every host per scrape.

Each scrape samples every target in a bounded thread pool; each host has ``deadline`` seconds (its
client's whole-call deadline, no retries), and the scrape waits at most that long for all of them, so
one dead host never delays the others beyond it: a host not done by then is ``ovm3_host_up 0`` with
``ovm3_scrape_errors_total`` counting it. A host still busy from an earlier scrape is not asked again
until it ends (it keeps at most one worker; the pool stays free for the others).
"""

import concurrent.futures
import dataclasses
import logging
import threading
import time
from typing import Callable, List, Optional

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ovm3.errors import OVM3Error
from ovm3.monitor.sweep import PER_VM, HostSweeper

log = logging.getLogger(__name__)

DEFAULT_DEADLINE = 10.0
DEFAULT_WORKERS = 16
HEARTBEAT_VERDICTS = ("ALIVE", "DEAD", "UNKNOWN", "NONE")


@dataclasses.dataclass
class Target:
    """One host to sweep: its label and how to make its client (called once, kept)."""

    name: str
    make_client: Callable = dataclasses.field(repr=False)
    client: object = dataclasses.field(default=None, repr=False)


@dataclasses.dataclass
class HostResult:
    """What one scrape learned about one host."""

    name: str
    up: bool
    duration: float
    stats: object = None
    version: str = ""
    error: str = ""


class FleetCollector:
    """Collects every target per scrape (``registry.register(FleetCollector(...))``)."""

    def __init__(self, targets: List[Target], deadline=DEFAULT_DEADLINE, workers=DEFAULT_WORKERS,
                 sweeper: Optional[HostSweeper] = None, module_version: Optional[str] = None):
        names = [t.name for t in targets]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ValueError("two targets share a name: %s" % ", ".join(twice))
        self.targets = list(targets)
        self.deadline = float(deadline)
        self.sweeper = sweeper or HostSweeper()
        self.module_version = module_version
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, int(workers)),
                                                           thread_name_prefix="ovm3-exporter")
        self._lock = threading.Lock()
        self._busy = {}
        self._errors = {t.name: 0 for t in self.targets}
        self.last = {}
        self._last_time = 0.0

    def close(self):
        self._pool.shutdown(wait=False)

    # ---- one host ------------------------------------------------------------------------------
    def _client(self, target):
        if target.client is None:
            target.client = target.make_client()
        # A fresh whole-call budget per sample (the client's total_timeout mechanism), no retries.
        target.client.ends = time.monotonic() + self.deadline
        target.client.retries = 0
        return target.client

    def _sample(self, target):
        started = time.monotonic()
        try:
            client = self._client(target)
            stats = self.sweeper.sample(client)
            version = client.version if client.version_known else ""
            return HostResult(target.name, True, time.monotonic() - started, stats, version=version)
        except OVM3Error as e:
            return HostResult(target.name, False, time.monotonic() - started, error=str(e))
        except Exception as e:  # noqa: BLE001 - one host's surprise is that host's error, not the scrape's
            log.warning("%s: unexpected error while sampling", target.name, exc_info=True)
            return HostResult(target.name, False, time.monotonic() - started, error=repr(e))

    def sample_all(self):
        """``{name: HostResult}`` for every target, within ``deadline`` seconds."""
        started = time.monotonic()
        futures = {}
        with self._lock:
            for target in self.targets:
                fut = self._busy.get(target.name)
                if fut is None or fut.done():
                    fut = self._pool.submit(self._sample, target)
                    self._busy[target.name] = fut
                    futures[target.name] = fut
        concurrent.futures.wait(list(futures.values()), timeout=self.deadline)
        results = {}
        for target in self.targets:
            fut = futures.get(target.name)
            if fut is not None and fut.done():
                results[target.name] = fut.result()
            else:
                why = ("no answer within the %.1fs deadline" % self.deadline if fut is not None
                       else "still busy with an earlier scrape")
                results[target.name] = HostResult(target.name, False, time.monotonic() - started, error=why)
        with self._lock:
            for name, result in results.items():
                if not result.up:
                    self._errors[name] += 1
                    log.info("%s: down for this scrape: %s", name, result.error)
        with self._lock:
            self.last, self._last_time = results, time.monotonic()
        return results

    def recent(self, max_age):
        """The last scrape's results when younger than ``max_age`` seconds, else a fresh sample."""
        with self._lock:
            last, when = self.last, self._last_time
        if last and time.monotonic() - when <= max_age:
            return last
        return self.sample_all()

    # ---- prometheus_client's collector protocol ----------------------------------------------
    def describe(self):
        return []  # gathered per scrape: nothing to describe up front

    def collect(self):
        results = self.sample_all()
        return families(results, dict(self._errors), self.module_version)


def _g(name, doc, labels, unit=""):
    return GaugeMetricFamily(name, doc, labels=labels, unit=unit)


def _c(name, doc, labels, unit=""):
    return CounterMetricFamily(name, doc, labels=labels, unit=unit)


def families(results, error_counts, module_version=None):
    """The metric families of one scrape (see README's metric table)."""
    h = ["host"]
    up = _g("ovm3_host_up", "1 when the host answered this scrape within its deadline", h)
    info = _g("ovm3_host_info", "Host facts as labels (value 1)", h + ["version", "module_version", "stats_source"])
    duration = _g("ovm3_scrape_duration_seconds", "Seconds this scrape spent on the host", h)
    errors_ = _c("ovm3_scrape_errors", "Scrapes in which the host did not answer", h)
    module_current = _g("ovm3_agent_module_current", "1 when the host's agent module is this ovm3's version", h)
    cpus = _g("ovm3_host_cpus", "Physical CPUs of the hypervisor", h)
    cpu = _c("ovm3_host_cpu_seconds", "Physical CPU time of the hypervisor by mode (busy: used by any domain)",
             h + ["mode"])
    mem_total = _g("ovm3_host_memory_bytes", "Hypervisor memory", h)
    mem_free = _g("ovm3_host_memory_free_bytes", "Hypervisor memory not given to any domain", h)
    net_rx = _c("ovm3_host_network_receive_bytes", "Bytes the host's device received", h + ["device"])
    net_tx = _c("ovm3_host_network_transmit_bytes", "Bytes the host's device sent", h + ["device"])
    repo_size = _g("ovm3_repository_size_bytes", "Capacity of the repository's filesystem", h + ["path"])
    repo_used = _g("ovm3_repository_used_bytes", "Used bytes of the repository's filesystem", h + ["path"])
    repo_up = _g("ovm3_repository_up", "1 when the repository's filesystem answered statvfs in time", h + ["path"])
    hb_state = _g("ovm3_host_heartbeat_state", "1 for the host's own heartbeat verdict", h + ["verdict"])
    hb_age = _g("ovm3_host_heartbeat_age_seconds", "Seconds since the host's heartbeat last made progress", h)
    v = h + ["name", "uuid"]
    vm_cpu = _c("ovm3_vm_cpu_seconds", "CPU time the domain used, all vCPUs", v)
    vm_mem = _g("ovm3_vm_memory_bytes", "Memory the domain holds", v)
    vm_vcpus = _g("ovm3_vm_vcpus", "Online vCPUs of the domain", v)
    vm_rd = _c("ovm3_vm_disk_read_bytes", "Bytes the domain read from its disks", v)
    vm_wr = _c("ovm3_vm_disk_written_bytes", "Bytes the domain wrote to its disks", v)
    vm_rd_ops = _c("ovm3_vm_disk_reads", "Read requests of the domain's disks", v)
    vm_wr_ops = _c("ovm3_vm_disk_writes", "Write requests of the domain's disks", v)
    vm_rx = _c("ovm3_vm_network_receive_bytes", "Bytes the domain received (guest's side)", v)
    vm_tx = _c("ovm3_vm_network_transmit_bytes", "Bytes the domain sent (guest's side)", v)
    vm_state = _g("ovm3_vm_state", "1 for the domain's state (running, paused, blocked, other)", v + ["state"])

    def add(family, labels, value):
        if value is not None:
            family.add_metric(labels, float(value))

    for name in sorted(results):
        r = results[name]
        up.add_metric([name], 1.0 if r.up else 0.0)
        duration.add_metric([name], r.duration)
        errors_.add_metric([name], float(error_counts.get(name, 0)))
        s = r.stats
        if not r.up or s is None:
            continue
        info.add_metric([name, r.version, s.module_version, s.source], 1.0)
        if module_version and s.module_version:
            module_current.add_metric([name], 1.0 if s.module_version == module_version else 0.0)
        add(cpus, [name], s.cpus)
        add(cpu, [name, "idle"], s.cpu_idle_seconds)
        add(cpu, [name, "busy"], s.cpu_busy_seconds)
        add(mem_total, [name], s.memory_total_bytes)
        add(mem_free, [name], s.memory_free_bytes)
        for dev in s.network:
            add(net_rx, [name, dev.device], dev.rx_bytes)
            add(net_tx, [name, dev.device], dev.tx_bytes)
        for repo in s.storage:
            repo_up.add_metric([name, repo.path], 1.0 if repo.state == "ok" else 0.0)
            add(repo_size, [name, repo.path], repo.total_bytes)
            add(repo_used, [name, repo.path], repo.used_bytes)
        if s.heartbeat is not None:
            for verdict in HEARTBEAT_VERDICTS:
                hb_state.add_metric([name, verdict], 1.0 if s.heartbeat.verdict == verdict else 0.0)
            add(hb_age, [name], s.heartbeat.since_progress)
        for dom in s.domains:
            labels = [name, dom.name, dom.uuid]
            add(vm_cpu, labels, dom.cpu_seconds)
            add(vm_mem, labels, dom.memory_bytes)
            add(vm_vcpus, labels, dom.vcpus)
            add(vm_rd, labels, dom.rd_bytes)
            add(vm_wr, labels, dom.wr_bytes)
            add(vm_rd_ops, labels, dom.rd_ops)
            add(vm_wr_ops, labels, dom.wr_ops)
            add(vm_rx, labels, dom.rx_bytes)
            add(vm_tx, labels, dom.tx_bytes)
            vm_state.add_metric(labels + [domain_state(dom.state)], 1.0)
    return [up, info, duration, errors_, module_current, cpus, cpu, mem_total, mem_free, net_rx, net_tx,
            repo_size, repo_used, repo_up, hb_state, hb_age, vm_cpu, vm_mem, vm_vcpus, vm_rd, vm_wr,
            vm_rd_ops, vm_wr_ops, vm_rx, vm_tx, vm_state]


def domain_state(flags):
    """xend's state flags (``r-----``, ``-b----``, ``--p---``) -> one word."""
    flags = flags or ""
    if "p" in flags:
        return "paused"
    if "r" in flags:
        return "running"
    if "b" in flags:
        return "blocked"
    return "other"


__all__ = ["FleetCollector", "Target", "HostResult", "families", "domain_state", "PER_VM"]
