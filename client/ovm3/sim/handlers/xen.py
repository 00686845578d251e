"""Xen area: vm.cfg files in repositories and the domains that run them on each host."""

import os
import shutil
import time
import uuid as uuidlib

from ovm3.sim import vmcfg_text
from ovm3.sim.handlers import handles
from ovm3.sim.state import AgentError, Domain
from ovm3.vmcfg import Disk, Vfb, Vif

_INT_KEYS = ("memory", "maxmem", "vcpus", "maxvcpus", "cpu_cap", "cpu_weight")
DOM0_UUID = "00000000-0000-0000-0000-000000000000"


def _cfg_path(h, repo_id, vm_id):
    if "/" in vm_id or vm_id.startswith("."):
        raise AgentError("Invalid VM id: %s" % vm_id, cls="exceptions.ValueError")
    return os.path.join(h.vm_dir(repo_id, vm_id), "vm.cfg")


def read_cfg(h, repo_id, vm_id):
    path = _cfg_path(h, repo_id, vm_id)
    try:
        with open(path, encoding="utf-8") as f:
            return vmcfg_text.parse(f.read())
    except FileNotFoundError:
        raise AgentError(
            "[Errno 2] No such file or directory: '/OVS/Repositories/%s/VirtualMachines/%s/vm.cfg'"
            % (repo_id, vm_id),
            cls="exceptions.IOError",
        ) from None


def _normalise(params, vm_id):
    cfg = dict(params)
    for k in _INT_KEYS:
        if k in cfg:
            try:
                cfg[k] = int(cfg[k])
            except (TypeError, ValueError):
                raise AgentError(
                    "Invalid value for %s: %r" % (k, cfg[k]), cls="exceptions.ValueError"
                ) from None
    if not cfg.get("maxvcpus"):
        cfg["maxvcpus"] = cfg.get("vcpus", 1)
    cfg.setdefault("uuid", vm_id)
    cfg.setdefault("name", vm_id)
    for k in ("disk", "vif", "vfb"):
        cfg[k] = list(cfg.get(k) or [])
    return cfg


def _write_cfg(h, repo_id, vm_id, cfg):
    path = _cfg_path(h, repo_id, vm_id)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(vmcfg_text.render(cfg))
    os.replace(tmp, path)


def running_anywhere(h, vm_id):
    """The host (any simulated host of this world) running ``vm_id``, or None."""
    for other in list(h.world.hosts.values()):
        if vm_id in other.domains:
            return other
    return None


def _domain(h, vm_id):
    dom = h.domains.get(vm_id)
    if dom is None:
        raise AgentError("Domain not found: %s" % vm_id)
    return dom


def _uuid_for(*parts):
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, "/".join(str(p) for p in parts)))


def domain_info(h, dom):
    """One ``list_vms`` element (reference §7.3), all scalars as strings."""
    cfg = dom.config
    vbd, vif, vfb = [], [], []
    for disk in cfg.get("disk", []):
        entry = Disk.parse(disk)
        vbd.append(
            {
                "protocol": "x86_32-abi",
                "uuid": _uuid_for(dom.vm_id, "vbd", disk),
                "bootable": "",
                "dev": "%s:%s" % (entry.device, entry.kind or "disk"),
                "uname": entry.uname,
                "mode": entry.mode,
                "backend": "",
                "VDI": "",
            }
        )
    for v in cfg.get("vif", []):
        kv = Vif.parse(v).options
        vif.append(
            {
                "bridge": kv.get("bridge", ""),
                "mac": kv.get("mac", ""),
                "script": "/etc/xen/scripts/vif-bridge",
                "uuid": _uuid_for(dom.vm_id, "vif", v),
                "backend": "",
            }
        )
    for v in cfg.get("vfb", []):
        kv = Vfb.parse(v).options
        listen = kv.get("vnclisten", "0.0.0.0")
        vfb.append(
            {
                "vncunused": kv.get("vncunused", ""),
                "vnc": "",
                "xauthority": "/root/.Xauthority",
                "vnclisten": listen,
                "vncpasswd": kv.get("vncpasswd", ""),
                "keymap": kv.get("keymap", "en-us"),
                "location": "%s:%d" % (listen, dom.vnc_port),
                "uuid": _uuid_for(dom.vm_id, "vfb", v),
            }
        )
    device = {
        "vif": vif,
        "vkbd": [{"backend": ""}],
        "console": [{"protocol": "vt100", "location": "", "uuid": _uuid_for(dom.vm_id, "console")}],
        "vfb": vfb,
        "vbd": vbd,
    }
    hvm = "hvm" in str(cfg.get("OVM_domain_type", ""))
    return {
        "on_xend_stop": "ignore",
        "console_mfn": str(800000 + dom.domid * 2),
        "features": "",
        "image": {
            "tsc_mode": "",
            "kernel": "",
            "videoram": "",
            "device_model": "/usr/lib/xen/bin/qemu-dm",
            "notes": [["GUEST_OS", "linux"], ["XEN_VERSION", "xen-3.0"], ["PAE_MODE", "yes"]],
            "expose_host_uuid": "",
            "pci": [],
            "superpages": "",
            "nomigrate": "",
        },
        "cpus": [[] for _ in range(dom.vcpus)],
        "store_mfn": str(800001 + dom.domid * 2),
        "uuid": dom.vm_id,
        "on_reboot": str(cfg.get("on_reboot", "restart")),
        "state": dom.state_flags(),
        "cpu_weight": str(cfg.get("cpu_weight", 27500)),
        "online_vcpus": str(dom.vcpus),
        "memory": str(dom.memory),
        "cpu_cap": str(cfg.get("cpu_cap", 0)),
        "status": "2",
        "pool_name": "Pool-0",
        "description": str(cfg.get("OVM_description", "")),
        "start_time": "%.2f" % dom.start_time,
        "on_poweroff": str(cfg.get("on_poweroff", "destroy")),
        "on_xend_start": "ignore",
        "on_crash": str(cfg.get("on_crash", "restart")),
        "device": device,
        "bootloader": "" if hvm else str(cfg.get("bootloader", "/usr/bin/pygrub")),
        "maxmem": str(dom.memory),
        "shadow_memory": "0",
        "name": dom.name,
        "builder": "hvm" if hvm else "linux",
        "bootloader_args": "-q",
        "domid": str(dom.domid),
        "vcpus": str(dom.vcpus),
        "cpu_time": "%.9f" % dom.cpu_time(),
    }


def dom0_info(h):
    mem = str(h.dom0_mb)
    return {
        "on_xend_stop": "ignore",
        "console_mfn": "0",
        "features": "",
        "image": {},
        "cpus": [[] for _ in range(h.cpus)],
        "store_mfn": "0",
        "uuid": DOM0_UUID,
        "on_reboot": "restart",
        "state": "r-----",
        "cpu_weight": "256",
        "online_vcpus": str(h.cpus),
        "memory": mem,
        "cpu_cap": "0",
        "status": "2",
        "pool_name": "Pool-0",
        "description": "",
        "start_time": "%.2f" % h.boot_time,
        "on_poweroff": "destroy",
        "on_xend_start": "ignore",
        "on_crash": "restart",
        "device": {},
        "bootloader": "",
        "maxmem": mem,
        "shadow_memory": "0",
        "name": "Domain-0",
        "builder": "",
        "bootloader_args": "",
        "domid": "0",
        "vcpus": str(h.cpus),
        "cpu_time": "%.9f" % (max(0.0, time.time() - h.boot_time) * 0.05),
    }


@handles("list_vms")
def list_vms(h):
    return [dom0_info(h)] + [domain_info(h, d) for d in sorted(h.domains.values(), key=lambda d: d.domid)]


@handles("list_vm")
def list_vm(h, repo_id, vm_id):
    dom = _domain(h, vm_id)
    if dom.repo_id != repo_id:
        raise AgentError("Domain not found: %s in repository %s" % (vm_id, repo_id))
    return domain_info(h, dom)


@handles("create_vm")
def create_vm(h, repo_id, vm_id, params):
    vm_dir = h.vm_dir(repo_id, vm_id)
    if os.path.exists(os.path.join(vm_dir, "vm.cfg")):
        raise AgentError(
            "[Errno 17] File exists: '/OVS/Repositories/%s/VirtualMachines/%s/vm.cfg'" % (repo_id, vm_id),
            cls="exceptions.OSError",
        )
    os.makedirs(vm_dir, exist_ok=True)
    _write_cfg(h, repo_id, vm_id, _normalise(params, vm_id))


@handles("configure_vm")
def configure_vm(h, repo_id, vm_id, params):
    read_cfg(h, repo_id, vm_id)
    _write_cfg(h, repo_id, vm_id, _normalise(params, vm_id))


@handles("configure_vm_ha")
def configure_vm_ha(h, repo_id, vm_id, enable_ha):
    cfg = read_cfg(h, repo_id, vm_id)
    cfg["OVM_high_availability"] = bool(enable_ha)
    _write_cfg(h, repo_id, vm_id, cfg)


@handles("get_vm_config")
def get_vm_config(h, repo_id, vm_id):
    return read_cfg(h, repo_id, vm_id)


def _check_disks(h, cfg):
    for disk in cfg.get("disk", []):
        path = Disk.parse(disk).path
        if not path.startswith("/") or not os.path.exists(h.path(path)):
            raise AgentError("Error: Disk image does not exist: %s" % path, cls="exceptions.RuntimeError")


def _place(h, vm_id, repo_id, cfg, cpu_seconds=0.0):
    memory = int(cfg.get("memory", 256))
    if memory > h.free_mb():
        raise AgentError(
            "Error: Not enough free memory and enable-dom0-ballooning is False, so I cannot "
            "release any more.  I need %d KiB but only have %d."
            % (memory * 1024, max(0, h.free_mb()) * 1024),
            cls="exceptions.RuntimeError",
        )
    dom = Domain(
        vm_id,
        repo_id,
        str(cfg.get("name", vm_id)),
        h.new_domid(),
        memory,
        int(cfg.get("vcpus", 1)),
        h.vnc_port(),
        cfg,
    )
    dom.cpu_seconds = cpu_seconds
    h.domains[vm_id] = dom
    return dom


@handles("start_vm")
def start_vm(h, repo_id, vm_id):
    cfg = read_cfg(h, repo_id, vm_id)
    other = running_anywhere(h, vm_id)
    if other is not None:
        raise AgentError(
            "Error: Domain '%s' already exists with ID '%d' on %s"
            % (cfg.get("name", vm_id), other.domains[vm_id].domid, other.hostname),
            cls="exceptions.RuntimeError",
        )
    _check_disks(h, cfg)
    _place(h, vm_id, repo_id, cfg)


@handles("stop_vm")
def stop_vm(h, repo_id, vm_id, force=False):
    _domain(h, vm_id)
    del h.domains[vm_id]


@handles("pause_vm")
def pause_vm(h, repo_id, vm_id):
    _domain(h, vm_id).pause()


@handles("reboot_vm")
def reboot_vm(h, repo_id, vm_id, wait=3):
    dom = _domain(h, vm_id)
    dom.unpause()
    dom.domid = h.new_domid()


@handles("delete_vm")
def delete_vm(h, repo_id, vm_id):
    read_cfg(h, repo_id, vm_id)
    other = running_anywhere(h, vm_id)
    if other is not None:
        raise AgentError("Cannot delete VM %s: it is running on %s" % (vm_id, other.hostname))
    shutil.rmtree(h.vm_dir(repo_id, vm_id))


@handles("migrate_vm")
def migrate_vm(h, repo_id, vm_id, dest, live=None, ssl=None):
    dom = _domain(h, vm_id)
    target = h.world.host_by_name_or_ip(dest)
    if target is None or target.down:
        raise AgentError(
            "Error: can't connect: Connection refused (%s:8002)" % dest, cls="exceptions.RuntimeError"
        )
    if target is h:
        raise AgentError("Cannot migrate %s to the host it runs on" % vm_id)
    repo = target.repos.get(repo_id)
    if repo is None or repo.get("status") != "Mounted":
        raise AgentError(
            "Error: Repository %s is not mounted on %s" % (repo_id, dest), cls="exceptions.RuntimeError"
        )
    _check_disks(target, dom.config)
    moved = _place(target, vm_id, repo_id, dom.config, dom.cpu_time())
    moved.start_time = dom.start_time
    del h.domains[vm_id]
    target.save()
