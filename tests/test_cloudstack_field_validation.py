"""Every path, name and id a command carries is checked before any agent call (issue 14, item 6).

Table-driven: for every handler field that names a file, share, VM, NIC, bridge, host or id, a legitimate
command reaches the agent (proved with a fault on every agent method, so nothing changes), and the same
command with each hostile value in that field is a failed answer naming the field while the simulated
agent's call log stays empty. The reproductions of the issue run over ``ovm3 serve`` HTTP against canary
files in the simulated host's root.
"""

import copy
import json
import os
import threading

import pytest
import requests

from ovm3.cloudstack import answers, naming, validate
from ovm3.cloudstack.cs_fields import java_class
from tests.cloudstack_support import (
    NFS_HOST,
    NFS_PATH,
    POOL,
    SECONDARY,
    VM,
    body,
    pool_to,
    primary,
    resources,
    secondary,
    vm_to,
    volume,
    volume_on_primary,
)

OTHER_POOL = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
REPO = naming.repo_path(POOL)
OTHER_REPO = naming.repo_path(OTHER_POOL)
SEC_MOUNT = naming.secondary_mount("nfs-1", "/export/secondary")
OTHER_MOUNT = naming.secondary_mount("nfs-9", "/export/other")
SNAP = "5e1f0c2a-8d3b-4c7e-9f10-aa11bb22cc33"
GUID = "6a4f1a2e-0c1d-3e2f-8a9b-0c1d2e3f4a5b"
TEMPLATE_URL = "file://" + naming.secondary_file("nfs-1", "/export/secondary", "template/tmpl/2/201/t.raw")
VOL, TMPL, SNAPTO = (java_class(c) for c in ("VolumeObjectTO", "TemplateObjectTO", "SnapshotObjectTO"))
NFSTO = java_class("NfsTO")

# ---- hostile values --------------------------------------------------------------------------------------
HOST_FILES = ["/etc/shadow", "/etc/canary.raw", "/root/.ssh/authorized_keys", "/proc/self/root/etc/shadow"]
#: refused whatever the field holds (a name, a path, an id, an address)
COMMON = HOST_FILES + [
    "..", "../x", "../../../../etc/canary2", "a/../b", "a/..", "x/./../../y", "./../x", "a/b/../../..",
    "%2e%2e/etc", "..%2f..%2fetc", "%2e%2e", "%00", "\u2025/etc", "\uff0e\uff0e\uff0fetc", "..\\..\\etc\\shadow",
    "a\\b", "\u0430", "vol\u00a0", "\uff56\uff4f\uff4c-1", "\u202evol", "vol\u200b",
    "\x00", "vol\x00", "a\x00/../etc", "a\nb", "vol-1\n", "vol-1\r\n", "\nvol", "vol\t", "vol\x1b[2J", "vol\x9b1",
    "a" * 5000, "a/" * 700,
    "a b", " vol", "$(id)", "`id`", "a;id", "a|id", "~root/x", "x -> /etc/shadow", "*", "?", "'", '"',
    ["vol-1"], {"path": "vol-1"}, 7.5, True, -1,
]
#: a whole number where a string belongs (numbers and VLANs may be ints)
INTS = [7, 2 ** 64]
#: refused in a required field (absent, or present and empty)
EMPTY = ["", None]
NAME_EXTRA = ["a/b", "proc/self/root", ".hidden", "-rf", "...", "a..b", "x" * 256]
VOLUME_EXTRA = NAME_EXTRA + [
    OTHER_REPO + "/VirtualDisks/vol-1.raw",
    REPO + "/../%s/VirtualDisks/vol-1.raw" % naming.repo_id(OTHER_POOL),
    REPO + "/VirtualMachines/%s/vm.cfg" % naming.vm_uuid(VM),
    REPO + "/VirtualDisks",
    REPO + "/VirtualDisks/",
    REPO + "/VirtualDisks/sub/x.raw",
    REPO + "x/VirtualDisks/a.raw",
    REPO + "/VirtualDisks/../../../etc/shadow",
    REPO + "/VirtualDisks/./../.ovsrepo",
    REPO + "/.ovsrepo",
    REPO,
    REPO + "/VirtualDisks/.hidden",
    REPO + "/VirtualDisks/vol-1.raw\n",
    "/OVS/Repositories/../../etc/shadow",
    SEC_MOUNT + "/volumes/1/vol-1.raw",
]
SECONDARY_EXTRA = [
    SEC_MOUNT, SEC_MOUNT + "/", SEC_MOUNT + "/.", OTHER_MOUNT + "/template/t.raw", SEC_MOUNT + "x/a.raw",
    SEC_MOUNT + "/../%s/t.raw" % os.path.basename(OTHER_MOUNT), REPO + "/VirtualDisks/vol-1.raw",
    "/nfsmnt/../etc/shadow", SEC_MOUNT + "/a/../../x", "template/.hidden/t.raw", "template/-x/t.raw",
    "template/" + "x" * 256,
]
UUID_EXTRA = [POOL + "/..", "../" + POOL, POOL[:-1], POOL + "0", "g" * 32, "vol-1", POOL + " ", POOL.upper() + "\n"]
VM_EXTRA = [VM + "/../x", "-x", ".x", VM + "..", "x" * 129, VM + ",x"]
MAC_EXTRA = [
    "02:00:50:9a:00:01\n", "02:00:50:9a:00:01,bridge=xenbr0", "02-00-50-9a-00-01", "02:00:50:9a:00",
    "02:00:50:9a:00:01:02", "02:00:50:9a:00:0g",
]
BRIDGE_EXTRA = ["xenbr0 ", "b" * 16, "xenbr0,mac=x", "xenbr0\n", "-x", "xen/br0"]
IP_EXTRA = ["1.2.3.4; id", "1.2.3.4\n", "999.1.1.1", "1.2.3.4 -o x", "localhost", "1.2.3.4/24"]
NFS_URL_EXTRA = [
    "nfs://nfs-1/../../etc", "nfs://nfs-1/export/../../etc", "nfs://nfs-1;id/x", "nfs://nfs-1/export\n",
    "file:///etc", "nfs://nfs-1/exp ort", "nfs://-x/y", "nfs://nfs-1:999999/x", "nfs-1:relative",
    "nfs://nfs-1/export/%2e%2e", "nfs://nfs-1", "nfs://nfs\u0131/x", "nfs://nfs-1/export/\u2025",
]
NFS_HOST_EXTRA = ["nfs-1;id", "-nfs", "nfs..1", "nfs-1/x", "nfs-1:2049", "[::1]"]
EXPORT_EXTRA = ["export/primary", "/export/../etc", "/export/a b", "/export/%2e%2e", "/export/.hidden"]
DOWNLOAD_EXTRA = [
    "file:///etc/shadow", "file:///nfsmnt/../etc/shadow", "file:///nfsmnt/x/%2e%2e/etc", "file:///nfsmnt/x/../../etc/shadow",
    "file:///nfsmnt", "file:///nfsmnt/x", "file://" + REPO + "/VirtualDisks/vol-1.raw", "gopher://x/y",
    "http://h/a b", "http://h/x\n", "http://h/../../etc/shadow", "javascript:alert(1)", "FILE:///etc/shadow",
    "file:/etc/shadow", "file://localhost/etc/shadow", "/etc/shadow",
]
NUMBER_EXTRA = ["-1", "1e3", "0x10", "\u0661", "1" * 19, "12\n", "1 ", "1.0"]
VLAN_EXTRA = ["vlan://0", "vlan://4095", "vlan://1; id", "vlan://160\n", "vlan://-1", "pvlan://1-i2", "vlan://1_60"]
NETWORK_EXTRA = ["10.0.0.0/24; id", "10.0.0.0/33", "10.0.0.0/24\n"]
#: a value written into vm.cfg's ``vfb`` setting (any printable text but the separator)
SETTING_HOSTILE = ["pw,vnclisten=0.0.0.0", "pw\n", "pw\x00", "pw\r", "pw\x1b", "x" * 300, ["pw"], 7.5]

KINDS = {
    "name": COMMON + NAME_EXTRA,
    "volume": COMMON + VOLUME_EXTRA,
    "template": COMMON + VOLUME_EXTRA,
    "secondary": COMMON + SECONDARY_EXTRA,
    "uuid": COMMON + UUID_EXTRA,
    "vm": COMMON + VM_EXTRA,
    "mac": COMMON + MAC_EXTRA,
    "bridge": COMMON + BRIDGE_EXTRA,
    "ip": COMMON + IP_EXTRA,
    "nfs_url": COMMON + NFS_URL_EXTRA,
    "nfs_host": COMMON + NFS_HOST_EXTRA,
    # an export path is a path on the NFS server, not on the host: /etc/shadow there is a legal export
    "export": [v for v in COMMON if v not in HOST_FILES] + EXPORT_EXTRA,
    "download": COMMON + DOWNLOAD_EXTRA,
    "number": [v for v in COMMON if v != -1] + [-1] + NUMBER_EXTRA,
    "vlan": COMMON + VLAN_EXTRA,
    "network": COMMON + NETWORK_EXTRA,
    "setting": SETTING_HOSTILE,
    "list": ["vm-1", {"a": 1}, 7, True],
}


# ---- legitimate commands -----------------------------------------------------------------------------------
def _to(cls, **fields):
    return {java_class(cls): fields}


def _iso_disk():
    iso = _to("TemplateObjectTO", path="iso/tools.iso", imageDataStore=secondary())
    return {"type": "ISO", "diskSeq": 1, "data": iso}


def _vm_with_iso():
    vm = vm_to()
    vm["disks"].append(_iso_disk())
    vm["vncAddr"] = "0.0.0.0"
    return vm


def _copy(src, dst):
    return {"srcTO": src, "destTO": dst}


T2P = _copy(
    _to("TemplateObjectTO", path="template/tmpl/2/201/t.raw", imageDataStore=secondary()),
    _to("TemplateObjectTO", uuid="t-1", imageDataStore=primary()),
)
CLONE = _copy(_to("TemplateObjectTO", path="t-1", uuid="t-1", imageDataStore=primary()), volume("vol-9"))
BACKUP = _copy(
    _to("SnapshotObjectTO", path=SNAP, volume=volume(), dataStore=primary()),
    _to("SnapshotObjectTO", path="snapshots/2/3", dataStore=secondary()),
)
TFS = _copy(
    _to("SnapshotObjectTO", path="snapshots/2/3/s.raw", dataStore=secondary()),
    _to("TemplateObjectTO", uuid="tmpl-301", path="template/tmpl/2/301", imageDataStore=secondary()),
)
VFS = _copy(_to("SnapshotObjectTO", path="snapshots/2/3/s.raw", dataStore=secondary()), volume("vol-7"))
SNAPSHOT = {"data": _to("SnapshotObjectTO", vmName=VM, volume=volume(), dataStore=primary())}
DATADISK = {"vmName": VM, "disk": {"type": "DATADISK", "data": volume("vol-2")}}
ISO = {"vmName": VM, "disk": _iso_disk()}
COPY_VOLUME = {"volumeId": 12, "pool": pool_to(), "secondaryStorageURL": SECONDARY, "volumePath": "vol-1"}
TEMPLATE_FROM_VOLUME = {
    "_volumePath": "vol-1", "_uniqueName": "tmpl-u", "_templateId": 201, "_accountId": 2,
    "primaryStoragePoolNameLabel": POOL, "_secondaryStorageUrl": SECONDARY,
}
NIC = {"mac": "02:00:50:9a:00:01", "type": "Guest", "broadcastUri": "vlan://160"}
USAGE = {"privateIP": "169.254.1.1", "forVpc": True, "option": "create", "gatewayIP": "10.1.1.1",
         "vpcCIDR": "10.1.0.0/16", "domRName": "r-4-VM"}

DOWNLOAD = {"url": TEMPLATE_URL, "poolUuid": POOL}
P, U, D = "path", "uuid", "dataStore"
#: (command, legitimate body, [key paths the value goes to], field named in the answer, kind, required)
CASES = [
    ("PrimaryStorageDownloadCommand", DOWNLOAD, [["url"]], "url", "download", True),
    ("PrimaryStorageDownloadCommand", DOWNLOAD, [["poolUuid"]], "poolUuid", "uuid", False),
    ("PrimaryStorageDownloadCommand", {"url": TEMPLATE_URL, "primaryPool": pool_to()}, [["primaryPool", U]],
     "primaryPool.uuid", "uuid", True),
    ("PrimaryStorageDownloadCommand", {"url": TEMPLATE_URL, "primaryPool": pool_to()}, [["primaryPool", "host"]],
     "primaryPool.host", "nfs_host", True),
    ("PrimaryStorageDownloadCommand", {"url": TEMPLATE_URL, "primaryPool": pool_to()}, [["primaryPool", P]],
     "primaryPool.path", "export", True),
    ("CopyCommand", T2P, [["srcTO", TMPL, P]], "srcTO.path", "secondary", True),
    ("CopyCommand", T2P, [["srcTO", TMPL, "imageDataStore", NFSTO, "_url"]], "srcTO.imageDataStore._url", "nfs_url",
     True),
    ("CopyCommand", T2P, [["destTO", TMPL, U]], "destTO.uuid", "name", False),
    ("CopyCommand", T2P, [["destTO", TMPL, "imageDataStore", java_class("PrimaryDataStoreTO"), U]],
     "destTO.imageDataStore.uuid", "uuid", True),
    ("CopyCommand", T2P, [["destTO", TMPL, "imageDataStore", java_class("PrimaryDataStoreTO"), "host"]],
     "destTO.imageDataStore.host", "nfs_host", True),
    ("CopyCommand", T2P, [["destTO", TMPL, "imageDataStore", java_class("PrimaryDataStoreTO"), P]],
     "destTO.imageDataStore.path", "export", True),
    ("CopyCommand", CLONE, [["srcTO", TMPL, P], ["srcTO", TMPL, U]], "srcTO.path", "template", True),
    ("CopyCommand", CLONE, [["srcTO", TMPL, "imageDataStore", java_class("PrimaryDataStoreTO"), U]],
     "srcTO.imageDataStore.uuid", "uuid", True),
    ("CopyCommand", CLONE, [["destTO", VOL, U]], "destTO.uuid", "name", True),
    ("CopyCommand", CLONE, [["destTO", VOL, D, java_class("PrimaryDataStoreTO"), U]], "destTO.dataStore.uuid",
     "uuid", True),
    ("CopyCommand", BACKUP, [["srcTO", SNAPTO, P]], "srcTO.path", "name", True),
    ("CopyCommand", BACKUP, [["destTO", SNAPTO, P]], "destTO.path", "secondary", True),
    ("CopyCommand", BACKUP, [["destTO", SNAPTO, D, NFSTO, "_url"]], "destTO.dataStore._url", "nfs_url", True),
    ("CopyCommand", BACKUP, [["srcTO", SNAPTO, D, java_class("PrimaryDataStoreTO"), U]], "srcTO.dataStore.uuid",
     "uuid", True),
    ("CopyCommand", TFS, [["srcTO", SNAPTO, P]], "srcTO.path", "secondary", True),
    ("CopyCommand", TFS, [["srcTO", SNAPTO, D, NFSTO, "_url"]], "srcTO.dataStore._url", "nfs_url", True),
    ("CopyCommand", TFS, [["destTO", TMPL, U]], "destTO.uuid", "name", False),
    ("CopyCommand", TFS, [["destTO", TMPL, P]], "destTO.path", "secondary", True),
    ("CopyCommand", TFS, [["destTO", TMPL, "imageDataStore", NFSTO, "_url"]], "destTO.imageDataStore._url",
     "nfs_url", True),
    ("CopyCommand", VFS, [["srcTO", SNAPTO, P]], "srcTO.path", "secondary", True),
    ("CopyCommand", VFS, [["destTO", VOL, U]], "destTO.uuid", "name", True),
    ("CreateObjectCommand", {"data": volume("new-vol")}, [["data", VOL, U]], "data.uuid", "name", True),
    ("CreateObjectCommand", {"data": volume("new-vol")}, [["data", VOL, D, java_class("PrimaryDataStoreTO"), U]],
     "data.dataStore.uuid", "uuid", True),
    ("CreateObjectCommand", SNAPSHOT, [["data", SNAPTO, "vmName"], ["data", SNAPTO, "volume", VOL, "vmName"]],
     "data.vmName", "vm", False),
    ("CreateObjectCommand", SNAPSHOT, [["data", SNAPTO, "volume", VOL, P], ["data", SNAPTO, "volume", VOL, U]],
     "data.volume.path", "volume", True),
    ("CreateObjectCommand", SNAPSHOT, [["data", SNAPTO, "volume", VOL, D, java_class("PrimaryDataStoreTO"), U]],
     "data.volume.dataStore.uuid", "uuid", True),
    ("DeleteCommand", {"data": volume()}, [["data", VOL, P], ["data", VOL, U]], "data.path", "volume", True),
    ("DeleteCommand", {"data": volume()}, [["data", VOL, D, java_class("PrimaryDataStoreTO"), U]],
     "data.dataStore.uuid", "uuid", True),
    ("DeleteCommand", {"data": _to("SnapshotObjectTO", path=SNAP, dataStore=primary())}, [["data", SNAPTO, P]],
     "data.path", "volume", True),
    ("DeleteCommand", {"data": _to("SnapshotObjectTO", path="snapshots/2/3/s.raw", dataStore=secondary())},
     [["data", SNAPTO, P]], "data.path", "secondary", True),
    ("DeleteCommand", {"data": _to("SnapshotObjectTO", path="snapshots/2/3/s.raw", dataStore=secondary())},
     [["data", SNAPTO, D, NFSTO, "_url"]], "data.dataStore._url", "nfs_url", True),
    ("CreateCommand", {"volId": 7, "pool": pool_to(), "diskCharacteristics": {"size": 1 << 20}, "templateUrl": "t-1"},
     [["templateUrl"]], "templateUrl", "template", False),
    ("CreateCommand", {"volId": 7, "pool": pool_to(), "diskCharacteristics": {"size": 1 << 20}}, [["pool", U]],
     "pool.uuid", "uuid", True),
    ("CreateCommand", {"volId": 7, "pool": pool_to(), "diskCharacteristics": {"size": 1 << 20}}, [["pool", "host"]],
     "pool.host", "nfs_host", True),
    ("CreateCommand", {"volId": 7, "pool": pool_to(), "diskCharacteristics": {"size": 1 << 20}}, [["pool", P]],
     "pool.path", "export", True),
    ("DestroyCommand", {"volume": {"path": "vol-1", "storagePoolUuid": POOL}}, [["volume", P]], "volume.path",
     "volume", True),
    ("DestroyCommand", {"volume": {"path": "vol-1", "storagePoolUuid": POOL}}, [["volume", "storagePoolUuid"]],
     "volume.storagePoolUuid", "uuid", True),
    ("CopyVolumeCommand", dict(COPY_VOLUME, toSecondaryStorage=True), [["volumePath"]], "volumePath", "volume", True),
    ("CopyVolumeCommand", dict(COPY_VOLUME, toSecondaryStorage=False, volumePath="volumes/11/old.raw"),
     [["volumePath"]], "volumePath", "secondary", True),
    ("CopyVolumeCommand", dict(COPY_VOLUME, toSecondaryStorage=True), [["volumeId"]], "volumeId", "number", False),
    ("CopyVolumeCommand", dict(COPY_VOLUME, toSecondaryStorage=True), [["secondaryStorageURL"]],
     "secondaryStorageURL", "nfs_url", True),
    ("CopyVolumeCommand", dict(COPY_VOLUME, toSecondaryStorage=True), [["pool", U]], "pool.uuid", "uuid", True),
    ("CopyVolumeCommand", dict(COPY_VOLUME, toSecondaryStorage=True), [["pool", "host"]], "pool.host", "nfs_host",
     True),
    ("CopyVolumeCommand", dict(COPY_VOLUME, toSecondaryStorage=True), [["pool", P]], "pool.path", "export", True),
    ("CreatePrivateTemplateFromVolumeCommand", TEMPLATE_FROM_VOLUME, [["_volumePath"]], "_volumePath", "volume", True),
    ("CreatePrivateTemplateFromVolumeCommand", TEMPLATE_FROM_VOLUME, [["primaryStoragePoolNameLabel"]],
     "primaryStoragePoolNameLabel", "uuid", True),
    ("CreatePrivateTemplateFromVolumeCommand", TEMPLATE_FROM_VOLUME, [["_secondaryStorageUrl"]],
     "_secondaryStorageUrl", "nfs_url", False),
    ("CreatePrivateTemplateFromVolumeCommand", TEMPLATE_FROM_VOLUME, [["_templateId"]], "_templateId", "number", True),
    ("CreatePrivateTemplateFromVolumeCommand", TEMPLATE_FROM_VOLUME, [["_accountId"]], "_accountId", "number", False),
    ("CreatePrivateTemplateFromVolumeCommand", TEMPLATE_FROM_VOLUME, [["_uniqueName"]], "_uniqueName", "name", False),
    ("AttachCommand", DATADISK, [["vmName"]], "vmName", "vm", True),
    ("AttachCommand", DATADISK, [["disk", "data", VOL, P], ["disk", "data", VOL, U]], "disk.data.path", "volume",
     True),
    ("AttachCommand", DATADISK, [["disk", "data", VOL, D, java_class("PrimaryDataStoreTO"), U]],
     "disk.data.dataStore.uuid", "uuid", True),
    ("AttachCommand", ISO, [["disk", "data", TMPL, P]], "disk.data.path", "secondary", True),
    ("AttachCommand", ISO, [["disk", "data", TMPL, "imageDataStore", NFSTO, "_url"]], "imageDataStore._url",
     "nfs_url", True),
    ("DettachCommand", DATADISK, [["vmName"]], "vmName", "vm", True),
    ("DettachCommand", DATADISK, [["disk", "data", VOL, P], ["disk", "data", VOL, U]], "disk.data.path", "volume",
     True),
    ("DettachCommand", ISO, [["disk", "data", TMPL, P]], "disk.data.path", "secondary", True),
    ("DetachCommand", DATADISK, [["vmName"]], "vmName", "vm", True),
    ("DetachCommand", DATADISK, [["disk", "data", VOL, P], ["disk", "data", VOL, U]], "disk.data.path", "volume",
     True),
    ("DetachCommand", ISO, [["disk", "data", TMPL, P]], "disk.data.path", "secondary", True),
    ("CreateStoragePoolCommand", {"add": True, "pool": pool_to()}, [["pool", U]], "pool.uuid", "uuid", True),
    ("CreateStoragePoolCommand", {"add": True, "pool": pool_to()}, [["pool", "host"]], "pool.host", "nfs_host", True),
    ("CreateStoragePoolCommand", {"add": True, "pool": pool_to()}, [["pool", P]], "pool.path", "export", True),
    ("ModifyStoragePoolCommand", {"add": True, "pool": pool_to()}, [["pool", U]], "pool.uuid", "uuid", True),
    ("ModifyStoragePoolCommand", {"add": True, "pool": pool_to()}, [["pool", "host"]], "pool.host", "nfs_host", True),
    ("ModifyStoragePoolCommand", {"add": False, "pool": pool_to()}, [["pool", P]], "pool.path", "export", True),
    ("DeleteStoragePoolCommand", {"_pool": pool_to()}, [["_pool", U]], "_pool.uuid", "uuid", True),
    ("DeleteStoragePoolCommand", {"_pool": pool_to()}, [["_pool", "host"]], "_pool.host", "nfs_host", True),
    ("DeleteStoragePoolCommand", {"_pool": pool_to()}, [["_pool", P]], "_pool.path", "export", True),
    ("GetStorageStatsCommand", {"id": POOL}, [["id"]], "id", "uuid", True),
    ("GetStorageStatsCommand", {"id": 3, "store": primary()}, [["store", java_class("PrimaryDataStoreTO"), U]],
     "store.uuid", "uuid", True),
    ("StartCommand", {"vm": _vm_with_iso()}, [["vm", "name"]], "vm.name", "vm", True),
    ("StartCommand", {"vm": _vm_with_iso()}, [["vm", "disks", 0, "data", VOL, P], ["vm", "disks", 0, "data", VOL, U]],
     "vm.disks[0].data.path", "volume", True),
    ("StartCommand", {"vm": _vm_with_iso()}, [["vm", "disks", 0, "data", VOL, D, java_class("PrimaryDataStoreTO"), U]],
     "vm.disks[0].data.dataStore.uuid", "uuid", True),
    ("StartCommand", {"vm": _vm_with_iso()}, [["vm", "disks", 1, "data", TMPL, P]], "vm.disks[1].data.path",
     "secondary", False),
    ("StartCommand", {"vm": _vm_with_iso()}, [["vm", "disks", 1, "data", TMPL, "imageDataStore", NFSTO, "_url"]],
     "imageDataStore._url", "nfs_url", True),
    ("StartCommand", {"vm": _vm_with_iso()}, [["vm", "disks"]], "vm.disks", "list", False),
    ("StartCommand", {"vm": _vm_with_iso()}, [["vm", "nics", 0, "mac"]], "vm.nics[0].mac", "mac", True),
    ("StartCommand", {"vm": _vm_with_iso()}, [["vm", "nics", 0, "broadcastUri"]], "vm.nics[0].broadcastUri", "vlan",
     False),
    ("StartCommand", {"vm": _vm_with_iso()}, [["vm", "vncAddr"]], "vm.vncAddr", "ip", False),
    ("StartCommand", {"vm": _vm_with_iso()}, [["vm", "vncPassword"]], "vm.vncPassword", "setting", False),
    ("PrepareForMigrationCommand", {"vm": vm_to()}, [["vm", "name"]], "vm.name", "vm", True),
    ("PrepareForMigrationCommand", {"vm": vm_to()}, [["vm", "nics", 0, "mac"]], "vm.nics[0].mac", "mac", True),
    ("PrepareForMigrationCommand", {"vm": vm_to()}, [["vm", "nics", 0, "broadcastUri"]], "vm.nics[0].broadcastUri",
     "vlan", False),
    ("StopCommand", {"vmName": VM}, [["vmName"]], "vmName", "vm", True),
    ("RebootCommand", {"vmName": VM}, [["vmName"]], "vmName", "vm", True),
    ("MigrateCommand", {"vmName": VM, "destIp": "192.168.1.65"}, [["vmName"]], "vmName", "vm", True),
    ("MigrateCommand", {"vmName": VM, "destIp": "192.168.1.65"}, [["destIp"]], "destIp", "ip", True),
    ("CheckVirtualMachineCommand", {"vmName": VM}, [["vmName"]], "vmName", "vm", True),
    ("GetVncPortCommand", {"name": VM}, [["name"]], "name", "vm", True),
    ("GetVmStatsCommand", {"vmNames": [VM]}, [["vmNames", 0]], "vmNames[0]", "vm", True),
    ("GetVmStatsCommand", {"vmNames": [VM]}, [["vmNames"]], "vmNames", "list", False),
    ("PlugNicCommand", {"instanceName": VM, "nic": NIC}, [["instanceName"]], "instanceName", "vm", True),
    ("PlugNicCommand", {"instanceName": VM, "nic": NIC}, [["nic", "mac"]], "nic.mac", "mac", True),
    ("PlugNicCommand", {"instanceName": VM, "nic": NIC}, [["nic", "broadcastUri"]], "nic.broadcastUri", "vlan", False),
    ("UnPlugNicCommand", {"instanceName": VM, "nic": NIC}, [["instanceName"]], "instanceName", "vm", True),
    ("UnPlugNicCommand", {"instanceName": VM, "nic": NIC}, [["nic", "mac"]], "nic.mac", "mac", True),
    ("PingTestCommand", {"_computingHostIp": "192.168.1.65"}, [["_computingHostIp"]], "_computingHostIp", "ip", True),
    ("PingTestCommand", {"_routerIp": "169.254.1.1"}, [["_routerIp"]], "_routerIp", "ip", True),
    ("CheckSshCommand", {"ip": "169.254.1.1", "port": 3922, "retries": 1, "interval": 1}, [["ip"]], "ip", "ip", True),
    ("NetworkUsageCommand", USAGE, [["privateIP"]], "privateIP", "ip", True),
    ("NetworkUsageCommand", USAGE, [["gatewayIP"]], "gatewayIP", "ip", True),
    ("NetworkUsageCommand", USAGE, [["vpcCIDR"]], "vpcCIDR", "network", True),
    ("NetworkUsageCommand", USAGE, [["domRName"]], "domRName", "vm", False),
    ("CheckNetworkCommand", {"networkInfoList": [{"guestNetworkName": "xenbr0"}]},
     [["networkInfoList", 0, "guestNetworkName"]], "networkInfoList[0].guestNetworkName", "bridge", False),
    ("CheckNetworkCommand", {"networkInfoList": [{"publicNetworkName": "xenbr0"}]},
     [["networkInfoList", 0, "publicNetworkName"]], "networkInfoList[0].publicNetworkName", "bridge", False),
    ("CheckNetworkCommand", {"networkInfoList": [{}]}, [["networkInfoList"]], "networkInfoList", "list", False),
    ("CheckOnHostCommand", {"host": {"guid": GUID}}, [["host", "guid"]], "host.guid", "uuid", True),
    ("FenceCommand", {"hostGuid": GUID, "hostIp": "192.168.1.65", "vmName": VM}, [["hostGuid"]], "hostGuid", "uuid",
     True),
    ("FenceCommand", {"hostGuid": GUID, "hostIp": "192.168.1.65", "vmName": VM}, [["hostIp"]], "hostIp", "ip", False),
    ("FenceCommand", {"hostGuid": GUID, "hostIp": "192.168.1.65", "vmName": VM}, [["vmName"]], "vmName", "vm", False),
]


def _case_id(case):
    return "%s:%s" % (case[0], case[3])


def _with(base, paths, value):
    cmd = copy.deepcopy(base)
    for path in paths:
        obj = cmd
        for key in path[:-1]:
            obj = obj[key]
        obj[path[-1]] = copy.deepcopy(value)
    return cmd


def _hostile(kind, required):
    values = list(KINDS[kind]) + ([] if kind in ("number", "vlan") else INTS)
    if required:
        values += EMPTY
    return values


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    with resources(tmp_path_factory.mktemp("fields")) as (hosts, (r,)):
        r.fence_wait = 0.0
        yield hosts, r


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_every_hostile_value_is_a_failed_answer_naming_the_field_and_no_agent_call(host, case):
    hosts, r = host
    command, base, paths, field, kind, required = case
    r.vms = type(r.vms)(clock=r.clock)  # no VM state left over from another case
    # the legitimate command gets past the checks to the agent (every agent call faults: nothing changes)
    hosts[0].faults.add(method="*", kind="fault", fault="exceptions.Exception:probe")
    hosts[0].calls.clear()
    try:
        ok = body(r.execute(command, copy.deepcopy(base)))
    finally:
        hosts[0].faults.clear()
    assert hosts[0].calls.methods(), "the legitimate %s never reached the agent: %s" % (command, ok["details"])
    assert "refused" not in (ok["details"] or ""), ok["details"]
    wrong = []
    for value in _hostile(kind, required):
        hosts[0].calls.clear()
        ans = r.execute(command, _with(base, paths, value))
        b = answers.body(ans)
        details = b["details"] or ""
        missing = value in EMPTY and ("missing field" in details or field in details)
        named = ("field %s refused" % field) in details or missing
        if b["result"] is not False or not named or hosts[0].calls.methods():
            wrong.append((value, b["result"], details[:300], hosts[0].calls.methods()))
    assert not wrong, "\n".join(repr(w) for w in wrong)


def test_the_table_covers_every_handler_that_takes_a_path_or_a_name():
    from ovm3.cloudstack.dispatch import supported

    nothing_to_check = {  # commands whose fields name no file, share, VM, NIC, bridge, host or id
        "ReadyCommand", "CheckHealthCommand", "GetHostStatsCommand", "MaintainCommand",
        "NetworkRulesSystemVmCommand",
    }
    covered = {c[0] for c in CASES}
    assert set(supported()) - nothing_to_check == covered


# ---- legitimate shapes still pass ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "check, value, expected",
    [
        (validate.name, "vol-1", "vol-1"),
        (validate.name, "5e1f0c2a-8d3b-4c7e-9f10-aa11bb22cc33.raw", "5e1f0c2a-8d3b-4c7e-9f10-aa11bb22cc33.raw"),
        (validate.relative, "template/tmpl/2/201//./t.raw", "template/tmpl/2/201/t.raw"),
        (validate.absolute, "/export//primary/", "/export/primary"),
        (validate.vm_name, "i-2-3-VM", "i-2-3-VM"),
        (validate.mac, "02:00:50:9A:00:01", "02:00:50:9a:00:01"),
        (validate.uuid, POOL.replace("-", ""), POOL.replace("-", "")),
        (validate.number, "12", 12),
        (validate.ip_address, "fe80::1", "fe80::1"),
        (validate.url, "https://ssvm.example/t.raw?x=1", "https://ssvm.example/t.raw?x=1"),
    ],
)
def test_legitimate_values_pass_normalised(check, value, expected):
    assert check(value, "f") == expected


def test_absolute_inputs_inside_the_named_repository_or_mount_are_accepted():
    assert naming.volume_file(POOL, REPO + "/VirtualDisks/vol-1.raw") == REPO + "/VirtualDisks/vol-1.raw"
    assert naming.volume_file(POOL, REPO + "//VirtualDisks/./vol-1.raw") == REPO + "/VirtualDisks/vol-1.raw"
    assert naming.template_file(POOL, REPO + "/VirtualDisks/abc.raw") == REPO + "/VirtualDisks/abc.raw"
    assert naming.secondary_file("nfs-1", "/export/secondary", SEC_MOUNT + "/iso/x.iso") == SEC_MOUNT + "/iso/x.iso"
    assert naming.download_url(TEMPLATE_URL) == TEMPLATE_URL
    with pytest.raises(validate.FieldRefused) as e:
        naming.volume_file(OTHER_POOL, REPO + "/VirtualDisks/vol-1.raw", "data.path")
    assert e.value.field == "data.path" and "lies outside %s" % OTHER_REPO in str(e.value)


def test_a_refused_vnc_password_is_not_shown(host):
    hosts, r = host
    vm = _vm_with_iso()
    vm["vncPassword"] = "hunter2-secret,vnclisten=0.0.0.0"
    b = body(r.execute("StartCommand", {"vm": vm}))
    assert b["result"] is False and "field vm.vncPassword refused" in b["details"]
    assert "hunter2" not in b["details"] and "not shown" in b["details"]


def test_a_refusal_shows_the_value_escaped_and_short():
    with pytest.raises(validate.FieldRefused) as e:
        validate.name("\x1b[2J\u009b" + "a" * 500, "data.path")
    text = str(e.value)
    assert "\x1b" not in text and "\u009b" not in text and len(text) < 200 and "data.path" in text


# ---- the reproductions over ovm3 serve -------------------------------------------------------------------
KEY = "test-api-key-0123"
SHADOW = b"root:$6$rounds=5000$c4n4ry$notarealhash:19000:0:99999:7:::\n"


@pytest.fixture
def served(tmp_path):
    from ovm3.cli.cmd_serve import build_server

    with resources(tmp_path / "sim") as (hosts, (r,)):
        volume_on_primary(hosts, r)
        server = build_server(r, "127.0.0.1", 0, insecure_http=True, api_key=KEY)
        t = threading.Thread(target=server.serve_forever, daemon=True)
        t.start()
        try:
            yield server, hosts
        finally:
            server.shutdown()
            server.server_close()


def _post(server, command, cmd):
    r = requests.post(server.url + "/" + command, data=json.dumps(cmd), headers={"X-Api-Key": KEY}, timeout=30)
    assert r.status_code == 200, r.text
    return answers.body(r.json()[0])


def _canary(hosts, relative, data):
    path = os.path.join(hosts[0].state.root, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


def _files_holding(root, data):
    found = []
    for here, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(here, name)
            if not os.path.islink(path):
                with open(path, "rb") as f:
                    if data in f.read():
                        found.append(path)
    return found


def test_copy_volume_of_etc_shadow_to_secondary_is_refused_over_http(served):
    server, hosts = served
    shadow = _canary(hosts, "etc/shadow", SHADOW)
    hosts[0].calls.clear()
    b = _post(server, "com.cloud.agent.api.storage.CopyVolumeCommand", {
        "volumeId": 12, "pool": pool_to(), "secondaryStorageURL": SECONDARY, "volumePath": "/etc/shadow",
        "toSecondaryStorage": True,
    })
    assert b["result"] is False and "field volumePath refused" in b["details"], b["details"]
    assert hosts[0].calls.methods() == []
    assert _files_holding(hosts.world.nfs_root, SHADOW) == []
    with open(shadow, "rb") as f:
        assert f.read() == SHADOW


@pytest.mark.parametrize("path, canary", [
    ("/etc/canary.raw", "etc/canary.raw"),
    ("../../../../etc/canary2", "etc/canary2.raw"),
    (REPO + "/VirtualDisks/../../../../etc/canary3.raw", "etc/canary3.raw"),
])
def test_delete_of_a_host_file_is_refused_over_http(served, path, canary):
    server, hosts = served
    target = _canary(hosts, canary, b"canary\n")
    hosts[0].calls.clear()
    data = {VOL: {"uuid": "vol-1", "path": path, "dataStore": primary(), "volumeType": "DATADISK"}}
    b = _post(server, "org.apache.cloudstack.storage.command.DeleteCommand", {"data": data})
    assert b["result"] is False and "field data.path refused" in b["details"], b["details"]
    assert hosts[0].calls.methods() == []
    assert os.path.exists(target)
    assert os.path.exists(os.path.join(hosts.nfs_dir("%s:%s" % (NFS_HOST, NFS_PATH)), "VirtualDisks/vol-1.raw"))


def test_a_legitimate_delete_over_http_still_deletes_the_volume(served):
    server, hosts = served
    local = os.path.join(hosts.nfs_dir("%s:%s" % (NFS_HOST, NFS_PATH)), "VirtualDisks/vol-1.raw")
    assert os.path.exists(local)
    b = _post(server, "org.apache.cloudstack.storage.command.DeleteCommand", {"data": volume()})
    assert b["result"] is True, b["details"]
    assert not os.path.exists(local)


def test_prepare_for_migration_checks_the_nics_without_needing_disks(host):
    hosts, r = host
    r.vms = type(r.vms)(clock=r.clock)
    vm = {"name": VM, "nics": [dict(NIC)]}
    assert body(r.execute("PrepareForMigrationCommand", {"vm": vm}))["result"] is True
    vm["nics"][0]["mac"] = "02:00:50:9a:00:01,bridge=xenbr0"
    hosts[0].calls.clear()
    b = body(r.execute("PrepareForMigrationCommand", {"vm": vm}))
    assert b["result"] is False and "field vm.nics[0].mac refused" in b["details"] and hosts[0].calls.methods() == []


@pytest.mark.parametrize("field", ["path", "filename"])
def test_router_upload_refuses_a_hostile_directory_or_file_name_before_any_agent_call(tmp_path, field):
    from ovm3.cloudstack import network

    hostile = ["../../etc", "/etc/../root", "rc\n", "a/b", "", None, "x\x00"]
    if field == "path":
        hostile = ["etc", "/etc/../root", "/tmp/\n", "/a/%2e%2e/b", "", None, "/x\x00"]
    with resources(tmp_path) as (hosts, (r,)):
        for value in hostile:
            args = {"path": "/var/cache/cloud", "filename": "cmdline"}
            args[field] = value
            hosts[0].calls.clear()
            with pytest.raises(validate.FieldRefused) as info:
                network.router_upload(r, "169.254.3.1", args["path"], args["filename"], "x")
            assert info.value.field == field and hosts[0].calls.methods() == [], value
