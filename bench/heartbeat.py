"""Part 6, heartbeat: how long after its storage hangs does the daemon fence (log-only)?

The test rig of the fencing tests (``tests/conftest_fuse.Rig``: a FUSE filesystem from
``tests/fusefs.py`` that can freeze like a dead NFS server, every system path of the daemon pointed into
a temp tree, a guard that refuses opening the real sysrq/watchdog files) runs
``fencing/ovm3_heartbeat.py run`` with interval 0.5 s, timeout 3 s and fence action ``log-only``. Each
run starts a fresh daemon (its own GUID), waits until its heartbeat advances, waits a random fraction of
an interval (so the freeze lands anywhere in the write cycle), freezes writes on the mount. The
daemon's stderr is a pipe read by a thread that stamps every line as it arrives (no polling), so the
fence line is timed to the scheduler's wake-up, well under a millisecond.

Two latencies per run: freeze to fence line (the operator's view: the daemon should fence after the
timeout, less at most one interval since the last good write may predate the freeze, and no later
than timeout + interval), and, from the daemon's own marks, its last good heartbeat record (the
``time`` it wrote, 1 ms resolution) to the fence line, about the timeout.
"""
import os
import random
import signal
import statistics
import subprocess
import tempfile
import threading
import time

from bench import report

RUNS = 20
INTERVAL = 0.5
TIMEOUT = 3.0
POLL = 0.02  # waiting for the heartbeat to start only; the fence line is not polled
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


class _StampedLines:
    """Reads a child's stderr in a thread, keeping each line with the moments it arrived."""

    def __init__(self, stream, wanted):
        self.lines = []
        self.wanted = wanted
        self.seen = threading.Event()
        self.at = None  # (time.monotonic(), time.time()) when the wanted line arrived
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream):
        for raw in iter(stream.readline, b""):
            stamp = (time.monotonic(), time.time())
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            if self.at is None and self.wanted in line:
                self.at = stamp
                self.seen.set()

    def text(self):
        return "".join(self.lines)[-500:]


def one_run(rig, guid):
    """(seconds from freezing the mount to the fence line, seconds from the last good record to it)."""
    argv = rig.args(guid, rig.a.mountpoint, "--fence-action", "log-only") + ["run"]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=rig.env)
    rig.procs.append(proc)
    lines = _StampedLines(proc.stderr, "FENCING this host")
    try:
        first = _seq(rig, guid)
        if not _wait(lambda: _seq(rig, guid) > first + 1, 10.0, POLL):
            raise RuntimeError("heartbeat of %s never advanced: %s" % (guid, lines.text()))
        time.sleep(random.uniform(0, INTERVAL))
        rig.a.freeze()
        frozen = time.monotonic()
        if not lines.seen.wait(TIMEOUT + INTERVAL + 5.0):
            raise RuntimeError("no fence within %.1f s: %s" % (TIMEOUT + INTERVAL + 5.0, lines.text()))
        fenced_mono, fenced_wall = lines.at
        last_good = float(rig.record(guid)["time"])  # writes block after the freeze: this is the last one
        return fenced_mono - frozen, fenced_wall - last_good
    finally:
        rig.a.release()
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stderr.close()


def _row(xs, bound, earliest):
    xs = sorted(xs)
    return {"runs": len(xs), "min_s": xs[0], "median_s": statistics.median(xs),
            "p90_s": xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))], "max_s": xs[-1],
            "bound_s": bound, "earliest_allowed_s": earliest,
            "late": sum(1 for x in xs if x > bound), "early": sum(1 for x in xs if x < earliest)}


def run(quick=False):
    reason = _unavailable()
    if reason:
        from bench.report import not_measured

        return not_measured("heartbeat", "4. Heartbeat detection latency", reason)
    from tests.conftest_fuse import Rig

    runs = 3 if quick else RUNS
    pairs = []
    with tempfile.TemporaryDirectory(prefix="ovm3-bench-hb-") as root:
        rig = Rig(root)
        rig.interval = "%g" % INTERVAL
        rig.timeout = "%g" % TIMEOUT
        try:
            for i in range(runs):
                pairs.append(one_run(rig, "bench%02d" % i))
        finally:
            rig.close()
        forbidden = rig.forbidden_opens()
    if forbidden:
        raise RuntimeError("the daemon tried to open a real system path: %s" % forbidden)
    bound = TIMEOUT + INTERVAL
    freeze = dict(_row([p[0] for p in pairs], bound, TIMEOUT - INTERVAL), measured="freeze to fence line",
                  latencies_s=[p[0] for p in pairs])
    marks = dict(_row([p[1] for p in pairs], bound, TIMEOUT), measured="last good record to fence line",
                 latencies_s=[p[1] for p in pairs])
    freeze_spread = [freeze["min_s"], freeze["max_s"]]
    targets = [
        report.target("median detection latency (freeze to fence)", freeze["median_s"], "<=", bound, unit="s",
                      spread=freeze_spread),
        report.target("max detection latency (freeze to fence)", freeze["max_s"], "<=", bound, unit="s"),
        report.target("min detection latency (freeze to fence; never before timeout - interval)", freeze["min_s"],
                      ">=", TIMEOUT - INTERVAL, unit="s"),
    ]
    return {
        "key": "heartbeat",
        "title": "6. Heartbeat detection latency (FUSE freeze to log-only fence)",
        "status": "measured",
        "method": __doc__.split("\n", 1)[1].strip(),
        "settings": {"interval_s": INTERVAL, "timeout_s": TIMEOUT},
        "columns": [["measured", "measured", ""]] + COLUMNS,
        "rows": [freeze, marks],
        "targets": targets,
        "notes": ["The FUSE filesystem checks its control files every 10 ms, so the freeze takes effect up to"
                  " 10 ms after it is stamped: a freeze-to-fence figure can read up to 10 ms longer than the"
                  " true one (the minimum's margin below is that much less certain).",
                  "The daemon counts the timeout from the start of its last good write (when it started the"
                  " writer); the record's time is stamped by the writer a little later, so the last-record-to-"
                  "fence row may sit a few ms under the timeout without the daemon fencing early; it has no"
                  " target.",
                  "Margins: the earliest fence came %.1f ms after timeout - interval (freeze view) and %.1f ms"
                  " after the timeout counted from the last good record." % (
                      (freeze["min_s"] - (TIMEOUT - INTERVAL)) * 1e3, (marks["min_s"] - TIMEOUT) * 1e3)],
    }
