"""A table of hostile inputs across the services: each one is refused before anything runs on the host."""

import os
import sys
import unittest

from tests.host.test_agent_support import AgentTestCase, ovm3_agent

SERVICES = ovm3_agent.OVM3Agent().get_services()
LONG = "a" * 5000

# (service, args, a word the refusal must contain)
HOSTILE = (
    ("ping", ("8.8.8.8; reboot",), "host"),
    ("ping", ("$(reboot)",), "host"),
    ("ping", ("-f 10.0.0.1",), "host"),
    ("ping", ("10.0.0.1", 100000), "count"),
    ("ping", ("10.0.0.1", True), "count"),
    ("check_dom0_port", ("10.0.0.1 ", 22), "ip"),
    ("check_dom0_port", ("256.1.1.1", 22), "ip"),
    ("check_dom0_port", ("010.1.1.1", 22), "ip"),
    ("check_dom0_port", ("10.0.0.1", 0), "port"),
    ("check_dom0_port", ("10.0.0.1", 65536), "port"),
    ("check_dom0_port", ("10.0.0.1", "22"), "port"),
    ("check_dom0_port", ("10.0.0.1", 22, 100000), "timeout"),
    ("check_domr_port", (["169.254.0.1"],), "ip"),
    ("check_dom0_ip", ("10.0.0.1\x00",), "ip"),
    ("exec_domr", ("169.254.1.1", "rm -rf /"), "/opt/cloud/bin/"),
    ("exec_domr", ("169.254.1.1", "/opt/cloud/bin/x.sh; rm -rf /"), "shell control"),
    ("exec_domr", ("169.254.1.1", "/opt/cloud/bin/x.sh && reboot"), "shell control"),
    ("exec_domr", ("169.254.1.1", "/opt/cloud/bin/x.sh | sh"), "shell control"),
    ("exec_domr", ("169.254.1.1", "/opt/cloud/bin/x.sh `reboot`"), "shell control"),
    ("exec_domr", ("169.254.1.1", "/opt/cloud/bin/x.sh $(reboot)"), "shell control"),
    ("exec_domr", ("169.254.1.1", "/opt/cloud/bin/x.sh > /etc/passwd"), "shell control"),
    ("exec_domr", ("169.254.1.1", "/opt/cloud/bin/x.sh\nreboot"), "shell control"),
    ("exec_domr", ("169.254.1.1", "/opt/cloud/bin/../../bin/sh"), "/opt/cloud/bin/"),
    ("exec_domr", ("169.254.1.1", "/opt/cloud/binx/x.sh"), "/opt/cloud/bin/"),
    ("exec_domr", ("169.254.1.1", ""), "empty"),
    ("exec_domr", ("169.254.1.1", "/opt/cloud/bin/x.sh", 0), "timeout"),
    ("exec_domr", ("169.254.1.1; reboot", "/opt/cloud/bin/x.sh"), "ip"),
    ("check_domr_ssh", ("-oProxyCommand=reboot",), "ip"),
    ("ovs_upload_file", ("/etc", "passwd", "x"), "outside"),
    ("ovs_upload_file", ("/OVS/Repositories/../../etc", "passwd", "x"), "normalised"),
    ("ovs_upload_file", ("/OVS/Repositories", "../../etc/passwd", "x"), "filename"),
    ("ovs_upload_file", ("/OVS/Repositories", "..", "x"), "filename"),
    ("ovs_upload_file", ("/OVS/Repositories", "a\x00b", "x"), "NUL"),
    ("ovs_upload_file", ("OVS/Repositories", "a", "x"), "absolute"),
    ("ovs_upload_file", ("/OVS/Repositories/" + LONG, "a", "x"), "longer"),
    ("ovs_upload_file", ("/OVS/Repositoriesx", "a", "x"), "outside"),
    ("ovs_upload_file", ("/OVS/Repositories", "-rf", "x"), "filename"),
    ("ovs_upload_file", ("/OVS/Repositories", "a", None), "content"),
    ("ovs_upload_ssh_key", ("../authorized_keys", "ssh-rsa AAAA"), "keyfile"),
    ("ovs_upload_ssh_key", ("a/b", "k"), "keyfile"),
    ("ovs_upload_ssh_key", ("rc", "k"), "keyfile"),
    ("ovs_upload_ssh_key", ("Authorized_Keys2", "k"), "keyfile"),
    ("ovs_upload_ssh_key", ("environment", "k"), "keyfile"),
    ("ovs_upload_ssh_key", ("id_rsa.cloud\n", "k"), "keyfile"),
    ("check_dom0_ip", ("10.0.0.1\n",), "ip"),
    ("ovs_upload_file", ("/OVS/Repositories", "a\n", "x"), "filename"),
    ("ovs_mkdirs", ("/root/.ssh/x",), "outside"),
    ("ovs_mkdirs", ("/nfsmnt/a//b",), "normalised"),
    ("ovs_mkdirs", ("/nfsmnt/a", 4095), "mode"),
    ("ovs_mkdirs", ("/nfsmnt/a", 789), "mode"),
    ("ovs_mkdirs", ("/nfsmnt/a b",), "characters"),
    ("ovs_check_file", ("/etc/shadow",), "outside"),
    ("ovs_domr_upload_file", ("169.254.1.1", "/tmp; reboot", "f", "x"), "characters"),
    ("ovs_domr_upload_file", ("169.254.1.1", "/tmp/../etc", "f", "x"), "normalised"),
    ("ovs_domr_upload_file", ("169.254.1.1", "/tmp", "f;reboot", "x"), "filename"),
    ("ovs_control_interface", ("../../x", "169.254.0.0/16"), "dev"),
    ("ovs_control_interface", ("control0", "0.0.0.0/0"), "control network"),
    ("ovs_control_interface", ("control0", "169.254.0.1/16"), "host bits"),
    ("ovs_control_interface", ("averyveryverylongname", "169.254.0.0/16"), "dev"),
    ("ovs_dom0_stats", ("xenbr0; reboot",), "bridge"),
    ("ovs_dom0_stats", ("",), "bridge"),
    ("ovs_domU_stats", ("i-2-7-VM; reboot",), "domain"),
    ("ovs_domU_stats", ("Domain-0",), "domain"),
    ("get_vncport", ("../x",), "domain"),
    ("check_dom0_storage_health", ("/p", "s", "g; reboot", 120), "guid"),
    ("check_dom0_storage_health", ("/p", "s", "g", "120"), "timeout"),
    ("check_dom0_storage_health_check", ("/p", "s", "-g", 120, 1), "guid"),
    ("check_dom0_storage_health_check", ("/p" + LONG, "s", "g", 120, 1), "path"),
    ("check_dom0_storage_verdict", ("",), "guid"),
)


class HostileInputTest(AgentTestCase):
    def test_table_is_large_and_covers_many_services(self):
        self.assertTrue(len(HOSTILE) >= 30)
        self.assertTrue(len(set([h[0] for h in HOSTILE])) >= 15)

    def test_every_hostile_input_is_refused_before_touching_the_host(self):
        failures = []
        for service, args, word in HOSTILE:
            self.host.commands = []
            try:
                SERVICES[service](*args)
            except ovm3_agent.InvalidArgument:
                message = str(sys.exc_info()[1])
                if word not in message or "invalid argument" not in message:
                    failures.append("%s%r: refused without %r: %s" % (service, args, word, message))
            except Exception:
                failures.append("%s%r: wrong error %r" % (service, args, sys.exc_info()[1]))
            else:
                failures.append("%s%r: accepted" % (service, args))
            if self.host.commands:
                failures.append("%s%r: ran %r" % (service, args, self.host.commands))
        self.assertEqual(failures, [])
        self.assertFalse(os.path.exists(self.host.local_path("/etc/passwd")))


class SSHKeyNameSettingsTest(AgentTestCase):
    def test_names_added_in_the_settings_are_accepted_but_never_sshd_files(self):
        old = ovm3_agent.configure(ssh_key_names=("id_ed25519.cloud", "authorized_keys", "RC"))
        try:
            self.assertEqual(SERVICES["ovs_upload_ssh_key"]("id_ed25519.cloud", "k"), True)
            for name in ("authorized_keys", "RC", "id_rsa"):
                try:
                    SERVICES["ovs_upload_ssh_key"](name, "k")
                except ovm3_agent.InvalidArgument:
                    pass
                else:
                    self.fail("%s accepted" % name)
        finally:
            ovm3_agent.configure(**old)


if __name__ == "__main__":
    unittest.main()
