"""The heartbeat daemon: setup, one loop with one timed wait, teardown.

Every interval, for every monitored mount, a child writes our record and another reads every peer's
(see :mod:`ovm3_hb_io`); the loop itself only forks, waits on pipes and decides. A mount whose last
successful write *started* more than TIMEOUT ago is stale; per the policy (any/all) a stale set fences
the host: the reason is logged first, then the action runs (sysrq crash/reboot, an operator command,
or nothing with log-only). The watchdog is petted only while the policy is satisfied. SIGTERM writes
``stopped`` and exits without fencing; SIGHUP reloads the config file. dom0 Python 2.4..3.x.
"""
import errno
import fcntl
import os
import select
import signal
import sys
import time

import ovm3_compat
import ovm3_hb_config
import ovm3_hb_io
import ovm3_hb_record
import ovm3_hb_verdict

LOG_IDENT = "ovm3-heartbeat"
STOP_WAIT = 5.0
#: Settings a SIGHUP cannot change (the running daemon's files and devices depend on them).
RESTART_KEYS = ("guid", "state_dir", "watchdog")


class Log:
    """Lines to syslog (daemon facility) and to a stream; the library never configures anything else."""

    def __init__(self, stream=None, use_syslog=True):
        self.stream = stream
        self.syslog = None
        if use_syslog:
            try:
                import syslog
                syslog.openlog(LOG_IDENT, syslog.LOG_PID, syslog.LOG_DAEMON)
                self.syslog = syslog
            except ImportError:
                pass

    def _emit(self, level, priority, message):
        if self.stream is not None:
            try:
                self.stream.write("%s %s: %s: %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), LOG_IDENT,
                                                       level, message))
                self.stream.flush()
            except (IOError, OSError, ValueError):
                pass
        if self.syslog is not None:
            try:
                self.syslog.syslog(getattr(self.syslog, priority), message)
            except Exception:
                e = sys.exc_info()[1]
                if ovm3_compat.is_fatal(e):
                    raise

    def info(self, message):
        self._emit("info", "LOG_INFO", message)

    def warning(self, message):
        self._emit("warning", "LOG_WARNING", message)

    def error(self, message):
        self._emit("error", "LOG_ERR", message)

    def critical(self, message):
        self._emit("CRITICAL", "LOG_CRIT", message)


def default_paths():
    """Every system path the daemon touches; tests replace them all."""
    return {
        "sysrq_trigger": ovm3_hb_config.DEFAULT_SYSRQ_TRIGGER,
        "sysrq_control": ovm3_hb_config.DEFAULT_SYSRQ_CONTROL,
        "pid_file": ovm3_hb_config.DEFAULT_PID_FILE,
        "lock_file": ovm3_hb_config.DEFAULT_LOCK_FILE,
        "proc_mounts": ovm3_hb_config.DEFAULT_PROC_MOUNTS,
        "o2cb_config": ovm3_hb_config.DEFAULT_O2CB_CONFIG,
        "boot_id": ovm3_hb_config.DEFAULT_BOOT_ID,
    }


# ---- mounts ---------------------------------------------------------------------------------------------

def _unescape_mount(field):
    """/proc/mounts escapes space, tab, newline and backslash as \\ooo octal."""
    out = []
    i = 0
    while i < len(field):
        digits = field[i + 1:i + 4]
        if field[i] == "\\" and len(digits) == 3 and digits.isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i = i + 4
        else:
            out.append(field[i])
            i = i + 1
    return "".join(out)


def read_mount_table(path):
    """[(mount point, fs type)] from /proc/mounts (read only the table: never stat a mount, it may hang)."""
    table = []
    for line in ovm3_compat.read_file(path, 4 * 1024 * 1024).splitlines():
        fields = line.split()
        if len(fields) >= 3:
            table.append((_unescape_mount(fields[1]), fields[2]))
    return table


def monitored_mounts(config, proc_mounts):
    """(mounts to monitor, {configured mount: why it cannot be monitored}).

    Explicit MOUNTS must each be a mount point; otherwise the NFS mounts under REPOSITORIES are used.
    """
    table = read_mount_table(proc_mounts)
    points = {}
    for point, fstype in table:
        points[point] = fstype
    if config["mounts"]:
        ok = []
        missing = {}
        for mount in config["mounts"]:
            mount = os.path.normpath(mount)
            if mount in points:
                ok.append(mount)
            else:
                missing[mount] = "not mounted (not in %s)" % proc_mounts
        return ok + list(missing.keys()), missing
    prefix = os.path.normpath(config["repositories"]) + "/"
    found = [point for point, fstype in table if fstype in ovm3_hb_config.NFS_TYPES and point.startswith(prefix)]
    found.sort()
    return found, {}


# ---- lock and pid file ----------------------------------------------------------------------------------

def acquire_lock(path):
    """An fd holding an exclusive flock on ``path``, or None when another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, int("644", 8))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (IOError, OSError):
        os.close(fd)
        code = getattr(sys.exc_info()[1], "errno", None)
        if code in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return None
        raise
    return fd


def running_pid(paths):
    """The pid of the running daemon (its lock is held), or None."""
    if not os.path.exists(paths["lock_file"]):
        return None
    fd = acquire_lock(paths["lock_file"])
    if fd is not None:
        os.close(fd)
        return None
    try:
        return int(ovm3_compat.read_file(paths["pid_file"], 64).strip())
    except (IOError, OSError, ValueError):
        return 0


# ---- the daemon -----------------------------------------------------------------------------------------

class Watchdog:
    """``/dev/watchdog``: opening arms it, any write pets it, writing ``V`` before close disarms it."""

    def __init__(self, path):
        self.path = path
        self.fd = os.open(path, os.O_WRONLY)

    def pet(self):
        os.write(self.fd, ovm3_compat.to_bytes("."))

    def close(self, disarm):
        if self.fd is None:
            return
        if disarm:
            os.write(self.fd, ovm3_compat.to_bytes("V"))
        os.close(self.fd)
        self.fd = None


class Daemon:
    """One heartbeat writer and peer reader. ``run()`` returns an exit code."""

    def __init__(self, config, paths, log, overrides=None, read_timeout=None):
        self.config = config
        self.paths = paths
        self.log = log
        self.overrides = overrides or {}
        self.read_timeout = read_timeout
        self.stop = False
        self.reload = False
        self.lock_fd = None
        self.watchdog = None
        self.wake_r = self.wake_w = None
        self.seq = 0
        self.instance = "%d-%d" % (os.getpid(), int(time.time()))
        self.mounts = []
        self.missing = {}
        self.last_ok = {}
        self.write_error = {}
        self.writers = {}
        self.readers = {}
        self.retiring = {}
        self.fenced = False
        self.boot = ovm3_hb_record.boot_id(paths["boot_id"])
        self.book = ovm3_hb_verdict.PeerBook(config["interval"], self._read_timeout())

    def _read_timeout(self):
        if self.read_timeout:
            return self.read_timeout
        return max(self.config["interval"], self.config["timeout"] / 4.0)

    # ---- setup and teardown ----------------------------------------------------------------------
    def setup(self):
        """Take the lock, write the pid file, arm the watchdog. Returns an error message or None."""
        self.lock_fd = acquire_lock(self.paths["lock_file"])
        if self.lock_fd is None:
            return "another ovm3-heartbeat is running (lock %s held, pid %s)" % (
                self.paths["lock_file"], running_pid(self.paths))
        ovm3_compat.write_file_atomic(self.paths["pid_file"], "%d\n" % os.getpid(), int("644", 8))
        if not os.path.isdir(self.config["state_dir"]):
            os.makedirs(self.config["state_dir"], int("755", 8))
        self.mounts, self.missing = monitored_mounts(self.config, self.paths["proc_mounts"])
        if self.missing:
            return "configured mount(s) not mounted: %s" % ", ".join(sorted(self.missing.keys()))
        if self.config.get("watchdog"):
            self.watchdog = Watchdog(self.config["watchdog"])
        self.wake_r, self.wake_w = os.pipe()
        for fd in (self.wake_r, self.wake_w):
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_reload)
        warning = ovm3_hb_config.o2cb_warning(self.config, self.paths["o2cb_config"])
        if warning:
            self.log.warning(warning)
        if not self.mounts:
            self.log.warning("no NFS mounts under %s yet; watching for them" % self.config["repositories"])
        self.log.info("started: guid %s, mounts %s, interval %s s, timeout %s s, fence %s, policy %s, "
                      "watchdog %s" % (self.config["guid"], " ".join(self.mounts) or "(none)",
                                       self.config["interval"], self.config["timeout"],
                                       self.config["fence_action"], self.config["policy"],
                                       self.config.get("watchdog") or "none"))
        return None

    def _on_stop(self, signum, frame):
        self.stop = True
        self._wake()

    def _on_reload(self, signum, frame):
        self.reload = True
        self._wake()

    def _wake(self):
        try:
            os.write(self.wake_w, ovm3_compat.to_bytes("x"))
        except OSError:
            pass

    def _child_fds(self):
        fds = [self.lock_fd, self.wake_r, self.wake_w]
        if self.watchdog is not None:
            fds.append(self.watchdog.fd)
        return [fd for fd in fds if fd is not None]

    def teardown(self):
        """Clean stop: record ``stopped`` everywhere, then disarm the watchdog only if that worked."""
        for worker in self.readers.values():
            worker.sigkill()
        ovm3_hb_io.wait_all(self.writers.values(), ovm3_compat.monotonic() + STOP_WAIT)
        now = ovm3_compat.monotonic()
        record = self._record("stopped")
        stoppers = []
        for mount in self.mounts + [m for m in self.retiring.keys() if m not in self.mounts]:
            if mount in self.missing:
                continue
            stoppers.append(ovm3_hb_io.spawn(ovm3_hb_io.write_job, (mount, self.config["guid"], record),
                                             "stop", mount, now, now + STOP_WAIT, self._child_fds()))
        ovm3_hb_io.wait_all(stoppers, now + STOP_WAIT)
        failed = [w.mount for w in stoppers if not w.result()[0]] + list(self.missing.keys())
        if self.watchdog is not None:
            if failed:
                self.log.critical("could not record the stop on %s: leaving the watchdog armed, because "
                                  "peers may count this host as dead" % ", ".join(failed))
            self.watchdog.close(disarm=not failed)
        try:
            os.unlink(ovm3_hb_verdict.state_path(self.config["state_dir"]))
        except OSError:
            pass
        try:
            os.unlink(self.paths["pid_file"])
        except OSError:
            pass
        self.log.info("stopped cleanly (no fencing)")
        os.close(self.lock_fd)
        self.lock_fd = None

    # ---- the loop --------------------------------------------------------------------------------
    def run(self, ready=None):
        """Run until SIGTERM. ``ready(error or None)`` is called once setup is done."""
        error = None
        try:
            error = self.setup()
        except (OSError, IOError, ovm3_hb_config.ConfigError):
            error = str(sys.exc_info()[1])
        if ready is not None:
            ready(error)
        if error:
            self.log.error(error)
            if self.lock_fd is not None:
                os.close(self.lock_fd)
            return 1
        start = ovm3_compat.monotonic()
        for mount in self.mounts:
            self.last_ok[mount] = start
        next_tick = start
        while not self.stop:
            now = ovm3_compat.monotonic()
            if now >= next_tick:
                self.tick(now)
                next_tick = next_tick + self.config["interval"]
                if next_tick <= now:
                    next_tick = now + self.config["interval"]
            self.wait(next_tick - ovm3_compat.monotonic())
            self.collect()
            if self.reload:
                self.reload = False
                self.do_reload()
        self.teardown()
        return 0

    def wait(self, seconds):
        """The one timed wait: child pipes and the signal pipe."""
        fds = [self.wake_r]
        busy = False
        for worker in list(self.writers.values()) + list(self.readers.values()):
            if worker.eof:
                busy = True
            else:
                fds.append(worker.fd)
        if busy:
            seconds = min(seconds, 0.01)
        if seconds <= 0:
            return
        try:
            ready = select.select(fds, [], [], seconds)[0]
        except (select.error, OSError):
            return
        if self.wake_r in ready:
            try:
                os.read(self.wake_r, 64)
            except OSError:
                pass

    def collect(self):
        """Take in results of children that finished."""
        now = ovm3_compat.monotonic()
        for slots in (self.writers, self.readers):
            for mount in list(slots.keys()):
                worker = slots[mount]
                worker.pump()
                if not (worker.eof and worker.reap()):
                    continue
                worker.close()
                del slots[mount]
                if worker.kind == "retire":
                    self._retire_done(mount, worker)
                    continue
                if worker.killed or mount not in self.mounts:
                    continue
                ok, lines = worker.result()
                if worker.kind == "write":
                    self._write_done(mount, worker, ok, lines)
                else:
                    self._read_done(mount, worker, ok, lines, now)

    def _write_done(self, mount, worker, ok, lines):
        if ok:
            if worker.started > self.last_ok.get(mount, 0):
                self.last_ok[mount] = worker.started
            if self.write_error.pop(mount, None):
                self.log.info("heartbeat write to %s works again" % mount)
        else:
            message = ovm3_hb_io.error_of(lines)
            if self.write_error.get(mount) != message:
                self.log.error("heartbeat write to %s failed: %s" % (mount, message))
            self.write_error[mount] = message

    def _retire_done(self, mount, worker):
        self.retiring.pop(mount, None)
        ok, lines = worker.result()
        if worker.killed:
            ok, message = False, "no answer within %s s" % (worker.deadline - worker.started)
        elif not ok:
            message = ovm3_hb_io.error_of(lines)
        if ok:
            self.log.info("%s is no longer monitored: recorded stopped there" % mount)
        else:
            self.log.error("%s is no longer monitored, but recording stopped there failed (%s): peers "
                           "reading only that storage will not see this host as alive" % (mount, message))

    def _read_done(self, mount, worker, ok, lines, now):
        if not ok:
            self.book.read_failed(mount, ovm3_hb_io.error_of(lines), now)
            return
        try:
            results = ovm3_hb_io.parse_read_result(lines)
        except ValueError:
            self.book.read_failed(mount, str(sys.exc_info()[1]), now)
            return
        self.book.read_ok(mount, results, worker.started, now)

    def _record(self, state):
        kind = ovm3_hb_config.parse_fence_action(self.config["fence_action"])[0]
        watchdog = "none"
        if self.watchdog is not None:
            watchdog = "armed"
        return {"guid": self.config["guid"], "instance": self.instance, "seq": self.seq,
                "interval": self.config["interval"], "timeout": self.config["timeout"],
                "policy": self.config["policy"], "mounts": len(self.mounts), "time": "%.3f" % time.time(),
                "state": state, "fence": kind, "watchdog": watchdog}

    def tick(self, now):
        """One interval: refresh the mount list, start children, judge freshness, fence or pet."""
        self.collect()
        self._refresh_mounts(now)
        for slots, kind in ((self.writers, "write"), (self.readers, "read")):
            for mount in list(slots.keys()):
                worker = slots[mount]
                if now > worker.deadline and not worker.killed:
                    worker.sigkill()
                    if kind == "read":
                        self.book.read_failed(mount, "no answer within %s s" % (worker.deadline - worker.started),
                                              now)
                    else:
                        self.log.error("heartbeat write to %s blocked for %.1f s" % (mount, now - worker.started))
        for mount in self.mounts:
            if mount in self.missing:
                continue
            if mount not in self.writers:
                self.seq = self.seq + 1
                self.writers[mount] = ovm3_hb_io.spawn(
                    ovm3_hb_io.write_job, (mount, self.config["guid"], self._record("running")), "write",
                    mount, now, now + self.config["timeout"], self._child_fds())
            if mount not in self.readers:
                self.readers[mount] = ovm3_hb_io.spawn(
                    ovm3_hb_io.read_job, (mount,), "read", mount, now, now + self.book.read_timeout,
                    self._child_fds())
        for mount in list(self.retiring.keys()):
            if mount in self.mounts:
                del self.retiring[mount]  # configured again: the running records take over
            elif mount not in self.writers:
                self.writers[mount] = ovm3_hb_io.spawn(
                    ovm3_hb_io.write_job, (mount, self.config["guid"], self._record("stopped")), "retire",
                    mount, now, now + self.config["timeout"], self._child_fds())
        self.judge(now)
        try:
            ovm3_compat.write_file_atomic(ovm3_hb_verdict.state_path(self.config["state_dir"]),
                                          self.book.to_text(os.getpid(), self.boot, ovm3_compat.monotonic()),
                                          int("644", 8))
        except (OSError, IOError):
            self.log.error("cannot write state file: %s" % sys.exc_info()[1])

    def _refresh_mounts(self, now):
        try:
            mounts, missing = monitored_mounts(self.config, self.paths["proc_mounts"])
        except (OSError, IOError):
            self.log.error("cannot read %s: %s" % (self.paths["proc_mounts"], sys.exc_info()[1]))
            return
        for mount in missing.keys():
            if mount not in self.missing:
                self.log.error("monitored mount %s is %s: counted as failing" % (mount, missing[mount]))
        for mount in mounts:
            if mount not in self.last_ok:
                self.last_ok[mount] = now
                if mount not in missing:
                    self.log.info("monitoring %s" % mount)
        for mount in self.mounts:
            if mount not in mounts:
                if mount in self.retiring:
                    self.log.warning("%s is no longer configured; not monitoring it any more" % mount)
                else:
                    self.log.warning("%s is no longer mounted; not monitoring it any more" % mount)
                self.last_ok.pop(mount, None)
                self.book.forget_mount(mount)
        self.mounts, self.missing = mounts, missing

    def stale_mounts(self, now):
        return [m for m in self.mounts if now - self.last_ok.get(m, now) >= self.config["timeout"]]

    def judge(self, now):
        """Fence when the policy says so (once per stale episode); otherwise pet the watchdog."""
        stale = self.stale_mounts(now)
        if self.config["policy"] == "all":
            fence = bool(self.mounts) and len(stale) == len(self.mounts)
        else:
            fence = bool(stale)
        if not fence:
            if self.fenced:
                self.log.warning("all monitored storage is fresh again after a fence action")
            self.fenced = False
            if self.watchdog is not None:
                try:
                    self.watchdog.pet()
                except OSError:
                    self.log.error("cannot pet watchdog %s: %s" % (self.watchdog.path, sys.exc_info()[1]))
            return
        if self.fenced:
            return
        self.fenced = True
        ages = ", ".join(["%s (last write %.1f s ago)" % (m, now - self.last_ok[m]) for m in stale])
        self.fence("heartbeat stale beyond timeout %s s on %s" % (self.config["timeout"], ages))

    def fence(self, reason):
        """Log the reason first, then run the fence action."""
        kind, argv = ovm3_hb_config.parse_fence_action(self.config["fence_action"])
        self.log.critical("FENCING this host (%s): %s" % (self.config["fence_action"], reason))
        if kind == "log-only":
            self.log.critical("fence action is log-only: NOT fencing; peers will not count this host as dead")
        elif kind == "command":
            try:
                rc, out, err = ovm3_compat.run(argv, max(self.config["timeout"], 30.0))
                self.log.critical("fence command %s exited %s %s" % (argv[0], rc, (out + err).strip()[:200]))
            except (OSError, ovm3_compat.CommandTimeout):
                self.log.critical("fence command %s failed: %s" % (argv[0], sys.exc_info()[1]))
        else:
            letter = "c"
            if kind == "reboot":
                letter = "b"
            try:
                _write_proc(self.paths["sysrq_control"], "1")
            except (OSError, IOError):
                self.log.error("cannot enable sysrq via %s: %s" % (self.paths["sysrq_control"], sys.exc_info()[1]))
            try:
                _write_proc(self.paths["sysrq_trigger"], letter)
            except (OSError, IOError):
                self.log.critical("sysrq %s via %s failed: %s" % (letter, self.paths["sysrq_trigger"],
                                                                 sys.exc_info()[1]))

    def do_reload(self):
        """SIGHUP: re-read the config file; keep running with the old one when it cannot be used.

        Refused (old settings kept, the reason logged): an unreadable or invalid file, or a newly
        configured mount that is not mounted (setup refuses the same; here it would fence the host
        after TIMEOUT). GUID, STATE_DIR and WATCHDOG need a restart: their old values are kept. A mount
        no longer configured gets a ``stopped`` record, so peers reading only that storage never take
        its silence for a dead host.
        """
        path = self.config.get("config_path")
        if not path:
            self.log.warning("SIGHUP: no config file to reload")
            return
        try:
            config = ovm3_hb_config.load_config(path)
            ovm3_hb_config.apply_overrides(config, self.overrides)
            ovm3_hb_config.validate(config)
            for key in RESTART_KEYS:
                if config.get(key) != self.config.get(key):
                    self.log.warning("SIGHUP: %s changes need a restart; keeping %s" % (
                        key.upper(), self.config.get(key) or "none"))
                    config[key] = self.config.get(key)
            mounts, missing = monitored_mounts(config, self.paths["proc_mounts"])
            added = [m for m in missing.keys() if m not in self.mounts]
            if added:
                added.sort()
                raise ovm3_hb_config.ConfigError("configured mount(s) not mounted: %s" % ", ".join(added))
        except Exception:
            e = sys.exc_info()[1]
            if ovm3_compat.is_fatal(e):
                raise
            self.log.error("SIGHUP: keeping the old configuration: %s" % e)
            return
        for mount in self.mounts:
            if mount not in mounts and mount not in self.missing:
                self.retiring[mount] = True
        self.config = config
        self.book.interval = config["interval"]
        self.book.read_timeout = self._read_timeout()
        self.log.info("SIGHUP: configuration reloaded from %s: mounts %s, interval %s s, timeout %s s, "
                      "fence %s, policy %s" % (path, " ".join(mounts) or "(none)", config["interval"],
                                               config["timeout"], config["fence_action"], config["policy"]))


def _write_proc(path, text):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, ovm3_compat.to_bytes(text))
    finally:
        os.close(fd)
