"""Networking: bridges (VLAN bridges on demand, control0), network checks, and virtual-router primitives.

Router primitives (used by CloudStack's generic virtual-router code, whose commands are out of scope):
:func:`router_exec` runs a router script through the agent module on the router's link-local address,
:func:`router_upload` writes a file into the router, :func:`nic_device_id` finds a NIC's device id by MAC.
"""

import re

from ovm3.cloudstack import answers, naming, validate
from ovm3.cloudstack.domains import list_domains
from ovm3.cloudstack.registry import CommandError, handles, need

TRAFFIC_TYPES = ("Public", "Management", "Guest", "Storage", "Control")
ROUTER_SCRIPT_DIR = "/opt/cloud/bin"
CONTROL_WAIT = 10.0
_SCRIPT_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def bridges(resource, refresh=False):
    """``{bridge: Interface}`` from ``discover_network`` (cached per host until a handler changes it)."""

    def load():
        return resource.ask(resource.client.network.discover_network).bridges

    return resource.discovered("network", load, refresh)


def default_bridge(resource):
    """The bridge carrying the host's own IP (the management bridge)."""
    found = bridges(resource)
    for name, info in sorted(found.items()):
        if info.address == resource.config.ip:
            return name
    for name, info in sorted(found.items()):
        if info.physical and "." not in name:
            return name
    raise CommandError("no bridge carries host address %s" % resource.config.ip)


def traffic_bridges(resource):
    """``{traffic type: bridge}`` from the host config, defaulting to the management bridge."""
    cfg = resource.config
    base = None

    def dflt():
        nonlocal base
        if base is None:
            base = default_bridge(resource)
        return base

    public = cfg.public_bridge or dflt()
    private = cfg.private_bridge or public
    return {
        "Public": public,
        "Management": private,
        "Guest": cfg.guest_bridge or public,
        "Storage": cfg.storage_bridge or private,
        "Control": naming.CONTROL_BRIDGE,
    }


def vlan_of(uri, field="broadcastUri"):
    """VLAN id (1..4094) from a broadcast URI (``vlan://160``, a bare number); None when untagged."""
    if uri in (None, "", "untagged"):
        return None
    text = uri if isinstance(uri, str) else validate.number(uri, field)
    text = str(text)
    if "://" in text:
        text = text.split("://", 1)[1]
    if text.lower() in ("untagged", ""):
        return None
    vlan = validate.number(text, field)
    if not 1 <= vlan <= naming.MAX_VLAN:
        raise validate.FieldRefused(field, uri, "VLAN id outside 1..%d" % naming.MAX_VLAN)
    return vlan


def check_nic(nic, field):
    """``(mac, vlan or None)`` of a NicTO with every field that reaches the agent checked; no call."""
    if not isinstance(nic, dict):
        raise validate.FieldRefused(field, nic, "must be an object")
    traffic = nic.get("type") or "Guest"
    if traffic not in TRAFFIC_TYPES:
        raise validate.FieldRefused(field + ".type", traffic, "is not one of %s" % ", ".join(TRAFFIC_TYPES))
    mac = validate.mac(need(nic, "mac", "nic"), field + ".mac")
    vlan = None
    if traffic in ("Guest", "Public"):
        key = "broadcastUri" if nic.get("broadcastUri") else "isolationUri"
        vlan = vlan_of(nic.get(key), "%s.%s" % (field, key))
    return mac, vlan


def ensure_vlan_bridge(resource, base, vlan):
    """Create ``<base>.<vlan>`` on the base bridge's physical device unless it exists; return its name."""
    name = naming.vlan_bridge(base, vlan)
    known = bridges(resource)
    if name in known:
        return name
    if base not in known:
        raise CommandError("bridge %s does not exist on host %s" % (base, resource.host))
    phys = known[base].physical
    if not phys:
        raise CommandError("bridge %s has no physical interface to carry VLAN %d" % (base, vlan))
    with resource.step("ovs_vlan_bridge %s" % name):
        reply = resource.client.network.ovs_vlan_bridge("start", name, phys, int(vlan))
    if reply is not None and not str(reply).startswith(("start", "Added")):
        raise CommandError("agent did not start VLAN bridge %s: %r" % (name, reply))
    resource.invalidate("network")
    return name


def bridge_for_nic(resource, nic, field="nic"):
    """The bridge a NicTO plugs into (VLAN bridges created on demand)."""
    _mac, vlan = check_nic(nic, field)
    base = traffic_bridges(resource)[nic.get("type") or "Guest"]
    if vlan is not None:
        return ensure_vlan_bridge(resource, base, vlan)
    return base


def ensure_control(resource):
    """Make sure ``control0`` exists with the link-local gateway address and route."""
    if naming.CONTROL_BRIDGE not in bridges(resource):
        with resource.step("ovs_local_config start control0"):
            resource.client.network.ovs_local_config("start", naming.CONTROL_BRIDGE)
        deadline = resource.deadline(CONTROL_WAIT)
        while deadline.wait():
            if naming.CONTROL_BRIDGE in bridges(resource, refresh=True):
                break
        else:
            raise CommandError(
                "control bridge %s did not appear within %.0f s" % (naming.CONTROL_BRIDGE, CONTROL_WAIT)
            )
    with resource.step("ovs_ip_config control0"):
        resource.client.network.ovs_ip_config(
            naming.CONTROL_BRIDGE, "static", naming.CONTROL_ADDRESS, naming.CONTROL_NETMASK
        )
    resource.ask(resource.client.cloudstack.ovs_control_interface, naming.CONTROL_BRIDGE, naming.CONTROL_CIDR)


# ---- router primitives --------------------------------------------------------------------------------
def _router_ip(ip, field="ip"):
    return validate.ip_address(ip, field)


def router_exec(resource, router_ip, script, args=""):
    """Run ``/opt/cloud/bin/<script> <args>`` in a router; returns ``(ok, stdout, stderr)``."""
    if not _SCRIPT_NAME.fullmatch(str(script)):
        raise CommandError("router script name %r is not a plain file name" % (script,))
    cmd = "%s/%s" % (ROUTER_SCRIPT_DIR, script) + (" " + args if args else "")
    with resource.step("exec_domr %s" % script):
        result = resource.client.cloudstack.exec_domr(_router_ip(router_ip), cmd)
    return result.ok, result.out, result.err


def router_upload(resource, router_ip, path, filename, content):
    """Write ``content`` to ``path/filename`` inside a router; True when the agent confirmed it. The
    directory must be an absolute path of plain names and the file a plain name (nothing else reaches
    the agent)."""
    ip = _router_ip(router_ip)
    path = validate.absolute(path, "path")
    filename = validate.name(filename, "filename")
    with resource.step(resource.client.cloudstack.ovs_domr_upload_file):
        return bool(resource.client.cloudstack.ovs_domr_upload_file(ip, path, filename, content))


def nic_device_id(resource, vm_name, mac):
    """The device id (index in vm.cfg ``vif``) of the NIC with ``mac``; an unknown MAC is an error."""
    dom = list_domains(resource).get(vm_name)
    if dom is None:
        raise CommandError("VM %s is not running on host %s" % (vm_name, resource.host))
    index = resource.ask(resource.client.xen.get_vm_config, dom.repo_id, dom.uuid).vif_index(str(mac))
    if index >= 0:
        return index
    raise CommandError("VM %s has no NIC with MAC %s" % (vm_name, mac))


# ---- command handlers ---------------------------------------------------------------------------------
@handles("PingTestCommand", "Answer")
def ping_test(resource, cmd):
    field = "_computingHostIp" if cmd.get("_computingHostIp") else "_routerIp"
    target = cmd.get(field)
    if not target:
        raise CommandError("neither _computingHostIp nor _routerIp given")
    target = _router_ip(target, field)
    with resource.step("ping %s" % target):
        alive = bool(resource.client.cloudstack.ping(target))
    return answers.answer(
        "Answer", alive, "%s answers ping" % target if alive else "%s does not answer ping" % target
    )


@handles("CheckNetworkCommand", "CheckNetworkAnswer")
def check_network(resource, cmd):
    keys = (
        ("guestNetworkName", "Guest"),
        ("privateNetworkName", "Management"),
        ("publicNetworkName", "Public"),
        ("storageNetworkName", "Storage"),
    )
    wanted = []
    for index, info in enumerate(validate.listed(cmd.get("networkInfoList"), "networkInfoList")):
        if not isinstance(info, dict):
            raise validate.FieldRefused("networkInfoList[%d]" % index, info, "must be an object")
        for key, traffic in keys:
            name = info.get(key)
            wanted.append((traffic, validate.bridge(name, "networkInfoList[%d].%s" % (index, key)) if name else None))
    known = bridges(resource, refresh=True)
    defaults = traffic_bridges(resource)
    missing = []
    for traffic, name in wanted:
        name = name or defaults[traffic]
        if name not in known:
            missing.append("%s network bridge %s" % (traffic.lower(), name))
    if missing:
        return answers.failure(
            "CheckNetworkAnswer",
            "host %s lacks: %s" % (resource.host, ", ".join(missing)),
            _reconnect=False,
        )
    return answers.answer("CheckNetworkAnswer", True, "all network bridges present", _reconnect=False)


@handles("CheckSshCommand", "CheckSshAnswer")
def check_ssh(resource, cmd):
    ip = _router_ip(need(cmd, "ip"), "ip")
    port = int(cmd.get("port") or 3922)
    interval = max(int(cmd.get("interval") or 6), 1)
    retries = max(int(cmd.get("retries") or 10), 1)
    for attempt in range(retries):
        with resource.step("check_dom0_port %s:%d" % (ip, port)):
            if resource.client.cloudstack.check_dom0_port(ip, port, interval) is True:
                return answers.answer("CheckSshAnswer", True, "%s:%d reachable" % (ip, port))
        if attempt + 1 < retries:
            resource.sleep(interval)
    return answers.failure(
        "CheckSshAnswer",
        "%s:%d not reachable from host %s after %d tries" % (ip, port, resource.host, retries),
    )


_VPC_OPTIONS = {"get": "-g", "create": "-c", "reset": "-r", "vpn": "-n", "remove": "-d"}


def _sum_pairs(text):
    """``sent:received:`` pairs (one per public interface, as the usage scripts print them) -> sums."""
    sent = received = 0
    parts = [p.strip() for p in str(text).strip().split(":") if p.strip()]
    if not all(p.isdigit() for p in parts):
        raise CommandError("router printed %r, not sent:received byte counters" % str(text).strip()[:200])
    for i in range(0, len(parts) - 1, 2):
        sent += int(parts[i])
        received += int(parts[i + 1])
    return sent, received


@handles("NetworkUsageCommand", "NetworkUsageAnswer")
def network_usage(resource, cmd):
    ip = _router_ip(need(cmd, "privateIP"), "privateIP")
    option = cmd.get("option") or "get"
    router = cmd.get("domRName")
    if router:
        router = validate.vm_name(router, "domRName")
    if cmd.get("forVpc"):
        flag = _VPC_OPTIONS.get(option) if isinstance(option, str) else None
        if flag is None:
            raise CommandError("unknown VPC network usage option %r" % (option,))
        gateway = _router_ip(need(cmd, "gatewayIP"), "gatewayIP")
        script, args = "vpc_netusage.sh", "-l %s %s" % (gateway, flag)
        if option == "create":
            args += " -v %s" % validate.network(need(cmd, "vpcCIDR"), "vpcCIDR")
    else:
        script, args = "netusage.sh", "-c" if option == "create" else "-g"
    ok, out, err = router_exec(resource, ip, script, args)
    if not ok:
        return answers.failure(
            "NetworkUsageAnswer",
            "host %s: NetworkUsageCommand failed at step exec_domr %s: router %s: %s %s failed: %s"
            % (resource.host, script, ip, script, args, err.strip() or "no error output"),
            routerName=router,
            bytesSent=0,
            bytesReceived=0,
        )
    with resource.step("exec_domr %s" % script):
        sent, received = _sum_pairs(out) if args.endswith("-g") else (0, 0)
    return answers.answer(
        "NetworkUsageAnswer", True, "success", routerName=router, bytesSent=sent, bytesReceived=received
    )


@handles("NetworkRulesSystemVmCommand", "Answer")
def network_rules_system_vm(resource, cmd):
    return answers.answer("Answer", True, "no security-group rules on OVM3 (nothing to do)")
