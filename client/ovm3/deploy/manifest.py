"""What gets installed where on a host: one :class:`FileSpec` per file, with mode and owner.

Layout on dom0 (``ROOT`` is ``/`` on a real host):

=====================================  ==========================================================
``ROOT/opt/ovm3/``                     staging: agent module (``ovm3_agent.py`` installs it into
                                       ovs-agent), shared dom0 helpers, heartbeat daemon, dumper
``ROOT/etc/init.d/ovm3-heartbeat``     the heartbeat's SysV init script (chkconfig on)
``ROOT/etc/sysconfig/ovm3-heartbeat``  the heartbeat's ``KEY=value`` configuration
=====================================  ==========================================================
"""
import dataclasses
import glob
import os
from typing import List, Optional

from ovm3 import hostfiles
from ovm3.deploy.facts import under
from ovm3.errors import DeployError

STAGING = "/opt/ovm3"
INIT_SCRIPT = "/etc/init.d/ovm3-heartbeat"
HEARTBEAT_CONFIG = "/etc/sysconfig/ovm3-heartbeat"
INSTALLER = "ovm3_agent.py"
HEARTBEAT = "ovm3_heartbeat.py"
SERVICE = "ovm3-heartbeat"
OWNER = "root:root"
#: Files run as programs get 0755, libraries 0644.
PROGRAMS = (INSTALLER, HEARTBEAT, "ovm3_dump_api.py")

#: Heartbeat settings when neither the inventory nor the command line gives them (seconds).
DEFAULT_INTERVAL = 1
DEFAULT_TIMEOUT = 120
DEFAULT_POLICY = "any"
#: FENCE_ACTION values: the daemon only logs unless deployment is told to arm it.
FENCE_LOG_ONLY = "log-only"
FENCE_ARMED = "crash"
DEFAULT_STATE_DIR = "/var/run/ovm3-heartbeat"
#: Seconds the watchdog device is set to (the daemon sets it by ioctl and advertises what it got).
DEFAULT_WATCHDOG_TIMEOUT = 60
#: The daemon's system paths on dom0 (config key, host path); the config file names each one.
SYSTEM_PATHS = (
    ("PID_FILE", "/var/run/ovm3-heartbeat.pid"),
    ("LOCK_FILE", "/var/run/ovm3-heartbeat.lock"),
    ("SUBSYS_LOCK", "/var/lock/subsys/ovm3-heartbeat"),
    ("MOUNTINFO", "/proc/self/mountinfo"),
    ("BOOT_ID", "/proc/sys/kernel/random/boot_id"),
    ("SYSRQ_TRIGGER", "/proc/sysrq-trigger"),
    ("SYSRQ_CONTROL", "/proc/sys/kernel/sysrq"),
    ("O2CB_CONFIG", "/etc/sysconfig/o2cb"),
    ("REPOSITORIES", "/OVS/Repositories"),
)
_UNSAFE = "\n\"'$`\\ "


@dataclasses.dataclass
class Sources:
    """Local files to ship. :func:`default_sources` finds them in this ovm3 copy; tests build their own."""

    agent_module: List[str]
    hostlib: List[str]
    heartbeat: List[str]
    init_script: Optional[str]
    dumper: Optional[str]


def default_sources(tree=None):
    """The host-side files of this checkout or installed package, or of ``tree`` (same folder layout:
    ``agent_module/``, ``hostlib/``, ``fencing/``, ``tools/host/``)."""
    def existing(folder, pattern):
        if tree:
            base = os.path.join(tree, folder)
        else:
            try:
                base = hostfiles.path(folder)
            except (ImportError, ValueError):
                return []
        return sorted(glob.glob(os.path.join(base, pattern)))

    if tree:
        dumper = os.path.join(tree, "tools", "host", "ovm3_dump_api.py")
    else:
        try:
            import ovm3.tools as tools

            dumper = os.path.join(os.path.dirname(tools.__file__), "host", "ovm3_dump_api.py")
        except ImportError:
            dumper = None
    init = existing("fencing", "ovm3-heartbeat.init")
    return Sources(
        agent_module=[p for p in existing("agent_module", "*.py") if not p.endswith("__init__.py")],
        hostlib=existing("hostlib", "ovm3_*.py"),
        heartbeat=existing("fencing", HEARTBEAT) + existing("fencing", "ovm3_hb_*.py"),
        init_script=init[0] if init else None,
        dumper=dumper if dumper and os.path.exists(dumper) else None,
    )


@dataclasses.dataclass
class FileSpec:
    """One file to have on the host: where, what bytes, which mode and owner, and why."""

    remote: str
    data: bytes = dataclasses.field(repr=False)
    mode: int = 0o644
    owner: str = OWNER
    role: str = "agent"  # agent | heartbeat | dumper


@dataclasses.dataclass
class HeartbeatSettings:
    """The heartbeat daemon's configuration; ``armed`` False means the fence action only logs."""

    guid: str
    mounts: List[str]
    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    policy: str = DEFAULT_POLICY
    watchdog: str = ""
    watchdog_timeout: float = DEFAULT_WATCHDOG_TIMEOUT
    state_dir: str = DEFAULT_STATE_DIR
    armed: bool = False

    def render(self, root="/", python=None):
        """The ``KEY=value`` file (also valid shell: the init script sources it).

        Every host path in it (mounts, state dir, watchdog and the daemon's system paths of
        :data:`SYSTEM_PATHS`) is written as seen below ``root``, so a deployment under a remote root
        keeps the daemon inside that root. ``python`` is the dom0 interpreter the init script runs.
        """
        for name, value in (("guid", self.guid), ("policy", self.policy), ("watchdog", self.watchdog),
                            ("state_dir", self.state_dir), ("python", python or "")):
            if any(c in str(value) for c in _UNSAFE):
                raise DeployError("heartbeat %s %r contains a character the config file cannot hold"
                                  % (name, value))
        for mount in self.mounts:
            if not mount.startswith("/") or any(c in mount for c in _UNSAFE):
                raise DeployError("heartbeat mount %r must be an absolute path without quotes or spaces"
                                  % mount)
        if self.watchdog and not self.watchdog.startswith("/"):
            raise DeployError("heartbeat watchdog %r must be an absolute device path" % self.watchdog)
        if not self.state_dir.startswith("/"):
            raise DeployError("heartbeat state_dir %r must be an absolute path" % self.state_dir)
        lines = [
            "# ovm3 heartbeat settings, written by 'ovm3 deploy' (changes are overwritten on redeploy)",
            "GUID=%s" % self.guid,
            'MOUNTS="%s"' % " ".join(under(root, m) for m in self.mounts),
            "INTERVAL=%g" % float(self.interval),
            "TIMEOUT=%g" % float(self.timeout),
            "FENCE_ACTION=%s" % (FENCE_ARMED if self.armed else FENCE_LOG_ONLY),
            "POLICY=%s" % self.policy,
            "WATCHDOG=%s" % (under(root, self.watchdog) if self.watchdog else ""),
            "WATCHDOG_TIMEOUT=%g" % float(self.watchdog_timeout),
            "STATE_DIR=%s" % under(root, self.state_dir),
            "# where this host keeps the daemon's files (read by the daemon and by the init script)",
            "PYTHON=%s" % (python or "/usr/bin/python"),
            "DAEMON=%s" % under(root, STAGING + "/" + HEARTBEAT),
        ]
        lines += ["%s=%s" % (key, under(root, path)) for key, path in SYSTEM_PATHS]
        return ("\n".join(lines) + "\n").encode("utf-8")


def parse_config(data):
    """A deployed heartbeat config (bytes) -> ``{KEY: value}`` with quotes taken off."""
    out = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            out[key.strip()] = value
    return out


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _staged(root, path, role):
    name = os.path.basename(path)
    return FileSpec(under(root, STAGING + "/" + name), _read(path), 0o755 if name in PROGRAMS else 0o644,
                    role=role)


def build(root, sources, heartbeat=None, python=None):
    """Every file for one host. Without ``heartbeat`` settings the daemon files are left out.
    ``python`` is the dom0 interpreter the heartbeat's init script runs the daemon with."""
    names = [os.path.basename(p) for p in sources.agent_module]
    if INSTALLER not in names:
        raise DeployError("this ovm3 copy has no agent_module/%s to install with" % INSTALLER)
    specs = [_staged(root, p, "agent") for p in sources.agent_module + sources.hostlib]
    if sources.dumper:
        specs.append(_staged(root, sources.dumper, "dumper"))
    if heartbeat is not None:
        if not sources.heartbeat or not sources.init_script:
            raise DeployError("this ovm3 copy lacks the heartbeat daemon (fencing/%s and "
                              "fencing/ovm3-heartbeat.init)" % HEARTBEAT)
        specs += [_staged(root, p, "heartbeat") for p in sources.heartbeat]
        specs.append(FileSpec(under(root, INIT_SCRIPT), _read(sources.init_script), 0o755, role="heartbeat"))
        specs.append(FileSpec(under(root, HEARTBEAT_CONFIG), heartbeat.render(root, python), 0o644, role="heartbeat"))
    seen = set()
    for spec in specs:
        if spec.remote in seen:
            raise DeployError("two source files map to %s" % spec.remote)
        seen.add(spec.remote)
    return specs
