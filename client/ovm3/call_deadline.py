"""Whole-call deadlines for the transport: one watchdog thread that shuts a call's sockets at its end.

Socket timeouts bound each read, not the call: a peer dripping a byte a second never trips them. A
call arms a :class:`Deadline` before it starts; the connection classes of the transport register
every socket the call uses (:func:`watch`); when the deadline passes first, the watchdog shuts those
sockets down, the blocked read returns, and the transport sees ``expired`` and raises AgentTimeout.
"""

import heapq
import itertools
import socket
import threading
import time

_local = threading.local()


class Deadline:
    """One call's deadline and the sockets it uses."""

    __slots__ = ("ends", "seconds", "expired", "_socks", "_owned", "_armed")

    def __init__(self, seconds):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.expired = False
        self._socks = []
        self._owned = []
        self._armed = True

    def remaining(self):
        return self.ends - time.monotonic()


class _Watchdog:
    def __init__(self):
        self._cond = threading.Condition()
        self._heap = []
        self._seq = itertools.count()
        self._thread = None

    def arm(self, deadline):
        with self._cond:
            heapq.heappush(self._heap, (deadline.ends, next(self._seq), deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ovm3-call-deadline", daemon=True)
                self._thread.start()
            self._cond.notify()

    def disarm(self, deadline):
        with self._cond:
            deadline._armed = False
            owned, deadline._owned, deadline._socks = deadline._owned, [], []
        for s in owned:
            _close(s)

    def add(self, deadline, sock, owned):
        with self._cond:
            if not deadline._armed:
                if owned:
                    _close(sock)
                return
            deadline._socks.append(sock)
            if owned:
                deadline._owned.append(sock)
            if deadline.expired:
                _shut(sock)

    def _run(self):
        with self._cond:
            while True:
                now = time.monotonic()
                while self._heap and (self._heap[0][0] <= now or not self._heap[0][2]._armed):
                    _, _, d = heapq.heappop(self._heap)
                    if d._armed:
                        d.expired = True
                        for s in d._socks:
                            _shut(s)
                wait = self._heap[0][0] - now if self._heap else None
                self._cond.wait(wait)


_WATCHDOG = _Watchdog()


def arm(seconds):
    """Start a deadline ``seconds`` from now for the calling thread's next call; returns it."""
    d = Deadline(seconds)
    _WATCHDOG.arm(d)
    _local.current = d
    return d


def disarm(deadline):
    """The call is over: its sockets are no longer shut down when the deadline passes."""
    if getattr(_local, "current", None) is deadline:
        _local.current = None
    _WATCHDOG.disarm(deadline)


def watch(sock, own_copy=False):
    """Register ``sock`` with the calling thread's current deadline (if any).

    ``own_copy``: watch a duplicate of the socket (closed at disarm), for a socket about to be
    wrapped in TLS (wrapping detaches the original object; the duplicate still reaches the connection).
    """
    d = getattr(_local, "current", None)
    if d is None or sock is None:
        return
    if own_copy:
        try:
            sock = sock.dup()
        except OSError:
            return
    _WATCHDOG.add(d, sock, own_copy)


def _shut(sock):
    # socket.socket's shutdown, not SSLSocket's: that one drops the TLS object under a reading thread.
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


def _close(sock):
    try:
        sock.close()
    except OSError:
        pass
