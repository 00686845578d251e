"""The heartbeat's storage-facing pieces without FUSE: record format 2 (and reading format 1), the
in-place write's identity checks, mountinfo reading, the watchdog ioctl encoding, the promise merge.

Stdlib unittest in the 2.4 dialect; runs under Python 3 (pytest) and the real Python 2.7.
"""
import errno
import os
import shutil
import sys
import tempfile
import unittest

# The logic tests put hostlib/ and fencing/ on the path; their text helper is shared.
from tests.host.test_heartbeat_logic import ovm3_hb_compat_text as text  # noqa: E402
import ovm3_compat  # noqa: E402
import ovm3_hb_config  # noqa: E402
import ovm3_hb_daemon  # noqa: E402
import ovm3_hb_mounts  # noqa: E402
import ovm3_hb_record  # noqa: E402
import ovm3_hb_verdict  # noqa: E402
import ovm3_hb_watchdog  # noqa: E402


def record(**kw):
    base = {"guid": "host-a", "instance": "0123456789abcdef", "seq": 1, "interval": 0.2, "timeout": 1.0,
            "policy": "any", "mounts": 1, "time": 1700000000.0, "state": "running", "fence": "crash",
            "watchdog": "armed", "watchdog_timeout": 60.0, "conflict": "0", "boot": "b-1"}
    base.update(kw)
    return base


#: A format-2 record as written by this code (any Python): its checksum must verify everywhere.
GOLDEN = ("ovm3-heartbeat 2\nguid=host-a\ninstance=0123456789abcdef\nseq=1\ninterval=0.2\ntimeout=1.0\n"
          "policy=any\nmounts=1\ntime=1700000000.0\nstate=running\nfence=crash\nwatchdog=armed\n"
          "watchdog_timeout=60.0\nconflict=0\nboot=b-1\n")
V1 = ("ovm3-heartbeat 1\nguid=old-host\ninstance=10-1\nseq=5\ninterval=1.0\ntimeout=120.0\npolicy=any\n"
      "mounts=1\ntime=1700000000.000\nstate=running\nfence=crash\nwatchdog=armed\n")


class TempDir(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hbstore")

    def tearDown(self):
        shutil.rmtree(self.tmp, True)


class RecordV2Test(TempDir):
    def test_fixed_size_with_an_unsigned_crc32_line(self):
        data = text(ovm3_hb_record.format_record(record()))
        self.assertEqual(len(data), ovm3_hb_record.RECORD_SIZE)
        self.assertTrue(data.startswith(GOLDEN), data)
        crc = ovm3_hb_record.crc32(GOLDEN)
        self.assertTrue(0 <= crc < 2 ** 32)
        self.assertEqual(data[len(GOLDEN):len(GOLDEN) + 13], "crc=%08x\n" % crc)
        # zlib.crc32 of the same bytes, masked: the same number on 2.x (signed) and 3.x (unsigned).
        self.assertEqual(ovm3_hb_record.crc32("123456789"), int("cbf43926", 16))

    def test_round_trip(self):
        parsed = ovm3_hb_record.parse_record(ovm3_hb_record.format_record(record(seq=2 ** 40, conflict="1")))
        self.assertEqual((parsed["seq"], parsed["version"], parsed["conflict"], parsed["watchdog_timeout"]),
                         (2 ** 40, 2, "1", 60.0))

    def test_a_damaged_or_torn_record_fails_its_checksum(self):
        good = text(ovm3_hb_record.format_record(record(seq=12)))
        for bad in (good.replace("seq=12", "seq=13"), good[:100] + " " * (len(good) - 100),
                    good.replace("crc=", "crc=zz"), good.replace("crc=", "xxx=")):
            self.assertRaises(ovm3_hb_record.ChecksumError, ovm3_hb_record.parse_record, bad)

    def test_format_1_is_still_read_and_unknown_formats_are_refused(self):
        old = ovm3_hb_record.parse_record(V1 + " " * (512 - len(V1)))
        self.assertEqual((old["version"], old["seq"], old["watchdog_timeout"], old["conflict"]), (1, 5, 0.0, "0"))
        future = GOLDEN.replace("ovm3-heartbeat 2", "ovm3-heartbeat 3")
        self.assertRaises(ovm3_hb_record.RecordError, ovm3_hb_record.parse_record, future)

    def test_a_bad_checksum_is_read_once_more_then_counts_as_unreadable(self):
        good = ovm3_hb_record.format_record(record(seq=3))
        torn = ovm3_compat.to_bytes(text(good).replace("seq=3", "seq=4"))
        answers = [torn, good]

        def reader(path):
            return answers.pop(0), True
        self.assertEqual(ovm3_hb_record.read_record("/x", reader)["seq"], 3)
        answers = [torn, torn]
        self.assertRaises(ovm3_hb_record.ChecksumError, ovm3_hb_record.read_record, "/x", reader)
        found = None
        try:
            answers = [torn, torn]
            ovm3_hb_record.read_record("/x", reader)
        except ovm3_hb_record.ChecksumError:
            found = str(sys.exc_info()[1])
        self.assertTrue("record unreadable" in found, found)


class InPlaceWriteTest(TempDir):
    def device(self):
        st = os.stat(self.tmp)
        return os.major(st.st_dev), os.minor(st.st_dev)

    def test_made_once_fully_written_then_rewritten_in_place(self):
        major, minor, ino = ovm3_hb_record.write_heartbeat(self.tmp, "h", record(seq=1), self.device())
        path = os.path.join(self.tmp, ".hb-h")
        self.assertEqual(os.path.getsize(path), 512)
        self.assertEqual(os.stat(path).st_ino, ino)
        again = ovm3_hb_record.write_heartbeat(self.tmp, "h", record(seq=2), self.device(), ino)
        self.assertEqual(again[2], ino)
        self.assertEqual(os.stat(path).st_ino, ino)
        self.assertEqual(ovm3_hb_record.read_record(path)["seq"], 2)
        self.assertEqual(os.listdir(self.tmp), [".hb-h"])

    def test_never_writes_to_another_filesystem_or_another_file(self):
        path = os.path.join(self.tmp, ".hb-h")
        ino = ovm3_hb_record.write_heartbeat(self.tmp, "h", record(seq=1), self.device())[2]
        major, minor = self.device()
        self.assertRaises(ovm3_hb_record.IdentityError, ovm3_hb_record.write_heartbeat, self.tmp, "h",
                          record(seq=2), (major + 1, minor), ino)
        self.assertEqual(ovm3_hb_record.read_record(path)["seq"], 1)
        # The file replaced by another (another filesystem mounted over, a restore): refused.
        os.rename(path, path + ".old")
        ovm3_compat.write_file_atomic(path, text(ovm3_hb_record.format_record(record(seq=9))), int("644", 8))
        self.assertRaises(ovm3_hb_record.IdentityError, ovm3_hb_record.write_heartbeat, self.tmp, "h",
                          record(seq=2), self.device(), ino)
        self.assertEqual(ovm3_hb_record.read_record(path)["seq"], 9)
        # Gone (an empty directory mounted over): ENOENT, and nothing is created.
        os.unlink(path)
        try:
            ovm3_hb_record.write_heartbeat(self.tmp, "h", record(seq=2), self.device(), ino)
            self.fail("wrote a heartbeat file that did not exist")
        except OSError:
            self.assertEqual(sys.exc_info()[1].errno, errno.ENOENT)
        self.assertFalse(os.path.exists(path))


class MountinfoTest(TempDir):
    TABLE = ("20 1 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n"
             "40 20 0:44 / /OVS/Repositories/a rw,relatime shared:20 - nfs srv:/x rw,vers=3\n"
             "41 20 0:45 / /mnt/with\\040space rw - nfs4 srv:/y rw\n"
             "50 40 0:60 / /OVS/Repositories/a rw - tmpfs tmpfs rw\n")

    def test_fields_escapes_and_the_last_mount_wins(self):
        table = ovm3_hb_mounts.parse_mountinfo(self.TABLE)
        self.assertEqual(len(table), 4)
        self.assertEqual(table[2]["point"], "/mnt/with space")
        self.assertEqual((table[1]["mount_id"], table[1]["device"], table[1]["fstype"], table[1]["source"]),
                         (40, (0, 44), "nfs", "srv:/x"))
        points = ovm3_hb_mounts.visible(table)
        self.assertEqual(points["/OVS/Repositories/a"]["fstype"], "tmpfs")

    def test_changes_are_named(self):
        table = ovm3_hb_mounts.parse_mountinfo(self.TABLE)
        nfs, over = table[1], table[3]
        self.assertEqual(ovm3_hb_mounts.changed(nfs, dict(nfs)), None)
        self.assertEqual(ovm3_hb_mounts.changed(nfs, None), "no longer mounted")
        self.assertTrue("tmpfs" in ovm3_hb_mounts.changed(nfs, over))
        for key, value in (("device", (0, 99)), ("source", "srv:/other"), ("fstype", "nfs4"), ("mount_id", 77)):
            other = dict(nfs)
            other[key] = value
            self.assertTrue(ovm3_hb_mounts.changed(nfs, other).startswith("replaced"), key)

    def test_a_proc_mounts_table_is_refused(self):
        self.assertRaises(ovm3_hb_mounts.MountinfoError, ovm3_hb_mounts.parse_mountinfo,
                          "srv:/x /OVS/Repositories/a nfs rw 0 0\n")

    def test_the_real_table_of_this_process_parses(self):
        if os.path.exists("/proc/self/mountinfo"):
            points = ovm3_hb_mounts.visible(ovm3_hb_mounts.read_mountinfo("/proc/self/mountinfo"))
            self.assertTrue("/" in points)


class FakeIoctl:
    def __init__(self, answer):
        self.answer = answer
        self.calls = []

    def __call__(self, fd, request, data):
        import struct
        self.calls.append((request, struct.unpack("i", data)[0]))
        return struct.pack("i", self.answer)


class WatchdogTest(TempDir):
    def test_ioctl_numbers_are_the_kernels(self):
        self.assertEqual(ovm3_hb_watchdog.WDIOC_SETTIMEOUT & int("ffffffff", 16), int("c0045706", 16))
        self.assertEqual(ovm3_hb_watchdog.WDIOC_GETTIMEOUT & int("ffffffff", 16), int("80045707", 16))
        self.assertTrue(ovm3_hb_watchdog.WDIOC_SETTIMEOUT < 2 ** 31)

    def test_set_then_get_through_the_seam(self):
        fake = FakeIoctl(45)
        self.assertEqual(ovm3_hb_watchdog.set_timeout(7, 30, fake), 45)
        self.assertEqual(fake.calls, [(ovm3_hb_watchdog.WDIOC_SETTIMEOUT, 30),
                                      (ovm3_hb_watchdog.WDIOC_GETTIMEOUT, 0)])

    def test_a_device_that_does_not_answer_is_refused(self):
        # /dev/null is a character device that answers ENOTTY: not a watchdog.
        try:
            ovm3_hb_watchdog.Watchdog("/dev/null", 30)
            self.fail("/dev/null accepted as a watchdog")
        except ovm3_hb_watchdog.WatchdogError:
            message = str(sys.exc_info()[1])
        self.assertTrue("WDIOC_SETTIMEOUT" in message and "refusing" in message, message)

    def test_a_device_advertises_what_it_reports(self):
        wd = ovm3_hb_watchdog.Watchdog("/dev/null", 30, FakeIoctl(32))
        try:
            self.assertTrue(wd.device)
            self.assertEqual(wd.timeout, 32.0)
        finally:
            wd.close(disarm=True)

    def test_a_test_file_needs_an_explicit_timeout(self):
        path = os.path.join(self.tmp, "wd")
        open(path, "w").close()
        self.assertRaises(ovm3_hb_watchdog.WatchdogError, ovm3_hb_watchdog.Watchdog, path, None)
        wd = ovm3_hb_watchdog.Watchdog(path, 5)
        wd.pet()
        wd.close(disarm=True)
        self.assertEqual((wd.device, wd.timeout, open(path).read()), (False, 5.0, ".V"))


class UnreadableRecordVerdictTest(unittest.TestCase):
    """DEAD needs valid, unchanged records for the whole window (timeout 1 s + margin 1.4 s here)."""

    def verdict_after(self, reads, bad_at=None):
        book = ovm3_hb_verdict.PeerBook(0.2, 0.5)
        t = 0.0
        for n in range(reads):
            rec = ("ok", record(seq=min(n + 1, 3), version=2))
            if n == bad_at:
                rec = ("error", "record unreadable: record checksum mismatch (torn write or damage)")
            book.read_ok("/m", {"host-a": rec}, t, t + 0.01)
            t = t + 0.2
        return ovm3_hb_verdict.evaluate(book, "host-a", t)

    def test_an_unreadable_read_in_the_window_is_not_a_read_without_progress(self):
        self.assertEqual(self.verdict_after(16)["verdict"], "DEAD")
        result = self.verdict_after(16, bad_at=12)
        self.assertEqual(result["verdict"], "UNKNOWN", result)
        self.assertTrue("unreadable" in result["reason"], result["reason"])
        # A full window of valid, unchanged records after the unreadable one: DEAD again.
        self.assertEqual(self.verdict_after(12 + 14, bad_at=12)["verdict"], "DEAD")


class PromiseTest(unittest.TestCase):
    def promise(self, **kw):
        base = {"timeout": 1.5, "interval": 0.2, "policy": "any", "fence_action": "crash"}
        base.update(kw)
        return base

    def test_the_stricter_value_of_each_setting_is_kept(self):
        old = self.promise()
        self.assertEqual(ovm3_hb_daemon.strictest(old, self.promise(timeout=120.0, interval=1.0, policy="all",
                                                                    fence_action="log-only")), old)
        tighter = self.promise(timeout=1.0, interval=0.1, fence_action="reboot")
        self.assertEqual(ovm3_hb_daemon.strictest(old, tighter), tighter)
        logs = self.promise(policy="all", fence_action="log-only")
        self.assertEqual(ovm3_hb_daemon.strictest(logs, self.promise(fence_action="command:/bin/true"))["fence_action"],
                         "command:/bin/true")

    def test_removal_requests_round_trip_mount_paths(self):
        tmp = tempfile.mkdtemp(prefix="hbrm")
        try:
            path = ovm3_hb_config.request_removal(tmp, "/OVS/Repositories/a b%c")
            open(os.path.join(tmp, "remove-zz"), "w").close()
            f = open(os.path.join(tmp, "remove-" + "0" * 32), "w")
            f.write("/not/the/hash/of/this\n")
            f.close()
            self.assertEqual(ovm3_hb_config.removal_requests(tmp), [("/OVS/Repositories/a b%c", path)])
        finally:
            shutil.rmtree(tmp, True)


if __name__ == "__main__":
    unittest.main()
