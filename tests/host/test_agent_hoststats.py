"""get_host_stats: the one-call sweep, behind a fake host (Python 2.4 dialect: runs on dom0 too)."""

import threading
import time
import unittest

from tests.host.test_agent_support import AgentTestCase, ovm3_agent

import ovm3_agent_stats  # noqa: E402

SERVICES = ovm3_agent.OVM3Agent().get_services()


def _dom(name, domid, **over):
    dom = {"name": name, "uuid": "0004fb0000060000000000000000000%d" % domid, "domid": domid,
           "vfb_location": None, "vbd": [51712], "vif": [0], "cpu_time": 12.5, "start_time": 1699999000.0,
           "online_vcpus": 2, "memory": 512 * 1048576, "state": "-b----"}
    dom.update(over)
    return dom


class HostStatsTest(AgentTestCase):
    def setUp(self):
        AgentTestCase.setUp(self)
        self.host.xen_physinfo = lambda: {"cpus": 8, "idle_seconds": 7000.0, "total_bytes": 64 << 30,
                                          "free_bytes": 10 << 30}
        self.host.put("/proc/uptime", "1000.50 7000.00\n")
        self.host.domains["Domain-0"] = _dom("Domain-0", 0, vbd=[], vif=[], cpu_time=900.0, online_vcpus=8)
        self.host.domains["i-2-7-VM"] = _dom("i-2-7-VM", 7)
        for name, value in (("rd_sect", 10), ("wr_sect", 20), ("rd_req", 1), ("wr_req", 2)):
            self.host.put("/sys/devices/vbd-7-51712/statistics/" + name, "%d\n" % value)
        self.host.put("/sys/devices/vif-7-0/net/vif7.0/statistics/rx_bytes", "300\n")
        self.host.put("/sys/devices/vif-7-0/net/vif7.0/statistics/tx_bytes", "4000000000\n")
        for dev in ("xenbr0", "eth0", "vif7.0", "lo"):
            self.host.put("/sys/class/net/%s/statistics/rx_bytes" % dev, "5000000000\n")
            self.host.put("/sys/class/net/%s/statistics/tx_bytes" % dev, "77\n")

    def test_one_reply_holds_host_network_and_every_domain(self):
        reply = SERVICES["get_host_stats"]()
        self.assertEqual(reply["format"], "1")
        self.assertEqual(reply["module_version"], ovm3_agent.MODULE_VERSION)
        self.assertEqual(reply["host"]["cpus"], "8")
        self.assertEqual(reply["host"]["cpu_idle_seconds"], "7000.000")
        self.assertEqual(reply["host"]["cpu_busy_seconds"], "%.3f" % (8 * 1000.5 - 7000.0))
        self.assertEqual(reply["host"]["memory_total_bytes"], str(64 << 30))
        devices = [n["device"] for n in reply["network"]]
        self.assertEqual(devices, ["eth0", "xenbr0"])  # no vifs, no lo
        self.assertEqual(reply["network"][0]["rx_bytes"], "5000000000")
        names = [d["name"] for d in reply["domains"]]
        names.sort()
        self.assertEqual(names, ["Domain-0", "i-2-7-VM"])
        vm = [d for d in reply["domains"] if d["name"] == "i-2-7-VM"][0]
        self.assertEqual(vm["rd_bytes"], str(10 * 512))
        self.assertEqual(vm["wr_ops"], "2")
        # the guest's side: what dom0's vif sent is what the guest received
        self.assertEqual(vm["rx_bytes"], "4000000000")
        self.assertEqual(vm["tx_bytes"], "300")
        self.assertEqual(vm["memory_bytes"], str(512 * 1048576))
        self.assertEqual(vm["cpu_seconds"], "12.500")
        self.assertTrue("guest" in reply["net_direction"]["domains"])
        self.assertEqual(reply["errors"], [])

    def test_never_sleeps(self):
        SERVICES["get_host_stats"]()
        self.assertEqual(self.host.slept, [])

    def test_no_heartbeat_config_is_reported_not_raised(self):
        reply = SERVICES["get_host_stats"]()
        self.assertEqual(reply["heartbeat"]["verdict"], "NONE")

    def test_a_part_that_fails_is_named_in_errors_and_the_rest_answers(self):
        def broken():
            raise OSError("xc: permission denied")
        self.host.xen_physinfo = broken
        reply = SERVICES["get_host_stats"]()
        self.assertEqual(reply["host"], {})
        self.assertTrue("hypervisor" in reply["errors"][0])
        self.assertEqual(len(reply["domains"]), 2)

    def test_a_hanging_repository_is_unresponsive_and_does_not_hold_the_reply(self):
        self.host.put("/OVS/Repositories/aaaa/.ovsrepo", "x")
        self.host.put("/OVS/Repositories/bbbb/.ovsrepo", "x")
        release = threading.Event()

        def usage(path):
            if path.endswith("aaaa"):
                release.wait(30)
            return (1000, 400)
        self.host.fs_usage = usage
        old = ovm3_agent_stats.FS_USAGE_WAIT
        ovm3_agent_stats.FS_USAGE_WAIT = 0.2
        started = time.time()
        try:
            reply = SERVICES["get_host_stats"]()
        finally:
            ovm3_agent_stats.FS_USAGE_WAIT = old
            release.set()
        self.assertTrue(time.time() - started < 10)
        by_path = {}
        for item in reply["storage"]:
            by_path[item["path"]] = item
        self.assertEqual(by_path["/OVS/Repositories/aaaa"]["state"], "unresponsive")
        self.assertEqual(by_path["/OVS/Repositories/bbbb"]["state"], "ok")
        self.assertEqual(by_path["/OVS/Repositories/bbbb"]["free_bytes"], "400")

    def test_a_mount_still_stuck_is_not_asked_again(self):
        self.host.put("/OVS/Repositories/cccc/.ovsrepo", "x")
        release = threading.Event()
        calls = []

        def usage(path):
            calls.append(path)
            release.wait(30)
            return (1000, 400)
        self.host.fs_usage = usage
        old = ovm3_agent_stats.FS_USAGE_WAIT
        ovm3_agent_stats.FS_USAGE_WAIT = 0.1
        try:
            first = SERVICES["get_host_stats"]()["storage"][0]["state"]
            second = SERVICES["get_host_stats"]()["storage"][0]["state"]
        finally:
            ovm3_agent_stats.FS_USAGE_WAIT = old
            release.set()
        self.assertEqual((first, second), ("unresponsive", "unresponsive"))
        self.assertEqual(calls, ["/OVS/Repositories/cccc"])

    def test_xend_sxp_gives_memory_uuid_and_state(self):
        import ovm3_hostio
        sxp = ["domain", ["name", "i-2-7-VM"], ["domid", "7"], ["uuid", "abc"], ["memory", "512"],
               ["state", "-b----"], ["cpu_time", "3.5"], ["online_vcpus", "2"]]
        dom = ovm3_hostio.domain_from_sxp(sxp, [], [])
        self.assertEqual(dom["memory"], 512 * 1048576)
        self.assertEqual(dom["uuid"], "abc")
        self.assertEqual(dom["state"], "-b----")


if __name__ == "__main__":
    unittest.main()
