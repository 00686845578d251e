"""``ovm3 deploy HOST...``: install (or ``--uninstall``) ovm3 on OVM hosts over SSH, many in parallel.

Secrets come from files, the environment or a prompt, never from argv: the SSH password from
``--ssh-password-file`` / the inventory's ``ssh_password_file``, else ``OVM3_SSH_PASSWORD``, else a prompt
with ``--ask-ssh-password``; the agent password from the inventory's ``agent_password_file``, else the
global ``--password-file`` / ``OVM3_PASSWORD`` / prompt.
"""
import os
import sys
import threading
import uuid

import click

from ovm3 import errors, inventory
from ovm3.cli.main import pass_settings
from ovm3.cli.output import emit_json, printable, table
from ovm3.client import read_password_file
from ovm3.deploy import engine, fleet, manifest, selftest
from ovm3.deploy.agent import AgentAccess
from ovm3.deploy.ssh import SSHConnector
from ovm3.pinstore import PinStore

SSH_PASSWORD_ENV = "OVM3_SSH_PASSWORD"


def _ssh_password(entry, cli_file, cached):
    path = entry.ssh_password_file or cli_file
    if path:
        return read_password_file(path)
    if os.environ.get(SSH_PASSWORD_ENV):
        return os.environ[SSH_PASSWORD_ENV]
    return cached


def _given(ctx, name):
    from click.core import ParameterSource

    return ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE


def _heartbeat(entry, opts):
    mounts = list(opts["mount"]) or entry.mounts
    if opts["no_heartbeat"] or not mounts:
        return None
    guid = opts["guid"] or entry.guid or str(uuid.uuid5(uuid.NAMESPACE_DNS, entry.address))
    return manifest.HeartbeatSettings(
        guid=guid, mounts=mounts,
        interval=opts["interval"] or entry.interval or manifest.DEFAULT_INTERVAL,
        timeout=opts["hb_timeout"] or entry.timeout or manifest.DEFAULT_TIMEOUT,
        policy=opts["policy"] or entry.policy or manifest.DEFAULT_POLICY,
        watchdog=opts["watchdog"] or entry.watchdog or "",
        state_dir=opts["state_dir"] or entry.state_dir or manifest.DEFAULT_STATE_DIR,
        armed=opts["arm_fencing"])


def _agent_access(settings, entry, need_password):
    password = None
    password_file = entry.agent_password_file or settings.password_file
    if not need_password:
        pass  # a dry run talks to no agent
    elif password_file:
        password = read_password_file(password_file)
    else:
        password = settings.password()
    return AgentAccess(url=entry.url, user=entry.agent_user or settings.user, password=password,
                       password_file=password_file, legacy_tls=settings.legacy_tls)


class KeyPassphrases:
    """Asks once per key file for its passphrase, on a terminal only (fleet workers share the answer)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._known = {}

    def __call__(self, path):
        with self._lock:
            if path not in self._known:
                if sys.stdin is None or not sys.stdin.isatty():
                    return None
                self._known[path] = click.prompt("passphrase for SSH key %s" % path, hide_input=True,
                                                 default="", show_default=False, err=True) or None
            return self._known[path]


def _progress(done, total, result):
    line = "[%d/%d] %s: %s" % (done, total, result.host, result.status)
    if result.reason:
        line += " (%s)" % result.reason
    click.echo(printable(line), err=True)


@click.command("deploy")
@click.argument("hosts", nargs=-1)
@click.option("--inventory", "inventory_file", type=click.Path(dir_okay=False),
              help="Fleet inventory (INI); HOSTS then select from it (all when none given).")
@click.option("--uninstall", is_flag=True, help="Reverse a deployment: module out, heartbeat removed.")
@click.option("--dry-run", is_flag=True, help="Print the exact plan (uploads, commands); change nothing.")
@click.option("--self-test", is_flag=True,
              help="Run the host tests on each host's own Python as an unprivileged user; install nothing.")
@click.option("--self-test-user", default=selftest.DEFAULT_USER, show_default=True,
              help="The unprivileged account --self-test runs the tests as.")
@click.option("--rotate-agent-password", is_flag=True,
              help="Give the agent a new random password and write it to its password file.")
@click.option("--ssh-port", type=int, help="SSH port for hosts not in the inventory (default 22).")
@click.option("--ssh-user", default="root", show_default=True, help="SSH login user.")
@click.option("--ssh-key", "ssh_keys", multiple=True, type=click.Path(dir_okay=False),
              help="Private key to log in with (repeatable; default ~/.ssh/id_*).")
@click.option("--ssh-password-file", type=click.Path(dir_okay=False),
              help="File whose first line is the SSH password (else OVM3_SSH_PASSWORD).")
@click.option("--ask-ssh-password", is_flag=True, help="Prompt once for the SSH password.")
@click.option("--known-hosts", type=click.Path(dir_okay=False),
              help="known_hosts file (default OVM3_KNOWN_HOSTS or ~/.ssh/known_hosts).")
@click.option("--trust-new-host-key", is_flag=True,
              help="Accept and record an unknown host key (trust on first use); a changed key is refused.")
@click.option("--remote-root", help="Install under this directory instead of / (testing).")
@click.option("--remote-python", help="dom0 Python to run the installer with (default by OVM version).")
@click.option("--agent-ssl", type=click.Choice(engine.AGENT_SSL_CHOICES), default="keep", show_default=True,
              help="What to do with ssl= in agent.ini.")
@click.option("--host-fixes", is_flag=True, help="Also apply the known dom0 bug fixes during install.")
@click.option("--mount", multiple=True, help="NFS mount the heartbeat watches (repeatable; else inventory).")
@click.option("--guid", help="Host GUID for the heartbeat (one host only; else inventory or derived).")
@click.option("--interval", type=click.FloatRange(min=0, min_open=True),
              help="Heartbeat interval in seconds (fractions allowed).")
@click.option("--hb-timeout", type=click.FloatRange(min=0, min_open=True),
              help="Seconds without a heartbeat before a host counts as dead (fractions allowed).")
@click.option("--policy", help="Heartbeat fencing policy (see the fencing section of the README).")
@click.option("--watchdog", help="Watchdog device for the heartbeat (empty: none).")
@click.option("--state-dir", help="Heartbeat state directory on the host.")
@click.option("--arm-fencing", is_flag=True, help="Let the heartbeat really fence (default: log only).")
@click.option("--no-heartbeat", is_flag=True, help="Deploy the agent module only.")
@click.option("--workers", type=int, default=fleet.DEFAULT_WORKERS, show_default=True,
              help="Hosts deployed at the same time.")
@click.option("--wait-timeout", type=float, default=120.0, show_default=True,
              help="Seconds to wait for the agent to answer echo after a restart.")
@click.option("--command-timeout", type=float, default=300.0, show_default=True,
              help="Deadline in seconds for each remote command.")
@click.option("--host-files", type=click.Path(file_okay=False, exists=True), hidden=True,
              help="Deploy host-side files from this tree (agent_module/, hostlib/, fencing/, tools/host/).")
@pass_settings
def command(settings, hosts, inventory_file, uninstall, dry_run, self_test, self_test_user, rotate_agent_password,
            ssh_port, ssh_user, ssh_keys, ssh_password_file, ask_ssh_password, known_hosts, trust_new_host_key,
            remote_root, remote_python, agent_ssl, host_fixes, mount, guid, interval, hb_timeout, policy, watchdog,
            state_dir, arm_fencing, no_heartbeat, workers, wait_timeout, command_timeout, host_files):
    """Install ovm3 on OVM hosts over SSH: agent module, heartbeat daemon, dumper; pin the agent certificate.

    Idempotent (an unchanged host transfers nothing), reversible (--uninstall) and previewable (--dry-run).
    --self-test runs the host tests there instead (passed/failed per host) and leaves nothing behind.
    Exit 0 when every host succeeded, 1 when any failed.
    """
    inventory_file = inventory_file or settings.inventory  # ovm3 --inventory FILE deploy ... too
    if inventory_file:
        fleet_hosts = inventory.load(inventory_file).select(hosts)
    elif hosts:
        from ovm3.deploy import sshconfig

        ctx = click.get_current_context()
        fleet_hosts = inventory.from_names(hosts, ssh_user=ssh_user).hosts
        ssh_config = sshconfig.load()
        for entry in fleet_hosts:
            if ssh_port and entry.ssh_port == 22:
                entry.ssh_port = ssh_port
            sshconfig.apply(entry, ssh_config, user_given=_given(ctx, "ssh_user"), port_given=bool(ssh_port),
                            keys_given=bool(ssh_keys))
    else:
        raise errors.UsageError("name at least one HOST or give --inventory")
    if guid and len(fleet_hosts) > 1:
        raise errors.UsageError("--guid names one host's GUID; put per-host GUIDs in the inventory")
    if uninstall and rotate_agent_password:
        raise errors.UsageError("--uninstall and --rotate-agent-password do not mix")
    if self_test and (uninstall or dry_run or rotate_agent_password):
        raise errors.UsageError("--self-test installs nothing: it does not mix with --uninstall, --dry-run "
                                "or --rotate-agent-password")
    if self_test:
        selftest.check_user(self_test_user)
        selftest.source_tree(host_files)
    for entry in fleet_hosts:
        engine.check_root(remote_root or entry.remote_root or "/")
    prompted = None
    if ask_ssh_password:
        prompted = click.prompt("SSH password for %s" % ssh_user, hide_input=True, err=True)
    hb_opts = {"mount": mount, "guid": guid, "interval": interval, "hb_timeout": hb_timeout,
               "policy": policy, "watchdog": watchdog, "state_dir": state_dir, "arm_fencing": arm_fencing,
               "no_heartbeat": no_heartbeat}
    sources = manifest.default_sources(host_files) if host_files else None
    pin_store = PinStore()
    ask_passphrase = KeyPassphrases()
    # Ask for a shared agent password once, before the worker threads start.
    need_agent_password = not dry_run and not self_test
    accesses = {e.name: _agent_access(settings, e, need_agent_password) for e in fleet_hosts}

    if not uninstall and not no_heartbeat:
        for entry in fleet_hosts:
            if not (mount or entry.mounts):
                # Said, not silently left out: without a mount there is nothing for the heartbeat to watch.
                click.echo("%s: heartbeat not configured: no --mount (and no mounts in the inventory)"
                           % entry.name, err=True)

    def job(entry):
        password = _ssh_password(entry, ssh_password_file, prompted)
        keys = [entry.ssh_key] if entry.ssh_key else list(ssh_keys) or None
        with SSHConnector(entry.address, entry.ssh_port, entry.ssh_user or ssh_user, key_files=keys,
                          password=password, known_hosts=entry.known_hosts or known_hosts,
                          trust_new=trust_new_host_key, passphrase=ask_passphrase,
                          record_new=not dry_run) as conn:
            if self_test:
                return selftest.run(conn, root=remote_root or entry.remote_root or "/",
                                    python=remote_python or entry.remote_python, user=self_test_user,
                                    tree=host_files, timeout=command_timeout, label=entry.name)
            opts = engine.Options(
                root=remote_root or entry.remote_root or "/", python=remote_python or entry.remote_python,
                dry_run=dry_run, agent_ssl=agent_ssl, host_fixes=host_fixes,
                heartbeat=None if uninstall else _heartbeat(entry, hb_opts), sources=sources,
                agent=accesses[entry.name], pin_store=pin_store, wait_timeout=wait_timeout,
                command_timeout=command_timeout, rotate_password=rotate_agent_password)
            return engine.deploy(conn, opts, label=entry.name, uninstall=uninstall)

    results = fleet.run_fleet(fleet_hosts, job, workers=workers, progress=_progress)
    if settings.json:
        emit_json(results)
    else:
        if dry_run:
            for r in results:
                click.echo("== %s: %s" % (r.host, "plan" if r.status != "failed" else "failed"))
                for line in r.plan:
                    click.echo("  " + printable(line))
        elif self_test:
            for r in results:
                for line in r.plan:  # the failing tests' ids
                    click.echo("== %s: %s" % (r.host, printable(line)))
        click.echo(table(fleet.summary_rows(results), ["host", "status", "ovm", "files", "bytes", "reason"]))
    sys.stdout.flush()
    return 0 if fleet.all_ok(results) else 1
