"""Host set-up and the periodic ping with a REAL heartbeat daemon: the timings come from the host's
deployed heartbeat config (fractions allowed), never from a second copy in HostConfig.

Each simulated host gets a provisioned heartbeat config (interval 0.2 s, timeout 1 s, log-only, no
watchdog: nothing can be fenced). The hosted agent module's ``check_dom0_storage_health_check`` starts
the real daemon (as a child process the test owns) when it is not running.
"""

import time

import pytest

from ovm3.cloudstack.resource import HostConfig
from ovm3.cloudstack.host import HeartbeatMismatch
from tests.cloudstack_support import resources


EXPORT, MOUNT = "nfs-1:/export/primary", "/nfsmnt/f12842ebf5ed3fe78da1eb0e17f5ede8"
INTERVAL, TIMEOUT = 0.2, 1.0
SETUP_CALLS = [
    "discover_server",
    "take_ownership",
    "echo",  # a 3.3+ agent restarts once owned: set-up waits until it answers again
    "update_server_roles",
    "discover_network",
    "ovs_local_config",
    "discover_network",
    "ovs_ip_config",
    "ovs_control_interface",
    "get_module_info",
    "check_dom0_storage_health_check",
]
PING_CALLS = ["echo", "list_vms", "get_module_info", "check_dom0_storage_health_check"]


def _wait_for(fn, timeout=5.0):
    end = time.monotonic() + timeout
    while not fn() and time.monotonic() < end:
        time.sleep(0.05)
    return fn()


@pytest.fixture
def beating(tmp_path):
    """``(sim host, HostResource, Heartbeat)`` with a deployed heartbeat config, daemon not started."""
    with resources(tmp_path) as (hosts, (r,)):
        h = hosts[0]
        h.state.mount(EXPORT, MOUNT)
        hb = h.heartbeat(r.config.guid, [MOUNT], interval=INTERVAL, timeout=TIMEOUT, fence_action="log-only")
        try:
            yield h, r, hb
        finally:
            hb.close()


def test_setup_starts_the_real_daemon_with_the_configured_fractional_timings(beating):
    h, r, hb = beating
    steps = dict(r.setup())
    assert steps["heartbeat"] == "started (timeout 1 s, interval 0.2 s)", steps
    assert h.calls.methods() == SETUP_CALLS
    # CloudStack's wire carries whole seconds: 1.0 -> 1, 0.2 rounded up -> 1
    assert list(h.calls.find("check_dom0_storage_health_check")[0].args[2:]) == [r.config.guid, 1, 1]
    assert hb.running()
    assert _wait_for(lambda: hb.record().get("state") == "running"), hb.log()
    assert float(hb.record()["timeout"]) == TIMEOUT

    h.calls.clear()
    ping = r.ping()["com.cloud.agent.api.PingRoutingCommand"]
    assert ping["ovm3"] == {"agentModule": "current", "heartbeat": "running (timeout 1 s, interval 0.2 s)"}
    assert h.calls.methods() == PING_CALLS
    assert hb.running()


def test_explicit_timings_that_match_the_config_are_accepted(beating):
    h, r, hb = beating
    r.config.heartbeat_timeout, r.config.heartbeat_interval = TIMEOUT, INTERVAL
    assert dict(r.setup())["heartbeat"].startswith("started")


def test_explicit_timings_that_differ_refuse_setup_before_any_heartbeat_call(beating):
    h, r, hb = beating
    r.config.heartbeat_timeout = 120
    with pytest.raises(HeartbeatMismatch) as e:
        r.setup()
    text = str(e.value)
    assert "TIMEOUT=1 s" in text and "expects 120 s" in text and h.name in text and "ovm3 deploy" in text
    assert "check_dom0_storage_health_check" not in h.calls.methods()
    assert not hb.running()
    # the ping reports it instead of raising
    ping = r.ping()["com.cloud.agent.api.PingRoutingCommand"]
    assert ping["ovm3"]["heartbeat"].startswith("check failed:") and "expects 120 s" in ping["ovm3"]["heartbeat"]


def test_a_config_for_another_guid_is_refused(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        h = hosts[0]
        h.state.mount(EXPORT, MOUNT)
        other = HostConfig(ip="192.0.2.9").guid
        hb = h.heartbeat(other, [MOUNT], interval=INTERVAL, timeout=TIMEOUT)
        try:
            with pytest.raises(HeartbeatMismatch) as e:
                r.setup()
            assert other in str(e.value) and r.config.guid in str(e.value)
            assert not hb.running()
        finally:
            hb.close()


def test_a_host_without_heartbeat_config_says_so(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        steps = dict(r.setup())
        assert steps["heartbeat"].startswith("not configured (deploy it with ovm3 deploy)"), steps
        assert "check_dom0_storage_health_check" not in hosts[0].calls.methods()


def test_health_check_fault_names_the_step_and_ping_reports_it(beating):
    h, r, hb = beating
    h.faults.add(
        method="check_dom0_storage_health_check", kind="fault", fault="exceptions.Exception:daemon broke", count=2
    )
    with pytest.raises(Exception) as e:
        r.setup()
    assert getattr(e.value, "ovm3_step", None) == "check_dom0_storage_health_check"
    assert "daemon broke" in str(e.value)
    ping = r.ping()["com.cloud.agent.api.PingRoutingCommand"]
    assert "check failed" in ping["ovm3"]["heartbeat"] and "daemon broke" in ping["ovm3"]["heartbeat"]
    assert not hb.running()
