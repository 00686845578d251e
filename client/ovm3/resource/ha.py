"""HA: CheckOnHostCommand and FenceCommand answered from the three-valued heartbeat verdict.

This host (a neighbour of the one being checked) reads the target's heartbeat on the shared NFS through
our agent module (``check_dom0_storage_verdict``): ALIVE, DEAD or UNKNOWN. DEAD is reported only with
positive evidence (a stale heartbeat the daemon vouches for); UNKNOWN is reported as undetermined, never
as dead, so CloudStack does not restart VMs that may still run.
"""

from ovm3.resource import answers
from ovm3.resource.registry import CommandError, handles, need, unwrap

ALIVE, DEAD, UNKNOWN = "ALIVE", "DEAD", "UNKNOWN"


def verdict(resource, guid):
    """``(verdict, reason)`` for the host with ``guid``, as seen from this host."""
    with resource.step("check_dom0_storage_verdict"):
        reply = resource.client.call("check_dom0_storage_verdict", guid)
    if not isinstance(reply, dict):
        return UNKNOWN, "agent gave no verdict"
    value = str(reply.get("verdict", UNKNOWN)).upper()
    if value not in (ALIVE, DEAD, UNKNOWN):
        value = UNKNOWN
    return value, str(reply.get("reason") or "")


@handles("CheckOnHostCommand", "CheckOnHostAnswer")
def check_on_host(resource, cmd):
    _cls, host = unwrap(need(cmd, "host"))
    guid = need(host, "guid", "host")
    value, reason = verdict(resource, guid)
    details = "heartbeat of %s seen from %s: %s%s" % (
        guid,
        resource.host,
        value,
        " (%s)" % reason if reason else "",
    )
    return answers.answer(
        "CheckOnHostAnswer", True, details, determined=value != UNKNOWN, alive=value == ALIVE
    )


@handles("FenceCommand", "FenceAnswer")
def fence(resource, cmd):
    guid = cmd.get("hostGuid")
    if not guid:
        raise CommandError("missing field 'hostGuid'")
    value, reason = verdict(resource, guid)
    vm = cmd.get("vmName") or "its VMs"
    if value == DEAD:
        return answers.answer(
            "FenceAnswer",
            True,
            "host %s is fenced (heartbeat stopped, %s); %s may be restarted"
            % (cmd.get("hostIp") or guid, reason or "stale", vm),
        )
    why = "alive" if value == ALIVE else "in an unknown state"
    return answers.failure(
        "FenceAnswer",
        "refusing to declare %s fenced: host %s is %s%s"
        % (vm, cmd.get("hostIp") or guid, why, " (%s)" % reason if reason else ""),
    )
