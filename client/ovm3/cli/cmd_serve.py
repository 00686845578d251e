"""``ovm3 serve``: the resource layer as a JSON-over-HTTP endpoint (Hyper-V direct-connect agent style)."""

import json
import logging
import os
import signal
import ssl
import threading
import uuid

import click

from ovm3 import errors
from ovm3.cli.main import pass_settings

log = logging.getLogger(__name__)


def read_api_key(path):
    """The API key: first line of ``path``, else OVM3_SERVE_API_KEY."""
    if path:
        try:
            with open(os.path.expanduser(path), encoding="utf-8") as f:
                key = f.readline().strip()
        except (OSError, UnicodeDecodeError) as e:
            reason = getattr(e, "strerror", None) or e
            raise errors.ConfigError("cannot read the API key file %s: %s" % (path, reason)) from None
    else:
        key = os.environ.get("OVM3_SERVE_API_KEY", "").strip()
    if not key:
        raise errors.UsageError(
            "no API key: use --api-key-file or OVM3_SERVE_API_KEY (or --no-auth on purpose)"
        )
    return key


def optional_api_key(path):
    """The API key when one is configured (file or OVM3_SERVE_API_KEY), else None."""
    if path or os.environ.get("OVM3_SERVE_API_KEY", "").strip():
        return read_api_key(path)
    return None


def manager_uuid_file():
    """Where this installation keeps its manager uuid (next to known_agents)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "ovm3", "manager-uuid")


def stored_manager_uuid(path=None):
    """This installation's manager uuid: read from ``path``, or made once and kept there (mode 0600),
    so a restarted serve still owns the hosts it set up."""
    from ovm3.cloudstack.naming import dedash

    path = path or manager_uuid_file()
    try:
        with open(path, encoding="ascii") as f:
            value = f.read().strip()
    except FileNotFoundError:
        value = None
    except (OSError, UnicodeDecodeError) as e:
        raise errors.UsageError("cannot read the manager uuid in %s: %s" % (path, e.__class__.__name__)) from None
    if value is None:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        value = uuid.uuid4().hex
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another serve made it first: take theirs
            return stored_manager_uuid(path)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(value + "\n")
    try:
        return dedash(str(uuid.UUID(value)))
    except ValueError:
        raise errors.UsageError("%s does not hold a manager uuid (32 hex digits)" % path) from None


def tls_context(cert, key):
    if not (cert and key):
        raise errors.UsageError("HTTPS needs --cert and --key (or --insecure-http on purpose)")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key, password=_no_passphrase)
    except (ssl.SSLError, OSError, ValueError) as e:
        raise errors.ConfigError(
            "cannot use --cert %s with --key %s: %s" % (cert, key, getattr(e, "reason", None) or e),
            hint="give a PEM certificate and its matching private key (unencrypted, PEM)") from None
    return ctx


def _no_passphrase():
    # Never let OpenSSL prompt on the terminal for an encrypted key: the error above says what to do.
    raise ValueError("the private key is encrypted")


def build_server(resource, listen, port, cert=None, key=None, insecure_http=False, api_key=None,
                 client_cert=None, allow_from=(), no_auth=None):
    """A :class:`ovm3.cloudstack.server.ResourceServer` with the security the options ask for.

    ``no_auth`` None (programmatic use) means "open when no mode is given"; the command passes its flag.
    """
    from ovm3.cloudstack.auth import AuthPolicy, parse_networks, require_client_certificate
    from ovm3.cloudstack.server import ResourceServer
    from ovm3.server_limits import listen_error

    networks = parse_networks(allow_from)
    if no_auth is None:
        no_auth = not (api_key or client_cert or networks)
    if client_cert and insecure_http:
        raise errors.UsageError("--client-cert needs HTTPS (drop --insecure-http)")
    ctx = None if insecure_http else tls_context(cert, key)
    pinned = require_client_certificate(ctx, client_cert) if client_cert else None
    auth = AuthPolicy(api_key=api_key, client_cert_sha256=pinned, allow_from=networks, no_auth=no_auth)
    try:
        return ResourceServer((listen, port), resource, ssl_context=ctx, auth=auth)
    except OSError as e:
        raise listen_error(e, listen, port) from None


@click.command("serve")
@click.option("--listen", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", "listen_port", default=8250, show_default=True, help="Port to listen on.")
@click.option("--cert", type=click.Path(exists=True, dir_okay=False), help="TLS certificate (PEM).")
@click.option(
    "--key", "key_file", type=click.Path(exists=True, dir_okay=False), help="TLS private key (PEM)."
)
@click.option("--insecure-http", is_flag=True, help="Serve plain HTTP (only on a trusted, local network).")
@click.option(
    "--api-key-file",
    type=click.Path(exists=True, dir_okay=False),
    help="File whose first line is the API key clients must send (else OVM3_SERVE_API_KEY).",
)
@click.option(
    "--client-cert",
    type=click.Path(exists=True, dir_okay=False),
    help="Mutual TLS: accept only clients presenting this certificate (PEM; pinned by its SHA-256).",
)
@click.option(
    "--allow-from",
    multiple=True,
    metavar="CIDR",
    help="Accept clients from this network (repeatable): for a client that can send no key or "
    "certificate; weaker, logged as such, and host set-up over HTTP is refused.",
)
@click.option("--no-auth", is_flag=True, help="Accept requests without any authentication (testing only).")
@click.option(
    "--manager-uuid",
    help="Owner id of this installation (default: kept in ~/.config/ovm3/manager-uuid, made once).",
)
@click.option("--vip", default="", help="Pool virtual IP; enables OVM server pooling.")
@click.option(
    "--guid",
    default="",
    help="The host guid CloudStack knows it by, when not the one derived from the agent's registered IP "
    "(it must be the heartbeat config's GUID; CloudStack's startup sets it too).",
)
@click.option("--setup", "run_setup", is_flag=True, help="Set the host up (take ownership...) before serving.")
@pass_settings
def command(
    settings, listen, listen_port, cert, key_file, insecure_http, api_key_file, client_cert, allow_from, no_auth,
    manager_uuid, vip, guid, run_setup,
):  # fmt: skip
    """Serve CloudStack commands for the agent given with --url as JSON over HTTPS."""
    from ovm3.cloudstack.auth import require_a_mode
    from ovm3.cloudstack.dispatch import describe_error
    from ovm3.cloudstack.host import identify
    from ovm3.cloudstack.naming import is_host_guid
    from ovm3.cloudstack.resource import HostConfig, HostResource

    api_key = None if no_auth else optional_api_key(api_key_file)
    require_a_mode(api_key, client_cert, allow_from, no_auth)  # before anything reaches the agent
    if guid and not is_host_guid(guid):
        raise errors.UsageError("--guid %r is not a UUID (8-4-4-4-12 hex digits)" % guid)
    client = settings.client(bounded=False)  # serve runs until stopped; --timeout bounds each call
    host = client.transport.label.rsplit(":", 1)[0]
    manager = manager_uuid or stored_manager_uuid()
    resource = HostResource(
        client, HostConfig(ip=host, guid=guid, manager_uuid=manager, pool=bool(vip), vip=vip, identify=True)
    )
    server = build_server(resource, listen, listen_port, cert, key_file, insecure_http, api_key,
                          client_cert, allow_from, no_auth)  # fmt: skip
    try:
        identify(resource)
    except Exception as e:  # noqa: BLE001 - asked again on the first request
        click.echo("warning: host %s: identity not read yet: %s" % (host, describe_error(e)), err=True)
    if run_setup:
        try:
            for step, outcome in resource.setup():
                click.echo("set-up %s: %s: %s" % (resource.host, step, outcome), err=True)
        except Exception as e:  # noqa: BLE001 - said with host and step, then a non-zero exit
            server.server_close()
            step = getattr(e, "ovm3_step", None) or "set-up"
            why = "set-up failed at step %s: %s" % (step, describe_error(e))
            raise errors.OVM3Error(why, host=resource.host) from None
    # SIGTERM (how service managers stop us) ends serve_forever like Ctrl-C; shutdown() must come from
    # another thread than the serving one.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    # Announce inside the try: a SIGINT right after the announcement is a clean stop, not a traceback.
    try:
        click.echo(
            "serving %s for %s (manager %s, guid %s)%s"
            % (server.url, resource.host, manager, resource.config.guid, "" if api_key else " WITHOUT an API key"),
            err=True,
        )
        warning = server.auth.warning()
        if warning:
            click.echo("warning: %s" % warning, err=True)
            log.warning("%s", warning)
        if settings.json:
            click.echo(json.dumps({"url": server.url, "agent": resource.host, "manager_uuid": manager,
                                   "api_key_required": bool(api_key), "auth": server.auth.modes,
                                   "guid": resource.config.guid}, sort_keys=True))
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
