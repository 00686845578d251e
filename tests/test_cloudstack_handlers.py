"""Host, network and legacy-storage handlers against the simulated agent over real sockets.

Each command: the ordered agent calls from the simulator's call log, the resulting state, and a failure
path with an injected agent fault whose answer names host, step and fault while the state stays as it was.
"""

import os

from ovm3.cloudstack import naming, state
from tests.cloudstack_support import (
    NFS_HOST,
    NFS_PATH,
    POOL,
    SECONDARY,
    VM,
    body,
    pool_to,
    put_file,
    resources,
    vm_to,
    volume_on_primary,
)

BOOM = "exceptions.Exception:boom"
ROUTER = "169.254.3.4"


def _failed(ans, step, host="ovm-1"):
    """The details of a failed answer, checked to name the host, the step and the injected fault."""
    b = body(ans)
    assert b["result"] is False, b
    details = b["details"]
    assert "host %s" % host in details and step in details and "boom" in details, details
    return details


def _args(hosts, method, index=-1):
    return list(hosts[0].calls.find(method)[index].args)


# ---- GetHostStatsCommand ----------------------------------------------------------------------------
def test_host_stats_reads_dom0_stats_of_the_management_bridge_in_kib(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        ans = r.execute("GetHostStatsCommand", {"hostId": 7, "hostGuid": r.config.guid, "hostName": "ovm-1"})
        stats = body(ans)["hostStats"]
        assert body(ans)["result"] is True and "com.cloud.agent.api.GetHostStatsAnswer" in ans
        assert hosts[0].calls.methods() == ["discover_network", "ovs_dom0_stats"]
        assert _args(hosts, "ovs_dom0_stats") == ["xenbr0"]  # the bridge carrying the host's address
        sim = hosts[0].state
        assert stats["hostId"] == 7 and stats["entityType"] == "host"
        assert stats["averageLoad"] == 0.0 and "loadAverage" not in stats  # HostStatsEntry's field name
        assert stats["totalMemoryKBs"] == sim.memory_mb * 1024
        assert 0 < stats["freeMemoryKBs"] <= stats["totalMemoryKBs"]
        assert 0.0 <= stats["cpuUtilization"] <= 100.0 and stats["networkReadKBs"] > 0


def test_host_stats_fault_names_the_step_and_keeps_the_discovery_cache(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        hosts[0].faults.add(method="ovs_dom0_stats", kind="fault", fault=BOOM, count=1)
        ans = r.execute("GetHostStatsCommand", {"hostId": 7})
        details = _failed(ans, "step ovs_dom0_stats")
        assert "GetHostStatsCommand" in details and "hostStats" not in body(ans)
        hosts[0].calls.clear()  # the network discovery stays valid: the retry asks only for the stats
        assert body(r.execute("GetHostStatsCommand", {"hostId": 7}))["result"] is True
        assert hosts[0].calls.methods() == ["ovs_dom0_stats"]


# ---- GetVmStatsCommand ------------------------------------------------------------------------------
class StepClock:
    """A monotonic clock the test moves: the resource's rates are per second of this clock."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_vm_stats_samples_running_vms_only_and_rates_need_a_baseline(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        assert body(r.execute("StartCommand", {"vm": vm_to()}))["result"] is True
        r.clock = clock = StepClock()
        hosts[0].calls.clear()
        ans = r.execute("GetVmStatsCommand", {"vmNames": [VM, "i-9-9-VM"], "hostGuid": r.config.guid})
        first = body(ans)["vmStatsMap"]
        assert hosts[0].calls.methods() == ["list_vms", "ovs_domU_stats"]
        assert _args(hosts, "ovs_domU_stats") == [VM]
        assert set(first) == {VM}  # a VM that does not run here has no entry
        entry = first[VM]
        assert entry["numCPUs"] == 2 and entry["memoryKBs"] == 512 * 1024 and entry["entityType"] == "vm"
        assert entry["targetMemoryKBs"] == entry["memoryKBs"]
        assert entry["cpuUtilization"] == 0.0 and entry["networkReadKBs"] == 0.0  # no baseline yet
        assert r.stats_cache[VM][0] == clock.now
        clock.now += 10.0
        second = body(r.execute("GetVmStatsCommand", {"vmNames": [VM]}))["vmStatsMap"][VM]
        assert 0.0 <= second["cpuUtilization"] <= 100.0
        assert r.stats_cache[VM][0] == clock.now


def test_vm_stats_fault_names_vm_and_keeps_the_previous_baseline(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        assert body(r.execute("StartCommand", {"vm": vm_to()}))["result"] is True
        r.clock = StepClock()
        assert body(r.execute("GetVmStatsCommand", {"vmNames": [VM]}))["result"] is True
        baseline = r.stats_cache[VM]
        hosts[0].faults.add(method="ovs_domU_stats", kind="fault", fault=BOOM, count=1)
        r.clock.now += 5.0
        ans = r.execute("GetVmStatsCommand", {"vmNames": [VM]})
        _failed(ans, "step ovs_domU_stats %s" % VM)
        assert r.stats_cache[VM] == baseline  # the failed sample did not replace the baseline
        assert r.vms.get(VM) == state.RUNNING


# ---- PingTestCommand --------------------------------------------------------------------------------
def test_ping_test_pings_from_dom0_and_reports_a_down_host(tmp_path):
    with resources(tmp_path, count=2) as (hosts, (a, b)):
        ans = a.execute("PingTestCommand", {"_computingHostIp": b.config.ip})
        assert body(ans)["result"] is True and "com.cloud.agent.api.Answer" in ans
        assert hosts[0].calls.methods() == ["ping"] and _args(hosts, "ping")[0] == b.config.ip
        b.client.call("sys_shutdown")  # the peer powers off: dom0's ping gets no reply
        ans = a.execute("PingTestCommand", {"_computingHostIp": b.config.ip})
        assert body(ans)["result"] is False and "does not answer" in body(ans)["details"]
        hosts[0].calls.clear()
        ans = a.execute("PingTestCommand", {"_routerIp": ROUTER, "_privateIp": "10.0.0.1"})
        assert body(ans)["result"] is False and _args(hosts, "ping")[0] == ROUTER


def test_ping_test_fault_and_bad_input(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        hosts[0].faults.add(method="ping", kind="fault", fault=BOOM, count=1)
        _failed(r.execute("PingTestCommand", {"_computingHostIp": "192.168.1.1"}), "step ping 192.168.1.1")
        hosts[0].calls.clear()
        bad = body(r.execute("PingTestCommand", {"_computingHostIp": "1.2.3.4; reboot"}))
        assert bad["result"] is False and "not an IP address" in bad["details"]
        assert body(r.execute("PingTestCommand", {}))["result"] is False
        assert hosts[0].calls.methods() == []  # nothing reached the agent


# ---- CheckSshCommand --------------------------------------------------------------------------------
def test_check_ssh_probes_the_port_from_dom0_and_retries_with_the_interval(tmp_path):
    with resources(tmp_path, count=2) as (hosts, (a, b)):
        sleeps = []
        a.sleep = sleeps.append
        ans = a.execute("CheckSshCommand", {"ip": b.config.ip, "port": 22, "interval": 2, "retries": 3})
        assert body(ans)["result"] is True and "com.cloud.agent.api.check.CheckSshAnswer" in ans
        assert hosts[0].calls.methods() == ["check_dom0_port"]
        assert _args(hosts, "check_dom0_port") == [b.config.ip, 22, 2]
        assert sleeps == []
        hosts[0].calls.clear()
        ans = a.execute("CheckSshCommand", {"ip": ROUTER, "port": 3922, "interval": 2, "retries": 3, "name": "r-1"})
        assert body(ans)["result"] is False
        assert "%s:3922 not reachable from host ovm-1 after 3 tries" % ROUTER in body(ans)["details"]
        assert hosts[0].calls.methods() == ["check_dom0_port"] * 3 and sleeps == [2, 2]


def test_check_ssh_fault_stops_the_retries(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        sleeps = []
        r.sleep = sleeps.append
        hosts[0].faults.add(method="check_dom0_port", kind="fault", fault=BOOM, count=1)
        ans = r.execute("CheckSshCommand", {"ip": ROUTER, "port": 3922, "interval": 1, "retries": 5})
        _failed(ans, "step check_dom0_port %s:3922" % ROUTER)
        assert hosts[0].calls.methods() == ["check_dom0_port"] and sleeps == []


# ---- NetworkUsageCommand ----------------------------------------------------------------------------
class Router:
    """The virtual router at the other end of dom0's ``ssh``: the edge of the system under test.

    Installed as the simulated host's ``ssh`` program; records each command line and answers the usage
    scripts like CloudStack's router images do (``sent:received:`` pairs, one per public interface).
    """

    def __init__(self, output="100:200:50:25:", rc=0, err=""):
        self.output, self.rc, self.err = output, rc, err
        self.argv = []

    def __call__(self, args, stdin):
        self.argv.append(list(args))
        return self.rc, self.output if "-g" in args[-1].split() else "", self.err


def _router(hosts, **kw):
    router = Router(**kw)
    hosts[0].module._cmd_ssh = router  # what SimHostIO.run dispatches the ssh binary to
    return router


def test_network_usage_sums_the_router_counters(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        router = _router(hosts)
        cmd = {"privateIP": ROUTER, "domRName": "r-4-VM", "option": "get"}
        ans = r.execute("NetworkUsageCommand", cmd)
        b = body(ans)
        assert b["result"] is True, b["details"]
        assert (b["bytesSent"], b["bytesReceived"], b["routerName"]) == (150, 225, "r-4-VM")
        assert hosts[0].calls.methods() == ["exec_domr"]
        assert _args(hosts, "exec_domr") == [ROUTER, "/opt/cloud/bin/netusage.sh -g", 120]  # the table default timeout
        argv = router.argv[-1]
        assert argv[-1] == "/opt/cloud/bin/netusage.sh -g" and argv[-2] == "root@" + ROUTER
        assert argv[argv.index("-p") + 1] == "3922" and "BatchMode=yes" in argv
        ans = r.execute("NetworkUsageCommand", dict(cmd, option="create"))
        assert body(ans)["result"] is True and (body(ans)["bytesSent"], body(ans)["bytesReceived"]) == (0, 0)
        assert router.argv[-1][-1] == "/opt/cloud/bin/netusage.sh -c"


def test_network_usage_vpc_options_build_the_vpc_script_line(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        router = _router(hosts, output="7:3:")
        base = {"privateIP": ROUTER, "domRName": "r-5-VM", "forVpc": True, "gatewayIP": "10.1.1.1"}
        b = body(r.execute("NetworkUsageCommand", dict(base, option="get")))
        assert b["result"] is True and (b["bytesSent"], b["bytesReceived"]) == (7, 3)
        assert router.argv[-1][-1] == "/opt/cloud/bin/vpc_netusage.sh -l 10.1.1.1 -g"
        b = body(r.execute("NetworkUsageCommand", dict(base, option="create", vpcCIDR="10.1.0.0/16")))
        assert b["result"] is True
        assert router.argv[-1][-1] == "/opt/cloud/bin/vpc_netusage.sh -l 10.1.1.1 -c -v 10.1.0.0/16"
        hosts[0].calls.clear()
        b = body(r.execute("NetworkUsageCommand", dict(base, option="bogus")))
        assert b["result"] is False and "bogus" in b["details"] and hosts[0].calls.methods() == []


def test_network_usage_failures_name_host_router_and_cause(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        cmd = {"privateIP": ROUTER, "domRName": "r-4-VM", "option": "get"}
        hosts[0].faults.add(method="exec_domr", kind="fault", fault=BOOM, count=1)
        _failed(r.execute("NetworkUsageCommand", cmd), "step exec_domr netusage.sh")
        _router(hosts, rc=1, err="iptables: No chain/target/match by that name.\n")
        b = body(r.execute("NetworkUsageCommand", cmd))
        assert b["result"] is False and (b["bytesSent"], b["bytesReceived"]) == (0, 0)
        assert "host ovm-1" in b["details"] and ROUTER in b["details"] and "No chain" in b["details"]
        _router(hosts, output="garbage:\n")
        b = body(r.execute("NetworkUsageCommand", cmd))
        assert b["result"] is False and "garbage" in b["details"] and "host ovm-1" in b["details"]


# ---- NetworkRulesSystemVmCommand --------------------------------------------------------------------
def test_network_rules_for_system_vms_make_no_agent_call(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        hosts[0].faults.add(method="*", kind="fault", fault=BOOM)  # nothing may reach the agent
        ans = r.execute("NetworkRulesSystemVmCommand", {"vmName": "r-4-VM", "type": "DomainRouter"})
        assert body(ans)["result"] is True and "security-group" in body(ans)["details"]
        assert hosts[0].calls.methods() == []


# ---- CopyVolumeCommand ------------------------------------------------------------------------------
def _filer():
    """CopyVolumeCommand's ``pool``: a StorageFilerTO (plain object, not class-wrapped)."""
    return dict(pool_to(), id=3, port=2049)


def _primary_disk(hosts, name):
    return os.path.join(hosts.nfs_dir("%s:%s" % (NFS_HOST, NFS_PATH)), "VirtualDisks", name)


def test_copy_volume_to_secondary_and_back_round_trips(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        with open(_primary_disk(hosts, "vol-1.raw"), "wb") as f:
            f.write(b"ROOTDISK" * 512)
        hosts[0].calls.clear()
        cmd = {
            "volumeId": 11,
            "volumePath": "vol-1",
            "pool": _filer(),
            "secondaryStorageURL": SECONDARY,
            "toSecondaryStorage": True,
            "vmName": VM,
        }
        ans = r.execute("CopyVolumeCommand", cmd)
        b = body(ans)
        assert b["result"] is True, b["details"]
        assert "com.cloud.agent.api.storage.CopyVolumeAnswer" in ans and b["volumePath"] == "volumes/11/vol-1.raw"
        assert hosts[0].calls.methods() == [
            "discover_mounted_file_systems",
            "storage_plugin_mount",
            "ovs_mkdirs",
            "storage_plugin_getFileInfo",  # the target is free
            "copy_file",
        ]
        mount = naming.secondary_mount("nfs-1", "/export/secondary")
        assert _args(hosts, "ovs_mkdirs")[0] == mount + "/volumes/11"
        assert _args(hosts, "copy_file")[:2] == [naming.volume_path(POOL, "vol-1"), mount + "/volumes/11/vol-1.raw"]
        with open(os.path.join(hosts.nfs_dir("nfs-1:/export/secondary"), "volumes/11/vol-1.raw"), "rb") as f:
            assert f.read() == b"ROOTDISK" * 512
        hosts[0].calls.clear()  # back to primary: the secondary share is mounted already
        back = body(r.execute("CopyVolumeCommand", dict(cmd, volumePath=b["volumePath"], toSecondaryStorage=False)))
        assert back["result"] is True, back["details"]
        assert hosts[0].calls.methods() == ["discover_mounted_file_systems", "storage_plugin_getFileInfo", "copy_file"]
        with open(_primary_disk(hosts, back["volumePath"] + ".raw"), "rb") as f:
            assert f.read() == b"ROOTDISK" * 512


def test_copy_volume_fault_leaves_no_new_volume(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        put_file(hosts, "nfs-1:/export/secondary", "volumes/11/vol-1.raw")
        disks = os.path.dirname(_primary_disk(hosts, "x"))
        before = sorted(os.listdir(disks))
        hosts[0].faults.add(method="copy_file", kind="fault", fault=BOOM, count=1)
        cmd = {
            "volumeId": 11,
            "volumePath": "volumes/11/vol-1.raw",
            "pool": _filer(),
            "secondaryStorageURL": SECONDARY,
            "toSecondaryStorage": False,
        }
        details = _failed(r.execute("CopyVolumeCommand", cmd), "step copy_file")
        assert "CopyVolumeCommand" in details
        assert sorted(os.listdir(disks)) == before


# ---- CreatePrivateTemplateFromVolumeCommand ---------------------------------------------------------
def _template_cmd():
    return {
        "_vmName": VM,
        "_volumePath": "vol-1",
        "_userSpecifiedName": "my template",
        "_uniqueName": "tmpl-unique",
        "_templateId": 201,
        "_accountId": 2,
        "_primaryPool": _filer(),
        "primaryStoragePoolNameLabel": POOL,
        "_secondaryStorageUrl": SECONDARY,  # CloudStack fills this one; SnapshotCommand's stays null
        "secondaryStorageUrl": None,
    }


def test_template_from_volume_copies_into_the_template_directory(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        with open(_primary_disk(hosts, "vol-1.raw"), "wb") as f:
            f.truncate(3 << 20)
        hosts[0].calls.clear()
        ans = r.execute("CreatePrivateTemplateFromVolumeCommand", _template_cmd())
        b = body(ans)
        assert b["result"] is True, b["details"]
        assert "com.cloud.agent.api.storage.CreatePrivateTemplateAnswer" in ans
        assert hosts[0].calls.methods() == [
            "discover_mounted_file_systems",
            "storage_plugin_mount",
            "ovs_mkdirs",
            "discover_mounted_file_systems",
            "storage_plugin_getFileInfo",  # the volume's size
            "storage_plugin_getFileInfo",  # the target is free
            "copy_file",
        ]
        assert b["_path"] == "template/tmpl/2/201/tmpl-unique.raw" and b["_format"] == "RAW"
        assert b["_virtualSize"] == b["_physicalSize"] == 3 << 20 and b["_uniqueName"] == "tmpl-unique"
        copied = os.path.join(hosts.nfs_dir("nfs-1:/export/secondary"), b["_path"])
        assert os.path.getsize(copied) == 3 << 20
        legacy = dict(_template_cmd(), _secondaryStorageUrl=None, secondaryStorageUrl=SECONDARY, _templateId=202)
        assert body(r.execute("CreatePrivateTemplateFromVolumeCommand", legacy))["result"] is True
        missing = body(r.execute("CreatePrivateTemplateFromVolumeCommand", dict(legacy, secondaryStorageUrl=None)))
        assert missing["result"] is False and "_secondaryStorageUrl" in missing["details"]


def test_template_from_volume_fault_leaves_no_template(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        hosts[0].faults.add(method="copy_file", kind="fault", fault=BOOM, count=1)
        details = _failed(r.execute("CreatePrivateTemplateFromVolumeCommand", _template_cmd()), "step copy_file")
        assert "CreatePrivateTemplateFromVolumeCommand" in details
        target = os.path.join(hosts.nfs_dir("nfs-1:/export/secondary"), "template/tmpl/2/201")
        assert not os.path.exists(os.path.join(target, "tmpl-unique.raw"))
        hosts[0].calls.clear()
        missing = body(r.execute("CreatePrivateTemplateFromVolumeCommand", dict(_template_cmd(), _volumePath="nope")))
        assert missing["result"] is False and "nope" in missing["details"]
        assert "copy_file" not in hosts[0].calls.methods()  # a missing volume stops before the copy


# ---- the rest of the list: call order, state and an injected fault for each ------------------
def _started(hosts, r):
    volume_on_primary(hosts, r)
    assert body(r.execute("StartCommand", {"vm": vm_to()}))["result"] is True
    hosts[0].calls.clear()


def test_reboot_fault_keeps_the_vm_running(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        _started(hosts, r)
        hosts[0].faults.add(method="reboot_vm", kind="fault", fault=BOOM, count=1)
        _failed(r.execute("RebootCommand", {"vmName": VM}), "step reboot_vm")
        assert hosts[0].calls.methods() == ["list_vms", "reboot_vm", "list_vms"]
        assert r.vms.get(VM) == state.RUNNING


def test_check_vm_and_vnc_port_read_list_vms_and_fail_with_it(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        _started(hosts, r)
        chk = body(r.execute("CheckVirtualMachineCommand", {"vmName": VM}))
        vnc = body(r.execute("GetVncPortCommand", {"name": VM, "id": 3}))
        assert hosts[0].calls.methods() == ["list_vms", "list_vms"]
        assert chk["state"] == "PowerOn" and chk["vncPort"] == vnc["port"]
        hosts[0].faults.add(method="list_vms", kind="fault", fault=BOOM, count=2)
        _failed(r.execute("CheckVirtualMachineCommand", {"vmName": VM}), "step list_vms")
        _failed(r.execute("GetVncPortCommand", {"name": VM}), "step list_vms")
        assert r.vms.get(VM) == state.RUNNING


def test_prepare_for_migration_creates_the_vlan_bridge_or_names_the_fault(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        before = r.vms.get(VM)
        hosts[0].faults.add(method="ovs_vlan_bridge", kind="fault", fault=BOOM, count=1)
        _failed(r.execute("PrepareForMigrationCommand", {"vm": vm_to(vlan=170)}), "step ovs_vlan_bridge xenbr0.170")
        assert "xenbr0.170" not in hosts[0].state.bridges and r.vms.get(VM) == before
        hosts[0].calls.clear()
        assert body(r.execute("PrepareForMigrationCommand", {"vm": vm_to(vlan=170)}))["result"] is True
        # the discovery before the fault is still valid; list_vms says whether the VM is already here
        assert hosts[0].calls.methods() == ["ovs_vlan_bridge", "list_vms"]
        assert "xenbr0.170" in hosts[0].state.bridges and r.vms.get(VM) != before


def test_unplug_nic_order_and_fault_keeps_the_nic(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        _started(hosts, r)
        nic = {"deviceId": 0, "mac": "02:00:50:9a:00:01", "type": "Guest"}
        hosts[0].faults.add(method="configure_vm", kind="fault", fault=BOOM, count=1)
        _failed(r.execute("UnPlugNicCommand", {"instanceName": VM, "nic": nic}), "step configure_vm")
        repo = naming.repo_id(POOL)
        vifs = r.client.call("get_vm_config", repo, naming.vm_uuid(VM))["vif"]
        assert vifs == ["mac=02:00:50:9a:00:01,bridge=xenbr0.160"]
        hosts[0].calls.clear()
        assert body(r.execute("UnPlugNicCommand", {"instanceName": VM, "nic": nic}))["result"] is True
        assert hosts[0].calls.methods() == ["list_vms", "get_vm_config", "configure_vm"]
        assert r.client.call("get_vm_config", repo, naming.vm_uuid(VM))["vif"] == []


def test_ready_and_maintain_calls_and_faults(tmp_path):
    from ovm3.cloudstack.host import ownership, server_info

    with resources(tmp_path) as (hosts, (r,)):
        ownership(r, server_info(r, refresh=True))
        hosts[0].calls.clear()
        assert body(r.execute("ReadyCommand", {"hostId": 1}))["result"] is True
        assert body(r.execute("MaintainCommand", {}))["willMigrate"] is False
        assert hosts[0].calls.methods() == ["discover_server", "list_vms"]
        hosts[0].faults.add(method="discover_server", kind="fault", fault=BOOM, count=1)
        _failed(r.execute("ReadyCommand", {}), "step discover_server")
        hosts[0].faults.add(method="list_vms", kind="fault", fault=BOOM, count=1)
        m = r.execute("MaintainCommand", {})
        _failed(m, "step list_vms")
        assert "willMigrate" not in body(m)  # no claim about the VMs when they could not be listed


def test_check_network_fault(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        hosts[0].faults.add(method="discover_network", kind="fault", fault=BOOM, count=1)
        _failed(r.execute("CheckNetworkCommand", {"networkInfoList": [{}]}), "step discover_network")
        assert body(r.execute("CheckNetworkCommand", {"networkInfoList": [{}]}))["result"] is True


def test_storage_stats_order_and_fault(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        hosts[0].calls.clear()
        b = body(r.execute("GetStorageStatsCommand", {"id": POOL}))
        assert b["result"] is True and b["capacityBytes"] >= b["usedBytes"] >= 0
        assert hosts[0].calls.methods() == ["discover_mounted_file_systems", "storage_plugin_getFileSystemInfo"]
        hosts[0].faults.add(method="storage_plugin_getFileSystemInfo", kind="fault", fault=BOOM, count=1)
        _failed(r.execute("GetStorageStatsCommand", {"id": POOL}), "step storage_plugin_getFileSystemInfo")
        missing = body(r.execute("GetStorageStatsCommand", {"id": "00000000-0000-4000-8000-00000000abcd"}))
        assert missing["result"] is False and "not mounted" in missing["details"]


def test_delete_and_create_volume_faults_leave_the_files_as_they_were(tmp_path):
    from tests.cloudstack_support import volume

    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        disk = _primary_disk(hosts, "vol-1.raw")
        hosts[0].faults.add(method="storage_plugin_destroy", kind="fault", fault=BOOM, count=1)
        _failed(r.execute("DeleteCommand", {"data": volume()}), "step storage_plugin_destroy")
        assert os.path.exists(disk)
        hosts[0].faults.add(method="storage_plugin_create", kind="fault", fault=BOOM, count=1)
        _failed(r.execute("CreateObjectCommand", {"data": volume("vol-2")}), "step storage_plugin_create")
        assert not os.path.exists(_primary_disk(hosts, "vol-2.raw"))
        hosts[0].calls.clear()
        assert body(r.execute("DeleteCommand", {"data": volume()}))["result"] is True
        assert hosts[0].calls.methods() == ["storage_plugin_destroy"] and not os.path.exists(disk)
