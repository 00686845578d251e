"""Record/replay: a proxy that stores every call to a real agent as fixture files, and a server that
answers from such a directory.

Files per call, numbered in order (the format of ../shared/reference/fixtures/): ``NNNN_<method>.xml``
is the complete ``methodResponse`` body, ``NNNN_<method>.request.xml`` the ``methodCall`` body, and for
replies that are XML documents in a string, ``NNNN_<method>.payload.xml`` the decoded document.
``INDEX.md`` lists every call. Passwords, keys and other secrets are masked in requests and replies
before anything is written (:mod:`ovm3.redact`).
"""

import os
import re
import secrets
import threading

from ovm3 import errors
from ovm3.api import TABLE
from ovm3.redact import redact_args, redact_text, redact_value
from ovm3.sim.dispatch import Outcome
from ovm3.wire import Fault, dumps_request, dumps_response, loads_request, loads_response


class _Creds:
    """What the HTTP layer checks incoming Basic auth against."""

    def __init__(self, user, password):
        self.agent_user = user
        self.password = password


def _redacted_request(method, args):
    try:
        m = TABLE.get(method)
    except errors.OVM3Error:
        m = None
    return dumps_request(method, redact_args(m, list(args)) if m else [redact_value(a) for a in args])


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
            method, _ = loads_request(body)
        except errors.OVM3Error as e:
            return Outcome(dumps_response(fault=(1, "exceptions.ExpatError:%s" % e.message)))
        return Outcome(self.r.next_reply(method))


class Replayer:
    """An app that answers each method with its recorded replies, in order (the last one repeats)."""

    def __init__(self, directory, user, password, name="replay"):
        self.name = name
        self.state = _Creds(user, password)
        self.admin_token = secrets.token_hex(16)
        self.dispatcher = _ReplayDispatcher(self)
        self.replies = {}
        self._pos = {}
        self._lock = threading.Lock()
        for fn in sorted(os.listdir(directory)):
            m = re.match(r"^\d+_(.+)\.xml$", fn)
            if not m or fn.endswith((".request.xml", ".payload.xml")):
                continue
            with open(os.path.join(directory, fn), "rb") as f:
                self.replies.setdefault(m.group(1), []).append(f.read())

    def admin(self, command, path, payload):
        return 404, {"error": "replay has no admin endpoint"}

    def next_reply(self, method):
        with self._lock:
            bodies = self.replies.get(method)
            if not bodies:
                return dumps_response(fault=(1, "exceptions.Exception:%s was not recorded" % method))
            i = self._pos.get(method, 0)
            self._pos[method] = i + 1
            return bodies[min(i, len(bodies) - 1)]
