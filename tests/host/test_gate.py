"""tools/py24_gate.py: it refuses deliberately bad files (new syntax, runtime traps) and passes every real
host-side source and host test."""

import glob
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
GATE = os.path.join(REPO, "tools", "py24_gate.py")
FIXTURES = os.path.join(REPO, "tests", "fixtures_py24")
FIXTURE = os.path.join(FIXTURES, "new_syntax.py")

#: Each fixture construct and a word its report must carry.
EXPECTED = (
    "module json",
    "module hashlib",
    "module functools",
    "relative import",
    "namedtuple",
    "class decorator",
    "keyword-only",
    "except ... as",
    "try/except/finally",
    "'with'",
    "0o755",
    "0b101",
    "b'' literal",
    "conditional expression",
    "set literal",
    ".format()",
    ".partition()",
    "builtin any()",
    "builtin all()",
    "builtin next()",
    "endswith() with a tuple",
    "print() with several",
    "'yield' inside try/finally",
)

#: The runtime traps: fixture file -> (line, a word its report must carry) for every trap in it.
TRAPS = {
    "trap_exception_type_name.py": ((12, "type(<exception>).__name__"), (20, "type(<exception>).__name__"),
                                    (20, "type(<exception>).__name__")),
    "trap_threading_names.py": ((10, "thread.daemon ="), (11, "Thread(daemon=...)"), (13, ".is_set"),
                                (13, ".is_alive"), (14, ".current_thread"), (14, ".active_count")),
    "trap_wait_value.py": ((9, "value of .wait(timeout)"), (11, "value of .wait(timeout)"),
                           (14, "value of .wait(timeout)")),
    "trap_unittest_api.py": ((9, "setUpClass"), (13, "addCleanup"), (15, "decorator skip "),
                             (19, "decorator skipIf"), (24, "assertIn "), (25, "assertIsNone"),
                             (26, "assertIsInstance"), (27, "assertNotIn"), (28, "assertGreater"),
                             (29, "skipTest"), (32, "assertRaises as a context manager")),
}


def python3():
    """A Python 3 to run the gate with (it parses with Python 3's ast)."""
    if sys.version_info[0] >= 3:
        return sys.executable
    for candidate in (os.path.join(REPO, ".venv", "bin", "python"), "/usr/bin/python3"):
        if os.path.exists(candidate):
            return candidate
    return None


def run_gate(paths):
    proc = subprocess.Popen([python3(), GATE] + list(paths), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def host_sources():
    out = []
    for folder in ("agent_module", "fencing", "hostlib", os.path.join("tools", "host"), os.path.join("tests", "host")):
        out.extend(sorted(glob.glob(os.path.join(REPO, folder, "*.py"))))
    return out


class GateTest(unittest.TestCase):
    def setUp(self):
        if python3() is None:
            self.fail("no Python 3 interpreter to run tools/py24_gate.py (make venv creates .venv)")

    def test_new_syntax_fixture_fails_with_every_construct_reported(self):
        rc, out, err = run_gate([FIXTURE])
        self.assertEqual(rc, 1, out + err)
        missing = [word for word in EXPECTED if word not in out]
        self.assertEqual(missing, [], out)

    def test_every_runtime_trap_fixture_fails_on_each_of_its_lines(self):
        files = [os.path.basename(p) for p in glob.glob(os.path.join(FIXTURES, "trap_*.py"))]
        self.assertEqual(sorted(files), sorted(TRAPS.keys()))  # no fixture goes unchecked
        for name in sorted(TRAPS):
            rc, out, err = run_gate([os.path.join(FIXTURES, name)])
            self.assertEqual(rc, 1, name + out + err)
            lines = out.splitlines()
            for line, word in TRAPS[name]:
                prefix = "%s:%d: " % (os.path.join(FIXTURES, name), line)
                hits = [x for x in lines if x.startswith(prefix) and word in x]
                self.assertTrue(hits, "%s line %d: %r not reported in\n%s" % (name, line, word, out))
            self.assertEqual(len(lines) - 1, len(TRAPS[name]), out)  # nothing else (the last line counts)

    def test_the_safe_spellings_of_the_traps_pass(self):
        rc, out, err = run_gate([os.path.join(FIXTURES, "clean_runtime_forms.py")])
        self.assertEqual((rc, out), (0, ""), err)

    def test_real_host_sources_pass(self):
        sources = host_sources()
        self.assertTrue(len(sources) >= 10, sources)
        rc, out, err = run_gate(sources)
        self.assertEqual((rc, out), (0, ""), err)

    def test_guarded_fallback_imports_and_our_modules_are_allowed(self):
        import tempfile

        fd, path = tempfile.mkstemp(suffix=".py")
        os.write(
            fd,
            "try:\n    import json\nexcept ImportError:\n    json = None\nimport ovm3_compat\n"
            "import md5\n".encode("ascii"),
        )
        os.close(fd)
        try:
            rc, out, err = run_gate([path])
            self.assertEqual((rc, out), (0, ""))
        finally:
            os.unlink(path)

    def test_python2_only_syntax_is_reported_as_unparseable(self):
        import tempfile

        fd, path = tempfile.mkstemp(suffix=".py")
        os.write(fd, "try:\n    pass\nexcept OSError, e:\n    pass\n".encode("ascii"))
        os.close(fd)
        try:
            rc, out, err = run_gate([path])
            self.assertEqual(rc, 1)
            self.assertTrue("does not parse" in out, out)
        finally:
            os.unlink(path)


if __name__ == "__main__":
    unittest.main()
