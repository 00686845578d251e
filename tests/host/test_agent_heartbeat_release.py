"""The planned-removal service ``heartbeat_release_storage``, with a fake host behind the HostIO seam and
a thread standing in for the daemon (which deletes the request once it recorded ``stopped``)."""

import os
import threading
import time
import unittest

from tests.host.test_agent_support import AgentTestCase, ovm3_agent

import ovm3_agent_health  # noqa: E402
import ovm3_hb_config  # noqa: E402

SERVICES = ovm3_agent.OVM3Agent().get_services()
MOUNT = "/OVS/Repositories/0004fb0000030000"


class ReleaseTest(AgentTestCase):
    def setUp(self):
        AgentTestCase.setUp(self)
        self.state_dir = os.path.join(self.tmp, "hb-state")
        os.makedirs(self.state_dir)
        config = self.host.local_path("/etc/sysconfig/ovm3-heartbeat")
        if not os.path.isdir(os.path.dirname(config)):
            os.makedirs(os.path.dirname(config))
        f = open(config, "w")
        f.write("GUID=host-1\nINTERVAL=0.2\nTIMEOUT=1\nFENCE_ACTION=log-only\nSTATE_DIR=%s\n" % self.state_dir)
        f.close()
        self.running = True
        self.host.run = self.run_status
        self.saved_wait = ovm3_agent_health.RELEASE_WAIT

    def tearDown(self):
        ovm3_agent_health.RELEASE_WAIT = self.saved_wait
        AgentTestCase.tearDown(self)

    def run_status(self, argv, timeout, stdin_data=None):
        if argv[-1] == "status" and self.running:
            return (0, "running", "")
        return (3, "", "not running")

    def test_without_a_daemon_there_is_nothing_to_release(self):
        self.running = False
        result = SERVICES["heartbeat_release_storage"](MOUNT)
        self.assertEqual(result["released"], False)
        self.assertEqual(os.listdir(self.state_dir), [])

    def test_the_daemon_answers_by_deleting_the_request(self):
        seen = []

        def daemon():
            deadline = time.time() + 10
            while time.time() < deadline:
                found = ovm3_hb_config.removal_requests(self.state_dir)
                if found:
                    seen.append(found[0][0])
                    os.unlink(found[0][1])
                    return
                time.sleep(0.02)
        t = threading.Thread(target=daemon)
        t.setDaemon(True)
        t.start()
        result = SERVICES["heartbeat_release_storage"](MOUNT)
        t.join(10)
        self.assertEqual(result["released"], True, result)
        self.assertEqual(seen, [self.host.mount_path(MOUNT)])

    def test_no_answer_is_a_fault_saying_not_to_unmount(self):
        ovm3_agent_health.RELEASE_WAIT = 0.2
        err = self.assertRefused(SERVICES["heartbeat_release_storage"], MOUNT)
        self.assertTrue("do not unmount" in str(err), str(err))
        self.assertEqual(ovm3_hb_config.removal_requests(self.state_dir), [])

    def test_a_bad_path_is_refused(self):
        for bad in ("relative/path", "/a/../b", "/a b"):
            self.assertRefused(SERVICES["heartbeat_release_storage"], bad)


if __name__ == "__main__":
    unittest.main()
