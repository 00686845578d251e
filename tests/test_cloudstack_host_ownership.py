"""A 3.3 agent restarts after take_ownership: host set-up waits for it instead of racing it."""
from ovm3.cloudstack.resource import HostConfig, HostResource
from ovm3.sim import simulated_agents
from tests.cloudstack_support import MANAGER, VIP


def _setup(tmp_path, version, restart):
    with simulated_agents(count=1, version=version, tls=False, root=tmp_path,
                          ownership_restart=restart) as hosts:
        h = hosts[0]
        with h.client() as client:
            r = HostResource(client, HostConfig(ip=h.ip, name=h.name, manager_uuid=MANAGER, vip=VIP))
            steps = dict(r.setup())
            calls = h.calls.methods()
            owner = client.linux.discover_server().manager_unique_id
        return steps, calls, owner


def test_setup_waits_for_the_33_agent_to_come_back_after_take_ownership(tmp_path):
    steps, calls, owner = _setup(tmp_path, "3.3", restart=0.5)
    assert steps["ownership"] == "took ownership"
    assert owner.replace("-", "") == MANAGER.replace("-", "")
    i = calls.index("take_ownership")
    # the agent was polled with echo after the restart, before any further set-up call
    assert calls[i + 1] == "echo"
    assert "update_server_roles" in calls[i + 1:]


def test_32_setup_does_not_wait(tmp_path):
    steps, calls, _ = _setup(tmp_path, "3.2", restart=0.5)
    i = calls.index("take_ownership")
    assert calls[i + 1] != "echo"
