"""Shared set-up for the resource-layer tests (no tests here): simulated hosts wrapped as HostResources."""

import contextlib
import os

from ovm3.cloudstack import answers
from ovm3.cloudstack.resource import HostConfig, HostResource
from ovm3.cloudstack.cs_fields import java_class
from ovm3.sim import simulated_agents

POOL = "f12842eb-f5ed-3fe7-8da1-eb0e17f5ede8"
NFS_HOST, NFS_PATH = "nfs-1", "/export/primary"
SECONDARY = "nfs://nfs-1/export/secondary"
MANAGER = "0123456789abcdef0123456789abcdef"
VIP = "192.168.1.230"
VM = "i-2-3-VM"


@contextlib.contextmanager
def resources(tmp_path, count=1, version="3.3", pool=False):
    """``(hosts, [HostResource])`` over simulated agents with short poll intervals."""
    with simulated_agents(count=count, version=version, tls=False, root=tmp_path) as hosts:
        res = [
            HostResource(
                h.client(), HostConfig(ip=h.ip, name=h.name, manager_uuid=MANAGER, pool=pool, vip=VIP)
            )
            for h in hosts
        ]
        for r in res:
            r.poll_interval = 0.02
            r.stop_timeout = r.migrate_timeout = 2.0
            r.peers.update({p.config.ip: p for p in res if p is not r})
        try:
            yield hosts, res
        finally:
            for r in res:
                r.client.close()


def primary():
    return {
        java_class("PrimaryDataStoreTO"): {
            "uuid": POOL,
            "host": NFS_HOST,
            "path": NFS_PATH,
            "poolType": "NetworkFilesystem",
        }
    }


def secondary():
    return {java_class("NfsTO"): {"_url": SECONDARY, "_role": "Image"}}


def pool_to():
    return {"uuid": POOL, "host": NFS_HOST, "path": NFS_PATH, "type": "NetworkFilesystem"}


def volume(uuid="vol-1"):
    return {
        java_class("VolumeObjectTO"): {
            "uuid": uuid,
            "path": uuid,
            "name": "ROOT-3",
            "vmName": VM,
            "volumeType": "ROOT",
            "dataStore": primary(),
            "size": 1 << 20,
        }
    }


def vm_to(vlan=160, system=False):
    return {
        "name": VM,
        "type": "DomainRouter" if system else "User",
        "cpus": 2,
        "minRam": 512 << 20,
        "maxRam": 512 << 20,
        "vncPassword": "vnc-secret-42",
        "bootArgs": "template=domP name=r-1-VM",
        "disks": [{"type": "ROOT", "diskSeq": 0, "data": volume()}],
        "nics": [
            {"deviceId": 0, "mac": "02:00:50:9a:00:01", "type": "Guest", "broadcastUri": "vlan://%d" % vlan}
        ],
    }


def put_file(hosts, export, relative, size=4096):
    path = os.path.join(hosts.nfs_dir(export), relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def volume_on_primary(hosts, res, uuid="vol-1"):
    """A repository on the simulated primary NFS with one volume file (through the resource itself)."""
    from ovm3.cloudstack.storage import add_pool

    add_pool(res, POOL, NFS_HOST, NFS_PATH)
    put_file(hosts, "%s:%s" % (NFS_HOST, NFS_PATH), "VirtualDisks/%s.raw" % uuid)


def body(ans):
    return answers.body(ans)
