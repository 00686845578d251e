"""The three ways to dump an agent's API over real loopback sockets: XML-RPC, SSH (real sshd), simulator."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from ovm3.cli.main import main
from ovm3.client import AgentClient
from ovm3.hostfiles import path as host_path
from ovm3.tools import diff, dump, snapshot
from ovm3.wire import dumps_response

from tests.conftest import STUB_PASSWORD, fixture_bytes
from tests.host.test_apidump import FAKE_TREE

sys.path[:0] = [p for p in (host_path("agent_module"), host_path("hostlib")) if p not in sys.path]
import ovm3_agent  # noqa: E402  (the flat agent-module files, as dom0 imports them)
import ovm3_agent_base  # noqa: E402
import ovm3_agent_info  # noqa: E402


class Linux:
    """A stand-in for Oracle's agent.api.host.linux.Linux."""

    def get_services(self, version=None):
        return {"discover_server": self.discover_server, "copy_file": self.copy_file}

    def discover_server(self):
        """Describe this server."""

    def copy_file(self, src, dst, sparse=True):
        pass


@pytest.fixture
def agent_with_module(stub_agent):
    """A loopback agent whose get_api_services is our agent module's, over Linux and our own module."""
    ovm3_agent_base.set_agent_modules([Linux, ovm3_agent.OVM3Agent])
    stub_agent.replies["get_api_services"] = lambda params: dumps_response(ovm3_agent_info.get_api_services())
    stub_agent.replies["discover_server"] = fixture_bytes("LinuxTest__DISCOVERSERVER.xml")
    yield stub_agent
    ovm3_agent_base.set_agent_modules(None)


def test_dump_over_xmlrpc(agent_with_module):
    with AgentClient(agent_with_module.url, password=STUB_PASSWORD) as client:
        data = dump.dump_xmlrpc(client)
    snap = snapshot.Snapshot(data)
    assert (data["source"], data["synthetic"], data["agent_version"]) == ("xmlrpc", False, "3.2")
    assert data["ovm_version"].startswith("3.2.1")
    assert data["host"] == client.host and data["time"].endswith("Z")
    copy = snap.service("copy_file")
    assert (copy.cls, copy.function) == ("Linux", "copy_file")
    assert [p.show() for p in copy.params] == ["src", "dst", "sparse=True"]
    assert snap.service("discover_server").doc == "Describe this server."
    # Our own module's services, with their real defaults.
    domr = snap.service("check_domr_port")
    assert domr is not None and domr.cls == "OVM3Agent"
    assert [p.default["value"] for p in domr.params if not p.required] == [3922, 3]
    assert "get_api_services" in snap.services
    assert [m for m, _ in agent_with_module.calls] == ["get_api_services", "discover_server"]


def test_dump_command_over_xmlrpc_writes_a_snapshot(agent_with_module, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OVM3_PASSWORD", STUB_PASSWORD)
    out = tmp_path / "ovm-1.json"
    rc = main(["--url", agent_with_module.url, "introspect", "dump", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    snap = snapshot.load(str(out))
    assert "copy_file" in snap.services and snap.agent_version == "3.2"
    assert json.loads(out.read_text())["services"] == sorted(json.loads(out.read_text())["services"],
                                                            key=lambda s: s["name"])
    # Compared with the synthetic 3.2 snapshot, the real signatures of our module match the table.
    found = diff.diff(snapshot.load(snapshot.shipped_path("3.2")), snap)
    ours = [f for f in found if f.service in ("check_domr_port", "ping", "ovs_mkdirs") and f.level == "ERR"]
    assert ours == []


def test_dump_over_xmlrpc_refuses_a_non_list_reply(stub_agent):
    stub_agent.replies["get_api_services"] = lambda params: dumps_response("not a list")
    with AgentClient(stub_agent.url, password=STUB_PASSWORD) as client:
        with pytest.raises(Exception) as info:
            dump.dump_xmlrpc(client)
    assert "expected a list of services" in str(info.value)


# ---- SSH: a real sshd on 127.0.0.1, the dumper run by the remote interpreter ----------------------------

sshd = pytest.importorskip("tests.sshd")


def _python27():
    """A real Python 2.7 binary (pyenv shims need PYENV_VERSION, which a fresh ssh login lacks)."""
    candidate = os.path.expanduser("~/.pyenv/versions/2.7.18/bin/python")
    if os.path.exists(candidate):
        return candidate
    try:
        out = subprocess.run(["python", "-c", "import sys; print(sys.executable)"], capture_output=True,
                             text=True, env=dict(os.environ, PYENV_VERSION="2.7.18"), timeout=30)
    except (OSError, subprocess.SubprocessError):
        return shutil.which("python2.7")
    return out.stdout.strip() or shutil.which("python2.7")


PY27 = _python27()


@pytest.fixture(scope="module")
def ssh_host(tmp_path_factory):
    if not sshd.available():
        pytest.skip("needs root, sshd and ssh-keygen")
    work = tmp_path_factory.mktemp("introspect-sshd")
    key = sshd.keygen(str(work / "client_key"))
    server = sshd.SSHServer(str(work / "server"), [key + ".pub"]).start()
    known = work / "known_hosts"
    tree = work / "agent-tree"
    for rel, text in FAKE_TREE.items():
        full = tree / rel
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(text)
    try:
        known.write_text(server.known_hosts_line())
        yield {"port": server.port, "key": key, "known_hosts": str(known), "tree": str(tree)}
    finally:
        server.stop()


def _connect(ssh_host):
    from ovm3.deploy.ssh import SSHConnector

    return SSHConnector("127.0.0.1", port=ssh_host["port"], user="root", key_files=[ssh_host["key"]],
                        known_hosts=ssh_host["known_hosts"])


@pytest.mark.sshd
@pytest.mark.parametrize("python", ["python3", "python2.7"])
def test_dump_over_ssh(ssh_host, python, tmp_path):
    interpreter = sys.executable if python == "python3" else PY27
    if not interpreter or not os.path.exists(interpreter):
        pytest.skip("no %s" % python)
    remote_tmp = tmp_path / "remote-tmp"  # this test's own, so other runs' dumps cannot show up in it
    remote_tmp.mkdir()
    with _connect(ssh_host) as conn:
        data = dump.dump_ssh(conn, python=interpreter, agent_path=ssh_host["tree"], version="3.2",
                             remote_tmp=str(remote_tmp))
        leftovers = conn.run(["ls", "-A", str(remote_tmp)]).text()
    snap = snapshot.Snapshot(data)
    assert (data["source"], data["agent_version"]) == ("ssh", "3.2")
    assert sorted(snap.services) == ["copy_file", "discover_server", "ovs_mkdirs", "ping", "take_ownership"]
    assert snap.service("ovs_mkdirs").params[1].default == {"type": "int", "repr": "448", "value": 448}
    assert [p.name for p in snap.service("take_ownership").params] == ["manager_uuid", "manager_core_api_url"]
    assert leftovers.strip() == ""


@pytest.mark.sshd
def test_dump_over_ssh_without_agent_exits_with_a_hint(ssh_host):
    from ovm3.errors import SSHError

    with _connect(ssh_host) as conn:
        with pytest.raises(SSHError) as info:
            dump.dump_ssh(conn, python=sys.executable, agent_path="/nonexistent-agent-tree")
    assert "exited 1" in str(info.value) and "--agent-path" in str(info.value)


@pytest.mark.sshd
def test_dump_command_via_ssh_and_diff_against_synthetic(ssh_host, tmp_path, capsys):
    out = tmp_path / "dom0.json"
    rc = main(["introspect", "dump", "--via", "ssh", "--ssh-host", "127.0.0.1", "--ssh-port",
               str(ssh_host["port"]), "--ssh-key", ssh_host["key"], "--known-hosts", ssh_host["known_hosts"],
               "--python", sys.executable, "--agent-path", ssh_host["tree"], "--version", "3.3",
               "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    capsys.readouterr()
    # The fake tree's take_ownership is the 3.2 two-string form: against the 3.3 table it is a break.
    rc = main(["introspect", "diff", str(out), snapshot.shipped_path("3.3"), "--format", "json",
               "--fail-on", "ERR"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 3
    take = [f for f in report["findings"] if f["service"] == "take_ownership"]
    assert take and {f["level"] for f in take} == {"ERR"}


# ---- the simulated agent -------------------------------------------------------------------------------

def _dump_sim(version):
    return dump.dump_sim(version)


@pytest.mark.parametrize("version", ["3.2", "3.3", "3.4"])
def test_dump_the_simulator(version):
    data = _dump_sim(version)
    snap = snapshot.Snapshot(data)
    assert data["source"] == "sim" and data["agent_version"] == version
    assert "take_ownership" in snap.services and "get_api_services" in snap.services
    # Every method the table lists for this version is exposed, and nothing else.
    from ovm3.api import TABLE

    assert set(snap.services) == {m.wire for m in TABLE.for_version(version)}


def test_simulator_personalities_differ_in_take_ownership():
    old = snapshot.Snapshot(_dump_sim("3.2"), "sim-3.2")
    new = snapshot.Snapshot(_dump_sim("3.3"), "sim-3.3")
    take = [f for f in diff.diff(old, new) if f.service == "take_ownership"]
    assert take and all(f.level == "ERR" for f in take)


def test_dumper_files_are_the_shipped_ones(tmp_path):
    files = dump.dumper_files()
    assert sorted(files) == ["ovm3_apidump.py", "ovm3_compat.py", "ovm3_dump_api.py"]
    for local in files.values():
        assert os.path.isfile(local)
    # They pass the interpreter's own compile (the 2.4 gate runs in make gate).
    subprocess.run([sys.executable, "-m", "py_compile"] + list(files.values()), check=True)
    # Alone in a directory, as uploaded, they import each other and nothing else of ours: the script
    # gets as far as reading its options (a usage error exits 2; a missing module would exit 1).
    for name, local in files.items():
        shutil.copy(local, tmp_path / name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    ran = subprocess.run([sys.executable, "-I", str(tmp_path / dump.DUMPER), "--bogus", "x"],
                         capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert ran.returncode == 2, ran.stderr
    assert "unknown option --bogus" in ran.stderr


@pytest.mark.parametrize("version", ["3.2", "3.3", "3.4"])
def test_live_simulator_dump_diffs_clean_against_the_shipped_snapshot(version):
    """The API table is the one source of truth: the simulator, hosting our agent module, exposes exactly
    what the shipped snapshot (generated from the table) says, parameter names and defaults included.
    A renamed module parameter (get_vncport's ``domain``) or one the table lacks (exec_domr's timeout)
    fails here."""
    live = snapshot.Snapshot(_dump_sim(version), "sim-%s" % version)
    ours = [s for s in live.services.values() if s.module and s.module.startswith("ovm3_agent")]
    assert len(ours) > 20, "the agent module is not hosted by the simulator"
    findings = diff.diff(snapshot.load(snapshot.shipped_path(version)), live)
    assert findings == [], diff.to_text(snapshot.load(snapshot.shipped_path(version)), live, findings)


def test_exec_domr_timeout_and_get_vncport_domain_reach_the_module():
    """The two parameters that drifted are accepted end to end (client signature, simulator, module)."""
    from ovm3.errors import AgentFault
    from ovm3.sim import simulated_agents

    with simulated_agents(1, version="3.3") as hosts, hosts[0].client() as client:
        reply = client.call("exec_domr", "169.254.3.2", "/opt/cloud/bin/netusage.sh -g", 60)
        assert reply["rc"] == 255  # the simulator refuses ssh to system VMs like an unreachable VM
        assert hosts[0].calls[-1].args == ["169.254.3.2", "/opt/cloud/bin/netusage.sh -g", 60]
        with pytest.raises(AgentFault, match="invalid argument domain"):
            client.call("get_vncport", "../x")
