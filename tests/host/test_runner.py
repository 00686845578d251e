"""tests/host/runner.py, the host tests' own runner (2.4 and 2.6 have no ``unittest discover``): it runs a
tree's ``test_*.py``, counts failures and modules that do not import, and refuses to run as root by name."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "runner.py")

PASSING = "import unittest\n\nclass A(unittest.TestCase):\n    def test_ok(self):\n        pass\n"
FAILING = "import unittest\n\nclass B(unittest.TestCase):\n    def test_bad(self):\n        self.fail('x')\n"
BROKEN = "import no_such_module_ovm3\n"


def write(path, text):
    f = open(path, "w")
    try:
        f.write(text)
    finally:
        f.close()


class RunnerTest(unittest.TestCase):
    def setUp(self):
        self.tree = tempfile.mkdtemp(prefix="ovm3-runner-")
        self.folder = os.path.join(self.tree, "tests", "host")
        os.makedirs(self.folder)
        write(os.path.join(self.tree, "tests", "__init__.py"), "")
        write(os.path.join(self.folder, "__init__.py"), "")
        write(os.path.join(self.folder, "test_a.py"), PASSING)

    def tearDown(self):
        shutil.rmtree(self.tree)

    def run_runner(self, *args):
        proc = subprocess.Popen([sys.executable, RUNNER] + list(args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        out, err = proc.communicate()
        return proc.returncode, out.decode("utf-8"), err.decode("utf-8")

    def test_all_passing_exits_0_with_the_summary_line(self):
        rc, out, err = self.run_runner(self.folder)
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.startswith("ovm3-selftest python="), out)
        self.assertTrue(" ran=1 failures=0 errors=0 uid=%d\n" % os.getuid() in out, out)

    def test_failures_and_unimportable_modules_are_counted_and_named(self):
        write(os.path.join(self.folder, "test_b.py"), FAILING)
        write(os.path.join(self.folder, "test_c.py"), BROKEN)
        write(os.path.join(self.folder, "helper_not_a_test.py"), FAILING)
        rc, out, err = self.run_runner(self.folder)
        self.assertEqual(rc, 1, out + err)
        self.assertTrue(" ran=3 failures=1 errors=1 " in out, out)
        lines = out.splitlines()
        self.assertTrue("FAILED tests.host.test_b.B.test_bad" in lines, out)
        self.assertTrue("FAILED tests.host.test_c (import)" in lines, out)
        self.assertTrue("no_such_module_ovm3" in err, err)

    def test_root_and_unknown_users_are_refused_before_any_test_runs(self):
        for user in ("root", "no-such-user-ovm3"):
            rc, out, err = self.run_runner("--user", user, self.folder)
            self.assertEqual((rc, out), (2, ""), err)
            self.assertTrue(err.startswith("runner: "), err)


if __name__ == "__main__":
    unittest.main()
