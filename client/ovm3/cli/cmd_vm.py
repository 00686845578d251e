"""``ovm3 vm``: the domains a host runs and defines, and the operator's changes to them (see cli/vmops.py)."""
import click

from ovm3.cli.main import pass_settings
from ovm3.cli.mutate import Session, mutating
from ovm3.cli.output import emit_json, key_values, show, table, to_plain
from ovm3.redact import redact_value

COLUMNS = ["name", "uuid", "state", "domid", "memory", "vcpus", "vnc", "repo"]


def _row(vm):
    return {"name": vm.name, "uuid": vm.uuid, "state": vm.state, "domid": vm.domid, "memory": vm.memory,
            "vcpus": vm.vcpus, "vnc": vm.vnc_port, "repo": vm.repo_id}


def _defined_row(ref):
    if ref.domain is not None:
        return _row(ref.domain)
    cfg = ref.config
    return {"name": ref.name, "uuid": ref.uuid, "state": "Stopped", "domid": None, "memory": cfg.memory,
            "vcpus": cfg.vcpus, "vnc": None, "repo": ref.repo_id}


def _ops():
    """:mod:`ovm3.cli.vmops`, imported when a command runs (it pulls in the CloudStack layer; --help and
    other commands should not pay for that)."""
    from ovm3.cli import vmops

    return vmops


def _resource(settings):
    """A read-only HostResource (the same lookups the mutating commands make)."""
    from ovm3.cloudstack.resource import HostConfig, HostResource

    client = settings.client()
    return HostResource(client, HostConfig(ip=client.host, name=client.host))


@click.group("vm")
def command():
    """Virtual machines: list, inspect, create, start, stop, migrate, change disks and NICs."""


@command.command("list")
@click.option("--all", "show_all", is_flag=True, help="Stopped VMs too (the vm.cfg files in the host's "
                                                      "repositories), with state Stopped.")
@click.option("--dom0", is_flag=True, help="Include Domain-0.")
@pass_settings
def list_vms(settings, show_all, dom0):
    """Running domains with state, memory (MiB), vcpus, VNC port and repository."""
    client = settings.client()
    vms = [vm for vm in client.xen.list_vms() if dom0 or not vm.is_control_domain]
    stopped = []
    if show_all:
        running = {vm.uuid for vm in vms}
        stopped = [r for r in _ops().all_vms(_resource(settings)) if r.domain is None and r.uuid not in running]
    if settings.json:
        data = to_plain(vms) + [dict(to_plain(r.config), state="Stopped", repo_id=r.repo_id) for r in stopped]
        emit_json(redact_value(data))
        return 0
    rows = [_row(vm) for vm in vms] + [_defined_row(r) for r in stopped]
    click.echo(table(rows, COLUMNS) if rows else ("no VMs" if show_all else "no VMs running"))
    return 0


@command.command("show")
@click.argument("name")
@pass_settings
def show_vm(settings, name):
    """One VM, running or stopped: state and its vm.cfg (disks, vifs, console); VNC passwords never shown."""
    ref = _ops().find_vm(_resource(settings), name)
    vm, config = ref.domain, ref.config
    if settings.json:
        emit_json(redact_value(to_plain({"vm": vm, "config": config, "state": ref.state,
                                         "repo_id": ref.repo_id})))
        return 0
    pairs = [("name", ref.name), ("uuid", ref.uuid), ("state", vm.state if vm else "Stopped")]
    if vm is not None:
        pairs += [("domid", vm.domid), ("type", vm.domain_type), ("memory MiB", vm.memory), ("vcpus", vm.vcpus),
                  ("vnc", "%s:%s" % (vm.vnc_address, vm.vnc_port) if vm.vnc_port is not None else "")]
    elif config is not None:
        pairs += [("type", config.domain_type), ("memory MiB", config.memory), ("vcpus", config.vcpus)]
    pairs.append(("repository", ref.repo_id))
    if config is not None:
        pairs += [("ha", "yes" if config.high_availability else "no"), ("os type", config.guest_os_type)]
    click.echo(key_values(pairs))
    if config is not None:
        rows = [{"kind": "disk", "device": d.device + (":" + d.kind if d.kind else ""), "detail": d.path,
                 "mode": d.mode} for d in config.disks]
        rows += [{"kind": "vif", "device": "vif%d" % i, "detail": "%s on %s" % (v.mac, v.bridge), "mode": ""}
                 for i, v in enumerate(config.vifs)]
        rows += [{"kind": "vfb", "device": f.type, "detail": "listen %s%s" % (
            f.listen, ", password set" if f.has_password else ""), "mode": ""} for f in config.vfbs]
        if rows:
            click.echo("")
            click.echo(table(rows, ["kind", "device", "mode", "detail"]))
    return 0


def _read_secret_file(path):
    from ovm3.client import read_password_file

    return read_password_file(path)


@command.command("create")
@click.argument("name")
@click.option("--repo", "repo_id", required=True, help="Repository id to define the VM in (ovm3 repo list).")
@click.option("--template", default="", metavar="TEMPLATE/IMAGE",
              help="Copy this template disk image (ovm3 repo show) as the VM's first disk.")
@click.option("--disk", "disks", multiple=True, metavar="IMAGE",
              help="Attach an existing image of the repository's VirtualDisks (repeatable).")
@click.option("--iso", default="", metavar="ISO", help="Boot from this ISO of the repository (makes it HVM).")
@click.option("--hvm", is_flag=True, help="Hardware-virtualised guest (default: paravirtualised, pygrub).")
@click.option("--memory", default=512, show_default=True, help="Memory in MiB.")
@click.option("--vcpus", default=1, show_default=True, help="Virtual CPUs.")
@click.option("--nic", "nics", multiple=True, metavar="BRIDGE[:VLAN][,mac=MAC]",
              help="A NIC on a bridge, or on the VLAN bridge BRIDGE.VLAN (created when missing); repeatable.")
@click.option("--vnc/--no-vnc", default=True, show_default=True, help="A VNC console.")
@click.option("--vnc-listen", default="0.0.0.0", show_default=True, help="Address the VNC console listens on.")
@click.option("--vnc-password-file", type=click.Path(dir_okay=False),
              help="File whose first line is the VNC password (never on the command line).")
@mutating
@pass_settings
def create_vm(settings, name, repo_id, template, disks, iso, hvm, memory, vcpus, nics, vnc, vnc_listen,
              vnc_password_file, dry_run, yes):
    """Define a VM (create_vm) and print its uuid; start it with ovm3 vm start."""
    spec = _ops().CreateSpec(name=name, repo_id=repo_id, memory=memory, vcpus=vcpus, template=template,
                            disks=tuple(disks), iso=iso, nics=tuple(nics), vnc=vnc, vnc_listen=vnc_listen,
                            vnc_password=_read_secret_file(vnc_password_file) if vnc_password_file else None,
                            hvm=hvm)
    session = Session(settings, dry_run, yes)
    result = _ops().create(session.resource, spec)
    return session.report(result, stdout_line=result.vm)


def _simple(name, doc, force=False):
    """``vm NAME VM``: runs vmops.NAME."""
    @click.argument("vm")
    @mutating
    @pass_settings
    def run(settings, vm, dry_run, yes, **kw):
        session = Session(settings, dry_run, yes)
        return session.report(getattr(_ops(), name)(session.resource, vm, **kw))

    run.__doc__ = doc
    run.__name__ = name + "_vm"
    if force:
        run = click.option("--force", is_flag=True, help="Destroy the domain instead of a clean "
                                                         "shutdown.")(run)
    command.command(name)(run)


_simple("start", "Start a defined VM (start_vm) and wait until it runs.")
_simple("stop", "Shut a VM down (stop_vm) and wait until it is gone; its definition stays.",
        force=True)
_simple("reboot", "Reboot a running VM (reboot_vm).")
_simple("delete", "Remove a stopped VM's definition (delete_vm); its disks stay.")


@command.command("migrate")
@click.argument("vm")
@click.argument("dest_host")
@mutating
@pass_settings
def migrate_vm(settings, vm, dest_host, dry_run, yes):
    """Live-migrate VM to DEST-HOST (a profile, host name or agent URL; same credentials unless a
    profile says otherwise), after checking it; waits until the VM runs there."""
    session = Session(settings, dry_run, yes)
    dest = session.host(settings.client_for(dest_host))
    return session.report(_ops().migrate(session.resource, dest, vm))


@command.command("console")
@click.argument("vm")
@click.option("--show-password", is_flag=True, help="Print the VNC password too.")
@pass_settings
def console_vm(settings, vm, show_password):
    """Where a running VM's VNC console listens (address and port); the password only on request."""
    from ovm3.transport import parse_agent_url

    info = _ops().console(_resource(settings), vm, parse_agent_url(settings.url)[1])
    if not show_password:
        info["password"] = "set" if info["password"] else None
    if settings.json:
        emit_json(info)
        return 0
    click.echo("%s:%d" % (info["address"], info["port"]))
    if show_password and info["password"]:
        click.echo("password: %s" % info["password"])
    return 0


@command.group("disk")
def disk():
    """Attach or detach a VM's disk images (configure_vm)."""


@disk.command("attach")
@click.argument("vm")
@click.argument("image")
@click.option("--mode", type=click.Choice(["w", "w!", "r"]), default="w", show_default=True,
              help="w private writable, w! shared writable, r read-only.")
@click.option("--iso", is_flag=True, help="IMAGE is an ISO of the repository (a read-only cdrom).")
@mutating
@pass_settings
def disk_attach(settings, vm, image, mode, iso, dry_run, yes):
    """Attach IMAGE (in the VM's repository's VirtualDisks, or ISOs with --iso) to VM."""
    session = Session(settings, dry_run, yes)
    return session.report(_ops().disk_attach(session.resource, vm, image, mode, iso))


@disk.command("detach")
@click.argument("vm")
@click.argument("disk_name", metavar="DEVICE-OR-IMAGE")
@mutating
@pass_settings
def disk_detach(settings, vm, disk_name, dry_run, yes):
    """Detach a disk from VM by device (xvdb) or image file name."""
    session = Session(settings, dry_run, yes)
    return session.report(_ops().disk_detach(session.resource, vm, disk_name))


@command.group("nic")
def nic():
    """Add or remove a VM's NICs (configure_vm)."""


@nic.command("add")
@click.argument("vm")
@click.argument("spec", metavar="BRIDGE[:VLAN][,mac=MAC]")
@mutating
@pass_settings
def nic_add(settings, vm, spec, dry_run, yes):
    """Add a NIC on a bridge (or VLAN bridge, created when missing); a MAC is made when none is given."""
    session = Session(settings, dry_run, yes)
    return session.report(_ops().nic_add(session.resource, vm, spec))


@nic.command("remove")
@click.argument("vm")
@click.argument("mac")
@mutating
@pass_settings
def nic_remove(settings, vm, mac, dry_run, yes):
    """Remove the NIC with MAC from VM."""
    session = Session(settings, dry_run, yes)
    return session.report(_ops().nic_remove(session.resource, vm, mac))


@command.command("stats")
@click.argument("name")
@pass_settings
def stats_vm(settings, name):
    """Disk, network and CPU counters of one VM (ovs_domU_stats; needs the agent module)."""
    s = settings.client().cloudstack.ovs_dom_u_stats(name)
    from ovm3.cli.cmd_host import human_duration, with_bytes

    show(settings, s, lambda s: key_values([
        ("uptime", human_duration(s.uptime)), ("cpu time s", s.cputime), ("vcpus", s.vcpus),
        ("received", with_bytes(s.rx_bytes)), ("sent", with_bytes(s.tx_bytes)), ("read", with_bytes(s.rd_bytes)),
        ("written", with_bytes(s.wr_bytes)), ("read ops", s.rd_ops), ("write ops", s.wr_ops),
    ]))
