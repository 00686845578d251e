"""JSON over HTTP for the resource layer: the socket side of CloudStack's direct-connect protocol.

``POST /api/HypervResource/<command class>`` with the command object as JSON answers
``[{"<answer class>": {...}}]``; which URL gets which body and answer is :mod:`ovm3.cloudstack.protocol`.
``GET /api/HypervResource`` says the service runs. Every request passes the server's
:class:`ovm3.cloudstack.auth.AuthPolicy` (API key, pinned client certificate, address range) unless the
server was built without one on purpose. Malformed JSON, unknown commands, a missing key or an oversized body
get a 4xx with a JSON ``{"error": ...}``. A ping or startup the host cannot serve gets a 503 with a JSON
``{"error": ...}`` naming host, step and agent fault; any other unexpected error a 500 in the same form:
never a traceback or a dropped connection. ``Transfer-Encoding`` (chunked bodies) is refused with 411:
send ``Content-Length``.

Connection limits (:mod:`ovm3.server_limits`): the TLS handshake runs in each connection's worker
under a deadline, a request must arrive whole within its deadline, and connections beyond the limit
are refused at once, so no single peer (idle, slow or silent) holds the server.
"""

import json
import logging
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ovm3 import server_limits
from ovm3.cloudstack import protocol
from ovm3.cloudstack.auth import AuthPolicy
from ovm3.cloudstack.dispatch import describe_error
from ovm3.cloudstack.registry import HANDLERS

log = logging.getLogger(__name__)

PREFIX = protocol.PREFIX
MAX_BODY = 4 << 20


class ResourceServer(ThreadingHTTPServer):
    """A threaded HTTP(S) server bound to one :class:`ovm3.cloudstack.resource.HostResource`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, resource, api_key=None, ssl_context=None, auth=None,
                 max_connections=server_limits.MAX_CONNECTIONS):
        super().__init__(address, _Handler)
        self.resource = resource
        self.auth = auth if auth is not None else AuthPolicy(api_key=api_key, no_auth=not api_key)
        # The listening socket stays plain: a handshake inside accept() would let one silent peer stop
        # every other client. Each connection's worker does its own handshake, under a deadline.
        self.ssl_context = ssl_context
        self.slots = server_limits.ConnectionSlots(max_connections)
        self.handshake_timeout = server_limits.HANDSHAKE_TIMEOUT
        self.request_deadline = server_limits.REQUEST_DEADLINE
        self.idle_timeout = server_limits.IDLE_TIMEOUT
        self.scheme = "https" if ssl_context is not None else "http"

    def process_request(self, request, client_address):
        if not self.slots.take():
            log.warning("%s: refused, %d connections already served", client_address[0], self.slots.limit)
            server_limits.refuse_busy(request, self.ssl_context is not None)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.give_back()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.give_back()

    def finish_request(self, request, client_address):
        if self.ssl_context is None:
            return super().finish_request(request, client_address)
        try:
            tls = server_limits.tls_handshake(request, self.ssl_context, self.handshake_timeout)
        except (ssl.SSLError, OSError) as e:
            log.info("%s: TLS handshake failed: %s", client_address[0], e)
            return None
        try:
            return super().finish_request(tls, client_address)
        finally:
            self.shutdown_request(tls)  # FIN before close, so a refused peer still reads its answer

    def handle_error(self, request, client_address):
        # socketserver prints a traceback to stderr. A client that hangs up mid-request (or mid-TLS) is
        # routine for a server: one log line. Anything else is logged with its traceback, never printed.
        exc = sys.exc_info()[1]
        peer = client_address[0] if client_address else "?"
        if isinstance(exc, (ConnectionError, TimeoutError, ssl.SSLError)):
            log.info("%s: connection ended before the answer: %s", peer, exc)
        else:
            log.error("%s: request failed outside any handler", peer, exc_info=True)

    @property
    def url(self):
        host, port = self.server_address[:2]
        return "%s://%s:%d%s" % (self.scheme, host, port, PREFIX)


class _Handler(server_limits.DeadlineHandlerMixin, BaseHTTPRequestHandler):
    server_version = "ovm3-resource"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # requests are logged without bodies (they may carry secrets)
        log.info("%s %s", self.address_string(), fmt % args)

    def _send(self, status, payload):
        data = json.dumps(payload, default=str).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status, message, **extra):
        body = {"error": message}
        body.update(extra)
        self._send(status, body)

    def _refusal(self):
        """Why the server's auth policy refuses this request (None when it may proceed)."""
        peer_cert = None
        if self.server.auth.client_cert_sha256:
            getpeercert = getattr(self.connection, "getpeercert", None)
            peer_cert = getpeercert(binary_form=True) if getpeercert else None
        return self.server.auth.check(self.headers, self.client_address[0], peer_cert)

    def _unexpected(self, e):
        step = getattr(e, "ovm3_step", None) or "serve"
        details = "host %s: %s %s failed at step %s: %s" % (
            self.server.resource.host, self.command, self.path, step, describe_error(e)
        )
        log.warning("%s", details)
        self.close_connection = True
        return self._error(500, details)

    def _guarded(self, serve):
        try:
            return serve()
        except server_limits.RequestDeadline:
            raise  # the connection is dropped, no answer
        except Exception as e:  # noqa: BLE001 - a JSON 500, never a dropped connection
            return self._unexpected(e)

    def do_GET(self):
        return self._guarded(self._get)

    def do_POST(self):
        return self._guarded(self._post)

    def _refuse(self, status, message):
        # Answered before the body is read: the connection closes with it, or its unread bytes would be
        # taken for the next request on this keep-alive connection (and a stranger's body is not read).
        self.close_connection = True
        return self._error(status, message)

    def _get(self):
        refusal = self._refusal()
        if refusal:
            return self._refuse(401, refusal)
        if self.path.rstrip("/") == PREFIX:
            return self._send(
                200,
                {"service": "ovm3 resource", "host": self.server.resource.host, "commands": sorted(HANDLERS)},
            )
        return self._error(404, "no such resource %s" % self.path)

    def _post(self):
        refusal = self._refusal()
        if refusal:
            return self._refuse(401, refusal)
        if not self.path.startswith(PREFIX + "/"):
            return self._refuse(404, "POST to %s/<command class>" % PREFIX)
        name = self.path[len(PREFIX) + 1 :].strip("/")
        if self.headers.get("Transfer-Encoding") is not None:
            return self._refuse(411, "Transfer-Encoding is not accepted: send the body with Content-Length")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return self._refuse(400, "bad Content-Length")
        if length < 0:
            return self._refuse(400, "bad Content-Length")
        if length > MAX_BODY:
            return self._refuse(413, "body larger than %d bytes" % MAX_BODY)
        raw = self.rfile.read(length) if length else b""
        status, payload = protocol.answer(
            self.server.resource, name, raw, setup_allowed=self.server.auth.authenticates_caller
        )
        return self._send(status, payload)
