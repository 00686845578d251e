"""HA end to end: real heartbeat daemons on a shared simulated NFS export, the verdict through the
resource layer.

Three simulated hosts mount one export. Each runs the REAL daemon (fencing/ovm3_heartbeat.py ``run``,
interval 0.2 s, timeout 1 s) as a child process with every path it writes inside its sandbox
(:class:`ovm3.sim.heartbeat.Heartbeat`), under a guard that fails any open of the real sysrq trigger or
watchdog. Host B's agent module, hosted by the simulator, reads the heartbeat config and B's daemon's
state file from B's sandbox; CheckOnHostCommand and FenceCommand go to B's HostResource about A and C:

* A: fence action ``crash`` (sysrq into a sandbox file) and an armed test watchdog: ALIVE while its
  daemon runs, DEAD after SIGKILL once timeout + margin passed, and "fenced" only once the takeover
  rule (timeout + fence latency + margin since the last progress) holds; UNKNOWN after a clean stop.
* C: ``log-only``: never more than UNKNOWN, however long it is silent.
"""

import os
import shutil
import time

import pytest

from ovm3.cloudstack import takeover
from ovm3.cloudstack import answers, naming
from ovm3.cloudstack.resource import HostConfig, HostResource
from ovm3.sim import simulated_agents
from tests.conftest_fuse import GUARD_SOURCE, _install_guard_here
from tests.cloudstack_support import MANAGER, body


EXPORT = "nfs-1:/export/primary"
MOUNT = "/nfsmnt/f12842ebf5ed3fe78da1eb0e17f5ede8"
TIMEOUT, INTERVAL = 1.0, 0.2
#: B's daemon computes the DEAD margin from the writer's interval: 2 * interval + 1 s.
DEAD_AFTER = TIMEOUT + 2 * INTERVAL + 1.0
FENCE_LATENCY, MARGIN = 3.0, 0.5
SAFE_AFTER = TIMEOUT + FENCE_LATENCY + MARGIN


def wait_for(fn, timeout, step=0.05):
    end = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > end:
            return value
        time.sleep(step)


@pytest.fixture
def cluster(tmp_path):
    guard_dir = tmp_path / "guard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(GUARD_SOURCE)
    guard_log = str(tmp_path / "guard.log")
    _install_guard_here(guard_log)  # the hosted agent module runs in this process
    env = dict(os.environ, PYTHONPATH=str(guard_dir), OVM3_TEST_GUARD_LOG=guard_log)
    beats = []
    with simulated_agents(count=3, version="3.3", tls=False, root=tmp_path / "sim") as hosts:
        for h in hosts:
            h.state.mount(EXPORT, MOUNT)
        a, b, c = hosts
        guid = {h.name: HostConfig(ip=h.ip).guid for h in hosts}
        touch = shutil.which("touch")
        fenced_b = os.path.join(b.root, "FENCED")
        hb = {
            "a": a.heartbeat(guid[a.name], [MOUNT], interval=INTERVAL, timeout=TIMEOUT, fence_action="crash",
                             watchdog=True, env=env),
            "b": b.heartbeat(guid[b.name], [MOUNT], interval=INTERVAL, timeout=TIMEOUT,
                             fence_action="command:%s %s" % (touch, fenced_b), watchdog=True, env=env),
            "c": c.heartbeat(guid[c.name], [MOUNT], interval=INTERVAL, timeout=TIMEOUT, fence_action="log-only",
                             watchdog=True, env=env),
        }
        beats.extend(hb.values())
        res = HostResource(
            b.client(),
            HostConfig(ip=b.ip, name=b.name, manager_uuid=MANAGER, fence_latency=FENCE_LATENCY, fence_margin=MARGIN),
        )
        res.poll_interval = 0.1
        try:
            yield hosts, res, hb, guid, fenced_b
        finally:
            for beat in beats:
                beat.close()
            res.client.close()
    for path in (guard_log, os.environ.get("OVM3_TEST_GUARD_LOG")):
        if path and os.path.exists(path):
            with open(path) as f:
                assert not f.read(), "a real sysrq trigger or watchdog was opened"


def check(res, guid):
    ans = res.execute("CheckOnHostCommand", {"host": {"guid": guid}})
    assert answers.answer_class(ans) == "CheckOnHostAnswer"
    return body(ans)


def fence_cmd(res, guid, vm="i-2-3-VM"):
    ans = res.execute("FenceCommand", {"hostGuid": guid, "vmName": vm})  # hostIp: an IP, the guid is named instead
    assert answers.answer_class(ans) == "FenceAnswer"
    return body(ans)


def is_alive(ans):
    return ans["result"] and ans["determined"] and ans["alive"]


def is_dead(ans):
    return ans["result"] and ans["determined"] and not ans["alive"]


def test_verdicts_through_the_resource_layer_follow_the_real_daemons(cluster):
    (a, b, c), res, hb, guid, fenced_b = cluster
    ga, gc = guid[a.name], guid[c.name]
    for beat in hb.values():
        beat.start()

    # ALIVE while the daemons run; nothing is fenced
    assert wait_for(lambda: is_alive(check(res, ga)) and is_alive(check(res, gc)), 8.0), hb["b"].log()
    ans = fence_cmd(res, ga)
    assert ans["result"] is False and "is alive" in ans["details"]
    assert a.calls.methods() == [] and c.calls.methods() == []  # only B was asked
    assert set(b.calls.methods()) == {"check_dom0_storage_verdict"}
    seen = takeover.check_host(b.client(), ga)
    assert seen.state == takeover.ALIVE and seen.observed_by == "daemon" and seen.timeout == TIMEOUT
    health = b.client().call("check_dom0_storage_health", "/opt/ovm3/bin", "ovm3_heartbeat.py", ga, 1)
    assert health is True
    assert check(res, naming.host_guid("192.0.2.1"))["determined"] is False  # no heartbeat file: UNKNOWN

    # SIGKILL A (crash + armed watchdog) and C (log-only): A turns DEAD, C never does
    killed = time.monotonic()
    hb["a"].kill()
    hb["c"].kill()
    answers_c = []

    def a_dead():
        answers_c.append(check(res, gc))
        return is_dead(check(res, ga))

    assert wait_for(a_dead, DEAD_AFTER + 4.0), hb["b"].log()
    became_dead = time.monotonic() - killed
    # DEAD needs timeout + margin without progress; the last progress B saw is at most an interval and
    # a read before the kill
    assert became_dead >= DEAD_AFTER - INTERVAL - 0.3, became_dead
    assert not any(is_dead(x) for x in answers_c)
    assert wait_for(lambda: "log-only" in check(res, gc)["details"], 3.0)
    assert check(res, gc)["determined"] is False
    assert b.client().call("check_dom0_storage_health", "/opt/ovm3/bin", "ovm3_heartbeat.py", ga, 1) is False

    # DEAD is not yet "fenced": the takeover rule wants timeout + fence latency + margin
    res.fence_wait = 0.0
    ans = fence_cmd(res, ga)
    assert ans["result"] is False and "DEAD" in ans["details"] and "retry in" in ans["details"], ans["details"]
    assert time.monotonic() - killed < SAFE_AFTER  # (the refusal above was not a late success)
    # ... and FenceCommand waits for that moment, re-asking B meanwhile
    asked = b.calls.methods().count("check_dom0_storage_verdict")
    res.fence_wait = 10.0
    ans = fence_cmd(res, ga)
    assert ans["result"] is True and "may be restarted" in ans["details"], ans["details"]
    assert time.monotonic() - killed >= SAFE_AFTER - INTERVAL - 0.3
    assert b.calls.methods().count("check_dom0_storage_verdict") > asked + 1
    assert takeover.check_host(b.client(), ga).safe_to_take_over(FENCE_LATENCY, MARGIN)
    assert fence_cmd(res, gc)["result"] is False  # log-only: never fenced, whatever the wait

    # the killed daemon left its (test) watchdog armed: on a real host the kernel resets it
    with open(hb["a"].watchdog) as f:
        pets = f.read()
    assert pets and not pets.endswith("V")
    assert os.path.getsize(hb["a"].sysrq_trigger) == 0  # a killed daemon fences nothing itself

    # a clean stop (SIGTERM) after a restart: UNKNOWN, never DEAD, watchdog disarmed
    hb["a"].start()
    assert wait_for(lambda: is_alive(check(res, ga)), 5.0), hb["a"].log()
    assert hb["a"].terminate() == 0
    assert hb["a"].record()["state"] == "stopped"
    assert wait_for(lambda: "stopped cleanly" in check(res, ga)["details"], 3.0)
    ans = check(res, ga)
    assert ans["result"] is True and ans["determined"] is False
    assert fence_cmd(res, ga)["result"] is False
    with open(hb["a"].watchdog) as f:
        assert f.read().endswith("V")

    # B itself stayed healthy all along and never fenced
    assert hb["b"].running() and not os.path.exists(fenced_b) and "FENCING" not in hb["b"].log()


def test_peer_trouble_fails_the_answer_and_never_counts_as_dead(cluster):
    (a, b, c), res, hb, guid, fenced_b = cluster
    b.faults.add(method="check_dom0_storage_verdict", kind="fault", fault="exceptions.Exception:nfs gone")
    ans = check(res, guid[a.name])
    assert ans["result"] is False and not ans.get("determined")
    assert "check_dom0_storage_verdict" in ans["details"] and "nfs gone" in ans["details"]
    assert b.name in ans["details"]
    assert fence_cmd(res, guid[a.name])["result"] is False
