"""Stand-in ``ovs_dom0_stats``/``ovs_domU_stats`` services for simulated hosts without the agent module.

Used only when the simulator has no agent module attached to a host (fleet mode, or a simulator that
does not host the module yet). Replies have the agent module's shape: a struct of strings, built from
the simulated host's state, so the client and parser do exactly the work they do against a real host.
"""
import time

MIB = 1048576


def install(sim_host):
    """Register the two services on ``sim_host`` unless it already serves them; return True if added."""
    services = sim_host.dispatcher.services
    if "ovs_dom0_stats" in services and "ovs_domU_stats" in services:
        return False
    state = sim_host.state

    def ovs_dom0_stats(bridge):
        if bridge not in state.bridges:
            raise ValueError("ovs_dom0_stats: no network device %s on this host" % bridge)
        with state.lock:
            busy = sum(d.cpu_time() for d in state.domains.values())
            free = max(0, state.free_mb())
        return {"cpu": "%.2f" % (busy % 100.0), "total": str(state.memory_mb * MIB), "free": str(free * MIB),
                "rx": str(int(busy * 125000)), "tx": str(int(busy * 62500))}

    def ovs_domU_stats(domain):
        with state.lock:
            dom = next((d for d in state.domains.values() if d.name == domain), None)
            if dom is None:
                raise ValueError("domain %s not found on this host" % domain)
            now = time.time()
            counters = dom.counters(now)
            cpu = dom.cpu_time(now)
            uptime = max(0.0, now - dom.start_time)
        reply = {k: str(v) for k, v in counters.items()}
        reply.update(cputime="%.3f" % cpu, uptime="%.3f" % uptime, vcpus=str(dom.vcpus))
        return reply

    services["ovs_dom0_stats"] = ovs_dom0_stats
    services["ovs_domU_stats"] = ovs_domU_stats
    return True
