"""``ovm3 network``: bridges and interfaces of the host (discover_network)."""
import click

from ovm3.cli.main import pass_settings
from ovm3.cli.output import emit_json, table

COLUMNS = ["name", "type", "mac", "address", "netmask", "physical"]


@click.group("network")
def command():
    """Host networking."""


@command.command("list")
@pass_settings
def list_networks(settings):
    """Bridges, then physical interfaces and bonds."""
    net = settings.client().network.discover_network()
    rows = list(net.bridges.values()) + list(net.physical.values()) + list(net.bonds.values())
    if settings.json:
        emit_json(net)
    else:
        click.echo(table(rows, COLUMNS) if rows else "no interfaces reported")
