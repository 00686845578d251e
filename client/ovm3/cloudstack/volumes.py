"""Templates, volumes and snapshots: CopyCommand and its variants, CreateObject/Delete, ISO and data-disk
attach/detach, and the legacy volume commands (Create, Destroy, CopyVolume, template from volume).

Every handler that writes a file first refuses an existing target and undoes what it made when it fails
(:class:`ovm3.cloudstack.storage.Undo`). Paths come from :mod:`ovm3.cloudstack.naming` only.
"""

import logging
import posixpath
import uuid as uuidlib

from ovm3.cloudstack import answers, naming
from ovm3.cloudstack.cs_fields import java_class
from ovm3.cloudstack.domains import list_domains
from ovm3.cloudstack.registry import CommandError, handles, need, unwrap
from ovm3.cloudstack.storage import (
    _is_secondary,
    _nfs_url,
    _pool_fields,
    _primary_uuid,
    copy,
    create_file,
    destroy_file,
    file_size,
    iso_path,
    mkdirs,
    mount_secondary,
    mounts,
    nfs_of,
    secondary_fs,
    secondary_path,
    store_of,
    undo_on_failure,
)

log = logging.getLogger(__name__)


# ---- templates, volumes, snapshots ----
def _host_of(store):
    return nfs_of(store)[0]


@handles("PrimaryStorageDownloadCommand", "PrimaryStorageDownloadAnswer")
def primary_download(resource, cmd):
    url = need(cmd, "url")
    pool_uuid = cmd.get("poolUuid") or _pool_fields(cmd, "primaryPool")[0]
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
    pool = _primary_uuid(dst_store)
    dest_uuid = dst.get("uuid") or str(uuidlib.uuid4())
    relative = need(src, "path", "source template")
    if relative.endswith("/"):
        relative += naming.dedash(dest_uuid) + naming.RAW
    source = secondary_path(resource, store_of(src), relative)
    target = naming.template_path(pool, dest_uuid)
    with undo_on_failure(resource) as undo:
        undo.new_file(pool, _host_of(dst_store), target)
        copy(resource, source, target)
        size = file_size(resource, pool, _host_of(dst_store), target)
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
    src_pool, dst_store = _primary_uuid(store_of(src)), dst.get("dataStore")
    dst_pool = _primary_uuid(dst_store)
    vol_uuid = need(dst, "uuid", "destination volume")
    target = naming.volume_path(dst_pool, vol_uuid)
    with undo_on_failure(resource) as undo:
        undo.new_file(dst_pool, _host_of(dst_store), target)
        copy(resource, naming.template_path(src_pool, src.get("path") or need(src, "uuid")), target)
        return _volume_to(vol_uuid, dst, file_size(resource, dst_pool, _host_of(dst_store), target))


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
    pool = _primary_uuid(src.get("dataStore"))
    snap = need(src, "path", "snapshot")
    directory = secondary_path(resource, dst.get("dataStore"), need(dst, "path", "destination snapshot"))
    file_name = naming.dedash(snap) + naming.RAW if not snap.endswith(naming.RAW) else snap
    sec_uuid, sec_host = secondary_fs(dst.get("dataStore"))
    with undo_on_failure(resource) as undo:
        undo.directory(sec_uuid, sec_host, directory, mkdirs(resource, directory))
        undo.new_file(sec_uuid, sec_host, posixpath.join(directory, file_name))
        copy(resource, naming.snapshot_path(pool, snap), posixpath.join(directory, file_name))
        # the primary copy goes last: if removing it fails, the backup is undone and the snapshot
        # stays where it was, so a retry starts from the same state
        destroy_file(resource, pool, _host_of(src.get("dataStore")), naming.snapshot_path(pool, snap))
    return {"SnapshotObjectTO": {"path": posixpath.join(dst["path"], file_name), "parentSnapshotPath": None}}


def _template_from_snapshot(resource, src, dst):
    tmpl_uuid = dst.get("uuid") or str(uuidlib.uuid4())
    source = secondary_path(resource, src.get("dataStore"), need(src, "path", "snapshot"))
    directory = secondary_path(resource, store_of(dst), need(dst, "path", "template"))
    name = tmpl_uuid + naming.RAW
    sec_uuid, sec_host = secondary_fs(store_of(dst))
    with undo_on_failure(resource) as undo:
        undo.directory(sec_uuid, sec_host, directory, mkdirs(resource, directory))
        undo.new_file(sec_uuid, sec_host, posixpath.join(directory, name))
        copy(resource, source, posixpath.join(directory, name))
    return {
        "TemplateObjectTO": {"uuid": tmpl_uuid, "path": posixpath.join(dst["path"], name), "format": "RAW"}
    }


def _volume_from_snapshot(resource, src, dst):
    pool = _primary_uuid(dst.get("dataStore"))
    vol_uuid = need(dst, "uuid", "volume")
    source = secondary_path(resource, src.get("dataStore"), need(src, "path", "snapshot"))
    target = naming.volume_path(pool, vol_uuid)
    with undo_on_failure(resource) as undo:
        undo.new_file(pool, _host_of(dst.get("dataStore")), target)
        copy(resource, source, target)
        return _volume_to(vol_uuid, dst, file_size(resource, pool, _host_of(dst.get("dataStore")), target))


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
        pool, host = _primary_uuid(store), _host_of(store)
        vol_uuid = need(data, "uuid", "volume")
        path = naming.volume_path(pool, vol_uuid)
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
        vm_name = data.get("vmName") or volume.get("vmName")
        if vm_name and vm_name in list_domains(resource):
            return answers.failure(
                "CreateObjectAnswer",
                "VM %s is running on %s: OVM3 snapshots need a stopped "
                "VM (raw images, full copies); stop it first" % (vm_name, resource.host),
            )
        store = volume.get("dataStore") or data.get("dataStore")
        pool = _primary_uuid(store)
        snap_uuid = str(uuidlib.uuid4())
        with undo_on_failure(resource) as undo:
            undo.new_file(pool, _host_of(store), naming.snapshot_path(pool, snap_uuid))
            copy(
                resource,
                naming.volume_path(pool, volume.get("path") or need(volume, "uuid", "volume")),
                naming.snapshot_path(pool, snap_uuid),
            )
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
        pool = _primary_uuid(store)
        path = naming.volume_path(pool, data.get("path") or need(data, "uuid", "volume"))
        gone = destroy_file(resource, pool, _host_of(store), path)
    elif cls == "SnapshotObjectTO" and _is_secondary(store):
        host, share = mount_secondary(resource, _nfs_url(store))
        path = naming.secondary_file(host, share, need(data, "path", "snapshot"))
        gone = destroy_file(resource, naming.secondary_uuid(host, share), host, path)
    elif cls == "SnapshotObjectTO":
        pool = _primary_uuid(store)
        path = naming.snapshot_path(pool, need(data, "path", "snapshot"))
        gone = destroy_file(resource, pool, _host_of(store), path)
    else:
        return answers.failure("Answer", "deleting %s objects is not supported on OVM3" % (cls or "unknown"))
    return answers.answer("Answer", True, "deleted %s" % path if gone else "%s was already gone" % path)


def _attach_detach(resource, cmd, attach):
    name = need(cmd, "vmName")
    disk = need(cmd, "disk")
    kind = disk.get("type")
    _cls, data = unwrap(disk.get("data"))
    if kind == "ISO":
        path = iso_path(resource, data)
    elif kind == "DATADISK":
        path = naming.volume_path(
            _primary_uuid(data.get("dataStore")), data.get("path") or need(data, "uuid")
        )
    else:
        raise CommandError("cannot attach a disk of type %r" % kind)
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
    with undo_on_failure(resource) as undo:
        if template:
            source = template if template.startswith("/") else naming.template_path(pool_uuid, template)
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
    volume = need(cmd, "volume")
    pool = need(volume, "storagePoolUuid", "volume")
    path = naming.volume_path(pool, need(volume, "path", "volume"))
    location = mounts(resource).get(naming.repo_path(pool), "")
    gone = destroy_file(resource, pool, location.split(":", 1)[0], path)
    return answers.answer("Answer", True, "deleted %s" % path if gone else "%s was already gone" % path)


def _volume_file(pool_uuid, volume_path):
    return volume_path if str(volume_path).startswith("/") else naming.volume_path(pool_uuid, volume_path)


@handles("CopyVolumeCommand", "CopyVolumeAnswer")
def copy_volume(resource, cmd):
    pool_uuid, pool_host, _path = _pool_fields(cmd)
    sec_host, sec_path = mount_secondary(resource, need(cmd, "secondaryStorageURL"))
    sec_uuid = naming.secondary_uuid(sec_host, sec_path)
    volume_path = need(cmd, "volumePath")
    with undo_on_failure(resource) as undo:
        if cmd.get("toSecondaryStorage"):
            relative = "volumes/%s" % (cmd.get("volumeId") or "0")
            directory = naming.secondary_file(sec_host, sec_path, relative)
            undo.directory(sec_uuid, sec_host, directory, mkdirs(resource, directory))
            name = posixpath.basename(_volume_file(pool_uuid, volume_path))
            undo.new_file(sec_uuid, sec_host, posixpath.join(directory, name))
            copy(resource, _volume_file(pool_uuid, volume_path), posixpath.join(directory, name))
            result = posixpath.join(relative, name)
        else:
            vol_uuid = str(uuidlib.uuid4())
            undo.new_file(pool_uuid, pool_host, naming.volume_path(pool_uuid, vol_uuid))
            copy(
                resource,
                naming.secondary_file(sec_host, sec_path, volume_path),
                naming.volume_path(pool_uuid, vol_uuid),
            )
            result = vol_uuid
    return answers.answer("CopyVolumeAnswer", True, None, volumePath=result)


@handles("CreatePrivateTemplateFromVolumeCommand", "CreatePrivateTemplateAnswer")
def template_from_volume(resource, cmd):
    pool_uuid = need(cmd, "primaryStoragePoolNameLabel")
    # CloudStack's constructor fills the command's own _secondaryStorageUrl; SnapshotCommand's
    # secondaryStorageUrl stays null (see cs_fields). Read either.
    url = cmd.get("_secondaryStorageUrl") or cmd.get("secondaryStorageUrl")
    if not url:
        raise CommandError("missing field '_secondaryStorageUrl'")
    sec_host, sec_path = mount_secondary(resource, url)
    relative = "template/tmpl/%s/%s" % (cmd.get("_accountId") or 0, need(cmd, "_templateId"))
    directory = naming.secondary_file(sec_host, sec_path, relative)
    sec_uuid = naming.secondary_uuid(sec_host, sec_path)
    name = (cmd.get("_uniqueName") or str(uuidlib.uuid4())) + naming.RAW
    source = _volume_file(pool_uuid, need(cmd, "_volumePath"))
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
