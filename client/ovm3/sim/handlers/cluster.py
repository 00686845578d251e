"""O2CB cluster area: a cluster record per host, built on the pool file system."""

from ovm3.sim import documents
from ovm3.sim.handlers import handles
from ovm3.sim.state import AgentError


def _need(h, poolfs_uuid):
    if not h.cluster or h.cluster.get("poolfs_uuid") != poolfs_uuid:
        raise AgentError("Cluster for pool filesystem %s is not configured" % poolfs_uuid)


@handles("configure_server_for_cluster")
def configure_server_for_cluster(
    h, o2cb_conf, cluster_conf, poolfs_type, poolfs_target, poolfs_uuid, poolfs_nfsbase_uuid
):
    if not h.poolfs or h.poolfs["uuid"] != poolfs_uuid:
        raise AgentError("Pool filesystem not found: %s" % poolfs_uuid)
    h.cluster = {
        "poolfs_uuid": poolfs_uuid,
        "name": poolfs_nfsbase_uuid[:16],
        "online": False,
        "region": poolfs_nfsbase_uuid.upper(),
        "nodes": [h.ip],
        "conf": str(cluster_conf)[:2000],
    }


@handles("deconfigure_server_for_cluster")
def deconfigure_server_for_cluster(h, poolfs_uuid):
    _need(h, poolfs_uuid)
    h.cluster = None


@handles("create_cluster")
def create_cluster(h, poolfs_uuid):
    if h.cluster is None:
        if not h.poolfs or h.poolfs["uuid"] != poolfs_uuid:
            raise AgentError("Pool filesystem not found: %s" % poolfs_uuid)
        h.cluster = {
            "poolfs_uuid": poolfs_uuid,
            "name": poolfs_uuid.replace("-", "")[:16],
            "online": False,
            "region": poolfs_uuid.replace("-", "").upper(),
            "nodes": [h.ip],
        }
    h.cluster["online"] = True


@handles("join_cluster")
def join_cluster(h, poolfs_uuid):
    _need(h, poolfs_uuid)
    h.cluster["online"] = True


@handles("leave_cluster")
def leave_cluster(h, poolfs_uuid):
    _need(h, poolfs_uuid)
    h.cluster["online"] = False


@handles("destroy_cluster")
def destroy_cluster(h, poolfs_uuid):
    _need(h, poolfs_uuid)
    h.cluster = None


@handles("discover_cluster")
def discover_cluster(h):
    return documents.discover_cluster(h)


@handles("update_clusterConfiguration")
def update_cluster_configuration(h, cluster_conf):
    if not h.cluster:
        raise AgentError("Cluster is not configured")
    h.cluster["conf"] = str(cluster_conf)[:2000]


@handles("is_cluster_online")
def is_cluster_online(h):
    return bool(h.cluster and h.cluster.get("online"))
