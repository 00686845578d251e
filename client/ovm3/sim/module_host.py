"""Hosting the project's agent module the way ovs-agent does.

ovs-agent imports ``agent/target/api.py``, takes its ``MODULES`` list and registers what
``get_services(version)`` of each class returns. The simulator writes such a file into the sandbox
(``<root>/agent/target/api.py`` listing ``ovm3_agent.OVM3Agent``), loads it the same way, and serves
the services next to its own handlers. The module code runs unchanged: every host access goes through
its HostIO seam, here :class:`SimHostIO`, backed by the simulated host's state and sandbox.

The module keeps one HostIO per process; :class:`HostRouter` is that one, and forwards each call to
the simulated host whose request is being served (a thread-local set around every service call).
"""

import errno
import importlib.util
import itertools
import os
import sys
import threading
import time

from ovm3.sim.state import AgentError

API_PY = """# Written by the ovm3 simulator: the MODULES list ovs-agent reads. Oracle's modules are stand-ins
# generated from the API table (their calls are served by the simulator's handlers), then ours.
from ovm3.sim.oracle_modules import classes_for
from ovm3_agent import OVM3Agent

MODULES = classes_for(%(personality)r) + [OVM3Agent]
"""
_lock = threading.Lock()
_loaded = {}
_names = itertools.count(1)


def _source_dirs():
    """The folders dom0 would have on the agent's path: our module, the shared helpers, the heartbeat."""
    from ovm3 import hostfiles

    return [hostfiles.path(folder) for folder in ("agent_module", "hostlib", "fencing")]


class HostRouter:
    """The process-wide HostIO given to the module; forwards to the host being served."""

    def __init__(self):
        self._local = threading.local()

    def serving(self, hostio):
        router = self

        class _Scope:
            def __enter__(self):
                router._local.current = hostio

            def __exit__(self, *exc):
                router._local.current = None

        return _Scope()

    def __getattr__(self, name):
        current = getattr(self._local, "current", None)
        if current is None:
            raise RuntimeError("agent module used outside a simulated call")
        return getattr(current, name)


def load_modules(world_root, personality):
    """Write the fake ``agent/target/api.py`` under ``world_root`` and load its MODULES (once per root)."""
    dirs = _source_dirs()
    with _lock:
        key = (world_root, personality)
        if key in _loaded:
            return _loaded[key]
        for d in reversed(dirs):
            if d not in sys.path:
                sys.path.insert(0, d)
        target = os.path.join(world_root, "agent", "target")
        os.makedirs(target, exist_ok=True)
        for pkg in (os.path.join(world_root, "agent"), target):
            open(os.path.join(pkg, "__init__.py"), "a").close()
        api_py = os.path.join(target, "api.py")
        with open(api_py, "w", encoding="utf-8") as f:
            f.write(API_PY % {"personality": personality})
        spec = importlib.util.spec_from_file_location("ovm3_sim_agent_api_%d" % next(_names), api_py)
        api = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(api)
        import ovm3_agent

        router = getattr(ovm3_agent, "_ovm3_sim_router", None)
        if router is None:
            router = ovm3_agent._ovm3_sim_router = HostRouter()
            ovm3_agent.set_host(router)
        ovm3_agent.set_agent_modules(list(api.MODULES))
        _loaded[key] = (list(api.MODULES), router)
        return _loaded[key]


def _fault_string(e):
    cls = type(e)
    module = cls.__module__
    if module == "builtins":
        module = "exceptions"
    return "%s.%s:%s" % (module, cls.__name__, e)


def attach(sim_host):
    """Load the agent module for ``sim_host`` and register its services; returns its HostIO."""
    from ovm3.api import normalise_version

    modules, router = load_modules(sim_host.world.root,
                                   normalise_version(sim_host.state.personality.agent_version))
    import ovm3_agent

    state = sim_host.state
    hostio = SimHostIO(state)
    release = os.path.join(state.root, "etc", "ovs-release")
    if not os.path.exists(release):
        with open(release, "w", encoding="utf-8") as f:
            f.write("Oracle VM server release %s\n" % state.personality.ovm_version.split("-")[0])
    services = {}
    for cls in modules:
        if getattr(cls, "__module__", "").startswith("ovm3_agent"):
            services.update(cls().get_services(state.personality.agent_version))

    def wrap(name, fn):
        def call(*args):
            # The module holds one HostIO per process and tests may install their own fakes between
            # simulator calls: re-install the router on every call so the module never falls back to
            # the real host (RealHost would run real `ip`, `ping`... on this machine).
            ovm3_agent.set_host(router)
            hostio.begin_call()
            with router.serving(hostio):
                try:
                    return fn(*args)
                except AgentError:
                    raise
                except Exception as e:  # noqa: BLE001 - ovs-agent turns any exception into a fault
                    err = AgentError("")
                    err.fault_string = _fault_string(e)
                    raise err from None

        call.__name__ = name
        return call

    sim_host.dispatcher.services = {name: wrap(name, fn) for name, fn in services.items()}
    return hostio


class SimHostIO:
    """The agent module's view of one simulated host (see ``agent_module/ovm3_hostio.py``)."""

    def __init__(self, state):
        self.h = state
        self.routes = []
        self._clock = threading.local()

    def begin_call(self):
        """Reset this thread's simulated clock to real time (called before every service call)."""
        self._clock.skew = 0.0

    def _now(self):
        return time.time() + getattr(self._clock, "skew", 0.0)

    # ---- commands ---------------------------------------------------------------------------
    def run(self, argv, timeout, stdin_data=None):
        prog = os.path.basename(argv[0]) if argv else ""
        handler = getattr(self, "_cmd_" + prog.replace("-", "_").replace(".", "_"), None)
        if handler is None:
            if prog.endswith("python") or prog.startswith("python"):
                return self._heartbeat_daemon(argv)
            raise OSError(errno.ENOENT, "No such file or directory: %r" % argv[0])
        return handler(list(argv[1:]), stdin_data)

    def _heartbeat_daemon(self, argv):
        """``status``/``start`` of the daemon go to the host's :class:`ovm3.sim.heartbeat.Heartbeat`
        (a child process the test owns), never to a real daemonising start; none provisioned: rc 1."""
        hb = getattr(self.h, "heartbeat_daemon", None)
        action = argv[-1] if argv else ""
        if hb is None or action not in ("status", "start"):
            return 1, "", "the heartbeat daemon does not run inside the simulator\n"
        if action == "start" and not hb.running():
            sim = getattr(self.h, "sim", None)
            if sim is not None and sim.faults.take_host_rule("stop_heartbeat"):
                return 1, "", "ovm3-heartbeat: not started (injected stop_heartbeat fault)\n"
            hb.start()
        return (0, "running\n", "") if hb.running() else (3, "", "not running\n")

    def _cmd_ping(self, args, stdin):
        target = args[-1] if args else ""
        with self.h.lock:
            known = self.h.world.host_by_name_or_ip(target)
            up = (known is not None and not known.down) or target.startswith("127.") or target in self.h.vips
            up = up or any(target == b.get("address") for b in self.h.bridges.values())
            if not up:
                for other in self.h.world.hosts.values():
                    if target in other.vips and not other.down:
                        up = True
        if up:
            return 0, "1 packets transmitted, 1 received, 0% packet loss\n", ""
        return 1, "1 packets transmitted, 0 received, 100% packet loss\n", ""

    def _cmd_ip(self, args, stdin):
        words = [a for a in args if a not in ("-o", "-4")]
        if words[:2] == ["addr", "show"]:
            lines = [
                "%d: %s    inet %s brd +" % (i + 1, dev, cidr)
                for i, (dev, cidr) in enumerate(self._addresses())
            ]
            return 0, "\n".join(lines) + "\n", ""
        if words[:2] == ["route", "show"]:
            return 0, "".join("%s dev %s\n" % r for r in self.ipv4_routes()), ""
        if words[:2] in (["route", "add"], ["route", "del"]) and "dev" in words:
            route = (words[2], words[words.index("dev") + 1])
            if words[1] == "add":
                if route in self.routes:
                    return 2, "", "RTNETLINK answers: File exists\n"
                self.routes.append(route)
            elif route in self.routes:
                self.routes.remove(route)
            else:
                return 2, "", "RTNETLINK answers: No such process\n"
            return 0, "", ""
        if words[:2] == ["link", "set"]:
            return 0, "", ""
        return 1, "", "simulated ip: unsupported arguments %s\n" % " ".join(args)

    def _cmd_ssh(self, args, stdin):
        return 255, "", "ssh: connect to host %s port 3922: Connection refused\n" % args[-2:-1]

    _cmd_scp = _cmd_ssh

    def _cmd_xm(self, args, stdin):
        total, free = self.xen_memory()
        return 0, "total_memory           : %d\nfree_memory            : %d\n" % (total, free), ""

    # ---- files ------------------------------------------------------------------------------
    def local_path(self, path):
        try:
            return self.h.path(path)
        except AgentError as e:
            raise OSError(errno.EACCES, str(e)) from None

    def mount_path(self, path):
        # The sandbox path of the mount point itself (its symlink), as the simulated heartbeat's MOUNTS say.
        return os.path.join(self.h.root, os.path.normpath(path).lstrip("/"))

    def read_file(self, path, limit=1024 * 1024):
        with open(self.local_path(path), encoding="utf-8", errors="replace") as f:
            return f.read(limit)

    def write_file_atomic(self, path, data, mode):
        local = self.local_path(path)
        tmp = local + ".tmp%d" % os.getpid()
        with open(tmp, "w" if isinstance(data, str) else "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, local)

    def listdir(self, path):
        return os.listdir(self.local_path(path))

    def exists(self, path):
        return os.path.exists(self.local_path(path))

    def isfile(self, path):
        return os.path.isfile(self.local_path(path))

    def isdir(self, path):
        return os.path.isdir(self.local_path(path))

    def realpath(self, path):
        try:
            real = self.h.path(path)
        except AgentError:
            return None
        root = self.h.root
        if real == root:
            return "/"
        if real.startswith(root + os.sep):
            return real[len(root) :]
        # Inside a mount: give the host path through the mount point that leads there.
        for mp in self.h.mounts:
            target = os.path.realpath(os.path.join(root, mp.lstrip("/")))
            if real == target or real.startswith(target + os.sep):
                return mp + real[len(target) :]
        return None

    def makedirs(self, path, mode):
        local = self.local_path(path)
        os.makedirs(local, mode=mode, exist_ok=True)
        os.chmod(local, mode)

    def remove(self, path):
        os.unlink(self.local_path(path))

    # ---- network ----------------------------------------------------------------------------
    def _addresses(self):
        out = []
        for name, br in self.h.bridges.items():
            if br.get("address"):
                bits = sum(bin(int(o)).count("1") for o in br["netmask"].split("."))
                out.append((name, "%s/%d" % (br["address"], bits)))
        for vip in self.h.vips:
            out.append(("xenbr0", "%s/24" % vip))
        return out

    def tcp_connect(self, ip, port, timeout):
        # A host answers on its registered IP and on a pool virtual IP it holds (as ping sees them).
        with self.h.lock:
            other = self.h.world.host_by_name_or_ip(ip)
            if other is None:
                other = next((h for h in self.h.world.hosts.values() if ip in h.vips and not h.down), None)
            return other is not None and not other.down and port in (22, 8899, 8002)

    def ipv4_addresses(self):
        return self._addresses()

    def ipv4_routes(self):
        out = []
        for dev, cidr in self._addresses():
            addr, bits = cidr.split("/")
            if int(bits) < 32:
                import ipaddress

                out.append((str(ipaddress.ip_network(cidr, strict=False)), dev))
        return out + list(self.routes) + [("default", "xenbr0")]

    def net_counters(self, dev):
        if dev not in self.h.bridges and dev not in self.h.nics and dev not in self.h.bonds:
            return None
        rx = tx = 0
        now = self._now()
        for d in self.h.domains.values():
            c = d.counters(now)
            rx += c["rx_bytes"]
            tx += c["tx_bytes"]
        up = max(0.0, now - self.h.boot_time)
        rx += int(up * 2000)
        tx += int(up * 1000)
        return {"rx_bytes": rx, "tx_bytes": tx, "rx_packets": rx // 1000, "tx_packets": tx // 1000}

    # ---- hypervisor -------------------------------------------------------------------------
    def _domain(self, d):
        vfb = ["0.0.0.0:%d" % d.vnc_port] if d.config.get("vfb") else [None]
        return {
            "name": d.name,
            "uuid": d.vm_id,
            "domid": d.domid,
            "vfb_location": vfb[0],
            "vbd": [51712 + 16 * i for i in range(len(d.config.get("disk", [])))],
            "vif": list(range(len(d.config.get("vif", [])))),
            "cpu_time": d.cpu_time(self._now()),
            "start_time": d.start_time,
            "online_vcpus": d.vcpus,
            "memory": d.memory * 1048576,
            "state": d.state_flags(),
        }

    def xend_domain(self, name):
        with self.h.lock:
            for d in self.h.domains.values():
                if d.name == name:
                    return self._domain(d)
        if name == "Domain-0":
            return self.list_domains()[0]
        return None

    def list_domains(self):
        with self.h.lock:
            dom0 = {
                "name": "Domain-0",
                "uuid": "00000000-0000-0000-0000-000000000000",
                "domid": 0,
                "vfb_location": None,
                "vbd": [],
                "vif": [],
                "cpu_time": max(0.0, self._now() - self.h.boot_time) * 0.05,
                "start_time": float(self.h.boot_time),
                "online_vcpus": self.h.cpus,
                "memory": self.h.dom0_mb * 1048576,
                "state": "r-----",
            }
            return [dom0] + [self._domain(d) for d in sorted(self.h.domains.values(), key=lambda d: d.domid)]

    def xen_memory(self):
        with self.h.lock:
            return self.h.memory_mb, max(0, self.h.free_mb())

    def uptime(self):
        return max(0.0, self._now() - self.h.boot_time)

    def xen_physinfo(self):
        # Each physical CPU is busy with what the domains use (dom0 included); the rest is idle time.
        now = self._now()
        with self.h.lock:
            busy = sum(d["cpu_time"] for d in self.list_domains())
            total, free = self.xen_memory()
            cpus = self.h.cpus
        idle = max(0.0, cpus * max(0.0, now - self.h.boot_time) - busy)
        return {"cpus": cpus, "idle_seconds": idle, "total_bytes": total * 1048576, "free_bytes": free * 1048576}

    def net_devices(self):
        with self.h.lock:
            return sorted(set(self.h.bridges) | set(self.h.nics) | set(self.h.bonds))

    def fs_usage(self, path):
        st = os.statvfs(self.local_path(path))
        return st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize

    def read_proc_stat(self):
        now = self._now()
        up = max(0.0, now - self.h.boot_time)
        busy = sum(d.cpu_time(now) for d in self.h.domains.values()) * 100 + up * 5
        total = up * 100 * self.h.cpus
        user = int(busy * 0.7)
        system = int(busy * 0.3)
        idle = max(0, int(total - busy))
        return [user, 0, system, idle, 0, 0, 0, 0]

    def _dom_by_id(self, domid):
        for d in self.h.domains.values():
            if d.domid == domid:
                return d
        return None

    def vbd_stats(self, domid, devid):
        d = self._dom_by_id(domid)
        if d is None:
            return None
        c = d.counters(self._now())
        return {
            "rd_sect": c["rd_bytes"] // 512,
            "wr_sect": c["wr_bytes"] // 512,
            "rd_req": c["rd_ops"],
            "wr_req": c["wr_ops"],
        }

    def vif_stats(self, domid, devid):
        d = self._dom_by_id(domid)
        if d is None:
            return None
        c = d.counters(self._now())
        # dom0 counts the backend side: what the guest sends dom0 receives.
        return {"rx_bytes": c["tx_bytes"], "tx_bytes": c["rx_bytes"]}

    # ---- time -------------------------------------------------------------------------------
    # The module's sleeps (the CPU sample of ovs_dom0_stats) move this call's simulated clock instead of
    # waiting: every figure above is computed from the clock, so the sample sees the time pass, and a
    # fleet of 200 hosts answers without 200 real sleeps.
    def now(self):
        return self._now()

    def monotonic(self):
        return time.monotonic() + getattr(self._clock, "skew", 0.0)

    def sleep(self, seconds):
        self._clock.skew = getattr(self._clock, "skew", 0.0) + max(0.0, float(seconds))
