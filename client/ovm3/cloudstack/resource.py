"""One OVM3 host as CloudStack sees it: its agent client, its configuration and its VM states.

:class:`HostResource` is what CloudStack's per-host "resource" is: ``execute(command, json)`` answers one
command; ``ping()`` is the periodic status; ``startup()`` the StartupRoutingCommand data; ``setup()`` the
host set-up (see :mod:`ovm3.cloudstack.host`).
"""

import contextlib
import dataclasses
import logging
import threading
import time
import uuid as uuidlib
from typing import Optional

from ovm3.cloudstack import dispatch, naming, takeover
from ovm3.cloudstack import host as host_commands
from ovm3.cloudstack.state import VmStates

log = logging.getLogger(__name__)


@dataclasses.dataclass
class HostConfig:
    """What CloudStack knows about a host when it adds it (no secrets: the client holds the password).

    :param manager_uuid: this installation's owner id (generate once per installation and keep it;
        never a constant shared by every installation).
    :param vip: the pool's virtual IP; with ``pool`` the first host to add primary storage creates the
        OVM server pool and the others join it.
    :param fence_latency: seconds from a host's heartbeat timeout to it certainly being down (its
        watchdog timeout plus crash time); with ``fence_margin`` this sets when FenceCommand lets its VMs
        be taken over (see :mod:`ovm3.cloudstack.takeover`).
    :param clustered: the pool runs o2cb (OCFS2), so takeover also waits for o2cb's own 120 s
        self-fence; None means "when ``pool`` is set".
    :param heartbeat_timeout: the heartbeat timings (seconds, fractions allowed) this installation
        expects; None (the default) takes whatever the host's deployed heartbeat config says, which is
        the one source of truth. When set, set-up and ping refuse a host whose config says otherwise.
    """

    ip: str
    name: str = ""
    guid: str = ""
    manager_uuid: str = ""
    pool: bool = False
    vip: str = ""
    public_bridge: str = ""
    private_bridge: str = ""
    guest_bridge: str = ""
    storage_bridge: str = ""
    zone: str = "1"
    pod: str = "1"
    cluster: str = "1"
    heartbeat_timeout: Optional[float] = None
    heartbeat_interval: Optional[float] = None
    module_version: str = ""
    fence_latency: float = takeover.DEFAULT_FENCE_LATENCY
    fence_margin: float = takeover.DEFAULT_MARGIN
    clustered: Optional[bool] = None
    #: take ip, guid (unless given) and name from the agent on first use (``ovm3 serve``: the agent URL
    #: says where to reach the agent, not who the host is); see :func:`ovm3.cloudstack.host.identify`.
    identify: bool = False

    def __post_init__(self):
        self.name = self.name or self.ip
        self.guid_given = bool(self.guid)
        self.guid = self.guid or naming.host_guid(self.ip)
        self.manager_uuid = naming.dedash(self.manager_uuid or uuidlib.uuid4())


class Deadline:
    """Poll helper: ``while deadline.wait(): ...`` sleeps ``interval`` between checks until ``timeout``."""

    def __init__(self, timeout, interval, clock=time.monotonic, sleep=time.sleep):
        self.clock, self.sleep, self.interval = clock, sleep, interval
        self.end = clock() + timeout
        self.first = True

    def wait(self):
        if self.first:
            self.first = False
            return True
        left = self.end - self.clock()
        if left <= 0:
            return False
        self.sleep(min(self.interval, left))
        return True


class HostResource:
    """CloudStack's resource for one OVM3 host.

    :param client: an :class:`ovm3.client.AgentClient` for the host's agent.
    :param config: :class:`HostConfig`.
    :param peers: optional ``{ip: HostResource}`` of the other hosts in the cluster (used to verify a
        migration landed and to reach the pool primary).
    """

    #: poll settings for long waits (stop, migrate, control bridge); tests shorten them.
    stop_timeout = 300.0
    migrate_timeout = 600.0
    poll_interval = 1.0
    #: FenceCommand waits at most this long for a DEAD host to become safe to take over.
    fence_wait = 120.0

    def __init__(self, client, config, peers=None, clock=time.monotonic, sleep=time.sleep):
        self.client = client
        self.config = config
        self.peers = peers if peers is not None else {}
        self.clock = clock
        self.sleep = sleep
        self.vms = VmStates(clock=clock)
        self.stats_cache = {}
        self.module_status = "unknown"
        self._local = threading.local()
        self._discovered = {}

    def __repr__(self):
        return "<HostResource %s (%s)>" % (self.config.name, self.config.ip)

    @property
    def host(self):
        return self.config.name

    # ---- steps and calls ----------------------------------------------------------------------------
    @property
    def current_step(self):
        return getattr(self._local, "step", None)

    @contextlib.contextmanager
    def step(self, name):
        """Name the step a handler is in, so a failure says where it happened; a typed mirror method
        (``self.client.xen.stop_vm``) names it after its wire method."""
        name = getattr(name, "wire", name)
        previous = getattr(self._local, "step", None)
        self._local.step = name
        try:
            yield
        except Exception as e:
            if getattr(e, "ovm3_step", None) is None:
                try:
                    e.ovm3_step = name  # the innermost step: where the failure happened
                except AttributeError:
                    pass
            raise
        finally:
            self._local.step = previous

    def ask(self, method, *args, raw=False):
        """Call one typed mirror method (``self.client.xen.start_vm``) in a step named for its wire
        method, so a failure says which agent call failed."""
        with self.step(method.wire):
            return method(*args, raw=raw)

    def deadline(self, timeout, interval=None):
        end = getattr(self._local, "wait_end", None)
        if end is not None:
            timeout = max(min(timeout, end - self.clock()), 0)
        return Deadline(timeout, self.poll_interval if interval is None else interval, self.clock, self.sleep)

    @contextlib.contextmanager
    def bounded(self, seconds):
        """Bound the agent calls and polls this thread makes inside the block by ``seconds`` (a
        command's ``wait``): each call's timeouts, and every poll's deadline."""
        previous = getattr(self._local, "wait_end", None)
        end = self.clock() + seconds
        self._local.wait_end = end if previous is None else min(previous, end)
        transport = getattr(self.client, "transport", None)
        try:
            if transport is not None and hasattr(transport, "bounded"):
                with transport.bounded(seconds):
                    yield
            else:
                yield
        finally:
            self._local.wait_end = previous

    # ---- cached discovery ----------------------------------------------------------------------------
    def discovered(self, key, loader, refresh=False):
        """Per-host cache of discovery documents, refreshed when a handler changes what they describe."""
        if refresh or key not in self._discovered:
            self._discovered[key] = loader()
        return self._discovered[key]

    def invalidate(self, *keys):
        for k in keys or list(self._discovered):
            self._discovered.pop(k, None)

    # ---- CloudStack entry points ---------------------------------------------------------------------
    def execute(self, command, body=None):
        """Answer one command (short or Java class name, body = the command's JSON object)."""
        return dispatch.dispatch(self, command, body)

    def ping(self):
        """The periodic PingRoutingCommand with VM state sync and the agent module check."""
        return host_commands.ping(self)

    def startup(self):
        """The StartupRoutingCommand data for this host."""
        return host_commands.startup(self)

    def setup(self):
        """Host set-up: ownership, roles, control interface, heartbeat. Returns the steps done."""
        return host_commands.setup(self)
