"""``discover_network`` document (reference §6.4): bridges, physical interfaces, bonds, look-ups."""
from dataclasses import dataclass, field
from typing import Dict, Optional

from lxml import etree

from ovm3.parse.xmldoc import leaf_value, leaves, parse_document

BRIDGE, LOCAL, PHYSICAL, BOND = "Bridge", "Local", "Physical", "Bond"


@dataclass
class Interface:
    """One network device. ``type`` is Bridge (has a physical port), Local (bridge without one, e.g.
    control0), Physical or Bond; ``physical`` is a bridge's port (``bond0``)."""

    name: str
    type: str
    mac: str = ""
    address: str = ""
    netmask: str = ""
    broadcast: str = ""
    physical: str = ""
    boot_proto: str = ""
    mtu: Optional[str] = None
    metadata: str = ""


@dataclass
class NetworkInfo:
    """Every bridge and physical interface of a host, by name, in document order."""

    bridges: Dict[str, Interface] = field(default_factory=dict)
    physical: Dict[str, Interface] = field(default_factory=dict)
    bonds: Dict[str, Interface] = field(default_factory=dict)

    def interfaces(self):
        """Bridges then physical interfaces (bonds are not indexed, as in the reference)."""
        return list(self.bridges.values()) + list(self.physical.values())

    def bridge_by_name(self, name):
        return self.bridges.get(name) if name else None

    def bridge_by_ip(self, ip):
        if not ip:
            return None
        for b in self.bridges.values():
            if b.address == ip:
                return b
        return None

    def interface_by_name(self, name):
        if not name:
            return None
        return self.bridges.get(name) or self.physical.get(name)

    def interface_by_ip(self, ip):
        if not ip:
            return None
        for i in self.interfaces():
            if i.address == ip:
                return i
        return None

    def physical_by_bridge(self, bridge):
        """The physical port of a bridge (``xenbr0`` -> ``bond0``), None for local or unknown bridges."""
        b = self.bridge_by_name(bridge)
        return b.physical or None if b is not None else None


_FAMILY = frozenset(("MAC", "Address", "Netmask", "Broadcast", "mtu"))
_OWN = frozenset(("MAC", "BootProto", "MetaData"))
_PORT = frozenset(("PhyInterface",))
_MTU = frozenset(("mtu",))
_CONTAINERS = frozenset(("Family", "Interfaces", "SysFS"))
#: Every device of the document in one XPath evaluation, in document order (one ElementPath look-up per
#: kind and per device's container cost half of the typed layer; bench part 2).
_DEVICES = etree.XPath("Bridges/Device | Network/Device | Bonding/Device")


def _device(dev):
    """``(own leaves, {container tag: its first element})`` of one device, in one pass over its children.

    Leaves are the ``child_map(dev)`` entries in ``_OWN`` (a later duplicate wins, as in child_map);
    containers are what ``dev.find(tag)`` returns (the first).
    """
    own = {}
    parts = {}
    for child in dev:
        tag = child.tag
        if tag in _CONTAINERS:
            parts.setdefault(tag, child)
        if tag in _OWN:
            value = leaf_value(child)
            if value is not None:
                own[tag] = value
    return own, parts


def parse_network(value):
    """``discover_network`` reply -> :class:`NetworkInfo` (an empty result gives an empty one)."""
    root = parse_document(value, "Discover_Network_Result", "discover_network")
    info = NetworkInfo()
    active = root.find("Network/Active")
    if active is None:
        return info
    # leaves() reads only the xml_to_map entries used here: the same values as child_map(), without
    # building maps of every SysFS/MII leaf (the typed layer's cost, bench part 2).
    for dev in _DEVICES(active):
        name = dev.get("Name")
        if not name:
            continue
        kind = dev.getparent().tag
        own, parts = _device(dev)
        if kind == "Network":
            info.physical[name] = Interface(name, PHYSICAL, mac=own.get("MAC", ""), boot_proto=own.get("BootProto", ""),
                                            mtu=leaves(parts.get("SysFS"), _MTU).get("mtu"),
                                            metadata=own.get("MetaData", ""))
            continue
        fam = leaves(parts.get("Family"), _FAMILY)
        if kind == "Bridges":
            port = leaves(parts.get("Interfaces"), _PORT).get("PhyInterface", "")
            info.bridges[name] = Interface(
                name, BRIDGE if port else LOCAL, mac=fam.get("MAC", ""), address=fam.get("Address", ""),
                netmask=fam.get("Netmask", ""), broadcast=fam.get("Broadcast", ""), physical=port,
                boot_proto=own.get("BootProto", ""), mtu=fam.get("mtu"))
        else:
            info.bonds[name] = Interface(name, BOND, mac=fam.get("MAC", ""), address=fam.get("Address", ""),
                                         netmask=fam.get("Netmask", ""), mtu=fam.get("mtu"),
                                         boot_proto=own.get("BootProto", ""))
    return info
