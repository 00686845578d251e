"""Heartbeat daemon logic without storage: config, record format, state file, verdict rules, CLI usage.

Stdlib unittest only; runs under Python 3 (pytest) and the real Python 2.7 (unittest discover). Every
system path is a temp file: nothing here touches /proc/sysrq-trigger, /dev/watchdog or /etc.
"""
import os
import shutil
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
for _folder in ("hostlib", "fencing"):
    _p = os.path.join(REPO, _folder)
    if _p not in sys.path:
        sys.path.insert(0, _p)

import ovm3_compat  # noqa: E402
import ovm3_hb_config  # noqa: E402
import ovm3_hb_daemon  # noqa: E402
import ovm3_hb_io  # noqa: E402
import ovm3_hb_mounts  # noqa: E402
import ovm3_hb_record  # noqa: E402
import ovm3_hb_watchdog  # noqa: E402
import ovm3_hb_verdict  # noqa: E402
import ovm3_heartbeat  # noqa: E402

class StringIO:
    """A text sink for the daemon's output (Python 2.4 has StringIO, Python 3 only io: one class for both)."""

    def __init__(self):
        self.parts = []

    def write(self, text):
        self.parts.append(text)

    def flush(self):
        pass

    def getvalue(self):
        return "".join(self.parts)


def record(**kw):
    base = {"guid": "host-a", "instance": "10-1", "seq": 1, "interval": 0.2, "timeout": 1.0, "policy": "any",
            "mounts": 1, "time": 1700000000.0, "state": "running", "fence": "crash", "watchdog": "armed",
            "watchdog_timeout": 60.0, "conflict": "0", "boot": "b-1", "version": 2}
    base.update(kw)
    return base


class TempDir(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hbtest")

    def tearDown(self):
        shutil.rmtree(self.tmp, True)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        f = open(path, "w")
        try:
            f.write(text)
        finally:
            f.close()
        return path


class ConfigTest(TempDir):
    def test_file_with_every_key(self):
        path = self.write("cfg", "# comment\nGUID=abc-1\nMOUNTS='/m/a /m/b'\nINTERVAL=0.2\nTIMEOUT=1.5\n"
                                 "FENCE_ACTION=log-only\nPOLICY=all\nWATCHDOG=/dev/null\nSTATE_DIR=/tmp/s\n")
        config = ovm3_hb_config.load_config(path)
        self.assertEqual(config["guid"], "abc-1")
        self.assertEqual(config["mounts"], ["/m/a", "/m/b"])
        self.assertEqual(config["interval"], 0.2)
        self.assertEqual(config["timeout"], 1.5)
        self.assertEqual(config["policy"], "all")
        self.assertEqual(config["watchdog"], "/dev/null")
        self.assertEqual(config["config_path"], path)

    def test_rejects_bad_values_naming_the_key(self):
        cases = [("NOPE=1\n", "unknown key NOPE"), ("INTERVAL=abc\n", "INTERVAL"),
                 ("INTERVAL=2\nTIMEOUT=1\n", "shorter than TIMEOUT"), ("POLICY=some\n", "POLICY"),
                 ("FENCE_ACTION=explode\n", "FENCE_ACTION"), ("MOUNTS=relative/path\n", "MOUNTS"),
                 ("GUID=../etc\n", "GUID"), ("TIMEOUT=-3\n", "TIMEOUT"), ("just words\n", "KEY=value")]
        for text, expected in cases:
            path = self.write("bad", text)
            try:
                ovm3_hb_config.load_config(path)
            except ovm3_hb_config.ConfigError:
                self.assertTrue(expected in str(sys.exc_info()[1]), (text, str(sys.exc_info()[1])))
            else:
                self.fail("accepted %r" % text)

    def test_missing_file_is_an_error(self):
        self.assertRaises(ovm3_hb_config.ConfigError, ovm3_hb_config.load_config,
                          os.path.join(self.tmp, "absent"))

    def test_fence_actions(self):
        self.assertEqual(ovm3_hb_config.parse_fence_action("crash"), ("crash", None))
        self.assertEqual(ovm3_hb_config.parse_fence_action("command:/bin/echo 'a b' c"),
                         ("command", ["/bin/echo", "a b", "c"]))
        self.assertRaises(ovm3_hb_config.ConfigError, ovm3_hb_config.parse_fence_action, "command:echo x")
        self.assertRaises(ovm3_hb_config.ConfigError, ovm3_hb_config.parse_fence_action, "command:")

    def test_guid_must_be_a_plain_name(self):
        for good in ("4f1c-22", "host_1.example:x"):
            self.assertTrue(ovm3_hb_config.valid_guid(good))
        for bad in ("", "a/b", ".hidden", "x y", "g.tmp", "a\nb"):
            self.assertFalse(ovm3_hb_config.valid_guid(bad), bad)

    def test_o2cb_race_warning(self):
        o2cb = self.write("o2cb", "O2CB_ENABLED=true\nO2CB_HEARTBEAT_THRESHOLD=61\n")
        self.assertEqual(ovm3_hb_config.o2cb_fence_seconds(o2cb), 120.0)
        config = ovm3_hb_config.defaults()
        self.assertTrue("races o2cb" in ovm3_hb_config.o2cb_warning(config, o2cb))
        config["timeout"] = 60.0
        self.assertEqual(ovm3_hb_config.o2cb_warning(config, o2cb), None)
        self.assertEqual(ovm3_hb_config.o2cb_warning(config, os.path.join(self.tmp, "none")), None)


class ConfigPathsTest(TempDir):
    """The system-path keys of the config file: read, validated, used by the daemon, checker and init script."""

    KEYS = ("PID_FILE", "LOCK_FILE", "MOUNTINFO", "BOOT_ID", "SYSRQ_TRIGGER", "SYSRQ_CONTROL", "O2CB_CONFIG",
            "PYTHON", "DAEMON", "SUBSYS_LOCK", "STATE_DIR")

    def config_text(self, **over):
        values = {}
        for key in self.KEYS:
            values[key] = os.path.join(self.tmp, key.lower().replace("_", "-"))
        values["PYTHON"] = sys.executable
        values["DAEMON"] = os.path.join(REPO, "fencing", "ovm3_heartbeat.py")
        values.update(over)
        lines = ["GUID=host-a", "INTERVAL=0.2", "TIMEOUT=1", "FENCE_ACTION=log-only"]
        for key in sorted(values.keys()):
            lines.append("%s=%s" % (key, values[key]))
        return "\n".join(lines) + "\n", values

    def test_every_path_key_is_read(self):
        text, values = self.config_text()
        config = ovm3_hb_config.load_config(self.write("cfg", text))
        for key in self.KEYS:
            self.assertEqual(config[key.lower()], values[key], key)
        paths = ovm3_hb_config.paths_of(config)
        self.assertEqual(sorted(paths.keys()), sorted(ovm3_hb_config.PATH_KEYS))
        for key in ovm3_hb_config.PATH_KEYS:
            self.assertEqual(paths[key], values[key.upper()])

    def test_defaults_are_the_dom0_paths(self):
        config = ovm3_hb_config.validate(ovm3_hb_config.defaults(), need_guid=False)
        self.assertEqual(ovm3_hb_config.paths_of(config), ovm3_heartbeat.default_paths())
        self.assertEqual(config["sysrq_trigger"], "/proc/sysrq-trigger")
        self.assertEqual((config["python"], config["daemon"], config["subsys_lock"]), (None, None, None))

    def test_bad_paths_are_refused_naming_the_key(self):
        bad_values = ("relative/path", "/with space", "/a/$(reboot)", "/a/`x`", "/a;b", "/a/../etc", "/a//b",
                      "/a/", "/a/'q'")
        for key in self.KEYS:
            for value in bad_values:
                text = self.config_text(**{key: value})[0]
                if value == "/with space":  # unquoted, sh would run "space": quote it as an operator would
                    text = text.replace("=" + value, "='%s'" % value)
                try:
                    ovm3_hb_config.load_config(self.write("bad", text))
                except ovm3_hb_config.ConfigError:
                    self.assertTrue(key in str(sys.exc_info()[1]), (key, value, str(sys.exc_info()[1])))
                else:
                    self.fail("%s=%r accepted" % (key, value))

    def test_pid_and_lock_files_must_differ(self):
        same = os.path.join(self.tmp, "run")
        text = self.config_text(PID_FILE=same, LOCK_FILE=same)[0]
        try:
            ovm3_hb_config.load_config(self.write("cfg", text))
        except ovm3_hb_config.ConfigError:
            self.assertTrue("PID_FILE and LOCK_FILE" in str(sys.exc_info()[1]))
        else:
            self.fail("a shared pid/lock file was accepted")

    def test_status_and_stop_use_the_configured_pid_and_lock_files(self):
        text, values = self.config_text()
        cfg = self.write("cfg", text)
        lock = ovm3_hb_daemon.acquire_lock(values["LOCK_FILE"])
        try:
            f = open(values["PID_FILE"], "w")
            f.write("4242\n")
            f.close()
            out = StringIO()
            self.assertEqual(ovm3_heartbeat.main(["-c", cfg, "status"], out), 0)
            self.assertTrue("pid 4242" in out.getvalue(), out.getvalue())
            # A flag still wins over the file.
            out = StringIO()
            code = ovm3_heartbeat.main(["-c", cfg, "--lock-file", os.path.join(self.tmp, "other"), "status"], out)
            self.assertEqual(code, 3)
        finally:
            os.close(lock)
        self.assertEqual(ovm3_heartbeat.main(["-c", cfg, "status"], StringIO()), 3)

    def test_checker_reads_boot_id_and_state_from_the_configured_paths(self):
        text, values = self.config_text()
        f = open(values["BOOT_ID"], "w")
        f.write("boot-of-the-config\n")
        f.close()
        os.makedirs(values["STATE_DIR"])
        config = ovm3_hb_config.load_config(self.write("cfg", text))
        book = ovm3_hb_verdict.PeerBook(0.2, 0.5)
        now = ovm3_compat.monotonic()
        book.read_ok("/m", {"host-b": ("ok", record(guid="host-b"))}, now - 0.1, now)
        f = open(ovm3_hb_verdict.state_path(values["STATE_DIR"]), "w")
        f.write(book.to_text(1, "boot-of-the-config"))
        f.close()
        result = ovm3_heartbeat.verdict(config, "host-b")
        self.assertEqual(result["observed_by"], "daemon", result)

    def test_init_script_reads_the_same_values_from_the_file(self):
        text, values = self.config_text()
        cfg = self.write("cfg", text)
        script = "CONFIG=%s; . \"$CONFIG\"; echo \"$PYTHON|$DAEMON|$SUBSYS_LOCK|$PID_FILE\"" % cfg
        rc, out, err = ovm3_compat.run(["/bin/sh", "-c", script], 30)
        self.assertEqual(out.strip(), "|".join([values[k] for k in ("PYTHON", "DAEMON", "SUBSYS_LOCK", "PID_FILE")]))
        init = os.path.join(REPO, "fencing", "ovm3-heartbeat.init")
        env = dict(os.environ)
        env["CONFIG"] = cfg
        rc, out, err = ovm3_compat.run(["/bin/sh", init, "status"], 60, env=env)
        self.assertEqual((rc, out.strip()), (3, "ovm3-heartbeat is not running"), err)
        # The daemon it starts (PYTHON DAEMON from the file) finds the lock and pid where the file says.
        lock = ovm3_hb_daemon.acquire_lock(values["LOCK_FILE"])
        try:
            f = open(values["PID_FILE"], "w")
            f.write("4343\n")
            f.close()
            rc, out, err = ovm3_compat.run(["/bin/sh", init, "status"], 60, env=env)
            self.assertEqual((rc, out.strip()), (0, "ovm3-heartbeat is running (pid 4343)"), err)
        finally:
            os.close(lock)


class RecordTest(TempDir):
    def test_round_trip_and_fixed_size(self):
        data = ovm3_hb_record.format_record(record(seq=2 ** 40))
        self.assertEqual(len(data), ovm3_hb_record.RECORD_SIZE)
        parsed = ovm3_hb_record.parse_record(data)
        self.assertEqual(parsed["seq"], 2 ** 40)
        self.assertEqual(parsed["state"], "running")
        self.assertEqual(parsed["interval"], 0.2)

    def test_rejects_garbage(self):
        good = ovm3_hb_compat_text(ovm3_hb_record.format_record(record()))
        for bad in ("", "hello", good.replace("seq=1", "seq=x"), good.replace("state=running", "state=odd"),
                    good.replace("guid=host-a\n", "")):
            self.assertRaises(ovm3_hb_record.RecordError, ovm3_hb_record.parse_record, bad)

    def test_write_then_read_on_a_local_directory(self):
        ovm3_hb_record.write_heartbeat(self.tmp, "host-a", record(seq=7))
        self.write(".hb-junk", "not a record")
        self.write(".hb-host-b.tmp", "half written")
        found = ovm3_hb_record.read_heartbeats(self.tmp)
        self.assertEqual(sorted(found.keys()), ["host-a", "junk"])
        self.assertEqual(found["host-a"][0], "ok")
        self.assertEqual(found["host-a"][1]["seq"], 7)
        self.assertEqual(found["junk"][0], "error")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, ".hb-host-a.tmp")))

    def test_child_read_job_round_trip(self):
        ovm3_hb_record.write_heartbeat(self.tmp, "host-a", record(seq=9))
        results = ovm3_hb_io.parse_read_result(ovm3_hb_io.read_job(self.tmp))
        self.assertEqual(results["host-a"][1]["seq"], 9)
        self.assertEqual(ovm3_hb_io.parse_read_result(["record guid=x", "ok"])["x"][0], "error")
        self.assertRaises(ValueError, ovm3_hb_io.parse_read_result, ["record r_seq=1", "ok"])
        self.assertRaises(ValueError, ovm3_hb_io.parse_read_result, ["record guid=x"])

    def test_quote_round_trip(self):
        for value in ("plain", "a b=c%d\n\te", ""):
            self.assertEqual(ovm3_hb_record.unquote(ovm3_hb_record.quote(value)), value)

    def test_mount_table_unescapes_and_filters_nfs(self):
        table = ovm3_hb_mounts.read_mountinfo(self.write("mounts", MOUNTINFO))
        config = ovm3_hb_config.defaults()
        mounts, missing = ovm3_hb_mounts.monitored_mounts(config, table)
        self.assertEqual(mounts, ["/OVS/Repositories/0a", "/OVS/Repositories/with space"])
        config["mounts"] = ["/elsewhere", "/not/mounted"]
        mounts, missing = ovm3_hb_mounts.monitored_mounts(config, table)
        self.assertEqual(sorted(mounts), ["/elsewhere", "/not/mounted"])
        self.assertEqual(list(missing.keys()), ["/not/mounted"])


MOUNTINFO = ("20 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
             "40 20 0:44 / /OVS/Repositories/0a rw,relatime shared:20 - nfs srv:/x rw,vers=3\n"
             "41 20 0:45 / /OVS/Repositories/with\\040space rw - nfs4 srv:/y rw\n"
             "42 20 8:2 / /OVS/Repositories/local rw - ext4 /dev/sda2 rw\n"
             "43 20 0:46 / /elsewhere rw master:3 shared:4 - nfs srv:/z rw\n")


def ovm3_hb_compat_text(data):
    if not isinstance(data, str):
        return data.decode("ascii")
    return data


class VerdictTest(unittest.TestCase):
    """The rules, on a PeerBook filled by hand at chosen monotonic times (writer timeout 1 s, margin 1.4 s)."""

    M = "/m/a"

    def book_with(self, records, read_every=0.2, fail_last=False):
        """Reads at 0, 0.2, ... each returning the next record (None: file absent)."""
        book = ovm3_hb_verdict.PeerBook(0.2, 0.5)
        t = 0.0
        for rec in records:
            results = {}
            if rec is not None:
                results["host-a"] = ("ok", rec)
            book.read_ok(self.M, results, t, t + 0.01)
            t = t + read_every
        if fail_last:
            book.read_failed(self.M, "no answer within 0.5 s", t)
        return book, t

    def verdict(self, book, now):
        return ovm3_hb_verdict.evaluate(book, "host-a", now)

    def test_advancing_writer_is_alive_even_with_its_clock_hours_off(self):
        recs = [record(seq=n, time=1700000000.0 - 5 * 3600) for n in range(1, 6)]
        book, t = self.book_with(recs)
        result = self.verdict(book, t)
        self.assertEqual(result["verdict"], "ALIVE", result["reason"])

    def test_fresh_looking_wall_clock_without_progress_is_not_alive(self):
        import time
        recs = [record(seq=5, time=time.time())] * 20
        book, t = self.book_with(recs)
        result = self.verdict(book, t)
        self.assertNotEqual(result["verdict"], "ALIVE")

    def test_dead_needs_timeout_plus_margin_without_progress(self):
        # The last advance is seen by the read ending at 0.41 s; reads go on every 0.2 s.
        def at(reads):
            recs = [record(seq=n) for n in (1, 2, 3)] + [record(seq=3)] * (reads - 3)
            book, t = self.book_with(recs)
            return self.verdict(book, t), t - 0.41

        result, since = at(5)
        self.assertEqual(result["verdict"], "ALIVE", (since, result["reason"]))
        result, since = at(12)
        self.assertEqual(result["verdict"], "UNKNOWN")
        self.assertTrue("not observed long enough" in result["reason"], result["reason"])
        result, since = at(15)
        self.assertEqual(result["verdict"], "DEAD", result["reason"])
        self.assertTrue(float(result["since_progress"]) >= 2.4)

    def test_unknown_reasons(self):
        cases = [(dict(state="stopped"), "stopped cleanly"), (dict(fence="log-only"), "log-only"),
                 (dict(fence="command"), "command"), (dict(watchdog="none"), "no watchdog")]
        for change, expected in cases:
            recs = [record(seq=1, **change), record(seq=2, **change)] + [record(seq=2, **change)] * 30
            book, t = self.book_with(recs)
            result = self.verdict(book, t)
            self.assertEqual(result["verdict"], "UNKNOWN", change)
            self.assertTrue(expected in result["reason"], (expected, result["reason"]))

    def test_first_sight_is_not_enough(self):
        book, t = self.book_with([record(seq=40)])
        result = self.verdict(book, t)
        self.assertEqual(result["verdict"], "UNKNOWN")
        self.assertTrue("not observed long enough" in result["reason"])

    def test_storage_failure_and_missing_file(self):
        recs = [record(seq=1)] * 30
        book, t = self.book_with(recs, fail_last=True)
        result = self.verdict(book, t + 0.1)
        self.assertEqual(result["verdict"], "UNKNOWN")
        self.assertTrue("storage slow" in result["reason"], result["reason"])
        book, t = self.book_with(recs + [None])
        result = self.verdict(book, t)
        self.assertEqual(result["verdict"], "UNKNOWN")
        self.assertTrue("no heartbeat file" in result["reason"], result["reason"])
        book, t = self.book_with(recs)
        result = self.verdict(book, t + 5)
        self.assertTrue("no read of" in result["reason"], result["reason"])

    def test_policy_all_needs_every_mount_stale(self):
        recs = [record(seq=1, policy="all", mounts=2)] * 30
        book, t = self.book_with(recs)
        result = self.verdict(book, t)
        self.assertEqual(result["verdict"], "UNKNOWN")
        self.assertTrue("all its 2 mounts" in result["reason"], result["reason"])

    def test_values_are_xmlrpc_safe(self):
        recs = [record(seq=2 ** 40 + n) for n in range(3)]
        book, t = self.book_with(recs)
        result = self.verdict(book, t)

        def walk(value):
            if isinstance(value, dict):
                for v in value.values():
                    walk(v)
            elif isinstance(value, list):
                for v in value:
                    walk(v)
            else:
                self.assertTrue(value is None or isinstance(value, (str, bool)) or
                                (type(value) is int and abs(value) < 2 ** 31), repr(value))
        walk(result)
        self.assertEqual(result["mounts"][0]["seq"], str(2 ** 40 + 2))

    def test_state_file_round_trip_and_staleness(self):
        recs = [record(seq=n) for n in range(1, 4)]
        book, t = self.book_with(recs)
        tmp = tempfile.mkdtemp()
        try:
            path = ovm3_hb_verdict.state_path(tmp)
            f = open(path, "w")
            f.write(book.to_text(123, "boot-1"))
            f.close()
            loaded, why = ovm3_hb_verdict.load_state(path, "boot-1", t)
            self.assertEqual(why, None)
            self.assertEqual(self.verdict(loaded, t)["verdict"], self.verdict(book, t)["verdict"])
            self.assertEqual(loaded.peers[(self.M, "host-a")]["record"]["seq"], 3)
            self.assertTrue("stale" in ovm3_hb_verdict.load_state(path, "boot-1", t + 60)[1])
            # A daemon whose reads hang still saves every interval: its file is current, and the
            # verdict from it says the storage is slow (the probe fallback is for a missing daemon).
            f = open(path, "w")
            f.write(book.to_text(123, "boot-1", t + 60))
            f.close()
            loaded, why = ovm3_hb_verdict.load_state(path, "boot-1", t + 60)
            self.assertEqual(why, None)
            result = self.verdict(loaded, t + 60)
            self.assertEqual(result["verdict"], "UNKNOWN")
            self.assertTrue("storage slow" in result["reason"], result)
            self.assertTrue("another boot" in ovm3_hb_verdict.load_state(path, "boot-2", t)[1])
            self.assertTrue("no state file" in ovm3_hb_verdict.load_state(path + "x", "boot-1", t)[1])
        finally:
            shutil.rmtree(tmp, True)


class ChildIsolationTest(TempDir):
    def test_hung_detached_reader_does_not_hold_the_callers_output_open(self):
        # A checker whose read child hangs on dead storage must still end its caller's read of stdout.
        pidfile = os.path.join(self.tmp, "child.pid")
        script = self.write("probe.py", """
import os, sys, time
sys.path[:0] = [%r, %r]
import ovm3_compat, ovm3_hb_io

def hang(pidfile):
    f = open(pidfile, "w")
    f.write(str(os.getpid()))
    f.close()
    time.sleep(120)
    return ["ok"]

now = ovm3_compat.monotonic()
ovm3_hb_io.spawn(hang, (%r,), "read", "/m", now, now + 120, detach=True)
sys.stdout.write("answered\\n")
""" % (os.path.join(REPO, "hostlib"), os.path.join(REPO, "fencing"), pidfile))
        try:
            rc, out, err = ovm3_compat.run([sys.executable, script], 60)
            self.assertEqual((rc, out), (0, "answered\n"), err)
        finally:
            deadline = ovm3_compat.monotonic() + 30
            while not os.path.exists(pidfile) and ovm3_compat.monotonic() < deadline:
                time.sleep(0.05)
            if os.path.exists(pidfile):
                os.kill(int(open(pidfile).read()), 9)


class CommandLineTest(TempDir):
    def paths(self):
        return ["--pid-file", os.path.join(self.tmp, "pid"), "--lock-file", os.path.join(self.tmp, "lock"),
                "--mountinfo", self.write("mounts", ""), "--boot-id", self.write("boot", "b\n"),
                "--sysrq-trigger", self.write("sysrq", ""), "--sysrq-control", self.write("sysrqc", ""),
                "--o2cb-config", os.path.join(self.tmp, "o2cb"), "--state-dir", os.path.join(self.tmp, "st")]

    def main(self, args):
        out = StringIO()
        saved = sys.stderr
        sys.stderr = StringIO()
        try:
            code = ovm3_heartbeat.main(args, out)
            err = sys.stderr.getvalue()
        finally:
            sys.stderr = saved
        return code, out.getvalue(), err

    def test_usage_errors_exit_2(self):
        self.assertEqual(self.main(["bogus"])[0], 2)
        self.assertEqual(self.main(["--no-such-flag"])[0], 2)
        code, out, err = self.main(["-c", os.path.join(self.tmp, "absent"), "run"])
        self.assertEqual(code, 2)
        self.assertTrue("cannot read config" in err)
        code, out, err = self.main(["-c", self.write("cfg", "INTERVAL=0.2\nTIMEOUT=1\n"), "run"] + self.paths())
        self.assertEqual(code, 2)
        self.assertTrue("GUID" in err)

    def test_status_when_not_running(self):
        code, out, err = self.main(["status"] + self.paths())
        self.assertEqual(code, 3)
        self.assertTrue("not running" in out)

    def test_check_without_storage_is_unknown_json(self):
        code, out, err = self.main(["-c", self.write("cfg", "INTERVAL=0.2\nTIMEOUT=1\n"), "-g", "peer-1", "-s",
                                    "--window", "0.3"] + self.paths())
        self.assertEqual(code, 4)
        self.assertEqual(len(out.strip().splitlines()), 1)
        self.assertTrue('"verdict":"UNKNOWN"' in out, out)
        self.assertTrue('"observed_by":"probe"' in out, out)

    def test_run_refuses_unmounted_storage(self):
        cfg = self.write("cfg", "GUID=me\nINTERVAL=0.2\nTIMEOUT=1\nFENCE_ACTION=log-only\nMOUNTS=%s\n" % self.tmp)
        code, out, err = self.main(["-c", cfg, "--no-syslog", "run"] + self.paths())
        self.assertEqual(code, 1)
        self.assertTrue("not mounted" in err, err)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, ".hb-me")))


if __name__ == "__main__":
    unittest.main()
