"""Read the few facts the resource layer needs from the agent's ``discover_*`` XML documents.

The documents arrive inside XML-RPC strings; they are parsed with defusedxml (no entities, no DTDs).
Element names follow the recorded agents (``Is_Current_Master``/``Master_Virtual_Ip``), with the
renamed CloudStack spellings accepted as well.
"""

from defusedxml import ElementTree

from ovm3.errors import ParseError


def _root(doc, what):
    if not isinstance(doc, str) or not doc.strip():
        raise ParseError("%s: expected an XML document, got %r" % (what, type(doc).__name__))
    try:
        return ElementTree.fromstring(doc.encode("utf-8"))
    except Exception as e:  # defusedxml raises several unrelated types
        raise ParseError("%s: unreadable XML document (%s)" % (what, type(e).__name__)) from None


def _leaves(node):
    return {c.tag: (c.text or "").strip() for c in list(node) if len(c) == 0} if node is not None else {}


def server(doc):
    """``discover_server`` -> dict of the Server element's leaves plus ``Capabilities`` and ``VMM``."""
    root = _root(doc, "discover_server")
    srv = root.find("Server")
    info = _leaves(srv)
    if srv is not None:
        vmm = srv.find("VMM")
        info["VMM_Capabilities"] = (vmm.findtext("Capabilities") or "").strip() if vmm is not None else ""
        version = vmm.find("Version") if vmm is not None else None
        if version is not None:
            v = _leaves(version)
            info["Hypervisor_Version"] = "%s.%s%s" % (
                v.get("Major", ""),
                v.get("Minor", ""),
                v.get("Extra", ""),
            )
        caps = srv.find("Capabilities")
        info["Capabilities"] = sorted(_leaves(caps)) if caps is not None else []
    if "Is_Current_Master" not in info and "Is_Primary" in info:
        info["Is_Current_Master"] = info["Is_Primary"]
    if "Master_Virtual_Ip" not in info and "Primary_Virtual_Ip" in info:
        info["Master_Virtual_Ip"] = info["Primary_Virtual_Ip"]
    return info


def hardware(doc):
    """``discover_hardware`` -> the PhysicalInfo leaves as ints where numeric."""
    root = _root(doc, "discover_hardware")
    phys = root.find("NodeInformation/VMM/PhysicalInfo")
    out = {}
    for k, v in _leaves(phys).items():
        try:
            out[k] = int(v)
        except ValueError:
            out[k] = v
    return out


def bridges(doc):
    """``discover_network`` -> ``{bridge: {"address", "netmask", "mac", "phys"}}``."""
    root = _root(doc, "discover_network")
    out = {}
    for dev in root.findall("Network/Active/Bridges/Device"):
        fam = dev.find("Family")
        fam = _leaves(fam) if fam is not None else {}
        out[dev.get("Name")] = {
            "address": fam.get("Address"),
            "netmask": fam.get("Netmask"),
            "mac": fam.get("MAC"),
            "phys": (dev.findtext("Interfaces/PhyInterface") or None),
        }
    return out


def mounts(doc):
    """``discover_mounted_file_systems`` -> ``{mount dir: device "host:/path"}``."""
    root = _root(doc, "discover_mounted_file_systems")
    return {
        m.get("Dir"): (m.findtext("Device") or "").strip()
        for m in root.findall("Filesystem/Mount")
        if m.get("Dir")
    }


def pool(doc):
    """``discover_server_pool`` -> ``{"id", "alias", "vip", "members"}`` or None when not pooled."""
    root = _root(doc, "discover_server_pool")
    sp = root.find("Server_Pool")
    if sp is None or not (sp.findtext("Unique_Id") or "").strip():
        return None
    vip = sp.findtext("Master_Virtual_Ip") or sp.findtext("Primary_Virtual_Ip") or ""
    return {
        "id": sp.findtext("Unique_Id").strip(),
        "alias": (sp.findtext("Pool_Alias") or "").strip(),
        "vip": vip.strip(),
        "members": [(e.text or "").strip() for e in sp.iter("Registered_IP")],
    }


def pool_filesystem(doc):
    """``discover_pool_filesystem`` -> the Pool_Filesystem leaves, or None when there is none."""
    root = _root(doc, "discover_pool_filesystem")
    pf = root.find("Pool_Filesystem")
    info = _leaves(pf)
    return info if info.get("Pool_Filesystem_Uuid") else None
