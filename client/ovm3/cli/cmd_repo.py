"""``ovm3 repo``: repositories the agent knows (discover_repository_db, discover_repositories), adding and
removing them."""
import click

from ovm3 import errors
from ovm3.cli.main import pass_settings
from ovm3.cli.mutate import Session, mutating
from ovm3.cli.output import emit_json, key_values, table


@click.group("repo")
def command():
    """Repositories."""


@command.command("list")
@pass_settings
def list_repos(settings):
    """Every repository in the agent's database, mounted or not."""
    db = settings.client().repository.discover_repository_db()
    rows = [{"uuid": r.uuid, "alias": r.alias, "status": r.status, "type": r.filesystem_type,
             "location": r.fs_location, "mount point": r.mount_point} for r in db]
    if settings.json:
        emit_json(list(db))
    else:
        click.echo(table(rows, ["uuid", "alias", "status", "type", "location", "mount point"])
                   if rows else "no repositories")


@command.command("show")
@click.argument("repo_id")
@pass_settings
def show_repo(settings, repo_id):
    """One repository: where it lives and what it holds (REPO_ID without dashes)."""
    client = settings.client()
    repo_id = repo_id.replace("-", "")
    entry = client.repository.discover_repository_db().get(repo_id)
    content = client.repository.discover_repositories(repo_id).get(repo_id)
    if entry is None and content is None:
        raise errors.OVM3Error("no repository %s on this host (see ovm3 repo list)" % repo_id,
                               host=client.host)
    if settings.json:
        emit_json({"id": repo_id, "db": entry, "content": content})
        return 0
    pairs = [("id", repo_id)]
    if entry is not None:
        pairs += [("alias", entry.alias), ("status", entry.status), ("type", entry.filesystem_type),
                  ("location", entry.fs_location), ("mount point", entry.mount_point),
                  ("manager", entry.manager_uuid)]
    if content is not None:
        pairs += [("templates", len(content.templates)), ("virtual machines", len(content.virtual_machines)),
                  ("virtual disks", len(content.virtual_disks)), ("isos", len(content.isos))]
    click.echo(key_values(pairs))
    if content is not None:
        rows = ([{"kind": "template", "name": x} for x in content.templates]
                + [{"kind": "vm", "name": x} for x in content.virtual_machines]
                + [{"kind": "disk", "name": x} for x in content.virtual_disks]
                + [{"kind": "iso", "name": x} for x in content.isos])
        if rows:
            click.echo("")
            click.echo(table(rows, ["kind", "name"]))
    return 0


@command.command("add")
@click.argument("export", metavar="NFS-EXPORT")
@click.option("--id", "repo_id", help="Id of the repository already on the export (ovm3 repo list on a host "
                                      "that has it).")
@click.option("--create", is_flag=True, help="Make a new repository on the export (prints its id).")
@click.option("--alias", default="", help="With --create: its name (default: the export).")
@mutating
@pass_settings
def add_repo(settings, export, repo_id, create, alias, dry_run, yes):
    """Mount a repository from NFS-EXPORT (host:/path) at /OVS/Repositories/ID."""
    from ovm3.cli import estateops

    session = Session(settings, dry_run, yes)
    result = estateops.repo_add(session.resource, export, repo_id, create, alias)
    return session.report(result, stdout_line=result.details.get("repo") if create else None)


@command.command("remove")
@click.argument("repo_id")
@click.option("--erase", is_flag=True, help="Delete everything in the repository first (VM definitions, "
                                            "disks, templates, ISOs).")
@mutating
@pass_settings
def remove_repo(settings, repo_id, erase, dry_run, yes):
    """Forget a repository and unmount it (refused while VMs run from it)."""
    from ovm3.cli import estateops

    session = Session(settings, dry_run, yes)
    return session.report(estateops.repo_remove(session.resource, repo_id, erase))
