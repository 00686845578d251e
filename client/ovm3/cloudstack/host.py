"""Host set-up, startup data, the periodic ping, and host commands (Ready, CheckHealth, stats, Maintain).

Set-up (``setup``): check the OVM version, take ownership for this installation (refusing a host owned by
another manager), set the server roles, create the control interface and start the heartbeat daemon.
Pool creation/join, the master VIP and the pool filesystem are done when primary storage is added
(:mod:`ovm3.cloudstack.storage`), because they need the shared NFS.
"""

import logging
import math

from ovm3 import errors
from ovm3.errors import HeartbeatMismatch, HostRefused
from ovm3.api import normalise_version
from ovm3.redact import redact_text
from ovm3.cloudstack import answers, naming, state
from ovm3.cloudstack.domains import list_domains
from ovm3.cloudstack.network import ensure_control, traffic_bridges
from ovm3.cloudstack.registry import CommandError, handles
from ovm3.cloudstack.stats import host_stats_entry

log = logging.getLogger(__name__)

ROLES = ("utility", "xen")
#: Where set-up installs the heartbeat daemon on the host, and its file name there.
HEARTBEAT_DIR = "/opt/ovm3/bin"
HEARTBEAT_SCRIPT = "ovm3_heartbeat.py"
SUPPORTED = ("3.2.", "3.3.", "3.4.")
OWNERSHIP_EVENT_URL = "http://localhost:10024/event"
OWNERSHIP_STATS_URL = "http://localhost:10024/stats"


def server_info(resource, refresh=False):
    """The host's :class:`ovm3.parse.server.ServerInfo` (cached per host)."""

    def load():
        return resource.ask(resource.client.linux.discover_server)

    info = resource.discovered("server", load, refresh)
    client = resource.client
    if not client.version_known and info.ovm_version.startswith(SUPPORTED):
        # The client would otherwise rediscover the version itself for version-dependent calls.
        client.set_version(info.ovm_version)
    return info


def hardware_info(resource):
    """The host's :class:`ovm3.parse.server.HardwareInfo` (cached per host)."""

    def load():
        return resource.ask(resource.client.linux.discover_hardware)

    return resource.discovered("hardware", load)


def expected_module_version():
    """MODULE_VERSION of the agent module shipped with this package ("" if it cannot be read)."""
    from ovm3.hostfiles import module_version

    return module_version()


def module_info(resource):
    """Our agent module's ``get_module_info`` (a dict), or None when the host does not serve it."""
    try:
        info = resource.ask(resource.client.ovm3.get_module_info)
    except errors.AgentFault:
        return None
    return info if isinstance(info, dict) else {}


def module_status(resource, info):
    """``current``, ``outdated (...)`` or ``missing``: is our agent module installed and current?

    ``info`` is :func:`module_info`'s answer. An agent RPM update silently drops the module
    registration, so this is checked on every ping.
    """
    if info is None:
        return "missing"
    expected = resource.config.module_version or expected_module_version()
    installed = str(info.get("module_version", ""))
    if expected and installed != expected:
        return "outdated (host has %s, expected %s)" % (installed or "?", expected)
    return "current"


#: Seconds a 3.3+ agent may take to come back after take_ownership restarts it.
AGENT_RESTART_WAIT = 120.0


def ownership(resource, info):
    """Take ownership for this installation, or refuse a host someone else owns. Returns the action."""
    mine = resource.config.manager_uuid
    owner = info.manager_unique_id.replace("-", "")
    if info.membership_state == "Unowned" or owner in ("", "none"):
        version = normalise_version(info.ovm_version)
        with resource.step(resource.client.pool.take_ownership):
            if version == "3.2":
                resource.client.pool.take_ownership(mine, "")
            else:
                resource.client.pool.take_ownership(
                    {
                        "manager_uuid": mine,
                        "manager_event_url": OWNERSHIP_EVENT_URL,
                        "manager_statistic_url": OWNERSHIP_STATS_URL,
                        "manager_certificate": "None",
                        "signed_server_certificate": "None",
                    },
                )
                # A 3.3+ agent restarts once it has an owner: wait for it instead of racing it.
                resource.client.wait_until_answering(AGENT_RESTART_WAIT)
        resource.invalidate("server")
        return "took ownership"
    if owner != mine:
        raise HostRefused(
            "host is owned by manager %s, not by this installation (%s)" % (owner, mine),
            host=resource.host,
            hint="release it from its manager first",
        )
    return "already owned by us"


def setup(resource):
    """Host set-up; returns ``[(step, outcome)]``. Raises on the first failing step."""
    done = []
    info = server_info(resource, refresh=True)
    version = info.ovm_version
    if not version.startswith(SUPPORTED):
        raise HostRefused("OVM %s is not supported (3.2, 3.3 or 3.4)" % version, host=resource.host)
    done.append(("version", version))
    done.append(("ownership", ownership(resource, info)))
    roles = sorted(info.server_roles)
    if tuple(roles) != ROLES:
        resource.ask(resource.client.pool.update_server_roles, ",".join(ROLES))
        done.append(("roles", "set xen,utility"))
    else:
        done.append(("roles", "already xen,utility"))
    ensure_control(resource)
    done.append(("control interface", "control0 169.254.0.1/16"))
    info = module_info(resource)
    resource.module_status = module_status(resource, info)
    done.append(("agent module", resource.module_status))
    done.append(("heartbeat", start_heartbeat(resource, info)))
    return done


def wire_seconds(value):
    """A heartbeat timing as check_dom0_storage_health_check takes it: CloudStack's whole seconds,
    rounded up (the agent module compares a fractional configured value the same way: 0.2 -> 1)."""
    return int(math.ceil(float(value)))


def heartbeat_timings(resource, info):
    """``(timeout, interval)`` in seconds from the host's deployed heartbeat config (``info`` is
    :func:`module_info`'s answer), the one source of truth for them.

    Returns a string saying why there are none (module missing or too old, no config). Raises
    :class:`HeartbeatMismatch` when the config names another guid or other timings than this
    installation's :class:`HostConfig` asks for.
    """
    if info is None:
        return "not checked: our agent module is not installed (deploy it with ovm3 deploy)"
    hb = info.get("heartbeat")
    if not isinstance(hb, dict):
        return "not checked: the agent module does not report its heartbeat config (redeploy it with ovm3 deploy)"
    if hb.get("error"):
        return "not configured (deploy it with ovm3 deploy): %s" % hb["error"]
    cfg = resource.config
    where = hb.get("config") or "the heartbeat config"
    if hb.get("guid") and hb["guid"] != cfg.guid:
        raise HeartbeatMismatch(
            "%s names guid %s, this host's guid is %s" % (where, hb["guid"], cfg.guid),
            host=resource.host,
            hint="redeploy the heartbeat for this host (ovm3 deploy)",
        )
    timings = (float(hb["timeout"]), float(hb["interval"]))
    for name, want, have in zip(("timeout", "interval"), (cfg.heartbeat_timeout, cfg.heartbeat_interval), timings):
        if want is not None and float(want) != have:
            raise HeartbeatMismatch(
                "%s sets %s=%g s, this installation expects %g s" % (where, name.upper(), have, float(want)),
                host=resource.host,
                hint="redeploy the heartbeat with the expected timings (ovm3 deploy), or leave heartbeat_%s unset to "
                "take the host's" % name,
            )
    return timings


def start_heartbeat(resource, info):
    """Make sure the heartbeat daemon runs, with the timings of the host's deployed config; a host
    without a heartbeat configuration says so (not fatal: ``ovm3 deploy`` installs it)."""
    timings = heartbeat_timings(resource, info)
    if isinstance(timings, str):
        return timings
    timeout, interval = timings
    try:
        with resource.step(resource.client.cloudstack.check_dom0_storage_health_check):
            reply = resource.client.cloudstack.check_dom0_storage_health_check(
                HEARTBEAT_DIR,
                HEARTBEAT_SCRIPT,
                resource.config.guid,
                wire_seconds(timeout),
                wire_seconds(interval),
            )
    except errors.NoSuchFileFault as e:
        return "not configured (deploy it with ovm3 deploy): %s" % e.agent_message
    state = "started" if reply.started else "running" if reply.running else "not running"
    return "%s (timeout %g s, interval %g s)" % (state, timeout, interval)


def identify(resource):
    """Take the host's identity from its agent (once per resource, when its config asks for it): the
    dom0 address is the registered IP, the guid the name-based UUID of it (or of the server's unique
    id when no IP is registered), the name its hostname. Two agents behind one address (two ports on
    127.0.0.1) so get two guids, and a restart the same one."""
    cfg = resource.config
    if not cfg.identify or getattr(resource, "_identified", False):
        return cfg.guid
    info = server_info(resource, refresh=True)
    if info.registered_ip:
        cfg.ip = info.registered_ip
    if not cfg.guid_given:
        cfg.guid = naming.agent_host_guid(info.registered_ip, info.unique_id) or cfg.guid
    cfg.name = info.hostname or cfg.name
    resource._identified = True
    log.info("host %s: dom0 address %s, guid %s", cfg.name, cfg.ip, cfg.guid)
    return cfg.guid


def heartbeat_guid(resource):
    """The GUID the host's deployed heartbeat config names ("" when there is none to read)."""
    info = module_info(resource)
    hb = info.get("heartbeat") if isinstance(info, dict) else None
    if not isinstance(hb, dict) or hb.get("error"):
        return ""
    return str(hb.get("guid") or "")


def vm_report(resource):
    """``{name: HostVmStateReportEntry}`` for the domains the agent lists, their states merged with our
    transitional ones (a VM that left this host is not named)."""
    observed = {name: state.observed_state(d.state) for name, d in list_domains(resource).items()}
    report = resource.vms.sync(observed)
    return {name: {"state": state.power_state(s), "host": resource.config.guid} for name, s in report.items()}


def ping(resource):
    """The periodic PingRoutingCommand (a dict), or None when the agent does not answer (host down)."""
    try:
        with resource.step(resource.client.common.echo):
            if resource.client.common.echo("put") != "put":
                raise CommandError("agent echo returned something else")
        report = vm_report(resource)
    except Exception as e:  # noqa: BLE001 - a ping reports, it never raises
        log.warning("%s: ping failed: %s", resource.host, e)
        return None
    info = None
    try:
        info = module_info(resource)
        resource.module_status = module_status(resource, info)
    except Exception as e:  # noqa: BLE001
        resource.module_status = "unknown (%s)" % type(e).__name__
    try:
        heartbeat = start_heartbeat(resource, info)
    except Exception as e:  # noqa: BLE001
        heartbeat = "check failed: %s" % redact_text(str(e))
    if resource.module_status != "current":
        log.warning("%s: agent module %s: redeploy it (ovm3 deploy)", resource.host, resource.module_status)
    return {
        "com.cloud.agent.api.PingRoutingCommand": {
            "hostType": "Routing",
            "hostId": resource.config.guid,
            "_hostVmStateReport": report,
            "_gatewayAccessible": True,
            "_vnetAccessible": True,
            "hostHealthCheckResult": resource.module_status == "current",
            "ovm3": {"agentModule": resource.module_status, "heartbeat": heartbeat},
        }
    }


#: The fields of a StartupRoutingCommand that CloudStack's direct-connect resource decides and checks
#: in the reply: echoed as sent.
IDENTITY_FIELDS = ("dataCenter", "pod", "cluster", "guid", "privateIpAddress", "name", "pool")


def startup(resource, sent=None):
    """StartupRoutingCommand data: capabilities, versions, memory, CPUs and the host's VM states.

    ``sent`` is the StartupRoutingCommand CloudStack posted (or None for the ``/startup`` alias): its
    identity fields are echoed. A guid it carries becomes this host's guid and must equal the one the
    host's heartbeat config names (raises :class:`HeartbeatMismatch` naming both).
    """
    sent = sent or {}
    guid = str(sent.get("guid") or "")
    if guid:
        deployed = heartbeat_guid(resource)
        if deployed and deployed != guid:
            raise HeartbeatMismatch(
                "CloudStack sent guid %s, the host's heartbeat config names guid %s" % (guid, deployed),
                host=resource.host,
                hint="redeploy the heartbeat with CloudStack's guid for this host (ovm3 deploy)",
            )
        resource.config.guid = guid
    info = server_info(resource, refresh=True)
    hw = hardware_info(resource)
    sockets = hw.sockets_per_node or 1
    cpus = sockets * (hw.cores_per_socket or 1) * (hw.threads_per_core or 1)
    total, free = hw.memory, hw.free_memory
    bridges = traffic_bridges(resource)
    cfg = resource.config
    resource.module_status = module_status(resource, module_info(resource))
    reply = {
        "com.cloud.agent.api.StartupRoutingCommand": {
            "type": "Routing",
            "hypervisorType": "Ovm3",
            "guid": cfg.guid,
            "name": info.hostname or cfg.name,
            "dataCenter": cfg.zone,
            "pod": cfg.pod,
            "cluster": cfg.cluster,
            "cpus": cpus,
            "cpuSockets": sockets,
            "speed": hw.cpu_khz // 1000,
            "memory": total,
            "dom0MinMemory": max(total - free, 0),
            "caps": info.vmm_capabilities,
            "hypervisorVersion": info.ovm_version,
            "version": info.agent_version,
            "privateIpAddress": cfg.ip,
            "storageIpAddress": cfg.ip,
            "hostDetails": {
                "public.network.device": bridges["Public"],
                "private.network.device": bridges["Management"],
                "guest.network.device": bridges["Guest"],
                "storage.network.device": bridges["Storage"],
                "ovm3.agent.module": resource.module_status,
            },
            "hostVmStateReport": vm_report(resource),
        }
    }
    body = reply["com.cloud.agent.api.StartupRoutingCommand"]
    for field in IDENTITY_FIELDS:
        if sent.get(field) not in (None, ""):
            body[field] = sent[field]
    return reply


@handles("ReadyCommand", "ReadyAnswer")
def ready(resource, cmd):
    info = server_info(resource, refresh=True)
    owner = info.manager_unique_id.replace("-", "")
    if owner != resource.config.manager_uuid:
        return answers.failure(
            "ReadyAnswer",
            "host %s is not owned by this installation (owner %s)" % (resource.host, owner or "none"),
        )
    return answers.answer("ReadyAnswer", True, "host %s ready (OVM %s)" % (resource.host, info.ovm_version))


@handles("CheckHealthCommand", "CheckHealthAnswer")
def check_health(resource, cmd):
    healthy = resource.ask(resource.client.common.echo, "put") == "put"
    return answers.answer("CheckHealthAnswer", healthy, "agent answers" if healthy else "agent echo mismatch")


@handles("GetHostStatsCommand", "GetHostStatsAnswer")
def host_stats(resource, cmd):
    bridge = traffic_bridges(resource)["Management"]
    raw = resource.ask(resource.client.cloudstack.ovs_dom0_stats, bridge)
    entry = host_stats_entry(cmd.get("hostId") or resource.config.guid, raw)
    return answers.answer("GetHostStatsAnswer", True, None, hostStats=entry)


@handles("MaintainCommand", "MaintainAnswer")
def maintain(resource, cmd):
    running = sorted(list_domains(resource))
    details = (
        "%d VM(s) still running on %s: %s" % (len(running), resource.host, ", ".join(running))
        if running
        else "no VMs running on %s" % resource.host
    )
    return answers.answer("MaintainAnswer", True, details, willMigrate=bool(running))
