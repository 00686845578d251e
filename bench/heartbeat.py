"""Part 4, heartbeat: how long after its storage hangs does the daemon fence (log-only)?

The test rig of the fencing tests (``tests/conftest_fuse.Rig``: a FUSE filesystem from
``tests/fusefs.py`` that can freeze like a dead NFS server, every system path of the daemon pointed into
a temp tree, a guard that refuses opening the real sysrq/watchdog files) runs
``fencing/ovm3_heartbeat.py run`` with interval 0.5 s, timeout 3 s and fence action ``log-only``. Each
run starts a fresh daemon (its own GUID), waits until its heartbeat advances, waits a random fraction of
an interval (so the freeze lands anywhere in the write cycle), freezes writes on the mount, and polls
the daemon's log every 5 ms for "FENCING this host". Latency = that moment minus the freeze. The
daemon should fence after the timeout, less at most one interval (the last good write may predate the
freeze), and no later than timeout + interval.
"""
import os
import random
import signal
import statistics
import tempfile
import time

RUNS = 20
INTERVAL = 0.5
TIMEOUT = 3.0
POLL = 0.005
COLUMNS = [["runs", "runs", "%d"], ["min_s", "min s", "%.3f"], ["median_s", "median s", "%.3f"],
           ["p90_s", "p90 s", "%.3f"], ["max_s", "max s", "%.3f"], ["bound_s", "timeout + interval s", "%.1f"],
           ["earliest_allowed_s", "timeout - interval s", "%.1f"], ["late", "runs over the bound", "%d"],
           ["early", "runs under timeout - interval", "%d"]]


def _unavailable():
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse on this machine"
    try:
        import fuse  # noqa: F401 - fusepy, used by tests/fusefs.py
    except ImportError:
        return "fusepy is not installed in the venv"
    try:
        from tests.conftest_fuse import Rig  # noqa: F401
    except ImportError as e:
        return "the fencing test rig (tests/conftest_fuse.py) is missing: %s" % e
    return None


def _wait(predicate, timeout, step=POLL):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def _seq(rig, guid):
    try:
        return int(rig.record(guid)["seq"])
    except (OSError, KeyError, ValueError):
        return -1


def one_run(rig, guid):
    """Seconds from freezing the mount to the daemon's fence line."""
    proc = rig.daemon(guid, rig.a.mountpoint, "--fence-action", "log-only")
    try:
        first = _seq(rig, guid)
        if not _wait(lambda: _seq(rig, guid) > first + 1, 10.0, 0.02):
            raise RuntimeError("heartbeat of %s never advanced: %s" % (guid, rig.log(guid)[-500:]))
        time.sleep(random.uniform(0, INTERVAL))
        rig.a.freeze()
        frozen = time.monotonic()
        if not _wait(lambda: "FENCING this host" in rig.log(guid), TIMEOUT + INTERVAL + 5.0):
            raise RuntimeError("no fence within %.1f s: %s" % (TIMEOUT + INTERVAL + 5.0, rig.log(guid)[-500:]))
        return time.monotonic() - frozen
    finally:
        rig.a.release()
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(10)


def run(quick=False):
    reason = _unavailable()
    if reason:
        from bench.report import not_measured

        return not_measured("heartbeat", "4. Heartbeat detection latency", reason)
    from tests.conftest_fuse import Rig

    runs = 3 if quick else RUNS
    latencies = []
    with tempfile.TemporaryDirectory(prefix="ovm3-bench-hb-") as root:
        rig = Rig(root)
        rig.interval = "%g" % INTERVAL
        rig.timeout = "%g" % TIMEOUT
        try:
            for i in range(runs):
                latencies.append(one_run(rig, "bench%02d" % i))
        finally:
            rig.close()
        forbidden = rig.forbidden_opens()
    if forbidden:
        raise RuntimeError("the daemon tried to open a real system path: %s" % forbidden)
    xs = sorted(latencies)
    bound = TIMEOUT + INTERVAL
    row = {"runs": len(xs), "min_s": xs[0], "median_s": statistics.median(xs),
           "p90_s": xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))], "max_s": xs[-1],
           "bound_s": bound, "earliest_allowed_s": TIMEOUT - INTERVAL,
           "late": sum(1 for x in xs if x > bound), "early": sum(1 for x in xs if x < TIMEOUT - INTERVAL),
           "latencies_s": latencies}
    targets = [
        {"name": "median detection latency", "value": row["median_s"], "unit": "s", "limit": bound, "op": "<=",
         "met": row["median_s"] <= bound},
        {"name": "max detection latency", "value": row["max_s"], "unit": "s", "limit": bound, "op": "<=",
         "met": row["max_s"] <= bound},
        {"name": "min detection latency (never before timeout - interval)", "value": row["min_s"], "unit": "s",
         "limit": TIMEOUT - INTERVAL, "op": ">=", "met": row["min_s"] >= TIMEOUT - INTERVAL},
    ]
    return {
        "key": "heartbeat",
        "title": "4. Heartbeat detection latency (FUSE freeze to log-only fence)",
        "status": "measured",
        "method": __doc__.split("\n", 1)[1].strip(),
        "settings": {"interval_s": INTERVAL, "timeout_s": TIMEOUT, "poll_s": POLL},
        "columns": COLUMNS,
        "rows": [row],
        "targets": targets,
        "notes": ["The FUSE filesystem checks its control files every 10 ms, so up to 10 ms of each figure is "
                  "the freeze taking effect; the log is polled every 5 ms."],
    }
