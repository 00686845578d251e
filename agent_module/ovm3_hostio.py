"""The one seam between the agent module and the host it runs on.

Every service of the module reaches dom0 only through a :class:`HostIO`: files, commands, sockets,
xend's view of the domains and the kernel's counters. :class:`RealHost` is dom0 (every path below
``root``, so tests can lay out a fake ``/proc``, ``/sys`` and ``/etc`` in a temp dir); the simulated
agent installs its own implementation with ``ovm3_agent.set_host(hostio)``.

Paths handed to a HostIO are always host paths (``/OVS/Repositories/x``), never root-prefixed.
Numbers are plain Python ints (the services turn big ones into strings for XML-RPC).

A domain, as :meth:`HostIO.xend_domain` and :meth:`HostIO.list_domains` describe it, is a dict::

    {"name": "i-2-7-VM", "domid": 7, "uuid": "0004fb00...", "vfb_location": "0.0.0.0:5901" or None,
     "vbd": [51712, 51728], "vif": [0, 1],        # device ids, as in /sys/devices/vbd-<domid>-<id>
     "cpu_time": 12.5,                              # seconds of CPU used, all vcpus
     "start_time": 1700000000.0,                    # epoch seconds
     "online_vcpus": 2,
     "memory": 1073741824,                          # bytes the domain holds now
     "state": "r-----"}                             # xend's state flags

Python 2.4-compatible, stdlib only; deployed as a flat file next to ``ovm3_compat.py``.
"""
import os
import socket
import sys
import time

import ovm3_compat

#: Programs the real host runs (fixed absolute paths; no PATH look-up, no shell).
IP = "/sbin/ip"
XM = "/usr/sbin/xm"

MIB = 1048576

#: Read at most this much of any kernel or config file.
SMALL_FILE = 1024 * 1024

#: Counters a vbd exposes under /sys/devices/vbd-<domid>-<devid>/statistics.
VBD_COUNTERS = ("rd_sect", "wr_sect", "rd_req", "wr_req")
#: Counters a network device exposes under .../statistics.
NET_COUNTERS = ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets")
#: Where dom0's kernel lists Xen backend devices (vbd-<domid>-<devid>, vif-<domid>-<devid>).
BACKEND_DIRS = ("/sys/devices", "/sys/devices/xen-backend")
#: xend's fault code for a domain it does not know (its fault string is then just the name).
XEND_ERROR_INVALID_DOMAIN = 3


class HostIO(object):
    """What the agent module may do on a host. Subclasses implement every method.

    Errors: file methods raise ``IOError``/``OSError`` like the ``os`` module; :meth:`run` raises
    ``ovm3_compat.CommandTimeout`` when its deadline passes and ``OSError`` when the program is
    missing; look-ups of things that do not exist (a domain, a device) return ``None``.
    """

    # ---- commands ---------------------------------------------------------------------------
    def run(self, argv, timeout, stdin_data=None):
        """Run ``argv`` (a list; ``argv[0]`` an absolute path) -> ``(rc, out, err)`` strings."""
        raise NotImplementedError

    # ---- files ------------------------------------------------------------------------------
    def read_file(self, path, limit=SMALL_FILE):
        """Content of a file as ``str`` (at most ``limit`` bytes)."""
        raise NotImplementedError

    def write_file_atomic(self, path, data, mode):
        """Replace ``path`` with ``data`` atomically (temp file + rename), with permission ``mode``."""
        raise NotImplementedError

    def listdir(self, path):
        raise NotImplementedError

    def exists(self, path):
        raise NotImplementedError

    def isfile(self, path):
        raise NotImplementedError

    def isdir(self, path):
        raise NotImplementedError

    def realpath(self, path):
        """``path`` with every symlink resolved, or ``None`` when it resolves outside the host."""
        raise NotImplementedError

    def makedirs(self, path, mode):
        """Create ``path`` and missing parents with permission ``mode`` (explicit, not umask'd)."""
        raise NotImplementedError

    def remove(self, path):
        raise NotImplementedError

    def local_path(self, path):
        """A path this process can ``open()`` for host path ``path``, for helpers that open files
        themselves (the heartbeat's ``load_config``)."""
        raise NotImplementedError

    def mount_path(self, path):
        """The path the heartbeat daemon knows host mount point ``path`` by (symlinks not followed:
        resolving a path on a dead NFS mount can hang)."""
        raise NotImplementedError

    # ---- network ----------------------------------------------------------------------------
    def tcp_connect(self, ip, port, timeout):
        """True when a TCP connection to ``ip:port`` opens within ``timeout`` seconds."""
        raise NotImplementedError

    def ipv4_addresses(self):
        """``[(device, "a.b.c.d/prefix"), ...]`` of every IPv4 address configured on the host."""
        raise NotImplementedError

    def ipv4_routes(self):
        """``[(destination, device), ...]`` of the main routing table (``default`` for 0/0)."""
        raise NotImplementedError

    def net_counters(self, dev):
        """``{rx_bytes, tx_bytes, rx_packets, tx_packets}`` of a network device, or ``None``."""
        raise NotImplementedError

    # ---- hypervisor -------------------------------------------------------------------------
    def xend_domain(self, name):
        """The live domain named ``name`` (see the module docstring), or ``None``."""
        raise NotImplementedError

    def list_domains(self):
        """Every live domain, Domain-0 included."""
        raise NotImplementedError

    def xen_memory(self):
        """``(total_mib, free_mib)`` of the hypervisor's memory."""
        raise NotImplementedError

    def xen_physinfo(self):
        """The hypervisor's own figures: ``{cpus, idle_seconds, total_bytes, free_bytes}``; ``idle_seconds``
        sums every physical CPU's idle time since boot (``None`` where the hypervisor does not say)."""
        raise NotImplementedError

    def uptime(self):
        """Seconds since the host booted."""
        raise NotImplementedError

    def net_devices(self):
        """Names of the host's own network devices (bridges, NICs, bonds; no vifs, taps or ``lo``)."""
        raise NotImplementedError

    def fs_usage(self, path):
        """``(total_bytes, free_bytes)`` of the filesystem holding ``path`` (statvfs; may hang on a dead
        NFS mount, so callers bound the wait)."""
        raise NotImplementedError

    def read_proc_stat(self):
        """The aggregate ``cpu`` line of /proc/stat as a list of ints (user nice system idle ...)."""
        raise NotImplementedError

    def vbd_stats(self, domid, devid):
        """``{rd_sect, wr_sect, rd_req, wr_req}`` of one virtual disk, or ``None``."""
        raise NotImplementedError

    def vif_stats(self, domid, devid):
        """``{rx_bytes, tx_bytes}`` of one virtual NIC as dom0 counts them (backend side), or ``None``."""
        raise NotImplementedError

    # ---- time -------------------------------------------------------------------------------
    def now(self):
        """Wall-clock epoch seconds."""
        return time.time()

    def monotonic(self):
        """Seconds on a clock that never steps back."""
        return ovm3_compat.monotonic()

    def sleep(self, seconds):
        time.sleep(seconds)


class RealHost(HostIO):
    """dom0 itself, every path below ``root`` (``/`` in production, a temp dir in tests)."""

    def __init__(self, root="/"):
        self.root = os.path.abspath(root)

    def __repr__(self):
        return "RealHost(root=%r)" % self.root

    def _p(self, path):
        """Host path -> local path below root."""
        if not path.startswith("/"):
            raise ValueError("host paths are absolute, got %r" % path)
        if self.root == "/":
            return path
        return self.root + path

    # ---- commands ---------------------------------------------------------------------------
    def run(self, argv, timeout, stdin_data=None):
        return ovm3_compat.run(argv, timeout, stdin_data=stdin_data)

    # ---- files ------------------------------------------------------------------------------
    def read_file(self, path, limit=SMALL_FILE):
        return ovm3_compat.read_file(self._p(path), limit)

    def write_file_atomic(self, path, data, mode):
        ovm3_compat.write_file_atomic(self._p(path), data, mode)

    def listdir(self, path):
        return os.listdir(self._p(path))

    def exists(self, path):
        return os.path.exists(self._p(path))

    def isfile(self, path):
        return os.path.isfile(self._p(path))

    def isdir(self, path):
        return os.path.isdir(self._p(path))

    def realpath(self, path):
        real = os.path.realpath(self._p(path))
        if self.root == "/":
            return real
        if real == self.root:
            return "/"
        if not real.startswith(self.root + "/"):
            return None
        return real[len(self.root):]

    def makedirs(self, path, mode):
        local = self._p(path)
        missing = []
        while local and not os.path.isdir(local):
            missing.append(local)
            parent = os.path.dirname(local)
            if parent == local:
                break
            local = parent
        missing.reverse()
        for d in missing:
            try:
                os.mkdir(d, mode)
            except OSError:
                if not os.path.isdir(d):
                    raise
            os.chmod(d, mode)

    def remove(self, path):
        os.unlink(self._p(path))

    def local_path(self, path):
        return self._p(path)

    def mount_path(self, path):
        return self._p(path)

    # ---- network ----------------------------------------------------------------------------
    def tcp_connect(self, ip, port, timeout):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            try:
                return sock.connect_ex((ip, port)) == 0
            except (socket.error, socket.timeout):
                return False
        finally:
            sock.close()

    def ipv4_addresses(self):
        rc, out, err = self.run([IP, "-o", "-4", "addr", "show"], 10)
        if rc != 0:
            raise OSError("%s addr show failed (rc %d): %s" % (IP, rc, err.strip()))
        return parse_ip_addr(out)

    def ipv4_routes(self):
        rc, out, err = self.run([IP, "-4", "route", "show"], 10)
        if rc != 0:
            raise OSError("%s route show failed (rc %d): %s" % (IP, rc, err.strip()))
        return parse_ip_route(out)

    def net_counters(self, dev):
        return self._counters("/sys/class/net/%s/statistics" % dev, NET_COUNTERS)

    def _counters(self, directory, names):
        if not self.isdir(directory):
            return None
        out = {}
        for name in names:
            try:
                out[name] = int(self.read_file(directory + "/" + name, 64).strip() or "0")
            except (IOError, OSError, ValueError):
                out[name] = 0
        return out

    # ---- hypervisor -------------------------------------------------------------------------
    def _xend(self):
        # xend's own client speaks its unix-socket XML-RPC (httpu://); only importable on dom0.
        from xen.util.xmlrpcclient import ServerProxy
        from xen.xend import XendClient
        return ServerProxy(XendClient.uri)

    def xend_domain(self, name):
        server = self._xend()
        try:
            info = server.xend.domain(name, 1)
        except Exception:
            e = sys.exc_info()[1]
            if ovm3_compat.is_fatal(e):
                raise
            if is_unknown_domain_fault(e):
                return None
            raise
        return domain_from_sxp(info, _devids(server, name, "vbd"), _devids(server, name, "vif"))

    def list_domains(self):
        server = self._xend()
        out = []
        for info in server.xend.domains(1):
            name = sxp_value(info, "name")
            out.append(domain_from_sxp(info, _devids(server, name, "vbd"), _devids(server, name, "vif")))
        return out

    def xen_memory(self):
        rc, out, err = self.run([XM, "info"], 30)
        if rc != 0:
            raise OSError("%s info failed (rc %d): %s" % (XM, rc, err.strip()))
        return parse_xm_info_memory(out)

    def read_proc_stat(self):
        return parse_proc_stat(self.read_file("/proc/stat"))

    def xen_physinfo(self):
        try:
            from xen.lowlevel import xc as xc_module
        except ImportError:  # not on a Xen dom0 with xend's tools: memory from xm, no CPU figure
            total_mib, free_mib = self.xen_memory()
            return {"cpus": 0, "idle_seconds": None, "total_bytes": total_mib * MIB, "free_bytes": free_mib * MIB}
        handle = xc_module.xc()
        info = handle.physinfo()
        cpus = int(info.get("nr_cpus", 0))
        idle = None
        if hasattr(handle, "getcpuinfo") and cpus:
            idle = 0.0
            for cpu in handle.getcpuinfo(cpus):
                idle += float(cpu.get("idletime", 0)) / 1e9
        return {"cpus": cpus, "idle_seconds": idle,
                "total_bytes": int(info.get("total_memory", 0)) * 1024,
                "free_bytes": int(info.get("free_memory", 0)) * 1024}

    def uptime(self):
        return float(self.read_file("/proc/uptime", 256).split()[0])

    def net_devices(self):
        out = []
        for name in self.listdir("/sys/class/net"):
            if name == "lo" or name.startswith("vif") or name.startswith("tap"):
                continue
            out.append(name)
        out.sort()
        return out

    def fs_usage(self, path):
        st = os.statvfs(self._p(path))
        return st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize

    def _backend_counters(self, device, tail, names):
        # pvops dom0 kernels (OVM 3's UEK) put backend devices straight under /sys/devices; xenified
        # kernels under /sys/devices/xen-backend.
        for parent in BACKEND_DIRS:
            found = self._counters("%s/%s%s" % (parent, device, tail), names)
            if found is not None:
                return found
        return None

    def vbd_stats(self, domid, devid):
        return self._backend_counters("vbd-%d-%d" % (domid, devid), "/statistics", VBD_COUNTERS)

    def vif_stats(self, domid, devid):
        return self._backend_counters("vif-%d-%d" % (domid, devid), "/net/vif%d.%d/statistics" % (domid, devid),
                                      ("rx_bytes", "tx_bytes"))


# ---- parsers of what dom0 prints (pure functions, tested directly) ---------------------------

def _devids(server, name, kind):
    out = []
    for entry in server.xend.domain.getDeviceSxprs(name, kind) or []:
        try:
            out.append(int(entry[0]))
        except (TypeError, ValueError, IndexError):
            pass
    return out


def is_unknown_domain_fault(exc):
    """True when xend refused a look-up because no such domain exists.

    xend answers ``Fault(3, "<name>")`` (xm prints it as "Domain '<name>' does not exist."); older
    builds put the words in the fault string instead.
    """
    if getattr(exc, "faultCode", None) == XEND_ERROR_INVALID_DOMAIN:
        return True
    text = str(getattr(exc, "faultString", exc)).lower()
    return "does not exist" in text or "not found" in text or "invalid domain" in text


def sxp_value(sxp, key, default=None):
    """The value of the first ``(key value)`` child of an s-expression list, else ``default``."""
    for child in sxp[1:]:
        if isinstance(child, (list, tuple)) and len(child) >= 2 and child[0] == key:
            return child[1]
    return default


def sxp_children(sxp, key):
    """Every ``(key ...)`` child of an s-expression list."""
    out = []
    for child in sxp[1:]:
        if isinstance(child, (list, tuple)) and child and child[0] == key:
            out.append(child)
    return out


def vfb_location(sxp):
    """``host:port`` of the domain's framebuffer (``(device (vfb (location ...)))``), else ``None``."""
    for device in sxp_children(sxp, "device"):
        for dev in device[1:]:
            if isinstance(dev, (list, tuple)) and dev and dev[0] == "vfb":
                location = sxp_value(dev, "location")
                if location:
                    return str(location)
    return None


def _number(value, kind, default):
    try:
        return kind(value)
    except (TypeError, ValueError):
        return default


def domain_from_sxp(sxp, vbd_ids, vif_ids):
    """xend's domain s-expression (as nested lists) -> the domain dict of this module."""
    return {
        "name": str(sxp_value(sxp, "name", "")),
        "uuid": str(sxp_value(sxp, "uuid", "")),
        "domid": _number(sxp_value(sxp, "domid"), int, -1),
        "vfb_location": vfb_location(sxp),
        "vbd": list(vbd_ids),
        "vif": list(vif_ids),
        "cpu_time": _number(sxp_value(sxp, "cpu_time"), float, 0.0),
        "start_time": _number(sxp_value(sxp, "start_time"), float, 0.0),
        "online_vcpus": _number(sxp_value(sxp, "online_vcpus"), int, 0),
        "memory": _number(sxp_value(sxp, "memory"), int, 0) * MIB,
        "state": str(sxp_value(sxp, "state", "")),
    }


def parse_proc_stat(text):
    """The aggregate ``cpu`` line of /proc/stat -> list of ints."""
    for line in text.splitlines():
        words = line.split()
        if words and words[0] == "cpu":
            return [int(w) for w in words[1:]]
    raise ValueError("/proc/stat has no aggregate cpu line")


def parse_xm_info_memory(text):
    """``xm info`` output -> ``(total_mib, free_mib)``."""
    values = {}
    for line in text.splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            values[key.strip()] = value.strip()
    try:
        return int(values["total_memory"]), int(values["free_memory"])
    except (KeyError, ValueError):
        raise ValueError("xm info reports no total_memory/free_memory")


def parse_ip_addr(text):
    """``ip -o -4 addr show`` -> ``[(device, "a.b.c.d/prefix"), ...]``."""
    out = []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 4 and words[2] == "inet":
            out.append((words[1].rstrip(":"), words[3]))
    return out


def parse_ip_route(text):
    """``ip -4 route show`` -> ``[(destination, device), ...]`` (routes without a device are skipped)."""
    out = []
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        for i in range(1, len(words) - 1):
            if words[i] == "dev":
                out.append((words[0], words[i + 1]))
                break
    return out
