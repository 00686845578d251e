"""The installer CLI against fake agent trees laid out like OVM 3.2 (python2.4) and 3.3 (python2.6).

Runs ``ovm3_agent.py`` as deployment does (a subprocess of the interpreter running the tests: Python 3
under pytest, the real 2.7 under unittest), with every host path below a temp ``--root``.
"""

import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import unittest

from tests.host.test_agent_support import AGENT_DIR, ovm3_compat

INSTALLER = os.path.join(AGENT_DIR, "ovm3_agent.py")

API_PY = """# Oracle's agent/target/api.py (trimmed)
from agent.api import common
from agent.api.host import linux

MODULES = [
    common.Common,
    linux.Linux,
]
"""
CLOUDSTACK_API_PY = API_PY.replace(
    "from agent.api import common", "from agent.api import common, cloudstack"
).replace("MODULES = [\n", "MODULES = [\n\tcloudstack.CloudStack,\n")
AGENT_INI = "[server]\nip=*\nport=8899\nssl=enable\n"
BASE_PY = "class Agent(object):\n    def get_services(self, version=None):\n        return {}\n"


def layout(root, version):
    """A fake agent tree like dom0's: returns the agent dir as a host path."""
    python = {"3.2": "python2.4", "3.3": "python2.6"}[version]
    agent = "/usr/lib64/%s/site-packages/agent" % python
    files = {
        agent + "/__init__.py": "",
        agent + "/api/__init__.py": "",
        agent + "/api/base.py": BASE_PY,
        agent + "/api/common.py": "from agent.api.base import Agent\nclass Common(Agent):\n    pass\n",
        agent + "/api/host/__init__.py": "",
        agent + "/api/host/linux.py": "from agent.api.base import Agent\nclass Linux(Agent):\n    pass\n",
        agent + "/target/__init__.py": "",
        agent + "/target/api.py": API_PY,
        "/etc/ovs-agent/agent.ini": AGENT_INI,
        "/etc/ovs-release": "Oracle VM server release %s.1\n" % version,
    }
    for path, text in files.items():
        write(root + path, text)
    return agent


def compile_beside(path, suffixes=("c",)):
    """Bytecode next to the source as Python 2 keeps it (``api.pyc``; ``api.pyo`` a copy of it)."""
    py_compile.compile(path, path + "c", doraise=True)
    if "o" in suffixes:
        shutil.copyfile(path + "c", path + "o")


def compile_tree(root):
    """Compile every .py under ``root`` beside itself, as the agent's Python did on a real dom0."""
    for base, dirs, files in os.walk(root):
        for name in files:
            if name.endswith(".py"):
                compile_beside(os.path.join(base, name), ("c", "o"))


def tree_hashes(root):
    """{relative path: (mode, md5 of the bytes)} of every file below ``root``."""
    out = {}
    for base, dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(base, name)
            out[full[len(root):]] = (os.stat(full).st_mode, ovm3_compat.md5_file(full))
    return out


def write(path, text):
    if not os.path.isdir(os.path.dirname(path)):
        os.makedirs(os.path.dirname(path))
    f = open(path, "wb")
    f.write(text.encode("utf-8"))
    f.close()


def read(path):
    f = open(path, "rb")
    try:
        return f.read().decode("utf-8")
    finally:
        f.close()


class InstallerTest(unittest.TestCase):
    version = "3.2"

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="ovm3-install-")
        self.agent = layout(self.root, self.version)
        self.api_py = self.root + self.agent + "/target/api.py"

    def tearDown(self):
        shutil.rmtree(self.root)

    def cli(self, *args):
        argv = [sys.executable, INSTALLER] + list(args)
        if "--agent-dir" not in args and args and args[0] in ("install", "uninstall", "status"):
            argv += ["--agent-dir", self.agent]
        argv += ["--root", self.root]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate()
        out, err = out.decode("utf-8"), err.decode("utf-8")
        values = {}
        for line in out.splitlines():
            if "=" in line:
                key, value = line.split("=", 1)
                values[key] = value
        return proc.returncode, values, err

    def import_modules(self):
        """Import the installed api.py the way the agent does and list MODULES' class names."""
        code = (
            "import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; import agent.target.api as a; "
            "import ovm3_agent; "
            "print(' '.join([m.__name__ for m in a.MODULES])); "
            "print(' '.join(sorted(a.MODULES[0]().get_services())))"
        )
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                code,
                os.path.dirname(self.root + self.agent),
                self.root + self.agent + "/api",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = proc.communicate()
        self.assertEqual(proc.returncode, 0, err)
        return out.decode("utf-8").splitlines()

    def test_install_status_uninstall_round_trip(self):
        rc, st, err = self.cli("status")
        self.assertEqual((rc, st["state"]), (0, "absent"), err)
        rc, res, err = self.cli("install")
        self.assertEqual((rc, res["state"], res["changed"]), (0, "installed", "yes"), err)
        self.assertEqual(res["checksum"], res["expected_checksum"])
        modules, services = self.import_modules()
        self.assertEqual(modules.split(), ["OVM3Agent", "Common", "Linux"])
        self.assertTrue("exec_domr" in services.split() and "get_api_services" in services.split())
        for name in ("ovm3_agent.py", "ovm3_hostio.py", "ovm3_compat.py", "ovm3_agent_validate.py"):
            self.assertTrue(os.path.isfile(self.root + self.agent + "/api/" + name), name)
        # idempotent
        rc, res, err = self.cli("install")
        self.assertEqual((rc, res["state"], res["changed"]), (0, "installed", "no"), err)
        rc, st, err = self.cli("status")
        self.assertEqual((st["state"], st["version"]), ("installed", res["version"]))
        self.assertEqual(st["agent_ssl"], "enable")  # kept: SSL is never switched off silently
        # out again: api.py byte for byte, our files gone
        rc, res, err = self.cli("uninstall")
        self.assertEqual((rc, res["changed"]), (0, "yes"), err)
        self.assertEqual(read(self.api_py), API_PY)
        leftovers = [n for n in os.listdir(self.root + self.agent + "/api") if n.startswith("ovm3_")]
        self.assertEqual(leftovers, [])
        rc, res, err = self.cli("uninstall")
        self.assertEqual((rc, res["changed"]), (0, "no"), err)
        self.assertEqual(self.cli("status")[1]["state"], "absent")

    def check_round_trip_with_bytecode(self):
        compile_tree(self.root + self.agent)
        os.chmod(self.api_py + "c", int("600", 8))  # an odd mode must come back too
        pristine = tree_hashes(self.root)
        mtime = int(os.stat(self.api_py).st_mtime) - 1000
        os.utime(self.api_py, (mtime, mtime))
        self.assertTrue(self.agent + "/target/api.pyc" in pristine and self.agent + "/api/__init__.pyc" in pristine)
        rc, res, err = self.cli("install")
        self.assertEqual((rc, res["state"]), (0, "installed"), err)
        self.assertFalse(os.path.exists(self.api_py + "c") or os.path.exists(self.api_py + "o"),
                         "the bytecode of the original api.py would shadow the edit")
        # The agent runs the edited tree and compiles it, as the agent's Python does on dom0.
        compile_beside(self.api_py)
        compile_beside(self.root + self.agent + "/api/ovm3_agent.py")
        rc, res, err = self.cli("uninstall")
        self.assertEqual((rc, res["changed"]), (0, "yes"), err)
        after = tree_hashes(self.root)
        changed = [p for p in sorted(set(pristine) | set(after)) if pristine.get(p) != after.get(p)]
        self.assertEqual(changed, [])
        # api.py got its time back, so the restored bytecode (which records it) is still current for it.
        self.assertEqual(int(os.stat(self.api_py).st_mtime), mtime)

    def test_uninstall_restores_every_file_byte_for_byte_compiled_files_included(self):
        self.check_round_trip_with_bytecode()

    def test_uninstall_restores_cloudstack_and_its_bytecode_byte_for_byte(self):
        write(self.api_py, CLOUDSTACK_API_PY)
        write(self.root + self.agent + "/api/cloudstack.py",
              "from agent.api.base import Agent\nclass CloudStack(Agent):\n    pass\n")
        self.check_round_trip_with_bytecode()

    def test_outdated_when_an_installed_file_differs(self):
        self.cli("install")
        write(self.root + self.agent + "/api/ovm3_agent_net.py", "# old\n")
        self.assertEqual(self.cli("status")[1]["state"], "outdated")
        rc, res, err = self.cli("install")
        self.assertEqual((res["state"], res["changed"]), ("installed", "yes"))

    def test_cloudstack_module_is_replaced_and_restored(self):
        write(self.api_py, CLOUDSTACK_API_PY)
        cloudstack = self.root + self.agent + "/api/cloudstack.py"
        write(cloudstack, "from agent.api.base import Agent\nclass CloudStack(Agent):\n    pass\n")
        rc, res, err = self.cli("install")
        self.assertEqual((rc, res["state"]), (0, "installed"), err)
        self.assertFalse(os.path.exists(cloudstack))
        self.assertEqual(self.import_modules()[0].split(), ["OVM3Agent", "Common", "Linux"])
        # CloudStack's management server re-runs its installer at start: status notices
        text = read(self.api_py).replace("import common", "import common, cloudstack")
        text = text.replace("MODULES = [\n", "MODULES = [\n\tcloudstack.CloudStack,\n")
        write(self.api_py, text)
        write(cloudstack, "from agent.api.base import Agent\nclass CloudStack(Agent):\n    pass\n")
        self.assertEqual(self.cli("status")[1]["state"], "replaced-by-cloudstack")
        rc, res, err = self.cli("install")
        self.assertEqual((rc, res["state"]), (0, "installed"), err)
        rc, res, err = self.cli("uninstall")
        self.assertEqual(rc, 0, err)
        self.assertEqual(read(self.api_py), CLOUDSTACK_API_PY)
        self.assertTrue(os.path.isfile(cloudstack))

    def test_agent_ssl_is_an_explicit_choice_reverted_by_uninstall(self):
        rc, res, err = self.cli("install", "--agent-ssl", "disable")
        self.assertEqual((rc, res["agent_ssl"]), (0, "disable"), err)
        self.assertEqual(
            read(self.root + "/etc/ovs-agent/agent.ini"), AGENT_INI.replace("ssl=enable", "ssl=disable")
        )
        self.cli("uninstall")
        self.assertEqual(read(self.root + "/etc/ovs-agent/agent.ini"), AGENT_INI)

    def test_host_fixes_are_opt_in_backed_up_and_reverted(self):
        common = self.root + "/etc/xen/scripts/xen-network-common.sh"
        bridge = self.root + "/etc/xen/scripts/linuxbridge/ovs-vlan-bridge"
        network = self.root + "/etc/sysconfig/network"
        write(common, "_setup_bridge_port() {\n  :\n}\n")
        bridge_text = "#!/bin/sh\n. xen-network-common.sh\nsetup_bridge_port $dev\n"
        write(bridge, bridge_text)
        write(network, "NETWORKING=yes\n")
        rc, res, err = self.cli("install")
        self.assertEqual((res["fix_vlan_bridge"], res["fix_nozeroconf"]), ("needed", "needed"))
        self.assertEqual(read(bridge), bridge_text)
        rc, res, err = self.cli("install", "--host-fixes")
        self.assertEqual((rc, res["fix_vlan_bridge"], res["fix_nozeroconf"]), (0, "applied", "applied"), err)
        self.assertTrue("\n_setup_bridge_port $dev" in read(bridge))
        self.assertEqual(read(network), "NETWORKING=yes\nNOZEROCONF=yes\n")
        self.cli("uninstall")
        self.assertEqual((read(bridge), read(network)), (bridge_text, "NETWORKING=yes\n"))

    def test_broken_edit_is_rolled_back(self):
        write(self.root + self.agent + "/api/host/linux.py", "raise ImportError('broken agent')\n")
        rc, res, err = self.cli("install")
        self.assertEqual(rc, 1)
        self.assertTrue("original was put back" in res["error"], res)
        self.assertEqual(read(self.api_py), API_PY)

    def test_usage_errors_exit_2_and_missing_agent_exits_1(self):
        self.assertEqual(self.cli("frobnicate")[0], 2)
        self.assertEqual(self.cli("install", "--agent-dir", self.agent, "--agent-ssl", "off")[0], 2)
        self.assertEqual(self.cli("status", "--agent-dir", "/nonexistent/agent")[0], 1)


class Installer33Test(InstallerTest):
    version = "3.3"


if __name__ == "__main__":
    unittest.main()
