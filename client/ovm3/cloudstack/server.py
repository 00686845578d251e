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
from http.server import BaseHTTPRequestHandler

from ovm3 import server_limits
from ovm3.cloudstack import protocol
from ovm3.cloudstack.auth import AuthPolicy, request_refusal
from ovm3.cloudstack.dispatch import describe_error
from ovm3.cloudstack.registry import HANDLERS

log = logging.getLogger(__name__)

PREFIX = protocol.PREFIX
MAX_BODY = 4 << 20


class ResourceServer(server_limits.LimitedHTTPServer):
    """A threaded HTTP(S) server bound to one :class:`ovm3.cloudstack.resource.HostResource`."""

    log = log

    def __init__(self, address, resource, api_key=None, ssl_context=None, auth=None,
                 max_connections=server_limits.MAX_CONNECTIONS):
        super().__init__(address, _Handler, ssl_context=ssl_context, max_connections=max_connections)
        self.resource = resource
        self.auth = auth if auth is not None else AuthPolicy(api_key=api_key, no_auth=not api_key)

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
        return request_refusal(self.server.auth, self)

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
