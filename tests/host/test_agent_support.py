"""Shared pieces of the agent-module tests: import paths, a fake host behind the seam, a real-path guard.

Stdlib unittest only; runs under Python 3 (pytest) and the real Python 2.7 (unittest discover).
"""
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
AGENT_DIR = os.path.join(REPO, "agent_module")
for _folder in ("agent_module", "hostlib", "fencing"):
    _p = os.path.join(REPO, _folder)
    if _p not in sys.path:
        sys.path.insert(0, _p)

import ovm3_agent  # noqa: E402
import ovm3_compat  # noqa: E402
import ovm3_hostio  # noqa: E402

try:
    import builtins as _builtins  # novm
except ImportError:  # Python 2
    import __builtin__ as _builtins  # novm

#: Real host paths no test may open (they are parameters everywhere).
FORBIDDEN = ("/proc/sysrq-trigger", "/dev/watchdog", "/etc/", "/OVS", "/usr/lib64/python2",
             "/root/.ssh", "/var/lib/ovm3", "/nfsmnt")


class RealPathOpened(AssertionError):
    """A test reached a real host path that must only ever be a parameter."""


def _check(path):
    if isinstance(path, int):
        return
    p = os.path.abspath(str(path))
    for bad in FORBIDDEN:
        if p == bad.rstrip("/") or p.startswith(bad.rstrip("/") + "/"):
            raise RealPathOpened("test opened the real host path %s" % p)


class PathGuard(object):
    """While installed, open()/os.open() of a FORBIDDEN path raises RealPathOpened."""

    def __init__(self):
        self.saved = None

    def install(self):
        real_open, real_os_open = _builtins.open, os.open

        def guarded_open(path, *args, **kwargs):
            _check(path)
            return real_open(path, *args, **kwargs)

        def guarded_os_open(path, *args, **kwargs):
            _check(path)
            return real_os_open(path, *args, **kwargs)
        self.saved = (real_open, real_os_open)
        _builtins.open = guarded_open
        os.open = guarded_os_open

    def remove(self):
        if self.saved:
            _builtins.open, os.open = self.saved
            self.saved = None


class FakeHost(ovm3_hostio.RealHost):
    """A host in a temp dir: real file operations below ``root``, scripted commands, domains and counters."""

    def __init__(self, root):
        ovm3_hostio.RealHost.__init__(self, root)
        self.commands = []          # every argv run
        self.replies = []           # (predicate(argv) -> bool, (rc, out, err) or an exception)
        self.ports = {}             # (ip, port) -> bool
        self.addresses = []
        self.routes = []
        self.domains = {}
        self.memory = (32768, 20480)
        self.proc_stat = []         # successive /proc/stat cpu lines
        self.clock = 1700000000.0
        self.slept = []

    def reply(self, predicate, result):
        self.replies.append((predicate, result))

    def run(self, argv, timeout, stdin_data=None):
        assert isinstance(argv, list) and argv[0].startswith("/"), argv
        assert timeout > 0
        self.commands.append((list(argv), timeout))
        for predicate, result in self.replies:
            if predicate(argv):
                if isinstance(result, Exception):
                    raise result
                return result
        return (0, "", "")

    def tcp_connect(self, ip, port, timeout):
        self.commands.append((["tcp", ip, str(port)], timeout))
        return self.ports.get((ip, port), False)

    def ipv4_addresses(self):
        return list(self.addresses)

    def ipv4_routes(self):
        return list(self.routes)

    def xend_domain(self, name):
        return self.domains.get(name)

    def list_domains(self):
        return list(self.domains.values())

    def xen_memory(self):
        return self.memory

    def read_proc_stat(self):
        if self.proc_stat:
            return self.proc_stat.pop(0)
        return ovm3_hostio.RealHost.read_proc_stat(self)

    def now(self):
        return self.clock

    def sleep(self, seconds):
        self.slept.append(seconds)

    # helpers for tests
    def put(self, path, data, mode=420):
        local = self.local_path(path)
        if not os.path.isdir(os.path.dirname(local)):
            os.makedirs(os.path.dirname(local))
        f = open(local, "wb")
        try:
            f.write(ovm3_compat.to_bytes(data))
        finally:
            f.close()
        os.chmod(local, mode)

    def get(self, path):
        f = open(self.local_path(path), "rb")
        try:
            return ovm3_compat.to_text(f.read())
        finally:
            f.close()


class AgentTestCase(unittest.TestCase):
    """A temp root with a FakeHost installed as the module's host, the path guard on."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ovm3-agent-test-")
        self.host = FakeHost(self.tmp)
        for d in ("/OVS/Repositories", "/nfsmnt", "/root/.ssh", "/var/lib/ovm3", "/opt/ovm3"):
            os.makedirs(self.host.local_path(d))
        ovm3_agent.reset()
        ovm3_agent.set_host(self.host)
        self.guard = PathGuard()
        self.guard.install()

    def tearDown(self):
        self.guard.remove()
        ovm3_agent.reset()
        shutil.rmtree(self.tmp)

    def assertRefused(self, func, *args):
        try:
            func(*args)
        except ovm3_agent.ServiceError:
            return sys.exc_info()[1]
        self.fail("%s%r was not refused" % (func.__name__, args))


class PathGuardTest(unittest.TestCase):
    def test_guard_refuses_real_host_paths_and_allows_temp_ones(self):
        guard = PathGuard()
        guard.install()
        try:
            for path in ("/proc/sysrq-trigger", "/dev/watchdog", "/etc/passwd", "/OVS/Repositories/x"):
                self.assertRaises(RealPathOpened, open, path)
                self.assertRaises(RealPathOpened, os.open, path, os.O_RDONLY)
            tmp = tempfile.mkdtemp()
            try:
                f = open(os.path.join(tmp, "ok"), "w")
                f.close()
            finally:
                shutil.rmtree(tmp)
        finally:
            guard.remove()
