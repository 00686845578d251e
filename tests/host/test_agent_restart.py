"""The installer's ``--restart``: the caller's choice, then a bounded wait by polling the agent's port.

A stub ``service`` under the fake tree's ``--root`` (``<root>/sbin/service``) records that it ran; a
thread of the test stands in for ovs-agent: a real TCP socket on 127.0.0.1, bound to the port named in
the fake ``agent.ini`` but listening only ``delay`` seconds after the stub ran (until then connections
are refused, as while the agent restarts). Runs under pytest (Python 3) and the real Python 2.7.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from tests.host.test_agent_install import INSTALLER, layout, write

STUB = """#!/bin/sh
echo "$@" > "$0.ran"
%s
"""


class FakeAgentPort(threading.Thread):
    """Listens on ``sock`` once ``marker`` exists and ``delay`` seconds passed; notes the first accept.

    It ends by itself once ``done`` is set, under every Python: not a daemon thread, and it never uses
    the value of ``Event.wait`` (None before 2.7); every wait is a bounded step followed by ``isSet()``.
    """

    STEP = 0.01

    def __init__(self, sock, marker, delay):
        threading.Thread.__init__(self)
        self.sock = sock
        self.marker = marker
        self.delay = delay
        self.listening_at = None
        self.accepted_at = None
        self.done = threading.Event()
        self.ended = threading.Event()  # set as run() returns (isAlive is 2.4-3.8, is_alive 2.6+)

    def stopped_after(self, seconds):
        """Wait up to ``seconds`` (None: until stopped); True when ``done`` was set meanwhile."""
        deadline = None
        if seconds is not None:
            deadline = time.time() + seconds
        while not self.done.isSet():
            if deadline is not None and time.time() >= deadline:
                return False
            self.done.wait(self.STEP)
        return True

    def run(self):
        try:
            self.serve()
        finally:
            self.ended.set()

    def serve(self):
        while not os.path.exists(self.marker):
            if self.stopped_after(self.STEP):
                return
        if self.stopped_after(self.delay):
            return  # stopped before it came up (delay None: it never comes up)
        self.sock.listen(5)
        self.listening_at = time.time()
        self.sock.settimeout(0.1)
        while not self.done.isSet():
            try:
                conn = self.sock.accept()[0]
            except socket.timeout:
                continue
            if self.accepted_at is None:
                self.accepted_at = time.time()
            conn.close()


class RestartTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="ovm3-restart-")
        self.agent = layout(self.root, "3.3")
        # Bound but not listening: the port is ours, and connecting to it is refused until listen().
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        write(self.root + "/etc/ovs-agent/agent.ini", "[server]\nip=*\nport=%d\nssl=enable\n" % self.port)
        self.stub = self.root + "/sbin/service"
        self.ran = self.stub + ".ran"
        self.stub_body("exit 0")
        self.fake = None

    def tearDown(self):
        if self.fake is not None:
            self.fake.done.set()
            self.fake.join(10)
            self.assertTrue(self.fake.ended.isSet(), "the fake agent's thread did not end by itself")
        self.sock.close()
        shutil.rmtree(self.root)

    def stub_body(self, tail):
        write(self.stub, STUB % tail)
        os.chmod(self.stub, int("755", 8))

    def agent_comes_up(self, delay):
        self.fake = FakeAgentPort(self.sock, self.ran, delay)
        self.fake.start()

    def install(self, *extra):
        argv = [sys.executable, INSTALLER, "install", "--agent-dir", self.agent, "--root", self.root] + list(extra)
        began = time.time()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate()
        ended = time.time()
        return proc.returncode, out.decode("utf-8"), err.decode("utf-8"), began, ended

    def test_no_restart_unless_asked(self):
        self.agent_comes_up(0.0)
        rc, out, err, _, _ = self.install()
        self.assertEqual(rc, 0, err)
        self.assertTrue("state=installed" in out, out)
        self.assertFalse("restarted" in out, out)
        self.assertFalse(os.path.exists(self.ran), "the agent was restarted without --restart")

    def check_waits_until_the_port_answers(self, delay):
        self.agent_comes_up(delay)
        rc, out, err, began, ended = self.install("--restart", "--restart-timeout", "30")
        self.assertEqual(rc, 0, err)
        self.assertTrue("restarted=yes" in out and "state=installed" in out, out)
        self.assertEqual(open(self.ran).read().split(), ["ovs-agent", "restart"])
        fake = self.fake
        self.assertTrue(fake.listening_at is not None and fake.accepted_at is not None, (out, err))
        # It waited for the agent: it returned only after the port answered...
        self.assertTrue(ended >= fake.listening_at)
        # ...and noticed that within a poll step or so (no fixed sleep: slack for a loaded machine).
        self.assertTrue(fake.accepted_at - fake.listening_at < 1.5, fake.accepted_at - fake.listening_at)

    def test_waits_by_polling_for_an_agent_that_is_up_at_once(self):
        self.check_waits_until_the_port_answers(0.0)

    def test_waits_by_polling_for_an_agent_that_comes_up_late(self):
        # Refused for 2.5 s first: one fixed sleep and a single look would fail here.
        self.check_waits_until_the_port_answers(2.5)
        self.assertTrue(self.fake.listening_at - os.stat(self.ran).st_mtime >= 2.0)

    def test_gives_up_at_its_deadline_with_a_clear_message(self):
        self.agent_comes_up(None)
        rc, out, err, began, ended = self.install("--restart", "--restart-timeout", "1.5")
        self.assertEqual(rc, 1, (out, err))
        self.assertTrue(os.path.exists(self.ran))
        message = "did not accept connections on 127.0.0.1:%d within 1.5 s" % self.port
        self.assertTrue(message in err and message in out, (out, err))
        self.assertTrue(ended - began >= 1.5, ended - began)
        self.assertTrue(ended - began < 1.5 + 20, ended - began)

    def test_a_failing_service_command_is_reported(self):
        self.stub_body('echo "ovs-agent: unrecognized service" >&2\nexit 3')
        rc, out, err, _, _ = self.install("--restart", "--restart-timeout", "30")
        self.assertEqual(rc, 1, (out, err))
        self.assertTrue("restart failed (rc 3): ovs-agent: unrecognized service" in err, err)

    def test_restart_timeout_is_checked(self):
        rc, out, err, _, _ = self.install("--restart", "--restart-timeout", "0")
        self.assertEqual(rc, 2, (out, err))
        self.assertTrue("--restart-timeout" in err, err)
        self.assertFalse(os.path.exists(self.ran))


if __name__ == "__main__":
    unittest.main()
