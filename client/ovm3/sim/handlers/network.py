"""Network area: discovery, bridges, VLAN bridges, the local control bridge, IP configuration."""

import ipaddress

from ovm3.sim import documents
from ovm3.sim.handlers import handles
from ovm3.sim.state import AgentError, command_failed

_LOCAL_SCRIPT = "/etc/xen/scripts/linuxbridge/ovs-local-bridge"
_VLAN_SCRIPT = "/etc/xen/scripts/linuxbridge/ovs-vlan-bridge"
_BR_SCRIPT = "/etc/xen/scripts/linuxbridge/ovs-bridge"


def _mac(h, name):
    n = sum(ord(c) for c in name + h.ip)
    return "B2:D1:%02X:%02X:%02X:%02X" % (n % 256, (n * 3) % 256, (n * 7) % 256, (n * 11) % 256)


def _device_exists(h, dev):
    return dev in h.nics or dev in h.bonds or dev in h.bridges


@handles("discover_network")
def discover_network(h):
    return documents.discover_network(h)


@handles("configure_virtual_ip")
def configure_virtual_ip(h, virtual_ip, base_ip):
    try:
        ipaddress.ip_address(virtual_ip)
    except ValueError:
        raise AgentError("Invalid virtual IP: %s" % virtual_ip, cls="exceptions.ValueError") from None
    if not any(b.get("address") == base_ip for b in h.bridges.values()):
        raise AgentError("No interface with address %s" % base_ip)
    if virtual_ip not in h.vips:
        h.vips.append(virtual_ip)


@handles("ovs_ip_config")
def ovs_ip_config(h, net, optype, ip, netmask):
    br = h.bridges.get(net)
    if br is None:
        raise command_failed(
            ["/etc/xen/scripts/linuxbridge/ovs-ip-config", net, optype], 1, "Device %s does not exist" % net
        )
    if optype == "static":
        try:
            iface = ipaddress.ip_interface("%s/%s" % (ip, netmask))
        except ValueError:
            raise AgentError("Invalid address %s/%s" % (ip, netmask), cls="exceptions.ValueError") from None
        br.update(
            address=ip, netmask=netmask, broadcast=str(iface.network.broadcast_address), bootproto="static"
        )
    elif optype in ("none", "dhcp"):
        br.update(address=None, netmask=None, broadcast=None, bootproto=optype)
    else:
        raise AgentError("Invalid optype: %s" % optype, cls="exceptions.ValueError")


@handles("ovs_local_config")
def ovs_local_config(h, action, bridge):
    argv = [_LOCAL_SCRIPT, action, "bridge=%s" % bridge]
    if action == "start":
        if bridge in h.bridges:
            raise command_failed(argv, 1, "Start local network: Bridge %s Is Busy" % bridge)
        h.bridges[bridge] = {
            "mac": _mac(h, bridge),
            "address": None,
            "netmask": None,
            "broadcast": None,
            "phy": None,
            "bootproto": "none",
        }
        return "start local bridge %s" % bridge
    if action == "stop":
        if bridge not in h.bridges or h.bridges[bridge].get("phy"):
            raise command_failed(argv, 1, "Stop local network: Bridge %s does not exist" % bridge)
        del h.bridges[bridge]
        return "stop local bridge %s" % bridge
    raise AgentError("Invalid action: %s" % action, cls="exceptions.ValueError")


def _check_vlan(vlan):
    if not 1 <= vlan <= 4094:
        raise AgentError("Invalid VLAN id: %d" % vlan, cls="exceptions.ValueError")


@handles("ovs_vlan_config")
def ovs_vlan_config(h, action, net, vlan):
    _check_vlan(vlan)
    name = "%s.%d" % (net, vlan)
    if action == "add":
        if not _device_exists(h, net):
            raise command_failed(["vconfig", "add", net, str(vlan)], 1, "Device %s does not exist" % net)
        h.nics.setdefault(
            name,
            {
                "mac": h.nics.get(net, h.bonds.get(net, {"mac": _mac(h, name)}))["mac"],
                "kind": "vlan",
                "metadata": None,
            },
        )
    elif action == "remove":
        if name not in h.nics:
            raise command_failed(["vconfig", "rem", name], 1, "Device %s does not exist" % name)
        if any(b.get("phy") == name for b in h.bridges.values()):
            raise command_failed(["vconfig", "rem", name], 1, "Device %s is busy" % name)
        del h.nics[name]
    else:
        raise AgentError("Invalid action: %s" % action, cls="exceptions.ValueError")


@handles("ovs_br_config")
def ovs_br_config(h, action, bridge, net):
    argv = [_BR_SCRIPT, action, "bridge=%s" % bridge, "netdev=%s" % net]
    if action == "start":
        if bridge in h.bridges:
            raise command_failed(argv, 1, "Bridge %s Is Busy" % bridge)
        if not _device_exists(h, net):
            raise command_failed(argv, 1, "Device %s does not exist" % net)
        h.bridges[bridge] = {
            "mac": _mac(h, bridge),
            "address": None,
            "netmask": None,
            "broadcast": None,
            "phy": net,
            "bootproto": "none",
        }
        return "start bridge=%s netdev=%s" % (bridge, net)
    if action == "stop":
        if bridge not in h.bridges:
            raise command_failed(argv, 1, "Bridge %s does not exist" % bridge)
        del h.bridges[bridge]
        return "stop bridge=%s netdev=%s" % (bridge, net)
    raise AgentError("Invalid action: %s" % action, cls="exceptions.ValueError")


@handles("ovs_vlan_bridge")
def ovs_vlan_bridge(h, action, bridge, net, vlan):
    _check_vlan(vlan)
    argv = [_VLAN_SCRIPT, action, "bridge=%s" % bridge, "netdev=%s" % net, "vlan=%d" % vlan]
    phy = "%s.%d" % (net, vlan)
    if action == "start":
        if bridge in h.bridges:
            raise command_failed(argv, 1, "Start vlan bridge: Bridge %s Is Busy" % bridge)
        if not _device_exists(h, net):
            raise command_failed(argv, 1, "Device %s does not exist" % net)
        base = h.nics.get(net) or h.bonds.get(net) or {"mac": _mac(h, phy)}
        h.nics.setdefault(phy, {"mac": base["mac"], "kind": "vlan", "metadata": None})
        h.bridges[bridge] = {
            "mac": base["mac"],
            "address": None,
            "netmask": None,
            "broadcast": None,
            "phy": phy,
            "bootproto": "none",
        }
        if h.personality.vlan_bridge_start == "start":
            return "start bridge=%s netdev=%s vlan %d" % (bridge, net, vlan)
        return "Added vlan bridge %s on %s (vlan %d)" % (bridge, net, vlan)
    if action == "stop":
        if bridge not in h.bridges:
            raise command_failed(argv, 1, "Stop vlan bridge: Bridge %s does not exist" % bridge)
        del h.bridges[bridge]
        h.nics.pop(phy, None)
        return "stop bridge=%s netdev=%s vlan %d" % (bridge, net, vlan)
    raise AgentError("Invalid action: %s" % action, cls="exceptions.ValueError")
