"""What the agent says about running domains (``list_vms``) and VM definitions (``get_vm_config``)."""

import dataclasses

from ovm3.errors import ParseError
from ovm3.cloudstack import naming

CONTROL_DOMAIN = "Domain-0"


@dataclasses.dataclass
class Domain:
    """One running domain as ``list_vms`` shows it."""

    name: str
    uuid: str
    flags: str
    repo: str = ""
    vnc: str = ""  # "address:port" of the first vfb
    vcpus: int = 1
    macs: tuple = ()
    memory_mib: int = 0  # list_vms ``memory`` (MiB, as xm reports it)

    @property
    def vnc_port(self):
        try:
            return int(self.vnc.rsplit(":", 1)[1])
        except (IndexError, ValueError):
            return None


def _first(device, kind):
    items = (device or {}).get(kind) or []
    return items[0] if items and isinstance(items[0], dict) else {}


def parse_domains(value):
    """``list_vms`` reply -> ``{name: Domain}`` without Domain-0."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise ParseError("list_vms: expected an array, got %s" % type(value).__name__)
    out = {}
    for item in value:
        if not isinstance(item, dict) or not item.get("name"):
            raise ParseError("list_vms: an entry is not a domain struct")
        name = str(item["name"]).strip()
        if name == CONTROL_DOMAIN:
            continue
        device = item.get("device") if isinstance(item.get("device"), dict) else {}
        uname = _first(device, "vbd").get("uname", "")
        try:
            repo = naming.repo_of_disk_uname(uname) if uname else ""
        except ValueError:
            repo = ""
        try:
            vcpus = int(item.get("online_vcpus") or item.get("vcpus") or 1)
        except (TypeError, ValueError):
            vcpus = 1
        try:
            memory_mib = int(str(item.get("memory") or "0").strip() or 0)
        except ValueError:
            memory_mib = 0
        macs = tuple(v.get("mac", "").lower() for v in device.get("vif") or [] if isinstance(v, dict))
        out[name] = Domain(
            name,
            str(item.get("uuid", "")),
            str(item.get("state", "")),
            repo,
            str(_first(device, "vfb").get("location", "")),
            max(vcpus, 1),
            macs,
            max(memory_mib, 0),
        )
    return out


def list_domains(resource):
    """The host's running domains, straight from the agent."""
    return parse_domains(resource.ask(resource.client.xen.list_vms, raw=True))


def vif_entries(config):
    """``vif`` entries of a vm.cfg struct as ``[(mac, bridge, original string)]``."""
    out = []
    for entry in config.get("vif") or []:
        parts = dict(p.split("=", 1) for p in str(entry).split(",") if "=" in p)
        out.append((parts.get("mac", "").lower(), parts.get("bridge", ""), entry))
    return out


def vif_string(mac, bridge):
    return "mac=%s,bridge=%s" % (mac, bridge)
