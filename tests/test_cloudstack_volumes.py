"""Storage handlers, second part: every CopyCommand variant, snapshot delete, data disks, the legacy
volume commands, pool removal and the start-up report, against the simulated agent over real sockets.

Each command: the ordered agent calls from the simulator's call log, the resulting files, vm.cfg and
mounts, and a failure path with an injected fault whose answer names host, step and fault while the
storage stays as it was. ``midway`` faults cut a copy short after half the bytes (a partial file on
the host): the handlers remove what they made, so nothing half-made outlives a failed answer.
"""

import os

import pytest

from ovm3 import errors
from ovm3.cloudstack import naming, storage
from ovm3.cloudstack.answers import answer_class
from ovm3.cloudstack.cs_fields import java_class
from ovm3.sim import simulated_agents
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

BOOM = "exceptions.Exception:boom"
PRI = "%s:%s" % (NFS_HOST, NFS_PATH)
SEC = "nfs-1:/export/secondary"
SEC_MOUNT = naming.secondary_mount("nfs-1", "/export/secondary")
SNAP = "5e1f0c2a-8d3b-4c7e-9f10-aa11bb22cc33"
DATA = bytes(range(1, 256)) * 257  # no zero block: every byte a copy writes lands on disk
TEMPLATE = "template/tmpl/2/201/t.raw"
DISCOVER, MOUNT, DESTROY = "discover_mounted_file_systems", "storage_plugin_mount", "storage_plugin_destroy"
INFO = "storage_plugin_getFileInfo"


def _failed(ans, step, host="ovm-1"):
    b = body(ans)
    assert b["result"] is False, b
    assert "host %s" % host in b["details"] and step in b["details"] and "boom" in b["details"], b["details"]
    return b["details"]


def _write(hosts, export, relative, data=DATA):
    path = os.path.join(hosts.nfs_dir(export), relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


def _read(hosts, export, relative):
    with open(os.path.join(hosts.nfs_dir(export), relative), "rb") as f:
        return f.read()


def tree(hosts, export):
    """``{relative path: "dir" or size}`` of everything on a simulated NFS export."""
    root, out = hosts.nfs_dir(export), {}
    for here, dirs, files in os.walk(root):
        rel = os.path.relpath(here, root)
        for d in dirs:
            out[os.path.normpath(os.path.join(rel, d))] = "dir"
        for f in files:
            out[os.path.normpath(os.path.join(rel, f))] = os.path.getsize(os.path.join(here, f))
    return out


def _args(hosts, method, index=-1):
    return list(hosts[0].calls.find(method)[index].args)


def _destroyed(hosts):
    """``file_path`` of every storage_plugin_destroy call, in order."""
    return [rec.args[3]["file_path"] for rec in hosts[0].calls.find(DESTROY)]


def _to(cls, **fields):
    return {java_class(cls): fields}


# ---- CopyCommand: the five variants ---------------------------------------------------------------------
# name -> (set-up: hosts -> (srcTO, destTO)), target (export, relative), calls of a successful copy,
# layout directories a failed copy may leave (shared parents of the target directory; see README)
def _template_to_primary(hosts):
    _write(hosts, SEC, TEMPLATE)
    src = _to("TemplateObjectTO", path=TEMPLATE, imageDataStore=secondary())
    return src, _to("TemplateObjectTO", uuid="t-1", imageDataStore=primary())


def _volume_from_template(hosts):
    _write(hosts, PRI, "Templates/t-1.raw")
    return _to("TemplateObjectTO", path="t-1", uuid="t-1", imageDataStore=primary()), volume("vol-9")


def _snapshot_backup(hosts):
    _write(hosts, PRI, "VirtualDisks/%s.raw" % SNAP)
    src = _to("SnapshotObjectTO", path=SNAP, volume=volume(), dataStore=primary())
    return src, _to("SnapshotObjectTO", path="snapshots/2/3", dataStore=secondary())


def _template_from_snapshot(hosts):
    _write(hosts, SEC, "snapshots/2/3/s.raw")
    src = _to("SnapshotObjectTO", path="snapshots/2/3/s.raw", dataStore=secondary())
    return src, _to("TemplateObjectTO", uuid="tmpl-301", path="template/tmpl/2/301", imageDataStore=secondary())


def _volume_from_snapshot(hosts):
    _write(hosts, SEC, "snapshots/2/3/s.raw")
    return _to("SnapshotObjectTO", path="snapshots/2/3/s.raw", dataStore=secondary()), volume("vol-7")


VARIANTS = {
    "template to primary": (
        _template_to_primary, (PRI, "Templates/t-1.raw"), [DISCOVER, MOUNT, INFO, "copy_file", INFO], set(),
    ),
    "volume from template": (
        _volume_from_template, (PRI, "VirtualDisks/vol-9.raw"), [INFO, "copy_file", INFO], set(),
    ),
    "snapshot backup": (
        _snapshot_backup,
        (SEC, "snapshots/2/3/%s.raw" % naming.dedash(SNAP)),
        [DISCOVER, MOUNT, "ovs_mkdirs", INFO, "copy_file", DESTROY],
        {"snapshots", "snapshots/2"},
    ),
    "template from snapshot": (
        _template_from_snapshot,
        (SEC, "template/tmpl/2/301/tmpl-301.raw"),
        [DISCOVER, MOUNT, DISCOVER, "ovs_mkdirs", INFO, "copy_file"],
        {"template", "template/tmpl", "template/tmpl/2"},
    ),
    "volume from snapshot": (
        _volume_from_snapshot, (PRI, "VirtualDisks/vol-7.raw"), [DISCOVER, MOUNT, INFO, "copy_file", INFO], set(),
    ),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_copy_variant_calls_in_order_and_copies_the_bytes(tmp_path, variant):
    setup, (export, relative), calls, _layout = VARIANTS[variant]
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r, "other")
        src, dst = setup(hosts)
        hosts[0].calls.clear()
        ans = r.execute("CopyCommand", {"srcTO": src, "destTO": dst})
        b = body(ans)
        assert answer_class(ans) == "CopyCmdAnswer" and b["result"] is True, b["details"]
        assert hosts[0].calls.methods() == calls
        copied = _args(hosts, "copy_file")
        assert copied[2] is True  # sparse
        mount = SEC_MOUNT if export == SEC else naming.repo_path(POOL)
        assert copied[1] == mount + "/" + relative
        assert _read(hosts, export, relative) == DATA
        ((cls, new),) = b["newData"].items()
        if "size" in new:  # volumes and primary templates report the real size of the copy
            assert new["size"] == len(DATA), new
        if variant == "snapshot backup":  # the primary copy is gone once the backup is made
            assert copied[0] == naming.snapshot_path(POOL, SNAP)
            assert not os.path.exists(os.path.join(hosts.nfs_dir(PRI), "VirtualDisks/%s.raw" % SNAP))
            assert new["path"] == relative
        if variant == "template from snapshot":
            assert copied[0] == SEC_MOUNT + "/snapshots/2/3/s.raw"
            assert new == {"uuid": "tmpl-301", "path": relative, "format": "RAW"}
        if variant == "volume from snapshot":
            assert copied[0] == SEC_MOUNT + "/snapshots/2/3/s.raw"
            assert new["path"] == "vol-7" and cls == java_class("VolumeObjectTO")


@pytest.mark.parametrize("kind", ["fault", "midway"])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_copy_variant_fault_leaves_storage_as_it_was(tmp_path, variant, kind):
    """``fault`` answers before the copy runs; ``midway`` writes half the file first. Either way the
    answer names host, step and fault, and the target file (and a directory the copy made) is gone."""
    setup, (export, relative), _calls, layout = VARIANTS[variant]
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r, "other")
        storage.mount_secondary(r, SECONDARY)
        src, dst = setup(hosts)
        before = {e: tree(hosts, e) for e in (PRI, SEC)}
        hosts[0].calls.clear()
        hosts[0].faults.add(method="copy_file", kind=kind, fault=BOOM, count=1)
        ans = r.execute("CopyCommand", {"srcTO": src, "destTO": dst})
        assert answer_class(ans) == "CopyCmdAnswer"
        details = _failed(ans, "step copy_file")
        assert "CopyCommand" in details and "agent fault exceptions.Exception: boom" in details
        target = (SEC_MOUNT if export == SEC else naming.repo_path(POOL)) + "/" + relative
        calls = hosts[0].calls.methods()
        after_copy = calls[calls.index("copy_file") + 1 :]
        made_dir = "ovs_mkdirs" in calls
        assert after_copy == [DESTROY] * (2 if made_dir else 1)  # the file, then the directory
        assert _destroyed(hosts) == [target] + ([os.path.dirname(target)] if made_dir else [])
        first = hosts[0].calls.find(DESTROY)[0]
        # the partial file existed after a midway fault (removed), not after a plain one (nothing there)
        assert (first.fault is None) == (kind == "midway"), first.fault
        assert tree(hosts, PRI) == before[PRI]
        left = tree(hosts, SEC)
        assert set(left) - set(before[SEC]) == layout and all(left[d] == "dir" for d in layout)
        assert {k: v for k, v in left.items() if k not in layout} == before[SEC]


def test_snapshot_backup_failing_to_drop_the_primary_copy_undoes_the_backup(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r, "other")
        src, dst = _snapshot_backup(hosts)
        hosts[0].faults.add(method=DESTROY, kind="fault", fault=BOOM, count=1)
        hosts[0].calls.clear()
        _failed(r.execute("CopyCommand", {"srcTO": src, "destTO": dst}), "step storage_plugin_destroy")
        backup = SEC_MOUNT + "/snapshots/2/3/%s.raw" % naming.dedash(SNAP)
        assert _destroyed(hosts) == [naming.snapshot_path(POOL, SNAP), backup, os.path.dirname(backup)]
        assert _read(hosts, PRI, "VirtualDisks/%s.raw" % SNAP) == DATA  # the snapshot stays on primary
        assert not os.path.exists(os.path.join(hosts.nfs_dir(SEC), "snapshots/2/3"))


def test_a_failing_clean_up_still_reports_the_original_failure(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r, "other")
        src, dst = _volume_from_template(hosts)
        hosts[0].faults.add(method="copy_file", kind="midway", fault=BOOM, count=1)
        hosts[0].faults.add(method=DESTROY, kind="fault", fault="exceptions.Exception:nfs gone", count=1)
        details = _failed(r.execute("CopyCommand", {"srcTO": src, "destTO": dst}), "step copy_file")
        assert "nfs gone" not in details
        # best effort: the half-written file the clean-up could not remove is still there
        assert _read(hosts, PRI, "VirtualDisks/vol-9.raw") == DATA[: len(DATA) // 2]


def test_midway_fault_rule_writes_half_the_file_then_faults(tmp_path):
    """The simulator's ``midway`` option on its own: without a handler cleaning up, the partial file stays."""
    with simulated_agents(count=1, version="3.3", tls=False, root=tmp_path) as hosts:
        h = hosts[0]
        src = h.state.path("/tmp/src.raw")
        os.makedirs(os.path.dirname(src), exist_ok=True)
        with open(src, "wb") as f:
            f.write(DATA)
        h.faults.add(method="copy_file", kind="midway", fault="exceptions.IOError:disk full", count=1)
        c = h.client()
        with pytest.raises(errors.AgentFault) as e:
            c.call("copy_file", "/tmp/src.raw", "/tmp/dst.raw", True)
        assert e.value.fault_string == "exceptions.IOError:disk full"
        with open(h.state.path("/tmp/dst.raw"), "rb") as f:
            assert f.read() == DATA[: len(DATA) // 2]
        assert [(rec.injected, rec.fault) for rec in h.calls] == [("midway", "exceptions.IOError:disk full")]
        c.call("copy_file", "/tmp/src.raw", "/tmp/dst.raw", True)  # count used up: a whole copy again
        with open(h.state.path("/tmp/dst.raw"), "rb") as f:
            assert f.read() == DATA
        with pytest.raises(ValueError):  # only copy_file has a midway point
            h.faults.add(method="start_vm", kind="midway")
        c.close()


# ---- DeleteCommand for snapshots -------------------------------------------------------------------------
def test_delete_snapshot_on_primary_and_on_secondary(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        _write(hosts, PRI, "VirtualDisks/%s.raw" % SNAP)
        on_primary = _to("SnapshotObjectTO", path=SNAP, volume=volume(), dataStore=primary())
        hosts[0].calls.clear()
        b = body(r.execute("DeleteCommand", {"data": on_primary}))
        assert b["result"] is True and b["details"] == "deleted %s" % naming.snapshot_path(POOL, SNAP)
        assert hosts[0].calls.methods() == [DESTROY] and _destroyed(hosts) == [naming.snapshot_path(POOL, SNAP)]
        assert not os.path.exists(os.path.join(hosts.nfs_dir(PRI), "VirtualDisks/%s.raw" % SNAP))
        assert os.path.exists(os.path.join(hosts.nfs_dir(PRI), "VirtualDisks/vol-1.raw"))  # its volume stays
        # a backed-up snapshot: its path already ends in .raw (as the backup answered), used as is
        _write(hosts, SEC, "snapshots/2/3/s.raw")
        on_secondary = _to("SnapshotObjectTO", path="snapshots/2/3/s.raw", dataStore=secondary())
        hosts[0].calls.clear()
        b = body(r.execute("DeleteCommand", {"data": on_secondary}))
        assert b["result"] is True, b["details"]
        assert hosts[0].calls.methods() == [DISCOVER, MOUNT, DESTROY]
        assert _destroyed(hosts) == [SEC_MOUNT + "/snapshots/2/3/s.raw"]
        assert not os.path.exists(os.path.join(hosts.nfs_dir(SEC), "snapshots/2/3/s.raw"))
        again = body(r.execute("DeleteCommand", {"data": on_secondary}))
        assert again["result"] is True and "already gone" in again["details"]


def test_delete_snapshot_fault_keeps_the_snapshot(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        _write(hosts, SEC, "snapshots/2/3/s.raw")
        _write(hosts, PRI, "VirtualDisks/%s.raw" % SNAP)
        hosts[0].faults.add(method=DESTROY, kind="fault", fault=BOOM, count=2)
        snap = _to("SnapshotObjectTO", path="snapshots/2/3/s.raw", dataStore=secondary())
        _failed(r.execute("DeleteCommand", {"data": snap}), "step storage_plugin_destroy")
        _failed(
            r.execute("DeleteCommand", {"data": _to("SnapshotObjectTO", path=SNAP, dataStore=primary())}),
            "step storage_plugin_destroy",
        )
        assert _read(hosts, SEC, "snapshots/2/3/s.raw") == DATA
        assert _read(hosts, PRI, "VirtualDisks/%s.raw" % SNAP) == DATA


# ---- AttachCommand / DettachCommand of a data disk ----------------------------------------------------------
def _data_disk(uuid="vol-2"):
    return {"type": "DATADISK", "data": volume(uuid)}


def _iso():
    return {"type": "ISO", "data": _to("TemplateObjectTO", path="iso/tools.iso", imageDataStore=secondary())}


def _disks(hosts):
    """The ``disk`` entries of the VM's vm.cfg as the agent keeps it (the file on the primary export)."""
    from ovm3.sim.handlers.xen import read_cfg

    return list(read_cfg(hosts[0].state, naming.repo_id(POOL), naming.vm_uuid(VM)).get("disk") or [])


def _running(hosts, r):
    volume_on_primary(hosts, r)
    _write(hosts, PRI, "VirtualDisks/vol-2.raw")
    _write(hosts, PRI, "VirtualDisks/vol-3.raw")
    _write(hosts, SEC, "iso/tools.iso")
    assert body(r.execute("StartCommand", {"vm": vm_to()}))["result"] is True
    hosts[0].calls.clear()


def test_attach_and_detach_a_data_disk_on_a_running_vm(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        _running(hosts, r)
        root = _disks(hosts)
        ans = r.execute("AttachCommand", {"vmName": VM, "disk": _data_disk()})
        b = body(ans)
        assert answer_class(ans) == "AttachAnswer" and b["result"] is True, b["details"]
        assert hosts[0].calls.methods() == ["list_vms", "get_vm_config", "configure_vm"]
        entry = "file:%s,xvdb,w!" % naming.volume_path(POOL, "vol-2")
        assert _disks(hosts) == root + [entry]
        assert _args(hosts, "configure_vm")[2]["disk"] == root + [entry]
        hosts[0].calls.clear()  # attaching again changes nothing
        assert "already attached" in body(r.execute("AttachCommand", {"vmName": VM, "disk": _data_disk()}))["details"]
        assert hosts[0].calls.methods() == ["list_vms", "get_vm_config"]
        hosts[0].calls.clear()
        ans = r.execute("DettachCommand", {"vmName": VM, "disk": _data_disk()})
        assert answer_class(ans) == "DettachAnswer" and body(ans)["result"] is True, body(ans)["details"]
        assert hosts[0].calls.methods() == ["list_vms", "get_vm_config", "configure_vm"]
        assert _disks(hosts) == root
        assert os.path.exists(os.path.join(hosts.nfs_dir(PRI), "VirtualDisks/vol-2.raw"))  # detach keeps the file


def test_attach_after_a_detach_never_reuses_a_device_in_use(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        _running(hosts, r)
        for disk in (_iso(), _data_disk("vol-2")):
            assert body(r.execute("AttachCommand", {"vmName": VM, "disk": disk}))["result"] is True
        assert body(r.execute("DettachCommand", {"vmName": VM, "disk": _iso()}))["result"] is True
        assert body(r.execute("AttachCommand", {"vmName": VM, "disk": _data_disk("vol-3")}))["result"] is True
        devices = [str(e).split(",")[1].split(":")[0] for e in _disks(hosts)]
        assert len(devices) == len(set(devices)) == 3, _disks(hosts)


def test_attach_and_detach_faults_leave_vm_cfg_as_it_was(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        _running(hosts, r)
        root = _disks(hosts)
        hosts[0].faults.add(method="configure_vm", kind="fault", fault=BOOM, count=1)
        ans = r.execute("AttachCommand", {"vmName": VM, "disk": _data_disk()})
        assert answer_class(ans) == "AttachAnswer"
        _failed(ans, "step configure_vm")
        assert _disks(hosts) == root
        assert body(r.execute("AttachCommand", {"vmName": VM, "disk": _data_disk()}))["result"] is True
        attached = _disks(hosts)
        hosts[0].faults.add(method="get_vm_config", kind="fault", fault=BOOM, count=1)
        _failed(r.execute("DettachCommand", {"vmName": VM, "disk": _data_disk()}), "step get_vm_config")
        hosts[0].faults.add(method="configure_vm", kind="fault", fault=BOOM, count=1)
        ans = r.execute("DettachCommand", {"vmName": VM, "disk": _data_disk()})
        assert answer_class(ans) == "DettachAnswer"
        _failed(ans, "step configure_vm")
        assert _disks(hosts) == attached


# ---- CreateCommand / DestroyCommand (legacy volumes) ----------------------------------------------------------
def _create_cmd(**extra):
    return dict({"volId": 7, "pool": pool_to(), "diskCharacteristics": {"size": 1 << 20, "name": "DATA-7"}}, **extra)


def _disks_dir(hosts):
    return sorted(os.listdir(os.path.join(hosts.nfs_dir(PRI), "VirtualDisks")))


def test_create_and_destroy_call_order_and_files(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r, "other")
        _write(hosts, PRI, "Templates/t-1.raw")
        hosts[0].calls.clear()
        b = body(r.execute("CreateCommand", _create_cmd()))
        assert b["result"] is True, b["details"]
        assert hosts[0].calls.methods() == [INFO, "storage_plugin_create", INFO]
        path = naming.volume_path(POOL, b["volume"]["path"])
        assert _args(hosts, "storage_plugin_create")[3:] == [path, "File", 1 << 20]
        assert b["volume"]["size"] == 1 << 20 and b["volume"]["storagePoolUuid"] == POOL
        local = os.path.join(hosts.nfs_dir(PRI), "VirtualDisks", b["volume"]["path"] + ".raw")
        assert os.path.getsize(local) == 1 << 20
        hosts[0].calls.clear()
        t = body(r.execute("CreateCommand", _create_cmd(templateUrl="t-1")))
        assert t["result"] is True, t["details"]
        assert hosts[0].calls.methods() == [INFO, "copy_file", INFO]
        assert _args(hosts, "copy_file")[:2] == [
            naming.template_path(POOL, "t-1"), naming.volume_path(POOL, t["volume"]["path"])
        ]
        assert t["volume"]["size"] == len(DATA)
        hosts[0].calls.clear()
        d = body(r.execute("DestroyCommand", {"volume": {"path": b["volume"]["path"], "storagePoolUuid": POOL}}))
        assert d["result"] is True and d["details"] == "deleted %s" % path
        assert hosts[0].calls.methods() == [DISCOVER, DESTROY] and _destroyed(hosts) == [path]
        assert not os.path.exists(local)
        again = body(r.execute("DestroyCommand", {"volume": {"path": b["volume"]["path"], "storagePoolUuid": POOL}}))
        assert again["result"] is True and "already gone" in again["details"]


@pytest.mark.parametrize(
    "method, kind",
    [
        ("storage_plugin_create", "fault"),
        (INFO, "check"),  # the existence check of the target faults (not "no such file")
        (INFO, "fault"),  # the size read after the create
        ("copy_file", "fault"),
        ("copy_file", "midway"),
    ],
)
def test_create_fault_leaves_no_volume(tmp_path, method, kind):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r, "other")
        _write(hosts, PRI, "Templates/t-1.raw")
        before = _disks_dir(hosts)
        cmd = _create_cmd(templateUrl="t-1") if method == "copy_file" else _create_cmd()
        hosts[0].calls.clear()
        if kind == "fault" and method == INFO:  # let the check pass, fault the size read
            hosts[0].faults.add(method=INFO, kind="latency", delay=0, count=1)
        hosts[0].faults.add(method=method, kind="fault" if kind == "check" else kind, fault=BOOM, count=1)
        ans = r.execute("CreateCommand", cmd)
        assert answer_class(ans) == "CreateAnswer"
        _failed(ans, "step check_target" if kind == "check" else "step " + method)
        assert _disks_dir(hosts) == before
        if kind == "check":  # not knowing whether the target is free: nothing is written
            assert hosts[0].calls.methods() == [INFO]
        elif method == "storage_plugin_create":  # nothing was made: nothing to remove
            assert hosts[0].calls.methods() == [INFO, "storage_plugin_create"]
        else:
            assert hosts[0].calls.methods()[-1] == DESTROY


def test_destroy_fault_keeps_the_volume(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        hosts[0].faults.add(method=DESTROY, kind="fault", fault=BOOM, count=1)
        cmd = {"volume": {"path": "vol-1", "storagePoolUuid": POOL}}
        _failed(r.execute("DestroyCommand", cmd), "step storage_plugin_destroy")
        assert os.path.exists(os.path.join(hosts.nfs_dir(PRI), "VirtualDisks/vol-1.raw"))
        hosts[0].faults.add(method=DISCOVER, kind="fault", fault=BOOM, count=1)
        _failed(r.execute("DestroyCommand", cmd), "step discover_mounted_file_systems")
        assert os.path.exists(os.path.join(hosts.nfs_dir(PRI), "VirtualDisks/vol-1.raw"))


# ---- ModifyStoragePoolCommand remove / DeleteStoragePoolCommand ----------------------------------------------
def _mounted(hosts):
    return dict(hosts[0].state.mounts)


def test_modify_storage_pool_remove_on_its_own(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        assert body(r.execute("ModifyStoragePoolCommand", {"add": True, "pool": pool_to()}))["result"] is True
        assert naming.repo_path(POOL) in _mounted(hosts) and naming.pool_vm_mount(POOL) in _mounted(hosts)
        hosts[0].calls.clear()
        ans = r.execute("ModifyStoragePoolCommand", {"add": False, "pool": pool_to()})
        b = body(ans)
        assert answer_class(ans) == "ModifyStoragePoolAnswer" and b["result"] is True, b["details"]
        assert b["poolInfo"]["uuid"] == POOL
        # the heartbeat is told about both planned unmounts before they happen (else it would fence)
        release = "heartbeat_release_storage"
        assert hosts[0].calls.methods() == ["list_vms", DISCOVER, release, release, "storage_plugin_unmount",
                                            "unmount_repository_fs"]
        assert [c.args[0] for c in hosts[0].calls.find(release)] == [naming.pool_vm_mount(POOL),
                                                                      naming.repo_path(POOL)]
        assert _args(hosts, "storage_plugin_unmount")[3] == naming.pool_vm_mount(POOL)
        assert _args(hosts, "unmount_repository_fs") == [naming.repo_path(POOL)]
        assert naming.repo_path(POOL) not in _mounted(hosts) and naming.pool_vm_mount(POOL) not in _mounted(hosts)
        assert os.path.exists(os.path.join(hosts.nfs_dir(PRI), "VirtualDisks"))  # the data stays on the filer


def test_remove_storage_refused_while_a_vm_runs_from_it(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        assert body(r.execute("StartCommand", {"vm": vm_to()}))["result"] is True
        before = _mounted(hosts)
        hosts[0].calls.clear()
        b = body(r.execute("ModifyStoragePoolCommand", {"add": False, "pool": pool_to()}))
        assert b["result"] is False and VM in b["details"]
        assert hosts[0].calls.methods() == ["list_vms"] and _mounted(hosts) == before


@pytest.mark.parametrize("method", ["storage_plugin_unmount", "unmount_repository_fs"])
def test_delete_storage_pool_fault_then_retry_completes(tmp_path, method):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        before = _mounted(hosts)
        hosts[0].faults.add(method=method, kind="fault", fault=BOOM, count=1)
        ans = r.execute("DeleteStoragePoolCommand", {"_pool": pool_to()})
        assert answer_class(ans) == "Answer"
        _failed(ans, "step " + method)
        # the repository stays mounted (VMs and templates remain reachable); an unmount done before
        # the fault is one a retry does not need again
        assert _mounted(hosts).get(naming.repo_path(POOL)) == before[naming.repo_path(POOL)]
        if method == "storage_plugin_unmount":
            assert _mounted(hosts) == before
        hosts[0].calls.clear()
        assert body(r.execute("DeleteStoragePoolCommand", {"_pool": pool_to()}))["result"] is True
        assert hosts[0].calls.methods().count("unmount_repository_fs") == 1
        assert naming.repo_path(POOL) not in _mounted(hosts) and naming.pool_vm_mount(POOL) not in _mounted(hosts)


# ---- CreateObjectCommand snapshot ---------------------------------------------------------------------------
def _snapshot_cmd():
    return {"data": _to("SnapshotObjectTO", vmName=VM, volume=volume(), dataStore=primary())}


def test_create_snapshot_call_order_and_copy(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        _write(hosts, PRI, "VirtualDisks/vol-1.raw")
        hosts[0].calls.clear()
        ans = r.execute("CreateObjectCommand", _snapshot_cmd())
        b = body(ans)
        assert answer_class(ans) == "CreateObjectAnswer" and b["result"] is True, b["details"]
        assert hosts[0].calls.methods() == ["list_vms", INFO, "copy_file"]
        snap = b["data"][java_class("SnapshotObjectTO")]["path"]
        assert _args(hosts, "copy_file") == [naming.volume_path(POOL, "vol-1"), naming.snapshot_path(POOL, snap), True]
        assert _read(hosts, PRI, "VirtualDisks/%s.raw" % snap) == DATA


@pytest.mark.parametrize("kind", ["fault", "midway"])
def test_create_snapshot_fault_leaves_no_snapshot_file(tmp_path, kind):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        _write(hosts, PRI, "VirtualDisks/vol-1.raw")
        before = tree(hosts, PRI)
        hosts[0].calls.clear()
        hosts[0].faults.add(method="copy_file", kind=kind, fault=BOOM, count=1)
        _failed(r.execute("CreateObjectCommand", _snapshot_cmd()), "step copy_file")
        assert hosts[0].calls.methods() == ["list_vms", INFO, "copy_file", DESTROY]
        assert tree(hosts, PRI) == before


# ---- StartupRoutingCommand ------------------------------------------------------------------------------------
def test_startup_call_order_and_fault(tmp_path):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        assert body(r.execute("StartCommand", {"vm": vm_to()}))["result"] is True
        hosts[0].calls.clear()
        start = r.startup()[java_class("StartupRoutingCommand")]
        assert hosts[0].calls.methods() == [
            "discover_server", "discover_hardware", "discover_network", "get_module_info", "list_vms"
        ]
        assert start["hostVmStateReport"][VM]["state"] == "PowerOn"
        assert start["memory"] == hosts[0].state.memory_mb << 20 and start["cpus"] >= 1
        assert start["hostDetails"]["guest.network.device"] and start["guid"] == r.config.guid
        hosts[0].faults.add(method="discover_server", kind="fault", fault=BOOM, count=1)
        with pytest.raises(errors.AgentFault) as e:
            r.startup()
        # startup() is no command handler: it raises, the error naming host, step and fault
        assert e.value.ovm3_step == "discover_server" and e.value.host == r.client.host and "boom" in str(e.value)
        hosts[0].calls.clear()
        assert r.startup()[java_class("StartupRoutingCommand")]["hostVmStateReport"][VM]["state"] == "PowerOn"


# ---- the other copying commands: a copy cut short leaves nothing behind -----------------------------------------
def _filer():
    return dict(pool_to(), id=3, port=2049)


@pytest.mark.parametrize("command", ["volume to secondary", "volume from secondary", "template from volume"])
def test_midway_copy_of_the_legacy_commands_leaves_nothing_behind(tmp_path, command):
    with resources(tmp_path) as (hosts, (r,)):
        volume_on_primary(hosts, r)
        _write(hosts, PRI, "VirtualDisks/vol-1.raw")
        _write(hosts, SEC, "volumes/11/old.raw")
        _write(hosts, SEC, "template/tmpl/2/keep.raw")
        storage.mount_secondary(r, SECONDARY)
        copy_volume = {"volumeId": 12, "pool": _filer(), "secondaryStorageURL": SECONDARY}
        name, cmd = {
            "volume to secondary": (
                "CopyVolumeCommand", dict(copy_volume, volumePath="vol-1", toSecondaryStorage=True)
            ),
            "volume from secondary": (
                "CopyVolumeCommand", dict(copy_volume, volumePath="volumes/11/old.raw", toSecondaryStorage=False)
            ),
            "template from volume": (
                "CreatePrivateTemplateFromVolumeCommand",
                {
                    "_volumePath": "vol-1", "_uniqueName": "tmpl-u", "_templateId": 201, "_accountId": 2,
                    "primaryStoragePoolNameLabel": POOL, "_secondaryStorageUrl": SECONDARY,
                },
            ),
        }[command]
        before = {e: tree(hosts, e) for e in (PRI, SEC)}
        hosts[0].calls.clear()
        hosts[0].faults.add(method="copy_file", kind="midway", fault=BOOM, count=1)
        _failed(r.execute(name, cmd), "step copy_file")
        target = _args(hosts, "copy_file")[1]
        made_dir = "ovs_mkdirs" in hosts[0].calls.methods()
        assert _destroyed(hosts) == [target] + ([os.path.dirname(target)] if made_dir else [])
        assert hosts[0].calls.find(DESTROY)[0].fault is None  # the half-written file was there, and removed
        assert {e: tree(hosts, e) for e in (PRI, SEC)} == before
