"""Record/replay: a proxy that stores every call to a real agent as fixture files, and a server that
answers from such a directory.

Files per call, numbered in order (the format of ../shared/reference/fixtures/): ``NNNN_<method>.xml``
is the complete ``methodResponse`` body, ``NNNN_<method>.request.xml`` the ``methodCall`` body, and for
replies that are XML documents in a string, ``NNNN_<method>.payload.xml`` the decoded document.
``INDEX.md`` lists every call. Passwords, keys and other secrets are masked in requests and replies
before anything is written (:mod:`ovm3.redact`).
"""

import json
import logging
import os
import re
import secrets
import threading

from ovm3 import errors
from ovm3.api import TABLE
from ovm3.redact import redact_args, redact_text, redact_value
from ovm3.sim.dispatch import Outcome
from ovm3.wire import Fault, dumps_request, dumps_response, loads_request, loads_response

log = logging.getLogger(__name__)


class _Creds:
    """What the HTTP layer checks incoming Basic auth against."""

    def __init__(self, user, password):
        self.agent_user = user
        self.password = password


def _redacted_args(method, args):
    try:
        m = TABLE.get(method)
    except errors.OVM3Error:
        m = None
    return redact_args(m, list(args)) if m else [redact_value(a) for a in args]


def _redacted_request(method, args):
    return dumps_request(method, _redacted_args(method, args))


def _redacted_reply(body):
    try:
        value = loads_response(body)
    except Fault as f:
        return dumps_response(fault=(f.code, redact_text(str(f.string)))), None
    except errors.OVM3Error:
        return redact_text(body.decode("utf-8", "replace")).encode("utf-8"), None
    value = redact_value(value)
    payload = value if isinstance(value, str) and value.lstrip().startswith("<?xml") else None
    return dumps_response(value), payload


class _RecordDispatcher:
    def __init__(self, recorder):
        self.r = recorder

    def handle_body(self, body):
        return self.r.forward(body)


class Recorder:
    """An app for :class:`ovm3.sim.server.AgentServer` that forwards to ``upstream`` and records."""

    def __init__(self, upstream_client, out_dir, user, password, name="recorder"):
        self.client = upstream_client
        self.out = out_dir
        self.name = name
        self.state = _Creds(user, password)
        self.admin_token = secrets.token_hex(16)
        self.dispatcher = _RecordDispatcher(self)
        self._lock = threading.Lock()
        self._n = 0
        os.makedirs(out_dir, exist_ok=True)

    def admin(self, command, path, payload):
        return 404, {"error": "the recorder has no admin endpoint"}

    def forward(self, body):
        try:
            method, args = loads_request(body)
        except errors.OVM3Error as e:
            return Outcome(dumps_response(fault=(1, "exceptions.ExpatError:%s" % e.message)))
        try:
            reply = self.client.transport.post(
                body, TABLE.get(method).timeout if method in TABLE.by_wire else "long", method=method
            )
        except errors.OVM3Error as e:
            return Outcome(dumps_response(fault=(1, "exceptions.IOError:recorder: upstream failed: %s" % e)))
        self.record(method, args, reply)
        return Outcome(reply)

    def record(self, method, args, reply):
        safe = re.sub(r"[^A-Za-z0-9_]", "_", method)
        with self._lock:
            self._n += 1
            stem = os.path.join(self.out, "%04d_%s" % (self._n, safe))
            body, payload = _redacted_reply(reply)
            with open(stem + ".request.xml", "wb") as f:
                f.write(_redacted_request(method, args))
            with open(stem + ".xml", "wb") as f:
                f.write(body)
            if payload is not None:
                with open(stem + ".payload.xml", "w", encoding="utf-8") as f:
                    f.write(payload)
            with open(os.path.join(self.out, "INDEX.md"), "a", encoding="utf-8") as f:
                f.write(
                    "- `%s.xml`: agent method %s%s\n"
                    % (os.path.basename(stem), method, " (payload)" if payload is not None else "")
                )


class _ReplayDispatcher:
    def __init__(self, replayer):
        self.r = replayer

    def handle_body(self, body):
        try:
            method, args = loads_request(body)
        except errors.OVM3Error as e:
            return Outcome(dumps_response(fault=(1, "exceptions.ExpatError:%s" % e.message)))
        return Outcome(self.r.next_reply(method, args))


class Replayer:
    """An app that answers from a recorded directory.

    A call is matched by method AND arguments: its arguments, redacted as the recorder redacted them,
    are compared with those of each recorded ``NNNN_<method>.request.xml`` (so a recorded call with a
    secret argument matches whatever secret the caller sends). Recorded replies of the same call
    are served in order (the last one repeats). When no recorded request has these arguments (or the
    recording has no request files) the reply falls back to the method's recorded replies in order;
    each fallback is logged as a warning and kept in :attr:`fallbacks` as ``(method, redacted args)``.
    """

    def __init__(self, directory, user, password, name="replay"):
        self.name = name
        self.state = _Creds(user, password)
        self.admin_token = secrets.token_hex(16)
        self.dispatcher = _ReplayDispatcher(self)
        self.replies = {}  # method -> [reply body], in recorded order
        self.exact = {}  # (method, redacted request body) -> [reply body]
        self.fallbacks = []
        self._pos = {}
        self._lock = threading.Lock()
        for fn in sorted(os.listdir(directory)):
            m = re.fullmatch(r"\d+_(.+)\.xml", fn)
            if not m or fn.endswith((".request.xml", ".payload.xml")):
                continue
            with open(os.path.join(directory, fn), "rb") as f:
                reply = f.read()
            self.replies.setdefault(m.group(1), []).append(reply)
            request = _recorded_request(os.path.join(directory, fn[: -len(".xml")] + ".request.xml"))
            if request is not None:
                self.exact.setdefault(_call_key(*request), []).append(reply)

    def admin(self, command, path, payload):
        return 404, {"error": "replay has no admin endpoint"}

    def next_reply(self, method, args=()):
        # The incoming call as the recorder would have written it, read back as the recording is.
        key = _call_key(*loads_request(_redacted_request(method, args)))
        with self._lock:
            bodies = self.exact.get(key)
            if not bodies:
                bodies = self.replies.get(method)
                if not bodies:
                    return dumps_response(fault=(1, "exceptions.Exception:%s was not recorded" % method))
                key = method
                shown = _redacted_args(method, args)
                self.fallbacks.append((method, shown))
                log.warning(
                    "replay %s: no recorded %s call with arguments %r; answering with the next recorded %s"
                    " reply (matched by method name only)",
                    self.name,
                    method,
                    shown,
                    method,
                )
            i = self._pos.get(key, 0)
            self._pos[key] = i + 1
            return bodies[min(i, len(bodies) - 1)]


def _call_key(method, args):
    """A comparable form of a (redacted) call: the method and its arguments as canonical JSON."""
    return method, json.dumps(list(args), sort_keys=True, default=repr)


def _recorded_request(path):
    """``(method, args)`` of a recorded request file, or None when there is none (or it is unreadable)."""
    try:
        with open(path, "rb") as f:
            return loads_request(f.read())
    except (OSError, errors.OVM3Error):
        return None
