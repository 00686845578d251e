"""Servers one peer cannot stall (``ovm3 serve`` and the simulated agent), over real sockets.

An idle TLS client must not stop another client being served; a request dripped byte by byte is
dropped at its deadline; connections beyond the limit are refused at once; chunked bodies are refused.
"""

import socket
import threading
import time

import pytest
import requests

from ovm3.cli.cmd_serve import build_server
from ovm3.sim import server as sim_server
from ovm3.sim import simulated_agents
from tests.cloudstack_support import resources

KEY = "test-api-key-0123"


def _serve(r, tls_material=None, **limits):
    if tls_material is not None:
        server = build_server(r, "127.0.0.1", 0, tls_material.cert_file, tls_material.key_file, api_key=KEY)
    else:
        server = build_server(r, "127.0.0.1", 0, insecure_http=True, api_key=KEY)
    for name, value in limits.items():
        setattr(server, name, value)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    return server


def _stop(server):
    server.shutdown()
    server.server_close()


def _health(server):
    return requests.post(server.url + "/com.cloud.agent.api.CheckHealthCommand", data="{}",
                         headers={"X-Api-Key": KEY}, verify=False, timeout=8)


def _port(server):
    return server.server_address[1]


def _drip(port, data, pause, budget):
    """Send ``data`` one byte per ``pause`` s; return (seconds until the server hung up, bytes sent)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=budget)
    started = time.monotonic()
    sent = 0
    try:
        for b in data:
            if time.monotonic() - started > budget:
                break
            s.sendall(bytes([b]))
            sent += 1
            time.sleep(pause)
        s.settimeout(max(0.1, budget - (time.monotonic() - started)))
        try:
            while s.recv(4096):
                pass
        except (socket.timeout, OSError):
            pass
    except OSError:
        pass
    finally:
        s.close()
    return time.monotonic() - started, sent


SLOW_REQUEST = (b"POST /api/HypervResource/com.cloud.agent.api.CheckHealthCommand HTTP/1.1\r\n"
                b"Host: x\r\nX-Api-Key: " + KEY.encode() + b"\r\nX-Padding: " + b"a" * 400 + b"\r\n"
                b"Content-Length: 2\r\n\r\n{}")


def test_an_idle_tls_client_does_not_stop_the_serve_server(tmp_path):
    from ovm3.sim.tls import make_certificate

    material = make_certificate(str(tmp_path / "tls"), "127.0.0.1")
    with resources(tmp_path / "sim") as (hosts, (r,)):
        server = _serve(r, material)
        idle = socket.create_connection(("127.0.0.1", _port(server)))  # TCP up, never a ClientHello
        try:
            time.sleep(0.2)
            assert _health(server).status_code == 200
        finally:
            idle.close()
            _stop(server)


def test_serve_drops_a_silent_tls_handshake_at_its_deadline(tmp_path):
    from ovm3.sim.tls import make_certificate

    material = make_certificate(str(tmp_path / "tls"), "127.0.0.1")
    with resources(tmp_path / "sim") as (hosts, (r,)):
        server = _serve(r, material, handshake_timeout=0.5)
        try:
            s = socket.create_connection(("127.0.0.1", _port(server)), timeout=10)
            started = time.monotonic()
            assert s.recv(10) == b""  # the server hung up on us
            assert time.monotonic() - started < 8
            s.close()
        finally:
            _stop(server)


def test_serve_drops_a_request_dripped_past_its_deadline(tmp_path):
    with resources(tmp_path / "sim") as (hosts, (r,)):
        server = _serve(r, request_deadline=1.0)
        try:
            took, sent = _drip(_port(server), SLOW_REQUEST, 0.05, budget=15)
            assert sent < len(SLOW_REQUEST)  # cut off before the whole request went out
            assert took < 10
            assert hosts[0].calls.methods() == []
            # and the server still answers others
            assert _health(server).status_code == 200
        finally:
            _stop(server)


def test_serve_refuses_connections_beyond_its_limit_at_once(tmp_path):
    with resources(tmp_path / "sim") as (hosts, (r,)):
        server = _serve(r)
        server.slots.limit = 3
        held = [socket.create_connection(("127.0.0.1", _port(server))) for _ in range(3)]
        try:
            time.sleep(0.3)
            extra = socket.create_connection(("127.0.0.1", _port(server)), timeout=5)
            answer = extra.recv(4096)
            assert answer == b"" or answer.startswith(b"HTTP/1.1 503")
            extra.close()
        finally:
            for s in held:
                s.close()
        try:
            for _ in range(50):
                if server.slots.used == 0:
                    break
                time.sleep(0.1)
            assert _health(server).status_code == 200
        finally:
            _stop(server)


def test_serve_refuses_a_chunked_body_instead_of_running_with_an_empty_one(tmp_path):
    with resources(tmp_path / "sim") as (hosts, (r,)):
        server = _serve(r)
        try:
            def chunks():
                yield b'{"x": '
                yield b"1}"

            got = requests.post(server.url + "/com.cloud.agent.api.CheckHealthCommand", data=chunks(),
                                headers={"X-Api-Key": KEY}, timeout=8)
            assert got.status_code == 411
            assert "Content-Length" in got.json()["error"]
            assert hosts[0].calls.methods() == []
        finally:
            _stop(server)


def test_the_simulated_agent_drops_a_dripped_request_and_bounds_connections(tmp_path, monkeypatch):
    monkeypatch.setattr(sim_server._Handler, "request_deadline", 1.0)
    with simulated_agents(count=1, version="3.3", tls=False, root=tmp_path) as hosts:
        h = hosts[0]
        request = (b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 400 + b"\r\n"
                   b"Content-Length: 10\r\n\r\n0123456789")
        took, sent = _drip(h.port, request, 0.05, budget=15)
        assert sent < len(request) and took < 10
        assert h.client().call("echo", "still here") == "still here"


def test_the_simulated_agent_refuses_chunked_bodies(tmp_path):
    with simulated_agents(count=1, version="3.3", tls=False, root=tmp_path) as hosts:
        h = hosts[0]
        got = requests.post(h.url + "/RPC2", data=iter([b"<methodCall>", b"</methodCall>"]), timeout=8)
        assert got.status_code == 411


@pytest.mark.parametrize("tls", [True])
def test_an_idle_tls_client_does_not_stop_the_simulated_agent(tmp_path, tls):
    with simulated_agents(count=1, version="3.3", tls=tls, root=tmp_path) as hosts:
        h = hosts[0]
        idle = socket.create_connection(("127.0.0.1", h.port))
        try:
            assert h.client().call("echo", "tls") == "tls"
        finally:
            idle.close()
