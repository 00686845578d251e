"""The simulated agent's server, dispatch and table coverage, over real loopback sockets."""

import base64
import http.client
import socket
import time

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


def test_dispatch_to_another_host_is_in_that_hosts_call_log(tmp_path):
    with simulated_agents(count=2, root=tmp_path) as hs:
        h1, h2 = hs
        uri = "https://oracle:%s@%s:8899/api/3" % (h2.password, h2.ip)
        c = h1.client()
        assert c.call("dispatch", uri, "echo", ["via-1"]) == "via-1"
        nested = h2.calls.find("echo")
        assert len(nested) == 1 and nested[0].nested and nested[0].args == ["via-1"]
        assert nested[0].result == "via-1" and nested[0].host == h2.name
        outer = h1.calls.find("dispatch")[-1]
        assert not outer.nested and h2.password not in repr(outer.args)
        # The target's fault rules fire for dispatched calls too, and the fault reaches the caller.
        h2.faults.add(method="echo", fault="exceptions.Exception:target says no", count=1)
        with pytest.raises(errors.AgentFault) as ei:
            c.call("dispatch", uri, "echo", ["again"])
        assert "target says no" in ei.value.fault_string
        assert h2.calls.find("echo")[-1].injected == "fault"


def _echo_until_up(client, deadline_s=10.0):
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return client.call("echo", "up")
        except (errors.AgentUnreachable, errors.ProtocolError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


OWNERSHIP = {
    "manager_uuid": "d1a749d4295041fb99854f52ea4dea97",
    "manager_event_url": "http://localhost:10024/event",
    "manager_statistic_url": "http://localhost:10024/stats",
    "manager_certificate": "None",
    "signed_server_certificate": "None",
}


def test_33_agent_restarts_after_take_ownership(tmp_path):
    with simulated_agents(count=1, version="3.3", root=tmp_path, ownership_restart=0.5) as hs:
        h = hs[0]
        c = h.client(retries=0)
        assert c.call("take_ownership", OWNERSHIP) is None
        # The restart begins just after the reply went out: a fast client's next call could reach the old
        # listener first (the reply said Connection: close, so it reconnects). Wait for the restart to begin.
        deadline = time.monotonic() + 10.0
        while h.restarts == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        with pytest.raises(errors.AgentUnreachable):
            c.call("update_server_roles", "xen,utility")  # the agent is restarting
        assert _echo_until_up(c) == "up"
        assert h.restarts == 1 and h.state.manager_uuid == OWNERSHIP["manager_uuid"]
        assert c.call("update_server_roles", "xen,utility") is None


def test_32_agent_does_not_restart_after_take_ownership(tmp_path):
    with simulated_agents(count=1, version="3.2", root=tmp_path, ownership_restart=0.5) as hs:
        c = hs[0].client(retries=0)
        c.call("take_ownership", OWNERSHIP["manager_uuid"], "")
        assert c.call("echo", "still here") == "still here" and hs[0].restarts == 0
