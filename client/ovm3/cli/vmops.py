"""What the operator's ``ovm3 vm`` commands do to a host, built on the CloudStack layer's pieces.

Every operation takes a :class:`ovm3.cloudstack.resource.HostResource` whose client is a
:class:`ovm3.recording.RecordingClient` (so a dry run makes the same decisions and lists the same
calls) and returns a :class:`Result`. Definitions are ``vmcfg.VmConfig``; running domains come from
``list_vms`` through :func:`ovm3.cloudstack.domains.list_domains`; VLAN bridges are made by
:func:`ovm3.cloudstack.network.ensure_vlan_bridge`; waits poll like the CloudStack handlers do.

Unlike CloudStack (whose StartCommand defines and starts, and StopCommand stops and deletes), an
operator's VM keeps its definition: create defines, start starts, stop stops, delete removes.
"""
import hashlib
import re
from dataclasses import dataclass, field
from typing import Optional

from ovm3 import errors
from ovm3.cloudstack import naming
from ovm3.cloudstack.domains import list_domains
from ovm3.cloudstack.network import bridges, ensure_vlan_bridge
from ovm3.cloudstack.vm import wait_for_domain
from ovm3.parse.vm import VmInfo
from ovm3.vmcfg import VmConfig

VM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")
REPO_ID = re.compile(r"[0-9a-f]{32}")
BRIDGE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,14}")
MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
#: Oracle's OUI, as Oracle VM Manager gives its guests.
MAC_PREFIX = "00:21:f6"
DISK_IMAGE_SUFFIXES = (".img", ".raw")


def _check(pattern, value, what):
    if not isinstance(value, str) or not pattern.fullmatch(value) or ".." in value:
        raise errors.UsageError("not a valid %s: %r" % (what, value))
    return value


def check_vm_name(name):
    return _check(VM_NAME, name, "VM name (letters, digits, '_', '.', '-'; at most 64)")


def check_repo_id(repo_id):
    return _check(REPO_ID, naming.dedash(str(repo_id)).lower(), "repository id (32 hex digits)")


def check_file_name(name, what="file name"):
    return _check(FILE_NAME, name, what)


def check_mac(mac):
    return _check(MAC, str(mac).lower(), "MAC address (aa:bb:cc:dd:ee:ff)")


def repo_file(repo_id, folder, name):
    """``/OVS/Repositories/<repo>/<folder>/<name>`` from validated parts."""
    return "%s/%s/%s/%s" % (naming.REPO_ROOT, check_repo_id(repo_id), folder, check_file_name(name))


def stable_mac(seed):
    """A MAC in Oracle's OUI derived from ``seed`` (the same VM and NIC index give the same MAC)."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return MAC_PREFIX + "".join(":%02x" % b for b in digest[:3])


@dataclass
class Result:
    """One operation's outcome: a one-line ``message`` and what it acted on (``vm`` uuid...)."""

    message: str
    vm: str = ""
    name: str = ""
    host: str = ""
    details: dict = field(default_factory=dict)


@dataclass
class VmRef:
    """A VM found on a host: defined (``config`` from vm.cfg) and/or running (``domain``)."""

    name: str
    uuid: str
    repo_id: str
    config: Optional[VmConfig] = None
    domain: Optional[VmInfo] = None

    @property
    def state(self):
        if self.domain is None:
            return "Stopped"
        return "Running" if self.domain.state[:1] in ("r", "b", "-") else self.domain.state


def mounted_repos(resource):
    """Ids of the repositories mounted on the host."""
    db = resource.ask(resource.client.repository.discover_repository_db)
    return [r.uuid for r in db if r.mounted]


def defined_vms(resource):
    """``[VmRef]`` for every vm.cfg in the host's mounted repositories (running or not)."""
    found = []
    repos = mounted_repos(resource)
    if not repos:
        return found
    content = resource.ask(resource.client.repository.discover_repositories, ",".join(repos))
    for repo in content:
        for vm_id in repo.virtual_machines:
            try:
                cfg = resource.ask(resource.client.xen.get_vm_config, repo.id, vm_id)
            except errors.OVM3Error:
                continue  # a directory without a readable vm.cfg is not a VM
            found.append(VmRef(cfg.name or vm_id, cfg.uuid or vm_id, repo.id, config=cfg))
    return found


def all_vms(resource):
    """Running domains and stopped definitions, one :class:`VmRef` each (Domain-0 left out)."""
    running = list_domains(resource)
    refs = {}
    for ref in defined_vms(resource):
        refs[ref.uuid] = ref
    for dom in running.values():
        ref = refs.get(dom.uuid)
        if ref is None:
            refs[dom.uuid] = VmRef(dom.name, dom.uuid, dom.repo_id or "", domain=dom)
        else:
            ref.domain = dom
    return sorted(refs.values(), key=lambda r: (r.name, r.uuid))


def find_vm(resource, name):
    """The VM called ``name`` (or with that uuid), running or defined; an error naming the host if none."""
    running = [d for d in list_domains(resource).values() if name in (d.name, d.uuid)]
    if running:
        dom = running[0]
        ref = VmRef(dom.name, dom.uuid, dom.repo_id or "", domain=dom)
        if dom.repo_id:
            try:
                ref.config = resource.ask(resource.client.xen.get_vm_config, dom.repo_id, dom.uuid)
            except errors.OVM3Error:
                pass  # a domain xend runs without a vm.cfg in a repository (started by hand)
        return ref
    for ref in defined_vms(resource):
        if name in (ref.name, ref.uuid):
            return ref
    raise errors.OVM3Error("no VM named %s on this host" % name, host=resource.host,
                           hint="see ovm3 vm list --all")


def _need_config(ref):
    if ref.config is None or not ref.repo_id:
        raise errors.OVM3Error("VM %s has no vm.cfg in a repository of this host" % ref.name)
    return ref.config


# ---- NICs -------------------------------------------------------------------------------------------
def parse_nic(spec):
    """``BRIDGE``, ``BRIDGE:VLAN``, either with ``,mac=MAC`` -> ``(bridge, vlan or None, mac or None)``."""
    head, _, tail = str(spec).partition(",")
    mac = None
    if tail:
        key, sep, value = tail.partition("=")
        if key != "mac" or not sep:
            raise errors.UsageError("NIC %r: want BRIDGE[:VLAN][,mac=MAC]" % spec)
        mac = check_mac(value)
    bridge, sep, vlan = head.partition(":")
    _check(BRIDGE, bridge, "bridge name")
    if not sep:
        return bridge, None, mac
    if not vlan.isdigit() or not 1 <= int(vlan) <= naming.MAX_VLAN:
        raise errors.UsageError("NIC %r: VLAN must be 1..%d" % (spec, naming.MAX_VLAN))
    return bridge, int(vlan), mac


def nic_bridge(resource, bridge, vlan):
    """The bridge a NIC plugs into: ``bridge`` itself, or its VLAN bridge (created when missing)."""
    if vlan is None:
        if bridge not in bridges(resource):
            raise errors.OVM3Error("bridge %s does not exist" % bridge, host=resource.host,
                                   hint="see ovm3 network list")
        return bridge
    return ensure_vlan_bridge(resource, bridge, vlan)


# ---- create -----------------------------------------------------------------------------------------
@dataclass
class CreateSpec:
    """What ``vm create`` was asked for (validated by :func:`create`)."""

    name: str
    repo_id: str
    memory: int = 512
    vcpus: int = 1
    template: str = ""
    disks: tuple = ()
    iso: str = ""
    nics: tuple = ()
    vnc: bool = True
    vnc_listen: str = "0.0.0.0"
    vnc_password: Optional[str] = None
    hvm: bool = False


def _template_image(resource, repo_id, template):
    content = resource.ask(resource.client.repository.discover_repositories, repo_id).get(repo_id)
    if content is None:
        raise errors.OVM3Error("repository %s is not mounted on this host" % repo_id, host=resource.host)
    name, _, image = template.partition("/")
    check_file_name(name, "template name")
    if not image:
        raise errors.UsageError("--template %s: name the disk image too, as TEMPLATE/IMAGE "
                                "(see ovm3 repo show %s)" % (name, repo_id))
    check_file_name(image, "template image")
    if not image.endswith(DISK_IMAGE_SUFFIXES):
        raise errors.UsageError("template image %s is not a disk image (%s)" % (
            image, ", ".join(DISK_IMAGE_SUFFIXES)))
    # discover_repositories lists each template's files, not which template holds them: copy_file
    # itself fails (naming the path) when TEMPLATE has no such IMAGE.
    if image not in content.templates:
        raise errors.OVM3Error("no template image %s in repository %s" % (image, repo_id),
                               host=resource.host, hint="see ovm3 repo show %s" % repo_id)
    return "%s/%s/%s/%s/%s" % (naming.REPO_ROOT, repo_id, naming.TEMPLATES, name, image)


def create(resource, spec):
    """Define a VM (``create_vm``); a template disk is copied first. Returns its uuid in the Result."""
    check_vm_name(spec.name)
    repo_id = check_repo_id(spec.repo_id)
    if spec.memory < 64 or spec.vcpus < 1 or spec.vcpus > 128:
        raise errors.UsageError("memory must be at least 64 MiB and vcpus 1..128")
    if not spec.template and not spec.disks and not spec.iso:
        raise errors.UsageError("a VM needs a disk: --template, --disk or --iso")
    if repo_id not in mounted_repos(resource):
        raise errors.OVM3Error("repository %s is not mounted on this host" % repo_id, host=resource.host,
                               hint="see ovm3 repo list")
    vm_id = naming.vm_uuid(spec.name)
    if any(vm_id == r.uuid or spec.name == r.name for r in all_vms(resource)):
        raise errors.OVM3Error("a VM named %s already exists on this host" % spec.name, host=resource.host)
    hvm = spec.hvm or bool(spec.iso)
    cfg = VmConfig(name=spec.name, uuid=vm_id, memory=spec.memory, vcpus=spec.vcpus, maxvcpus=spec.vcpus,
                   domain_type="xen_hvm" if hvm else "xen_pvm", bootloader="" if hvm else "/usr/bin/pygrub",
                   guest_os_type="default" if hvm else "linux")
    if spec.template:
        src = _template_image(resource, repo_id, spec.template)
        dst = repo_file(repo_id, naming.VIRTUAL_DISKS, naming.name_uuid(spec.name + "/disk0") + ".img")
        resource.ask(resource.client.linux.copy_file, src, dst, True)
        cfg.add_disk(dst, "w")
    for disk in spec.disks:
        cfg.add_disk(repo_file(repo_id, naming.VIRTUAL_DISKS, disk), "w")
    if spec.iso:
        cfg.add_iso(repo_file(repo_id, naming.ISOS, spec.iso))
    for index, nic in enumerate(spec.nics):
        bridge, vlan, mac = parse_nic(nic)
        cfg.add_vif(mac or stable_mac("%s/nic%d" % (vm_id, index)), nic_bridge(resource, bridge, vlan))
    if spec.vnc:
        cfg.set_vnc(spec.vnc_listen, spec.vnc_password)
    resource.ask(resource.client.xen.create_vm, repo_id, vm_id, cfg.to_params())
    return Result("created VM %s (%s) in repository %s" % (spec.name, vm_id, repo_id), vm_id, spec.name,
                  resource.host, {"repo": repo_id, "disks": [d.path for d in cfg.disks],
                                  "vifs": [v.render() for v in cfg.vifs]})


# ---- power ------------------------------------------------------------------------------------------
def _wait(resource, name, present, timeout):
    if not resource.client.dry_run:
        wait_for_domain(resource, name, present, timeout)


def start(resource, name):
    ref = find_vm(resource, name)
    if ref.domain is not None:
        return Result("VM %s is already running" % ref.name, ref.uuid, ref.name, resource.host)
    _need_config(ref)
    with resource.vms.lock(ref.name):
        resource.ask(resource.client.xen.start_vm, ref.repo_id, ref.uuid)
        _wait(resource, ref.name, True, resource.stop_timeout)
    return Result("started VM %s" % ref.name, ref.uuid, ref.name, resource.host)


def stop(resource, name, force=False):
    ref = find_vm(resource, name)
    if ref.domain is None:
        return Result("VM %s is not running" % ref.name, ref.uuid, ref.name, resource.host)
    with resource.vms.lock(ref.name):
        resource.ask(resource.client.xen.stop_vm, ref.repo_id, ref.uuid, bool(force))
        _wait(resource, ref.name, False, resource.stop_timeout)
    return Result("%s VM %s" % ("forced off" if force else "stopped", ref.name), ref.uuid, ref.name,
                  resource.host)


def reboot(resource, name):
    ref = find_vm(resource, name)
    if ref.domain is None:
        raise errors.OVM3Error("VM %s is not running" % ref.name, host=resource.host,
                               hint="ovm3 vm start %s" % ref.name)
    with resource.vms.lock(ref.name):
        resource.ask(resource.client.xen.reboot_vm, ref.repo_id, ref.uuid, 3)
        _wait(resource, ref.name, True, resource.stop_timeout)
    return Result("rebooted VM %s" % ref.name, ref.uuid, ref.name, resource.host)


def delete(resource, name):
    ref = find_vm(resource, name)
    if ref.domain is not None:
        raise errors.OVM3Error("VM %s is running" % ref.name, host=resource.host,
                               hint="stop it first: ovm3 vm stop %s" % ref.name)
    _need_config(ref)
    resource.ask(resource.client.xen.delete_vm, ref.repo_id, ref.uuid)
    return Result("deleted VM %s (its disks stay in repository %s)" % (ref.name, ref.repo_id), ref.uuid,
                  ref.name, resource.host)


# ---- migrate ----------------------------------------------------------------------------------------
def migrate(resource, dest, name):
    """Live-migrate ``name`` to the host of ``dest`` (another HostResource), after checking that host
    answers, has the VM's repository mounted and the memory free; waits until it runs there."""
    ref = find_vm(resource, name)
    if ref.domain is None:
        raise errors.OVM3Error("VM %s is not running (start it, or start it on the other host)" % ref.name,
                               host=resource.host)
    info = dest.ask(dest.client.linux.discover_server)
    target = info.registered_ip or info.hostname
    if not target:
        raise errors.OVM3Error("destination does not say its address", host=dest.host)
    here = resource.ask(resource.client.linux.discover_server)
    if here.unique_id and here.unique_id == info.unique_id:
        raise errors.UsageError("VM %s already runs on %s" % (ref.name, dest.host))
    if ref.repo_id not in mounted_repos(dest):
        raise errors.OVM3Error("repository %s of VM %s is not mounted on the destination" % (
            ref.repo_id, ref.name), host=dest.host, hint="ovm3 repo add on the destination first")
    free_mib = (dest.ask(dest.client.linux.discover_hardware).free_memory or 0) // (1024 * 1024)
    need = ref.domain.memory or 0
    if need > free_mib:
        raise errors.OVM3Error("destination has %d MiB free, VM %s needs %d MiB" % (free_mib, ref.name, need),
                               host=dest.host)
    with resource.vms.lock(ref.name):
        resource.ask(resource.client.xen.migrate_vm, ref.repo_id, ref.uuid, target)
        _wait(resource, ref.name, False, resource.migrate_timeout)
        _wait(dest, ref.name, True, resource.migrate_timeout)
    return Result("migrated VM %s to %s (%s)" % (ref.name, dest.host, target), ref.uuid, ref.name,
                  resource.host, {"destination": dest.host, "destination_address": target})


# ---- console ----------------------------------------------------------------------------------------
def console(resource, name, host_address):
    """``{"address", "port", "password"}`` of a running VM's VNC console (password None when unset)."""
    ref = find_vm(resource, name)
    if ref.domain is None or ref.domain.vnc_port is None:
        raise errors.OVM3Error("VM %s has no VNC console now (is it running?)" % ref.name, host=resource.host)
    address = ref.domain.vnc_address or ""
    if address in ("", "0.0.0.0", "::"):
        address = host_address
    password = None
    if ref.config is not None and ref.config.vfbs:
        password = ref.config.vfbs[0].options.get("vncpasswd") or None
    return {"vm": ref.name, "address": address, "port": ref.domain.vnc_port, "password": password}


# ---- disks and NICs ---------------------------------------------------------------------------------
def _reconfigure(resource, ref, cfg):
    resource.ask(resource.client.xen.configure_vm, ref.repo_id, ref.uuid, cfg.to_params())


def _later(ref):
    return " (takes effect at its next start)" if ref.domain is not None else ""


def disk_attach(resource, name, disk, mode="w", iso=False):
    ref = find_vm(resource, name)
    cfg = _need_config(ref)
    path = repo_file(ref.repo_id, naming.ISOS if iso else naming.VIRTUAL_DISKS, disk)
    if cfg.find_disk(path) is not None:
        return Result("%s is already attached to VM %s" % (disk, ref.name), ref.uuid, ref.name, resource.host)
    added = cfg.add_iso(path) if iso else cfg.add_disk(path, mode)
    _reconfigure(resource, ref, cfg)
    return Result("attached %s to VM %s as %s%s" % (disk, ref.name, added.device, _later(ref)), ref.uuid,
                  ref.name, resource.host, {"device": added.device, "path": path})


def disk_detach(resource, name, disk):
    ref = find_vm(resource, name)
    cfg = _need_config(ref)
    match = [d for d in cfg.disks if d.device == disk or d.path.rsplit("/", 1)[-1] == disk]
    if not match:
        raise errors.OVM3Error("VM %s has no disk %s" % (ref.name, disk), host=resource.host,
                               hint="see ovm3 vm show %s" % ref.name)
    cfg.disks.remove(match[0])
    _reconfigure(resource, ref, cfg)
    return Result("detached %s from VM %s%s" % (match[0].path, ref.name, _later(ref)), ref.uuid, ref.name,
                  resource.host, {"device": match[0].device, "path": match[0].path})


def nic_add(resource, name, spec):
    ref = find_vm(resource, name)
    cfg = _need_config(ref)
    bridge, vlan, mac = parse_nic(spec)
    mac = mac or stable_mac("%s/nic%d" % (ref.uuid, len(cfg.vifs)))
    if cfg.vif_index(mac) >= 0:
        raise errors.UsageError("VM %s already has a NIC with MAC %s" % (ref.name, mac))
    cfg.add_vif(mac, nic_bridge(resource, bridge, vlan))
    _reconfigure(resource, ref, cfg)
    return Result("added NIC %s on %s to VM %s%s" % (mac, cfg.vifs[-1].bridge, ref.name, _later(ref)),
                  ref.uuid, ref.name, resource.host, {"mac": mac, "bridge": cfg.vifs[-1].bridge})


def nic_remove(resource, name, mac):
    ref = find_vm(resource, name)
    cfg = _need_config(ref)
    mac = check_mac(mac)
    if not cfg.remove_vif(mac):
        raise errors.OVM3Error("VM %s has no NIC with MAC %s" % (ref.name, mac), host=resource.host)
    _reconfigure(resource, ref, cfg)
    return Result("removed NIC %s from VM %s%s" % (mac, ref.name, _later(ref)), ref.uuid, ref.name,
                  resource.host, {"mac": mac})
