"""The HTTP side: one acceptor thread for every listening socket, one thread per connection.

HTTP/1.1 keep-alive, Basic auth, POST on ``/``, ``/api/3``, ``/api/3/`` and ``/RPC2``; each reply goes
out in one ``sendall`` (headers and body together) on a TCP_NODELAY socket, so no call waits for a
delayed ACK. ``/_sim/*`` is the admin endpoint (a per-host token in ``X-Sim-Token``).
Each simulated host applies :mod:`ovm3.server_limits` (handshake and request deadlines, a bounded
number of connections) like a server that must not be stalled by one peer.
"""

import base64
import hmac
import json
import logging
import selectors
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler

from ovm3 import server_limits

log = logging.getLogger(__name__)

RPC_PATHS = ("/", "/api/3", "/api/3/", "/RPC2")
MAX_REQUEST_BYTES = 64 * 1024 * 1024
IDLE_TIMEOUT = server_limits.IDLE_TIMEOUT
SERVER_HEADER = "ovs-agent simulated (ovm3)"


class _Handler(server_limits.DeadlineHandlerMixin, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = SERVER_HEADER
    sys_version = ""
    timeout = IDLE_TIMEOUT

    def setup(self):
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def log_message(self, fmt, *args):  # noqa: D401 - silence the stock stderr log
        log.debug("%s %s", self.app.name, fmt % args)

    @property
    def app(self):
        return self.server.app

    def _send(self, status, body, ctype="text/xml", extra=(), drop=False):
        head = [
            "HTTP/1.1 %d %s" % (status, self.responses.get(status, ("",))[0]),
            "Server: %s" % SERVER_HEADER,
            "Content-Type: %s" % ctype,
            "Content-Length: %d" % len(body),
        ]
        head.extend(extra)
        if self.close_connection:
            head.append("Connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        if drop:
            data = data[: len(data) - max(1, len(body) // 2)]
            self.wfile.write(data)
            self.close_connection = True
            try:
                self.request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.wfile.write(data)

    def _read_body(self):
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit() or self.headers.get("Transfer-Encoding") is not None:
            self.close_connection = True
            self._send(411, b"Content-Length required\n", "text/plain")
            return None
        if int(length) > MAX_REQUEST_BYTES:
            self.close_connection = True
            self._send(413, b"request too large\n", "text/plain")
            return None
        return self.rfile.read(int(length))

    def _authorised(self):
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        state = self.app.state
        return hmac.compare_digest(user.encode(), state.agent_user.encode()) and hmac.compare_digest(
            password.encode(), (state.password or "").encode()
        )

    def do_POST(self):  # noqa: N802 - http.server naming
        path = self.path.split("?", 1)[0]
        if path.startswith("/_sim/"):
            return self._admin(path)
        body = self._read_body()
        if body is None:
            return None
        if path not in RPC_PATHS:
            return self._send(404, b"No such page\n", "text/plain")
        if not self._authorised():
            return self._send(
                401, b"Authorization required\n", "text/plain", ('WWW-Authenticate: Basic realm="ovs-agent"',)
            )
        outcome = self.app.dispatcher.handle_body(body)
        if getattr(outcome, "after", None) is not None:
            self.close_connection = True  # the reply says "Connection: close"; then the action runs
        self._send(outcome.status, outcome.body, drop=outcome.drop)
        if getattr(outcome, "after", None) is not None:
            self.wfile.flush()
            outcome.after()
        return None

    def do_GET(self):  # noqa: N802
        path = self.path.split("?", 1)[0]
        if path.startswith("/_sim/"):
            return self._admin(path)
        return self._send(501, b"Unsupported method ('GET')\n", "text/plain")

    def _admin(self, path):
        body = self._read_body() if self.command == "POST" else b""
        if body is None:
            return None
        token = self.headers.get("X-Sim-Token", "")
        if not hmac.compare_digest(token.encode(), self.app.admin_token.encode()):
            return self._send(403, b"bad or missing X-Sim-Token\n", "text/plain")
        try:
            status, result = self.app.admin(
                self.command, path, json.loads(body.decode("utf-8")) if body else None
            )
        except (ValueError, TypeError) as e:
            status, result = 400, {"error": str(e)}
        return self._send(status, json.dumps(result, default=str).encode("utf-8"), "application/json")


class _ServerShim:
    """What BaseHTTPRequestHandler wants as ``server``: the app (a SimHost) it serves."""

    def __init__(self, app):
        self.app = app


class AgentServer:
    """Listening sockets for any number of simulated hosts, served by one acceptor thread."""

    def __init__(self, bind="127.0.0.1"):
        self.bind = bind
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._listeners = {}  # socket -> (app, ssl context or None, connection slots)
        self._conns = set()
        self._stop = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._accept_loop, name="ovm3-sim-accept", daemon=True)
        self._thread.start()

    def listen(self, app, port=0, ssl_context=None, max_connections=server_limits.MAX_CONNECTIONS):
        """Start serving ``app`` on ``port`` (0: any free port); returns the bound port."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.bind, port))
        sock.listen(128)
        sock.setblocking(False)
        with self._lock:
            self._listeners[sock] = (app, ssl_context, server_limits.ConnectionSlots(max_connections))
            self._selector.register(sock, selectors.EVENT_READ, sock)
        self._wake()
        return sock.getsockname()[1]

    def unlisten(self, app):
        """Stop accepting for ``app`` and cut its open connections."""
        with self._lock:
            for sock, (a, _, _) in list(self._listeners.items()):
                if a is app:
                    self._selector.unregister(sock)
                    del self._listeners[sock]
                    sock.close()
            conns = [c for c, a in self._conns if a is app]
        for c in conns:
            _shutdown(c)
        self._wake()

    def _wake(self):
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _accept_loop(self):
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=1.0):
                if key.data is None:
                    try:
                        self._wake_r.recv(4096)
                    except OSError:
                        pass
                    continue
                lsock = key.data
                try:
                    conn, addr = lsock.accept()
                except (BlockingIOError, OSError):
                    continue
                with self._lock:
                    entry = self._listeners.get(lsock)
                if entry is None:
                    conn.close()
                    continue
                slots = entry[2]
                if not slots.take():
                    log.warning("%s: refused %s, %d connections already served", entry[0].name, addr, slots.limit)
                    server_limits.refuse_busy(conn, entry[1] is not None)
                    continue
                try:
                    threading.Thread(
                        target=self._serve_counted,
                        args=(conn, addr, entry[0], entry[1], slots),
                        name="ovm3-sim-conn",
                        daemon=True,
                    ).start()
                except RuntimeError:  # no thread to be had: refuse this one, keep accepting
                    slots.give_back()
                    _shutdown(conn)

    def _serve_counted(self, conn, addr, app, ctx, slots):
        try:
            self._serve(conn, addr, app, ctx)
        finally:
            slots.give_back()

    def _serve(self, conn, addr, app, ctx):
        conn.setblocking(True)
        try:
            if ctx is not None:
                conn = server_limits.tls_handshake(conn, ctx)
        except (ssl.SSLError, OSError) as e:
            log.debug("%s: TLS handshake from %s failed: %s", app.name, addr, e)
            _shutdown(conn)
            return
        item = (conn, app)
        with self._lock:
            self._conns.add(item)
        try:
            _Handler(conn, addr, _ServerShim(app))
        except (OSError, ssl.SSLError) as e:
            log.debug("%s: connection from %s ended: %s", app.name, addr, e)
        finally:
            with self._lock:
                self._conns.discard(item)
            _shutdown(conn)

    def close(self):
        self._stop.set()
        self._wake()
        with self._lock:
            listeners = list(self._listeners)
            self._listeners.clear()
            conns = [c for c, _ in self._conns]
        for s in listeners:
            try:
                self._selector.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()
        for c in conns:
            _shutdown(c)
        self._thread.join(timeout=5)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()


def _shutdown(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
