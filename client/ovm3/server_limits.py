"""Limits every listening socket of ovm3 applies (``ovm3 serve`` and the simulated agent of ``ovm3 sim``).

One peer must not stall a server: the TLS handshake runs in the connection's own worker under
``HANDSHAKE_TIMEOUT``; a request (request line, headers and body together) must arrive within
``REQUEST_DEADLINE`` of its first byte, however slowly it drips; a keep-alive connection may idle
``IDLE_TIMEOUT`` between requests; and at most ``max_connections`` connections are served at once,
any beyond that are closed at once (HTTP gets a 503 first).
"""

import errno
import io
import logging
import socket
import ssl
import sys
import threading
import time
from http.server import ThreadingHTTPServer

from ovm3 import errors

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 10.0
REQUEST_DEADLINE = 30.0
IDLE_TIMEOUT = 120.0
#: How long one send may block on a peer that does not read.
WRITE_TIMEOUT = 60.0
MAX_CONNECTIONS = 64

_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 25\r\n"
         b"Connection: close\r\n\r\ntoo many connections; retry\n")


def listen_error(exc, host, port, option="--port"):
    """The :class:`ovm3.errors.ConfigError` for a listening socket that could not be opened."""
    where = "%s:%s" % (host, port)
    if exc.errno == errno.EADDRINUSE:
        return errors.ConfigError("cannot listen on %s: the port is already in use" % where,
                                  hint="stop what listens there or choose another %s" % option)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return errors.ConfigError("cannot listen on %s: permission denied" % where,
                                  hint="ports below 1024 need root; choose another %s" % option)
    if exc.errno == errno.EADDRNOTAVAIL:
        return errors.ConfigError("cannot listen on %s: no such local address" % where,
                                  hint="give an address of this machine")
    return errors.ConfigError("cannot listen on %s: %s" % (where, exc.strerror or exc))


class RequestDeadline(socket.timeout):
    """The peer did not deliver a whole request in time (or stayed idle too long); it is dropped."""


class ConnectionSlots:
    """A counter of connections being served; ``take`` never waits."""

    def __init__(self, limit=MAX_CONNECTIONS):
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()

    def take(self):
        with self._lock:
            if self._used >= self.limit:
                return False
            self._used += 1
            return True

    def give_back(self):
        with self._lock:
            self._used -= 1

    @property
    def used(self):
        return self._used


def refuse_busy(sock, tls):
    """Close ``sock`` at once; a plain HTTP peer first gets a 503 (if it fits in one non-blocking send)."""
    try:
        if not tls:
            sock.setblocking(False)
            sock.send(_BUSY)
    except OSError:
        pass
    sock.close()


def tls_handshake(sock, ssl_context, timeout=None):
    """The server side of the TLS handshake on ``sock``, bounded by ``timeout``; returns the TLS socket."""
    sock.settimeout(HANDSHAKE_TIMEOUT if timeout is None else timeout)
    return ssl_context.wrap_socket(sock, server_side=True)


class _DeadlineReader(io.RawIOBase):
    """Raw reads from a socket, each bounded by what is left of the current request's deadline.

    The clock starts with the first byte of a request (before that the connection may idle
    ``idle_timeout``); :meth:`next_request` re-arms it. Each ``recv`` gets only the time left, so a
    peer dripping a byte a second cannot keep a request open past the deadline.
    """

    def __init__(self, sock, deadline=REQUEST_DEADLINE, idle_timeout=IDLE_TIMEOUT, write_timeout=WRITE_TIMEOUT):
        super().__init__()
        self._sock = sock
        self._deadline = deadline
        self._idle = idle_timeout
        self._write_timeout = write_timeout
        self._ends = None

    def next_request(self):
        self._ends = None

    def readable(self):
        return True

    def readinto(self, buf):
        if self._ends is None:
            wait, what = self._idle, "idle for %ss" % self._idle
        else:
            wait = self._ends - time.monotonic()
            what = "request not complete within %ss" % self._deadline
            if wait <= 0:
                raise RequestDeadline(what)
        self._sock.settimeout(wait)
        try:
            n = self._sock.recv_into(buf)
        except socket.timeout:
            raise RequestDeadline(what) from None
        finally:
            try:
                self._sock.settimeout(self._write_timeout)
            except OSError:
                pass
        if n and self._ends is None:
            self._ends = time.monotonic() + self._deadline
        return n


class DeadlineHandlerMixin:
    """For a ``BaseHTTPRequestHandler``: reads go through a :class:`_DeadlineReader`, one deadline per
    request. Put it before the handler class in the bases. A late request raises ``RequestDeadline``
    (a ``socket.timeout``), which ``handle_one_request`` turns into a dropped connection."""

    request_deadline = REQUEST_DEADLINE
    idle_timeout = IDLE_TIMEOUT

    def setup(self):
        super().setup()
        # A server may carry its own limits (tests shorten them); else the class defaults.
        deadline = getattr(self.server, "request_deadline", self.request_deadline)
        idle = getattr(self.server, "idle_timeout", self.idle_timeout)
        self._deadline_reader = _DeadlineReader(self.connection, deadline, idle)
        self.rfile = io.BufferedReader(self._deadline_reader)
        self.connection.settimeout(WRITE_TIMEOUT)

    def handle_one_request(self):
        self._deadline_reader.next_request()
        return super().handle_one_request()


class LimitedHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP(S) server with these limits: at most ``max_connections`` served at once (the rest
    refused at once), the TLS handshake in each connection's own worker under ``handshake_timeout``, and
    (with a :class:`DeadlineHandlerMixin` handler) the request deadline and idle timeout. ``ovm3 serve``
    and ``ovm3 exporter`` listen with it."""

    daemon_threads = True
    allow_reuse_address = True
    #: Where connection-level events are logged (a subclass names its own logger).
    log = log

    def __init__(self, address, handler, ssl_context=None, max_connections=MAX_CONNECTIONS):
        super().__init__(address, handler)
        # The listening socket stays plain: a handshake inside accept() would let one silent peer stop
        # every other client. Each connection's worker does its own handshake, under a deadline.
        self.ssl_context = ssl_context
        self.slots = ConnectionSlots(max_connections)
        self.handshake_timeout = HANDSHAKE_TIMEOUT
        self.request_deadline = REQUEST_DEADLINE
        self.idle_timeout = IDLE_TIMEOUT
        self.scheme = "https" if ssl_context is not None else "http"

    def process_request(self, request, client_address):
        if not self.slots.take():
            self.log.warning("%s: refused, %d connections already served", client_address[0], self.slots.limit)
            refuse_busy(request, self.ssl_context is not None)
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
            tls = tls_handshake(request, self.ssl_context, self.handshake_timeout)
        except (ssl.SSLError, OSError) as e:
            self.log.info("%s: TLS handshake failed: %s", client_address[0], e)
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
            self.log.info("%s: connection ended before the answer: %s", peer, exc)
        else:
            self.log.error("%s: request failed outside any handler", peer, exc_info=True)
