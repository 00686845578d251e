"""Is a host down, and may its VMs be restarted elsewhere? The three-valued verdict, management side.

A peer host's agent module answers ``check_dom0_storage_verdict(guid)`` from the record its heartbeat
daemon keeps (fencing/ovm3_heartbeat.py). This module turns that answer into a :class:`Verdict` and
applies the takeover rule: a host is safe to take over only when the verdict is DEAD *and* at least
``timeout + max(fence latency, the host's advertised watchdog timeout) + margin`` seconds have passed
since its heartbeat last made progress.
UNKNOWN (an unreachable peer, a slow storage, a writer without a real fence) never counts as DEAD.

Usage::

    from ovm3.cloudstack.takeover import check_host
    verdict = check_host(peer_client, "host-guid")
    if verdict.safe_to_take_over():
        ...restart the VMs elsewhere...
"""
import dataclasses
import logging
import time
from typing import Optional

from ovm3 import errors
from ovm3.api.mirror import MIRROR_CLASSES

log = logging.getLogger(__name__)

#: The wire method the verdict comes from (named in errors about its reply).
VERDICT_CALL = MIRROR_CLASSES["ovm3"].check_dom0_storage_verdict.wire

ALIVE, DEAD, UNKNOWN = "ALIVE", "DEAD", "UNKNOWN"
STATES = (ALIVE, DEAD, UNKNOWN)

#: Seconds between the host's last progress deadline and the host certainly being down, as a floor:
#: a killed or hung daemon is only stopped by its watchdog, so the takeover rule waits for the longer
#: of this and the watchdog timeout the host advertises in its records (format 2; format-1 records
#: advertise none, and this default covers softdog's 60 s plus the crash).
DEFAULT_FENCE_LATENCY = 70.0
#: Extra seconds on top, for scheduling and clock-rate differences.
DEFAULT_MARGIN = 10.0
#: OCFS2/o2cb on OVM self-fences after (61 - 1) * 2 s; clustered pools never take over sooner.
O2CB_FENCE_SECONDS = 120.0

#: Exit codes of ``ovm3 fence check`` per verdict (see README "Exit codes").
EXIT_CODES = {ALIVE: 0, DEAD: 3, UNKNOWN: 4}


@dataclasses.dataclass
class Verdict:
    """One peer's answer about one host.

    ``since_progress`` is the seconds since the peer last saw the host's heartbeat advance (on the
    peer's monotonic clock, at the time of the answer; None when never seen); ``timeout``/``interval``
    are the host's own heartbeat settings as it advertised them. ``received`` is this process's
    ``time.monotonic()`` when the answer arrived. ``error`` is set (and the state is UNKNOWN) when the peer
    itself could not give a verdict: it was unreachable, failed the call or answered nonsense.
    """

    state: str
    reason: str
    guid: str
    peer: Optional[str] = None
    since_progress: Optional[float] = None
    timeout: Optional[float] = None
    interval: Optional[float] = None
    observed_by: Optional[str] = None
    watchdog_timeout: Optional[float] = None
    mounts: list = dataclasses.field(default_factory=list)
    received: float = dataclasses.field(default_factory=time.monotonic)
    error: Optional[errors.OVM3Error] = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def exit_code(self):
        return EXIT_CODES[self.state]

    def progress_age(self, now=None):
        """Seconds since the last heartbeat progress as of ``now`` (monotonic), or None."""
        if self.since_progress is None:
            return None
        now = time.monotonic() if now is None else now
        return self.since_progress + max(0.0, now - self.received)

    def takeover_after(self, fence_latency=DEFAULT_FENCE_LATENCY, margin=DEFAULT_MARGIN, clustered=False):
        """Seconds after the last progress from which takeover is safe (None without a known timeout):
        ``timeout + max(fence_latency, advertised watchdog timeout) + margin``."""
        if self.timeout is None:
            return None
        wait = self.timeout + max(fence_latency, self.watchdog_timeout or 0.0) + margin
        if clustered:
            wait = max(wait, O2CB_FENCE_SECONDS + margin)
        return wait

    def safe_to_take_over(self, fence_latency=DEFAULT_FENCE_LATENCY, margin=DEFAULT_MARGIN,
                          clustered=False, now=None):
        """True only for DEAD with :meth:`takeover_after` seconds passed since the last progress.

        ``clustered`` (an OCFS2 pool) also waits for o2cb's own 120 s self-fence.
        """
        if self.state != DEAD:
            return False
        age = self.progress_age(now)
        wait = self.takeover_after(fence_latency, margin, clustered)
        return age is not None and wait is not None and age >= wait

    def to_dict(self):
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in ("received", "error")}
        data["mounts"] = [dict(m) if isinstance(m, dict) else m for m in self.mounts]
        return data


def _float(value):
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def from_reply(reply, guid, peer=None):
    """A :class:`Verdict` from the agent's reply (a struct); malformed replies become UNKNOWN."""
    if not isinstance(reply, dict) or reply.get("verdict") not in STATES:
        reason = "malformed verdict reply from %s: %.200r" % (peer or "peer", reply)
        return Verdict(UNKNOWN, reason, guid, peer,
                       error=errors.ParseError(reason, host=peer, method=VERDICT_CALL))
    state = reply["verdict"]
    since = _float(reply.get("since_progress"))
    timeout = _float(reply.get("timeout"))
    if state == DEAD and (since is None or timeout is None):
        state = UNKNOWN  # a DEAD we cannot time is not one we can act on
    return Verdict(state, str(reply.get("reason", "")), str(reply.get("guid", guid)), peer, since, timeout,
                   _float(reply.get("interval")), reply.get("observed_by"), _float(reply.get("watchdog_timeout")),
                   list(reply.get("mounts") or []))


def check_host(peer_client, guid):
    """Ask one peer (an :class:`ovm3.client.AgentClient`) for the verdict on host ``guid``.

    Never raises for peer trouble: an unreachable, failing or confused peer yields UNKNOWN with the
    reason, because "don't know" must never count as "dead".
    """
    peer = getattr(peer_client, "host", None)
    try:
        reply = peer_client.ovm3.check_dom0_storage_verdict(guid)
    except errors.OVM3Error as e:
        log.warning("fence check of %s via %s failed: %s", guid, peer, e)
        return Verdict(UNKNOWN, "peer %s could not answer: %s" % (peer, e), guid, peer, error=e)
    return from_reply(reply, guid, peer)


def combine(verdicts):
    """One verdict from several peers: any ALIVE wins; DEAD only when every peer says DEAD."""
    verdicts = list(verdicts)
    if not verdicts:
        raise ValueError("combine() needs at least one verdict")
    for v in verdicts:
        if v.state == ALIVE:
            return v
    if all(v.state == DEAD for v in verdicts):
        return min(verdicts, key=lambda v: v.progress_age() or 0.0)
    unknown = [v for v in verdicts if v.state == UNKNOWN]
    return Verdict(UNKNOWN, "; ".join("%s: %s" % (v.peer, v.reason) for v in unknown), verdicts[0].guid)
