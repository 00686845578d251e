"""``ovm3 vm``: the domains the hypervisor runs (list_vms, get_vm_config, ovs_domU_stats)."""
import click

from ovm3 import errors
from ovm3.cli.main import pass_settings
from ovm3.cli.output import emit_json, key_values, show, table, to_plain
from ovm3.redact import redact_value

COLUMNS = ["name", "uuid", "state", "domid", "memory", "vcpus", "vnc", "repo"]


def _row(vm):
    return {"name": vm.name, "uuid": vm.uuid, "state": vm.state, "domid": vm.domid, "memory": vm.memory,
            "vcpus": vm.vcpus, "vnc": vm.vnc_port, "repo": vm.repo_id}


def find_vm(client, name):
    """The running VM called ``name`` (or with that uuid), else an error naming the host."""
    for vm in client.xen.list_vms():
        if vm.name == name or vm.uuid == name:
            return vm
    raise errors.OVM3Error("no running VM named %s (see ovm3 vm list)" % name, host=client.host)


@click.group("vm")
def command():
    """Virtual machines."""


@command.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include Domain-0.")
@pass_settings
def list_vms(settings, show_all):
    """Running domains with state, memory (MiB), vcpus, VNC port and repository."""
    vms = [vm for vm in settings.client().xen.list_vms() if show_all or not vm.is_control_domain]
    if settings.json:
        emit_json(redact_value(to_plain(vms)))
    else:
        click.echo(table([_row(vm) for vm in vms], COLUMNS) if vms else "no VMs running")


@command.command("show")
@click.argument("name")
@pass_settings
def show_vm(settings, name):
    """One VM: live state and its vm.cfg (disks, vifs, console); VNC passwords are never shown."""
    client = settings.client()
    vm = find_vm(client, name)
    config = None
    if vm.repo_id and vm.uuid:
        config = client.xen.get_vm_config(vm.repo_id, vm.uuid)
    if settings.json:
        emit_json(redact_value(to_plain({"vm": vm, "config": config})))
        return 0
    pairs = [("name", vm.name), ("uuid", vm.uuid), ("state", vm.state), ("domid", vm.domid),
             ("type", vm.domain_type), ("memory MiB", vm.memory), ("vcpus", vm.vcpus),
             ("repository", vm.repo_id),
             ("vnc", "%s:%s" % (vm.vnc_address, vm.vnc_port) if vm.vnc_port is not None else "")]
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


@command.command("stats")
@click.argument("name")
@pass_settings
def stats_vm(settings, name):
    """Disk, network and CPU counters of one VM (ovs_domU_stats; needs the agent module)."""
    s = settings.client().cloudstack.ovs_dom_u_stats(name)
    show(settings, s, lambda s: key_values([
        ("uptime s", s.uptime), ("cpu time s", s.cputime), ("vcpus", s.vcpus),
        ("rx bytes", s.rx_bytes), ("tx bytes", s.tx_bytes), ("read bytes", s.rd_bytes),
        ("write bytes", s.wr_bytes), ("read ops", s.rd_ops), ("write ops", s.wr_ops),
    ]))
