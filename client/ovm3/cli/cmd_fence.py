"""``ovm3 fence``: the three-valued host verdict as a peer's heartbeat daemon sees it."""
import click

from ovm3.cloudstack import takeover
from ovm3.cli.main import pass_settings
from ovm3.cli.output import key_values, show


@click.group("fence")
def command():
    """Host-down verdicts from the self-fencing heartbeat."""


@command.command("check")
@click.argument("host_guid")
@click.option("--via", "peer", help="Peer agent to ask (host name or URL; default: the global --url/--host).")
@click.option("--fence-latency", type=float, default=takeover.DEFAULT_FENCE_LATENCY, show_default=True,
              help="Seconds for a fence to take effect (watchdog timeout + crash).")
@click.option("--margin", type=float, default=takeover.DEFAULT_MARGIN, show_default=True,
              help="Extra seconds before takeover counts as safe.")
@click.option("--clustered", is_flag=True, help="OCFS2 pool: also wait for o2cb's own 120 s self-fence.")
@pass_settings
def check(settings, host_guid, peer, fence_latency, margin, clustered):
    """Ask PEER whether HOST_GUID is ALIVE (exit 0), DEAD (3) or UNKNOWN (4)."""
    if peer:
        settings.url = peer if "://" in peer else "https://%s:8899" % peer
    verdict = takeover.check_host(settings.client(), host_guid)
    safe = verdict.safe_to_take_over(fence_latency, margin, clustered)
    data = dict(verdict.to_dict(), safe_to_take_over=safe,
                takeover_after=verdict.takeover_after(fence_latency, margin, clustered))

    def human(d):
        return key_values([("host", d["guid"]), ("verdict", d["state"]), ("reason", d["reason"]),
                           ("peer", d["peer"]), ("since progress (s)", d["since_progress"]),
                           ("takeover after (s)", d["takeover_after"]),
                           ("safe to take over", "yes" if d["safe_to_take_over"] else "no")])

    show(settings, data, human)
    return verdict.exit_code
