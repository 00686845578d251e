"""``ovm3 serve`` as CloudStack's direct-connect resource drives it: one serve process per host.

Two simulated hosts, each with its own ``ovm3 serve`` subprocess, get the command JSON of
``tests/data/direct_connect_commands.json`` posted to the URLs the direct-connect resource uses. Both
agents listen on 127.0.0.1 (their dom0 addresses are 192.168.1.64/65): identity comes from the agents.
"""

import json
import os
import pathlib
import subprocess
import sys
import time

import pytest
import requests

from ovm3.cloudstack import naming
from ovm3.cloudstack.demo import DemoEnv, prepare_simulated_secondary

DATA = json.loads((pathlib.Path(__file__).parent / "data" / "direct_connect_commands.json").read_text())
OVM3 = ["-c", "import sys; from ovm3.cli.main import main; sys.exit(main())"]
KEY = "dc-api-key-0123456789"
VM = "i-2-3-VM"
API = "com.cloud.agent.api."


def fill(value, variables):
    """A copy of test-data ``value`` with ``${name}`` filled in (a whole-string placeholder may be an object)."""
    if isinstance(value, dict):
        return {k: fill(v, variables) for k, v in value.items() if k != "_about"}
    if isinstance(value, list):
        return [fill(v, variables) for v in value]
    if isinstance(value, str):
        if value.startswith("${") and value.endswith("}") and value[2:-1] in variables:
            return variables[value[2:-1]]
        for name, sub in variables.items():
            if isinstance(sub, str):
                value = value.replace("${%s}" % name, sub)
    return value


def start_serve(host, tls, tmp_path, tag, args):
    """``ovm3 serve`` for simulated ``host`` as its own process; its stderr lines collect in ``.lines``."""
    import threading

    (tmp_path / tag).mkdir()
    password_file = tmp_path / tag / "agent-password"
    password_file.write_text(host.password + "\n")
    env = dict(os.environ, PYTHONUNBUFFERED="1", XDG_CONFIG_HOME=str(tmp_path / "config"))
    for name in ("OVM3_SERVE_API_KEY", "OVM3_PASSWORD"):
        env.pop(name, None)
    argv = [
        sys.executable, *OVM3, "--url", host.url, "--password-file", str(password_file),
        "--fingerprint", host.fingerprint, "serve", "--port", "0", "--cert", tls.cert_file,
        "--key", tls.key_file, *args,
    ]  # fmt: skip
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    proc.lines = []
    reader = threading.Thread(target=lambda: proc.lines.extend(iter(proc.stderr.readline, "")), daemon=True)
    reader.start()
    proc.reader = reader
    return proc


def wait_serving(proc, timeout=120.0):
    """The base URL once serve announces it (AssertionError with its output if it exits first)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for line in list(proc.lines):
            if line.startswith("serving https://"):
                return line.split()[1]
        if proc.poll() is not None:
            proc.reader.join(10)
            raise AssertionError("ovm3 serve exited %s:\n%s" % (proc.returncode, "".join(proc.lines)))
        time.sleep(0.05)
    raise AssertionError("ovm3 serve did not announce itself:\n%s" % "".join(proc.lines))


def stop_serve(proc):
    import signal

    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    proc.reader.join(10)
    return proc.returncode, "".join(proc.lines)


@pytest.fixture
def two_hosts(tmp_path):
    from ovm3.sim import simulated_agents
    from ovm3.sim.tls import make_certificate

    tls = make_certificate(str(tmp_path / "serve-tls"), "127.0.0.1")
    env = DemoEnv()
    with simulated_agents(count=2, version="3.3", tls=True, root=tmp_path / "sim") as hosts:
        prepare_simulated_secondary(hosts, env)
        yield hosts, tls, env


def test_two_serves_drive_a_migration_as_the_direct_connect_resource_does(two_hosts, tmp_path):
    hosts, tls, env = two_hosts
    key_file = tmp_path / "api-key"
    key_file.write_text(KEY + "\n")
    # Serve A as the stock resource can reach it (no header: address range); B with an API key.
    procs = [
        start_serve(hosts[0], tls, tmp_path, "a", ["--setup", "--allow-from", "127.0.0.0/8"]),
        start_serve(hosts[1], tls, tmp_path, "b", ["--setup", "--api-key-file", str(key_file)]),
    ]
    try:
        url_a, url_b = [wait_serving(p) for p in procs]
        assert any("set-up" in line and "took ownership" in line for line in procs[0].lines), procs[0].lines
        serves = [(url_a, {}), (url_b, {"X-Api-Key": KEY})]
        dom0 = [h.ip for h in hosts]
        guid = ["6c0b7a44-0000-4000-8000-00000000000%d" % i for i in (1, 2)]

        def post(i, cls, body):
            url, headers = serves[i]
            r = requests.post("%s/%s" % (url, cls), data=json.dumps(body), verify=tls.cert_file,
                              headers=dict(headers, **{"Content-Type": "application/json"}), timeout=60)
            assert r.status_code == 200, (cls, r.status_code, r.text)
            return r.json()

        def command(i, cls, key, **extra):
            variables = dict(base, **extra)
            (answer,) = post(i, API + cls if "." not in cls else cls, fill(DATA[key], variables))
            ((answer_class, fields),) = answer.items()
            assert fields["result"] is True, (cls, fields.get("details"))
            return answer_class, fields

        base = {
            "pool_uuid": env.primary_uuid, "nfs_host": env.primary_host, "nfs_path": env.primary_path,
            "template_path": env.template_path, "template_uuid": env.template_uuid,
            "volume_uuid": env.volume_uuid, "secondary_url": env.secondary_url, "vm": VM,
        }  # fmt: skip
        base["vm_to"] = fill(DATA["vm"], base)

        # Startup: Command[] back, the identity CloudStack decided echoed exactly, the rest from the host.
        for i in (0, 1):
            sent = fill(DATA["startup"], dict(base, guid=guid[i], name="cs-host-%d" % i, private_ip="127.0.0.1"))
            (reply,) = post(i, API + "StartupCommand", sent)
            cmd = reply[API + "StartupRoutingCommand"]
            for field in ("dataCenter", "pod", "cluster", "guid", "privateIpAddress", "name", "pool"):
                assert cmd[field] == sent[0][API + "StartupRoutingCommand"][field], field
            assert cmd["hypervisorType"] == "Ovm3" and cmd["memory"] > 0 and cmd["cpus"] > 0
            assert cmd["storageIpAddress"] == dom0[i]  # the dom0's address, not the serve's
            assert cmd["hostVmStateReport"] == {}
            # Ping: an Answer whose result says the host is up.
            (ans,) = post(i, API + "PingRoutingCommand", fill(DATA["ping"], base))
            assert ans[API + "Answer"]["result"] is True
            assert post(i, "org.apache.cloudstack.HostVmStateReportCommand", {}) == []
            command(i, "ModifyStoragePoolCommand", "modify_storage_pool")

        command(0, "org.apache.cloudstack.storage.command.CopyCommand", "copy_template_to_primary")
        command(0, "org.apache.cloudstack.storage.command.CopyCommand", "copy_template_to_volume")
        command(0, "StartCommand", "start", dom0_ip=dom0[0])
        assert post(0, "org.apache.cloudstack.HostVmStateReportCommand", {}) == [{VM: "PowerOn"}]
        _cls, stats = command(0, "GetVmStatsCommand", "vm_stats", guid=guid[0], name="cs-host-0")
        assert VM in stats["vmStatsMap"]
        _cls, vnc = command(0, "GetVncPortCommand", "vnc_port")
        assert vnc["address"] == dom0[0] and vnc["port"]  # the dom0's address, not 127.0.0.1

        command(1, "PrepareForMigrationCommand", "prepare_for_migration")
        command(0, "MigrateCommand", "migrate", dest_ip=dom0[1])
        # Stop on the destination at once: its serve learns the arrival from its own agent.
        assert post(1, "org.apache.cloudstack.HostVmStateReportCommand", {}) == [{VM: "PowerOn"}]
        _cls, stop = command(1, "StopCommand", "stop")
        assert "stopped" in stop["details"], stop
        # The source no longer names the VM, not even as PowerOff.
        assert post(0, "org.apache.cloudstack.HostVmStateReportCommand", {}) == []
        (ping,) = post(0, "ping", "")
        assert VM not in ping[API + "PingRoutingCommand"]["_hostVmStateReport"]
        (ping,) = post(0, API + "PingRoutingCommand", fill(DATA["ping"], base))
        assert ping[API + "Answer"]["result"] is True
        assert post(1, "org.apache.cloudstack.HostVmStateReportCommand", {}) == []
    finally:
        results = [stop_serve(p) for p in procs]
    assert "weaker" in results[0][1] and "weaker" not in results[1][1]  # --allow-from is said at start
    for rc, err in results:
        assert rc == 0, err
        assert KEY not in err and "vnc-pw-0042" not in err
    for h in hosts:
        assert h.password not in "".join(err for _rc, err in results)


def test_two_agents_on_one_address_get_their_own_stable_guids(tmp_path):
    # Two agents at 127.0.0.1 (different ports) are two hosts: the guid comes from what each agent
    # reports, and a restarted serve (a new resource) derives the same one.
    from ovm3.cloudstack.host import identify
    from ovm3.cloudstack.resource import HostConfig, HostResource
    from ovm3.sim import simulated_agents

    with simulated_agents(count=2, version="3.3", tls=False, root=tmp_path) as hosts:
        def fresh(h):
            return HostResource(h.client(), HostConfig(ip="127.0.0.1", manager_uuid="ab" * 16, identify=True))

        first = [fresh(h) for h in hosts]
        guids = [identify(r) for r in first]
        assert guids[0] != guids[1]
        assert guids == [naming.host_guid(h.ip) for h in hosts]
        assert [r.config.ip for r in first] == [h.ip for h in hosts]
        again = fresh(hosts[0])
        assert identify(again) == guids[0]
        for r in first + [again]:
            r.client.close()


def test_serve_with_a_pinned_client_certificate_refuses_other_clients(two_hosts, tmp_path):
    # The --client-cert flag as the operator gives it, in the real serve process.
    from ovm3.sim.tls import make_certificate

    hosts, tls, _env = two_hosts
    client = make_certificate(str(tmp_path / "ms-client"), "cloudstack-ms")
    stranger = make_certificate(str(tmp_path / "stranger"), "cloudstack-ms")
    proc = start_serve(hosts[0], tls, tmp_path, "m", ["--client-cert", client.cert_file])
    try:
        url = wait_serving(proc)
        health = url + "/com.cloud.agent.api.CheckHealthCommand"
        for cert in (None, (stranger.cert_file, stranger.key_file)):
            with pytest.raises(requests.exceptions.SSLError):
                requests.post(health, data="{}", cert=cert, verify=tls.cert_file, timeout=20)
        r = requests.post(health, data="{}", cert=(client.cert_file, client.key_file), verify=tls.cert_file,
                          timeout=20)  # fmt: skip
        assert r.status_code == 200 and r.json()[0][API + "CheckHealthAnswer"]["result"] is True
    finally:
        rc, err = stop_serve(proc)
    assert rc == 0 and "weaker" not in err, err
