"""Whole-call deadlines over real sockets: a server that drips its reply (status line, headers or body)
is cut off at the call's deadline, AgentTimeout names it, and ``--timeout N`` bounds the whole command."""

import logging
import socket
import threading
import time

import pytest

from ovm3 import errors
from ovm3.cli.main import main
from ovm3.client import AgentClient
from ovm3.transport import Timeouts
from ovm3.wire import dumps_response

REPLY = dumps_response("pong")


class DrippingServer:
    """Accepts connections and sends ``head`` + body one byte per ``pause`` seconds, after reading the request."""

    def __init__(self, reply, pause=0.2, at_once=0, tls=None):
        self.tls = tls
        self.reply = reply
        self.pause = pause
        self.at_once = at_once
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return "%s://127.0.0.1:%d/" % ("https" if self.tls else "http", self.port)

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        try:
            conn.settimeout(30)
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            got = b""
            while b"</methodCall>" not in got:  # the whole request, or closing would reset the reply
                chunk = conn.recv(65536)
                if not chunk:
                    return
                got += chunk
            conn.sendall(self.reply[:self.at_once])
            for b in self.reply[self.at_once:]:
                if self._stop.is_set():
                    break
                conn.sendall(bytes([b]))
                time.sleep(self.pause)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self._stop.set()
        self.sock.close()


def _content_length_reply(body=REPLY):
    head = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n"
    return head % len(body) + body


def _chunked_reply(body=REPLY):
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")


@pytest.fixture
def drip():
    servers = []

    def make(reply, pause=0.2, at_once=0):
        s = DrippingServer(reply, pause, at_once)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


@pytest.mark.parametrize("what, reply", [
    ("status line and headers", _content_length_reply()),
    ("body", _content_length_reply(b" " * 4000 + REPLY)),
    ("chunked body", _chunked_reply(b" " * 4000 + REPLY)),
])
def test_a_dripped_reply_is_cut_off_at_the_whole_call_deadline(drip, what, reply):
    # the body cases get the headers at once and then a dripped body
    at_once = 0 if what == "status line and headers" else reply.index(b"\r\n\r\n") + 4
    server = drip(reply, at_once=at_once)
    client = AgentClient(server.url, password="pw", timeouts=Timeouts(short=1.5), retries=0)
    started = time.monotonic()
    with pytest.raises(errors.AgentTimeout) as info:
        client.call("echo", "pong")
    assert time.monotonic() - started < 10  # without a whole-call deadline: minutes (a byte per 0.2 s)
    assert "1.5s deadline of timeout class short" in str(info.value)


def test_a_reply_dripped_over_tls_is_cut_off_too(drip, tmp_path):
    import ssl

    from ovm3.sim.tls import make_certificate

    material = make_certificate(str(tmp_path / "tls"), "127.0.0.1")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(material.cert_file, material.key_file)
    server = drip(_content_length_reply(), at_once=20)
    server.tls = ctx
    client = AgentClient(server.url, password="pw", fingerprint=material.fingerprint,
                         timeouts=Timeouts(short=1.5), retries=0)
    started = time.monotonic()
    with pytest.raises(errors.AgentTimeout) as info:
        client.call("echo", "pong")
    assert time.monotonic() - started < 10 and "deadline" in str(info.value)


def test_a_fast_reply_is_not_disturbed_by_its_deadline(drip):
    server = drip(_content_length_reply(), pause=0)
    client = AgentClient(server.url, password="pw", timeouts=Timeouts(short=5), retries=0)
    for _ in range(3):
        assert client.call("echo", "pong") == "pong"


def test_the_command_timeout_bounds_retries_too(drip, monkeypatch, capsys):
    monkeypatch.setenv("OVM3_PASSWORD", "pw")
    server = drip(_content_length_reply())  # 0.2 s a byte: never done in time
    started = time.monotonic()
    rc = main(["--url", server.url, "--timeout", "short=1", "--timeout", "total=2.5", "call", "echo", "pong"])
    took = time.monotonic() - started
    assert rc == 1 and took < 10
    err = capsys.readouterr().err
    assert "Traceback" not in err and "ovm3: error:" in err and "deadline" in err
    assert server.accepted <= 2  # a third attempt would not fit in the command's 2.5 s


def test_each_retry_is_logged_with_verbose(monkeypatch, caplog):
    monkeypatch.setenv("OVM3_PASSWORD", "pw")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens: refused at once
    caplog.set_level(logging.INFO, logger="ovm3.client")
    rc = main(["-v", "--url", "http://127.0.0.1:%d/" % port, "call", "echo", "x"])
    assert rc == 1
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 2 and "retry 1 of 2" in retries[0] and "retry 2 of 2" in retries[1]


def test_an_earlier_deadline_armed_behind_a_later_one_still_fires():
    # The watchdog sleeps towards the earliest deadline; arming one earlier than that must wake it.
    from ovm3 import call_deadline

    slow = call_deadline.arm(3600.0)
    a, b = socket.socketpair()
    try:
        quick = call_deadline.arm(0.2)
        call_deadline.watch(a)
        a.settimeout(10.0)
        started = time.monotonic()
        assert a.recv(1) == b""  # shut down by the watchdog, not by the 10 s socket timeout
        assert quick.expired and time.monotonic() - started < 5.0
        call_deadline.disarm(quick)
        assert not slow.expired
    finally:
        call_deadline.disarm(slow)
        a.close()
        b.close()


def test_disarmed_deadlines_do_not_pile_up_behind_a_long_call():
    # A long call (a copy's hour) stays armed while thousands of short calls arm and disarm behind it.
    from ovm3 import call_deadline

    long_call = call_deadline.arm(3600.0)
    try:
        for _ in range(5000):
            call_deadline.disarm(call_deadline.arm(60.0))
        assert len(call_deadline._WATCHDOG._heap) < 200
        assert not long_call.expired
    finally:
        call_deadline.disarm(long_call)
