"""What every command that changes a host shares: ``--dry-run``, ``--yes``, the ownership refusal and
the one-line (or ``--json``) result listing the agent calls made, or that would be made."""
import functools

import click

from ovm3 import errors
from ovm3.cli.output import emit_json, to_plain


def mutating(f):
    """Add ``--dry-run`` and ``--yes`` to a command (passed as ``dry_run`` and ``yes``)."""

    @click.option("--yes", is_flag=True, help="Act even when the host is owned by a manager (CloudStack, "
                                              "Oracle VM Manager).")
    @click.option("--dry-run", is_flag=True, help="List the agent calls it would make, in order; change "
                                                  "nothing (read-only calls are still made).")
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        return f(*args, **kwargs)

    return wrapper


def manager_of(info):
    """The id of the manager owning a host (discover_server), or None (agents say "none" or nothing, as
    :func:`ovm3.cloudstack.host.ownership` reads them)."""
    owner = (info.manager_unique_id or "").replace("-", "")
    if info.membership_state == "Unowned" or owner in ("", "none"):
        return None
    return owner


class Session:
    """The host(s) one mutating command acts on, as HostResources over recording clients."""

    def __init__(self, settings, dry_run, yes):
        self.settings = settings
        self.dry_run = dry_run
        self.yes = yes
        self.calls = []
        self.resource = self.host(settings.client())

    def host(self, client):
        """A HostResource over ``client`` (recorded, and checked for another manager's ownership)."""
        from ovm3.cloudstack.resource import HostConfig, HostResource
        from ovm3.recording import RecordingClient

        recorder = RecordingClient(client, send=not self.dry_run, calls=self.calls)
        resource = HostResource(recorder, HostConfig(ip=client.host, name=client.host))
        owner = manager_of(resource.ask(recorder.linux.discover_server))
        if owner and not self.yes:
            raise errors.HostRefused("host is managed by manager %s; refusing to change it" % owner,
                                     host=client.host,
                                     hint="pass --yes to act anyway, if that manager will not mind")
        return resource

    def report(self, result, stdout_line=None):
        """Print the result: JSON with --json, else the one-line message (and the calls of a dry run).

        ``stdout_line`` (e.g. a new VM's uuid) goes alone to stdout, the message then to stderr."""
        from ovm3.recording import describe_call

        calls = [{"host": h, "method": m, "args": a} for h, m, a in self.calls]
        if self.settings.json:
            data = to_plain(result)
            data.update(data.pop("details", None) or {})
            data.update({"dry_run": self.dry_run, "calls": calls})
            emit_json(data)
            return 0
        if self.dry_run:
            click.echo("dry run, nothing changed; %d agent call(s) it would make:" % len(self.calls))
            for call in self.calls:
                click.echo("  %s  %s" % (call[0], describe_call(call)))
            return 0
        if stdout_line is not None:
            click.echo(stdout_line)
            click.echo(result.message, err=True)
        else:
            click.echo(result.message)
        return 0
