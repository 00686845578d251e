"""The real heartbeat daemon (fencing/ovm3_heartbeat.py) for a simulated host, confined to its sandbox.

A simulated host has no dom0 of its own, so its heartbeat daemon runs as an ordinary child process of
this machine with every system path it writes pointed into the host's sandbox: the config file at the
host path ``/etc/sysconfig/ovm3-heartbeat`` (where the hosted agent module reads it through its HostIO
seam), the state directory, pid and lock files, the sysrq files, the o2cb config, a
``/proc/self/mountinfo`` stand-in listing the host's simulated NFS mounts, and a test watchdog (a
plain file with an explicit ``WATCHDOG_TIMEOUT``: every pet is one byte, a clean close ends with
``V``). The daemon writes ``.hb-<guid>`` through the mount's symlink into
the shared export, so every host that mounted the export sees it.

Only the boot id is read from the real ``/proc/sys/kernel/random/boot_id`` (read-only): the daemon's
state file is stamped with it and the hosted module's verdict checks it against the same file, which
is right, because daemon and module share this machine's monotonic clock.

Usage::

    hb = Heartbeat(hosts[0], "guid-a", ["/nfsmnt/pool"], fence_action="crash", watchdog=True)
    hb.start()          # ``run`` in the foreground, as a child process
    hb.kill()           # SIGKILL: no ``stopped`` record, the peers stop seeing progress
"""

import os
import signal
import subprocess
import sys

CONFIG_PATH = "/etc/sysconfig/ovm3-heartbeat"
BOOT_ID = "/proc/sys/kernel/random/boot_id"


def _script():
    from ovm3 import hostfiles

    return hostfiles.path("fencing", "ovm3_heartbeat.py")


class Heartbeat:
    """One simulated host's heartbeat daemon: config and paths in its sandbox, ``run`` as a child.

    :param sim_host: the :class:`ovm3.sim.SimHost` (or anything with ``.state``).
    :param guid: the host guid the daemon writes as (``.hb-<guid>``).
    :param mounts: host paths of the simulated NFS mounts to monitor (``state.mount()`` them first);
        empty: every NFS mount under ``/OVS/Repositories``, as they come and go (what CloudStack's
        daemon watches; the ``/proc/self/mountinfo`` stand-in follows the host's mounts).
    :param fence_action: ``crash``/``reboot`` (sysrq written into the sandbox), ``log-only`` or
        ``command:<argv>``.
    :param watchdog: arm a test watchdog (a file in the sandbox).
    :param watchdog_timeout: the ``WATCHDOG_TIMEOUT`` the daemon advertises for that file (a test file
        needs one; it must exceed 2 x interval; default: 2 x interval + 1 s, at least 1 s). Always
        written, so the file is ready to arm.
    :param env: environment for the child (e.g. with a ``sitecustomize`` guard on ``PYTHONPATH``).
    """

    def __init__(self, sim_host, guid, mounts, interval=0.2, timeout=1.0, fence_action="log-only",
                 watchdog=False, policy="any", env=None, watchdog_timeout=None):
        self.state = sim_host.state
        self.guid = guid
        self.mounts = list(mounts)
        self.interval = interval
        self.timeout = timeout
        self.fence_action = fence_action
        self.watchdog_armed = bool(watchdog)
        self.watchdog_timeout = watchdog_timeout if watchdog_timeout is not None else max(1.0, 2 * interval + 1)
        self.policy = policy
        self.env = env
        self.proc = None
        self._provision()
        # the hosted agent module's daemon ``status``/``start`` act on this one (see module_host)
        self.state.heartbeat_daemon = self

    # ---- sandbox paths ------------------------------------------------------------------------
    def path(self, host_path):
        """This machine's path for ``host_path`` on the simulated host (parent directories made)."""
        local = os.path.join(self.state.root, os.path.normpath(host_path).lstrip("/"))
        os.makedirs(os.path.dirname(local), exist_ok=True)
        return local

    @property
    def config_file(self):
        return self.path(CONFIG_PATH)

    @property
    def state_dir(self):
        return self.path("/var/run/ovm3-heartbeat/peers.state").rsplit(os.sep, 1)[0]

    @property
    def watchdog(self):
        return self.path("/dev/watchdog")

    @property
    def sysrq_trigger(self):
        return self.path("/proc/sysrq-trigger")

    @property
    def log_file(self):
        return self.path("/var/log/ovm3-heartbeat.log")

    def _provision(self):
        for name in (self.sysrq_trigger, self.path("/proc/sys/kernel/sysrq"), self.watchdog):
            open(name, "a").close()
        self.write_mountinfo()
        lines = [
            "# written by the ovm3 simulator for host %s" % self.state.hostname,
            "GUID=%s" % self.guid,
            "MOUNTS=%s" % " ".join(self.local_mount(m) for m in self.mounts),
            "INTERVAL=%s" % self.interval,
            "TIMEOUT=%s" % self.timeout,
            "FENCE_ACTION='%s'" % self.fence_action,
            "POLICY=%s" % self.policy,
            "WATCHDOG=%s" % (self.watchdog if self.watchdog_armed else ""),
            "WATCHDOG_TIMEOUT=%s" % self.watchdog_timeout,
            "STATE_DIR=%s" % self.state_dir,
            "REPOSITORIES=%s" % os.path.join(self.state.root, "OVS", "Repositories"),
            # The daemon's system paths, so every reader of this file (the daemon, and the agent
            # module's verdict) stays inside the sandbox. The boot id is read-only and real.
            "PID_FILE=%s" % self.path("/var/run/ovm3-heartbeat.pid"),
            "LOCK_FILE=%s" % self.path("/var/run/ovm3-heartbeat.lock"),
            "SYSRQ_TRIGGER=%s" % self.sysrq_trigger,
            "SYSRQ_CONTROL=%s" % self.path("/proc/sys/kernel/sysrq"),
            "MOUNTINFO=%s" % self.path("/proc/self/mountinfo"),
            "O2CB_CONFIG=%s" % self.path("/etc/sysconfig/o2cb"),
            "BOOT_ID=%s" % BOOT_ID,
        ]
        with open(self.config_file, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")

    def local_mount(self, mount_point):
        """The sandbox path of a simulated mount point (the symlink into the shared export)."""
        if mount_point not in self.state.mounts:
            raise ValueError("%s is not mounted on simulated host %s" % (mount_point, self.state.hostname))
        return os.path.join(self.state.root, os.path.normpath(mount_point).lstrip("/"))

    def write_mountinfo(self):
        """The ``/proc/self/mountinfo`` stand-in: the host's simulated mounts as NFS mounts, each with the
        real device id of the export directory it leads to (the daemon checks its heartbeat file is on
        that device), re-run after changes. Like the kernel's, a mount keeps its mount id while it stays
        mounted and a new mount gets a new one (the daemon takes a changed id for a remount)."""
        root = os.stat(self.state.root).st_dev
        lines = ["1 0 %d:%d / / rw - rootfs rootfs rw" % (os.major(root), os.minor(root))]
        for mp in sorted(self.state.mounts):
            entry = self.state.mounts[mp]
            number = entry.get("mount_id") or 100 + sorted(self.state.mounts).index(mp)
            local = os.path.join(self.state.root, os.path.normpath(mp).lstrip("/"))
            dev = os.stat(local).st_dev
            lines.append("%d 1 %d:%d / %s %s - %s %s rw" % (
                number, os.major(dev), os.minor(dev), local.replace(" ", "\\040"), entry.get("options", "rw"),
                entry.get("type", "nfs"), entry.get("device", "sim").replace(" ", "\\040")))
        with open(self.path("/proc/self/mountinfo"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")

    # ---- the daemon -----------------------------------------------------------------------------
    def argv(self, command):
        """The daemon's command line for ``command`` (run, start, stop, status, check)."""
        return [
            sys.executable, _script(), "-c", self.config_file,
            "--pid-file", self.path("/var/run/ovm3-heartbeat.pid"),
            "--lock-file", self.path("/var/run/ovm3-heartbeat.lock"),
            "--sysrq-trigger", self.sysrq_trigger,
            "--sysrq-control", self.path("/proc/sys/kernel/sysrq"),
            "--mountinfo", self.path("/proc/self/mountinfo"),
            "--o2cb-config", self.path("/etc/sysconfig/o2cb"),
            "--boot-id", BOOT_ID,
            "--no-syslog", command,
        ]

    def start(self):
        """Start ``run`` as a child process; its log goes to the sandbox's /var/log/ovm3-heartbeat.log."""
        if self.running():
            raise RuntimeError("the heartbeat of %s already runs (pid %d)" % (self.guid, self.proc.pid))
        # The daemon writes the watchdog from offset 0 (a device has no content): empty the test file so it
        # shows this run's pets and close only.
        open(self.watchdog, "w").close()
        with open(self.log_file, "ab") as log:
            self.proc = subprocess.Popen(self.argv("run"), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env=self.env)
        return self.proc

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def terminate(self, wait=10.0):
        """SIGTERM: a clean stop (the daemon records ``stopped`` and never fences). Returns the exit code."""
        return self._signal(signal.SIGTERM, wait)

    def request_stop(self):
        """Send SIGTERM without waiting (stop many daemons at once, then :meth:`terminate` each)."""
        if self.running():
            self.proc.send_signal(signal.SIGTERM)

    def kill(self, wait=10.0):
        """SIGKILL: the daemon dies without a word, as a hung or crashed daemon would look to its peers."""
        return self._signal(signal.SIGKILL, wait)

    def _signal(self, signum, wait):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            return self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(wait)

    def log(self):
        try:
            with open(self.log_file, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def record(self):
        """The heartbeat record as the daemon last wrote it on its first mount (dict, {} when none)."""
        try:
            with open(os.path.join(self.local_mount(self.mounts[0]), ".hb-" + self.guid)) as f:
                lines = f.read().split("\n")[1:]
        except OSError:
            return {}
        return dict(line.split("=", 1) for line in lines if "=" in line)

    def close(self):
        """Stop the daemon if it still runs (SIGKILL: tests call this in their teardown)."""
        if self.running():
            self.kill()
        if self.state.heartbeat_daemon is self:
            self.state.heartbeat_daemon = None
