"""The transport: per-class timeouts handed to requests, HTTP error mapping, size cap, TLS pinning
against a real local HTTPS server with a certificate generated here."""

import ssl
import threading
import tracemalloc
import warnings

import pytest
import requests
import responses

from ovm3 import errors
from ovm3.client import AgentClient
from ovm3.pinstore import PinStore, fetch_fingerprint, legacy_context, pretty_fingerprint
from ovm3.transport import Timeouts, Transport, parse_agent_url
from ovm3.wire import dumps_request, dumps_response
from tests.conftest import local_http_server

URL = "http://agent.test:8899/"
ECHO = dumps_request("echo", ["put"])


@pytest.fixture
def rs():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.mark.parametrize("timeout_class,expected", [
    ("short", (10.0, 60.0)), ("medium", (10.0, 600.0)), ("long", (10.0, 3600.0))])
def test_default_timeouts_per_class_are_handed_to_requests(rs, timeout_class, expected):
    rs.add(responses.POST, URL, body=dumps_response("put"))
    Transport("http://agent.test:8899", password="pw").post(ECHO, timeout_class)
    assert rs.calls[0].request.req_kwargs["timeout"] == expected


def test_timeouts_are_configurable(rs):
    rs.add(responses.POST, URL, body=dumps_response("put"))
    t = Transport("http://agent.test:8899", password="pw", timeouts=Timeouts(connect=3, short=7, long=99))
    t.post(ECHO, "short")
    t.post(ECHO, "long")
    assert [c.request.req_kwargs["timeout"] for c in rs.calls] == [(3, 7), (3, 99)]
    with pytest.raises(errors.UsageError):
        t.post(ECHO, "forever")


@pytest.mark.parametrize("wire,args,expected", [
    ("echo", ("put",), (10.0, 60.0)), ("create_vm", ("r", "v", {}), (10.0, 600.0)),
    ("copy_file", ("/a", "/b"), (10.0, 3600.0)), ("migrate_vm", ("r", "v", "ovm-2"), (10.0, 3600.0)),
])
def test_client_uses_the_table_timeout_class(rs, wire, args, expected):
    rs.add(responses.POST, URL, body=dumps_response(None))
    AgentClient("http://agent.test:8899", password="pw", agent_version="3.3").call(wire, *args)
    assert rs.calls[0].request.req_kwargs["timeout"] == expected


def test_basic_auth_and_headers(rs):
    rs.add(responses.POST, URL, body=dumps_response("put"))
    Transport("http://agent.test:8899", user="oracle", password="pw").post(ECHO)
    req = rs.calls[0].request
    assert req.headers["Authorization"] == "Basic b3JhY2xlOnB3" and req.headers["Content-Type"] == "text/xml"
    assert req.body == ECHO


def test_http_401_is_an_authentication_error(rs):
    rs.add(responses.POST, URL, status=401, body=b"Unauthorized")
    with pytest.raises(errors.AuthenticationError) as info:
        Transport("http://agent.test:8899", password="bad").post(ECHO, method="echo")
    assert "agent.test:8899" in str(info.value) and "echo" in str(info.value)


def test_html_error_page_is_a_protocol_error(rs):
    rs.add(responses.POST, URL, status=502, body=b"<html><title>502 Bad Gateway</title></html>")
    with pytest.raises(errors.ProtocolError) as info:
        Transport("http://agent.test:8899", password="pw").post(ECHO)
    assert "HTTP 502" in str(info.value) and "Bad Gateway" in str(info.value)


def test_reply_size_cap(rs):
    rs.add(responses.POST, URL, body=b"x" * 2048)
    with pytest.raises(errors.ProtocolError) as info:
        Transport("http://agent.test:8899", password="pw", max_reply_bytes=1024).post(ECHO)
    assert "cap" in str(info.value)


@pytest.mark.parametrize("exc,error_cls", [
    (requests.exceptions.ConnectionError("refused"), errors.AgentUnreachable),
    (requests.exceptions.ConnectTimeout("slow"), errors.AgentTimeout),
    (requests.exceptions.ReadTimeout("slow"), errors.AgentTimeout),
    (requests.exceptions.SSLError("certificate verify failed"), errors.TLSError),
])
def test_requests_errors_become_typed_errors(rs, exc, error_cls):
    rs.add(responses.POST, URL, body=exc)
    with pytest.raises(error_cls):
        Transport("http://agent.test:8899", password="pw").post(ECHO)


def test_urls():
    assert parse_agent_url("ovm-1") == ("https", "ovm-1", 8899, "https://ovm-1:8899/")
    assert parse_agent_url("http://10.0.0.1:9000/api/3")[3] == "http://10.0.0.1:9000/api/3"
    for bad in ("ftp://x", "https://oracle:pw@ovm-1", "https://:8899", "https://h:99999"):
        with pytest.raises(errors.UsageError) as info:
            parse_agent_url(bad)
        assert "pw" not in str(info.value)


def test_password_not_in_repr():
    t = Transport("http://agent.test:8899", password="s3cret-pw")
    assert "s3cret" not in repr(t)
    assert "s3cret" not in repr(AgentClient("http://agent.test:8899", password="s3cret-pw"))


# ---- TLS against a real local HTTPS server ------------------------------------------------------------

@pytest.fixture
def empty_store(tmp_path):
    return PinStore(str(tmp_path / "known_agents"))


def test_fetch_fingerprint_reads_the_certificate(https_agent):
    url, fingerprint, _ = https_agent
    _, host, port, _ = parse_agent_url(url)
    assert fetch_fingerprint(host, port) == fingerprint


def test_right_pin_is_accepted(https_agent, empty_store):
    url, fingerprint, _ = https_agent
    with AgentClient(url, password="pw", fingerprint=pretty_fingerprint(fingerprint), pin_store=empty_store,
                     agent_version="3.3") as agent:
        assert agent.call("echo", "put") == "put"


def test_pinned_handshakes_share_one_context_without_the_system_ca_bundle(https_agent, empty_store):
    # The fingerprint authenticates a pinned agent; loading the system CAs into a fresh context for every
    # handshake (what urllib3 does without a context of ours) cost ~30 ms a connection for nothing.
    url, fingerprint, _ = https_agent
    with AgentClient(url, password="pw", fingerprint=fingerprint, pin_store=empty_store, agent_version="3.3",
                     pool_size=1) as agent:
        assert agent.call("echo", "put") == "put"
        ctx = agent.transport._adapter._ssl_context
        assert ctx is not None and ctx.cert_store_stats()["x509_ca"] == 0
        assert ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname
        conn = agent.transport._adapter._pool.pool.queue[-1]
        assert conn.sock.context is ctx
        conn.close()  # a new handshake, with the same context and the pin still checked
        assert agent.call("echo", "put") == "put"
    bad = AgentClient(url, password="pw", fingerprint="ab" * 32, pin_store=empty_store, agent_version="3.3",
                      retries=0)
    with pytest.raises(errors.FingerprintMismatch):
        bad.call("echo", "put")


def test_pin_from_the_store_is_used(https_agent, empty_store):
    url, fingerprint, _ = https_agent
    _, host, port, _ = parse_agent_url(url)
    empty_store.add(host, port, fingerprint)
    with AgentClient(url, password="pw", pin_store=empty_store, agent_version="3.3") as agent:
        assert agent.call("echo", "put") == "put"


def test_wrong_pin_is_refused(https_agent, empty_store):
    url, _, _ = https_agent
    agent = AgentClient(url, password="pw", fingerprint="ab" * 32, pin_store=empty_store, agent_version="3.3",
                        retries=0)
    with pytest.raises(errors.FingerprintMismatch) as info:
        agent.call("echo", "put")
    assert "127.0.0.1" in str(info.value) and "echo" in str(info.value)


def test_unpinned_self_signed_certificate_is_refused(https_agent, empty_store):
    url, _, _ = https_agent
    agent = AgentClient(url, password="pw", pin_store=empty_store, agent_version="3.3", retries=3)
    with pytest.raises(errors.TLSError) as info:
        agent.call("echo", "put")
    assert not isinstance(info.value, errors.FingerprintMismatch)
    assert "ovm3 host fingerprint --save" in str(info.value)


def test_ca_bundle_verifies(https_agent, empty_store):
    url, _, cert_path = https_agent
    with AgentClient(url, password="pw", ca_bundle=str(cert_path), pin_store=empty_store,
                     agent_version="3.3") as agent:
        assert agent.call("echo", "put") == "put"


def test_legacy_tls_without_a_pin_is_refused(empty_store):
    with pytest.raises(errors.UsageError) as info:
        AgentClient("https://127.0.0.1:1", password="pw", legacy_tls=True, pin_store=empty_store)
    assert "--legacy-tls" in str(info.value)


def test_legacy_tls_with_a_pin_still_checks_the_pin(https_agent, empty_store):
    url, fingerprint, _ = https_agent
    with AgentClient(url, password="pw", fingerprint=fingerprint, legacy_tls=True, pin_store=empty_store,
                     agent_version="3.3") as agent:
        assert agent.call("echo", "put") == "put"
    bad = AgentClient(url, password="pw", fingerprint="cd" * 32, legacy_tls=True, pin_store=empty_store,
                      agent_version="3.3")
    with pytest.raises(errors.FingerprintMismatch):
        bad.call("echo", "put")


def test_legacy_context_allows_tls1_without_a_deprecation_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ctx = legacy_context()
        warnings.warn("ssl.TLSVersion.TLSv1 is deprecated elsewhere", DeprecationWarning, stacklevel=1)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1
    # only our own deliberate warning is silenced, and only inside legacy_context
    assert [str(w.message) for w in caught] == ["ssl.TLSVersion.TLSv1 is deprecated elsewhere"]


# ---- size cap on a chunked reply (no Content-Length) from a real local server ----------------------

class _ChunkedAgent:
    """An HTTP/1.1 server answering every POST with a chunked body of ``total`` bytes (or ``body``)."""

    def __init__(self, total=0, body=None, chunk=64 * 1024):
        self.sent = 0
        self.finished = False
        self.hung_up = threading.Event()
        self.pieces = [body] if body is not None else [b"<" * chunk] * (total // chunk)
        self.server, self.thread = local_http_server(self._answer)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]

    def _answer(self, handler):
        handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
        handler.send_response(200)
        handler.send_header("Content-Type", "text/xml")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        try:
            for piece in self.pieces:
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.sent += len(piece)
            handler.wfile.write(b"0\r\n\r\n")
            self.finished = True
        except OSError:  # the client hung up: what the cap should make it do
            self.hung_up.set()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_chunked_reply_within_the_cap_is_read_whole():
    with _ChunkedAgent(body=dumps_response("put")) as server:
        t = Transport(server.url, password="pw", max_reply_bytes=1024)
        assert t.post(ECHO) == dumps_response("put")


def test_chunked_reply_past_the_cap_is_refused_with_bounded_memory():
    cap, total = 1024 * 1024, 64 * 1024 * 1024
    with _ChunkedAgent(total=total) as server:
        t = Transport(server.url, password="pw", max_reply_bytes=cap)
        tracemalloc.start()
        try:
            with pytest.raises(errors.ProtocolError) as info:
                t.post(ECHO, method="list_vms")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        t.close()
    assert "exceeds the %d byte cap" % cap in str(info.value) and "list_vms" in str(info.value)
    # the client kept at most about the cap plus one read buffer, not the 64 MiB on offer
    assert peak < 4 * cap, peak
    # and it closed the connection instead of draining it: the server's next writes failed
    assert server.hung_up.wait(10) and not server.finished and server.sent < total


def test_the_adapter_keeps_one_pool_through_the_requests_hook_it_overrides():
    # transport.py caches its pool in get_connection_with_tls_context (requests 2.32.2+); an older
    # requests never calls that hook and would silently set the pool up on every call. make test runs
    # this file on the lowest requests pyproject.toml allows (the 3.9 venv).
    with _ChunkedAgent(body=dumps_response("put")) as server:
        t = Transport(server.url, password="pw")
        assert t.post(ECHO) == dumps_response("put")
        pool = t._adapter._pool
        assert pool is not None
        assert t.post(ECHO) == dumps_response("put")
        assert t._adapter._pool is pool


def test_headers_and_body_leave_in_one_send_and_keep_alive_still_works():
    # urllib3 sends a request's headers and body apart; the transport's connections send them together.
    class Recorder:
        def __init__(self, sock):
            self._sock, self.sent = sock, []

        def sendall(self, data):
            self.sent.append(bytes(data))
            return self._sock.sendall(data)

        def __getattr__(self, name):
            return getattr(self._sock, name)

    with _ChunkedAgent(body=dumps_response("put")) as server:
        t = Transport(server.url, password="pw")
        assert t.post(ECHO) == dumps_response("put")
        conn = t._adapter._pool.pool.queue[-1]
        conn.sock = recorder = Recorder(conn.sock)
        assert t.post(ECHO) == dumps_response("put")
        assert len(recorder.sent) == 1, recorder.sent
        assert recorder.sent[0].startswith(b"POST ") and recorder.sent[0].endswith(b"\r\n\r\n" + ECHO)
        t.close()
