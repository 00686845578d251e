"""The ``ovm3`` host/network/pool/repo/vm commands against a real local XML-RPC agent stub."""
import json

import pytest
from click.testing import CliRunner

from ovm3.cli.main import cli, main
from ovm3.wire import dumps_response
from tests.conftest import STUB_PASSWORD, StubAgent, fixture_bytes

REPO = "f12842ebf5ed3fe78da1eb0e17f5ede8"
VM_UUID = "868a6627-c3b0-3d9b-aea4-f279cbaa253b"
MOUNTS = ('<?xml version="1.0" ?><Discover_Mounted_File_Systems_Result><Filesystem Type="nfs">'
          '<Mount Dir="/nfsmnt/5a7ef7fe"><Device>cs-mgmt:/volumes/cs-data/secondary</Device>'
          '<Mount_Options>rw,relatime</Mount_Options></Mount></Filesystem></Discover_Mounted_File_Systems_Result>')
REPOS = ('<Discover_Repositories_Result><RepositoryList><Repository Name="%s"><Version>3.0</Version>'
         '<Repository_Alias>OVS Repository</Repository_Alias><VirtualDisks><Disk>a.raw</Disk></VirtualDisks>'
         '<ISOs><ISO>systemvm.iso</ISO></ISOs></Repository></RepositoryList>'
         '</Discover_Repositories_Result>' % REPO)
DOMU = {"uptime": "120.5\n", "rx_bytes": "1000\n", "tx_bytes": "2000", "rd_bytes": "512", "wr_bytes": "1024",
        "rd_ops": "1", "wr_ops": "2", "vcpus": "1", "cputime": "5.6"}
DOM0 = {"name": "Domain-0", "uuid": "00000000-0000-0000-0000-000000000000", "state": "r-----", "domid": "0",
        "memory": "1024", "vcpus": "2", "device": {}}


def _list_vms(params):
    from ovm3.wire import loads_response

    vm = loads_response(fixture_bytes("XenTest__SINGLEVMLISTXML.xml"))
    return dumps_response([DOM0, vm])


REPLIES = {
    "discover_server": fixture_bytes("LinuxTest__DISCOVERSERVER.original-agent.xml"),
    "discover_hardware": fixture_bytes("LinuxTest__DISCOVERHW.xml"),
    "discover_network": fixture_bytes("NetworkTest__DISCOVERNETWORK.xml"),
    "discover_server_pool": fixture_bytes("PoolTest__DISCOVERPOOL.original-agent.xml"),
    "discover_pool_filesystem": fixture_bytes("PoolOCFS2Test__DISCOVERPOOLFS.xml"),
    "discover_repository_db": fixture_bytes("RepositoryTest__REPODBDISCOVERXML.xml"),
    "discover_repositories": lambda params: dumps_response(REPOS),
    "discover_mounted_file_systems": lambda params: dumps_response(MOUNTS if params[0] == "nfs" else
                                                                   "<Discover_Mounted_File_Systems_Result/>"),
    "ovs_dom0_stats": fixture_bytes("CloudStackPluginTest__dom0StatsXml.xml"),
    "ovs_domU_stats": lambda params: dumps_response(DOMU),
    "list_vms": _list_vms,
    "get_vm_config": fixture_bytes("XenTest__SINGLEVMCONFIGXML.xml"),
}


@pytest.fixture(scope="module")
def agent():
    with StubAgent(REPLIES) as stub:
        yield stub


def run(agent, *args, json_output=False):
    argv = ["--url", agent.url] + (["--json"] if json_output else []) + list(args)
    result = CliRunner().invoke(cli, argv, env={"OVM3_PASSWORD": STUB_PASSWORD}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output) if json_output else result.output


def lines_with(output, word):
    return [line for line in output.splitlines() if word in line]


def test_host_info(agent):
    out = run(agent, "host", "info")
    assert lines_with(out, "hostname:")[0].split() == ["hostname:", "ovm-1"]
    assert "3.2.1-517" in out and "master vip:" in out and "192.168.1.230" in out
    data = run(agent, "host", "info", json_output=True)
    assert data["is_master"] is True and data["ovm_version"] == "3.2.1-517"
    assert data["capabilities"]["MAX_CONCURRENT_MIGRATION_IN"] == "1"


def test_host_hardware(agent):
    out = run(agent, "host", "hardware")
    assert "4294557696 bytes" in out and "Bochs" in out
    assert run(agent, "host", "hardware", json_output=True)["memory"] == 4294557696


def test_host_mounts(agent):
    out = run(agent, "host", "mounts")
    header, row = out.splitlines()[:2]
    assert header.split() == ["DIR", "DEVICE", "TYPE", "OPTIONS"]
    assert row.split() == ["/nfsmnt/5a7ef7fe", "cs-mgmt:/volumes/cs-data/secondary", "nfs", "rw,relatime"]
    assert header.index("DEVICE") == row.index("cs-mgmt")  # aligned columns
    assert "no ocfs2 mounts" in run(agent, "host", "mounts", "--type", "ocfs2")
    assert agent.calls[-1] == ("discover_mounted_file_systems", ("ocfs2",))


def test_host_stats(agent):
    data = run(agent, "host", "stats", "--bridge", "xenbr1", json_output=True)
    assert data == {"cpu": 1.5, "free": 3162505216, "rx": 11631523, "total": 4293918720, "tx": 16927399}
    assert agent.calls[-1] == ("ovs_dom0_stats", ("xenbr1",))
    run(agent, "host", "stats")
    assert agent.calls[-1] == ("ovs_dom0_stats", ("xenbr0",))


def test_network_list(agent):
    out = run(agent, "network", "list")
    assert lines_with(out, "xenbr0 ")[0].split() == [
        "xenbr0", "Bridge", "52:54:00:24:47:70", "192.168.1.64", "255.255.255.0", "bond0"]
    assert lines_with(out, "control0")[0].split()[:3] == ["control0", "Local", "B2:D1:75:69:8C:58"]
    data = run(agent, "network", "list", json_output=True)
    assert data["bridges"]["xenbr0"]["physical"] == "bond0"


def test_pool_show(agent):
    out = run(agent, "pool", "show")
    assert "0004fb0000020000ba9aaf00ae5e2d73" in out and "192.168.1.64, 192.168.1.65" in out
    assert "f12842eb-f5ed-3fe7-8da1-eb0e17f5ede8" in out
    data = run(agent, "pool", "show", json_output=True)
    assert data["pool"]["master_virtual_ip"] == "192.168.1.230"
    assert data["pool_filesystem"]["fs_type"] == "nfs"


def test_repo_list_and_show(agent):
    out = run(agent, "repo", "list")
    assert lines_with(out, REPO)[0].split()[:4] == [REPO, "OVS", "Repository", "Mounted"]
    out = run(agent, "repo", "show", "f12842eb-f5ed-3fe7-8da1-eb0e17f5ede8")
    assert "cs-mgmt:/volumes/cs-data/primary/ovm" in out and "systemvm.iso" in out
    assert agent.calls[-1] == ("discover_repositories", (REPO,))
    data = run(agent, "repo", "show", REPO, json_output=True)
    assert data["db"]["status"] == "Mounted" and data["content"]["isos"] == ["systemvm.iso"]


def test_vm_list(agent):
    out = run(agent, "vm", "list")
    assert "Domain-0" not in out
    assert lines_with(out, "i-2-3-VM")[0].split() == ["i-2-3-VM", VM_UUID, "-b----", "512", "5900", REPO]
    data = run(agent, "vm", "list", "--dom0", json_output=True)
    assert [v["name"] for v in data] == ["Domain-0", "i-2-3-VM"]


def test_vm_show_never_prints_the_vnc_password(agent):
    out = run(agent, "vm", "show", "i-2-3-VM")
    assert "xvda" in out and "02:00:50:9a:00:02 on xenbr0.240" in out and "password set" in out
    assert agent.calls[-1] == ("get_vm_config", (REPO, VM_UUID))
    data = run(agent, "vm", "show", VM_UUID, json_output=True)
    assert data["vm"]["vnc_port"] == 5900 and data["config"]["memory"] == 512
    text = out + json.dumps(data)
    assert "7693f834ca67912e" not in text


def test_vm_stats(agent):
    data = run(agent, "vm", "stats", "i-2-3-VM", json_output=True)
    assert data["uptime"] == 120.5 and data["rx_bytes"] == 1000 and data["wr_bytes"] == 1024
    assert agent.calls[-1] == ("ovs_domU_stats", ("i-2-3-VM",))
    out = run(agent, "vm", "stats", "i-2-3-VM")  # sizes with units, the uptime as a duration
    assert lines_with(out, "uptime:")[0].split()[1:] == ["2m", "0s"]
    assert lines_with(out, "written:")[0].split()[1:] == ["1.0", "KiB", "(1024", "bytes)"]


def test_errors_and_exit_codes(agent, monkeypatch, capsys):
    monkeypatch.setenv("OVM3_PASSWORD", STUB_PASSWORD)
    assert main(["--url", agent.url, "vm", "show", "nope"]) == 1
    assert "no VM named nope" in capsys.readouterr().err
    assert main(["--url", agent.url, "repo", "show", "deadbeef"]) == 1
    monkeypatch.setenv("OVM3_PASSWORD", "wrong")
    assert main(["--url", agent.url, "host", "info"]) == 1
    err = capsys.readouterr().err
    assert "HTTP 401" in err and "wrong" not in err
    assert main(["--url", agent.url, "host", "nosuch"]) == 2
    monkeypatch.delenv("OVM3_PASSWORD")
    monkeypatch.delenv("OVM3_URL", raising=False)
    assert main(["host", "info"]) == 2


def test_agent_fault_exit_code(monkeypatch, capsys):
    monkeypatch.setenv("OVM3_PASSWORD", STUB_PASSWORD)
    with StubAgent({"list_vms": ("fault", 1, "exceptions.Exception:xend is not running")}) as stub:
        assert main(["--url", stub.url, "vm", "list"]) == 1
    assert "xend is not running" in capsys.readouterr().err


def test_host_fingerprint(https_agent, tmp_path, monkeypatch):
    url, fingerprint, _ = https_agent
    store = tmp_path / "known_agents"
    monkeypatch.setenv("OVM3_KNOWN_AGENTS", str(store))
    try:  # click 8.1 (the last for Python 3.9) mixes stderr into stdout unless told not to
        runner = CliRunner(mix_stderr=False)
    except TypeError:  # click 8.2+ keeps them apart and dropped the argument
        runner = CliRunner()
    colon = ":".join(fingerprint[i:i + 2] for i in range(0, 64, 2)).upper()
    result = runner.invoke(cli, ["--url", url, "host", "fingerprint"], catch_exceptions=False)
    assert result.exit_code == 0 and result.stdout.splitlines()[0] == colon and not store.exists()
    result = runner.invoke(cli, ["--url", url, "--json", "host", "fingerprint", "--save"],
                           catch_exceptions=False)
    data = json.loads(result.stdout)
    assert data["sha256"] == colon and data["state"] == "saved" and fingerprint in store.read_text()
    # the pin is now used by every command: the stub answers "put" to anything
    with_pin = runner.invoke(cli, ["--url", url, "call", "echo", "x"], env={"OVM3_PASSWORD": "pw"},
                             catch_exceptions=False)
    assert with_pin.exit_code == 0 and json.loads(with_pin.output) == "put"
    # a different existing pin is kept unless --replace
    host_port = url.split("//")[1]
    store.write_text("%s %s\n" % (host_port, "ab" * 32))
    assert main(["--url", url, "host", "fingerprint", "--save"]) == 1
    assert main(["--url", url, "host", "fingerprint", "--save", "--replace"]) == 0
    assert fingerprint in store.read_text()
    assert main(["--url", "http://127.0.0.1:1", "host", "fingerprint"]) == 2


def echo_params(params):
    return dumps_response(list(params))


@pytest.fixture(scope="module")
def echo_agent():
    """A stub agent answering the calls below with the parameters it received."""
    names = ("storage_plugin_create", "set_ntp", "set_statistics_interval", "call", "echo", "reboot_vm")
    with StubAgent({n: echo_params for n in names}) as stub:
        yield stub


@pytest.mark.parametrize("argv,wire", [
    (["echo", "hello world"], ["hello world"]),                                        # str
    (["set_statistics_interval", "0x10"], [16]),                                       # int
    (["storage_plugin_create", "impl", '{"uuid": "u"}', "{}", "/p/a.raw", "File", "3000000000"],
     ["impl", {"uuid": "u"}, {}, "/p/a.raw", "File", 3000000000]),                     # struct, long (i8)
    (["set_ntp", '["ntp1", "ntp2"]', "yes"], [["ntp1", "ntp2"], True]),                 # array, bool
    (["set_ntp", "[]", "off"], [[], False]),
    (["call", '{"cmd": [1, 2]}'], [{"cmd": [1, 2]}]),                                   # any: JSON
    (["call", "plain words"], ["plain words"]),                                         # any: else text
    (["reboot_vm", "repo", "vm"], ["repo", "vm", 3]),                                   # default filled in
])
def test_call_parses_every_table_type(echo_agent, argv, wire):
    assert json.loads(run(echo_agent, "call", *argv)) == wire
    assert list(echo_agent.calls[-1][1]) == wire


@pytest.mark.parametrize("argv,message", [
    (["set_ntp", '{"a": 1}', "yes"], "expected a JSON array"),
    (["set_ntp", "[]", "maybe"], "not a boolean"),
    (["set_statistics_interval", "ten"], "argument interval (int)"),
    (["storage_plugin_create", "impl", "[]", "{}", "/p", "File", "1"], "expected a JSON object"),
    (["echo", "a", "b"], "at most 1 argument"),
    (["echo"], "missing argument"),
    (["no_such_method"], "no_such_method"),
])
def test_call_usage_errors_exit_2_before_any_call(echo_agent, monkeypatch, capsys, argv, message):
    monkeypatch.setenv("OVM3_PASSWORD", STUB_PASSWORD)
    before = len(echo_agent.calls)
    assert main(["--url", echo_agent.url, "call"] + argv) == 2
    assert message in capsys.readouterr().err
    assert len(echo_agent.calls) == before


def test_call_list_as_json_names_every_method():
    from ovm3.api import TABLE

    result = CliRunner().invoke(cli, ["--json", "call", "--list"], catch_exceptions=False)
    data = json.loads(result.output)
    assert result.exit_code == 0 and [m["name"] for m in data] == [m.wire for m in TABLE]
    assert {"name": "secs", "type": "int", "required": True, "name_known": False} in \
        next(m for m in data if m["name"] == "sleep")["params"]


def test_timeouts_per_class_from_the_command_line_reach_requests(monkeypatch):
    import responses

    monkeypatch.setenv("OVM3_PASSWORD", "pw")
    url = "http://agent.test:8899/"
    with responses.RequestsMock() as rs:
        rs.add(responses.POST, url, body=dumps_response(None))
        for argv in (["call", "echo", "x"], ["call", "copy_file", "/a", "/b"], ["call", "create_vm", "r", "v", "{}"]):
            assert main(["--url", url, "--timeout", "5", "--timeout", "connect=2", "--timeout", "long=7200"]
                        + argv) == 0
        assert main(["--url", url, "--timeout", "connect=3", "call", "echo", "x"]) == 0
        got = [c.request.req_kwargs["timeout"] for c in rs.calls]
        # a plain --timeout 5 also bounds the whole command: no call may wait longer than what is left
        assert [c for c, _ in got] == [2, 2, 2, 3]
        assert all(4 < r <= 5 for _, r in got[:3]) and got[3][1] == 60
    for bad in ("forever=3", "short=0", "soon"):
        assert main(["--url", url, "--timeout", bad, "call", "echo", "x"]) == 2


@pytest.mark.parametrize("module", ["ovm3", "ovm3.cli.main"])
def test_python_dash_m_runs_the_command(module):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", module, "call", "--list"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "discover_server" in out.stdout
