"""The API dumper (hostlib/ovm3_apidump.py) under the interpreter running the tests (2.7 and 3.x).

Stdlib unittest only: this file runs under ``python -m pytest`` and under Python 2.7's unittest.
The end-to-end tests build a fake ``agent`` package tree in a temp dir and run the real dumper script
(tools/host/ovm3_dump_api.py) against it with the same interpreter.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOSTLIB = os.path.join(ROOT, "hostlib")
DUMPER = os.path.join(ROOT, "tools", "host", "ovm3_dump_api.py")
if HOSTLIB not in sys.path:
    sys.path.insert(0, HOSTLIB)

import ovm3_apidump  # noqa: E402
import ovm3_compat  # noqa: E402
from tests.host import jsonread  # noqa: E402


# ---- services defined here, for the in-process tests ----------------------------------------------------

def ping(host, count=3):
    """Ping a host.

    Longer text that the dump leaves out.
    """


def exec_domr(host, cmd, timeout=10, username="root", port=3922, keyfile="~/.ssh/id_rsa.cloud"):
    pass


def take_anything(first, *rest, **options):
    pass


def odd_defaults(a, big=2 ** 40, obj=object, pair=(1, "x"), mapping={"k": [1, 2.5]}, nothing=None,
                 flag=False, text=u"caf\xe9", bad_map={1: 2}):
    pass


class Agent(object):
    pass


class Linux(Agent):
    def get_services(self, version=None):
        services = {"discover_server": self.discover_server, "copy_file": self.copy_file}
        if version == "3.3":
            services["update_agent_password"] = self.update_agent_password
        return services

    def discover_server(self):
        """Describe this server."""

    def copy_file(self, src, dst, sparse=True):
        pass

    def update_agent_password(self, user, password, old_password):
        pass


class CloudStack(Agent):
    def get_services(self, version=None):
        return {"ping": ping, "exec_domr": exec_domr, "take_anything": take_anything,
                "odd_defaults": odd_defaults, "builtin_max": max}


class NoVersionArgument(Agent):
    def get_services(self):
        return {"echo": self.echo}

    def echo(self, msg):
        return msg


class Broken(Agent):
    def get_services(self, version=None):
        raise RuntimeError("module not configured")


class AgentDown(object):
    """What ``e.__class__`` is for the exception below."""


class ClassicLikeError(RuntimeError):
    """On Python 2.4 built-in exceptions are classic classes: ``type(e)`` is ``instance`` while
    ``e.__class__`` is the real class. This one reproduces that split on 2.7 and 3.x."""

    def _cls(self):
        return AgentDown
    __class__ = property(_cls)


class BrokenOldStyle(Agent):
    def get_services(self, version=None):
        raise ClassicLikeError("classic failure")


def by_name(services):
    out = {}
    for s in services:
        out[s["name"]] = s
    return out


class DumpServicesTest(unittest.TestCase):
    def setUp(self):
        self.services = ovm3_apidump.dump_services([Linux, CloudStack, NoVersionArgument, Broken], "3.2")
        self.named = by_name([s for s in self.services if s["name"]])

    def test_sorted_by_name_with_errors_last(self):
        names = [s["name"] for s in self.services]
        self.assertEqual(names[-1], None)
        self.assertEqual(names[:-1], sorted(names[:-1]))

    def test_a_classic_exception_is_named_by_its_class_not_instance(self):
        services = ovm3_apidump.dump_services([BrokenOldStyle], "3.2")
        error = services[-1]["error"]
        self.assertEqual(error, "AgentDown: classic failure")

    def test_module_failure_is_recorded_not_fatal(self):
        broken = self.services[-1]
        self.assertEqual(broken["class"], "Broken")
        self.assertTrue("RuntimeError: module not configured" in broken["error"])

    def test_owner_function_and_doc(self):
        ds = self.named["discover_server"]
        self.assertEqual((ds["class"], ds["function"], ds["doc"]), ("Linux", "discover_server",
                                                                      "Describe this server."))
        self.assertEqual(ds["module"], __name__)
        self.assertEqual(ds["params"], [])
        self.assertEqual(self.named["ping"]["doc"], "Ping a host.")
        self.assertEqual(self.named["exec_domr"]["doc"], None)

    def test_real_defaults_are_kept(self):
        params = self.named["exec_domr"]["params"]
        self.assertEqual([p["name"] for p in params],
                         ["host", "cmd", "timeout", "username", "port", "keyfile"])
        self.assertFalse("default" in params[0])
        self.assertEqual(params[2]["default"], {"type": "int", "repr": "10", "value": 10})
        self.assertEqual(params[3]["default"]["value"], "root")
        self.assertEqual(params[3]["default"]["type"], "str")
        self.assertEqual(params[4]["default"]["value"], 3922)
        for p in params:
            self.assertTrue(p["name_known"])

    def test_varargs_kwargs(self):
        s = self.named["take_anything"]
        self.assertEqual((s["varargs"], s["kwargs"]), ("rest", "options"))
        self.assertEqual(self.named["ping"]["varargs"], None)

    def test_version_is_passed_to_get_services(self):
        self.assertFalse("update_agent_password" in self.named)
        later = by_name(ovm3_apidump.dump_services([Linux], "3.3"))
        self.assertEqual([p["name"] for p in later["update_agent_password"]["params"]],
                         ["user", "password", "old_password"])

    def test_get_services_without_version_argument(self):
        self.assertEqual([p["name"] for p in self.named["echo"]["params"]], ["msg"])

    def test_defaults_that_do_not_cross_the_wire_keep_only_a_repr(self):
        d = dict([(p["name"], p.get("default")) for p in self.named["odd_defaults"]["params"]])
        self.assertEqual(d["a"], None)
        self.assertFalse("value" in d["big"])
        self.assertEqual(d["big"]["type"], "int")
        self.assertEqual(d["big"]["repr"].rstrip("L"), str(2 ** 40))
        self.assertFalse("value" in d["obj"])
        self.assertEqual(d["obj"]["type"], "type")
        self.assertEqual((d["pair"]["type"], d["pair"]["value"]), ("tuple", [1, "x"]))
        self.assertEqual(d["mapping"]["value"], {"k": [1, 2.5]})
        self.assertEqual(d["nothing"], {"type": "none", "repr": "None", "value": None})
        self.assertEqual(d["flag"], {"type": "bool", "repr": "False", "value": False})
        self.assertEqual(d["text"]["value"], u"caf\xe9")
        self.assertFalse("value" in d["bad_map"])

    def test_builtin_service_is_described_with_an_error(self):
        s = self.named["builtin_max"]
        self.assertTrue("no Python signature" in s["error"])
        self.assertEqual(s["params"], [])


class JsonTest(unittest.TestCase):
    def test_a_whole_dump_is_valid_json(self):
        services = ovm3_apidump.dump_services([Linux, CloudStack, Broken], None)
        self.assertEqual(len(jsonread.loads(ovm3_compat.json_dumps(services, 2))), len(services))


class ParseArgsTest(unittest.TestCase):
    def test_forms(self):
        opts = ovm3_apidump.parse_args(["--agent-path", "/x", "--version=3.3"])
        self.assertEqual((opts["agent_path"], opts["version"]), ("/x", "3.3"))

    def test_unknown_and_missing_values(self):
        self.assertRaises(ValueError, ovm3_apidump.parse_args, ["--nope", "1"])
        self.assertRaises(ValueError, ovm3_apidump.parse_args, ["--version"])


# ---- end to end: the dumper script against a fake agent package tree ----------------------------------

FAKE_TREE = {
    "agent/__init__.py": "",
    "agent/api/__init__.py": "",
    "agent/api/base.py": (
        "class Agent(object):\n"
        "    def get_services(self, version=None):\n"
        "        return {}\n"),
    "agent/api/host/__init__.py": "",
    "agent/api/host/linux.py": (
        "from agent.api.base import Agent\n"
        "class Linux(Agent):\n"
        "    def get_services(self, version=None):\n"
        "        s = {'discover_server': self.discover_server, 'copy_file': self.copy_file}\n"
        "        if version == '3.3':\n"
        "            s['update_agent_password'] = self.update_agent_password\n"
        "        return s\n"
        "    def discover_server(self):\n"
        "        '''Describe the server.'''\n"
        "    def copy_file(self, src, dst, sparse=True):\n"
        "        pass\n"
        "    def update_agent_password(self, user, password, old_password):\n"
        "        pass\n"),
    "agent/api/serverpool.py": (
        "from agent.api.base import Agent\n"
        "class ServerPool(Agent):\n"
        "    def get_services(self, version=None):\n"
        "        return {'take_ownership': self.take_ownership}\n"
        "    def take_ownership(self, manager_uuid, manager_core_api_url):\n"
        "        pass\n"),
    "agent/api/cloudstack.py": (
        "from agent.api.base import Agent\n"
        "def ovsMkdirs(dir, mode=448):\n"
        "    '''Create a directory tree.'''\n"
        "def ping(host, count=3):\n"
        "    pass\n"
        "class CloudStack(Agent):\n"
        "    def get_services(self, version=None):\n"
        "        return {'ovs_mkdirs': ovsMkdirs, 'ping': ping}\n"),
    "agent/target/__init__.py": "",
    "agent/target/api.py": (
        "from agent.api.host import linux\n"
        "from agent.api import serverpool, cloudstack\n"
        "MODULES = [\n"
        "    linux.Linux,\n"
        "    serverpool.ServerPool,\n"
        "    cloudstack.CloudStack,\n"
        "]\n"),
}


class DumperScriptTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ovm3-apidump-")
        for rel, text in FAKE_TREE.items():
            full = os.path.join(self.tmp, "tree", rel)
            if not os.path.isdir(os.path.dirname(full)):
                os.makedirs(os.path.dirname(full))
            f = open(full, "w")
            f.write(text)
            f.close()
        self.release = os.path.join(self.tmp, "ovs-release")
        f = open(self.release, "w")
        f.write("Oracle VM server release 3.2.1\n")
        f.close()
        # As over SSH: the dumper and the two modules it imports side by side in one directory,
        # nothing else on the path.
        self.upload = os.path.join(self.tmp, "upload")
        os.makedirs(self.upload)
        shutil.copy(DUMPER, self.upload)
        for name in ("ovm3_apidump.py", "ovm3_compat.py"):
            shutil.copy(os.path.join(HOSTLIB, name), self.upload)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def run_dumper(self, *args):
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        proc = subprocess.Popen([sys.executable, os.path.join(self.upload, "ovm3_dump_api.py")] + list(args),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.tmp, env=env)
        out, err = proc.communicate()
        return proc.returncode, out.decode("ascii"), err.decode("utf-8", "replace")

    def test_dump_of_a_fake_agent_tree(self):
        rc, out, err = self.run_dumper("--agent-path", os.path.join(self.tmp, "tree"),
                                       "--release-file", self.release, "--host", "ovm-1")
        self.assertEqual(rc, 0, err)
        snap = jsonread.loads(out)
        self.assertEqual(snap["schema"], "ovm3-api-snapshot")
        self.assertEqual(snap["schema_version"], 1)
        self.assertEqual((snap["agent_version"], snap["ovm_version"], snap["host"], snap["source"]),
                         ("3.2", "3.2.1", "ovm-1", "ssh"))
        self.assertFalse(snap["synthetic"])
        self.assertTrue(snap["time"].endswith("Z"))
        named = by_name(snap["services"])
        self.assertEqual(sorted(named), ["copy_file", "discover_server", "ovs_mkdirs", "ping",
                                         "take_ownership"])
        mk = named["ovs_mkdirs"]
        self.assertEqual((mk["module"], mk["class"], mk["function"], mk["doc"]),
                         ("agent.api.cloudstack", "CloudStack", "ovsMkdirs", "Create a directory tree."))
        self.assertEqual(mk["params"][1], {"name": "mode", "name_known": True,
                                           "default": {"type": "int", "repr": "448", "value": 448}})
        self.assertEqual([p["name"] for p in named["take_ownership"]["params"]],
                         ["manager_uuid", "manager_core_api_url"])
        self.assertEqual(named["copy_file"]["class"], "Linux")
        self.assertEqual(named["copy_file"]["module"], "agent.api.host.linux")

    def test_version_option_reaches_get_services(self):
        rc, out, err = self.run_dumper("--agent-path", os.path.join(self.tmp, "tree"), "--version", "3.3",
                                       "--release-file", os.path.join(self.tmp, "missing"))
        self.assertEqual(rc, 0, err)
        snap = jsonread.loads(out)
        self.assertEqual(snap["agent_version"], "3.3")
        self.assertEqual(snap["ovm_version"], None)
        self.assertTrue("update_agent_password" in by_name(snap["services"]))

    def test_no_agent_package_exits_1_with_a_hint(self):
        rc, out, err = self.run_dumper("--agent-path", os.path.join(self.tmp, "nothing-here"))
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertTrue("--agent-path" in err)

    def test_usage_error_exits_2(self):
        rc, out, err = self.run_dumper("--bogus", "x")
        self.assertEqual(rc, 2)
        self.assertTrue("unknown option --bogus" in err)


if __name__ == "__main__":
    unittest.main()
