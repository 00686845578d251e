"""The simulated agent against a recorded vm.cfg (XenTest__SINGLEVMCONFIGXML.xml), checked WITHOUT
ovm3.vmcfg: the simulator reads vm.cfg entries with that model, so a test through the same model could
not see the two agree on a mistake. The fixture is decoded with the standard library's xmlrpc.client and
its entries are split here by hand."""

import ast
import os
import xmlrpc.client
from pathlib import Path

from ovm3.sim import simulated_agents

FIXTURE = Path(__file__).resolve().parents[1].parent / "shared/reference/fixtures/XenTest__SINGLEVMCONFIGXML.xml"
PRIMARY = "nfs-1:/export/primary"
PLUGIN = "oracle.generic.NFSPlugin.GenericNFSPlugin"


def recorded():
    (params,), _method = xmlrpc.client.loads(FIXTURE.read_bytes(), use_builtin_types=True)
    return params


def _pairs(text):
    return dict(part.split("=", 1) for part in text.split(","))


def test_the_simulator_keeps_and_runs_a_recorded_vm_config_unchanged(tmp_path):
    params = recorded()
    uname, device, mode = params["disk"][0].split(",")
    disk_path = uname[len("file:"):]
    repo = disk_path.split("/")[3]
    vm = params["uuid"]
    with simulated_agents(count=1, version="3.3", tls=False, root=tmp_path / "sim") as hosts:
        h = hosts[0]
        c = h.client()
        c.call("create_repository", PRIMARY, "/OVS/Repositories/" + repo, repo, "OVS Repository")
        ss, sd = {"uuid": repo, "access_host": "nfs-1"}, {"uuid": repo, "ss_uuid": repo}
        c.call("storage_plugin_create", PLUGIN, ss, sd, os.path.basename(disk_path), "File", 1 << 20)
        c.call("create_vm", repo, vm, params)

        assert c.call("get_vm_config", repo, vm) == params
        cfg_file = h.state.path("/OVS/Repositories/%s/VirtualMachines/%s/vm.cfg" % (repo, vm))
        with open(cfg_file, encoding="utf-8") as f:
            lines = [line for line in f.read().splitlines() if line.strip() and not line.startswith("#")]
        on_disk = {}
        for line in lines:
            key, _, value = line.partition(" = ")
            on_disk[key] = ast.literal_eval(value)
        assert on_disk == params

        c.call("start_vm", repo, vm)
        (info,) = [d for d in c.call("list_vms") if d["name"] == params["name"]]
        (vbd,) = info["device"]["vbd"]
        assert (vbd["uname"], vbd["dev"], vbd["mode"]) == (uname, device + ":disk", mode)
        assert [(v["mac"], v["bridge"]) for v in info["device"]["vif"]] == [
            (_pairs(v)["mac"], _pairs(v)["bridge"]) for v in params["vif"]
        ]
        (vfb,) = info["device"]["vfb"]
        want = _pairs(params["vfb"][0])
        assert (vfb["vnclisten"], vfb["vncpasswd"], vfb["keymap"]) == (
            want["vnclisten"], want["vncpasswd"], want["keymap"]
        )
        assert vfb["location"].startswith(want["vnclisten"] + ":")
