"""The agent module over real XML-RPC inside the simulated agent, through the client's mirror classes."""

import pytest

from ovm3 import errors
from ovm3.sim import simulated_agents


@pytest.fixture(scope="module")
def host():
    with simulated_agents(1, version="3.3") as hosts:
        yield hosts[0]


@pytest.fixture
def client(host):
    return host.client()


def test_info_services(client):
    assert client.cloudstack.call("hi") == "hi"
    assert client.cloudstack.get_module_version() == "1.0.0"
    info = client.ovm3.get_module_info()
    assert info["module_version"] == "1.0.0" and len(info["checksum"]) == 32
    assert client.cloudstack.get_ovs_version() == info["ovs_version"]


def test_api_services_lists_our_services_with_real_defaults(client):
    services = client.ovm3.get_api_services()
    by_name = {s["name"]: s for s in services if s.get("name")}
    for name in ("exec_domr", "ovs_mkdirs", "check_dom0_storage_verdict", "get_api_services"):
        assert name in by_name
    assert "448" in repr(by_name["ovs_mkdirs"])


def test_mkdirs_upload_and_check(client):
    assert client.cloudstack.ovs_mkdirs("/OVS/Repositories/xmlrpc") is True  # created
    assert client.cloudstack.ovs_mkdirs("/OVS/Repositories/xmlrpc") is False  # existed
    assert client.cloudstack.ovs_upload_file("/OVS/Repositories/xmlrpc", "a.cfg", "data") is True
    assert client.cloudstack.ovs_check_file("/OVS/Repositories/xmlrpc/a.cfg") is True
    assert client.cloudstack.ovs_check_file("/OVS/Repositories/xmlrpc/b.cfg") is False


def test_dom0_services(client, host):
    assert client.cloudstack.check_dom0_ip(host.ip) is True
    assert client.cloudstack.check_dom0_ip("203.0.113.77") is False
    stats = client.cloudstack.ovs_dom0_stats("xenbr0")
    assert stats.total > stats.free > 0 and 0.0 <= stats.cpu <= 100.0


@pytest.mark.parametrize(
    "wire,args",
    [
        ("exec_domr", ("169.254.1.1", "rm -rf /")),
        ("ping", ("1.1.1.1; reboot",)),
        ("ovs_upload_file", ("/etc", "passwd", "x")),
        ("ovs_mkdirs", ("/OVS/Repositories/../../etc",)),
        ("ovs_dom0_stats", ("xenbr0; reboot",)),
    ],
)
def test_hostile_inputs_become_validation_faults(client, wire, args):
    with pytest.raises(errors.ValidationFault) as info:
        getattr(client.cloudstack, wire)(*args)
    assert "invalid argument" in str(info.value)


REFUSED_KEY_NAMES = ["rc", "RC", "authorized_keys", "authorized_keys2", "AUTHORIZED_KEYS", "Authorized_Keys.new",
                     "environment", "Environment", "config", "CONFIG", "known_hosts", "known_hosts.old",
                     "id_rsa.cloud\n", "id_rsa\n", "id_rsa", "other.key", "../id_rsa.cloud", ".ssh"]


@pytest.mark.parametrize("name", REFUSED_KEY_NAMES)
def test_upload_ssh_key_writes_only_the_key_names_the_management_side_uses(host, client, name):
    import os

    with pytest.raises(errors.ValidationFault) as info:
        client.call("ovs_upload_ssh_key", name, "ssh-rsa AAAA")
    assert "keyfile" in str(info.value)
    ssh_dir = host.module.local_path("/root/.ssh") if hasattr(host.module, "local_path") else None
    if ssh_dir and os.path.isdir(ssh_dir):
        assert sorted(os.listdir(ssh_dir)) in ([], ["id_rsa.cloud"])


def test_upload_ssh_key_accepts_id_rsa_cloud(client):
    assert client.call("ovs_upload_ssh_key", "id_rsa.cloud", "-----BEGIN KEY-----") is True
    assert client.cloudstack.ovs_check_file("/root/.ssh/id_rsa.cloud") is True


@pytest.mark.parametrize("service, args", [
    ("check_dom0_ip", ("10.0.0.1\n",)),
    ("check_dom0_port", ("10.0.0.1\n", 22)),
    ("ovs_dom0_stats", ("xenbr0\n",)),
    ("get_vncport", ("i-2-3-VM\n",)),
    ("check_dom0_storage_verdict", ("guid-1\n",)),
    ("ovs_upload_file", ("/OVS/Repositories", "a.cfg\n", "x")),
])
def test_a_trailing_newline_does_not_pass_a_validator(client, service, args):
    with pytest.raises(errors.ValidationFault):
        client.call(service, *args)
