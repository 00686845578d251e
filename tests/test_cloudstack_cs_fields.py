"""The handlers read and write CloudStack's own JSON field names (cs_fields), on the simulated agent.

Each test here failed before the field it names was corrected: the handler read or wrote a name
CloudStack's class does not have (``DeleteStoragePoolCommand._pool``, ``CheckNetworkAnswer._reconnect``,
``GetStorageStatsAnswer.capacityBytes``, ``TemplateObjectTO.imageDataStore``, ``DetachCommand``...).
"""

import types

from ovm3.cloudstack import demo, naming
from ovm3.cloudstack.answers import answer_class
from ovm3.cloudstack.cs_fields import ANSWER_BASE, COMMAND_BASE, FIELDS, java_class, short_name
from ovm3.cloudstack.storage import mounts
from tests.cloudstack_support import (
    POOL,
    VM,
    body,
    pool_to,
    primary,
    put_file,
    resources,
    secondary,
    vm_to,
    volume,
    volume_on_primary,
)

#: (class, field) -> the class of the plain (unwrapped) object or list of objects in that field
#: a template on the simulated secondary share, as a file URL the download accepts (inside its mount)
TEMPLATE_URL = "file://" + naming.secondary_file("nfs-1", "/export/secondary", "template/tmpl/2/201/t.raw")
NESTED = {
    ("StartCommand", "vm"): "VirtualMachineTO",
    ("PrepareForMigrationCommand", "vm"): "VirtualMachineTO",
    ("VirtualMachineTO", "nics"): "NicTO",
    ("VirtualMachineTO", "disks"): "DiskTO",
    ("ModifyStoragePoolCommand", "pool"): "StorageFilerTO",
    ("CreateStoragePoolCommand", "pool"): "StorageFilerTO",
    ("DeleteStoragePoolCommand", "_pool"): "StorageFilerTO",
    ("CreateAnswer", "volume"): "VolumeTO",
    ("ModifyStoragePoolAnswer", "poolInfo"): "StoragePoolInfo",
    ("CheckNetworkCommand", "networkInfoList"): "PhysicalNetworkSetupInfo",
}


def unknown_fields(cls, obj, base=(), where=""):
    """Paths of every member of ``obj`` (an object of class ``cls``) that the class has no field for."""
    bad = []
    if cls in FIELDS:
        known = set(base) | set(FIELDS[cls][1])
        bad += ["%s%s.%s" % (where, cls, k) for k in obj if k not in known]
    for key, value in obj.items():
        inner = NESTED.get((cls, key))
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, dict):
                continue
            if len(item) == 1 and "." in next(iter(item)):
                ((java, fields),) = item.items()
                bad += unknown_fields(short_name(java), fields, where="%s%s.%s/" % (where, cls, key))
            elif inner:
                bad += unknown_fields(inner, item, where="%s%s.%s/" % (where, cls, key))
    return bad


def command_ok(command, fields):
    assert unknown_fields(command, fields, COMMAND_BASE) == [], command
    return fields


def answer_ok(ans):
    """The answer's body, after checking every member it carries is a field of its class."""
    assert unknown_fields(answer_class(ans), body(ans), ANSWER_BASE) == []
    return body(ans)


def test_the_checker_finds_wrong_names():
    assert unknown_fields("CheckNetworkAnswer", {"result": True, "needReconnect": False}, ANSWER_BASE) == [
        "CheckNetworkAnswer.needReconnect"
    ]
    wrapped = {"srcTO": {java_class("TemplateObjectTO"): {"path": "t", "dataStore": primary()}}}
    assert unknown_fields("CopyCommand", wrapped, COMMAND_BASE) == ["CopyCommand.srcTO/TemplateObjectTO.dataStore"]
    assert unknown_fields("DeleteStoragePoolCommand", {"pool": pool_to()}, COMMAND_BASE) == [
        "DeleteStoragePoolCommand.pool"
    ]


def test_demo_day_sends_only_cloudstack_field_names():
    hosts = [types.SimpleNamespace(config=types.SimpleNamespace(ip=ip)) for ip in ("192.0.2.1", "192.0.2.2")]
    sent = [(name, b) for name, _r, b, _long in demo.day_plan(hosts, demo.DemoEnv()) if isinstance(b, dict)]
    assert len(sent) > 10
    for name, fields in sent:
        command_ok(name, fields)


def test_delete_storage_pool_reads_underscore_pool(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r, "other")
        ans = r.execute("DeleteStoragePoolCommand", command_ok("DeleteStoragePoolCommand", {"_pool": pool_to()}))
        assert answer_ok(ans)["result"] is True, body(ans)["details"]
        assert "unmount_repository_fs" in hosts[0].calls.methods()
        assert not mounts(r).get("/OVS/Repositories/%s" % POOL.replace("-", ""))


def test_storage_stats_answer_carries_both_name_pairs(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        b = answer_ok(r.execute("GetStorageStatsCommand", command_ok("GetStorageStatsCommand", {"id": POOL})))
        assert b["result"] is True and b["capacityBytes"] > 0
        assert (b["capacity"], b["used"]) == (b["capacityBytes"], b["usedBytes"])


def test_check_network_answer_writes_reconnect_flag(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        good = answer_ok(r.execute("CheckNetworkCommand", {"networkInfoList": [{}]}))
        bad = answer_ok(r.execute("CheckNetworkCommand", {"networkInfoList": [{"guestNetworkName": "xenbr9"}]}))
        assert good["result"] is True and good["_reconnect"] is False
        assert bad["result"] is False and bad["_reconnect"] is False


def test_template_objects_keep_their_store_in_image_data_store(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r, "other")
        put_file(hosts, "nfs-1:/export/secondary", "template/tmpl/2/201/t.raw", 8192)
        src = {java_class("TemplateObjectTO"): {"path": "template/tmpl/2/201/t.raw", "imageDataStore": secondary()}}
        dst = {java_class("TemplateObjectTO"): {"uuid": "t-1", "imageDataStore": primary()}}
        b = answer_ok(r.execute("CopyCommand", command_ok("CopyCommand", {"srcTO": src, "destTO": dst})))
        assert b["result"] is True, b["details"]
        on_primary = {java_class("TemplateObjectTO"): {"path": "t-1", "uuid": "t-1", "imageDataStore": primary()}}
        clone = {"srcTO": on_primary, "destTO": volume("vol-9")}
        b = answer_ok(r.execute("CopyCommand", command_ok("CopyCommand", clone)))
        assert b["result"] is True and b["newData"][java_class("VolumeObjectTO")]["path"] == "vol-9", b["details"]


def test_primary_download_finds_the_pool_in_primary_pool(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r, "other")
        hosts[0].state.mount("nfs-1:/export/secondary", naming.secondary_mount("nfs-1", "/export/secondary"))
        put_file(hosts, "nfs-1:/export/secondary", "template/tmpl/2/201/t.raw", 8192)
        cmd = {"url": TEMPLATE_URL, "primaryPool": pool_to()}
        b = answer_ok(r.execute("PrimaryStorageDownloadCommand", command_ok("PrimaryStorageDownloadCommand", cmd)))
        assert b["result"] is True and b["templateSize"] == 8192, b["details"]


def test_detach_command_under_its_newer_name(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        put_file(hosts, "nfs-1:/export/secondary", "iso/tools.iso")
        assert body(r.execute("StartCommand", {"vm": vm_to()}))["result"] is True
        disk = {
            "type": "ISO",
            "data": {java_class("TemplateObjectTO"): {"path": "iso/tools.iso", "imageDataStore": secondary()}},
        }
        assert answer_ok(r.execute("AttachCommand", {"vmName": VM, "disk": disk}))["result"] is True
        ans = r.execute("DetachCommand", command_ok("DetachCommand", {"vmName": VM, "disk": disk}))
        assert java_class("DetachAnswer") == "org.apache.cloudstack.storage.command.DetachAnswer"
        assert answer_class(ans) == "DetachAnswer" and java_class("DetachAnswer") in ans
        b = answer_ok(ans)
        assert b["result"] is True and "detached" in b["details"]
        cfg = hosts[0].calls.methods()
        assert cfg[-1] == "configure_vm"


def test_vm_and_legacy_answers_carry_only_their_fields(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        assert answer_ok(r.execute("StartCommand", command_ok("StartCommand", {"vm": vm_to()})))["result"] is True
        assert answer_ok(r.execute("CheckVirtualMachineCommand", {"vmName": VM}))["state"] == "PowerOn"
        assert answer_ok(r.execute("RebootCommand", command_ok("RebootCommand", {"vmName": VM})))["result"] is True
        assert answer_ok(r.execute("MaintainCommand", {}))["willMigrate"] is True
        assert answer_ok(r.execute("StopCommand", {"vmName": VM}))["result"] is True
        created = answer_ok(
            r.execute(
                "CreateCommand",
                command_ok("CreateCommand", {"volId": 7, "pool": pool_to(), "diskCharacteristics": {"size": 4096}}),
            )
        )
        assert created["result"] is True and created["volume"]["storagePoolUuid"] == POOL, created["details"]
        info = answer_ok(r.execute("ModifyStoragePoolCommand", {"add": True, "pool": pool_to()}))
        assert info["poolInfo"]["uuid"] == POOL
