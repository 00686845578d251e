"""Templates, volumes and snapshots: CopyCommand and its variants, CreateObject/Delete, ISO and data-disk
attach/detach, and the legacy volume commands (Create, Destroy, CopyVolume, template from volume).

Every handler that writes a file first refuses an existing target and undoes what it made when it fails
(:class:`ovm3.cloudstack.storage.Undo`). Paths come from :mod:`ovm3.cloudstack.naming` only: each handler
first builds every path it will use from the command's checked fields (a refused field is a failed answer
naming it, with no agent call), then calls the agent.
"""

import logging
import posixpath
import uuid as uuidlib

from ovm3.cloudstack import answers, naming, validate
from ovm3.cloudstack.cs_fields import java_class
from ovm3.cloudstack.domains import list_domains
from ovm3.cloudstack.registry import CommandError, handles, need, unwrap
from ovm3.cloudstack.storage import (
    _is_secondary,
    _pool_fields,
    _primary_uuid,
    copy,
    create_file,
    destroy_file,
    file_ref,
    file_size,
    iso_target,
    mkdirs,
    mount_share,
    mounts,
    nfs_of,
    secondary_fs,
    secondary_target,
    store_of,
    undo_on_failure,
)

log = logging.getLogger(__name__)


# ---- templates, volumes, snapshots ----
def _host_of(store, field="dataStore"):
    return nfs_of(store, field)[0]


@handles("PrimaryStorageDownloadCommand", "PrimaryStorageDownloadAnswer")
def primary_download(resource, cmd):
    url = naming.download_url(need(cmd, "url"), "url")
    if cmd.get("poolUuid"):
        pool_uuid = validate.uuid(cmd["poolUuid"], "poolUuid")
    else:
        pool_uuid = _pool_fields(cmd, "primaryPool")[0]
    # A fresh name per download: a retried download imports a second copy and never meets (so never
    # reuses, overwrites or removes) the file an earlier attempt made.
    image = naming.download_image_name()
    target = naming.volume_path(pool_uuid, image)
    host = mounts(resource).get(naming.repo_path(pool_uuid), "").split(":", 1)[0]
    with undo_on_failure(resource) as undo:
        undo.new_file(pool_uuid, host, target)
        resource.ask(resource.client.repository.import_virtual_disk, url, image, naming.repo_id(pool_uuid))
        size = file_size(resource, pool_uuid, host, target)
    return answers.answer(
        "PrimaryStorageDownloadAnswer", True, "downloaded", installPath=image, templateSize=size
    )


def _copy_template_to_primary(resource, src, dst):
    dst_store = store_of(dst)
    pool = _primary_uuid(dst_store, "destTO.imageDataStore.uuid")
    dest_uuid = validate.name(dst.get("uuid") or str(uuidlib.uuid4()), "destTO.uuid")
    relative = need(src, "path", "source template")
    sec_host, share, source = secondary_target(store_of(src), relative, "srcTO.path", "srcTO.imageDataStore")
    if relative.endswith("/"):  # a template directory: the file is named after the new template
        source += "/" + naming.dedash(dest_uuid) + naming.RAW
    target = naming.template_path(pool, dest_uuid, "destTO.uuid")
    dst_host = _host_of(dst_store, "destTO.imageDataStore")
    mount_share(resource, sec_host, share)
    with undo_on_failure(resource) as undo:
        undo.new_file(pool, dst_host, target)
        copy(resource, source, target)
        size = file_size(resource, pool, dst_host, target)
    return {
        "TemplateObjectTO": {
            "uuid": dest_uuid,
            "path": dest_uuid,
            "format": "RAW",
            "size": size,
            "physicalSize": size,
        }
    }


def _clone_volume(resource, src, dst):
    src_pool, dst_store = _primary_uuid(store_of(src), "srcTO.imageDataStore.uuid"), dst.get("dataStore")
    dst_pool = _primary_uuid(dst_store, "destTO.dataStore.uuid")
    vol_uuid = validate.name(need(dst, "uuid", "destination volume"), "destTO.uuid")
    target = naming.volume_path(dst_pool, vol_uuid, "destTO.uuid")
    field, ref = file_ref(src, "srcTO")
    source = naming.template_file(src_pool, ref, field)
    dst_host = _host_of(dst_store, "destTO.dataStore")
    with undo_on_failure(resource) as undo:
        undo.new_file(dst_pool, dst_host, target)
        copy(resource, source, target)
        return _volume_to(vol_uuid, dst, file_size(resource, dst_pool, dst_host, target))


def _volume_to(vol_uuid, dst, size=None):
    """The VolumeObjectTO a copy answers with (the requested size when the real one is unknown)."""
    return {
        "VolumeObjectTO": {
            "uuid": vol_uuid,
            "path": vol_uuid,
            "name": dst.get("name"),
            "format": "RAW",
            "size": size or dst.get("size"),
        }
    }


def _backup_snapshot(resource, src, dst):
    pool = _primary_uuid(src.get("dataStore"), "srcTO.dataStore.uuid")
    snap = validate.name(need(src, "path", "snapshot"), "srcTO.path")
    snapshot = naming.snapshot_path(pool, snap, "srcTO.path")
    relative = validate.relative(need(dst, "path", "destination snapshot"), "destTO.path")
    host, share, directory = secondary_target(dst.get("dataStore"), relative, "destTO.path", "destTO.dataStore")
    file_name = naming.dedash(snap) + naming.RAW if not snap.endswith(naming.RAW) else snap
    sec_uuid, sec_host = secondary_fs(dst.get("dataStore"))
    src_host = _host_of(src.get("dataStore"), "srcTO.dataStore")
    mount_share(resource, host, share)
    with undo_on_failure(resource) as undo:
        undo.directory(sec_uuid, sec_host, directory, mkdirs(resource, directory))
        undo.new_file(sec_uuid, sec_host, posixpath.join(directory, file_name))
        copy(resource, snapshot, posixpath.join(directory, file_name))
        # the primary copy goes last: if removing it fails, the backup is undone and the snapshot
        # stays where it was, so a retry starts from the same state
        destroy_file(resource, pool, src_host, snapshot)
    return {"SnapshotObjectTO": {"path": posixpath.join(relative, file_name), "parentSnapshotPath": None}}


def _template_from_snapshot(resource, src, dst):
    tmpl_uuid = validate.name(dst.get("uuid") or str(uuidlib.uuid4()), "destTO.uuid")
    src_host, src_share, source = secondary_target(
        src.get("dataStore"), need(src, "path", "snapshot"), "srcTO.path", "srcTO.dataStore"
    )
    relative = validate.relative(need(dst, "path", "template"), "destTO.path")
    host, share, directory = secondary_target(store_of(dst), relative, "destTO.path", "destTO.imageDataStore")
    name = tmpl_uuid + naming.RAW
    sec_uuid, sec_host = secondary_fs(store_of(dst))
    mount_share(resource, src_host, src_share)
    mount_share(resource, host, share)
    with undo_on_failure(resource) as undo:
        undo.directory(sec_uuid, sec_host, directory, mkdirs(resource, directory))
        undo.new_file(sec_uuid, sec_host, posixpath.join(directory, name))
        copy(resource, source, posixpath.join(directory, name))
    return {
        "TemplateObjectTO": {"uuid": tmpl_uuid, "path": posixpath.join(relative, name), "format": "RAW"}
    }


def _volume_from_snapshot(resource, src, dst):
    pool = _primary_uuid(dst.get("dataStore"), "destTO.dataStore.uuid")
    vol_uuid = validate.name(need(dst, "uuid", "volume"), "destTO.uuid")
    host, share, source = secondary_target(
        src.get("dataStore"), need(src, "path", "snapshot"), "srcTO.path", "srcTO.dataStore"
    )
    target = naming.volume_path(pool, vol_uuid, "destTO.uuid")
    dst_host = _host_of(dst.get("dataStore"), "destTO.dataStore")
    mount_share(resource, host, share)
    with undo_on_failure(resource) as undo:
        undo.new_file(pool, dst_host, target)
        copy(resource, source, target)
        return _volume_to(vol_uuid, dst, file_size(resource, pool, dst_host, target))


@handles("CopyCommand", "CopyCmdAnswer")
def copy_command(resource, cmd):
    src_cls, src = unwrap(need(cmd, "srcTO"))
    dst_cls, dst = unwrap(need(cmd, "destTO"))
    src_sec, dst_sec = _is_secondary(store_of(src)), _is_secondary(store_of(dst))
    if src_cls == "TemplateObjectTO" and dst_cls == "TemplateObjectTO" and src_sec and not dst_sec:
        new = _copy_template_to_primary(resource, src, dst)
    elif src_cls == "TemplateObjectTO" and dst_cls == "VolumeObjectTO" and not src_sec:
        new = _clone_volume(resource, src, dst)
    elif src_cls == "SnapshotObjectTO" and dst_cls == "SnapshotObjectTO" and not src_sec and dst_sec:
        new = _backup_snapshot(resource, src, dst)
    elif src_cls == "SnapshotObjectTO" and dst_cls == "TemplateObjectTO" and src_sec:
        new = _template_from_snapshot(resource, src, dst)
    elif src_cls == "SnapshotObjectTO" and dst_cls == "VolumeObjectTO" and src_sec:
        new = _volume_from_snapshot(resource, src, dst)
    else:
        return answers.failure(
            "CopyCmdAnswer",
            "copying %s (%s) to %s (%s) is not supported on OVM3"
            % (
                src_cls,
                "secondary" if src_sec else "primary",
                dst_cls,
                "secondary" if dst_sec else "primary",
            ),
        )
    ((cls, fields),) = new.items()
    return answers.answer("CopyCmdAnswer", True, None, newData={java_class(cls): fields})


@handles("CreateObjectCommand", "CreateObjectAnswer")
def create_object(resource, cmd):
    cls, data = unwrap(need(cmd, "data"))
    if cls == "VolumeObjectTO" or (cls is None and "volumeType" in data):
        store = data.get("dataStore")
        pool, host = _primary_uuid(store, "data.dataStore.uuid"), _host_of(store, "data.dataStore")
        vol_uuid = validate.name(need(data, "uuid", "volume"), "data.uuid")
        path = naming.volume_path(pool, vol_uuid, "data.uuid")
        with undo_on_failure(resource) as undo:
            props = undo.new_file(
                pool, host, path, create=lambda: create_file(resource, pool, host, path, int(data.get("size") or 0))
            )
            if props.file_path not in ("", path):
                raise CommandError("agent created %s, expected %s" % (props.file_path, path))
        new = {
            "uuid": vol_uuid,
            "path": vol_uuid,
            "name": data.get("name"),
            "format": "RAW",
            "size": int(props.size or data.get("size") or 0),
        }
        return answers.answer("CreateObjectAnswer", True, None, data={java_class("VolumeObjectTO"): new})
    if cls == "SnapshotObjectTO":
        _vcls, volume = unwrap(need(data, "volume", "snapshot"))
        vm_field = "data.vmName" if data.get("vmName") else "data.volume.vmName"
        vm_name = data.get("vmName") or volume.get("vmName")
        if vm_name:
            vm_name = validate.vm_name(vm_name, vm_field)
        store_field = "data.volume.dataStore" if volume.get("dataStore") else "data.dataStore"
        store = volume.get("dataStore") or data.get("dataStore")
        pool = _primary_uuid(store, store_field + ".uuid")
        field, ref = file_ref(volume, "data.volume")
        source = naming.volume_file(pool, ref, field)
        host = _host_of(store, store_field)
        if vm_name and vm_name in list_domains(resource):
            return answers.failure(
                "CreateObjectAnswer",
                "VM %s is running on %s: OVM3 snapshots need a stopped "
                "VM (raw images, full copies); stop it first" % (vm_name, resource.host),
            )
        snap_uuid = str(uuidlib.uuid4())
        with undo_on_failure(resource) as undo:
            undo.new_file(pool, host, naming.snapshot_path(pool, snap_uuid))
            copy(resource, source, naming.snapshot_path(pool, snap_uuid))
        return answers.answer(
            "CreateObjectAnswer",
            True,
            None,
            data={java_class("SnapshotObjectTO"): {"path": snap_uuid, "name": data.get("name")}},
        )
    return answers.failure(
        "CreateObjectAnswer", "creating %s objects is not supported on OVM3" % (cls or "unknown")
    )


@handles("DeleteCommand", "Answer")
def delete_object(resource, cmd):
    cls, data = unwrap(need(cmd, "data"))
    store = data.get("dataStore")
    if cls == "VolumeObjectTO":
        pool = _primary_uuid(store, "data.dataStore.uuid")
        field, ref = file_ref(data, "data")
        path = naming.volume_file(pool, ref, field)
        gone = destroy_file(resource, pool, _host_of(store, "data.dataStore"), path)
    elif cls == "SnapshotObjectTO" and _is_secondary(store):
        host, share, path = secondary_target(store, need(data, "path", "snapshot"), "data.path", "data.dataStore")
        mount_share(resource, host, share)
        gone = destroy_file(resource, naming.secondary_uuid(host, share), host, path)
    elif cls == "SnapshotObjectTO":
        pool = _primary_uuid(store, "data.dataStore.uuid")
        path = naming.repo_file(pool, (naming.VIRTUAL_DISKS,), need(data, "path", "snapshot"), "data.path")
        gone = destroy_file(resource, pool, _host_of(store, "data.dataStore"), path)
    else:
        return answers.failure("Answer", "deleting %s objects is not supported on OVM3" % (cls or "unknown"))
    return answers.answer("Answer", True, "deleted %s" % path if gone else "%s was already gone" % path)


def _attach_detach(resource, cmd, attach):
    name = validate.vm_name(need(cmd, "vmName"), "vmName")
    _dcls, disk = unwrap(need(cmd, "disk"))
    kind = disk.get("type")
    _cls, data = unwrap(disk.get("data"))
    if kind == "ISO":
        host, share, path = iso_target(data, "disk.data.path")
        mount_share(resource, host, share)
    elif kind == "DATADISK":
        field, ref = file_ref(data, "disk.data")
        path = naming.volume_file(_primary_uuid(data.get("dataStore"), "disk.data.dataStore.uuid"), ref, field)
    else:
        raise CommandError("cannot attach a disk of type %r" % (kind,))
    with resource.vms.lock(name):
        dom = list_domains(resource).get(name)
        if dom is None:
            return "VM %s is not running: the disk follows its definition at next start" % name
        cfg = resource.ask(resource.client.xen.get_vm_config, dom.repo_id, dom.uuid)
        present = cfg.find_disk(path) is not None
        if attach == present:
            return "%s already %s" % (path, "attached" if attach else "detached")
        if not attach:
            cfg.remove_disk(path)
        elif kind == "ISO":
            cfg.add_iso(path)
        else:
            cfg.add_disk(path, "w!")
        resource.ask(resource.client.xen.configure_vm, dom.repo_id, dom.uuid, cfg.to_params())
    return "%s %s %s" % (path, "attached to" if attach else "detached from", name)


@handles("AttachCommand", "AttachAnswer")
def attach(resource, cmd):
    return answers.answer("AttachAnswer", True, _attach_detach(resource, cmd, True), disk=cmd.get("disk"))


@handles("DettachCommand", "DettachAnswer")
def dettach(resource, cmd):
    return answers.answer("DettachAnswer", True, _attach_detach(resource, cmd, False), disk=cmd.get("disk"))


@handles("DetachCommand", "DetachAnswer")
def detach(resource, cmd):
    """DettachCommand under the name newer CloudStack releases send (same fields, answer DetachAnswer)."""
    return answers.answer("DetachAnswer", True, _attach_detach(resource, cmd, False), disk=cmd.get("disk"))


# ---- legacy volume commands ----
@handles("CreateCommand", "CreateAnswer")
def create_volume_legacy(resource, cmd):
    pool_uuid, host, _path = _pool_fields(cmd)
    disk = cmd.get("diskCharacteristics") or {}
    vol_uuid = str(uuidlib.uuid4())
    dst = naming.volume_path(pool_uuid, vol_uuid)
    template = cmd.get("templateUrl")
    source = naming.template_file(pool_uuid, template, "templateUrl") if template else None
    with undo_on_failure(resource) as undo:
        if template:
            undo.new_file(pool_uuid, host, dst)
            copy(resource, source, dst)
        else:
            size = int(disk.get("size") or 0)
            undo.new_file(pool_uuid, host, dst, create=lambda: create_file(resource, pool_uuid, host, dst, size))
        size = file_size(resource, pool_uuid, host, dst)
    volume = {
        "id": cmd.get("volId"),
        "name": disk.get("name"),
        "mountPoint": naming.repo_path(pool_uuid),
        "path": vol_uuid,
        "size": size,
        "type": disk.get("type"),
        "storagePoolType": "NetworkFilesystem",
        "storagePoolUuid": pool_uuid,
    }
    return answers.answer("CreateAnswer", True, None, volume=volume, requestTemplateReload=False)


@handles("DestroyCommand", "Answer")
def destroy_volume_legacy(resource, cmd):
    _cls, volume = unwrap(need(cmd, "volume"))
    pool = validate.uuid(need(volume, "storagePoolUuid", "volume"), "volume.storagePoolUuid")
    path = naming.volume_file(pool, need(volume, "path", "volume"), "volume.path")
    location = mounts(resource).get(naming.repo_path(pool), "")
    gone = destroy_file(resource, pool, location.split(":", 1)[0], path)
    return answers.answer("Answer", True, "deleted %s" % path if gone else "%s was already gone" % path)


@handles("CopyVolumeCommand", "CopyVolumeAnswer")
def copy_volume(resource, cmd):
    pool_uuid, pool_host, _path = _pool_fields(cmd)
    sec_host, sec_path = naming.parse_nfs_url(need(cmd, "secondaryStorageURL"), "secondaryStorageURL")
    sec_uuid = naming.secondary_uuid(sec_host, sec_path)
    volume_path = need(cmd, "volumePath")
    if cmd.get("toSecondaryStorage"):
        relative = "volumes/%d" % validate.number(cmd.get("volumeId") or 0, "volumeId")
        directory = naming.secondary_file(sec_host, sec_path, relative)
        source = naming.volume_file(pool_uuid, volume_path, "volumePath")
        target = posixpath.join(directory, posixpath.basename(source))
    else:
        directory = None
        source = naming.secondary_file(sec_host, sec_path, volume_path, "volumePath")
        vol_uuid = str(uuidlib.uuid4())
        target = naming.volume_path(pool_uuid, vol_uuid)
    mount_share(resource, sec_host, sec_path)
    with undo_on_failure(resource) as undo:
        if directory is not None:
            undo.directory(sec_uuid, sec_host, directory, mkdirs(resource, directory))
            undo.new_file(sec_uuid, sec_host, target)
            result = posixpath.join(relative, posixpath.basename(target))
        else:
            undo.new_file(pool_uuid, pool_host, target)
            result = vol_uuid
        copy(resource, source, target)
    return answers.answer("CopyVolumeAnswer", True, None, volumePath=result)


@handles("CreatePrivateTemplateFromVolumeCommand", "CreatePrivateTemplateAnswer")
def template_from_volume(resource, cmd):
    pool_uuid = validate.uuid(need(cmd, "primaryStoragePoolNameLabel"), "primaryStoragePoolNameLabel")
    # CloudStack's constructor fills the command's own _secondaryStorageUrl; SnapshotCommand's
    # secondaryStorageUrl stays null (see cs_fields). Read either.
    url_field = "_secondaryStorageUrl" if cmd.get("_secondaryStorageUrl") else "secondaryStorageUrl"
    url = cmd.get(url_field)
    if not url:
        raise CommandError("missing field '_secondaryStorageUrl'")
    sec_host, sec_path = naming.parse_nfs_url(url, url_field)
    relative = "template/tmpl/%d/%d" % (
        validate.number(cmd.get("_accountId") or 0, "_accountId"),
        validate.number(need(cmd, "_templateId"), "_templateId"),
    )
    directory = naming.secondary_file(sec_host, sec_path, relative)
    sec_uuid = naming.secondary_uuid(sec_host, sec_path)
    name = validate.name(cmd.get("_uniqueName") or str(uuidlib.uuid4()), "_uniqueName") + naming.RAW
    source = naming.volume_file(pool_uuid, need(cmd, "_volumePath"), "_volumePath")
    mount_share(resource, sec_host, sec_path)
    with undo_on_failure(resource) as undo:
        undo.directory(sec_uuid, sec_host, directory, mkdirs(resource, directory))
        location = mounts(resource).get(naming.repo_path(pool_uuid), "")
        size = file_size(resource, pool_uuid, location.split(":", 1)[0], source)
        undo.new_file(sec_uuid, sec_host, posixpath.join(directory, name))
        copy(resource, source, posixpath.join(directory, name))
    return answers.answer(
        "CreatePrivateTemplateAnswer",
        True,
        None,
        _path=posixpath.join(relative, name),
        _virtualSize=size,
        _physicalSize=size,
        _uniqueName=cmd.get("_uniqueName"),
        _format="RAW",
    )
