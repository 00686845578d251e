"""The simulated agent's server, dispatch and table coverage, over real loopback sockets."""

import base64
import http.client
import socket

import pytest

from ovm3 import errors
from ovm3.api import TABLE, VERSIONS
from ovm3.sim import simulated_agents
from ovm3.sim.handlers import NOT_SIMULATED, load
from ovm3.wire import dumps_request, loads_response


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    with simulated_agents(count=1, version="3.3", root=tmp_path_factory.mktemp("sim")) as hs:
        yield hs


def test_every_handler_is_a_table_method_and_oracle_methods_are_covered():
    handlers = load()
    assert set(handlers) <= {m.wire for m in TABLE}
    oracle = {m.wire for m in TABLE if not m.area.ours}
    assert oracle - set(handlers) == set(NOT_SIMULATED), "Oracle methods without a simulator handler"
    assert not any(m.area.ours for m in TABLE if m.wire in handlers)


def test_echo_and_call_log(hosts):
    h = hosts[0]
    h.calls.clear()
    with h.client() as c:
        assert c.call("echo", "put") == "put"
        assert c.call("get_api_version") == [3]
    assert h.calls.methods() == ["echo", "get_api_version"]
    rec = h.calls[0]
    assert rec.args == ["put"] and rec.result == "put" and rec.fault is None and rec.host == "ovm-1"


def _raw_post(h, body, path="/", password=None, conn=None):
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", h.port, timeout=10)
    token = base64.b64encode(("oracle:%s" % (h.password if password is None else password)).encode()).decode()
    conn.request("POST", path, body, {"Authorization": "Basic " + token, "Content-Type": "text/xml"})
    resp = conn.getresponse()
    data = resp.read()
    if own:
        conn.close()
    return resp, data


@pytest.mark.parametrize("path", ["/", "/api/3", "/api/3/", "/RPC2"])
def test_paths_and_content_type(hosts, path):
    resp, data = _raw_post(hosts[0], dumps_request("echo", ["x"]), path)
    assert resp.status == 200 and resp.getheader("Content-Type") == "text/xml"
    assert loads_response(data) == "x"


def test_wrong_password_is_401(hosts):
    resp, _ = _raw_post(hosts[0], dumps_request("echo", ["x"]), password="wrong")
    assert resp.status == 401
    with pytest.raises(errors.AuthenticationError):
        hosts[0].client(password="nope").call("echo", "x")


def test_keep_alive_and_one_write_per_reply(hosts):
    h = hosts[0]
    conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10)
    for i in range(3):
        _raw_post(h, dumps_request("echo", [str(i)]), conn=conn)
    sock = conn.sock
    assert sock is not None, "server closed a keep-alive connection"
    conn.close()
    # One write: read the raw socket once after the request; headers and body arrive together.
    s = socket.create_connection(("127.0.0.1", h.port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = dumps_request("echo", ["one-write"])
    token = base64.b64encode(("oracle:%s" % h.password).encode()).decode()
    s.sendall(
        (
            "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nContent-Length: %d\r\n\r\n"
            % (token, len(body))
        ).encode()
        + body
    )
    first = s.recv(65536)
    s.close()
    head, _, rest = first.partition(b"\r\n\r\n")
    assert b"200" in head.split(b"\r\n")[0]
    assert b"one-write" in rest and rest.rstrip().endswith(b"</methodResponse>")


def test_deliberately_unsimulated_oracle_method_faults(hosts):
    with pytest.raises(errors.NotSimulatedFault) as ei:
        hosts[0].client().call("ocfs2_get_meta_data", "/dev/sdb", "x")
    assert ei.value.fault_code == 1 and "ocfs2_get_meta_data is not simulated" in ei.value.fault_string


def test_unknown_method_and_bad_signature_fault_like_python_agent(hosts):
    h = hosts[0]
    resp, data = _raw_post(h, dumps_request("no_such_method", []))
    with pytest.raises(Exception) as ei:
        loads_response(data)
    assert 'method "no_such_method" is not supported' in ei.value.string
    _, data = _raw_post(h, dumps_request("echo", []))
    with pytest.raises(Exception) as ei:
        loads_response(data)
    assert ei.value.string.startswith("exceptions.TypeError:echo() takes exactly 2 arguments (1 given)")
    _, data = _raw_post(h, dumps_request("sleep", ["soon"]))
    with pytest.raises(Exception) as ei:
        loads_response(data)
    assert "exceptions.TypeError:" in ei.value.string and "secs" in ei.value.string


@pytest.mark.parametrize("version", VERSIONS)
def test_version_signatures(tmp_path, version):
    with simulated_agents(count=1, version=version, root=tmp_path) as hs:
        c = hs[0].client()
        if version == "3.2":
            c.call("take_ownership", "d1a749d4295041fb99854f52ea4dea97", "")
        else:
            c.call(
                "take_ownership",
                {
                    "manager_uuid": "d1a749d4295041fb99854f52ea4dea97",
                    "manager_event_url": "http://localhost:10024/event",
                    "manager_statistic_url": "http://localhost:10024/stats",
                    "manager_certificate": "None",
                    "signed_server_certificate": "None",
                },
            )
        assert hs[0].state.manager_uuid == "d1a749d4295041fb99854f52ea4dea97"
        reply = c.call("ovs_vlan_bridge", "start", "xenbr0.200", "bond0", 200)
        assert reply.startswith("start" if version == "3.2" else "Added")
        assert c.call("ovs_vlan_bridge", "stop", "xenbr0.200", "bond0", 200).startswith("stop")
        assert ("<OVM_Version>%s." % version) in c.call("discover_server")
