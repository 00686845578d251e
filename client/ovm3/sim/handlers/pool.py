"""Server pool area (membership, ownership, roles, VIP) and the pool file system."""

import os

from ovm3.sim import documents
from ovm3.sim.dispatch import after_reply
from ovm3.sim.handlers import handles
from ovm3.sim.state import POOLFS_META, VALID_ROLES, AgentError

_OWNERSHIP_KEYS = (
    "manager_uuid",
    "manager_event_url",
    "manager_statistic_url",
    "manager_certificate",
    "signed_server_certificate",
)


def _join(h, alias, pool_uuid, vip, node_number, hostname, ip, roles, create):
    if h.pool_uuid:
        raise AgentError("Server already a member of pool: %s" % h.pool_uuid)
    if roles:
        update_server_roles(h, roles)
    world = h.world
    with world.lock:
        pool = world.pools.get(pool_uuid)
        if pool is None:
            if not create:
                raise AgentError("Server pool %s does not exist" % pool_uuid)
            pool = world.pools[pool_uuid] = {"alias": alias, "vip": vip, "members": [], "master": ip}
        elif create and pool["members"]:
            raise AgentError("Server pool %s already exists" % pool_uuid)
        if ip not in pool["members"]:
            pool["members"].append(ip)
        world.save()
    h.pool_uuid = pool_uuid
    h.node_number = node_number
    h.vip = vip
    h.is_master = bool(create)
    h.membership = "Pooled"
    if hostname and hostname != h.hostname:
        h.hostname = hostname
    if create and vip not in h.vips:
        h.vips.append(vip)


@handles("create_server_pool")
def create_server_pool(
    h, pool_alias, pool_uuid, pool_virtual_ip, node_number, server_hostname, server_ip, roles
):
    _join(h, pool_alias, pool_uuid, pool_virtual_ip, node_number, server_hostname, server_ip, roles, True)


@handles("join_server_pool")
def join_server_pool(
    h, pool_alias, pool_uuid, pool_virtual_ip, node_number, server_hostname, server_ip, roles
):
    _join(h, pool_alias, pool_uuid, pool_virtual_ip, node_number, server_hostname, server_ip, roles, False)


def _leave(h, pool_uuid, destroy):
    if h.pool_uuid != pool_uuid:
        raise AgentError("Server is not a member of pool: %s" % pool_uuid)
    if h.domains:
        raise AgentError("Cannot leave server pool %s: %d VM(s) running" % (pool_uuid, len(h.domains)))
    world = h.world
    with world.lock:
        pool = world.pools.get(pool_uuid)
        if pool is not None:
            if h.ip in pool["members"]:
                pool["members"].remove(h.ip)
            if destroy or not pool["members"]:
                world.pools.pop(pool_uuid, None)
        world.save()
    if h.vip in h.vips:
        h.vips.remove(h.vip)
    h.pool_uuid = None
    h.vip = None
    h.is_master = False
    h.node_number = 0
    h.membership = "Owned" if h.manager_uuid else "Unowned"


@handles("leave_server_pool")
def leave_server_pool(h, pool_uuid):
    _leave(h, pool_uuid, False)


@handles("destroy_server_pool")
def destroy_server_pool(h, pool_uuid):
    _leave(h, pool_uuid, True)


@handles("take_ownership")
def take_ownership(h, *args):
    if h.personality.ownership_struct:
        (info,) = args
        missing = [k for k in _OWNERSHIP_KEYS if k not in info]
        if missing:
            raise AgentError("Missing ownership keys: %s" % ", ".join(missing), cls="exceptions.KeyError")
        manager, url = info["manager_uuid"], ""
        h.manager_event_url = info["manager_event_url"]
    else:
        manager, url = args
    if h.manager_uuid and h.manager_uuid != manager:
        raise AgentError("Server already owned by manager: %s" % h.manager_uuid)
    h.manager_uuid = manager
    h.manager_core_api_url = url
    if h.membership == "Unowned":
        h.membership = "Owned"
    sim = getattr(h, "sim", None)
    if h.personality.ownership_struct and sim is not None and sim.ownership_restart > 0:
        after_reply(sim.restart_agent)  # the 3.3 agent restarts once it has answered


@handles("release_ownership")
def release_ownership(h, manager_uuid):
    if h.manager_uuid != manager_uuid:
        raise AgentError("Server is not owned by manager: %s" % manager_uuid)
    if h.pool_uuid:
        raise AgentError("Cannot release ownership: server is a member of pool %s" % h.pool_uuid)
    h.manager_uuid = None
    h.membership = "Unowned"


@handles("discover_server_pool")
def discover_server_pool(h):
    return documents.discover_server_pool(h)


@handles("update_server_roles")
def update_server_roles(h, roles):
    wanted = [r.strip() for r in roles.split(",") if r.strip()]
    bad = [r for r in wanted if r not in VALID_ROLES]
    if bad:
        raise AgentError("Invalid roles: set(%r)" % sorted(set(wanted)))
    h.roles = ",".join(wanted)


@handles("set_pool_member_ip_list")
def set_pool_member_ip_list(h, ips):
    if not h.pool_uuid:
        raise AgentError("Server is not a member of a server pool")
    with h.world.lock:
        pool = h.world.pools.get(h.pool_uuid)
        if pool is not None:
            pool["members"] = [str(ip) for ip in ips]
            h.world.save()


# ---- pool file system -------------------------------------------------------------------------------
@handles("create_pool_filesystem")
def create_pool_filesystem(h, fs_type, fs_target, cluster_id, fs_uuid, nfsbase_uuid, manager_uuid, pool_uuid):
    if fs_type != "nfs":
        raise AgentError("Unsupported pool file system type: %s" % fs_type)
    if h.poolfs:
        if h.poolfs["uuid"] == fs_uuid:
            return
        raise AgentError("Pool filesystem already exists: %s" % h.poolfs["uuid"])
    mount_point = "/poolfsmnt/%s" % nfsbase_uuid
    h.mount(fs_target, mount_point, "nfs", extra={"uuid": fs_uuid})
    meta = os.path.join(h.path(mount_point), POOLFS_META)
    with open(meta, "w", encoding="utf-8") as f:
        f.write(
            "OVS_POOLFS_UUID=%s\nOVS_POOLFS_NFSBASE_UUID=%s\nOVS_POOLFS_MGR_UUID=%s\nOVS_POOLFS_POOL_UUID=%s\n"
            % (fs_uuid, nfsbase_uuid, manager_uuid, pool_uuid)
        )
    h.poolfs = {
        "type": fs_type,
        "target": fs_target,
        "uuid": fs_uuid,
        "nfsbase_uuid": nfsbase_uuid,
        "manager_uuid": manager_uuid,
        "pool_uuid": pool_uuid,
        "cluster_id": cluster_id,
        "mount_point": mount_point,
    }


@handles("destroy_pool_filesystem")
def destroy_pool_filesystem(h, fs_type, fs_target, fs_uuid, nfsbase_uuid):
    if not h.poolfs or h.poolfs["uuid"] != fs_uuid:
        raise AgentError("Pool filesystem not found: %s" % fs_uuid)
    if h.poolfs["mount_point"] in h.mounts:
        h.unmount(h.poolfs["mount_point"])
    h.poolfs = None


@handles("discover_pool_filesystem")
def discover_pool_filesystem(h):
    return documents.discover_pool_filesystem(h)
