"""``ovm3 serve`` authentication: API key, mutual TLS with a pinned client certificate, ``--allow-from``;
each refuses what it should, and only a secret lets a caller run the host set-up over HTTP."""

import contextlib
import threading

import pytest
import requests

from ovm3.cli.cmd_serve import build_server
from ovm3.errors import UsageError
from tests.cloudstack_support import resources

KEY = "auth-test-key-0123"
HEALTH = "/com.cloud.agent.api.CheckHealthCommand"
SETUP = "/ovm3.HostSetup"


@pytest.fixture
def material(tmp_path):
    from ovm3.sim.tls import make_certificate

    return {
        "server": make_certificate(str(tmp_path / "server"), "127.0.0.1"),
        "client": make_certificate(str(tmp_path / "client"), "cloudstack-ms"),
        "stranger": make_certificate(str(tmp_path / "stranger"), "cloudstack-ms"),
    }


@contextlib.contextmanager
def serving(tmp_path, material, **kw):
    with resources(tmp_path / "sim") as (hosts, (r,)):
        server = build_server(r, "127.0.0.1", 0, material["server"].cert_file, material["server"].key_file, **kw)
        t = threading.Thread(target=server.serve_forever, daemon=True)
        t.start()
        try:
            yield server, hosts[0]
        finally:
            server.shutdown()
            server.server_close()


def _post(server, material, path, key=None, cert=None):
    headers = {"X-Api-Key": key} if key else {}
    return requests.post(server.url + path, data="{}", headers=headers, cert=cert,
                         verify=material["server"].cert_file, timeout=20)  # fmt: skip


def _pair(m):
    return (m.cert_file, m.key_file)


def test_api_key_mode_refuses_a_missing_or_wrong_key(tmp_path, material):
    with serving(tmp_path, material, api_key=KEY, no_auth=False) as (server, host):
        assert _post(server, material, HEALTH).status_code == 401
        assert _post(server, material, HEALTH, key="wrong").status_code == 401
        assert host.calls.methods() == []
        assert _post(server, material, HEALTH, key=KEY).status_code == 200


def test_mutual_tls_refuses_no_certificate_and_a_certificate_not_pinned(tmp_path, material):
    pinned = material["client"].cert_file
    with serving(tmp_path, material, client_cert=pinned, no_auth=False) as (server, host):
        with pytest.raises(requests.exceptions.SSLError):
            _post(server, material, HEALTH)  # no client certificate: the handshake fails
        with pytest.raises(requests.exceptions.SSLError):
            _post(server, material, HEALTH, cert=_pair(material["stranger"]))  # same name, other key
        assert host.calls.methods() == []
        r = _post(server, material, HEALTH, cert=_pair(material["client"]))
        assert r.status_code == 200 and r.json()[0]["com.cloud.agent.api.CheckHealthAnswer"]["result"] is True
        # a secret authenticates the caller: set-up over HTTP is allowed
        r = _post(server, material, SETUP, cert=_pair(material["client"]))
        assert r.status_code == 200, r.text
        assert dict(map(tuple, r.json()["steps"]))["ownership"] == "took ownership"


def test_allow_from_refuses_addresses_outside_the_range_and_never_runs_set_up(tmp_path, material):
    with serving(tmp_path, material, allow_from=("10.0.0.0/8",), no_auth=False) as (server, host):
        r = _post(server, material, HEALTH)
        assert r.status_code == 401 and "not in --allow-from" in r.json()["error"]
        assert host.calls.methods() == []
        assert "weaker" in server.auth.warning()
    with serving(tmp_path / "2", material, allow_from=("127.0.0.0/8",), no_auth=False) as (server, host):
        assert _post(server, material, HEALTH).status_code == 200  # no header: the stock resource's way
        r = _post(server, material, SETUP)
        assert r.status_code == 403 and host.calls.methods() == ["echo"]  # set-up takes ownership: refused


def test_no_auth_serves_but_refuses_set_up(tmp_path, material):
    with serving(tmp_path, material, no_auth=True) as (server, host):
        assert _post(server, material, HEALTH).status_code == 200
        assert _post(server, material, SETUP).status_code == 403
        assert "WITHOUT authentication" in server.auth.warning()


def test_modes_combine_and_nothing_opens_without_one(tmp_path, material):
    with resources(tmp_path) as (hosts, (r,)):
        with pytest.raises(UsageError, match="no authentication"):
            build_server(r, "127.0.0.1", 0, material["server"].cert_file, material["server"].key_file, no_auth=False)
        with pytest.raises(UsageError, match="not an address or CIDR"):
            build_server(r, "127.0.0.1", 0, material["server"].cert_file, material["server"].key_file,
                         allow_from=("10.0.0.0/33",))  # fmt: skip
        with pytest.raises(UsageError, match="needs HTTPS"):
            build_server(r, "127.0.0.1", 0, insecure_http=True, client_cert=material["client"].cert_file)
    with serving(tmp_path / "2", material, api_key=KEY, allow_from=("127.0.0.0/8",), no_auth=False) as (server, _h):
        assert _post(server, material, HEALTH).status_code == 401  # in range, but no key
        assert _post(server, material, HEALTH, key=KEY).status_code == 200


def test_serve_setup_keeps_the_manager_uuid_so_a_restart_keeps_ownership(tmp_path):
    import os
    import stat

    from ovm3.cli.cmd_serve import stored_manager_uuid
    from ovm3.cloudstack.resource import HostConfig, HostResource
    from ovm3.sim import simulated_agents

    path = str(tmp_path / "config" / "ovm3" / "manager-uuid")
    first = stored_manager_uuid(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and len(first) == 32
    assert stored_manager_uuid(path) == first
    with simulated_agents(count=1, version="3.3", tls=False, root=tmp_path / "sim") as hosts:
        def serve_resource():
            return HostResource(hosts[0].client(), HostConfig(ip="127.0.0.1", manager_uuid=stored_manager_uuid(path),
                                                              identify=True))  # fmt: skip

        before = serve_resource()
        fresh = before.execute("ReadyCommand", {})
        assert "owner none" in fresh["com.cloud.agent.api.ReadyAnswer"]["details"]
        assert dict(before.setup())["ownership"] == "took ownership"
        after = serve_resource()  # a restarted serve
        assert after.execute("ReadyCommand", {})["com.cloud.agent.api.ReadyAnswer"]["result"] is True
        before.client.close()
        after.client.close()
    with open(path, "w") as f:
        f.write("not-a-uuid\n")
    with pytest.raises(UsageError, match="manager uuid"):
        stored_manager_uuid(path)
