"""The heartbeat daemon: setup, one loop with one timed wait, teardown.

Every interval the daemon first judges, then, for every monitored mount, a child writes our record
and another reads every peer's (see :mod:`ovm3_hb_io`); the loop itself only forks, waits on pipes and
decides. A mount whose last successful write *started* more than TIMEOUT ago is stale, and so is one
whose storage is not the one recorded at start (:mod:`ovm3_hb_mounts`); per the policy (any/all) a
stale set fences the host: the reason is logged first, then the action runs (sysrq crash/reboot, an
operator command, or nothing with log-only). A fence decision is final (except log-only): no more
``running`` records, no more pets, and a daemon started again in the same boot refuses to run. The
promise our records carry (timeout, interval, policy, fence action) is never weaker than what we
enforce: a SIGHUP may tighten at once, and weakens only once a record with the new values is on every
mount. SIGTERM writes ``stopped`` and exits without fencing. dom0 Python 2.4..3.x.
"""
import binascii
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
import ovm3_hb_mounts
import ovm3_hb_record
import ovm3_hb_verdict
import ovm3_hb_watchdog

LOG_IDENT = "ovm3-heartbeat"
STOP_WAIT = 5.0
#: Settings a SIGHUP cannot change (the running daemon's files and devices depend on them).
RESTART_KEYS = ("guid", "state_dir", "watchdog", "watchdog_timeout")
#: The settings a record promises to peers (see :func:`strictest`).
PROMISE_KEYS = ("timeout", "interval", "policy", "fence_action")
FENCED_FILE = "fenced"


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
        "mountinfo": ovm3_hb_config.DEFAULT_MOUNTINFO,
        "o2cb_config": ovm3_hb_config.DEFAULT_O2CB_CONFIG,
        "boot_id": ovm3_hb_config.DEFAULT_BOOT_ID,
    }


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


# ---- the promise ------------------------------------------------------------------------------------------

def promise_of(config):
    """The settings of ``config`` a record promises to peers."""
    return dict([(key, config[key]) for key in PROMISE_KEYS])


def _real(action):
    return ovm3_hb_config.parse_fence_action(action)[0] in ovm3_hb_config.REAL_FENCES


def strictest(old, new):
    """The promise that keeps both ``old`` and ``new``: the shorter timeout and interval, ``any`` over
    ``all``, and a real fence action (crash/reboot) over one that only logs or runs a command."""
    out = {"timeout": min(old["timeout"], new["timeout"]), "interval": min(old["interval"], new["interval"])}
    out["policy"] = "all"
    if "any" in (old["policy"], new["policy"]):
        out["policy"] = "any"
    out["fence_action"] = new["fence_action"]
    if _real(old["fence_action"]) and not _real(new["fence_action"]):
        out["fence_action"] = old["fence_action"]
    return out


def new_instance():
    """A per-start random instance id (16 hex digits): a second writer of our guid differs from it."""
    return ovm3_compat.to_text(binascii.hexlify(os.urandom(8)))


def read_fenced(state_dir):
    """The fence decision recorded in ``state_dir`` -> dict (boot_id, reason, ...) or None."""
    try:
        text = ovm3_compat.read_file(os.path.join(state_dir, FENCED_FILE), 65536)
    except (IOError, OSError):
        return None
    kind, fields = ovm3_hb_record.parse_line(text.strip())
    if kind != "fenced":
        return {"boot_id": "", "reason": "unreadable fence record"}
    return fields


# ---- the daemon -----------------------------------------------------------------------------------------

class Daemon:
    """One heartbeat writer and peer reader. ``run()`` returns an exit code."""

    def __init__(self, config, paths, log, overrides=None, read_timeout=None, watchdog_ioctl=None):
        self.config = config
        self.enforced = promise_of(config)
        self.paths = paths
        self.log = log
        self.overrides = overrides or {}
        self.read_timeout = read_timeout
        self.watchdog_ioctl = watchdog_ioctl
        self.stop = False
        self.reload = False
        self.lock_fd = None
        self.watchdog = None
        self.wake_r = self.wake_w = None
        self.seq = 0
        self.instance = new_instance()
        self.mounts = []
        self.identity = {}
        self.inode = {}
        self.written = {}
        self.failed = {}
        self.last_ok = {}
        self.write_error = {}
        self.writers = {}
        self.readers = {}
        self.retiring = {}
        self.released = {}
        self.generation = 0
        self.published = {}
        self.fenced = False
        self.final = False
        self.conflict = False
        self.boot = ovm3_hb_record.boot_id(paths["boot_id"])
        self.book = ovm3_hb_verdict.PeerBook(config["interval"], self._read_timeout())

    def _read_timeout(self):
        if self.read_timeout:
            return self.read_timeout
        return max(self.config["interval"], self.config["timeout"] / 4.0)

    # ---- setup and teardown ----------------------------------------------------------------------
    def setup(self):
        """Take the lock, write the pid file, record the storage, arm the watchdog -> error or None."""
        self.lock_fd = acquire_lock(self.paths["lock_file"])
        if self.lock_fd is None:
            return "another ovm3-heartbeat is running (lock %s held, pid %s)" % (
                self.paths["lock_file"], running_pid(self.paths))
        ovm3_compat.write_file_atomic(self.paths["pid_file"], "%d\n" % os.getpid(), int("644", 8))
        if not os.path.isdir(self.config["state_dir"]):
            os.makedirs(self.config["state_dir"], int("755", 8))
        fenced = read_fenced(self.config["state_dir"])
        if fenced is not None and (not self.boot or fenced.get("boot_id") in (self.boot, "")):
            return ("this host decided to fence itself in this boot (%s: %s); a fence is final: reboot the "
                    "host (or, once its VMs are certainly stopped, remove %s)" % (
                        fenced.get("time", "?"), fenced.get("reason", "?"),
                        os.path.join(self.config["state_dir"], FENCED_FILE)))
        table = ovm3_hb_mounts.read_mountinfo(self.paths["mountinfo"])
        mounts, missing = ovm3_hb_mounts.monitored_mounts(self.config, table)
        if missing:
            return "configured mount(s) not mounted: %s" % ", ".join(sorted(missing.keys()))
        points = ovm3_hb_mounts.visible(table)
        for mount in mounts:
            self.identity[mount] = points[mount]
        self.mounts = mounts
        error = self._join()
        if error:
            return error
        if self.config.get("watchdog"):
            ioctl = self.watchdog_ioctl or ovm3_hb_watchdog._default_ioctl
            try:
                self.watchdog = ovm3_hb_watchdog.Watchdog(self.config["watchdog"],
                                                          self.config.get("watchdog_timeout"), ioctl, self.log)
            except ovm3_hb_watchdog.WatchdogError:
                return str(sys.exc_info()[1])
            if self.watchdog.timeout <= 2 * self.config["interval"]:
                self.watchdog.close(disarm=True)
                self.watchdog = None
                return "the watchdog timeout must exceed 2 x INTERVAL (%s s)" % self.config["interval"]
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
        for mount in self.mounts:
            self.log.info("monitoring %s: %s" % (mount, ovm3_hb_mounts.describe(self.identity[mount])))
        self.log.info("started: guid %s, instance %s, mounts %s, interval %s s, timeout %s s, fence %s, "
                      "policy %s, watchdog %s" % (self.config["guid"], self.instance,
                                                   " ".join(self.mounts) or "(none)",
                                                   self.config["interval"], self.config["timeout"],
                                                   self.config["fence_action"], self.config["policy"],
                                                   self._watchdog_text()))
        return None

    def _read_own(self):
        """{mount: (instance, seq, state, timeout + interval)} of our guid's records, read in children."""
        now = ovm3_compat.monotonic()
        workers = [ovm3_hb_io.spawn(ovm3_hb_io.read_job, (m, self.config["guid"]), "read", m, now,
                                    now + self._read_timeout(), self._child_fds()) for m in self.mounts]
        hung = ovm3_hb_io.wait_all(workers, now + self._read_timeout())
        out = {}
        for worker in workers:
            if worker in hung:
                worker.sigkill()
                continue
            ok, lines = worker.result()
            try:
                if not ok:
                    continue
                result = ovm3_hb_io.parse_read_result(lines).get(self.config["guid"])
            except ValueError:
                continue
            if result is not None and result[0] == "ok":
                r = result[1]
                out[worker.mount] = (r["instance"], r["seq"], r["state"], r["timeout"] + r["interval"], r["boot"])
        return out

    def _join(self):
        """Like sanlock's host-id check: a ``running`` record of our guid from another instance is
        watched for the timeout it promised before we write; if it advances, another daemon uses this
        identity and we refuse to start. A record written in this boot is our own predecessor's: we
        hold the lock, so it no longer runs. Returns an error or None."""
        seen = self._read_own()
        running = [m for m in seen.keys() if seen[m][2] == "running" and seen[m][0] != self.instance
                   and not (self.boot and seen[m][4] == self.boot)]
        if not running:
            return None
        wait = max([seen[m][3] for m in running])
        self.log.warning("found a running heartbeat of guid %s from instance %s on %s: watching it for %.1f s "
                         "before writing" % (self.config["guid"], seen[running[0]][0], ", ".join(running), wait))
        time.sleep(wait)
        again = self._read_own()
        for mount in running:
            now = again.get(mount)
            if now is not None and now[:2] != seen[mount][:2]:
                return ("another daemon writes the heartbeat of guid %s on %s (instance %s advanced from seq %s "
                        "to %s): refusing to start a second writer" % (self.config["guid"], mount, now[0],
                                                                       seen[mount][1], now[1]))
        return None

    def _watchdog_text(self):
        if self.watchdog is None:
            return "none"
        return "%s (timeout %s s)" % (self.watchdog.path, self.watchdog.timeout)

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

    def _write(self, mount, state, kind, now):
        """Start a child writing our record in ``state`` to ``mount`` (one write per mount at a time)."""
        self.seq = self.seq + 1
        device = self.identity[mount]["device"]
        worker = ovm3_hb_io.spawn(
            ovm3_hb_io.write_job, (mount, self.config["guid"], self._record(state), device,
                                   self.inode.get(mount)),
            kind, mount, now, now + self.config["timeout"], self._child_fds(), tag=self.generation)
        return worker

    def teardown(self):
        """Clean stop: record ``stopped`` everywhere, then disarm the watchdog only if that worked.

        After a (non log-only) fence decision nothing is written and the watchdog stays armed: the host
        is to be reset, and peers may already count it as dead."""
        for worker in self.readers.values():
            worker.sigkill()
        ovm3_hb_io.wait_all(self.writers.values(), ovm3_compat.monotonic() + STOP_WAIT)
        if self.final:
            self.log.critical("stopping after a fence decision: no stopped record, watchdog left armed")
            if self.watchdog is not None:
                self.watchdog.close(disarm=False)
            self._release()
            return
        now = ovm3_compat.monotonic()
        stoppers = []
        targets = self.mounts + [m for m in self.retiring.keys() if m not in self.mounts]
        for mount in targets:
            if mount in self.failed:
                continue
            stoppers.append(self._write(mount, "stopped", "stop", now))
        ovm3_hb_io.wait_all(stoppers, now + STOP_WAIT)
        failed = [w.mount for w in stoppers if not w.result()[0]] + list(self.failed.keys())
        if self.watchdog is not None:
            if failed:
                self.log.critical("could not record the stop on %s: leaving the watchdog armed, because "
                                  "peers may count this host as dead" % ", ".join(failed))
            self.watchdog.close(disarm=not failed)
        self._release()
        self.log.info("stopped cleanly (no fencing)")

    def _release(self):
        try:
            os.unlink(ovm3_hb_verdict.state_path(self.config["state_dir"]))
        except OSError:
            pass
        try:
            os.unlink(self.paths["pid_file"])
        except OSError:
            pass
        os.close(self.lock_fd)
        self.lock_fd = None

    # ---- the loop --------------------------------------------------------------------------------
    def run(self, ready=None):
        """Run until SIGTERM. ``ready(error or None)`` is called once setup is done."""
        error = None
        try:
            error = self.setup()
        except (OSError, IOError, ovm3_hb_config.ConfigError, ovm3_hb_mounts.MountinfoError):
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
                interval = self.enforced["interval"]
                next_tick = next_tick + interval
                if next_tick <= now:
                    next_tick = now + interval
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
            try:
                device, inode = ovm3_hb_io.parse_write_result(lines)
            except ValueError:
                ok, lines = False, ["error message=" + ovm3_hb_record.quote(str(sys.exc_info()[1]))]
        if ok:
            if mount not in self.inode:
                self.inode[mount] = inode
            if mount not in self.written:
                self.written[mount] = ovm3_compat.monotonic()
            if worker.started > self.last_ok.get(mount, 0):
                self.last_ok[mount] = worker.started
            if worker.tag is not None and worker.tag > self.published.get(mount, -1):
                self.published[mount] = worker.tag
            if self.write_error.pop(mount, None):
                self.log.info("heartbeat write to %s works again" % mount)
        else:
            message = ovm3_hb_io.error_of(lines)
            if self.write_error.get(mount) != message:
                self.log.error("heartbeat write to %s failed: %s" % (mount, message))
            self.write_error[mount] = message

    def _retire_done(self, mount, worker):
        ok, lines = worker.result()
        if worker.killed:
            ok, message = False, "no answer within %s s" % (worker.deadline - worker.started)
        elif not ok:
            message = ovm3_hb_io.error_of(lines)
        if ok:
            self.retiring.pop(mount, None)
            self.last_ok.pop(mount, None)
            self.book.forget_mount(mount)
            self.log.info("%s is no longer monitored: recorded stopped there" % mount)
        else:
            # Peers reading only that storage still see our last running record: keep judging it.
            self.log.error("%s is to be no longer monitored, but recording stopped there failed (%s); "
                           "it still counts, retrying" % (mount, message))

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
        own = results.get(self.config["guid"])
        # Only a read that began after one of our writes landed there can show another writer: before
        # that, the file still holds our predecessor's record.
        ours_landed = mount in self.written and worker.started > self.written[mount]
        if (ours_landed and own is not None and own[0] == "ok" and own[1]["instance"] != self.instance
                and not self.conflict):
            self.conflict = True
            self.log.critical("SECOND WRITER: %s holds a heartbeat of guid %s from instance %s, not ours (%s): "
                              "another daemon uses this host's identity. Every record is marked conflict "
                              "from now on, so peers say UNKNOWN instead of trusting either writer; stop "
                              "the other one" % (mount, self.config["guid"], own[1]["instance"],
                                                 self.instance))

    def _record(self, state):
        kind = ovm3_hb_config.parse_fence_action(self.config["fence_action"])[0]
        watchdog, wd_timeout = "none", 0
        if self.watchdog is not None:
            watchdog, wd_timeout = "armed", self.watchdog.timeout
        conflict = "0"
        if self.conflict:
            conflict = "1"
        return {"guid": self.config["guid"], "instance": self.instance, "seq": self.seq,
                "interval": self.config["interval"], "timeout": self.config["timeout"],
                "policy": self.config["policy"], "mounts": len(self.mounts), "time": "%.3f" % time.time(),
                "state": state, "fence": kind, "watchdog": watchdog, "watchdog_timeout": wd_timeout,
                "conflict": conflict, "boot": self.boot}

    def tick(self, now):
        """One interval: refresh the mounts, judge (before any write: after a pause, a stale host must
        not look fresh), then start children, and save the state file."""
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
        self._check_published()
        self.judge(now)
        if not self.final:
            for mount in self.mounts:
                if mount in self.failed:
                    continue
                if mount not in self.writers:
                    self.writers[mount] = self._write(mount, "running", "write", now)
            for mount in list(self.retiring.keys()):
                if mount not in self.writers and mount in self.identity:
                    self.writers[mount] = self._write(mount, "stopped", "retire", now)
        for mount in self.mounts:
            if mount not in self.failed and mount not in self.readers:
                self.readers[mount] = ovm3_hb_io.spawn(
                    ovm3_hb_io.read_job, (mount,), "read", mount, now, now + self.book.read_timeout,
                    self._child_fds())
        try:
            ovm3_compat.write_file_atomic(ovm3_hb_verdict.state_path(self.config["state_dir"]),
                                          self.book.to_text(os.getpid(), self.boot, ovm3_compat.monotonic()),
                                          int("644", 8))
        except (OSError, IOError):
            self.log.error("cannot write state file: %s" % sys.exc_info()[1])

    def _refresh_mounts(self, now):
        """Compare the mount table with the storage recorded at start; add new repositories.

        A monitored mount that disappeared or now shows another device, type, source or mount id is
        failed (no write goes to it, so it goes stale): only the planned-removal request or a SIGHUP
        that drops it from MOUNTS takes a mount out without counting."""
        try:
            table = ovm3_hb_mounts.read_mountinfo(self.paths["mountinfo"])
        except (OSError, IOError, ovm3_hb_mounts.MountinfoError):
            self.log.error("cannot read %s: %s" % (self.paths["mountinfo"], sys.exc_info()[1]))
            return
        self._take_removals(now)
        points = ovm3_hb_mounts.visible(table)
        wanted = ovm3_hb_mounts.monitored_mounts(self.config, table)[0]
        for mount in self.mounts:
            why = ovm3_hb_mounts.changed(self.identity[mount], points.get(mount))
            if why and self.failed.get(mount) != why:
                self.log.critical("monitored storage %s is %s: counted as failed (restart the daemon to "
                                  "accept a new mount)" % (mount, why))
                self.failed[mount] = why
            elif not why and mount in self.failed:
                self.log.warning("monitored storage %s is the one recorded at start again" % mount)
                del self.failed[mount]
        for mount in wanted:
            if mount not in self.mounts and mount not in self.retiring and mount in points:
                if mount in self.released:
                    if not ovm3_hb_mounts.changed(self.released[mount], points[mount]):
                        continue  # removal announced, not unmounted yet
                    del self.released[mount]
                self.mounts.append(mount)
                self.identity[mount] = points[mount]
                self.inode.pop(mount, None)
                self.written.pop(mount, None)
                self.last_ok[mount] = now
                self.log.info("monitoring %s: %s" % (mount, ovm3_hb_mounts.describe(points[mount])))

    def _take_removals(self, now):
        """Planned removals announced in STATE_DIR (see ovm3_hb_config.request_removal): retire those
        mounts (record stopped, stop monitoring), then delete the request, which answers the requester."""
        for mount, request in ovm3_hb_config.removal_requests(self.config["state_dir"]):
            if mount in self.mounts:
                self.mounts.remove(mount)
                self.failed.pop(mount, None)
                self.retiring[mount] = True
                self.released[mount] = self.identity[mount]
                self.log.info("planned removal of %s announced: recording stopped there" % mount)
            if mount not in self.retiring:
                try:
                    os.unlink(request)
                except OSError:
                    pass

    def _check_published(self):
        """Weaken the enforced promise once a record with the new values is on every mount."""
        wanted = promise_of(self.config)
        if self.enforced == wanted:
            return
        if self.retiring:
            return
        for mount in self.mounts:
            if self.published.get(mount, -1) < self.generation:
                return
        self.log.info("the new settings are recorded on every mount: now enforcing timeout %s s, interval "
                      "%s s, policy %s, fence %s" % (wanted["timeout"], wanted["interval"], wanted["policy"],
                                                     wanted["fence_action"]))
        self.enforced = wanted

    def judged_mounts(self):
        """Mounts whose freshness counts: the monitored ones, and those whose stopped record has not
        landed yet (peers reading them still see our running record)."""
        return self.mounts + [m for m in self.retiring.keys() if m not in self.mounts and m in self.last_ok]

    def stale_mounts(self, now):
        timeout = self.enforced["timeout"]
        return [m for m in self.judged_mounts() if now - self.last_ok.get(m, now) >= timeout]

    def judge(self, now):
        """Fence when the enforced policy says so; otherwise pet the watchdog. After a real fence
        decision the daemon never pets again (log-only resumes once the storage is fresh)."""
        if self.final:
            return
        stale = self.stale_mounts(now)
        judged = self.judged_mounts()
        if self.enforced["policy"] == "all":
            fence = bool(judged) and len(stale) == len(judged)
        else:
            fence = bool(stale)
        if not fence:
            if self.fenced:
                self.log.warning("all monitored storage is fresh again after a log-only fence action")
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
        ages = []
        for m in stale:
            text = "%s (last write %.1f s ago" % (m, now - self.last_ok[m])
            if m in self.failed:
                text = text + "; %s" % self.failed[m]
            ages.append(text + ")")
        self.fence("heartbeat stale beyond timeout %s s on %s" % (self.enforced["timeout"], ", ".join(ages)))

    def fence(self, reason):
        """Record the decision (with this boot's id), log the reason, then run the fence action."""
        action = self.enforced["fence_action"]
        kind, argv = ovm3_hb_config.parse_fence_action(action)
        if kind != "log-only":
            self.final = True
            try:
                ovm3_compat.write_file_atomic(
                    os.path.join(self.config["state_dir"], FENCED_FILE),
                    ovm3_hb_record.format_line("fenced", {"boot_id": self.boot, "reason": reason[:300],
                                                          "time": "%.3f" % time.time(), "action": action}) + "\n",
                    int("644", 8))
            except (OSError, IOError):
                self.log.error("cannot record the fence decision: %s" % sys.exc_info()[1])
        self.log.critical("FENCING this host (%s): %s" % (action, reason))
        if kind == "log-only":
            self.log.critical("fence action is log-only: NOT fencing; peers will not count this host as dead")
            return
        self.log.critical("fence decision is final: no more heartbeats, no more watchdog pets")
        if kind == "command":
            try:
                rc, out, err = ovm3_compat.run(argv, max(self.enforced["timeout"], 30.0))
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
                self.log.critical("sysrq %s via %s failed: %s; the watchdog (no longer petted) resets the host"
                                  % (letter, self.paths["sysrq_trigger"], sys.exc_info()[1]))

    def do_reload(self):
        """SIGHUP: re-read the config file; keep running with the old one when it cannot be used.

        Refused (old settings kept, the reason logged): an unreadable or invalid file, or a newly
        configured mount that is not mounted (setup refuses the same; here it would fence the host
        after TIMEOUT). GUID, STATE_DIR, WATCHDOG and WATCHDOG_TIMEOUT need a restart: their old values
        are kept. A mount no longer configured gets a ``stopped`` record, so peers reading only that
        storage never take its silence for a dead host. Tightened settings are enforced at once;
        weakened ones only once a record carrying them is on every mount (:meth:`_check_published`).
        """
        path = self.config.get("config_path")
        if not path:
            self.log.warning("SIGHUP: no config file to reload")
            return
        try:
            config = ovm3_hb_config.load_config(path)
            ovm3_hb_config.apply_overrides(config, self.overrides)
            for key in RESTART_KEYS:
                if config.get(key) != self.config.get(key):
                    self.log.warning("SIGHUP: %s changes need a restart; keeping %s" % (
                        key.upper(), self.config.get(key) or "none"))
                    config[key] = self.config.get(key)
            ovm3_hb_config.validate(config)
            if self.watchdog is not None and self.watchdog.timeout <= 2 * config["interval"]:
                raise ovm3_hb_config.ConfigError("INTERVAL %s s is too long for the watchdog timeout %s s"
                                                 % (config["interval"], self.watchdog.timeout))
            table = ovm3_hb_mounts.read_mountinfo(self.paths["mountinfo"])
            mounts, missing = ovm3_hb_mounts.monitored_mounts(config, table)
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
        for mount in list(self.mounts):
            if mount not in mounts:
                self.mounts.remove(mount)
                self.failed.pop(mount, None)
                self.retiring[mount] = True
        for mount in mounts:
            self.retiring.pop(mount, None)
        self.config = config
        self.generation = self.generation + 1
        self.enforced = strictest(self.enforced, promise_of(config))
        self.book.interval = config["interval"]
        self.book.read_timeout = self._read_timeout()
        self.log.info("SIGHUP: configuration reloaded from %s: mounts %s, interval %s s, timeout %s s, "
                      "fence %s, policy %s" % (path, " ".join(mounts) or "(none)", config["interval"],
                                               config["timeout"], config["fence_action"], config["policy"]))
        if self.enforced != promise_of(config):
            self.log.warning("SIGHUP: enforcing timeout %s s, interval %s s, policy %s, fence %s until the new "
                             "settings are recorded on every mount (peers still read the old ones)" % (
                                 self.enforced["timeout"], self.enforced["interval"], self.enforced["policy"],
                                 self.enforced["fence_action"]))


def _write_proc(path, text):
    fd = os.open(path, os.O_WRONLY)
    try:
        ovm3_compat.write_all(fd, text)
    finally:
        os.close(fd)
