"""The heartbeat daemon and checker against a real FUSE filesystem that hangs like dead NFS.

Interval 0.2 s, timeout 1-2 s. Fence actions are log-only or an operator command that touches a file;
sysrq and watchdog paths are temp files (see tests/conftest_fuse.py).

Robust on a loaded 2-core machine: every wait polls its condition up to a generous deadline (it ends as
soon as the condition holds); fence timing is measured between the daemon's own marks (the last record
that reached the storage and the fence command's file), not the test's scheduling; reads that judge
ALIVE get read timeouts that a slow fork does not exceed. What each test proves is unchanged.
"""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest_fuse import HEARTBEAT, needs_fuse, rig_fixture  # noqa: F401

sys.path[:0] = [os.path.join(os.path.dirname(HEARTBEAT), "..", "hostlib"), os.path.dirname(HEARTBEAT)]
import ovm3_hb_record  # noqa: E402

pytestmark = [needs_fuse, pytest.mark.fuse, pytest.mark.slow]


def seq(rig, guid):
    try:
        return int(rig.record(guid)["seq"])
    except (OSError, KeyError, ValueError):
        return -1


#: How long a wait for something that happens within a second or two may take on a loaded machine.
PATIENCE = 15.0


def advancing(rig, guid, within=PATIENCE):
    first = seq(rig, guid)
    return rig.wait_for(lambda: seq(rig, guid) > first, within)


def test_frozen_mount_is_fenced_within_timeout_plus_interval(rig):
    fenced = os.path.join(rig.root, "FENCED")
    proc = rig.daemon("w1", rig.a.mountpoint, "--fence-action", "command:/usr/bin/touch %s" % fenced,
                      "--watchdog", rig.watchdog("w1"))
    assert advancing(rig, "w1"), rig.log("w1")
    assert not os.path.exists(fenced)
    pets_before = os.path.getsize(rig.watchdog("w1"))
    assert pets_before > 0
    rig.a.freeze()
    assert rig.wait_for(lambda: os.path.exists(fenced), PATIENCE, step=0.02), rig.log("w1")
    # Between the start of the last write that reached the storage (its record's time) and the fence
    # (the command's file): at least the timeout (less the moment between a tick's start and its record),
    # at most timeout + one interval + slack for a loaded machine.
    elapsed = os.stat(fenced).st_mtime - float(rig.record("w1")["time"])
    assert 1.0 - 0.25 <= elapsed <= 1.0 + 0.2 + 1.5, elapsed
    assert rig.wait_for(lambda: "fence command /usr/bin/touch exited 0" in rig.log("w1"), PATIENCE)
    log = rig.log("w1")
    assert log.index("FENCING this host") < log.index("fence command /usr/bin/touch exited")
    pets_at_fence = os.path.getsize(rig.watchdog("w1"))
    time.sleep(0.6)
    assert os.path.getsize(rig.watchdog("w1")) == pets_at_fence, "watchdog petted while storage is stale"
    assert proc.poll() is None
    assert os.path.getsize(os.path.join(rig.host_dir("w1"), "sysrq-trigger")) == 0


def test_crash_action_writes_sysrq_c_to_the_given_trigger(rig):
    rig.daemon("w2", rig.a.mountpoint, "--fence-action", "crash")
    assert advancing(rig, "w2")
    rig.a.freeze()
    trigger = os.path.join(rig.host_dir("w2"), "sysrq-trigger")
    assert rig.wait_for(lambda: os.path.getsize(trigger) > 0, PATIENCE), rig.log("w2")
    with open(trigger) as f:
        assert f.read() == "c"
    with open(os.path.join(rig.host_dir("w2"), "sysrq")) as f:
        assert f.read() == "1"


def test_stalls_shorter_than_the_timeout_never_fence(rig):
    # Stalls of 0.6 s against a 2 s timeout: the blocked write's start may predate the stall by an
    # interval, and the next write needs time on a loaded machine; the margin stays over a second.
    rig.timeout = "2"
    fenced = os.path.join(rig.root, "FENCED")
    rig.daemon("w3", rig.a.mountpoint, "--fence-action", "command:/usr/bin/touch %s" % fenced)
    assert advancing(rig, "w3")
    for _ in range(3):
        rig.a.freeze()
        time.sleep(0.6)
        rig.a.release()
        assert advancing(rig, "w3"), rig.log("w3")
        time.sleep(0.3)
    assert not os.path.exists(fenced), rig.log("w3")
    assert "FENCING" not in rig.log("w3")


@pytest.mark.parametrize("errno_name,text", [("ENOSPC", "No space left"), ("EIO", "Input/output error")])
def test_write_errors_count_as_failure_and_the_daemon_recovers(rig, errno_name, text):
    proc = rig.daemon("w4", rig.a.mountpoint, "--fence-action", "log-only")
    assert advancing(rig, "w4")
    rig.a.fail(errno_name)
    assert rig.wait_for(lambda: "FENCING this host" in rig.log("w4"), PATIENCE), rig.log("w4")
    log = rig.log("w4")
    assert text in log and "log-only: NOT fencing" in log
    rig.a.release()
    assert advancing(rig, "w4"), rig.log("w4")
    assert rig.wait_for(lambda: "works again" in rig.log("w4"), PATIENCE)
    assert proc.poll() is None


def test_sigterm_never_fences_and_a_second_instance_is_refused(rig):
    fenced = os.path.join(rig.root, "FENCED")
    extra = ("--fence-action", "command:/usr/bin/touch %s" % fenced, "--watchdog", rig.watchdog("w5"),
             "--log-file", os.path.join(rig.host_dir("w5"), "log"))
    started = rig.cli("w5", rig.a.mountpoint, *(extra + ("start",)))
    assert started.returncode == 0 and "started" in started.stdout, started.stderr
    pid = int(open(os.path.join(rig.host_dir("w5"), "pid")).read())
    try:
        assert advancing(rig, "w5"), rig.log("w5")
        again = rig.cli("w5", rig.a.mountpoint, *(extra + ("start",)))
        assert again.returncode == 0 and "already running (pid %d)" % pid in again.stdout
        second = rig.cli("w5", rig.a.mountpoint, *(extra + ("run",)))
        assert second.returncode == 1 and "another ovm3-heartbeat is running" in second.stderr
        status = rig.cli("w5", rig.a.mountpoint, "status")
        assert status.returncode == 0 and str(pid) in status.stdout
        stopped = rig.cli("w5", rig.a.mountpoint, "stop")
        assert stopped.returncode == 0, stopped.stderr
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    assert rig.record("w5")["state"] == "stopped"
    with open(rig.watchdog("w5")) as f:
        assert f.read().endswith("V"), "watchdog not disarmed by magic close"
    assert not os.path.exists(fenced)
    assert "FENCING" not in rig.log("w5") and "stopped cleanly" in rig.log("w5")
    assert rig.cli("w5", rig.a.mountpoint, "status").returncode == 3


def test_checker_verdicts(rig):
    """ALIVE / DEAD / UNKNOWN as a peer reading through the caching mount sees them."""
    # Timeout 2 s, and reads that may take 1.5 s: ten processes share two cores here, and a read that
    # outlives its timeout rightly turns the verdict to UNKNOWN ("storage slow").
    rig.timeout = "2"
    reads = ("--read-timeout", "1.5")
    a = rig.a.mountpoint
    writers = {
        "dead": rig.daemon("dead", a, "--fence-action", "crash", "--watchdog", rig.watchdog("dead")),
        "nowd": rig.daemon("nowd", a, "--fence-action", "crash"),
        "logonly": rig.daemon("logonly", a, "--fence-action", "log-only",
                              "--watchdog", rig.watchdog("logonly")),
        "stopper": rig.daemon("stopper", a, "--fence-action", "crash", "--watchdog", rig.watchdog("stopper")),
    }
    # A writer whose wall clock is five hours behind, and one whose clock looks current but never advances.
    stop_fake = threading.Event()

    def fake_writers():
        n = 0
        while not stop_fake.is_set():
            n += 1
            for guid, number, skew in (("skewed", n, -5 * 3600), ("stuck", 7, 0)):
                ovm3_hb_record.write_heartbeat(a, guid, {
                    "guid": guid, "instance": "1-1", "seq": number, "interval": 0.2, "timeout": 2.0,
                    "policy": "any", "mounts": 1, "time": "%.3f" % (time.time() + skew), "state": "running",
                    "fence": "crash", "watchdog": "armed", "watchdog_timeout": 5, "conflict": "0", "boot": "b-1"})
            stop_fake.wait(0.2)

    fake = threading.Thread(target=fake_writers, daemon=True)
    fake.start()
    try:
        reader = rig.daemon("reader", rig.b.mountpoint, "--fence-action", "log-only", *reads)
        for guid in writers:
            assert advancing(rig, guid), rig.log(guid)
        # The caching mount really serves stale data to a plain read; the checker must bypass it.
        cached = os.path.join(rig.b.mountpoint, ".hb-dead")
        with open(cached) as f:
            f.read()
        first = seq(rig, "dead")
        assert rig.wait_for(lambda: seq(rig, "dead") > first + 2, PATIENCE)
        with open(cached) as f:
            plain = dict(line.split("=", 1) for line in f.read().split("\n") if "=" in line)
        assert int(plain["seq"]) < seq(rig, "dead"), "reader mount does not cache: the test proves nothing"

        def verdict_of(guid, want):
            return rig.wait_for(lambda: rig.check("reader", guid)[1]["verdict"] == want, PATIENCE)

        for guid in list(writers) + ["skewed"]:
            assert verdict_of(guid, "ALIVE"), (guid, rig.check("reader", guid), rig.log("reader"))
        code, result = rig.check("reader", "skewed")
        assert code == 0 and result["observed_by"] == "daemon"
        # Without a local daemon the checker observes for a bounded window itself (also through the cache).
        code, result = rig.check("nodaemon", "dead", None, "--window", "10", *reads)
        assert code == 0 and result["verdict"] == "ALIVE" and result["observed_by"] == "probe", result
        # A current-looking wall clock without progress is never ALIVE (it ends DEAD: it claims a real fence).
        assert rig.check("reader", "stuck")[1]["verdict"] != "ALIVE"

        for guid in ("dead", "nowd", "logonly"):
            writers[guid].send_signal(signal.SIGKILL)
        writers["stopper"].send_signal(signal.SIGTERM)
        assert writers["stopper"].wait(10) == 0
        assert verdict_of("dead", "DEAD"), rig.check("reader", "dead")
        code, result = rig.check("reader", "dead")
        assert code == 3 and float(result["since_progress"]) >= 2.0 + 1.4
        expectations = {"nowd": "arms no watchdog", "logonly": "log-only", "stopper": "stopped cleanly",
                        "missing": "no heartbeat file"}

        def unknown_because(guid, reason):
            # Never ALIVE or DEAD at any point; the reason may need a moment (a killed writer's last
            # write child can land after the kill, so its silence may start later than "dead"'s).
            code, result = rig.check("reader", guid)
            assert (code, result["verdict"]) == (4, "UNKNOWN"), (guid, result)
            return reason in result["reason"]

        for guid, reason in expectations.items():
            settled = rig.wait_for(lambda g=guid, r=reason: unknown_because(g, r), PATIENCE)
            assert settled, (guid, rig.check("reader", guid))
        code, result = rig.check("reader", "skewed")
        assert code == 0, result

        # Storage that stops answering reads: the last DEAD becomes UNKNOWN, never stays DEAD.
        rig.b.freeze(reads=True)
        assert rig.wait_for(lambda: "storage slow" in rig.check("reader", "dead")[1]["reason"], PATIENCE)
        code, result = rig.check("reader", "dead")
        assert code == 4 and result["verdict"] == "UNKNOWN"
        assert reader.poll() is None
    finally:
        stop_fake.set()
        rig.b.release()
        fake.join(5)


def test_script_runs_without_the_package(rig):
    """The same file runs as a plain script with its flat neighbours (as deployed on dom0)."""
    out = subprocess.run([sys.executable, HEARTBEAT, "--help"], capture_output=True, text=True, env=rig.env)
    assert out.returncode == 2 or out.returncode == 0
    assert "start|stop|status|run|check" in out.stdout


# ---- SIGHUP and the two policies, on mounts with backing directories of their own ---------------------

def fields(rig, guid, mount):
    """The record of ``guid`` on ``mount`` (a FuseMount), read from its backing directory."""
    try:
        return rig.record(guid, mount.backing)
    except OSError:
        return {}


def advancing_on(rig, guid, mount, within=PATIENCE):
    def number():
        try:
            return int(fields(rig, guid, mount).get("seq", -1))
        except ValueError:
            return -1
    first = number()
    return rig.wait_for(lambda: number() > first, within)


def write_config(path, **keys):
    with open(path + ".tmp", "w") as f:
        f.write("# written by the test\n" + "".join("%s=%s\n" % item for item in keys.items()))
    os.rename(path + ".tmp", path)


def test_sighup_reloads_the_config_file_and_refuses_a_bad_one(rig):
    c, d = rig.mount("c"), rig.mount("d")
    fenced = os.path.join(rig.root, "FENCED")
    config = os.path.join(rig.host_dir("hup"), "ovm3-heartbeat")
    write_config(config, GUID="hup", MOUNTS=c.mountpoint, INTERVAL="0.2", TIMEOUT="1",
                 FENCE_ACTION="log-only", POLICY="any")
    proc = rig.daemon_from_config("hup", config)
    assert advancing_on(rig, "hup", c), rig.log("hup")
    old = fields(rig, "hup", c)
    assert (float(old["interval"]), float(old["timeout"]), old["fence"], old["policy"]) == (
        0.2, 1.0, "log-only", "any")
    assert fields(rig, "hup", d) == {}

    # New timings, action and policy; mount c dropped, mount d added.
    new = dict(GUID="hup", MOUNTS=d.mountpoint, INTERVAL="0.25", TIMEOUT="1.5",
               FENCE_ACTION="command:/usr/bin/touch %s" % fenced, POLICY="all")
    write_config(config, **new)
    proc.send_signal(signal.SIGHUP)
    assert rig.wait_for(lambda: fields(rig, "hup", d).get("interval") == "0.25", PATIENCE), rig.log("hup")
    assert advancing_on(rig, "hup", d), rig.log("hup")
    now = fields(rig, "hup", d)
    assert (float(now["timeout"]), now["fence"], now["policy"], now["state"]) == (1.5, "command", "all", "running")
    # The dropped mount is told we left (a peer reading only it must not take the silence for death).
    assert rig.wait_for(lambda: fields(rig, "hup", c).get("state") == "stopped", PATIENCE), rig.log("hup")
    left = fields(rig, "hup", c)["seq"]
    time.sleep(0.6)
    assert fields(rig, "hup", c)["seq"] == left, "heartbeats still go to a mount no longer configured"
    assert "configuration reloaded from %s" % config in rig.log("hup")

    # Each unusable file is refused with its reason, and heartbeats go on with the settings above.
    bad = [
        (dict(new, INTERVAL="2"), "INTERVAL (2.0 s) must be shorter than TIMEOUT"),
        (dict(new, NOPE="1"), "unknown key NOPE"),
        (dict(new, MOUNTS="%s %s/nothere" % (d.mountpoint, rig.root)), "not mounted: %s/nothere" % rig.root),
        (dict(new, FENCE_ACTION="explode"), "FENCE_ACTION must be"),
        (None, "cannot read config %s" % config),
    ]
    for keys, reason in bad:
        if keys is None:
            os.unlink(config)
        else:
            write_config(config, **keys)
        proc.send_signal(signal.SIGHUP)
        assert rig.wait_for(lambda r=reason: "keeping the old configuration: " in rig.log("hup")
                            and r in rig.log("hup"), PATIENCE), (reason, rig.log("hup"))
        assert advancing_on(rig, "hup", d), rig.log("hup")
        assert fields(rig, "hup", d)["interval"] == "0.25" and fields(rig, "hup", d)["fence"] == "command"
    # A GUID change needs a restart: the old one is kept (no record under the new name).
    write_config(config, **dict(new, GUID="other"))
    proc.send_signal(signal.SIGHUP)
    assert rig.wait_for(lambda: "GUID changes need a restart; keeping hup" in rig.log("hup"), PATIENCE)
    assert advancing_on(rig, "hup", d) and fields(rig, "other", d) == {}
    assert proc.poll() is None and "FENCING" not in rig.log("hup")

    # The reloaded action and timeout are the ones that fence.
    d.freeze()
    assert rig.wait_for(lambda: os.path.exists(fenced), PATIENCE, step=0.02), rig.log("hup")
    assert "FENCING this host (command:/usr/bin/touch" in rig.log("hup")
    assert "stale beyond timeout 1.5 s on %s " % d.mountpoint in rig.log("hup")


def pets(rig, guid):
    return os.path.getsize(rig.watchdog(guid))


@pytest.mark.parametrize("policy", ["any", "all"])
def test_policy_with_two_mounts_and_one_frozen(rig, policy):
    """``any`` fences when one mount is stale; ``all`` keeps running (and petting the watchdog) until
    both are, then fences and stops petting; fresh storage resumes the pets."""
    guid = "pol-" + policy
    c = rig.mount("c")
    fenced = os.path.join(rig.root, "FENCED")
    proc = rig.daemon(guid, rig.a.mountpoint, "--mount", c.mountpoint, "--policy", policy,
                      "--fence-action", "command:/usr/bin/touch %s" % fenced, "--watchdog", rig.watchdog(guid))
    assert advancing(rig, guid) and advancing_on(rig, guid, c), rig.log(guid)
    c.freeze()
    if policy == "any":
        assert rig.wait_for(lambda: os.path.exists(fenced), PATIENCE, step=0.02), rig.log(guid)
        assert "%s (last write" % c.mountpoint in rig.log(guid)
        assert "%s (last write" % rig.a.mountpoint not in rig.log(guid)
        return
    # c is stale beyond the timeout (its write blocked that long), a is fresh: no fence, pets go on.
    blocked = "heartbeat write to %s blocked" % c.mountpoint
    assert rig.wait_for(lambda: blocked in rig.log(guid), PATIENCE), rig.log(guid)
    frozen_seq = fields(rig, guid, c)["seq"]
    before = pets(rig, guid)
    assert advancing(rig, guid)
    assert rig.wait_for(lambda: pets(rig, guid) > before + 2, PATIENCE), "watchdog not petted under all"
    assert fields(rig, guid, c)["seq"] == frozen_seq
    assert not os.path.exists(fenced) and "FENCING" not in rig.log(guid)
    # Both stale: fence, naming both, and no more pets.
    rig.a.freeze()
    assert rig.wait_for(lambda: os.path.exists(fenced), PATIENCE, step=0.02), rig.log(guid)
    log = rig.log(guid)
    assert "%s (last write" % c.mountpoint in log and "%s (last write" % rig.a.mountpoint in log
    at_fence = pets(rig, guid)
    time.sleep(0.6)
    assert pets(rig, guid) == at_fence, "watchdog petted while every mount is stale"
    # Storage back: a fence decision is final. No running record, no pet, ever again in this run.
    rig.a.release()
    c.release()
    assert rig.wait_for(lambda: "blocked" in rig.log(guid), PATIENCE)
    time.sleep(1.0)
    after = fields(rig, guid, c)["seq"], seq(rig, guid)
    time.sleep(1.0)
    assert (fields(rig, guid, c)["seq"], seq(rig, guid)) == after, "running records after a fence decision"
    assert pets(rig, guid) == at_fence, "watchdog petted after a fence decision"
    assert "fresh again" not in rig.log(guid)
    assert proc.poll() is None
