"""The project's agent module, loaded as ovs-agent loads it, serves over XML-RPC next to Oracle's
methods; its host access goes through the simulator's HostIO."""

import os
import time

import pytest

from ovm3 import errors
from ovm3.sim import simulated_agents

REPO = "f12842ebf5ed3fe78da1eb0e17f5ede8"


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    with simulated_agents(count=2, version="3.2", root=tmp_path_factory.mktemp("module")) as hs:
        yield hs


def test_loaded_from_a_fake_agent_target_api(hosts):
    api = os.path.join(hosts.root, "agent", "target", "api.py")
    assert "+ [OVM3Agent]" in open(api).read()
    c = hosts[0].client()
    assert c.call("call", "put") == "put"
    assert c.call("get_ovs_version") == "3.2.1"
    names = {s["name"] for s in c.call("get_api_services")}
    assert {"get_vncport", "ovs_mkdirs", "check_dom0_ip"} <= names


def test_host_access_is_the_simulated_state(hosts):
    h1, h2 = hosts
    c = h1.client()
    assert c.call("ping", h2.ip) is True and c.call("ping", "10.255.0.9") is False
    assert c.call("check_dom0_ip", h1.ip) is True and c.call("check_dom0_ip", h2.ip) is False
    stats = c.call("ovs_dom0_stats", "xenbr0")
    assert int(stats["total"]) == h1.state.memory_mb * 1024 * 1024
    assert c.call("ovs_mkdirs", "/nfsmnt/scratch/a") is None
    assert os.path.isdir(os.path.join(h1.root, "nfsmnt", "scratch", "a"))
    assert c.call("ovs_mkdirs", "/nfsmnt/scratch/a") is True


def test_module_refusals_become_faults(hosts):
    c = hosts[0].client()
    with pytest.raises(errors.AgentFault) as ei:
        c.call("exec_domr", "169.254.3.2", "rm -rf /")
    assert "invalid argument" in ei.value.fault_string
    assert hosts[0].calls.find("exec_domr")[-1].fault


def test_module_methods_answer_not_simulated_without_the_module(tmp_path):
    with simulated_agents(count=1, root=tmp_path, load_module=False) as hs:
        with pytest.raises(errors.NotSimulatedFault):
            hs[0].client().call("get_vncport", "i-2-3-VM")


def _running_domain(state, name="i-2-9-VM", vcpus=2):
    from ovm3.sim.state import Domain

    with state.lock:
        config = {"disk": ["file:/OVS/x.img,xvda,w"], "vif": ["mac=00:21:f6:00:00:09,bridge=xenbr0"]}
        dom = Domain("0004fb00000600000000000000000009", "r", name, state.new_domid(), 256, vcpus, 5901, config)
        state.domains[dom.vm_id] = dom
    return dom


def test_counters_grow_while_running_and_freeze_while_paused(tmp_path):
    with simulated_agents(count=1, root=tmp_path) as hs:
        h = hs[0]
        dom = _running_domain(h.state)
        c = h.client()
        first = c.call("ovs_domU_stats", "i-2-9-VM")
        time.sleep(0.05)
        second = c.call("ovs_domU_stats", "i-2-9-VM")
        for key in ("rd_bytes", "wr_bytes", "rx_bytes", "tx_bytes", "cputime"):
            assert float(second[key]) > float(first[key]), key
        with h.state.lock:
            dom.pause()
        paused = c.call("ovs_domU_stats", "i-2-9-VM")
        time.sleep(0.05)
        assert c.call("ovs_domU_stats", "i-2-9-VM")["rd_bytes"] == paused["rd_bytes"]
        # The module's CPU sample sleeps on the simulated clock: a busy host shows load, at once.
        assert float(c.call("ovs_dom0_stats", "xenbr0")["cpu"]) > 0


def test_fleet_hosts_serve_the_agent_module(tmp_path):
    with simulated_agents(count=3, fleet=True, root=tmp_path) as hs:
        h = hs[2]
        assert h.module is not None
        _running_domain(h.state)
        c = h.client()
        assert int(c.call("ovs_dom0_stats", "xenbr0")["total"]) == h.state.memory_mb * 1024 * 1024
        assert c.call("ovs_domU_stats", "i-2-9-VM")["vcpus"] == "2"
        with pytest.raises(errors.AgentFault):
            hs[0].client().call("ovs_domU_stats", "i-2-9-VM")  # that domain runs on another host
