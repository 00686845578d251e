"""Storage: primary pools (repository, server pool, pool filesystem), secondary mounts, templates, volumes,
snapshots, ISO and data-disk attach/detach, and the legacy volume commands.

Paths come from :mod:`ovm3.resource.naming` only. NFS is the only primary storage type (as on OVM3 with
CloudStack); other types are refused with a clear answer.
"""

import contextlib
import logging
import posixpath
import uuid as uuidlib

from ovm3 import errors
from ovm3.resource import answers, naming
from ovm3.resource.domains import list_domains
from ovm3.resource.registry import CommandError, Refused, handles, need, unwrap

NFS_PLUGIN = "oracle.generic.NFSPlugin.GenericNFSPlugin"
REPO_ALIAS = "OVS Repository"
ROLES = "utility,xen"
NFS_POOL_TYPES = ("NetworkFilesystem", "NFS", "nfs")

log = logging.getLogger(__name__)


# ---- storage plugin structures ----
def storage_server(fs_uuid, host):
    """The StorageServer struct: uuid WITHOUT dashes."""
    return {
        "uuid": naming.dedash(fs_uuid),
        "name": naming.dedash(fs_uuid),
        "access_host": host,
        "storage_type": "FileSys",
    }


def storage_details(fs_uuid, access_path="", state=1):
    """The StorageDetails struct: uuid WITH dashes, ss_uuid without."""
    return {
        "uuid": naming.dashed(fs_uuid),
        "ss_uuid": naming.dedash(fs_uuid),
        "access_path": access_path,
        "state": state,
    }


def mounts(resource, refresh=True):
    def load():
        with resource.step("discover_mounted_file_systems"):
            found = resource.client.linux.discover_mounted_file_systems("nfs")
            return {m.dir: m.device for m in found.mounts.values()}

    return resource.discovered("mounts", load, refresh)


def _plugin_mount(resource, fs_uuid, host, remote_path, mount_point):
    """Mount ``host:remote_path`` on ``mount_point`` with the NFS storage plugin unless already mounted."""
    location = naming.nfs_location(host, remote_path)
    current = mounts(resource).get(mount_point)
    if current == location:
        return False
    if current:
        raise CommandError("%s is already mounted from %s, not %s" % (mount_point, current, location))
    plugin_call(
        resource, "storage_plugin_mount", fs_uuid, host, storage_details(fs_uuid, location, 0), mount_point, "",
        True, [], step="storage_plugin_mount %s" % mount_point,
    )
    resource.invalidate("mounts")
    return True


def mount_secondary(resource, url):
    """Mount a secondary storage share (``nfs://host/path``) at ``/nfsmnt/<uuid>``; returns (host, path)."""
    host, path = naming.parse_nfs_url(url)
    _plugin_mount(resource, naming.secondary_uuid(host, path), host, path, naming.secondary_mount(host, path))
    return host, path


def nfs_of(store):
    """``(host, path)`` of an NfsTO (``_url``) or PrimaryDataStoreTO (``host``/``path``)."""
    cls, fields = unwrap(store)
    if fields.get("_url") or fields.get("url", "").startswith("nfs://"):
        return naming.parse_nfs_url(fields.get("_url") or fields["url"])
    if fields.get("host") and fields.get("path"):
        return fields["host"], fields["path"]
    raise CommandError("data store %s is not NFS" % (cls or "object"))


def secondary_path(resource, store, relative):
    """Mount a secondary store and return the dom0 path of ``relative`` on it."""
    host, path = mount_secondary(resource, _nfs_url(store))
    return naming.secondary_file(host, path, relative)


def secondary_fs(store):
    """``(fs uuid, NFS host)`` the storage plugin knows a secondary store by."""
    host, path = nfs_of(store)
    return naming.secondary_uuid(host, path), host


def _nfs_url(store):
    host, path = nfs_of(store)
    return "nfs://%s%s" % (host, path)


def iso_path(resource, template):
    """dom0 path of an ISO TemplateObjectTO on secondary storage (mounting the share)."""
    return secondary_path(
        resource, template.get("imageDataStore") or template.get("dataStore"), need(template, "path", "ISO")
    )


def _is_secondary(store):
    cls, fields = unwrap(store)
    return cls == "NfsTO" or "_url" in fields


def _primary_uuid(store):
    _cls, fields = unwrap(store)
    return need(fields, "uuid", "primary data store")


def plugin_call(resource, method, fs_uuid, host, *args, step=None):
    """One call of the NFS storage plugin about file system ``fs_uuid`` served by ``host`` -> the reply."""
    with resource.step(step or method):
        return resource.client.call(method, NFS_PLUGIN, storage_server(fs_uuid, host), *args)


def create_file(resource, fs_uuid, host, path, size):
    """Create a sparse ``size``-byte file at ``path`` through the storage plugin -> its properties."""
    return plugin_call(
        resource, "storage_plugin_create", fs_uuid, host, storage_details(fs_uuid, state=2), path, "File", size
    ) or {}


def file_size(resource, fs_uuid, host, path):
    info = plugin_call(
        resource, "storage_plugin_getFileInfo", fs_uuid, host, storage_details(fs_uuid), {"file_path": path}
    ) or {}
    try:
        return int(info.get("file_sz") or 0)
    except (TypeError, ValueError):
        return 0


def destroy_file(resource, fs_uuid, host, path):
    """Delete a file through the storage plugin; a file already gone is not an error."""
    try:
        plugin_call(
            resource, "storage_plugin_destroy", fs_uuid, host, storage_details(fs_uuid),
            {"fr_type": "File", "fs_uuid": naming.dashed(fs_uuid), "file_path": path},
        )
    except errors.NoSuchFileFault:
        return False
    return True


def destroy_dir(resource, fs_uuid, host, path):
    """Delete a directory through the storage plugin; one already gone is not an error."""
    try:
        plugin_call(
            resource, "storage_plugin_destroy", fs_uuid, host, storage_details(fs_uuid),
            {"fr_type": "Directory", "fs_uuid": naming.dashed(fs_uuid), "file_path": path},
        )
    except errors.NoSuchFileFault:
        return False
    return True


def copy(resource, src, dst):
    with resource.step("copy_file"):
        resource.client.call("copy_file", src, dst, True)


def mkdirs(resource, directory):
    """Create ``directory`` (with its parents) on the host: True if it was created, False if it existed."""
    with resource.step("ovs_mkdirs"):
        return resource.client.call("ovs_mkdirs", directory) is None


def refuse_existing(resource, fs_uuid, host, path):
    """Raise :class:`Refused` when anything (file or directory) is at ``path``: the one check every
    handler that writes a new file makes first, so it never overwrites (nor, after a failure, removes)
    data it did not make.

    Asked through the stock NFS storage plugin (``storage_plugin_getFileInfo``; "no such file" means
    free), so it works without our agent module. Any other fault is raised: not knowing is no "free".
    """
    try:
        plugin_call(
            resource, "storage_plugin_getFileInfo", fs_uuid, host, storage_details(fs_uuid), {"file_path": path},
            step="check_target %s" % path,
        )
    except errors.NoSuchFileFault:
        return
    with resource.step("check_target %s" % path):
        raise Refused("%s already exists on %s; refusing to overwrite it" % (path, resource.host))


class Undo:
    """What a handler has made so far on the host, removed again (newest first) if the handler fails.

    A copy cut short leaves a partial destination file, and a directory made for a copy that failed
    stays empty: neither may outlive a failed answer. Only what this handler made is registered: a
    file target is first checked to be absent (:meth:`new_file`), a directory only when ``ovs_mkdirs``
    said it created it. Removal is best effort: a removal that fails is logged and the handler's own
    failure is the one reported.
    """

    def __init__(self, resource):
        self.resource = resource
        self.actions = []

    def new_file(self, fs_uuid, host, path, create=None):
        """Claim ``path`` for a file this handler is about to write, BEFORE the call that writes it.

        Refuses (:func:`refuse_existing`) when something is there already; otherwise ``path`` is removed
        if the handler fails. With ``create`` (a call that makes the file and fails on an existing one,
        like ``storage_plugin_create``) the file is registered only once ``create`` succeeded, so a file
        that appeared meanwhile is never ours to remove. Returns what ``create`` returned.
        """
        refuse_existing(self.resource, fs_uuid, host, path)
        result = create() if create is not None else None
        self.actions.append((path, lambda: destroy_file(self.resource, fs_uuid, host, path)))
        return result

    def directory(self, fs_uuid, host, path, created=True):
        """Remove the directory ``path`` if the handler fails and it was ``created`` by this handler."""
        if created:
            self.actions.append((path, lambda: destroy_dir(self.resource, fs_uuid, host, path)))

    def run(self):
        for what, action in reversed(self.actions):
            try:
                action()
            except Exception as e:  # noqa: BLE001 - best effort: the original failure is what counts
                log.warning(
                    "%s: could not remove %s after a failed command: %s: %s",
                    self.resource.host, what, type(e).__name__, e,
                )
        self.actions = []


@contextlib.contextmanager
def undo_on_failure(resource):
    """``with undo_on_failure(resource) as undo:`` register what the block makes; a failure undoes it."""
    undo = Undo(resource)
    try:
        yield undo
    except Exception:
        undo.run()
        raise


# ---- primary pools ----
def _pool_fields(cmd):
    _cls, pool = unwrap(need(cmd, "pool"))
    ptype = pool.get("type") or pool.get("poolType") or "NetworkFilesystem"
    if ptype not in NFS_POOL_TYPES:
        raise CommandError("primary storage type %s is not supported on OVM3 (NFS only)" % ptype)
    return need(pool, "uuid", "pool"), need(pool, "host", "pool"), need(pool, "path", "pool").rstrip("/")


def add_pool(resource, pool_uuid, host, path):
    """Repository, server pool and VirtualMachines mount for one NFS primary storage; returns fs info."""
    repo, location = naming.repo_path(pool_uuid), naming.nfs_location(host, path)
    if mounts(resource).get(repo) != location:
        with resource.step("mount_repository_fs"):
            resource.client.call("mount_repository_fs", location, repo)
        resource.invalidate("mounts")
    try:
        with resource.step("add_repository"):
            resource.client.call("add_repository", location, repo)
    except errors.RepositoryExistsFault:
        pass
    except errors.AgentFault:
        try:
            with resource.step("create_repository"):
                resource.client.call(
                    "create_repository", location, repo, naming.repo_id(pool_uuid), REPO_ALIAS
                )
        except errors.RepositoryExistsFault:
            pass
    if resource.config.pool:
        setup_pool(resource, pool_uuid, host, path)
    _plugin_mount(
        resource, pool_uuid, host, path + "/" + naming.VIRTUAL_MACHINES, naming.pool_vm_mount(pool_uuid)
    )
    return fs_capacity(resource, pool_uuid, host, location)


def fs_capacity(resource, pool_uuid, host, location):
    """``(size, free)`` in bytes of the NFS file system ``location`` behind primary storage ``pool_uuid``."""
    info = plugin_call(
        resource, "storage_plugin_getFileSystemInfo", pool_uuid, host, storage_details(pool_uuid, location)
    ) or {}
    return int(info.get("size") or 0), int(info.get("free_sz") or 0)


def pool_doc(resource):
    """The host's :class:`ovm3.parse.pool.PoolInfo`, or None when it is in no pool."""
    with resource.step("discover_server_pool"):
        info = resource.client.pool.discover_server_pool()
    return info if info.in_pool else None


def is_vip_holder(resource):
    """True if this host should be (or is) the pool primary: it holds the VIP, or nobody answers on it."""
    vip = resource.config.vip
    with resource.step("check_dom0_ip %s" % vip):
        if resource.client.call("check_dom0_ip", vip) is True:
            return True
    for peer in resource.peers.values():
        other = pool_doc(peer)
        if other is not None:
            return False
    with resource.step("ping %s" % vip):
        return resource.client.call("ping", vip) is not True


def setup_pool(resource, pool_uuid, host, path):
    """Create the OVM server pool and its filesystem on the primary host, or join it on the others."""
    cfg = resource.config
    if not cfg.vip:
        raise CommandError("pooling requested but no pool VIP configured for host %s" % resource.host)
    alias, target = naming.nfs_location(host, path), naming.pool_fs_target(host, path)
    current = pool_doc(resource)
    if current is not None:
        if current.pool_id != pool_uuid:
            raise CommandError(
                "host %s is already in pool %s; one NFS primary storage per pooled cluster"
                % (resource.host, current.pool_id)
            )
    elif is_vip_holder(resource):
        with resource.step("discover_pool_filesystem"):
            poolfs = resource.client.poolfs.discover_pool_filesystem()
        if not poolfs.exists:
            with resource.step("create_pool_filesystem"):
                resource.client.call(
                    "create_pool_filesystem",
                    "nfs",
                    target,
                    naming.cluster_name(cfg.manager_uuid),
                    pool_uuid,
                    naming.dedash(pool_uuid),
                    cfg.manager_uuid,
                    pool_uuid,
                )
        elif poolfs.uuid != pool_uuid:
            raise CommandError(
                "host %s has pool filesystem %s, not %s"
                % (resource.host, poolfs.uuid, pool_uuid)
            )
        with resource.step("create_server_pool"):
            resource.client.call("create_server_pool", alias, pool_uuid, cfg.vip, 1, cfg.name, cfg.ip, ROLES)
    else:
        node = 1 + max([len(d.members) for d in (pool_doc(p) for p in resource.peers.values()) if d] + [1])
        with resource.step("join_server_pool"):
            resource.client.call("join_server_pool", alias, pool_uuid, cfg.vip, node, cfg.name, cfg.ip, ROLES)
    members = {cfg.ip}
    pooled = [resource]
    for peer in resource.peers.values():
        doc = pool_doc(peer)
        if doc is not None and doc.pool_id == pool_uuid:
            members.update(doc.members)
            members.add(peer.config.ip)
            pooled.append(peer)
    for member in pooled:
        with member.step("set_pool_member_ip_list"):
            member.client.call("set_pool_member_ip_list", sorted(members))


def remove_pool(resource, pool_uuid, host, path):
    """Undo :func:`add_pool` on this host, refusing while VMs run from the repository."""
    repo_id = naming.repo_id(pool_uuid)
    busy = sorted(n for n, d in list_domains(resource).items() if d.repo == repo_id)
    if busy:
        raise CommandError("VMs still running from this storage on %s: %s" % (resource.host, ", ".join(busy)))
    current = mounts(resource)
    vm_mount = naming.pool_vm_mount(pool_uuid)
    if vm_mount in current:
        plugin_call(
            resource, "storage_plugin_unmount", pool_uuid, host, storage_details(pool_uuid, current[vm_mount]),
            vm_mount, True,
        )
    doc = pool_doc(resource) if resource.config.pool else None
    if doc is not None and doc.pool_id == pool_uuid:
        with resource.step("leave_server_pool"):
            resource.client.call("leave_server_pool", pool_uuid)
    if naming.repo_path(pool_uuid) in current:
        with resource.step("unmount_repository_fs"):
            resource.client.call("unmount_repository_fs", naming.repo_path(pool_uuid))
    resource.invalidate("mounts")


def _pool_info(pool_uuid, host, path, size, free):
    return {
        "uuid": pool_uuid,
        "host": host,
        "hostPath": path,
        "localPath": naming.repo_path(pool_uuid),
        "poolType": "NetworkFilesystem",
        "capacityBytes": size,
        "availableBytes": free,
        "details": {},
    }


@handles("CreateStoragePoolCommand", "Answer")
def create_storage_pool(resource, cmd):
    pool_uuid, host, path = _pool_fields(cmd)
    add_pool(resource, pool_uuid, host, path)
    return answers.answer("Answer", True, "primary storage %s ready on %s" % (pool_uuid, resource.host))


@handles("ModifyStoragePoolCommand", "ModifyStoragePoolAnswer")
def modify_storage_pool(resource, cmd):
    pool_uuid, host, path = _pool_fields(cmd)
    if cmd.get("add", True) is False:
        return answers.answer(
            "ModifyStoragePoolAnswer",
            True,
            _remove(resource, pool_uuid, host, path),
            poolInfo=_pool_info(pool_uuid, host, path, 0, 0),
            templateInfo={},
        )
    size, free = add_pool(resource, pool_uuid, host, path)
    return answers.answer(
        "ModifyStoragePoolAnswer",
        True,
        None,
        poolInfo=_pool_info(pool_uuid, host, path, size, free),
        templateInfo={},
        poolType="NetworkFilesystem",
    )


@handles("DeleteStoragePoolCommand", "Answer")
def delete_storage_pool(resource, cmd):
    return answers.answer("Answer", True, _remove(resource, *_pool_fields(cmd)))


def _remove(resource, pool_uuid, host, path):
    remove_pool(resource, pool_uuid, host, path)
    return "primary storage %s removed from %s" % (pool_uuid, resource.host)


@handles("GetStorageStatsCommand", "GetStorageStatsAnswer")
def storage_stats(resource, cmd):
    pool_uuid = cmd.get("id") if not str(cmd.get("id", "")).isdigit() else None
    store = cmd.get("store")
    if store is not None:
        pool_uuid = _primary_uuid(store)
    pool_uuid = pool_uuid or need(cmd, "id")
    location = mounts(resource).get(naming.repo_path(pool_uuid))
    if not location:
        raise CommandError("primary storage %s is not mounted on %s" % (pool_uuid, resource.host))
    size, free = fs_capacity(resource, pool_uuid, location.split(":", 1)[0], location)
    return answers.answer("GetStorageStatsAnswer", True, None, capacity=size, used=max(size - free, 0))


# ---- templates, volumes, snapshots ----
def _host_of(store):
    return nfs_of(store)[0]


@handles("PrimaryStorageDownloadCommand", "PrimaryStorageDownloadAnswer")
def primary_download(resource, cmd):
    url = need(cmd, "url")
    pool_uuid = cmd.get("poolUuid") or _pool_fields(cmd)[0]
    # A fresh name per download: a retried download imports a second copy and never meets (so never
    # reuses, overwrites or removes) the file an earlier attempt made.
    image = naming.download_image_name()
    target = naming.volume_path(pool_uuid, image)
    host = mounts(resource).get(naming.repo_path(pool_uuid), "").split(":", 1)[0]
    with undo_on_failure(resource) as undo:
        undo.new_file(pool_uuid, host, target)
        with resource.step("import_virtual_disk"):
            resource.client.call("import_virtual_disk", url, image, naming.repo_id(pool_uuid))
        size = file_size(resource, pool_uuid, host, target)
    return answers.answer(
        "PrimaryStorageDownloadAnswer", True, "downloaded", installPath=image, templateSize=size
    )


def _copy_template_to_primary(resource, src, dst):
    dst_store = dst.get("dataStore")
    pool = _primary_uuid(dst_store)
    dest_uuid = dst.get("uuid") or str(uuidlib.uuid4())
    relative = need(src, "path", "source template")
    if relative.endswith("/"):
        relative += naming.dedash(dest_uuid) + naming.RAW
    source = secondary_path(resource, src.get("dataStore") or src.get("imageDataStore"), relative)
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
    src_pool, dst_store = _primary_uuid(src.get("dataStore")), dst.get("dataStore")
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
    directory = secondary_path(resource, dst.get("dataStore"), need(dst, "path", "template"))
    name = tmpl_uuid + naming.RAW
    sec_uuid, sec_host = secondary_fs(dst.get("dataStore"))
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
    src_sec, dst_sec = (
        _is_secondary(src.get("dataStore") or src.get("imageDataStore")),
        _is_secondary(dst.get("dataStore") or dst.get("imageDataStore")),
    )
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
    from ovm3.resource.cs_fields import java_class

    return answers.answer("CopyCmdAnswer", True, None, newData={java_class(cls): fields})


@handles("CreateObjectCommand", "CreateObjectAnswer")
def create_object(resource, cmd):
    from ovm3.resource.cs_fields import java_class

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
            if props.get("file_path") not in (None, path):
                raise CommandError("agent created %s, expected %s" % (props.get("file_path"), path))
        new = {
            "uuid": vol_uuid,
            "path": vol_uuid,
            "name": data.get("name"),
            "format": "RAW",
            "size": int(props.get("file_sz") or data.get("size") or 0),
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


def _entry_device(entry):
    """``xvdb`` of ``file:/path,xvdb,w!`` and ``hdc`` of ``file:/path,hdc:cdrom,r``."""
    parts = str(entry).split(",")
    return parts[1].split(":")[0] if len(parts) > 1 else ""


def _free_device(entries, hvm):
    """The first device name no disk entry uses (after a detach, the count of entries may be in use)."""
    from ovm3.resource.vm import _device

    used = {_entry_device(e) for e in entries}
    index = 0
    while _device(index, hvm) in used:
        index += 1
    return _device(index, hvm)


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
        with resource.step("get_vm_config"):
            cfg = resource.client.call("get_vm_config", dom.repo, dom.uuid) or {}
        entries = list(cfg.get("disk") or [])
        present = [e for e in entries if ("file:%s," % path) in str(e)]
        if attach and present or (not attach and not present):
            return "%s already %s" % (path, "attached" if attach else "detached")
        if attach:
            dev = _free_device(entries, "hvm" in str(cfg.get("OVM_domain_type", "")))
            entries.append(
                "file:%s,%s:cdrom,r" % (path, dev) if kind == "ISO" else "file:%s,%s,w!" % (path, dev)
            )
        else:
            entries = [e for e in entries if e not in present]
        cfg["disk"] = entries
        with resource.step("configure_vm"):
            resource.client.call("configure_vm", dom.repo, dom.uuid, cfg)
    return "%s %s %s" % (path, "attached to" if attach else "detached from", name)


@handles("AttachCommand", "AttachAnswer")
def attach(resource, cmd):
    return answers.answer("AttachAnswer", True, _attach_detach(resource, cmd, True), disk=cmd.get("disk"))


@handles("DettachCommand", "DettachAnswer")
def detach(resource, cmd):
    return answers.answer("DettachAnswer", True, _attach_detach(resource, cmd, False), disk=cmd.get("disk"))


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
        "format": "RAW",
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
