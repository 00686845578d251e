"""tools/py24_gate.py: it refuses a deliberately new-syntax file and passes every real host-side source."""

import glob
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
GATE = os.path.join(REPO, "tools", "py24_gate.py")
FIXTURE = os.path.join(REPO, "tests", "fixtures_py24", "new_syntax.py")

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
    for folder in ("agent_module", "fencing", "hostlib", os.path.join("tools", "host")):
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
