"""Repository area: repositories on NFS exports, laid out as on a host, with their metadata file."""

import os
import shutil

from ovm3.sim import copying, documents
from ovm3.sim.handlers import handles
from ovm3.sim.state import REPO_DIRS, REPO_META, AgentError


def _meta(h, mount_point):
    try:
        with open(os.path.join(h.path(mount_point), REPO_META), encoding="utf-8") as f:
            return documents.parse_meta(f.read())
    except OSError:
        return None


@handles("mount_repository_fs")
def mount_repository_fs(h, fs_location, mount_point):
    h.mount(fs_location, mount_point, "nfs")


@handles("unmount_repository_fs")
def unmount_repository_fs(h, mount_point):
    busy = [
        d.name for d in h.domains.values() if h.repos.get(d.repo_id, {}).get("mount_point") == mount_point
    ]
    if busy:
        raise AgentError("Repository at %s is in use by running VM(s): %s" % (mount_point, ", ".join(busy)))
    h.unmount(mount_point)
    for r in h.repos.values():
        if r["mount_point"] == mount_point:
            r["status"] = "Unmounted"


@handles("create_repository")
def create_repository(h, fs_location, mount_point, repo_uuid, repo_alias):
    if repo_uuid in h.repos and h.repos[repo_uuid]["status"] == "Mounted":
        raise AgentError("Repository already exists")
    h.mount(fs_location, mount_point, "nfs")
    if _meta(h, mount_point) is not None:
        raise AgentError("Repository already exists")
    base = h.path(mount_point)
    for d in REPO_DIRS:
        os.makedirs(os.path.join(base, d), exist_ok=True)
    with open(os.path.join(base, REPO_META), "w", encoding="utf-8") as f:
        f.write(documents.repo_meta_text(repo_uuid, repo_alias, h.manager_uuid))
    h.repos[repo_uuid] = {
        "fs_location": fs_location,
        "mount_point": mount_point,
        "alias": repo_alias,
        "manager_uuid": h.manager_uuid,
        "status": "Mounted",
        "fs_type": "nfs",
    }


@handles("add_repository")
def add_repository(h, fs_location, mount_point):
    if mount_point not in h.mounts:
        h.mount(fs_location, mount_point, "nfs")
    meta = _meta(h, mount_point)
    if meta is None:
        raise AgentError("No repository found at %s (%s)" % (mount_point, fs_location))
    rid = meta.get("OVS_REPO_UUID", "")
    h.repos[rid] = {
        "fs_location": fs_location,
        "mount_point": mount_point,
        "alias": meta.get("OVS_REPO_ALIAS", ""),
        "manager_uuid": meta.get("OVS_REPO_MGR_UUID") or None,
        "status": "Mounted",
        "fs_type": "nfs",
    }


@handles("delete_repository")
def delete_repository(h, repo_uuid, erase):
    r = h.repos.get(repo_uuid)
    if r is None:
        raise AgentError("Repository %s not found" % repo_uuid)
    if any(d.repo_id == repo_uuid for d in h.domains.values()):
        raise AgentError("Repository %s is in use by running VMs" % repo_uuid)
    if erase and r["status"] == "Mounted":
        base = h.path(r["mount_point"])
        for name in os.listdir(base):
            p = os.path.join(base, name)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            else:
                os.unlink(p)
    del h.repos[repo_uuid]


@handles("discover_repositories")
def discover_repositories(h, args):
    return documents.discover_repositories(h, args)


@handles("discover_repository_db")
def discover_repository_db(h):
    return documents.discover_repository_db(h)


@handles("import_virtual_disk")
def import_virtual_disk(h, url, virtual_disk_id, repo_uuid, option=None):
    if "/" in virtual_disk_id or virtual_disk_id.startswith("."):
        raise AgentError("Invalid virtual disk id: %s" % virtual_disk_id, cls="exceptions.ValueError")
    r = h.repos.get(repo_uuid)
    if r is None or r["status"] != "Mounted":
        raise AgentError("Repository %s not found" % repo_uuid)
    dst = "%s/VirtualDisks/%s" % (r["mount_point"].rstrip("/"), virtual_disk_id)
    if os.path.exists(h.path(dst)):
        raise AgentError("[Errno 17] File exists: %r" % dst, cls="exceptions.OSError")
    copying.copy(h, url, dst, sparse=True)
