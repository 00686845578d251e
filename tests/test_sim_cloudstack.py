"""``ovm3 sim`` as the fake OVM3 estate CloudStack's OVM3 plugin is tested against (issue 16): what
CloudStack's own client sees through the simulator must be what a real agent gives."""

import pytest

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
