"""``ovm3 pool``: the server pool and pool file system this host belongs to."""
import click

from ovm3.cli.main import pass_settings
from ovm3.cli.output import emit_json, key_values


@click.group("pool")
def command():
    """Server pool membership."""


@command.command("show")
@pass_settings
def show_pool(settings):
    """Pool id, alias, virtual IP, members and pool file system."""
    client = settings.client()
    pool = client.pool.discover_server_pool()
    poolfs = client.poolfs.discover_pool_filesystem()
    if settings.json:
        emit_json({"pool": pool, "pool_filesystem": poolfs})
        return
    if not pool.in_pool:
        click.echo("not in a server pool")
    else:
        click.echo(key_values([("pool id", pool.pool_id), ("alias", pool.alias),
                               ("virtual ip", pool.master_virtual_ip), ("members", ", ".join(pool.members))]))
    if poolfs.exists:
        click.echo(key_values([("pool fs", poolfs.uuid), ("pool fs type", poolfs.fs_type),
                               ("pool fs target", poolfs.target)]))
