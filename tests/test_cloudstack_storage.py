"""Storage handlers on the simulated agent: pools, templates, volumes, snapshots, attach, legacy commands."""

from ovm3.cloudstack import naming
from ovm3.cloudstack.answers import answer_class as answers_class
from ovm3.cloudstack.cs_fields import java_class
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
        assert stats["result"] is True and stats["capacityBytes"] >= stats["usedBytes"] >= 0
        assert body(r.execute("DeleteStoragePoolCommand", {"_pool": pool_to()}))["result"] is True
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
            }
        }
        dst = {java_class("TemplateObjectTO"): {"uuid": "t-1", "imageDataStore": primary()}}
        hosts[0].calls.clear()
        ans = r.execute("CopyCommand", {"srcTO": src, "destTO": dst})
        assert body(ans)["result"] is True, body(ans)["details"]
        info = "storage_plugin_getFileInfo"
        assert hosts[0].calls.methods()[-3:] == [info, "copy_file", info]  # target free?, copy, size
        new = body(ans)["newData"][java_class("TemplateObjectTO")]
        assert new["path"] == "t-1" and new["size"] == 8192
        on_primary = {java_class("TemplateObjectTO"): {"path": "t-1", "uuid": "t-1", "imageDataStore": primary()}}
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
        assert hosts[0].calls.methods() == ["storage_plugin_getFileInfo", "storage_plugin_create"]  # target free?
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
        assert calls[-4:] == ["ovs_mkdirs", "storage_plugin_getFileInfo", "copy_file", "storage_plugin_destroy"]
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


def _template_bytes(hosts, relative):
    """A template on the simulated secondary export with recognisable content: ``(local path, data)``."""
    data = b"OVM3" * 1024 + b"\0" * (1 << 16) + b"tail"
    path = put_file(hosts, "nfs-1:/export/secondary", relative)
    with open(path, "wb") as f:
        f.write(data)
    return path, data


def _downloaded(hosts, install_path):
    """Bytes of the downloaded image, read from the primary export (what the repository mount points to)."""
    import os

    with open(os.path.join(hosts.nfs_dir("nfs-1:/export/primary"), "VirtualDisks", install_path), "rb") as f:
        return f.read()


def test_primary_storage_download_from_file_url_succeeds(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r, "other")
        hosts[0].state.mount("nfs-1:/export/secondary", naming.secondary_mount("nfs-1", "/export/secondary"))
        _, data = _template_bytes(hosts, TEMPLATE)
        hosts[0].calls.clear()
        url = "file://" + naming.secondary_file("nfs-1", "/export/secondary", TEMPLATE)
        ans = r.execute("PrimaryStorageDownloadCommand", {"url": url, "poolUuid": POOL})
        b = body(ans)
        assert b["result"] is True and b["details"] == "downloaded", b["details"]
        assert b["installPath"].endswith(".raw") and "-" not in b["installPath"]
        assert b["templateSize"] == len(data)
        assert _downloaded(hosts, b["installPath"]) == data
        calls = hosts[0].calls
        assert calls.methods() == [
            "discover_mounted_file_systems", "storage_plugin_getFileInfo", "import_virtual_disk",
            "storage_plugin_getFileInfo",
        ]
        target = naming.volume_path(POOL, b["installPath"])
        assert calls.find("storage_plugin_getFileInfo")[0].args[3] == {"file_path": target}
        assert list(calls.find("import_virtual_disk")[0].args) == [url, b["installPath"], naming.repo_id(POOL)]


def test_primary_storage_download_from_loopback_http_succeeds(tmp_path):
    import functools
    import http.server
    import os
    import threading

    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r, "other")
        path, data = _template_bytes(hosts, TEMPLATE)
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=os.path.dirname(path))
        handler.log_message = lambda *a: None
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            url = "http://127.0.0.1:%d/%s" % (server.server_address[1], os.path.basename(path))
            b = body(r.execute("PrimaryStorageDownloadCommand", {"url": url, "poolUuid": POOL}))
            assert b["result"] is True, b["details"]
            assert b["templateSize"] == len(data) and _downloaded(hosts, b["installPath"]) == data
            # a missing file on the server: a failed answer naming host, step and the agent's error
            bad = body(r.execute("PrimaryStorageDownloadCommand", {"url": url + ".missing", "poolUuid": POOL}))
        finally:
            server.shutdown()
            server.server_close()
        assert bad["result"] is False
        assert "ovm-1" in bad["details"] and "import_virtual_disk" in bad["details"], bad["details"]
        assert "not found" in bad["details"].lower() and "t.raw.missing" in bad["details"], bad["details"]


NOWHERE = {"url": "file:///nfsmnt/nowhere/nowhere.raw", "poolUuid": POOL}


def test_primary_storage_download_failure_leaves_no_image(tmp_path):
    import os

    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r, "other")
        disks = os.path.join(hosts.nfs_dir("nfs-1:/export/primary"), "VirtualDisks")
        before = sorted(os.listdir(disks))
        hosts[0].faults.add(method="import_virtual_disk", kind="fault", fault="exceptions.IOError:disk full", count=1)
        ans = r.execute("PrimaryStorageDownloadCommand", NOWHERE)
        b = body(ans)
        assert answers_class(ans) == "PrimaryStorageDownloadAnswer" and b["result"] is False
        assert "step import_virtual_disk" in b["details"] and "disk full" in b["details"], b["details"]
        # a source the host cannot read: the agent's own error, no file left behind
        b = body(r.execute("PrimaryStorageDownloadCommand", NOWHERE))
        assert b["result"] is False and "nowhere.raw" in b["details"], b["details"]
        assert sorted(os.listdir(disks)) == before
        # no URL at all: malformed command, no agent call
        hosts[0].calls.clear()
        b = body(r.execute("PrimaryStorageDownloadCommand", {"poolUuid": POOL}))
        assert b["result"] is False and "url" in b["details"] and hosts[0].calls.methods() == []
