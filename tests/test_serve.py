"""``ovm3 serve`` over real HTTP(S): auth, malformed input, unknown commands, answers as JSON arrays."""

import json
import threading

import pytest
import requests

from ovm3.cli.cmd_serve import build_server
from ovm3.errors import UsageError
from tests.test_resource_support import resources

KEY = "test-api-key-0123"


@pytest.fixture
def served(tmp_path):
    from ovm3.sim.tls import make_certificate

    material = make_certificate(str(tmp_path / "tls"), "127.0.0.1")
    with resources(tmp_path / "sim") as (hosts, (r,)):
        server = build_server(r, "127.0.0.1", 0, material.cert_file, material.key_file, api_key=KEY)
        t = threading.Thread(target=server.serve_forever, daemon=True)
        t.start()
        try:
            yield server, material, hosts
        finally:
            server.shutdown()
            server.server_close()


def _post(server, material, path, data, key=KEY):
    headers = {"X-Api-Key": key} if key else {}
    return requests.post(server.url + path, data=data, headers=headers, verify=False, timeout=10)


def test_https_command_answer_is_a_typed_json_array(served):
    server, material, hosts = served
    assert server.url.startswith("https://")
    r = _post(server, material, "/com.cloud.agent.api.CheckHealthCommand", "{}")
    assert r.status_code == 200
    (answer,) = r.json()
    assert answer["com.cloud.agent.api.CheckHealthAnswer"]["result"] is True
    assert hosts[0].calls.methods() == ["echo"]


def test_missing_or_wrong_key_is_401(served):
    server, material, hosts = served
    assert _post(server, material, "/CheckHealthCommand", "{}", key=None).status_code == 401
    assert _post(server, material, "/CheckHealthCommand", "{}", key="wrong").status_code == 401
    assert hosts[0].calls.methods() == []


def test_malformed_json_and_non_objects_are_400(served):
    server, material, hosts = served
    r = _post(server, material, "/StopCommand", "{not json")
    assert r.status_code == 400 and "JSON" in r.json()["error"]
    assert _post(server, material, "/StopCommand", "[1, 2]").status_code == 400
    assert _post(server, material, "/StopCommand", b"\xff\xfe").status_code == 400


def test_unknown_command_is_404_with_unsupported_answer(served):
    server, material, hosts = served
    r = _post(server, material, "/com.cloud.agent.api.ScaleVmCommand", "{}")
    assert r.status_code == 404
    assert "com.cloud.agent.api.UnsupportedAnswer" in r.json()["answer"][0]


def test_failed_command_is_200_with_failed_answer(served):
    server, material, hosts = served
    r = _post(server, material, "/RebootCommand", json.dumps({"vmName": "missing"}))
    assert r.status_code == 200
    assert r.json()[0]["com.cloud.agent.api.RebootAnswer"]["result"] is False


def test_get_describes_service_and_ping_endpoint(served):
    server, material, hosts = served
    r = requests.get(server.url, headers={"X-Api-Key": KEY}, verify=False, timeout=10)
    assert r.status_code == 200 and "StartCommand" in r.json()["commands"]
    r = _post(server, material, "/ping", "")
    assert r.status_code == 200 and "com.cloud.agent.api.PingRoutingCommand" in r.json()[0]


def test_https_and_key_are_required_by_default(tmp_path, monkeypatch):
    from ovm3.cli.cmd_serve import read_api_key

    with resources(tmp_path) as (hosts, (r,)):
        with pytest.raises(UsageError):
            build_server(r, "127.0.0.1", 0)
    monkeypatch.delenv("OVM3_SERVE_API_KEY", raising=False)
    with pytest.raises(UsageError):
        read_api_key(None)
    monkeypatch.setenv("OVM3_SERVE_API_KEY", "k1")
    assert read_api_key(None) == "k1"


def test_tls_rejects_plain_http(served):
    server, material, hosts = served
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(
            server.url.replace("https", "http") + "/CheckHealthCommand",
            data="{}",
            headers={"X-Api-Key": KEY},
            timeout=5,
        )
