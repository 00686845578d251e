"""The simulated hosts' state: identity, hardware, network, pool, storage, repositories, domains.

State lives in memory (guarded by one lock per world) and on disk under a sandbox root:

* ``<root>/nfs/<server>/<export path>``: the shared "NFS" exports every simulated host can mount;
* ``<root>/hosts/<name>/``: one host's file system root (``OVS/Repositories``, ``nfsmnt``,
  ``poolfsmnt``, ``etc/ovs-agent/sim-state.json``). A mount is a symbolic link from the mount point to
  the export directory, so files written through one host are seen by every host that mounted it.

Nothing here ever touches the machine's real ``/OVS``: every agent path goes through
:meth:`HostState.path`, which refuses to leave the sandbox.
"""

import json
import os
import re
import threading
import time
import uuid as uuidlib

from ovm3.sim.personality import personality as _personality

PAGE = 4096
MB = 1024 * 1024
STATE_FILE = "etc/ovs-agent/sim-state.json"
REPO_META = ".ovsrepo"
POOLFS_META = ".ovspoolfs"
FS_STAMP = ".generic_fs_stamp"
REPO_DIRS = ("VirtualMachines", "VirtualDisks", "Templates", "ISOs")
VALID_ROLES = ("xen", "utility")


class AgentError(Exception):
    """An exception a real agent would raise; the dispatcher turns it into fault code 1."""

    def __init__(self, message, cls="exceptions.Exception"):
        super().__init__(message)
        self.fault_string = "%s:%s" % (cls, message)


def command_failed(argv, code, stderr):
    """The RuntimeError text ovs-agent raises when a dom0 command fails (see recorded faults)."""
    return AgentError(
        "Command: %r failed (%d): stderr: %s" % (list(argv), code, stderr), cls="exceptions.RuntimeError"
    )


def colon_uuid(u):
    """``1d:d5:e8:...``: the form Unique_Id takes in discover_server."""
    h = u.replace("-", "")
    return ":".join(h[i : i + 2] for i in range(0, 32, 2))


def host_ip(index):
    """Registered IP of the index-th simulated host (192.168.1.64, .65, ... as in the recordings)."""
    n = 64 + index
    return "192.168.%d.%d" % (1 + n // 250, n % 250 + (0 if n < 250 else 1))


def split_export(fs_location):
    """``"nfs-1:/export/primary"`` -> ``("nfs-1", "/export/primary")``; refuses other forms."""
    m = re.fullmatch(r"([A-Za-z0-9_.\-]+):(/[^\x00]*)", str(fs_location or ""))
    if not m:
        raise AgentError("Invalid NFS location: %s (expected host:/path)" % fs_location)
    path = os.path.normpath(m.group(2))
    if ".." in path.split("/"):
        raise AgentError("Invalid NFS location: %s" % fs_location)
    return m.group(1), path


class World:
    """What simulated hosts share: the NFS exports, the server pools, the address book."""

    def __init__(self, root):
        self.root = os.path.realpath(str(root))
        self.nfs_root = os.path.join(self.root, "nfs")
        os.makedirs(self.nfs_root, exist_ok=True)
        self.lock = threading.RLock()
        self.hosts = {}  # registered IP -> HostState
        self.pools = {}  # pool uuid -> {"alias", "vip", "members": [ip], "master": ip}
        self._load()

    def export_dir(self, fs_location, create=True):
        """The directory standing for an NFS export ``host:/path``."""
        server, path = split_export(fs_location)
        d = os.path.join(self.nfs_root, server, path.lstrip("/"))
        if create:
            os.makedirs(d, exist_ok=True)
        return d

    def register(self, host):
        with self.lock:
            self.hosts[host.ip] = host

    def host_by_name_or_ip(self, text):
        with self.lock:
            if text in self.hosts:
                return self.hosts[text]
            for h in self.hosts.values():
                if h.hostname == text:
                    return h
        return None

    def save(self):
        with self.lock:
            _write_json(os.path.join(self.root, "world.json"), {"pools": self.pools})

    def _load(self):
        try:
            with open(os.path.join(self.root, "world.json"), encoding="utf-8") as f:
                self.pools = json.load(f).get("pools", {})
        except (OSError, ValueError):
            self.pools = {}


class Domain:
    """A running (or paused) Xen domain of one VM on one host."""

    FIELDS = (
        "vm_id",
        "repo_id",
        "name",
        "domid",
        "memory",
        "vcpus",
        "vnc_port",
        "start_time",
        "cpu_seconds",
        "paused",
        "resumed_at",
        "config",
    )

    def __init__(self, vm_id, repo_id, name, domid, memory, vcpus, vnc_port, config):
        self.vm_id = vm_id
        self.repo_id = repo_id
        self.name = name
        self.domid = domid
        self.memory = memory
        self.vcpus = vcpus
        self.vnc_port = vnc_port
        self.config = config
        self.start_time = time.time()
        self.cpu_seconds = 0.0
        self.paused = False
        self.resumed_at = time.time()

    def cpu_time(self, now=None):
        """Seconds of CPU used: grows while running (half of each vCPU), frozen while paused."""
        now = time.time() if now is None else now
        if self.paused:
            return self.cpu_seconds
        return self.cpu_seconds + max(0.0, now - self.resumed_at) * self.vcpus * 0.5

    def pause(self):
        if not self.paused:
            self.cpu_seconds = self.cpu_time()
            self.paused = True

    def unpause(self):
        if self.paused:
            self.paused = False
            self.resumed_at = time.time()

    def counters(self, now=None):
        """Disk and network counters; they grow with CPU time so they move while the VM runs."""
        c = self.cpu_time(now)
        return {
            "rd_bytes": int(c * 409600),
            "wr_bytes": int(c * 204800),
            "rd_ops": int(c * 100),
            "wr_ops": int(c * 50),
            "rx_bytes": int(c * 125000),
            "tx_bytes": int(c * 62500),
        }

    def state_flags(self):
        return "--p---" if self.paused else "r-----"

    def to_dict(self):
        return {k: getattr(self, k) for k in self.FIELDS}

    @classmethod
    def from_dict(cls, d):
        dom = cls(
            d["vm_id"],
            d["repo_id"],
            d["name"],
            d["domid"],
            d["memory"],
            d["vcpus"],
            d["vnc_port"],
            d.get("config") or {},
        )
        for k in cls.FIELDS:
            if k in d:
                setattr(dom, k, d[k])
        return dom


class HostState:
    """One simulated OVM server: everything its agent answers is built from these fields."""

    SAVED = (
        "uuid",
        "hostname",
        "ip",
        "boot_time",
        "memory_mb",
        "dom0_mb",
        "cpus",
        "cpu_khz",
        "manager_uuid",
        "manager_core_api_url",
        "manager_event_url",
        "membership",
        "roles",
        "pool_uuid",
        "node_number",
        "is_master",
        "vip",
        "cluster",
        "poolfs",
        "stat_interval",
        "ntp_servers",
        "ntp_running",
        "timezone",
        "utc",
        "bridges",
        "nics",
        "bonds",
        "vips",
        "repos",
        "mounts",
        "next_domid",
        "agent_user",
        "password",
        "down",
    )

    def __init__(
        self,
        world,
        name,
        ip,
        version="3.3",
        root=None,
        memory_mb=8192,
        dom0_mb=1024,
        cpus=4,
        password="",
        uuid=None,
        mac_seed=None,
    ):
        self.world = world
        self.lock = world.lock
        self.personality = _personality(version)
        self.root = os.path.realpath(root or os.path.join(world.root, "hosts", name))
        seed = mac_seed if mac_seed is not None else (sum(int(p) for p in ip.split(".")) % 256)
        self.uuid = uuid or str(uuidlib.uuid4())
        self.hostname = name
        self.ip = ip
        self.boot_time = int(time.time()) - 3600
        self.memory_mb = memory_mb
        self.dom0_mb = dom0_mb
        self.cpus = cpus
        self.cpu_khz = 3392400
        self.manager_uuid = None
        self.manager_core_api_url = ""
        self.manager_event_url = ""
        self.membership = "Unowned"
        self.roles = ""
        self.pool_uuid = None
        self.node_number = 0
        self.is_master = False
        self.vip = None
        self.cluster = None
        self.poolfs = None
        self.stat_interval = 20
        self.ntp_servers = []
        self.ntp_running = False
        self.timezone = "Europe/Amsterdam"
        self.utc = True
        mac = "52:54:00:%02X:%02X:%02X" % (seed, (seed * 7) % 256, (seed * 13) % 256)
        mac1 = "52:54:00:%02X:%02X:%02X" % ((seed + 1) % 256, (seed * 5) % 256, (seed * 11) % 256)
        self.nics = {
            "bond0": {
                "mac": mac,
                "kind": "bond",
                "metadata": "ethernet:c0a80100{192.168.1.0}:"
                "MANAGEMENT,CLUSTER_HEARTBEAT,LIVE_MIGRATE,VIRTUAL_MACHINE,STORAGE",
            },
            "eth1": {"mac": mac1, "kind": "ethernet", "metadata": None},
        }
        self.bonds = {"bond1": {"mac": mac1, "slaves": ["eth1"], "mode": "active-backup"}}
        self.bridges = {
            "xenbr0": {
                "mac": mac,
                "address": ip,
                "netmask": "255.255.255.0",
                "broadcast": ip.rsplit(".", 1)[0] + ".255",
                "phy": "bond0",
                "bootproto": "static",
            },
            "xenbr1": {
                "mac": mac1,
                "address": None,
                "netmask": None,
                "broadcast": None,
                "phy": "bond1",
                "bootproto": "none",
            },
        }
        self.vips = []
        self.repos = {}  # repo uuid -> repository DB entry
        self.mounts = {}  # mount point (host path) -> {"device", "type", "options", "uuid"}
        self.next_domid = 1
        self.agent_user = "oracle"
        self.password = password
        self.down = False
        self.domains = {}  # vm uuid -> Domain
        self.heartbeat_daemon = None  # the host's ovm3.sim.heartbeat.Heartbeat, when provisioned
        self._load()
        for d in ("OVS/Repositories", "nfsmnt", "poolfsmnt", "etc/ovs-agent", "tmp"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        world.register(self)

    # ---- files ---------------------------------------------------------------------------------
    def path(self, host_path, must_exist=False):
        """The sandbox path of an absolute host path; never outside the world's sandbox root."""
        text = str(host_path or "")
        if not text.startswith("/") or "\x00" in text:
            raise AgentError("[Errno 2] No such file or directory: %r" % text, cls="exceptions.OSError")
        norm = os.path.normpath(text)
        local = os.path.join(self.root, norm.lstrip("/"))
        real = os.path.realpath(local)
        if not (real == self.world.root or real.startswith(self.world.root + os.sep)):
            raise AgentError("[Errno 13] Permission denied: %r" % text, cls="exceptions.OSError")
        if must_exist and not os.path.lexists(real):
            raise AgentError("[Errno 2] No such file or directory: %r" % text, cls="exceptions.OSError")
        return real

    def host_view(self, value):
        """``value`` (a reply, nested, or a fault text) as this host says it: every path of this machine's
        sandbox named as the dom0 path (``<root>/hosts/ovm-1/etc/x`` -> ``/etc/x``; a file in a mounted
        export through its mount point; an unmounted export as ``server:/path``). The one place that
        keeps the sandbox's location out of what a simulated host says."""
        if isinstance(value, str):
            return self._host_text(value) if self.world.root in value else value
        if isinstance(value, dict):
            return {self.host_view(k): self.host_view(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.host_view(v) for v in value)
        return value

    def _host_text(self, text):
        end = r"(?![\w.\-])"  # a whole path component ends here
        targets = []
        for mp, entry in list(self.mounts.items()):
            try:
                targets.append((os.path.realpath(self.world.export_dir(entry.get("device"), create=False)), mp))
            except AgentError:
                continue
        for target, mp in sorted(targets, key=lambda t: -len(t[0])):
            text = re.sub(re.escape(target) + end, lambda m, mp=mp: mp, text)
        text = re.sub(re.escape(self.world.nfs_root) + r"/([\w.\-]+)(/[^\s'\"]*)?",
                      lambda m: "%s:%s" % (m.group(1), m.group(2) or "/"), text)
        hosts_dir = os.path.join(self.world.root, "hosts")
        return re.sub(re.escape(hosts_dir) + r"/[\w.\-]+" + end + r"(/[^\s'\"]*)?",
                      lambda m: m.group(1) or "/", text)

    def mount(self, device, mount_point, fs_type="nfs", options="rw", extra=None):
        """Mount an NFS export on a host path (a symlink into the shared export directory)."""
        target = self.world.export_dir(device)
        local = os.path.join(self.root, os.path.normpath(mount_point).lstrip("/"))
        if mount_point in self.mounts:
            return False
        if os.path.islink(local):
            os.unlink(local)
        elif os.path.isdir(local):
            if os.listdir(local):
                raise command_failed(
                    ["mount", device, mount_point], 32, "mount point %s is not empty" % mount_point
                )
            os.rmdir(local)
        os.makedirs(os.path.dirname(local), exist_ok=True)
        os.symlink(target, local)
        entry = {"device": device, "type": fs_type, "options": options}
        entry.update(extra or {})
        # As the kernel's: kept while mounted, never reused by a later mount (a remount is new storage).
        used = [e.get("mount_id", 0) for e in self.mounts.values()] + [getattr(self, "_last_mount_id", 99)]
        entry["mount_id"] = self._last_mount_id = max(used) + 1
        self.mounts[mount_point] = entry
        self._mounts_changed()
        return True

    def unmount(self, mount_point):
        local = os.path.join(self.root, os.path.normpath(mount_point).lstrip("/"))
        if mount_point not in self.mounts:
            raise command_failed(["umount", mount_point], 1, "umount: %s: not mounted" % mount_point)
        if os.path.islink(local):
            os.unlink(local)
        os.makedirs(local, exist_ok=True)
        del self.mounts[mount_point]
        self._mounts_changed()

    def _mounts_changed(self):
        if self.heartbeat_daemon is not None:
            self.heartbeat_daemon.write_mountinfo()  # the daemon re-reads its mount table every beat

    # ---- memory ----------------------------------------------------------------------------------
    def free_mb(self):
        return self.memory_mb - self.dom0_mb - sum(d.memory for d in self.domains.values())

    def total_pages(self):
        return self.memory_mb * MB // PAGE

    def free_pages(self):
        return max(0, self.free_mb()) * MB // PAGE

    def vnc_port(self):
        used = {d.vnc_port for d in self.domains.values()}
        port = 5900
        while port in used:
            port += 1
        return port

    def new_domid(self):
        d = self.next_domid
        self.next_domid += 1
        return d

    # ---- repositories ----------------------------------------------------------------------------
    def repo_dir(self, repo_id):
        entry = self.repos.get(repo_id)
        if entry is None or entry.get("status") != "Mounted":
            raise AgentError("Repository %s not found or not mounted" % repo_id)
        return self.path(entry["mount_point"])

    def vm_dir(self, repo_id, vm_id):
        return os.path.join(self.repo_dir(repo_id), "VirtualMachines", vm_id)

    # ---- persistence -----------------------------------------------------------------------------
    def to_dict(self):
        d = {k: getattr(self, k) for k in self.SAVED}
        d["domains"] = {k: v.to_dict() for k, v in self.domains.items()}
        d["version"] = self.personality.api
        return d

    def save(self):
        with self.lock:
            data = self.to_dict()
        data.pop("password", None)  # never on disk in clear; the server keeps it in memory
        _write_json(os.path.join(self.root, STATE_FILE), data)

    def _load(self):
        try:
            with open(os.path.join(self.root, STATE_FILE), encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            return
        for k in self.SAVED:
            if k in data and k not in ("password", "ip", "hostname"):
                setattr(self, k, data[k])
        self.domains = {k: Domain.from_dict(v) for k, v in data.get("domains", {}).items()}


def _write_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp.%d" % threading.get_ident()
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)
