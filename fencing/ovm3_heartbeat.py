#!/usr/bin/env python
"""ovm3-heartbeat: self-fencing NFS heartbeat daemon and the three-valued host verdict (dom0 Python).

Usage: ovm3_heartbeat.py [-c CONFIG] [options] start|stop|status|run|check

  run      the daemon in the foreground          start   the daemon in the background
  stop     SIGTERM the daemon (never fences)     status  exit 0 when running, 3 when not
  check    one-line JSON verdict of the host -g GUID: exit 0 ALIVE, 3 DEAD, 4 UNKNOWN

CloudStack's storagehealth.py flags work too: ``-g GUID -t TIMEOUT -i INTERVAL`` starts the daemon,
``-g GUID -s`` checks a peer. The config file (default /etc/sysconfig/ovm3-heartbeat, ``KEY=value``
lines: GUID, MOUNTS, INTERVAL, TIMEOUT, FENCE_ACTION, POLICY, WATCHDOG, WATCHDOG_TIMEOUT, STATE_DIR,
MARGIN, REPOSITORIES) is the single source of the settings; flags override it. Exit codes: 0 ok/ALIVE,
1 error, 2 usage, 3 DEAD/not running, 4 UNKNOWN. Runs on Python 2.4 through 3.x, stdlib only.
"""
import optparse
import os
import select
import signal
import sys
import time

# A checkout keeps the shared dom0 helpers in ../hostlib; deployed copies sit side by side.
_HERE = os.path.dirname(os.path.abspath(__file__))
for _folder in (_HERE, os.path.join(os.path.dirname(_HERE), "hostlib")):
    if os.path.isdir(_folder) and _folder not in sys.path:
        sys.path.append(_folder)

import ovm3_compat  # noqa: E402
import ovm3_hb_config  # noqa: E402
import ovm3_hb_daemon  # noqa: E402
import ovm3_hb_io  # noqa: E402
import ovm3_hb_mounts  # noqa: E402
import ovm3_hb_record  # noqa: E402
import ovm3_hb_verdict  # noqa: E402
from ovm3_hb_config import ConfigError  # noqa: E402

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_DEAD, EXIT_UNKNOWN = 0, 1, 2, 3, 4
VERDICT_EXIT = {"ALIVE": EXIT_OK, "DEAD": EXIT_DEAD, "UNKNOWN": EXIT_UNKNOWN}
COMMANDS = ("start", "stop", "status", "run", "check")
START_WAIT = 30.0

default_paths = ovm3_hb_daemon.default_paths


# ---- the verdict (the agent module's check_dom0_storage_verdict calls this) --------------------------

def verdict(config, guid, paths=None, window=None, margin=None, read_timeout=None):
    """The three-valued verdict on host ``guid`` -> dict of XML-RPC-safe values.

    Keys: verdict ('ALIVE'|'DEAD'|'UNKNOWN'), reason, guid, since_progress (seconds as a string, ''
    when never seen), timeout, interval (the writer's, strings), mounts (per-mount details),
    observed_by ('daemon': answered at once from the local daemon's record; 'probe': no daemon runs
    here, so the storage was watched for a bounded ``window`` of seconds).
    """
    paths = _paths(config, paths)
    if margin is None:
        margin = config.get("margin")
    if not ovm3_hb_config.valid_guid(guid or ""):
        return {"verdict": "UNKNOWN", "reason": "invalid guid %r" % (guid,), "guid": str(guid),
                "observed_by": "none", "mounts": [], "since_progress": ""}
    result, why = recorded_verdict(config, guid, paths, margin)
    if result is not None:
        return result
    result = probe(config, guid, paths, window, margin, read_timeout)
    result["observed_by"] = "probe"
    result["note"] = why
    return result


def _paths(config, paths=None):
    if paths is None:
        # The same system paths the daemon uses: the config file may move them (tests, sandboxes).
        paths = default_paths()
        for key in paths.keys():
            if config.get(key):
                paths[key] = config[key]
    return paths


def recorded_verdict(config, guid, paths=None, margin=None):
    """The verdict from the local daemon's record only -> ``(result, None)``, or ``(None, why)`` when
    no daemon keeps a record here. Never probes the storage, never waits (the stats service uses it)."""
    paths = _paths(config, paths)
    if margin is None:
        margin = config.get("margin")
    now = ovm3_compat.monotonic()
    boot = ovm3_hb_record.boot_id(paths["boot_id"])
    book, why = ovm3_hb_verdict.load_state(ovm3_hb_verdict.state_path(config["state_dir"]), boot, now)
    if book is None:
        return None, why
    result = ovm3_hb_verdict.evaluate(book, guid, now, margin)
    result["observed_by"] = "daemon"
    return result, None


def probe(config, guid, paths, window=None, margin=None, read_timeout=None):
    """Watch ``guid``'s heartbeat files for at most ``window`` seconds (default: three of the writer's
    intervals plus a second) when no local daemon keeps a record. Reads run in detached children."""
    try:
        mounts, missing = ovm3_hb_mounts.monitored_mounts(config, ovm3_hb_mounts.read_mountinfo(paths["mountinfo"]))
    except (OSError, IOError, ovm3_hb_mounts.MountinfoError):
        return {"verdict": "UNKNOWN", "reason": "cannot read %s: %s" % (paths["mountinfo"], sys.exc_info()[1]),
                "guid": guid, "mounts": [], "since_progress": ""}
    if read_timeout is None:
        read_timeout = max(config["interval"], min(config["timeout"] / 4.0, 5.0))
    book = ovm3_hb_verdict.PeerBook(config["interval"], read_timeout)
    start = ovm3_compat.monotonic()
    for mount in missing.keys():
        book.read_failed(mount, missing[mount], start)
    limit = window
    result = None
    while True:
        began = ovm3_compat.monotonic()
        workers = []
        for mount in mounts:
            if mount not in missing:
                workers.append(ovm3_hb_io.spawn(ovm3_hb_io.read_job, (mount, guid), "read", mount, began,
                                                began + read_timeout, detach=True))
        hung = ovm3_hb_io.wait_all(workers, began + read_timeout)
        now = ovm3_compat.monotonic()
        for worker in workers:
            if worker in hung:
                worker.close()
                book.read_failed(worker.mount, "no answer within %s s" % read_timeout, now)
                continue
            ok, lines = worker.result()
            try:
                if not ok:
                    raise ValueError(ovm3_hb_io.error_of(lines))
                book.read_ok(worker.mount, ovm3_hb_io.parse_read_result(lines), worker.started, now)
            except ValueError:
                book.read_failed(worker.mount, str(sys.exc_info()[1]), now)
        result = ovm3_hb_verdict.evaluate(book, guid, now, margin)
        step = min(config["interval"], 1.0)
        if result.get("interval"):
            step = min(float(result["interval"]), 1.0)
        if limit is None:
            limit = 3 * step + 1.0
        if result["verdict"] != "UNKNOWN" or hung or not workers or now - start + step > limit:
            break
        time.sleep(step)
    result["window"] = "%.1f" % (ovm3_compat.monotonic() - start)
    return result


# ---- daemon control -------------------------------------------------------------------------------------

def _daemon(config, paths, opts, overrides, stream):
    log = ovm3_hb_daemon.Log(stream, use_syslog=not opts.no_syslog)
    return ovm3_hb_daemon.Daemon(config, paths, log, overrides, opts.read_timeout)


def start(config, paths, opts, overrides, out):
    """Start the daemon in the background; report only after it took the lock and armed itself."""
    pid = ovm3_hb_daemon.running_pid(paths)
    if pid is not None:
        out.write("ovm3-heartbeat is already running (pid %s)\n" % pid)
        return EXIT_OK
    rfd, wfd = os.pipe()
    child = os.fork()
    if child == 0:
        code = EXIT_ERROR
        try:
            try:
                os.close(rfd)
                os.setsid()
                if os.fork() != 0:
                    os._exit(0)
                os.chdir("/")
                os.umask(int("022", 8))
                null = os.open(os.devnull, os.O_RDWR)
                os.dup2(null, 0)
                target = null
                if opts.log_file:
                    target = os.open(opts.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, int("644", 8))
                os.dup2(target, 1)
                os.dup2(target, 2)

                def ready(error):
                    message = "ok %d" % os.getpid()
                    if error:
                        message = "error " + error
                    os.write(wfd, ovm3_compat.to_bytes(message))
                    os.close(wfd)

                stream = None
                if opts.log_file:
                    stream = sys.stderr
                code = _daemon(config, paths, opts, overrides, stream).run(ready)
            except Exception:
                try:
                    os.write(wfd, ovm3_compat.to_bytes("error %s" % sys.exc_info()[1]))
                except OSError:
                    pass
        finally:
            os._exit(code)
    os.close(wfd)
    ovm3_compat.retry_eintr(os.waitpid, child, 0)
    chunks = []
    # Setup may watch a leftover record of our guid for its timeout before answering (second writers).
    deadline = ovm3_compat.monotonic() + START_WAIT + 2 * config["timeout"]
    while ovm3_compat.monotonic() < deadline:
        ready = ovm3_compat.retry_eintr(select.select, [rfd], [], [], 1.0)[0]
        if ready:
            data = os.read(rfd, 4096)
            if not data:
                break
            chunks.append(ovm3_compat.to_text(data))
    os.close(rfd)
    message = "".join(chunks)
    if message.startswith("ok "):
        out.write("ovm3-heartbeat started (pid %s)\n" % message[3:])
        return EXIT_OK
    sys.stderr.write("ovm3-heartbeat: error: not started: %s\n" % (message[6:] or "no answer from the daemon"))
    return EXIT_ERROR


def stop(config, paths, out):
    """SIGTERM the daemon and wait until it released its lock (it writes ``stopped`` first)."""
    pid = ovm3_hb_daemon.running_pid(paths)
    if pid is None:
        out.write("ovm3-heartbeat is not running\n")
        return EXIT_OK
    if not pid:
        sys.stderr.write("ovm3-heartbeat: error: the lock is held but %s has no pid\n" % paths["pid_file"])
        return EXIT_ERROR
    os.kill(pid, signal.SIGTERM)
    deadline = ovm3_compat.monotonic() + 2 * ovm3_hb_daemon.STOP_WAIT + 5
    while ovm3_compat.monotonic() < deadline:
        if ovm3_hb_daemon.running_pid(paths) is None:
            out.write("ovm3-heartbeat stopped\n")
            return EXIT_OK
        time.sleep(0.05)
    sys.stderr.write("ovm3-heartbeat: error: pid %d did not stop\n" % pid)
    return EXIT_ERROR


def status(paths, out):
    pid = ovm3_hb_daemon.running_pid(paths)
    if pid is None:
        out.write("ovm3-heartbeat is not running\n")
        return EXIT_DEAD
    out.write("ovm3-heartbeat is running (pid %s)\n" % pid)
    return EXIT_OK


# ---- command line ---------------------------------------------------------------------------------------

def build_parser():
    p = optparse.OptionParser(usage="%prog [-c CONFIG] [options] start|stop|status|run|check")
    p.add_option("-c", "--config", help="config file (default %s)" % ovm3_hb_config.DEFAULT_CONFIG)
    p.add_option("-g", "--guid", help="this host's guid (daemon) or the host to check (check, -s)")
    p.add_option("-t", "--timeout", help="seconds without a successful write before fencing")
    p.add_option("-i", "--interval", help="seconds between heartbeat writes (fractions allowed)")
    p.add_option("-s", "--state", action="store_true", default=False, help="same as the check command")
    p.add_option("--mount", action="append", dest="mounts", help="storage to monitor (repeatable)")
    p.add_option("-p", "--primary", "--repositories", dest="repositories",
                 help="prefix whose NFS mounts are monitored when no --mount is given")
    p.add_option("--fence-action", help="crash (default), reboot, log-only or command:<argv>")
    p.add_option("--policy", help="fence when any (default) or all monitored mounts are stale")
    p.add_option("--watchdog", help="watchdog device to pet while the storage is fresh")
    p.add_option("--watchdog-timeout", help="seconds the watchdog waits for a pet (required for a test file)")
    p.add_option("--state-dir", help="where the daemon records its peers' heartbeats")
    p.add_option("--margin", help="extra seconds beyond the writer's timeout before DEAD")
    p.add_option("--window", type="float", help="check without a local daemon: observe at most this long")
    p.add_option("--read-timeout", type="float", help="seconds a heartbeat read may take")
    p.add_option("--sysrq-trigger", help="default: the config's SYSRQ_TRIGGER, else %s" % ovm3_hb_config.DEFAULT_SYSRQ_TRIGGER)
    p.add_option("--sysrq-control", help="default: the config's SYSRQ_CONTROL, else %s" % ovm3_hb_config.DEFAULT_SYSRQ_CONTROL)
    p.add_option("--pid-file", help="default: the config's PID_FILE, else %s" % ovm3_hb_config.DEFAULT_PID_FILE)
    p.add_option("--lock-file", help="default: the config's LOCK_FILE, else %s" % ovm3_hb_config.DEFAULT_LOCK_FILE)
    p.add_option("--mountinfo", help="default: the config's MOUNTINFO, else %s" % ovm3_hb_config.DEFAULT_MOUNTINFO)
    p.add_option("--o2cb-config", help="default: the config's O2CB_CONFIG, else %s" % ovm3_hb_config.DEFAULT_O2CB_CONFIG)
    p.add_option("--boot-id", help="default: the config's BOOT_ID, else %s" % ovm3_hb_config.DEFAULT_BOOT_ID)
    p.add_option("--log-file", help="start: append the daemon's log here (syslog is always used)")
    p.add_option("--no-syslog", action="store_true", default=False, help="log to stderr only")
    return p


def _overrides(opts):
    raw = {}
    for key in ("guid", "timeout", "interval", "fence_action", "policy", "watchdog", "watchdog_timeout",
                "state_dir", "margin", "repositories"):
        value = getattr(opts, key)
        if value is not None:
            raw[key] = value
    if opts.mounts:
        raw["mounts"] = opts.mounts
    return raw


def _config(opts, need_guid):
    path = opts.config
    if path is None and os.path.exists(ovm3_hb_config.DEFAULT_CONFIG):
        path = ovm3_hb_config.DEFAULT_CONFIG
    if path is not None:
        config = ovm3_hb_config.load_config(path)
    else:
        config = ovm3_hb_config.defaults()
    overrides = _overrides(opts)
    ovm3_hb_config.apply_overrides(config, overrides)
    return ovm3_hb_config.validate(config, need_guid=need_guid), overrides


def main(argv=None, out=None):
    """Run the command line; returns the exit code."""
    out = out or sys.stdout
    parser = build_parser()
    try:
        opts, args = parser.parse_args(list(argv or []))
    except SystemExit:
        return EXIT_USAGE
    if len(args) > 1 or (args and args[0] not in COMMANDS):
        sys.stderr.write("ovm3-heartbeat: usage: one of %s\n" % ", ".join(COMMANDS))
        return EXIT_USAGE
    command = "start"
    if opts.state:
        command = "check"
    if args:
        command = args[0]
    try:
        config, overrides = _config(opts, need_guid=command in ("start", "run", "check"))
    except ConfigError:
        if command != "status":
            sys.stderr.write("ovm3-heartbeat: error: %s\n" % sys.exc_info()[1])
            return EXIT_USAGE
        config = ovm3_hb_config.defaults()  # status needs only the pid and lock files
    # System paths: a flag wins, else the config file's value, else the built-in default.
    paths = ovm3_hb_config.paths_of(config)
    for key in ovm3_hb_config.PATH_KEYS:
        if getattr(opts, key) is not None:
            paths[key] = getattr(opts, key)
    if command == "status":
        return status(paths, out)
    if command == "stop":
        return stop(config, paths, out)
    if command == "start":
        return start(config, paths, opts, overrides, out)
    if command == "run":
        return _daemon(config, paths, opts, overrides, sys.stderr).run()
    result = verdict(config, config["guid"], paths, opts.window, None, opts.read_timeout)
    out.write(ovm3_compat.json_dumps(result) + "\n")
    return VERDICT_EXIT.get(result.get("verdict"), EXIT_UNKNOWN)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
