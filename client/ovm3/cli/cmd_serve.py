"""``ovm3 serve``: the resource layer as a JSON-over-HTTP endpoint (Hyper-V direct-connect agent style)."""

import json
import os
import signal
import ssl
import threading
import uuid

import click

from ovm3 import errors
from ovm3.cli.main import pass_settings


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


def build_server(resource, listen, port, cert=None, key=None, insecure_http=False, api_key=None):
    """A :class:`ovm3.cloudstack.server.ResourceServer` with the security the options ask for."""
    from ovm3.cloudstack.server import ResourceServer

    from ovm3.server_limits import listen_error

    ctx = None if insecure_http else tls_context(cert, key)
    try:
        return ResourceServer((listen, port), resource, api_key=api_key, ssl_context=ctx)
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
@click.option("--no-auth", is_flag=True, help="Accept requests without an API key (testing only).")
@click.option("--manager-uuid", help="Owner id of this installation (generated and printed when omitted).")
@click.option("--vip", default="", help="Pool virtual IP; enables OVM server pooling.")
@pass_settings
def command(
    settings, listen, listen_port, cert, key_file, insecure_http, api_key_file, no_auth, manager_uuid, vip
):
    """Serve CloudStack commands for the agent given with --url as JSON over HTTPS."""
    from ovm3.cloudstack.resource import HostConfig, HostResource

    api_key = None if no_auth else read_api_key(api_key_file)
    client = settings.client(bounded=False)  # serve runs until stopped; --timeout bounds each call
    host = client.transport.label.rsplit(":", 1)[0]
    manager = manager_uuid or uuid.uuid4().hex
    resource = HostResource(client, HostConfig(ip=host, manager_uuid=manager, pool=bool(vip), vip=vip))
    server = build_server(resource, listen, listen_port, cert, key_file, insecure_http, api_key)
    # SIGTERM (how service managers stop us) ends serve_forever like Ctrl-C; shutdown() must come from
    # another thread than the serving one.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    # Announce inside the try: a SIGINT right after the announcement is a clean stop, not a traceback.
    try:
        click.echo(
            "serving %s for %s (manager %s)%s"
            % (server.url, resource.host, manager, "" if api_key else " WITHOUT an API key"),
            err=True,
        )
        if settings.json:
            click.echo(json.dumps({"url": server.url, "agent": resource.host, "manager_uuid": manager,
                                   "api_key_required": bool(api_key)}, sort_keys=True))
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
