"""Fixtures for the heartbeat tests on a real FUSE filesystem that can hang (see tests/fusefs.py).

Import into a test module with ``from tests.conftest_fuse import *``. ``rig`` gives a temp tree with
one backing directory served by two FUSE mounts: ``rig.a`` without caching (writers) and ``rig.b``
with attribute, name and data caching (readers). Daemons started through the rig run with every system
path pointed into the temp tree and with a guard that fails any attempt to open the real
/proc/sysrq-trigger or /dev/watchdog (an audit hook in the test process and in every child Python).
Teardown always releases frozen callers first, stops the daemons and unmounts.
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.fusefs import FuseMount

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEARTBEAT = os.path.join(REPO, "fencing", "ovm3_heartbeat.py")
FORBIDDEN = ("/proc/sysrq-trigger", "/dev/watchdog", "/proc/sys/kernel/sysrq")

GUARD_SOURCE = '''
import os, sys
_FORBIDDEN = %r
_LOG = os.environ.get("OVM3_TEST_GUARD_LOG")
def _ovm3_guard(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes)):
        path = os.fsdecode(args[0])
        if os.path.abspath(path) in _FORBIDDEN:
            if _LOG:
                with open(_LOG, "a") as f:
                    f.write(path + "\\n")
            raise PermissionError("test guard: %%s must never be opened by a test" %% path)
sys.addaudithook(_ovm3_guard)
''' % (FORBIDDEN,)

needs_fuse = pytest.mark.skipif(not os.path.exists("/dev/fuse"),
                                reason="needs /dev/fuse (FUSE kernel module)")

_guard_installed = []


def _install_guard_here(log):
    if _guard_installed:
        return
    os.environ["OVM3_TEST_GUARD_LOG"] = log
    exec(compile(GUARD_SOURCE, "ovm3_test_guard", "exec"), {})
    _guard_installed.append(True)


class Rig:
    """Two FUSE views of one backing directory, plus helpers to run the heartbeat CLI against them."""

    interval = "0.2"
    timeout = "1"
    #: A test watchdog is a plain file: the daemon needs to be told the timeout it advertises.
    watchdog_timeout = "5"

    def __init__(self, root):
        self.root = str(root)
        self.backing = os.path.join(self.root, "backing")
        os.makedirs(self.backing)
        self.guard_dir = os.path.join(self.root, "guard")
        os.makedirs(self.guard_dir)
        with open(os.path.join(self.guard_dir, "sitecustomize.py"), "w") as f:
            f.write(GUARD_SOURCE)
        self.guard_log = os.path.join(self.root, "guard.log")
        _install_guard_here(self.guard_log)
        self.env = dict(os.environ, PYTHONPATH=self.guard_dir, OVM3_TEST_GUARD_LOG=self.guard_log)
        self.a = FuseMount(self.backing, os.path.join(self.root, "a"), os.path.join(self.root, "ctl-a"))
        self.b = FuseMount(self.backing, os.path.join(self.root, "b"), os.path.join(self.root, "ctl-b"),
                           cache=True)
        self.procs = []
        self.extra = []
        self.a.start()
        self.b.start()

    def host_dir(self, guid):
        path = os.path.join(self.root, "host-" + guid)
        if not os.path.isdir(path):
            os.makedirs(path)
            for name in ("sysrq-trigger", "sysrq", "watchdog"):
                open(os.path.join(path, name), "w").close()
            with open(os.path.join(path, "boot_id"), "w") as f:
                f.write("test-boot\n")
        return path

    def mount(self, name):
        """One more FUSE mount (no caching) with a backing directory of its own, closed with the rig."""
        backing = os.path.join(self.root, "backing-" + name)
        os.makedirs(backing)
        m = FuseMount(backing, os.path.join(self.root, name), os.path.join(self.root, "ctl-" + name))
        self.extra.append(m)
        m.start()
        return m

    def args(self, guid, mount, *extra):
        """CLI arguments for host ``guid`` monitoring ``mount``, every system path inside the rig."""
        return [sys.executable, HEARTBEAT, "-c", os.devnull, "-g", guid, "-i", self.interval,
                "-t", self.timeout, "--mount", mount, "--watchdog-timeout", self.watchdog_timeout
                ] + self.path_args(guid) + list(extra)

    def path_args(self, guid):
        """Flags that put every system path of host ``guid`` inside the rig (none is a SIGHUP setting)."""
        d = self.host_dir(guid)
        return ["--state-dir", os.path.join(d, "state"), "--pid-file", os.path.join(d, "pid"),
                "--lock-file", os.path.join(d, "lock"), "--sysrq-trigger", os.path.join(d, "sysrq-trigger"),
                "--sysrq-control", os.path.join(d, "sysrq"), "--boot-id", os.path.join(d, "boot_id"),
                "--o2cb-config", os.path.join(d, "no-o2cb"), "--no-syslog"]

    def watchdog(self, guid):
        return os.path.join(self.host_dir(guid), "watchdog")

    def daemon(self, guid, mount, *extra):
        """Start ``run`` in the foreground as a child; its stderr goes to host-<guid>/log."""
        return self._start(guid, self.args(guid, mount, *extra) + ["run"])

    def daemon_from_config(self, guid, config):
        """Start ``run`` with every setting from the file ``config`` (flags only for system paths), so a
        SIGHUP can change them all."""
        return self._start(guid, [sys.executable, HEARTBEAT, "-c", config] + self.path_args(guid) + ["run"])

    def _start(self, guid, argv):
        log = open(os.path.join(self.host_dir(guid), "log"), "ab")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.env)
        log.close()
        self.procs.append(proc)
        return proc

    def cli(self, guid, mount, *extra):
        return subprocess.run(self.args(guid, mount, *extra), capture_output=True, text=True, timeout=60,
                              env=self.env)

    def check(self, reader, target, mount=None, *extra):
        """``check`` as host ``reader`` asking about ``target`` -> (exit code, parsed JSON)."""
        r = self.cli(reader, mount or self.b.mountpoint, "-g", target, *(list(extra) + ["check"]))
        assert len(r.stdout.strip().splitlines()) == 1, (r.stdout, r.stderr)
        return r.returncode, json.loads(r.stdout)

    def log(self, guid):
        path = os.path.join(self.host_dir(guid), "log")
        if not os.path.exists(path):
            return ""
        with open(path, errors="replace") as f:
            return f.read()

    def record(self, guid, backing=None):
        """The heartbeat record as stored in the backing directory (never through a mount)."""
        with open(os.path.join(backing or self.backing, ".hb-" + guid)) as f:
            return dict(line.split("=", 1) for line in f.read().split("\n")[1:] if "=" in line)

    def wait_for(self, predicate, timeout, step=0.05):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(step)
        return predicate()

    def close(self):
        for m in [self.a, self.b] + self.extra:
            m.release()
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        for m in [self.a, self.b] + self.extra:
            m.close()

    def forbidden_opens(self):
        if not os.path.exists(self.guard_log):
            return ""
        with open(self.guard_log) as f:
            return f.read()


@pytest.fixture(name="rig")
def rig_fixture(tmp_path):
    r = Rig(tmp_path)
    try:
        yield r
    finally:
        r.close()
    assert not r.forbidden_opens(), "a test opened a real system path: %s" % r.forbidden_opens()


__all__ = ["rig_fixture", "needs_fuse", "Rig"]
