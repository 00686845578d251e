"""Server pool, pool file system and O2CB cluster documents (reference §6.5, §6.6, §6.9)."""
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from ovm3.parse.basic import to_int
from ovm3.parse.xmldoc import child_map, find_text, parse_document, text_content, xml_to_list


@dataclass
class PoolInfo:
    """``discover_server_pool``: the pool this host belongs to (all empty when it is in none).

    ``master_virtual_ip`` reads ``Master_Virtual_Ip`` (real agents) or ``Primary_Virtual_Ip``.
    """

    pool_id: Optional[str] = None
    alias: Optional[str] = None
    master_virtual_ip: Optional[str] = None
    members: List[str] = field(default_factory=list)

    @property
    def in_pool(self):
        return bool(self.pool_id)

    def is_pool(self, pool_id):
        """Whether this host is in the pool ``pool_id``."""
        return bool(pool_id) and self.pool_id == pool_id


def parse_pool(value):
    """``discover_server_pool`` reply -> :class:`PoolInfo`."""
    root = parse_document(value, "Discover_Server_Pool_Result", "discover_server_pool")
    pool = root.find("Server_Pool")
    if pool is None:
        return PoolInfo()
    vip = find_text(pool, "Master_Virtual_Ip")
    if vip is None:
        vip = find_text(pool, "Primary_Virtual_Ip")
    members = []
    for ip in xml_to_list(pool, ".//Registered_IP"):
        ip = ip.strip()
        if ip and ip not in members:
            members.append(ip)
    return PoolInfo(pool_id=find_text(pool, "Unique_Id") or None, alias=find_text(pool, "Pool_Alias"),
                    master_virtual_ip=vip, members=members)


@dataclass
class PoolFsInfo:
    """``discover_pool_filesystem``: the pool file system of this host (all None when there is none)."""

    fs_type: Optional[str] = None
    target: Optional[str] = None
    uuid: Optional[str] = None
    nfsbase_uuid: Optional[str] = None
    manager_uuid: Optional[str] = None
    version: Optional[str] = None
    pool_uuid: Optional[str] = None

    @property
    def exists(self):
        return bool(self.uuid)

    def has(self, uuid):
        """Whether the pool file system ``uuid`` is the one configured here."""
        return bool(uuid) and self.uuid == uuid


def parse_poolfs(value):
    """``discover_pool_filesystem`` reply -> :class:`PoolFsInfo`."""
    root = parse_document(value, "Discover_Pool_Filesystem_Result", "discover_pool_filesystem")
    fs_el = root.find("Pool_Filesystem")
    if fs_el is None:
        return PoolFsInfo()
    m = child_map(fs_el)
    return PoolFsInfo(fs_type=m.get("Pool_Filesystem_Type"), target=m.get("Pool_Filesystem_Target"),
                      uuid=m.get("Pool_Filesystem_Uuid") or None,
                      nfsbase_uuid=m.get("Pool_Filesystem_Nfsbase_Uuid"),
                      manager_uuid=m.get("Pool_Filesystem_Manager_Uuid"),
                      version=m.get("Pool_Filesystem_Version"), pool_uuid=m.get("Pool_Filesystem_Pool_Uuid"))


@dataclass
class ClusterNode:
    number: Optional[int]
    name: str
    ip_address: str
    ip_port: Optional[int]
    cluster_name: str = ""


@dataclass
class ClusterInfo:
    """``discover_cluster``: O2CB settings, the stored cluster, heartbeat regions and nodes."""

    o2cb: Dict[str, str] = field(default_factory=dict)
    name: Optional[str] = None
    node_count: Optional[int] = None
    heartbeat_mode: Optional[str] = None
    heartbeat_regions: List[str] = field(default_factory=list)
    nodes: List[ClusterNode] = field(default_factory=list)

    @property
    def configured(self):
        return bool(self.name)


def parse_cluster(value):
    """``discover_cluster`` reply -> :class:`ClusterInfo` (nil, sent when no cluster exists, gives an
    empty one)."""
    if value is None:
        return ClusterInfo()
    root = parse_document(value, "Discover_Cluster_Result", "discover_cluster")
    info = ClusterInfo()
    o2cb = root.find("O2CB_Config")
    if o2cb is not None:
        info.o2cb = child_map(o2cb)
    stored = root.find("Cluster_Information/Stored")
    if stored is None:
        return info
    cluster_el = stored.find("Clusters/Cluster")
    cluster = child_map(cluster_el) if cluster_el is not None else {}
    info.name = cluster.get("Name") or None
    info.node_count = to_int(cluster.get("Node_Count"), "Node_Count")
    info.heartbeat_mode = cluster.get("Heartbeat_Mode")
    info.heartbeat_regions = [text_content(r).strip() for r in stored.iterfind("Heartbeats/Heartbeat/Region")]
    for node in stored.iterfind("Nodes/Node"):
        n = child_map(node)
        info.nodes.append(ClusterNode(number=to_int(n.get("Number"), "Node Number"), name=n.get("Name", ""),
                                      ip_address=n.get("IP_Address", ""),
                                      ip_port=to_int(n.get("IP_Port"), "IP_Port"),
                                      cluster_name=n.get("Cluster_Name", "")))
    return info
