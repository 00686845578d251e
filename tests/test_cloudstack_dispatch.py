"""Dispatch, host, network and HA handlers: unsupported/malformed commands, ping, stats, checks, fencing."""

import pytest

from ovm3.cloudstack import answers, dispatch
from ovm3.cloudstack.cs_fields import java_class
from tests.cloudstack_support import VM, body, resources, vm_to, volume_on_primary


def test_unknown_command_gets_unsupported_answer(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        ans = r.execute("com.cloud.agent.api.ScaleVmCommand", {})
        assert answers.answer_class(ans) == "UnsupportedAnswer" and body(ans)["result"] is False
        assert hosts[0].calls.methods() == []


def test_malformed_command_is_a_failed_answer_of_the_right_type(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        ans = r.execute("StartCommand", {"vm": {"name": VM}})  # no disks
        assert answers.answer_class(ans) == "StartAnswer" and body(ans)["result"] is False
        assert "ovm-1" in body(ans)["details"]
        assert answers.answer_class(r.execute("StopCommand", ["not", "an", "object"])) == "StopAnswer"


def test_wrapped_command_objects_are_accepted(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        ans = r.execute(
            "com.cloud.agent.api.CheckHealthCommand", {"com.cloud.agent.api.CheckHealthCommand": {}}
        )
        assert body(ans)["result"] is True and hosts[0].calls.methods() == ["echo"]


#: What each command needs first: an empty command fails naming that field (no agent call can help).
FIRST_FIELD = {
    "AttachCommand": "vmName", "CheckOnHostCommand": "host", "CheckSshCommand": "ip",
    "CheckVirtualMachineCommand": "vmName", "CopyCommand": "srcTO", "CopyVolumeCommand": "pool",
    "CreateCommand": "pool", "CreateObjectCommand": "data",
    "CreatePrivateTemplateFromVolumeCommand": "primaryStoragePoolNameLabel", "CreateStoragePoolCommand": "pool",
    "DeleteCommand": "data", "DeleteStoragePoolCommand": "_pool", "DestroyCommand": "volume",
    "DetachCommand": "vmName", "DettachCommand": "vmName", "FenceCommand": "hostGuid",
    "GetStorageStatsCommand": "id", "GetVncPortCommand": "name", "MigrateCommand": "vmName",
    "ModifyStoragePoolCommand": "pool", "NetworkUsageCommand": "privateIP", "PlugNicCommand": "instanceName",
    "PrepareForMigrationCommand": "vm", "PrimaryStorageDownloadCommand": "url", "RebootCommand": "vmName",
    "StartCommand": "vm", "StopCommand": "vmName", "UnPlugNicCommand": "instanceName",
}
#: Commands that need no field: the answer empty input gets, and a word its details carry.
NO_FIELD_NEEDED = {
    "CheckHealthCommand": (True, "agent answers"), "CheckNetworkCommand": (True, "bridges present"),
    "GetHostStatsCommand": (True, ""), "GetVmStatsCommand": (True, ""), "MaintainCommand": (True, "no VMs"),
    "NetworkRulesSystemVmCommand": (True, "nothing to do"), "ReadyCommand": (False, "not owned"),
    "PingTestCommand": (False, "neither _computingHostIp nor _routerIp given"),
}


def test_every_handler_answers_empty_input_naming_the_missing_field(tmp_path):
    assert set(FIRST_FIELD) | set(NO_FIELD_NEEDED) == set(dispatch.supported())
    with resources(tmp_path) as (hosts, (r,)):
        for name in dispatch.supported():
            b = body(r.execute(name, {}))
            if name in FIRST_FIELD:
                assert b["result"] is False, name
                assert "failed at step validate: malformed command: missing field %r" % FIRST_FIELD[name] in (
                    b["details"]), name
            else:
                result, word = NO_FIELD_NEEDED[name]
                assert b["result"] is result and word in (b.get("details") or ""), name


def test_check_health_fault(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        hosts[0].faults.add(method="echo", kind="fault", fault="exceptions.Exception:agent sick", count=5)
        ans = r.execute("CheckHealthCommand", {})
        assert body(ans)["result"] is False and "agent sick" in body(ans)["details"]
        assert r.ping() is None  # a host whose agent fails the echo reports no ping


def test_vm_stats_rates_use_the_monotonic_clock(tmp_path):
    from ovm3.cloudstack.stats import vm_stats_entry
    from ovm3.parse.stats import to_domu_stats

    class Fake:
        stats_cache = {}
        now = 10.0

        def clock(self):
            return self.now

    f = Fake()
    first = vm_stats_entry(
        f, "vm", to_domu_stats({"cputime": "5", "rx_bytes": "1024", "tx_bytes": "0", "vcpus": "2"}), 2
    )
    assert first["cpuUtilization"] == 0.0
    f.now = 20.0
    second = vm_stats_entry(
        f, "vm", to_domu_stats({"cputime": "15", "rx_bytes": "11264", "tx_bytes": "2048", "vcpus": "2"}), 2
    )
    assert second["cpuUtilization"] == pytest.approx(50.0)  # 10 cpu-s in 10 s over 2 vCPUs
    assert second["networkReadKBs"] == pytest.approx(10.0) and second["networkWriteKBs"] == pytest.approx(2.0)


def test_host_stats_units():
    from ovm3.cloudstack.stats import host_stats_entry
    from ovm3.parse.stats import to_dom0_stats

    e = host_stats_entry(
        1, to_dom0_stats({"cpu": "12.5", "total": str(4 << 30), "free": str(1 << 30), "rx": "2048", "tx": "1024"})
    )
    assert e["totalMemoryKBs"] == 4 << 20 and e["freeMemoryKBs"] == 1 << 20
    assert e["networkReadKBs"] == 2.0 and e["networkWriteKBs"] == 1.0 and e["cpuUtilization"] == 12.5


def test_check_network_names_missing_bridge(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        ok = body(r.execute("CheckNetworkCommand", {"networkInfoList": [{}]}))
        assert ok["result"] is True
        bad = body(r.execute("CheckNetworkCommand", {"networkInfoList": [{"guestNetworkName": "xenbr9"}]}))
        assert bad["result"] is False and "xenbr9" in bad["details"]
        assert hosts[0].calls.methods() == ["discover_network", "discover_network"]


def test_maintain_reports_running_vms(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        assert body(r.execute("MaintainCommand", {}))["willMigrate"] is False
        assert body(r.execute("StartCommand", {"vm": vm_to()}))["result"] is True
        m = body(r.execute("MaintainCommand", {}))
        assert m["willMigrate"] is True and VM in m["details"]


def test_ownership_by_another_manager_is_refused(tmp_path):
    from ovm3.cloudstack.host import ownership, server_info

    with resources(tmp_path, count=1) as (hosts, (r,)):
        assert ownership(r, server_info(r, refresh=True)) == "took ownership"
        r.invalidate()
        r.config.manager_uuid = "f" * 32
        with pytest.raises(Exception) as e:
            ownership(r, server_info(r, refresh=True))
        assert "not by this installation" in str(e.value)
        assert body(r.execute("ReadyCommand", {}))["result"] is False


def test_setup_and_ping_report_module_and_vm_states(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        steps = dict(r.setup())
        assert steps["ownership"] == "took ownership" and steps["agent module"] == "current"
        ping = r.ping()["com.cloud.agent.api.PingRoutingCommand"]
        assert ping["ovm3"]["agentModule"] == "current" and ping["_hostVmStateReport"] == {}
        start = r.startup()[java_class("StartupRoutingCommand")]
        assert start["cpus"] >= 1 and start["memory"] > 0 and start["hypervisorType"] == "Ovm3"


def test_check_on_host_and_fence_never_call_unknown_dead(tmp_path):
    with resources(tmp_path, count=2) as (hosts, (a, b)):
        # no heartbeat runs anywhere: there is no positive evidence that b is dead
        ans = body(a.execute("CheckOnHostCommand", {"host": {"guid": b.config.guid}}))
        assert not (ans.get("determined") and not ans.get("alive")), ans["details"]
        assert body(a.execute("FenceCommand", {"hostGuid": b.config.guid, "vmName": VM}))["result"] is False


def test_check_on_host_fault_is_undetermined(tmp_path):
    with resources(tmp_path, count=1) as (hosts, (r,)):
        hosts[0].faults.add(
            method="check_dom0_storage_verdict", kind="fault", fault="exceptions.Exception:no nfs"
        )
        ans = r.execute("CheckOnHostCommand", {"host": {"guid": "x"}})
        assert answers.answer_class(ans) == "CheckOnHostAnswer" and body(ans)["result"] is False
        assert body(r.execute("FenceCommand", {"hostGuid": "x"}))["result"] is False
