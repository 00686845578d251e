"""``ovm3 storage``: NFS shares mounted through the storage plugin (as CloudStack mounts secondary storage)."""
import click

from ovm3.cli.main import pass_settings
from ovm3.cli.mutate import Session, mutating
from ovm3.cli.output import emit_json, table


@click.group("storage")
def command():
    """NFS shares: list, mount under /nfsmnt, unmount."""


@command.command("list")
@pass_settings
def list_storage(settings):
    """The host's NFS mounts (discover_mounted_file_systems nfs)."""
    fs = settings.client().linux.discover_mounted_file_systems("nfs")
    rows = [{"dir": m.dir, "export": m.device} for m in fs]
    if settings.json:
        emit_json(rows)
    else:
        click.echo(table(rows, ["dir", "export"]) if rows else "no NFS mounts")
    return 0


@command.command("mount")
@click.argument("export", metavar="NFS-EXPORT")
@mutating
@pass_settings
def mount(settings, export, dry_run, yes):
    """Mount NFS-EXPORT (host:/path) at /nfsmnt/<id> with the NFS storage plugin."""
    from ovm3.cli import estateops

    session = Session(settings, dry_run, yes)
    return session.report(estateops.storage_mount(session.resource, export))


@command.command("unmount")
@click.argument("export", metavar="NFS-EXPORT")
@mutating
@pass_settings
def unmount(settings, export, dry_run, yes):
    """Unmount NFS-EXPORT mounted by ovm3 storage mount."""
    from ovm3.cli import estateops

    session = Session(settings, dry_run, yes)
    return session.report(estateops.storage_unmount(session.resource, export))
