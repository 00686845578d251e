"""VM commands: start, stop, reboot, migrate, prepare for migration, check, VNC port, stats, NIC plug/unplug.

Each operation holds the VM's own lock (never a host-wide lock) and records its transitional state;
waits for the agent to catch up poll ``list_vms`` until a deadline.
"""

from ovm3.cloudstack import answers, naming, state
from ovm3.cloudstack.domains import list_domains, vif_entries, vif_string
from ovm3.cloudstack.network import bridge_for_nic, ensure_control
from ovm3.cloudstack.registry import CommandError, handles, need, unwrap
from ovm3.cloudstack.stats import vm_stats_entry
from ovm3.cloudstack.storage import iso_path

VNC_TEMPLATE = "type=vnc,vncunused=1,vnclisten=%s,keymap=en-us,vncpasswd=%s"
DOMAIN_TYPES = {"hvm": "hvm", "pv": "xen_pvm", "xen_pvm": "xen_pvm"}


# ---- vm.cfg from a VirtualMachineTO ---------------------------------------------------------------------
def _device(index, hvm):
    letter = chr(ord("a") + index)
    return ("hd" if hvm else "xvd") + letter


def disk_entries(resource, vm, hvm):
    """``disk`` strings for the TO's disks in device order, and the root disk's pool uuid."""
    entries, root_pool = [], None
    disks = sorted(vm.get("disks") or [], key=lambda d: int(d.get("diskSeq") or 0))
    for disk in disks:
        kind = disk.get("type")
        cls, data = unwrap(disk.get("data"))
        if kind in ("ROOT", "DATADISK"):
            _scls, store = unwrap(data.get("dataStore"))
            pool = need(store, "uuid", "volume data store")
            path = naming.volume_path(pool, data.get("path") or need(data, "uuid", "volume"))
            mode = "w" if kind == "ROOT" else "w!"
            if kind == "ROOT":
                root_pool = pool
            entries.append((path, mode))
        elif kind == "ISO":
            if not data.get("path"):
                continue  # an empty CD drive
            entries.append((iso_path(resource, data), "r"))
        else:
            raise CommandError("unsupported disk type %r" % kind)
    if root_pool is None:
        raise CommandError("VM %s has no ROOT disk" % vm.get("name"))
    return entries, root_pool


def build_vm_config(resource, vm):
    """The ``create_vm`` params struct for a VirtualMachineTO (see reference Appendix C)."""
    name = need(vm, "name", "vm")
    hvm = str(vm.get("bootloader") or "").upper() == "HVM" or "hvm" in str(vm.get("platformEmulator") or "")
    system_vm = (vm.get("type") or "User") != "User"
    disks, root_pool = disk_entries(resource, vm, hvm)
    if system_vm:
        disks.append((naming.systemvm_iso_path(root_pool), "r"))
    disk_strings = []
    for index, (path, mode) in enumerate(disks):
        dev = _device(index, hvm)
        if path.endswith(".iso"):
            disk_strings.append("file:%s,%s:cdrom,r" % (path, dev))
        else:
            disk_strings.append("file:%s,%s,%s" % (path, dev, mode))
    if system_vm:
        ensure_control(resource)
    nics = sorted(vm.get("nics") or [], key=lambda n: int(n.get("deviceId") or 0))
    vifs = [vif_string(need(n, "mac", "nic"), bridge_for_nic(resource, n)) for n in nics]
    cpus = int(vm.get("cpus") or 1)
    memory_mib = max(int(vm.get("minRam") or 0) // (1024 * 1024), 1)
    params = {
        "name": name,
        "OVM_simple_name": name,
        "uuid": naming.vm_uuid(name),
        "memory": memory_mib,
        "maxmem": max(int(vm.get("maxRam") or 0) // (1024 * 1024), memory_mib),
        "vcpus": cpus,
        "maxvcpus": max(int(vm.get("vcpuMaxLimit") or cpus), cpus),
        "cpu_weight": 27500,
        "cpu_cap": 0,
        "on_reboot": "restart",
        "on_poweroff": "destroy",
        "on_crash": "restart",
        "bootloader": "" if hvm else "/usr/bin/pygrub",
        "bootargs": "",
        "extra": (vm.get("bootArgs") or "").strip().replace(" ", "%") if system_vm else "",
        "guest_os_type": "linux" if not hvm else "default",
        "OVM_domain_type": "xen_hvm" if hvm else "xen_pvm",
        "OVM_high_availability": bool(vm.get("enableHA")) and resource.config.pool,
        "OVM_description": vm.get("os") or "",
        "OVM_cpu_compat_group": "",
        "disk": disk_strings,
        "vif": vifs,
        "vfb": [VNC_TEMPLATE % (vm.get("vncAddr") or "0.0.0.0", vm.get("vncPassword") or "")],
    }
    return params, naming.repo_id(root_pool)


def _wait_for(resource, name, present, timeout):
    """Poll list_vms until the domain is (or is no longer) there; returns its VmInfo or None."""
    deadline = resource.deadline(timeout)
    while deadline.wait():
        dom = list_domains(resource).get(name)
        if (dom is not None) == present:
            return dom
    raise CommandError(
        "VM %s %s host %s within %.0f s"
        % (name, "did not appear on" if present else "is still on", resource.host, timeout)
    )


#: Public name for the operator's ``ovm3 vm`` commands (ovm3.cli.vmops), which wait the same way.
wait_for_domain = _wait_for


def _running(resource, name):
    dom = list_domains(resource).get(name)
    if dom is None:
        raise CommandError("VM %s is not running on host %s" % (name, resource.host))
    if not dom.repo_id:
        raise CommandError("VM %s: cannot tell its repository from its first disk" % name)
    return dom


def _begin(resource, name, event):
    """The running domain ``name``, its state synced to Running and ``event`` (reboot, migrate) recorded.

    Call with the VM's lock held; the transition then lags in the state table until the caller forces
    the outcome.
    """
    dom = _running(resource, name)
    resource.vms.force(name, state.RUNNING)
    resource.vms.event(name, event)
    return dom


# ---- handlers ----
@handles("StartCommand", "StartAnswer")
def start(resource, cmd):
    vm = need(cmd, "vm")
    name = need(vm, "name", "vm")
    with resource.vms.lock(name):
        existing = list_domains(resource).get(name)
        if existing is not None:
            resource.vms.force(name, state.RUNNING)
            return answers.answer(
                "StartAnswer", True, "VM %s already running" % name, vm=vm, hostGuid=resource.config.guid
            )
        if resource.vms.get(name) not in (state.STOPPED, state.UNKNOWN, state.ERROR):
            resource.vms.force(name, state.STOPPED)
        resource.vms.event(name, "start")
        created = False
        try:
            with resource.step("build vm.cfg"):
                params, repo = build_vm_config(resource, vm)
            vm_id = params["uuid"]
            with resource.step(resource.client.xen.create_vm):
                resource.client.xen.create_vm(repo, vm_id, params)
                created = True
            resource.ask(resource.client.xen.start_vm, repo, vm_id)
            with resource.step("wait for domain"):
                _wait_for(resource, name, True, resource.stop_timeout)
            if params["OVM_high_availability"]:
                resource.ask(resource.client.xen.configure_vm_ha, repo, vm_id, True)
        except Exception:
            resource.vms.event(name, "start_failed")
            if created:
                _cleanup_definition(resource, repo, vm_id)
            raise
        resource.vms.event(name, "started")
    return answers.answer(
        "StartAnswer",
        True,
        "VM %s started on %s" % (name, resource.host),
        vm=vm,
        hostGuid=resource.config.guid,
    )


def _cleanup_definition(resource, repo, vm_id):
    """Best effort: remove a VM definition left by a failed start (the failure is already reported)."""
    try:
        resource.client.xen.delete_vm(repo, vm_id)
    except Exception:  # noqa: BLE001
        pass


@handles("StopCommand", "StopAnswer")
def stop(resource, cmd):
    name = need(cmd, "vmName")
    with resource.vms.lock(name):
        resource.vms.event(name, "stop")
        dom = list_domains(resource).get(name)
        if dom is None:
            resource.vms.event(name, "stopped")
            resource.stats_cache.pop(name, None)
            return answers.answer("StopAnswer", True, "VM %s is not running on %s" % (name, resource.host))
        try:
            resource.ask(resource.client.xen.stop_vm, dom.repo_id, dom.uuid, bool(cmd.get("forceStop")))
            try:
                with resource.step("wait for shutdown"):
                    _wait_for(resource, name, False, resource.stop_timeout)
            except CommandError:
                with resource.step("stop_vm force"):
                    resource.client.xen.stop_vm(dom.repo_id, dom.uuid, True)
                with resource.step("wait for forced shutdown"):
                    _wait_for(resource, name, False, resource.stop_timeout)
            resource.ask(resource.client.xen.delete_vm, dom.repo_id, dom.uuid)
        except Exception:
            still = list_domains(resource).get(name) is not None
            resource.vms.event(name, "stop_failed") if still else resource.vms.event(name, "stopped")
            raise
        resource.vms.event(name, "stopped")
        resource.stats_cache.pop(name, None)
    return answers.answer("StopAnswer", True, "VM %s stopped on %s" % (name, resource.host))


@handles("RebootCommand", "RebootAnswer")
def reboot(resource, cmd):
    name = need(cmd, "vmName")
    with resource.vms.lock(name):
        dom = _begin(resource, name, "reboot")
        try:
            resource.ask(resource.client.xen.reboot_vm, dom.repo_id, dom.uuid, 3)
            with resource.step("wait for domain"):
                dom = _wait_for(resource, name, True, resource.stop_timeout)
        finally:
            resource.vms.force(name, state.RUNNING if list_domains(resource).get(name) else state.STOPPED)
    return answers.answer(
        "RebootAnswer",
        True,
        "VM %s rebooted" % name,
        vncPort=dom.vnc_port,
    )


@handles("MigrateCommand", "MigrateAnswer")
def migrate(resource, cmd):
    name = need(cmd, "vmName")
    dest = need(cmd, "destIp")
    with resource.vms.lock(name):
        dom = _begin(resource, name, "migrate")
        try:
            resource.ask(resource.client.xen.migrate_vm, dom.repo_id, dom.uuid, dest)
            with resource.step("wait for departure"):
                _wait_for(resource, name, False, resource.migrate_timeout)
            peer = resource.peers.get(dest)
            if peer is not None:
                with resource.step("verify on %s" % dest):
                    arrived = _wait_for(peer, name, True, resource.migrate_timeout)
                peer.vms.force(name, state.RUNNING)
                dom = arrived
        except Exception:
            here = list_domains(resource).get(name) is not None
            resource.vms.event(name, "migrate_failed") if here else resource.vms.force(name, state.UNKNOWN)
            raise
        resource.vms.event(name, "migrated")
        resource.stats_cache.pop(name, None)
    return answers.answer("MigrateAnswer", True, "VM %s migrated to %s" % (name, dest), vncPort=dom.vnc_port)


@handles("PrepareForMigrationCommand", "PrepareForMigrationAnswer")
def prepare_for_migration(resource, cmd):
    vm = need(cmd, "vm")
    name = need(vm, "name", "vm")
    with resource.step("prepare bridges"):
        for nic in vm.get("nics") or []:
            bridge_for_nic(resource, nic)
    if resource.vms.get(name) in (state.STOPPED, state.UNKNOWN):
        resource.vms.event(name, "prepare_migration")
    return answers.answer("PrepareForMigrationAnswer", True, "host %s ready for %s" % (resource.host, name))


@handles("CheckVirtualMachineCommand", "CheckVirtualMachineAnswer")
def check_vm(resource, cmd):
    name = need(cmd, "vmName")
    dom = list_domains(resource).get(name)
    observed = state.observed_state(dom.state if dom else None)
    reported = state.merge(None, observed)
    return answers.answer(
        "CheckVirtualMachineAnswer",
        True,
        None,
        state=state.power_state(reported),
        vncPort=dom.vnc_port if dom else None,
    )


@handles("GetVncPortCommand", "GetVncPortAnswer")
def vnc_port(resource, cmd):
    name = need(cmd, "name")
    dom = _running(resource, name)
    if dom.vnc_port is None:
        raise CommandError("VM %s has no VNC console" % name)
    address = dom.vnc_address or ""
    if address in ("", "0.0.0.0", "::"):
        address = resource.config.ip
    return answers.answer("GetVncPortAnswer", True, None, address=address, port=dom.vnc_port)


@handles("GetVmStatsCommand", "GetVmStatsAnswer")
def vm_stats(resource, cmd):
    running = list_domains(resource)
    result = {}
    for name in cmd.get("vmNames") or []:
        dom = running.get(name)
        if dom is None:
            continue
        with resource.step("ovs_domU_stats %s" % name):
            raw = resource.client.cloudstack.ovs_dom_u_stats(name)
        result[name] = vm_stats_entry(resource, name, raw, dom.cpu_count, dom.memory or 0)
    return answers.answer("GetVmStatsAnswer", True, None, vmStatsMap=result)


def _nic_change(resource, cmd, plug):
    name = need(cmd, "instanceName")
    nic = need(cmd, "nic")
    mac = str(need(nic, "mac", "nic")).lower()
    with resource.vms.lock(name):
        dom = _running(resource, name)
        cfg = resource.ask(resource.client.xen.get_vm_config, dom.repo_id, dom.uuid, raw=True) or {}
        vifs = vif_entries(cfg)
        present = any(m == mac for m, _b, _r in vifs)
        if plug == present:
            return "NIC %s already %s" % (mac, "plugged" if plug else "absent")
        if plug:
            with resource.step("bridge for nic"):
                bridge = bridge_for_nic(resource, nic)
            cfg["vif"] = [r for _m, _b, r in vifs] + [vif_string(mac, bridge)]
        else:
            cfg["vif"] = [r for m, _b, r in vifs if m != mac]
        resource.ask(resource.client.xen.configure_vm, dom.repo_id, dom.uuid, cfg)
    return "NIC %s %s" % (mac, "plugged" if plug else "unplugged")


@handles("PlugNicCommand", "PlugNicAnswer")
def plug_nic(resource, cmd):
    return answers.answer("PlugNicAnswer", True, _nic_change(resource, cmd, True))


@handles("UnPlugNicCommand", "UnPlugNicAnswer")
def unplug_nic(resource, cmd):
    return answers.answer("UnPlugNicAnswer", True, _nic_change(resource, cmd, False))
