"""``ovm3 pool``: the server pool and pool file system this host belongs to."""
import click

from ovm3.cli.main import pass_settings
from ovm3.cli.mutate import Session, mutating
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


@command.command("create")
@click.argument("alias")
@click.option("--vip", required=True, help="The pool's virtual IP (held by its master).")
@click.option("--id", "pool_id", help="Pool id (32 hex digits; default: a new one).")
@mutating
@pass_settings
def create_pool(settings, alias, vip, pool_id, dry_run, yes):
    """Make this host the first member of a new server pool."""
    from ovm3.cli import estateops

    session = Session(settings, dry_run, yes)
    return session.report(estateops.pool_create(session.resource, alias, vip, pool_id))


@command.command("join")
@click.argument("member")
@mutating
@pass_settings
def join_pool(settings, member, dry_run, yes):
    """Join the pool of MEMBER (a profile, host name or agent URL of a host in it)."""
    from ovm3.cli import estateops

    session = Session(settings, dry_run, yes)
    master = session.host(settings.client_for(member))
    return session.report(estateops.pool_join(session.resource, master))


@command.command("leave")
@mutating
@pass_settings
def leave_pool(settings, dry_run, yes):
    """Leave the server pool (refused while VMs run here)."""
    from ovm3.cli import estateops

    session = Session(settings, dry_run, yes)
    return session.report(estateops.pool_leave(session.resource))
