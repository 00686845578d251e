"""What a peer reads on storage is exactly what the writer enforces (issue 13), on real FUSE mounts.

Each test samples a peer's verdict throughout (a reader daemon and ``check``) and asserts the safety
rule: no sample says DEAD before the writer decided to fence (the decision stops the pets for good and
is stamped in its STATE_DIR/fenced), and ``safe_to_take_over()`` (with no fence latency or margin of
the manager's own) is never true before that moment plus the advertised watchdog timeout. Writers
advertise a real fence (``crash``, sysrq into a temp file) and an armed test watchdog, so a peer can
say DEAD at all. Where the writer must fence, it does within the documented bound. The daemon runs
under Python 3 here.
"""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from ovm3.cloudstack import takeover
from tests.conftest_fuse import HEARTBEAT, needs_fuse, rig_fixture  # noqa: F401
from tests.test_fencing_fuse import PATIENCE, advancing, advancing_on, fields, seq, write_config

pytestmark = [needs_fuse, pytest.mark.fuse, pytest.mark.slow]


class Sampler:
    """Asks host ``reader`` about ``guid`` over and over, in a thread: [(wall time, verdict dict)]."""

    def __init__(self, rig, reader, guid, mount):
        self.rig, self.reader, self.guid, self.mount = rig, reader, guid, mount
        self.samples = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done.is_set():
            try:
                result = self.rig.check(self.reader, self.guid, self.mount)[1]
            except Exception as e:  # noqa: BLE001 - a failed sample is recorded, not fatal
                result = {"verdict": "UNKNOWN", "reason": "sample failed: %s" % e}
            self.samples.append((time.time(), result))
            self.done.wait(0.1)

    def stop(self):
        self.done.set()
        self.thread.join(30)

    def assert_safe(self, decided):
        """No DEAD before ``decided`` (wall time, None: never), no takeover before it + watchdog timeout."""
        for when, result in self.samples:
            verdict = takeover.from_reply(result, self.guid)
            if decided is None or when < decided:
                assert result["verdict"] != "DEAD", (when, decided, result)
            if verdict.safe_to_take_over(fence_latency=0.0, margin=0.0, now=verdict.received):
                assert decided is not None and when >= decided + (verdict.watchdog_timeout or 0.0), (when, result)


def crashed(rig, guid):
    with open(os.path.join(rig.host_dir(guid), "sysrq-trigger")) as f:
        return f.read() == "c"


def decision(rig, guid):
    """Wall time of ``guid``'s fence decision (from its STATE_DIR/fenced), or None."""
    path = os.path.join(rig.host_dir(guid), "state", "fenced")
    try:
        with open(path) as f:
            line = f.read()
    except OSError:
        return None
    for word in line.split():
        if word.startswith("time="):
            return float(word[5:])
    return None


def reader_daemon(rig, *mounts):
    first, rest = mounts[0], mounts[1:]
    extra = []
    for m in rest:
        extra += ["--mount", m]
    return rig.daemon("reader", first, "--fence-action", "log-only", "--read-timeout", "1.5", *extra)


def armed_config(rig, guid, path, **keys):
    base = dict(GUID=guid, INTERVAL="0.2", TIMEOUT="1.5", POLICY="any", WATCHDOG=rig.watchdog(guid),
                WATCHDOG_TIMEOUT="5", FENCE_ACTION="crash")
    base.update(keys)
    write_config(path, **base)
    return base


def wait_alive(rig, sampler_or_reader, guid, mount):
    return rig.wait_for(lambda: rig.check("reader", guid, mount)[1]["verdict"] == "ALIVE", PATIENCE)


# ---- 1, 2: a reload may weaken the promise only once peers can read the new one -------------------------

def test_a_longer_timeout_by_sighup_during_a_freeze_is_not_enforced_until_recorded(rig):
    config = os.path.join(rig.host_dir("grow"), "config")
    keys = armed_config(rig, "grow", config, MOUNTS=rig.a.mountpoint)
    proc = rig.daemon_from_config("grow", config)
    reader_daemon(rig, rig.b.mountpoint)
    assert advancing(rig, "grow"), rig.log("grow")
    assert wait_alive(rig, None, "grow", rig.b.mountpoint)
    sampler = Sampler(rig, "reader", "grow", rig.b.mountpoint)
    try:
        rig.a.freeze()
        write_config(config, **dict(keys, TIMEOUT="120"))
        proc.send_signal(signal.SIGHUP)
        assert rig.wait_for(lambda: decision(rig, "grow"), PATIENCE), rig.log("grow")
        log = rig.log("grow")
        assert "enforcing timeout 1.5 s" in log and "stale beyond timeout 1.5 s" in log, log
        # The decision came within the old timeout + interval (+ slack) of the last write peers saw.
        assert decision(rig, "grow") - float(rig.record("grow")["time"]) <= 1.5 + 0.2 + 1.5
        assert float(rig.record("grow")["timeout"]) == 1.5  # the new promise never reached the storage
        time.sleep(3.5)
    finally:
        sampler.stop()
    sampler.assert_safe(decision(rig, "grow"))
    assert any(r["verdict"] == "DEAD" for _, r in sampler.samples), "the peer never saw the fenced host DEAD"


def test_policy_any_to_all_while_one_repository_is_stuck_still_fences(rig):
    c = rig.mount("c")
    config = os.path.join(rig.host_dir("pol"), "config")
    keys = armed_config(rig, "pol", config, MOUNTS="%s %s" % (rig.a.mountpoint, c.mountpoint))
    proc = rig.daemon_from_config("pol", config)
    reader_daemon(rig, c.mountpoint)  # a peer that reads only the repository that gets stuck
    assert advancing(rig, "pol") and advancing_on(rig, "pol", c), rig.log("pol")
    assert wait_alive(rig, None, "pol", c.mountpoint)
    sampler = Sampler(rig, "reader", "pol", c.mountpoint)
    try:
        c.freeze()
        write_config(config, **dict(keys, POLICY="all"))
        proc.send_signal(signal.SIGHUP)
        assert rig.wait_for(lambda: decision(rig, "pol"), PATIENCE), rig.log("pol")
        assert "%s (last write" % c.mountpoint in rig.log("pol")
        assert fields(rig, "pol", c)["policy"] == "any"
        time.sleep(3.5)
    finally:
        sampler.stop()
    sampler.assert_safe(decision(rig, "pol"))


def test_a_weaker_setting_takes_effect_once_recorded_everywhere(rig):
    config = os.path.join(rig.host_dir("ok"), "config")
    keys = armed_config(rig, "ok", config, MOUNTS=rig.a.mountpoint)
    proc = rig.daemon_from_config("ok", config)
    assert advancing(rig, "ok")
    write_config(config, **dict(keys, TIMEOUT="3"))
    proc.send_signal(signal.SIGHUP)
    assert rig.wait_for(lambda: "now enforcing timeout 3.0 s" in rig.log("ok"), PATIENCE), rig.log("ok")
    # Now a 2 s stall (longer than the old 1.5 s timeout) does not fence.
    rig.a.freeze()
    time.sleep(2.0)
    rig.a.release()
    assert advancing(rig, "ok")
    assert decision(rig, "ok") is None and "FENCING" not in rig.log("ok")


# ---- 3, 4: the storage must stay the storage the daemon started with ------------------------------------

def fake_nfs_mountinfo(path, *points):
    """A mountinfo stand-in listing ``points`` (real FUSE mounts, real device ids) as NFS mounts."""
    lines = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            words = line.split()
            if words[4] in points:
                dash = words.index("-", 6)
                words[dash + 1] = "nfs"
                lines.append(" ".join(words))
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.rename(path + ".tmp", path)


def repositories_daemon(rig, guid):
    """A crash-armed writer in repositories mode over rig.a and a mount c of its own, both listed as NFS
    in a mountinfo stand-in -> (mount c, the stand-in's path), once it writes on both."""
    c = rig.mount("c")
    table = os.path.join(rig.root, "mountinfo")
    fake_nfs_mountinfo(table, rig.a.mountpoint, c.mountpoint)
    argv = [sys.executable, HEARTBEAT, "-c", os.devnull, "-g", guid, "-i", "0.2", "-t", "1.5",
            "--repositories", rig.root, "--mountinfo", table, "--fence-action", "crash",
            "--watchdog", rig.watchdog(guid), "--watchdog-timeout", "5"] + rig.path_args(guid) + ["run"]
    rig._start(guid, argv)
    assert advancing(rig, guid) and advancing_on(rig, guid, c), rig.log(guid)
    return c, table


def test_repositories_mode_fences_when_a_mount_vanishes(rig):
    c, table = repositories_daemon(rig, "repo")
    reader_daemon(rig, c.mountpoint)
    assert wait_alive(rig, None, "repo", c.mountpoint)
    sampler = Sampler(rig, "reader", "repo", c.mountpoint)
    try:
        fake_nfs_mountinfo(table, rig.a.mountpoint)  # c lazily unmounted: its VMs' open files still write
        assert rig.wait_for(lambda: decision(rig, "repo"), PATIENCE), rig.log("repo")
        assert "%s is no longer mounted: counted as failed" % c.mountpoint in rig.log("repo")
        time.sleep(3.5)
    finally:
        sampler.stop()
    sampler.assert_safe(decision(rig, "repo"))


def test_a_planned_removal_is_recorded_stopped_and_never_fences(rig):
    c, table = repositories_daemon(rig, "plan")
    sys.path[:0] = [os.path.dirname(HEARTBEAT), os.path.join(os.path.dirname(HEARTBEAT), "..", "hostlib")]
    import ovm3_hb_config
    request = ovm3_hb_config.request_removal(os.path.join(rig.host_dir("plan"), "state"), c.mountpoint)
    assert rig.wait_for(lambda: not os.path.exists(request), PATIENCE), rig.log("plan")
    assert fields(rig, "plan", c)["state"] == "stopped"
    fake_nfs_mountinfo(table, rig.a.mountpoint)  # now unmounted
    time.sleep(3.0)
    assert advancing(rig, "plan")
    assert decision(rig, "plan") is None and "FENCING" not in rig.log("plan"), rig.log("plan")


@pytest.mark.parametrize("kind", ["tmpfs", "bind"])
def test_a_local_filesystem_mounted_over_the_storage_fences(rig, kind):
    config = os.path.join(rig.host_dir("over"), "config")
    armed_config(rig, "over", config, MOUNTS=rig.a.mountpoint)
    rig.daemon_from_config("over", config)
    reader_daemon(rig, rig.b.mountpoint)
    assert advancing(rig, "over"), rig.log("over")
    assert wait_alive(rig, None, "over", rig.b.mountpoint)
    sampler = Sampler(rig, "reader", "over", rig.b.mountpoint)
    empty = os.path.join(rig.root, "empty")
    os.makedirs(empty)
    if kind == "tmpfs":
        argv = ["mount", "-t", "tmpfs", "ovm3-test-over", rig.a.mountpoint]
    else:
        argv = ["mount", "--bind", empty, rig.a.mountpoint]
    subprocess.check_call(argv)
    try:
        assert rig.wait_for(lambda: decision(rig, "over"), PATIENCE), rig.log("over")
        assert "counted as failed" in rig.log("over")
        # Not one heartbeat went to the local filesystem.
        assert os.listdir(rig.a.mountpoint) == []
        time.sleep(3.5)
    finally:
        sampler.stop()
        subprocess.call(["umount", "-l", rig.a.mountpoint])
    sampler.assert_safe(decision(rig, "over"))


# ---- 5: a fence decision is final -------------------------------------------------------------------------

def test_after_sigstop_past_the_timeout_the_daemon_judges_before_writing_and_stays_fenced(rig):
    rig.timeout = "2"
    proc = rig.daemon("stop", rig.a.mountpoint, "--fence-action", "crash", "--watchdog",
                      rig.watchdog("stop"))
    reader_daemon(rig, rig.b.mountpoint)
    assert advancing(rig, "stop")
    assert wait_alive(rig, None, "stop", rig.b.mountpoint)
    sampler = Sampler(rig, "reader", "stop", rig.b.mountpoint)
    try:
        proc.send_signal(signal.SIGSTOP)
        assert rig.wait_for(lambda: rig.check("reader", "stop")[1]["verdict"] == "DEAD", PATIENCE)
        frozen = seq(rig, "stop")
        pets = os.path.getsize(rig.watchdog("stop"))
        proc.send_signal(signal.SIGCONT)
        assert rig.wait_for(lambda: decision(rig, "stop"), PATIENCE), rig.log("stop")
        time.sleep(2.0)
        assert seq(rig, "stop") == frozen, "a running record after the pause"
        assert os.path.getsize(rig.watchdog("stop")) == pets, "a pet after the pause"
    finally:
        sampler.stop()
    verdicts = [r["verdict"] for _, r in sampler.samples]
    first_dead = verdicts.index("DEAD")
    assert "ALIVE" not in verdicts[first_dead:], verdicts
    # Started again in the same boot (as CloudStack's next health check would): refused.
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    again = rig.cli("stop", rig.a.mountpoint, "--fence-action", "crash", "run")
    assert again.returncode == 1 and "decided to fence itself in this boot" in again.stderr, again.stderr
    assert seq(rig, "stop") == frozen


# ---- 6: a second writer of one guid -----------------------------------------------------------------------

def twin_args(rig, guid, host, mount, *extra):
    """CLI arguments for a daemon writing as ``guid`` with the system paths of rig host ``host``."""
    d = rig.host_dir(host)
    with open(os.path.join(d, "boot_id"), "w") as f:
        f.write("boot-of-%s\n" % host)
    return [sys.executable, HEARTBEAT, "-c", os.devnull, "-g", guid, "-i", "0.2", "-t", "1.5", "--mount", mount,
            "--watchdog-timeout", "5"] + rig.path_args(host) + list(extra)


def test_a_second_writer_is_refused_at_start_and_marked_when_it_slips_in(rig):
    first = rig._start("one", twin_args(rig, "twin", "one", rig.a.mountpoint, "--fence-action", "log-only", "run"))
    reader_daemon(rig, rig.b.mountpoint)
    assert advancing(rig, "twin"), rig.log("one")
    # A live writer of the guid: the newcomer watches it advance and refuses.
    refused = subprocess.run(twin_args(rig, "twin", "two", rig.a.mountpoint, "run"), capture_output=True,
                             text=True, timeout=60, env=rig.env)
    assert refused.returncode == 1 and "refusing to start a second writer" in refused.stderr, refused.stderr
    # While the first one is paused, a twin gets in; once both run, peers say UNKNOWN, never ALIVE.
    first.send_signal(signal.SIGSTOP)
    rig._start("two", twin_args(rig, "twin", "two", rig.a.mountpoint, "--fence-action", "log-only", "run"))
    assert rig.wait_for(lambda: "monitoring" in rig.log("two") and "started" in rig.log("two"), PATIENCE)
    first.send_signal(signal.SIGCONT)
    assert rig.wait_for(lambda: "SECOND WRITER" in rig.log("one") or "SECOND WRITER" in rig.log("two"),
                        PATIENCE), (rig.log("one"), rig.log("two"))
    assert rig.wait_for(lambda: "two writers" in rig.check("reader", "twin")[1]["reason"], PATIENCE)
    sampler = Sampler(rig, "reader", "twin", rig.b.mountpoint)
    time.sleep(3.0)
    sampler.stop()
    assert rig.record("twin")["conflict"] == "1"
    assert all(r["verdict"] == "UNKNOWN" for _, r in sampler.samples), sampler.samples


# ---- 7: the latency guarantee, at half and at twice the stated bound --------------------------------------

#: README: every write taking at most L never fences while L < (TIMEOUT - INTERVAL) / 2.
TIMEOUT, INTERVAL = 2.0, 0.2
BOUND = (TIMEOUT - INTERVAL) / 2
#: A heartbeat write is three data-changing FUSE operations (open for writing, write, fsync).
OPS_PER_WRITE = 3


def latency_writer(rig, guid):
    rig.timeout = str(TIMEOUT)
    proc = rig.daemon(guid, rig.a.mountpoint, "--fence-action", "crash", "--watchdog",
                      rig.watchdog(guid))
    reader_daemon(rig, rig.b.mountpoint)
    assert advancing(rig, guid)
    assert wait_alive(rig, None, guid, rig.b.mountpoint)
    return proc


def test_sustained_latency_at_half_the_bound_never_fences(rig):
    latency_writer(rig, "half")
    sampler = Sampler(rig, "reader", "half", rig.b.mountpoint)
    try:
        rig.a.slow(BOUND / 2 / OPS_PER_WRITE)
        time.sleep(8.0)
        assert advancing(rig, "half")
    finally:
        sampler.stop()
        rig.a.release()
    assert decision(rig, "half") is None and "FENCING" not in rig.log("half"), rig.log("half")
    assert all(r["verdict"] != "DEAD" for _, r in sampler.samples)


def test_sustained_latency_at_twice_the_bound_fences_and_peers_never_see_dead_first(rig):
    latency_writer(rig, "twice")
    sampler = Sampler(rig, "reader", "twice", rig.b.mountpoint)
    try:
        rig.a.slow(2 * BOUND / OPS_PER_WRITE)
        assert rig.wait_for(lambda: decision(rig, "twice"), 4 * PATIENCE), rig.log("twice")
        time.sleep(3.0)
    finally:
        sampler.stop()
        rig.a.release()
    sampler.assert_safe(decision(rig, "twice"))


# ---- 8: a full export does not fence -----------------------------------------------------------------------

def test_a_full_export_keeps_heartbeats_going(rig):
    rig.daemon("full", rig.a.mountpoint, "--fence-action", "crash")
    assert advancing(rig, "full")
    rig.a.full()
    try:
        with pytest.raises(OSError):  # the export really is full for anything new
            with open(os.path.join(rig.a.mountpoint, "new-file"), "w") as f:
                f.write("x")
        time.sleep(3.0)
        assert advancing(rig, "full")
    finally:
        rig.a.release()
    assert decision(rig, "full") is None and "FENCING" not in rig.log("full"), rig.log("full")


# ---- 9: the watchdog -----------------------------------------------------------------------------------------

def test_a_watchdog_that_is_not_a_watchdog_or_has_no_timeout_is_refused(rig):
    r = rig.cli("wd", rig.a.mountpoint, "--watchdog", "/dev/null", "run")
    assert r.returncode == 1 and "does not answer WDIOC_SETTIMEOUT" in r.stderr, r.stderr
    argv = [a for a in rig.args("wd", rig.a.mountpoint, "--watchdog", rig.watchdog("wd"), "run")]
    at = argv.index("--watchdog-timeout")
    del argv[at:at + 2]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=rig.env)
    assert r.returncode == 1 and "set WATCHDOG_TIMEOUT" in r.stderr, r.stderr
    rig.daemon("wd", rig.a.mountpoint, "--watchdog", rig.watchdog("wd"))
    assert advancing(rig, "wd")
    record = rig.record("wd")
    assert (record["watchdog"], record["watchdog_timeout"]) == ("armed", "5.0")
    assert "is not a device (tests only)" in rig.log("wd")
