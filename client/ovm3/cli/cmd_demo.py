"""``ovm3 demo``: a CloudStack day through the resource layer, on simulated hosts (default) or real ones."""

import contextlib
import sys
import tempfile
import uuid

import click

from ovm3 import errors
from ovm3.api import VERSIONS
from ovm3.cli.main import pass_settings
from ovm3.cli.output import emit_json, table

SIM_VIP = "192.168.1.230"


#: Answer fields that say nothing a demo line should show.
_QUIET_FIELDS = frozenset(["result", "details", "wait", "contextMap", "executeInSequence"])


def step_details(step):
    """What a step's line shows: the answer's details, else a summary of its other scalar fields (so
    every step says something), never a secret (the answer is redacted first)."""
    from ovm3.cloudstack import answers
    from ovm3.redact import redact_value

    if step.details or not isinstance(step.answer, dict) or "steps" in step.answer:
        return step.details
    try:
        body = redact_value(answers.body(step.answer))
    except Exception:  # noqa: BLE001 - an answer of another shape: nothing more to say
        return ""
    parts = []
    _scalars(body, parts, 0)
    return ", ".join("%s=%s" % kv for kv in parts[:5])


def _scalars(value, out, depth):
    """``(key, scalar)`` pairs of an answer, nested structs (and their Java class wrappers) opened."""
    for key, item in sorted(value.items()):
        if key in _QUIET_FIELDS or item in (None, "", [], {}):
            continue
        if isinstance(item, dict) and depth < 3:
            _scalars(item, out, depth + 1)
        elif isinstance(item, list):
            out.append((key, "[%d]" % len(item)))
        elif not isinstance(item, dict):
            out.append((key, item))


def line_printer(stream=None):
    """``report(step)`` for run_day: one line per step, fitted to the terminal; on a terminal a long
    step's "..." line is rewritten by its result, elsewhere only the result is printed (never a step
    twice); a failed step's reason is printed in full."""
    import shutil

    stream = stream or sys.stdout
    tty = stream.isatty()
    width = shutil.get_terminal_size().columns if tty else 160

    def report(step):
        head = "%3d  %-28s %-8s" % (step.number, step.command, step.host)
        if step.result == "running":
            if step.long and tty:
                stream.write(head + " ...")
                stream.flush()
            return
        line = "%s %-6s %7.2fs  " % (head, step.result, step.seconds)
        details = step_details(step)
        if step.result == "ok":
            room = max(width - len(line) - 1, 10)
            line += details if len(details) <= room else details[:room - 1] + "~"
        stream.write(("\r\x1b[K" if tty else "") + line.rstrip() + "\n")
        if step.result != "ok" and details:
            stream.write("     reason: %s\n" % details)
        stream.flush()

    return report


def where(resources):
    """One line per host: its name, the agent URL it is reached at and the address it is known by."""
    return ["  %-8s %s (%s)" % (r.host, r.client.transport.url, r.config.ip) for r in resources]


def _resources(make_client, configs, poll):
    """One :class:`HostResource` per host, sharing no object with another (as one ``ovm3 serve`` per
    host runs): each has its own client, state table and config. Its ``peers`` are views of the other
    pool members over clients of their own, read for pool membership only; a VM's move between hosts
    is learnt by each host from its own agent. ``make_client(i)`` returns a new client for host ``i``."""
    import dataclasses

    from ovm3.cloudstack.resource import HostResource

    resources = [HostResource(make_client(i), cfg) for i, cfg in enumerate(configs)]
    for i, r in enumerate(resources):
        r.poll_interval = poll
        for j, cfg in enumerate(configs):
            if j != i:
                r.peers[cfg.ip] = HostResource(make_client(j), dataclasses.replace(cfg))
    return resources


def close_resources(resources):
    for r in resources:
        for peer in r.peers.values():
            peer.client.close()
        r.client.close()


@contextlib.contextmanager
def simulated(count, version):
    """Simulated hosts plus resources for them (the template is put on the simulated secondary NFS)."""
    from ovm3.cloudstack.resource import HostConfig
    from ovm3.cloudstack.demo import DemoEnv, prepare_simulated_secondary
    from ovm3.sim import simulated_agents

    env = DemoEnv()
    manager = uuid.uuid4().hex
    with tempfile.TemporaryDirectory(prefix="ovm3-demo-") as root:
        with simulated_agents(count=count, version=version, tls=True, root=root) as hosts:
            prepare_simulated_secondary(hosts, env)
            configs = [
                HostConfig(ip=h.ip, name=h.name, manager_uuid=manager, pool=True, vip=SIM_VIP) for h in hosts
            ]
            resources = _resources(lambda i: hosts[i].client(), configs, 0.05)
            try:
                yield resources, env
            finally:
                close_resources(resources)


def refuse_foreign(resources, yes_modify):
    """Refuse hosts that are already owned or pooled unless the operator said so."""
    from ovm3.cloudstack.host import server_info

    for r in resources:
        info = server_info(r, refresh=True)
        owned = info.membership_state not in ("", "Unowned")
        pooled = info.pool_unique_id.lower() not in ("", "none")
        if (owned or pooled) and not yes_modify:
            raise errors.UsageError(
                "host %s is already %s: the demo would change it; pass --yes-modify to allow"
                % (r.host, "owned and pooled" if owned and pooled else "owned" if owned else "pooled")
            )


@click.command("demo")
@click.option(
    "--agent-version",
    default="3.3",
    show_default=True,
    type=click.Choice(list(VERSIONS)),
    help="OVM version of the simulated hosts.",
)
@click.option(
    "--hosts",
    "count",
    default=2,
    show_default=True,
    type=click.IntRange(1, 8),
    help="Number of simulated hosts.",
)
@click.option(
    "--url", "urls", multiple=True, help="Run against this real agent instead (repeat for each host)."
)
@click.option("--vip", help="Pool virtual IP for real hosts.")
@click.option("--primary", help="Primary NFS storage for real hosts, nfs://host/path.")
@click.option("--secondary", help="Secondary NFS storage for real hosts, nfs://host/path.")
@click.option("--template", help="Template path on the secondary storage for real hosts.")
@click.option("--manager-uuid", help="Owner id of this installation (real hosts; generated when omitted).")
@click.option(
    "--yes-modify", is_flag=True, help="Allow changing real hosts that are already owned or pooled."
)
@click.option("--json", "as_json", is_flag=True, help="Print every answer as JSON.")
@pass_settings
def command(
    settings, agent_version, count, urls, vip, primary, secondary, template, manager_uuid, yes_modify, as_json
):
    """Drive a CloudStack day (add hosts, NFS pool, template, volume, VM on a VLAN, stats, migrate,
    snapshot, stop, destroy, remove storage) and print one line per step and a summary."""
    from ovm3.cloudstack.demo import run_day

    as_json = as_json or settings.json
    if urls:
        ctx = real_hosts(settings, urls, vip, primary, secondary, template, manager_uuid)
    else:
        ctx = simulated(count, agent_version)
    with ctx as (resources, env):
        if urls:
            refuse_foreign(resources, yes_modify)
        if not as_json:
            click.echo("%s agents:" % ("real" if urls else "simulated"))
            for text in where(resources):
                click.echo(text)
        steps = run_day(resources, env, report=None if as_json else line_printer())
    failed = [s for s in steps if s.result != "ok"]
    if as_json:
        emit_json(
            [
                {
                    "step": s.number,
                    "command": s.command,
                    "host": s.host,
                    "result": s.result,
                    "seconds": round(s.seconds, 3),
                    "answer": s.answer,
                }
                for s in steps
            ]
        )
    else:
        click.echo("")
        click.echo(
            table(
                [
                    {
                        "step": s.number,
                        "command": s.command,
                        "host": s.host,
                        "result": s.result,
                        "time": "%.2fs" % s.seconds,
                    }
                    for s in steps
                ],
                ["step", "command", "host", "result", "time"],
            )
        )
        click.echo(
            "%d steps, %d failed%s"
            % (len(steps), len(failed), "" if not failed else " (stopped at step %d)" % failed[0].number)
        )
    sys.stdout.flush()
    return 1 if failed else 0


@contextlib.contextmanager
def real_hosts(settings, urls, vip, primary, secondary, template, manager_uuid):
    from ovm3.client import AgentClient
    from ovm3.cloudstack import naming
    from ovm3.cloudstack.resource import HostConfig
    from ovm3.cloudstack.demo import DemoEnv

    if not (primary and secondary and template):
        raise errors.UsageError("real hosts need --primary, --secondary and --template")
    phost, ppath = naming.parse_nfs_url(primary)
    env = DemoEnv(primary_host=phost, primary_path=ppath, secondary_url=secondary, template_path=template)
    password = settings.password()

    def make_client(i):
        return AgentClient(
            urls[i],
            user=settings.user,
            password=password,
            fingerprint=settings.fingerprint,
            ca_bundle=settings.ca_bundle,
            legacy_tls=settings.legacy_tls,
        )

    clients = [make_client(i) for i in range(len(urls))]
    resources = []
    try:
        manager = manager_uuid or uuid.uuid4().hex
        configs = []
        for c in clients:
            ip, name = host_identity(c)
            configs.append(HostConfig(ip=ip, name=name, manager_uuid=manager, pool=bool(vip), vip=vip or ""))
        seen = {}
        for c, cfg in zip(clients, configs):
            if cfg.ip in seen:
                raise errors.UsageError(
                    "%s and %s are the same host (%s): give each host's agent once"
                    % (seen[cfg.ip], c.transport.label, cfg.ip)
                )
            seen[cfg.ip] = c.transport.label
        for c in clients:  # identity read; the resources get clients of their own
            c.close()
        resources = _resources(make_client, configs, 1.0)
        yield resources, env
    finally:
        for c in clients:
            c.close()
        close_resources(resources)


def host_identity(client):
    """``(ip, name)`` a host is known by: the address it says it is registered with and its host name,
    else the address and label of the URL it was reached at (an agent behind a tunnel or NAT is still
    migrated to by its own address)."""
    import ipaddress

    label = client.transport.label
    info = client.linux.discover_server()
    ip = info.registered_ip
    try:
        ipaddress.IPv4Address(ip)
    except ValueError:
        ip = label.rsplit(":", 1)[0]
    return ip, info.hostname or label
