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
    """The heap of armed deadlines and the thread that shuts their sockets when they pass.

    Arming is cheap: the thread is woken only when the new deadline is earlier than the one it sleeps
    towards (calls of one class arm later and later deadlines, so most arms wake nothing), and deadlines
    disarmed before they pass are dropped lazily (from the top at each arm, and by a rebuild once they
    are most of the heap), so the heap stays as small as the calls in flight.
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._heap = []
        self._seq = itertools.count()
        self._thread = None
        self._disarmed = 0  # disarmed deadlines still in the heap
        self._wakes_at = float("inf")  # when the thread wakes up next by itself

    def arm(self, deadline):
        with self._cond:
            heap = self._heap
            while heap and not heap[0][2]._armed:
                heapq.heappop(heap)
                self._disarmed -= 1
            heapq.heappush(heap, (deadline.ends, next(self._seq), deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ovm3-call-deadline", daemon=True)
                self._thread.start()
            if deadline.ends < self._wakes_at:
                self._wakes_at = deadline.ends
                self._cond.notify()

    def disarm(self, deadline):
        with self._cond:
            if deadline._armed and not deadline.expired:  # an expired one has left the heap already
                self._disarmed += 1
            deadline._armed = False
            if self._disarmed > 64 and self._disarmed * 2 > len(self._heap):
                self._heap = [e for e in self._heap if e[2]._armed]
                heapq.heapify(self._heap)
                self._disarmed = 0
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
                heap = self._heap
                while heap and (heap[0][0] <= now or not heap[0][2]._armed):
                    _, _, d = heapq.heappop(heap)
                    if d._armed:
                        d.expired = True
                        for s in d._socks:
                            _shut(s)
                    else:
                        self._disarmed -= 1
                if heap:
                    self._wakes_at = heap[0][0]
                    self._cond.wait(heap[0][0] - now)
                else:
                    self._wakes_at = float("inf")
                    self._cond.wait()


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
