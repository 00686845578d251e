"""The one-call host sweep on the hosted agent module, its typed result, and the per-VM fallback."""

import logging
import time

import pytest

from ovm3 import errors
from ovm3.monitor.sweep import ONE_CALL, PER_VM, HostSweeper
from ovm3.parse.hoststats import to_host_stats
from ovm3.sim import simulated_agents
from tests.test_sim_module import _running_domain


@pytest.fixture
def hosts(tmp_path):
    with simulated_agents(count=2, root=tmp_path) as hs:
        _running_domain(hs[0].state)
        _running_domain(hs[1].state, name="i-2-10-VM")
        yield hs


def test_one_call_reports_the_hypervisor_and_every_domain_with_counters_that_advance(hosts):
    h = hosts[0]
    c = h.client()
    first = c.ovm3.get_host_stats()
    time.sleep(0.05)
    second = c.ovm3.get_host_stats()
    assert first.source == ONE_CALL and first.module_version
    assert [d.name for d in first.domains] == ["Domain-0", "i-2-9-VM"]
    assert first.domains[0].is_dom0 and first.domains[0].memory_bytes == h.state.dom0_mb * 1048576
    assert first.cpus == h.state.cpus
    assert first.memory_total_bytes == h.state.memory_mb * 1048576
    vm1, vm2 = first.domains[1], second.domains[1]
    assert vm1.uuid == "0004fb00000600000000000000000009" and vm1.vcpus == 2
    for key in ("cpu_seconds", "rd_bytes", "wr_bytes", "rx_bytes", "tx_bytes"):
        assert getattr(vm2, key) > getattr(vm1, key), key
    assert second.cpu_busy_seconds > first.cpu_busy_seconds
    assert second.monotonic > first.monotonic and second.time > first.time
    assert {n.device for n in first.network} >= {"xenbr0"}
    assert first.heartbeat is not None and first.heartbeat.verdict in ("NONE", "UNKNOWN", "ALIVE", "DEAD")


def test_the_service_never_sleeps(hosts):
    h = hosts[0]

    def no_sleep(seconds):
        raise AssertionError("get_host_stats slept %s s" % seconds)

    h.module.sleep = no_sleep  # the module's only way to sleep is its HostIO
    assert h.client().ovm3.get_host_stats().domains
    with pytest.raises(errors.AgentFault):
        h.client().cloudstack.ovs_dom0_stats("xenbr0")  # the old call does sleep: the trap works


def test_a_paused_vm_s_counters_freeze(hosts):
    h = hosts[0]
    c = h.client()
    with h.state.lock:
        next(iter(h.state.domains.values())).pause()
    a = c.ovm3.get_host_stats().domains[1]
    time.sleep(0.05)
    b = c.ovm3.get_host_stats().domains[1]
    assert a.cpu_seconds == b.cpu_seconds and a.state == b.state == "--p---"


def test_fallback_on_a_host_whose_module_lacks_the_service_said_once(hosts, caplog):
    old, new = hosts
    del old.dispatcher.services["get_host_stats"]  # an agent module from before get_host_stats
    sweeper = HostSweeper()
    caplog.set_level(logging.WARNING, logger="ovm3.monitor.sweep")
    c_old, c_new = old.client(), new.client()
    samples = [sweeper.sample(c_old) for _ in range(3)]
    assert all(s.source == PER_VM for s in samples)
    assert sweeper.sample(c_new).source == ONE_CALL
    said = [r.getMessage() for r in caplog.records if "get_host_stats" in r.getMessage()]
    assert len(said) == 1 and c_old.host in said[0]
    # the fallback still gives every running VM's counters, Domain-0 from list_vms
    vm = [d for d in samples[-1].domains if d.name == "i-2-9-VM"][0]
    assert vm.cpu_seconds > 0 and vm.rd_bytes > 0 and vm.vcpus == 2
    assert "Domain-0" in [d.name for d in samples[-1].domains]
    # only the first sample asked for get_host_stats: the host is remembered
    assert len(old.calls.find("get_host_stats")) == 1
    assert len(old.calls.find("ovs_domU_stats")) == 3


def test_other_faults_are_not_taken_for_a_missing_service(hosts):
    h = hosts[0]
    h.faults.add("get_host_stats", fault="exceptions.OSError:xend is not running")
    with pytest.raises(errors.AgentFault) as ei:
        HostSweeper().sample(h.client(retries=0))
    assert not isinstance(ei.value, errors.UnknownMethodFault)


@pytest.mark.parametrize("bad", [
    [], {"format": "2"}, {"format": "1", "domains": {"a": 1}}, {"format": "1", "domains": [1]},
    {"format": "1", "host": {"cpus": "many"}}, {"format": "1", "errors": "x"},
])
def test_the_typed_result_refuses_other_shapes(bad):
    with pytest.raises(errors.ParseError):
        to_host_stats(bad)


def test_heartbeat_state_comes_from_the_running_daemon_s_record(tmp_path):
    guid = "6b1e4bd2-0b1d-4a8f-9d3e-0f3d3c0a1b11"
    mount = "/nfsmnt/f12842ebf5ed3fe78da1eb0e17f5ede8"
    with simulated_agents(count=1, root=tmp_path) as hs:
        h = hs[0]
        h.state.mount("nfs-1:/export/primary", mount)
        hb = h.heartbeat(guid, [mount], interval=0.2, timeout=1.0, fence_action="log-only")
        try:
            c = h.client()
            before = c.ovm3.get_host_stats().heartbeat
            assert before.verdict in ("NONE", "UNKNOWN") and before.reason  # configured, no daemon yet
            hb.start()
            ends = time.monotonic() + 15
            state = before
            while time.monotonic() < ends and state.verdict != "ALIVE":
                time.sleep(0.2)
                state = c.ovm3.get_host_stats().heartbeat
            assert state.verdict == "ALIVE", (state, hb.log())
            assert state.observed_by == "daemon"
            assert state.since_progress is not None and 0 <= state.since_progress < 5
        finally:
            hb.close()


@pytest.mark.parametrize("text", [
    'exceptions.Exception:method "get_host_stats" is not supported',
    '<type \'exceptions.Exception\'>:method "get_host_stats" is not supported',
])
def test_a_missing_method_fault_is_typed_in_both_python_2_spellings(text):
    from ovm3.faults import fault_error

    assert isinstance(fault_error(1, text), errors.UnknownMethodFault)
    assert not isinstance(fault_error(1, "exceptions.Exception:the method is not supported here, sorry"),
                          errors.UnknownMethodFault)
