"""``ovm3 repo``: repositories the agent knows (discover_repository_db, discover_repositories)."""
import click

from ovm3 import errors
from ovm3.cli.main import pass_settings
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
