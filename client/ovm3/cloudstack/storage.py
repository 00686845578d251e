"""Storage: the host's storage primitives (plugin structs, mounts, files, the undo of a failed handler)
and the primary pool commands (repository, server pool, pool filesystem), secondary mounts and stats.

Templates, volumes and snapshots are in :mod:`ovm3.cloudstack.volumes`. Paths come from
:mod:`ovm3.cloudstack.naming` only, and every field they are built from is checked
(:mod:`ovm3.cloudstack.validate`) before the handler's first agent call. NFS is the only primary
storage type (as on OVM3 with CloudStack); other types are refused with a clear answer.
"""

import contextlib
import logging

from ovm3 import errors
from ovm3.cloudstack import answers, naming, validate
from ovm3.cloudstack.domains import list_domains
from ovm3.cloudstack.registry import CommandError, Refused, handles, need, unwrap

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
        with resource.step(resource.client.linux.discover_mounted_file_systems):
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
        resource, resource.client.storage.storage_plugin_mount, fs_uuid, host, storage_details(fs_uuid, location, 0),
        mount_point, "", True, [], step="storage_plugin_mount %s" % mount_point,
    )
    resource.invalidate("mounts")
    return True


def mount_secondary(resource, url, field="url"):
    """Mount a secondary storage share (``nfs://host/path``) at ``/nfsmnt/<uuid>``; returns (host, path)."""
    host, path = naming.parse_nfs_url(url, field)
    return mount_share(resource, host, path)


def mount_share(resource, host, path):
    """Mount the checked secondary share ``host:path`` (from :func:`nfs_of`) unless it is mounted."""
    _plugin_mount(resource, naming.secondary_uuid(host, path), host, path, naming.secondary_mount(host, path))
    return host, path


def nfs_of(store, field="dataStore"):
    """``(host, path)`` of an NfsTO (``_url``) or PrimaryDataStoreTO (``host``/``path``), both checked."""
    cls, fields = unwrap(store)
    if cls == "NfsTO" or "_url" in fields:
        return naming.parse_nfs_url(need(fields, "_url", field), field + "._url")
    if isinstance(fields.get("url"), str) and fields["url"].startswith("nfs://"):
        return naming.parse_nfs_url(fields["url"], field + ".url")
    if "host" in fields or "path" in fields:
        host, path = need(fields, "host", field), need(fields, "path", field)
        return naming.nfs_share(host, path, field + ".host", field + ".path")
    raise CommandError("data store %s is not NFS" % (cls or "object"))


def secondary_target(store, relative, field, store_field="dataStore"):
    """``(host, share, dom0 path)`` of ``relative`` on a secondary store: every part checked, nothing
    called (mount it with :func:`mount_share` once all of a command's fields passed)."""
    host, share = nfs_of(store, store_field)
    return host, share, naming.secondary_file(host, share, relative, field)


def secondary_fs(store):
    """``(fs uuid, NFS host)`` the storage plugin knows a secondary store by."""
    host, path = nfs_of(store)
    return naming.secondary_uuid(host, path), host


def file_ref(data, where, what="volume"):
    """``(field name, value)`` of the file a DataTO names: its ``path``, else its ``uuid``."""
    if data.get("path"):
        return where + ".path", data["path"]
    return where + ".uuid", need(data, "uuid", what)


def iso_target(template, field="ISO path"):
    """``(host, share, dom0 path)`` of an ISO TemplateObjectTO on secondary storage (nothing called)."""
    return secondary_target(store_of(template), need(template, "path", "ISO"), field, "imageDataStore")


def store_of(data):
    """The data store of a DataTO: a TemplateObjectTO keeps it in ``imageDataStore``, a Volume- or
    SnapshotObjectTO in ``dataStore`` (see cs_fields)."""
    return data.get("imageDataStore") or data.get("dataStore")


def _is_secondary(store):
    cls, fields = unwrap(store)
    return cls == "NfsTO" or "_url" in fields


def _primary_uuid(store, field="dataStore.uuid"):
    _cls, fields = unwrap(store)
    return validate.uuid(need(fields, "uuid", "primary data store"), field)


def plugin_call(resource, method, fs_uuid, host, *args, step=None):
    """One call of the NFS storage plugin (``method``: a ``resource.client.storage`` mirror method) about
    file system ``fs_uuid`` served by ``host`` -> its typed result."""
    with resource.step(step or method):
        return method(NFS_PLUGIN, storage_server(fs_uuid, host), *args)


def create_file(resource, fs_uuid, host, path, size):
    """Create a sparse ``size``-byte file at ``path`` through the storage plugin -> its
    :class:`ovm3.parse.storage.FileProperties`."""
    return plugin_call(
        resource, resource.client.storage.storage_plugin_create, fs_uuid, host, storage_details(fs_uuid, state=2), path,
        "File", size,
    )


def file_size(resource, fs_uuid, host, path):
    info = plugin_call(
        resource, resource.client.storage.storage_plugin_get_file_info, fs_uuid, host, storage_details(fs_uuid),
        {"file_path": path},
    )
    return info.size or 0


def _destroy(resource, fs_uuid, host, path, fr_type):
    """Delete a file or directory through the storage plugin; False when it was already gone."""
    try:
        plugin_call(
            resource, resource.client.storage.storage_plugin_destroy, fs_uuid, host, storage_details(fs_uuid),
            {"fr_type": fr_type, "fs_uuid": naming.dashed(fs_uuid), "file_path": path},
        )
    except errors.NoSuchFileFault:
        return False
    return True


def destroy_file(resource, fs_uuid, host, path):
    """Delete a file through the storage plugin; a file already gone is not an error."""
    return _destroy(resource, fs_uuid, host, path, "File")


def destroy_dir(resource, fs_uuid, host, path):
    """Delete a directory through the storage plugin; one already gone is not an error."""
    return _destroy(resource, fs_uuid, host, path, "Directory")


def copy(resource, src, dst):
    resource.ask(resource.client.linux.copy_file, src, dst, True)


def mkdirs(resource, directory):
    """Create ``directory`` (with its parents) on the host: True if it was created, False if it existed."""
    return resource.ask(resource.client.cloudstack.ovs_mkdirs, directory)


def refuse_existing(resource, fs_uuid, host, path):
    """Raise :class:`Refused` when anything (file or directory) is at ``path``: the one check every
    handler that writes a new file makes first, so it never overwrites (nor, after a failure, removes)
    data it did not make.

    Asked through the stock NFS storage plugin (``storage_plugin_getFileInfo``; "no such file" means
    free), so it works without our agent module. Any other fault is raised: not knowing is no "free".
    """
    try:
        plugin_call(
            resource, resource.client.storage.storage_plugin_get_file_info, fs_uuid, host, storage_details(fs_uuid),
            {"file_path": path}, step="check_target %s" % path,
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
def _pool_fields(cmd, field="pool"):
    """``(uuid, NFS host, export path)`` of the StorageFilerTO in ``cmd[field]`` (NFS pools only).

    The field's name differs by command: ``pool`` (Create, Modify, CopyVolume), ``_pool``
    (DeleteStoragePoolCommand), ``primaryPool`` (PrimaryStorageDownloadCommand); see cs_fields.
    """
    _cls, pool = unwrap(need(cmd, field))
    ptype = pool.get("type") or pool.get("poolType") or "NetworkFilesystem"
    if ptype not in NFS_POOL_TYPES:
        raise CommandError("primary storage type %s is not supported on OVM3 (NFS only)" % (ptype,))
    pool_uuid = validate.uuid(need(pool, "uuid", "pool"), field + ".uuid")
    host = validate.nfs_host(need(pool, "host", "pool"), field + ".host")
    return pool_uuid, host, validate.absolute(need(pool, "path", "pool"), field + ".path")


def add_pool(resource, pool_uuid, host, path):
    """Repository, server pool and VirtualMachines mount for one NFS primary storage; returns fs info."""
    repo, location = naming.repo_path(pool_uuid), naming.nfs_location(host, path)
    if mounts(resource).get(repo) != location:
        resource.ask(resource.client.repository.mount_repository_fs, location, repo)
        resource.invalidate("mounts")
    try:
        resource.ask(resource.client.repository.add_repository, location, repo)
    except errors.RepositoryExistsFault:
        pass
    except errors.AgentFault:
        try:
            with resource.step(resource.client.repository.create_repository):
                resource.client.repository.create_repository(location, repo, naming.repo_id(pool_uuid), REPO_ALIAS)
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
        resource, resource.client.storage.storage_plugin_get_file_system_info, pool_uuid, host,
        storage_details(pool_uuid, location),
    )
    if info is None:
        return 0, 0
    return info.size or 0, info.free_size or 0


def pool_doc(resource):
    """The host's :class:`ovm3.parse.pool.PoolInfo`, or None when it is in no pool."""
    info = resource.ask(resource.client.pool.discover_server_pool)
    return info if info.in_pool else None


def is_vip_holder(resource):
    """True if this host should be (or is) the pool primary: it holds the VIP, or nobody answers on it."""
    vip = resource.config.vip
    with resource.step("check_dom0_ip %s" % vip):
        if resource.client.cloudstack.check_dom0_ip(vip) is True:
            return True
    for peer in resource.peers.values():
        other = pool_doc(peer)
        if other is not None:
            return False
    with resource.step("ping %s" % vip):
        return resource.client.cloudstack.ping(vip) is not True


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
        poolfs = resource.ask(resource.client.poolfs.discover_pool_filesystem)
        if not poolfs.exists:
            with resource.step(resource.client.poolfs.create_pool_filesystem):
                resource.client.poolfs.create_pool_filesystem(
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
        resource.ask(resource.client.pool.create_server_pool, alias, pool_uuid, cfg.vip, 1, cfg.name, cfg.ip, ROLES)
    else:
        node = 1 + max([len(d.members) for d in (pool_doc(p) for p in resource.peers.values()) if d] + [1])
        resource.ask(resource.client.pool.join_server_pool, alias, pool_uuid, cfg.vip, node, cfg.name, cfg.ip, ROLES)
    members = {cfg.ip}
    pooled = [resource]
    for peer in resource.peers.values():
        doc = pool_doc(peer)
        if doc is not None and doc.pool_id == pool_uuid:
            members.update(doc.members)
            members.add(peer.config.ip)
            pooled.append(peer)
    for member in pooled:
        member.ask(member.client.pool.set_pool_member_ip_list, sorted(members))


def remove_pool(resource, pool_uuid, host, path):
    """Undo :func:`add_pool` on this host, refusing while VMs run from the repository."""
    repo_id = naming.repo_id(pool_uuid)
    busy = sorted(n for n, d in list_domains(resource).items() if d.repo_id == repo_id)
    if busy:
        raise CommandError("VMs still running from this storage on %s: %s" % (resource.host, ", ".join(busy)))
    current = mounts(resource)
    vm_mount = naming.pool_vm_mount(pool_uuid)
    # A planned unmount is announced to the heartbeat first; unannounced, it fences this host.
    for path in (vm_mount, naming.repo_path(pool_uuid)):
        if path in current:
            resource.ask(resource.client.ovm3.heartbeat_release_storage, path)
    if vm_mount in current:
        plugin_call(
            resource, resource.client.storage.storage_plugin_unmount, pool_uuid, host,
            storage_details(pool_uuid, current[vm_mount]), vm_mount, True,
        )
    doc = pool_doc(resource) if resource.config.pool else None
    if doc is not None and doc.pool_id == pool_uuid:
        resource.ask(resource.client.pool.leave_server_pool, pool_uuid)
    if naming.repo_path(pool_uuid) in current:
        resource.ask(resource.client.repository.unmount_repository_fs, naming.repo_path(pool_uuid))
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
    return answers.answer("Answer", True, _remove(resource, *_pool_fields(cmd, "_pool")))


def _remove(resource, pool_uuid, host, path):
    remove_pool(resource, pool_uuid, host, path)
    return "primary storage %s removed from %s" % (pool_uuid, resource.host)


@handles("GetStorageStatsCommand", "GetStorageStatsAnswer")
def storage_stats(resource, cmd):
    pool_uuid = cmd.get("id") if not str(cmd.get("id", "")).isdigit() else None
    store = cmd.get("store")
    if store is not None:
        pool_uuid = _primary_uuid(store, "store.uuid")
    pool_uuid = validate.uuid(pool_uuid or need(cmd, "id"), "store.uuid" if store is not None else "id")
    location = mounts(resource).get(naming.repo_path(pool_uuid))
    if not location:
        raise CommandError("primary storage %s is not mounted on %s" % (pool_uuid, resource.host))
    size, free = fs_capacity(resource, pool_uuid, location.split(":", 1)[0], location)
    used = max(size - free, 0)
    # capacityBytes/usedBytes are today's field names; capacity/used are the names older releases
    # use (see cs_fields). Gson ignores the pair a given management server does not know.
    return answers.answer(
        "GetStorageStatsAnswer", True, None, capacityBytes=size, usedBytes=used, capacity=size, used=used
    )


