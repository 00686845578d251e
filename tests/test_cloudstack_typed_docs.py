"""The resource layer reads agent documents through the client's typed parsers, and seeds the client's
version from the discover_server document it already fetched (AgentClient.set_version)."""

import pytest

from ovm3 import errors
from ovm3.parse.server import HardwareInfo, ServerInfo
from ovm3.cloudstack import host, network, storage
from ovm3.cloudstack.resource import HostConfig, HostResource
from ovm3.sim import simulated_agents
from tests.cloudstack_support import MANAGER


def test_set_version_spares_the_discovery_call(tmp_path):
    with simulated_agents(count=1, version="3.2", tls=False, root=tmp_path) as hosts:
        client = hosts[0].client(agent_version=None)
        assert not client.version_known
        assert client.set_version("3.2.11-598") == "3.2"
        assert client.version_known and client.version == "3.2"
        assert hosts[0].calls.methods() == []
        with pytest.raises(errors.UsageError):
            client.set_version("9.9.1")
        client.close()


def test_startup_discovers_the_server_once_and_seeds_the_client(tmp_path):
    with simulated_agents(count=1, version="3.2", tls=False, root=tmp_path) as hosts:
        h = hosts[0]
        r = HostResource(h.client(agent_version=None), HostConfig(ip=h.ip, name=h.name, manager_uuid=MANAGER))
        r.setup()  # take_ownership's signature differs per version: needs the version
        assert r.client.version_known and r.client.version == "3.2"
        assert h.calls.methods().count("discover_server") == 1
        info, hw = host.server_info(r), host.hardware_info(r)
        assert isinstance(info, ServerInfo) and isinstance(hw, HardwareInfo)
        assert info.membership_state != "Unowned" and info.manager_unique_id.replace("-", "") == MANAGER
        start = r.startup()["com.cloud.agent.api.StartupRoutingCommand"]
        assert start["memory"] == hw.memory and start["cpus"] == hw.total_threads
        assert start["hypervisorVersion"] == info.ovm_version
        bridges = network.bridges(r)
        assert network.default_bridge(r) in bridges and bridges[network.default_bridge(r)].address == h.ip
        assert storage.pool_doc(r) is None  # not pooled
        assert storage.mounts(r) == {}
        h.state.mount("nfs-1:/export/primary", "/nfsmnt/x")
        assert storage.mounts(r) == {"/nfsmnt/x": "nfs-1:/export/primary"}
        r.client.close()



def test_pooled_storage_creates_the_pool_on_the_first_host_and_joins_the_second(tmp_path):
    from tests.cloudstack_support import POOL, body, pool_to, resources

    with resources(tmp_path, count=2, pool=True) as (hosts, (a, b)):
        for r in (a, b):
            assert body(r.execute("ModifyStoragePoolCommand", {"add": True, "pool": pool_to()}))["result"]
        first, second = hosts[0].calls.methods(), hosts[1].calls.methods()
        assert first.index("create_pool_filesystem") < first.index("create_server_pool")
        assert "join_server_pool" in second and "create_server_pool" not in second
        for r in (a, b):
            doc = storage.pool_doc(r)
            assert doc.pool_id.replace("-", "") == POOL.replace("-", "")
        assert set(storage.pool_doc(a).members) >= {a.config.ip, b.config.ip}
        assert body(b.execute("DeleteStoragePoolCommand", {"_pool": pool_to()}))["result"]
        assert "leave_server_pool" in hosts[1].calls.methods()
