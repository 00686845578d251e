"""One sample of a host: the agent module's ``get_host_stats`` in one call, else the per-VM calls.

A host whose module lacks the one-call service (not upgraded yet) is swept the old way: ``list_vms``,
``ovs_dom0_stats`` for the bridge, then ``ovs_domU_stats`` per running VM (1 + 1 + N calls, and the
agent's ``ovs_dom0_stats`` sleeps for its CPU sample). The sweeper says so once per host, then keeps
using the fallback for that host without asking again.
"""

import logging
import threading
import time

from ovm3 import errors
from ovm3.parse.hoststats import DomainStats, HostStats, NetDevice

log = logging.getLogger(__name__)

ONE_CALL = "one-call"
PER_VM = "per-vm"


class HostSweeper:
    """Samples hosts; remembers which hosts need the per-VM fallback (thread-safe)."""

    def __init__(self, bridge="xenbr0"):
        self.bridge = bridge
        self._fallback = set()
        self._lock = threading.Lock()

    def uses_fallback(self, host):
        with self._lock:
            return host in self._fallback

    def sample(self, client):
        """A :class:`HostStats` of the host ``client`` talks to; typed errors pass through."""
        host = client.host
        if not self.uses_fallback(host):
            try:
                return client.ovm3.get_host_stats()
            except errors.UnknownMethodFault:
                with self._lock:
                    first = host not in self._fallback
                    self._fallback.add(host)
                if first:
                    log.warning("%s: the agent module has no get_host_stats (not upgraded?): sweeping it "
                                "with the per-VM calls (1 + N calls per sample); upgrade the module with "
                                "ovm3 deploy", host)
        return per_vm_sample(client, self.bridge)


def per_vm_sample(client, bridge="xenbr0"):
    """The fallback sweep: ``list_vms``, ``ovs_dom0_stats(bridge)``, ``ovs_domU_stats`` per VM."""
    out = HostStats(time=time.time(), monotonic=time.monotonic(), source=PER_VM)
    vms = client.xen.list_vms()
    dom0 = client.cloudstack.ovs_dom0_stats(bridge)
    out.memory_total_bytes, out.memory_free_bytes = dom0.total, dom0.free
    # ovs_dom0_stats counts the bridge from the host's side, as get_host_stats does.
    out.network.append(NetDevice(bridge, rx_bytes=dom0.rx, tx_bytes=dom0.tx))
    for vm in vms:
        dom = DomainStats(vm.name, vm.domid if vm.domid is not None else -1, uuid=vm.uuid, state=vm.state,
                          cpu_seconds=vm.cpu_time, vcpus=vm.online_vcpus or vm.vcpus,
                          memory_bytes=vm.memory * 1048576 if vm.memory is not None else None)
        if not vm.is_control_domain:
            try:
                s = client.cloudstack.ovs_dom_u_stats(vm.name)
            except errors.NoSuchVMFault:
                continue  # stopped between the two calls
            dom.cpu_seconds = s.cputime
            dom.vcpus = s.vcpus or dom.vcpus
            for key in ("rd_bytes", "wr_bytes", "rd_ops", "wr_ops", "rx_bytes", "tx_bytes"):
                setattr(dom, key, getattr(s, key))
        out.domains.append(dom)
    return out
