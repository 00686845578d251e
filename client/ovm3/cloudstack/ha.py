"""HA: CheckOnHostCommand and FenceCommand answered from the three-valued heartbeat verdict.

The host the command is sent to (a neighbour of the one being checked) reads the target's heartbeat
on the shared NFS: its heartbeat daemon records every peer's progress and our agent module answers
``check_dom0_storage_verdict`` from that record. Both handlers go through :func:`ovm3.cloudstack.takeover.check_host`,
the one verdict path of the management side, so they apply exactly the rules ``ovm3 fence check`` does:

* DEAD is reported only with positive evidence (a stale heartbeat from a writer that fences itself
  for real and arms a watchdog); UNKNOWN is reported as undetermined, never as dead.
* FenceCommand answers "fenced" only when :meth:`ovm3.cloudstack.takeover.Verdict.safe_to_take_over` holds: DEAD
  *and* at least ``timeout + fence latency + margin`` seconds since the last heartbeat progress (and
  o2cb's own 120 s on a clustered pool). Within :attr:`HostResource.fence_wait` it waits for that
  moment, re-asking the peer, so a host that comes back in the meantime is never declared fenced.
* A peer that cannot answer makes the answer fail, naming host, step and the agent fault.
"""

from ovm3.cloudstack import takeover
from ovm3.cloudstack.takeover import ALIVE, DEAD, UNKNOWN  # noqa: F401  (re-exported for callers of this module)
from ovm3.cloudstack import answers, validate
from ovm3.cloudstack.registry import handles, need, unwrap


def verdict(resource, guid):
    """The :class:`ovm3.cloudstack.takeover.Verdict` on host ``guid`` as this host's heartbeat sees it.

    Raises the peer's error (an :class:`ovm3.errors.OVM3Error`, tagged with the step) when this host
    could not give a verdict at all.
    """
    with resource.step(resource.client.ovm3.check_dom0_storage_verdict):
        result = takeover.check_host(resource.client, guid)
        if result.error is not None:
            raise result.error
    return result


def takeover_rule(resource):
    """``(fence_latency, margin, clustered)`` for :meth:`Verdict.safe_to_take_over` on this cluster."""
    cfg = resource.config
    clustered = cfg.pool if cfg.clustered is None else cfg.clustered
    return float(cfg.fence_latency), float(cfg.fence_margin), bool(clustered)


def seconds_to_takeover(result, rule, now=None):
    """Seconds until taking over host ``result.guid`` is safe (0 when it is), None when it never is."""
    if result.state != DEAD:
        return None
    wait = result.takeover_after(*rule)
    age = result.progress_age(now)
    if wait is None or age is None:
        return None
    return max(0.0, wait - age)


def _describe(result):
    return "%s%s" % (result.state, " (%s)" % result.reason if result.reason else "")


@handles("CheckOnHostCommand", "CheckOnHostAnswer")
def check_on_host(resource, cmd):
    _cls, host = unwrap(need(cmd, "host"))
    guid = validate.uuid(need(host, "guid", "host"), "host.guid")
    result = verdict(resource, guid)
    details = "heartbeat of %s seen from %s: %s" % (guid, resource.host, _describe(result))
    left = seconds_to_takeover(result, takeover_rule(resource))
    if left is not None:
        details += "; its VMs may be taken over %s" % ("now" if left == 0 else "in %.1f s" % left)
    return answers.answer(
        "CheckOnHostAnswer", True, details, determined=result.state != UNKNOWN, alive=result.state == ALIVE
    )


def _fence_budget(resource, cmd):
    budget = float(resource.fence_wait)
    try:
        wait = float(cmd.get("wait") or 0)
    except (TypeError, ValueError):
        wait = 0
    return min(budget, wait) if wait > 0 else budget


@handles("FenceCommand", "FenceAnswer")
def fence_host(resource, cmd):
    guid = validate.uuid(need(cmd, "hostGuid"), "hostGuid")
    who = validate.ip_address(cmd["hostIp"], "hostIp") if cmd.get("hostIp") else guid
    vm = validate.vm_name(cmd["vmName"], "vmName") if cmd.get("vmName") else "its VMs"
    rule = takeover_rule(resource)
    deadline = resource.deadline(_fence_budget(resource, cmd))
    result = None
    while deadline.wait():
        result = verdict(resource, guid)
        left = seconds_to_takeover(result, rule, resource.clock())
        if left is None:
            why = "alive" if result.state == ALIVE else "in an unknown state"
            return answers.failure(
                "FenceAnswer",
                "refusing to declare %s fenced: host %s is %s: %s" % (vm, who, why, result.reason or "no reason"),
            )
        if left == 0:
            return answers.answer(
                "FenceAnswer",
                True,
                "host %s is fenced: no heartbeat progress for %.1f s (at least timeout + fence latency + margin"
                " = %.1f s): %s; %s may be restarted"
                % (who, result.progress_age(), result.takeover_after(*rule), result.reason, vm),
            )
        if resource.clock() + left > deadline.end:
            break
    left = seconds_to_takeover(result, rule, resource.clock()) if result is not None else None
    return answers.failure(
        "FenceAnswer",
        "refusing to declare %s fenced yet: host %s is DEAD but its VMs are safe to take over only %.1f s"
        " after its last heartbeat progress (timeout + fence latency + margin); retry in %.1f s"
        % (vm, who, result.takeover_after(*rule) if result else 0.0, left or 0.0),
    )
