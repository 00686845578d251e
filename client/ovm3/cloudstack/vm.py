"""VM commands: start, stop, reboot, migrate, prepare for migration, check, VNC port, stats, NIC plug/unplug.

Each operation holds the VM's own lock (never a host-wide lock) and records its transitional state;
waits for the agent to catch up poll ``list_vms`` until a deadline. Every VM name, disk path, MAC and
VLAN a command carries is checked (:func:`checked_vm`, :mod:`ovm3.cloudstack.validate`) before the
handler's first agent call.
"""

from ovm3.cloudstack import answers, naming, state, validate
from ovm3.cloudstack.domains import list_domains
from ovm3.cloudstack.network import bridge_for_nic, check_nic, ensure_control
from ovm3.cloudstack.registry import CommandError, handles, need, unwrap
from ovm3.cloudstack.stats import vm_stats_entry
from ovm3.cloudstack.storage import file_ref, iso_target, mount_share
from ovm3.vmcfg import VmConfig

DOMAIN_TYPES = {"hvm": "hvm", "pv": "xen_pvm", "xen_pvm": "xen_pvm"}


# ---- vm.cfg from a VirtualMachineTO ---------------------------------------------------------------------
def disk_files(vm, need_root=True):
    """``([(path, mode)], root pool uuid, [(host, share)])`` of the TO's disks in device order: every
    field checked, nothing called (the shares are the secondary ones its ISOs are on)."""
    entries, root_pool, shares = [], None, []
    disks = validate.listed(vm.get("disks"), "vm.disks")
    for index, disk in enumerate(disks):
        if not isinstance(disk, dict):
            raise validate.FieldRefused("vm.disks[%d]" % index, disk, "must be an object")
    order = sorted(range(len(disks)), key=lambda i: validate.number(disks[i].get("diskSeq") or 0, "vm.disks.diskSeq"))
    for index in order:
        disk, where = disks[index], "vm.disks[%d].data" % index
        kind = disk.get("type")
        cls, data = unwrap(disk.get("data"))
        if kind in ("ROOT", "DATADISK"):
            _scls, store = unwrap(data.get("dataStore"))
            pool = validate.uuid(need(store, "uuid", "volume data store"), where + ".dataStore.uuid")
            field, ref = file_ref(data, where)
            path = naming.volume_file(pool, ref, field)
            mode = "w" if kind == "ROOT" else "w!"
            if kind == "ROOT":
                root_pool = pool
            entries.append((path, mode))
        elif kind == "ISO":
            if not data.get("path"):
                continue  # an empty CD drive
            host, share, path = iso_target(data, where + ".path")
            shares.append((host, share))
            entries.append((path, "r"))
        else:
            raise CommandError("unsupported disk type %r" % (kind,))
    if root_pool is None and need_root:
        raise CommandError("VM %s has no ROOT disk" % vm.get("name"))
    return entries, root_pool, shares


def disk_entries(resource, vm, hvm):
    """``disk`` paths and modes for the TO's disks in device order, and the root disk's pool uuid (the
    secondary shares of its ISOs mounted)."""
    entries, root_pool, shares = disk_files(vm)
    for host, share in shares:
        mount_share(resource, host, share)
    return entries, root_pool


def checked_vm(vm, field="vm"):
    """A VirtualMachineTO's name, with its disks, NICs and VNC settings checked; no agent call."""
    if not isinstance(vm, dict):
        raise validate.FieldRefused(field, vm, "must be an object")
    name = validate.vm_name(need(vm, "name", "vm"), field + ".name")
    disk_files(vm, need_root=False)
    for index, nic in enumerate(validate.listed(vm.get("nics"), field + ".nics")):
        check_nic(nic, "%s.nics[%d]" % (field, index))
    if vm.get("vncAddr"):
        validate.ip_address(vm["vncAddr"], field + ".vncAddr")
    if vm.get("vncPassword"):
        validate.setting(vm["vncPassword"], field + ".vncPassword", secret=True)
    return name


def build_vm_config(resource, vm):
    """The ``create_vm`` params struct for a VirtualMachineTO (see reference Appendix C)."""
    name = need(vm, "name", "vm")
    hvm = str(vm.get("bootloader") or "").upper() == "HVM" or "hvm" in str(vm.get("platformEmulator") or "")
    system_vm = (vm.get("type") or "User") != "User"
    disks, root_pool = disk_entries(resource, vm, hvm)
    if system_vm:
        disks.append((naming.systemvm_iso_path(root_pool), "r"))
    cpus = int(vm.get("cpus") or 1)
    memory_mib = max(int(vm.get("minRam") or 0) // (1024 * 1024), 1)
    cfg = VmConfig(
        name=name,
        simple_name=name,
        uuid=naming.vm_uuid(name),
        memory=memory_mib,
        vcpus=cpus,
        maxvcpus=max(int(vm.get("vcpuMaxLimit") or cpus), cpus),
        cpu_weight=27500,
        cpu_cap=0,
        on_reboot="restart",
        on_poweroff="destroy",
        on_crash="restart",
        bootloader="" if hvm else "/usr/bin/pygrub",
        bootargs="",
        extra=(vm.get("bootArgs") or "").strip().replace(" ", "%") if system_vm else "",
        guest_os_type="linux" if not hvm else "default",
        domain_type="xen_hvm" if hvm else "xen_pvm",
        high_availability=bool(vm.get("enableHA")) and resource.config.pool,
        description=vm.get("os") or "",
        cpu_compat_group="",
        other={"maxmem": max(int(vm.get("maxRam") or 0) // (1024 * 1024), memory_mib)},
    )
    for path, mode in disks:
        cfg.add_disk(path, mode)
    if system_vm:
        ensure_control(resource)
    for nic in sorted(vm.get("nics") or [], key=lambda n: int(n.get("deviceId") or 0)):
        cfg.add_vif(check_nic(nic, "vm.nics")[0], bridge_for_nic(resource, nic))
    cfg.set_vnc(vm.get("vncAddr") or "0.0.0.0", vm.get("vncPassword") or "")
    params = cfg.to_params()
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
    name = checked_vm(vm)
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
    name = validate.vm_name(need(cmd, "vmName"), "vmName")
    with resource.vms.lock(name):
        dom = list_domains(resource).get(name)
        # A transitional state (an arrival after PrepareForMigration) resolves from what this host's
        # agent shows, not from what some other host's resource said or a lag deadline.
        resource.vms.observe(name, state.observed_state(dom.state if dom else None))
        resource.vms.event(name, "stop")
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
    name = validate.vm_name(need(cmd, "vmName"), "vmName")
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
    name = validate.vm_name(need(cmd, "vmName"), "vmName")
    dest = validate.ip_address(need(cmd, "destIp"), "destIp")
    with resource.vms.lock(name):
        dom = _begin(resource, name, "migrate")
        try:
            resource.ask(resource.client.xen.migrate_vm, dom.repo_id, dom.uuid, dest)
            with resource.step("wait for departure"):
                _wait_for(resource, name, False, resource.migrate_timeout)
            # The destination's own serve learns the arrival from its agent (see state.ARRIVING).
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
    name = checked_vm(vm)
    with resource.step("prepare bridges"):
        for index, nic in enumerate(vm.get("nics") or []):
            bridge_for_nic(resource, nic, "vm.nics[%d]" % index)
    with resource.vms.lock(name):
        dom = list_domains(resource).get(name)
        if resource.vms.observe(name, state.observed_state(dom.state if dom else None)) in (
            state.STOPPED,
            state.UNKNOWN,
        ):
            resource.vms.event(name, "prepare_migration")
    return answers.answer("PrepareForMigrationAnswer", True, "host %s ready for %s" % (resource.host, name))


@handles("CheckVirtualMachineCommand", "CheckVirtualMachineAnswer")
def check_vm(resource, cmd):
    name = validate.vm_name(need(cmd, "vmName"), "vmName")
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
    name = validate.vm_name(need(cmd, "name"), "name")
    dom = _running(resource, name)
    if dom.vnc_port is None:
        raise CommandError("VM %s has no VNC console" % name)
    address = dom.vnc_address or ""
    if address in ("", "0.0.0.0", "::"):
        address = resource.config.ip
    return answers.answer("GetVncPortAnswer", True, None, address=address, port=dom.vnc_port)


@handles("GetVmStatsCommand", "GetVmStatsAnswer")
def vm_stats(resource, cmd):
    names = [
        validate.vm_name(n, "vmNames[%d]" % i) for i, n in enumerate(validate.listed(cmd.get("vmNames"), "vmNames"))
    ]
    running = list_domains(resource)
    result = {}
    for name in names:
        dom = running.get(name)
        if dom is None:
            continue
        with resource.step("ovs_domU_stats %s" % name):
            raw = resource.client.cloudstack.ovs_dom_u_stats(name)
        result[name] = vm_stats_entry(resource, name, raw, dom.cpu_count, dom.memory or 0)
    return answers.answer("GetVmStatsAnswer", True, None, vmStatsMap=result)


def _nic_change(resource, cmd, plug):
    name = validate.vm_name(need(cmd, "instanceName"), "instanceName")
    nic = need(cmd, "nic")
    mac, _vlan = check_nic(nic, "nic")
    with resource.vms.lock(name):
        dom = _running(resource, name)
        cfg = resource.ask(resource.client.xen.get_vm_config, dom.repo_id, dom.uuid)
        present = cfg.vif_index(mac) >= 0
        if plug == present:
            return "NIC %s already %s" % (mac, "plugged" if plug else "absent")
        if plug:
            with resource.step("bridge for nic"):
                bridge = bridge_for_nic(resource, nic)
            cfg.add_vif(mac, bridge)
        else:
            cfg.remove_vif(mac)
        resource.ask(resource.client.xen.configure_vm, dom.repo_id, dom.uuid, cfg.to_params())
    return "NIC %s %s" % (mac, "plugged" if plug else "unplugged")


@handles("PlugNicCommand", "PlugNicAnswer")
def plug_nic(resource, cmd):
    return answers.answer("PlugNicAnswer", True, _nic_change(resource, cmd, True))


@handles("UnPlugNicCommand", "UnPlugNicAnswer")
def unplug_nic(resource, cmd):
    return answers.answer("UnPlugNicAnswer", True, _nic_change(resource, cmd, False))
