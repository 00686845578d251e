"""VM command handlers against the simulated agent: ordered agent calls, resulting state, failure paths."""

from ovm3.cloudstack import naming, state
from tests.cloudstack_support import VM, body, resources, vm_to, volume_on_primary

STARTED_CALLS = ["list_vms", "discover_network", "ovs_vlan_bridge", "create_vm", "start_vm", "list_vms"]


def _start(hosts, r):
    volume_on_primary(hosts, r)
    hosts[0].calls.clear()
    return r.execute("StartCommand", {"vm": vm_to()})


def test_start_builds_vm_cfg_creates_vlan_bridge_and_records_running(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        ans = _start(hosts, r)
        assert body(ans)["result"] is True, body(ans)["details"]
        assert "com.cloud.agent.api.StartAnswer" in ans
        assert hosts[0].calls.methods() == STARTED_CALLS
        assert r.vms.get(VM) == state.RUNNING
        cfg = r.client.call(
            "get_vm_config", naming.repo_id("f12842eb-f5ed-3fe7-8da1-eb0e17f5ede8"), naming.vm_uuid(VM)
        )
        assert cfg["vif"] == ["mac=02:00:50:9a:00:01,bridge=xenbr0.160"]
        assert cfg["disk"][0].startswith(
            "file:/OVS/Repositories/f12842ebf5ed3fe78da1eb0e17f5ede8/VirtualDisks/vol-1.raw,xvda,w"
        )
        assert int(cfg["memory"]) == 512 and int(cfg["vcpus"]) == 2
        assert "vnc-secret-42" not in str(ans)  # secrets never in answers


def test_start_failure_names_host_step_and_fault_and_cleans_up(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        hosts[0].faults.add(method="start_vm", kind="fault", fault="exceptions.Exception:boom", count=1)
        hosts[0].calls.clear()
        ans = r.execute("StartCommand", {"vm": vm_to()})
        details = body(ans)["details"]
        assert body(ans)["result"] is False
        assert "ovm-1" in details and "start_vm" in details and "boom" in details
        assert hosts[0].calls.methods()[-2:] == [
            "start_vm",
            "delete_vm",
        ]  # the half-made definition is removed
        assert r.vms.get(VM) == state.STOPPED


def test_stop_polls_until_gone_and_deletes_the_definition(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        _start(hosts, r)
        hosts[0].calls.clear()
        ans = r.execute("StopCommand", {"vmName": VM})
        assert body(ans)["result"] is True
        calls = hosts[0].calls.methods()
        assert calls[:2] == ["list_vms", "stop_vm"] and calls[-1] == "delete_vm"
        assert r.vms.get(VM) == state.STOPPED
        assert (
            VM not in r.ping()["com.cloud.agent.api.PingRoutingCommand"]["_hostVmStateReport"]
            or r.vms.get(VM) == state.STOPPED
        )


def test_stop_of_an_absent_vm_is_success_and_stopped(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        ans = r.execute("StopCommand", {"vmName": "i-9-9-VM"})
        assert body(ans)["result"] is True
        assert hosts[0].calls.methods() == ["list_vms"]
        assert r.vms.get("i-9-9-VM") == state.STOPPED


def test_stop_fault_keeps_the_vm_running(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        _start(hosts, r)
        hosts[0].faults.add(method="stop_vm", kind="fault", fault="exceptions.Exception:stuck", count=1)
        ans = r.execute("StopCommand", {"vmName": VM})
        assert body(ans)["result"] is False and "stop_vm" in body(ans)["details"]
        assert r.vms.get(VM) == state.RUNNING


def test_reboot_and_vnc_and_check(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        _start(hosts, r)
        hosts[0].calls.clear()
        ans = r.execute("RebootCommand", {"vmName": VM})
        assert body(ans)["result"] is True
        assert hosts[0].calls.methods()[:2] == ["list_vms", "reboot_vm"]
        vnc = body(r.execute("GetVncPortCommand", {"name": VM}))
        assert vnc["result"] is True and isinstance(vnc["port"], int) and vnc["address"] == r.config.ip
        chk = body(r.execute("CheckVirtualMachineCommand", {"vmName": VM}))
        assert chk["state"] == "PowerOn"
        assert body(r.execute("CheckVirtualMachineCommand", {"vmName": "i-1-1-VM"}))["state"] == "PowerOff"


def test_reboot_of_missing_vm_fails_cleanly(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        ans = r.execute("RebootCommand", {"vmName": "nope"})
        assert body(ans)["result"] is False and "not running" in body(ans)["details"]


def test_migrate_moves_the_vm_and_verifies_arrival(tmp_path):
    with resources(tmp_path, count=2) as (hosts, (a, b)):
        volume_on_primary(hosts, b)
        _start(hosts, a)
        ans = b.execute("PrepareForMigrationCommand", {"vm": vm_to()})
        assert body(ans)["result"] is True
        hosts[0].calls.clear()
        ans = a.execute("MigrateCommand", {"vmName": VM, "destIp": b.config.ip})
        assert body(ans)["result"] is True, body(ans)["details"]
        assert hosts[0].calls.methods() == ["list_vms", "migrate_vm", "list_vms"]
        # the source never touches the destination's resource: b learns the arrival from its agent
        assert a.vms.get(VM) == state.STOPPED and b.vms.get(VM) == state.ARRIVING
        report = b.ping()["com.cloud.agent.api.PingRoutingCommand"]["_hostVmStateReport"]
        assert report[VM]["state"] == "PowerOn" and b.vms.get(VM) == state.RUNNING
        assert VM not in a.ping()["com.cloud.agent.api.PingRoutingCommand"]["_hostVmStateReport"]


def test_stop_on_the_destination_right_after_a_migration_succeeds(tmp_path):
    # One serve per host: no peer moves the destination out of "Arriving"; the stop must resolve it
    # from the destination's own list_vms, not wait out the 600 s lag.
    with resources(tmp_path, count=2) as (hosts, (a, b)):
        a.peers.clear()
        b.peers.clear()
        volume_on_primary(hosts, b)
        _start(hosts, a)
        assert body(b.execute("PrepareForMigrationCommand", {"vm": vm_to()}))["result"] is True
        assert body(a.execute("MigrateCommand", {"vmName": VM, "destIp": b.config.ip}))["result"] is True
        ans = b.execute("StopCommand", {"vmName": VM})
        assert body(ans)["result"] is True, body(ans)["details"]
        assert VM not in [d.name for d in hosts[1].client().xen.list_vms()]


def test_migrate_fault_leaves_vm_running_on_source(tmp_path):
    with resources(tmp_path, count=2) as (hosts, (a, b)):
        _start(hosts, a)
        hosts[0].faults.add(method="migrate_vm", kind="fault", fault="exceptions.Exception:no route", count=1)
        ans = a.execute("MigrateCommand", {"vmName": VM, "destIp": b.config.ip})
        assert body(ans)["result"] is False and "no route" in body(ans)["details"]
        assert a.vms.get(VM) == state.RUNNING


def test_plug_and_unplug_nic(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        _start(hosts, r)
        nic = {"deviceId": 1, "mac": "02:00:50:9a:00:02", "type": "Guest", "broadcastUri": "vlan://240"}
        hosts[0].calls.clear()
        assert body(r.execute("PlugNicCommand", {"instanceName": VM, "nic": nic}))["result"] is True
        assert hosts[0].calls.methods() == [
            "list_vms",
            "get_vm_config",
            "discover_network",
            "ovs_vlan_bridge",
            "configure_vm",
        ]
        from ovm3.cloudstack.network import nic_device_id

        assert nic_device_id(r, VM, "02:00:50:9A:00:02") == 1
        assert body(r.execute("UnPlugNicCommand", {"instanceName": VM, "nic": nic}))["result"] is True
        cfg = r.client.call(
            "get_vm_config", naming.repo_id("f12842eb-f5ed-3fe7-8da1-eb0e17f5ede8"), naming.vm_uuid(VM)
        )
        assert cfg["vif"] == ["mac=02:00:50:9a:00:01,bridge=xenbr0.160"]


def test_plug_nic_fault_reports_configure_vm(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        _start(hosts, r)
        hosts[0].faults.add(method="configure_vm", kind="fault", fault="exceptions.Exception:locked", count=1)
        nic = {"deviceId": 1, "mac": "02:00:50:9a:00:03", "type": "Guest"}
        ans = r.execute("PlugNicCommand", {"instanceName": VM, "nic": nic})
        assert body(ans)["result"] is False and "configure_vm" in body(ans)["details"]
