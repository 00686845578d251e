"""What ``ovm3 repo|storage|pool`` change on a host, over the CloudStack layer's storage pieces.

Like :mod:`ovm3.cli.vmops`: each function takes a HostResource over a RecordingClient and returns a
:class:`ovm3.cli.vmops.Result`, so ``--dry-run`` lists the calls the real run makes.
"""
import re
import uuid as uuidlib

from ovm3 import errors
from ovm3.cli.vmops import Result, check_repo_id, mounted_repos
from ovm3.cloudstack import naming, storage
from ovm3.cloudstack.domains import list_domains

NFS_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}")
NFS_PATH = re.compile(r"/[A-Za-z0-9._/-]{0,1000}")
POOL_ALIAS = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}")
IPV4 = re.compile(r"(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}")
POOL_ROLES = storage.ROLES


def nfs_export(text):
    """``host:/path`` or ``nfs://host/path`` -> ``(host, path)``, both checked against allowlists."""
    try:
        host, path = naming.parse_nfs_url(text)
    except ValueError:
        raise errors.UsageError("not an NFS export (host:/path or nfs://host/path): %r" % (text,)) from None
    if not NFS_HOST.fullmatch(host) or not NFS_PATH.fullmatch(path) or "/.." in path + "/" or "//" in path:
        raise errors.UsageError("not an NFS export (host:/path, plain names only): %r" % (text,))
    return host, path


# ---- repositories -----------------------------------------------------------------------------------
def repo_add(resource, export, repo_id=None, create=False, alias=""):
    """Mount the repository on ``export`` (``--id``), or make a new one there (``--create``)."""
    host, path = nfs_export(export)
    location = naming.nfs_location(host, path)
    if create == bool(repo_id):
        raise errors.UsageError("give --id ID to add an existing repository, or --create to make one")
    repo_id = check_repo_id(repo_id) if repo_id else uuidlib.uuid4().hex
    if repo_id in mounted_repos(resource):
        return Result("repository %s is already mounted" % repo_id, host=resource.host,
                      details={"repo": repo_id})
    mount_point = "%s/%s" % (naming.REPO_ROOT, repo_id)
    if create:
        alias = alias or location
        if "\n" in alias or len(alias) > 128:
            raise errors.UsageError("repository alias: one line of at most 128 characters")
        resource.ask(resource.client.repository.create_repository, location, mount_point, repo_id, alias)
        message = "created repository %s on %s" % (repo_id, location)
    else:
        resource.ask(resource.client.repository.add_repository, location, mount_point)
        message = "added repository %s from %s" % (repo_id, location)
    return Result(message, host=resource.host, details={"repo": repo_id, "mount_point": mount_point,
                                                        "location": location})


def repo_remove(resource, repo_id, erase=False):
    """Forget (and unmount) a repository; ``erase`` deletes its content first. Refused while VMs run
    from it."""
    repo_id = check_repo_id(repo_id)
    entry = resource.ask(resource.client.repository.discover_repository_db).get(repo_id)
    if entry is None:
        raise errors.OVM3Error("no repository %s on this host" % repo_id, host=resource.host,
                               hint="see ovm3 repo list")
    busy = sorted(n for n, d in list_domains(resource).items() if d.repo_id == repo_id)
    if busy:
        raise errors.OVM3Error("VMs run from repository %s: %s" % (repo_id, ", ".join(busy)), host=resource.host,
                               hint="stop or migrate them first")
    resource.ask(resource.client.repository.delete_repository, repo_id, bool(erase))
    if entry.mounted and entry.mount_point:
        resource.ask(resource.client.repository.unmount_repository_fs, entry.mount_point)
    return Result("%s repository %s" % ("erased and removed" if erase else "removed", repo_id),
                  host=resource.host, details={"repo": repo_id})


# ---- storage (NFS shares mounted by the storage plugin) ---------------------------------------------
def storage_mount(resource, export):
    host, path = nfs_export(export)
    point = naming.secondary_mount(host, path)
    made = storage.mount_secondary(resource, "nfs://%s%s" % (host, path))
    return Result("%s %s on %s" % ("mounted" if made else "already mounted:", naming.nfs_location(host, path), point),
                  host=resource.host, details={"mount_point": point})


def storage_unmount(resource, export):
    host, path = nfs_export(export)
    point = naming.secondary_mount(host, path)
    if point not in storage.mounts(resource):
        return Result("%s is not mounted" % naming.nfs_location(host, path), host=resource.host)
    fs_uuid = naming.secondary_uuid(host, path)
    storage.plugin_call(resource, resource.client.storage.storage_plugin_unmount, fs_uuid, host,
                        storage.storage_details(fs_uuid, naming.nfs_location(host, path)), point, True)
    return Result("unmounted %s from %s" % (naming.nfs_location(host, path), point), host=resource.host,
                  details={"mount_point": point})


# ---- server pool ------------------------------------------------------------------------------------
def _check_pool_args(alias, vip):
    if not POOL_ALIAS.fullmatch(alias or ""):
        raise errors.UsageError("pool alias: letters, digits, space, '_', '.', '-' (at most 64)")
    if not IPV4.fullmatch(vip or ""):
        raise errors.UsageError("pool virtual IP must be an IPv4 address, got %r" % (vip,))


def pool_create(resource, alias, vip, pool_id=None):
    """Make this host the first member (node 1) of a new server pool."""
    _check_pool_args(alias, vip)
    pool_id = check_repo_id(pool_id) if pool_id else uuidlib.uuid4().hex
    current = resource.ask(resource.client.pool.discover_server_pool)
    if current.in_pool:
        raise errors.OVM3Error("host is already in pool %s" % current.pool_id, host=resource.host,
                               hint="ovm3 pool leave first")
    me = resource.ask(resource.client.linux.discover_server)
    resource.ask(resource.client.pool.create_server_pool, alias, pool_id, vip, 1, me.hostname, me.registered_ip,
                 POOL_ROLES)
    resource.ask(resource.client.pool.set_pool_member_ip_list, [me.registered_ip])
    return Result("created server pool %s (%s) with virtual IP %s" % (alias, pool_id, vip), host=resource.host,
                  details={"pool": pool_id})


def pool_join(resource, master):
    """Join the pool ``master`` (another HostResource, a member) runs; every member's IP list is updated."""
    pool = master.ask(master.client.pool.discover_server_pool)
    if not pool.in_pool:
        raise errors.OVM3Error("that host is in no server pool", host=master.host)
    current = resource.ask(resource.client.pool.discover_server_pool)
    if current.in_pool:
        if current.pool_id == pool.pool_id:
            return Result("already in pool %s" % pool.pool_id, host=resource.host, details={"pool": pool.pool_id})
        raise errors.OVM3Error("host is already in pool %s" % current.pool_id, host=resource.host,
                               hint="ovm3 pool leave first")
    me = resource.ask(resource.client.linux.discover_server)
    node = len(pool.members) + 1
    resource.ask(resource.client.pool.join_server_pool, pool.alias, pool.pool_id, pool.master_virtual_ip, node,
                 me.hostname, me.registered_ip, POOL_ROLES)
    members = sorted(set(pool.members) | {me.registered_ip})
    for member in (master, resource):
        member.ask(member.client.pool.set_pool_member_ip_list, members)
    return Result("joined server pool %s (%s) as node %d" % (pool.alias, pool.pool_id, node), host=resource.host,
                  details={"pool": pool.pool_id, "members": members})


def pool_leave(resource):
    current = resource.ask(resource.client.pool.discover_server_pool)
    if not current.in_pool:
        return Result("not in a server pool", host=resource.host)
    busy = sorted(list_domains(resource))
    if busy:
        raise errors.OVM3Error("VMs still run here: %s" % ", ".join(busy), host=resource.host,
                               hint="stop or migrate them first")
    resource.ask(resource.client.pool.leave_server_pool, current.pool_id)
    return Result("left server pool %s" % current.pool_id, host=resource.host, details={"pool": current.pool_id})


# ---- templates --------------------------------------------------------------------------------------
TEMPLATE_URL = re.compile(r"(https?|ftp)://[A-Za-z0-9.-]+(:\d{1,5})?(/[A-Za-z0-9._~%+/-]*)?|file:///[A-Za-z0-9._/-]+")


def template_target(url, repo_id, name=None):
    """``(template name, image name, destination path)`` for ``template import``, from validated parts."""
    from ovm3.cli.vmops import DISK_IMAGE_SUFFIXES, check_file_name

    if not isinstance(url, str) or not TEMPLATE_URL.fullmatch(url) or "/../" in url + "/":
        raise errors.UsageError("template URL must be http(s)://, ftp:// or file:/// with plain characters, "
                                "got %r" % (url,))
    image = check_file_name(url.rstrip("/").rsplit("/", 1)[-1], "image file name at the end of the URL")
    if not image.endswith(DISK_IMAGE_SUFFIXES):
        raise errors.UsageError("%s is not a disk image (%s)" % (image, ", ".join(DISK_IMAGE_SUFFIXES)))
    name = check_file_name(name or image.rsplit(".", 1)[0], "template name")
    repo_id = check_repo_id(repo_id)
    return name, image, "%s/%s/%s/%s/%s" % (naming.REPO_ROOT, repo_id, naming.TEMPLATES, name, image)


def template_import(resource, url, repo_id, name=None, progress=None, interval=1.0):
    """Copy the disk image at ``url`` into the repository as template ``name`` (``copy_file``, run while
    the destination's size is read from the agent every ``interval`` s and passed to ``progress``)."""
    import threading

    name, image, dst = template_target(url, repo_id, name)
    repo_id = check_repo_id(repo_id)
    entry = resource.ask(resource.client.repository.discover_repository_db).get(repo_id)
    if entry is None or not entry.mounted:
        raise errors.OVM3Error("repository %s is not mounted on this host" % repo_id, host=resource.host,
                               hint="see ovm3 repo list")
    content = resource.ask(resource.client.repository.discover_repositories, repo_id).get(repo_id)
    if content is not None and image in content.templates:
        raise errors.Refused("repository %s already has a template image %s" % (repo_id, image),
                             host=resource.host)
    storage.mkdirs(resource, dst.rsplit("/", 1)[0])
    if resource.client.dry_run or progress is None:
        storage.copy(resource, url, dst)
    else:
        nfs_host = naming.parse_nfs_url(entry.fs_location)[0] if entry.fs_location else ""
        failure = []

        def run():
            try:
                storage.copy(resource, url, dst)
            except BaseException as e:  # noqa: BLE001 - re-raised in the calling thread below
                failure.append(e)

        worker = threading.Thread(target=run, name="ovm3-template-copy", daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(interval)
            if worker.is_alive():
                try:
                    progress(storage.file_size(resource, repo_id, nfs_host, dst))
                except errors.OVM3Error:
                    pass  # the file is not there yet
        if failure:
            raise failure[0]
        progress(storage.file_size(resource, repo_id, nfs_host, dst))
    return Result("imported template %s (%s) into repository %s" % (name, image, repo_id), host=resource.host,
                  details={"template": name, "image": image, "path": dst})
