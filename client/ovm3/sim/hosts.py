"""Simulated hosts and the context manager tests use to run them.

Usage::

    from ovm3.sim import simulated_agents
    with simulated_agents(count=2, version="3.3", tls=False, root=tmp_path) as hosts:
        agent = hosts[0].client()
        agent.call("echo", "put")
"""

import contextlib
import os
import secrets
import shutil
import tempfile
import threading

from ovm3.sim.calllog import CallLog
from ovm3.sim.dispatch import Dispatcher
from ovm3.sim.faultrules import FaultRules
from ovm3.sim.server import AgentServer
from ovm3.sim.state import HostState, World, host_ip
from ovm3.sim.tls import make_certificate, server_context

#: CloudStack's ovm3.heartbeat.interval and .timeout defaults, the timings it sends at host set-up.
SOFTDOG_TIMEOUT = 60  # what a dom0's softdog module is loaded with by default
CLOUDSTACK_HB_INTERVAL = 1
CLOUDSTACK_HB_TIMEOUT = 120


class SimHost:
    """One simulated agent: state, call log, fault rules, listener. See module docstring."""

    def __init__(
        self,
        world,
        server,
        name,
        ip,
        version="3.3",
        tls=False,
        password="",
        material=None,
        legacy_tls=None,
        port=0,
        persist=True,
        load_module=True,
        ownership_restart=0.0,
        **state_kw,
    ):
        self.world = world
        self.server = server
        self.name = name
        self.state = HostState(world, name, ip, version=version, password=password, **state_kw)
        self.state.sim = self
        self.calls = CallLog()
        self.faults = FaultRules()
        self.faults.on_host_rule = self._host_rule
        self.dispatcher = Dispatcher(self.state, self.calls, self.faults, persist=persist)
        self.admin_token = secrets.token_hex(16)
        #: seconds a 3.3/3.4 agent is away after take_ownership (it restarts); 0 = no restart
        self.ownership_restart = float(ownership_restart)
        self.restarts = 0
        self._life = threading.Lock()
        self._stopped = False
        self._restart_timer = None
        self.tls = bool(tls)
        if legacy_tls is None:
            legacy_tls = self.state.personality.legacy_tls
        self.legacy_tls = bool(tls and legacy_tls)
        self.fingerprint = material.fingerprint if tls else None
        if tls:
            _publish_certificate(material, self.state.root)
        self.module = None
        if load_module:
            from ovm3.sim import module_host

            self.module = module_host.attach(self)
        ctx = server_context(material, legacy=self.legacy_tls) if tls else None
        self._ctx = ctx
        self.port = server.listen(self, port, ctx)
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)

    def __repr__(self):
        return "<SimHost %s %s %s>" % (self.name, self.version, self.url)

    @property
    def version(self):
        return self.state.personality.api

    @property
    def ip(self):
        return self.state.ip

    @property
    def root(self):
        return self.state.root

    @property
    def password(self):
        return self.state.password

    @property
    def user(self):
        return self.state.agent_user

    def client(self, **kw):
        """An :class:`ovm3.client.AgentClient` for this host (pinned to its certificate with TLS)."""
        from ovm3.client import AgentClient

        kw.setdefault("password", self.password)
        kw.setdefault("user", self.user)
        kw.setdefault("agent_version", self.version)
        if self.tls:
            kw.setdefault("fingerprint", self.fingerprint)
            kw.setdefault("legacy_tls", self.legacy_tls)
        return AgentClient(self.url, **kw)

    def admin(self, command, path, payload):
        """The admin endpoint: ``/_sim/faults`` (GET list, POST add), ``/_sim/faults/clear``,
        ``/_sim/faults/release`` (optional ``{"id": n}``), ``/_sim/calls`` (GET)."""
        if path == "/_sim/faults" and command == "POST":
            added = self.faults.load(payload)
            return 200, {"added": [r.describe() for r in added]}
        if path == "/_sim/faults" and command == "GET":
            return 200, {"rules": [r.describe() for r in self.faults.rules()]}
        if path == "/_sim/faults/clear" and command == "POST":
            self.faults.clear()
            return 200, {"cleared": True}
        if path == "/_sim/faults/release" and command == "POST":
            self.faults.release((payload or {}).get("id"))
            return 200, {"released": True}
        if path == "/_sim/calls" and command == "GET":
            return 200, {"calls": [vars(r) for r in self.calls]}
        return 404, {"error": "no admin endpoint %s %s" % (command, path)}

    def heartbeat(self, guid, mounts, **kw):
        """The real heartbeat daemon for this host, provisioned in its sandbox (not started yet).

        See :class:`ovm3.sim.heartbeat.Heartbeat` for the keywords (interval, timeout, fence_action,
        watchdog, policy, env). The hosted agent module's ``check_dom0_storage_verdict`` then answers
        from this daemon's record of its peers.
        """
        from ovm3.sim.heartbeat import Heartbeat

        return Heartbeat(self, guid, mounts, **kw)

    def start_heartbeat(self):
        """Deploy the heartbeat config and start the real daemon as CloudStack sets a host up: the guid
        CloudStack derives from the host's IP, its default timings (timeout 120 s, interval 1 s), every
        NFS mount under /OVS/Repositories watched, fence action ``crash`` and an armed watchdog (both
        sandbox files, see :class:`ovm3.sim.heartbeat.Heartbeat`). Returns the Heartbeat."""
        from ovm3.cloudstack.naming import host_guid

        hb = self.heartbeat(host_guid(self.ip), [], interval=CLOUDSTACK_HB_INTERVAL,
                            timeout=CLOUDSTACK_HB_TIMEOUT, fence_action="crash", watchdog=True,
                            watchdog_timeout=SOFTDOG_TIMEOUT)
        hb.start()
        return hb

    def _host_rule(self, rule):
        """A fault rule that acts on the host itself (faultrules.HOST_KINDS) was added."""
        hb = self.state.heartbeat_daemon
        if rule.kind == "stop_heartbeat" and hb is not None and hb.running():
            hb.kill()

    def power_off(self):
        """Stop answering (sys_shutdown runs this once its reply went out)."""
        self.server.unlisten(self)

    def restart_agent(self, down_for=None):
        """Be an agent that restarts: refuse connections (and cut open ones) for ``down_for`` seconds
        (default ``ownership_restart``), then listen on the same port again. State is kept, as a
        real ovs-agent restart keeps the host's state."""
        down_for = self.ownership_restart if down_for is None else down_for
        with self._life:
            if self._stopped:
                return
            self.server.unlisten(self)
            self.restarts += 1
            self._restart_timer = threading.Timer(down_for, self._relisten)
            self._restart_timer.daemon = True
            self._restart_timer.start()

    def _relisten(self):
        with self._life:
            if not self._stopped:
                self.server.listen(self, self.port, self._ctx)

    def stop(self):
        with self._life:
            self._stopped = True
            if self._restart_timer is not None:
                self._restart_timer.cancel()
        self.faults.clear()
        self.server.unlisten(self)
        if self.state.heartbeat_daemon is not None:
            self.state.heartbeat_daemon.terminate()  # a clean stop: peers read "stopped", never DEAD
            self.state.heartbeat_daemon.close()


def _publish_certificate(material, host_root):
    """Put the agent certificate where a dom0 keeps it (``etc/ovs-agent/cert/certificate.pem`` under the
    host's sandbox root), so tools that read it over SSH (``ovm3 deploy``) find the one being served."""
    cert_dir = os.path.join(host_root, "etc", "ovs-agent", "cert")
    os.makedirs(cert_dir, exist_ok=True)
    shutil.copyfile(material.cert_file, os.path.join(cert_dir, "certificate.pem"))


class Hosts(list):
    """The hosts of one :func:`simulated_agents` block, plus what they share."""

    def __init__(self, hosts, world, server, root):
        super().__init__(hosts)
        self.world = world
        self.server = server
        self.root = root

    def nfs_dir(self, export):
        """The directory standing for the NFS export ``host:/path`` (created when missing)."""
        return self.world.export_dir(export)


def start_hosts(
    count=1,
    version="3.3",
    tls=False,
    root=None,
    password=None,
    fleet=False,
    legacy_tls=None,
    port=0,
    faults_file=None,
    load_module=None,
    names=None,
    server=None,
    ownership_restart=0.0,
    heartbeat=False,
):
    """Start ``count`` hosts; returns :class:`Hosts` (stop them with :func:`stop_hosts`).

    ``heartbeat``: start each host's heartbeat daemon (:meth:`SimHost.start_heartbeat`), as ``ovm3 sim``
    does unless ``--no-heartbeat``."""
    root = os.path.realpath(str(root))
    world = World(root)
    server = server or AgentServer()
    if password is None:
        password = secrets.token_urlsafe(18)
    material = make_certificate(os.path.join(root, "tls"), "ovs-agent-sim") if tls else None
    if load_module is None:
        load_module = True  # fleet hosts too: the module is loaded once per world and shared
    hosts = []
    try:
        for i in range(count):
            name = names[i] if names else "ovm-%d" % (i + 1)
            h = SimHost(
                world,
                server,
                name,
                host_ip(i),
                version=version,
                tls=tls,
                password=password,
                material=material,
                legacy_tls=legacy_tls,
                port=(port + i) if port else 0,
                persist=not fleet,
                load_module=load_module,
                ownership_restart=ownership_restart,
            )
            hosts.append(h)
            if faults_file:
                h.faults.load_file(faults_file)
            if heartbeat and not h.faults.take_host_rule("stop_heartbeat"):
                h.start_heartbeat()
    except BaseException:
        for h in hosts:
            h.stop()
        server.close()
        raise
    return Hosts(hosts, world, server, root)


def stop_hosts(hosts):
    for h in hosts:
        if h.state.heartbeat_daemon is not None:
            h.state.heartbeat_daemon.request_stop()  # all at once: each then only waits for its exit
    for h in hosts:
        h.stop()
    hosts.server.close()


@contextlib.contextmanager
def simulated_agents(count=1, version="3.3", root=None, **options):
    """Run ``count`` simulated agents on loopback for the duration of the block.

    :param version: personality, ``"3.2"``, ``"3.3"`` or ``"3.4"``.
    :param root: sandbox directory (a temporary one, removed afterwards, when None).
    :param options: :func:`start_hosts`' keywords: ``tls`` (HTTPS with a self-signed certificate,
        ``host.fingerprint``; 3.2 speaks TLS 1.0), ``password``, ``fleet`` (cheap mode for hundreds of
        hosts: state kept in memory; the agent module is hosted all the same, loaded once per world),
        ``legacy_tls``, ``port``, ``faults_file``, ``load_module`` (default True; False leaves the module's
        methods answering "not simulated"), ``names``, ``ownership_restart`` (seconds a 3.3/3.4 host is
        away after ``take_ownership``, as the real agent restarts then; 0, the default, keeps it answering),
        ``heartbeat`` (start every host's heartbeat daemon; default False).
    :yields: :class:`Hosts`, a list of :class:`SimHost`.
    """
    tmp = None
    if root is None:
        tmp = root = tempfile.mkdtemp(prefix="ovm3-sim-")
    hosts = start_hosts(count, version, root=root, **options)
    try:
        yield hosts
    finally:
        stop_hosts(hosts)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
