"""Storage handlers on the simulated agent: pools, templates, volumes, snapshots, attach, legacy commands."""

from ovm3.resource import naming
from ovm3.resource.cs_fields import java_class
from tests.test_resource_support import (
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

TEMPLATE = "template/tmpl/2/201/t.raw"


def test_add_primary_storage_mounts_repository_and_vm_dir(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        ans = r.execute("ModifyStoragePoolCommand", {"add": True, "pool": pool_to()})
        b = body(ans)
        assert b["result"] is True, b["details"]
        assert b["poolInfo"]["localPath"] == naming.repo_path(POOL) and b["poolInfo"]["capacityBytes"] > 0
        calls = hosts[0].calls.methods()
        assert (
            calls.index("mount_repository_fs")
            < calls.index("add_repository")
            < calls.index("storage_plugin_mount")
        )
        assert calls[-1] == "storage_plugin_getFileSystemInfo"
        hosts[0].calls.clear()  # a second add is idempotent: nothing is mounted again
        assert body(r.execute("ModifyStoragePoolCommand", {"add": True, "pool": pool_to()}))["result"] is True
        assert "mount_repository_fs" not in hosts[0].calls.methods()
        assert "storage_plugin_mount" not in hosts[0].calls.methods()
        stats = body(r.execute("GetStorageStatsCommand", {"id": POOL}))
        assert stats["result"] is True and stats["capacity"] >= stats["used"] >= 0
        assert body(r.execute("DeleteStoragePoolCommand", {"pool": pool_to()}))["result"] is True
        assert "unmount_repository_fs" in hosts[0].calls.methods()


def test_non_nfs_primary_storage_is_refused(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        pool = dict(pool_to(), type="IscsiLUN")
        ans = r.execute("CreateStoragePoolCommand", {"add": True, "pool": pool})
        assert body(ans)["result"] is False and "NFS only" in body(ans)["details"]
        assert hosts[0].calls.methods() == []


def test_add_storage_fault_names_the_step(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        hosts[0].faults.add(
            method="storage_plugin_mount", kind="fault", fault="exceptions.Exception:nfs down"
        )
        ans = r.execute("CreateStoragePoolCommand", {"add": True, "pool": pool_to()})
        assert body(ans)["result"] is False
        assert "storage_plugin_mount" in body(ans)["details"] and "nfs down" in body(ans)["details"]


def test_template_to_primary_then_volume_then_delete(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r, "other")
        put_file(hosts, "nfs-1:/export/secondary", TEMPLATE, 8192)
        src = {
            java_class("TemplateObjectTO"): {
                "path": TEMPLATE,
                "imageDataStore": secondary(),
                "dataStore": secondary(),
            }
        }
        dst = {java_class("TemplateObjectTO"): {"uuid": "t-1", "dataStore": primary()}}
        hosts[0].calls.clear()
        ans = r.execute("CopyCommand", {"srcTO": src, "destTO": dst})
        assert body(ans)["result"] is True, body(ans)["details"]
        assert hosts[0].calls.methods()[-2:] == ["copy_file", "storage_plugin_getFileInfo"]
        new = body(ans)["newData"][java_class("TemplateObjectTO")]
        assert new["path"] == "t-1" and new["size"] == 8192
        on_primary = {java_class("TemplateObjectTO"): {"path": "t-1", "uuid": "t-1", "dataStore": primary()}}
        ans = r.execute("CopyCommand", {"srcTO": on_primary, "destTO": volume("vol-9")})
        assert body(ans)["result"] is True
        assert body(ans)["newData"][java_class("VolumeObjectTO")]["path"] == "vol-9"
        hosts[0].calls.clear()
        assert body(r.execute("DeleteCommand", {"data": volume("vol-9")}))["result"] is True
        assert hosts[0].calls.methods() == ["storage_plugin_destroy"]


def test_unsupported_copy_pair_fails_with_copy_answer(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        ans = r.execute("CopyCommand", {"srcTO": volume(), "destTO": volume("x")})
        assert "org.apache.cloudstack.storage.command.CopyCmdAnswer" in ans
        assert body(ans)["result"] is False and "not supported" in body(ans)["details"]


def test_create_volume_object(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r, "other")
        hosts[0].calls.clear()
        ans = r.execute("CreateObjectCommand", {"data": volume("new-vol")})
        assert body(ans)["result"] is True, body(ans)["details"]
        assert hosts[0].calls.methods() == ["storage_plugin_create"]
        assert body(ans)["data"][java_class("VolumeObjectTO")]["path"] == "new-vol"


def test_snapshot_refused_while_running_then_taken_and_backed_up(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        assert body(r.execute("StartCommand", {"vm": vm_to()}))["result"] is True
        snap = {java_class("SnapshotObjectTO"): {"vmName": VM, "volume": volume(), "dataStore": primary()}}
        ans = r.execute("CreateObjectCommand", {"data": snap})
        assert body(ans)["result"] is False and "stop it first" in body(ans)["details"]
        assert body(r.execute("StopCommand", {"vmName": VM}))["result"] is True
        ans = r.execute("CreateObjectCommand", {"data": snap})
        assert body(ans)["result"] is True, body(ans)["details"]
        snap_path = body(ans)["data"][java_class("SnapshotObjectTO")]["path"]
        src = {
            java_class("SnapshotObjectTO"): {"path": snap_path, "volume": volume(), "dataStore": primary()}
        }
        dst = {java_class("SnapshotObjectTO"): {"path": "snapshots/2/3", "dataStore": secondary()}}
        hosts[0].calls.clear()
        ans = r.execute("CopyCommand", {"srcTO": src, "destTO": dst})
        assert body(ans)["result"] is True, body(ans)["details"]
        calls = hosts[0].calls.methods()
        assert calls[-3:] == ["ovs_mkdirs", "copy_file", "storage_plugin_destroy"]
        backed = body(ans)["newData"][java_class("SnapshotObjectTO")]["path"]
        assert (
            backed.startswith("snapshots/2/3/")
            and backed.endswith(".raw")
            and not backed.endswith(".raw.raw")
        )


def test_legacy_create_and_destroy(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r, "other")
        ans = r.execute(
            "CreateCommand",
            {"volId": 7, "pool": pool_to(), "diskCharacteristics": {"size": 1 << 20, "name": "DATA-7"}},
        )
        b = body(ans)
        assert b["result"] is True, b["details"]
        assert b["volume"]["mountPoint"] == naming.repo_path(POOL)
        ans = r.execute("DestroyCommand", {"volume": {"path": b["volume"]["path"], "storagePoolUuid": POOL}})
        assert body(ans)["result"] is True


def test_attach_iso_to_running_vm(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        put_file(hosts, "nfs-1:/export/secondary", "iso/tools.iso")
        assert body(r.execute("StartCommand", {"vm": vm_to()}))["result"] is True
        disk = {
            "type": "ISO",
            "data": {
                java_class("TemplateObjectTO"): {"path": "iso/tools.iso", "imageDataStore": secondary()}
            },
        }
        hosts[0].calls.clear()
        ans = r.execute("AttachCommand", {"vmName": VM, "disk": disk})
        assert body(ans)["result"] is True, body(ans)["details"]
        assert hosts[0].calls.methods()[-2:] == ["get_vm_config", "configure_vm"]
        ans = r.execute("DettachCommand", {"vmName": VM, "disk": disk})
        assert body(ans)["result"] is True and "detached" in body(ans)["details"]


def test_primary_storage_download_reports_success(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r, "other")
        src = put_file(hosts, "nfs-1:/export/secondary", TEMPLATE)
        ans = r.execute("PrimaryStorageDownloadCommand", {"url": "file://" + src, "poolUuid": POOL})
        b = body(ans)
        assert "import_virtual_disk" in hosts[0].calls.methods()
        if b["result"]:
            assert b["installPath"].endswith(".raw")
        else:  # the simulator may not fetch this URL scheme; the answer then says why
            assert "import_virtual_disk" in b["details"]
