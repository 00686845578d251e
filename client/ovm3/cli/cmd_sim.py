"""``ovm3 sim``: run simulated agents (or a record/replay proxy) in the foreground."""

import json
import os
import secrets
import shutil
import signal
import tempfile
import threading

import click

from ovm3 import errors
from ovm3.api import VERSIONS

PASSWORD_FILE = "agent-password"
ADMIN_TOKENS_FILE = "admin-tokens"


def _password(root):
    """OVM3_PASSWORD, else a generated one written to a 0600 file; returns (password, source text)."""
    if os.environ.get("OVM3_PASSWORD"):
        return os.environ["OVM3_PASSWORD"], "environment variable OVM3_PASSWORD"
    password = secrets.token_urlsafe(18)
    path = os.path.join(root, PASSWORD_FILE)
    _write_private(path, password + "\n")
    return password, "file %s (mode 0600)" % path


def _write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def _admin_tokens(root, hosts):
    """The admin endpoint tokens (``name token`` lines) in a 0600 file; returns its path."""
    path = os.path.join(root, ADMIN_TOKENS_FILE)
    _write_private(path, "".join("%s %s\n" % (h.name, h.admin_token) for h in hosts))
    return path


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)


def _wait_forever():
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    while not done.wait(3600):
        pass


@click.command("sim")
@click.option(
    "--hosts",
    "count",
    default=1,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Number of simulated agents (fleet mode when more than one).",
)
@click.option(
    "--agent-version",
    default="3.3",
    show_default=True,
    type=click.Choice(list(VERSIONS)),
    help="Personality: 3.2 (recorded 3.2.1 facts), 3.3, or 3.4 (3.3 with 3.4 strings).",
)
@click.option(
    "--port", default=0, type=int, help="First port (agents use consecutive ports); 0 picks free ones."
)
@click.option(
    "--tls/--no-tls",
    default=True,
    show_default=True,
    help="Serve HTTPS with a self-signed certificate made at start.",
)
@click.option("--root", type=click.Path(file_okay=False), help="Sandbox directory (default: a new temp dir).")
@click.option(
    "--faults",
    "faults_file",
    type=click.Path(exists=True, dir_okay=False),
    help="JSON file of fault rules applied to every agent.",
)
@click.option(
    "--ownership-restart",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 300),
    help="Seconds a 3.3/3.4 agent is away after take_ownership (the real one restarts); 0: no restart.",
)
@click.option(
    "--heartbeat/--no-heartbeat",
    default=True,
    show_default=True,
    help="Run each host's heartbeat daemon (deployed config, CloudStack's timings) so the storage-health "
    "services work.",
)
@click.option("--record-from", help="Proxy to this real agent URL and record every call as fixture files.")
@click.option(
    "--out", type=click.Path(file_okay=False), help="Directory for recorded fixtures (--record-from)."
)
@click.option("--replay", type=click.Path(exists=True, file_okay=False), help="Serve a recorded directory.")
@click.option("--upstream-fingerprint", help="Pinned SHA-256 fingerprint of the --record-from agent.")
@click.pass_context
def command(
    ctx,
    count,
    agent_version,
    port,
    tls,
    root,
    faults_file,
    ownership_restart,
    heartbeat,
    record_from,
    out,
    replay,
    upstream_fingerprint,
):
    """Run simulated ovs-agents in the foreground until interrupted.

    Prints each agent's URL, user, password source and certificate fingerprint (never the password).
    """
    # A sandbox we made is ours to remove (on every exit, a failed start too); a --root is the caller's.
    # SIGTERM during the start unwinds like the one _wait_forever catches, so the removal still runs.
    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    temporary = root is None
    root = os.path.realpath(root or tempfile.mkdtemp(prefix="ovm3-sim-"))
    try:
        os.makedirs(root, exist_ok=True)
        password, source = _password(root)
        if record_from or replay:
            return _proxy(record_from, out, replay, port, password, source, upstream_fingerprint)
        return _serve(ctx, count, agent_version, port, tls, root, password, source, faults_file,
                      ownership_restart, heartbeat)
    finally:
        if temporary:
            shutil.rmtree(root, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)


def _serve(ctx, count, agent_version, port, tls, root, password, source, faults_file, ownership_restart,
           heartbeat):
    from ovm3.server_limits import listen_error
    from ovm3.sim.hosts import start_hosts, stop_hosts

    if faults_file:
        _check_faults_file(faults_file)
    try:
        hosts = start_hosts(
            count,
            agent_version,
            tls,
            root,
            password,
            fleet=count > 1,
            port=port,
            faults_file=faults_file,
            ownership_restart=ownership_restart,
            heartbeat=heartbeat,
        )
    except OSError as e:
        if e.errno is None:
            raise
        raise listen_error(e, "127.0.0.1", "%d-%d" % (port, port + count - 1) if port and count > 1 else port) from None
    try:
        agents = [{"name": h.name, "version": h.state.personality.ovm_version, "url": h.url, "user": h.user,
                   "ip": h.ip, "fingerprint": h.fingerprint,
                   "heartbeat_guid": h.state.heartbeat_daemon.guid if h.state.heartbeat_daemon else None}
                  for h in hosts]
        tokens = _admin_tokens(root, hosts)
        if ctx.obj is not None and ctx.obj.json:
            # One JSON line a program can read, then "ready" like the human form.
            click.echo(json.dumps({"sandbox": root, "password_source": source, "admin_tokens_file": tokens,
                                   "agents": agents}, sort_keys=True))
        else:
            click.echo("sandbox: %s" % root)
            click.echo("password: %s" % source)
            click.echo("admin tokens (X-Sim-Token for /_sim/...): file %s (mode 0600)" % tokens)
            for a in agents:
                click.echo("agent %(name)s version=%(version)s url=%(url)s user=%(user)s ip=%(ip)s "
                           "fingerprint=%(shown)s heartbeat=%(guid)s"
                           % dict(a, shown=a["fingerprint"] or "-", guid=a["heartbeat_guid"] or "off"))
        click.echo("ready", err=False)
        _wait_forever()
    finally:
        stop_hosts(hosts)
    return 0


def _check_faults_file(path):
    """Read the --faults file once up front: a bad one is an ``ovm3: error:`` line, not a traceback."""
    from ovm3.sim.faultrules import FaultRules

    try:
        FaultRules().load_file(path)
    except OSError as e:
        raise errors.ConfigError("cannot read --faults file %s: %s" % (path, e.strerror or e)) from None
    except UnicodeDecodeError:
        raise errors.ConfigError("--faults file %s is not UTF-8 text" % path) from None
    except json.JSONDecodeError as e:
        raise errors.ConfigError("--faults file %s is not JSON (line %d column %d: %s)" % (
            path, e.lineno, e.colno, e.msg), hint="give a JSON rule object or a list of them") from None
    except (ValueError, TypeError) as e:
        raise errors.ConfigError("--faults file %s: %s" % (path, e),
                                 hint="see README, Fault rules, for the rule keys and kinds") from None


def _proxy(record_from, out, replay, port, password, source, fingerprint):
    from ovm3.client import AgentClient
    from ovm3.sim.record import Recorder, Replayer
    from ovm3.sim.server import AgentServer

    if record_from and replay:
        raise errors.UsageError("give either --record-from or --replay, not both")
    server = AgentServer()
    if record_from:
        if not out:
            raise errors.UsageError("--record-from needs --out DIR")
        upstream = AgentClient(record_from, password=password, fingerprint=fingerprint)
        app = Recorder(upstream, out, "oracle", password)
    else:
        app = Replayer(replay, "oracle", password)
    try:
        bound = server.listen(app, port)
    except OSError as e:
        server.close()
        from ovm3.server_limits import listen_error

        raise listen_error(e, "127.0.0.1", port) from None
    try:
        click.echo("password: %s" % source)
        click.echo(
            "%s url=http://127.0.0.1:%d user=oracle" % ("recording" if record_from else "replaying", bound)
        )
        click.echo("ready")
        _wait_forever()
    finally:
        server.close()
    return 0
