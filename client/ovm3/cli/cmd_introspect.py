"""``ovm3 introspect``: dump what an agent exposes, regenerate the shipped snapshots, diff two snapshots.

Exit codes: 0 ok (diff: no finding at or above --fail-on), 1 an unreadable snapshot or a failed dump,
2 usage, 3 diff found something at or above --fail-on.
"""
import os
import sys
from urllib.parse import urlsplit

import click

from ovm3 import errors
from ovm3.api import VERSIONS
from ovm3.cli.main import pass_settings


def _write(text, out):
    if out in (None, "-"):
        click.echo(text, nl=False)
        return
    tmp = out + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, out)
    except OSError as e:
        raise errors.ConfigError("cannot write %s: %s" % (out, e.strerror or e)) from None


@click.group("introspect")
def command():
    """Dump what an agent exposes, ship synthetic snapshots, diff agent versions."""


@command.command("dump")
@click.option("--out", "out", default="-", show_default=True, help="Snapshot file to write (- for stdout).")
@click.option("--via", type=click.Choice(["xmlrpc", "ssh", "sim"]), default="xmlrpc", show_default=True,
              help="xmlrpc: our module's get_api_services on --url; ssh: run the dumper with dom0's "
                   "Python; sim: a simulated agent of --agent-version.")
@click.option("--agent-version", "--version", "version",
              help="sim: personality (3.2/3.3/3.4); ssh: version handed to get_services (default: from "
                   "/etc/ovs-release). --version is the old name, still accepted.")
@click.option("--ssh-host", help="ssh: host to log in to (default: the host of --url/--host).")
@click.option("--ssh-port", default=22, show_default=True, help="ssh: port.")
@click.option("--ssh-user", default="root", show_default=True, help="ssh: user.")
@click.option("--ssh-key", "ssh_keys", multiple=True, type=click.Path(dir_okay=False),
              help="ssh: private key file (repeatable; default ~/.ssh/id_*).")
@click.option("--known-hosts", type=click.Path(dir_okay=False),
              help="ssh: known_hosts file to check against.")
@click.option("--trust-new-host-key", is_flag=True, help="ssh: record an unknown host key (first use only).")
@click.option("--python", "python", default="python", show_default=True, help="ssh: dom0's Python.")
@click.option("--agent-path", help="ssh: directory holding the agent package if not on dom0's sys.path.")
@pass_settings
def dump_command(settings, out, via, version, ssh_host, ssh_port, ssh_user, ssh_keys, known_hosts,
                 trust_new_host_key, python, agent_path):
    """Write a JSON snapshot of every service the agent exposes."""
    from ovm3.tools import dump, snapshot

    if via == "xmlrpc":
        data = dump.dump_xmlrpc(settings.client())
    elif via == "sim":
        if not version:
            raise click.UsageError("--via sim needs --agent-version (one of %s)" % ", ".join(VERSIONS))
        data = dump.dump_sim(version)
    else:
        from ovm3.deploy.ssh import SSHConnector

        host = ssh_host or (urlsplit(settings.url).hostname if settings.url else None)
        if not host:
            raise click.UsageError("--via ssh needs --ssh-host (or --url/--host)")
        with SSHConnector(host, port=ssh_port, user=ssh_user, key_files=list(ssh_keys) or None,
                          known_hosts=known_hosts, trust_new=trust_new_host_key) as conn:
            data = dump.dump_ssh(conn, python=python, agent_path=agent_path, version=version)
    _write(snapshot.dumps(data), out)
    if out not in (None, "-"):
        click.echo("wrote %s: %d services of agent %s (%s)" % (
            out, len(data["services"]), data.get("agent_version") or "?", data.get("host") or "?"), err=True)
    return 0


@command.command("snapshot")
@click.option("--agent-version", "--version", "versions", multiple=True, type=click.Choice(VERSIONS),
              help="Agent version (repeatable); default every version. --version is the old name.")
@click.option("--out", "out", help="File to write (one --agent-version only; - for stdout).")
@click.option("--out-dir", type=click.Path(file_okay=False),
              help="Write ovs-agent-<version>.json files here (default: the shipped tools/snapshots).")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 3 when a shipped file differs from the table.")
def snapshot_command(versions, out, out_dir, check):
    """Generate the synthetic snapshots from the API table (the shipped tools/snapshots files)."""
    from ovm3.tools import snapshot, synthetic

    versions = versions or VERSIONS
    if out and len(versions) != 1:
        raise click.UsageError("--out writes one snapshot: give exactly one --agent-version (or use --out-dir)")
    stale = []
    for v in versions:
        text = snapshot.dumps(synthetic.from_table(v))
        target = out or os.path.join(out_dir or snapshot.SNAPSHOT_DIR, "ovs-agent-%s.json" % v)
        if check:
            try:
                with open(target, encoding="utf-8") as f:
                    current = f.read()
            except OSError:
                current = None
            if current != text:
                stale.append(target)
            continue
        _write(text, target)
        if target != "-":
            click.echo("wrote %s" % target, err=True)
    if stale:
        click.echo("out of date with the API table (regenerate with ovm3 introspect snapshot): %s"
                   % ", ".join(stale), err=True)
        return 3
    return 0


@command.command("diff")
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default=None,
              help="Output format (default text; json with the global --json).")
@click.option("--fail-on", type=click.Choice(["ERR", "WARN", "INFO"], case_sensitive=False),
              help="Exit 3 when a finding at or above this level exists.")
@click.option("--out", "out", default="-", show_default=True, help="Report file (- for stdout).")
@pass_settings
def diff_command(settings, old, new, fmt, fail_on, out):
    """Compare two snapshots: findings with stable ids and levels ERR, WARN, INFO."""
    from ovm3.tools import diff, snapshot

    old_snap = snapshot.load(old)
    new_snap = snapshot.load(new)
    findings = diff.diff(old_snap, new_snap)
    fmt = fmt or ("json" if settings.json else "text")
    report = diff.render(fmt, old_snap, new_snap, findings)
    if fmt != "json" and out in (None, "-"):  # snapshots hold agent text; a terminal gets it escaped
        from ovm3.cli.output import printable

        report = printable(report, keep_newlines=True)
    _write(report, out)
    return diff.exit_status(findings, fail_on.upper() if fail_on else None)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(command())
