"""``ovm3 sim`` as the fake OVM3 estate CloudStack's OVM3 plugin is tested against (issue 16): what
CloudStack's own client sees through the simulator must be what a real agent gives."""

import contextlib
import json
import os
import subprocess
import sys
import time

import pytest
import requests

from ovm3 import errors
from ovm3.client import AgentClient
from ovm3.parse.basic import HealthCheck
from ovm3.cloudstack.naming import host_guid
from ovm3.sim import simulated_agents

VIP = "192.168.1.230"
POOL = "1e8c0a5f-8c0b-4d3c-b7a5-6f2d2b6c0d11"


@pytest.fixture(scope="module")
def pooled(tmp_path_factory):
    """Two 3.3 hosts in one pool: the first is master and holds the virtual IP."""
    with simulated_agents(count=2, version="3.3", root=tmp_path_factory.mktemp("pooled")) as hosts:
        a, b = hosts
        a.client().pool.create_server_pool("nfs-1:/export/primary", POOL, VIP, 1, a.name, a.ip, "xen,utility")
        b.client().pool.join_server_pool("nfs-1:/export/primary", POOL, VIP, 2, b.name, b.ip, "xen,utility")
        yield hosts


def test_check_dom0_port_reaches_the_pool_virtual_ip(pooled):
    """CloudStack probes the master through the VIP; ping, check_dom0_ip and the TCP check agree on it."""
    a, b = pooled
    cs = b.client().cloudstack
    assert cs.ping(VIP) is True
    assert a.client().cloudstack.check_dom0_ip(VIP) is True and cs.check_dom0_ip(VIP) is False
    assert cs.check_dom0_port(VIP, 8899, 1) is True
    assert cs.check_dom0_port(VIP, 3306, 1) is False  # only the ports a dom0 serves
    assert cs.check_dom0_port("192.168.1.231", 8899, 1) is False  # an address nobody holds
    a.state.down = True
    try:
        assert cs.check_dom0_port(VIP, 8899, 1) is False  # the holder is down: nothing answers
    finally:
        a.state.down = False


# ---- ovm3 sim: the heartbeat daemon, dom0 paths, the temporary sandbox ------------------------------

PASSWORD = "cs-Sim-pw1"
SCRIPTS = ("/opt/cloudstack/bin", "storagehealth.py")  # what CloudStack sends (checked for shape only)
REPO = "f12842ebf5ed3fe78da1eb0e17f5ede8"


def _sim_tmp_dirs(tmpdir):
    return sorted(p for p in os.listdir(tmpdir) if p.startswith("ovm3-sim-"))


@contextlib.contextmanager
def cli_sim(tmpdir, *args):
    """``ovm3 --json sim ARGS`` in a child process with TMPDIR=tmpdir; yields (info, proc)."""
    env = dict(os.environ, OVM3_PASSWORD=PASSWORD, TMPDIR=str(tmpdir))
    proc = subprocess.Popen([sys.executable, "-m", "ovm3.cli.main", "--json", "sim", "--no-tls"] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        info = json.loads(proc.stdout.readline() or "{}")
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        yield info, proc
    finally:
        proc.terminate()
        proc.wait(30)


def _client(agent):
    return AgentClient(agent["url"], password=PASSWORD, agent_version="3.3")


def _wait_for(fn, timeout):
    end = time.monotonic() + timeout
    while True:
        try:
            value = fn()
        except errors.AgentFault:
            value = None
        if value or time.monotonic() > end:
            return value
        time.sleep(0.2)


def _daemon_alive(verdict):
    return verdict if verdict["verdict"] == "ALIVE" and verdict["observed_by"] == "daemon" else None


def test_cli_sim_serves_the_storage_health_services_from_a_running_daemon(tmp_path):
    """CloudStack's host set-up and every ping call check_dom0_storage_health_check: on a plain ovm3 sim it
    finds the deployed config and the real daemon running; a peer's check_dom0_storage_health reads the
    heartbeat the daemon writes on the shared repository."""
    with cli_sim(tmp_path, "--hosts", "2") as (info, proc):
        a, b = info["agents"]
        ca, cb = _client(a), _client(b)
        guid_a = host_guid(a["ip"])
        assert a["heartbeat_guid"] == guid_a and b["heartbeat_guid"] == host_guid(b["ip"])
        assert ca.cloudstack.check_dom0_storage_health_check(*SCRIPTS, guid_a, 120, 1) == HealthCheck(True, False)
        settings = ca.call("get_module_info")["heartbeat"]
        assert settings == {"guid": guid_a, "timeout": 120.0, "interval": 1.0,
                            "config": "/etc/sysconfig/ovm3-heartbeat"}
        # a wrong guid (CloudStack reaching the host under another address) is named, with dom0's path
        with pytest.raises(errors.AgentFault) as ei:
            ca.cloudstack.check_dom0_storage_health_check(*SCRIPTS, host_guid("127.0.0.1"), 120, 1)
        assert "disagrees with GUID=%s in the heartbeat config /etc/sysconfig/ovm3-heartbeat" % guid_a \
            in ei.value.fault_string
        # the daemon watches what the host mounts under /OVS/Repositories, as CloudStack's does
        for c in (ca, cb):
            c.repository.mount_repository_fs("nfs-1:/export/primary", "/OVS/Repositories/" + REPO)
        verdict = _wait_for(lambda: _daemon_alive(cb.call("check_dom0_storage_verdict", guid_a)), 30)
        assert verdict and verdict["mounts"][0]["mount"] == "/OVS/Repositories/" + REPO, verdict
        assert info["sandbox"] not in json.dumps(verdict)
        assert cb.cloudstack.check_dom0_storage_health(*SCRIPTS, guid_a, 120) is True

        # a per-host fault rule (the admin endpoint) stops A's daemon and keeps it from starting again
        tokens = dict(line.split() for line in open(info["admin_tokens_file"]).read().splitlines())
        admin = {"X-Sim-Token": tokens[a["name"]]}
        r = requests.post(a["url"] + "/_sim/faults", json={"kind": "stop_heartbeat"}, headers=admin, timeout=10)
        assert r.status_code == 200, r.text
        with pytest.raises(errors.AgentFault, match="heartbeat daemon failed to start"):
            ca.cloudstack.check_dom0_storage_health_check(*SCRIPTS, guid_a, 120, 1)
        guid_b = b["heartbeat_guid"]
        assert cb.cloudstack.check_dom0_storage_health_check(*SCRIPTS, guid_b, 120, 1) == HealthCheck(True, False)
        # killed, not stopped: no "stopped" record, and its peer sees the heartbeat stop advancing
        # (DEAD needs CloudStack's 120 s timeout; not waited for here)
        def stalled():
            # B's daemon reads a beat or more after A wrote its last one: find a 2.5 s span without progress
            first = cb.call("check_dom0_storage_verdict", guid_a)["mounts"][0]
            time.sleep(2.5)
            later = cb.call("check_dom0_storage_verdict", guid_a)["mounts"][0]
            return first["seq"] == later["seq"] and later

        later = _wait_for(stalled, 15)
        assert later and later["state"] == "running" and float(later["since_progress"]) >= 2.0, later
        requests.post(a["url"] + "/_sim/faults/clear", headers=admin, timeout=10)
        assert ca.cloudstack.check_dom0_storage_health_check(*SCRIPTS, guid_a, 120, 1) == HealthCheck(True, True)
        sandbox = info["sandbox"]
        assert os.path.isdir(sandbox) and os.path.dirname(sandbox) == os.path.realpath(str(tmp_path))
    assert proc.returncode is not None
    assert _sim_tmp_dirs(tmp_path) == [], "the default sandbox was left behind"


def test_cli_sim_no_heartbeat_faults_with_the_dom0_path_only(tmp_path):
    root = tmp_path / "kept"
    with cli_sim(tmp_path, "--no-heartbeat", "--root", str(root)) as (info, proc):
        (a,) = info["agents"]
        assert a["heartbeat_guid"] is None
        with pytest.raises(errors.AgentFault) as ei:
            _client(a).cloudstack.check_dom0_storage_health_check(*SCRIPTS, host_guid(a["ip"]), 120, 1)
        fault = ei.value.fault_string
        assert "cannot use the heartbeat config /etc/sysconfig/ovm3-heartbeat" in fault
        assert str(root) not in fault and "/hosts/" not in fault, fault
    assert root.is_dir()  # a --root sandbox is the caller's: kept
    assert _sim_tmp_dirs(tmp_path) == []


def test_cli_sim_removes_its_sandbox_after_a_failed_start(tmp_path):
    bad = tmp_path / "rules.json"
    bad.write_text(json.dumps([{"kind": "no-such-kind"}]))
    env = dict(os.environ, OVM3_PASSWORD=PASSWORD, TMPDIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "ovm3.cli.main", "sim", "--no-tls", "--faults", str(bad)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode != 0
    assert _sim_tmp_dirs(tmp_path) == []
    # with --root the sandbox is the caller's and stays
    root = tmp_path / "mine"
    done = subprocess.run([sys.executable, "-m", "ovm3.cli.main", "sim", "--no-tls", "--faults", str(bad),
                           "--root", str(root)], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode != 0 and root.is_dir()


def test_replies_faults_and_the_call_log_name_dom0_paths(tmp_path):
    """One place (HostState.host_view, applied by the dispatcher) turns sandbox paths into the host paths
    a dom0 names: its own files, files in a mounted export through the mount point, other exports as
    server:/path."""
    with simulated_agents(1, version="3.3", root=tmp_path / "sim") as hosts:
        h = hosts[0]
        with pytest.raises(errors.AgentFault) as ei:
            h.client().cloudstack.check_dom0_storage_health_check(*SCRIPTS, host_guid(h.ip), 120, 1)
        assert "the heartbeat config /etc/sysconfig/ovm3-heartbeat:" in ei.value.fault_string
        assert str(tmp_path) not in ei.value.fault_string
        assert str(tmp_path) not in h.calls[-1].fault and "/etc/sysconfig/ovm3-heartbeat" in h.calls[-1].fault
        state = h.state
        mount = "/OVS/Repositories/" + REPO
        state.mount("nfs-1:/export/primary", mount)
        export = hosts.nfs_dir("nfs-1:/export/primary")
        other = hosts.nfs_dir("nfs-2:/export/isos")
        view = state.host_view({
            "own": "cannot read %s/etc/sysconfig/x: gone" % h.root,
            "root": h.root,
            "mounted": ["%s/.hb-guid" % export, "%s/.hb-guid" % os.path.join(h.root, mount.lstrip("/"))],
            "unmounted": "'%s/a.iso'" % other,
            "sibling": export + "2/x",  # another export whose name starts the same: not through the mount
            "kept": "/etc/ovs-release", "n": 3,
        })
        assert view == {
            "own": "cannot read /etc/sysconfig/x: gone",
            "root": "/",
            "mounted": [mount + "/.hb-guid", mount + "/.hb-guid"],
            "unmounted": "'nfs-2:/export/isos/a.iso'",
            "sibling": "nfs-1:/export/primary2/x",
            "kept": "/etc/ovs-release", "n": 3,
        }


def test_repository_contents_have_the_real_agents_shapes(tmp_path):
    """Every repository content kind of reference §6.7, found by CloudStack's own XPaths: a plain
    ``Templates/<uuid>.raw`` (CloudStack's layout) is ``<Template Name="<uuid>"><File><uuid>.raw</File>``,
    a template folder lists its files, a VM folder its vm.cfg, disks and ISOs are their file names."""
    from lxml import etree

    tpl, disk, iso, vm = "5a0a8d1e-6c1c-4a37-a0b1-3bd1c3f0b7aa", "d1.raw", "e14c811e.iso", "868a6627-c3b0"
    with simulated_agents(1, version="3.2", root=tmp_path / "sim") as hosts:
        c = hosts[0].client()
        mount = "/OVS/Repositories/" + REPO
        c.repository.create_repository("nfs-1:/export/primary", mount, REPO, "OVS Repository")
        base = os.path.join(hosts[0].root, mount.lstrip("/"))
        for rel in ("Templates/%s.raw" % tpl, "Templates/folder-tpl/System.img", "Templates/folder-tpl/vm.cfg",
                    "VirtualDisks/" + disk, "ISOs/" + iso, "VirtualMachines/%s/vm.cfg" % vm):
            os.makedirs(os.path.dirname(os.path.join(base, rel)), exist_ok=True)
            open(os.path.join(base, rel), "w").close()
        doc = etree.fromstring(c.call("discover_repositories", REPO).encode())
        p = "//Discover_Repositories_Result/RepositoryList/Repository"
        assert doc.xpath(p + "/@Name") == [REPO]
        r = "%s[@Name='%s']" % (p, REPO)
        templates = {t.get("Name"): [f.text for f in t.findall("File")] for t in doc.xpath(r + "/Templates/Template")}
        assert templates == {tpl: [tpl + ".raw"], "folder-tpl": ["System.img", "vm.cfg"]}
        assert doc.xpath(r + "/Templates/Template/File/text()") == [tpl + ".raw", "System.img", "vm.cfg"]
        assert doc.xpath(r + "/VirtualMachines/VirtualMachine/@Name") == [vm]
        assert doc.xpath(r + "/VirtualMachines/VirtualMachine/File/text()") == ["vm.cfg"]
        assert doc.xpath(r + "/VirtualDisks/Disk/text()") == [disk]
        assert doc.xpath(r + "/ISOs/ISO/text()") == [iso]
        fields = {e.tag: e.text for e in doc.xpath(r)[0] if len(e) == 0}
        assert fields == {"Version": "3.0", "Manager_UUID": None, "Repository_UUID": REPO,
                          "Repository_Alias": "OVS Repository", "Assemblies": None}
        typed = c.repository.discover_repositories(REPO).get(REPO)  # the client's mirror reads the same
        assert typed.templates == [tpl + ".raw", "System.img", "vm.cfg"] and typed.virtual_machines == [vm]
        assert typed.virtual_disks == [disk] and typed.isos == [iso]


def _key_paths(value, prefix=""):
    """{key path: XML-RPC type}: struct members by name, array elements as ``[]`` (all elements merged)."""
    kinds = {str: "string", bool: "boolean", int: "int", float: "double", dict: "struct", list: "array"}
    out = {prefix or "/": kinds.get(type(value), type(value).__name__)}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(_key_paths(v, "%s/%s" % (prefix, k)))
    elif isinstance(value, list):
        for v in value:
            out.update(_key_paths(v, prefix + "[]"))
    return out


def test_list_vms_has_every_key_path_of_the_recorded_pv_domain(tmp_path):
    """Every key path of the recorded xend record (fixtures/XenTest__SINGLEVMLISTXML.xml), with the
    same XML-RPC type (numbers as strings, empties as strings), is in the simulator's running PV domain,
    in list_vms and in list_vm."""
    from ovm3.wire import loads_response
    from tests.conftest import fixture_bytes

    recorded = _key_paths(loads_response(fixture_bytes("XenTest__SINGLEVMLISTXML.xml")))
    vm_id = "868a6627-c3b0-3d9b-aea4-f279cbaa253b"
    with simulated_agents(1, version="3.2", root=tmp_path / "sim") as hosts:
        c = hosts[0].client()
        mount = "/OVS/Repositories/" + REPO
        c.repository.create_repository("nfs-1:/export/primary", mount, REPO, "OVS Repository")
        disk = "%s/VirtualDisks/722eb520-dcf5-4113-8f45-22d67c9a2f3c.raw" % mount
        open(os.path.join(hosts[0].root, disk.lstrip("/")), "w").close()
        params = {"name": "i-2-3-VM", "uuid": vm_id, "memory": 512, "vcpus": 1, "maxvcpus": 0, "cpu_cap": 0,
                  "cpu_weight": 27500, "on_poweroff": "destroy", "on_reboot": "restart", "on_crash": "restart",
                  "bootloader": "/usr/bin/pygrub", "OVM_domain_type": "default", "OVM_simple_name": "i-2-3-VM",
                  "disk": ["file:%s,xvda,w" % disk],
                  "vif": ["mac=02:00:50:9a:00:01,bridge=xenbr0"],
                  "vfb": ["vncunused=1,keymap=en-us,vncpasswd=gobbeldygoo,type=vnc,vnclisten=0.0.0.0"]}
        c.xen.create_vm(REPO, vm_id, params)
        c.xen.start_vm(REPO, vm_id)
        listed = [d for d in c.call("list_vms") if d["name"] == "i-2-3-VM"]
        single = c.call("list_vm", REPO, vm_id)
    assert len(listed) == 1
    for got in (_key_paths(listed[0]), _key_paths(single)):
        missing = sorted(set(recorded) - set(got))
        assert missing == [], "key paths of the recorded PV domain the simulator lacks: %s" % missing
        wrong = {p: (recorded[p], got[p]) for p in recorded if recorded[p] != got[p]}
        assert wrong == {}, "key paths with another XML-RPC type (recorded, simulated): %s" % wrong


def test_the_mountinfo_stand_in_keeps_a_mount_id_while_mounted_and_never_reuses_one(tmp_path):
    # The daemon takes a changed mount id for a remount (new storage, fence): an unrelated unmount
    # must not renumber the others, and a remount must not inherit the old id.
    def ids(hb):
        with open(hb.path("/proc/self/mountinfo"), encoding="utf-8") as f:
            return {line.split()[4]: int(line.split()[0]) for line in f if " - nfs " in line}

    with simulated_agents(1, version="3.3", root=tmp_path / "sim") as (host,):
        state = host.state
        hb = host.heartbeat("0e1d2c3b-4a59-4876-9a0b-1c2d3e4f5a6b", [])
        for n in ("a", "b", "c"):
            state.mount("nfs-1:/export/%s" % n, "/OVS/Repositories/%s" % n)
        first = ids(hb)
        assert len(set(first.values())) == 3
        state.unmount("/OVS/Repositories/a")
        after = ids(hb)
        assert after == {k: v for k, v in first.items() if not k.endswith("/Repositories/a")}
        state.mount("nfs-1:/export/a", "/OVS/Repositories/a")
        again = ids(hb)
        remounted = [v for k, v in again.items() if k.endswith("/Repositories/a")]
        assert remounted and remounted[0] not in first.values()
