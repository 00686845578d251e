"""Part 3b, fleet sweep by call shape: one ``get_host_stats`` per host beside the per-VM sweep.

One simulator process (fleet mode, plain HTTP, 10 running VMs per host) serves N hosts; the same fleet
is swept three ways with the same bounded thread pool, in interleaved rounds (the order rotating), each
sweep timed (wall, this process's CPU, the simulator's CPU); each row is the median sweep:

* ``one-call``: the ovm3 client, ``get_host_stats`` per host, typed (:class:`ovm3.parse.hoststats.HostStats`);
* ``per-vm``: the ovm3 client, ``ovs_dom0_stats`` then ``ovs_domU_stats`` per VM, typed (part 3's sweep);
* ``xmlrpc.client per-vm``: a plain ``xmlrpc.client.ServerProxy`` per host making the per-VM calls, no
  parsing beyond the stdlib's.

On a real dom0 each agent call is also a round trip through the agent's Python, and ``ovs_dom0_stats``
sleeps for its CPU sample (0.5 s by default); the simulator's agent module does not sleep (its clock
moves instead), so these rows understate what the one-call sweep saves on real hosts.
"""
import statistics
import time
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

from bench.fleet import VMS_PER_HOST, WORKERS, poll_host
from bench.simproc import SimProcess

SIZES = (10, 50)
COLUMNS = [["mode", "sweep", ""], ["hosts", "hosts", "%d"], ["calls", "calls/sweep", "%d"],
           ["wall_s", "wall s/sweep", "%.3f"], ["client_cpu_s", "client CPU s", "%.3f"],
           ["sim_cpu_s", "simulator CPU s", "%.3f"], ["ms_per_host", "wall ms/host", "%.2f"]]


def _one_call(client, vms):
    stats = client.ovm3.get_host_stats()
    if len(stats.domains) != len(vms) + 1:  # Domain-0 and every VM
        raise RuntimeError("incomplete get_host_stats from %s" % client.host)
    return 1


def _plain(proxy, vms):
    proxy.ovs_dom0_stats("xenbr0")
    for vm in vms:
        proxy.ovs_domU_stats(vm)
    return len(vms) + 1


def _proxy(sim, i):
    url = sim.hosts[i]["url"].replace("http://", "http://%s:%s@" % (sim.user, sim.password))
    return xmlrpc.client.ServerProxy(url)


def measure(n, rounds):
    with ExitStack() as stack:
        sim = stack.enter_context(SimProcess(count=n, fleet=True, vms_per_host=VMS_PER_HOST, stats=True))
        clients = [sim.client(i, pool_size=1) for i in range(n)]
        for c in clients:
            stack.callback(c.close)
        vms = [h["vms"] for h in sim.hosts]
        proxies = [_proxy(sim, i) for i in range(n)]
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=min(n, WORKERS)))
        modes = {
            "one-call": lambda: sum(pool.map(lambda i: _one_call(clients[i], vms[i]), range(n))),
            "per-vm": lambda: sum(pool.map(lambda i: poll_host(clients[i], vms[i]), range(n))),
            "xmlrpc.client per-vm": lambda: sum(pool.map(lambda i: _plain(proxies[i], vms[i]), range(n))),
        }
        runs = {m: [] for m in modes}
        for sweep in modes.values():
            sweep()  # warm-up
        names = list(modes)
        for r in range(rounds):
            for m in names[r % 3:] + names[:r % 3]:
                sim0, cpu0, wall0 = sim.cpu(), time.process_time(), time.perf_counter()
                calls = modes[m]()
                runs[m].append((time.perf_counter() - wall0, time.process_time() - cpu0, sim.cpu() - sim0, calls))
        rows = []
        for m in names:
            wall, cpu, srv, calls = sorted(runs[m])[len(runs[m]) // 2]
            rows.append({"mode": m, "hosts": n, "calls": calls, "wall_s": wall, "client_cpu_s": cpu,
                         "sim_cpu_s": srv, "ms_per_host": wall * 1e3 / n,
                         "wall_median_s": statistics.median(r[0] for r in runs[m])})
        return rows


def run(quick=False):
    sizes = (10,) if quick else SIZES
    rounds = 3 if quick else 9
    rows = [row for n in sizes for row in measure(n, rounds)]
    return {
        "key": "fleet_sweep",
        "title": "4b. Fleet sweep: one get_host_stats per host vs per-VM calls",
        "status": "measured",
        "method": __doc__.split("\n", 1)[1].strip(),
        "settings": {"rounds": rounds, "vms_per_host": VMS_PER_HOST, "workers_max": WORKERS, "scheme": "http"},
        "columns": COLUMNS,
        "rows": rows,
        "targets": [],
        "notes": ["No target: the rows compare call shapes on the same fleet, machine and load."],
    }
