"""Xen VM replies: ``list_vms`` / ``list_vm`` (live xend data, §7.3) and ``get_vm_config`` (vm.cfg, §7.2).

``list_vms`` of a full host holds hundreds of structs, so each element is converted with a handful of
dictionary look-ups and string splits: no regular expressions, no copies of the raw struct.
"""
from dataclasses import dataclass, field
from typing import List, Optional

from ovm3.errors import ParseError
from ovm3.parse.basic import type_name

CONTROL_DOMAIN = "Domain-0"


@dataclass
class VmInfo:
    """One running domain as xend reports it. Numbers are None where xend left them empty."""

    name: str
    uuid: str = ""
    state: str = ""
    domid: Optional[int] = None
    memory: Optional[int] = None
    maxmem: Optional[int] = None
    vcpus: Optional[int] = None
    #: vCPUs online now (xend's ``online_vcpus``); None where the reply has no such field.
    online_vcpus: Optional[int] = None
    cpu_time: Optional[float] = None
    start_time: Optional[float] = None
    builder: str = ""
    #: ``hvm`` for HVM guests, ``xen_pvm`` otherwise (from ``builder``).
    domain_type: str = ""
    #: Repository id from the first disk (``file:/OVS/Repositories/<repo>/...``), None when unknown.
    repo_id: Optional[str] = None
    vnc_address: Optional[str] = None
    vnc_port: Optional[int] = None
    disks: List[str] = field(default_factory=list)
    vifs: List[dict] = field(default_factory=list)

    @property
    def is_control_domain(self):
        return self.name == CONTROL_DOMAIN

    @property
    def running(self):
        return self.state[:1] == "r"

    @property
    def cpu_count(self):
        """The vCPUs the domain runs on: online ones, else configured ones, at least 1."""
        return max(self.online_vcpus or self.vcpus or 1, 1)


def _text(raw, key):
    v = raw.get(key)
    if v is None:
        return ""
    if v.__class__ is str:
        return v.strip()
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return str(v)
    raise ParseError("VM field %s: expected a string, got %s" % (key, type_name(v)))


def _int(raw, key):
    t = _text(raw, key)
    if not t:
        return None
    if t.isdigit() or (t[0] == "-" and t[1:].isdigit()):
        return int(t)
    try:
        return int(float(t))
    except (ValueError, OverflowError):
        raise ParseError("VM field %s: not a number: %.40r" % (key, t)) from None


def _float(raw, key):
    t = _text(raw, key)
    if not t:
        return None
    try:
        return float(t)
    except ValueError:
        raise ParseError("VM field %s: not a number: %.40r" % (key, t)) from None


def _devices(device, kind):
    items = device.get(kind)
    if items is None:
        return ()
    if not isinstance(items, (list, tuple)):
        raise ParseError("VM device.%s: expected an array, got %s" % (kind, type_name(items)))
    for item in items:
        if not isinstance(item, dict):
            raise ParseError("VM device.%s: expected structs, got %s" % (kind, type_name(item)))
    return items


def to_vm_info(raw):
    """One ``list_vm`` struct (or ``list_vms`` element) -> :class:`VmInfo`."""
    if not isinstance(raw, dict):
        raise ParseError("VM: expected a struct, got %s" % type_name(raw))
    name = _text(raw, "name")
    if not name:
        raise ParseError("VM: struct has no name")
    builder = _text(raw, "builder")
    info = VmInfo(name, uuid=_text(raw, "uuid"), state=_text(raw, "state"), domid=_int(raw, "domid"),
                  memory=_int(raw, "memory"), maxmem=_int(raw, "maxmem"), vcpus=_int(raw, "vcpus"),
                  online_vcpus=_int(raw, "online_vcpus"),
                  cpu_time=_float(raw, "cpu_time"), start_time=_float(raw, "start_time"), builder=builder,
                  domain_type="hvm" if builder == "hvm" else "xen_pvm")
    device = raw.get("device")
    if device is None:
        return info
    if not isinstance(device, dict):
        raise ParseError("VM %s: device must be a struct, got %s" % (name, type_name(device)))
    for vbd in _devices(device, "vbd"):
        uname = _text(vbd, "uname")
        if uname:
            info.disks.append(uname)
    if info.disks:
        parts = info.disks[0].split("/")
        if len(parts) > 3 and parts[2] == "Repositories":
            info.repo_id = parts[3]
    for vif in _devices(device, "vif"):
        info.vifs.append({"mac": _text(vif, "mac"), "bridge": _text(vif, "bridge")})
    vfbs = _devices(device, "vfb")
    if vfbs:
        location = _text(vfbs[0], "location")
        host, sep, port = location.rpartition(":")
        if sep and port.isdigit():
            info.vnc_address = host
            info.vnc_port = int(port)
    return info


def to_vm_list(value):
    """``list_vms`` reply (array of structs, Domain-0 included) -> list of :class:`VmInfo`."""
    if not isinstance(value, (list, tuple)):
        raise ParseError("list_vms: expected an array, got %s" % type_name(value))
    return [to_vm_info(raw) for raw in value]


def to_vm_config(value):
    """``get_vm_config`` reply (vm.cfg as a struct) -> :class:`ovm3.vmcfg.VmConfig`; nil gives an empty
    one."""
    from ovm3.vmcfg import VmConfig

    if value is None:
        return VmConfig()
    return VmConfig.from_params(value)
