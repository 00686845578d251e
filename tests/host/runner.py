"""runner.py [--user NAME] [DIR]: run the host tests (``DIR/test_*.py``) on any Python from 2.4 to 3.x.

Python 2.4 and 2.6 have no ``unittest discover``, so this small stdlib runner does it: it puts the tree
that holds ``tests/host`` on ``sys.path``, imports every ``test_*.py`` of DIR (default: its own folder)
as ``tests.host.<name>``, runs them with ``unittest.TextTestRunner`` (progress and failure details on
stderr) and prints one summary line on stdout::

    ovm3-selftest python=2.6.6 ran=151 failures=0 errors=0 uid=99

then one ``FAILED <test id>`` line per failing test (a module that does not import counts as an error).
``make test`` runs the host tests with it under Python 2.7; ``ovm3 deploy --self-test`` ships it to a
dom0 and runs it with the host's own Python. With ``--user NAME`` (run as root) it drops to that user,
groups included, before it imports a single test, and checks it cannot get root back: no test can
reach /proc/sysrq-trigger, /dev/watchdog or /etc of the host it runs on.

Exit 0 when every test passed, 1 when any failed, 2 on usage or privilege errors.
"""
import optparse
import os
import sys
import unittest

SUMMARY = "ovm3-selftest"


class RunnerError(Exception):
    """The runner cannot run the tests as asked."""


def drop_privileges(user):
    """Become ``user`` (uid, gid, no supplementary groups) for good; raises RunnerError if that fails."""
    import pwd

    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise RunnerError("no user %r on this host" % user)
    uid, gid = entry[2], entry[3]
    if uid == 0:
        raise RunnerError("refusing to run the tests as %r: it is root" % user)
    if os.getuid() != 0:
        if os.getuid() == uid:
            return uid
        raise RunnerError("--user %s needs root (running as uid %d)" % (user, os.getuid()))
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    try:
        os.setuid(0)
    except OSError:
        pass
    else:
        raise RunnerError("dropped to %s but could become root again" % user)
    if os.getuid() != uid or os.geteuid() != uid or os.getgid() != gid:
        raise RunnerError("could not drop to %s (uid %d, euid %d)" % (user, os.getuid(), os.geteuid()))
    os.environ["HOME"] = "/"
    os.environ["USER"] = os.environ["LOGNAME"] = user
    return uid


class ImportFailure(unittest.TestCase):
    """Stands for a test module that does not import: one error naming the module and the exception."""

    def __init__(self, module, detail):
        unittest.TestCase.__init__(self, "runTest")
        self.module = module
        self.detail = detail

    def id(self):
        return "%s (import)" % self.module

    def __str__(self):
        return self.id()

    def runTest(self):
        raise ImportError("cannot import %s: %s" % (self.module, self.detail))


def load(folder):
    """A suite of every ``test_*.py`` module in ``folder`` (imported as ``tests.host.<name>``)."""
    folder = os.path.abspath(folder)
    tree = os.path.dirname(os.path.dirname(folder))
    if tree not in sys.path:
        sys.path.insert(0, tree)
    names = [n[:-3] for n in os.listdir(folder) if n.startswith("test_") and n.endswith(".py")]
    names.sort()
    suite = unittest.TestSuite()
    loader = unittest.TestLoader()
    for name in names:
        module = "tests.host." + name
        try:
            __import__(module)
        except Exception:
            e = sys.exc_info()[1]
            suite.addTest(ImportFailure(module, "%s: %s" % (e.__class__.__name__, e)))
            continue
        suite.addTest(loader.loadTestsFromModule(sys.modules[module]))
    return suite


def main(argv=None, out=None):
    out = out or sys.stdout
    if argv is None:
        argv = sys.argv[1:]
    parser = optparse.OptionParser(usage="%prog [--user NAME] [DIR]")
    parser.add_option("--user", default=None, help="drop to this user first (needs root)")
    opts, args = parser.parse_args(list(argv))
    if len(args) > 1:
        parser.print_usage(sys.stderr)
        return 2
    folder = os.path.dirname(os.path.abspath(__file__))
    if args:
        folder = args[0]
    if not os.path.isdir(folder):
        sys.stderr.write("runner: %s is not a directory\n" % folder)
        return 2
    try:
        if opts.user:
            drop_privileges(opts.user)
    except (RunnerError, OSError):
        sys.stderr.write("runner: %s\n" % sys.exc_info()[1])
        return 2
    os.chdir(os.path.dirname(os.path.dirname(os.path.abspath(folder))))  # the login's cwd may be unreadable
    suite = load(folder)
    result = unittest.TextTestRunner(sys.stderr, True, 1).run(suite)
    out.write("%s python=%s ran=%d failures=%d errors=%d uid=%d\n" % (
        SUMMARY, ".".join([str(x) for x in sys.version_info[:3]]), result.testsRun, len(result.failures),
        len(result.errors), os.getuid()))
    for test, detail in result.failures + result.errors:
        out.write("FAILED %s\n" % test.id())
    out.flush()
    if result.failures or result.errors:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
