"""The exporter's endpoint: ``/metrics`` (Prometheus text format), ``/`` (the fleet status page) and
``/status.json`` (what the page refreshes from).

Every request passes the server's :class:`ovm3.cloudstack.auth.AuthPolicy` (bearer token, basic auth,
pinned client certificate, address range; the rules of ``ovm3 serve``) and the limits of
:mod:`ovm3.server_limits`. Only GET (and HEAD) are served; a request body is never read.
"""

import json
import logging
from http.server import BaseHTTPRequestHandler

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from ovm3 import server_limits
from ovm3.cloudstack.auth import request_refusal
from ovm3.monitor import statuspage

log = logging.getLogger(__name__)


class ExporterServer(server_limits.LimitedHTTPServer):
    """Serves one :class:`ovm3.monitor.collector.FleetCollector`."""

    log = log

    def __init__(self, address, collector, auth, ssl_context=None, max_connections=server_limits.MAX_CONNECTIONS,
                 status_page=True):
        super().__init__(address, _Handler, ssl_context=ssl_context, max_connections=max_connections)
        self.collector = collector
        self.auth = auth
        self.status_page = status_page
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)

    @property
    def url(self):
        host, port = self.server_address[:2]
        return "%s://%s:%d/metrics" % (self.scheme, host, port)


class _Handler(server_limits.DeadlineHandlerMixin, BaseHTTPRequestHandler):
    server_version = "ovm3-exporter"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # no headers logged: they carry the token
        log.info("%s %s", self.address_string(), fmt % args)

    def _send(self, status, content_type, data, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in extra:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _text(self, status, message, extra=()):
        self._send(status, "text/plain; charset=utf-8", (message + "\n").encode("utf-8"), extra)

    def _refusal(self):
        return request_refusal(self.server.auth, self)

    def do_HEAD(self):
        return self.do_GET()

    def do_GET(self):
        try:
            return self._get()
        except server_limits.RequestDeadline:
            raise
        except Exception:  # noqa: BLE001 - a 500, never a traceback to the peer
            log.error("%s %s failed", self.command, self.path, exc_info=True)
            self.close_connection = True
            return self._text(500, "internal error (see the exporter's log)")

    def _get(self):
        refusal = self._refusal()
        if refusal:
            self.close_connection = True
            extra = [("WWW-Authenticate", 'Basic realm="ovm3 exporter"')] if self.server.auth.basic_auth else []
            return self._text(401, refusal, extra)
        if self.headers.get("Content-Length") not in (None, "0") or self.headers.get("Transfer-Encoding"):
            self.close_connection = True  # a GET with a body: the body is not read
            return self._text(400, "GET takes no body")
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            return self._send(200, CONTENT_TYPE_LATEST, generate_latest(self.server.registry))
        if self.server.status_page and path == "/":
            return self._send(200, "text/html; charset=utf-8", statuspage.PAGE,
                              [("Content-Security-Policy", statuspage.CSP)])
        if self.server.status_page and path == "/status.json":
            results = self.server.collector.recent(statuspage.MAX_AGE)
            data = json.dumps(statuspage.status(results, self.server.collector.module_version), sort_keys=True)
            return self._send(200, "application/json", data.encode("utf-8"))
        return self._text(404, "no such page %s (try /metrics)" % path)

    def do_POST(self):
        self.close_connection = True
        return self._text(405, "read-only: GET /metrics")

    do_PUT = do_DELETE = do_PATCH = do_POST
