"""HTTP(S) transport to one agent: one requests session, TLS policy, timeouts, size cap, error mapping.

This is the one place where requests/urllib3/socket/ssl errors become ovm3 errors. It moves bytes; it
knows nothing about retries (ovm3.client) or the API table.

The request is prepared once and copied per call, then handed straight to the session's adapter:
``Session.post`` would redo proxy look-ups and settings merges on every call (about 0.6 ms each).
"""
import base64
import contextlib
import datetime
import logging
import re
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from requests.models import Response
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.util.ssl_ import create_urllib3_context

from ovm3 import call_deadline, errors
from ovm3.pinstore import PinStore, legacy_context, normalise_fingerprint
from ovm3.redact import mask_values, redact_text

log = logging.getLogger(__name__)

DEFAULT_PORT = 8899
DEFAULT_USER = "oracle"
#: Replies larger than this are refused (a 500-VM list_vms is about 2 MiB).
DEFAULT_MAX_REPLY_BYTES = 64 * 1024 * 1024
_READ_CHUNK = 256 * 1024


@dataclass
class Timeouts:
    """Seconds per call class. ``short``: echo/discover/list/get; ``medium``: VM and storage operations
    that finish in minutes; ``long``: copies, imports, migrations. Each is a whole-call deadline.
    ``total``: not a class; what a command allows all its calls together (None: no such bound)."""

    connect: float = 10.0
    short: float = 60.0
    medium: float = 600.0
    long: float = 3600.0
    total: float = None

    def for_class(self, timeout_class):
        """The ``(connect, read)`` pair handed to requests for one call class."""
        try:
            return (self.connect, getattr(self, timeout_class))
        except AttributeError:
            raise errors.UsageError("unknown timeout class %r" % timeout_class) from None


@dataclass
class TLSPolicy:
    """How to authenticate an https agent: a pinned fingerprint, a CA bundle, or the system CAs."""

    fingerprint: str = None
    ca_bundle: str = None
    legacy_tls: bool = False
    pin_store: PinStore = None


#: Request bodies up to this size go out in one send with the headers.
_COALESCE_MAX = 1024 * 1024


class _WatchedConnection:
    """urllib3 connection mixin: every socket a call uses is registered with its whole-call deadline,
    and a request's headers and (bytes) body leave in one send: http.client sends them apart, which
    costs a second system call (a second TLS record) and wakes the agent twice per call."""

    _coalesce = None  # the body to send with the headers, while a request() is under way
    _held = None  # the headers, held until that body is sent

    def _new_conn(self):
        sock = super()._new_conn()
        call_deadline.watch(sock, own_copy=isinstance(self, HTTPSConnection))
        return sock

    def request(self, method, url, body=None, headers=None, **kw):
        if self.sock is not None:
            call_deadline.watch(self.sock)
        if isinstance(body, bytes) and 0 < len(body) <= _COALESCE_MAX:
            self._coalesce = body
        try:
            super().request(method, url, body, headers, **kw)
            if self._held is not None:  # no body came after all: the headers go alone
                super().send(self._held)
        finally:
            self._coalesce = self._held = None

    def send(self, data):
        if self._coalesce is not None:
            if self._held is None:  # the headers (http.client sends them first, on their own)
                self._held = data
                return
            held, body = self._held, self._coalesce
            self._held = self._coalesce = None
            if data is body:
                data = held + data
            else:  # not the body we expected: keep the order
                super().send(held)
        super().send(data)


class _WatchedHTTPConnection(_WatchedConnection, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedConnection, HTTPSConnection):
    pass


class _AgentResponse(Response):
    """A requests Response without the cookie jar and header dict its constructor makes (build_response
    sets the headers; the agent sets no cookies)."""

    def __init__(self):
        self._content = False
        self._content_consumed = False
        self._next = None
        self.status_code = self.raw = self.url = self.encoding = self.reason = self.request = None
        self.headers = self.cookies = None
        self.history = []
        self.elapsed = _NO_TIME


_NO_TIME = datetime.timedelta(0)


class _AgentAdapter(HTTPAdapter):
    """HTTPAdapter for one agent: its pool checks a pinned fingerprint and may allow legacy TLS.

    It talks to one host with fixed TLS settings, so what requests recomputes on every call (URL
    parsing, pool look-up, a stat() of the CA bundle, cookie extraction) is done once; without a proxy
    a call goes almost straight to urllib3. Behaviour is HTTPAdapter's (tests mock ``send`` as usual).
    """

    def __init__(self, fingerprint=None, ssl_context=None, **kw):
        self._fingerprint = fingerprint
        self._ssl_context = ssl_context
        self._pool = None
        self._path_urls = {}
        super().__init__(**kw)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        if proxies:
            return super().get_connection_with_tls_context(request, verify, proxies=proxies, cert=cert)
        if self._pool is None:
            self._pool = super().get_connection_with_tls_context(request, verify, proxies=proxies, cert=cert)
            super().cert_verify(self._pool, request.url, verify, cert)
            https = request.url.lower().startswith("https:")
            self._pool.ConnectionCls = _WatchedHTTPSConnection if https else _WatchedHTTPConnection
        return self._pool

    def cert_verify(self, conn, url, verify, cert):
        if conn is not self._pool:  # a proxied pool; ours was set up once above
            super().cert_verify(conn, url, verify, cert)

    def request_url(self, request, proxies):
        if proxies:
            return super().request_url(request, proxies)
        path = self._path_urls.get(request.url)
        if path is None:
            path = self._path_urls[request.url] = request.path_url
        return path

    def build_response(self, req, resp):
        # The agent sets no cookies and we never decode text: skip the cookie jar and charset sniffing.
        response = _AgentResponse()
        response.status_code = resp.status
        response.headers = resp.headers  # urllib3's HTTPHeaderDict is case-insensitive already
        response.raw = resp
        response.reason = resp.reason
        response.url = req.url
        response.request = req
        response.connection = self
        return response

    def close(self):
        self._pool = None
        super().close()

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        if self._fingerprint:
            pool_kwargs["assert_fingerprint"] = self._fingerprint
            pool_kwargs["assert_hostname"] = False
            if self._ssl_context is None:
                # Without a context of ours urllib3 makes one per connection and loads the system CA
                # bundle into it (~30 ms a handshake), which a pinned connection never consults.
                self._ssl_context = create_urllib3_context(cert_reqs=ssl.CERT_NONE)
                self._ssl_context.check_hostname = False
                self._ssl_context.verify_mode = ssl.CERT_NONE
        if self._ssl_context is not None:
            pool_kwargs["ssl_context"] = self._ssl_context
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)


def parse_agent_url(url, default_port=DEFAULT_PORT):
    """Normalise ``host``, ``host:port`` or ``http(s)://host[:port][/path]`` to ``(scheme, host, port, url)``.

    A bare host means https: plain HTTP only when the URL says ``http://``.
    """
    text = str(url).strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise errors.UsageError("agent URL must be http:// or https://, got %r" % redact_text(url))
    if parts.username or parts.password:
        raise errors.UsageError("put credentials in --user/--password-file, not in the URL")
    host = parts.hostname
    if not host:
        raise errors.UsageError("agent URL %r has no host" % url)
    try:
        port = parts.port or default_port
    except ValueError:
        raise errors.UsageError("agent URL %r has a bad port" % url) from None
    netloc = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
    path = parts.path or "/"
    return parts.scheme, host, port, urlunsplit((parts.scheme, netloc, path, "", ""))


class Transport:
    """POSTs XML-RPC bodies to one agent and returns reply bodies, or raises a typed error.

    :param url: agent URL (``https://host:8899`` by default scheme and port).
    :param user: HTTP Basic user, default ``oracle``.
    :param password: the agent password. Kept only inside the prepared Authorization header.
    """

    def __init__(self, url, user=DEFAULT_USER, password=None, timeouts=None, tls=None,
                 max_reply_bytes=DEFAULT_MAX_REPLY_BYTES, pool_size=4):
        self.scheme, self.host, self.port, self.url = parse_agent_url(url)
        self.user = user
        self.timeouts = timeouts or Timeouts()
        self.max_reply_bytes = max_reply_bytes
        self.label = "%s:%d" % (self.host, self.port)
        self._bound = threading.local()  # per-thread timeout cap, see bounded()
        tls = tls or TLSPolicy()
        self.fingerprint = None
        self._verify = True
        ssl_context = None
        legacy_tls = bool(tls.legacy_tls)
        if self.scheme == "https":
            fp = tls.fingerprint
            if fp is None and tls.ca_bundle is None:
                pin = (tls.pin_store or PinStore()).entry(self.host, self.port)
                if pin:
                    fp, pinned_legacy = pin
                    legacy_tls = legacy_tls or pinned_legacy  # remembered with the pin
            if fp:
                self.fingerprint = normalise_fingerprint(fp)
                self._verify = False  # the fingerprint, checked by urllib3 after the handshake, authenticates
                ssl_context = legacy_context() if legacy_tls else None
            else:
                if tls.legacy_tls:
                    raise errors.UsageError("--legacy-tls is only allowed for pinned agents (give --fingerprint "
                                            "or pin with 'ovm3 host fingerprint --save')", host=self.label)
                self._verify = tls.ca_bundle or True
        self.legacy_tls = legacy_tls
        self.ca_bundle = tls.ca_bundle if self.scheme == "https" and not self.fingerprint else None
        self.session = requests.Session()
        self.session.trust_env = False
        self._adapter = _AgentAdapter(fingerprint=self.fingerprint, ssl_context=ssl_context,
                                      pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount(self.scheme + "://", self._adapter)
        self._proxies = requests.utils.get_environ_proxies(self.url)
        # HTTP/1.1 keeps the connection alive by default; identity keeps the body as sent (it is read raw).
        headers = {"Content-Type": "text/xml", "User-Agent": "ovm3/0.1", "Accept-Encoding": "identity"}
        #: Strings masked in any text an agent sends back (faults, error pages may quote the login).
        self.secrets = (password,) if password else ()
        if password is not None:
            token = base64.b64encode(("%s:%s" % (user, password)).encode("utf-8")).decode("ascii")
            headers["Authorization"] = "Basic " + token
        self._template = requests.Request("POST", self.url, headers=headers, data=b"").prepare()
        # A plain dict (the names are ours and fixed): copied, read and iterated per call in C, where
        # requests' case-insensitive dict lower-cases every name at each step (~60 calls per call).
        self._template.headers = dict(self._template.headers)

    def __repr__(self):
        return "<Transport %s://%s user=%s%s>" % (self.scheme, self.label, self.user,
                                                   " pinned" if self.fingerprint else "")

    def close(self):
        self.session.close()

    @contextlib.contextmanager
    def bounded(self, seconds):
        """Make the calls this thread makes inside the block end within ``seconds`` from now, together
        (a caller's own deadline, e.g. a CloudStack command's ``wait``): each call's timeouts are cut
        to the time left, and a call once it has run out fails at once with AgentTimeout."""
        previous = getattr(self._bound, "end", None)
        end = time.monotonic() + seconds
        self._bound.end = end if previous is None else min(previous, end)
        try:
            yield
        finally:
            self._bound.end = previous

    def post(self, body, timeout_class="short", method=None, deadline=None):
        """Send one request body; return the reply body (bytes) of an HTTP 200 answer.

        The call's timeout class is a deadline for the whole call: connect, send, status line,
        headers and body together (a peer that drips its reply is cut off at it). ``deadline``: an
        earlier end (``time.monotonic()`` value) imposed by the caller, e.g. a command's --timeout.
        """
        connect, seconds = self.timeouts.for_class(timeout_class)
        ctx = {"host": self.label, "method": method}
        what = "the %gs deadline of timeout class %s" % (seconds, timeout_class)
        if deadline is not None and deadline - time.monotonic() < seconds:
            seconds = deadline - time.monotonic()
            what = "the command's --timeout (%.1fs were left)" % max(seconds, 0.0)
        bound = getattr(self._bound, "end", None)  # a caller's own deadline, see bounded()
        if bound is not None and bound - time.monotonic() < seconds:
            seconds = bound - time.monotonic()
            what = "the caller's deadline (%.1fs were left)" % max(seconds, 0.0)
        if seconds <= 0:
            raise errors.AgentTimeout("no time left for this call: %s passed" % what, **ctx)
        watch = call_deadline.arm(seconds)
        try:
            data = self._post(body, (min(connect, seconds), seconds), ctx, what)
            if not watch.expired:
                return data
            # Cut off by the watchdog: an EOF inside the headers can look like a complete, empty answer.
        except errors.TransportError:
            if not watch.expired:
                raise
        finally:
            call_deadline.disarm(watch)
        raise errors.AgentTimeout("the whole reply did not arrive within %s (connect, send, headers and "
                                  "body count together)" % what, **ctx)

    def _post(self, body, timeout, ctx, what):
        req = self._template.copy()
        req.body = body
        req.headers["Content-Length"] = str(len(body))
        try:
            resp = self._adapter.send(req, stream=True, timeout=timeout,
                                      verify=self._verify, cert=None, proxies=self._proxies)
        except requests.exceptions.SSLError as e:
            raise self._tls_error(e, ctx) from None
        except requests.exceptions.ConnectTimeout:
            raise errors.AgentTimeout("connect timed out after %ss" % timeout[0], **ctx) from None
        except requests.exceptions.ReadTimeout:
            raise errors.AgentTimeout("no reply within %s" % what, **ctx) from None
        except requests.exceptions.ConnectionError as e:
            reason = _root_reason(e)
            raise errors.AgentUnreachable("connection failed: %s" % reason, hint=self._unreachable_hint(reason),
                                          **ctx) from None
        except requests.exceptions.RequestException as e:
            raise errors.TransportError("request failed: %s" % _root_reason(e), **ctx) from None
        try:
            data = self._read_capped(resp, ctx)
        except requests.exceptions.RequestException as e:
            resp.close()
            raise errors.AgentUnreachable("reply cut off: %s" % _root_reason(e), **ctx) from None
        except Exception as e:
            resp.close()
            if isinstance(e, errors.OVM3Error):
                raise
            raise errors.AgentUnreachable("reply cut off: %s" % _root_reason(e), **ctx) from None
        if resp.status_code == 401:
            raise errors.AuthenticationError("agent refused the credentials of user %r (HTTP 401)" % self.user,
                                             **ctx)
        if resp.status_code != 200:
            raise errors.ProtocolError("HTTP %d %s: %s" % (resp.status_code, resp.reason,
                                                           mask_values(_snippet(data), self.secrets)), **ctx)
        return data

    def _read_capped(self, resp, ctx):
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_reply_bytes:
            resp.close()
            raise errors.ProtocolError("reply of %s bytes exceeds the %d byte cap" % (
                declared, self.max_reply_bytes), **ctx)
        raw = resp.raw
        if declared and declared.isdigit():
            data = raw.read(int(declared), decode_content=False)
            if len(data) != int(declared):
                raise errors.ProtocolError("reply truncated: %d of %s bytes" % (len(data), declared), **ctx)
            return data
        chunks, size = [], 0
        while True:
            chunk = raw.read(_READ_CHUNK, decode_content=False)
            if not chunk:
                break
            size += len(chunk)
            if size > self.max_reply_bytes:
                resp.close()
                raise errors.ProtocolError("reply exceeds the %d byte cap" % self.max_reply_bytes, **ctx)
            chunks.append(chunk)
        return b"".join(chunks)

    def _unreachable_hint(self, reason):
        low = reason.lower()
        if self.scheme == "http" and ("reset" in low or "aborted" in low or "without response" in low):
            return ("the agent closed a plain HTTP connection: ovs-agent normally speaks HTTPS, try "
                    "https://%s" % self.label)
        return ("check the host is up, ovs-agent runs (service ovs-agent status) and port %d is open"
                % self.port)

    def _tls_error(self, exc, ctx):
        reason = _root_reason(exc)
        if "ingerprint" in reason and "match" in reason:
            got = re.search(r'got "?([0-9a-fA-F:]{40,})', reason)
            presented = " (it presented %s)" % normalise_fingerprint(got.group(1)) if got else ""
            return errors.FingerprintMismatch("agent certificate does not match the pinned fingerprint %s%s" % (
                self.fingerprint, presented), **ctx)
        low = reason.lower()
        legacy_words = ("unsupported protocol", "no protocols available", "wrong version number",
                        "version too low", "dh key too small", "handshake failure", "no ciphers",
                        "unsafe legacy renegotiation", "tlsv1 alert protocol version")
        if not self.legacy_tls and any(w in low for w in legacy_words):
            return errors.TLSError("TLS handshake failed (%s); old OVM 3.2/3.3 agents speak only TLS 1.0/1.1: "
                                   "retry with --legacy-tls (pinned agents only)" % reason, hint="", **ctx)
        if "certificate verify failed" in low:
            if self.ca_bundle:
                return errors.TLSError("the agent certificate is not signed by a CA in --ca-bundle %s (%s)"
                                       % (self.ca_bundle, reason), hint="give the bundle of the CA that signed "
                                       "it, or pin the certificate with 'ovm3 host fingerprint --save'", **ctx)
            return errors.TLSError("cannot verify the agent certificate (%s); agents use self-signed "
                                   "certificates: pin it with 'ovm3 host fingerprint --save' or give --ca-bundle"
                                   % reason, hint="", **ctx)
        return errors.TLSError("TLS failed: %s" % reason, **ctx)


def _root_reason(exc):
    seen = set()
    e = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        nxt = e.__cause__ or e.__context__
        if nxt is None and e.args and isinstance(e.args[0], BaseException):
            nxt = e.args[0]
        if nxt is None:
            reason = getattr(e, "reason", None)
            if isinstance(reason, BaseException):
                nxt = reason
        if nxt is None:
            break
        e = nxt
    if isinstance(e, ssl.SSLError) and getattr(e, "reason", None):
        return "%s (%s)" % (e.reason, e)
    return redact_text(str(e)) or type(e).__name__


def _snippet(data, limit=160):
    text = data[:limit].decode("utf-8", "replace").replace("\n", " ").strip()
    return redact_text(text) + ("..." if len(data) > limit else "")
