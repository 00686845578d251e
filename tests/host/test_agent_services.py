"""Every agent-module service, called directly with a fake host behind the HostIO seam."""

import os
import stat
import sys
import unittest

from tests.host.test_agent_support import AgentTestCase, ovm3_agent, ovm3_compat

import ovm3_agent_health  # noqa: E402

SERVICES = ovm3_agent.OVM3Agent().get_services()


def argv_has(word):
    return lambda argv: word in argv


class RegistryTest(unittest.TestCase):
    def test_cloudstack_wire_names_are_all_served(self):
        cloudstack = (
            "call get_vncport exec_domr check_domr_port check_dom0_port check_domr_ssh check_dom0_ip "
            "check_dom0_storage_health_check check_dom0_storage_health ovs_domr_upload_file "
            "ovs_control_interface ovs_mkdirs ovs_check_file ovs_upload_ssh_key ovs_upload_file "
            "ovs_dom0_stats ovs_domU_stats get_module_version get_ovs_version ping"
        ).split()
        ours = ["get_api_services", "get_module_info", "check_dom0_storage_verdict", "heartbeat_release_storage",
                "get_host_stats"]
        for name in cloudstack + ours:
            self.assertTrue(name in SERVICES, name)
        self.assertEqual(len(SERVICES), 25)

    def test_argument_orders_match_cloudstack(self):
        expect = {
            "exec_domr": ["ip", "cmd"],
            "check_dom0_port": ["ip", "port", "timeout"],
            "check_domr_port": ["ip", "port", "timeout"],
            "check_domr_ssh": ["ip", "port", "timeout"],
            "ovs_upload_file": ["path", "filename", "content"],
            "ovs_upload_ssh_key": ["keyfile", "content"],
            "ovs_domr_upload_file": ["domr_ip", "path", "filename", "content"],
            "check_dom0_storage_health_check": ["path", "script", "guid", "timeout", "interval"],
            "check_dom0_storage_health": ["path", "script", "guid", "timeout"],
            "ovs_mkdirs": ["directory", "mode"],
            "ping": ["host", "count"],
            "ovs_control_interface": ["dev", "cidr"],
        }
        for name, args in expect.items():
            got = ovm3_compat.argspec(SERVICES[name])[0]
            self.assertEqual(got[: len(args)], args, name)
        self.assertEqual(ovm3_compat.argspec(SERVICES["ovs_mkdirs"])[3], (448,))


class InfoServicesTest(AgentTestCase):
    def test_call_echoes(self):
        self.assertEqual(SERVICES["call"]("hello"), "hello")
        self.assertEqual(SERVICES["call"]({"a": [1]}), {"a": [1]})

    def test_versions(self):
        self.host.put("/etc/ovs-release", "Oracle VM server release 3.2.1\n")
        self.assertEqual(SERVICES["get_ovs_version"](), "3.2.1")
        self.assertEqual(SERVICES["get_module_version"](), ovm3_agent.MODULE_VERSION)
        info = SERVICES["get_module_info"]()
        self.assertEqual(info["ovs_version"], "3.2.1")
        self.assertEqual(info["python_version"], "%d.%d.%d" % tuple(sys.version_info[:3]))
        self.assertEqual(len(info["checksum"]), 32)

    def test_ovs_version_missing_file_is_a_fault(self):
        err = self.assertRefused(SERVICES["get_ovs_version"])
        self.assertTrue("ovs-release" in str(err))

    def test_api_services_lists_every_loaded_module(self):
        ovm3_agent.set_agent_modules([ovm3_agent.OVM3Agent])
        dump = SERVICES["get_api_services"]()
        names = [d["name"] for d in dump]
        self.assertTrue("exec_domr" in names and "ovs_mkdirs" in names)
        mkdirs = [d for d in dump if d["name"] == "ovs_mkdirs"][0]
        self.assertTrue("448" in repr(mkdirs))


class FileServicesTest(AgentTestCase):
    def test_mkdirs_created_then_existing_with_octal_mode(self):
        self.assertEqual(SERVICES["ovs_mkdirs"]("/OVS/Repositories/r1/Templates"), None)
        local = self.host.local_path("/OVS/Repositories/r1/Templates")
        self.assertEqual(stat.S_IMODE(os.stat(local).st_mode), 448)
        self.assertEqual(SERVICES["ovs_mkdirs"]("/OVS/Repositories/r1/Templates"), True)
        SERVICES["ovs_mkdirs"]("/nfsmnt/a", 755)  # CloudStack's decimal 755 means 0755
        self.assertEqual(stat.S_IMODE(os.stat(self.host.local_path("/nfsmnt/a")).st_mode), int("755", 8))

    def test_upload_file_is_atomic_with_explicit_mode(self):
        self.assertEqual(SERVICES["ovs_upload_file"]("/OVS/Repositories/r1", "vm.cfg", "name = 'x'\n"), True)
        local = self.host.local_path("/OVS/Repositories/r1/vm.cfg")
        self.assertEqual(self.host.get("/OVS/Repositories/r1/vm.cfg"), "name = 'x'\n")
        self.assertEqual(stat.S_IMODE(os.stat(local).st_mode), int("644", 8))
        self.assertEqual([n for n in os.listdir(os.path.dirname(local)) if n != "vm.cfg"], [])
        self.assertTrue(SERVICES["ovs_check_file"]("/OVS/Repositories/r1/vm.cfg"))
        self.assertFalse(SERVICES["ovs_check_file"]("/OVS/Repositories/r1/nope"))

    def test_ssh_key_upload_is_0600_in_0700_dir(self):
        os.rmdir(self.host.local_path("/root/.ssh"))
        self.assertEqual(SERVICES["ovs_upload_ssh_key"]("id_rsa.cloud", "-----BEGIN KEY-----\n"), True)
        local = self.host.local_path("/root/.ssh/id_rsa.cloud")
        self.assertEqual(stat.S_IMODE(os.stat(local).st_mode), int("600", 8))
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(local)).st_mode), int("700", 8))

    def test_symlink_escape_is_refused(self):
        os.symlink(self.tmp + "/root", self.host.local_path("/OVS/Repositories/evil"))
        err = self.assertRefused(SERVICES["ovs_upload_file"], "/OVS/Repositories/evil", "x", "data")
        self.assertTrue("symlink" in str(err))
        self.assertFalse(os.path.exists(self.tmp + "/root/x"))


class NetServicesTest(AgentTestCase):
    def test_ports(self):
        self.host.ports[("169.254.1.5", 3922)] = True
        self.assertTrue(SERVICES["check_domr_port"]("169.254.1.5"))
        self.assertFalse(SERVICES["check_dom0_port"]("192.168.1.10", 22, 1))

    def test_dom0_ip(self):
        self.host.addresses = [("eth0", "192.168.1.10/24"), ("bond0", "10.0.0.1/8")]
        self.assertTrue(SERVICES["check_dom0_ip"]("10.0.0.1"))
        self.assertFalse(SERVICES["check_dom0_ip"]("10.0.0.10"))

    def test_ping_runs_argv_without_shell(self):
        self.host.reply(argv_has("10.1.1.1"), (1, "", ""))
        self.assertTrue(SERVICES["ping"]("192.168.1.1"))
        self.assertFalse(SERVICES["ping"]("10.1.1.1", 2))
        argv, timeout = self.host.commands[0]
        self.assertEqual(argv, ["/bin/ping", "-n", "-q", "-c", "3", "-W", "2", "192.168.1.1"])
        self.host.reply(argv_has("10.2.2.2"), ovm3_compat.CommandTimeout(["/bin/ping"], 1, "", ""))
        self.assertFalse(SERVICES["ping"]("10.2.2.2"))

    def test_control_interface_moves_route_and_drops_ifcfg(self):
        self.host.routes = [("169.254.0.0/16", "eth0"), ("default", "eth0")]
        self.host.put("/etc/sysconfig/network-scripts/ifcfg-control0", "DEVICE=control0\n")
        self.assertTrue(SERVICES["ovs_control_interface"]("control0", "169.254.0.0/16"))
        argvs = [c[0][1:] for c in self.host.commands]
        self.assertEqual(
            argvs,
            [
                ["route", "del", "169.254.0.0/16", "dev", "eth0"],
                ["route", "add", "169.254.0.0/16", "dev", "control0"],
                ["link", "set", "dev", "control0", "arp", "on"],
            ],
        )
        self.assertFalse(self.host.exists("/etc/sysconfig/network-scripts/ifcfg-control0"))

    def test_control_interface_idempotent(self):
        self.host.routes = [("169.254.0.0/16", "control0")]
        SERVICES["ovs_control_interface"]("control0", "169.254.0.0/16")
        self.assertEqual(
            [c[0][1:] for c in self.host.commands], [["link", "set", "dev", "control0", "arp", "on"]]
        )


class DomrServicesTest(AgentTestCase):
    def test_exec_domr_link_local_skips_host_key_check(self):
        self.host.reply(argv_has("/usr/bin/ssh"), (0, "ok\n", ""))
        result = SERVICES["exec_domr"](
            "169.254.3.4", "/opt/cloud/bin/router_proxy.sh netusage.sh 169.254.3.4 -g"
        )
        self.assertEqual(result, {"rc": 0, "out": "ok\n", "err": ""})
        argv, timeout = self.host.commands[0]
        self.assertEqual(argv[0], "/usr/bin/ssh")
        self.assertTrue("StrictHostKeyChecking=no" in argv and "BatchMode=yes" in argv)
        self.assertEqual(
            argv[-2:], ["root@169.254.3.4", "/opt/cloud/bin/router_proxy.sh netusage.sh 169.254.3.4 -g"]
        )
        self.assertEqual(argv[argv.index("-i") + 1], "/root/.ssh/id_rsa.cloud")
        self.assertEqual(argv[argv.index("-p") + 1], "3922")
        self.assertEqual(timeout, 120)

    def test_exec_domr_elsewhere_checks_host_keys(self):
        SERVICES["exec_domr"]("10.0.0.5", "/opt/cloud/bin/x.sh")
        argv = self.host.commands[0][0]
        self.assertTrue("StrictHostKeyChecking=yes" in argv and "StrictHostKeyChecking=no" not in argv)

    def test_exec_domr_timeout_is_a_fault(self):
        self.host.reply(argv_has("/usr/bin/ssh"), ovm3_compat.CommandTimeout(["/usr/bin/ssh"], 5, "", ""))
        err = self.assertRefused(SERVICES["exec_domr"], "169.254.3.4", "/opt/cloud/bin/x.sh", 5)
        self.assertTrue("within 5 s" in str(err))

    def test_exec_domr_nonzero_rc_is_returned(self):
        self.host.reply(argv_has("/usr/bin/ssh"), (3, "", "boom"))
        self.assertEqual(SERVICES["exec_domr"]("169.254.3.4", "/opt/cloud/bin/x.sh")["rc"], 3)

    def test_check_domr_ssh(self):
        self.assertTrue(SERVICES["check_domr_ssh"]("169.254.3.4"))
        self.host.reply(argv_has("/usr/bin/ssh"), (255, "", "refused"))
        self.assertFalse(SERVICES["check_domr_ssh"]("169.254.3.4"))

    def test_domr_upload_uses_private_spool_and_cleans_up(self):
        seen = {}

        def scp(argv):
            if argv[0] == "/usr/bin/scp":
                local = argv[-2]
                seen["mode"] = stat.S_IMODE(os.stat(self.host.local_path(local)).st_mode)
                seen["data"] = self.host.get(local)
                seen["dest"] = argv[-1]
                return True
            return False

        self.host.reply(scp, (0, "", ""))
        self.assertTrue(SERVICES["ovs_domr_upload_file"]("169.254.3.4", "/var/cache/cloud", "f.json", "{}"))
        self.assertEqual(
            seen, {"mode": int("600", 8), "data": "{}", "dest": "root@169.254.3.4:/var/cache/cloud/f.json"}
        )
        self.assertEqual(os.listdir(self.host.local_path("/var/lib/ovm3/spool")), [])

    def test_domr_upload_failure_is_a_fault(self):
        self.host.reply(argv_has("/usr/bin/scp"), (1, "", "lost connection"))
        err = self.assertRefused(SERVICES["ovs_domr_upload_file"], "169.254.3.4", "/tmp", "f", "x")
        self.assertTrue("lost connection" in str(err))


def _vm(**over):
    dom = {
        "name": "i-2-7-VM",
        "domid": 7,
        "vfb_location": "0.0.0.0:5901",
        "vbd": [51712, 51728],
        "vif": [0],
        "cpu_time": 12.5,
        "start_time": 1699999000.0,
        "online_vcpus": 2,
    }
    dom.update(over)
    return dom


class StatsServicesTest(AgentTestCase):
    def test_dom0_stats_values(self):
        for name, value in (
            ("rx_bytes", 5000000000),
            ("tx_bytes", 1234),
            ("rx_packets", 7),
            ("tx_packets", 9),
        ):
            self.host.put("/sys/class/net/xenbr0/statistics/" + name, "%d\n" % value)
        self.host.proc_stat = [[100, 0, 100, 800, 0, 0, 0], [150, 0, 150, 850, 50, 0, 0]]
        stats = SERVICES["ovs_dom0_stats"]("xenbr0")
        self.assertEqual(
            stats,
            {
                "cpu": "50.00",
                "total": str(32768 * 1048576),
                "free": str(20480 * 1048576),
                "rx": "5000000000",
                "tx": "1234",
            },
        )
        self.assertEqual(self.host.slept, [0.5])

    def test_dom0_stats_reads_real_proc_stat_layout(self):
        self.host.put("/sys/class/net/xenbr0/statistics/rx_bytes", "1\n")
        self.host.put("/proc/stat", "cpu  10 0 10 80 0 0 0 0\ncpu0 10 0 10 80 0 0 0 0\nintr 1\n")
        self.assertEqual(SERVICES["ovs_dom0_stats"]("xenbr0")["cpu"], "0.00")

    def test_dom0_stats_unknown_bridge(self):
        self.assertRefused(SERVICES["ovs_dom0_stats"], "xenbr9")

    def test_domu_stats_values(self):
        self.host.domains["i-2-7-VM"] = _vm()
        for devid, (rs, ws, rr, wr) in ((51712, (10, 20, 1, 2)), (51728, (1, 2, 3, 4))):
            for name, value in (("rd_sect", rs), ("wr_sect", ws), ("rd_req", rr), ("wr_req", wr)):
                self.host.put("/sys/devices/vbd-7-%d/statistics/%s" % (devid, name), "%d\n" % value)
        self.host.put("/sys/devices/vif-7-0/net/vif7.0/statistics/rx_bytes", "300\n")
        self.host.put("/sys/devices/vif-7-0/net/vif7.0/statistics/tx_bytes", "4000000000\n")
        stats = SERVICES["ovs_domU_stats"]("i-2-7-VM")
        self.assertEqual(
            stats,
            {
                "rd_bytes": str(11 * 512),
                "wr_bytes": str(22 * 512),
                "rd_ops": "4",
                "wr_ops": "6",
                "rx_bytes": "4000000000",
                "tx_bytes": "300",
                "cputime": "12.500",
                "uptime": "1000.000",
                "vcpus": "2",
            },
        )

    def test_domu_stats_unknown_domain(self):
        err = self.assertRefused(SERVICES["ovs_domU_stats"], "i-2-8-VM")
        self.assertTrue("not found" in str(err))

    def test_vncport(self):
        self.host.domains["i-2-7-VM"] = _vm()
        self.assertEqual(SERVICES["get_vncport"]("i-2-7-VM"), "5901")
        self.host.domains["r-4-VM"] = _vm(name="r-4-VM", vfb_location=None)
        self.assertRefused(SERVICES["get_vncport"], "r-4-VM")


class FakeHeartbeat(object):
    """Stands in for fencing's ovm3_heartbeat (verdict) and hostlib's ovm3_hb_config (load_config),
    recording what it was asked."""

    def __init__(self, config, verdicts):
        self.config = config
        self.verdicts = verdicts
        self.asked = []

    def load_config(self, path):
        self.asked.append(("load_config", path))
        return dict(self.config)

    def verdict(self, config, guid):
        self.asked.append(("verdict", guid))
        return self.verdicts[guid]


class HealthServicesTest(AgentTestCase):
    def setUp(self):
        AgentTestCase.setUp(self)
        self.hb = FakeHeartbeat(
            {"guid": "host-1", "timeout": 120.0, "interval": 1.0},
            {
                "host-1": {"verdict": "ALIVE", "reason": "fresh"},
                "host-2": {"verdict": "DEAD", "reason": "stale", "age": 2**40},
                "host-3": {"verdict": "UNKNOWN", "reason": "mount hangs"},
            },
        )
        self.saved = sys.modules.get("ovm3_heartbeat")
        sys.modules["ovm3_heartbeat"] = self.hb
        self.saved_config = ovm3_agent_health.ovm3_hb_config
        ovm3_agent_health.ovm3_hb_config = self.hb

    def tearDown(self):
        ovm3_agent_health.ovm3_hb_config = self.saved_config
        if self.saved is None:
            del sys.modules["ovm3_heartbeat"]
        else:
            sys.modules["ovm3_heartbeat"] = self.saved
        AgentTestCase.tearDown(self)

    def test_health_verdicts(self):
        health = SERVICES["check_dom0_storage_health"]
        self.assertTrue(health("/opt/cloudstack/bin", "storagehealth.py", "host-1", 120) is True)
        self.assertTrue(health("/opt/cloudstack/bin", "storagehealth.py", "host-2", 120) is False)
        err = self.assertRefused(health, "/opt/cloudstack/bin", "storagehealth.py", "host-3", 120)
        self.assertTrue("UNKNOWN" in str(err) and "mount hangs" in str(err))
        self.assertEqual(
            self.hb.asked[0], ("load_config", self.host.local_path("/etc/sysconfig/ovm3-heartbeat"))
        )

    def test_verdict_is_xmlrpc_safe(self):
        v = SERVICES["check_dom0_storage_verdict"]("host-2")
        self.assertEqual(v, {"verdict": "DEAD", "reason": "stale", "age": str(2**40)})

    def test_arguments_must_agree_with_config(self):
        err = self.assertRefused(SERVICES["check_dom0_storage_health"], "/p", "s", "host-1", 60)
        self.assertTrue("timeout=60" in str(err) and "TIMEOUT=120" in str(err))
        err = self.assertRefused(SERVICES["check_dom0_storage_health_check"], "/p", "s", "other", 120, 1)
        self.assertTrue("guid=other" in str(err) and "GUID=host-1" in str(err))
        self.assertEqual(self.host.commands, [])

    def test_health_check_starts_daemon_once(self):
        state = {"running": False}

        def run(argv, timeout, stdin_data=None):
            self.host.commands.append((argv, timeout))
            if argv[-1] == "start":
                state["running"] = True
                return (0, "started", "")
            if state["running"]:
                return (0, "running", "")
            return (3, "stopped", "")

        self.host.run = run
        check = SERVICES["check_dom0_storage_health_check"]
        self.assertEqual(check("/opt/cloudstack/bin", "storagehealth.py", "host-1", 120, 1), [True, True])
        self.assertEqual(check("/opt/cloudstack/bin", "storagehealth.py", "host-1", 120, 1), [True, False])
        actions = [c[0][-1] for c in self.host.commands]
        self.assertEqual(actions, ["status", "start", "status", "status"])
        argv = self.host.commands[0][0]
        self.assertEqual(
            argv[1],
            os.path.join(os.path.dirname(os.path.abspath(ovm3_agent_health.__file__)), "ovm3_heartbeat.py"),
        )
        self.assertEqual(argv[2:4], ["-c", self.host.local_path("/etc/sysconfig/ovm3-heartbeat")])

    def test_missing_daemon_module_is_a_fault(self):
        sys.modules["ovm3_heartbeat"] = None
        err = self.assertRefused(SERVICES["check_dom0_storage_verdict"], "host-1")
        self.assertTrue("not installed" in str(err))


if __name__ == "__main__":
    unittest.main()
