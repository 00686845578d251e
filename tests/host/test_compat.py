"""hostlib/ovm3_compat.py under Python 3 and the real 2.7: commands, JSON, XML-RPC ints, files, argspecs."""

import os
import shutil
import stat
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SNAPSHOTS = os.path.join(ROOT, "tools", "snapshots")
sys.path.insert(0, os.path.join(ROOT, "hostlib"))

import ovm3_compat  # noqa: E402
from tests.host import jsonread  # noqa: E402

SH = "/bin/sh"
E_ACUTE = u"\xe9"  # a non-ASCII text character on Python 2 and 3 alike


class RunTest(unittest.TestCase):
    def test_output_and_exit_code(self):
        rc, out, err = ovm3_compat.run([SH, "-c", "echo out; echo err >&2; exit 3"], 10)
        self.assertEqual((rc, out, err), (3, "out\n", "err\n"))

    def test_large_output_does_not_deadlock_and_is_capped(self):
        rc, out, err = ovm3_compat.run(
            [SH, "-c", "head -c 3000000 /dev/zero; head -c 300000 /dev/zero >&2"], 30, limit=1000000
        )
        self.assertEqual((rc, len(out), len(err)), (0, 1000000, 300000))

    def test_deadline_kills(self):
        start = ovm3_compat.monotonic()
        try:
            ovm3_compat.run([SH, "-c", "echo partial; exec sleep 30"], 1)
        except ovm3_compat.CommandTimeout:
            e = sys.exc_info()[1]
            self.assertEqual(e.out, "partial\n")
            self.assertTrue("within 1 s" in str(e))
        else:
            self.fail("no CommandTimeout")
        self.assertTrue(ovm3_compat.monotonic() - start < 20)

    def test_deadline_kills_a_silent_child_that_keeps_pipes_open(self):
        self.assertRaises(ovm3_compat.CommandTimeout, ovm3_compat.run, [SH, "-c", "exec sleep 30"], 1)

    def test_stdin_and_fds_closed(self):
        rc, out, err = ovm3_compat.run([SH, "-c", "cat; ls /proc/self/fd | wc -l"], 10, stdin_data="abc\n")
        self.assertEqual(out.splitlines()[0], "abc")
        self.assertTrue(int(out.splitlines()[1]) <= 5, out)

    def test_refuses_strings_and_missing_programs(self):
        self.assertRaises(ValueError, ovm3_compat.run, "echo hi", 5)
        self.assertRaises(OSError, ovm3_compat.run, ["/nonexistent/prog"], 5)


class JsonTest(unittest.TestCase):
    def test_values(self):
        dumps = ovm3_compat.json_dumps
        self.assertEqual(
            dumps({"b": [1, 2.5, None], "a": True, "c": 'x"\n' + E_ACUTE}),
            '{"a":true,"b":[1,2.5,null],"c":"x\\"\\n\\u00e9"}',
        )
        self.assertEqual(dumps(2**70), str(2**70))
        self.assertEqual(dumps(u"\U0001f600"), '"\\ud83d\\ude00"')
        self.assertEqual(dumps("\x01"), '"\\u0001"')
        self.assertEqual(dumps({"a": [], "b": {}}), '{"a":[],"b":{}}')

    def test_refuses_what_json_cannot_carry_as_type_and_value_error(self):
        for dumps in (ovm3_compat.json_dumps, indented):
            self.assertRaises(ValueError, dumps, float("nan"))
            self.assertRaises(ValueError, dumps, float("inf"))
            for bad in ({1: 2}, object()):
                self.assertRaises(TypeError, dumps, bad)
                self.assertRaises(ValueError, dumps, bad)

    def test_round_trip_through_a_real_parser(self):
        value = {"name": "caf" + E_ACUTE, "list": [1, -2, 3.25, False, None, {"k": "v\t"}], "big": 2**40}
        self.assertEqual(jsonread.loads(ovm3_compat.json_dumps(value)), value)


class JsonReaderTest(unittest.TestCase):
    """``json_loads``: the reader the host tests use where Python 2.4 has no json module."""

    def test_reads_every_kind_of_value(self):
        loads = ovm3_compat.json_loads
        self.assertEqual(loads(' {"a" : [1, -2, 3.5, 1e3, -0.25E-1, true, false, null], "b": {}, "c": []} '),
                         {"a": [1, -2, 3.5, 1000.0, -0.025, True, False, None], "b": {}, "c": []})
        self.assertEqual(loads('"q\\"b\\\\s\\/n\\nt\\tu\\u00e9"'), u'q"b\\s/n\nt\tu\xe9')
        self.assertEqual(loads('"\\ud83d\\ude00"'), u"\U0001f600")
        self.assertEqual(loads(str(2 ** 70)), 2 ** 70)
        self.assertTrue(isinstance(loads("7"), int) and isinstance(loads("7.0"), float))

    def test_refuses_what_is_not_strict_json(self):
        for bad in ("", "[1,]", '{"a":1,}', "{'a': 1}", "NaN", "[1] 2", '"tab\there"', '"\\x41"',
                    '"\\u12"', "[1", '{"a" 1}', "01", "tru", '{1: 2}', '"open'):
            self.assertRaises(ovm3_compat.JSONError, ovm3_compat.json_loads, bad)
            self.assertRaises(ValueError, ovm3_compat.json_loads, bad)


def indented(value):
    return ovm3_compat.json_dumps(value, 2)


class IndentedJsonTest(unittest.TestCase):
    """``json_dumps(value, indent)``: the API snapshots' format, one item a line."""

    def test_round_trips_through_json(self):
        value = {"b": [1, -2, 3.25, True, False, None], "a": {"nested": []}, "e": {},
                 "s": u"quote\" back\\ nl\n tab\t ctl\x01 caf\xe9 \u20ac"}
        self.assertEqual(jsonread.loads(indented(value)), value)

    def test_astral_characters_become_surrogate_pairs(self):
        text = u"\U0001f600"
        out = indented(text)
        self.assertEqual(out.lower(), '"\\ud83d\\ude00"')
        self.assertEqual(jsonread.loads(out), text)

    def test_output_is_ascii_sorted_and_stable(self):
        self.assertEqual(indented({"z": 1, "a": u"\xe9"}), '{\n  "a": "\\u00e9",\n  "z": 1\n}')
        self.assertEqual(ovm3_compat.json_dumps({"k": [1, {}], "e": []}, 4),
                         '{\n    "e": [],\n    "k": [\n        1,\n        {}\n    ]\n}')

    def test_shipped_snapshots_are_written_byte_for_byte(self):
        names = [n for n in os.listdir(SNAPSHOTS) if n.endswith(".json")]
        self.assertTrue(names, "no snapshots in %s" % SNAPSHOTS)
        for name in names:
            f = open(os.path.join(SNAPSHOTS, name), "rb")
            try:
                text = f.read().decode("ascii")
            finally:
                f.close()
            self.assertEqual(indented(jsonread.loads(text)) + "\n", text, name)


class Service(object):
    def copy_file(self, src, dst, sparse=True):
        pass


class CallableObject(object):
    def __call__(self, a, b=2):
        pass


def take_anything(first, *rest, **options):
    pass


class ArgspecTest(unittest.TestCase):
    def test_plain_function(self):
        def f(a, b=448, *rest, **kw):
            return a

        self.assertEqual(ovm3_compat.argspec(f), (["a", "b"], "rest", "kw", (448,), []))

    def test_bound_method_drops_self(self):
        args, varargs, varkw, defaults, kwonly = ovm3_compat.argspec(Service().copy_file)
        self.assertEqual(args, ["src", "dst", "sparse"])
        self.assertEqual(defaults, (True,))
        self.assertEqual((varargs, varkw, kwonly), (None, None, []))

    def test_varargs_and_no_defaults(self):
        args, varargs, varkw, defaults, kwonly = ovm3_compat.argspec(take_anything)
        self.assertEqual((args, varargs, varkw, defaults), (["first"], "rest", "options", ()))

    def test_callable_object(self):
        args, varargs, varkw, defaults, kwonly = ovm3_compat.argspec(CallableObject())
        self.assertEqual((args, defaults), (["a", "b"], (2,)))

    def test_builtin_raises_type_error(self):
        self.assertRaises(TypeError, ovm3_compat.argspec, max)


class MiscTest(unittest.TestCase):
    def test_xmlrpc_safe_turns_big_ints_into_strings(self):
        value = {"a": 2**31, "b": [2**31 - 1, -(2**31), -(2**31) - 1], "c": True, "d": "x"}
        self.assertEqual(
            ovm3_compat.xmlrpc_safe(value),
            {"a": "2147483648", "b": [2147483647, -2147483648, "-2147483649"], "c": True, "d": "x"},
        )
        try:
            import xmlrpclib as client  # novm
        except ImportError:
            import xmlrpc.client as client  # novm
        client.dumps((ovm3_compat.xmlrpc_safe({"n": 2**40}),))

    def test_md5(self):
        self.assertEqual(ovm3_compat.md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72")
        fd, path = tempfile.mkstemp()
        os.write(fd, "abc".encode("ascii"))
        os.close(fd)
        try:
            self.assertEqual(ovm3_compat.md5_file(path), "900150983cd24fb0d6963f7d28e17f72")
        finally:
            os.unlink(path)

    def test_monotonic_moves_forward(self):
        a = ovm3_compat.monotonic()
        ovm3_compat.run([SH, "-c", "sleep 0.05"], 5)
        self.assertTrue(ovm3_compat.monotonic() >= a)


class FakeTimes(object):
    """os.times() of a 32-bit dom0: element 4 is a signed 32-bit tick count (100 Hz) in seconds."""

    def __init__(self, ticks):
        self.ticks = ticks

    def __call__(self):
        signed = ((self.ticks + 2 ** 31) % 2 ** 32) - 2 ** 31
        return (0.0, 0.0, 0.0, 0.0, signed / 100.0)


class MonotonicClockTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.uptime = os.path.join(self.dir, "uptime")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def set_uptime(self, seconds):
        f = open(self.uptime, "w")
        try:
            f.write("%.2f 123.45\n" % seconds)
        finally:
            f.close()

    def test_real_clock_is_proc_uptime(self):
        f = open(ovm3_compat.UPTIME_FILE)
        try:
            before = float(f.read().split()[0])
        finally:
            f.close()
        now = ovm3_compat.monotonic()
        self.assertTrue(before - 0.02 <= now <= before + 5, (before, now))
        self.assertEqual(ovm3_compat.monotonic_clock_name(), ovm3_compat.CLOCK_UPTIME)
        # Another process (another Python even) reads the same scale: readings are comparable.
        rc, out, err = ovm3_compat.run([sys.executable, "-c", "print(open('/proc/uptime').read().split()[0])"], 30)
        self.assertTrue(abs(float(out) - ovm3_compat.monotonic()) < 10, out)

    def test_uptime_file_is_the_source(self):
        times = FakeTimes(5000)
        clock = ovm3_compat.MonotonicClock(self.uptime, times, 100)
        self.set_uptime(1000.5)
        self.assertEqual(clock.now(), 1000.5)
        self.set_uptime(1001.25)
        self.assertEqual(clock.now(), 1001.25)
        self.assertEqual(clock.name(), "uptime")

    def test_32bit_tick_wrap_is_undone_when_uptime_is_unreadable(self):
        # 248.5 days after boot the signed 32-bit clock_t jumps from +2**31 to -2**31 ticks.
        start = 2 ** 31 - 150  # 1.5 s before the wrap
        times = FakeTimes(start)
        clock = ovm3_compat.MonotonicClock(self.uptime, times, 100)
        self.set_uptime(21474835.0)
        first = clock.now()
        os.unlink(self.uptime)  # /proc/uptime unreadable from now on (say, EMFILE)
        readings = []
        for step in (100, 100, 100, 100):  # 1 s each, across the wrap
            times.ticks += step
            readings.append(clock.now())
        self.assertTrue(times().__getitem__(4) < 0, "the fake did not wrap")
        for i, value in enumerate(readings):
            self.assertAlmostEqual(value, first + i + 1, 2)
        self.assertEqual(clock.name(), "uptime")  # still on the uptime scale (calibrated offset)

    def test_without_uptime_file_ticks_scale_wraps_too_and_never_steps_back(self):
        times = FakeTimes(2 ** 31 - 50)
        clock = ovm3_compat.MonotonicClock(os.path.join(self.dir, "none"), times, 100)
        a = clock.now()
        times.ticks += 100
        b = clock.now()
        self.assertAlmostEqual(b - a, 1.0, 2)
        times.ticks -= 10  # a tick source that stepped back is clamped, never returned
        self.assertEqual(clock.now(), b)
        self.assertEqual(clock.name(), "os.times")

    def test_is_fatal(self):
        self.assertTrue(ovm3_compat.is_fatal(KeyboardInterrupt()))
        self.assertTrue(ovm3_compat.is_fatal(SystemExit(1)))
        self.assertFalse(ovm3_compat.is_fatal(ValueError()))

    def test_write_file_atomic(self):
        d = tempfile.mkdtemp()
        try:
            path = os.path.join(d, "f")
            old = os.umask(int("077", 8))
            try:
                ovm3_compat.write_file_atomic(path, "caf" + E_ACUTE, int("644", 8))
            finally:
                os.umask(old)
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), int("644", 8))
            self.assertEqual(
                ovm3_compat.read_file(path), ovm3_compat.to_text(("caf" + E_ACUTE).encode("utf-8"))
            )
            self.assertEqual(os.listdir(d), ["f"])
            self.assertRaises(OSError, ovm3_compat.write_file_atomic, os.path.join(d, "no", "f"), "x", 420)
            self.assertEqual(os.listdir(d), ["f"])
        finally:
            shutil.rmtree(d)


if __name__ == "__main__":
    unittest.main()
