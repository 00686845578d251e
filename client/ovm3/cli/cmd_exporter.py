"""``ovm3 exporter``: Prometheus metrics (and a fleet status page) for every host of an inventory."""

import logging
import os
import re
import signal
import threading

import click

from ovm3 import errors
from ovm3.cli.main import pass_settings

log = logging.getLogger(__name__)

DEFAULT_PORT = 9733
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_BASIC_USER = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


def _first_line(path, what):
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as f:
            value = f.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or e
        raise errors.ConfigError("cannot read the %s file %s: %s" % (what, path, reason)) from None
    if not value.strip():
        raise errors.UsageError("the %s file %s is empty" % (what, path))
    return value


def read_bearer_token(path):
    """The bearer token: first line of ``path``, else OVM3_EXPORTER_TOKEN, else None."""
    if path:
        return _first_line(path, "bearer token").strip()
    return os.environ.get("OVM3_EXPORTER_TOKEN", "").strip() or None


def read_basic_auth(path):
    """``(user, password)`` from a file whose first line is ``user:password``."""
    if not path:
        return None
    user, sep, password = _first_line(path, "basic-auth").partition(":")
    if not sep or not _BASIC_USER.fullmatch(user) or not password:
        raise errors.UsageError("--basic-auth-file %s: the first line must be USER:PASSWORD (user of letters, "
                                "digits, _ . @ -)" % path)
    return user, password


def _timeouts(settings, deadline):
    """Each call's timeouts, none beyond the per-host deadline (a connect to a black-holed address
    would otherwise hold its worker past the scrape for the default connect timeout)."""
    import dataclasses

    from ovm3.transport import Timeouts

    base = settings.timeouts or Timeouts()
    return dataclasses.replace(base, connect=min(base.connect, deadline), short=min(base.short, deadline),
                               total=None)


def targets_from(settings, inventory_path, urls, deadline=10.0, profile_names=(), all_profiles=False):
    """The exporter's targets: every host of the inventory (``--inventory``, else the global one when no
    other source is given), the profiles named (``--profile``) or all of them (``--all-profiles``), each
    ``--url [NAME=]URL``; with none of these, the one host the global ``--url``/``-H`` names."""
    from ovm3.client import AgentClient, read_password_file
    from ovm3.monitor.collector import Target

    timeouts = _timeouts(settings, deadline)
    out = []
    if not (inventory_path or urls or profile_names or all_profiles):
        inventory_path = settings.inventory
    for profile in _profiles(settings, profile_names, all_profiles):
        def make(p=profile):
            password = read_password_file(os.path.expanduser(p.password_file)) if p.password_file \
                else settings.password(prompt=False)
            return AgentClient(p.url, user=p.user, password=password, ca_bundle=p.ca_bundle or None,
                               legacy_tls=p.legacy_tls, timeouts=timeouts)

        out.append(Target(profile.name, make))
    if inventory_path:
        from ovm3 import inventory

        for entry in inventory.load(inventory_path).hosts:
            def make(entry=entry):
                password = read_password_file(entry.agent_password_file) if entry.agent_password_file else None
                return AgentClient(entry.url, user=entry.agent_user, password=password, timeouts=timeouts)

            out.append(Target(entry.name, make))
    for spec in urls:
        name, sep, url = spec.partition("=")
        if not sep or "://" in name:
            name, url = "", spec
        if not re.fullmatch(r"https?://[^\s/]+/?", url):
            raise errors.UsageError("--url %r: want [NAME=]http(s)://HOST:PORT" % spec)
        name = name or url.split("://", 1)[1].rstrip("/")
        if not _NAME.fullmatch(name):
            raise errors.UsageError("--url %r: the name must be letters, digits, _ . : - (at most 128)" % spec)
        password = settings.password(prompt=False)

        def make(url=url, password=password):
            return AgentClient(url, user=settings.user, password=password, fingerprint=settings.fingerprint,
                               ca_bundle=settings.ca_bundle, legacy_tls=settings.legacy_tls, timeouts=timeouts)

        out.append(Target(name, make))
    if not out and settings.url:
        def make_default():
            return AgentClient(settings.url, user=settings.user, password=settings.password(prompt=False),
                               fingerprint=settings.fingerprint, ca_bundle=settings.ca_bundle,
                               legacy_tls=settings.legacy_tls, timeouts=timeouts)

        out.append(Target(settings.url.split("://", 1)[-1].rstrip("/"), make_default))
    if not out:
        raise errors.UsageError("no hosts: give --inventory FILE, --profile NAME, --all-profiles or --url [NAME=]URL")
    return out


def _profiles(settings, names, everyone):
    """The profiles asked for (``--profile`` looks in the config file, then the inventory, as ``-H`` does)."""
    from ovm3.profiles import ProfileStore, find_profile

    out = []
    if everyone:
        store = ProfileStore()
        if not store.profiles:
            raise errors.UsageError("--all-profiles: %s holds no profile (ovm3 config add ...)" % store.path)
        out.extend(store.profiles[n] for n in sorted(store.profiles))
    for name in names:
        profile = find_profile(name, settings.inventory)
        if profile is None:
            raise errors.UsageError("--profile %s: no such profile (ovm3 config list)%s" % (
                name, " nor inventory host" if settings.inventory else ""))
        if all(p.name != profile.name for p in out):
            out.append(profile)
    return out


def build_server(collector, listen, port, cert=None, key=None, insecure_http=False, token=None, basic=None,
                 client_cert=None, allow_from=(), no_auth=False, status_page=True):
    """An :class:`ovm3.monitor.server.ExporterServer` with the security the options ask for (the rules
    of ``ovm3 serve``: HTTPS unless --insecure-http, at least one mode unless --no-auth)."""
    from ovm3.cli.cmd_serve import tls_context
    from ovm3.cloudstack.auth import AuthPolicy, parse_networks, require_client_certificate
    from ovm3.monitor.server import ExporterServer
    from ovm3.server_limits import listen_error

    if token and basic:
        raise errors.UsageError("give a bearer token or basic auth, not both (both travel in Authorization)")
    networks = parse_networks(allow_from)
    if client_cert and insecure_http:
        raise errors.UsageError("--client-cert needs HTTPS (drop --insecure-http)")
    ctx = None if insecure_http else tls_context(cert, key)
    pinned = require_client_certificate(ctx, client_cert) if client_cert else None
    auth = AuthPolicy(api_key=token, client_cert_sha256=pinned, allow_from=networks, no_auth=no_auth,
                      basic_auth=basic)
    try:
        return ExporterServer((listen, port), collector, auth, ssl_context=ctx, status_page=status_page)
    except OSError as e:
        raise listen_error(e, listen, port) from None


@click.command("exporter")
@click.option("--inventory", "inventory_path", type=click.Path(exists=True, dir_okay=False),
              help="Export every host of this inventory (agent_url/address, agent_user, agent_password_file).")
@click.option("--profile", "profile_names", multiple=True, metavar="NAME",
              help="Export this profile (repeatable; ovm3 config list; an --inventory host name works too).")
@click.option("--all-profiles", is_flag=True, help="Export every profile of the config file.")
@click.option("--url", "urls", multiple=True, metavar="[NAME=]URL",
              help="Also export this agent (repeatable), with the global --user/--password-file/--fingerprint.")
@click.option("--deadline", default=10.0, show_default=True, type=click.FloatRange(0.1, 300),
              help="Seconds each host may take per scrape; a host slower than that is ovm3_host_up 0.")
@click.option("--workers", default=16, show_default=True, type=click.IntRange(1, 256),
              help="Hosts sampled at once.")
@click.option("--bridge", default="xenbr0", show_default=True,
              help="Bridge whose counters hosts without get_host_stats report (the per-VM fallback).")
@click.option("--listen", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", "listen_port", default=DEFAULT_PORT, show_default=True, help="Port to listen on.")
@click.option("--cert", type=click.Path(exists=True, dir_okay=False), help="TLS certificate (PEM).")
@click.option("--key", "key_file", type=click.Path(exists=True, dir_okay=False), help="TLS private key (PEM).")
@click.option("--insecure-http", is_flag=True, help="Serve plain HTTP (only on a trusted, local network).")
@click.option("--bearer-token-file", type=click.Path(exists=True, dir_okay=False),
              help="File whose first line is the token scrapers send as 'Authorization: Bearer' "
                   "(else OVM3_EXPORTER_TOKEN).")
@click.option("--basic-auth-file", type=click.Path(exists=True, dir_okay=False),
              help="File whose first line is USER:PASSWORD for HTTP basic authentication.")
@click.option("--client-cert", type=click.Path(exists=True, dir_okay=False),
              help="Mutual TLS: accept only scrapers presenting this certificate (PEM; pinned by SHA-256).")
@click.option("--allow-from", multiple=True, metavar="CIDR",
              help="Accept scrapers from this network (repeatable); weaker than a secret, logged as such.")
@click.option("--no-auth", is_flag=True, help="Serve without any authentication (testing only).")
@click.option("--no-status-page", is_flag=True, help="Serve /metrics only (no / status page).")
@click.option("--textfile", "textfile_dir", type=click.Path(file_okay=False),
              help="Write DIR/ovm3.prom for node_exporter's textfile collector instead of serving.")
@click.option("--interval", default=60.0, show_default=True, type=click.FloatRange(1, 86400),
              help="Seconds between writes with --textfile.")
@click.option("--once", is_flag=True, help="With --textfile: write once and exit.")
@pass_settings
def command(settings, inventory_path, profile_names, all_profiles, urls, deadline, workers, bridge, listen,
            listen_port, cert, key_file, insecure_http, bearer_token_file, basic_auth_file, client_cert, allow_from,
            no_auth, no_status_page, textfile_dir, interval, once):
    """Serve Prometheus metrics of every host (one get_host_stats call per host per scrape)."""
    from ovm3.cloudstack.auth import require_a_mode
    from ovm3.hostfiles import module_version
    from ovm3.monitor.collector import FleetCollector
    from ovm3.monitor.sweep import HostSweeper

    targets = targets_from(settings, inventory_path, urls, deadline, profile_names, all_profiles)
    collector = FleetCollector(targets, deadline=deadline, workers=workers, sweeper=HostSweeper(bridge),
                               module_version=module_version())
    stop = threading.Event()
    if textfile_dir:
        from ovm3.monitor import textfile

        if once:
            click.echo(textfile.write_once(collector, textfile_dir), err=True)
            return 0
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            textfile.write_every(collector, textfile_dir, interval, stop)
        except KeyboardInterrupt:
            pass
        return 0
    token = None if no_auth else read_bearer_token(bearer_token_file)
    basic = None if no_auth else read_basic_auth(basic_auth_file)
    require_a_mode(token, client_cert, allow_from, no_auth, basic)
    server = build_server(collector, listen, listen_port, cert, key_file, insecure_http, token, basic,
                          client_cert, allow_from, no_auth, status_page=not no_status_page)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    try:
        click.echo("exporting %d host(s) at %s (auth: %s)" % (
            len(collector.targets), server.url, ", ".join(server.auth.modes) or "none"), err=True)
        warning = server.auth.warning()
        if warning:
            click.echo("warning: %s" % warning, err=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        collector.close()
    return 0
