"""The ``ovm3`` command: one click group; each ``cmd_<name>.py`` beside this file adds one subcommand,
listed once in :data:`COMMANDS` and imported only when it runs.

Exit codes (one table for the whole project, see README "Exit codes"):
0 ok or ALIVE, 1 error, 2 usage, 3 a negative answer (DEAD, breaking findings), 4 UNKNOWN.
"""
import importlib
import json
import logging
import os
import re
import sys

import click

from ovm3 import errors

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NEGATIVE, EXIT_UNKNOWN = 0, 1, 2, 3, 4


class Settings:
    """Global options, carried on ``ctx.obj``. ``client()`` opens the agent connection on first use."""

    def __init__(self, url=None, user="oracle", password_file=None, fingerprint=None, ca_bundle=None,
                 legacy_tls=False, json_output=False, verbose=0, timeouts=None):
        self.url = url
        self.user = user
        self.password_file = password_file
        self.fingerprint = fingerprint
        self.ca_bundle = ca_bundle
        self.legacy_tls = legacy_tls
        self.json = json_output
        self.verbose = verbose
        #: :class:`ovm3.transport.Timeouts` from ``--timeout`` (None: the defaults).
        self.timeouts = timeouts
        #: seconds a plain ``--timeout SECONDS`` allows the whole command, retries included (None: no bound).
        self.total_timeout = timeouts.total if timeouts is not None else None
        #: ``-o``: table (fitted to the terminal), wide (never cut) or json; ``--no-headers``.
        self.output = "table"
        self.no_headers = False
        self._client = None
        self._others = []  # clients to further hosts (client_for)
        #: ``--inventory``: the deploy inventory, a second source of profiles.
        self.inventory = None

    def password(self, prompt=True):
        """From --password-file, then OVM3_PASSWORD, then a prompt (never from argv)."""
        if self.password_file:
            from ovm3.client import read_password_file

            return read_password_file(self.password_file)
        if os.environ.get("OVM3_PASSWORD"):
            return os.environ["OVM3_PASSWORD"]
        if prompt and sys.stdin is not None and sys.stdin.isatty():
            return click.prompt("agent password for %s" % self.user, hide_input=True)
        raise errors.UsageError("no agent password: use --password-file or OVM3_PASSWORD")

    def client(self, bounded=True):
        """The agent client. ``bounded=False`` (long-running commands such as serve): calls keep their
        own deadlines but a plain ``--timeout SECONDS`` does not end the command."""
        if self._client is None:
            from ovm3.client import AgentClient

            if not self.url:
                raise errors.UsageError("no agent given: use --url (or --host) or OVM3_URL")
            self._client = AgentClient(self.url, user=self.user, password=self.password(),
                                       fingerprint=self.fingerprint, ca_bundle=self.ca_bundle,
                                       legacy_tls=self.legacy_tls, timeouts=self.timeouts,
                                       total_timeout=self.total_timeout if bounded else None)
        return self._client

    def client_for(self, target):
        """A client to a second host (``vm migrate``'s destination): ``target`` is a profile (its own
        settings), else an agent URL or host name (https on 8899) with this command's user, password, CA
        bundle and TLS profile. Certificates are checked against known_agents (``--fingerprint`` is for
        the first host only)."""
        from ovm3.client import AgentClient, read_password_file
        from ovm3.profiles import find_profile

        profile = find_profile(target, self.inventory) if "://" not in target else None
        if profile is not None:
            password = read_password_file(profile.password_file) if profile.password_file else self.password()
            client = AgentClient(profile.url, user=profile.user, password=password,
                                 ca_bundle=profile.ca_bundle or None, legacy_tls=profile.legacy_tls,
                                 timeouts=self.timeouts)
        else:
            client = AgentClient(target, user=self.user, password=self.password(), ca_bundle=self.ca_bundle,
                                 legacy_tls=self.legacy_tls, timeouts=self.timeouts)
        self._others.append(client)
        return client

    def close(self):
        for client in [self._client] + self._others:
            if client is not None:
                client.close()


pass_settings = click.make_pass_decorator(Settings)


class Interrupted(Exception):
    """Ctrl-C while a command ran (main() exits 130)."""


#: Every subcommand: name -> (module, help line). The one place commands are listed: ``ovm3 --help``
#: prints these lines without importing any command module, and a command's module is imported only
#: when that command runs (click's lazy group pattern). tests/test_cli_lazy.py checks each line
#: against its module's command and that every ``cmd_*.py`` is listed.
COMMANDS = {
    "call": ("ovm3.cli.cmd_call", "Call any agent METHOD with ARGS parsed by the table's types; print the result "
                                  "as JSON."),
    "config": ("ovm3.cli.cmd_config", "Profiles: named hosts with their URL, user, password file and TLS "
                                      "settings."),
    "demo": ("ovm3.cli.cmd_demo", "Drive a CloudStack day (add hosts, NFS pool, template, volume, VM on a VLAN, "
                                  "stats, migrate, snapshot, stop, destroy, remove storage) and print one line "
                                  "per step and a summary."),
    "deploy": ("ovm3.cli.cmd_deploy", "Install ovm3 on OVM hosts over SSH: agent module, heartbeat daemon, "
                                      "dumper; pin the agent certificate."),
    "exporter": ("ovm3.cli.cmd_exporter", "Serve Prometheus metrics of every host (one get_host_stats call per "
                                          "host per scrape)."),
    "fence": ("ovm3.cli.cmd_fence", "Host-down verdicts from the self-fencing heartbeat."),
    "host": ("ovm3.cli.cmd_host", "Host information from discover_server, discover_hardware and friends."),
    "introspect": ("ovm3.cli.cmd_introspect", "Dump what an agent exposes, ship synthetic snapshots, diff agent "
                                              "versions."),
    "network": ("ovm3.cli.cmd_network", "Host networking."),
    "pool": ("ovm3.cli.cmd_pool", "Server pool membership."),
    "repo": ("ovm3.cli.cmd_repo", "Repositories."),
    "serve": ("ovm3.cli.cmd_serve", "Serve CloudStack commands for the agent given with --url as JSON over "
                                    "HTTPS."),
    "sim": ("ovm3.cli.cmd_sim", "Run simulated ovs-agents in the foreground until interrupted."),
    "storage": ("ovm3.cli.cmd_storage", "NFS shares: list, mount under /nfsmnt, unmount."),
    "template": ("ovm3.cli.cmd_template", "Templates: disk images VMs are created from."),
    "vm": ("ovm3.cli.cmd_vm", "Virtual machines: list, inspect, create, start, stop, migrate, change disks and "
                              "NICs."),
}


class CommandGroup(click.Group):
    """The subcommands of :data:`COMMANDS`, each imported from its module (``command``) on first use."""

    def list_commands(self, ctx):
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx, name):
        if name in self.commands:
            return self.commands[name]
        if name not in COMMANDS:
            return None
        return importlib.import_module(COMMANDS[name][0]).command

    def format_commands(self, ctx, formatter):
        # click's own listing calls get_command for every name (importing every module) to read one line.
        names = [n for n in self.list_commands(ctx) if n not in self.commands or not self.commands[n].hidden]
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            if name in self.commands:
                rows.append((name, self.commands[name].get_short_help_str(limit)))
            else:
                rows.append((name, click.Command(name, help=COMMANDS[name][1]).get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            if ctx.parent is not None:
                raise
            # Click would print a blank line and turn it into Abort (exit 1): keep it ours, for exit 130.
            raise Interrupted() from None

    def parse_args(self, ctx, args):
        if ctx.parent is None:
            args = hoist_global_options(self, ctx, list(args))
        return super().parse_args(ctx, args)


def _option_names(command):
    """``{option string: takes a value}`` for a command's own options."""
    names = {}
    for param in command.params:
        if isinstance(param, click.Option):
            for opt in param.opts + param.secondary_opts:
                names[opt] = not (param.is_flag or param.count)
    return names


def hoist_global_options(group, ctx, args):
    """Move the root's options written after the subcommand (``ovm3 vm list --json``) in front of it, so
    they are accepted wherever people type them. An option the subcommand defines itself stays its own;
    everything after ``--`` stays where it is."""
    globals_ = {k: v for k, v in _option_names(group).items() if k != "--version"}
    head, i = [], 0
    while i < len(args) and args[i].startswith("-") and args[i] != "--":  # options already in front
        name = args[i].split("=", 1)[0]
        head.append(args[i])
        if globals_.get(name) and "=" not in args[i] and i + 1 < len(args):
            head.append(args[i + 1])
            i += 1
        i += 1
    moved, rest, local = [], [], {}
    command = group
    while i < len(args):
        tok = args[i]
        if tok == "--":
            rest.extend(args[i:])
            break
        name = tok.split("=", 1)[0] if tok.startswith("--") else tok
        if re.fullmatch(r"-([a-zA-Z])\1+", tok) and globals_.get(tok[:2]) is False:
            name = tok[:2]  # a repeated short flag (-vv) is that flag's
        if tok.startswith("-") and name in local:
            rest.append(tok)
            if local[name] and "=" not in tok and i + 1 < len(args):
                rest.append(args[i + 1])
                i += 1
        elif tok.startswith("-") and name in globals_:
            moved.append(tok)
            if globals_[name] and "=" not in tok and i + 1 < len(args):
                moved.append(args[i + 1])
                i += 1
        else:
            rest.append(tok)
            if not tok.startswith("-") and isinstance(command, click.Group):
                sub = command.get_command(ctx, tok)
                if sub is not None:
                    command = sub
                    local.update(_option_names(sub))
        i += 1
    return head + moved + rest


def parse_timeouts(specs):
    """``--timeout`` values to :class:`ovm3.transport.Timeouts` (None when none given).

    ``SECONDS`` sets every read class (short, medium, long) and bounds the whole command, retries
    included (``Timeouts.total``); ``CLASS=SECONDS`` sets one of connect, short, medium, long and wins
    over a plain ``SECONDS`` whatever the order.
    """
    if not specs:
        return None
    import dataclasses

    from ovm3.transport import Timeouts

    timeouts = Timeouts()
    classes = [f.name for f in dataclasses.fields(Timeouts)]
    plain, named = [], []
    for spec in specs:
        name, sep, text = spec.rpartition("=")
        if sep and name not in classes:
            raise click.BadParameter("unknown timeout class %r (one of %s)" % (name, ", ".join(classes)),
                                     param_hint="--timeout")
        try:
            seconds = float(text)
        except ValueError:
            seconds = -1.0
        if not seconds > 0:
            raise click.BadParameter("%r: want SECONDS or CLASS=SECONDS with SECONDS > 0" % spec,
                                     param_hint="--timeout")
        (named if sep else plain).append((name, seconds))
    for _, seconds in plain:
        timeouts.short = timeouts.medium = timeouts.long = seconds
        timeouts.total = seconds
    for name, seconds in named:
        setattr(timeouts, name, seconds)
    return timeouts


def _given(ctx, name):
    from click.core import ParameterSource

    return ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def resolve_target(ctx, url, host, port, tls, inventory_path=None):
    """``(url, profile or None)`` from --url, --host (a profile name, or a host of the --inventory, else a
    host name) or OVM3_URL;
    options that contradict each other are a usage error rather than one silently winning."""
    if url and host:
        raise click.UsageError("--url and --host both name the agent: give one")
    shaping = [opt for opt, name in (("--port", "port"), ("--tls/--no-tls", "tls")) if _given(ctx, name)]
    profile = None
    if host:
        from ovm3.profiles import find_profile

        profile = find_profile(host, inventory_path)
    if shaping and (url or profile):
        raise click.UsageError("%s only shape the URL built from a host name; %s already gives it" % (
            " and ".join(shaping), "--url" if url else "profile %s" % host))
    if profile is not None:
        return profile.url, profile
    if url:
        return url, None
    if host:
        return "%s://%s:%d" % ("https" if tls else "http", host, port), None
    return os.environ.get("OVM3_URL"), None


ENV_HELP = """\b
Environment:
  OVM3_URL       agent URL when neither --url nor --host is given
  OVM3_USER      agent user (default oracle)
  OVM3_PASSWORD  agent password when there is no --password-file
  OVM3_CONFIG    profiles file (default ~/.config/ovm3/config.toml)
  OVM3_INVENTORY deploy inventory whose hosts -H also finds
  OVM3_KNOWN_AGENTS  agent certificate pins (default ~/.config/ovm3/known_agents)
  OVM3_KNOWN_HOSTS   SSH host keys for deploy;  OVM3_SSH_CONFIG  ssh config for deploy
  OVM3_SSH_PASSWORD  SSH password for deploy when no key logs in
  OVM3_SERVE_API_KEY API key of ovm3 serve;  OVM3_EXPORTER_TOKEN  bearer token of ovm3 exporter
  OVM3_WIRE_DECODER  lxml: turn the C reply decoder off

Global options may also follow the subcommand (ovm3 vm list --json).
"""


@click.group(cls=CommandGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=ENV_HELP)
@click.option("--url", help="Agent URL, e.g. https://ovm-1:8899 (http:// only when written explicitly).")
@click.option("--inventory", "inventory_path", type=click.Path(dir_okay=False), envvar="OVM3_INVENTORY",
              help="Deploy inventory whose hosts -H also finds (after the profiles).")
@click.option("-H", "--host", help="A profile (ovm3 config list), else the agent's host name or address "
                                   "(instead of --url).")
@click.option("--port", default=8899, show_default=True, help="Agent port with --host.")
@click.option("--tls/--no-tls", default=True, show_default=True, help="https or http with --host.")
@click.option("--user", default="oracle", show_default=True, envvar="OVM3_USER", help="Agent user.")
@click.option("--password-file", type=click.Path(dir_okay=False),
              help="File whose first line is the agent password (else OVM3_PASSWORD, else a prompt).")
@click.option("--fingerprint", help="Pin the agent certificate to this SHA-256 fingerprint.")
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False),
              help="Verify the agent certificate against this CA bundle instead of pinning.")
@click.option("--legacy-tls", is_flag=True,
              help="Allow TLS 1.0/1.1 and old ciphers (OVM 3.2/3.3 agents); pinned agents only.")
@click.option("--timeout", "timeout_specs", multiple=True, metavar="[CLASS=]SECONDS",
              help="Timeouts in seconds (repeatable): SECONDS for every call class and for the whole command "
                   "(retries included), or CLASS=SECONDS for one of connect (default 10), short (60), "
                   "medium (600), long (3600), total (the whole command).")
@click.option("--json", "json_output", is_flag=True, help="Machine-readable JSON output.")
@click.option("-o", "--output", type=click.Choice(["table", "wide", "json"]), default="table", show_default=True,
              help="table: fitted to the terminal; wide: never cut; json: as --json.")
@click.option("--no-headers", is_flag=True, help="Tables without their header line.")
@click.option("-v", "--verbose", count=True, help="Log to stderr (-v info, -vv debug).")
@click.version_option(package_name="ovm3")
@click.pass_context
def cli(ctx, inventory_path, url, host, port, tls, user, password_file, fingerprint, ca_bundle, legacy_tls,
        timeout_specs, json_output, output, no_headers, verbose):
    """Drive Oracle VM Server 3 hosts through ovs-agent."""
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_PrintableFormatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logging.basicConfig(level=logging.DEBUG if verbose > 1 else logging.INFO, handlers=[handler])
    url, profile = resolve_target(ctx, url, host, port, tls, inventory_path)
    if profile is not None:  # the command line wins over the profile
        user = user if _given(ctx, "user") else profile.user
        password_file = password_file or profile.password_file or None
        ca_bundle = ca_bundle or profile.ca_bundle or None
        legacy_tls = legacy_tls or profile.legacy_tls
    # ~ is expanded here, once, at the edge: every later use (reads, the rotation's FILE.new and its
    # rename) sees the same path.
    password_file = os.path.expanduser(password_file) if password_file else None
    if json_output and _given(ctx, "output") and output != "json":
        raise click.UsageError("--json and -o %s ask for two output formats: give one" % output)
    ctx.obj = Settings(url, user, password_file, fingerprint, ca_bundle, legacy_tls,
                       json_output or output == "json", verbose, parse_timeouts(timeout_specs))
    ctx.obj.output, ctx.obj.no_headers, ctx.obj.inventory = output, no_headers, inventory_path
    ctx.call_on_close(ctx.obj.close)


def _wants_json(argv):
    words = list(sys.argv[1:] if argv is None else argv)
    words = words[:words.index("--")] if "--" in words else words
    pairs = list(zip(words, words[1:] + [""]))
    return "--json" in words or "--output=json" in words or any(
        a in ("-o", "--output") and b == "json" for a, b in pairs)


def _fail(json_errors, message, host=None, hint=None):
    if json_errors:
        click.echo(json.dumps({"error": message, "host": host, "hint": hint or None}, sort_keys=True), err=True)
    else:
        from ovm3.cli.output import printable

        click.echo("ovm3: error: %s" % printable(message), err=True)


class _PrintableFormatter(logging.Formatter):
    """Log lines for a terminal: agent text in a message cannot move the cursor or rewrite a line."""

    def format(self, record):
        from ovm3.cli.output import printable

        return printable(super().format(record), keep_newlines=True)


def main(argv=None):
    """Entry point: run the group, turning ovm3 errors into one-line messages (JSON ones on stderr with
    --json) and exit codes."""
    json_errors = _wants_json(argv)
    try:
        rv = cli.main(args=argv, prog_name="ovm3", standalone_mode=False)
    except (Interrupted, KeyboardInterrupt):
        if json_errors:
            _fail(True, "interrupted")
        else:
            click.echo("interrupted", err=True)
        return 130
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_ERROR
    except click.ClickException as e:
        if not json_errors:
            e.show()
        else:
            _fail(True, e.format_message(), hint="see ovm3 --help" if e.exit_code == EXIT_USAGE else None)
        return e.exit_code
    except errors.OVM3Error as e:
        if json_errors:
            # The message without the host and hint, which have fields of their own (the error is ours to
            # discard, so it is simply emptied of them before str()).
            hint, e.hint = e.hint, ""
            host, e.host = e.host, None
            _fail(True, str(e), host, hint)
        else:
            _fail(False, str(e))
        return e.exit_code
    except Exception as e:  # noqa: BLE001 - a bug of ours: one line, the traceback only in the -vv log
        logging.getLogger("ovm3").debug("unexpected error", exc_info=True)
        from ovm3.cli.output import printable

        message = "internal error: %s: %s (please report it; -vv logs the traceback)" % (
            e.__class__.__name__, printable(e))
        if json_errors:
            _fail(True, message)
        else:
            click.echo("ovm3: %s" % message, err=True)
        return EXIT_ERROR
    return rv if isinstance(rv, int) else EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    # Run the package's copy of this module: as __main__ it would define a second Settings class that the
    # subcommands (which import ovm3.cli.main) do not know.
    from ovm3.cli.main import main as _main

    sys.exit(_main())
