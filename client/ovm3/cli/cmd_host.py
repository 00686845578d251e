"""``ovm3 host``: what the agent says about its host (info, hardware, mounts, stats, certificate)."""
import click

from ovm3 import errors
from ovm3.cli.main import EXIT_NEGATIVE, pass_settings
from ovm3.cli.output import emit_json, key_values, show, table


def human_bytes(n):
    """``4294557696`` -> ``4.0 GiB``; None stays empty."""
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return ("%d %s" % (value, unit)) if unit == "B" else ("%.1f %s" % (value, unit))
        value /= 1024.0
    return str(n)  # pragma: no cover


def with_bytes(n):
    """``1536`` -> ``1.5 KiB (1536 bytes)``: a counter with its unit, the exact number kept."""
    return "" if n is None else "%s (%d bytes)" % (human_bytes(n), n)


def human_duration(seconds):
    """``93784.5`` -> ``1d 2h 3m 4s``; None stays empty."""
    if seconds is None:
        return ""
    left = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if left >= size or parts:
            parts.append("%d%s" % (left // size, unit))
            left %= size
    parts.append("%ds" % left)
    return " ".join(parts)


def human_time(epoch):
    """Epoch seconds as ``2026-12-04 03:24:31 UTC (1796354671)``; None stays empty."""
    if epoch is None:
        return ""
    import time

    try:
        return "%s (%d)" % (time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch)), epoch)
    except (OverflowError, OSError, ValueError):
        return str(epoch)


#: File system types discover_mounted_file_systems knows on OVM 3 dom0.
FS_TYPES = ("nfs", "ocfs2", "ext3", "ext4")


@click.group("host")
def command():
    """Host information from discover_server, discover_hardware and friends."""


@command.command("info")
@pass_settings
def info(settings):
    """Identity, versions, pool membership and roles (discover_server)."""
    s = settings.client().linux.discover_server()
    show(settings, s, lambda s: key_values([
        ("hostname", s.hostname), ("registered ip", s.registered_ip), ("unique id", s.unique_id),
        ("ovm version", s.ovm_version), ("agent version", s.agent_version),
        ("os", "%s %s" % (s.os_name, s.os_version)), ("kernel", s.host_kernel_release),
        ("hypervisor", "%s %s" % (s.hypervisor_name, s.hypervisor_version)),
        ("membership", s.membership_state), ("pool", s.pool_unique_id), ("manager", s.manager_unique_id),
        ("roles", ",".join(s.server_roles)), ("master", "yes" if s.is_master else "no"),
        ("master vip", s.master_virtual_ip), ("cluster", s.cluster_state),
        ("time zone", "%s%s" % (s.time_zone, " (UTC clock)" if s.utc else "")),
        ("boot time", human_time(s.boot_time)),
    ]))


@command.command("hardware")
@pass_settings
def hardware(settings):
    """CPU topology, memory and system identity (discover_hardware)."""
    h = settings.client().linux.discover_hardware()
    show(settings, h, lambda h: key_values([
        ("system uuid", h.system_uuid), ("manufacturer", h.manufacturer), ("product", h.product_name),
        ("cpu", h.cpu_models[0] if h.cpu_models else ""),
        ("topology", "%d node(s) x %d socket(s) x %d core(s) x %d thread(s)" % (
            h.nodes, h.sockets_per_node, h.cores_per_socket, h.threads_per_core)),
        ("cpu mhz", h.cpu_khz // 1000), ("memory", "%s (%d bytes)" % (human_bytes(h.memory), h.memory)),
        ("free memory", "%s (%d bytes)" % (human_bytes(h.free_memory), h.free_memory)),
        ("iscsi initiator", h.iscsi_initiator),
    ]))


@command.command("mounts")
@click.option("--type", "fs_type", type=click.Choice(FS_TYPES), default="nfs", show_default=True,
              help="File system type to list.")
@pass_settings
def mounts(settings, fs_type):
    """Mounted file systems of one type (discover_mounted_file_systems)."""
    fs = settings.client().linux.discover_mounted_file_systems(fs_type)
    if settings.json:
        emit_json(list(fs))  # each typed Mount whole: dir, device, host, remote_dir, uuid, type, options
    else:
        rows = [{"dir": m.dir, "device": m.device, "type": m.fs_type, "options": m.mount_options} for m in fs]
        click.echo(table(rows, ["dir", "device", "type", "options"]) if rows else "no %s mounts" % fs_type)


@command.command("stats")
@click.option("--bridge", default="xenbr0", show_default=True, help="Bridge whose traffic counters to read.")
@pass_settings
def stats(settings, bridge):
    """CPU, memory and bridge traffic of dom0 (ovs_dom0_stats; needs the agent module)."""
    s = settings.client().cloudstack.ovs_dom0_stats(bridge)
    show(settings, s, lambda s: key_values([
        ("cpu %", s.cpu), ("memory total", human_bytes(s.total)), ("memory free", human_bytes(s.free)),
        ("%s rx" % bridge, with_bytes(s.rx)), ("%s tx" % bridge, with_bytes(s.tx)),
    ]))


@command.command("fingerprint")
@click.option("--save", is_flag=True, help="Pin the certificate in known_agents (with --legacy-tls: remember "
                                         "that the agent needs the legacy TLS profile).")
@click.option("--replace", is_flag=True, help="With --save: replace a different existing pin.")
@pass_settings
def fingerprint(settings, save, replace):
    """Print the SHA-256 fingerprint of the agent's TLS certificate (and pin it with --save).

    Check the value out of band (on dom0: openssl x509 -in /etc/ovs-agent/cert/certificate.pem
    -noout -fingerprint -sha256) before saving it.
    """
    from ovm3.pinstore import PinStore, fetch_fingerprint, pretty_fingerprint
    from ovm3.transport import parse_agent_url

    if not settings.url:
        raise errors.UsageError("no agent given: use --url (or --host) or OVM3_URL")
    scheme, host, port, _ = parse_agent_url(settings.url)
    if scheme != "https":
        raise errors.UsageError("%s:%d is plain http: there is no certificate to pin" % (host, port))
    if replace and not save:
        raise errors.UsageError("--replace only makes sense with --save")
    connect = settings.timeouts.connect if settings.timeouts else 10.0
    store = PinStore()
    pinned = store.entry(host, port)
    legacy = settings.legacy_tls or bool(pinned and pinned[1])
    try:
        fp = fetch_fingerprint(host, port, timeout=connect, legacy_tls=legacy)
    except errors.TLSError:
        if legacy:
            raise
        # An OVM 3.2/3.3 agent speaks only TLS 1.0/1.1: say so, and how to pin it with that profile.
        fp = fetch_fingerprint(host, port, timeout=connect, legacy_tls=True)
        raise errors.TLSError(
            "%s:%d only speaks TLS 1.0/1.1 (certificate %s)" % (host, port, pretty_fingerprint(fp)),
            hint="check the fingerprint on dom0, then pin it with the legacy profile: ovm3 --url %s "
                 "--legacy-tls host fingerprint --save; later calls need no flag" % settings.url) from None
    old = pinned[0] if pinned else None
    if save:
        store.add(host, port, fp, replace=replace, legacy_tls=legacy)
    if save:
        state = "saved"
    elif old:
        state = "pinned" if old == fp else "DIFFERENT from the pin"
    else:
        state = "not pinned"
    if settings.json:
        emit_json({"host": host, "port": port, "sha256": pretty_fingerprint(fp), "state": state,
                   "store": store.path, "legacy_tls": legacy})
    else:
        click.echo(pretty_fingerprint(fp))
        click.echo("%s:%d %s%s (%s)" % (host, port, state, ", legacy TLS" if legacy else "", store.path),
                   err=True)
    # a certificate that differs from its pin is a negative answer, whatever the output format
    return EXIT_NEGATIVE if state == "DIFFERENT from the pin" else 0
